"""A customer's own high-risk changes, each behind a step-up: changing the phone number on file and raising
the daily payment limit.

The step-up is a fresh TOTP code when the customer has enrolled a second factor, else a one-time code sent
by text message to the phone on file (for a phone change: the old number, the one an attacker who holds a
session does not hold). A request without a code answers :class:`~smartbank.errors.ChallengeRequired`
(``details.method`` ``"totp"`` or ``"sms"``; persisted, so the text message's code is kept); the same request
with ``step_up_code`` makes the change. Lowering the limit needs no step-up.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from smartbank.config import get_settings
from smartbank.customers.models import Customer
from smartbank.customers.validation import normalise_phone
from smartbank.errors import ChallengeRequired, NotAuthenticated, ValidationFailed
from smartbank.notifications import service as notifications
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = ["SELF_MAX_DAILY_LIMIT_MINOR", "change_own_phone", "set_own_daily_limit"]

SELF_MAX_DAILY_LIMIT_MINOR = 200_000_00  # above this a customer asks at the counter (a teller sets it)

_TEXT = {
    "phone_change": ("更换手机号", "change your phone number"),
    "limit_raise": ("提高每日转账限额", "raise your daily payment limit"),
}


def _own(session: Session, actor: Principal) -> Customer:
    if actor.customer_id is None:
        raise NotAuthenticated("customers sign in here")
    c = session.get(Customer, actor.customer_id, with_for_update=True)
    if c is None:
        raise NotAuthenticated("customers sign in here")
    return c


def _step_up(session: Session, actor: Principal, c: Customer, purpose: str, code: str | None) -> str:
    """The method that passed, or raises :class:`ChallengeRequired` (a code sent) / ``OtpInvalid``."""
    method = security.step_up_method(session, actor)
    if code:
        return security.check_step_up(session, actor, purpose=purpose, code=code)
    if method == "totp":
        raise ChallengeRequired("this change needs a code from your authenticator app",
                                details={"method": "totp", "purpose": purpose})
    if not c.phone:
        raise ValidationFailed("there is no phone number on file to send a code to; please visit a branch",
                               code="no_phone")
    _ch, otp = security.issue_sms_code(session, user_id=actor.user_id, purpose=purpose)
    zh, en = _TEXT[purpose]
    notifications.gateway().send(notifications.SmsMessage(phone=c.phone, ref=f"step-up:{purpose}", text=(
        f"【smartbank】验证码 {otp}，用于{zh}，{security.OTP_MINUTES} 分钟内有效。请勿向任何人透露。"
        f" Code {otp} lets you {en}; valid for {security.OTP_MINUTES} minutes. Never tell it to anyone.")))
    sent_to = security.mask_phone(c.phone)
    raise ChallengeRequired(f"this change needs the one-time code we sent by text message to {sent_to}",
                            details={"method": "sms", "purpose": purpose, "sent_to": sent_to})


def change_own_phone(session: Session, actor: Principal, *, phone: str, step_up_code: str | None = None) -> Customer:
    """The customer changes their phone number (step-up first; audited with both numbers masked)."""
    c = _own(session, actor)
    new = normalise_phone(phone)
    if new == c.phone:
        raise ValidationFailed("that is already your phone number", code="phone_unchanged")
    method = _step_up(session, actor, c, "phone_change", step_up_code)
    old = c.phone
    c.phone = new
    session.flush()
    security.audit(session, actor, action="customer.phone_changed", object_type="customer", object_id=c.id,
                   before={"phone": security.mask_phone(old)}, after={"phone": security.mask_phone(new),
                                                                      "step_up": method})
    return c


def set_own_daily_limit(session: Session, actor: Principal, *, limit_minor: int,
                        step_up_code: str | None = None) -> Customer:
    """The customer sets their daily payment limit: lowering it is immediate, raising it needs a step-up, and
    at most :data:`SELF_MAX_DAILY_LIMIT_MINOR`."""
    c = _own(session, actor)
    if limit_minor < 0 or limit_minor > SELF_MAX_DAILY_LIMIT_MINOR:
        raise ValidationFailed("that limit is out of range", code="limit_out_of_range",
                               details={"min": 0, "max": SELF_MAX_DAILY_LIMIT_MINOR})
    current = c.daily_limit_minor if c.daily_limit_minor is not None else get_settings().default_daily_limit_minor
    method = None
    if limit_minor > current:
        method = _step_up(session, actor, c, "limit_raise", step_up_code)
    c.daily_limit_minor = limit_minor
    session.flush()
    security.audit(session, actor, action="customer.daily_limit_set", object_type="customer", object_id=c.id,
                   before={"daily_limit_minor": current}, after={"daily_limit_minor": limit_minor, "step_up": method})
    return c
