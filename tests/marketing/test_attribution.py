"""Attribution on a constructed history with a known answer: customers, assignments, messages and real deposits
through the ledger, every figure checked against a hand computation."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from smartbank import clock, db
from smartbank.ledger import service as ledger
from smartbank.marketing import service as marketing
from smartbank.marketing.models import Campaign, CampaignArm, CampaignAssignment, Conversion, MarketingMessage
from smartbank.security.service import Principal

MARKETER = Principal(user_id=0, username="m1", role="marketer", customer_id=None)
DAY = timedelta(days=1)


def _deposit(session, account_id: int, amount: int, key: str) -> None:
    src = ledger.internal_account(session, "settlement", "CNY")
    ledger.transfer(session, ledger.TransferCommand(key=key, debit_account_id=src.id, credit_account_id=account_id,
                                                    amount_minor=amount, currency="CNY", kind="deposit"))


@pytest.fixture
def history(bank, engine, bank_clock):
    """Arm A: c1..c6, holdout: h1..h4; goal: a deposit within 14 days of the assignment (t0)."""
    names = ["c1", "c2", "c3", "c4", "c5", "c6", "h1", "h2", "h3", "h4"]
    cust = {n: bank.customer(f"客户{n}") for n in names}
    acct = {n: bank.account(cust[n]) for n in names}
    with db.session_scope(engine) as s:
        _deposit(s, acct["h2"], 90_000, "before")  # before the assignment: never a conversion
    bank_clock.advance(timedelta(hours=1))
    t0 = clock.now()
    with db.session_scope(engine) as s:
        c = Campaign(code="DEP1", name_zh="存款", name_en="Deposit", status="running", channels=["sms", "inapp"],
                     goal="deposit", goal_window_days=14, holdout_bp=4000, created_by="m1")
        s.add(c)
        s.flush()
        s.add_all([CampaignArm(campaign_id=c.id, code="A", weight=1),
                   CampaignArm(campaign_id=c.id, code="holdout", weight=0, is_holdout=True)])
        for n in names:
            s.add(CampaignAssignment(campaign_id=c.id, customer_id=cust[n], arm="holdout" if n[0] == "h" else "A",
                                     assigned_at=t0))
        msgs: dict[str, MarketingMessage] = {}

        def msg(name, who, channel, sent, cost, status="sent", clicked=None):
            m = MarketingMessage(customer_id=cust[who], campaign_id=c.id, arm="A", channel=channel, status=status,
                                 created_at=t0 + sent, sent_at=t0 + sent if status == "sent" else None,
                                 clicked_at=t0 + clicked if clicked else None, cost_micro=cost)
            s.add(m)
            msgs[name] = m

        msg("m1", "c1", "sms", timedelta(hours=1), 50_000)
        msg("m2", "c1", "inapp", 2 * DAY, 10_000, clicked=3 * DAY)
        msg("m3", "c2", "sms", -2 * DAY, 50_000)  # 15 days before c2's deposit: outside the window
        msg("m4", "c3", "email", DAY, 20_000)
        msg("m5", "c3", "sms", 6 * DAY, 50_000)  # after c3's deposit: not its touch
        msg("m6", "c4", "sms", DAY, 30_000, status="suppressed")  # not sent: no touch, no cost
        msg("m7", "c5", "sms", DAY, 50_000)
        msg("m8", "c6", "inapp", DAY, 10_000)
        s.flush()
        ids = {k: m.id for k, m in msgs.items()}
        campaign_id = c.id
    # the goal events, in time order
    plan = [(2 * DAY, "c4", 40_000), (3 * DAY, "h1", 100_000), (4 * DAY, "c1", 100_000), (5 * DAY, "c1", 50_000),
            (5.5 * DAY, "c3", 30_000), (13 * DAY, "c2", 200_000), (15 * DAY, "c5", 70_000)]
    for at, who, amount in plan:
        bank_clock.advance(t0 + at - clock.now())
        with db.session_scope(engine) as s:
            _deposit(s, acct[who], amount, f"ev-{who}-{amount}")
    bank_clock.advance(DAY)
    return {"campaign_id": campaign_id, "cust": cust, "msg": ids}


def test_conversions_and_last_touch(history, engine):
    cid, cust, msg = history["campaign_id"], history["cust"], history["msg"]
    with db.session_scope(engine) as s:
        first = marketing.find_conversions(s, cid)
    with db.session_scope(engine) as s:
        again = marketing.find_conversions(s, cid)  # idempotent
        rows = s.scalars(select(Conversion).where(Conversion.campaign_id == cid)
                         .order_by(Conversion.occurred_at)).all()
        got = [(r.customer_id, r.arm, r.amount_minor, r.margin_minor, r.message_id) for r in rows]
    assert first["new"] == 6 and again["new"] == 0 and again["found"] == 6
    # deposit margin: 1.50 %/yr x 3 months = 0.375 % of the amount, half to even (187.5 -> 188, 112.5 -> 112)
    assert got == [
        (cust["c4"], "A", 40_000, 150, None),  # its only message was suppressed
        (cust["h1"], "holdout", 100_000, 375, None),  # the holdout is never touched
        (cust["c1"], "A", 100_000, 375, msg["m2"]),  # m2's click (day 3) is later than m1's send
        (cust["c1"], "A", 50_000, 188, msg["m2"]),
        (cust["c3"], "A", 30_000, 112, msg["m4"]),  # m5 came after the deposit
        (cust["c2"], "A", 200_000, 750, None),  # m3 was 15 days before: outside the window
    ]  # c5's deposit on day 15 is after its window; h2's came before the assignment


def test_report_known_answer(history, engine):
    cid = history["campaign_id"]
    with db.session_scope(engine) as s:
        marketing.find_conversions(s, cid)
    with db.session_scope(engine) as s:
        r = marketing.campaign_report(s, MARKETER, cid)
    assert (r["customers"], r["holdout_customers"], r["conversions"], r["holdout_conversions"]) == (6, 4, 5, 1)
    assert r["attributed_conversions"] == 3
    # incremental = 5 - 1/4 x 6 = 3.5; margin 375+188+112+750+150 = 1575; baseline 375/4 per customer
    assert r["incremental_conversions"] == 3.5
    assert r["margin_minor"] == 1575
    margin = Fraction(1575) - Fraction(375, 4) * 6  # 1012.5
    assert r["incremental_margin_minor"] == 1012  # half to even
    cost = 50_000 + 10_000 + 50_000 + 20_000 + 50_000 + 50_000 + 10_000  # the sent ones only
    assert r["cost_micro"] == cost and r["cost_minor"] == 24
    assert r["roi"] == round(float((margin * 10_000 - cost) / cost), 4) == 41.1875
    assert r["funnel"] == {"sent": 7, "delivered": 0, "opened": 0, "clicked": 1, "converted": 3}
    ch = {row["key"]: row for row in r["by_channel"]}
    assert (ch["inapp"]["customers"], ch["inapp"]["conversions"], ch["inapp"]["margin_minor"]) == (2, 2, 563)
    assert ch["inapp"]["incremental_conversions"] == 1.5
    assert ch["inapp"]["incremental_margin_minor"] == 376  # 563 - 93.75 x 2 = 375.5 -> 376
    assert ch["inapp"]["roi"] == 186.75  # (3 755 000 - 20 000) / 20 000
    assert (ch["sms"]["customers"], ch["sms"]["conversions"], ch["sms"]["cost_micro"]) == (4, 0, 200_000)
    assert (ch["email"]["conversions"], ch["email"]["incremental_margin_minor"], ch["email"]["roi"]) == (1, 18, 8.125)
    assert (ch["none"]["conversions"], ch["none"]["customers"]) == (2, 0)
    assert [row["key"] for row in r["by_arm"]] == ["A"]
    assert r["by_arm"][0]["incremental_margin_minor"] == 1012
    # no insight profile yet: one segment, "none", with the campaign's figures
    assert [(row["key"], row["roi"]) for row in r["by_segment"]] == [("none", 41.1875)]


def test_roi_rows_and_refusals(history, engine):
    # the worker's marketing job runs the task "attribution"
    done = marketing.run_marketing_tasks(lambda fn: db.run_in_transaction(fn, engine=engine))
    assert done["attribution"] == {"campaigns": 1, "new": 6}
    with db.session_scope(engine) as s:
        rows = marketing.roi_report(s, MARKETER, campaign="DEP1", by="channel")
        assert {r["key"] for r in rows} == {"inapp", "sms", "email", "none"}
        overview = marketing.marketing_overview(s, MARKETER)
        assert overview["totals"]["roi"] == 41.1875 and overview["funnel"]["converted"] == 3
        with pytest.raises(marketing_errors()[0]):
            marketing.roi_report(s, Principal(user_id=0, username="t1", role="teller", customer_id=None), by="campaign")
        with pytest.raises(marketing_errors()[1]):
            marketing.roi_report(s, MARKETER, by="weekday")
        with pytest.raises(marketing_errors()[2]):
            marketing.roi_report(s, MARKETER, campaign="NOPE")


def marketing_errors():
    from smartbank.errors import Forbidden, NotFound, ValidationFailed

    return Forbidden, ValidationFailed, NotFound


@pytest.mark.parametrize(("goal", "amount", "margin"), [
    ("wealth_purchase", 1_000_000, 4000),  # 0.80 %/yr x 6/12
    ("loan_application", 5_000_000, 90_000),  # 3.00 % x 12/12 x 60 %
    ("top_up", 10_000, 100),  # 1.00 %
    ("bill_payment", 12_345, 50),  # flat 0.50
    ("digital_login", 0, 0),
])
def test_margin_rules(goal, amount, margin):
    assert marketing.margin_for(goal, amount) == margin


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(min_value=0, max_value=10**12), rate=st.integers(min_value=0, max_value=5000),
       months=st.integers(min_value=0, max_value=120), share=st.integers(min_value=0, max_value=10_000),
       fixed=st.integers(min_value=0, max_value=10_000))
def test_margin_is_the_exact_rule_rounded_half_to_even(amount, rate, months, share, fixed):
    rule = marketing.MarginRule(rate_bp=rate, months=months, share_bp=share, fixed_minor=fixed)
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(amount) * rate * months * share / (Decimal(10_000) * 12 * 10_000)
        want = fixed + int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    assert marketing.margin_for("deposit", amount, {"deposit": rule}) == want
    assert marketing.margin_for("deposit", amount, {"deposit": rule}) >= fixed
