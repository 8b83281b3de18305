"""The inline risk decision of customer payments, through the API: allow, challenge (one-time code), review
(held as a pending transfer) and block, each with its stored decision, reasons and notifications."""

from __future__ import annotations

from sqlalchemy import text

from smartbank import clock, db
from smartbank.risk.models import RiskRule
from tests.conftest import login, sms_code


def _rule(engine, code: str, expression: str, action: str, mode: str = "active") -> None:
    with db.session_scope(engine) as s:
        s.add(RiskRule(code=code, version=1, name_en=code, name_zh=code, expression=expression, action=action,
                       mode=mode, reason_en=f"{code} reason", reason_zh=f"{code} 原因"))


def _setup(client, bank):
    alice = bank.customer("王芳")
    bob = bank.customer("李娜")
    a1 = bank.account(alice, balance=10_000_000)
    b1 = bank.account(bob)
    bank.user("alice", customer_id=alice)
    bank.user("bob", customer_id=bob)
    ha, hb = login(client, "alice"), login(client, "bob")
    to = client.get(f"/api/v1/accounts/{b1}", headers=hb).json()["number"]
    return ha, hb, a1, b1, to, alice


def _rows(engine, sql: str, **kw):
    with engine.connect() as c:
        return c.execute(text(sql), kw).mappings().all()


def _pay(client, headers, a1, to, amount, key, **extra):
    return client.post("/api/v1/transfers", headers=headers, json={
        "from_account_id": a1, "to_account_number": to, "amount_minor": amount, "idempotency_key": key, **extra})


def test_allowed_payment_stores_its_decision(client, bank, engine):
    ha, _, a1, _, to, alice = _setup(client, bank)
    r = _pay(client, ha, a1, to, 12_345, "k1")
    assert r.status_code == 201, r.text
    (d,) = _rows(engine, "SELECT * FROM risk_decisions")
    assert d["decision"] == "allow" and d["transfer_id"] == r.json()["id"] and d["customer_id"] == alice
    assert d["model_version"] == "rules-only" and d["score"] is None and d["channel"] == "api"
    assert d["amount_minor"] == 12_345 and d["kind"] == "transfer" and d["latency_us"] is not None
    # a replay neither scores again nor writes a second decision
    assert _pay(client, ha, a1, to, 12_345, "k1").status_code == 200
    assert bank.count("risk_decisions") == 1
    bank.assert_invariants()


def test_block_moves_nothing_and_keeps_the_record(client, bank, engine):
    _rule(engine, "big", "amount_minor >= 5000000", "block")
    ha, _, a1, b1, to, alice = _setup(client, bank)
    transfers = bank.count("transfers")
    r = _pay(client, ha, a1, to, 6_000_000, "b1")
    assert r.status_code == 403 and r.json()["code"] == "payment_blocked", r.text
    assert r.json()["details"]["reasons"] == ["big reason"]
    assert bank.count("transfers") == transfers and bank.count("entries") == 2
    assert bank.balance(a1) == 10_000_000 and bank.available(a1) == 10_000_000 and bank.balance(b1) == 0
    (d,) = _rows(engine, "SELECT * FROM risk_decisions")
    assert d["decision"] == "block" and d["transfer_id"] is None
    assert bank.count("risk_alerts") == 1
    (n,) = _rows(engine, "SELECT * FROM notifications WHERE customer_id = :c", c=alice)
    assert n["kind"] == "payment_blocked" and "60,000.00" in n["body_en"]
    # a smaller payment is allowed
    assert _pay(client, ha, a1, to, 100_000, "b2").status_code == 201
    bank.assert_invariants()


def test_review_holds_the_funds_as_a_pending_transfer(client, bank, engine):
    _rule(engine, "hold", "amount_minor >= 1000000 and amount_minor < 2000000", "review")
    ha, _, a1, b1, to, alice = _setup(client, bank)
    r = _pay(client, ha, a1, to, 1_500_000, "h1")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and body["risk"]["decision"] == "review"
    assert bank.balance(a1) == 10_000_000 and bank.available(a1) == 8_500_000 and bank.balance(b1) == 0
    (d,) = _rows(engine, "SELECT * FROM risk_decisions")
    assert d["decision"] == "review" and d["transfer_id"] == body["id"]
    (alert,) = _rows(engine, "SELECT * FROM risk_alerts")
    assert alert["transfer_id"] == body["id"] and alert["status"] == "open"
    kinds = [n["kind"] for n in _rows(engine, "SELECT kind FROM notifications WHERE customer_id = :c", c=alice)]
    assert kinds == ["payment_held"]
    # the same request again replays the hold
    again = _pay(client, ha, a1, to, 1_500_000, "h1")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert bank.count("risk_alerts") == 1
    bank.assert_invariants()


def _otp(engine, customer_id: int, sms_outbox) -> str:
    """The code texted to the customer's phone (never in the notifications, which the session reads)."""
    from smartbank.security import service as security

    stored = _rows(engine, "SELECT phone FROM customers WHERE id = :c", c=customer_id)[0]["phone"]
    phone = security.decrypt_text(stored, context="customers.phone")  # encrypted at rest
    assert bank_phone_gets_text(sms_outbox, phone)
    assert _rows(engine, "SELECT count(*) AS n FROM notifications WHERE kind = 'otp'")[0]["n"] == 0
    return sms_code(sms_outbox, phone)


def bank_phone_gets_text(sms_outbox, phone: str) -> bool:
    return any(m.phone == phone for m in sms_outbox.sent)


def test_challenge_then_the_right_code_posts_once(client, bank, engine, sms_outbox):
    _rule(engine, "otp", "amount_minor >= 300000", "challenge")
    ha, hb, a1, b1, to, alice = _setup(client, bank)
    transfers = bank.count("transfers")
    r = _pay(client, ha, a1, to, 300_000, "c1")
    assert r.status_code == 403 and r.json()["code"] == "challenge_required", r.text
    cid = r.json()["details"]["challenge_id"]
    assert bank.count("transfers") == transfers and bank.available(a1) == 10_000_000
    code = _otp(engine, alice, sms_outbox)
    wrong = "000000" if code != "000000" else "111111"
    bad = _pay(client, ha, a1, to, 300_000, "c1", challenge_id=cid, otp=wrong)
    assert bad.status_code == 403 and bad.json()["code"] == "otp_invalid"
    assert bad.json()["details"]["attempts_left"] == 2
    # a code answers only the request it was issued for
    other = _pay(client, ha, a1, to, 300_001, "c1", challenge_id=cid, otp=code)
    assert other.status_code == 422
    # nor can another customer use it
    assert _pay(client, hb, b1, to, 300_000, "c1", challenge_id=cid, otp=code).status_code in (404, 422)
    ok = _pay(client, ha, a1, to, 300_000, "c1", challenge_id=cid, otp=code)
    assert ok.status_code == 201, ok.text
    assert bank.balance(b1) == 300_000
    (d,) = _rows(engine, "SELECT * FROM risk_decisions")
    assert d["decision"] == "challenge" and d["outcome"] == "challenge_passed" and d["transfer_id"] == ok.json()["id"]
    again = _pay(client, ha, a1, to, 300_000, "c1", challenge_id=cid, otp=code)
    assert again.status_code == 200 and again.json()["id"] == ok.json()["id"]
    assert bank.balance(b1) == 300_000
    bank.assert_invariants()


def test_three_wrong_codes_block_the_payment(client, bank, engine, sms_outbox):
    _rule(engine, "otp", "amount_minor >= 300000", "challenge")
    ha, _, a1, b1, to, alice = _setup(client, bank)
    cid = _pay(client, ha, a1, to, 400_000, "w1").json()["details"]["challenge_id"]
    code = _otp(engine, alice, sms_outbox)
    wrong = "000000" if code != "000000" else "111111"
    codes = [_pay(client, ha, a1, to, 400_000, "w1", challenge_id=cid, otp=wrong).json()["code"] for _ in range(3)]
    assert codes == ["otp_invalid", "otp_invalid", "payment_blocked"]
    late = _pay(client, ha, a1, to, 400_000, "w1", challenge_id=cid, otp=code)
    assert late.status_code == 403 and late.json()["code"] == "otp_invalid"
    assert bank.balance(b1) == 0 and bank.count("risk_alerts") == 1
    (d,) = _rows(engine, "SELECT outcome FROM risk_decisions")
    assert d["outcome"] == "challenge_failed"


def test_shadow_and_flag_rules_are_recorded_but_change_nothing(client, bank, engine):
    _rule(engine, "shadowed", "amount_minor >= 100", "block", mode="shadow")
    _rule(engine, "flagged", "amount_minor >= 100", "flag")
    ha, _, a1, b1, to, _ = _setup(client, bank)
    r = _pay(client, ha, a1, to, 5_000, "s1")
    assert r.status_code == 201, r.text
    (d,) = _rows(engine, "SELECT decision, rule_hits FROM risk_decisions")
    hits = d["rule_hits"] if isinstance(d["rule_hits"], list) else __import__("json").loads(d["rule_hits"])
    assert d["decision"] == "allow"
    assert sorted((h["code"], h["shadow"]) for h in hits) == [("flagged", False), ("shadowed", True)]


def test_velocity_features_see_earlier_payments(client, bank, engine):
    _rule(engine, "burst", "cust_n_1h >= 3", "block")
    ha, _, a1, _, to, _ = _setup(client, bank)
    codes = [_pay(client, ha, a1, to, 1_000 + i, f"v{i}").status_code for i in range(5)]
    assert codes == [201, 201, 201, 403, 403]


def test_invalid_payment_is_refused_before_scoring(client, bank, engine):
    _rule(engine, "otp", "amount_minor >= 1", "challenge")
    ha, _, a1, _, to, _ = _setup(client, bank)
    r = _pay(client, ha, a1, to, 0, "z")
    assert r.status_code == 422
    r = _pay(client, ha, a1, to, 100, "z", otp="123456")
    assert r.status_code == 422
    assert bank.count("risk_decisions") == 0 and bank.count("risk_challenges") == 0


def test_a_held_bill_payment_voided_as_fraud_leaves_the_bill_unpaid(client, bank, engine):
    from datetime import timedelta

    from smartbank.payments import service as payments

    _rule(engine, "bills", "kind == 'bill_payment' and amount_minor >= 50000", "review")
    ha, _, a1, _, _, _ = _setup(client, bank)
    bank.user("rita", role="risk_officer")
    with db.session_scope(engine) as s:
        payments.add_biller(s, code="SGCC", name_zh="国家电网", name_en="State Grid", category="electricity")
        bill = payments.issue_bill(s, biller_code="SGCC", reference="110-22", period="2026-10",
                                   amount_minor=60_000, due_date=clock.today() + timedelta(days=5)).id
    r = client.post("/api/v1/bill-payments", headers=ha, json={"from_account_id": a1, "bill_id": bill,
                                                                "idempotency_key": "bill-1"})
    assert r.status_code == 202 and r.json()["status"] == "pending", r.text
    assert _rows(engine, "SELECT status FROM bills")[0]["status"] == "paid"
    (alert,) = _rows(engine, "SELECT id FROM risk_alerts")
    hr = login(client, "rita")
    done = client.post(f"/api/v1/risk/alerts/{alert['id']}/resolve", headers=hr,
                       json={"resolution": "fraud", "action": "void"})
    assert done.status_code == 200, done.text
    (b,) = _rows(engine, "SELECT status, paid_transfer_id FROM bills")
    assert b["status"] == "unpaid" and b["paid_transfer_id"] is None
    assert bank.available(a1) == 10_000_000
    bank.assert_invariants()


def test_a_scheduled_run_is_scored_and_a_challenge_holds_it(client, bank, engine):

    from smartbank.payments import service as payments
    from smartbank.security.service import Principal

    _rule(engine, "sched_otp", "channel == 'schedule' and amount_minor >= 200000", "challenge")
    _rule(engine, "sched_stop", "channel == 'schedule' and amount_minor >= 900000", "block")
    _, _, a1, b1, to, alice = _setup(client, bank)
    me = Principal(user_id=1, username="alice", role="customer", customer_id=alice)
    with db.session_scope(engine) as s:
        for amount in (100_000, 200_000, 900_000):
            payments.schedule_transfer(s, me, from_account_id=a1, to_account_number=to, amount_minor=amount,
                                       currency="CNY", frequency="once", start_date=clock.today())
    with db.session_scope(engine) as s:
        out = payments.run_due_scheduled(s, clock.today())
    assert out == {"executed": 2, "failed": 1}
    decisions = sorted((d["amount_minor"], d["decision"], d["channel"]) for d in
                       _rows(engine, "SELECT amount_minor, decision, channel FROM risk_decisions"))
    # no one can answer a code at close of day: the challenged run is held for a risk officer instead
    assert decisions == [(100_000, "allow", "schedule"), (200_000, "review", "schedule"),
                         (900_000, "block", "schedule")]
    assert bank.balance(b1) == 100_000 and bank.available(a1) == 10_000_000 - 300_000
    assert bank.count("risk_alerts") == 2
    bank.assert_invariants()


def test_velocity_features_count_payments_another_process_posted(client, bank, engine, monkeypatch):
    """Each server process keeps its own feature state; before scoring it reads what the others committed."""
    from smartbank.ledger import service as ledger
    from smartbank.risk import engine as risk_engine

    monkeypatch.setattr(risk_engine, "CATCH_UP_SECONDS", 0.0)
    _rule(engine, "burst", "cust_n_1h >= 3", "block")
    ha, _, a1, b1, to, _ = _setup(client, bank)
    assert _pay(client, ha, a1, to, 1_000, "p1").status_code == 201  # this process scores and observes it
    with db.session_scope(engine) as s:  # two more, posted by "another process": never observed here
        for i in range(2):
            ledger.transfer(s, ledger.TransferCommand(key=f"elsewhere-{i}", debit_account_id=a1,
                                                      credit_account_id=b1, amount_minor=2_000 + i,
                                                      currency="CNY", kind="transfer"))
    r = _pay(client, ha, a1, to, 1_001, "p2")
    assert r.status_code == 403, r.text
    (d,) = _rows(engine, "SELECT features FROM risk_decisions WHERE decision = 'block'")
    feats = d["features"] if isinstance(d["features"], dict) else __import__("json").loads(d["features"])
    assert feats["cust_n_1h"] == 3


def test_a_held_payment_whose_commit_fails_leaves_no_trace_in_the_online_features(client, bank, engine):
    """The online state learns a payment only once its transaction commits: a held payment whose commit fails
    never happened, so it must not count in the next payment's velocity features."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from smartbank.risk import engine as risk_engine

    _rule(engine, "hold", "amount_minor >= 1000000", "review")
    _rule(engine, "burst", "cust_n_1h >= 1 and amount_minor < 1000000", "block")
    ha, _, a1, _, to, _ = _setup(client, bank)
    transfers = bank.count("transfers")

    def failing_commit(session):
        raise RuntimeError("the database refused the commit")

    event.listen(Session, "before_commit", failing_commit)
    try:
        r = _pay(client, ha, a1, to, 1_500_000, "held-then-lost")
    finally:
        event.remove(Session, "before_commit", failing_commit)
    assert r.status_code == 500, r.text
    assert bank.count("transfers") == transfers and bank.count("risk_decisions") == 0
    assert bank.available(a1) == 10_000_000
    with db.session_scope(engine) as s:
        state = risk_engine.get(s).state
    assert not state._by_id  # no payment of this process's state
    # the next payment sees no earlier payment in the last hour
    r = _pay(client, ha, a1, to, 1_000, "next")
    assert r.status_code == 201, r.text
    bank.assert_invariants()
