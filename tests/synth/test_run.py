"""``synth.run`` against real databases (SQLite and PostgreSQL): the ledger's rules hold, the journal
verifies, the service path and the bulk path write the same bank, and a seed always gives the same
bank."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from smartbank import db, synth
from smartbank.customers.validation import make_resident_id, parse_resident_id
from smartbank.errors import Conflict
from smartbank.ledger import journal
from smartbank.ledger import service as ledger
from smartbank.payments.models import Biller
from smartbank.security import service as security
from smartbank.synth import bulk as bulk_loader
from tests.synth.conftest import END, snapshot


def verify(url: str) -> journal.VerifyReport:
    with db.session_scope(db.get_engine(url)) as s:
        return journal.verify(s)


def scalar(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def test_seed_catalog_is_idempotent(engine):
    with db.session_scope(engine) as s:
        first = synth.seed_catalog(s)
    with db.session_scope(engine) as s:
        second = synth.seed_catalog(s)
        assert ledger.internal_account(s, "settlement").id == first.settlement_id
        billers = s.query(Biller).all()
    assert first == second
    assert len(billers) == len(first.billers) == 36
    assert {b.category for b in billers} == {"electricity", "water", "gas", "mobile", "broadband"}
    for b in billers:
        assert bool(b.requires_bill) == (b.category != "mobile")
        assert b.name_zh and b.name_en
    assert len(set(first.merchant_account_ids.values())) == 9


@pytest.mark.commits  # synth.run loads through an engine of its own
def test_service_path_obeys_the_rules_and_bulk_path_writes_the_same_bank(database_url, engine, bank, fresh_url):
    summary = synth.run(database_url, customers=25, months=2, seed=1, end_date=END, progress=False)
    assert summary["mode"] == "service"  # small banks go through the services by default
    bank.assert_invariants()
    rep = verify(database_url)
    assert rep.ok, rep.problems
    assert rep.sealed == rep.transfers == summary["transfers"] > 1000 and rep.unsealed == 0

    # what the summary says is what the database holds
    assert bank.count("customers") == summary["customers"] == 25
    assert scalar(engine, "SELECT count(*) FROM accounts WHERE customer_id IS NOT NULL") == summary["accounts"]
    assert bank.count("bills") == summary["bills"]
    assert scalar(engine, "SELECT count(*) FROM bills WHERE status = 'overdue'") == summary["bills_overdue"]
    assert scalar(engine, "SELECT count(*) FROM bills WHERE status = 'paid'") == summary["bills_paid"]

    # paid bills point at their payment; overdue ones are past due
    with engine.connect() as c:
        for bid, status, due, tid, amount in c.execute(text(
                "SELECT id, status, due_date, paid_transfer_id, amount_minor FROM bills")):
            if status == "paid":
                ref, amt, kind = c.execute(text("SELECT reference, amount_minor, kind FROM transfers WHERE id = :i"),
                                           {"i": tid}).one()
                assert (ref, amt, kind) == (f"bill:{bid}", amount, "bill_payment")
            else:
                assert tid is None
                assert (str(due) < END.isoformat()) == (status == "overdue")
        # every transfer is dated inside the window, value date = the local (UTC+8) date of created_at
        rows = c.execute(text("SELECT value_date, created_at FROM transfers")).all()
        start = date.fromisoformat(summary["start_date"])
        for vd, at in rows:
            vd = date.fromisoformat(vd) if isinstance(vd, str) else vd
            at = datetime.fromisoformat(at) if isinstance(at, str) else at
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
            assert start <= vd <= END
            assert (at + timedelta(hours=8)).date() == vd
        for (idn,) in c.execute(text("SELECT id_number FROM customers WHERE id_type = 'resident_id'")):
            parse_resident_id(security.decrypt_text(idn, context="customers.id_number"), today=END)

    # the bulk loader, into an empty database, writes exactly the same rows (and the same hash chain)
    other = fresh_url()
    summary2 = synth.run(other, customers=25, months=2, seed=1, bulk=True, end_date=END, progress=False)
    assert summary2["mode"] == "bulk"
    assert verify(other).ok
    assert snapshot(database_url) == snapshot(other)


def test_same_seed_same_bank(fresh_url):
    a, b, c = fresh_url(), fresh_url(), fresh_url()
    for url, seed in ((a, 9), (b, 9), (c, 10)):
        synth.run(url, customers=60, months=3, seed=seed, bulk=True, end_date=END, progress=False)
    sa, sb, sc = snapshot(a), snapshot(b), snapshot(c)
    assert sa == sb
    assert sa["customers"] != sc["customers"] and sa["transfers"] != sc["transfers"]
    assert len(sa["transfers"]) > 5000


@pytest.mark.commits  # synth.run loads through an engine of its own
def test_bulk_load_on_top_of_existing_data(database_url, engine, bank):
    # someone already banks here: a customer, a funded account, a payment still waiting for the sealer
    cid = bank.customer()
    a = bank.account(cid, balance=100_00)
    b = bank.account(bank.customer("李娜", id_number=make_resident_id("110101", date(1990, 1, 1), 124)))
    summary = synth.run(database_url, customers=80, months=3, seed=4, bulk=True, end_date=END, progress=False)
    rep = verify(database_url)
    assert rep.ok, rep.problems
    assert rep.sealed == rep.transfers == summary["transfers"] + 1
    bank.assert_invariants()
    # the pre-existing transfer was sealed first
    assert scalar(engine, "SELECT transfer_id FROM ledger_seals WHERE seq = 1") == 1
    # the id sequences moved past the loaded rows: ordinary service calls still work
    with db.session_scope(engine) as s:
        res = ledger.transfer(s, ledger.TransferCommand(key="after-synth", debit_account_id=a, credit_account_id=b,
                                                        amount_minor=10_00, currency="CNY"))
        assert res.id == summary["transfers"] + 2
        journal.seal(s)
    assert verify(database_url).ok
    bank.customer("王芳", id_number=make_resident_id("110101", date(1992, 2, 2), 122))
    bank.assert_invariants()


@pytest.mark.commits  # synth.run loads through an engine of its own
def test_loading_the_same_bank_twice_is_refused(database_url, bank):
    synth.run(database_url, customers=30, months=1, seed=5, bulk=True, end_date=END, progress=False)
    before = (bank.count("customers"), bank.count("transfers"), bank.count("ledger_seals"))
    for bulk in (True, False):
        with pytest.raises(Conflict):
            synth.run(database_url, customers=30, months=1, seed=5, bulk=bulk, end_date=END, progress=False)
    assert (bank.count("customers"), bank.count("transfers"), bank.count("ledger_seals")) == before
    assert verify(database_url).ok


@pytest.mark.commits  # synth.run loads through an engine of its own
def test_large_postgres_load_rebuilds_indexes_and_foreign_keys(backend, database_url, engine, monkeypatch):
    if backend != "postgresql":
        pytest.skip("index rebuild is a PostgreSQL optimisation")
    q_idx = ("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN"
             " ('transfers', 'entries', 'bills', 'customer_daily_usage') ORDER BY 1")
    q_fk = ("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' ORDER BY 1, 2")
    with engine.connect() as c:
        idx_before = c.execute(text(q_idx)).all()
        fk_before = c.execute(text(q_fk)).all()
    monkeypatch.setattr(bulk_loader, "REBUILD_MIN_TRANSFERS", 0)
    summary = synth.run(database_url, customers=40, months=2, seed=6, bulk=True, end_date=END, progress=False)
    assert summary["indexes_rebuilt"] is True
    with engine.connect() as c:
        assert c.execute(text(q_idx)).all() == idx_before
        assert c.execute(text(q_fk)).all() == fk_before
    assert verify(database_url).ok
