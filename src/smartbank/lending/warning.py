"""Early warning: a missed loan payment predicted before its due date.

Every close of day scores each instalment due in the next :data:`HORIZON_DAYS` days from what the ledger
shows of the customer (a transparent points score, no trained model), and when the chance of a miss is
at least :data:`THRESHOLD` writes a ``loan_warnings`` row (once per instalment) and an early warning on
the risk dashboard (``risk_warnings``, source ``lending``) through the risk module. After the due date
each warning is settled as ``paid`` or ``missed``, which measures how often a warning was right
(:func:`hit_rate`).

The score is a logistic function of points added to :data:`BASE_POINTS`; each rule that fires adds its
points and its reason (``code``, English, Chinese):

=====================  ======  ===========================================================================
code                   points  when
=====================  ======  ===========================================================================
balance_short          +2.5    the deposit account's available balance is below the instalment
balance_far_short      +1.0    ... and below half of it
no_recent_inflow       +1.5    no money came in over the last 35 days (salary or otherwise)
inflow_drop            +1.0    money in over the last 35 days is under half of the 35 days before
spending_up            +0.5    spending over the last 35 days is 1.5x the 35 days before and above income
late_before            +1.0    per earlier instalment of this loan paid late or still overdue (at most 2)
due_soon               +0.5    due within 2 days and the balance is short
balance_covers         -1.5    the available balance covers the instalment twice
=====================  ======  ===========================================================================

Disbursements, loan repayments and reversals are left out of the flows (they are not the customer's income
or spending).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank.ledger import service as ledger
from smartbank.lending.models import Loan, LoanInstallment, LoanWarning
from smartbank.money import format_money
from smartbank.risk import service as risk

__all__ = ["BASE_POINTS", "HORIZON_DAYS", "REASONS", "THRESHOLD", "hit_rate", "run", "score"]

HORIZON_DAYS = 5
THRESHOLD = 0.5
BREACH = 0.8  # at or above: shown as a breach on the risk dashboard
BASE_POINTS = -3.0  # nothing wrong: about a 5% chance
WINDOW_DAYS = 35

REASONS: dict[str, tuple[float, str, str]] = {
    "balance_short": (2.5, "The account balance is below the instalment", "账户余额不足以支付本期还款"),
    "balance_far_short": (1.0, "The account balance is below half the instalment", "账户余额不足本期还款的一半"),
    "no_recent_inflow": (1.5, "No money came in over the last 35 days", "近35天没有资金（工资等）入账"),
    "inflow_drop": (1.0, "Money coming in fell by more than half", "近35天入账金额下降一半以上"),
    "spending_up": (0.5, "Spending rose by half and exceeds income", "近35天支出增长五成以上且超过收入"),
    "late_before": (1.0, "Earlier instalments of this loan were paid late", "本贷款此前有逾期还款"),
    "due_soon": (0.5, "Due within two days and the balance is short", "两天内到期且余额不足"),
    "balance_covers": (-1.5, "The balance covers the instalment twice", "账户余额足以支付两期"),
}


def score(*, owed_minor: int, available_minor: int, inflow_recent: int, inflow_before: int, spend_recent: int,
          spend_before: int, late_before: int, days_to_due: int) -> tuple[float, list[dict[str, Any]]]:
    """The chance an instalment of ``owed_minor`` is missed, and the reasons that raised or lowered it."""
    codes: list[str] = []
    late_points = 0.0
    if available_minor < owed_minor:
        codes.append("balance_short")
        if available_minor < owed_minor / 2:
            codes.append("balance_far_short")
        if days_to_due <= 2:
            codes.append("due_soon")
    elif available_minor >= 2 * owed_minor:
        codes.append("balance_covers")
    if inflow_recent <= 0:
        codes.append("no_recent_inflow")
    elif inflow_before > 0 and inflow_recent < inflow_before / 2:
        codes.append("inflow_drop")
    if spend_before > 0 and spend_recent >= 1.5 * spend_before and spend_recent > inflow_recent:
        codes.append("spending_up")
    if late_before > 0:
        codes.append("late_before")
        late_points = min(late_before, 2) * REASONS["late_before"][0]
    points = BASE_POINTS + sum(REASONS[c][0] for c in codes if c != "late_before") + late_points
    p = 1 / (1 + math.exp(-points))
    reasons = [{"code": c, "points": late_points if c == "late_before" else REASONS[c][0], "en": REASONS[c][1],
                "zh": REASONS[c][2]} for c in codes]
    reasons.sort(key=lambda r: -abs(float(r["points"])))  # type: ignore[arg-type]
    return p, reasons


def _late_before(session: Session, loan_id: int, day: date) -> int:
    I = LoanInstallment  # noqa: E741
    return int(session.execute(select(func.count()).select_from(I).where(
        I.loan_id == loan_id, I.due_date < day, I.status != "superseded",
        (I.status == "overdue") | (I.paid_on > I.due_date))).scalar() or 0)


def run(session: Session, day: date, *, horizon_days: int = HORIZON_DAYS, threshold: float = THRESHOLD
        ) -> dict[str, int]:
    """Settle warnings whose due date has come, then warn about instalments due in ``(day, day + horizon]``."""
    settled = _settle(session, day)
    I = LoanInstallment  # noqa: E741
    rows = session.execute(select(I, Loan).join(Loan, Loan.id == I.loan_id).where(
        Loan.status == "active", I.status == "due", I.due_date > day,
        I.due_date <= day + timedelta(days=horizon_days),
        ~select(LoanWarning.id).where(LoanWarning.installment_id == I.id).exists())
        .order_by(I.due_date, I.id)).all()
    raised = scored = 0
    for inst, loan in rows:
        scored += 1
        owed = (inst.principal_minor - inst.paid_principal_minor) + (inst.interest_minor - inst.paid_interest_minor)
        acct = ledger.get_account(session, loan.account_id)
        in_r, out_r = ledger.account_flows(session, loan.account_id, since=day - timedelta(days=WINDOW_DAYS - 1),
                                           until=day + timedelta(days=1))
        in_b, out_b = ledger.account_flows(session, loan.account_id, since=day - timedelta(days=2 * WINDOW_DAYS - 1),
                                           until=day - timedelta(days=WINDOW_DAYS - 1))
        p, reasons = score(owed_minor=owed, available_minor=acct.available_minor, inflow_recent=in_r,
                           inflow_before=in_b, spend_recent=out_r, spend_before=out_b,
                           late_before=_late_before(session, loan.id, day), days_to_due=(inst.due_date - day).days)
        if p < threshold:
            continue
        amt = format_money(owed, loan.currency)
        why_en = "; ".join(r["en"] for r in reasons[:3])
        why_zh = "；".join(r["zh"] for r in reasons[:3])
        rid = risk.raise_warning(
            session, source="lending", level="breach" if p >= BREACH else "warning", value=round(p, 4),
            message_en=f"Loan {loan.number}: instalment {inst.seq} of {amt} due {inst.due_date:%Y-%m-%d} "
                       f"likely to be missed ({p:.0%}): {why_en}",
            message_zh=f"贷款 {loan.number} 第 {inst.seq} 期 {amt}（{inst.due_date:%Y-%m-%d} 到期）"
                       f"可能逾期（{p:.0%}）：{why_zh}")
        session.add(LoanWarning(loan_id=loan.id, customer_id=loan.customer_id, installment_id=inst.id,
                                due_date=inst.due_date, probability=p, reasons=reasons, risk_warning_id=rid,
                                status="open"))
        raised += 1
    session.flush()
    return {"scored": scored, "raised": raised, "settled": settled}


def _settle(session: Session, day: date) -> int:
    open_ = session.execute(select(LoanWarning, LoanInstallment).join(
        LoanInstallment, LoanInstallment.id == LoanWarning.installment_id).where(
        LoanWarning.status == "open", LoanWarning.due_date <= day)).all()
    for w, inst in open_:
        paid = inst.status == "superseded" or (inst.status == "paid" and inst.paid_on is not None
                                               and inst.paid_on <= inst.due_date)
        w.status = "paid" if paid else "missed"
    return len(open_)


def hit_rate(session: Session) -> dict[str, Any]:
    """How good the warnings were: of settled warnings, the share whose instalment was missed (precision);
    of instalments missed on their due date (since the first warning), the share warned (recall)."""
    W, I = LoanWarning, LoanInstallment  # noqa: E741
    counts = dict(session.execute(select(W.status, func.count()).group_by(W.status)).all())
    paid, missed = int(counts.get("paid", 0)), int(counts.get("missed", 0))
    first = session.execute(select(func.min(W.due_date))).scalar()
    missed_all = warned_missed = 0
    if first is not None:
        late = (I.status == "overdue") | (I.paid_on > I.due_date)
        missed_all = int(session.execute(select(func.count()).select_from(I).where(
            I.due_date >= first, I.status != "superseded", late)).scalar() or 0)
        warned_missed = missed
    return {"open": int(counts.get("open", 0)), "paid": paid, "missed": missed,
            "precision": missed / (paid + missed) if paid + missed else None,
            "missed_instalments": missed_all, "recall": warned_missed / missed_all if missed_all else None}
