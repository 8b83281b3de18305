"""The bank's starting rules: a few documented rules every new bank gets, seeded once per code."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.risk.models import RiskRule
from smartbank.risk.rules.language import compile_expression

__all__ = ["DEFAULT_RULES", "DefaultRule", "seed_defaults"]


@dataclass(frozen=True)
class DefaultRule:
    code: str
    action: str
    expression: str
    name_en: str
    name_zh: str
    reason_en: str
    reason_zh: str
    why: str


DEFAULT_RULES: tuple[DefaultRule, ...] = (
    DefaultRule(
        "large_to_new_account", "block",
        "amount_minor >= 100000000 and counterparty_age_days < 1 and own_account == 0",
        "Very large payment to a just-opened account", "向新开账户的超大额付款",
        "This payment of 1,000,000 yuan or more goes to an account opened less than a day ago, which is how "
        "many scams move money. It has been stopped; please contact us if you meant it.",
        "这笔100万元及以上的付款收款账户开立不到一天，这是常见的诈骗转账方式，已被拦截。如确属本人意愿，请联系我们。",
        "Mule accounts are opened shortly before a large scam payment; an own-account move is never stopped."),
    DefaultRule(
        "new_payee_unusual_amount", "review",
        "new_terminal == 1 and saved_payee == 0 and own_account == 0 and amount_minor >= 5000000 "
        "and amount_ratio_max_30d > 5",
        "Unusually large payment to a new payee", "向新收款人的异常大额付款",
        "This payment to someone you have not paid before is much larger than your usual payments, so we are "
        "holding it for a quick check before it is sent.",
        "这笔付款的收款人您从未付过款，且金额远高于您平时的付款，我们将暂时保留资金，核实后再汇出。",
        "At least 50,000 yuan and more than five times the customer's largest payment of the last 30 days, to an "
        "account they never paid and did not save: the shape of an account takeover or an impersonation scam."),
    DefaultRule(
        "night_new_payee", "challenge",
        "is_night == 1 and new_terminal == 1 and saved_payee == 0 and own_account == 0 and amount_minor >= 2000000",
        "Large night-time payment to a new payee", "夜间向新收款人的大额付款",
        "This is a large payment at night to someone you have not paid before. Please confirm it with the "
        "one-time code we send to your phone.",
        "这是一笔夜间向新收款人的大额付款，请输入我们发送到您手机的验证码确认。",
        "20,000 yuan or more between 00:00 and 06:59 to an unsaved account never paid before; a one-time code "
        "is little trouble for a real customer and stops most remote takeovers."),
    DefaultRule(
        "burst_then_new_payee", "challenge",
        "cust_n_1h >= 30 and new_terminal == 1 and own_account == 0 and amount_minor >= 1000000",
        "Many payments in an hour, then a large one to a new payee", "短时间内多笔付款后向新收款人大额付款",
        "You have made many payments in the last hour and this one is a large payment to someone new. Please "
        "confirm it with the one-time code we send to your phone.",
        "您在一小时内已有多笔付款，这笔又是向新收款人的大额付款，请输入我们发送到您手机的验证码确认。",
        "Velocity: 30 payments in the hour before (scripted draining), and then at least 10,000 yuan to a new "
        "account. Bursts of small payments to known accounts (payroll, tests, family) pass."),
    DefaultRule(
        "known_fraud_counterparty", "review",
        "term_risk_30d >= 0.3 and term_known_n_30d >= 3 and own_account == 0",
        "Receiving account linked to confirmed fraud", "收款账户涉及已确认的欺诈",
        "The receiving account has recently received payments that were confirmed as fraud, so we are holding "
        "this payment for a check before it is sent.",
        "该收款账户近期收到过已确认为欺诈的款项，我们将暂时保留这笔付款，核实后再汇出。",
        "At least 30% of the receiving account's labelled incoming payments of the last 30 days (labels known "
        "by now, i.e. a week old) were fraud, over at least three of them: a mule account."),
)


def seed_defaults(session: Session) -> int:
    """Add every default rule whose code was never defined (idempotent). Returns how many were added."""
    have = set(session.scalars(select(RiskRule.code).distinct()))
    missing = [d for d in DEFAULT_RULES if d.code not in have]
    if not missing:
        return 0
    try:
        with session.begin_nested():
            for d in missing:
                compile_expression(d.expression)
                session.add(RiskRule(code=d.code, version=1, name_en=d.name_en, name_zh=d.name_zh,
                                     expression=d.expression, action=d.action, mode="active", reason_en=d.reason_en,
                                     reason_zh=d.reason_zh, created_by=None, created_at=clock.now()))
    except IntegrityError:  # another transaction seeded them at the same moment
        return 0
    return len(missing)
