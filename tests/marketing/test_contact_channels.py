"""The channels against real transports: e-mail through an SMTP server started by the test, text messages
through the gateway's in-memory sink."""

from __future__ import annotations

import socket
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from smartbank import config, db
from smartbank.marketing import service as marketing
from smartbank.notifications import service as notifications
from tests.marketing.test_contact import CONTENT, consent


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's handler name
        raw = envelope.original_content or envelope.content
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), raw))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(monkeypatch):
    inbox = _Inbox()
    port = _free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    monkeypatch.setenv("SMARTBANK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMARTBANK_SMTP_PORT", str(port))
    monkeypatch.setenv("SMARTBANK_SMTP_FROM", "offers@bank.test")
    monkeypatch.setenv("SMARTBANK_PUBLIC_BASE_URL", "https://bank.test")
    config.reset_settings()
    try:
        yield inbox
    finally:
        ctl.stop()
        monkeypatch.undo()
        config.reset_settings()


def test_email_reaches_the_smtp_server_with_subject_recipient_link_and_unsubscribe(bank, engine, bank_clock, smtp):
    cid = bank.customer("王芳", email="wang.fang@example.com")
    consent(engine, cid, "email")
    with db.session_scope(engine) as s:
        m = marketing.send(s, marketing.Outgoing(customer_id=cid, channel="email", content=CONTENT, campaign_id=5,
                                                 lang="en", target="/wealth/products"))
        assert m.status == "sent", m.error
        assert m.cost_micro == 1_000 and m.address != "wang.fang@example.com" and "@" in m.address
        mid = m.id
    assert len(smtp.messages) == 1
    mail_from, rcpt, raw = smtp.messages[0]
    assert mail_from == "offers@bank.test" and rcpt == ["wang.fang@example.com"]
    em = message_from_bytes(raw, policy=default_policy)
    assert em["Subject"] == "New fund" and em["To"] == "wang.fang@example.com"
    body = em.get_content()
    assert "Take a look" in body and "欢迎了解" in body  # both languages, the customer's first
    assert body.index("Take a look") < body.index("欢迎了解")
    assert "unsubscribe" in body.lower() or "stop these e-mails" in body
    assert f"https://bank.test/m/{mid}." in body and "to=/wealth/products" in body


def test_an_unreachable_smtp_server_is_a_failed_message(bank, engine, bank_clock, monkeypatch):
    monkeypatch.setenv("SMARTBANK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMARTBANK_SMTP_PORT", str(_free_port()))  # nothing listens there
    config.reset_settings()
    cid = bank.customer("王芳", email="wang.fang@example.com")
    consent(engine, cid, "email")
    try:
        with db.session_scope(engine) as s:
            m = marketing.send(s, marketing.Outgoing(customer_id=cid, channel="email", content=CONTENT))
            assert m.status == "failed" and m.error and m.sent_at is None and m.cost_micro == 0
    finally:
        monkeypatch.undo()
        config.reset_settings()


def test_a_customer_without_an_address_is_a_failed_message(bank, engine, bank_clock):
    cid = bank.customer("王芳")  # no e-mail address
    consent(engine, cid, "email")
    with db.session_scope(engine) as s:
        m = marketing.send(s, marketing.Outgoing(customer_id=cid, channel="email", content=CONTENT))
        assert (m.status, m.error) == ("failed", "no e-mail address on record")


def test_sms_goes_through_the_gateway_to_the_customers_phone(bank, engine, bank_clock):
    cid = bank.customer("王芳", phone="13912345678")
    consent(engine, cid, "sms")
    with notifications.use(notifications.MemorySmsSink()) as sink, db.session_scope(engine) as s:
        m = marketing.send(s, marketing.Outgoing(customer_id=cid, channel="sms", content=CONTENT,
                                                 target="/for-you"))
        assert m.status == "sent"
        assert m.address == notifications.mask_phone("13912345678") and "5678" in m.address
        got = sink.last("+8613912345678")
        assert "欢迎了解" in got.text and f"/m/{m.id}." in got.text and got.ref == f"mkt:{m.id}"


def test_inapp_is_in_the_customers_notifications(bank, engine, bank_clock):
    cid = bank.customer("王芳")
    consent(engine, cid, "push")
    with db.session_scope(engine) as s:
        m = marketing.send(s, marketing.Outgoing(customer_id=cid, channel="inapp", content=CONTENT))
        assert m.status == "delivered" and m.external_id.startswith("notification:")
        n = s.get(notifications.Notification, int(m.external_id.split(":")[1]))
        assert n.customer_id == cid and n.title_en == "New fund" and n.title_zh == "理财新品"
