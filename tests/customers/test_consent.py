"""The consent registry: defaults, history kept, state derived from the newest row, audit, who may act."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smartbank import db
from smartbank.customers import service as customers
from smartbank.customers.models import ConsentRecord
from smartbank.errors import Forbidden, NotFound, ValidationFailed
from smartbank.security import service as security
from smartbank.security.service import Principal


def actor_of(bank, cid: int) -> Principal:
    uid = bank.user(f"cust{cid}", customer_id=cid)
    return Principal(user_id=uid, username=f"cust{cid}", role="customer", customer_id=cid)


def staff(bank, role: str) -> Principal:
    return Principal(user_id=bank.user(f"s_{role}", role=role), username=f"s_{role}", role=role, customer_id=None)


def run(engine, fn):
    return db.run_in_transaction(fn, engine=engine)


def test_defaults_before_the_customer_says_anything(engine, bank):
    cid = bank.customer()
    with db.session_scope(engine) as s:
        state = customers.consent_state(s, cid)
        assert {p: st.granted for p, st in state.items()} == {
            "marketing_sms": False, "marketing_email": False, "marketing_push": False, "marketing_phone": False,
            "personalised_recommendation": True, "partner_sharing": False, "analytics": True}
        assert all(st.source == "default" for st in state.values())
        assert not customers.has_consent(s, cid, "marketing", channel="sms")
        assert customers.has_consent(s, cid, "personalised_recommendation")


def test_grant_withdraw_history_and_audit(engine, bank):
    cid = bank.customer()
    me = actor_of(bank, cid)
    run(engine, lambda s: customers.set_consent(s, me, cid, purpose="marketing_sms", granted=True, given_via="web"))
    with db.session_scope(engine) as s:
        assert customers.has_consent(s, cid, "marketing", channel="sms")
        assert not customers.has_consent(s, cid, "marketing", channel="email")
    run(engine, lambda s: customers.set_consent(s, me, cid, purpose="marketing_sms", granted=False,
                                                given_via="assistant"))
    # asking again for the state in force writes nothing
    run(engine, lambda s: customers.set_consent(s, me, cid, purpose="marketing_sms", granted=False, given_via="web"))
    with db.session_scope(engine) as s:
        assert not customers.has_consent(s, cid, "marketing", channel="sms")
        rows = list(s.scalars(select(ConsentRecord).where(ConsentRecord.customer_id == cid)
                              .order_by(ConsentRecord.id)))
        assert [(r.purpose, r.granted, r.given_via) for r in rows] == [
            ("marketing_sms", True, "web"), ("marketing_sms", False, "assistant")]
        assert all(r.notice_version == customers.PRIVACY_NOTICE_VERSION and r.recorded_by == me.user_id for r in rows)
        hist = customers.consent_history(s, me, cid)
        assert [h["granted"] for h in hist] == [False, True]  # newest first
        trail = security.audit_trail(s, object_type="customer", object_id=str(cid))
        actions = [a.action for a in trail if a.action.startswith("consent.")]
        assert actions == ["consent.withdraw", "consent.grant"]
        assert trail[0].after["purpose"] == "marketing_sms" and trail[0].after["given_via"] == "assistant"
        current = {c["purpose"]: c for c in customers.list_consents(s, me, cid)}
        assert current["marketing_sms"]["granted"] is False and current["marketing_sms"]["source"] == "recorded"


def test_bad_input_writes_nothing(engine, bank):
    cid = bank.customer()
    me = actor_of(bank, cid)
    for kw in ({"purpose": "telepathy", "granted": True, "given_via": "web"},
               {"purpose": "analytics", "granted": "yes", "given_via": "web"},
               {"purpose": "analytics", "granted": False, "given_via": "carrier pigeon"},
               {"purpose": "analytics", "granted": False, "given_via": "branch"}):
        with pytest.raises(ValidationFailed):
            run(engine, lambda s, kw=kw: customers.set_consent(s, me, cid, **kw))
    with db.session_scope(engine) as s:
        with pytest.raises(ValidationFailed):
            customers.has_consent(s, cid, "marketing")  # marketing needs its channel
        assert s.scalars(select(ConsentRecord)).first() is None


def test_who_may_read_and_record(engine, bank):
    cid, other = bank.customer(), bank.customer()
    other_me, TELLER, MARKETER = actor_of(bank, other), staff(bank, "teller"), staff(bank, "marketer")
    with pytest.raises(NotFound):
        run(engine, lambda s: customers.set_consent(s, other_me, cid, purpose="analytics", granted=False,
                                                    given_via="web"))
    with pytest.raises(NotFound):
        run(engine, lambda s: customers.list_consents(s, other_me, cid))
    with pytest.raises(Forbidden):
        run(engine, lambda s: customers.list_consents(s, MARKETER, cid))
    with pytest.raises(Forbidden):
        run(engine, lambda s: customers.set_consent(s, MARKETER, cid, purpose="marketing_sms", granted=True,
                                                    given_via="branch"))
    # a teller records consent signed at the counter, and reads it (audited)
    run(engine, lambda s: customers.set_consent(s, TELLER, cid, purpose="marketing_phone", granted=True,
                                                given_via="branch"))
    with pytest.raises(ValidationFailed):
        run(engine, lambda s: customers.set_consent(s, TELLER, cid, purpose="marketing_phone", granted=False,
                                                    given_via="web"))
    with db.session_scope(engine) as s:
        assert customers.has_consent(s, cid, "marketing", channel="phone")
        seen = customers.list_consents(s, TELLER, cid)
        assert {c["purpose"] for c in seen} == set(customers.CONSENT_PURPOSES)
        assert any(a.action == "consents.read" and a.actor_role == "teller"
                   for a in security.audit_trail(s, object_type="customer", object_id=str(cid)))
