"""Suitability (适当性管理): every purchase is checked against the customer's grade in force, and the check is
kept.

:func:`assess_purchase` asks :func:`smartbank.wealth.rules.check` and writes a ``suitability_checks`` row
for every decision - ``pass``, ``refused`` or ``acknowledged`` (a fund above the grade bought after the
customer confirmed the exact warning text, which is stored). A refusal raises :class:`Unsuitable`
(403 ``unsuitable_product``), an error with ``persist = True``: the unit of work commits the check row written
just before it (and nothing else has been written by then) instead of rolling it back, so the refusal stays on
record. A fund that needs an acknowledgement it did not get raises :class:`AcknowledgementRequired`
(409 ``acknowledgement_required``) with the text to confirm; that is a question to the customer, not a
decision, so nothing is written for it.

The compliance log (:func:`checks_log`) is read by risk officers and administrators.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.errors import Conflict, Forbidden, ValidationFailed
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import grades, rules
from smartbank.wealth.models import SUITABILITY_OUTCOMES, SuitabilityCheck, WealthProduct

__all__ = ["LOG_READERS", "AcknowledgementRequired", "Unsuitable", "assess_purchase", "checks_log", "preview"]

LOG_READERS = security.roles_for("wealth.suitability.read")


class Unsuitable(Forbidden):
    code = "unsuitable_product"
    persist = True  # the refused check is the record


class AcknowledgementRequired(Conflict):
    code = "acknowledgement_required"


def _details(product: WealthProduct, verdict: rules.Verdict, grade: str | None) -> dict[str, Any]:
    return {"product": product.code, "product_risk": product.risk_level, "customer_grade": grade,
            "reason_code": verdict.reason_code, "reason_en": verdict.en, "reason_zh": verdict.zh}


def preview(session: Session, customer_id: int, product: WealthProduct, *,
            now: datetime | None = None) -> tuple[rules.Verdict, str | None]:
    """What a purchase would meet (nothing written): the verdict and the grade in force."""
    grade = grades.current_grade(session, customer_id, now)
    return rules.check(grade, product.kind, product.risk_level), grade


def assess_purchase(session: Session, actor: Principal, product: WealthProduct, *, acknowledgement: str | None,
                    channel: str = "web", order_id: int | None = None,
                    now: datetime | None = None) -> SuitabilityCheck:
    """Check ``actor`` (a customer) buying ``product``; write and return the check (pass / acknowledged) or
    write it and raise :class:`Unsuitable` (refused). ``acknowledgement`` must be the exact warning text (zh
    or en) when the verdict asks for one."""
    if actor.is_staff or actor.customer_id is None:
        raise Forbidden("purchases are made by the customer", reason="wealth.customer_only",
                        details={"role": actor.role})
    cid = actor.customer_id
    assessment = grades.current(session, cid, now)
    grade = assessment.grade if assessment is not None else None
    verdict = rules.check(grade, product.kind, product.risk_level)
    ack = (acknowledgement or "").strip() or None
    if verdict.outcome == "needs_acknowledgement":
        if ack is None:
            raise AcknowledgementRequired("this fund is riskier than your grade: confirm the text to buy it",
                                          reason="wealth.acknowledgement_required",
                                          details=_details(product, verdict, grade)
                                          | {"acknowledgement_en": verdict.en, "acknowledgement_zh": verdict.zh})
        if ack not in (verdict.en.strip(), verdict.zh.strip()):
            raise ValidationFailed("the acknowledgement must be the exact text shown",
                                   reason="wealth.acknowledgement_mismatch",
                                   details={"acknowledgement_en": verdict.en, "acknowledgement_zh": verdict.zh})
        outcome = "acknowledged"
    else:
        outcome = verdict.outcome
        ack = None
    row = SuitabilityCheck(customer_id=cid, product_id=product.id,
                           assessment_id=assessment.id if assessment is not None else None, customer_grade=grade,
                           product_risk=product.risk_level, outcome=outcome, reason_code=verdict.reason_code,
                           acknowledgement=ack, order_id=order_id, channel=(channel or "web")[:16])
    if now is not None:
        row.at = now
    session.add(row)
    session.flush()
    if outcome == "refused":
        raise Unsuitable(verdict.en, reason="wealth.unsuitable_no_assessment" if grade is None
                         else "wealth.unsuitable_above_grade",
                         details=_details(product, verdict, grade) | {"check_id": row.id})
    return row


def check_view(c: SuitabilityCheck, product: WealthProduct | None = None) -> dict[str, Any]:
    return {"id": c.id, "customer_id": c.customer_id, "product_id": c.product_id,
            "product_code": product.code if product else None, "assessment_id": c.assessment_id,
            "customer_grade": c.customer_grade, "product_risk": c.product_risk, "outcome": c.outcome,
            "reason_code": c.reason_code, "acknowledgement": c.acknowledgement, "order_id": c.order_id,
            "channel": c.channel, "at": c.at}


def checks_log(session: Session, actor: Principal, *, outcome: str | None = None, customer_id: int | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
    """Staff (risk officers, administrators): the checks, newest first, filtered by outcome or customer."""
    actor.require_role(*LOG_READERS)
    if outcome is not None and outcome not in SUITABILITY_OUTCOMES:
        raise ValidationFailed("unknown outcome", reason="wealth.unknown_outcome",
                               details={"outcome": outcome, "outcomes": list(SUITABILITY_OUTCOMES)})
    stmt = select(SuitabilityCheck, WealthProduct).join(WealthProduct, WealthProduct.id == SuitabilityCheck.product_id)
    if outcome:
        stmt = stmt.where(SuitabilityCheck.outcome == outcome)
    if customer_id is not None:
        stmt = stmt.where(SuitabilityCheck.customer_id == customer_id)
    stmt = stmt.order_by(SuitabilityCheck.id.desc()).limit(max(1, min(limit, 1000)))
    return [check_view(c, p) for c, p in session.execute(stmt).all()]
