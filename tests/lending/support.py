"""Builders for lending tests: a product and an accepted application written directly, then paid out."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text

from smartbank import db
from smartbank.ledger import service as ledger
from smartbank.lending import servicing
from smartbank.lending.models import Loan, LoanApplication, LoanProduct
from smartbank.security.service import Principal


def accepted_app(engine, customer_id: int, account_id: int, *, amount: int = 1_200_000, rate_bps: int = 600,
                 term: int = 12, method: str = "equal_installment", markup: float = 0.5) -> int:
    with db.session_scope(engine) as s:
        code = f"P{customer_id}-{account_id}-{amount}-{term}"
        p = LoanProduct(code=code[:32], name_en="Consumer loan", name_zh="消费贷", kind="consumer", currency="CNY",
                        min_amount_minor=100_000, max_amount_minor=10**10, min_term_months=1, max_term_months=360,
                        methods=list(("equal_installment", "equal_principal")), spreads_bps={"A": 0},
                        grade_limits_minor={"A": 10**10}, penalty_markup=markup)
        s.add(p)
        s.flush()
        n = s.execute(text("SELECT count(*) FROM loan_applications")).scalar() or 0
        a = LoanApplication(number=f"LA{customer_id:06d}{n:04d}", customer_id=customer_id, product_id=p.id,
                            account_id=account_id, amount_minor=amount, currency="CNY", term_months=term,
                            method=method, purpose="furniture", monthly_income_minor=1_500_000, employment="employed",
                            status="accepted", grade="A", approved_amount_minor=amount, rate_bps=rate_bps)
        s.add(a)
        s.flush()
        return a.id


def disbursed(engine, customer_id: int, account_id: int, *, start: date, **kw: Any) -> int:
    app_id = accepted_app(engine, customer_id, account_id, **kw)
    with db.session_scope(engine) as s:
        app = s.get(LoanApplication, app_id)
        return servicing.disburse(s, app, value_date=start).id


def customer(bank, name: str = "张伟", *, balance: int = 0, username: str | None = None) -> tuple[int, int, Principal]:
    cid = bank.customer(name)
    acct = bank.account(cid, balance=balance)
    uname = username or f"cust{cid}"
    uid = bank.user(uname, customer_id=cid)
    return cid, acct, Principal(user_id=uid, username=uname, role="customer", customer_id=cid)


def fund(bank, account_id: int, amount: int, key: str, *, value_date: date | None = None) -> None:
    """A deposit; ``value_date`` when the days a test runs are in the past (a back-dated debit can only take
    money that had arrived by its value date)."""
    from smartbank.ledger import service as ledger

    with db.session_scope(bank.engine) as s:
        src = ledger.internal_account(s, "settlement", "CNY")
        ledger.transfer(s, ledger.TransferCommand(key=key, debit_account_id=src.id, credit_account_id=account_id,
                                                  amount_minor=amount, currency="CNY", kind="deposit",
                                                  value_date=value_date))


def run_days(engine, first: date, last: date) -> list[dict[str, int]]:
    from datetime import timedelta

    out = []
    d = first
    while d <= last:
        with db.session_scope(engine) as s:
            out.append(servicing.run_day(s, d))
        d += timedelta(days=1)
    return out


def loan_row(engine, loan_id: int) -> Loan:
    """The loan as stored now (detached)."""
    with db.session_scope(engine) as s:
        loan = s.get(Loan, loan_id)
        s.expunge(loan)
        return loan


def allowance(engine) -> int:
    """The loan-loss allowance accounts' total balance."""
    with db.session_scope(engine) as s:
        return sum(ledger.internal_balances(s, "loan_loss_allowance").values())


def provisions(engine) -> int:
    """The sum of every loan's provision."""
    with engine.connect() as c:
        return int(c.execute(text("SELECT coalesce(sum(provision_minor), 0) FROM loans")).scalar())
