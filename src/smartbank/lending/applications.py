"""Online loan applications: prefill, submit (with the automatic decision at once), read, accept, withdraw.

A customer acts only on their own applications: another customer's is "not found". Loan officers and
administrators read any application (the officers' work is in :mod:`smartbank.lending.review`).

Submitting validates everything before the first write (bad input writes nothing), then records the
application, its ``submitted`` event and runs :func:`smartbank.lending.decision.run` in the same unit of
work. The client's idempotency key (namespaced by user) makes a retry return the same application; the
same key with a different body is a 409.

An approved offer is open until ``offer_expires_at`` (:data:`~smartbank.lending.decision.OFFER_DAYS`
days); accepting it moves the application to ``accepted`` and, when the servicing module is installed,
disburses the loan in the same transaction. :func:`expire_offers` closes lapsed offers at close of day.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.db import aware as _aware
from smartbank.errors import Conflict, Forbidden, IdempotencyConflict, NotFound, ValidationFailed
from smartbank.insight import service as insight
from smartbank.ledger import service as ledger
from smartbank.ledger.service import utcnow
from smartbank.lending import adverse, decision, products, servicing, states
from smartbank.lending.models import (
    EMPLOYMENT,
    CreditDecision,
    LoanApplication,
    LoanApplicationEvent,
    LoanProduct,
)
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = [
    "ApplicationIn", "OfferExpired", "STAFF_READERS", "accept", "application_view", "expire_offers",
    "get_application", "list_applications", "prefill", "submit", "withdraw",
]

log = logging.getLogger("smartbank.lending")

STAFF_READERS = security.roles_for("lending.applications.read")
CHANNELS = ("web", "api", "assistant", "branch")
MAX_MONEY = 10**13
COLLATERAL_KINDS = products.COLLATERAL_KINDS
WITHDRAWABLE = ("submitted", "scoring", "manual_review", "approved")


class OfferExpired(Conflict):
    code = "offer_expired"


@dataclass(frozen=True)
class ApplicationIn:
    product: str
    account_id: int
    amount_minor: int
    term_months: int
    method: str
    purpose: str
    monthly_income_minor: int
    employment: str
    employer: str | None = None
    years_employed: int | None = None
    dependents: int = 0
    existing_debt_minor: int = 0
    existing_monthly_repayment_minor: int = 0
    revolving_balance_minor: int | None = None
    revolving_limit_minor: int | None = None
    open_credit_lines: int | None = None
    real_estate_loans: int | None = None
    collateral_kind: str | None = None
    collateral_value_minor: int | None = None
    collateral_description: str | None = None


def _now() -> datetime:
    return utcnow()


def _iso(dt: datetime | None) -> str | None:
    a = _aware(dt)
    return a.isoformat() if a is not None else None


# ------------------------------------------------------------------------------------------------
# validation


def _whole(name: str, v: Any, lo: int, hi: int, *, optional: bool = False) -> int | None:
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValidationFailed(f"{name} must be a whole number from {lo} to {hi}", reason="lending.whole_number",
                               details={"field": name, "value": v, "low": lo, "high": hi})
    return v


def _words(name: str, v: Any, limit: int, *, required: bool) -> str | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise ValidationFailed(f"{name} is required", reason="lending.required", details={"field": name})
        return None
    if not isinstance(v, str):
        raise ValidationFailed(f"{name} is text", reason="lending.text", details={"field": name})
    s = " ".join(v.split())
    if len(s) > limit or "\x00" in s:
        raise ValidationFailed(f"{name} is at most {limit} characters", reason="lending.too_long",
                               details={"field": name, "limit": limit})
    return s


def _require_customer(actor: Principal) -> int:
    if actor.is_staff or actor.customer_id is None:
        raise Forbidden("loan applications are made by the customer", details={"role": actor.role})
    return actor.customer_id


def _payout_account(session: Session, actor: Principal, account_id: int, currency: str) -> Any:
    acct = ledger.find_account(session, account_id)
    if acct is None or acct.customer_id != actor.customer_id:
        raise NotFound("account not found", details={"account_id": account_id})
    if acct.kind != "demand" or acct.status != "open":
        raise ValidationFailed("the loan is paid into and repaid from an open current account",
                               details={"account_id": account_id, "kind": acct.kind, "status": acct.status},
                               code="account_not_eligible")
    if acct.currency != currency:
        raise ValidationFailed("the account's currency differs from the loan's",
                               details={"account_currency": acct.currency, "currency": currency})
    return acct


def _clean(session: Session, actor: Principal, cmd: ApplicationIn) -> tuple[LoanProduct, dict[str, Any]]:
    """The product and the application's columns, validated; raises before anything is written."""
    code = cmd.product if isinstance(cmd.product, str) else ""
    product = products.get_product(session, code)
    if product.status != "active":
        raise NotFound("loan product not found", details={"product": cmd.product})
    _whole("account_id", cmd.account_id, 1, 2**63 - 1)
    products.check_terms(product, amount_minor=cmd.amount_minor, term_months=cmd.term_months, method=cmd.method)
    out: dict[str, Any] = {
        "product_id": product.id, "amount_minor": cmd.amount_minor, "currency": product.currency,
        "term_months": cmd.term_months, "method": cmd.method,
        "purpose": _words("purpose", cmd.purpose, 200, required=True),
        "monthly_income_minor": _whole("monthly_income_minor", cmd.monthly_income_minor, 0, MAX_MONEY),
        "employer": _words("employer", cmd.employer, 200, required=False),
        "years_employed": _whole("years_employed", cmd.years_employed, 0, 70, optional=True),
        "dependents": _whole("dependents", cmd.dependents, 0, 20),
        "existing_debt_minor": _whole("existing_debt_minor", cmd.existing_debt_minor, 0, MAX_MONEY),
        "existing_monthly_repayment_minor": _whole("existing_monthly_repayment_minor",
                                                   cmd.existing_monthly_repayment_minor, 0, MAX_MONEY),
        "revolving_balance_minor": _whole("revolving_balance_minor", cmd.revolving_balance_minor, 0, MAX_MONEY,
                                          optional=True),
        "revolving_limit_minor": _whole("revolving_limit_minor", cmd.revolving_limit_minor, 1, MAX_MONEY,
                                        optional=True),
        "open_credit_lines": _whole("open_credit_lines", cmd.open_credit_lines, 0, 200, optional=True),
        "real_estate_loans": _whole("real_estate_loans", cmd.real_estate_loans, 0, 50, optional=True),
    }
    if cmd.employment not in EMPLOYMENT:
        raise ValidationFailed("unknown employment", details={"field": "employment", "allowed": list(EMPLOYMENT)})
    out["employment"] = cmd.employment
    if out["revolving_balance_minor"] is not None and out["revolving_limit_minor"] is None:
        raise ValidationFailed("a credit-card balance needs the cards' limit",
                               details={"field": "revolving_limit_minor"})
    want = products.collateral_kind(product)
    if want is None:
        if cmd.collateral_kind is not None or cmd.collateral_value_minor is not None or cmd.collateral_description:
            raise ValidationFailed("this product takes no collateral", details={"field": "collateral_kind"})
        out.update(collateral_kind=None, collateral_value_minor=None, collateral_description=None)
    else:
        if cmd.collateral_kind != want:
            raise ValidationFailed(f"this product is secured by a {want}", reason=f"lending.secured_by_{want}",
                                   details={"field": "collateral_kind", "expected": want})
        out["collateral_kind"] = want
        out["collateral_value_minor"] = _whole("collateral_value_minor", cmd.collateral_value_minor, 1, MAX_MONEY)
        out["collateral_description"] = _words("collateral_description", cmd.collateral_description, 300,
                                               required=True)
    acct = _payout_account(session, actor, cmd.account_id, product.currency)
    out["account_id"] = acct.id
    return product, out


def _same(app: LoanApplication, fields: dict[str, Any]) -> bool:
    return all(getattr(app, k) == v for k, v in fields.items())


# ------------------------------------------------------------------------------------------------
# submitting


def submit(session: Session, actor: Principal, cmd: ApplicationIn, *, idempotency_key: str | None = None,
           channel: str = "api", now: datetime | None = None) -> tuple[LoanApplication, bool]:
    """Validate, record and decide an application at once. Returns (application, created): a retry with
    the same key and body returns the first application and False."""
    cid = _require_customer(actor)
    if channel not in CHANNELS:
        raise ValidationFailed("unknown channel", details={"channel": channel})
    key = None
    if idempotency_key is not None:
        k = idempotency_key.strip()
        if not k or len(k) > 128 or "\x00" in k:
            raise ValidationFailed("an idempotency key of 1-128 characters is required")
        key = f"u{actor.user_id}:{k}"
        old = session.scalars(select(LoanApplication).where(LoanApplication.idempotency_key == key)).first()
        if old is not None:
            return _replay(session, actor, old, cmd), False
    product, fields = _clean(session, actor, cmd)
    now = now or _now()
    app = LoanApplication(number=f"LA{now:%Y%m%d}{secrets.randbelow(10**8):08d}", idempotency_key=key,
                          customer_id=cid, channel=channel, status="submitted", created_at=now, updated_at=now,
                          version=1, **fields)
    session.add(app)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # the same key submitted concurrently, after the look-up above
        old = session.scalars(select(LoanApplication).where(LoanApplication.idempotency_key == key)).first()
        if key is None or old is None:
            raise Conflict("the application could not be recorded; try again") from exc
        return _replay(session, actor, old, cmd), False
    states.record_submitted(session, app, actor_id=actor.user_id or None)
    decision.run(session, app, product, now=now)
    return app, True


def _replay(session: Session, actor: Principal, old: LoanApplication, cmd: ApplicationIn) -> LoanApplication:
    try:
        _product, fields = _clean(session, actor, cmd)
    except (ValidationFailed, NotFound) as exc:
        raise IdempotencyConflict("this idempotency key was used for a different application") from exc
    if old.customer_id != actor.customer_id or not _same(old, fields):
        raise IdempotencyConflict("this idempotency key was used for a different application",
                                  details={"application_id": old.id})
    return old


# ------------------------------------------------------------------------------------------------
# reading


def _can_read_all(actor: Principal) -> bool:
    return actor.role in STAFF_READERS or actor.role == "admin"


def load(session: Session, actor: Principal, application_id: int, *, lock: bool = False) -> LoanApplication:
    """The application if the actor may see it: its customer, a loan officer or an administrator."""
    if actor.is_staff and not _can_read_all(actor):
        raise Forbidden("your role may not read loan applications", details={"role": actor.role})
    stmt = select(LoanApplication).where(LoanApplication.id == application_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    app = session.scalars(stmt).first()
    if app is None or (not actor.is_staff and app.customer_id != actor.customer_id):
        raise NotFound("application not found", details={"application_id": application_id})
    return app


def get_application(session: Session, actor: Principal, application_id: int) -> LoanApplication:
    app = load(session, actor, application_id)
    security.audit_reads(session, actor, action="loan_application.read", customer_ids=[app.customer_id],
                         shown={"application_id": app.id})
    return app


def list_applications(session: Session, actor: Principal, *, status: str | None = None, limit: int = 50
                      ) -> list[LoanApplication]:
    """The customer's own applications, newest first (officers and administrators: everyone's)."""
    if actor.is_staff and not _can_read_all(actor):
        raise Forbidden("your role may not read loan applications", details={"role": actor.role})
    if status is not None and status not in states.TRANSITIONS:
        raise ValidationFailed("unknown status", details={"status": status, "allowed": list(states.TRANSITIONS)})
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500")
    stmt = select(LoanApplication).order_by(LoanApplication.created_at.desc(), LoanApplication.id.desc())
    if not actor.is_staff:
        stmt = stmt.where(LoanApplication.customer_id == actor.customer_id)
    if status is not None:
        stmt = stmt.where(LoanApplication.status == status)
    apps = list(session.scalars(stmt.limit(limit)))
    security.audit_reads(session, actor, action="loan_applications.read", customer_ids=[a.customer_id for a in apps])
    return apps


def events_of(session: Session, application_id: int) -> list[LoanApplicationEvent]:
    return list(session.scalars(select(LoanApplicationEvent).where(LoanApplicationEvent.application_id
                                                                   == application_id)
                                .order_by(LoanApplicationEvent.at, LoanApplicationEvent.id)))


def progress(events: list[LoanApplicationEvent], status: str) -> list[dict[str, Any]]:
    """The progress line: each state of :data:`states.PROGRESS` with when it was reached; manual review
    only when the application went through it; an early end (declined, withdrawn, expired, written off) last."""
    reached: dict[str, str | None] = {}
    for e in events:
        if e.from_status != e.to_status and e.to_status not in reached:
            reached[e.to_status] = _iso(e.at)
    line = []
    for st in states.PROGRESS:
        if st == "manual_review" and st not in reached:
            continue
        line.append({"state": st, "at": reached.get(st), "done": st in reached, "current": st == status})
    if status in ("declined", "withdrawn", "expired", "written_off"):
        line = [x for x in line if x["done"]]
        line.append({"state": status, "at": reached.get(status), "done": True, "current": True})
    return line


def _decision_view(d: CreditDecision | None, *, staff: bool, outcome_status: str) -> dict[str, Any] | None:
    if d is None:
        return None
    reasons = list(d.reasons or [])
    if not staff:
        # the customer's main reasons in plain words, from the allow-list only: never a protected attribute
        # (age, family status, ...), never an internal detail beyond code and text
        reasons = adverse.for_customer(reasons)
    out: dict[str, Any] = {"id": d.id, "stage": d.stage, "outcome": d.outcome, "reasons": reasons,
                           "decided_at": _iso(d.created_at)}
    if staff:
        out.update(pd=d.pd, points=d.points, model_version=d.model_version, challenger_pd=d.challenger_pd,
                   challenger_version=d.challenger_version, grade=d.grade, limit_minor=d.limit_minor,
                   amount_minor=d.amount_minor, rate_bps=d.rate_bps, reference_rate_bps=d.reference_rate_bps,
                   spread_bps=d.spread_bps, policy_hits=list(d.policy_hits or []), features=dict(d.features or {}),
                   note=d.note, latency_ms=d.latency_ms, decided_by=d.decided_by)
    return out


def application_view(session: Session, app: LoanApplication, *, staff: bool = False,
                     now: datetime | None = None) -> dict[str, Any]:
    """The application as the customer (or, with ``staff``, the officer) sees it."""
    now = now or _now()
    p = session.get(LoanProduct, app.product_id)
    events = events_of(session, app.id)
    d = session.get(CreditDecision, app.decision_id) if app.decision_id else None
    expires = _aware(app.offer_expires_at)
    offer = None
    if app.approved_amount_minor is not None and app.rate_bps is not None and app.status in (
            "approved", "accepted", "disbursed", "repaying", "closed", "expired", "written_off"):
        head = products.schedule_head(app.approved_amount_minor, app.rate_bps, app.term_months, app.method,
                                      clock.local_date(now), 3)
        offer = {"amount_minor": app.approved_amount_minor, "rate_bps": app.rate_bps, "term_months": app.term_months,
                 "method": app.method, "expires_at": _iso(app.offer_expires_at), "schedule_head": head,
                 "monthly_payment_minor": head[0]["payment_minor"] if head else None}
    visible_events = [e for e in events if staff or e.from_status != e.to_status]
    out: dict[str, Any] = {
        "id": app.id, "number": app.number, "status": app.status, "customer_id": app.customer_id,
        "product": {"code": p.code, "name_en": p.name_en, "name_zh": p.name_zh, "kind": p.kind} if p else None,
        "account_id": app.account_id, "amount_minor": app.amount_minor, "currency": app.currency,
        "term_months": app.term_months, "method": app.method, "purpose": app.purpose, "channel": app.channel,
        "created_at": _iso(app.created_at), "updated_at": _iso(app.updated_at), "version": app.version,
        "offer": offer, "loan_id": app.loan_id,
        "progress": progress(events, app.status),
        "decision": _decision_view(d, staff=staff, outcome_status=app.status),
        "events": [{"from": e.from_status, "to": e.to_status, "at": _iso(e.at),
                    **({"actor_id": e.actor_id, "note": e.note} if staff else {})} for e in visible_events],
        "can_accept": app.status == "approved" and (expires is None or expires > now),
        "can_withdraw": app.status in WITHDRAWABLE,
    }
    if staff:
        out.update(
            grade=app.grade, approved_amount_minor=app.approved_amount_minor, rate_bps=app.rate_bps,
            assigned_to=app.assigned_to, maker_id=app.maker_id,
            details={k: getattr(app, k) for k in (
                "monthly_income_minor", "employment", "employer", "years_employed", "dependents",
                "existing_debt_minor", "existing_monthly_repayment_minor", "revolving_balance_minor",
                "revolving_limit_minor", "open_credit_lines", "real_estate_loans", "collateral_kind",
                "collateral_value_minor", "collateral_description")})
    return out


# ------------------------------------------------------------------------------------------------
# prefill


def prefill(session: Session, actor: Principal, product_code: str) -> dict[str, Any]:
    """Suggested form values for ``product_code`` from what the bank knows: the last application, the
    customer profile (income estimate from salary credits), KYC (declared income, occupation) and the
    customer's open current accounts. ``sources`` says where each value came from."""
    cid = _require_customer(actor)
    product = products.get_product(session, product_code)
    if product.status != "active":
        raise NotFound("loan product not found", details={"product": product_code})
    cust = customers.get_customer(session, cid)
    accounts = [a for a in ledger.customer_accounts(session, cid)
                if a.kind == "demand" and a.status == "open" and a.currency == product.currency]
    values: dict[str, Any] = {
        "product": product.code, "account_id": accounts[0].id if accounts else None,
        "amount_minor": product.min_amount_minor, "term_months": min(max(12, product.min_term_months),
                                                                     product.max_term_months),
        "method": (product.methods or ["equal_installment"])[0], "purpose": "", "monthly_income_minor": None,
        "employment": "employed", "employer": None, "years_employed": None, "dependents": 0,
        "existing_debt_minor": 0, "existing_monthly_repayment_minor": 0, "revolving_balance_minor": None,
        "revolving_limit_minor": None, "open_credit_lines": None, "real_estate_loans": None,
        "collateral_kind": products.collateral_kind(product), "collateral_value_minor": None,
        "collateral_description": None,
    }
    sources: dict[str, str] = {}
    if cust.annual_income_minor:
        values["monthly_income_minor"] = int(cust.annual_income_minor) // 12
        sources["monthly_income_minor"] = "kyc"
    try:
        prof = insight.profile_360(session, actor, cid, timeline=0).get("profile") or {}
        income = prof.get("income_monthly_minor") or prof.get("salary_monthly_minor")
        if isinstance(income, int) and income > 0:
            values["monthly_income_minor"] = income
            sources["monthly_income_minor"] = "profile"
    except Exception:  # noqa: BLE001 - the profile is a convenience; the form works without it
        log.debug("no insight profile for prefill", exc_info=True)
    last = session.scalars(select(LoanApplication).where(LoanApplication.customer_id == cid)
                           .order_by(LoanApplication.created_at.desc(), LoanApplication.id.desc()).limit(1)).first()
    if last is not None:
        for k in ("employment", "employer", "years_employed", "dependents", "existing_debt_minor",
                  "existing_monthly_repayment_minor", "revolving_balance_minor", "revolving_limit_minor",
                  "open_credit_lines", "real_estate_loans"):
            values[k] = getattr(last, k)
            sources[k] = "last_application"
        if values["monthly_income_minor"] is None:
            values["monthly_income_minor"] = last.monthly_income_minor
            sources["monthly_income_minor"] = "last_application"
        if any(a.id == last.account_id for a in accounts):
            values["account_id"] = last.account_id
    return {"product": products.product_dict(product), "values": values, "sources": sources,
            "accounts": [{"id": a.id, "number": a.number, "name": a.name, "balance_minor": a.balance_minor,
                          "available_minor": a.available_minor} for a in accounts]}


# ------------------------------------------------------------------------------------------------
# the customer's actions


def accept(session: Session, actor: Principal, application_id: int, *, now: datetime | None = None
           ) -> LoanApplication:
    """Take an approved offer before it expires; the loan is disbursed at once."""
    _require_customer(actor)
    app = load(session, actor, application_id, lock=True)
    now = now or _now()
    if not states.can_move(app.status, "accepted"):
        raise states.IllegalTransition(f"an application cannot go from {app.status} to accepted",
                                       reason="lending.offer_not_open", details={"from": app.status, "to": "accepted"})
    expires = _aware(app.offer_expires_at)
    if expires is not None and expires <= now:
        raise OfferExpired("the offer has expired", details={"expired_at": _iso(expires)})
    states.transition(session, app, "accepted", actor_id=actor.user_id or None, note="offer accepted")
    loan = servicing.disburse(session, app, actor_id=actor.user_id or None, value_date=clock.local_date(now))
    if app.loan_id is None and getattr(loan, "id", None) is not None:
        app.loan_id = loan.id
    session.flush()
    return app


def withdraw(session: Session, actor: Principal, application_id: int, *, note: str | None = None
             ) -> LoanApplication:
    """The customer changes their mind, any time before accepting."""
    _require_customer(actor)
    text = _words("note", note, 500, required=False)
    app = load(session, actor, application_id, lock=True)
    states.transition(session, app, "withdrawn", actor_id=actor.user_id or None,
                      note=text or "withdrawn by the customer")
    app.assigned_to = None
    session.flush()
    return app


def expire_offers(session: Session, now: datetime | None = None) -> int:
    """Close-of-day: approved offers past their expiry become ``expired``. Returns how many."""
    now = now or _now()
    stmt = (select(LoanApplication).where(LoanApplication.status == "approved",
                                          LoanApplication.offer_expires_at.is_not(None),
                                          LoanApplication.offer_expires_at <= now)
            .order_by(LoanApplication.id).with_for_update())
    n = 0
    for app in session.scalars(stmt):
        states.transition(session, app, "expired", note="the offer was not accepted in time")
        n += 1
    return n

