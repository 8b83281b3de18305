"""Risk alerts and cases: opening, the queue, assignment, notes, resolution with its money movement
(exactly once), labels, notifications, audit, authorisation and the race of two officers."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text

from smartbank import db
from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.notifications.models import Notification
from smartbank.risk import cases
from smartbank.risk.models import RiskAlert, RiskAlertEvent, RiskDecision, RiskLabel
from smartbank.security.service import Principal
from tests.web.conftest import make_user

AMOUNT = 30_000


@dataclass
class World:
    alice: int
    bob: int
    a: int  # alice's account (payer)
    b: int  # bob's account (payee)
    officer: Principal
    officer2: Principal
    teller: Principal
    customer: Principal


def _principal(engine, username: str, role: str, customer_id: int | None = None) -> Principal:
    uid = make_user(engine, username, role=role, customer_id=customer_id)
    return Principal(user_id=uid, username=username, role=role, customer_id=customer_id)


@pytest.fixture
def w(bank, engine) -> World:
    alice = bank.customer("王芳")
    bob = bank.customer("李娜")
    a = bank.account(alice, balance=100_000)
    b = bank.account(bob, balance=1_000)
    return World(alice=alice, bob=bob, a=a, b=b,
                 officer=_principal(engine, "risk1", "risk_officer"),
                 officer2=_principal(engine, "risk2", "risk_officer"),
                 teller=_principal(engine, "teller1", "teller"),
                 customer=_principal(engine, "alice", "customer", alice))


def _decision(s, w: World, *, transfer_id: int | None, decision: str, amount: int = AMOUNT,
              score: float | None = 0.55) -> RiskDecision:
    d = RiskDecision(
        transfer_id=transfer_id, customer_id=w.alice, account_id=w.a, counterparty_account_id=w.b, channel="web",
        kind="transfer", product="demand", amount_minor=amount, currency="CNY", decision=decision, score=score,
        model_version="fraud-test-1", rules_version="r1",
        rule_hits=[{"code": "new_payee_large", "version": 1, "action": "review", "shadow": False}],
        reasons=[{"code": "new_payee_large", "en": "A large payment to a new payee", "zh": "向新收款人大额付款"}],
        features={"amount_minor": amount, "payee_age_days": 0},
    )
    s.add(d)
    s.flush()
    return d


def held(engine, w: World, *, amount: int = AMOUNT, key: str = "hold-1", score: float | None = 0.55) -> tuple[int, int]:
    """A payment held for review (a pending transfer), its decision and its alert: (alert id, transfer id)."""
    with db.session_scope(engine) as s:
        t = ledger.transfer(s, ledger.TransferCommand(key=key, debit_account_id=w.a, credit_account_id=w.b,
                                                      amount_minor=amount, currency="CNY", pending=True))
        d = _decision(s, w, transfer_id=t.id, decision="review", amount=amount, score=score)
        return cases.open_alert(s, decision=d).id, t.id


def posted(engine, w: World, *, amount: int = AMOUNT, key: str = "paid-1") -> tuple[int, int]:
    """A payment that went through (allowed), later opened as a case."""
    with db.session_scope(engine) as s:
        t = ledger.transfer(s, ledger.TransferCommand(key=key, debit_account_id=w.a, credit_account_id=w.b,
                                                      amount_minor=amount, currency="CNY"))
        d = _decision(s, w, transfer_id=t.id, decision="allow", amount=amount, score=0.2)
        return cases.open_alert(s, decision=d).id, t.id


def blocked(engine, w: World) -> int:
    with db.session_scope(engine) as s:
        d = _decision(s, w, transfer_id=None, decision="block", score=0.97)
        return cases.open_alert(s, decision=d).id


def run(engine, fn):
    return db.run_in_transaction(fn, engine=engine)


def _events(engine, alert_id: int) -> list[str]:
    with db.session_scope(engine) as s:
        return list(s.scalars(select(RiskAlertEvent.event).where(RiskAlertEvent.alert_id == alert_id)
                              .order_by(RiskAlertEvent.id)))


def _fingerprint(engine) -> dict:
    tables = ("transfers", "entries", "risk_alerts", "risk_alert_events", "risk_labels", "notifications")
    with engine.connect() as c:
        out = {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
        # records of changes (an officer shown a case again is a read, audited as object_type customer)
        out["audit_log"] = c.execute(text("SELECT count(*) FROM audit_log WHERE object_type <> 'customer'")).scalar()
        out["alerts"] = [tuple(r) for r in c.execute(text(
            "SELECT id, status, assigned_to, resolution, action FROM risk_alerts ORDER BY id"))]
        out["accounts"] = [tuple(r) for r in c.execute(text(
            "SELECT id, debits_posted, credits_posted, debits_pending, credits_pending FROM accounts ORDER BY id"))]
    return out


# ---- opening ---------------------------------------------------------------------------------------


def test_open_alert_is_idempotent_with_priority_and_created_event(engine, w):
    aid, tid = held(engine, w)
    with db.session_scope(engine) as s:
        d = s.scalars(select(RiskDecision)).one()
        again = cases.open_alert(s, decision=d)
        assert again.id == aid
        alert = s.get(RiskAlert, aid)
        assert (alert.status, alert.priority, alert.transfer_id, alert.decision) == ("open", 2, tid, "review")
    assert _events(engine, aid) == ["created"]
    assert blocked(engine, w) and True
    with db.session_scope(engine) as s:
        pri = {a.decision: a.priority for a in s.scalars(select(RiskAlert))}
    assert pri == {"review": 2, "block": 1}


def test_priority_rules(engine, w):
    def d(**kw):
        base = {"decision": "review", "score": 0.5, "amount_minor": 10_000}
        return RiskDecision(**{**base, **kw})

    assert cases.priority_of(d(decision="block", score=None)) == 1
    assert cases.priority_of(d(score=0.9)) == 1
    assert cases.priority_of(d(amount_minor=cases.HIGH_AMOUNT_MINOR)) == 1
    assert cases.priority_of(d()) == 2
    assert cases.priority_of(d(score=None)) == 2
    assert cases.priority_of(d(decision="allow", score=0.1)) == 3
    assert cases.priority_of(d(decision="challenge", score=0.3)) == 3
    assert cases.priority_of(d(decision="challenge", score=0.3, outcome="challenge_failed")) == 1


# ---- queue, assign, notes --------------------------------------------------------------------------


def test_queue_assign_and_notes(engine, w):
    low, _ = held(engine, w, key="h-low", score=0.4)
    high, _ = held(engine, w, key="h-high", score=0.95)
    blk = blocked(engine, w)
    q = run(engine, lambda s: cases.queue(s, w.officer))
    assert [r["id"] for r in q] == [high, blk, low]  # priority first, then oldest
    first = q[0]
    assert first["customer_name"] == "王芳" and first["age_seconds"] >= 0 and first["status"] == "open"

    out = run(engine, lambda s: cases.assign(s, w.officer, low))
    assert out == {"id": low, "status": "investigating", "assigned_to": w.officer.user_id}
    run(engine, lambda s: cases.assign(s, w.officer, high, user_id=w.officer2.user_id))
    mine = run(engine, lambda s: cases.queue(s, w.officer, assigned_to=w.officer.user_id))
    assert [r["id"] for r in mine] == [low]
    assert mine[0]["assigned_name"] == "risk1"
    assert [r["id"] for r in run(engine, lambda s: cases.queue(s, w.officer, status="open"))] == [blk]
    counts = run(engine, lambda s: cases.counts(s, w.officer))
    assert counts == {"open": 1, "investigating": 2, "closed": 0, "mine": 1}

    run(engine, lambda s: cases.add_note(s, w.officer, low, "  called the customer, no answer  "))
    case = run(engine, lambda s: cases.get_case(s, w.officer, low))
    assert [e["event"] for e in case["events"]] == ["created", "assigned", "note"]
    assert case["events"][2]["note"] == "called the customer, no answer"
    assert case["events"][2]["actor_name"] == "risk1"


def test_assign_refuses_non_officers_and_missing_users(engine, w):
    aid, _ = held(engine, w)
    before = _fingerprint(engine)
    for uid in (w.teller.user_id, w.customer.user_id, 999_999):
        with pytest.raises(ValidationFailed):
            run(engine, lambda s, uid=uid: cases.assign(s, w.officer, aid, user_id=uid))
    with pytest.raises(NotFound):
        run(engine, lambda s: cases.assign(s, w.officer, 424242))
    for bad in ("", "   ", "x" * (cases.MAX_NOTE + 1), "a\x00b"):
        with pytest.raises(ValidationFailed):
            run(engine, lambda s, bad=bad: cases.add_note(s, w.officer, aid, bad))
    assert _fingerprint(engine) == before


def test_case_shows_decision_payment_and_timeline(engine, w):
    _, paid = posted(engine, w, amount=2_000, key="earlier")
    aid, tid = held(engine, w)
    case = run(engine, lambda s: cases.get_case(s, w.officer, aid, lang="zh"))
    assert case["alert"]["id"] == aid and case["payment_state"] == "held"
    assert case["transfer"]["id"] == tid and case["transfer"]["flags"] == "pending"
    d = case["decision"]
    assert d["score"] == 0.55 and d["model_version"] == "fraud-test-1"
    assert d["rule_hits"][0]["code"] == "new_payee_large" and d["reasons"][0]["zh"] == "向新收款人大额付款"
    assert case["counterparty"]["name"] == "李娜" and case["customer"]["name"] == "王芳"
    assert [x["transfer_id"] for x in case["timeline"]["payments"]][:1] == [paid]
    assert {x["decision"] for x in case["timeline"]["decisions"]} == {"allow", "review"}
    assert case["allowed"] == {"false_alarm": ["release", "void"], "fraud": ["void"]}


# ---- resolution --------------------------------------------------------------------------------------


def test_false_alarm_releases_the_held_payment_once(engine, bank, w):
    aid, tid = held(engine, w)
    assert bank.available(w.a) == 100_000 - AMOUNT and bank.balance(w.a) == 100_000
    out = run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="false_alarm", action="release",
                                              note="customer confirmed by phone"))
    assert out["status"] == "closed" and out["action"] == "released" and out["ledger_transfer_id"]
    assert bank.balance(w.a) == 100_000 - AMOUNT and bank.available(w.a) == 100_000 - AMOUNT
    assert bank.balance(w.b) == 1_000 + AMOUNT
    with pytest.raises(Conflict):
        run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="false_alarm", action="release"))
    with pytest.raises(Conflict):
        run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="fraud", action="void"))
    assert bank.balance(w.b) == 1_000 + AMOUNT
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM transfers WHERE pending_id = :p"), {"p": tid}).scalar() == 1
        key = c.execute(text("SELECT idempotency_key FROM transfers WHERE pending_id = :p"), {"p": tid}).scalar()
    assert key == f"risk-alert:{aid}:release"
    assert _events(engine, aid) == ["created", "false_alarm", "released"]
    with db.session_scope(engine) as s:
        lab = s.scalars(select(RiskLabel)).one()
        assert (lab.transfer_id, lab.label, lab.source, lab.created_by) == (tid, 0, "case", w.officer.user_id)
        n = s.scalars(select(Notification)).one()
        assert n.customer_id == w.alice and n.kind == "payment_released" and n.ref == f"transfer:{tid}"
        assert "¥300.00" in n.body_en and "李娜" in n.body_en and "放行" in n.body_zh
        alert = s.get(RiskAlert, aid)
        assert alert.assigned_to == w.officer.user_id and alert.closed_at is not None
    from smartbank.security import service as security

    with db.session_scope(engine) as s:
        trail = security.audit_trail(s, object_type="risk_alert", object_id=str(aid))
        assert [t.action for t in trail] == ["risk_alert.resolve"]
        assert trail[0].after["action"] == "released" and trail[0].note == "customer confirmed by phone"
    bank.assert_invariants()


def test_fraud_voids_the_hold_and_returns_the_money(engine, bank, w):
    aid, tid = held(engine, w)
    run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="fraud", action="void"))
    assert bank.balance(w.a) == bank.available(w.a) == 100_000
    assert bank.balance(w.b) == 1_000
    with db.session_scope(engine) as s:
        assert s.scalars(select(RiskLabel.label)).one() == 1
        n = s.scalars(select(Notification)).one()
        assert n.kind == "payment_stopped" and "money returned" in n.body_en and "退回" in n.body_zh
    assert _events(engine, aid) == ["created", "fraud_confirmed", "voided"]
    bank.assert_invariants()


def test_fraud_on_a_posted_payment_is_reversed_by_two_officers(engine, bank, w):
    """Resolving a posted payment as fraud asks for the reversal; it posts only when a second officer approves."""
    from smartbank.backoffice import service as backoffice
    from smartbank.ledger.reversals import SameOfficer

    aid, tid = posted(engine, w)
    assert bank.balance(w.a) == 100_000 - AMOUNT
    case = run(engine, lambda s: cases.get_case(s, w.officer, aid))
    assert case["payment_state"] == "posted" and case["allowed"]["fraud"] == ["reverse", "none"]
    out = run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="fraud", action="reverse",
                                               note="reported by the customer"))
    assert out["action"] == "reverse_pending" and out["ledger_transfer_id"] is None
    rid = out["reversal_request_id"]
    # nothing moved yet, and the customer is not told of a reversal that has not happened
    assert bank.balance(w.a) == 100_000 - AMOUNT and bank.balance(w.b) == 1_000 + AMOUNT
    assert bank.count("notifications") == 0
    # the officer who asked cannot approve
    with pytest.raises(SameOfficer):
        run(engine, lambda s: backoffice.approve_reversal(s, w.officer, rid))
    assert bank.balance(w.a) == 100_000 - AMOUNT
    done = run(engine, lambda s: backoffice.approve_reversal(s, w.officer2, rid, note="checked").reversal_id)
    assert bank.balance(w.a) == 100_000 and bank.balance(w.b) == 1_000
    with engine.connect() as c:
        assert c.execute(text("SELECT id FROM transfers WHERE reverses_id = :t"), {"t": tid}).scalar() == done
        assert c.execute(text("SELECT action FROM risk_alerts WHERE id = :a"), {"a": aid}).scalar() == "reversed"
    with db.session_scope(engine) as s:
        assert s.scalars(select(Notification.kind)).one() == "payment_reversed"
    assert _events(engine, aid) == ["created", "fraud_confirmed", "reversal_requested", "reversed"]
    bank.assert_invariants()


def test_a_rejected_case_reversal_moves_nothing(engine, bank, w):
    from smartbank.backoffice import service as backoffice

    aid, _ = posted(engine, w)
    rid = run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="fraud", action="reverse",
                                               note="reported by the customer"))[
        "reversal_request_id"]
    run(engine, lambda s: backoffice.reject_reversal(s, w.officer2, rid, note="the payee returned it already"))
    assert bank.balance(w.a) == 100_000 - AMOUNT
    with engine.connect() as c:
        assert c.execute(text("SELECT action FROM risk_alerts WHERE id = :a"), {"a": aid}).scalar() == "none"
    assert _events(engine, aid)[-1] == "reversal_rejected"
    assert bank.count("notifications") == 0


def test_blocked_decision_has_no_transfer_and_no_label(engine, bank, w):
    aid = blocked(engine, w)
    case = run(engine, lambda s: cases.get_case(s, w.officer, aid))
    assert case["payment_state"] == "none" and case["allowed"] == {"false_alarm": ["none"], "fraud": ["none"]}
    before = bank.count("transfers")
    with pytest.raises(ValidationFailed):
        run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="fraud", action="void"))
    run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="false_alarm", action="none"))
    assert bank.count("transfers") == before and bank.count("risk_labels") == 0
    with db.session_scope(engine) as s:
        n = s.scalars(select(Notification)).one()
        assert n.kind == "payment_review_closed" and n.ref.startswith("decision:")
        assert "make it again" in n.body_en


def test_on_label_is_told(engine, w, monkeypatch):
    from smartbank.risk import engine as risk_engine

    seen: list[tuple[int, bool]] = []
    monkeypatch.setattr(risk_engine, "on_label", lambda tid, fraud: seen.append((tid, fraud)))
    aid, tid = held(engine, w)
    run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="fraud", action="void"))
    assert seen == [(tid, True)]


@pytest.mark.parametrize("resolution,action", [
    ("fraud", "release"),  # money to a fraudster
    ("false_alarm", "reverse"),  # not a held payment
    ("false_alarm", "none"),  # a held payment must be released or voided
    ("maybe", "release"),
    ("fraud", "refund"),
])
def test_bad_resolution_writes_nothing(engine, w, resolution, action):
    aid, _ = held(engine, w)
    before = _fingerprint(engine)
    with pytest.raises(ValidationFailed):
        run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution=resolution, action=action))
    assert _fingerprint(engine) == before


def test_reverse_of_a_posted_payment_needs_fraud(engine, w):
    aid, _ = posted(engine, w)
    before = _fingerprint(engine)
    with pytest.raises(ValidationFailed):
        run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="false_alarm", action="reverse"))
    assert _fingerprint(engine) == before


def test_resolving_a_missing_alert_is_not_found(engine, w):
    with pytest.raises(NotFound):
        run(engine, lambda s: cases.resolve(s, w.officer, 987654, resolution="fraud", action="void"))


# ---- authorisation -------------------------------------------------------------------------------------


def test_only_risk_officers_and_admins_work_alerts(engine, w):
    aid, _ = held(engine, w)
    before = _fingerprint(engine)
    for who in (w.teller, w.customer):
        for fn in (lambda s, who=who: cases.queue(s, who),
                   lambda s, who=who: cases.counts(s, who),
                   lambda s, who=who: cases.get_case(s, who, aid),
                   lambda s, who=who: cases.assign(s, who, aid),
                   lambda s, who=who: cases.add_note(s, who, aid, "x"),
                   lambda s, who=who: cases.resolve(s, who, aid, resolution="fraud", action="void")):
            with pytest.raises(Forbidden):
                run(engine, fn)
    assert _fingerprint(engine) == before
    admin = _principal(engine, "admin1", "admin")
    assert [r["id"] for r in run(engine, lambda s: cases.queue(s, admin))] == [aid]
    run(engine, lambda s: cases.resolve(s, admin, aid, resolution="false_alarm", action="release"))


# ---- concurrency (PostgreSQL) -------------------------------------------------------------------------


def _race(engine, *fns):
    barrier = threading.Barrier(len(fns))
    out: list = [None] * len(fns)

    def go(i, fn):
        barrier.wait()
        try:
            out[i] = db.run_in_transaction(fn, engine=engine)
        except BaseException as exc:  # noqa: BLE001
            out[i] = exc

    threads = [threading.Thread(target=go, args=(i, fn)) for i, fn in enumerate(fns)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    return out


@pytest.mark.commits
@pytest.mark.parametrize("second", [("false_alarm", "release"), ("fraud", "void")])
def test_two_officers_resolving_at_once_move_money_once(engine, bank, w, is_pg, second):
    if not is_pg:
        pytest.skip("row-lock races need PostgreSQL; SQLite serialises writers")
    rounds = 8
    released = 0
    for r in range(rounds):
        aid, tid = held(engine, w, amount=1_000 + r, key=f"race-{r}")
        out = _race(
            engine,
            lambda s, aid=aid: cases.resolve(s, w.officer, aid, resolution="false_alarm", action="release"),
            lambda s, aid=aid: cases.resolve(s, w.officer2, aid, resolution=second[0], action=second[1]),
        )
        wins = [o for o in out if isinstance(o, dict)]
        losses = [o for o in out if not isinstance(o, dict)]
        # the alert lock answers (a plain Conflict), not the ledger's own once-only check
        assert len(wins) == 1 and len(losses) == 1 and type(losses[0]) is Conflict, out
        if wins[0]["action"] == "released":
            released += 1_000 + r
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM transfers WHERE pending_id = :p"), {"p": tid}).scalar() == 1
            assert c.execute(text("SELECT count(*) FROM risk_labels WHERE transfer_id = :t"), {"t": tid}).scalar() == 1
            assert c.execute(text("SELECT count(*) FROM notifications")).scalar() == r + 1
    assert bank.balance(w.a) == 100_000 - released and bank.available(w.a) == 100_000 - released
    assert bank.balance(w.b) == 1_000 + released
    bank.assert_invariants()


def test_a_resolution_rolled_back_tells_the_online_features_nothing(engine, bank, w, monkeypatch):
    from smartbank.risk import engine as risk_engine

    seen: list[tuple[int, bool]] = []
    monkeypatch.setattr(risk_engine, "on_label", lambda tid, fraud: seen.append((tid, fraud)))
    aid, _ = held(engine, w)
    with pytest.raises(RuntimeError), db.session_scope(engine) as s:
        cases.resolve(s, w.officer, aid, resolution="fraud", action="void")
        raise RuntimeError("the commit never happens")
    assert seen == [] and bank.count("risk_labels") == 0


def test_reversing_from_a_case_needs_the_officers_reason(engine, bank, w):
    aid, _ = posted(engine, w)
    with pytest.raises(ValidationFailed) as exc:
        run(engine, lambda s: cases.resolve(s, w.officer, aid, resolution="fraud", action="reverse"))
    assert exc.value.reason == "risk.reverse_reason_required"
