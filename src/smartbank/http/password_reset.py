"""Password reset through a verified channel, from the API and the pages: a code by text message to the
phone on file. It composes the security domain (the code, the throttle) with customers (the phone) and
notifications (the SMS gateway), so it lives with the entry points, as sign-up does.

The request's answer never says whether the name exists; the throttle counts every request per typed name
and per address, for known and unknown names alike."""

from __future__ import annotations

from smartbank import db
from smartbank.customers import service as customers
from smartbank.errors import TooManyAttempts
from smartbank.notifications import service as notifications
from smartbank.security import service as security

__all__ = ["request_password_reset"]


def request_password_reset(username: str, *, address: str | None) -> None:
    """Send a reset code to the phone on file of ``username`` if it is a customer's sign-in with a phone;
    raises only :class:`TooManyAttempts` (whose counters are committed)."""
    box: dict = {}

    def work(s):
        try:
            got = security.start_password_reset(s, username=username.strip(), address=address)
        except TooManyAttempts as exc:
            box["err"] = exc
            return
        if got is None:
            return
        user, code = got
        phone = customers.get_customer(s, user.customer_id).phone if user.customer_id else None
        if phone:
            notifications.gateway().send(notifications.SmsMessage(phone=phone, ref="password-reset", text=(
                f"【smartbank】验证码 {code}，用于重置登录密码，{security.OTP_MINUTES} 分钟内有效。"
                "如非本人操作请忽略并联系银行。请勿向任何人透露。"
                f" Code {code} resets your password; valid for {security.OTP_MINUTES} minutes."
                " If you did not ask for it, ignore it and call the bank. Never tell it to anyone.")))

    db.run_in_transaction(work)
    if "err" in box:
        raise box["err"]
