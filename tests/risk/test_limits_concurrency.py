"""Risk limits hold when payments arrive at once: the day's use is an aggregate, so each payment a limit
covers is decided and written one at a time per customer (see :mod:`smartbank.risk.limits`)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.errors import PaymentBlocked
from smartbank.payments import service as payments
from smartbank.risk import limits
from smartbank.risk.models import RiskLimit, RiskRule
from smartbank.security.service import Principal
from tests.conftest import login, sms_code


def _limit(engine, customer_id: int, **caps) -> None:
    with db.session_scope(engine) as s:
        s.add(RiskLimit(scope="customer", scope_value=str(customer_id), action="block", active=True, **caps))
    limits.invalidate()  # written around the service: the process's cache of limits must forget the old set


def _world(bank, engine):
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=10_000_000)
    b1 = bank.account(bob)
    uid = bank.user("alice", customer_id=alice)
    with engine.connect() as c:
        to = c.execute(text("SELECT number FROM accounts WHERE id = :i"), {"i": b1}).scalar()
    return Principal(user_id=uid, username="alice", role="customer", customer_id=alice), alice, a1, b1, to


def _race(engine, actor, a1, to, amounts: list[int]) -> Counter[str]:
    """Every payment at once, each in its own unit of work exactly as the API's POST /transfers runs it."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(amounts))

    def pay(i: int, amount: int) -> None:
        req = payments.PaymentRequest(from_account_id=a1, to_account_number=to, amount_minor=amount,
                                      currency="CNY", idempotency_key=f"race-{i}", channel="api")
        barrier.wait()
        try:
            db.run_single_write(lambda s: payments.pay(s, actor, req), engine=engine)
            out = "posted"
        except PaymentBlocked:
            out = "blocked"
        except Exception as exc:  # noqa: BLE001 - anything else would be a 500
            out = type(exc).__name__
        with lock:
            outcomes[out] += 1

    threads = [threading.Thread(target=pay, args=(i, amt)) for i, amt in enumerate(amounts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.commits
@pytest.mark.parametrize("round_", range(3))
def test_parallel_payments_at_a_count_limit_post_exactly_the_limit(bank, engine, round_):
    """PostgreSQL: the per-customer lock; SQLite: each transaction's write lock, taken by its first statement."""
    actor, alice, a1, b1, to = _world(bank, engine)
    _limit(engine, alice, daily_count=3)
    outcomes = _race(engine, actor, a1, to, [1_000] * 10)
    assert outcomes == {"posted": 3, "blocked": 7}
    assert bank.balance(b1) == 3_000
    assert bank.count("risk_limit_breaches") == 7
    bank.assert_invariants()


@pytest.mark.commits
def test_parallel_payments_at_an_amount_limit_never_exceed_it(bank, engine):
    actor, alice, a1, b1, to = _world(bank, engine)
    _limit(engine, alice, daily_amount_minor=1_000_000)  # ¥10,000 a day
    outcomes = _race(engine, actor, a1, to, [300_000] * 8)  # only three fit
    assert outcomes == {"posted": 3, "blocked": 5}
    assert bank.balance(b1) == 900_000
    bank.assert_invariants()


@pytest.mark.commits
def test_payments_no_limit_covers_keep_the_single_statement_path(bank, engine):
    """Only payments a limit covers take the customer's lock: others are not serialised (nor slowed)."""
    actor, alice, a1, b1, to = _world(bank, engine)
    _limit(engine, alice + 1000, daily_count=1)  # someone else's limit
    outcomes = _race(engine, actor, a1, to, [1_000] * 6)
    assert outcomes == {"posted": 6}


def test_challenged_payments_keep_their_room_while_their_code_is_valid(client, bank, engine, sms_outbox):
    """Two payments challenged one after the other, each within the limit alone: the first keeps its room
    while its one-time code is valid, so the second is stopped - both codes answered would otherwise post
    more than the limit allows."""
    _, alice, a1, b1, to = _world(bank, engine)
    with db.session_scope(engine) as s:
        s.add(RiskRule(code="otp", version=1, name_en="otp", name_zh="otp", expression="amount_minor >= 1",
                       action="challenge", mode="active", reason_en="otp reason", reason_zh="otp 原因"))
    _limit(engine, alice, daily_amount_minor=1_000_000)
    h = login(client, "alice")

    def pay(key: str, **extra):
        return client.post("/api/v1/transfers", headers=h, json={
            "from_account_id": a1, "to_account_number": to, "amount_minor": 600_000, "idempotency_key": key,
            **extra})

    first = pay("c1")
    assert first.status_code == 403 and first.json()["code"] == "challenge_required", first.text
    code = sms_code(sms_outbox)
    second = pay("c2")
    assert second.status_code == 403 and second.json()["code"] == "payment_blocked", second.text
    assert "daily limit" in " ".join(second.json()["details"]["reasons"])
    ok = pay("c1", challenge_id=first.json()["details"]["challenge_id"], otp=code)
    assert ok.status_code == 201, ok.text
    assert bank.balance(b1) == 600_000
    bank.assert_invariants()


def test_an_unanswered_challenge_gives_its_room_back_when_its_code_expires(client, bank, engine, bank_clock):
    from datetime import timedelta

    from smartbank.config import get_settings

    _, alice, a1, b1, to = _world(bank, engine)
    with db.session_scope(engine) as s:
        s.add(RiskRule(code="otp", version=1, name_en="otp", name_zh="otp", expression="amount_minor >= 700000",
                       action="challenge", mode="active", reason_en="otp reason", reason_zh="otp 原因"))
    _limit(engine, alice, daily_amount_minor=1_000_000)
    h = login(client, "alice")
    body = {"from_account_id": a1, "to_account_number": to}
    r = client.post("/api/v1/transfers", headers=h, json={**body, "amount_minor": 700_000, "idempotency_key": "x"})
    assert r.json()["code"] == "challenge_required", r.text
    assert client.post("/api/v1/transfers", headers=h, json={**body, "amount_minor": 400_000,
                                                             "idempotency_key": "y"}).status_code == 403
    bank_clock.advance(timedelta(seconds=get_settings().risk_otp_seconds + 1))
    r = client.post("/api/v1/transfers", headers=h, json={**body, "amount_minor": 400_000, "idempotency_key": "z"})
    assert r.status_code == 201, r.text
