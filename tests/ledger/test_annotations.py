"""Annotations: rows another domain writes with a transfer (the risk decision of a payment is one), in the
transfer's transaction, only when the transfer is written. Both back-ends (SQLite: the Python steps;
PostgreSQL: the statement that calls ``sb_transfer``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, text

from smartbank import db
from smartbank.errors import InsufficientFunds
from smartbank.ledger import annotations as notes
from smartbank.ledger import service as ledger
from smartbank.risk import service as risk
from smartbank.risk.models import RiskDecision

WRITE_TABLES = ("transfers", "entries", "ledger_unsealed", "risk_decisions")


def decision(account_id: int, **kw) -> ledger.Annotation:
    row = {"account_id": account_id, "channel": "api", "kind": "transfer", "amount_minor": 100, "currency": "CNY",
           "decision": "allow", "model_version": "rules-only", "rule_hits": None, "features": {"amount": 100}}
    return ledger.Annotation(risk.DECISION_ANNOTATION, {**row, **kw})


@pytest.fixture
def two(bank):
    a = bank.account(bank.customer("王芳"), balance=10_000)
    b = bank.account(bank.customer("李娜"), balance=500)
    return a, b


def _instant(v) -> datetime:
    v = datetime.fromisoformat(v) if isinstance(v, str) else v  # SQLite hands raw timestamps back as text
    return v if v.tzinfo else v.replace(tzinfo=UTC)


def counts(bank) -> tuple[int, ...]:
    return tuple(bank.count(t) for t in WRITE_TABLES)


def test_risk_registers_its_decisions():
    assert risk.DECISION_ANNOTATION in ledger.registered_kinds()
    notes.register(risk.DECISION_ANNOTATION, RiskDecision)  # again, the same table: harmless


def test_an_annotation_table_needs_the_columns_the_ledger_fills():
    t = Table("not_an_annotation", MetaData(), Column("id", BigInteger, primary_key=True), Column("x", String(3)))
    with pytest.raises(ValueError, match="transfer_id and created_at"):
        notes.register("test_bad", t)
    with pytest.raises(ValueError, match="already written into risk_decisions"):
        notes.register(risk.DECISION_ANNOTATION, Table(
            "other", MetaData(), Column("id", BigInteger, primary_key=True), Column("transfer_id", BigInteger),
            Column("created_at", String(40))))


def test_written_with_the_transfer(bank, two, engine, is_pg):
    a, b = two
    cmd = ledger.TransferCommand(key="n1", debit_account_id=a, credit_account_id=b, amount_minor=100, currency="CNY",
                                 annotations=(decision(a, counterparty_account_id=b, score=0.25),))
    res = db.run_in_transaction(lambda s: ledger.transfer(s, cmd), engine=engine)
    with engine.connect() as c:
        row = c.execute(text("SELECT d.transfer_id, d.account_id, d.counterparty_account_id, d.score, d.decision,"
                             " d.rule_hits IS NULL AS no_hits, d.reasons IS NULL AS no_reasons, d.features,"
                             " d.created_at AS noted_at, t.created_at AS posted_at"
                             " FROM risk_decisions d JOIN transfers t ON t.id = d.transfer_id")).mappings().one()
    assert (row["transfer_id"], row["account_id"], row["counterparty_account_id"]) == (res.id, a, b)
    assert (row["score"], row["decision"]) == (0.25, "allow")
    # a missing or None JSON value is SQL NULL on both paths (not a JSON null)
    assert row["no_hits"] and row["no_reasons"]
    assert _instant(row["noted_at"]) == _instant(row["posted_at"])  # the transfer's time
    features = row["features"]
    assert (features if isinstance(features, dict) else json.loads(features)) == {"amount": 100}


def test_not_written_for_a_refusal_or_a_replay(bank, two, engine):
    a, b = two
    before = counts(bank)
    refused = ledger.TransferCommand(key="n2", debit_account_id=b, credit_account_id=a, amount_minor=501,
                                     currency="CNY", annotations=(decision(b),))
    with db.session_scope(engine) as s, pytest.raises(InsufficientFunds):
        ledger.transfer(s, refused)  # the scope commits: a row written before the refusal would stay
    assert counts(bank) == before
    ok = ledger.TransferCommand(key="n3", debit_account_id=a, credit_account_id=b, amount_minor=100, currency="CNY",
                                annotations=(decision(a),))
    db.run_in_transaction(lambda s: ledger.transfer(s, ok), engine=engine)
    again = db.run_in_transaction(lambda s: ledger.transfer(s, ok), engine=engine)
    assert again.replayed and bank.count("risk_decisions") == 1


@pytest.mark.parametrize("bad, message", [
    (ledger.Annotation("no_such_kind", {}), "no annotation kind 'no_such_kind'"),
    (ledger.Annotation(risk.DECISION_ANNOTATION, {"colour": "red"}), "no column"),
    (ledger.Annotation(risk.DECISION_ANNOTATION, {"transfer_id": 1}), "no column"),
])
def test_a_bad_annotation_writes_nothing(bank, two, engine, bad, message):
    a, b = two
    before = counts(bank)
    cmd = ledger.TransferCommand(key="n4", debit_account_id=a, credit_account_id=b, amount_minor=100, currency="CNY",
                                 annotations=(bad,))
    with db.session_scope(engine) as s, pytest.raises(ValueError, match=message):
        ledger.transfer(s, cmd)
    assert counts(bank) == before


def test_the_procedure_statement_depends_only_on_the_kinds():
    call = "SELECT status, info, tid FROM sb_transfer(%(at)s)"
    one = notes.pg_statement(call, (decision(1),))
    assert one == notes.pg_statement(call, (decision(2, score=0.5),))  # the same prepared statement
    assert one.startswith("WITH t AS MATERIALIZED (SELECT status, info, tid FROM sb_transfer(")
    assert 'INSERT INTO "risk_decisions"' in one and "WHERE t.status = 'ok'" in one
    assert notes.pg_params((decision(1),), lambda r: sorted(r)) == {"a0": sorted(decision(1).row)}
