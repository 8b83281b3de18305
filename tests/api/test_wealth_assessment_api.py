"""The risk assessment cannot be gamed: the age answer is checked against the ID, a retake waits a day and at
most two retakes count in 30 days, two attempts sent at once are decided one after the other (PostgreSQL), and
every attempt - accepted or refused - stays on record; the grade in force is the newest accepted one."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.wealth import questionnaire, seed
from tests.api.support import API, assert_error
from tests.conftest import login

Q = questionnaire.V1_QUESTIONS
A = f"{API}/wealth"


def answers(index: int, age: int = 1) -> dict[str, int]:
    """Every answer at ``index`` (0: C1, 3: C5) and the age option ``age`` (1: 31-50, the ID's for 1985)."""
    return {q["id"]: min(index, len(q["options"]) - 1) for q in Q} | {"age": age}


@pytest.fixture
def w(client, bank, engine):
    with db.session_scope(engine) as s:
        seed.seed(s, codes=["F-TECH", "F-BOND"], years=1)
    cid = bank.customer("王芳")  # born 1985-03-07: 41
    acct = bank.account(cid, balance=1_000_000)
    bank.user("alice", customer_id=cid)
    return {"cid": cid, "acct": acct}


def _rows(engine, cid: int) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(
            "SELECT grade, status, refusal_code FROM risk_assessments WHERE customer_id = :c ORDER BY id"),
            {"c": cid})]


def _buy(client, h, w, key: str):
    return client.post(f"{A}/orders/purchase", headers=h, json={
        "product_code": "F-TECH", "account_id": w["acct"], "amount_minor": 100_000, "idempotency_key": key})


def test_an_age_answer_that_contradicts_the_id_is_refused_and_kept(client, w, engine):
    h = login(client, "alice")
    body = assert_error(client.post(f"{A}/assessments", json={"answers": answers(0, age=4)}, headers=h),
                        422, "assessment_age_mismatch")  # "over 70" from someone born in 1985
    assert body["details"]["id_age"] == 41 and body["details"]["expected_option"] == 1
    assert body["details"]["expected_zh"] == "31-50 岁" and "31-50" in body["message"]
    assert client.get(f"{A}/assessment", headers=h).json()["never_taken"] is True
    assert _rows(engine, w["cid"]) == [("C1", "refused", "assessment_age_mismatch")]
    history = client.get(f"{A}/assessments", headers=h).json()
    assert [(x["status"], x["refusal_code"]) for x in history] == [("refused", "assessment_age_mismatch")]
    # the right age band is accepted at once (a refused attempt does not start the cooling-off)
    r = client.post(f"{A}/assessments", json={"answers": answers(0)}, headers=h)
    assert r.status_code == 201 and r.json()["grade"] == "C1"


def test_a_refused_c1_customer_cannot_retake_at_once_to_buy_r5(client, w, engine, bank_clock):
    h = login(client, "alice")
    assert client.post(f"{A}/assessments", json={"answers": answers(0)}, headers=h).json()["grade"] == "C1"
    assert_error(_buy(client, h, w, "r5-1"), 403, "unsuitable_product")
    # retaking at once, twice, for C5: refused both times, kept on record, the grade stays C1
    for _ in range(2):
        body = assert_error(client.post(f"{A}/assessments", json={"answers": answers(3)}, headers=h),
                            429, "assessment_cooling_off")
        assert body["details"]["next_allowed_at"]
    st = client.get(f"{A}/assessment", headers=h).json()
    assert st["grade"] == "C1" and st["next_retake_at"] is not None
    assert_error(_buy(client, h, w, "r5-2"), 403, "unsuitable_product")
    # a day later a retake counts; a second one the next day; a third within 30 days is refused
    grades = []
    for day in range(1, 4):
        bank_clock.advance(timedelta(days=1, minutes=1))
        h = login(client, "alice")
        r = client.post(f"{A}/assessments", json={"answers": answers(1 if day < 3 else 3)}, headers=h)
        grades.append((r.status_code, r.json().get("grade") or r.json().get("code")))
    assert grades == [(201, "C3"), (201, "C3"), (429, "assessment_retake_limit")]
    assert client.get(f"{A}/assessment", headers=h).json()["grade"] == "C3"
    # everything is on record, nothing overwritten; the effective one is the newest accepted
    assert _rows(engine, w["cid"]) == [
        ("C1", "accepted", None), ("C5", "refused", "assessment_cooling_off"),
        ("C5", "refused", "assessment_cooling_off"), ("C3", "accepted", None), ("C3", "accepted", None),
        ("C5", "refused", "assessment_retake_limit")]
    # 30 days after the first retake, a retake counts again
    bank_clock.advance(timedelta(days=28))
    h = login(client, "alice")
    r = client.post(f"{A}/assessments", json={"answers": answers(3)}, headers=h)
    assert r.status_code == 201 and r.json()["grade"] == "C5"


@pytest.mark.commits
def test_two_attempts_sent_at_once_are_decided_one_after_the_other(client, w, engine, is_pg, monkeypatch):
    """Both requests are held at a barrier before either reads anything; the customer's row lock makes the
    second wait for the first and then see it: one is accepted, the other refused and kept."""
    if not is_pg:
        pytest.skip("concurrent writers: PostgreSQL (SQLite serialises them)")
    h = login(client, "alice")
    assert client.post(f"{A}/assessments", json={"answers": answers(0)}, headers=h).status_code == 201
    with engine.begin() as c:  # the first assessment was two days ago: a retake is allowed now
        c.execute(text("UPDATE risk_assessments SET taken_at = taken_at - interval '2 days', "
                       "expires_at = expires_at - interval '2 days'"))
    barrier = threading.Barrier(2, timeout=10)
    real = questionnaire._customer
    waited = threading.local()

    def customer_then_wait(actor):
        cid = real(actor)
        if not getattr(waited, "done", False):  # each request waits once, at its first look-up
            waited.done = True
            barrier.wait()
        return cid

    monkeypatch.setattr(questionnaire, "_customer", customer_then_wait)
    results: list[Any] = []

    def go():
        r = client.post(f"{A}/assessments", json={"answers": answers(3)}, headers=h)
        results.append((r.status_code, r.json().get("grade") or r.json().get("code")))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [(201, "C5"), (429, "assessment_cooling_off")], results
    assert _rows(engine, w["cid"]) == [("C1", "accepted", None), ("C5", "accepted", None),
                                       ("C5", "refused", "assessment_cooling_off")]
