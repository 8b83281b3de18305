"""Credit policy: rules as data, each with a code, an action (decline or review) and plain words.

Rules run on :class:`PolicyInput` (built by :mod:`smartbank.lending.decision`) and return hits
``{code, action, en, zh}``. The list :data:`RULES` is the whole policy; docs/LENDING.md shows it as a table.

The credit blacklist (``credit_blacklist``) keeps only a keyed hash of the resident ID number
(HMAC-SHA256 with the settings' ``secret_key`` over the normalised number) and its last four characters.
Administrators and risk officers add and remove entries; every change is audited.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.config import get_settings
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.lending.models import CreditBlacklist
from smartbank.risk import service as risk
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = [
    "BLACKLIST_ROLES", "RULES", "PolicyInput", "Rule", "add_to_blacklist", "checks", "evaluate", "fraud_flags",
    "id_hash", "is_blacklisted", "list_blacklist", "remove_from_blacklist",
]

BLACKLIST_ROLES = security.roles_for("lending.blacklist.manage")


@dataclass(frozen=True)
class PolicyInput:
    age_now: int | None
    age_at_end: int | None
    min_age: int
    max_age: int
    monthly_income_minor: int
    employment: str
    monthly_debt_minor: int  # existing monthly repayments (declared, or this bank's loans if larger)
    new_payment_minor: int  # the first monthly payment of the requested loan
    max_dti: float
    days_past_due: int  # the worst current lateness of the customer's loans at this bank
    blacklisted: bool
    fraud_confirmed: int  # payments confirmed as fraud on the customer's accounts
    fraud_open: int  # risk alerts still open
    secured: bool
    amount_minor: int
    collateral_value_minor: int | None
    max_ltv: float | None
    written_off: int = 0  # loans this bank wrote off

    @property
    def dti(self) -> float | None:
        if self.monthly_income_minor <= 0:
            return None
        return (self.monthly_debt_minor + self.new_payment_minor) / self.monthly_income_minor

    @property
    def ltv(self) -> float | None:
        if not self.secured or not self.collateral_value_minor:
            return None
        return self.amount_minor / self.collateral_value_minor


@dataclass(frozen=True)
class Rule:
    code: str
    action: str  # decline | review
    en: str
    zh: str
    when: Callable[[PolicyInput], bool]


def _too_old(x: PolicyInput) -> bool:
    return x.age_at_end is not None and x.age_at_end > x.max_age


RULES: tuple[Rule, ...] = (
    Rule("POL-BLACKLIST", "decline", "We are unable to lend to the applicant.", "申请人不符合本行借款条件。",
         lambda x: x.blacklisted),
    Rule("POL-FRAUD", "decline", "Payments on your accounts were confirmed as fraud.",
         "您的账户存在经核实的欺诈交易。", lambda x: x.fraud_confirmed > 0),
    Rule("POL-FRAUD-OPEN", "review", "A security check on your accounts is still open.",
         "您的账户有尚未完成的安全核查。", lambda x: x.fraud_confirmed == 0 and x.fraud_open > 0),
    Rule("POL-AGE", "decline", "Your age is outside this product's range (at the start or at the end of the term).",
         "您的年龄（申请时或贷款到期时）不在本产品的范围内。",
         lambda x: x.age_now is None or x.age_now < max(18, x.min_age) or _too_old(x)),
    Rule("POL-INCOME", "decline", "A loan needs a regular income.", "贷款需要有稳定的收入。",
         lambda x: x.monthly_income_minor <= 0),
    Rule("POL-WRITTEN-OFF", "decline", "A loan with us was written off as unpaid.", "您在本行有贷款因未偿还已被核销。",
         lambda x: x.written_off > 0),
    Rule("POL-DELINQ", "decline", "A loan with us is more than 30 days overdue.", "您在本行的贷款逾期超过 30 天。",
         lambda x: x.days_past_due > 30),
    Rule("POL-DELINQ-RECENT", "review", "A loan with us is overdue.", "您在本行的贷款目前有逾期。",
         lambda x: 1 <= x.days_past_due <= 30),
    Rule("POL-DTI", "decline", "The monthly repayments would be too high for your income.",
         "每月还款额相对您的收入过高。",
         lambda x: x.dti is not None and x.dti > x.max_dti),
    Rule("POL-LTV", "decline", "The amount is too high for the value of the collateral.",
         "申请金额超过抵押物价值允许的上限。",
         lambda x: x.secured and (x.ltv is None or (x.max_ltv is not None and x.ltv > x.max_ltv))),
    Rule("POL-COLLATERAL", "review", "The collateral is checked by a loan officer.", "抵押物需由信贷员审核。",
         lambda x: x.secured),
)
RULE_BY_CODE = {r.code: r for r in RULES}


def checks(*, hits: list[dict[str, Any]], features: dict[str, Any], product: dict[str, Any],
           monthly_income_minor: int) -> list[dict[str, Any]]:
    """Every rule of :data:`RULES` beside its threshold, for the officer: ``{code, action, result, value,
    limit, unit}`` where ``result`` is ``pass`` or the rule's action (from the decision's stored ``hits``) and
    ``value``/``limit`` come from the decision's stored features and the product (``unit``: ``ratio``,
    ``days``, ``age``, ``money``, ``flag``). Nothing is decided here: the stored decision is what counts."""
    hit = {h["code"] for h in hits}
    secured = product.get("kind") == "secured"
    rows: list[dict[str, Any]] = []
    for r in RULES:
        if r.code in ("POL-LTV", "POL-COLLATERAL") and not secured:
            continue
        row: dict[str, Any] = {"code": r.code, "action": r.action, "result": r.action if r.code in hit else "pass",
                               "value": None, "limit": None, "unit": "flag"}
        if r.code == "POL-DTI":
            row.update(value=features.get("_dti"), limit=product.get("max_dti"), unit="ratio")
        elif r.code == "POL-LTV":
            row.update(value=features.get("_ltv"), limit=product.get("max_ltv"), unit="ratio")
        elif r.code == "POL-DELINQ":
            row.update(value=features.get("_days_past_due"), limit=30, unit="days")
        elif r.code == "POL-DELINQ-RECENT":
            row.update(value=features.get("_days_past_due"), limit=0, unit="days")
        elif r.code == "POL-AGE":
            row.update(value=features.get("_age_at_end"), limit=[max(18, int(product.get("min_age") or 18)),
                                                                  product.get("max_age")], unit="age")
        elif r.code == "POL-INCOME":
            row.update(value=monthly_income_minor, limit=0, unit="money")
        elif r.code == "POL-COLLATERAL":
            row.update(unit="always")
        rows.append(row)
    return rows


def evaluate(x: PolicyInput) -> list[dict[str, Any]]:
    """The rules ``x`` hits, declines first, in the order of :data:`RULES`."""
    hits = [{"code": r.code, "action": r.action, "en": r.en, "zh": r.zh} for r in RULES if r.when(x)]
    return sorted(hits, key=lambda h: 0 if h["action"] == "decline" else 1)


# ------------------------------------------------------------------------------------------------
# fraud flags (asked of the risk module)

def fraud_flags(session: Session, customer_id: int) -> dict[str, int]:
    """Confirmed fraud labels and open risk alerts on the customer (asked of the risk module)."""
    return risk.customer_flags(session, customer_id)


# ------------------------------------------------------------------------------------------------
# blacklist


def _normalise(id_number: str) -> str:
    n = (id_number or "").strip().replace(" ", "").upper()
    if not n or len(n) > 40 or not n.isascii() or not n.isalnum():
        raise ValidationFailed("an identity document number is 1-40 letters and digits", details={"id_number": "***"})
    return n


def id_hash(id_number: str) -> str:
    """The number's blind index (keyed HMAC of the normalised number, the key derived from the master key): the
    same value the customers' ``id_number_bidx`` holds, so the blacklist and the customers match without either
    keeping the number."""
    return security.blind_index(_normalise(id_number), kind="id_number")


def legacy_id_hash(id_number: str) -> str:
    """How entries made before the key ring were hashed (HMAC-SHA256 keyed with the web secret). Migration 0015
    re-keyed the entries of the bank's own customers; others keep this form and are still found by it."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, _normalise(id_number).encode(), hashlib.sha256).hexdigest()


def _hashes(id_number: str) -> list[str]:
    return [id_hash(id_number), legacy_id_hash(id_number)]


def is_blacklisted(session: Session, id_number: str) -> bool:
    try:
        hashes = _hashes(id_number)
    except ValidationFailed:
        return False
    return session.scalars(select(CreditBlacklist.id).where(CreditBlacklist.id_number_hash.in_(hashes),
                                                            CreditBlacklist.active.is_(True))).first() is not None


def _entry(e: CreditBlacklist) -> dict[str, Any]:
    return {"id": e.id, "last4": e.id_number_last4, "reason": e.reason, "active": e.active, "added_by": e.added_by,
            "created_at": e.created_at.isoformat() if e.created_at else None}


def add_to_blacklist(session: Session, actor: Principal, id_number: str, reason: str) -> dict[str, Any]:
    actor.require_role(*BLACKLIST_ROLES)
    n = _normalise(id_number)
    why = " ".join((reason or "").split())
    if not why or len(why) > 200:
        raise ValidationFailed("a reason of 1-200 characters is required")
    h = id_hash(n)
    e = session.scalars(select(CreditBlacklist).where(CreditBlacklist.id_number_hash.in_(_hashes(n)))
                        .with_for_update()).first()
    if e is not None and e.active:
        raise Conflict("this person is already on the blacklist", details={"last4": e.id_number_last4})
    before = _entry(e) if e is not None else None
    if e is None:
        e = CreditBlacklist(id_number_hash=h, id_number_last4=n[-4:], reason=why, active=True,
                            added_by=actor.user_id or None)
        session.add(e)
    else:
        e.active, e.reason, e.added_by, e.id_number_hash = True, why, actor.user_id or None, h
    session.flush()
    security.audit(session, actor, action="credit_blacklist.add", object_type="credit_blacklist", object_id=e.id,
                   before=before, after=_entry(e))
    return _entry(e)


def remove_from_blacklist(session: Session, actor: Principal, id_number: str, reason: str = "") -> dict[str, Any]:
    actor.require_role(*BLACKLIST_ROLES)
    e = session.scalars(select(CreditBlacklist).where(CreditBlacklist.id_number_hash.in_(_hashes(id_number)))
                        .with_for_update()).first()
    if e is None or not e.active:
        raise NotFound("this person is not on the blacklist")
    before = _entry(e)
    e.active = False
    session.flush()
    security.audit(session, actor, action="credit_blacklist.remove", object_type="credit_blacklist",
                   object_id=e.id, before=before, after=_entry(e), note=(reason or "").strip()[:500] or None)
    return _entry(e)


def list_blacklist(session: Session, actor: Principal, *, include_removed: bool = False) -> list[dict[str, Any]]:
    actor.require_role(*BLACKLIST_ROLES)
    stmt = select(CreditBlacklist).order_by(CreditBlacklist.id)
    if not include_removed:
        stmt = stmt.where(CreditBlacklist.active.is_(True))
    return [_entry(e) for e in session.scalars(stmt)]
