"""The risk-tolerance questionnaire (风险承受能力评估): versioned questions, scoring, grades C1-C5.

A questionnaire row holds its questions (each option with a score), the score bands of the grades and how
long a result stays valid (``valid_days``, 365 by default). The newest *active* version is the one customers
take; publishing a new version (admins only, audited) deactivates the older ones, and assessments keep the
version they were taken under.

Scoring: the score is the sum of the chosen options' scores; the grade is the highest band whose
``min_score`` the score reaches (bands ascending, the first starting at 0).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import Forbidden, NotFound, ValidationFailed
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import grades
from smartbank.wealth.models import GRADES, RiskAssessment, RiskQuestionnaire

__all__ = ["V1_BANDS", "V1_QUESTIONS", "active", "ensure_seeded", "grade_for", "publish", "score", "status", "take"]

DEFAULT_VALID_DAYS = 365


def _q(qid: str, zh: str, en: str, options: list[tuple[str, str, int]]) -> dict[str, Any]:
    return {"id": qid, "zh": zh, "en": en, "options": [{"zh": a, "en": b, "score": s} for a, b, s in options]}


V1_QUESTIONS: list[dict[str, Any]] = [
    _q("age", "您的年龄是？", "How old are you?", [
        ("18-30 岁", "18-30", 8), ("31-50 岁", "31-50", 10), ("51-60 岁", "51-60", 6),
        ("61-70 岁", "61-70", 2), ("70 岁以上", "over 70", 0)]),
    _q("income", "您的家庭年收入约为？", "What is your household's yearly income?", [
        ("10 万元以下", "under CNY 100,000", 2), ("10-30 万元", "CNY 100,000-300,000", 5),
        ("30-50 万元", "CNY 300,000-500,000", 8), ("50 万元以上", "over CNY 500,000", 10)]),
    _q("invest_share", "您计划用于投资的资金占家庭金融资产的比例？",
       "What share of your household's financial assets do you plan to invest?", [
        ("50% 以上", "over 50%", 2), ("25%-50%", "25%-50%", 5), ("10%-25%", "10%-25%", 8),
        ("10% 以下", "under 10%", 10)]),
    _q("experience", "您的投资经验主要是？", "What is your investment experience?", [
        ("除存款外没有投资经验", "none beyond deposits", 0), ("购买过银行理财、国债", "bank wealth products, bonds", 4),
        ("投资基金、股票不足 5 年", "funds or shares, under 5 years", 7),
        ("投资基金、股票、衍生品 5 年以上", "funds, shares or derivatives, 5 years or more", 10)]),
    _q("knowledge", "您对金融产品和投资风险的了解程度？", "How well do you know financial products and their risks?", [
        ("基本不了解", "hardly at all", 0), ("了解一些", "a little", 4), ("比较了解", "fairly well", 7),
        ("非常了解，具备专业知识", "very well, professionally", 10)]),
    _q("horizon", "您计划的投资期限是？", "For how long do you plan to invest?", [
        ("1 年以内", "under 1 year", 2), ("1-3 年", "1-3 years", 5), ("3-5 年", "3-5 years", 8),
        ("5 年以上", "over 5 years", 10)]),
    _q("loss", "您能承受的最大投资损失是？", "What is the largest loss you could accept?", [
        ("不能承受任何本金损失", "no loss of capital at all", 0), ("10% 以内", "up to 10%", 4),
        ("10%-30%", "10%-30%", 7), ("30% 以上", "over 30%", 10)]),
    _q("objective", "您的投资目标是？", "What is your main investment goal?", [
        ("保本保值", "keep my capital safe", 0), ("稳定收益", "a steady income", 4),
        ("资产稳健增长", "steady growth", 7), ("追求高收益", "the highest returns", 10)]),
    _q("liquidity", "未来一年内您可能需要动用的投资资金比例？",
       "What share of the money might you need within a year?", [
        ("50% 以上", "over 50%", 2), ("20%-50%", "20%-50%", 5), ("20% 以下", "under 20%", 8),
        ("基本不需要", "almost none", 10)]),
    _q("reaction", "如果您的投资在短期内下跌 20%，您会？", "If your investment fell 20% in a short time, you would:", [
        ("全部卖出", "sell everything", 0), ("卖出一部分", "sell a part", 4), ("继续持有", "hold on", 7),
        ("逢低加仓", "buy more", 10)]),
]
V1_BANDS: list[dict[str, Any]] = [
    {"grade": "C1", "min_score": 0}, {"grade": "C2", "min_score": 21}, {"grade": "C3", "min_score": 41},
    {"grade": "C4", "min_score": 61}, {"grade": "C5", "min_score": 81},
]


def _utc(d: datetime) -> datetime:
    """SQLite hands timestamps back without a zone: they are stored in UTC."""
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def validate_definition(questions: Any, bands: Any, valid_days: Any) -> None:
    if not isinstance(questions, list) or not questions:
        raise ValidationFailed("a questionnaire needs at least one question")
    ids = set()
    for q in questions:
        if not isinstance(q, dict) or not isinstance(q.get("id"), str) or not q["id"].strip():
            raise ValidationFailed("every question needs an id")
        if q["id"] in ids:
            raise ValidationFailed("question ids must be unique", details={"id": q["id"]})
        ids.add(q["id"])
        if not q.get("zh") or not q.get("en"):
            raise ValidationFailed("every question needs its text in zh and en", details={"id": q["id"]})
        opts = q.get("options")
        if not isinstance(opts, list) or len(opts) < 2:
            raise ValidationFailed("every question needs at least two options", details={"id": q["id"]})
        for o in opts:
            if (not isinstance(o, dict) or not o.get("zh") or not o.get("en") or not isinstance(o.get("score"), int)
                    or isinstance(o.get("score"), bool) or o["score"] < 0):
                raise ValidationFailed("every option needs zh, en and a score of 0 or more", details={"id": q["id"]})
    if not isinstance(bands, list) or [b.get("grade") for b in bands if isinstance(b, dict)] != list(GRADES):
        raise ValidationFailed("bands must list the grades C1-C5 in order", details={"grades": list(GRADES)})
    mins = [b.get("min_score") for b in bands]
    if mins[0] != 0 or any(not isinstance(m, int) for m in mins) or mins != sorted(set(mins)):
        raise ValidationFailed("band minimum scores must start at 0 and rise strictly")
    if not isinstance(valid_days, int) or isinstance(valid_days, bool) or not 1 <= valid_days <= 3650:
        raise ValidationFailed("valid_days is a whole number of days from 1 to 3650")


def ensure_seeded(session: Session) -> RiskQuestionnaire:
    """Version 1 when there is no questionnaire yet; otherwise the active one."""
    q = active(session, required=False)
    if q is not None:
        return q
    q = RiskQuestionnaire(version=1, questions=V1_QUESTIONS, bands=V1_BANDS, valid_days=DEFAULT_VALID_DAYS,
                          active=True)
    session.add(q)
    session.flush()
    return q


def active(session: Session, *, required: bool = True) -> RiskQuestionnaire | None:
    q = session.scalars(select(RiskQuestionnaire).where(RiskQuestionnaire.active.is_(True))
                        .order_by(RiskQuestionnaire.version.desc()).limit(1)).first()
    if q is None and required:
        raise NotFound("no risk questionnaire is published")
    return q


def view(q: RiskQuestionnaire) -> dict[str, Any]:
    return {"version": q.version, "questions": q.questions, "bands": q.bands, "valid_days": q.valid_days}


def grade_for(bands: list[dict[str, Any]], total: int) -> str:
    grade = bands[0]["grade"]
    for b in bands:
        if total >= b["min_score"]:
            grade = b["grade"]
    return str(grade)


def score(questions: list[dict[str, Any]], answers: Any) -> int:
    """The score of a complete, valid set of answers (question id -> option index), or a ValidationFailed
    naming what is missing or wrong."""
    if not isinstance(answers, dict):
        raise ValidationFailed("answers are a mapping of question id to option index")
    ids = {q["id"] for q in questions}
    unknown = sorted(set(answers) - ids)
    if unknown:
        raise ValidationFailed("unknown questions in the answers", details={"unknown": unknown})
    missing = [q["id"] for q in questions if q["id"] not in answers]
    if missing:
        raise ValidationFailed("please answer every question", details={"missing": missing})
    total = 0
    for q in questions:
        a = answers[q["id"]]
        if not isinstance(a, int) or isinstance(a, bool) or not 0 <= a < len(q["options"]):
            raise ValidationFailed("an answer is not one of the question's options",
                                   details={"question": q["id"], "answer": a})
        total += int(q["options"][a]["score"])
    return total


def _customer(actor: Principal) -> int:
    if actor.is_staff or actor.customer_id is None:
        raise Forbidden("the risk assessment is taken by the customer themselves", details={"role": actor.role})
    return actor.customer_id


def take(session: Session, actor: Principal, answers: dict[str, int], *, channel: str = "web",
         now: datetime | None = None) -> RiskAssessment:
    """Score the customer's answers under the active questionnaire and record the assessment (it lapses
    ``valid_days`` later). Bad or incomplete answers write nothing."""
    cid = _customer(actor)
    q = active(session)
    assert q is not None
    total = score(q.questions, answers)
    at = now or clock.now()
    a = RiskAssessment(customer_id=cid, questionnaire_version=q.version, answers=dict(answers), score=total,
                       grade=grade_for(q.bands, total), channel=(channel or "web")[:16], taken_at=at,
                       expires_at=at + timedelta(days=q.valid_days))
    session.add(a)
    session.flush()
    return a


def status(session: Session, actor: Principal | int, *, now: datetime | None = None) -> dict[str, Any]:
    """The customer's grade in force: grade, when it lapses, whether it has lapsed and days left; the newest
    assessment is reported even when it lapsed (``grade`` then is None and ``last_grade`` says what it was)."""
    cid = actor if isinstance(actor, int) else _customer(actor)
    at = now or clock.now()
    newest = session.scalars(select(RiskAssessment).where(RiskAssessment.customer_id == cid)
                             .order_by(RiskAssessment.taken_at.desc(), RiskAssessment.id.desc()).limit(1)).first()
    if newest is None:
        return {"customer_id": cid, "grade": None, "last_grade": None, "assessment_id": None, "taken_at": None,
                "expires_at": None, "lapsed": False, "never_taken": True, "days_left": 0,
                "questionnaire_version": None}
    in_force = grades.current(session, cid, at)
    shown = in_force or newest
    expires = _utc(shown.expires_at)
    lapsed = in_force is None
    return {"customer_id": cid, "grade": None if lapsed else shown.grade, "last_grade": shown.grade,
            "assessment_id": shown.id, "score": shown.score, "taken_at": _utc(shown.taken_at), "expires_at": expires,
            "lapsed": lapsed, "never_taken": False, "days_left": max(0, (expires - at).days),
            "questionnaire_version": shown.questionnaire_version}


def publish(session: Session, actor: Principal, *, questions: list[dict[str, Any]], bands: list[dict[str, Any]],
            valid_days: int = DEFAULT_VALID_DAYS) -> RiskQuestionnaire:
    """Admins: a new questionnaire version, active from now on (older versions are kept, inactive)."""
    if not actor.can("wealth.questionnaire.publish"):
        raise Forbidden("only an administrator publishes a questionnaire", details={"role": actor.role})
    validate_definition(questions, bands, valid_days)
    version = int(session.scalar(select(func.coalesce(func.max(RiskQuestionnaire.version), 0))) or 0) + 1
    before = active(session, required=False)
    for old in session.scalars(select(RiskQuestionnaire).where(RiskQuestionnaire.active.is_(True))):
        old.active = False
    q = RiskQuestionnaire(version=version, questions=questions, bands=bands, valid_days=valid_days, active=True,
                          created_by=actor.user_id)
    session.add(q)
    session.flush()
    security.audit(session, actor, action="wealth.questionnaire.publish", object_type="risk_questionnaire",
                   object_id=q.id, before={"version": before.version} if before else None,
                   after={"version": version, "questions": len(questions), "valid_days": valid_days})
    session.flush()
    return q
