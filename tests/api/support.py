"""Helpers shared by the API, payments, security and statements tests."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from smartbank import db
from smartbank.security import passwords

API = "/api/v1"

# Tables whose rows a refused request must leave alone, and the account columns that hold money.
WATCHED_TABLES = (
    "customers", "accounts", "transfers", "entries", "ledger_unsealed", "reversal_requests", "payees",
    "scheduled_transfers",
    "bills", "billers", "customer_daily_usage", "audit_log", "users", "risk_decisions", "risk_challenges",
    "risk_alerts", "risk_alert_events", "risk_labels", "risk_rules", "risk_limits", "risk_register", "risk_kris",
    "risk_warnings", "notifications", "loan_products", "reference_rates", "loan_applications",
    "loan_application_events", "credit_decisions", "loans", "loan_installments", "loan_repayments",
    "risk_assessments", "wealth_products", "product_navs", "suitability_checks", "wealth_orders", "holdings",
    "portfolio_plans", "rec_items", "rec_events", "rec_served", "assistant_conversations", "assistant_messages",
    "faq_entries", "assistant_handoffs",
)


@pytest.fixture
def cheap_argon2(monkeypatch):
    """argon2id with the lightest parameters: the same code path, a fraction of the cost."""
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", lambda: fast)
    monkeypatch.setattr(passwords, "_DUMMY", [])
    return fast


def assert_error(r, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an error with exactly the documented body."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    if code is not None:
        assert body["code"] == code, body
    return body


def state(engine) -> dict[str, Any]:
    """A fingerprint of everything a request could write: row counts and the mutable columns."""
    with engine.connect() as c:
        out: dict[str, Any] = {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in WATCHED_TABLES}
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
