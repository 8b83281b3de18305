"""Logs carry no personal data: scenarios of the suite that handle ID numbers, mobiles, card numbers and e-mails
(a sign-up through the API and the page, a failed sign-up, a chat with the assistant, a payment whose memo holds a
card number, a request that fails with personal data in the error) run while everything the platform logs is
captured through its own handler (the ``smartbank`` loggers, the request log, tracebacks), at DEBUG; the capture
is then scanned with the recognisers of :mod:`smartbank.pii`: zero findings."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from datetime import date

import pytest

from smartbank import logs, pii
from smartbank.customers import service as customers
from smartbank.customers.validation import make_resident_id
from tests.api.support import API
from tests.conftest import login
from tests.web.conftest import account_number, post_form

ID = make_resident_id("110101", date(1990, 5, 17), 321)
ID2 = make_resident_id("310104", date(1979, 1, 2), 77)
MOBILE = "13912345678"
CARD = "4111111111111111"
EMAIL = "li.lei@example.cn"


class _Capture(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, s: str) -> int:
        with self.lock:
            return super().write(s)


def _flush(out: _Capture, marker: str) -> str:
    """Everything written so far: a marker line is logged last and waited for (the log thread writes in order)."""
    logging.getLogger("smartbank.test").warning(marker)
    deadline = time.monotonic() + 10
    while marker not in out.getvalue():
        assert time.monotonic() < deadline, "the log thread wrote nothing"
        time.sleep(0.01)
    return out.getvalue()


@pytest.fixture
def captured():
    """All the platform's log output, JSON lines as in production, every level."""
    out = _Capture()
    root = logging.getLogger(logs.LOGGER)
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        with logs.writing_to(out, logs.JsonFormatter()):
            yield out
    finally:
        root.setLevel(level)


def test_the_scenarios_log_no_personal_data(client, bank, engine, captured, monkeypatch):
    # 1. sign-up with an ID number, a mobile and an e-mail: through the API, then the same again (a conflict),
    #    then a malformed one (422), then through the page
    body = {"name": "李雷", "id_number": ID, "phone": MOBILE, "email": EMAIL, "username": "lilei",
            "password": "jade-harbour-71"}
    assert client.post(f"{API}/auth/signup", json=body).status_code in (200, 201)
    assert client.post(f"{API}/auth/signup", json=body).status_code == 409
    bad = client.post(f"{API}/auth/signup", json={**body, "phone": f"{MOBILE}{MOBILE}", "username": "x"})
    assert bad.status_code == 422
    page = post_form(client, "/signup", "/signup", {"name": "韩梅梅", "id_number": ID2, "phone": "13712345678",
                                                    "email": "han@example.cn", "username": "hanmeimei",
                                                    "password": "jade-harbour-71", "password2": "jade-harbour-71"})
    assert page.status_code in (200, 303)

    # 2. a chat that holds an ID number and a mobile
    h = login(client, "lilei", "jade-harbour-71")
    r = client.post(f"{API}/assistant/messages", headers=h,
                    json={"text": f"我的身份证是{ID}，手机{MOBILE}，卡号{CARD}，请帮我查余额"})
    assert r.status_code == 200, r.text

    # 3. a payment whose memo holds a card number (and a refused one with the same memo)
    cid = bank.customer("张三")
    src = bank.account(cid, balance=100_000)
    dst_number = account_number(engine, bank.account(bank.customer("李四")))
    bank.user("zhangsan", customer_id=cid)
    hz = login(client, "zhangsan")
    memo = f"还款 卡{CARD} 电话{MOBILE}"
    ok = client.post(f"{API}/transfers", headers=hz, json={"from_account_id": src, "to_account_number": dst_number,
                                                           "amount_minor": 1_000, "memo": memo,
                                                           "idempotency_key": "scan-1"})
    assert ok.status_code in (200, 201), ok.text
    refused = client.post(f"{API}/transfers", headers=hz, json={
        "from_account_id": src, "to_account_number": dst_number, "amount_minor": 10**12, "memo": memo,
        "idempotency_key": "scan-2"})
    assert refused.status_code >= 400

    # 4. a request that fails with personal data in the error: a 500 with a traceback in the log
    def broken(*_a, **_k):
        raise RuntimeError(f"lookup failed for {ID} / {MOBILE} / {EMAIL}")

    monkeypatch.setattr(customers, "view_customer", broken)
    bank.user("teller9", role="teller")
    assert client.get(f"{API}/customers/{cid}", headers=login(client, "teller9")).status_code == 500

    # 5. code that logs personal data itself, in the message, its arguments and structured fields
    log = logging.getLogger("smartbank.scan")
    log.debug("customer %s called from %s", ID, MOBILE, extra={"fields": {"memo": memo, "who": [EMAIL]}})
    try:
        raise ValueError(f"bad card {CARD}")
    except ValueError:
        log.exception("payment for %s failed", ID2)

    text = _flush(captured, "scan-complete")
    lines = [json.loads(x) for x in text.splitlines() if x.strip()]
    assert any(x.get("msg") == "request" for x in lines)  # the request log was captured
    assert any("exc" in x and "RuntimeError" in x["exc"] for x in lines)  # so was the 500's traceback
    assert "<CN_RESIDENT_ID>" in text and "<BANK_CARD>" in text  # what was logged was redacted, not dropped
    assert pii.find(text) == []
    for value in (ID, ID2, MOBILE, CARD, EMAIL):
        assert value not in text


def test_the_scan_would_see_personal_data_that_reached_a_log():
    """The scanner itself: an unredacted line is found (so the test above can fail)."""
    raw = logs.JsonFormatter().format(logging.LogRecord("smartbank.x", logging.INFO, __file__, 1,
                                                        "customer %s %s", (ID, MOBILE), None))
    assert {f.entity for f in pii.find(raw)} == {"CN_RESIDENT_ID", "CN_MOBILE"}
    rec = logging.LogRecord("smartbank.x", logging.INFO, __file__, 1, "customer %s %s", (ID, MOBILE), None)
    assert logs.RedactingFilter().filter(rec) is True
    assert pii.find(logs.JsonFormatter().format(rec)) == []
