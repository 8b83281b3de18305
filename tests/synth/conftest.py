from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest
from sqlalchemy import create_engine, select, text

from smartbank import db
from smartbank.customers.service import Customer
from smartbank.security import service as security

END = date(2026, 11, 24)


@pytest.fixture
def fresh_url(backend: str, templates, tmp_path) -> Iterator[Callable[[], str]]:
    """Make extra empty, migrated databases of the test's backend (copies of the run's migrated template;
    dropped afterwards)."""
    created: list[str] = []
    urls: list[str] = []

    def make() -> str:
        url, pg_name = templates.clone(backend, tmp_path, "fresh")
        if pg_name:
            created.append(pg_name)
        urls.append(url)
        return url

    yield make
    for url in urls:
        db.get_engine(url).dispose()
    for name in created:
        templates.drop_later(name)


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Everything a synthetic run writes, in id order; bank-side accounts without the parts the
    services draw at random (account number) or stamp with the wall clock (created_at)."""
    queries = {
        "customer_accounts": "SELECT * FROM accounts WHERE customer_id IS NOT NULL ORDER BY id",
        "bank_accounts": "SELECT id, kind, purpose, name, status, overdraft_limit_minor, debits_posted,"
                         " credits_posted FROM accounts WHERE customer_id IS NULL ORDER BY id",
        "transfers": "SELECT * FROM transfers ORDER BY id",
        "entries": "SELECT * FROM entries ORDER BY id",
        "bills": "SELECT * FROM bills ORDER BY id",
        "billers": "SELECT id, code, name_zh, name_en, category, city, settlement_account_id, requires_bill"
                   " FROM billers ORDER BY id",
        "usage": "SELECT * FROM customer_daily_usage ORDER BY customer_id, day, currency",
        "seals": "SELECT seq, transfer_id, prev_hash, hash FROM ledger_seals ORDER BY seq",
    }
    engine = create_engine(db.normalise_url(url))
    try:
        with security.keys_of(engine), engine.connect() as c:
            out = {k: [tuple(r) for r in c.execute(text(q))] for k, q in queries.items()}
            # through the column types: the identity fields decrypted (their ciphertexts differ run to run)
            out["customers"] = [tuple(r) for r in c.execute(select(Customer.__table__).order_by(Customer.id))]
            return out
    finally:
        engine.dispose()
