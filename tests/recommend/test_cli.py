from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from smartbank.cli import app
from smartbank.recommend.evaluate import validation_split
from tests.recommend.test_algorithms import structured


def test_cli_prints_the_json_contract(tmp_path: Path) -> None:
    df = structured(n_users=80)
    fit, val = validation_split(df, seed=2)
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    fit.to_csv(train, sep="\t", header=False, index=False)
    # plus a cold user in test
    val.assign(user=val["user"].where(val.index % 17 != 0, "cold")).to_csv(test, sep="\t", header=False, index=False)
    r = CliRunner().invoke(app, ["eval", "recommend", "--train", str(train), "--test", str(test), "--k", "10"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    for m in ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "coverage"):
        for p in ("", "als_default_", "popularity_"):
            assert 0.0 <= res[p + m] <= 1.0
    assert res["k"] == 10 and res["n_test_users"] > 0 and res["n_cold_test_users"] == 1
    assert res["train_seconds"] >= 0
