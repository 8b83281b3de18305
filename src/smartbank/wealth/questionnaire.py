"""The risk-tolerance questionnaire (风险承受能力评估): versioned questions, scoring, grades C1-C5.

A questionnaire row holds its questions (each option with a score), the score bands of the grades and how
long a result stays valid (``valid_days``, 365 by default). The newest *active* version is the one customers
take; publishing a new version (admins only, audited) deactivates the older ones, and assessments keep the
version they were taken under.

Scoring: the score is the sum of the chosen options' scores; the grade is the highest band whose
``min_score`` the score reaches (bands ascending, the first starting at 0).

What keeps the result honest (:func:`take`, the reasons in ``docs/POLICIES.md``):

* **answers the bank can check are checked**: the age question's option (each option of a question with id
  ``age`` carries ``ages: [from, to]``, ``to`` None for "and over") must contain the age computed from the
  birth date on the customer's ID on the day; otherwise the attempt is refused (``assessment_age_mismatch``,
  naming the right option);
* **cooling-off**: at least :data:`COOLING_OFF` between two accepted assessments
  (``assessment_cooling_off``, with the time from which a retake is possible);
* **retake limit**: at most :data:`MAX_RETAKES` retakes (an accepted assessment after an earlier one) within
  any :data:`RETAKE_WINDOW` (``assessment_retake_limit``);
* **one at a time**: the customer's row is locked (PostgreSQL) before anything is read, so two attempts sent at
  once are decided one after the other - the second sees the first and is refused;
* **everything is kept**: every attempt is a ``risk_assessments`` row, never updated; a refused one has
  ``status`` refused and its ``refusal_code`` (the refusal is raised with ``persist``: the record stays). The
  grade in force is the newest accepted one that has not lapsed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.errors import Forbidden, NotFound, TooManyAttempts, ValidationFailed
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import grades
from smartbank.wealth.models import GRADES, RiskAssessment, RiskQuestionnaire

__all__ = ["COOLING_OFF", "MAX_RETAKES", "RETAKE_WINDOW", "V1_BANDS", "V1_QUESTIONS", "AgeMismatch",
           "AssessmentRefused", "active", "age_option", "ensure_seeded", "grade_for", "history", "publish", "score",
           "status", "take"]

DEFAULT_VALID_DAYS = 365
COOLING_OFF = timedelta(days=1)  # the least time between two accepted assessments
RETAKE_WINDOW = timedelta(days=30)
MAX_RETAKES = 2  # accepted retakes within any RETAKE_WINDOW


class AgeMismatch(ValidationFailed):
    """The age answer contradicts the birth date on the customer's ID (the attempt is kept, refused)."""

    code = "assessment_age_mismatch"
    persist = True


class AssessmentRefused(TooManyAttempts):
    """A retake too soon after the last assessment, or beyond the retake limit (the attempt is kept, refused)."""

    code = "assessment_retake_limit"
    persist = True


def _q(qid: str, zh: str, en: str, options: list[tuple[str, str, int]]) -> dict[str, Any]:
    return {"id": qid, "zh": zh, "en": en, "options": [{"zh": a, "en": b, "score": s} for a, b, s in options]}


V1_AGES: list[list[int | None]] = [[18, 30], [31, 50], [51, 60], [61, 70], [71, None]]
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
for _o, _r in zip(V1_QUESTIONS[0]["options"], V1_AGES, strict=True):
    _o["ages"] = _r
V1_BANDS: list[dict[str, Any]] = [
    {"grade": "C1", "min_score": 0}, {"grade": "C2", "min_score": 21}, {"grade": "C3", "min_score": 41},
    {"grade": "C4", "min_score": 61}, {"grade": "C5", "min_score": 81},
]


def _utc(d: datetime) -> datetime:
    """SQLite hands timestamps back without a zone: they are stored in UTC."""
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def validate_definition(questions: Any, bands: Any, valid_days: Any) -> None:
    if not isinstance(questions, list) or not questions:
        raise ValidationFailed("a questionnaire needs at least one question", reason="wealth.q_no_questions")
    ids = set()
    for q in questions:
        if not isinstance(q, dict) or not isinstance(q.get("id"), str) or not q["id"].strip():
            raise ValidationFailed("every question needs an id", reason="wealth.q_id_required")
        if q["id"] in ids:
            raise ValidationFailed("question ids must be unique", reason="wealth.q_id_repeated",
                                   details={"id": q["id"]})
        ids.add(q["id"])
        if not q.get("zh") or not q.get("en"):
            raise ValidationFailed("every question needs its text in zh and en", reason="wealth.q_text_required",
                                   details={"id": q["id"]})
        opts = q.get("options")
        if not isinstance(opts, list) or len(opts) < 2:
            raise ValidationFailed("every question needs at least two options", reason="wealth.q_two_options",
                                   details={"id": q["id"]})
        for o in opts:
            if (not isinstance(o, dict) or not o.get("zh") or not o.get("en") or not isinstance(o.get("score"), int)
                    or isinstance(o.get("score"), bool) or o["score"] < 0):
                raise ValidationFailed("every option needs zh, en and a score of 0 or more",
                                       reason="wealth.q_bad_option", details={"id": q["id"]})
        if q["id"] == "age" and _age_ranges(q) is None:
            raise ValidationFailed("each option of the age question needs its ages [from, to] (to: null for "
                                   "'and over'), so the answer can be checked against the ID",
                                   reason="wealth.q_age_ranges",
                                   details={"id": q["id"]})
    if not isinstance(bands, list) or [b.get("grade") for b in bands if isinstance(b, dict)] != list(GRADES):
        raise ValidationFailed("bands must list the grades C1-C5 in order", reason="wealth.q_bad_bands",
                               details={"grades": list(GRADES)})
    mins = [b.get("min_score") for b in bands]
    if mins[0] != 0 or any(not isinstance(m, int) for m in mins) or mins != sorted(set(mins)):
        raise ValidationFailed("band minimum scores must start at 0 and rise strictly",
                               reason="wealth.q_bad_band_scores")
    if not isinstance(valid_days, int) or isinstance(valid_days, bool) or not 1 <= valid_days <= 3650:
        raise ValidationFailed("valid_days is a whole number of days from 1 to 3650", reason="wealth.q_bad_valid_days",
                               details={"low": 1, "high": 3650})


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
        raise NotFound("no risk questionnaire is published", reason="wealth.no_questionnaire")
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
        raise ValidationFailed("answers are a mapping of question id to option index", reason="wealth.bad_answers")
    ids = {q["id"] for q in questions}
    unknown = sorted(set(answers) - ids)
    if unknown:
        raise ValidationFailed("unknown questions in the answers", reason="wealth.unknown_questions",
                               details={"unknown": unknown})
    missing = [q["id"] for q in questions if q["id"] not in answers]
    if missing:
        raise ValidationFailed("please answer every question", reason="wealth.unanswered",
                               details={"missing": missing, "count": len(missing)})
    total = 0
    for q in questions:
        a = answers[q["id"]]
        if not isinstance(a, int) or isinstance(a, bool) or not 0 <= a < len(q["options"]):
            raise ValidationFailed("an answer is not one of the question's options", reason="wealth.bad_answer",
                                   details={"question": q["id"], "answer": a})
        total += int(q["options"][a]["score"])
    return total


def _age_ranges(question: dict[str, Any]) -> list[tuple[int, int | None]] | None:
    """The age range of each option of an age question; the v1 wording without ranges (a questionnaire stored
    before they were added) reads as v1's. None when the options do not say."""
    out: list[tuple[int, int | None]] = []
    v1_texts = [o["zh"] for o in V1_QUESTIONS[0]["options"]]
    for i, o in enumerate(question.get("options") or []):
        r = o.get("ages") if isinstance(o, dict) else None
        if r is None and [x.get("zh") for x in question["options"]] == v1_texts:
            r = V1_AGES[i]
        if (not isinstance(r, list | tuple) or len(r) != 2 or not isinstance(r[0], int) or isinstance(r[0], bool)
                or (r[1] is not None and (not isinstance(r[1], int) or r[1] < r[0]))):
            return None
        out.append((int(r[0]), None if r[1] is None else int(r[1])))
    return out or None


def age_option(question: dict[str, Any], age: int) -> int | None:
    """The index of the age question's option that contains ``age`` (None if none does or it has no ranges)."""
    for i, (lo, hi) in enumerate(_age_ranges(question) or []):
        if age >= lo and (hi is None or age <= hi):
            return i
    return None


def _age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def with_age_from_id(session: Session, customer_id: int, questions: list[dict[str, Any]], answers: dict[str, int],
                     day: date) -> dict[str, int]:
    """``answers`` with the age question answered as the customer's ID gives it on ``day`` (for assessments
    entered on a customer's behalf - a branch form, the synthetic bank - which :func:`take` would otherwise
    refuse as contradicting the ID)."""
    age_q = next((x for x in questions if x["id"] == "age"), None)
    born = customers.birth_date_of(customers.get_customer(session, customer_id))
    if age_q is None or born is None:
        return answers
    option = age_option(age_q, _age_on(born, day))
    return answers if option is None else answers | {"age": option}


def _customer(actor: Principal) -> int:
    if actor.is_staff or actor.customer_id is None:
        raise Forbidden("the risk assessment is taken by the customer themselves", reason="wealth.customer_only",
                        details={"role": actor.role})
    return actor.customer_id


def _accepted(session: Session, cid: int) -> list[RiskAssessment]:
    return list(session.scalars(select(RiskAssessment).where(RiskAssessment.customer_id == cid,
                                                             RiskAssessment.status == "accepted")
                                .order_by(RiskAssessment.taken_at, RiskAssessment.id)))


def _frequency_refusal(earlier: list[RiskAssessment], at: datetime) -> AssessmentRefused | None:
    """Refused when the last accepted assessment is within the cooling-off period, or when MAX_RETAKES
    retakes were accepted within the retake window; None when this attempt may go ahead."""
    if not earlier:
        return None  # the first assessment
    last = _utc(earlier[-1].taken_at)
    if at < last + COOLING_OFF:
        nxt = last + COOLING_OFF
        return AssessmentRefused(
            f"a new assessment can be taken {int(COOLING_OFF.total_seconds() // 3600)} hours after the last one, "
            f"from {clock.local_date(nxt).isoformat()} {nxt.astimezone(clock.BANK_TZ):%H:%M}",
            code="assessment_cooling_off", details={"last_taken_at": last.isoformat(), "next_allowed_at":
                                                    nxt.isoformat()})
    retakes = [_utc(a.taken_at) for a in earlier[1:] if _utc(a.taken_at) > at - RETAKE_WINDOW]
    if len(retakes) >= MAX_RETAKES:
        nxt = retakes[-MAX_RETAKES] + RETAKE_WINDOW
        return AssessmentRefused(
            f"the assessment may be retaken at most {MAX_RETAKES} times within {RETAKE_WINDOW.days} days; the next "
            f"retake is possible from {clock.local_date(nxt).isoformat()}",
            details={"retakes": len(retakes), "max_retakes": MAX_RETAKES, "window_days": RETAKE_WINDOW.days,
                     "next_allowed_at": nxt.isoformat()})
    return None


def take(session: Session, actor: Principal, answers: dict[str, int], *, channel: str = "web",
         now: datetime | None = None) -> RiskAssessment:
    """Score the customer's answers under the active questionnaire and record the assessment (it lapses
    ``valid_days`` later). Bad or incomplete answers write nothing. An age answer that contradicts the ID, a
    retake inside the cooling-off period or beyond the retake limit is refused and kept on record (status
    refused). One customer's attempts are decided one at a time (their row is locked first)."""
    cid = _customer(actor)
    customer = customers.get_customer(session, cid, lock=True)  # serialises this customer's attempts
    q = active(session)
    assert q is not None
    total = score(q.questions, answers)
    at = now or clock.now()
    born = customers.birth_date_of(customer)
    id_age = _age_on(born, clock.local_date(at)) if born is not None else None
    a = RiskAssessment(customer_id=cid, questionnaire_version=q.version, answers=dict(answers), score=total,
                       grade=grade_for(q.bands, total), channel=(channel or "web")[:16], taken_at=at,
                       expires_at=at + timedelta(days=q.valid_days), status="accepted", id_age=id_age)
    refusal: ValidationFailed | AssessmentRefused | None = None
    age_q = next((x for x in q.questions if x["id"] == "age"), None)
    if age_q is not None and id_age is not None and _age_ranges(age_q) is not None \
            and age_option(age_q, id_age) != answers.get("age"):
        right = age_option(age_q, id_age)
        opt = age_q["options"][right] if right is not None else None
        refusal = AgeMismatch(
            f"the age you chose does not match the birth date on your ID (you are {id_age}"
            + (f": please choose \"{opt['en']}\")" if opt else ")"),
            details={"question": "age", "answer": answers.get("age"), "id_age": id_age, "expected_option": right,
                     "expected_zh": opt["zh"] if opt else None, "expected_en": opt["en"] if opt else None})
    else:
        refusal = _frequency_refusal(_accepted(session, cid), at)
    if refusal is not None:
        a.status, a.refusal_code, a.expires_at = "refused", refusal.code, at  # on record, never in force
        session.add(a)
        session.flush()
        refusal.details["assessment_id"] = a.id
        raise refusal
    was = grades.current(session, cid, at)  # the grade in force decides what the customer may buy
    session.add(a)
    session.flush()
    security.audit(session, actor, action="wealth.assessment", object_type="risk_assessment", object_id=a.id,
                   before={"grade": was.grade if was else None, "assessment_id": was.id if was else None},
                   after={"grade": a.grade, "assessment_id": a.id, "expires_at": _utc(a.expires_at).isoformat()})
    return a


def history(session: Session, actor: Principal | int, *, limit: int = 50) -> list[dict[str, Any]]:
    """Every assessment the customer took, newest first (accepted and refused), for the record."""
    cid = actor if isinstance(actor, int) else _customer(actor)
    rows = session.scalars(select(RiskAssessment).where(RiskAssessment.customer_id == cid)
                           .order_by(RiskAssessment.taken_at.desc(), RiskAssessment.id.desc()).limit(limit))
    return [{"id": r.id, "taken_at": _utc(r.taken_at), "grade": r.grade, "score": r.score, "status": r.status,
             "refusal_code": r.refusal_code, "channel": r.channel, "questionnaire_version": r.questionnaire_version}
            for r in rows]


def status(session: Session, actor: Principal | int, *, now: datetime | None = None) -> dict[str, Any]:
    """The customer's grade in force: grade, when it lapses, whether it has lapsed and days left; the newest
    assessment is reported even when it lapsed (``grade`` then is None and ``last_grade`` says what it was)."""
    cid = actor if isinstance(actor, int) else _customer(actor)
    at = now or clock.now()
    newest = session.scalars(select(RiskAssessment).where(RiskAssessment.customer_id == cid,
                                                          RiskAssessment.status == "accepted")
                             .order_by(RiskAssessment.taken_at.desc(), RiskAssessment.id.desc()).limit(1)).first()
    if newest is None:
        return {"customer_id": cid, "grade": None, "last_grade": None, "assessment_id": None, "taken_at": None,
                "expires_at": None, "lapsed": False, "never_taken": True, "days_left": 0,
                "questionnaire_version": None, "next_retake_at": None}
    in_force = grades.current(session, cid, at)
    shown = in_force or newest
    expires = _utc(shown.expires_at)
    lapsed = in_force is None
    wait = _frequency_refusal(_accepted(session, cid), at)
    return {"customer_id": cid, "grade": None if lapsed else shown.grade, "last_grade": shown.grade,
            "assessment_id": shown.id, "score": shown.score, "taken_at": _utc(shown.taken_at), "expires_at": expires,
            "lapsed": lapsed, "never_taken": False, "days_left": max(0, (expires - at).days),
            "questionnaire_version": shown.questionnaire_version,
            "next_retake_at": wait.details["next_allowed_at"] if wait is not None else None}


def publish(session: Session, actor: Principal, *, questions: list[dict[str, Any]], bands: list[dict[str, Any]],
            valid_days: int = DEFAULT_VALID_DAYS) -> RiskQuestionnaire:
    """Admins: a new questionnaire version, active from now on (older versions are kept, inactive)."""
    if not actor.can("wealth.questionnaire.publish"):
        raise Forbidden("only an administrator publishes a questionnaire", reason="wealth.questionnaire_admin_only",
                        details={"role": actor.role})
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
