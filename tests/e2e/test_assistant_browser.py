"""The portal's chat with the assistant in a real browser: the script posts each message with fetch and the
reply appears without a page reload; a transfer by chat to a saved payee waits for the explicit "确认" (and
nothing moves when the customer says "取消"); a request for a person puts the conversation in the service
agents' queue, where an agent in another browser claims it and replies, and the customer's page shows the
reply through the script's polling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from smartbank import db
from smartbank.payments import service as payments
from smartbank.security.service import Principal
from tests.e2e.test_portal_browser import no_sideways_scroll, sign_in
from tests.web.conftest import account_number, make_user

pytestmark = pytest.mark.e2e

FIRST_REPLY_MS = 30_000  # the first message may wait for the intent model to be fitted in memory


@pytest.fixture
def alice(bank, engine):
    """王芳 with CNY 1,000.00 and a saved payee 李娜 (nicknamed 妈妈) whose account holds CNY 10.00."""
    a = bank.customer("王芳")
    b = bank.customer("李娜")
    acct = bank.account(a, balance=100_000)
    bob_acct = bank.account(b, balance=1_000)
    uid = make_user(engine, "alice", customer_id=a)
    bob_number = account_number(engine, bob_acct)
    actor = Principal(user_id=uid, username="alice", role="customer", customer_id=a)
    with db.session_scope(engine) as s:
        payments.add_payee(s, actor, a, name="李娜", account_number=bob_number, nickname="妈妈")
    return {
        "customer": a,
        "account": acct,
        "last4": account_number(engine, acct)[-4:],
        "bob_account": bob_acct,
        "bob_last4": bob_number[-4:],
    }


def open_chat(page: Page) -> None:
    sign_in(page)
    expect(page.locator("h1")).to_have_text("我的账户")
    page.goto("/assistant")
    expect(page.locator("h1")).to_have_text("智能助手")
    expect(page.locator("#chat")).to_have_attribute("data-status", "bot")


def ask(page: Page, text: str, reply: str, *, timeout: float = 10_000) -> None:
    """Send ``text`` through the chat form and wait for the assistant's reply containing ``reply``."""
    page.fill("#chat-form input[name=text]", text)
    page.click("#chat-form button[type=submit]")
    expect(page.locator("#messages li.msg.customer").last).to_have_text(f"我: {text}")
    expect(page.locator("#messages li.msg.assistant").last).to_contain_text(reply, timeout=timeout)


def test_balance_question_is_answered_without_a_reload(page: Page, alice):
    open_chat(page)
    page.evaluate("window.__same_document = true")  # lost if the page were reloaded or navigated
    balance = f"您的余额：尾号{alice['last4']}的活期账户 ¥1,000.00（可用 ¥1,000.00）。"
    ask(page, "我的余额是多少", balance, timeout=FIRST_REPLY_MS)
    expect(page.locator("#messages li.msg.assistant", has_text=balance).first).to_have_text(f"助手: {balance}")
    assert page.evaluate("window.__same_document === true")
    expect(page).to_have_url(re.compile(r"/assistant$"))  # the plain form post would redirect to ?c=<id>
    assert re.fullmatch(r"\d+", page.locator("#chat").get_attribute("data-conversation") or "")
    expect(page.locator("#chat-form input[name=text]")).to_have_value("")


def test_live_chat_shows_each_reply_once(page: Page, alice):
    open_chat(page)
    with page.expect_response(lambda r: "/messages?after=" in r.url):  # the script's poll after the send
        ask(page, "我的余额是多少", "¥1,000.00", timeout=FIRST_REPLY_MS)
    page.wait_for_timeout(500)  # let the script append what that poll returned
    live = page.locator("#messages li.msg").all_inner_texts()[1:]  # after the greeting
    page.goto(f"/assistant?c={page.locator('#chat').get_attribute('data-conversation')}")
    assert live == page.locator("#messages li.msg").all_inner_texts()  # the stored conversation


def test_transfer_by_chat_waits_for_the_explicit_confirmation(page: Page, alice, bank):
    open_chat(page)
    ask(page, "给李娜转一百二十三元", "回复“确认”执行", timeout=FIRST_REPLY_MS)
    confirm = page.locator("#messages li.msg.assistant").last
    expect(confirm).to_contain_text(f"向 妈妈 (*{alice['bob_last4']}) 转账 ¥123.00")
    # nothing moves before the explicit yes
    assert bank.balance(alice["account"]) == 100_000 and bank.balance(alice["bob_account"]) == 1_000
    assert bank.count("transfers") == 2  # the two funding deposits

    ask(page, "确认", f"已完成：向 妈妈 (*{alice['bob_last4']}) 转账 ¥123.00。")
    assert bank.balance(alice["account"]) == 87_700 and bank.balance(alice["bob_account"]) == 13_300
    assert bank.count("transfers") == 3
    bank.assert_invariants()

    ask(page, "我的余额是多少", f"尾号{alice['last4']}的活期账户 ¥877.00（可用 ¥877.00）")


def test_cancelled_transfer_on_a_phone_moves_nothing(phone: Page, alice, bank):
    open_chat(phone)
    ask(phone, "给李娜转五百元", f"向 妈妈 (*{alice['bob_last4']}) 转账 ¥500.00", timeout=FIRST_REPLY_MS)
    assert bank.balance(alice["account"]) == 100_000
    ask(phone, "取消", "好的，已取消，没有付款。")
    ask(phone, "确认", "请问需要什么帮助？")  # nothing is pending any more: a late yes pays nothing
    assert bank.balance(alice["account"]) == 100_000 and bank.balance(alice["bob_account"]) == 1_000
    assert bank.count("transfers") == 2
    bank.assert_invariants()
    assert no_sideways_scroll(phone)


def test_customer_asks_for_a_person_and_an_agent_replies(phone: Page, browser, live_server, alice, engine):
    open_chat(phone)
    ask(phone, "转人工", "正在为您转接人工客服，请稍候，客服会在这里回复您。", timeout=FIRST_REPLY_MS)
    expect(phone.locator("#chat")).to_have_attribute("data-status", "waiting")
    phone.fill("#chat-form input[name=text]", "我的转账一直失败")  # stored for the agent; the bot only acknowledges it
    phone.click("#chat-form button[type=submit]")
    expect(phone.locator("#messages li.msg.customer").last).to_have_text("我: 我的转账一直失败")

    make_user(engine, "agent1", role="service_agent")
    ctx = browser.new_context(base_url=live_server, locale="zh-CN")
    ctx.set_default_timeout(10_000)
    try:
        staff = ctx.new_page()
        sign_in(staff, "agent1", console=True)
        staff.get_by_role("link", name="人工客服队列").first.click()
        expect(staff.locator("h1")).to_have_text("人工客服队列")
        row = staff.locator("#handoff-queue tbody tr", has_text="王芳")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("客户要求")
        expect(row).to_contain_text("转人工")  # the intent by its name
        row.get_by_role("link", name="查看").click()
        transcript = staff.locator("#transcript")
        expect(transcript.locator("tr.msg-customer").first).to_contain_text("转人工")
        expect(transcript.locator("tr.msg-assistant").first).to_contain_text("正在为您转接人工客服")
        expect(transcript.locator("tr.msg-customer").last).to_contain_text("我的转账一直失败")
        staff.click("#conv-claim")
        expect(staff.locator(".notice")).to_have_text("已保存。")
        expect(staff.locator("#conv-status")).to_contain_text("处理中")
        expect(staff.locator("#conv-claim")).to_have_count(0)
        staff.fill("#conv-reply textarea[name=text]", "您好，我是客服小王，马上为您查看。")
        staff.click("#conv-reply button[type=submit]")
        expect(staff.locator(".notice")).to_have_text("已保存。")
        expect(transcript.locator("tr.msg-agent")).to_contain_text("您好，我是客服小王，马上为您查看。")
    finally:
        ctx.close()

    # the customer's page was never reloaded: the script's polling (every 4 s) brings the reply
    agent_reply = phone.locator("#messages li.msg.agent")
    expect(agent_reply).to_have_text("客服: 您好，我是客服小王，马上为您查看。", timeout=15_000)
    expect(phone.locator("#chat")).to_have_attribute("data-status", "agent")


def test_chat_on_a_390px_phone_chips_links_and_no_sideways_scroll(phone: Page, alice):
    phone.set_viewport_size({"width": 390, "height": 844})
    open_chat(phone)
    # a quick reply sends its words: the customer's bubble, the typing state, then the answer
    phone.locator("#chips button.chip", has_text="查余额").click()
    expect(phone.locator("#messages li.msg.customer").last).to_have_text("我: 查余额")
    expect(phone.locator("#messages li.msg.assistant").last).to_contain_text("¥1,000.00", timeout=FIRST_REPLY_MS)
    expect(phone.locator("#typing")).to_have_count(0)
    expect(phone).to_have_url(re.compile(r"/assistant$"))  # sent by the script, not a page load
    # a path in an answer is a link that works, named like the page
    ask(phone, "我要申请贷款", "申请贷款")
    link = phone.locator("#messages li.msg.assistant").last.locator('a[href="/loans/apply"]')
    expect(link).to_have_text("申请贷款")
    # the composer stays on screen at the bottom, and nothing scrolls sideways
    box = phone.locator("#chat-form").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844 + 1
    assert no_sideways_scroll(phone)
    # the hand-off shows in the thread as a line of its own
    ask(phone, "转人工", "正在为您转接人工客服")
    expect(phone.locator("#messages li.sys[data-sys=handed]")).to_have_text("已为您转接人工客服")
    phone.locator('#messages a[href="/loans/apply"]').first.click()
    expect(phone).to_have_url(re.compile(r"/loans/apply$"))
