"""Repaying a loan by chat: the assistant finds the loan with something due, shows the amount, moves nothing
until the explicit yes, and pays through the lending service (a written-off loan's payment is a recovery)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.assistant import intents
from smartbank.assistant import service as assistant
from smartbank.lending import servicing
from tests.lending.support import customer, disbursed, fund


def say(actor, txt, cid=None):
    return db.run_in_transaction(lambda s: assistant.send(s, actor, text=txt, conversation_id=cid))


def _repayments(engine, loan_id: int) -> list[tuple[str, int]]:
    with engine.connect() as c:
        return [(r[0], int(r[1])) for r in c.execute(text(
            "SELECT kind, amount_minor FROM loan_repayments WHERE loan_id = :l ORDER BY id"), {"l": loan_id})]


@pytest.mark.parametrize("phrase", ["还贷款", "我要还款", "帮我还一下贷款", "repay my loan", "pay my loan installment"])
def test_repayment_requests_are_understood(phrase):
    assert intents.classify(phrase).intent == "loan_repay"


@pytest.mark.parametrize("phrase", ["我欠多少贷款", "贷款审批进度", "my loans", "I want a loan"])
def test_questions_about_loans_are_not_repayments(phrase):
    assert intents.classify(phrase).intent != "loan_repay"


def test_repay_what_is_due_after_the_explicit_yes(bank, engine):
    cid, acct, me = customer(bank, "王芳", balance=0)
    start = servicing.today() - timedelta(days=40)  # the first instalment fell due ten days ago
    loan_id = disbursed(engine, cid, acct, start=start, amount=1_200_000, rate_bps=600, term=12)
    with db.session_scope(engine) as s:
        due = servicing.loan_view(s, me, loan_id)["due_now_minor"]
        number = servicing.loan_view(s, me, loan_id)["number"]
    assert due > 0
    before = bank.balance(acct)
    r = say(me, "还贷款")
    cid_ = r["conversation_id"]
    assert r["intent"] == "loan_repay" and r["replies"][-1]["kind"] == "confirm"
    amount = f"¥{due // 100:,}.{due % 100:02d}"
    assert number in r["replies"][-1]["text"] and amount in r["replies"][-1]["text"]
    assert _repayments(engine, loan_id) == [] and bank.balance(acct) == before  # nothing before the yes
    r = say(me, "确认", cid_)
    assert r["replies"][-1]["kind"] == "done", r["replies"]
    assert _repayments(engine, loan_id) == [("scheduled", due)] and bank.balance(acct) == before - due
    # nothing is due any more
    r = say(me, "还贷款", cid_)
    assert "没有应还" in r["replies"][-1]["text"] and _repayments(engine, loan_id) == [("scheduled", due)]
    bank.assert_invariants()


def test_a_part_more_than_is_due_is_refused_in_plain_words(bank, engine):
    cid, acct, me = customer(bank, "李娜", balance=0)
    loan_id = disbursed(engine, cid, acct, start=servicing.today() - timedelta(days=40), amount=1_200_000,
                        rate_bps=600, term=12)
    r = say(me, "repay my loan")
    r = say(me, "no, 900000", r["conversation_id"])  # a correction of the amount, far above what is due
    assert r["replies"][-1]["kind"] == "confirm"
    r = say(me, "yes", r["conversation_id"])
    assert r["replies"][-1]["kind"] == "error" and "more than is due" in r["replies"][-1]["text"]
    assert _repayments(engine, loan_id) == []
    bank.assert_invariants()


def test_a_written_off_loan_is_repaid_as_a_recovery(bank, engine):
    from tests.lending.test_writeoff import written_off

    loan_id, acct, me, owed = written_off(bank, engine)
    fund(bank, acct, owed, "found-money")
    r = say(me, "我要还款")
    assert r["replies"][-1]["kind"] == "confirm" and f"¥{owed // 100:,}.{owed % 100:02d}" in r["replies"][-1]["text"]
    r = say(me, "确认", r["conversation_id"])
    assert r["replies"][-1]["kind"] == "done"
    assert _repayments(engine, loan_id) == [("recovery", owed)] and bank.balance(acct) == 0
    bank.assert_invariants()
