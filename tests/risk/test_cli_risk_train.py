"""``smartbank risk train --from-db``: the bank's own payments, labelled by confirmed cases. A model goes live
at the next restart, so it is saved only with enough labels and a validation that beats the current model."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import polars as pl
from typer.testing import CliRunner

from smartbank import db
from smartbank.cli import app
from smartbank.ledger import service as ledger
from smartbank.ml.registry import latest_version, load_model
from smartbank.risk.features import FEATURE_NAMES
from smartbank.risk.fraud_model import FraudModel, RegistrationBar
from smartbank.risk.models import RiskLabel


def _history(bank, engine, bank_clock, *, days: int = 42, per_day: int = 8, fraud_every: int = 4) -> int:
    """``days`` days of payments between six customers, one in ``fraud_every`` a large confirmed fraud; the
    clock ends on the last day. Returns the number of frauds."""
    customers = [bank.customer(f"客户{i}") for i in range(6)]
    accounts = [bank.account(c, balance=1_000_000_000) for c in customers]
    n = frauds = 0
    for _ in range(days):
        with db.session_scope(engine) as s:
            for _ in range(per_day):
                src, dst = accounts[n % 6], accounts[(n * 7 + 1) % 6]
                if src == dst:
                    dst = accounts[(n + 1) % 6]
                fraud = n % fraud_every == 0
                res = ledger.transfer(s, ledger.TransferCommand(
                    key=f"t{n}", debit_account_id=src, credit_account_id=dst,
                    amount_minor=900_000 + n if fraud else 1_000 + n % 97, currency="CNY"))
                if fraud:
                    s.add(RiskLabel(transfer_id=res.id, label=1, source="case"))
                    frauds += 1
                n += 1
        bank_clock.advance(timedelta(days=1))
    return frauds


def _train(database_url, model_dir, *extra: str):
    r = CliRunner().invoke(app, ["risk", "train", "--from-db", "--delay-days", "0", "--database-url", database_url,
                                 "--model-dir", str(model_dir), *extra])
    return r, json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else None


def test_train_from_the_banks_confirmed_cases(bank, engine, bank_clock, database_url, tmp_path):
    frauds = _history(bank, engine, bank_clock)
    r, out = _train(database_url, tmp_path)
    assert r.exit_code == 0, r.output
    assert out["frauds"] == frauds and out["train_rows"] == 42 * 8 and out["genuine"] == 42 * 8 - frauds
    assert out["registered"] is True and out["champion"] is None and out["validation"]["val_rows"] > 0
    cmp = out["comparison"]  # no current model: it must beat a score that knows nothing (the fraud rate)
    assert cmp["challenger_average_precision"] > cmp["baseline_average_precision"] == cmp["bar"]
    saved = load_model("fraud_lgbm", model_dir=tmp_path)
    assert str(saved.path) == out["model"]
    assert saved.meta["params"]["source"] == "bank" and sum(saved.meta["params"]["score_bins"]["counts"]) == 42 * 8
    assert saved.meta["metrics"]["comparison"]["val_frauds"] == cmp["val_frauds"]

    # the same data again: no better than the model in use, so nothing new goes live
    r, again = _train(database_url, tmp_path)
    assert r.exit_code == 1, r.output
    assert again["registered"] is False and again["model"] is None and again["refused"] == "not_better"
    assert again["champion"] == saved.version and "does not beat the current model" in r.output
    assert latest_version("fraud_lgbm", model_dir=tmp_path) == saved.version
    assert len(list((tmp_path / "fraud_lgbm").iterdir())) == 1


def test_a_model_that_beats_the_current_one_replaces_it(bank, engine, bank_clock, database_url, tmp_path):
    # the model in use learnt the wrong lesson: small payments are the frauds
    rng = np.random.default_rng(0)
    X = pl.DataFrame({n: np.zeros(400) for n in FEATURE_NAMES}).with_columns(
        amount=pl.Series(rng.uniform(0, 20_000, 400)))
    weak = FraudModel(n_estimators=20, min_child_samples=5).fit(X, (X["amount"] < 5_000).to_numpy())
    weak_path = weak.save(data_hash="random", model_dir=tmp_path)
    _history(bank, engine, bank_clock)
    r, out = _train(database_url, tmp_path)
    assert r.exit_code == 0, r.output
    assert out["champion"] == weak_path.name and out["registered"] is True
    cmp = out["comparison"]
    assert cmp["challenger_average_precision"] > cmp["champion_average_precision"] == cmp["bar"]
    assert latest_version("fraud_lgbm", model_dir=tmp_path) == load_model("fraud_lgbm", model_dir=tmp_path).version
    assert latest_version("fraud_lgbm", model_dir=tmp_path) != weak_path.name


def test_a_model_from_one_confirmed_fraud_is_not_registered(bank, engine, bank_clock, database_url, tmp_path):
    _history(bank, engine, bank_clock, days=42, per_day=8, fraud_every=1000)  # one fraud: the first payment
    r, out = _train(database_url, tmp_path)
    assert r.exit_code == 1, r.output
    assert out["frauds"] == 1 and out["registered"] is False and out["model"] is None
    assert out["refused"] == "too_few_frauds" and out["bar"]["min_frauds"] == RegistrationBar.min_frauds
    assert "only 1 confirmed fraud(s)" in r.output and "at least 50" in r.output
    assert latest_version("fraud_lgbm", model_dir=tmp_path) is None  # nothing that would go live on restart
    # a bank may set its own bar, but never none: the validation still has to beat the fraud rate
    r, out = _train(database_url, tmp_path, "--min-frauds", "1")
    assert r.exit_code == 1 and out["refused"] in ("no_validation", "too_few_validation_frauds"), r.output
    assert latest_version("fraud_lgbm", model_dir=tmp_path) is None


def test_too_few_genuine_payments_or_validation_frauds_are_refused(bank, engine, bank_clock, database_url, tmp_path):
    _history(bank, engine, bank_clock)
    r, out = _train(database_url, tmp_path, "--min-genuine", "100000")
    assert r.exit_code == 1 and out["refused"] == "too_few_genuine", r.output
    r, out = _train(database_url, tmp_path, "--min-validation-frauds", "100000")
    assert r.exit_code == 1 and out["refused"] == "too_few_validation_frauds", r.output
    assert "validation window holds only" in r.output
    assert latest_version("fraud_lgbm", model_dir=tmp_path) is None


def test_train_without_any_confirmed_fraud_is_refused(bank, database_url, tmp_path):
    r = CliRunner().invoke(app, ["risk", "train", "--from-db", "--database-url", database_url,
                                 "--model-dir", str(tmp_path)])
    assert r.exit_code != 0 and "no confirmed frauds" in r.output
    r = CliRunner().invoke(app, ["risk", "train", "--database-url", database_url])
    assert r.exit_code != 0 and "--transactions" in r.output


def test_the_help_states_the_default_bar():
    r = CliRunner().invoke(app, ["risk", "train", "--help"], env={"COLUMNS": "200"})
    bar = RegistrationBar()
    for option, value in (("--min-frauds", bar.min_frauds), ("--min-genuine", bar.min_genuine),
                          ("--min-validation-frauds", bar.min_validation_frauds)):
        assert option in r.output
        assert f"(default: {value})" in r.output
