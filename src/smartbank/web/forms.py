"""Reading form and query values: amounts in yuan (never floats), dates, ids, idempotency keys."""

from __future__ import annotations

import re
import secrets
from datetime import date

from smartbank.db import MAX_ID
from smartbank.errors import SmartbankError, ValidationFailed
from smartbank.ledger.service import valid_account_number
from smartbank.money import format_minor, parse_major
from smartbank.web.i18n import error_text, translate


class FormError(ValidationFailed):
    """Bad input caught by the web layer itself; ``key`` is its message-catalog key."""

    def __init__(self, key: str, *, reason: str | None = None, **kw):
        # the catalogue key is the refusal's reason too (its words are form.<...>, also error_message.<key>)
        super().__init__(key, reason=reason or key, details=kw)
        self.key = key
        self.kw = kw


def message(exc: SmartbankError, lang: str) -> str:
    if isinstance(exc, FormError):
        return translate(lang, exc.key, **exc.kw)
    return error_text(exc, lang)


def new_key() -> str:
    """An idempotency key, made when a payment form is drawn and carried in a hidden field."""
    return secrets.token_urlsafe(18)


def key_or_new(value: str | None) -> str:
    v = (value or "").strip()
    return v if re.fullmatch(r"[A-Za-z0-9_-]{8,64}", v) else new_key()


def amount(text: str | None, currency: str = "CNY") -> int:
    """A positive amount typed in yuan ("1,234.50") as minor units."""
    if not (text or "").strip():
        raise FormError("form.amount_required")
    try:
        minor = parse_major(text or "", currency)
    except ValidationFailed as exc:
        raise FormError("form.bad_amount") from exc
    if minor <= 0:
        raise FormError("form.amount_positive")
    return minor


def plain_amount(minor: int, currency: str = "CNY") -> str:
    """Minor units back to the yuan text a form carries (no grouping): parses to the same value."""
    return format_minor(minor, currency)


def optional_amount(text: str | None, currency: str = "CNY") -> int | None:
    if not (text or "").strip():
        return None
    try:
        return parse_major(text or "", currency)
    except ValidationFailed as exc:
        raise FormError("form.bad_amount") from exc


def optional_date(text: str | None) -> date | None:
    if not (text or "").strip():
        return None
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError as exc:
        raise FormError("form.bad_date") from exc


def required_date(text: str | None) -> date:
    d = optional_date(text)
    if d is None:
        raise FormError("form.date_required")
    return d


def int_id(text: str | int | None, key: str = "form.choose_account") -> int:
    try:
        value = int(str(text or "").strip())
    except ValueError as exc:
        raise FormError(key, reason=key) from exc
    if not 0 < value <= MAX_ID:  # a larger id cannot exist (and would overflow the database driver)
        raise FormError(key, reason=key)
    return value


def account_number(text: str | None) -> str:
    number = re.sub(r"[\s-]", "", text or "")
    if not number:
        raise FormError("form.account_number_required")
    if not valid_account_number(number):
        raise FormError("form.bad_account_number")
    return number


def short_text(text: str | None, limit: int, key: str = "form.too_long") -> str:
    v = " ".join((text or "").split())
    if len(v) > limit:
        raise FormError(key, reason=key, limit=limit)
    return v
