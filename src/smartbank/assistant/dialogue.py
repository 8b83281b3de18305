"""The dialogue policy: one customer turn in, the replies, the action taken and the new state out.

State (``assistant_conversations.state``): the active ``intent`` and its ``slots``, the ``stage``
(``None`` while filling slots, ``confirm`` when the summary waits for an explicit yes, ``otp`` when the
risk checks asked for a one-time code), the idempotency ``key`` of the pending payment (so the code step
repeats the same payment), and ``last`` (the last finished intent and slots, for "and to my mother?").

Rules that matter:
- money moves only after an explicit confirmation turn (``确认`` / ``yes``) on a summary with amount
  and payee; a turn that is not understood never triggers an action;
- the only payees and accounts that can be named are the customer's own (the candidates come from the
  payments service for the signed-in customer);
- a correction ("不对，是800" / "no, 800") updates the slot and asks again; ``cancel`` works at any point;
- a read-only question in the middle of a flow is answered and the flow resumes with its question;
- ``human`` / ``complaint`` / ``card_lost`` (no customer-facing freeze exists: a person freezes it) hand
  the conversation to an agent; the caller does the hand-off;
- ``out_of_scope`` (a product the bank does not offer, named in the ``unavailable_product`` entity, e.g. credit
  cards) is answered honestly - we do not offer it - never with another product's figures;
- ``recent_transactions`` and ``spending`` apply the ``period`` entity (``上个月``, ``last week``...; spending
  without one is this month so far). Spending leaves out moves between the customer's own accounts, wealth
  orders, loan flows, interest and fees (the same definition as the customer profile's).
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from smartbank.assistant import actions
from smartbank.assistant.intents import CONSENT_INTENTS, Prediction
from smartbank.money import format_minor
from smartbank.security.service import Principal

TRANSACTIONAL = ("transfer", "pay_bill", "top_up", "loan_repay")
READ_ONLY = ("balance", "recent_transactions", "spending", "loan_status", "loan_apply", "product_question",
             "out_of_scope")
REQUIRED = {"transfer": ("payee", "amount_minor"), "pay_bill": ("bill_type", "reference"),
            "top_up": ("phone", "amount_minor"), "loan_repay": ("loan", "amount_minor")}
_RATE_WORDS = re.compile(r"利率|利息|收益率|LPR|\brates?\b|\binterest\b", re.I)
_FOLLOW_UP = re.compile(r"^\s*(and|also|what about|how about|plus)\b|^\s*(再|也|还有|那|另外)|又", re.I)

M: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hello! I can check balances and transactions, make transfers, pay bills, top up phones, "
                    "repay loans and answer questions. What can I do for you?",
        "goodbye": "Goodbye! How was this chat? You can rate it below.",
        "thanks": "You're welcome. Anything else?",
        "help": "What can I do for you? For example: \"my balance\", \"send 500 to my mother\", "
                "\"pay my electricity bill\".",
        "not_understood": "Sorry, I did not understand that. Could you say it another way?",
        "not_sure": "I'm not sure about that one. Would you like to talk to a person?",
        "balance": "Your balances: {lines}.",
        "balance_line": "{kind} ending {last4}: {amount} (available {available})",
        "no_accounts": "You have no accounts yet.",
        "recent": "Your latest transactions: {lines}.",
        "recent_line": "{day} {sign}{amount} {who}",
        "no_recent": "There are no transactions on your accounts yet.",
        "loans": "Your loans: {lines}.",
        "loan_line": "loan {number}, {outstanding} outstanding, status {status}",
        "app_line": "application #{id}: {status}",
        "no_loans": "You have no loans or loan applications.",
        "loan_apply": "You can apply for a loan on the loan application page: /loans/apply",
        "products": "Products that suit your risk grade {grade}: {lines}.",
        "no_grade": "To see suitable products, take the risk questionnaire first: /wealth/assessment",
        "no_products": "There are no products matching your risk grade {grade} right now.",
        "ask_payee": "Who should receive it? Your saved payees: {names}.",
        "ask_payee_none": "You have no saved payees yet. Add one on the payees page (/payees), then ask me again.",
        "ask_which": "Which one do you mean: {names}?",
        "ask_amount": "How much?",
        "ask_bill_type": "Which bill: electricity, water, gas or broadband?",
        "ask_reference": "What is the reference number printed on the bill?",
        "no_bill": "I found no unpaid bill with reference {reference}. Please check the number.",
        "ask_phone": "Which mobile number should I top up?",
        "confirm_transfer": "Please confirm: send {amount} to {payee}{when}. Reply \"yes\" to confirm or "
                            "\"cancel\".",
        "confirm_bill": "Please confirm: pay the {bill} bill {reference} ({period}) of {amount}. Reply \"yes\" to "
                        "confirm or \"cancel\".",
        "confirm_top_up": "Please confirm: top up {phone} with {amount}. Reply \"yes\" to confirm or \"cancel\".",
        "confirm_loan_repay": "Please confirm: repay {amount} on loan {number}, from the loan's repayment account. "
                              "Reply \"yes\" to confirm or \"cancel\".",
        "no_loan_due": "Nothing is due on your loans right now.",
        "confirm_again": "Please reply \"yes\" to confirm, or \"cancel\".",
        "on_date": " on {date}",
        "cancelled": "OK, cancelled. Nothing was paid.",
        "nothing_to_cancel": "OK. Anything else?",
        "done": "Done: {summary}.",
        "scheduled": "Scheduled: {summary} on {date}.",
        "held": "Your payment is held for a quick security check: the money is reserved, not sent yet. We will "
                "notify you of the outcome.",
        "otp": "For your security this payment needs a one-time code. We sent it to your phone by text message; "
               "please type the code here (or \"cancel\").",
        "otp_wrong": "That code is not right. Attempts left: {n}. Please type the code again.",
        "otp_again": "Please type the one-time code we sent you, or \"cancel\".",
        "blocked": "This payment was stopped by our security checks and no money moved. {reasons}",
        "failed": "The payment did not go through: {reason}",
        "resume": "Back to what we were doing: {prompt}",
        "handoff": "I'm passing you to a colleague; please stay here, someone will reply shortly.",
        "card_lost": "I'm sorry to hear that. A colleague will freeze your card right away; please stay here.",
        "waiting": "A colleague will reply here shortly.",
        "summary_transfer": "{amount} to {payee}",
        "summary_bill": "{bill} bill {reference}, {amount}",
        "summary_top_up": "{amount} top-up for {phone}",
        "summary_loan_repay": "{amount} repaid on loan {number}",
        "out_of_scope": "Sorry, we don't offer {product}, so I can't look up or do anything about {product} here. "
                        "If this is about {product} with another bank, please contact that bank. I can check your "
                        "balances and transactions, make transfers, pay bills, top up phones, repay loans and tell "
                        "you about our wealth products, or pass you to a colleague.",
        "recent_period": "From {start} to {end} you have {n} transactions: {inflow} in, {outflow} out. "
                         "The latest: {lines}.",
        "no_recent_period": "There are no transactions on your accounts from {start} to {end}.",
        "spending": "From {start} to {end} you spent {amount} in {n} payments (moves between your own accounts, "
                    "wealth orders and loan repayments are not counted).",
        "no_spending": "From {start} to {end} you spent nothing (moves between your own accounts, wealth orders and "
                       "loan repayments are not counted).",
        "waiting_ack": "Got it. A colleague will answer you here as soon as they can; there is no need to send it "
                       "again.",
        "consents": "Your consents: {lines}. You can change them here or on the Privacy page.",
        "consent_line": "{purpose}: {state}",
        "consent_off": "Done: {purposes} turned off, from now on.",
        "consent_on": "Done: {purposes} turned on, from now on. You can turn it off again at any time.",
        "consent_unchanged": "{purposes}: already as you asked, nothing changed.",
        "on": "on", "off": "off",
    },
    "zh": {
        "greeting": "您好！我可以帮您查余额和交易、转账、缴费、话费充值、偿还贷款，也可以回答问题。"
                    "请问有什么可以帮您？",
        "goodbye": "再见！欢迎为本次服务打分。",
        "thanks": "不客气，还有其他需要吗？",
        "help": "请问需要什么帮助？例如：“查余额”“给妈妈转500”“交电费”。",
        "not_understood": "抱歉，我没有理解您的意思，能换个说法吗？",
        "not_sure": "这个问题我不太确定，需要为您转接人工客服吗？",
        "balance": "您的余额：{lines}。",
        "balance_line": "尾号{last4}的{kind}账户 {amount}（可用 {available}）",
        "no_accounts": "您还没有账户。",
        "recent": "您最近的交易：{lines}。",
        "recent_line": "{day} {sign}{amount} {who}",
        "no_recent": "您的账户还没有交易。",
        "loans": "您的贷款：{lines}。",
        "loan_line": "贷款{number}，待还 {outstanding}，状态 {status}",
        "app_line": "申请#{id}：{status}",
        "no_loans": "您没有贷款或贷款申请。",
        "loan_apply": "您可以在贷款申请页面办理：/loans/apply",
        "products": "适合您风险等级 {grade} 的产品：{lines}。",
        "no_grade": "请先完成风险测评，再为您推荐合适的产品：/wealth/assessment",
        "no_products": "目前没有适合您风险等级 {grade} 的产品。",
        "ask_payee": "请问转给谁？您保存的收款人：{names}。",
        "ask_payee_none": "您还没有保存收款人，请先在收款人页面（/payees）添加，再来找我。",
        "ask_which": "请问是哪一位：{names}？",
        "ask_amount": "请问转多少钱？",
        "ask_bill_type": "请问交哪种费用：电费、水费、燃气费还是宽带费？",
        "ask_reference": "请告诉我账单上的户号。",
        "no_bill": "没有找到户号 {reference} 的未缴账单，请核对号码。",
        "ask_phone": "请问给哪个手机号充值？",
        "confirm_transfer": "请确认：向 {payee} 转账 {amount}{when}。回复“确认”执行，或回复“取消”。",
        "confirm_bill": "请确认：缴纳{bill}（户号 {reference}，{period}）{amount}。回复“确认”执行，或回复“取消”。",
        "confirm_top_up": "请确认：为 {phone} 充值 {amount}。回复“确认”执行，或回复“取消”。",
        "confirm_loan_repay": "请确认：从贷款还款账户偿还贷款 {number} {amount}。回复“确认”执行，或回复“取消”。",
        "no_loan_due": "您的贷款目前没有应还款项。",
        "confirm_again": "请回复“确认”执行，或回复“取消”。",
        "on_date": "（{date}执行）",
        "cancelled": "好的，已取消，没有付款。",
        "nothing_to_cancel": "好的，还有其他需要吗？",
        "done": "已完成：{summary}。",
        "scheduled": "已预约：{summary}，将于 {date} 执行。",
        "held": "您的付款正在进行安全审核，款项已冻结、尚未转出，审核结果将通知您。",
        "otp": "为了您的资金安全，这笔付款需要动态验证码。验证码已通过短信发送到您的手机，"
               "请在这里输入（或回复“取消”）。",
        "otp_wrong": "验证码不正确，剩余尝试次数：{n}。请重新输入。",
        "otp_again": "请输入我们发送给您的动态验证码，或回复“取消”。",
        "blocked": "这笔付款被安全检查拦截，资金没有转出。{reasons}",
        "failed": "付款没有成功：{reason}",
        "resume": "我们继续刚才的事情：{prompt}",
        "handoff": "正在为您转接人工客服，请稍候，客服会在这里回复您。",
        "card_lost": "很抱歉。客服会马上为您冻结银行卡，请稍候。",
        "waiting": "客服会尽快在这里回复您。",
        "summary_transfer": "向 {payee} 转账 {amount}",
        "summary_bill": "{bill}（户号 {reference}）{amount}",
        "summary_top_up": "为 {phone} 充值 {amount}",
        "summary_loan_repay": "偿还贷款 {number} {amount}",
        "out_of_scope": "抱歉，本行目前不提供{product}业务，无法在这里查询或办理{product}相关事项。"
                        "如果是在其他银行办理的{product}，请联系该银行。我可以帮您查询账户余额和交易、转账、缴费、"
                        "充值、偿还贷款、了解理财产品，也可以为您转接人工客服。",
        "recent_period": "{start}至{end}，您共有 {n} 笔交易，收入 {inflow}，支出 {outflow}。最近几笔：{lines}。",
        "no_recent_period": "{start}至{end}，您的账户没有交易。",
        "spending": "{start}至{end}，您共消费 {amount}，{n} 笔（本人账户间转账、理财申购赎回和贷款还款不计入消费）。",
        "no_spending": "{start}至{end}，您没有消费支出（本人账户间转账、理财申购赎回和贷款还款不计入消费）。",
        "waiting_ack": "已收到您的消息，人工客服会尽快在这里回复您，无需重复发送。",
        "consents": "您的授权情况：{lines}。您可以在这里或“隐私与授权”页面更改。",
        "consent_line": "{purpose}：{state}",
        "consent_off": "已为您关闭{purposes}，即时生效。",
        "consent_on": "已为您开启{purposes}，即时生效。您可以随时再关闭。",
        "consent_unchanged": "{purposes}已是您要求的状态，无需更改。",
        "on": "已开启", "off": "已关闭",
    },
}
CONSENT_NAMES = {
    "en": {"marketing_sms": "marketing text messages", "marketing_email": "marketing e-mails",
           "marketing_push": "marketing in the app and push notifications",
           "marketing_phone": "marketing phone calls", "personalised_recommendation": "personalised recommendations",
           "partner_sharing": "sharing data with partners",
           "analytics": "analytics to improve our services"},
    "zh": {"marketing_sms": "营销短信", "marketing_email": "营销邮件", "marketing_push": "站内及推送营销消息",
           "marketing_phone": "营销电话", "personalised_recommendation": "个性化推荐",
           "partner_sharing": "向合作机构提供数据",
           "analytics": "服务改进统计分析"},
}
BILL_NAMES = {"en": {"electricity": "electricity", "water": "water", "gas": "gas", "mobile": "mobile",
                     "broadband": "broadband"},
              "zh": {"electricity": "电费", "water": "水费", "gas": "燃气费", "mobile": "话费", "broadband": "宽带费"}}
KIND_NAMES = {"zh": {"demand": "活期", "savings": "储蓄", "loan": "贷款"},
              "en": {"demand": "current account", "savings": "savings account", "loan": "loan account"}}
PRODUCT_NAMES = {"zh": {"credit_card": "信用卡", "forex": "外汇兑换", "stocks": "股票交易", "safe_deposit": "保管箱",
                        "cheque": "支票", "gold": "黄金"},
                 "en": {"credit_card": "credit cards", "forex": "foreign exchange", "stocks": "stock trading",
                        "safe_deposit": "safe deposit boxes", "cheque": "cheques", "gold": "gold"}}
LOAN_STATUS = {"zh": {"active": "还款中", "closed": "已结清", "written_off": "已核销"},
               "en": {"active": "repaying", "closed": "repaid", "written_off": "written off"}}
APPLICATION_STATUS = {
    "zh": {"submitted": "已提交", "scoring": "评估中", "manual_review": "人工审核中", "approved": "已批准",
           "declined": "未通过", "accepted": "已接受", "disbursed": "已放款", "repaying": "还款中", "closed": "已结清",
           "withdrawn": "已撤回", "expired": "已过期", "written_off": "已核销"},
    "en": {"submitted": "submitted", "scoring": "being assessed", "manual_review": "in manual review",
           "approved": "approved", "declined": "declined", "accepted": "accepted", "disbursed": "paid out",
           "repaying": "repaying", "closed": "repaid", "withdrawn": "withdrawn", "expired": "expired",
           "written_off": "written off"}}
# quick replies: what the chat suggests when it starts, when it did not understand, and the pages it points to
SUGGESTIONS = {"zh": (("查余额", "查余额"), ("最近交易", "最近的交易"), ("转账", "我要转账"), ("交电费", "交电费"),
                      ("转人工", "转人工")),
               "en": (("Balance", "my balance"), ("Recent transactions", "recent transactions"),
                      ("Transfer", "make a transfer"), ("Pay electricity", "pay my electricity bill"),
                      ("Talk to a person", "talk to a person"))}
PAGES = {"zh": {"/privacy": "隐私与授权", "/loans/apply": "申请贷款", "/wealth/assessment": "风险测评",
                "/payees": "收款人"},
         "en": {"/privacy": "Privacy", "/loans/apply": "Apply for a loan", "/wealth/assessment": "Risk questionnaire",
                "/payees": "Payees"}}


def money(minor: int, currency: str = "CNY") -> str:
    """An amount as the pages show it (¥1,234.50; 1,234.50 USD)."""
    return format_minor(minor, currency, grouping=True, symbol=True)


def say(lang: str, key: str, **kw: Any) -> str:
    return M[lang][key].format(**kw)


@dataclass
class Turn:
    replies: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    action: dict[str, Any] | None = None
    handoff: str | None = None  # the hand-off reason
    understood: bool = True

    def reply(self, text: str, kind: str = "text", buttons: list[dict[str, str]] | None = None) -> None:
        r: dict[str, Any] = {"text": text, "kind": kind}
        if buttons:
            r["buttons"] = buttons
        self.replies.append(r)


@dataclass
class Nlu:
    text: str
    lang: str
    prediction: Prediction
    entities: dict[str, Any]

    @property
    def intent(self) -> str:
        return self.prediction.intent


# the knowledge base's answer: (answer, confidence) or (answer, confidence, follow-up questions), or None
FaqFn = Callable[[str, str], "tuple[Any, ...] | None"]


def suggestion_buttons(lang: str) -> list[dict[str, str]]:
    return [{"label": label, "value": value} for label, value in SUGGESTIONS[lang]]


def _page_button(lang: str, path: str) -> list[dict[str, str]]:
    return [{"label": PAGES[lang].get(path, path), "href": path}]


def _faq_buttons(hit: tuple[Any, ...]) -> list[dict[str, str]] | None:
    """The follow-up questions of a knowledge-base answer as quick replies."""
    return [{"label": q, "value": q} for q in hit[2]] if len(hit) > 2 and hit[2] else None


def _confirm_buttons(lang: str) -> list[dict[str, str]]:
    return [{"label": "确认" if lang == "zh" else "Yes", "value": "确认" if lang == "zh" else "yes"},
            {"label": "取消" if lang == "zh" else "Cancel", "value": "取消" if lang == "zh" else "cancel"}]


# ---------------------------------------------------------------------------------------------
# slots


def _slot_updates(intent: str, ent: dict[str, Any]) -> dict[str, Any]:
    up: dict[str, Any] = {}
    if intent == "transfer":
        payees = [p for p in ent.get("parties", []) if p["kind"] == "payee"]
        if len(payees) == 1:
            up["payee"] = payees[0]
        elif len(payees) > 1:
            up["payee_choices"] = payees
        if "amount_minor" in ent:
            up["amount_minor"] = ent["amount_minor"]
        if "date" in ent:
            up["date"] = ent["date"]
    elif intent == "pay_bill":
        if ent.get("bill_type") and ent["bill_type"] != "mobile":
            up["bill_type"] = ent["bill_type"]
        if "reference" in ent or len(ent.get("otp") or "") >= 6:  # a bare number answers "which reference?"
            up["reference"] = ent.get("reference") or ent["otp"]
    elif intent == "top_up":
        if "phone" in ent:
            up["phone"] = ent["phone"]
        if "amount_minor" in ent:
            up["amount_minor"] = ent["amount_minor"]
    elif intent == "loan_repay" and "amount_minor" in ent:
        up["amount_minor"] = ent["amount_minor"]
    return up


def _summary(lang: str, intent: str, slots: dict[str, Any]) -> str:
    amount = money(int(slots.get("amount_minor") or 0))
    if intent == "transfer":
        return say(lang, "summary_transfer", amount=amount, payee=_payee_label(slots["payee"]))
    if intent == "pay_bill":
        return say(lang, "summary_bill", amount=amount, bill=BILL_NAMES[lang][slots["bill_type"]],
                   reference=slots["reference"])
    if intent == "loan_repay":
        return say(lang, "summary_loan_repay", amount=amount, number=slots["loan"]["number"])
    return say(lang, "summary_top_up", amount=amount, phone=slots["phone"])


def _lines(lang: str, items: list[dict[str, Any]]) -> list[str]:
    return [say(lang, "recent_line", day=x["value_date"], sign="+" if x["amount_minor"] > 0 else "",
                amount=money(x["amount_minor"], x["currency"]), who=x["counterparty_name"] or x["memo"] or x["kind"])
            for x in items]


def _payee_label(p: dict[str, Any]) -> str:
    label = p.get("nickname") or p["name"]
    return f"{label} (*{p['last4']})"


class Dialogue:
    def __init__(self, session: Session, actor: Principal, state: dict[str, Any] | None, *, today: date,
                 faq: FaqFn):
        self.s = session
        self.actor = actor
        self.state: dict[str, Any] = copy.deepcopy(state or {})
        self.today = today
        self.faq = faq

    # -- the turn ------------------------------------------------------------------------------

    def turn(self, nlu: Nlu) -> Turn:
        t = Turn()
        lang, intent, ent = nlu.lang, nlu.intent, nlu.entities
        st = self.state
        active = st.get("intent")
        stage = st.get("stage")
        if intent in ("human", "complaint", "card_lost"):
            self._clear()
            t.handoff = "complaint" if intent == "complaint" else "explicit"
            t.reply(say(lang, "card_lost" if intent == "card_lost" else "handoff"), kind="handoff")
        elif intent == "cancel" or (intent == "deny" and stage in ("confirm", "otp")
                                    and not _slot_updates(active or "", ent)):
            t.reply(say(lang, "cancelled" if active else "nothing_to_cancel"))
            self._finish(active)
        elif intent in CONSENT_INTENTS:  # answered at any point; a flow under way resumes with its question
            self._consent(t, nlu)
            if stage == "confirm":
                t.reply(say(lang, "resume", prompt=self._confirm_text(lang)), kind="confirm",
                        buttons=_confirm_buttons(lang))
            elif stage == "otp":
                t.reply(say(lang, "otp_again"))
            elif active:
                t.reply(say(lang, "resume", prompt=self._prompt(lang)))
        elif stage == "otp":
            self._otp_turn(t, nlu)
        elif stage == "confirm":
            self._confirm_turn(t, nlu)
        elif active:
            self._filling_turn(t, nlu)
        else:
            self._idle_turn(t, nlu)
        t.state = self.state
        return t

    def _otp_turn(self, t: Turn, nlu: Nlu) -> None:
        code = nlu.entities.get("otp")
        if code:
            self._execute(t, nlu.lang, otp=code)
        elif nlu.intent in READ_ONLY:
            self._answer(t, nlu)
            t.reply(say(nlu.lang, "otp_again"))
        else:
            t.understood = nlu.intent != "unknown"
            t.reply(say(nlu.lang, "otp_again"))

    def _confirm_turn(self, t: Turn, nlu: Nlu) -> None:
        lang, active = nlu.lang, self.state["intent"]
        up = _slot_updates(active, nlu.entities)
        if up:  # a correction: "不对，是800" / "no, 800"
            self._fill(active, up)
            self._next(t, lang)
        elif nlu.intent == "affirm":
            self._execute(t, lang)
        elif nlu.intent in READ_ONLY:
            self._answer(t, nlu)
            t.reply(say(lang, "resume", prompt=self._confirm_text(lang)), kind="confirm",
                    buttons=_confirm_buttons(lang))
        else:
            t.understood = nlu.intent != "unknown"
            t.reply(say(lang, "confirm_again"), kind="confirm", buttons=_confirm_buttons(lang))

    def _filling_turn(self, t: Turn, nlu: Nlu) -> None:
        lang, active = nlu.lang, self.state["intent"]
        up = _slot_updates(active, nlu.entities)
        if nlu.intent in TRANSACTIONAL and nlu.intent != active:
            self._start(t, nlu)
        elif up:
            self._fill(active, up)
            self._next(t, lang)
        elif nlu.intent in READ_ONLY or nlu.intent in ("greeting", "thanks"):
            self._answer(t, nlu)
            t.reply(say(lang, "resume", prompt=self._prompt(lang)))
        else:
            t.understood = nlu.intent not in ("unknown",)
            self._next(t, lang)

    def _idle_turn(self, t: Turn, nlu: Nlu) -> None:
        lang, intent, ent = nlu.lang, nlu.intent, nlu.entities
        last = self.state.get("last")
        if last and last["intent"] in TRANSACTIONAL and intent not in READ_ONLY:
            up = _slot_updates(last["intent"], ent)
            follow = intent in (last["intent"], "unknown", "deny") or _FOLLOW_UP.search(nlu.text)
            if up and follow:  # "and to my mother?" / "再给妈妈转500": the last request with the new slot
                self.state.update(intent=last["intent"], slots={k: v for k, v in last["slots"].items()
                                                               if k not in ("bill_id", "period")},
                                  stage=None)
                self._fill(last["intent"], up)
                self._next(t, lang)
                return
        if intent in TRANSACTIONAL:
            self._start(t, nlu)
        elif intent in READ_ONLY:
            self._answer(t, nlu)
        elif intent in ("greeting", "thanks", "goodbye"):
            t.reply(say(lang, intent), kind="rating" if intent == "goodbye" else "text",
                    buttons=suggestion_buttons(lang) if intent == "greeting" else None)
        elif intent in ("faq", "unknown"):
            hit = self.faq(nlu.text, lang)
            if hit is not None:
                t.reply(hit[0], kind="faq", buttons=_faq_buttons(hit))
                t.action = {"name": "faq", "status": "answered", "result": {"confidence": hit[1]}}
            elif intent == "unknown":
                t.understood = False
                t.reply(say(lang, "not_understood"), buttons=suggestion_buttons(lang))
            else:
                t.reply(say(lang, "not_sure"), buttons=[{"label": "人工客服" if lang == "zh" else "Talk to a person",
                                                         "value": "我要人工" if lang == "zh" else "talk to a person"}])
        else:  # affirm / deny with nothing to confirm
            t.reply(say(lang, "help"), buttons=suggestion_buttons(lang))

    # -- flows ---------------------------------------------------------------------------------

    def _start(self, t: Turn, nlu: Nlu) -> None:
        self.state.update(intent=nlu.intent, slots={}, stage=None, key=None, challenge_id=None)
        up = _slot_updates(nlu.intent, nlu.entities)
        if nlu.intent == "loan_repay":  # the loan is not asked for: the one with something due first
            loan = actions.repayable_loan(self.s, self.actor)
            if loan is None:
                t.reply(say(nlu.lang, "no_loan_due"))
                self._clear()
                return
            up = {"loan": loan, "amount_minor": loan["due_minor"]} | up
        self._fill(nlu.intent, up)
        self._next(t, nlu.lang)

    def _fill(self, intent: str, up: dict[str, Any]) -> None:
        slots = self.state.setdefault("slots", {})
        if "payee_choices" in up:
            slots.pop("payee", None)
        else:
            slots.pop("payee_choices", None)
        if "reference" in up or "bill_type" in up:
            slots.pop("bill_id", None)
        slots.update(up)
        self.state["stage"] = None
        self.state["key"] = None

    def _missing(self) -> str | None:
        intent, slots = self.state["intent"], self.state.get("slots", {})
        for name in REQUIRED[intent]:
            if name not in slots:
                return name
        return None

    def _prompt(self, lang: str) -> str:
        if self.state.get("stage") == "confirm":
            return self._confirm_text(lang)
        slots = self.state.get("slots", {})
        missing = self._missing()
        if missing == "payee":
            if slots.get("payee_choices"):
                return say(lang, "ask_which", names=", ".join(_payee_label(p) for p in slots["payee_choices"]))
            names = [_payee_label(p.as_dict()) for p in actions.parties(self.s, self.actor) if p.kind == "payee"]
            return say(lang, "ask_payee", names=", ".join(names)) if names else say(lang, "ask_payee_none")
        return say(lang, {"amount_minor": "ask_amount", "bill_type": "ask_bill_type", "reference": "ask_reference",
                          "phone": "ask_phone"}[missing or "amount_minor"])

    def _next(self, t: Turn, lang: str) -> None:
        """Ask for the next missing slot, or show the summary to confirm."""
        intent, slots = self.state["intent"], self.state.setdefault("slots", {})
        if self._missing() is None and intent == "pay_bill" and "bill_id" not in slots:
            bill = actions.find_bill(self.s, slots["bill_type"], slots["reference"])
            if bill is None:
                t.reply(say(lang, "no_bill", reference=slots.pop("reference")))
                return
            slots.update(bill_id=bill.id, amount_minor=bill.amount_minor, period=bill.period)
        if self._missing() is None:
            self.state["stage"] = "confirm"
            self.state["key"] = f"assistant-{uuid.uuid4().hex}"
            t.reply(self._confirm_text(lang), kind="confirm", buttons=_confirm_buttons(lang))
        else:
            t.reply(self._prompt(lang), buttons=self._prompt_buttons(lang))

    def _prompt_buttons(self, lang: str) -> list[dict[str, str]] | None:
        """Quick replies for the question asked: the customer's payees, the kinds of bill."""
        missing = self._missing()
        if missing == "payee":
            slots = self.state.get("slots", {})
            payees = slots.get("payee_choices") or [p.as_dict() for p in actions.parties(self.s, self.actor)
                                                    if p.kind == "payee"]
            return [{"label": _payee_label(p), "value": p.get("nickname") or p["name"]} for p in payees[:6]] or None
        if missing == "bill_type":
            return [{"label": BILL_NAMES[lang][b], "value": BILL_NAMES[lang][b] if lang == "zh" else f"{b} bill"}
                    for b in ("electricity", "water", "gas", "broadband")]
        return None

    def _confirm_text(self, lang: str) -> str:
        intent, slots = self.state["intent"], self.state["slots"]
        amount = money(int(slots.get("amount_minor") or 0))
        if intent == "transfer":
            when = say(lang, "on_date", date=slots["date"]) if slots.get("date") and \
                date.fromisoformat(slots["date"]) > self.today else ""
            return say(lang, "confirm_transfer", amount=amount, payee=_payee_label(slots["payee"]), when=when)
        if intent == "pay_bill":
            return say(lang, "confirm_bill", amount=amount, bill=BILL_NAMES[lang][slots["bill_type"]],
                       reference=slots["reference"], period=slots.get("period", ""))
        if intent == "loan_repay":
            return say(lang, "confirm_loan_repay", amount=amount, number=slots["loan"]["number"])
        return say(lang, "confirm_top_up", amount=amount, phone=slots["phone"])

    def _execute(self, t: Turn, lang: str, *, otp: str | None = None) -> None:
        intent, slots = self.state["intent"], self.state["slots"]
        fn = actions.PAYMENTS[intent]
        out = fn(self.s, self.actor, slots, key=self.state["key"],
                 challenge_id=self.state.get("challenge_id") if otp else None, otp=otp)
        t.action = out.record(intent)
        summary = _summary(lang, intent, slots)
        if out.status == "challenge":
            self.state.update(stage="otp", challenge_id=out.result.get("challenge_id"))
            t.reply(say(lang, "otp"), kind="otp")
            return
        if out.status == "otp_invalid" and out.result.get("attempts_left"):
            t.reply(say(lang, "otp_wrong", n=out.result["attempts_left"]), kind="otp")
            return
        if out.status == "done":
            t.reply(say(lang, "done", summary=summary), kind="done")
        elif out.status == "scheduled":
            t.reply(say(lang, "scheduled", summary=summary, date=out.result["date"]), kind="done")
        elif out.status == "held":
            t.reply(say(lang, "held"), kind="held")
        elif out.status == "blocked":
            why = out.result.get("reasons_zh" if lang == "zh" else "reasons") or []
            t.reply(say(lang, "blocked", reasons=" ".join(why)).strip(), kind="error")
        else:
            reason = out.error.message if out.error is not None else ""
            t.reply(say(lang, "failed", reason=reason), kind="error")
        self._finish(intent)

    def _finish(self, intent: str | None) -> None:
        if intent in TRANSACTIONAL:
            self.state["last"] = {"intent": intent, "slots": dict(self.state.get("slots") or {})}
        self._clear()

    def _clear(self) -> None:
        for k in ("intent", "slots", "stage", "key", "challenge_id"):
            self.state.pop(k, None)

    # -- consents (the same registry as the portal's privacy page) ------------------------------

    def _consent(self, t: Turn, nlu: Nlu) -> None:
        lang, intent = nlu.lang, nlu.intent
        purposes = list(nlu.entities.get("consent_purposes") or [])
        names = CONSENT_NAMES[lang]
        sep = "、" if lang == "zh" else ", "
        if intent == "consent_show":
            shown = [c for c in actions.consents(self.s, self.actor) if not purposes or c["purpose"] in purposes]
            lines = [say(lang, "consent_line", purpose=names[c["purpose"]],
                         state=say(lang, "on" if c["granted"] else "off")) for c in shown]
            t.reply(say(lang, "consents", lines=("；" if lang == "zh" else "; ").join(lines)), kind="link",
                    buttons=_page_button(lang, "/privacy"))
            t.action = {"name": intent, "status": "answered"}
            return
        granted = intent == "consent_on"
        changed = actions.set_consents(self.s, self.actor, purposes, granted=granted)
        if changed:
            t.reply(say(lang, intent, purposes=sep.join(names[p] for p in changed)))
        else:
            t.reply(say(lang, "consent_unchanged", purposes=sep.join(names[p] for p in purposes)))
        t.action = {"name": intent, "status": "done", "result": {"purposes": purposes, "changed": changed,
                                                                 "granted": granted}}

    # -- read-only answers ---------------------------------------------------------------------

    def _answer(self, t: Turn, nlu: Nlu) -> None:
        lang, intent = nlu.lang, nlu.intent
        if intent == "balance":
            accts = actions.balances(self.s, self.actor)
            lines = [say(lang, "balance_line", kind=KIND_NAMES.get(lang, {}).get(a["kind"], a["kind"]),
                         last4=a["last4"], amount=money(a["balance_minor"], a["currency"]),
                         available=money(a["available_minor"], a["currency"])) for a in accts]
            t.reply(say(lang, "balance", lines="; ".join(lines)) if lines else say(lang, "no_accounts"))
        elif intent == "recent_transactions" and nlu.entities.get("period"):
            per = nlu.entities["period"]
            start, end = date.fromisoformat(per["start"]), date.fromisoformat(per["end"])
            data = actions.period_activity(self.s, self.actor, start, end)
            if data["n"]:
                t.reply(say(lang, "recent_period", start=start, end=end, n=data["n"], inflow=money(data["inflow"]),
                            outflow=money(data["outflow"]), lines="; ".join(_lines(lang, data["items"][:5]))))
            else:
                t.reply(say(lang, "no_recent_period", start=start, end=end))
            t.action = {"name": intent, "status": "answered", "result": {"period": per}}
        elif intent == "recent_transactions":
            items = actions.recent(self.s, self.actor)
            lines = _lines(lang, items)
            t.reply(say(lang, "recent", lines="; ".join(lines)) if lines else say(lang, "no_recent"))
        elif intent == "spending":
            per = nlu.entities.get("period") or {"start": self.today.replace(day=1).isoformat(),
                                                 "end": self.today.isoformat()}
            start, end = date.fromisoformat(per["start"]), date.fromisoformat(per["end"])
            data = actions.period_activity(self.s, self.actor, start, end)
            t.reply(say(lang, "spending", start=start, end=end, amount=money(data["spent"]), n=data["n_spent"])
                    if data["n_spent"] else say(lang, "no_spending", start=start, end=end))
            t.action = {"name": intent, "status": "answered", "result": {"period": per, "spent_minor": data["spent"]}}
        elif intent == "out_of_scope":
            code = nlu.entities.get("unavailable_product") or ""
            t.reply(say(lang, "out_of_scope", product=PRODUCT_NAMES[lang].get(code, code)))
            t.action = {"name": intent, "status": "answered", "result": {"product": code}}
        elif intent == "loan_status":
            data = actions.loans(self.s, self.actor)
            lines = [say(lang, "loan_line", number=x.get("number", x.get("id")),
                         outstanding=money(int(x.get("still_owed_minor") or x.get("outstanding_minor") or 0)),
                         status=LOAN_STATUS.get(lang, {}).get(x.get("status"), x.get("status")))
                     for x in data["loans"]]
            lines += [say(lang, "app_line", id=a["id"], status=APPLICATION_STATUS[lang].get(a["status"], a["status"]))
                      for a in data["applications"]]
            t.reply(say(lang, "loans", lines="; ".join(lines)) if lines else say(lang, "no_loans"))
        elif intent == "loan_apply":
            t.reply(say(lang, "loan_apply"), kind="link", buttons=_page_button(lang, "/loans/apply"))
        elif intent == "product_question" and _RATE_WORDS.search(nlu.text) and (hit := self.faq(nlu.text, lang)):
            # "what are your deposit rates": the knowledge base quotes the catalogue's rates
            t.reply(hit[0], kind="faq", buttons=_faq_buttons(hit))
            t.action = {"name": "faq", "status": "answered", "result": {"confidence": hit[1]}}
        elif intent == "product_question":
            data = actions.products(self.s, self.actor)
            if data["grade"] is None:
                t.reply(say(lang, "no_grade"), kind="link",
                        buttons=_page_button(lang, "/wealth/assessment"))
            elif not data["products"]:
                t.reply(say(lang, "no_products", grade=data["grade"]))
            else:
                names = [f"{p['name_zh' if lang == 'zh' else 'name_en'] or p['code']} ({p['risk_level']})"
                         for p in data["products"]]
                t.reply(say(lang, "products", grade=data["grade"], lines="; ".join(names)))
        else:
            t.reply(say(lang, intent))
        t.action = t.action or {"name": intent, "status": "answered"}
