"""Pydantic request/response schemas of the public API. Unknown fields are refused."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smartbank.db import MAX_ID  # re-exported for the routers


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, v: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the driver
        if isinstance(v, str) and "\x00" in v:
            raise ValueError("must not contain NUL characters")
        return v


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)



# Money and ids are JSON integers only: no true (= 1), "100" or 100.0 coerced into an amount.
Amount = Field(gt=0, le=10**15, strict=True, description="integer minor units (fen for CNY)")
Id = Field(ge=1, le=MAX_ID, strict=True)
Key = Field(min_length=1, max_length=128, description="client-chosen idempotency key")


class LoginIn(In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


class SignupIn(In):
    name: str = Field(min_length=1, max_length=200)
    id_number: str = Field(min_length=18, max_length=18, description="PRC resident identity card number")
    phone: str = Field(min_length=5, max_length=20)
    email: str | None = Field(default=None, max_length=200)
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=8, max_length=128)


class TokenOut(Out):
    token: str
    token_type: str = "bearer"
    expires_in: int
    role: str
    user_id: int
    customer_id: int | None


class MeOut(Out):
    user_id: int
    username: str
    role: str
    customer_id: int | None
    display_name: str


class AccountOut(Out):
    id: int
    number: str
    customer_id: int | None
    kind: str
    name: str
    currency: str
    status: str
    balance_minor: int
    available_minor: int
    overdraft_limit_minor: int | None
    interest_rate: float | None = None
    opened_on: date | None

    @classmethod
    def of(cls, a) -> AccountOut:
        return cls(id=a.id, number=a.number, customer_id=a.customer_id, kind=a.kind, name=a.name,
                   currency=a.currency, status=a.status, balance_minor=a.balance_minor,
                   available_minor=a.available_minor, overdraft_limit_minor=a.overdraft_limit_minor,
                   interest_rate=float(a.interest_rate) if a.interest_rate is not None else None,
                   opened_on=a.opened_on)


class TransferIn(In):
    from_account_id: int = Id
    to_account_number: str = Field(min_length=6, max_length=32)
    amount_minor: int = Amount
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    memo: str = Field(default="", max_length=200)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128,
                                        description="or send the Idempotency-Key header")
    challenge_id: int | None = Field(default=None, ge=1, le=2**63 - 1,
                                     description="answering a risk challenge: its id (from the 403 challenge_required)")
    otp: str | None = Field(default=None, min_length=4, max_length=12, pattern=r"^[0-9]+$",
                            description="answering a risk challenge: the one-time code sent to the customer")


class RiskOut(Out):
    decision: str
    decision_id: int
    reasons: list[str]
    reasons_zh: list[str]


class TransferOut(Out):
    id: int
    kind: str
    status: str
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    currency: str
    memo: str
    reference: str | None
    value_date: date
    created_at: datetime  # raw SQL rows on SQLite carry it as text: parsed, so both backends answer alike
    pending_id: int | None = None
    reverses_id: int | None = None
    risk: RiskOut | None = Field(default=None, description="set when the payment is held for a risk review")

    @classmethod
    def of(cls, t: dict[str, Any]) -> TransferOut:
        status = {"posted": "posted", "pending": "pending", "post_pending": "posted",
                  "void_pending": "voided"}.get(t["flags"], t["flags"])
        return cls(id=t["id"], kind=t["kind"], status=status, debit_account_id=t["debit_account_id"],
                   credit_account_id=t["credit_account_id"], amount_minor=t["amount_minor"],
                   currency=t["currency"], memo=t["memo"], reference=t["reference"], value_date=t["value_date"],
                   created_at=t["created_at"], pending_id=t.get("pending_id"), reverses_id=t.get("reverses_id"),
                   risk=t.get("risk"))


class PayeeIn(In):
    name: str = Field(min_length=1, max_length=200)
    account_number: str = Field(min_length=6, max_length=32)
    nickname: str | None = Field(default=None, max_length=64)


class PayeeOut(Out):
    id: int
    customer_id: int
    name: str
    account_number: str
    nickname: str | None


class ScheduledIn(In):
    from_account_id: int = Id
    to_account_number: str = Field(min_length=6, max_length=32)
    amount_minor: int = Amount
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    frequency: Literal["once", "daily", "weekly", "monthly"]
    start_date: date
    end_date: date | None = None
    memo: str = Field(default="", max_length=200)


class PaymentWarningOut(Out):
    code: str = Field(description="insufficient_funds (the account holds less than the next run) or daily_limit "
                                  "(less than the amount is left of today's limit, for a run due today)")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ScheduledOut(Out):
    id: int
    from_account_id: int
    to_account_id: int
    amount_minor: int
    currency: str
    frequency: str
    start_date: date
    end_date: date | None
    next_run: date | None
    runs: int
    failures: int
    last_error: str | None
    status: str
    memo: str
    warnings: list[PaymentWarningOut] = Field(
        default_factory=list, description="what stands in the way of the next run as things are now; the "
                                          "transfer is accepted anyway (money may arrive before the date)")


class BillerOut(Out):
    code: str
    name_zh: str
    name_en: str
    category: str
    city: str | None
    requires_bill: bool


class BillOut(Out):
    id: int
    reference: str
    period: str
    amount_minor: int
    currency: str
    due_date: date
    status: str


class BillPaymentIn(In):
    from_account_id: int = Id
    bill_id: int = Id
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)
    challenge_id: int | None = Field(default=None, ge=1, le=2**63 - 1,
                                     description="answering a risk challenge: its id (from the 403 challenge_required)")
    otp: str | None = Field(default=None, min_length=4, max_length=12, pattern=r"^[0-9]+$",
                            description="answering a risk challenge: the one-time code sent to the customer")


class TopUpIn(In):
    from_account_id: int = Id
    biller_code: str = Field(min_length=1, max_length=32)
    phone: str = Field(min_length=5, max_length=20)
    amount_minor: int = Amount
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)
    challenge_id: int | None = Field(default=None, ge=1, le=2**63 - 1,
                                     description="answering a risk challenge: its id (from the 403 challenge_required)")
    otp: str | None = Field(default=None, min_length=4, max_length=12, pattern=r"^[0-9]+$",
                            description="answering a risk challenge: the one-time code sent to the customer")


class HistoryOut(Out):
    items: list[dict[str, Any]]
    next_cursor: str | None


class CustomerIn(In):
    kind: Literal["individual", "business"] = "individual"
    name: str = Field(min_length=1, max_length=200)
    id_number: str = Field(min_length=5, max_length=40)
    id_type: str | None = Field(default=None, max_length=24, description=(
        "resident_id (default for individuals), passport, hk_macau_permit, taiwan_permit; business_licence "
        "(unified social credit code, default for businesses)"))
    birth_date: date | None = Field(default=None, description="required with a passport or travel permit")
    document_checked: bool = Field(default=False, strict=True, description=(
        "the teller examined the original identity document with its holder: records the identity as verified "
        "by this teller (otherwise the customer's KYC is pending)"))
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=300)
    occupation: str | None = Field(default=None, max_length=64)
    annual_income_minor: int | None = Field(default=None, ge=0, le=10**15, strict=True)
    daily_limit_minor: int | None = Field(default=None, ge=0, le=10**15, strict=True)


class CustomerOut(Out):
    id: int
    number: str
    kind: str
    name: str | None
    id_type: str
    id_number: str | None
    birth_date: date | None
    gender: str | None
    phone: str | None
    email: str | None
    city: str | None
    occupation: str | None
    annual_income_minor: int | None
    kyc_status: str
    kyc_method: str | None = None
    kyc_verified_at: datetime | None = None
    daily_limit_minor: int | None
    status: str
    masked: bool = Field(default=False, description=(
        "true when the masking policy shows the caller's role less than the full record: id_number, phone and "
        "email masked (a teller or an officer reveals one with a reason: POST .../reveal), and for some roles "
        "birth_date and annual_income_minor left out"))


class RevealIn(In):
    field: Literal["id_number", "phone", "email", "address", "birth_date", "name"]
    reason: str = Field(default="", max_length=1000, description="why the full value is needed (required, audited)")


class RevealOut(Out):
    customer_id: int
    field: str
    value: str | None


class KycIn(In):
    outcome: Literal["verified", "rejected"]
    note: str = Field(default="", max_length=200)


class OpenAccountIn(In):
    kind: Literal["demand", "savings"] = "demand"
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    name: str = Field(default="", max_length=200)
    interest_rate: float | None = Field(default=None, ge=0, le=0.2)
    overdraft_limit_minor: int = Field(default=0, ge=0, le=10**12, strict=True)


class CashIn(In):
    account_id: int = Id
    amount_minor: int = Amount
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    idempotency_key: str = Key
    memo: str = Field(default="", max_length=200)


class HoldIn(In):
    from_account_id: int = Id
    to_account_id: int = Id
    amount_minor: int = Amount
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    idempotency_key: str = Key
    memo: str = Field(default="", max_length=200)


class KeyIn(In):
    idempotency_key: str = Key
    memo: str = Field(default="", max_length=200)


class ReverseIn(In):
    idempotency_key: str = Key
    memo: str = Field(default="", max_length=200, description="why the transfer is reversed")
    overdraw: bool = Field(default=False, strict=True, description=(
        "the account the money comes back from may end below its overdraft limit (the customer spent it):"
        " posted on approval and recorded as a negative-balance exception; needs a memo. Without it, such a"
        " reversal is refused."))


class DecisionNoteIn(In):
    note: str = Field(default="", max_length=500)


class RejectIn(In):
    note: str = Field(min_length=1, max_length=500, description="why the reversal is turned down")


class ReversalOut(Out):
    id: int
    transfer_id: int
    status: Literal["requested", "executed", "rejected"]
    reason: str
    overdraw: bool
    alert_id: int | None
    requested_by: int | None
    requested_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str | None
    reversal_id: int | None = Field(description="the reversing transfer, once approved")
    shortfall_account_id: int | None
    shortfall_minor: int | None = Field(description="how far below its overdraft limit the reversal left the"
                                                    " account (a negative-balance exception for collections)")
    shortfall_if_approved_minor: int | None = Field(None, description="waiting requests: what approving now"
                                                                      " would overdraw")
    amount_minor: int
    currency: str
    kind: str
    debit_account_id: int
    credit_account_id: int
    memo: str


class StatusIn(In):
    reason: str = Field(default="", max_length=200)


class DailyLimitIn(In):
    daily_limit_minor: int | None = Field(ge=0, le=10**15, strict=True)
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


class UserIn(In):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=8, max_length=128)
    role: Literal["teller", "loan_officer", "risk_officer", "marketer", "service_agent", "admin"]
    display_name: str = Field(default="", max_length=200)
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


class UserRoleIn(In):
    role: Literal["teller", "loan_officer", "risk_officer", "marketer", "service_agent", "admin"]
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


class UserActiveIn(In):
    active: bool = Field(strict=True)
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


class AuditOut(Out):
    id: int
    at: datetime
    actor_user_id: int | None
    actor_role: str | None
    action: str
    object_type: str
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class ErrorOut(BaseModel):
    code: str
    reason: str
    message: str
    details: dict[str, Any] = {}
