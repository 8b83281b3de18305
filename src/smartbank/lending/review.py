"""The loan officers' queue: applications in manual review, claimed, noted and decided by hand.

Only loan officers (and administrators) see or touch the queue; every other role gets 403.

Deciding (:func:`decide`):

* ``approve`` (the officer may lower the amount and set the rate within the product's bounds) or
  ``decline`` with a reason code and a note; each writes a ``credit_decisions`` row (stage ``officer``),
  an event and an audit record.
* Maker-checker: when the amount is at or above the product's ``maker_checker_minor``, the first
  approval is the *maker* decision (the application stays in manual review with ``maker_id``); a
  different officer confirms it (*checker*: approved), declines it or sends it back (``return``: the
  maker's proposal is void). The maker confirming their own proposal is a 409 ``same_officer``.
* Concurrency: the application row is locked first (FOR UPDATE), and a request may carry the
  ``version`` it was decided on: two officers acting at once decide once, the second gets a 409.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.db import aware as _aware
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.insight import service as insight
from smartbank.ledger import service as ledger
from smartbank.lending import applications, decision, policy, products, states
from smartbank.lending.models import CreditDecision, Loan, LoanApplication, LoanApplicationEvent, LoanProduct
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.text import clean_text

__all__ = [
    "DECLINE_REASONS", "OFFICER_ROLES", "SameOfficer", "StaleVersion", "add_note", "claim", "decide", "get_case",
    "queue",
]

OFFICER_ROLES = security.roles_for("lending.review")
MAX_NOTE = 2000
DECLINE_REASONS: dict[str, tuple[str, str]] = {
    "OFF-INCOME": ("We could not confirm an income that supports this loan.", "无法核实足以支持本笔贷款的收入。"),
    "OFF-AFFORD": ("The repayments would be too high for your situation.", "还款负担相对您的情况过重。"),
    "OFF-COLLATERAL": ("The collateral does not support this loan.", "抵押物不足以支持本笔贷款。"),
    "OFF-HISTORY": ("Your credit history does not meet our requirements.", "您的信用记录未达到我们的要求。"),
    "OFF-DOCS": ("The information given could not be verified.", "您提供的信息无法核实。"),
    "OFF-FRAUD": ("We are unable to lend to the applicant.", "申请人不符合本行借款条件。"),
    "OFF-OTHER": ("The application does not meet our lending policy.", "本申请不符合本行的贷款政策。"),
}


class SameOfficer(Conflict):
    code = "same_officer"


class StaleVersion(Conflict):
    code = "stale_version"


def _now() -> datetime:
    return clock.now()


def _require_officer(actor: Principal) -> None:
    actor.require_role(*OFFICER_ROLES)


def _note(note: str | None, *, required: bool = False) -> str:
    return clean_text(note, "the note", MAX_NOTE, required=required, empty="a note is required")


def _event(session: Session, app: LoanApplication, actor: Principal, note: str) -> None:
    """A case event that does not change the status (claim, note, maker decision)."""
    session.add(LoanApplicationEvent(application_id=app.id, from_status=app.status, to_status=app.status,
                                     actor_id=actor.user_id or None, note=note, at=_now()))


def _snapshot(app: LoanApplication) -> dict[str, Any]:
    return {"status": app.status, "assigned_to": app.assigned_to, "maker_id": app.maker_id,
            "approved_amount_minor": app.approved_amount_minor, "rate_bps": app.rate_bps, "version": app.version}


def _load(session: Session, application_id: int, *, lock: bool = False) -> LoanApplication:
    stmt = select(LoanApplication).where(LoanApplication.id == application_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    app = session.scalars(stmt).first()
    if app is None:
        raise NotFound("application not found", details={"application_id": application_id})
    return app


# ------------------------------------------------------------------------------------------------
# reading


def queue(session: Session, actor: Principal, *, status: str = "manual_review", assigned_to: int | None = None,
          limit: int = 100) -> list[dict[str, Any]]:
    """Applications waiting for an officer (oldest first) with amount, grade, pd, main reasons and claim."""
    _require_officer(actor)
    if status not in states.TRANSITIONS:
        raise ValidationFailed("unknown status", details={"status": status})
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500")
    stmt = select(LoanApplication).where(LoanApplication.status == status)
    if assigned_to is not None:
        stmt = stmt.where(LoanApplication.assigned_to == assigned_to)
    apps = list(session.scalars(stmt.order_by(LoanApplication.created_at, LoanApplication.id).limit(limit)))
    decisions = {d.id: d for d in session.scalars(select(CreditDecision).where(
        CreditDecision.id.in_([a.decision_id for a in apps if a.decision_id])))} if apps else {}
    prods = {p.id: p for p in session.scalars(select(LoanProduct))}
    users = security.display_names(session, {u for a in apps for u in (a.assigned_to, a.maker_id) if u})
    now = _now()
    out = []
    for a in apps:
        d = decisions.get(a.decision_id or 0)
        p = prods.get(a.product_id)
        created = _aware(a.created_at)
        cust = customers.get_customer(session, a.customer_id)
        out.append({
            "id": a.id, "number": a.number, "customer_id": a.customer_id, "customer_name": cust.name,
            "product": p.code if p else None, "product_name_en": p.name_en if p else None,
            "product_name_zh": p.name_zh if p else None, "amount_minor": a.amount_minor, "currency": a.currency,
            "term_months": a.term_months, "grade": a.grade, "pd": d.pd if d else None,
            "model_version": d.model_version if d else None,
            "reasons": [{"code": r.get("code"), "en": r.get("en"), "zh": r.get("zh")} for r in (d.reasons or [])[:3]]
            if d else [],
            "assigned_to": a.assigned_to, "assigned_name": users.get(a.assigned_to) if a.assigned_to else None,
            "maker_id": a.maker_id, "maker_name": users.get(a.maker_id) if a.maker_id else None,
            "status": a.status, "created_at": created.isoformat() if created else None,
            "age_seconds": int((now - created).total_seconds()) if created else None, "version": a.version,
            "needs_two": bool(p and p.maker_checker_minor is not None and a.amount_minor >= p.maker_checker_minor),
        })
    security.audit_reads(session, actor, action="loan_applications.list", customer_ids=[a.customer_id for a in apps],
                         shown={"status": status})
    return out


def counts(session: Session, actor: Principal) -> dict[str, int]:
    _require_officer(actor)
    total = session.scalar(select(func.count()).select_from(LoanApplication)
                           .where(LoanApplication.status == "manual_review")) or 0
    mine = session.scalar(select(func.count()).select_from(LoanApplication).where(
        LoanApplication.status == "manual_review", LoanApplication.assigned_to == actor.user_id)) or 0
    waiting = session.scalar(select(func.count()).select_from(LoanApplication).where(
        LoanApplication.status == "manual_review", LoanApplication.maker_id.is_not(None))) or 0
    return {"manual_review": int(total), "mine": int(mine), "awaiting_checker": int(waiting)}


def _customer_context(session: Session, customer_id: int) -> dict[str, Any]:
    c = customers.get_customer(session, customer_id)
    accounts = [{"id": a.id, "number": a.number, "kind": a.kind, "status": a.status, "currency": a.currency,
                 "balance_minor": a.balance_minor, "available_minor": a.available_minor}
                for a in ledger.customer_accounts(session, customer_id)]
    loans = [{"id": ln.id, "number": ln.number, "principal_minor": ln.principal_minor,
              "outstanding_minor": ln.outstanding_minor, "status": ln.status, "days_past_due": ln.days_past_due,
              "bucket": ln.bucket, "classification": ln.classification, "rate_bps": ln.rate_bps}
             for ln in session.scalars(select(Loan).where(Loan.customer_id == customer_id).order_by(Loan.id))]
    others = [{"id": a.id, "number": a.number, "status": a.status, "amount_minor": a.amount_minor,
               "created_at": a.created_at.isoformat() if a.created_at else None}
              for a in session.scalars(select(LoanApplication).where(LoanApplication.customer_id == customer_id)
                                       .order_by(LoanApplication.id.desc()).limit(10))]
    profile: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        p = insight.stored_profile(session, customer_id)
        if p is not None:
            f = p["features"]
            profile = {k: f.get(k) for k in ("income_monthly_minor", "salary_months_365d", "total_balance_minor",
                                            "tenure_days") if k in f}
            profile.update(segment=p["segment"], churn_score=p["churn_score"])
    return {"id": c.id, "number": c.number, "name": c.name, "kind": c.kind, "birth_date":
            c.birth_date.isoformat() if c.birth_date else None, "city": c.city, "occupation": c.occupation,
            "annual_income_minor": c.annual_income_minor, "kyc_status": c.kyc_status, "risk_level": c.risk_level,
            "accounts": accounts, "loans": loans, "applications": others, "profile": profile}


def get_case(session: Session, actor: Principal, application_id: int) -> dict[str, Any]:
    """One application for the officer: full application, customer context, the automatic decision
    (champion and challenger), policy hits and reasons, every decision and event, the rate bounds."""
    _require_officer(actor)
    app = _load(session, application_id)
    security.audit_reads(session, actor, action="loan_application.read", customer_ids=[app.customer_id],
                         shown={"application_id": app.id, "review": True})
    view = applications.application_view(session, app, staff=True)
    product = session.get(LoanProduct, app.product_id)
    decisions = [applications._decision_view(d, staff=True, outcome_status=app.status)
                 for d in session.scalars(select(CreditDecision).where(CreditDecision.application_id == app.id)
                                          .order_by(CreditDecision.id))]
    auto = next((d for d in decisions if d and d["stage"] == "auto"), None)
    ids = {e["actor_id"] for e in view["events"] if e.get("actor_id")} | {
        u for u in (app.assigned_to, app.maker_id) if u} | {d["decided_by"] for d in decisions if d and d["decided_by"]}
    users = security.display_names(session, ids)
    for e in view["events"]:
        e["actor_name"] = users.get(e["actor_id"]) if e.get("actor_id") else None
    for d in decisions:
        if d:
            d["decided_by_name"] = users.get(d["decided_by"]) if d["decided_by"] else None
    best, worst = products.rate_bounds(session, product, clock.local_date(_now())) if product else (None, None)
    maker = next((d for d in reversed(decisions) if d and d["stage"] == "maker"), None) if app.maker_id else None
    return {
        "application": view, "product": products.product_dict(product) if product else None,
        # the masking policy for case work: a loan officer sees the circumstances, an administrator less
        "customer": security.present_record(actor.role, "case", _customer_context(session, app.customer_id),
                                            {"annual_income_minor": "income"}),
        "auto": auto, "decisions": decisions,
        "maker": maker, "maker_name": users.get(app.maker_id) if app.maker_id else None,
        "assigned_name": users.get(app.assigned_to) if app.assigned_to else None,
        "rate_bounds": {"min_bps": best, "max_bps": worst},
        "needs_two": bool(product and product.maker_checker_minor is not None
                          and app.amount_minor >= product.maker_checker_minor),
        "decline_reasons": [{"code": k, "en": v[0], "zh": v[1]} for k, v in DECLINE_REASONS.items()],
        "open": app.status == "manual_review",
        "summary": _summary(app, auto, products.product_dict(product) if product else {}),
    }


def _summary(app: LoanApplication, auto: dict[str, Any] | None, product: dict[str, Any]) -> dict[str, Any]:
    """The applicant at a glance, from the application and the stored automatic decision: income, the first
    payment of this loan and the other repayments, repayment-to-income, PD, score and band, each policy rule."""
    feats = (auto or {}).get("features") or {}
    income = int(app.monthly_income_minor or 0)
    other = int(app.existing_monthly_repayment_minor or 0)
    new = feats.get("_new_payment_minor")
    dti = feats.get("_dti")
    if dti is None and income > 0 and isinstance(new, int):
        dti = (other + new) / income
    return {
        "monthly_income_minor": income, "other_payment_minor": other, "new_payment_minor": new,
        "repayment_to_income_ratio": dti, "max_dti_ratio": product.get("max_dti"),
        "loan_to_value_ratio": feats.get("_ltv"),
        "pd": (auto or {}).get("pd"), "points": (auto or {}).get("points"), "grade": (auto or {}).get("grade"),
        "policy": policy.checks(hits=(auto or {}).get("policy_hits") or [], features=feats, product=product,
                                monthly_income_minor=income),
    }


# ------------------------------------------------------------------------------------------------
# working a case


def claim(session: Session, actor: Principal, application_id: int, *, user_id: int | None = None) -> dict[str, Any]:
    """Give a manual review to a loan officer (by default the actor)."""
    _require_officer(actor)
    target = actor.user_id if user_id is None else user_id
    user = security.find_user(session, target) if target else None
    if user is None or not user.is_active or user.role not in (*OFFICER_ROLES, "admin"):
        raise ValidationFailed("reviews are assigned to an active loan officer", details={"user_id": target})
    app = _load(session, application_id, lock=True)
    if app.status != "manual_review":
        raise Conflict("the application is not waiting for a review", details={"status": app.status})
    before = _snapshot(app)
    app.assigned_to = user.id
    _event(session, app, actor, f"assigned to {user.display_name or user.username}")
    security.audit(session, actor, action="loan_application.claim", object_type="loan_application",
                   object_id=app.id, before=before, after=_snapshot(app))
    session.flush()
    return {"id": app.id, "status": app.status, "assigned_to": app.assigned_to}


def add_note(session: Session, actor: Principal, application_id: int, note: str) -> dict[str, Any]:
    _require_officer(actor)
    text = _note(note, required=True)
    app = _load(session, application_id, lock=True)
    _event(session, app, actor, f"note: {text}")
    session.flush()
    return {"id": app.id, "status": app.status}


def _auto(session: Session, app: LoanApplication) -> CreditDecision | None:
    return session.scalars(select(CreditDecision).where(CreditDecision.application_id == app.id,
                                                        CreditDecision.stage == "auto")
                           .order_by(CreditDecision.id.desc()).limit(1)).first()


def _copy(session: Session, app: LoanApplication, *, stage: str, outcome: str, actor: Principal,
          amount_minor: int | None, rate_bps: int | None, reasons: list[dict[str, Any]], note: str | None
          ) -> CreditDecision:
    """A manual decision row carrying the automatic decision's scores (for the audit of the file)."""
    a = _auto(session, app)
    d = CreditDecision(
        application_id=app.id, stage=stage, outcome=outcome, decided_by=actor.user_id or None,
        pd=a.pd if a else None, points=a.points if a else None, model_version=a.model_version if a else "none",
        challenger_pd=a.challenger_pd if a else None, challenger_version=a.challenger_version if a else None,
        grade=app.grade, limit_minor=a.limit_minor if a else None, amount_minor=amount_minor, rate_bps=rate_bps,
        reference_rate_bps=a.reference_rate_bps if a else None, spread_bps=a.spread_bps if a else None,
        policy_hits=list(a.policy_hits or []) if a else [], reasons=reasons, features=a.features if a else None,
        note=note or None, latency_ms=None, created_at=_now())
    session.add(d)
    session.flush()
    return d


def decide(session: Session, actor: Principal, application_id: int, *, outcome: str,
           amount_minor: int | None = None, rate_bps: int | None = None, reason_code: str | None = None,
           note: str = "", version: int | None = None) -> dict[str, Any]:
    """An officer's decision on a manual review: ``approve``, ``decline`` or (checker only) ``return``."""
    _require_officer(actor)
    if outcome not in ("approve", "decline", "return"):
        raise ValidationFailed("outcome is approve, decline or return", details={"outcome": outcome})
    text = _note(note, required=outcome in ("decline", "return"))
    if outcome == "decline" and reason_code not in DECLINE_REASONS:
        raise ValidationFailed("a decline needs a reason code",
                               details={"field": "reason_code", "allowed": list(DECLINE_REASONS)})
    for name, v in (("amount_minor", amount_minor), ("rate_bps", rate_bps), ("version", version)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ValidationFailed(f"{name} is a whole number", reason="lending.whole", details={"field": name})
    app = _load(session, application_id, lock=True)
    if app.status != "manual_review":
        raise states.IllegalTransition("the application is not waiting for a review (already decided?)",
                                       details={"status": app.status})
    if version is not None and version != app.version:
        raise StaleVersion("the application changed since you opened it; reload it",
                           details={"version": app.version})
    product = session.get(LoanProduct, app.product_id)
    assert product is not None
    before = _snapshot(app)
    uid = actor.user_id or None
    pending_maker = app.maker_id is not None
    maker = (session.scalars(select(CreditDecision).where(CreditDecision.application_id == app.id,
                                                          CreditDecision.stage == "maker")
                             .order_by(CreditDecision.id.desc()).limit(1)).first() if pending_maker else None)
    if pending_maker and app.maker_id == uid:
        raise SameOfficer("a second, different loan officer must check this approval",
                          details={"maker_id": app.maker_id})
    if outcome == "return" and not pending_maker:
        raise ValidationFailed("only a checker sends a proposal back")
    result: dict[str, Any]
    if outcome == "decline":
        en, zh = DECLINE_REASONS[str(reason_code)]
        stage = "checker" if pending_maker else "officer"
        d = _copy(session, app, stage=stage, outcome="decline", actor=actor, amount_minor=None, rate_bps=None,
                  reasons=[{"code": reason_code, "en": en, "zh": zh}], note=text)
        app.decision_id, app.maker_id = d.id, None
        states.transition(session, app, "declined", actor_id=uid, note=f"{reason_code}: {text}")
        result = {"decision_id": d.id, "stage": stage}
    elif outcome == "return":
        d = _copy(session, app, stage="checker", outcome="review", actor=actor, amount_minor=None, rate_bps=None,
                  reasons=[], note=text)
        app.maker_id = None
        _event(session, app, actor, f"sent back by the checker: {text}")
        result = {"decision_id": d.id, "stage": "checker"}
    elif pending_maker:
        if maker is None:
            raise Conflict("the maker's decision is missing")
        if (amount_minor is not None and amount_minor != maker.amount_minor) or (
                rate_bps is not None and rate_bps != maker.rate_bps):
            raise ValidationFailed("a checker confirms the maker's terms; send it back to change them",
                                   details={"amount_minor": maker.amount_minor, "rate_bps": maker.rate_bps})
        d = _copy(session, app, stage="checker", outcome="approve", actor=actor, amount_minor=maker.amount_minor,
                  rate_bps=maker.rate_bps, reasons=list(maker.reasons or []), note=text)
        _approve(session, app, d, actor)
        result = {"decision_id": d.id, "stage": "checker"}
    else:
        amount, rate = _terms(session, app, product, amount_minor, rate_bps)
        two = product.maker_checker_minor is not None and amount >= product.maker_checker_minor
        stage = "maker" if two else "officer"
        d = _copy(session, app, stage=stage, outcome="approve", actor=actor, amount_minor=amount, rate_bps=rate,
                  reasons=[], note=text)
        if two:
            app.maker_id = uid
            app.version = (app.version or 0) + 1
            _event(session, app, actor, f"approval proposed (maker): {amount} at {rate} bps; awaiting a checker")
        else:
            _approve(session, app, d, actor)
        result = {"decision_id": d.id, "stage": stage}
    security.audit(session, actor, action=f"loan_application.{outcome}", object_type="loan_application",
                   object_id=app.id, before=before, after={**_snapshot(app), **result},
                   note=text or None)
    session.flush()
    return {"id": app.id, "status": app.status, "maker_id": app.maker_id, "version": app.version, **result}


def _terms(session: Session, app: LoanApplication, product: LoanProduct, amount_minor: int | None,
           rate_bps: int | None) -> tuple[int, int]:
    amount = app.amount_minor if amount_minor is None else amount_minor
    if not product.min_amount_minor <= amount <= app.amount_minor:
        raise ValidationFailed("the amount is at most the amount applied for and at least the product's smallest",
                               reason="lending.approved_amount_range",
                               details={"field": "amount", "min_minor": product.min_amount_minor,
                                        "max_minor": app.amount_minor, "min": product.min_amount_minor,
                                        "max": app.amount_minor})
    lo, hi = products.rate_bounds(session, product, clock.local_date(_now()))
    if rate_bps is None:
        rate_bps = app.rate_bps if app.rate_bps is not None else hi
    if not lo <= rate_bps <= hi:
        raise ValidationFailed("the rate is outside the product's bounds", reason="lending.rate_bounds",
                               details={"field": "rate_bps", "min_bps": lo, "max_bps": hi})
    return amount, rate_bps


def _approve(session: Session, app: LoanApplication, d: CreditDecision, actor: Principal) -> None:
    app.decision_id = d.id
    app.approved_amount_minor = d.amount_minor
    app.rate_bps = d.rate_bps
    app.offer_expires_at = _now() + timedelta(days=decision.OFFER_DAYS)
    states.transition(session, app, "approved", actor_id=actor.user_id or None,
                      note=f"approved by a loan officer (decision #{d.id})")
