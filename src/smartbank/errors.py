"""The exception hierarchy. Every error carries its HTTP status and a stable code.

One handler in :mod:`smartbank.api.app` renders them as ``{"code", "reason", "message", "details"}``: ``code`` is
the class of the refusal, ``reason`` its specific stable name and ``details`` its parameters (amounts in minor
units, limits, ranges), from which the web renders the message in the page's language.
"""

from __future__ import annotations

from typing import Any


class SmartbankError(Exception):
    status_code = 400
    code = "bad_request"
    # a refusal that is itself a record: the unit of work commits what was written before the error (a
    # risk decision, an alert, a notification) instead of rolling it back. Such errors are raised only
    # after every write they keep and before any money moves.
    persist = False

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, code: str | None = None,
                 reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code
        # the stable, specific name of this refusal (``wealth.below_minimum``): the message catalogue's key
        # ``errors.<reason>``, rendered with ``details`` as its parameters in the reader's language
        # (:func:`smartbank.web.i18n.error_text`). The API returns it beside ``code``.
        self.reason = reason or self.code


class ValidationFailed(SmartbankError):
    status_code = 422
    code = "validation_error"


class NotAuthenticated(SmartbankError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(SmartbankError):
    status_code = 403
    code = "forbidden"


class NotFound(SmartbankError):
    status_code = 404
    code = "not_found"


class Conflict(SmartbankError):
    status_code = 409
    code = "conflict"


class Unavailable(SmartbankError):
    """A service the request needs (such as the text-message gateway) failed; nothing was kept."""

    status_code = 503
    code = "unavailable"


class TooManyAttempts(SmartbankError):
    status_code = 429
    code = "too_many_attempts"


# --- ledger -----------------------------------------------------------------------------------


class LedgerError(SmartbankError):
    status_code = 422
    code = "ledger_rejected"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class AccountNotOpen(LedgerError):
    code = "account_not_open"


class CurrencyMismatch(LedgerError):
    code = "currency_mismatch"


class DailyLimitExceeded(LedgerError):
    code = "daily_limit_exceeded"


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"


class PendingAlreadyResolved(Conflict):
    code = "pending_already_resolved"


# --- strong identity: a wrong code is counted, so the refusal commits what it counted ---------------


class WrongCode(ValidationFailed):
    """A one-time code, second-factor code or current password that is not right (the attempt is counted)."""

    code = "code_invalid"
    persist = True


class SecondFactorFailed(NotAuthenticated):
    """The second step of a sign-in with a code that is not right (the attempt is counted)."""

    code = "mfa_invalid"
    persist = True


# --- risk -------------------------------------------------------------------------------------


class RiskRefusal(SmartbankError):
    status_code = 403
    code = "risk_refused"
    persist = True


class ChallengeRequired(RiskRefusal):
    """The payment needs a one-time code: resubmit the same request with ``challenge_id`` and ``otp``."""

    code = "challenge_required"


class OtpInvalid(RiskRefusal):
    code = "otp_invalid"


class PaymentBlocked(RiskRefusal):
    code = "payment_blocked"
