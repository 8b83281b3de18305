"""The payments part of the pages: translated history and receipts, the freeze confirm step with its required
reason (pages and API), and the teller's workbench."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from smartbank import clock, db
from smartbank.ledger import service as ledger
from smartbank.payments import service as payments
from tests.conftest import login
from tests.web.conftest import csrf_token, hidden, make_user, raw_keys, sign_in

API = "/api/v1"
HAN = re.compile(r"[\u4e00-\u9fff]")


def _visible(html: str) -> str:
    body = html.split("<main", 1)[-1].split("</main>", 1)[0]
    body = re.sub(r'</?span( class="nowrap")?>', "", body)  # a period kept whole inside its text
    return re.sub(r"<[^>]+>", " ", body)


def _system_postings(engine, account_id: int) -> None:
    """Postings as the wealth, lending and interest code write them (their memos are the producers' wording)."""
    with db.session_scope(engine) as s:
        settle = ledger.internal_account(s, "settlement", "CNY")
        for i, (kind, memo, debit, credit) in enumerate([
            ("wealth_purchase", "buy F-BOND", account_id, settle.id),
            ("loan_disbursement", "loan L2026-000012 paid out", settle.id, account_id),
            ("interest", "interest 2026-09", settle.id, account_id),
            ("loan_repayment", "loan L2026-000012 interest income", account_id, settle.id),
        ]):
            ledger.transfer(s, ledger.TransferCommand(
                key=f"sys-{i}", debit_account_id=debit, credit_account_id=credit, amount_minor=1_000 + i,
                currency="CNY", kind=kind, memo=memo))


def _pay_bill(client, engine, people):
    with db.session_scope(engine) as s:
        payments.add_biller(s, code="SGCC-BJ", name_zh="国网北京电力", name_en="State Grid Beijing",
                            category="electricity", city="北京")
        payments.issue_bill(s, biller_code="SGCC-BJ", reference="0012345678", period="2026-09",
                            amount_minor=12_345, due_date=clock.today() + timedelta(days=10))
    form = client.get("/bills/SGCC-BJ?reference=0012345678").text
    bill_id = hidden(form, "bill_id")
    r = client.post("/bills/pay", data={"bill_id": bill_id, "from_account": str(people.alice_acct),
                                        "idempotency_key": hidden(form, "idempotency_key"),
                                        "csrf_token": csrf_token(form)}, follow_redirects=False)
    assert r.status_code == 303, r.text[-800:]
    return r.headers["location"]


def test_history_and_receipts_describe_system_postings_in_the_page_language(client, people, engine):
    _system_postings(engine, people.alice_acct)
    sign_in(client, "alice")
    receipt = _pay_bill(client, engine, people)
    page = _visible(client.get(f"/accounts/{people.alice_acct}").text)
    for words in ("购买理财 F-BOND", "贷款放款 L2026-000012", "利息 2026-09", "贷款还款 L2026-000012 利息",
                  "国网北京电力 电费 2026-09", "本行"):
        assert words in page, words
    for raw in ("buy F-BOND", "paid out", "wealth_purchase", "loan_disbursement", "State Grid", "interest",
                "settlement"):
        assert raw not in page, raw
    r = client.get(receipt)
    assert "国网北京电力 电费 2026-09" in _visible(r.text) and "State Grid" not in _visible(r.text)
    # a period never breaks across lines in the history table
    assert '<span class="nowrap">2026-09</span>' in client.get(f"/accounts/{people.alice_acct}").text
    client.cookies.set("sb_lang", "en")
    page = _visible(client.get(f"/accounts/{people.alice_acct}").text)
    for words in ("Bought F-BOND", "Loan L2026-000012 paid out", "Interest 2026-09", "Loan L2026-000012 interest",
                  "State Grid Beijing Electricity 2026-09", "The bank"):
        assert words in page, words
    assert not HAN.search(page.replace("王芳", "")), HAN.findall(page)[:20]
    assert raw_keys(client.get(f"/accounts/{people.alice_acct}").text) == []
    assert "State Grid Beijing Electricity 2026-09" in _visible(client.get(receipt).text)


def test_a_customers_own_memo_stays_as_typed(client, people, engine):
    with db.session_scope(engine) as s:
        ledger.transfer(s, ledger.TransferCommand(
            key="own-memo", debit_account_id=people.alice_acct, credit_account_id=people.bob_acct,
            amount_minor=500, currency="CNY", kind="transfer", memo="buy lunch 午饭"))
    sign_in(client, "alice")
    client.cookies.set("sb_lang", "en")
    assert "buy lunch 午饭" in _visible(client.get(f"/accounts/{people.alice_acct}").text)


def test_the_console_customer_page_describes_postings_too(client, people, engine):
    _system_postings(engine, people.alice_acct)
    sign_in(client, "teller1", console=True)
    page = _visible(client.get(f"/console/customers/{people.alice}").text)
    assert "购买理财 F-BOND" in page and "buy F-BOND" not in page
    assert 'class="list sortable accounts-table"' in client.get(f"/console/customers/{people.alice}").text


def _audit_notes(engine, action: str) -> list[str | None]:
    with engine.connect() as c:
        return [r[0] for r in c.execute(text("SELECT note FROM audit_log WHERE action = :a ORDER BY id"),
                                        {"a": action})]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_freezing_takes_a_confirm_step_with_a_required_reason(client, people, bank, engine, lang):
    sign_in(client, "teller1", console=True)
    client.cookies.set("sb_lang", lang)
    customer = client.get(f"/console/customers/{people.bob}").text
    # no one-click freeze: the customer page links to the confirm step, it does not post
    assert f'action="/console/accounts/{people.bob_acct}/status"' not in customer
    assert f'href="/console/accounts/{people.bob_acct}/status?to=frozen"' in customer
    confirm = client.get(f"/console/accounts/{people.bob_acct}/status?to=frozen")
    assert confirm.status_code == 200 and raw_keys(confirm.text) == []
    assert re.search(r'<textarea name="reason"[^>]*required', confirm.text)
    word = "确认冻结" if lang == "zh" else "Freeze the account"
    assert word in confirm.text
    # an empty reason is refused by the service; the refusal sits beside the reason, once
    r = client.post(f"/console/accounts/{people.bob_acct}/status",
                    data={"status": "frozen", "reason": "   ", "csrf_token": csrf_token(confirm.text)})
    assert r.status_code == 422
    refusal = "冻结或解冻账户须填写原因。" if lang == "zh" else "Give a reason to freeze or unfreeze an account."
    assert r.text.count(refusal) == 1 and 'id="err-reason"' in r.text
    assert re.search(r'<textarea name="reason"[^>]*aria-describedby="sc-reason-hint err-reason"', r.text)
    assert bank.available(people.bob_acct) > 0 and _audit_notes(engine, "account.frozen") == []
    r = client.post(f"/console/accounts/{people.bob_acct}/status",
                    data={"status": "frozen", "reason": "客户来电挂失", "csrf_token": csrf_token(confirm.text)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("notice=account_frozen")
    assert _audit_notes(engine, "account.frozen") == ["客户来电挂失"]
    unfreeze = client.get(f"/console/accounts/{people.bob_acct}/status?to=open")
    assert ("确认解冻" if lang == "zh" else "Unfreeze the account") in unfreeze.text


def test_the_api_refuses_a_freeze_without_a_reason(client, people, bank, engine):
    h = login(client, "teller1")
    r = client.post(f"{API}/accounts/{people.bob_acct}/freeze", json={}, headers=h)
    assert r.status_code == 422 and r.json()["reason"] == "backoffice.status_reason_required"
    assert r.json()["code"] == "validation_error"
    r = client.post(f"{API}/accounts/{people.bob_acct}/freeze", json={"reason": "suspected fraud"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "frozen"
    assert _audit_notes(engine, "account.frozen") == ["suspected fraud"]


def test_the_teller_workbench_shows_search_recent_customers_and_tasks(client, people, bank):
    pending = bank.customer("赵敏")  # a new customer: identity not yet checked at the counter
    sign_in(client, "teller1", console=True)
    home = client.get("/console").text
    assert 'action="/console/customers"' in home and 'id="tasks"' in home
    assert "您最近还没有查看过客户。" in home
    assert 'data-task="kyc"' in home and f'href="/console/customers/{pending}"' in home
    client.get(f"/console/customers/{people.bob}")
    client.get(f"/console/customers/{people.alice}")
    home = client.get("/console").text
    recent = home.split('id="recent"', 1)[1].split("</section>", 1)[0]
    assert recent.index(f"/console/customers/{people.alice}") < recent.index(f"/console/customers/{people.bob}")
    client.cookies.set("sb_lang", "en")
    home = client.get("/console").text
    assert "Recent customers" in home and "Waiting for you" in home and raw_keys(home) == []
    visible = _visible(home)
    for name in ("王芳", "李娜", "赵敏"):
        visible = visible.replace(name, "")
    assert not HAN.search(visible), HAN.findall(visible)[:20]
    # another teller's recent customers are their own
    client.cookies.clear()
    make_user(bank.engine, "teller2", role="teller")
    sign_in(client, "teller2", console=True)
    assert "您最近还没有查看过客户。" in client.get("/console").text
