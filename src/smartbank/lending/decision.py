"""The automatic credit decision on a submitted application.

1. features (:mod:`smartbank.lending.features`) and the champion model's probability of default, its
   reasons and the challenger's score (:mod:`smartbank.lending.credit.scorer`; none when no model is trained);
2. grade from the probability of default, rate and limit from the product (:mod:`smartbank.lending.products`);
3. policy rules (:mod:`smartbank.lending.policy`);
4. outcome = the most severe of policy and model:

   * decline: a policy decline, grade E, or a limit below the product's smallest amount;
   * review (a loan officer decides): a policy review, grade D, no model, or an amount at or above the
     product's maker-checker threshold (never approved automatically);
   * approve: amount = min(requested, limit), at reference rate + the grade's spread; the offer is open
     for :data:`OFFER_DAYS` days.

Every decision is one ``credit_decisions`` row (stage ``auto``) with the score, model version, grade,
limit, rate, policy hits, reasons in plain words (most important first: the decision's and the policy's, then
every model feature's contribution, age included, for staff and model-risk review), features and latency.
What the customer is told is :func:`smartbank.lending.adverse.for_customer` of those reasons (an allow-list;
never a protected attribute).
"""

from __future__ import annotations

import calendar
import logging
import time
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.ledger.service import utcnow
from smartbank.lending import features as F
from smartbank.lending import policy, products, states
from smartbank.lending.credit.scorer import load_scorer
from smartbank.lending.models import CreditDecision, LoanApplication, LoanProduct
from smartbank.ml.service import default_model_dir

log = logging.getLogger("smartbank.lending")

OFFER_DAYS = 14
NO_MODEL = "none"
REASONS: dict[str, tuple[str, str]] = {
    "MODEL-NONE": ("No credit model is in use, so a loan officer reviews the application.",
                   "目前未启用信用评分模型，您的申请将由信贷员人工审核。"),
    "MODEL-GRADE-E": ("Your credit assessment does not meet this loan's requirements.",
                      "您的信用评估结果未达到本贷款的要求。"),
    "MODEL-GRADE-D": ("Your credit assessment needs a loan officer's review.", "您的信用评估结果需要信贷员复核。"),
    "LIMIT-BELOW-MIN": ("The amount we can lend you is below this product's smallest loan.",
                        "我们可为您提供的额度低于本产品的最低贷款金额。"),
    "LIMIT-REDUCED": ("We can lend you less than you asked for.", "可批金额低于您的申请金额。"),
    "LARGE-AMOUNT": ("Large loans are approved by two loan officers.", "大额贷款需经两名信贷员审批。"),
}
_SEVERITY = {"approve": 0, "review": 1, "decline": 2}
_SCORER_TTL = 60.0
_scorer_cache: dict[str, tuple[float, Any]] = {}


def get_scorer() -> Any | None:
    """The credit scorer in use, or None when no model is trained (or it cannot be loaded).
    Looked up once a minute at most per model directory (training in this process looks again at once)."""
    now = time.monotonic()
    where = str(default_model_dir())
    hit = _scorer_cache.get(where)
    if hit is not None and now - hit[0] < _SCORER_TTL:
        return hit[1]
    try:
        scorer = load_scorer()
    except Exception:  # noqa: BLE001 - a broken artefact is "no model": every application goes to review
        log.exception("credit model could not be loaded")
        scorer = None
    _scorer_cache[where] = (now, scorer)
    return scorer


def reset_scorer() -> None:
    _scorer_cache.clear()


def term_end(start: date, months: int) -> date:
    """The day ``months`` months after ``start`` (the end of the term)."""
    m = start.month - 1 + months
    y, m = start.year + m // 12, m % 12 + 1
    return date(y, m, min(start.day, calendar.monthrange(y, m)[1]))


def reason(code: str) -> dict[str, str]:
    en, zh = REASONS[code]
    return {"code": code, "en": en, "zh": zh}


birth_date_of = customers.birth_date_of  # the birth date the bank knows (recorded, else from the ID)


def _model_reasons(score: Any) -> list[dict[str, Any]]:
    """Every feature's contribution when the scorer gives them (the stored explanation for staff, age
    included), else its adverse reasons; most adverse first. Customers see only
    :func:`smartbank.lending.adverse.for_customer` of these."""
    out = []
    for r in list(getattr(score, "contributions", None) or score.reasons or []):
        out.append({"code": str(r.get("code") or f"MODEL-{r.get('feature')}"), "feature": r.get("feature"),
                    "en": str(r.get("en") or ""), "zh": str(r.get("zh") or ""), "impact": r.get("impact"),
                    "source": "model"})
    return out


def _snap(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe features (floats rounded, no NaN)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, float):
            out[k] = None if v != v else round(v, 6)
        else:
            out[k] = v
    return out


def evaluate(session: Session, app: LoanApplication, product: LoanProduct, *, now: datetime) -> dict[str, Any]:
    """Everything the decision needs, computed without writing: features, score, pricing, policy, outcome."""
    t0 = time.perf_counter()
    today = clock.local_date(now)
    customer = customers.get_customer(session, app.customer_id)
    birth = birth_date_of(customer)
    history = F.bank_history(session, app.customer_id, today)
    feats = F.build(app, birth_date=birth, history=history, today=today)
    scorer = get_scorer()
    score = None
    if scorer is not None:
        try:
            score = scorer.score(feats)
        except Exception:  # noqa: BLE001 - a scorer failure must not approve anything: manual review
            log.exception("credit scoring failed for application %s", app.id)
            score = None
    grade = products.grade_for(float(score.pd)) if score is not None else None
    pricing = products.price(session, product, grade, monthly_income_minor=app.monthly_income_minor,
                             collateral_value_minor=app.collateral_value_minor, day=today) if grade else None
    rate_for_dti = pricing.rate_bps if pricing else products.rate_bounds(session, product, today)[1]
    new_payment = products.first_payment(app.amount_minor, rate_for_dti, app.term_months, app.method, today)
    flags = policy.fraud_flags(session, app.customer_id)
    age_now = F.age_on(birth, today) if birth else None
    age_end = F.age_on(birth, term_end(today, app.term_months)) if birth else None
    pin = policy.PolicyInput(
        age_now=age_now, age_at_end=age_end, min_age=product.min_age, max_age=product.max_age,
        monthly_income_minor=int(app.monthly_income_minor),
        employment=app.employment,
        monthly_debt_minor=max(int(app.existing_monthly_repayment_minor or 0), history.monthly_repayment_minor),
        new_payment_minor=new_payment, max_dti=float(product.max_dti), days_past_due=history.max_days_past_due,
        blacklisted=policy.is_blacklisted(session, customer.id_number) if customer.id_type == "resident_id"
        else False,
        fraud_confirmed=flags["confirmed"], fraud_open=flags["open"], secured=product.kind == "secured",
        amount_minor=int(app.amount_minor), collateral_value_minor=app.collateral_value_minor,
        max_ltv=product.max_ltv, written_off=history.written_off)
    hits = policy.evaluate(pin)
    for h in hits:  # the product's age conditions are told to the customer as conditions, never as the age
        if h["code"] == "POL-AGE":
            only_term = age_now is not None and age_now >= max(18, product.min_age) and age_end is not None \
                and age_end > product.max_age
            h["customer_code"] = "ELIG-TERM" if only_term else "ELIG-PRODUCT"
    declines = [{"code": h["code"], "en": h["en"], "zh": h["zh"], **({"customer_code": h["customer_code"]}
                                                                       if "customer_code" in h else {})}
                for h in hits if h["action"] == "decline"]
    reviews = [{"code": h["code"], "en": h["en"], "zh": h["zh"]} for h in hits if h["action"] == "review"]
    model_reasons = _model_reasons(score) if score is not None else []
    outcome = "approve"
    amount: int | None = None
    if score is None:
        reviews.append(reason("MODEL-NONE"))
    elif grade == "E":
        declines.append(reason("MODEL-GRADE-E"))
    elif grade == "D":
        reviews.append(reason("MODEL-GRADE-D"))
    if pricing is not None and pricing.limit_minor < product.min_amount_minor and grade != "E":
        declines.append(reason("LIMIT-BELOW-MIN"))
    if product.maker_checker_minor is not None and app.amount_minor >= product.maker_checker_minor:
        reviews.append(reason("LARGE-AMOUNT"))
    extra: list[dict[str, Any]] = []
    if declines:
        outcome = "decline"
        reasons = declines + model_reasons
    elif reviews:
        outcome = "review"
        reasons = reviews + model_reasons
    else:
        assert pricing is not None
        amount = min(int(app.amount_minor), pricing.limit_minor)
        if amount < app.amount_minor:
            extra.append(reason("LIMIT-REDUCED"))
        reasons = extra + model_reasons
    return {
        "outcome": outcome, "amount_minor": amount, "grade": grade, "pricing": pricing, "score": score,
        "features": _snap({**feats, "_new_payment_minor": new_payment, "_dti": pin.dti, "_ltv": pin.ltv,
                           "_days_past_due": history.max_days_past_due, "_age_at_end": age_end}),
        "policy_hits": hits, "reasons": reasons, "latency_ms": round((time.perf_counter() - t0) * 1000, 3),
    }


def record(session: Session, app: LoanApplication, ev: dict[str, Any], *, stage: str = "auto",
           outcome: str | None = None, decided_by: int | None = None, amount_minor: int | None = None,
           rate_bps: int | None = None, note: str | None = None, reasons: list[dict[str, Any]] | None = None
           ) -> CreditDecision:
    score, pricing = ev.get("score"), ev.get("pricing")
    d = CreditDecision(
        application_id=app.id, stage=stage, outcome=outcome or ev["outcome"], decided_by=decided_by,
        pd=float(score.pd) if score is not None else None,
        points=int(score.points) if score is not None and score.points is not None else None,
        model_version=str(score.model_version) if score is not None else NO_MODEL,
        challenger_pd=float(score.challenger_pd) if score is not None and score.challenger_pd is not None else None,
        challenger_version=score.challenger_version if score is not None else None,
        grade=ev.get("grade"), limit_minor=pricing.limit_minor if pricing else None,
        amount_minor=amount_minor if amount_minor is not None else ev.get("amount_minor"),
        rate_bps=rate_bps if rate_bps is not None else (pricing.rate_bps if pricing else None),
        reference_rate_bps=pricing.reference_rate_bps if pricing else None,
        spread_bps=pricing.spread_bps if pricing else None, policy_hits=list(ev.get("policy_hits") or []),
        reasons=list(reasons if reasons is not None else ev.get("reasons") or []), features=ev.get("features"),
        note=note, latency_ms=ev.get("latency_ms"), created_at=now_utc(),
    )
    session.add(d)
    session.flush()
    return d


def now_utc() -> datetime:
    return utcnow()


def run(session: Session, app: LoanApplication, product: LoanProduct, *, now: datetime) -> CreditDecision:
    """Score a submitted application and move it to approved, declined or manual_review. Flushes."""
    states.transition(session, app, "scoring")
    ev = evaluate(session, app, product, now=now)
    d = record(session, app, ev)
    app.decision_id = d.id
    app.grade = ev["grade"]
    pricing = ev["pricing"]
    app.rate_bps = pricing.rate_bps if pricing else None
    target = {"approve": "approved", "decline": "declined", "review": "manual_review"}[ev["outcome"]]
    if target == "approved":
        app.approved_amount_minor = ev["amount_minor"]
        app.offer_expires_at = now + timedelta(days=OFFER_DAYS)
    codes = ", ".join(r["code"] for r in ev["reasons"][:3])
    states.transition(session, app, target, note=f"automatic decision #{d.id}" + (f": {codes}" if codes else ""))
    return d


def severity(outcome: str) -> int:
    return _SEVERITY[outcome]
