"""The portal when the risk checks act on a payment: the one-time-code step, a held payment, a blocked one."""

from __future__ import annotations

from smartbank import db
from smartbank.risk.models import RiskRule
from tests.conftest import sms_code
from tests.web.conftest import csrf_token, hidden, sign_in


def _rule(engine, code: str, expression: str, action: str) -> None:
    with db.session_scope(engine) as s:
        s.add(RiskRule(code=code, version=1, name_en=code, name_zh=code, expression=expression, action=action,
                       mode="active", reason_en="Large payment to a new payee.", reason_zh="向新收款人的大额付款。"))


def _submit_data(client, people, amount: str) -> dict[str, str]:
    form = client.get(f"/transfer?from_account={people.alice_acct}").text
    return {"from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": amount, "memo": "",
            "idempotency_key": hidden(form, "idempotency_key"), "csrf_token": csrf_token(form)}


def _code(sms_outbox) -> str:
    return sms_code(sms_outbox)


def test_a_challenged_transfer_asks_for_the_code_then_posts(client, people, bank, engine, sms_outbox):
    _rule(engine, "otp", "amount_minor >= 30000", "challenge")
    sign_in(client, "alice")
    page = client.post("/transfer/submit", data=_submit_data(client, people, "300.00"), follow_redirects=False)
    assert page.status_code == 200 and 'id="otp-step"' in page.text and "向新收款人的大额付款。" in page.text
    assert bank.balance(people.bob_acct) == 1_000
    data = {k: hidden(page.text, k) for k in ("from_account", "to_account", "amount", "memo", "idempotency_key",
                                               "challenge_id")}
    data["csrf_token"] = csrf_token(page.text)
    wrong = client.post("/transfer/submit", data={**data, "otp": "000000" if _code(sms_outbox) != "000000" else "1"},
                        follow_redirects=False)
    assert wrong.status_code == 422 and 'id="err-otp"' in wrong.text
    # the code arrives by text message to the customer's phone, never in the notifications the session reads
    assert "138****" in page.text and "13812345678" not in page.text
    assert _code(sms_outbox) not in client.get("/notifications").text
    ok = client.post("/transfer/submit", data={**data, "otp": _code(sms_outbox)}, follow_redirects=False)
    assert ok.status_code == 303 and "notice=transfer_done" in ok.headers["location"]
    assert bank.balance(people.bob_acct) == 31_000
    bank.assert_invariants()


def test_held_and_blocked_transfers_are_explained(client, people, bank, engine):
    _rule(engine, "hold", "amount_minor >= 20000 and amount_minor < 40000", "review")
    _rule(engine, "stop", "amount_minor >= 40000", "block")
    sign_in(client, "alice")
    held = client.post("/transfer/submit", data=_submit_data(client, people, "300.00"), follow_redirects=False)
    assert held.status_code == 303 and "notice=transfer_held" in held.headers["location"]
    assert "安全审核" in client.get(held.headers["location"]).text
    assert bank.available(people.alice_acct) == 70_000 and bank.balance(people.bob_acct) == 1_000
    blocked = client.post("/transfer/submit", data=_submit_data(client, people, "500.00"), follow_redirects=False)
    assert blocked.status_code == 403 and "向新收款人的大额付款。" in blocked.text
    assert bank.available(people.alice_acct) == 70_000
    bank.assert_invariants()
