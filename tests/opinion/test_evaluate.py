"""``smartbank eval opinion``: accuracy on a labelled CSV, and the choice of a dataset the model was not trained on."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank.cli import app
from smartbank.opinion import service as opinion


def test_eval_on_a_labelled_csv(tmp_path):
    f = tmp_path / "labelled.csv"
    rows = [("服务很好，非常满意", 1), ("太差了，再也不来了", 0), ("很棒，推荐", 1), ("失望，很糟糕", 0),
            ("一般般吧", 1)]
    f.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows), encoding="utf-8")
    r = CliRunner().invoke(app, ["eval", "opinion", "--data", str(f), "--model-dir", str(tmp_path / "none")])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["n"] == 5 and res["dataset"].endswith("labelled.csv") and res["model_versions"] == ["lexicon-1"]
    assert res["accuracy"] == 0.8  # the four with cue words are right; "一般般吧" reads as not positive
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert CliRunner().invoke(app, ["eval", "opinion", "--data", str(bad)]).exit_code == 2


def test_dataset_choice(tmp_path):
    root = tmp_path / "datasets"
    (root / "waimai_10k").mkdir(parents=True)
    (root / "waimai_10k" / "waimai_10k.csv").write_text("label,review\n1,好\n", encoding="utf-8")
    (root / "chnsenticorp").mkdir()
    (root / "chnsenticorp" / "dev.tsv").write_text("label\ttext_a\n1\t好\n", encoding="utf-8")
    path, why = opinion.choose_dataset(root, tmp_path / "models")
    assert path.name == "waimai_10k.csv" and why == "not trained on"
    meta = tmp_path / "models" / "assistant_sentiment" / "v1" / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"params": {"train_files": ["/x/waimai_10k/waimai_10k.csv"]}}), encoding="utf-8")
    path, why = opinion.choose_dataset(root, tmp_path / "models")
    assert path.name == "dev.tsv"  # the model saw waimai_10k
    (root / "weibo_senti_100k").mkdir()
    (root / "weibo_senti_100k" / "weibo_senti_100k.csv").write_text("label,review\n1,好\n", encoding="utf-8")
    path, why = opinion.choose_dataset(root, tmp_path / "models")
    assert path.name == "weibo_senti_100k.csv" and why == "weibo"
    assert opinion.choose_dataset(tmp_path / "missing")[0] is None
