"""Journeys: definitions, approvals, events, runs through waits and branches, quiet periods, detectors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.errors import Conflict, Forbidden, ValidationFailed
from smartbank.marketing import contact
from smartbank.marketing import service as marketing
from smartbank.marketing.journeys_tables import JourneyEvent, JourneyRun, JourneyStep
from smartbank.marketing.models import MarketingMessage
from smartbank.security.service import Principal

M1 = Principal(user_id=0, username="market1", role="marketer", customer_id=None)
M2 = Principal(user_id=0, username="market2", role="marketer", customer_id=None)
TELLER = Principal(user_id=0, username="teller1", role="teller", customer_id=None)


def _consent(session, cid: int, *channels: str) -> None:
    me = Principal(user_id=0, username=f"c{cid}", role="customer", customer_id=cid)
    for ch in channels:
        customers.set_consent(session, me, cid, purpose=f"marketing_{ch}", granted=True, given_via="web")


def _enabled_defaults(session) -> None:
    marketing.seed_journeys(session)
    for code in ("welcome", "complaint_closed", "salary", "maturity", "loan_paid_off", "reactivation"):
        marketing.approve_journey(session, M1, code)


def _steps(session, run_id: int) -> list[tuple[str, str]]:
    return [(s.step_id, s.outcome) for s in session.scalars(
        select(JourneyStep).where(JourneyStep.run_id == run_id).order_by(JourneyStep.id))]


def test_welcome_clicked_ends_without_sms(session, bank, bank_clock):
    cid = bank.customer()
    _consent(session, cid, "push", "sms")
    _enabled_defaults(session)
    out = marketing.emit_event(session, "account_opened", cid, "account:1")
    assert out["created"] and len(out["runs_started"]) == 1
    marketing.advance_runs(session)
    run = session.get(JourneyRun, out["runs_started"][0])
    assert run.status == "active" and run.step == "clicked"
    (hello, sent), wait = _steps(session, run.id)
    assert hello == "hello" and sent in ("sent", "delivered") and wait == ("wait3", "waiting")
    first = session.get(MarketingMessage, run.last_message_id)
    assert first.channel == "inapp" and first.journey_id == run.journey_id
    first.clicked_at = clock.now()
    session.flush()
    bank_clock.advance(timedelta(days=2, hours=23))
    assert marketing.advance_runs(session)["runs"] == 0  # not due yet
    bank_clock.advance(timedelta(hours=2))
    marketing.advance_runs(session)
    assert run.status == "completed"
    assert _steps(session, run.id)[2:] == [("clicked", "yes"), ("done", "exit")]
    why = session.scalars(select(JourneyStep).where(JourneyStep.run_id == run.id,
                                                    JourneyStep.step_id == "clicked")).one().details
    assert why["message_id"] == first.id and why["next"] == "done" and why["at"]
    assert session.scalars(select(MarketingMessage).where(MarketingMessage.channel == "sms")).first() is None


def test_welcome_not_clicked_sends_sms(session, bank, bank_clock):
    cid = bank.customer()
    _consent(session, cid, "push", "sms")
    _enabled_defaults(session)
    run_id = marketing.emit_event(session, "account_opened", cid, "account:9")["runs_started"][0]
    marketing.advance_runs(session)
    bank_clock.advance(timedelta(days=3, minutes=1))
    marketing.advance_runs(session)
    steps = _steps(session, run_id)[2:]
    assert steps[0] == ("clicked", "no") and steps[1][0] == "sms" and steps[2] == ("done", "exit")
    sms = session.scalars(select(MarketingMessage).where(MarketingMessage.channel == "sms")).one()
    assert sms.customer_id == cid and sms.status in ("sent", "delivered") and steps[1][1] == sms.status


def test_send_without_consent_is_recorded_as_suppressed(session, bank):
    cid = bank.customer()
    _enabled_defaults(session)
    run_id = marketing.emit_event(session, "account_opened", cid, "account:1")["runs_started"][0]
    marketing.advance_runs(session)
    assert _steps(session, run_id)[0] == ("hello", "suppressed")
    assert session.scalars(select(MarketingMessage)).one().suppressed_reason == "no_consent"


def test_events_are_idempotent_and_one_active_run_per_customer(session, bank, bank_clock):
    cid = bank.customer()
    _enabled_defaults(session)
    a = marketing.emit_event(session, "salary_credited", cid, "transfer:1")
    b = marketing.emit_event(session, "salary_credited", cid, "transfer:1")
    assert a["created"] and not b["created"] and b["event_id"] == a["event_id"] and b["runs_started"] == []
    assert len(session.scalars(select(JourneyEvent)).all()) == 1
    with pytest.raises(Conflict):
        marketing.emit_event(session, "salary_credited", cid + 1, "transfer:1")
    # welcome waits 3 days: a second account opening meanwhile starts no second run
    marketing.emit_event(session, "account_opened", cid, "account:1")
    marketing.advance_runs(session)
    again = marketing.emit_event(session, "account_opened", cid, "account:2")
    assert again["created"] and again["runs_started"] == []
    active = session.scalars(select(JourneyRun).where(JourneyRun.journey_code == "welcome")).all()
    assert len(active) == 1
    # welcome is once per customer (no re-entry) even after the run ended
    bank_clock.advance(timedelta(days=4))
    marketing.advance_runs(session)
    assert marketing.emit_event(session, "account_opened", cid, "account:3")["runs_started"] == []


def test_reentry_after_days(session, bank, bank_clock):
    cid = bank.customer()
    _enabled_defaults(session)
    marketing.emit_event(session, "salary_credited", cid, "transfer:1")
    marketing.advance_runs(session)  # salary: branch then offer then exit, done at once
    assert marketing.emit_event(session, "salary_credited", cid, "transfer:2")["runs_started"] == []
    bank_clock.advance(timedelta(days=31))
    assert len(marketing.emit_event(session, "salary_credited", cid, "transfer:3")["runs_started"]) == 1


def test_a_disabled_or_unapproved_journey_starts_nothing(session, bank):
    cid = bank.customer()
    marketing.seed_journeys(session)
    assert marketing.emit_event(session, "account_opened", cid, "account:1")["runs_started"] == []


def test_quiet_period_blocks_journey_and_campaign_messages(session, bank, bank_clock):
    cid = bank.customer()
    _consent(session, cid, "push", "sms")
    _enabled_defaults(session)
    marketing.emit_event(session, "complaint_closed", cid, "complaint:7")
    marketing.advance_runs(session)
    until = marketing.quiet_until(session, cid)
    assert until is not None and until - clock.now() > timedelta(days=29, hours=23)
    assert marketing.in_quiet_period(session, cid)
    # a journey's send during the quiet period is recorded, not sent
    run_id = marketing.emit_event(session, "loan_paid_off", cid, "loan:1")["runs_started"][0]
    marketing.advance_runs(session)
    assert _steps(session, run_id)[0] == ("thanks", "suppressed")
    msg = session.scalars(select(MarketingMessage).where(MarketingMessage.journey_id.is_not(None))).one()
    assert msg.suppressed_reason == "journey_quiet"
    # a campaign's message goes through the contact policy, which asks the journeys' suppression provider
    if not hasattr(contact, "register_suppression"):
        pytest.skip("the contact policy's suppression providers are not in this tree")
    camp = contact.send(session, contact.Outgoing(customer_id=cid, channel="inapp", campaign_id=1,
                                                  content={"zh": {"title": "t", "body": "b"}}))
    assert camp.status == "suppressed" and camp.suppressed_reason == "journey_quiet"
    bank_clock.advance(timedelta(days=31))
    assert not marketing.in_quiet_period(session, cid)


def test_branch_on_conversion_from_the_ledger(session, bank):
    from smartbank.ledger import service as ledger
    from smartbank.wealth import service as wealth

    cid = bank.customer()
    _consent(session, cid, "push")
    _enabled_defaults(session)
    acct = bank.account(cid, balance=100_000)
    run_a = marketing.emit_event(session, "salary_credited", cid, "transfer:a")["runs_started"][0]
    marketing.advance_runs(session)
    assert _steps(session, run_a)[0] == ("saved", "no")
    # a wealth purchase as the bank records it: the order (what attribution counts too) and its payment
    custody = ledger.internal_account(session, "wealth_custody", "CNY")
    paid = ledger.transfer(session, ledger.TransferCommand(key="wp-1", debit_account_id=acct,
                                                           credit_account_id=custody.id, amount_minor=5_000,
                                                           currency="CNY", kind="wealth_purchase"))
    session.add(wealth.WealthOrder(idempotency_key="wp-1", customer_id=cid, product_id=1, account_id=acct,
                                   kind="purchase", status="pending", amount_minor=5_000, trade_date=clock.today(),
                                   settle_date=clock.today(), transfer_ids=[paid.id]))
    other = bank.customer("李娜")
    assert other != cid
    run_b = session.scalars(select(JourneyRun).where(JourneyRun.id == run_a)).one()
    run_b.started_at = clock.now() - timedelta(days=1)
    run_b.status, run_b.step, run_b.wake_at = "active", "saved", clock.now()
    session.flush()
    marketing.advance_runs(session)
    yes = session.scalars(select(JourneyStep).where(JourneyStep.run_id == run_a)
                          .order_by(JourneyStep.id.desc())).all()
    branch = next(s for s in yes if s.step_id == "saved" and s.outcome == "yes")
    assert branch.details["goal"] == "wealth_purchase" and branch.details["events"] == 1


GOOD = [{"id": "a", "type": "send", "channel": "inapp", "content": {"zh": {"body": "你好"}}, "next": "w"},
        {"id": "w", "type": "wait", "days": 1, "next": "b"},
        {"id": "b", "type": "branch", "condition": {"kind": "opened"}, "then": "x", "else": "a"},
        {"id": "x", "type": "exit"}]


@pytest.mark.parametrize("steps, reason", [
    ([], "journey_no_steps"),
    ([{"id": "a", "type": "send", "channel": "fax", "content": {"zh": {"body": "x"}}}], "journey_unknown_channel"),
    ([{"id": "a", "type": "jump"}], "journey_unknown_step_type"),
    ([{"id": "a", "type": "exit"}, {"id": "a", "type": "exit"}], "journey_duplicate_step"),
    ([{"id": "a", "type": "wait", "days": 1, "next": "zz"}], "journey_unknown_next"),
    ([{"id": "a", "type": "exit"}, {"id": "b", "type": "exit"}], "journey_unreachable"),
    ([{"id": "a", "type": "send", "channel": "inapp", "content": {"zh": {"body": "x"}}, "next": "b"},
      {"id": "b", "type": "branch", "condition": {"kind": "opened"}, "then": "a", "else": "c"},
      {"id": "c", "type": "exit"}], "journey_cycle_without_wait"),
    ([{"id": "a", "type": "branch", "condition": {"kind": "mood"}, "then": "b", "else": "b"},
      {"id": "b", "type": "exit"}], "journey_unknown_condition"),
    ([{"id": "a", "type": "branch", "condition": {"kind": "converted", "goal": "lottery"}, "then": "b",
       "else": "b"}, {"id": "b", "type": "exit"}], "journey_unknown_goal"),
    ([{"id": "a", "type": "wait", "days": 0}], "journey_bad_duration"),
    ([{"id": "a", "type": "send", "channel": "sms", "content": {"fr": {"body": "x"}}}], "journey_bad_content"),
])
def test_definition_errors(steps, reason):
    with pytest.raises(ValidationFailed) as e:
        marketing.validate_definition("account_opened", steps)
    assert e.value.reason == f"marketing.{reason}"


def test_definition_accepts_a_loop_through_a_wait_and_refuses_bad_expressions():
    assert [s["id"] for s in marketing.validate_definition("dormant", GOOD)] == ["a", "w", "b", "x"]
    with pytest.raises(ValidationFailed) as e:
        marketing.validate_definition("nothing", GOOD)
    assert e.value.reason == "marketing.journey_unknown_trigger"
    with pytest.raises(ValidationFailed):
        marketing.validate_definition("dormant", [
            {"id": "a", "type": "branch", "condition": {"kind": "expression", "expression": "__import__('os')"},
             "then": "b", "else": "b"}, {"id": "b", "type": "exit"}])


def test_approval_is_maker_checker_and_audited(session):
    from smartbank.security.models import AuditLog

    marketing.create_journey(session, M1, code="promo", name_zh="推广", name_en="Promo", trigger="dormant",
                             steps=GOOD, reentry_days=30)
    with pytest.raises(Conflict) as e:
        marketing.approve_journey(session, M1, "promo")
    assert e.value.reason == "marketing.journey_self_approval"
    with pytest.raises(Forbidden):
        marketing.approve_journey(session, TELLER, "promo")
    with pytest.raises(Forbidden):
        marketing.create_journey(session, TELLER, code="x2", name_zh="甲", name_en="X", trigger="dormant", steps=GOOD)
    assert marketing.approve_journey(session, M2, "promo")["status"] == "enabled"
    with pytest.raises(Conflict):
        marketing.approve_journey(session, M2, "promo")
    # a new version waits for approval while version 1 keeps running
    v2 = marketing.create_journey(session, M2, code="promo", name_zh="推广", name_en="Promo", trigger="dormant",
                                  steps=GOOD[::-1][-1:] + GOOD[1:], reentry_days=None)
    assert v2["version"] == 2 and v2["status"] == "draft"
    assert marketing.approve_journey(session, M1, "promo")["version"] == 2
    marketing.disable_journey(session, M1, "promo")
    assert marketing.request_enable(session, M1, "promo")["status"] == "draft"
    with pytest.raises(Conflict):
        marketing.approve_journey(session, M1, "promo")
    actions = [a.action for a in session.scalars(select(AuditLog).where(AuditLog.object_type == "mkt_journey"))]
    assert actions.count("marketing.journey.approve") == 2 and "marketing.journey.disable" in actions


def test_detectors_on_constructed_records(session, bank, bank_clock, engine):
    from smartbank.ledger import service as ledger

    _enabled_defaults(session)
    cid = bank.customer()
    acct = bank.account(cid, balance=0)
    src = ledger.internal_account(session, "settlement", "CNY")
    ledger.transfer(session, ledger.TransferCommand(key="sal-1", debit_account_id=src.id, credit_account_id=acct,
                                                    amount_minor=800_000, currency="CNY", kind="salary"))
    old = bank.account(bank.customer("李娜"))
    session.get(ledger.Account, old).created_at = clock.now() - timedelta(days=30)  # read for the first time now
    session.flush()
    first = marketing.detect_events(session)
    assert first["account_opened"] == 1 and first["salary_credited"] == 1
    assert first["dormant"] == 0  # the account is new
    again = marketing.detect_events(session)
    assert again["account_opened"] == 0 and again["salary_credited"] == 0
    kinds = sorted(e.kind for e in session.scalars(select(JourneyEvent)))
    assert kinds == ["account_opened", "salary_credited"]
    # 91 days without a payment of their own: both customers are dormant, once per spell
    bank_clock.advance(timedelta(days=91))
    assert marketing.detect_events(session)["dormant"] == 2
    bank_clock.advance(timedelta(days=1))
    assert marketing.detect_events(session)["dormant"] == 0
    out = marketing.run_journeys_task(session)
    assert out["events"]["dormant"] == 0 and out["runs"] >= 1


def test_maturity_and_loan_detectors_on_constructed_records(session, bank):
    from datetime import date as _date

    from smartbank.lending.models import Loan
    from smartbank.wealth.models import WealthOrder, WealthProduct

    cid = bank.customer()
    today = clock.today()
    td = WealthProduct(code="TD-90", name_en="90-day deposit", name_zh="90天定期", kind="time_deposit",
                       risk_level="R1", asset_class="cash", min_amount_minor=100, term_days=90)
    fund = WealthProduct(code="F-OPEN", name_en="Open fund", name_zh="开放式基金", kind="fund", risk_level="R3",
                         asset_class="mixed", min_amount_minor=100)
    session.add_all([td, fund])
    session.flush()

    def order(product, settled_days_ago, status="settled"):
        settle = today - timedelta(days=settled_days_ago)
        o = WealthOrder(idempotency_key=f"o-{product.code}-{settled_days_ago}", customer_id=cid,
                        product_id=product.id, account_id=1, kind="purchase", status=status, amount_minor=10_000,
                        trade_date=settle, settle_date=settle)
        session.add(o)
        return o

    due = order(td, 85)  # matures in 5 days
    order(td, 40)  # in 50 days: not yet
    order(td, 95)  # matured 5 days ago
    order(td, 88, status="pending")  # not settled
    order(fund, 85)  # no term
    loan = Loan(number="L1", application_id=1, customer_id=cid, product_id=1, account_id=1, loan_account_id=99,
                principal_minor=100_000, currency="CNY", rate_bps=500, penalty_rate_bps=750, term_months=12,
                method="equal_installment", start_date=_date(2025, 1, 1), status="closed", outstanding_minor=0,
                closed_at=clock.now() - timedelta(days=2))
    old = Loan(number="L2", application_id=2, customer_id=cid, product_id=1, account_id=1, loan_account_id=98,
               principal_minor=100_000, currency="CNY", rate_bps=500, penalty_rate_bps=750, term_months=12,
               method="equal_installment", start_date=_date(2025, 1, 1), status="written_off", outstanding_minor=0,
               closed_at=clock.now() - timedelta(days=2))
    session.add_all([loan, old])
    session.flush()
    out = marketing.detect_events(session)
    assert out["maturity_soon"] == 1 and out["loan_paid_off"] == 1
    refs = sorted(e.ref for e in session.scalars(select(JourneyEvent)))
    assert refs == [f"loan:{loan.id}", f"wealth_order:{due.id}"]
    again = marketing.detect_events(session)
    assert again["maturity_soon"] == 0 and again["loan_paid_off"] == 0


def test_a_new_version_keeps_a_version_that_ran(session, bank):
    cid = bank.customer()
    marketing.create_journey(session, M1, code="promo", name_zh="推广", name_en="Promo", trigger="dormant",
                             steps=GOOD, reentry_days=0)
    marketing.approve_journey(session, M2, "promo")
    run_id = marketing.emit_event(session, "dormant", cid, "dormant:1")["runs_started"][0]
    marketing.disable_journey(session, M1, "promo")
    marketing.request_enable(session, M1, "promo")
    v2 = marketing.create_journey(session, M1, code="promo", name_zh="推广", name_en="Promo", trigger="dormant",
                                  steps=GOOD, reentry_days=0)
    assert v2["version"] == 2
    versions = {v["version"]: v["status"] for v in marketing.get_journey(session, M1, "promo")["versions"]}
    assert versions == {1: "disabled", 2: "draft"}
    marketing.advance_runs(session)  # the run still has its definition
    assert session.get(JourneyRun, run_id).step == "b"
