"""The inline risk decision of a customer payment: allow / challenge / review / block, with reasons.

Before a payment posts, :func:`assess` builds the payment's decision context (:mod:`smartbank.risk.context`:
its point-in-time features from the engine's online state, the payment's own fields, the fraud model's
score), evaluates the rules in force and the risk limits, and combines them: the most severe of

- the model's band: score >= ``risk_block_score`` block, >= ``risk_review_score`` review,
  >= ``risk_challenge_score`` challenge (no model loaded: no band, ``model_version = "rules-only"``);
- every ACTIVE rule that matched (``flag`` rules and shadow rules are recorded but change nothing);
- every limit the payment would exceed.

:func:`guarded_transfer` then acts on it (the payments service calls it for every customer payment):

- allow: the transfer posts; the decision row is written by the ledger with the transfer (one statement on
  PostgreSQL);
- challenge: nothing moves; first every check that could refuse the payment runs (the caller's ``precheck``:
  funds, account status, daily limit - no code for a payment that would be refused anyway), then a one-time
  code is sent by text message to the customer's phone (:mod:`smartbank.notifications.sms`; never into the
  in-app notifications, which the session itself reads) and :class:`~smartbank.errors.ChallengeRequired`
  asks for it. The same request sent again with ``challenge_id`` and ``otp`` posts the payment; three wrong
  codes block it. A customer without a phone number cannot receive a code: the payment is held for review;
- review: the funds are held (a pending transfer) and an alert opens for a risk officer, who releases or
  voids the hold (:mod:`smartbank.risk.cases`); the customer is told;
- block: nothing moves; the decision, an alert and a notification are kept, and
  :class:`~smartbank.errors.PaymentBlocked` is raised.

Every decision row stores the score, the model and rules versions, the rule hits (active and shadow), the
reason codes with plain words in both languages and the features behind them. Refusals keep their records:
the errors are ``persist = True`` (see :class:`~smartbank.errors.SmartbankError`) and raised before any money
moves.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from smartbank import clock, db
from smartbank.config import get_settings
from smartbank.customers import service as customers
from smartbank.errors import ChallengeRequired, NotFound, OtpInvalid, PaymentBlocked, Unavailable, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.money import format_minor
from smartbank.notifications import service as notifications
from smartbank.risk import cases, limits
from smartbank.risk import engine as risk_engine
from smartbank.risk.models import RiskChallenge, RiskDecision
from smartbank.security import service as security

__all__ = ["SEVERITY", "Assessment", "ChallengeAnswer", "PaymentContext", "assess", "guarded_transfer"]

# an allowed payment's decision travels with the transfer as an annotation: the ledger writes it into
# risk_decisions in the statement that posts the payment (one round trip on PostgreSQL)
DECISION_ANNOTATION = "risk_decision"
ledger.register_annotation(DECISION_ANNOTATION, RiskDecision)

SEVERITY = {"allow": 0, "flag": 0, "challenge": 1, "review": 2, "block": 3}
_BY_SEVERITY = {v: k for k, v in SEVERITY.items() if k != "flag"}
MODEL_REASON = ("model_high_score", "This payment is unusual compared with your account's normal activity.",
                "这笔付款与您账户的日常交易习惯差异较大。")


@dataclass(frozen=True, slots=True)
class PaymentContext:
    """What the payments service knows about a payment before it posts."""

    customer_id: int
    account_id: int
    counterparty_account_id: int
    amount_minor: int
    currency: str
    kind: str  # transfer | bill_payment | top_up
    channel: str  # web | api | assistant | schedule
    product: str  # the paying account's kind
    saved_payee: bool = False
    own_account: bool = False
    counterparty_opened_at: datetime | None = None
    payee_saved_at: datetime | None = None  # when the receiving account was saved as a payee (None: not one)


@dataclass(slots=True)
class Assessment:
    decision: str
    score: float | None
    model_version: str
    rules_version: str
    rule_hits: list[dict[str, Any]]
    reasons: list[dict[str, str]]
    features: dict[str, Any]
    latency_us: int
    payment: dict[str, Any]  # for the online state (ts, customer_id, terminal_id, amount_minor)
    feats: dict[str, float] = field(repr=False, default_factory=dict)
    limit_hits: list[Any] = field(default_factory=list)

    def row(self, pc: PaymentContext, key: str | None, *, outcome: str | None = None,
            challenge_id: int | None = None) -> dict[str, Any]:
        """The decision as a ``risk_decisions`` row (without its transfer id and time)."""
        return {
            "customer_id": pc.customer_id, "account_id": pc.account_id,
            "counterparty_account_id": pc.counterparty_account_id, "channel": pc.channel, "kind": pc.kind,
            "product": pc.product, "amount_minor": pc.amount_minor, "currency": pc.currency,
            "idempotency_key": key, "decision": self.decision, "score": self.score,
            "model_version": self.model_version, "rules_version": self.rules_version,
            "rule_hits": self.rule_hits or None, "reasons": self.reasons or None,
            "features": self.features or None, "latency_us": self.latency_us, "challenge_id": challenge_id,
            "outcome": outcome,
        }

    def customer_reasons(self, lang: str = "en") -> list[str]:
        return [r["zh" if lang.startswith("zh") else "en"] for r in self.reasons]


def _clean(v: float) -> float | None:
    return None if isinstance(v, float) and math.isnan(v) else v


def assess(session: Session, pc: PaymentContext, *, now: datetime | None = None) -> Assessment:
    """Score the payment and decide (nothing is written; the online state is not changed)."""
    t0 = time.perf_counter_ns()
    s = get_settings()
    eng = risk_engine.get(session)
    now = now or clock.now()
    payment = {"ts": risk_engine.local_naive(now), "customer_id": pc.customer_id,
               "terminal_id": pc.counterparty_account_id, "amount_minor": pc.amount_minor}
    eng.catch_up(session)  # what other server processes posted
    feats, score = eng.features(payment)
    opened = pc.counterparty_opened_at
    if opened is not None and opened.tzinfo is None:
        opened = opened.replace(tzinfo=UTC)
    ctx: dict[str, Any] = {k: _clean(v) for k, v in feats.items()}
    ctx.update(amount_minor=pc.amount_minor, channel=pc.channel, kind=pc.kind, product=pc.product,
               saved_payee=1 if pc.saved_payee else 0, own_account=1 if pc.own_account else 0,
               counterparty_age_days=(now - opened).total_seconds() / 86400 if opened is not None else None,
               model_score=score)
    ruleset = eng.ruleset(session)
    hits = ruleset.evaluate(ctx)
    lhits = limits.check(session, customer_id=pc.customer_id, product=pc.product, channel=pc.channel,
                         amount_minor=pc.amount_minor, now=now)

    severity = 0
    reasons: list[dict[str, str]] = []
    used: set[str] = set()
    if score is not None:
        band = ("block" if score >= s.risk_block_score else "review" if score >= s.risk_review_score
                else "challenge" if score >= s.risk_challenge_score else "allow")
        if band != "allow":
            severity = SEVERITY[band]
            top = eng.reasons_from_model(feats)
            used.update(top)
            reasons.append({"code": MODEL_REASON[0], "en": MODEL_REASON[1], "zh": MODEL_REASON[2],
                            "features": ",".join(top)})
    for h in hits:
        if h.shadow:
            continue
        severity = max(severity, SEVERITY[h.action])
        reasons.append({"code": f"rule:{h.code}", "en": h.reason_en, "zh": h.reason_zh})
    for lh in lhits:
        severity = max(severity, SEVERITY[lh.action])
        reasons.append({"code": f"limit:{lh.scope}", "en": lh.reason_en, "zh": lh.reason_zh})
    if (pc.payee_saved_at is not None and not pc.own_account and pc.amount_minor >= s.step_up_new_payee_minor
            and now - pc.payee_saved_at < STEP_UP_PAYEE_AGE and severity < SEVERITY["challenge"]):
        # step-up: a large payment to a payee saved in the last day (a taken-over session adds the thief's
        # account as a payee, then pays it) needs a second factor, whatever the score says
        severity = SEVERITY["challenge"]
        reasons.append({"code": STEP_UP_REASON[0], "en": STEP_UP_REASON[1], "zh": STEP_UP_REASON[2]})
    decision = _BY_SEVERITY[severity]
    keep: dict[str, Any] = {}
    if decision != "allow" or hits:
        # the features behind the decision (the ones the model leaned on, the amount and the velocity)
        for name in (*used, "amount", "cust_n_1h", "cust_n_1d", "amount_ratio_median_30d", "new_terminal",
                     "term_risk_30d"):
            if name in ctx:
                keep[name] = ctx[name]
        keep.update(saved_payee=ctx["saved_payee"], counterparty_age_days=ctx["counterparty_age_days"])
    return Assessment(
        decision=decision, score=score, model_version=eng.model_version, rules_version=ruleset.version,
        rule_hits=[{"code": h.code, "version": h.version, "action": h.action, "shadow": h.shadow} for h in hits],
        reasons=reasons, features=keep, latency_us=(time.perf_counter_ns() - t0) // 1000, payment=payment,
        feats=feats, limit_hits=lhits,
    )


# ----------------------------------------------------------------------------------------------
# acting on the decision


STEP_UP_PAYEE_AGE = timedelta(hours=24)
STEP_UP_REASON = ("step_up:new_payee",
                  "This is a large payment to a payee you saved less than a day ago, so we ask you to confirm it "
                  "with a second factor.",
                  "这是一笔向一天内新添加收款人的大额付款，需要您再次验证身份。")
TOTP_CHALLENGE = "totp"  # a challenge answered with the customer's authenticator code: no text message, no hash


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    challenge_id: int
    otp: str


def _otp_hash(challenge_id: int, code: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _record(session: Session, a: Assessment, pc: PaymentContext, key: str, *, transfer_id: int | None = None,
            outcome: str | None = None) -> RiskDecision:
    d = RiskDecision(**a.row(pc, key, outcome=outcome), transfer_id=transfer_id, created_at=clock.now())
    session.add(d)
    session.flush()
    if a.limit_hits:
        limits.record_breaches(session, a.limit_hits, decision_id=d.id, customer_id=pc.customer_id,
                               amount_minor=pc.amount_minor)
    return d


def _observe(session: Session, payment: dict[str, Any], feats: dict[str, float] | None = None) -> None:
    """The payment joins this process's online features once its transaction commits (at once in autocommit
    mode, where the ledger's statement has committed already); a rolled-back payment never does."""
    eng = risk_engine.get(session)
    db.after_commit(session, lambda: eng.observe(payment, feats))


def guarded_transfer(session: Session, cmd: ledger.TransferCommand, pc: PaymentContext, *,
                     user_id: int | None, answer: ChallengeAnswer | None = None,
                     interactive: bool = True, precheck: Callable[[], None] | None = None) -> ledger.TransferResult:
    """Decide, then post / challenge / hold / block the customer payment ``cmd`` (see the module docstring).

    ``interactive=False`` (a scheduled run, with no customer present to answer a code): a challenge becomes a
    review - the payment is held for a risk officer instead. ``precheck`` raises what would refuse the
    payment (the payments service's checks); it runs before a code is sent."""
    if answer is not None:
        return _answer_challenge(session, cmd, pc, user_id=user_id, answer=answer)
    if limits.applies(session, customer_id=pc.customer_id, product=pc.product, channel=pc.channel):
        # a limit covers it: decided and written in one transaction, one payment of the customer at a time,
        # so that two payments at once cannot both fit into the room for one
        if db.in_autocommit(session):
            raise db.NeedsTransaction
        limits.serialise(session, pc.customer_id)
    a = assess(session, pc)
    if a.decision == "challenge" and not interactive:
        a.decision = "review"
    if a.decision == "allow":
        decision = ledger.Annotation(DECISION_ANNOTATION, a.row(pc, cmd.key))
        res = ledger.transfer(session, replace(cmd, annotations=(*cmd.annotations, decision)))
        if not res.replayed:
            _observe(session, {**a.payment, "tx_id": res.id}, a.feats)
        return res
    if db.in_autocommit(session):
        raise db.NeedsTransaction  # more than one write follows: rerun in a transaction
    prior = ledger.find_transfer_by_key(session, cmd.key)
    if prior is not None:  # a retry of a payment already made (or held): the ledger replays or conflicts
        return ledger.transfer(session, cmd)
    if a.decision == "challenge":
        if precheck is not None:
            precheck()  # refused anyway (funds, status, daily limit): say so now, without sending a code
        if user_id is not None and security.has_second_factor(session, user_id):
            _challenge(session, a, pc, cmd, user_id=user_id, phone=None)
        phone = customers.get_customer(session, pc.customer_id).phone
        if phone:
            _challenge(session, a, pc, cmd, user_id=user_id, phone=phone)
        a.decision = "review"  # no phone to send a code to: a risk officer checks the payment instead
    if a.decision == "review":
        return _hold(session, a, pc, cmd)
    return _block(session, a, pc, cmd)


def _challenge(session: Session, a: Assessment, pc: PaymentContext, cmd: ledger.TransferCommand, *,
               user_id: int | None, phone: str | None) -> None:
    """Ask for a second factor: the customer's authenticator code when ``phone`` is None (they enrolled one),
    else a one-time code sent by text message."""
    s = get_settings()
    d = _record(session, a, pc, cmd.key)
    now = clock.now()
    ch = RiskChallenge(decision_id=d.id, customer_id=pc.customer_id, user_id=user_id,
                       request_hash=cmd.request_hash(), code_hash="", status="open", attempts=0, created_at=now,
                       expires_at=now + timedelta(seconds=s.risk_otp_seconds))
    session.add(ch)
    session.flush()
    if phone is None:
        ch.code_hash = TOTP_CHALLENGE
        d.challenge_id = ch.id
        session.flush()
        raise ChallengeRequired(
            "this payment needs a code from your authenticator app: send the same request again with it",
            details={"challenge_id": ch.id, "expires_at": ch.expires_at.isoformat(), "method": "totp",
                     "attempts_left": s.risk_otp_attempts, "reasons": a.customer_reasons("en"),
                     "reasons_zh": a.customer_reasons("zh"), "decision_id": d.id})
    code = f"{secrets.randbelow(1_000_000):06d}"
    ch.code_hash = _otp_hash(ch.id, code)
    d.challenge_id = ch.id
    session.flush()
    amount = format_minor(pc.amount_minor, pc.currency, grouping=True, symbol=True)
    minutes = s.risk_otp_seconds // 60
    try:
        notifications.gateway().send(notifications.SmsMessage(phone=phone, ref=f"challenge:{ch.id}", text=(
            f"【smartbank】验证码 {code}，用于确认您 {amount} 的付款，{minutes} 分钟内有效。"
            "请勿向任何人（包括银行工作人员）透露。"
            f" Code {code} confirms your payment of {amount}; valid for {minutes} minutes."
            " Never tell it to anyone, not even bank staff.")))
    except Exception as exc:  # noqa: BLE001 - any gateway failure: no code was delivered, nothing is kept
        raise Unavailable("we could not send the one-time code; please try again in a moment") from exc
    sent_to = notifications.mask_phone(phone)
    raise ChallengeRequired(
        f"this payment needs a one-time code: we sent one by text message to {sent_to}; "
        "send the same request again with it",
        details={"challenge_id": ch.id, "expires_at": ch.expires_at.isoformat(), "sent_to": sent_to,
                 "method": "sms", "attempts_left": s.risk_otp_attempts, "reasons": a.customer_reasons("en"),
                 "reasons_zh": a.customer_reasons("zh"), "decision_id": d.id})


def _answer_challenge(session: Session, cmd: ledger.TransferCommand, pc: PaymentContext, *, user_id: int | None,
                      answer: ChallengeAnswer) -> ledger.TransferResult:
    if db.in_autocommit(session):
        raise db.NeedsTransaction
    s = get_settings()
    ch = session.get(RiskChallenge, answer.challenge_id, with_for_update=True)
    if ch is None or ch.customer_id != pc.customer_id:
        raise NotFound("no such challenge", details={"challenge_id": answer.challenge_id})
    if ch.request_hash != cmd.request_hash():
        raise ValidationFailed("the one-time code was issued for a different payment; send the same request",
                               details={"challenge_id": ch.id})
    if ch.status == "passed":  # the payment was made with this code: a retry replays it
        prior = ledger.find_transfer_by_key(session, cmd.key)
        if prior is not None:
            return ledger.transfer(session, cmd)
    if ch.status != "open":
        raise OtpInvalid(f"this one-time code can no longer be used ({ch.status}); make the payment again",
                         details={"challenge_id": ch.id, "status": ch.status})
    now = clock.now()
    expires = ch.expires_at if ch.expires_at.tzinfo else ch.expires_at.replace(tzinfo=UTC)
    d = session.get(RiskDecision, ch.decision_id)
    assert d is not None
    if now > expires:
        ch.status = "expired"
        d.outcome = "challenge_expired"
        session.flush()
        raise OtpInvalid("the one-time code has expired; make the payment again",
                         details={"challenge_id": ch.id, "status": "expired"})
    code = (answer.otp or "").strip()
    if ch.code_hash == TOTP_CHALLENGE:
        right = ch.user_id is not None and security.check_totp(session, ch.user_id, code)
    else:
        right = hmac.compare_digest(_otp_hash(ch.id, code), ch.code_hash)
    if not right:
        ch.attempts += 1
        left = s.risk_otp_attempts - ch.attempts
        if left > 0:
            session.flush()
            raise OtpInvalid("that one-time code is not right", details={"challenge_id": ch.id, "attempts_left": left})
        ch.status = "failed"
        d.outcome = "challenge_failed"
        session.flush()
        cases.open_alert(session, decision=d)
        amount = format_minor(pc.amount_minor, pc.currency, grouping=True, symbol=True)
        notifications.notify(
            session, customer_id=pc.customer_id, kind="payment_blocked", ref=f"decision:{d.id}",
            title_en="Payment stopped", title_zh="付款已拦截",
            body_en=f"Your payment of {amount} was stopped after {s.risk_otp_attempts} wrong one-time codes. "
                    "If this was not you, call us at once.",
            body_zh=f"由于验证码连续 {s.risk_otp_attempts} 次错误，您 {amount} 的付款已被拦截。"
                    "如非本人操作，请立即联系我们。")
        raise PaymentBlocked("too many wrong one-time codes: the payment was stopped",
                             details={"challenge_id": ch.id, "decision_id": d.id})
    ch.status = "passed"
    ch.passed_at = now
    res = ledger.transfer(session, cmd)
    d.transfer_id = res.id
    d.outcome = "challenge_passed"
    session.flush()
    _observe(session, {"ts": risk_engine.local_naive(now), "customer_id": pc.customer_id,
                       "terminal_id": pc.counterparty_account_id, "amount_minor": pc.amount_minor, "tx_id": res.id})
    return res


def _hold(session: Session, a: Assessment, pc: PaymentContext, cmd: ledger.TransferCommand) -> ledger.TransferResult:
    res = ledger.transfer(session, replace(cmd, pending=True, held_for_review=True))
    d = _record(session, a, pc, cmd.key, transfer_id=res.id)
    cases.open_alert(session, decision=d)
    amount = format_minor(pc.amount_minor, pc.currency, grouping=True, symbol=True)
    notifications.notify(
        session, customer_id=pc.customer_id, kind="payment_held", ref=f"transfer:{res.id}",
        title_en="Payment held for a check", title_zh="付款待审核",
        body_en=f"Your payment of {amount} is held while we check it, usually within a few hours. The money is "
                "reserved, not sent. Why: " + " ".join(a.customer_reasons("en")),
        body_zh=f"您 {amount} 的付款正在审核中，通常几小时内完成。款项已冻结，尚未转出。原因："
                + "".join(a.customer_reasons("zh")))
    _observe(session, {**a.payment, "tx_id": res.id}, a.feats)
    res.transfer["risk"] = {"decision": "review", "decision_id": d.id, "reasons": a.customer_reasons("en"),
                            "reasons_zh": a.customer_reasons("zh")}
    return res


def _block(session: Session, a: Assessment, pc: PaymentContext, cmd: ledger.TransferCommand) -> ledger.TransferResult:
    d = _record(session, a, pc, cmd.key)
    cases.open_alert(session, decision=d)
    amount = format_minor(pc.amount_minor, pc.currency, grouping=True, symbol=True)
    notifications.notify(
        session, customer_id=pc.customer_id, kind="payment_blocked", ref=f"decision:{d.id}",
        title_en="Payment stopped", title_zh="付款已拦截",
        body_en=f"We stopped your payment of {amount}; no money left your account. Why: "
                + " ".join(a.customer_reasons("en")) + " If you made it, call us and we will help.",
        body_zh=f"您 {amount} 的付款已被拦截，资金未转出。原因：" + "".join(a.customer_reasons("zh"))
                + "如确为本人操作，请联系我们。")
    raise PaymentBlocked("this payment was stopped by our fraud checks; no money moved",
                         details={"decision_id": d.id, "reasons": a.customer_reasons("en"),
                                  "reasons_zh": a.customer_reasons("zh")})
