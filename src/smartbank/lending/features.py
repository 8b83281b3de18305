"""An application as the credit model's inputs (the "Give Me Some Credit" columns).

=======================================  ==========================================================
feature                                  from
=======================================  ==========================================================
RevolvingUtilizationOfUnsecuredLines     declared credit-card balance / limit (None when not given)
age                                      whole years on the day of the decision, from the birth date
                                         of the resident ID number
NumberOfTime30-59DaysPastDueNotWorse     this bank's instalments paid, or still unpaid, 30-59 days late
NumberOfTime60-89DaysPastDueNotWorse     ... 60-89 days late
NumberOfTimes90DaysLate                  ... 90 days or more late
DebtRatio                                existing monthly repayments / monthly income
MonthlyIncome                            declared monthly income in yuan
NumberOfOpenCreditLinesAndLoans          declared open lines + this bank's active loans
NumberRealEstateLoansOrLines             declared
NumberOfDependents                       declared
=======================================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.lending.models import Loan, LoanApplication, LoanInstallment

FEATURES = (
    "RevolvingUtilizationOfUnsecuredLines", "age", "NumberOfTime30-59DaysPastDueNotWorse", "DebtRatio",
    "MonthlyIncome", "NumberOfOpenCreditLinesAndLoans", "NumberOfTimes90DaysLate", "NumberRealEstateLoansOrLines",
    "NumberOfTime60-89DaysPastDueNotWorse", "NumberOfDependents",
)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class BankHistory:
    """The customer's record at this bank."""

    active_loans: int
    late_30_59: int
    late_60_89: int
    late_90: int
    max_days_past_due: int  # today, over the customer's active loans
    monthly_repayment_minor: int  # the next instalments due on the active loans
    written_off: int = 0  # loans this bank wrote off


def bank_history(session: Session, customer_id: int, today: date) -> BankHistory:
    loans = list(session.scalars(select(Loan).where(Loan.customer_id == customer_id)))
    active = [ln for ln in loans if ln.status == "active"]
    counts = {"30": 0, "60": 0, "90": 0}
    dpd = max((int(ln.days_past_due or 0) for ln in active), default=0)
    monthly = 0
    if loans:
        ids = [ln.id for ln in loans]
        active_ids = {ln.id for ln in active}
        next_due: dict[int, int] = {}
        for ins in session.scalars(select(LoanInstallment).where(LoanInstallment.loan_id.in_(ids),
                                                                 LoanInstallment.status != "superseded")
                                   .order_by(LoanInstallment.due_date)):
            paid_on = ins.paid_on if ins.status == "paid" else None
            if paid_on is not None:
                late = (paid_on - ins.due_date).days
            elif ins.due_date < today:
                late = (today - ins.due_date).days
                if ins.loan_id in active_ids:
                    dpd = max(dpd, late)
            else:
                late = 0
                if ins.loan_id in active_ids and ins.loan_id not in next_due:
                    next_due[ins.loan_id] = int(ins.principal_minor) + int(ins.interest_minor)
            if 30 <= late < 60:
                counts["30"] += 1
            elif 60 <= late < 90:
                counts["60"] += 1
            elif late >= 90:
                counts["90"] += 1
        monthly = sum(next_due.values())
    return BankHistory(active_loans=len(active), late_30_59=counts["30"], late_60_89=counts["60"],
                       late_90=counts["90"], max_days_past_due=dpd, monthly_repayment_minor=monthly,
                       written_off=sum(1 for ln in loans if ln.status == "written_off"))


def build(app: LoanApplication, *, birth_date: date | None, history: BankHistory, today: date) -> dict[str, Any]:
    """The model's features of ``app`` (None where unknown)."""
    income = int(app.monthly_income_minor or 0)
    util: float | None = None
    if app.revolving_limit_minor and app.revolving_balance_minor is not None:
        util = round(app.revolving_balance_minor / app.revolving_limit_minor, 6)
    debt_ratio = round((app.existing_monthly_repayment_minor or 0) / income, 6) if income > 0 else None
    lines = app.open_credit_lines
    return {
        "RevolvingUtilizationOfUnsecuredLines": util,
        "age": age_on(birth_date, today) if birth_date is not None else None,
        "NumberOfTime30-59DaysPastDueNotWorse": history.late_30_59,
        "DebtRatio": debt_ratio,
        "MonthlyIncome": income / 100,
        "NumberOfOpenCreditLinesAndLoans": (lines or 0) + history.active_loans,
        "NumberOfTimes90DaysLate": history.late_90,
        "NumberRealEstateLoansOrLines": app.real_estate_loans,
        "NumberOfTime60-89DaysPastDueNotWorse": history.late_60_89,
        "NumberOfDependents": app.dependents,
    }
