"""A loan book for the synthetic bank: customers apply (through the same application and decision code as
the portal, dated in the past), approved offers are taken and paid out on their dates, and the loans are
serviced day by day up to yesterday - so automatic debits, missed instalments, penalty interest, buckets,
classifications, provisions and early warnings all come from the customers' simulated balances."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from smartbank import clock, db
from smartbank.customers.service import Customer
from smartbank.ledger import service as ledger
from smartbank.ledger.service import Account
from smartbank.lending import service as lending
from smartbank.security.service import Principal

PURPOSES = ("home renovation 装修", "car repair 修车", "education 教育", "travel 旅游", "furniture 家具",
            "medical 医疗", "wedding 婚礼")


def seed_loan_book(engine: Engine, *, applicants: int = 30, months: int = 5, seed: int = 42,
                   today: date | None = None) -> dict[str, Any]:
    """``applicants`` individual customers (not the first two, who are the demo sign-ins) apply for a
    consumer loan on a day in the last ``months`` months; returns counts by outcome and the loans' state."""
    rng = random.Random(seed)
    today = today or clock.today()
    first_day = today - timedelta(days=30 * months)

    def candidates(s) -> list[tuple[int, int]]:
        rows = s.execute(select(Customer.id, Account.id).join(Account, Account.customer_id == Customer.id)
                         .where(Customer.kind == "individual", Account.kind == "demand", Account.status == "open",
                                Account.currency == "CNY")
                         .order_by(Customer.id, Account.id)).all()
        seen: dict[int, int] = {}
        for cid, aid in rows:
            seen.setdefault(cid, aid)
        return list(seen.items())[2:]

    pool = db.run_in_transaction(candidates, engine=engine)
    chosen = rng.sample(pool, min(applicants, len(pool)))
    outcomes: dict[str, int] = {}
    starts: list[date] = []
    for i, (cid, aid) in enumerate(chosen):
        day = first_day + timedelta(days=rng.randrange(max(1, (today - first_day).days - 20)))
        at = datetime.combine(day, time(3 + rng.randrange(10)), tzinfo=UTC)
        income = rng.choice((6_000, 8_000, 12_000, 15_000, 20_000, 30_000)) * 100
        amount = min(300_000 * 100, income * rng.choice((2, 3, 4, 6, 8)) // 100_000 * 100_000)
        cmd = lending.ApplicationIn(
            product="PERSONAL", account_id=aid, amount_minor=amount, term_months=rng.choice((12, 24, 36)),
            method=rng.choice(("equal_installment", "equal_principal")), purpose=rng.choice(PURPOSES),
            monthly_income_minor=income, employment=rng.choice(("employed",) * 4 + ("self_employed",)),
            years_employed=rng.randrange(1, 20), dependents=rng.randrange(0, 3),
            existing_monthly_repayment_minor=rng.choice((0, 0, 100_000, 300_000)),
            revolving_balance_minor=rng.choice((None, 200_000, 1_500_000)), revolving_limit_minor=5_000_000,
            open_credit_lines=rng.randrange(1, 10), real_estate_loans=rng.randrange(0, 2),
        )
        actor = Principal(user_id=0, username=f"customer{cid}", role="customer", customer_id=cid)

        def apply(s, cmd=cmd, actor=actor, at=at, key=f"synth-loan:{seed}:{i}") -> str:
            app, _ = lending.submit(s, actor, cmd, idempotency_key=key, channel="branch", now=at)
            if app.status == "approved":
                lending.accept(s, actor, app.id, now=at + timedelta(hours=1))
                # the money is spent on what it was borrowed for: repayments then come from income
                shop = ledger.internal_account(s, "settlement", "CNY")
                ledger.transfer(s, ledger.TransferCommand(
                    key=f"{key}:spend", debit_account_id=cmd.account_id, credit_account_id=shop.id,
                    amount_minor=int(app.approved_amount_minor or 0), currency="CNY", kind="card_payment",
                    memo=cmd.purpose, value_date=at.date() + timedelta(days=2)))
            return app.status

        status = db.run_in_transaction(apply, engine=engine)
        outcomes[status] = outcomes.get(status, 0) + 1
        if status == "disbursed":
            starts.append(day)
    if starts:
        d = min(starts) + timedelta(days=1)
        while d < today:
            db.run_in_transaction(partial(lending.run_day, day=d), engine=engine)
            d += timedelta(days=1)
    book = db.run_in_transaction(lending.delinquency_rate, engine=engine)
    return {"applications": outcomes, "loans": len(starts), "delinquency_rate": book}
