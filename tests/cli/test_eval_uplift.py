"""``smartbank eval uplift`` and ``smartbank eval campaign`` on small samples of the shared files: the last line
is one JSON object with the documented keys; bad columns are a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from smartbank.cli import app
from smartbank.config import get_settings

DATA = Path(get_settings().datasets_dir)
HILLSTROM = DATA / "hillstrom" / "train.csv"
BANK = DATA / "bank_marketing" / "train.csv"


def _split(src: Path, tmp: Path, n: int, sep: str = ",") -> tuple[Path, Path]:
    df = pd.read_csv(src, sep=sep).sample(n=n, random_state=3)
    tr, te = tmp / "train.csv", tmp / "test.csv"
    df.iloc[: n * 2 // 3].to_csv(tr, sep=sep, index=False)
    df.iloc[n * 2 // 3:].to_csv(te, sep=sep, index=False)
    return tr, te


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not HILLSTROM.is_file(), reason="the shared Hillstrom file is not here")
def test_eval_uplift_on_a_sample(tmp_path):
    tr, te = _split(HILLSTROM, tmp_path, 4500)
    r = CliRunner().invoke(app, ["eval", "uplift", "--train", str(tr), "--test", str(te), "--treatment", "segment",
                                 "--outcome", "visit"])
    assert r.exit_code == 0, r.output
    res = _last_json(r.stdout)
    assert {"qini", "auuc", "baseline_qini", "baseline_auuc", "model", "n_train", "n_test",
            "treated_rate"} <= set(res)
    assert res["n_train"] == 3000 and res["n_test"] == 1500 and 0.6 < res["treated_rate"] < 0.73
    assert all(-1 <= res[k] <= 1 for k in ("qini", "auuc", "baseline_qini", "baseline_auuc"))
    # a 0/1 treatment column is accepted as well
    for p in (tr, te):
        df = pd.read_csv(p)
        df["emailed"] = (df["segment"] != "No E-Mail").astype(int)
        df.drop(columns=["segment"]).to_csv(p, index=False)
    r = CliRunner().invoke(app, ["eval", "uplift", "--train", str(tr), "--test", str(te), "--treatment", "emailed",
                                 "--outcome", "visit", "--no-baseline"])
    assert r.exit_code == 0, r.output
    again = _last_json(r.stdout)
    assert again["treated_rate"] == res["treated_rate"] and "baseline_qini" not in again


@pytest.mark.skipif(not HILLSTROM.is_file(), reason="the shared Hillstrom file is not here")
def test_eval_uplift_bad_columns(tmp_path):
    tr, te = _split(HILLSTROM, tmp_path, 600)
    r = CliRunner().invoke(app, ["eval", "uplift", "--train", str(tr), "--test", str(te), "--treatment", "nope"])
    assert r.exit_code == 2 and "missing" in r.output
    r = CliRunner().invoke(app, ["eval", "uplift", "--train", str(tr), "--test", str(te), "--treatment", "channel"])
    assert r.exit_code == 2 and "treatment" in r.output


@pytest.mark.skipif(not BANK.is_file(), reason="the shared bank-marketing file is not here")
def test_eval_campaign_on_a_sample_never_uses_duration(tmp_path):
    tr, te = _split(BANK, tmp_path, 4500, sep=";")
    r = CliRunner().invoke(app, ["eval", "campaign", "--train", str(tr), "--test", str(te), "--target", "y",
                                 "--sep", ";"])
    assert r.exit_code == 0, r.output
    res = _last_json(r.stdout)
    assert {"auc", "baseline_auc", "model", "n_train", "n_test"} <= set(res)
    assert res["n_train"] == 3000 and res["n_test"] == 1500 and res["dropped"] == ["duration"]
    assert 0.6 < res["auc"] <= 1 and 0.5 < res["baseline_auc"] <= 1
    r = CliRunner().invoke(app, ["eval", "campaign", "--train", str(tr), "--test", str(te), "--target", "age",
                                 "--sep", ";"])
    assert r.exit_code == 2 and "target" in r.output
