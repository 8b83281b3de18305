"""``smartbank risk train --from-db``: the bank's own payments, labelled by confirmed cases."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank import db
from smartbank.cli import app
from smartbank.ledger import service as ledger
from smartbank.ml.registry import load_model
from smartbank.risk.models import RiskLabel


def test_train_from_the_banks_confirmed_cases(bank, engine, database_url, tmp_path):
    customers = [bank.customer(f"客户{i}") for i in range(6)]
    accounts = [bank.account(c, balance=10_000_000) for c in customers]
    with db.session_scope(engine) as s:
        frauds = []
        for i in range(240):
            src, dst = accounts[i % 6], accounts[(i * 7 + 1) % 6]
            if src == dst:
                dst = accounts[(i + 1) % 6]
            fraud = i % 10 == 0
            res = ledger.transfer(s, ledger.TransferCommand(
                key=f"t{i}", debit_account_id=src, credit_account_id=dst, amount_minor=900_000 if fraud else 1_000 + i,
                currency="CNY"))
            if fraud:
                frauds.append(res.id)
        for tid in frauds:
            s.add(RiskLabel(transfer_id=tid, label=1, source="case"))
    runner = CliRunner()
    r = runner.invoke(app, ["risk", "train", "--from-db", "--delay-days", "0", "--database-url", database_url,
                            "--model-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["frauds"] == len(frauds) and out["train_rows"] == 240
    saved = load_model("fraud_lgbm", model_dir=tmp_path)
    assert saved.meta["params"]["source"] == "bank" and sum(saved.meta["params"]["score_bins"]["counts"]) == 240


def test_train_without_any_confirmed_fraud_is_refused(bank, database_url, tmp_path):
    r = CliRunner().invoke(app, ["risk", "train", "--from-db", "--database-url", database_url,
                                 "--model-dir", str(tmp_path)])
    assert r.exit_code != 0 and "no confirmed frauds" in r.output
    r = CliRunner().invoke(app, ["risk", "train", "--database-url", database_url])
    assert r.exit_code != 0 and "--transactions" in r.output
