"""What a posting is, for people: a system posting's description as a catalogue key and its parameters.

The ledger keeps a short English ``memo`` on every transfer for operators and exports. A page must not show it:
a posting made by the bank (a wealth purchase, a loan payout, a bill payment, interest) is described from its
``kind`` and its structured facts, through the message catalogue in the reader's language. The facts come from
the transfer's ``meta`` when its producer recorded them (bill payments and top-ups: the biller's code and the
period), else from the memo's fixed wording, which the producing domain writes from its own data ("buy F-BOND",
"loan L2026-000012 paid out", "interest 2026-09"): matched here word for word, never guessed. A posting whose
facts cannot be read is described by its kind alone. A customer's own words (the memo of a transfer they made)
stay as typed.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.payments.models import Biller

__all__ = ["CUSTOMER_MEMO_KINDS", "describe", "describe_all"]

# kinds whose memo is the customer's (or the teller's) own words
CUSTOMER_MEMO_KINDS = frozenset({"transfer", "scheduled"})

_CODE = r"(?P<product>[A-Za-z0-9][A-Za-z0-9_.-]*)"
_LOAN = r"loan (?P<loan>\S+)"
# kind -> [(pattern of the producer's memo, catalogue key under "posting.")], the first match wins
_WORDING: dict[str, list[tuple[str, str]]] = {
    "wealth_purchase": [(rf"buy {_CODE}", "wealth_buy")],
    "wealth_redemption": [(rf"cancelled purchase of {_CODE}", "wealth_cancelled"),
                          (rf"maturity {_CODE}", "wealth_maturity"), (rf"redeem {_CODE}", "wealth_redeem")],
    "wealth_fee": [(rf"subscription fee {_CODE}", "wealth_subscription_fee"),
                   (rf"redemption fee {_CODE}", "wealth_redemption_fee")],
    "interest": [(r"interest (?P<month>\d{4}-\d{2})", "interest_month"), (rf"{_CODE} interest", "wealth_interest")],
    "loan_disbursement": [(rf"{_LOAN} paid out", "loan_paid_out")],
    "loan_repayment": [(rf"{_LOAN} principal", "loan_principal"), (rf"{_LOAN} interest", "loan_interest"),
                       (rf"{_LOAN} (?P<part>[a-z ]+)", "loan_repayment")],
    "loan_recovery": [(rf"{_LOAN} .* recovered after write-off", "loan_recovery")],
    "loan_writeoff": [(rf"{_LOAN} written off", "loan_writeoff")],
    "loan_provision": [(rf"{_LOAN} provision.*", "loan_provision")],
}
_PATTERNS = {k: [(re.compile(p + r"\Z"), key) for p, key in v] for k, v in _WORDING.items()}


def _names(billers: dict[str, Biller], code: str | None) -> dict[str, Any]:
    b = billers.get(code or "")
    if b is None:
        return {}
    return {"biller": {"zh": b.name_zh, "en": b.name_en}, "category": b.category}


def describe(kind: str, memo: str | None, meta: dict[str, Any] | None,
             billers: dict[str, Biller] | None = None) -> dict[str, Any] | None:
    """``{"key": "posting.<what>", "params": {...}}`` for a system posting, None for a customer's own memo (or
    no memo). A parameter that differs by language is a ``{"zh": ..., "en": ...}`` mapping."""
    if kind in CUSTOMER_MEMO_KINDS:
        return None
    meta = meta or {}
    text = (memo or "").strip()
    if kind == "bill_payment":
        params = _names(billers or {}, meta.get("biller"))
        if meta.get("phone"):
            return {"key": "posting.topup", "params": {**params, "phone": meta["phone"]}}
        period = meta.get("period") or (text.rsplit(" ", 1)[-1] if re.search(r" \d{4}-\d{2}\Z", text) else "")
        return {"key": "posting.bill", "params": {**params, "period": period}}
    for pattern, key in _PATTERNS.get(kind, []):
        m = pattern.match(text)
        if m:
            return {"key": f"posting.{key}", "params": m.groupdict()}
    return {"key": f"txkind.{kind}", "params": {}}


def describe_all(session: Session, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each history item (``kind``, ``memo``, ``meta``) with its ``describe`` added (in place; returned)."""
    codes = {(i.get("meta") or {}).get("biller") for i in items if i.get("kind") == "bill_payment"} - {None}
    billers = {b.code: b for b in session.scalars(select(Biller).where(Biller.code.in_(codes)))} if codes else {}
    for i in items:
        i["describe"] = describe(i.get("kind", ""), i.get("memo"), i.get("meta"), billers)
    return items
