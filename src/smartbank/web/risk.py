"""What the portal shows when the risk checks act on a payment: the one-time-code step of a challenged
payment (a generic page that posts the same form again with ``challenge_id`` and ``otp``), and the
plain-words reasons of a blocked one."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from smartbank.errors import ChallengeRequired, OtpInvalid, PaymentBlocked, SmartbankError
from smartbank.web import forms
from smartbank.web.i18n import lang_of
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()


def challenge_id_of(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def otp_page(request: Request, *, action: str, values: dict[str, str], details: dict[str, Any],
             error: str | None = None, status_code: int = 200, here: str | None = None) -> Response:
    lang = lang_of(request)
    reasons = details.get("reasons_zh" if lang.startswith("zh") else "reasons") or []
    return render(request, "portal/otp.html", action=action, values=values,
                  challenge_id=details.get("challenge_id"), attempts_left=details.get("attempts_left"),
                  sent_to=details.get("sent_to"),
                  reasons=reasons, error=error, error_field="otp" if error else None, here=here or action,
                  status_code=status_code)


def handle(request: Request, exc: SmartbankError, *, action: str, values: dict[str, str],
           challenge_id: str) -> Response | str:
    """The page for a risk refusal of a payment form (the code step), or the error text for the form itself."""
    lang = lang_of(request)
    if isinstance(exc, ChallengeRequired):
        return otp_page(request, action=action, values=values, details=exc.details)
    if isinstance(exc, OtpInvalid) and exc.details.get("attempts_left") and challenge_id.isdigit():
        return otp_page(request, action=action, values=values,
                        details={**exc.details, "challenge_id": int(challenge_id)},
                        error=forms.message(exc, lang), status_code=422)
    if isinstance(exc, PaymentBlocked):
        why = exc.details.get("reasons_zh" if lang.startswith("zh") else "reasons") or []
        return " ".join([forms.message(exc, lang), *why])
    return forms.message(exc, lang)
