"""Profiles: the read model's frames and the features computed from them, on a hand-built bank."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import update

from smartbank import db
from smartbank.insight import extract, features
from smartbank.insight.models import ExternalTransaction
from smartbank.ledger import service as ledger
from smartbank.ledger.models import Entry

AS_OF = date(2024, 6, 30)


def at(days_before: float, hour: int = 12) -> datetime:
    """A moment ``days_before`` days before the end of AS_OF, at ``hour`` UTC."""
    d = AS_OF - timedelta(days=int(days_before))
    return datetime(d.year, d.month, d.day, hour, 0, tzinfo=UTC)


class Moves:
    """Posts ledger transfers and dates their entries (the ledger stamps ``now``)."""

    def __init__(self, engine):
        self.engine = engine
        self.n = 0

    def settlement(self) -> int:
        with db.session_scope(self.engine) as s:
            return ledger.internal_account(s, "settlement", "CNY").id

    def post(self, debit: int, credit: int, amount: int, when: datetime, *, kind: str = "transfer",
             meta: dict | None = None) -> int:
        self.n += 1
        with db.session_scope(self.engine) as s:
            r = ledger.transfer(s, ledger.TransferCommand(
                key=f"t-{self.n}-{debit}-{credit}", debit_account_id=debit, credit_account_id=credit,
                amount_minor=amount, currency="CNY", kind=kind, meta=meta, value_date=when.date()))
            tid = int(r.transfer["id"])
            s.execute(update(Entry).where(Entry.transfer_id == tid).values(created_at=when))
        return tid

    def external(self, customer_id: int, amount: int, when: datetime, *, ext_id: str, category: str = "travel",
                 direction: str = "debit", channel: str = "card") -> None:
        with db.session_scope(self.engine) as s:
            s.add(ExternalTransaction(source="cards", external_id=ext_id, customer_id=customer_id,
                                      counterparty="AIRLINE-1", amount_minor=amount, currency="CNY",
                                      direction=direction, occurred_at=when, channel=channel, category=category))


def build(bank, engine):
    """Customer A: salaried, pays bills, travels; customer B: one old deposit; C: nothing."""
    mv = Moves(engine)
    a = bank.customer("王芳", occupation="engineer", annual_income_minor=120_000_00, city="上海")
    b = bank.customer("李雷")
    c = bank.customer("韩梅梅")
    a_cur = bank.account(a, balance=1_000_00)
    a_sav = bank.account(a, kind="savings")
    b_cur = bank.account(b)
    bank.account(c)
    settle = mv.settlement()
    with db.session_scope(engine) as s:
        bills = ledger.internal_account(s, "biller_settlement", "CNY").id
    # salary in three distinct months (the last two in the last 90 days)
    for days in (100, 40, 10):
        mv.post(settle, a_cur, 9_000_00, at(days, 2), kind="salary",
                meta={"category": "salary", "channel": "payroll", "employer": "ACME"})
    mv.post(a_cur, bills, 200_00, at(20, 13), kind="bill_payment",
            meta={"category": "electricity", "channel": "app", "biller": "SGCC"})
    mv.post(a_cur, settle, 1_500_00, at(5, 14), kind="transfer",  # Saturday 2024-06-22 22:00 local
            meta={"category": "travel", "channel": "card", "merchant": "携程旅行"})
    mv.post(a_cur, a_sav, 3_000_00, at(3, 1), meta={"category": "savings", "channel": "app"})
    mv.post(settle, a_cur, 5_00, at(1, 0), kind="interest", meta={"category": "interest", "channel": "system"})
    mv.post(settle, b_cur, 50_00, at(300), kind="deposit", meta={"category": "deposit", "channel": "counter"})
    mv.external(a, 800_00, at(60, 3), ext_id="x1")
    return {"a": a, "b": b, "c": c, "a_cur": a_cur, "a_sav": a_sav, "b_cur": b_cur, "moves": mv}


def profile_frame(engine, as_of: date = AS_OF) -> pl.DataFrame:
    return features.compute(extract.load_activity(engine), extract.load_customers(engine), as_of,
                            holdings=extract.load_holdings(engine), service=extract.load_service_actions(engine))


def test_load_activity_contract(bank, engine):
    w = build(bank, engine)
    act = extract.load_activity(engine)
    assert act.schema == pl.Schema(extract.ACTIVITY_SCHEMA)
    a = act.filter(pl.col("customer_id") == w["a"])
    # funding deposit, 3 salaries, bill, travel, savings out + in, interest, one import
    assert a.height == 10
    assert a["ts"].is_sorted()
    bill = a.filter(pl.col("kind") == "bill_payment").row(0, named=True)
    assert bill["amount_minor"] == -200_00 and bill["category"] == "electricity" and bill["counterparty"] == "SGCC"
    assert bill["ts"] == at(20, 13) and bill["channel"] == "app" and bill["source"] == "ledger"
    ext = a.filter(pl.col("source") == "cards").row(0, named=True)
    assert ext["amount_minor"] == -800_00 and ext["kind"] == "card_payment" and ext["counterparty"] == "AIRLINE-1"
    own = a.filter(pl.col("category") == "savings")["amount_minor"].sort().to_list()
    assert own == [-3_000_00, 3_000_00]
    # the filter by customer gives the same rows
    assert extract.load_activity(engine, customer_ids=[w["a"]]).equals(a)
    assert extract.load_activity(engine, customer_ids=[]).height == 0


def test_load_customers_and_holdings(bank, engine):
    w = build(bank, engine)
    cust = extract.load_customers(engine)
    assert cust.schema == pl.Schema(extract.CUSTOMER_SCHEMA)
    row = cust.filter(pl.col("customer_id") == w["a"]).row(0, named=True)
    assert row["birth_date"] == date(1985, 3, 7) and row["city"] == "上海" and row["annual_income_minor"] == 120_000_00
    hold = extract.load_holdings(engine, customer_ids=[w["a"]])
    assert dict(zip(hold["account_kind"], hold["balance_minor"], strict=True)) == {
        "demand": 1_000_00 + 27_000_00 - 200_00 - 1_500_00 - 3_000_00 + 5_00, "savings": 3_000_00}


def test_feature_values(bank, engine):
    w = build(bank, engine)
    df = profile_frame(engine)
    assert df.height == 3 and df.columns == ["customer_id", *features.NAMES]
    a = df.filter(pl.col("customer_id") == w["a"]).row(0, named=True)
    assert a["age"] == 39 and a["gender"] == "M" and a["occupation"] == "engineer"
    assert a["total_balance_minor"] == 23_305_00 + 3_000_00
    assert a["balance_savings_minor"] == 3_000_00 and a["products_held"] == 2 and a["product_kinds"] == 2
    assert a["salary_months_365d"] == 3 and a["salary_monthly_minor"] == 9_000_00
    assert a["income_monthly_minor"] == 9_000_00
    assert a["declared_income_monthly_minor"] == 10_000_00
    # last 30 days: salary, bill, travel, savings out and in, interest (import and older salary are older)
    assert a["txn_count_30d"] == 6
    assert a["out_minor_30d"] == 200_00 + 1_500_00 + 3_000_00
    assert a["in_minor_30d"] == 9_000_00 + 3_000_00 + 5_00
    assert a["spend_travel_365d"] == 1_500_00 + 800_00 and a["travel_txn_365d"] == 2
    assert a["spend_utilities_365d"] == 200_00 and a["bill_payments_365d"] == 1
    assert a["monetary_365d"] == 200_00 + 1_500_00 + 800_00  # moving money to savings is not spending
    assert a["recency_days"] == 3  # interest is not the customer's own activity
    # chosen channels over own activity in 365 days: app (bill, savings x2), card (travel, import)
    assert a["channel_app_share"] == pytest.approx(0.6) and a["channel_card_share"] == pytest.approx(0.4)
    assert a["digital_share"] == pytest.approx(0.6)
    # the funding deposit is stamped today, after AS_OF, so it does not count
    assert a["txn_count_prior_90d"] == 1  # the salary 100 days ago
    assert a["txn_count_90d"] == 8
    assert a["activity_trend"] == pytest.approx(7.0)
    assert a["distinct_counterparties_365d"] >= 4
    assert a["risk_level"] == "low" and a["service_actions"] == 0
    b = df.filter(pl.col("customer_id") == w["b"]).row(0, named=True)
    assert b["txn_count_365d"] == 1 and b["txn_count_30d"] == 0 and b["recency_days"] == 300
    assert b["income_monthly_minor"] is None and b["activity_trend"] == 0.0
    c = df.filter(pl.col("customer_id") == w["c"]).row(0, named=True)
    assert c["txn_count_365d"] == 0 and c["recency_days"] is None and c["night_share"] is None
    assert c["products_held"] == 1 and c["total_balance_minor"] == 0


def test_activity_after_as_of_is_ignored(bank, engine):
    w = build(bank, engine)
    earlier = profile_frame(engine, AS_OF - timedelta(days=30))
    a = earlier.filter(pl.col("customer_id") == w["a"]).row(0, named=True)
    assert a["txn_count_30d"] == 1  # the salary 40 days before AS_OF
    assert a["salary_months_365d"] == 2


def test_time_of_day_and_weekend_in_local_time(bank, engine):
    mv = Moves(engine)
    cid = bank.customer()
    acct = bank.account(cid)
    settle = mv.settlement()
    mv.post(settle, acct, 100, at(2, 17))   # 01:00 local: night, Saturday 2024-06-29
    mv.post(settle, acct, 100, at(4, 1))    # 09:00 local, Wednesday
    mv.post(settle, acct, 100, at(4, 5))    # 13:00 local
    mv.post(settle, acct, 100, at(4, 11))   # 19:00 local
    r = profile_frame(engine).row(0, named=True)
    assert (r["night_share"], r["morning_share"], r["afternoon_share"], r["evening_share"]) == (0.25,) * 4
    assert r["weekend_share"] == 0.25


def test_catalogue_names_unique_and_described():
    assert len(features.NAMES) == len(set(features.NAMES))
    for f in features.CATALOGUE:
        assert f.en and f.zh and f.type in ("int", "float", "money", "text") and f.audience in ("staff", "customer")
    assert "churn_score" not in features.CUSTOMER_FEATURES and "age" in features.CUSTOMER_FEATURES


def build_borrower(bank, engine):
    """Customer D: a loan paid into the current account and partly repaid, a wealth purchase, a move to their
    own savings account without a category, and one dinner."""
    mv = Moves(engine)
    d = bank.customer("赵敏")
    cur = bank.account(d, balance=2_000_00)
    sav = bank.account(d, kind="savings")
    loan = bank.account(d, kind="loan", overdraft=50_000_00)
    settle = mv.settlement()
    mv.post(loan, cur, 50_000_00, at(60), kind="loan_disbursement")
    mv.post(cur, loan, 4_000_00, at(30), kind="loan_repayment")            # principal
    mv.post(cur, settle, 200_00, at(30), kind="loan_repayment")            # interest
    mv.post(cur, settle, 10_000_00, at(20), kind="wealth_purchase", meta={"channel": "app"})
    mv.post(settle, cur, 1_000_00, at(10), kind="wealth_redemption", meta={"channel": "app"})
    mv.post(cur, sav, 5_000_00, at(5), meta={"channel": "app"})             # own accounts, no category
    mv.post(cur, settle, 300_00, at(2), kind="card_payment", meta={"category": "dining", "channel": "card"})
    return {"d": d, "cur": cur, "sav": sav, "loan": loan}


def test_a_loan_is_owed_not_an_overdraft_and_moving_own_money_is_not_spending(bank, engine):
    w = build_borrower(bank, engine)
    act = extract.load_activity(engine, customer_ids=[w["d"]])
    own = act.filter(pl.col("own_account"))
    assert sorted(own["kind"].to_list()) == ["loan_disbursement", "loan_disbursement", "loan_repayment",
                                             "loan_repayment", "transfer", "transfer"]
    assert set(act.filter(pl.col("kind") == "loan_disbursement")["account_kind"]) == {"loan", "demand"}
    r = profile_frame(engine).filter(pl.col("customer_id") == w["d"]).row(0, named=True)
    cur = 2_000_00 + 50_000_00 - 4_000_00 - 200_00 - 10_000_00 + 1_000_00 - 5_000_00 - 300_00
    assert r["balance_demand_minor"] == cur and r["balance_savings_minor"] == 5_000_00
    assert r["total_balance_minor"] == cur + 5_000_00 > 0
    assert r["overdraft_used_minor"] == 0
    assert r["loan_outstanding_minor"] == 46_000_00
    assert features.spending_by_category(r) == {"dining": 300_00}
    assert r["monetary_365d"] == 300_00
    # the loan account's own rows are not activity: the deposit side shows each move once
    assert r["txn_count_365d"] == 8
