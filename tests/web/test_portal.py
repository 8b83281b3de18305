from __future__ import annotations

import re
from datetime import timedelta

import pytest

from smartbank import clock, db
from smartbank.payments import service as payments
from tests.web.conftest import account_number, csrf_token, hidden, make_user, post_form, raw_keys, sign_in

PORTAL_PAGES = ["/", "/transfer", "/payees", "/scheduled", "/bills", "/topup"]


def _bills(engine):
    with db.session_scope(engine) as s:
        payments.add_biller(s, code="SGCC-BJ", name_zh="国网北京电力", name_en="State Grid Beijing",
                            category="electricity", city="北京")
        payments.add_biller(s, code="CMCC", name_zh="中国移动", name_en="China Mobile", category="mobile",
                            requires_bill=False)
        bill = payments.issue_bill(s, biller_code="SGCC-BJ", reference="0012345678", period="2025-05",
                                   amount_minor=12_345, due_date=clock.today() + timedelta(days=10))
        return bill.id


@pytest.mark.parametrize("lang, marker", [("zh", "我的账户"), ("en", "My accounts")])
def test_every_portal_page_renders_in_both_languages_and_modes(client, people, engine, lang, marker):
    _bills(engine)
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    pages = [*PORTAL_PAGES, f"/accounts/{people.alice_acct}", "/bills/SGCC-BJ?reference=0012345678",
             "/bills?category=electricity"]
    for elder in ("0", "1"):
        client.cookies.set("sb_elder", elder)
        for page in pages:
            r = client.get(page)
            assert r.status_code == 200, (page, r.text[:500])
            assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}"' in r.text
            assert ('class="elder"' in r.text) == (elder == "1")
            assert raw_keys(r.text) == [], page
        home = client.get("/").text
        assert (f"<h1>{marker}</h1>" in home) == (elder == "0")
    client.cookies.set("sb_elder", "1")
    elder_home = client.get("/").text
    assert 'id="main-balance">¥1,000.00<' in elder_home and elder_home.count('class="big-action"') == 4
    assert 4 <= elder_home.count("data-primary-action=") <= 6


def test_security_headers_on_pages(client, people):
    r = client.get("/login")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"
    assert "sb_csrf=" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]


def test_posts_without_a_valid_csrf_token_are_rejected(client, people, bank):
    sign_in(client, "alice")
    form = client.get("/transfer").text
    data = {"from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": "10",
            "memo": "", "idempotency_key": hidden(form, "idempotency_key")}
    for bad in ({}, {"csrf_token": "0" * 64}, {"csrf_token": ""}):
        r = client.post("/transfer/submit", data={**data, **bad}, follow_redirects=False)
        assert r.status_code == 403 and "页面已过期" in r.text
    # a token from another browser (other seed) does not work either
    other = csrf_token(form)
    client.cookies.set("sb_csrf", "x" * 32, domain="testserver.local")  # replaces this browser's seed
    r = client.post("/transfer/submit", data={**data, "csrf_token": other}, follow_redirects=False)
    assert r.status_code == 403
    assert bank.count("transfers") == 3  # only the three funding deposits
    # sign-in forms are protected too
    client.cookies.clear()
    assert client.post("/login", data={"username": "alice", "password": "x"}).status_code == 403


def test_transfer_goes_through_the_confirm_step_and_posts_once(client, people, bank):
    sign_in(client, "alice")
    form = client.get(f"/transfer?from_account={people.alice_acct}").text
    key = hidden(form, "idempotency_key")
    data = {"from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": "1,234.50",
            "memo": "房租", "idempotency_key": key, "csrf_token": csrf_token(form)}
    # an amount over the balance is refused at the first step, beside the amount, in the service's words
    over = client.post("/transfer/confirm", data=data)
    assert over.status_code == 422 and "请确认转账信息" not in over.text
    assert 'id="err-amount"' in over.text and "余额不足" in over.text
    confirm = client.post("/transfer/confirm", data={**data, "amount": "500"})
    assert confirm.status_code == 200
    assert "请确认转账信息" in confirm.text
    assert 'id="confirm-amount">¥500.00<' in confirm.text
    assert people.bob_number[:4] in confirm.text and hidden(confirm.text, "idempotency_key") == key
    assert bank.balance(people.alice_acct) == 100_000  # nothing moved yet
    submit = {k: hidden(confirm.text, k) for k in ("from_account", "to_account", "amount", "memo",
                                                    "idempotency_key")}
    submit["csrf_token"] = csrf_token(confirm.text)
    assert submit["amount"] == "500.00"
    r1 = client.post("/transfer/submit", data=submit, follow_redirects=False)
    assert r1.status_code == 303 and r1.headers["location"].startswith("/transfers/")
    r2 = client.post("/transfer/submit", data=submit, follow_redirects=False)  # double submit
    assert r2.headers["location"] == r1.headers["location"]
    assert bank.balance(people.alice_acct) == 50_000 and bank.balance(people.bob_acct) == 51_000
    receipt = client.get(r1.headers["location"])
    assert "交易成功" in receipt.text and "¥500.00" in receipt.text and "房租" in receipt.text
    bank.assert_invariants()


@pytest.mark.parametrize("amount, message", [
    ("12.345", "金额格式不正确"), ("abc", "金额格式不正确"), ("-5", "金额格式不正确"), ("0", "金额必须大于零"),
    ("", "请输入金额"), ("2000", "余额不足"), ("2000.00", "余额不足"),
    ("\u0661\u0660", "金额格式不正确"), ("\u0967\u0966", "金额格式不正确"),  # Arabic-Indic, Devanagari "10"
])
def test_bad_amounts_are_explained_and_write_nothing(client, people, bank, amount, message):
    sign_in(client, "alice")
    form = client.get("/transfer").text
    data = {"from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": amount, "memo": "",
            "idempotency_key": hidden(form, "idempotency_key"), "csrf_token": csrf_token(form)}
    step = "/transfer/submit" if amount == "2000" else "/transfer/confirm"  # refused at either step
    r = client.post(step, data=data)
    assert r.status_code == 422 and message in r.text, r.text[-1500:]
    assert f'value="{amount}"' in r.text
    assert bank.count("transfers") == 3


def test_full_width_digits_are_an_amount(client, people, bank):
    """A Chinese input method types full-width digits: they are read as the same amount."""
    sign_in(client, "alice")
    form = client.get("/transfer").text
    data = {"from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": "５２３．５０",
            "memo": "", "idempotency_key": hidden(form, "idempotency_key"), "csrf_token": csrf_token(form)}
    confirm = client.post("/transfer/confirm", data=data)
    assert confirm.status_code == 200, confirm.text[-1500:]
    assert 'id="confirm-amount">¥523.50<' in confirm.text and hidden(confirm.text, "amount") == "523.50"
    assert bank.count("transfers") == 3


def test_bad_destination_is_explained(client, people):
    sign_in(client, "alice")
    form = client.get("/transfer").text
    base = {"from_account": str(people.alice_acct), "amount": "1", "memo": "",
            "idempotency_key": hidden(form, "idempotency_key"), "csrf_token": csrf_token(form)}
    r = client.post("/transfer/confirm", data={**base, "to_account": people.bob_number[:-1] + "x"})
    assert "收款账号不正确" in r.text
    client.cookies.set("sb_lang", "en")
    r = client.post("/transfer/confirm", data={**base, "to_account": "6217000000000000"})
    assert r.status_code == 422


def test_a_customer_cannot_see_another_customers_account(client, people):
    sign_in(client, "bob")
    for path in (f"/accounts/{people.alice_acct}", f"/accounts/{people.alice_acct}/transactions.csv",
                 f"/accounts/{people.alice_acct}/statement?month=2025-01"):
        r = client.get(path)
        assert r.status_code == 404 and "找不到该账户" in r.text, path
    assert client.get(f"/transfer?from_account={people.alice_acct}").status_code == 200
    form = client.get("/transfer").text
    r = client.post("/transfer/confirm", data={
        "from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": "1", "memo": "",
        "idempotency_key": hidden(form, "idempotency_key"), "csrf_token": csrf_token(form)})
    assert r.status_code == 422 and "找不到该账户" in r.text


def test_receipts_are_private(client, people, bank):
    sign_in(client, "alice")
    form = client.get("/transfer").text
    data = {"from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": "1", "memo": "",
            "idempotency_key": hidden(form, "idempotency_key"), "csrf_token": csrf_token(form)}
    loc = client.post("/transfer/submit", data=data, follow_redirects=False).headers["location"]
    transfer_id = int(loc.split("/")[2].split("?")[0])
    client.cookies.clear()
    sign_in(client, "bob")
    assert "已收款" in client.get(f"/transfers/{transfer_id}").text  # the receiver may see it
    client.cookies.clear()
    charlie = bank.customer("周杰")  # a third customer sees nothing
    bank.account(charlie)
    make_user(bank.engine, "charlie", customer_id=charlie)
    sign_in(client, "charlie")
    assert client.get(f"/transfers/{transfer_id}").status_code == 404


def test_history_filters_pagination_csv_and_statement(client, people, bank):
    sign_in(client, "alice")
    for i in range(30):
        form = client.get("/transfer").text
        client.post("/transfer/submit", data={
            "from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": f"{i + 1}.00",
            "memo": f"order-{i}", "idempotency_key": hidden(form, "idempotency_key"),
            "csrf_token": csrf_token(form)})
    page1 = client.get(f"/accounts/{people.alice_acct}")
    assert page1.text.count("<tr class=") == 25
    more = re.search(r'id="more" href="([^"]+)"', page1.text).group(1).replace("&amp;", "&")
    page2 = client.get(more)
    assert page2.text.count("<tr class=") == 6 and 'id="more"' not in page2.text  # 30 payments + deposit
    filtered = client.get(f"/accounts/{people.alice_acct}", params={"min_amount": "10", "max_amount": "12.00",
                                                                   "kind": "out"})
    assert filtered.text.count("<tr class=") == 3
    assert client.get(f"/accounts/{people.alice_acct}", params={"q": "order-7"}).text.count("<tr class=") == 1
    bad = client.get(f"/accounts/{people.alice_acct}", params={"min_amount": "1.234"})
    assert bad.status_code == 422 and "金额格式不正确" in bad.text
    rev = client.get(f"/accounts/{people.alice_acct}", params={"date_from": "2030-01-02", "date_to": "2030-01-01"})
    assert rev.status_code == 422 and "开始日期晚于结束日期" in rev.text
    csv = client.get(f"/accounts/{people.alice_acct}/transactions.csv", params={"min_amount": "29", "kind": "out"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.count("\n") == 3 and "order-29" in csv.text
    month = clock.today().strftime("%Y-%m")
    pdf = client.get(f"/accounts/{people.alice_acct}/statement", params={"month": month})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"/accounts/{people.alice_acct}/statement", params={"month": "soon"}).status_code == 422


def test_payees_add_pay_and_delete(client, people, bank):
    sign_in(client, "alice")
    r = post_form(client, "/payees", "/payees", {"name": "李娜", "account_number": people.bob_number,
                                                  "nickname": "妹妹"})
    assert r.headers["location"] == "/payees?notice=payee_added"
    page = client.get("/payees").text
    assert "李娜" in page and "妹妹" in page
    payee_id = re.search(r'href="/transfer\?payee=(\d+)"', page).group(1)
    form = client.get(f"/transfer?payee={payee_id}").text
    assert f'value="{people.bob_number}"' in form
    assert f'/prefs/lang/en?next=%2Ftransfer%3Fpayee%3D{payee_id}"' in form  # the toggle comes back here
    dup = post_form(client, "/payees", "/payees", {"name": "李娜", "account_number": people.bob_number})
    assert dup.status_code == 422 and "该收款人已保存" in dup.text
    r = post_form(client, "/payees", f"/payees/{payee_id}/delete", {})
    assert r.headers["location"] == "/payees?notice=payee_deleted"
    assert bank.count("payees") == 0


def test_another_customers_payee_cannot_be_deleted(client, people, bank):
    sign_in(client, "alice")
    post_form(client, "/payees", "/payees", {"name": "李娜", "account_number": people.bob_number})
    payee_id = re.search(r'href="/transfer\?payee=(\d+)"', client.get("/payees").text).group(1)
    client.cookies.clear()
    sign_in(client, "bob")
    assert post_form(client, "/payees", f"/payees/{payee_id}/delete", {}).status_code == 404
    assert client.get(f"/transfer?payee={payee_id}").status_code == 404
    assert bank.count("payees") == 1


def test_scheduled_transfer_create_and_cancel(client, people, bank):
    sign_in(client, "alice")
    start = (clock.today() + timedelta(days=3)).isoformat()
    data = {"from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": "88.80",
            "frequency": "monthly", "start_date": start, "end_date": "", "memo": "生活费"}
    r = post_form(client, "/scheduled", "/scheduled", data)
    assert r.headers["location"] == "/scheduled?notice=scheduled_added"
    page = client.get("/scheduled").text
    assert "¥88.80" in page and "每月" in page and start in page
    past = post_form(client, "/scheduled", "/scheduled", {**data, "start_date": "2000-01-01"})
    assert past.status_code == 422 and "首次执行日期不能早于今天" in past.text
    sid = re.search(r'action="/scheduled/(\d+)/cancel"', page).group(1)
    assert post_form(client, "/scheduled", f"/scheduled/{sid}/cancel", {}).status_code == 303
    assert "已取消" in client.get("/scheduled").text
    assert bank.count("transfers") == 3


def test_bill_lookup_and_payment(client, people, bank, engine):
    bill_id = _bills(engine)
    sign_in(client, "alice")
    billers = client.get("/bills?category=electricity").text
    assert "国网北京电力" in billers and "中国移动" not in billers
    page = client.get("/bills/SGCC-BJ", params={"reference": "0012345678"}).text
    assert "¥123.45" in page and "2025-05" in page
    none = client.get("/bills/SGCC-BJ", params={"reference": "999"}).text
    assert "该户号没有待缴账单" in none
    data = {"biller": "SGCC-BJ", "reference": "0012345678", "bill_id": str(bill_id),
            "from_account": str(people.alice_acct), "idempotency_key": hidden(page, "idempotency_key"),
            "csrf_token": csrf_token(page)}
    r = client.post("/bills/pay", data=data, follow_redirects=False)
    assert r.status_code == 303 and "notice=bill_paid" in r.headers["location"]
    again = client.post("/bills/pay", data=data, follow_redirects=False)  # double submit: same receipt
    assert again.headers["location"] == r.headers["location"]
    receipt = client.get(r.headers["location"]).text
    assert "缴费成功" in receipt and "国网北京电力" in receipt and "¥123.45" in receipt
    assert bank.balance(people.alice_acct) == 100_000 - 12_345
    other = client.post("/bills/pay", data={**data, "idempotency_key": "another-key-123"})
    assert other.status_code == 422 and "该账单已缴清" in other.text


def test_mobile_top_up(client, people, bank, engine):
    _bills(engine)
    sign_in(client, "alice")
    assert client.get("/bills/CMCC", follow_redirects=False).headers["location"] == "/topup?biller=CMCC"
    form = client.get("/topup?biller=CMCC").text
    assert "中国移动" in form
    data = {"biller": "CMCC", "phone": "13800001111", "amount": "50", "from_account": str(people.alice_acct),
            "idempotency_key": hidden(form, "idempotency_key"), "csrf_token": csrf_token(form)}
    bad = client.post("/topup", data={**data, "amount": "15"})
    assert bad.status_code == 422 and "请选择充值金额" in bad.text
    r = client.post("/topup", data=data, follow_redirects=False)
    assert r.status_code == 303
    assert bank.balance(people.alice_acct) == 95_000
    assert "充值成功" in client.get(r.headers["location"]).text


def test_the_transfer_form_says_what_is_left_today_and_refuses_more_before_the_confirm_step(client, people, bank,
                                                                                             engine):
    with db.session_scope(engine) as s:  # Alice's daily limit is ¥500.00
        from smartbank.customers.models import Customer

        s.get(Customer, people.alice).daily_limit_minor = 50_000
    sign_in(client, "alice")
    form = client.get("/transfer").text
    assert "今日还可转 ¥500.00" in form
    client.cookies.set("sb_lang", "en")
    assert "You can still send ¥500.00 today" in client.get("/transfer").text
    client.cookies.set("sb_lang", "zh")
    data = {"from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": "500.01", "memo": "",
            "idempotency_key": hidden(form, "idempotency_key"), "csrf_token": csrf_token(form)}
    r = client.post("/transfer/confirm", data=data)
    assert r.status_code == 422 and "超过今日剩余转账额度（今日还可转 ¥500.00，每日限额 ¥500.00）" in r.text
    assert "请确认转账信息" not in r.text and 'value="500.01"' in r.text
    # the refusal is shown once, beside the amount, and the amount field points at it
    assert r.text.count("超过今日剩余转账额度") == 1 and 'id="err-amount"' in r.text
    assert re.search(r'name="amount"[^>]*aria-describedby="remaining-today err-amount"[^>]*aria-invalid="true"',
                     r.text)
    client.cookies.set("sb_lang", "en")
    r = client.post("/transfer/confirm", data=data)
    assert r.status_code == 422 and "(¥500.00 of ¥500.00)" in r.text and 'id="err-amount"' in r.text
    client.cookies.set("sb_lang", "zh")
    # what is within the limit goes through, and the form then shows what is left
    confirm = client.post("/transfer/confirm", data={**data, "amount": "300"})
    assert confirm.status_code == 200 and "请确认转账信息" in confirm.text
    submit = {k: hidden(confirm.text, k) for k in ("from_account", "to_account", "amount", "memo", "idempotency_key")}
    r = client.post("/transfer/submit", data={**submit, "csrf_token": csrf_token(confirm.text)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    form = client.get("/transfer").text
    assert "今日还可转 ¥200.00" in form
    r = client.post("/transfer/confirm", data={**data, "amount": "200.01", "idempotency_key": hidden(form,
                                                                                                   "idempotency_key")})
    assert r.status_code == 422 and "今日还可转 ¥200.00" in r.text
    # between one's own accounts the daily limit does not apply
    own = client.post("/transfer/confirm", data={**data, "amount": "600",
                                                 "to_account": account_number(engine, people.alice_savings)})
    assert own.status_code == 200 and "请确认转账信息" in own.text
    assert bank.count("transfers") == 4


def test_a_scheduled_transfer_over_the_limit_is_refused_and_a_short_balance_is_shown(client, people, bank):
    sign_in(client, "alice")
    start = (clock.today() + timedelta(days=3)).isoformat()
    data = {"from_account": str(people.alice_acct), "to_account": people.bob_number, "amount": "99,999,999,999",
            "frequency": "monthly", "start_date": start, "end_date": "", "memo": ""}
    r = post_form(client, "/scheduled", "/scheduled", data)
    assert r.status_code == 422 and "金额超过每日转账限额，该预约转账将无法执行。" in r.text
    assert "scheduled_added" not in r.text and bank.count("scheduled_transfers") == 0
    r = post_form(client, "/scheduled", "/scheduled", {**data, "amount": "20,000"})
    assert r.headers["location"] == "/scheduled?notice=scheduled_added_warning"
    page = client.get(r.headers["location"]).text
    assert "预约转账已创建，请留意下方列表中的提示。" in page
    assert f"付款账户当前可用余额 ¥1,000.00，不足 ¥20,000.00；如 {start} 前未存入足够资金" in page
    client.cookies.set("sb_lang", "en")
    page = client.get("/scheduled").text
    assert "The account has ¥1,000.00 available now, less than ¥20,000.00" in page and raw_keys(page) == []
    assert bank.count("transfers") == 3
