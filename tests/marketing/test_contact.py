"""The contact policy at send time: every rule, in its order, each refusal recorded with its reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from smartbank import clock, db
from smartbank.customers import service as customers
from smartbank.errors import Forbidden, ValidationFailed
from smartbank.marketing import service as marketing
from smartbank.marketing.contact import SUPPRESSIONS
from smartbank.notifications import service as notifications
from smartbank.risk.models import RiskAlert
from smartbank.security.service import Principal

MARKETER = Principal(user_id=0, username="mk1", role="marketer", customer_id=None)
TELLER = Principal(user_id=0, username="t1", role="teller", customer_id=None)
CONTENT = {"zh": {"title": "理财新品", "body": "欢迎了解"}, "en": {"title": "New fund", "body": "Take a look"}}


def consent(engine, cid: int, *channels: str, granted: bool = True) -> None:
    me = Principal(user_id=0, username="c", role="customer", customer_id=cid)
    with db.session_scope(engine) as s:
        for ch in channels:
            customers.set_consent(s, me, cid, purpose=f"marketing_{ch}", granted=granted, given_via="web")


def send(engine, cid: int, channel: str = "sms", **kw):
    with db.session_scope(engine) as s:
        m = marketing.send(s, marketing.Outgoing(customer_id=cid, channel=channel, content=CONTENT, **kw))
        return m.status, m.suppressed_reason, dict(m.reason_details or {}), m.id


@pytest.fixture
def alice(bank, engine, bank_clock):
    cid = bank.customer("王芳", email="wang@example.com")
    consent(engine, cid, "sms", "email", "push")
    return cid


def test_sends_within_the_caps_and_records_cost(alice, engine, sms_outbox):
    status, reason, _, mid = send(engine, alice, "sms", campaign_id=7)
    assert (status, reason) == ("sent", None)
    assert sms_outbox.last().text.count("欢迎了解") == 1
    with db.session_scope(engine) as s:
        m = s.get(marketing.MarketingMessage, mid)
        assert m.cost_micro == 50_000 and m.address and "*" in m.address and m.sent_at is not None


def test_sms_cap_per_channel_then_other_channels_still_go(alice, engine, bank_clock):
    assert [send(engine, alice, "sms")[0] for _ in range(3)] == ["sent", "sent", "suppressed"]
    status, reason, det, _ = send(engine, alice, "sms")
    assert (status, reason, det["scope"], det["sent"], det["max_count"]) == ("suppressed", "frequency_cap", "sms", 2, 2)
    assert send(engine, alice, "inapp")[0] == "delivered"
    # the period slides: after 7 days the two are out of it
    bank_clock.advance(timedelta(days=7, minutes=1))
    assert send(engine, alice, "sms")[0] == "sent"


def test_cap_across_all_channels(alice, engine):
    outcomes = [send(engine, alice, ch)[:2] for ch in ("inapp", "inapp", "inapp", "banner", "banner", "sms", "email")]
    assert [o[0] for o in outcomes[:6]] == ["delivered"] * 5 + ["sent"]
    assert outcomes[6] == ("suppressed", "frequency_cap")
    assert send(engine, alice, "email")[2]["scope"] == "all"


def test_a_cap_edited_by_a_marketer_applies_and_is_audited(alice, engine):
    with db.session_scope(engine) as s:
        out = marketing.set_contact_policy(s, MARKETER, "sms", max_count=1)
        assert out["max_count"] == 1
    assert [send(engine, alice)[0] for _ in range(2)] == ["sent", "suppressed"]
    with db.session_scope(engine) as s:
        from smartbank.security.models import AuditLog

        a = s.scalars(select(AuditLog).where(AuditLog.action == "marketing.policy.set")).one()
        assert a.before["max_count"] == 2 and a.after["max_count"] == 1
        with pytest.raises(Forbidden):
            marketing.set_contact_policy(s, TELLER, "sms", max_count=5)
        for bad in ({"max_count": -1}, {"period_days": 0}, {"quiet_start": "25:00", "quiet_end": "08:00"},
                    {"quiet_start": "21:00", "quiet_end": None}, {"cost_micro": -5}, {"colour": 1}):
            with pytest.raises(ValidationFailed):
                marketing.set_contact_policy(s, MARKETER, "sms", **bad)
        assert marketing.contact_policy(s)["sms"]["max_count"] == 1


def test_consent_withdrawn_between_two_sends(alice, engine):
    assert send(engine, alice, "sms")[0] == "sent"
    consent(engine, alice, "sms", granted=False)
    status, reason, det, _ = send(engine, alice, "sms")
    assert (status, reason, det["channel"]) == ("suppressed", "no_consent", "sms")


def test_do_not_disturb_on_one_channel_and_on_all(alice, engine, bank_clock):
    with db.session_scope(engine) as s:
        d = marketing.add_do_not_disturb(s, TELLER, alice, channel="sms", reason="客户来电要求",
                                         until=clock.now() + timedelta(days=30))
    assert send(engine, alice, "sms")[1] == "do_not_disturb"
    assert send(engine, alice, "inapp")[0] == "delivered"
    with db.session_scope(engine) as s:
        marketing.add_do_not_disturb(s, TELLER, alice, channel="all", reason="投诉处理中")
    assert send(engine, alice, "inapp")[1] == "do_not_disturb"
    with db.session_scope(engine) as s:
        assert len(marketing.list_do_not_disturb(s, MARKETER, alice)) == 2
        for e in marketing.list_do_not_disturb(s, MARKETER, alice):
            marketing.remove_do_not_disturb(s, MARKETER, e["id"])
    assert send(engine, alice, "sms")[0] == "sent"
    with db.session_scope(engine) as s:
        with pytest.raises(ValidationFailed):
            marketing.add_do_not_disturb(s, TELLER, alice, channel="fax", reason="x")
        with pytest.raises(ValidationFailed):
            marketing.add_do_not_disturb(s, TELLER, alice, channel="sms", reason="  ")
        with pytest.raises(ValidationFailed):
            marketing.add_do_not_disturb(s, TELLER, alice, channel="sms", reason="x",
                                         until=clock.now() - timedelta(days=1))
        assert d["id"] >= 1


def test_do_not_disturb_ends_at_its_date(alice, engine, bank_clock):
    with db.session_scope(engine) as s:
        marketing.add_do_not_disturb(s, TELLER, alice, channel="all", reason="出国",
                                     until=clock.now() + timedelta(days=2))
    assert send(engine, alice, "inapp")[1] == "do_not_disturb"
    bank_clock.advance(timedelta(days=2, seconds=1))
    assert send(engine, alice, "inapp")[0] == "delivered"


def test_a_registered_suppression_provider_and_the_fraud_case(alice, engine):
    flagged: set[int] = set()
    marketing.register_suppression("complaint_open", lambda s, cid: cid in flagged)
    try:
        assert send(engine, alice, "inapp")[0] == "delivered"
        flagged.add(alice)
        assert send(engine, alice, "inapp")[:2] == ("suppressed", "complaint_open")
    finally:
        SUPPRESSIONS.pop("complaint_open", None)
    with db.session_scope(engine) as s:
        s.add(RiskAlert(decision_id=1, customer_id=alice, decision="hold", amount_minor=1, currency="CNY",
                        status="open"))
    # the fraud case comes before do-not-disturb and consent
    consent(engine, alice, "push", granted=False)
    assert send(engine, alice, "inapp")[:2] == ("suppressed", "fraud_case")


def test_closed_and_anonymised_customers_are_never_contacted(bank, engine, alice):
    bob = bank.customer("李娜")
    consent(engine, bob, "push")
    with db.session_scope(engine) as s:
        customers.get_customer(s, alice).status = "closed"
        customers.anonymise_customer(s, customers.get_customer(s, bob))
    assert send(engine, alice, "inapp")[:2] == ("suppressed", "customer_closed")
    assert send(engine, bob, "inapp")[:2] == ("suppressed", "customer_anonymised")


def test_quiet_hours_defer_then_the_worker_sends_rechecking_the_policy(alice, engine, bank_clock, sms_outbox):
    # the test clock starts at 10:00 in Shanghai; 21:30 is quiet for text messages, not for in-app
    bank_clock.advance(timedelta(hours=11, minutes=30))
    status, reason, det, mid = send(engine, alice, "sms")
    assert (status, reason) == ("queued", "quiet_hours")
    assert det["not_before"].startswith("2026-11-25T01:00")  # 09:00 next morning, Shanghai
    assert send(engine, alice, "inapp")[0] == "delivered"
    email_status, _, _, eid = send(engine, alice, "email")
    assert email_status == "queued"
    before = len(sms_outbox.sent)
    with db.session_scope(engine) as s:
        assert marketing.send_deferred(s)["due"] == 0  # not yet
    bank_clock.advance(timedelta(hours=11, minutes=31))  # 09:01
    consent(engine, alice, "email", granted=False)  # withdrawn meanwhile: the recheck refuses it
    with db.session_scope(engine) as s:
        out = marketing.send_deferred(s)
        assert out["due"] == 2 and out["sent"] == 1 and out["suppressed"] == 1
        m = s.get(marketing.MarketingMessage, mid)
        assert m.status == "sent" and m.suppressed_reason is None and m.cost_micro == 50_000
        assert s.get(marketing.MarketingMessage, eid).suppressed_reason == "no_consent"
    assert len(sms_outbox.sent) == before + 1


def test_quiet_hours_are_per_channel_and_can_be_removed(alice, engine, bank_clock):
    with db.session_scope(engine) as s:
        marketing.set_contact_policy(s, MARKETER, "sms", quiet_start=None, quiet_end=None)
        marketing.set_contact_policy(s, MARKETER, "inapp", quiet_start="12:00", quiet_end="13:00")
    bank_clock.advance(timedelta(hours=2, minutes=30))  # 12:30
    assert send(engine, alice, "sms")[0] == "sent"
    assert send(engine, alice, "inapp")[:2] == ("queued", "quiet_hours")


def test_a_failed_gateway_is_a_failed_message_not_a_crash(alice, engine):
    class Broken:
        def send(self, message):
            raise ConnectionError("gateway down")

    with notifications.use(Broken()):
        status, _, _, mid = send(engine, alice, "sms")
    assert status == "failed"
    with db.session_scope(engine) as s:
        m = s.get(marketing.MarketingMessage, mid)
        assert "gateway down" in m.error and m.cost_micro == 0
    # a failed one does not count against the cap
    assert [send(engine, alice)[0] for _ in range(3)] == ["sent", "sent", "suppressed"]


def test_why_not_contacted_and_the_campaign_summary(alice, engine, bank):
    send(engine, alice, "sms", campaign_id=3)
    send(engine, alice, "sms", campaign_id=3)
    send(engine, alice, "sms", campaign_id=3)
    consent(engine, alice, "push", granted=False)
    send(engine, alice, "inapp", campaign_id=3)
    with db.session_scope(engine) as s:
        number = customers.get_customer(s, alice).number
        out = marketing.why_not_contacted(s, MARKETER, number)
        assert out["customer"]["name"] != "王芳"  # masked for staff
        assert [a["reason"] for a in out["attempts"]] == ["no_consent", "frequency_cap", None, None]
        assert out["now"]["sms"]["reason"] == "frequency_cap" and out["now"]["inapp"]["reason"] == "no_consent"
        summ = marketing.contact_summary(s, 3)
        assert summ["attempts"] == 4 and summ["by_reason"] == {"frequency_cap": 1, "no_consent": 1}
        assert summ["by_status"] == {"sent": 2, "suppressed": 2}
        assert summ["by_channel"]["sms"] == {"attempts": 3, "sent": 2, "cost_micro": 100_000}
        with pytest.raises(Forbidden):
            risk = Principal(user_id=0, username="r", role="risk_officer", customer_id=None)
            marketing.why_not_contacted(s, risk, number)
        with pytest.raises(ValidationFailed):
            marketing.why_not_contacted(s, MARKETER, "'; drop")


def test_banners_impressions_clicks_and_dismissal(alice, engine, bank_clock):
    _, _, _, mid = send(engine, alice, "banner", target="/wealth/products")
    me = Principal(user_id=0, username="c", role="customer", customer_id=alice)
    with db.session_scope(engine) as s:
        shown = marketing.active_banners(s, me)
        assert [b["id"] for b in shown] == [mid]
        assert s.get(marketing.MarketingMessage, mid).opened_at is not None
        url = marketing.click_url(mid, "/wealth/products")
        token = url.split("/m/")[1].split("?")[0]
        assert marketing.record_click(s, token, "/wealth/products") == "/wealth/products"
        assert s.get(marketing.MarketingMessage, mid).clicked_at is not None
        from smartbank.errors import NotFound

        with pytest.raises(NotFound):  # another id, or the same token for another target
            marketing.record_click(s, f"{mid + 1}.{token.split('.')[1]}", "/wealth/products")
        with pytest.raises(NotFound):
            marketing.record_click(s, token, "/transfers")
        with pytest.raises(NotFound):
            marketing.dismiss_banner(s, Principal(user_id=0, username="x", role="customer", customer_id=alice + 99),
                                     mid)
        marketing.dismiss_banner(s, me, mid)
        assert marketing.active_banners(s, me) == []


def test_banners_expire(alice, engine, bank_clock):
    send(engine, alice, "banner", extra={"banner_days": 3})
    me = Principal(user_id=0, username="c", role="customer", customer_id=alice)
    bank_clock.advance(timedelta(days=3, seconds=1))
    with db.session_scope(engine) as s:
        assert marketing.active_banners(s, me) == []


def test_unknown_channel_is_refused_and_writes_nothing(alice, engine):
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
        marketing.send(s, marketing.Outgoing(customer_id=alice, channel="fax", content=CONTENT))
    with db.session_scope(engine) as s:
        assert s.scalar(select(marketing.MarketingMessage.id)) is None


def test_an_inapp_message_is_opened_when_its_notification_is_read(alice, engine, bank_clock):
    _, _, _, mid = send(engine, alice, "inapp")
    _, _, _, other = send(engine, alice, "inapp")
    me = Principal(user_id=0, username="c", role="customer", customer_id=alice)
    bank_clock.advance(timedelta(hours=1))
    with db.session_scope(engine) as s:
        n = s.get(marketing.MarketingMessage, mid).external_id.split(":")[1]
        notifications.mark_read(s, me, int(n))
        assert marketing.record_inapp_opens(s) == {"opened": 1}
        assert s.get(marketing.MarketingMessage, mid).opened_at == s.get(notifications.Notification, int(n)).read_at
        assert s.get(marketing.MarketingMessage, other).opened_at is None
        assert marketing.record_inapp_opens(s) == {"opened": 0}
        from smartbank.marketing.jobs import MARKETING_TASKS

        assert {"contact_deferred", "contact_inapp_opens"} <= set(MARKETING_TASKS)
