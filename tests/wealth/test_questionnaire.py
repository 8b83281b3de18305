"""The risk questionnaire: scoring and bands, validation (nothing written on bad answers), status and lapse,
publishing a new version (admins only, audited; old assessments keep theirs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smartbank import db
from smartbank.errors import Forbidden, ValidationFailed
from smartbank.security.service import Principal
from smartbank.wealth import grades, questionnaire
from tests.lending.support import customer

Q = questionnaire.V1_QUESTIONS
B = questionnaire.V1_BANDS
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("score", "grade"), [(0, "C1"), (20, "C1"), (21, "C2"), (40, "C2"), (41, "C3"),
                                              (60, "C3"), (61, "C4"), (80, "C4"), (81, "C5"), (100, "C5")])
def test_bands(score, grade):
    assert questionnaire.grade_for(B, score) == grade


def _answers(index: int) -> dict[str, int]:
    return {q["id"]: min(index, len(q["options"]) - 1) for q in Q}


@pytest.mark.parametrize(("answers", "score", "grade"), [
    (_answers(0), 8 + 2 + 2 + 0 + 0 + 2 + 0 + 0 + 2 + 0, "C1"),
    (_answers(1), 10 + 5 + 5 + 4 + 4 + 5 + 4 + 4 + 5 + 4, "C3"),
    (_answers(2), 6 + 8 + 8 + 7 + 7 + 8 + 7 + 7 + 8 + 7, "C4"),
    (_answers(3), 2 + 10 * 9, "C5"),
    (_answers(3) | {"age": 1}, 100, "C5"),
    (_answers(0) | {"loss": 2, "objective": 2}, 16 + 14, "C2"),
])
def test_scoring_table(answers, score, grade):
    assert questionnaire.score(Q, answers) == score
    assert questionnaire.grade_for(B, score) == grade


def test_v1_is_ten_bilingual_questions_scoring_0_to_100():
    assert len(Q) == 10 and all(q["zh"] and q["en"] for q in Q)
    assert sum(max(o["score"] for o in q["options"]) for q in Q) == 100
    questionnaire.validate_definition(Q, B, 365)


@pytest.mark.parametrize("bad", [
    {}, _answers(0) | {"age": 9}, {k: v for k, v in _answers(0).items() if k != "loss"}, _answers(0) | {"x": 1},
    _answers(0) | {"age": "1"}, _answers(0) | {"age": True}, _answers(0) | {"age": -1},
])
def test_bad_answers_write_nothing(bank, engine, bad):
    _, _, me = customer(bank)
    with db.session_scope(engine) as s:
        questionnaire.ensure_seeded(s)
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        questionnaire.take(s, me, bad)
    assert bank.count("risk_assessments") == 0


def test_take_status_and_lapse(bank, engine):
    cid, _, me = customer(bank)
    with db.session_scope(engine) as s:
        assert questionnaire.status(s, me)["never_taken"]
        questionnaire.ensure_seeded(s)
        a = questionnaire.take(s, me, _answers(2) | {"age": 1}, now=NOW)  # the ID says 40: "31-50"
        assert (a.grade, a.score, a.questionnaire_version, a.id_age) == ("C4", 77, 1, 40)
    with db.session_scope(engine) as s:
        st = questionnaire.status(s, me, now=NOW + timedelta(days=300))
        assert (st["grade"], st["lapsed"], st["days_left"]) == ("C4", False, 65)
        st = questionnaire.status(s, me, now=NOW + timedelta(days=366))
        assert (st["grade"], st["last_grade"], st["lapsed"]) == (None, "C4", True)
        assert grades.current_grade(s, cid, NOW + timedelta(days=366)) is None


def test_publish_new_version_is_admin_only_and_audited(bank, engine):
    cid, _, me = customer(bank)
    admin = Principal(user_id=bank.user("admin1", role="admin"), username="admin1", role="admin", customer_id=None)
    marketer = Principal(user_id=bank.user("mark1", role="marketer"), username="mark1", role="marketer",
                         customer_id=None)
    with db.session_scope(engine) as s:
        questionnaire.ensure_seeded(s)
        questionnaire.take(s, me, _answers(1), now=NOW)
    two = Q[:2]
    with pytest.raises(Forbidden), db.session_scope(engine) as s:
        questionnaire.publish(s, marketer, questions=two, bands=B, valid_days=180)
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        questionnaire.publish(s, admin, questions=two, bands=B[:3], valid_days=180)
    with db.session_scope(engine) as s:
        q = questionnaire.publish(s, admin, questions=two, bands=B, valid_days=180)
        assert q.version == 2
    with db.session_scope(engine) as s:
        assert questionnaire.active(s).version == 2
        a = questionnaire.take(s, me, {"age": 1, "income": 3}, now=NOW + timedelta(days=2))
        assert (a.questionnaire_version, a.expires_at - a.taken_at) == (2, timedelta(days=180))
    assert bank.count("audit_log WHERE action = 'wealth.questionnaire.publish'") == 1  # the two refusals: none
    assert bank.count("audit_log WHERE action = 'wealth.assessment'") == 2  # the customer's own assessments
    with engine.connect() as c:
        from sqlalchemy import text
        versions = sorted(r[0] for r in c.execute(text("SELECT questionnaire_version FROM risk_assessments")))
    assert versions == [1, 2]
