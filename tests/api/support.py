"""Helpers shared by the API, payments, security and statements tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text

from smartbank import db
from tests.databases import table_names

API = "/api/v1"

# Tables a refused request may write: its failed sign-in is counted (login_throttle), and signing in to make it
# opens a session (auth_sessions).
MAY_WRITE_WHEN_REFUSED = frozenset({"login_throttle", "auth_sessions"})
# Tables whose rows a refused request must leave alone: every other table of the schema (from the models).
WATCHED_TABLES = tuple(t for t in table_names() if t not in MAY_WRITE_WHEN_REFUSED)
_COUNT_WATCHED = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in WATCHED_TABLES)


def assert_error(r, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an error with exactly the documented body."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"code", "reason", "message", "details"}, body
    assert isinstance(body["reason"], str) and body["reason"]
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    if code is not None:
        assert body["code"] == code, body
    return body


def state(engine) -> dict[str, Any]:
    """A fingerprint of everything a request could write: row counts and the mutable columns."""
    with engine.connect() as c:
        counts = c.execute(text(_COUNT_WATCHED)).one()
        out: dict[str, Any] = dict(zip(WATCHED_TABLES, counts, strict=True))
        out["accounts_rows"] = [tuple(r) for r in c.execute(text(
            "SELECT id, status, debits_posted, credits_posted, debits_pending, credits_pending,"
            " overdraft_limit_minor FROM accounts ORDER BY id"))]
        out["customers_rows"] = [tuple(r) for r in c.execute(text(
            "SELECT id, daily_limit_minor, status FROM customers ORDER BY id"))]
        out["bills_rows"] = [tuple(r) for r in c.execute(text(
            "SELECT id, status, paid_transfer_id FROM bills ORDER BY id"))]
        out["scheduled_rows"] = [tuple(r) for r in c.execute(text(
            "SELECT id, status, next_run FROM scheduled_transfers ORDER BY id"))]
        out["usage_rows"] = [tuple(r) for r in c.execute(text(
            "SELECT customer_id, day, currency, amount_minor FROM customer_daily_usage"
            " ORDER BY customer_id, day, currency"))]
        out["users_rows"] = [tuple(r) for r in c.execute(text(
            "SELECT id, role, failed_logins, is_active FROM users ORDER BY id"))]
    return out


def number(engine, account_id: int) -> str:
    with engine.connect() as c:
        return c.execute(text("SELECT number FROM accounts WHERE id = :i"), {"i": account_id}).scalar_one()


def scalar(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def add_biller(engine, code: str, *, category: str = "electricity", requires_bill: bool = True) -> int:
    from smartbank.payments import service as payments

    with db.session_scope(engine) as s:
        return payments.add_biller(s, code=code, name_zh=code, name_en=f"{code} Co", category=category,
                                   city="北京", requires_bill=requires_bill).id


def issue_bill(engine, biller_code: str, reference: str, amount_minor: int, *, period: str = "2026-01",
               due: date = date(2026, 2, 15)) -> int:
    from smartbank.payments import service as payments

    with db.session_scope(engine) as s:
        return payments.issue_bill(s, biller_code=biller_code, reference=reference, period=period,
                                   amount_minor=amount_minor, due_date=due).id
