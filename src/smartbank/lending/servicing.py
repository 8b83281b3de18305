"""Loan servicing: disbursement, repayment (scheduled, early partial, payoff), the daily run (automatic
debit, overdue, penalty interest, delinquency bucket, five-category classification, provisions, early
warnings) and the read side for customers and staff.

Ledger accounts (every move is a ``ledger.transfer`` with a key derived from the business event):

* the loan's own account (kind ``loan``, the customer's) carries the principal owed as a negative balance.
  Its overdraft limit always equals the principal owed (lowered with every principal repayment), so the
  account sits exactly at its limit and nothing but the disbursement ever draws on it; it is credited by
  the principal part of each repayment and closed when the loan is repaid.
* ``loan_disbursement``: loan account -> the customer's deposit account;
* ``loan_repayment``: deposit -> loan account (principal), deposit -> ``loan_interest_income`` (interest),
  deposit -> ``loan_penalty_income`` (penalty interest);
* ``loan_provision``: ``loan_provision_expense`` -> ``loan_loss_allowance`` when a loan's provision grows,
  the other way when it shrinks, so the allowance's balance is the sum of the loans' provisions.
* ``loan_recovery`` (a written-off loan, see :mod:`smartbank.lending.writeoff`): what the customer still pays
  goes deposit -> ``loan_interest_income`` / ``loan_penalty_income`` for interest and penalty, and its
  principal part deposit -> ``loan_provision_expense`` (a recovery reverses the loss the provision booked;
  the loan account, closed at the write-off, is not touched).

Allocation of any payment: instalment by instalment, oldest first, and within one instalment penalty,
then interest, then principal. Penalty interest accrues daily on the overdue principal and interest at the
penalty rate / 360 into an exact counter of millionths of a fen (``loans.penalty_accrued_micro``); whole
fen are charged to the oldest overdue instalment, collected like everything else; the sub-fen remainder
is waived when the loan is repaid.

Who may do what: a customer reads and repays only their own loans (another customer's loan is "not
found"); repayments are made by the customer who owns the loan (staff move money only through the
audited back office). Staff read the loan book: loan officers, risk officers and administrators.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import Conflict, Forbidden, IdempotencyConflict, InsufficientFunds, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.lending import classification as cls
from smartbank.lending import schedule as sched
from smartbank.lending import states, warning
from smartbank.lending.models import (
    Loan,
    LoanApplication,
    LoanInstallment,
    LoanProduct,
    LoanRepayment,
    LoanStatusHistory,
)
from smartbank.money import MAX_MINOR, format_minor, format_money, round_minor
from smartbank.notifications import service as notifications
from smartbank.risk import service as risk
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = ["BOOK_READERS", "delinquency_rate", "disburse", "is_delinquent", "list_loans", "loan_book", "loan_schedule",
           "loan_view", "payoff_quote", "portfolio_summary", "repay", "repay_early", "run_day", "still_owed", "today"]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MICRO = 1_000_000
BOOK_READERS = security.roles_for("lending.book.read")
OPEN = ("due", "overdue")


def today() -> date:
    return clock.today()


# ------------------------------------------------------------------------------------------------
# helpers


def _installments(session: Session, loan_id: int, *, open_only: bool = False) -> list[LoanInstallment]:
    stmt = select(LoanInstallment).where(LoanInstallment.loan_id == loan_id, LoanInstallment.status != "superseded")
    if open_only:
        stmt = stmt.where(LoanInstallment.status.in_(OPEN))
    return list(session.scalars(stmt.order_by(LoanInstallment.due_date, LoanInstallment.seq)))


def _left(i: LoanInstallment) -> tuple[int, int, int]:
    """(penalty, interest, principal) still owed on an instalment."""
    return (i.penalty_minor - i.paid_penalty_minor, i.interest_minor - i.paid_interest_minor,
            i.principal_minor - i.paid_principal_minor)


def _owed(i: LoanInstallment) -> int:
    return sum(_left(i))


def _due_now(insts: Iterable[LoanInstallment], day: date) -> list[LoanInstallment]:
    return [i for i in insts if i.status in OPEN and i.due_date <= day]


def _future(insts: Iterable[LoanInstallment], day: date) -> list[LoanInstallment]:
    return [i for i in insts if i.status in OPEN and i.due_date > day]


@dataclass
class Split:
    penalty: int = 0
    interest: int = 0
    principal: int = 0

    @property
    def total(self) -> int:
        return self.penalty + self.interest + self.principal


def _allocate(insts: list[LoanInstallment], amount: int, day: date) -> Split:
    """Apply ``amount`` to the instalments (oldest first; penalty, interest, principal)."""
    s = Split()
    for i in insts:
        if amount <= 0:
            break
        pen, intr, prin = _left(i)
        take = min(pen, amount)
        i.paid_penalty_minor += take
        s.penalty += take
        amount -= take
        take = min(intr, amount)
        i.paid_interest_minor += take
        s.interest += take
        amount -= take
        take = min(prin, amount)
        i.paid_principal_minor += take
        s.principal += take
        amount -= take
        if _owed(i) == 0:
            i.status = "paid"
            i.paid_on = day
    return s


def _own_loan(session: Session, actor: Principal, loan_id: int, *, lock: bool = False) -> Loan:
    stmt = select(Loan).where(Loan.id == loan_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    loan = session.scalars(stmt).first()
    if loan is None:
        raise NotFound("loan not found", details={"loan_id": loan_id})
    if actor.is_staff:
        actor.require_role(*BOOK_READERS)
    elif actor.customer_id is None or loan.customer_id != actor.customer_id:
        raise NotFound("loan not found", details={"loan_id": loan_id})
    return loan


def _require_customer(actor: Principal) -> None:
    if actor.customer_id is None or actor.is_staff:
        raise Forbidden("repayments are made by the customer who owns the loan", details={"role": actor.role})


def _accrued_interest(principal_minor: int, rate_bps: int, days: int) -> int:
    """Interest on ``principal_minor`` for ``days`` days, actual/360, rounded half-even."""
    if principal_minor <= 0 or days <= 0:
        return 0
    return round_minor(Decimal(principal_minor) * rate_bps * days / Decimal(3_600_000))


def _last_due(loan: Loan, insts: list[LoanInstallment], day: date) -> date:
    past = [i.due_date for i in insts if i.due_date <= day]
    return max(past) if past else loan.start_date


# ------------------------------------------------------------------------------------------------
# disbursement


def disburse(session: Session, app: LoanApplication, *, actor_id: int | None = None,
             value_date: date | None = None) -> Loan:
    """Pay out an accepted application: the loan's ledger account, the disbursement, the ``loans`` row, its
    schedule, the application moved to ``disbursed`` and the customer told. Once per application (a second
    call returns the loan)."""
    if app.loan_id is not None:
        existing = session.get(Loan, app.loan_id)
        if existing is not None:
            return existing
    if app.status != "accepted":
        raise states.IllegalTransition(f"only an accepted application is paid out (this one is {app.status})",
                                       reason="lending.not_accepted", details={"status": app.status})
    principal, rate, term, method = app.approved_amount_minor, app.rate_bps, app.term_months, app.method
    if principal is None or rate is None or not term or not method:
        raise ValidationFailed("the application has no approved amount, rate, term or method")
    vd = value_date or today()
    rows = sched.build(int(principal), int(rate), int(term), method, vd)  # validates the terms
    product = session.get(LoanProduct, app.product_id)
    if product is None:
        raise NotFound("loan product not found", details={"product_id": app.product_id})
    deposit = ledger.get_account(session, app.account_id)
    if deposit.customer_id != app.customer_id or deposit.kind not in ("demand", "savings"):
        raise ValidationFailed("the payout account is not a deposit account of the applicant",
                               details={"account_id": app.account_id})
    number = f"LN{vd:%Y%m%d}{app.id:08d}"
    acct = ledger.open_account(session, customer_id=app.customer_id, kind="loan", currency=app.currency,
                               name=f"Loan {number}", overdraft_limit_minor=int(principal), opened_on=vd)
    res = ledger.transfer(session, ledger.TransferCommand(
        key=f"loan:disburse:{app.id}", debit_account_id=acct.id, credit_account_id=deposit.id,
        amount_minor=int(principal), currency=app.currency, kind="loan_disbursement",
        memo=f"loan {number} paid out", reference=f"loan_application:{app.id}", initiated_by=actor_id,
        value_date=vd))
    # the limit follows the principal owed, so the account is exactly at its limit: nothing can draw on it
    # again, and the ledger's rule "available >= -overdraft limit" still holds
    acct.overdraft_limit_minor = int(principal)
    penalty_rate = round_minor(Decimal(int(rate)) * (1 + Decimal(str(product.penalty_markup or 0))))
    loan = Loan(number=number, application_id=app.id, customer_id=app.customer_id, product_id=app.product_id,
                account_id=deposit.id, loan_account_id=acct.id, principal_minor=int(principal),
                currency=app.currency, rate_bps=int(rate), penalty_rate_bps=penalty_rate, term_months=int(term),
                method=method, start_date=vd, status="active", outstanding_minor=int(principal),
                days_past_due=0, bucket="current", classification="normal", provision_minor=0,
                penalty_accrued_micro=0, auto_debit=True, schedule_version=1, disbursement_transfer_id=res.id,
                disbursed_at=ledger.utcnow(), version=1)
    session.add(loan)
    session.flush()
    for r in rows:
        session.add(_row(loan.id, 1, r))
    app.loan_id = loan.id
    states.transition(session, app, "disbursed", actor_id=actor_id, note=f"loan {number}")
    first = rows[0]
    amt, cur = format_money(int(principal), app.currency), app.currency
    notifications.notify(
        session, customer_id=app.customer_id, kind="loan_disbursed", ref=f"loan:{loan.id}",
        title_en=f"Your loan of {amt} has been paid out",
        title_zh=f"您的贷款 {amt} 已发放",
        body_en=f"Loan {number}: {amt} is in your account. First payment "
                f"{format_money(first.payment_minor, cur)} is due on {first.due_date:%Y-%m-%d}.",
        body_zh=f"贷款 {number}：{amt} 已存入您的账户。首期还款 {format_money(first.payment_minor, cur)}，"
                f"还款日 {first.due_date:%Y-%m-%d}。")
    session.flush()
    return loan


def _row(loan_id: int, version: int, r: sched.Row) -> LoanInstallment:
    return LoanInstallment(loan_id=loan_id, schedule_version=version, seq=r.seq, due_date=r.due_date,
                           principal_minor=r.principal_minor, interest_minor=r.interest_minor,
                           paid_principal_minor=0, paid_interest_minor=0, penalty_minor=0, paid_penalty_minor=0,
                           status="due")


# ------------------------------------------------------------------------------------------------
# collecting money


def _post(session: Session, loan: Loan, rep: LoanRepayment, s: Split, *, initiated_by: int | None,
          recovery: bool = False, source_account_id: int | None = None) -> list[int]:
    """The repayment's ledger legs: penalty, interest, principal (each only when non-zero), from the loan's
    repayment account (or ``source_account_id``). The principal goes to the loan account, or for a recovery
    after a write-off to ``loan_provision_expense``."""
    ids = []
    legs = (("n", s.penalty, "loan_penalty_income"), ("i", s.interest, "loan_interest_income"),
            ("p", s.principal, "loan_provision_expense" if recovery else None))
    for leg, amount, purpose in legs:
        if amount <= 0:
            continue
        to = loan.loan_account_id if purpose is None else ledger.internal_account(session, purpose, loan.currency).id
        what = "principal" if leg == "p" else purpose[5:].replace("_", " ") if purpose else ""
        res = ledger.transfer(session, ledger.TransferCommand(
            key=f"loan:repay:{rep.id}:{leg}", debit_account_id=source_account_id or loan.account_id,
            credit_account_id=to,
            amount_minor=amount, currency=loan.currency, kind="loan_recovery" if recovery else "loan_repayment",
            memo=f"loan {loan.number} {what}{' recovered after write-off' if recovery else ''}",
            reference=f"loan:{loan.id}", initiated_by=initiated_by, value_date=rep.value_date))
        ids.append(res.id)
    return ids


def _record(session: Session, loan: Loan, *, kind: str, s: Split, day: date, key: str,
            initiated_by: int | None) -> LoanRepayment:
    rep = LoanRepayment(loan_id=loan.id, kind=kind, amount_minor=s.total, principal_minor=s.principal,
                        interest_minor=s.interest, penalty_minor=s.penalty, value_date=day, idempotency_key=key,
                        initiated_by=initiated_by, created_at=ledger.utcnow())
    session.add(rep)
    session.flush()
    rep.transfer_ids = _post(session, loan, rep, s, initiated_by=initiated_by)
    loan.outstanding_minor -= s.principal
    if s.principal:  # no room to draw on the loan account again
        ledger.get_account(session, loan.loan_account_id).overdraft_limit_minor = loan.outstanding_minor
    loan.version += 1
    app = session.get(LoanApplication, loan.application_id)
    if app is not None and app.status == "disbursed" and s.total > 0:
        states.transition(session, app, "repaying", actor_id=initiated_by, note=f"first repayment #{rep.id}")
    session.flush()
    return rep


def _close_if_repaid(session: Session, loan: Loan, day: date, *, actor_id: int | None) -> bool:
    if loan.outstanding_minor != 0 or any(_owed(i) for i in _installments(session, loan.id, open_only=True)):
        return False
    for i in _installments(session, loan.id, open_only=True):
        i.status, i.paid_on = "paid", day
    _set_provision(session, loan, 0, day, note="repaid")
    loan.status, loan.closed_at = "closed", ledger.utcnow()
    loan.days_past_due, loan.bucket, loan.penalty_accrued_micro = 0, "current", 0
    acct = ledger.get_account(session, loan.loan_account_id)
    session.refresh(acct)
    if acct.balance_minor == 0 and acct.status != "closed":
        ledger.set_account_status(session, acct, "closed")
    app = session.get(LoanApplication, loan.application_id)
    if app is not None and app.status in ("disbursed", "repaying"):
        states.transition(session, app, "closed", actor_id=actor_id, note=f"loan {loan.number} repaid")
    notifications.notify(
        session, customer_id=loan.customer_id, kind="loan_closed", ref=f"loan:{loan.id}",
        title_en=f"Loan {loan.number} is repaid", title_zh=f"贷款 {loan.number} 已还清",
        body_en="Thank you: the loan is fully repaid and closed.", body_zh="感谢您：贷款已全部还清并结清。")
    session.flush()
    return True


def _replay(session: Session, loan: Loan, key: str, amount: int | None) -> LoanRepayment | None:
    rep = session.scalars(select(LoanRepayment).where(LoanRepayment.idempotency_key == key)).first()
    if rep is None:
        return None
    if rep.loan_id != loan.id or (amount is not None and amount != rep.amount_minor):
        raise IdempotencyConflict("this idempotency key was already used for a different request",
                                  details={"repayment_id": rep.id})
    return rep


def _check_amount(amount_minor: int | None) -> None:
    if amount_minor is None:
        return
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or not 0 < amount_minor <= MAX_MINOR:
        raise ValidationFailed("the amount must be a positive whole number of fen",
                               details={"amount_minor": amount_minor})


def _idem(actor: Principal, key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > 128:
        raise ValidationFailed("an idempotency key of 1-128 characters is required", details={"idempotency_key": key})
    return f"u{actor.user_id}:{key}"


def _ensure_funds(session: Session, loan: Loan, amount: int) -> None:
    acct = ledger.get_account(session, loan.account_id)
    session.refresh(acct)
    limit = acct.overdraft_limit_minor
    if limit is not None and acct.available_minor + limit < amount:
        raise InsufficientFunds("the account does not hold enough to pay this",
                                details={"account_id": acct.id, "available_minor": acct.available_minor,
                                         "amount_minor": amount})


def _active(loan: Loan) -> None:
    if loan.status == "written_off":
        raise Conflict("this loan is written off: what is still owed is paid with an ordinary repayment",
                       details={"loan_id": loan.id, "status": loan.status})
    if loan.status != "active":
        raise Conflict("this loan is already repaid", details={"loan_id": loan.id, "status": loan.status})


def still_owed(insts: Iterable[LoanInstallment]) -> int:
    """What the customer of a written-off loan still owes: what is left on its written-off instalments (the
    write-off cancelled the interest of instalments not yet due)."""
    return sum(_owed(i) for i in insts if i.status == "written_off")


RECOVERY_KINDS = ("recovery", "collected")


def _recover(session: Session, actor: Principal, loan: Loan, amount_minor: int | None, key: str,
             day: date, *, source_account_id: int | None = None, kind: str = "recovery",
             note: str = "") -> LoanRepayment:
    """A repayment on a written-off loan (核销后收回): oldest instalment first, penalty, interest, principal,
    posted as ``loan_recovery``; the loan stays written off. Nothing is due any more: more than is still
    owed, or anything once it is all paid, is refused. By default the customer pays from the loan's
    repayment account (kind ``recovery``); collections record money received elsewhere through
    ``source_account_id`` (kind ``collected``, see :func:`smartbank.lending.writeoff.record_collection`)."""
    insts = [i for i in _installments(session, loan.id) if i.status == "written_off"]
    owed = still_owed(insts)
    if owed == 0:
        raise Conflict("nothing is owed on this written-off loan any more", details={"loan_id": loan.id})
    amount = owed if amount_minor is None else amount_minor
    if amount > owed:
        raise ValidationFailed("this is more than is still owed on the written-off loan",
                               details={"owed_minor": owed, "amount_minor": amount})
    if source_account_id is None:
        _ensure_funds(session, loan, amount)
    s = _allocate(insts, amount, day)
    rep = LoanRepayment(loan_id=loan.id, kind=kind, amount_minor=s.total, principal_minor=s.principal,
                        interest_minor=s.interest, penalty_minor=s.penalty, value_date=day, idempotency_key=key,
                        initiated_by=actor.user_id, created_at=ledger.utcnow())
    session.add(rep)
    session.flush()
    rep.transfer_ids = _post(session, loan, rep, s, initiated_by=actor.user_id, recovery=True,
                             source_account_id=source_account_id)
    loan.version += 1
    left, cur = owed - amount, loan.currency
    _history(session, loan, day, (f"recovered {format_minor(amount, cur)} {cur} after the write-off{note}"
                                  + ("; nothing more is owed" if left == 0
                                     else f"; {format_minor(left, cur)} {cur} still owed"))[:200])
    if left == 0:
        notifications.notify(
            session, customer_id=loan.customer_id, kind="loan_recovered", ref=f"loan:{loan.id}",
            title_en=f"Loan {loan.number}: nothing more is owed", title_zh=f"贷款 {loan.number} 欠款已结清",
            body_en="Thank you: everything still owed on this written-off loan has been paid.",
            body_zh="感谢您：该笔已核销贷款的尚欠款项已全部还清。")
    session.flush()
    return rep


def repay(session: Session, actor: Principal, loan_id: int, *, amount_minor: int | None = None, key: str,
          day: date | None = None) -> dict[str, Any]:
    """Pay what is due now (``amount_minor`` None: all of it; less: a part, oldest first). On a written-off
    loan everything still owed is due: see :func:`_recover`."""
    _require_customer(actor)
    _check_amount(amount_minor)
    k = _idem(actor, key)
    loan = _own_loan(session, actor, loan_id, lock=True)
    if (old := _replay(session, loan, k, amount_minor)) is not None:
        return _repayment_view(old) | {"replayed": True}
    if loan.status == "written_off":
        return _repayment_view(_recover(session, actor, loan, amount_minor, k, day or today())) | {"replayed": False}
    _active(loan)
    d = day or today()
    due = _due_now(_installments(session, loan.id), d)
    owed = sum(_owed(i) for i in due)
    if owed == 0:
        raise ValidationFailed("nothing is due on this loan now; use an early repayment to pay ahead",
                               details={"loan_id": loan.id})
    amount = owed if amount_minor is None else amount_minor
    if amount > owed:
        raise ValidationFailed("this is more than is due now; use an early repayment to pay ahead",
                               details={"due_minor": owed, "amount_minor": amount})
    _ensure_funds(session, loan, amount)
    s = _allocate(due, amount, d)
    rep = _record(session, loan, kind="scheduled", s=s, day=d, key=k, initiated_by=actor.user_id)
    _close_if_repaid(session, loan, d, actor_id=actor.user_id)
    return _repayment_view(rep) | {"replayed": False}


def payoff_quote(session: Session, loan: Loan, day: date) -> dict[str, int]:
    """What paying the loan off on ``day`` costs: everything due (with penalty), the principal not yet due
    and the interest accrued on it since the last due date (actual/360)."""
    insts = _installments(session, loan.id)
    due = _due_now(insts, day)
    future_principal = sum(_left(i)[2] for i in _future(insts, day))
    days = (day - _last_due(loan, insts, day)).days
    accrued = _accrued_interest(future_principal, loan.rate_bps, days)
    due_total = sum(_owed(i) for i in due)
    return {"due_minor": due_total, "principal_minor": future_principal, "accrued_interest_minor": accrued,
            "accrued_days": days, "total_minor": due_total + future_principal + accrued}


def _split_prepayment(rest: int, rate_bps: int, days: int) -> tuple[int, int]:
    """The largest principal ``x`` with ``x`` + its interest since the last due date <= ``rest``."""
    x = int(Decimal(rest) * 3_600_000 // (3_600_000 + Decimal(rate_bps) * days))
    while x > 0 and x + _accrued_interest(x, rate_bps, days) > rest:
        x -= 1
    while x + 1 + _accrued_interest(x + 1, rate_bps, days) <= rest:
        x += 1
    return x, rest - x


def repay_early(session: Session, actor: Principal, loan_id: int, *, amount_minor: int | None = None,
                recalc: str = "reduce_payment", key: str, day: date | None = None) -> dict[str, Any]:
    """Pay ahead: ``amount_minor`` None pays the loan off (:func:`payoff_quote`); an amount pays what is due
    first, then the interest accrued since the last due date on the principal it repays and that principal,
    and re-schedules the rest (``reduce_payment``: same number of instalments; ``shorten_term``: same
    payment, fewer instalments) as a new schedule version."""
    _require_customer(actor)
    _check_amount(amount_minor)
    if recalc not in sched.RECALC_MODES:
        raise ValidationFailed("recalc is reduce_payment or shorten_term", details={"recalc": recalc})
    k = _idem(actor, key)
    loan = _own_loan(session, actor, loan_id, lock=True)
    if (old := _replay(session, loan, k, amount_minor)) is not None:
        return _repayment_view(old) | {"replayed": True}
    _active(loan)
    d = day or today()
    quote = payoff_quote(session, loan, d)
    full = amount_minor is None or amount_minor == quote["total_minor"]
    amount = quote["total_minor"] if full else int(amount_minor or 0)
    if amount > quote["total_minor"]:
        raise ValidationFailed("this is more than the loan's payoff amount",
                               details={"payoff_minor": quote["total_minor"]})
    if amount <= quote["due_minor"]:
        raise ValidationFailed("this does not go beyond what is due now; pay it as a normal repayment",
                               details={"due_minor": quote["due_minor"]})
    _ensure_funds(session, loan, amount)
    insts = _installments(session, loan.id)
    s = _allocate(_due_now(insts, d), quote["due_minor"], d)
    rest = amount - quote["due_minor"]
    future = _future(insts, d)
    if full:
        principal, interest = quote["principal_minor"], quote["accrued_interest_minor"]
    else:
        principal, interest = _split_prepayment(rest, loan.rate_bps, quote["accrued_days"])
        if principal <= 0 or principal >= quote["principal_minor"]:
            raise ValidationFailed("this amount does not repay part of the principal; pay more or pay off",
                                   details={"payoff_minor": quote["total_minor"]})
    s.principal += principal
    s.interest += interest
    for i in future:
        i.status = "superseded"
    owed_after = quote["principal_minor"] - principal
    if owed_after > 0 and future:
        first = future[0]
        loan.schedule_version += 1
        rows = sched.recalculate(owed_after, loan.rate_bps, len(future), loan.method, loan.start_date,
                                 first_seq=first.seq, mode=recalc,
                                 payment_minor=first.principal_minor + first.interest_minor,
                                 principal_per_month_minor=first.principal_minor)
        for r in rows:
            session.add(_row(loan.id, loan.schedule_version, r))
    session.flush()
    rep = _record(session, loan, kind="early_full" if full else "early_partial", s=s, day=d, key=k,
                  initiated_by=actor.user_id)
    _close_if_repaid(session, loan, d, actor_id=actor.user_id)
    return _repayment_view(rep) | {"replayed": False, "recalc": None if full else recalc}


def _repayment_view(r: LoanRepayment) -> dict[str, Any]:
    return {"id": r.id, "loan_id": r.loan_id, "kind": r.kind, "amount_minor": r.amount_minor,
            "principal_minor": r.principal_minor, "interest_minor": r.interest_minor,
            "penalty_minor": r.penalty_minor, "value_date": r.value_date, "transfer_ids": r.transfer_ids or []}


# ------------------------------------------------------------------------------------------------
# the daily run


def _dpd(insts: list[LoanInstallment], day: date) -> int:
    late = [i.due_date for i in insts if i.status in OPEN and i.due_date <= day and _owed(i) > 0]
    return (day - min(late)).days if late else 0


def _set_provision(session: Session, loan: Loan, target: int, day: date, *, note: str) -> int:
    change = target - loan.provision_minor
    if change == 0:
        return 0
    exp = ledger.internal_account(session, "loan_provision_expense", loan.currency)
    allowance = ledger.internal_account(session, "loan_loss_allowance", loan.currency)
    debit, credit = (exp, allowance) if change > 0 else (allowance, exp)
    ledger.transfer(session, ledger.TransferCommand(
        key=f"loan:{loan.id}:provision:{loan.provision_minor}:{target}:{day.isoformat()}", debit_account_id=debit.id,
        credit_account_id=credit.id, amount_minor=abs(change), currency=loan.currency, kind="loan_provision",
        memo=f"loan {loan.number} provision {note}"[:200], reference=f"loan:{loan.id}", value_date=day))
    loan.provision_minor = target
    return change


def _refresh_status(session: Session, loan: Loan, day: date) -> bool:
    """Days past due, bucket and classification from the schedule; True when one of them changed."""
    dpd = _dpd(_installments(session, loan.id), day)
    b, c = cls.bucket(dpd), cls.classify(dpd)
    changed = (dpd, b, c) != (loan.days_past_due, loan.bucket, loan.classification)
    loan.days_past_due, loan.bucket, loan.classification = dpd, b, c
    return changed


def _history(session: Session, loan: Loan, day: date, note: str | None) -> None:
    session.add(LoanStatusHistory(loan_id=loan.id, day=day, days_past_due=loan.days_past_due, bucket=loan.bucket,
                                  classification=loan.classification, provision_minor=loan.provision_minor,
                                  note=note))


def _processed(session: Session, loan_id: int, day: date) -> bool:
    return session.execute(select(LoanStatusHistory.id).where(
        LoanStatusHistory.loan_id == loan_id, LoanStatusHistory.day == day).limit(1)).first() is not None


def run_day(session: Session, day: date) -> dict[str, int]:
    """Close of day for every active loan: collect what is due from the deposit account (as far as its
    available balance goes, oldest first), mark missed instalments overdue and tell the customer, accrue a
    day of penalty interest, update days past due, bucket, classification and provision (posting the
    change), record changes in ``loan_status_history``, raise early warnings for the coming due dates and
    settle earlier ones. Rerunning the same day posts nothing new."""
    out = {"loans": 0, "collected_minor": 0, "collections": 0, "overdue_installments": 0, "penalty_micro": 0,
           "provision_change_minor": 0, "status_changes": 0, "closed": 0, "past_due_loans": 0}
    loans = list(session.scalars(select(Loan).where(Loan.status == "active", Loan.start_date <= day)
                                 .order_by(Loan.id)))
    for loan in loans:
        out["loans"] += 1
        insts = _installments(session, loan.id)
        due = [i for i in _due_now(insts, day) if _owed(i) > 0]
        owed = sum(_owed(i) for i in due)
        key = f"loan:{loan.id}:auto:{day.isoformat()}"
        deposit = ledger.get_account(session, loan.account_id)
        if owed and loan.auto_debit and deposit.status == "open" and _replay(session, loan, key, None) is None:
            session.refresh(deposit)
            # as far as the balance goes on ``day`` by value date (a catch-up of a past day cannot spend money
            # that arrived later)
            room = ledger.spendable(session, deposit, day)
            can = owed if room is None else min(owed, room)
            if can > 0:
                s = _allocate(due, can, day)
                _record(session, loan, kind="auto_debit", s=s, day=day, key=key, initiated_by=None)
                out["collected_minor"] += s.total
                out["collections"] += 1
        for i in insts:
            if i.status == "due" and i.due_date <= day and _owed(i) > 0:
                i.status = "overdue"
                out["overdue_installments"] += 1
                _notify_missed(session, loan, i)
        if _close_if_repaid(session, loan, day, actor_id=None):
            out["closed"] += 1
            continue
        done = _processed(session, loan.id, day)
        late = [i for i in insts if i.status == "overdue" and i.due_date < day]
        if late and not done:
            base = sum(_left(i)[1] + _left(i)[2] for i in late)
            micro = round_minor(Decimal(base) * loan.penalty_rate_bps * MICRO / Decimal(3_600_000))
            loan.penalty_accrued_micro += micro
            out["penalty_micro"] += micro
            whole = loan.penalty_accrued_micro // MICRO
            if whole:
                late[0].penalty_minor += whole
                loan.penalty_accrued_micro -= whole * MICRO
        changed = _refresh_status(session, loan, day)
        change = _set_provision(session, loan, cls.provision_minor(loan.outstanding_minor, loan.classification),
                                day, note=loan.classification)
        out["provision_change_minor"] += change
        if loan.days_past_due > 0:
            out["past_due_loans"] += 1
        if (changed or change or late) and not done:  # a day of penalty always leaves a row: reruns skip it
            _history(session, loan, day, None)
            out["status_changes"] += 1
    session.flush()
    w = warning.run(session, day)
    out["warnings_raised"] = w["raised"]
    out["warnings_settled"] = w["settled"]
    session.flush()
    return out


def _notify_missed(session: Session, loan: Loan, i: LoanInstallment) -> None:
    left = format_money(_owed(i), loan.currency)
    notifications.notify(
        session, customer_id=loan.customer_id, kind="loan_payment_missed", ref=f"loan_installment:{i.id}",
        title_en=f"Loan payment missed: {left}", title_zh=f"贷款还款未足额扣收：{left}",
        body_en=f"Instalment {i.seq} of loan {loan.number} was due on {i.due_date:%Y-%m-%d}; {left} is still "
                "unpaid. Penalty interest accrues daily until it is paid: please top up your account.",
        body_zh=f"贷款 {loan.number} 第 {i.seq} 期应于 {i.due_date:%Y-%m-%d} 还款，尚欠 {left}。"
                "逾期部分每日计收罚息，请尽快向账户存入资金。")


# ------------------------------------------------------------------------------------------------
# read side


def _summary(loan: Loan) -> dict[str, Any]:
    return {"id": loan.id, "number": loan.number, "customer_id": loan.customer_id,
            "application_id": loan.application_id,
            "principal_minor": loan.principal_minor, "outstanding_minor": loan.outstanding_minor,
            "currency": loan.currency, "rate_bps": loan.rate_bps, "penalty_rate_bps": loan.penalty_rate_bps,
            "term_months": loan.term_months, "method": loan.method, "start_date": loan.start_date,
            "status": loan.status, "days_past_due": loan.days_past_due, "bucket": loan.bucket,
            "classification": loan.classification, "provision_minor": loan.provision_minor,
            "schedule_version": loan.schedule_version, "account_id": loan.account_id,
            "loan_account_id": loan.loan_account_id}


def list_loans(session: Session, actor: Principal, customer_id: int | None = None) -> list[dict[str, Any]]:
    """A customer's loans (their own; staff name the customer), newest first."""
    cid = customer_id if customer_id is not None else actor.customer_id
    if actor.is_staff:
        actor.require_role(*BOOK_READERS)
    elif cid != actor.customer_id:
        raise NotFound("customer not found", details={"customer_id": customer_id})
    if cid is None:
        raise ValidationFailed("which customer?")
    security.audit_reads(session, actor, action="loans.read", customer_ids=[cid])
    d = today()
    out = []
    for loan in session.scalars(select(Loan).where(Loan.customer_id == cid).order_by(Loan.id.desc())):
        v = _summary(loan)
        insts = _installments(session, loan.id)
        v["next_due"] = _next_due(insts, d)
        v["still_owed_minor"] = still_owed(insts) if loan.status == "written_off" else None
        out.append(v)
    return out


def _inst_view(i: LoanInstallment, day: date) -> dict[str, Any]:
    pen, intr, prin = _left(i)
    state = i.status
    if state == "due" and i.due_date <= day and pen + intr + prin > 0:
        state = "due_today" if i.due_date == day else "overdue"
    return {"id": i.id, "seq": i.seq, "schedule_version": i.schedule_version, "due_date": i.due_date,
            "principal_minor": i.principal_minor, "interest_minor": i.interest_minor, "penalty_minor": i.penalty_minor,
            "payment_minor": i.principal_minor + i.interest_minor + i.penalty_minor,
            "paid_minor": i.paid_principal_minor + i.paid_interest_minor + i.paid_penalty_minor,
            "left_minor": pen + intr + prin, "status": state, "paid_on": i.paid_on}


def _next_due(insts: list[LoanInstallment], day: date) -> dict[str, Any] | None:
    for i in insts:
        if i.status in OPEN and _owed(i) > 0:
            return {"seq": i.seq, "due_date": i.due_date, "amount_minor": _owed(i), "overdue": i.due_date < day}
    return None


def _plain_key(loan: Loan, next_due: dict[str, Any] | None, due_now: int) -> tuple[str, dict[str, Any]]:
    """The same sentence as :func:`_plain` as a catalogue key and its parameters (for pages in any language)."""
    if loan.status == "written_off":
        return ("written_off_paid", {}) if due_now == 0 else ("written_off_owed", {"amount_minor": due_now})
    if loan.status != "active":
        return "repaid", {}
    if loan.days_past_due > 0:
        return "overdue", {"amount_minor": due_now, "days": loan.days_past_due}
    if next_due is None:
        return "", {}
    return "next", {"amount_minor": next_due["amount_minor"], "due_date": next_due["due_date"]}


def _plain(loan: Loan, next_due: dict[str, Any] | None, due_now: int, lang: str) -> str:
    cur = loan.currency
    if loan.status == "written_off":
        if due_now == 0:
            return "该贷款已核销，尚欠款项已全部还清。" if lang == "zh" else (
                "This loan was written off; nothing more is owed on it.")
        amt = format_money(due_now, cur)
        return f"该贷款已核销，您仍欠 {amt}，可在此还款或与本行联系。" if lang == "zh" else (
            f"This loan has been written off; {amt} is still owed. You can pay it here or contact the bank.")
    if loan.status != "active":
        return "贷款已还清。" if lang == "zh" else "This loan is repaid."
    if loan.days_past_due > 0:
        amt = format_money(due_now, cur)
        if lang == "zh":
            return f"您有 {amt} 已逾期 {loan.days_past_due} 天，逾期部分每日计收罚息，请尽快还款。"
        return (f"{amt} is {loan.days_past_due} days overdue. Penalty interest is added every day until it "
                "is paid: please pay as soon as you can.")
    if next_due is None:
        return ""
    amt = format_money(next_due["amount_minor"], cur)
    if lang == "zh":
        return f"下次还款 {amt}，还款日 {next_due['due_date']:%Y-%m-%d}，将从您的账户自动扣款。"
    return (f"Next payment {amt} on {next_due['due_date']:%Y-%m-%d}, debited from your account "
            "automatically.")


def loan_view(session: Session, actor: Principal, loan_id: int, *, lang: str = "en",
              day: date | None = None) -> dict[str, Any]:
    """One loan for its customer (or staff): the schedule with statuses, repayments, what is due, the
    payoff amount today, bucket and classification, and a sentence in plain words."""
    loan = _own_loan(session, actor, loan_id)
    security.audit_reads(session, actor, action="loan.read", customer_ids=[loan.customer_id],
                         shown={"loan_id": loan.id})
    d = day or today()
    insts = _installments(session, loan.id)
    owed = still_owed(insts) if loan.status == "written_off" else None
    due_now = owed if owed is not None else sum(_owed(i) for i in _due_now(insts, d))
    nxt = _next_due(insts, d)
    reps = session.scalars(select(LoanRepayment).where(LoanRepayment.loan_id == loan.id)
                           .order_by(LoanRepayment.id.desc()))
    v = _summary(loan)
    v.update(
        schedule=[_inst_view(i, d) for i in insts],
        repayments=[_repayment_view(r) for r in reps],
        due_now_minor=due_now, next_due=nxt,
        payoff=payoff_quote(session, loan, d) if loan.status == "active" else None,
        bucket_label=cls.label(loan.bucket, lang), classification_label=cls.label(loan.classification, lang),
        plain=_plain(loan, nxt, due_now, lang),
        plain_key=_plain_key(loan, nxt, due_now)[0], plain_params=_plain_key(loan, nxt, due_now)[1],
        paid_principal_minor=loan.principal_minor - loan.outstanding_minor,
        still_owed_minor=owed,  # a written-off loan: everything still owed is due (None otherwise)
    )
    return v


def loan_schedule(session: Session, actor: Principal, loan_id: int, *, include_superseded: bool = False,
                  day: date | None = None) -> list[dict[str, Any]]:
    loan = _own_loan(session, actor, loan_id)
    security.audit_reads(session, actor, action="loan.read", customer_ids=[loan.customer_id],
                         shown={"loan_id": loan.id, "schedule": True})
    d = day or today()
    stmt = select(LoanInstallment).where(LoanInstallment.loan_id == loan.id)
    if not include_superseded:
        stmt = stmt.where(LoanInstallment.status != "superseded")
    rows = session.scalars(stmt.order_by(LoanInstallment.schedule_version, LoanInstallment.seq))
    return [_inst_view(i, d) for i in rows]


def loan_book(session: Session, actor: Principal, *, bucket: str | None = None, classification: str | None = None,
              status: str = "active", limit: int = 200) -> list[dict[str, Any]]:
    """Staff: the loans, most days past due first, filtered by bucket, classification and status."""
    actor.require_role(*BOOK_READERS)
    stmt = select(Loan)
    if bucket:
        if bucket not in [b[0] for b in cls.BUCKET_TABLE]:
            raise ValidationFailed("unknown bucket", details={"bucket": bucket})
        stmt = stmt.where(Loan.bucket == bucket)
    if classification:
        if classification not in [c[0] for c in cls.CLASSIFICATION_TABLE]:
            raise ValidationFailed("unknown classification", details={"classification": classification})
        stmt = stmt.where(Loan.classification == classification)
    if status != "all":
        stmt = stmt.where(Loan.status == status)
    stmt = stmt.order_by(Loan.days_past_due.desc(), Loan.id).limit(max(1, min(limit, 1000)))
    loans = list(session.scalars(stmt))
    security.audit_reads(session, actor, action="loan_book.list", customer_ids=[ln.customer_id for ln in loans],
                         shown={"bucket": bucket, "classification": classification, "status": status})
    return [_summary(loan) for loan in loans]


def portfolio_summary(session: Session, actor: Principal) -> dict[str, Any]:
    """Staff: active loans' outstanding principal and provisions by classification, outstanding by bucket,
    the delinquency rate (share of outstanding 1+ days past due), the allowance account's balance, and the
    loans written off with what has been recovered on them."""
    actor.require_role(*BOOK_READERS)
    rows = session.execute(select(Loan.currency, Loan.classification, Loan.bucket, func.count(),
                                  func.sum(Loan.outstanding_minor), func.sum(Loan.provision_minor))
                           .where(Loan.status == "active")
                           .group_by(Loan.currency, Loan.classification, Loan.bucket)).all()
    by_class = {c[0]: {"loans": 0, "outstanding_minor": 0, "provision_minor": 0,
                       "provision_rate_bps": c[3]} for c in cls.CLASSIFICATION_TABLE}
    by_bucket: dict[str, dict[str, Any]] = {b[0]: {"loans": 0, "outstanding_minor": 0} for b in cls.BUCKET_TABLE}
    total = 0
    provisions = 0
    for _cur, c, b, n, out, prov in rows:
        by_class[c]["loans"] += int(n)
        by_class[c]["outstanding_minor"] += int(out or 0)
        by_class[c]["provision_minor"] += int(prov or 0)
        by_bucket[b]["loans"] += int(n)
        by_bucket[b]["outstanding_minor"] += int(out or 0)
        total += int(out or 0)
        provisions += int(prov or 0)
    for v in by_bucket.values():
        v["share"] = v["outstanding_minor"] / total if total else None
    past_due = total - by_bucket["current"]["outstanding_minor"]
    allowance = ledger.internal_balances(session, "loan_loss_allowance")
    n_off = int(session.scalar(select(func.count()).where(Loan.status == "written_off")) or 0)
    principal_off = ledger.total_by_kind(session, "loan_writeoff")
    rec = session.execute(select(func.coalesce(func.sum(LoanRepayment.amount_minor), 0),
                                 func.coalesce(func.sum(LoanRepayment.principal_minor), 0))
                          .where(LoanRepayment.kind.in_(RECOVERY_KINDS))).one()
    recovered, recovered_principal = int(rec[0]), int(rec[1])
    return {"loans": sum(v["loans"] for v in by_bucket.values()), "outstanding_minor": total,
            "provision_minor": provisions, "allowance_balance_minor": sum(allowance.values()),
            "delinquency_rate": past_due / total if total else None,
            "by_classification": by_class, "by_bucket": by_bucket,
            # written off so far, what their customers have paid since (principal, interest and penalty) and the
            # share of the written-off principal recovered
            "written_off": {"loans": n_off, "principal_minor": principal_off, "recovered_minor": recovered,
                            "recovered_principal_minor": recovered_principal,
                            "recovery_rate": recovered_principal / principal_off if principal_off else None}}


def is_delinquent(session: Session, customer_id: int) -> bool:
    """Whether the customer has a loan past due or written off (the recommender offers them no new loan)."""
    return session.scalar(select(Loan.id).where(
        Loan.customer_id == customer_id,
        or_(and_(Loan.status == "active", Loan.days_past_due > 0), Loan.status == "written_off")).limit(1)) is not None


def delinquency_rate(session: Session) -> float | None:
    """Share of active loans' outstanding principal 1+ days past due (None when there are no loans)."""
    late = case((Loan.days_past_due > 0, Loan.outstanding_minor), else_=0)
    total, past_due = session.execute(select(func.sum(Loan.outstanding_minor), func.sum(late))
                                      .where(Loan.status == "active")).one()
    if not total:
        return None
    return int(past_due or 0) / int(total)


# the risk monitor's KRI of the loan book (risk sits below lending: lending provides the figure)
risk.provide_metric("delinquency_rate", lambda session, start, end: delinquency_rate(session))
