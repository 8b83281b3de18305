"""Customer notifications: the API (list, mark read) and the portal page (marks read when viewed);
a customer sees only their own messages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smartbank import db
from smartbank.notifications import service as notifications
from smartbank.notifications.models import Notification
from tests.api.support import assert_error
from tests.conftest import login
from tests.web.conftest import make_user, raw_keys, sign_in

API = "/api/v1/notifications"


@pytest.fixture
def inbox(bank, engine):
    alice = bank.customer("王芳")
    bob = bank.customer("李娜")
    make_user(engine, "alice", customer_id=alice)
    make_user(engine, "bob", customer_id=bob)
    make_user(engine, "teller1", role="teller")
    ids = {}
    with db.session_scope(engine) as s:
        for i, (cid, kind) in enumerate([(alice, "payment_held"), (alice, "payment_released"), (bob, "otp")]):
            n = notifications.notify(s, customer_id=cid, kind=kind, title_en=f"Title {i}", title_zh=f"标题{i}",
                                     body_en=f"Body {i}", body_zh=f"正文{i}", ref=f"transfer:{i}")
            ids[kind] = n.id
    return {"alice": alice, "bob": bob, **ids}


def _unread(engine, customer_id: int) -> int:
    with db.session_scope(engine) as s:
        return len(list(s.scalars(select(Notification.id).where(Notification.customer_id == customer_id,
                                                                 Notification.read_at.is_(None)))))


def test_api_lists_own_notifications_newest_first(client, inbox):
    h = login(client, "alice")
    body = client.get(API, headers=h).json()
    assert [n["kind"] for n in body["items"]] == ["payment_released", "payment_held"]
    assert body["unread"] == 2 and body["items"][0]["title"] == "Title 1"
    zh = client.get(API, headers=h, params={"lang": "zh", "kind": "payment_held"}).json()
    assert [n["title"] for n in zh["items"]] == ["标题0"]


def test_api_mark_read(client, engine, inbox):
    h = login(client, "alice")
    r = client.post(f"{API}/{inbox['payment_held']}/read", headers=h)
    assert r.status_code == 200 and r.json() == {"marked": 1}
    assert client.post(f"{API}/{inbox['payment_held']}/read", headers=h).json() == {"marked": 0}
    assert client.get(API, headers=h).json()["unread"] == 1
    # another customer's notification, or none at all: not found, nothing changes
    assert_error(client.post(f"{API}/{inbox['otp']}/read", headers=h), 404)
    assert_error(client.post(f"{API}/987654/read", headers=h), 404)
    assert _unread(engine, inbox["bob"]) == 1
    assert_error(client.post(f"{API}/read", headers=h, json={}), 422)
    assert client.post(f"{API}/read", headers=h, json={"all": True}).json() == {"marked": 1}
    assert _unread(engine, inbox["alice"]) == 0 and _unread(engine, inbox["bob"]) == 1


def test_api_staff_have_no_inbox(client, inbox):
    h = login(client, "teller1")
    assert_error(client.get(API, headers=h), 403)  # a customer's own inbox: the permission table refuses staff
    assert_error(client.post(f"{API}/{inbox['otp']}/read", headers=h), 403)
    assert_error(client.get(API), 401)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_portal_page_shows_and_marks_read(client, engine, inbox, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    assert "/notifications" in client.get("/").text
    r = client.get("/notifications")
    assert r.status_code == 200 and raw_keys(r.text) == []
    assert ("标题1" if lang == "zh" else "Title 1") in r.text and 'id="unread"' in r.text
    assert "Title 2" not in r.text and "标题2" not in r.text  # bob's
    assert _unread(engine, inbox["alice"]) == 0 and _unread(engine, inbox["bob"]) == 1
    assert 'id="unread"' not in client.get("/notifications").text


def test_portal_page_empty(client, bank, engine):
    c = bank.customer("赵敏")
    make_user(engine, "zhao", customer_id=c)
    sign_in(client, "zhao")
    assert 'id="no-notifications"' in client.get("/notifications").text


def test_portal_page_is_for_customers(client, inbox):
    assert client.get("/notifications", follow_redirects=False).status_code == 303
    sign_in(client, "teller1", console=True)
    r = client.get("/notifications", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_the_development_sms_sink_writes_one_private_json_line_per_message(tmp_path, monkeypatch):
    """Without a real operator's gateway, one-time codes go to a file only the server's user can read
    (``SMARTBANK_SMS_OUTBOX``), never to the in-app notifications."""
    import json
    import stat

    from smartbank import config
    from smartbank.notifications import sms

    outbox = tmp_path / "out" / "sms.jsonl"
    monkeypatch.setenv("SMARTBANK_SMS_OUTBOX", str(outbox))
    config.reset_settings()
    sms.set_gateway(None)
    try:
        gw = sms.gateway()
        assert isinstance(gw, sms.FileSmsSink) and gw.path == outbox
        gw.send(sms.SmsMessage(phone="+8613912345678", text="验证码 123456", ref="challenge:1"))
        gw.send(sms.SmsMessage(phone="+8613912345678", text="验证码 654321"))
    finally:
        config.reset_settings()
    lines = [json.loads(x) for x in outbox.read_text(encoding="utf-8").splitlines()]
    assert [x["text"] for x in lines] == ["验证码 123456", "验证码 654321"]
    assert lines[0]["phone"] == "+8613912345678" and lines[0]["ref"] == "challenge:1"
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o600
    assert sms.mask_phone("+8613912345678") == "139****5678"
