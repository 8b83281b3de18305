"""Writing off a bad loan (核销): the end of a loan classified ``loss`` that the bank no longer expects to
collect.

Only a risk officer or an administrator writes a loan off, only an ``active`` loan classified ``loss``, and
always with a reason. In one transaction:

1. the provision is brought to 100 % of the outstanding principal (``loan_provision``, expense -> allowance,
   through :func:`servicing._set_provision`; nothing when the close of day already did it);
2. the write-off itself (``loan_writeoff``): ``loan_loss_allowance`` -> the loan's own ledger account, the
   outstanding principal (key ``loan:<id>:writeoff``, so a rerun cannot post it twice): the loan account's
   balance becomes 0 and the allowance is used up by exactly that amount;
3. the loan's provision is set to 0 without another posting (the allowance was consumed by step 2), so the
   allowance's balance stays the sum of the loans' provisions;
4. the loan becomes ``written_off`` (outstanding 0, open instalments ``written_off``), one
   ``loan_status_history`` row, its ledger account closed, the customer told and the staff write audited.

Unpaid interest and penalty interest were never booked as income (income is booked when collected), so
nothing is reversed for them. The interest of instalments not yet due is cancelled (no longer charged); what
was due (principal, interest, penalty) and the principal of later instalments stay owed (账销案存): the
customer may still pay it with an ordinary repayment, posted as a recovery (``loan_recovery``, see
:func:`servicing.repay`). The loan application moves to ``written_off`` (a final state).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from smartbank.errors import Conflict, IdempotencyConflict, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.lending import servicing, states
from smartbank.lending.models import Loan, LoanApplication
from smartbank.money import MAX_MINOR, format_money
from smartbank.notifications import service as notifications
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.text import clean_text

__all__ = ["WRITERS", "record_collection", "write_off"]

WRITERS = security.roles_for("lending.writeoff")
MAX_REASON = 200


def _reason(reason: str | None) -> str:
    return clean_text(reason, "the reason", MAX_REASON, empty="a reason for the write-off is required")


def _snapshot(loan: Loan) -> dict[str, Any]:
    return {
        "status": loan.status,
        "outstanding_minor": loan.outstanding_minor,
        "provision_minor": loan.provision_minor,
        "classification": loan.classification,
        "days_past_due": loan.days_past_due,
        "version": loan.version,
    }


def write_off(
    session: Session, actor: Principal, loan_id: int, *, reason: str, day: date | None = None
) -> dict[str, Any]:
    """Write off an active loan classified ``loss`` (see the module's docstring). Refusals (403 for other
    roles, 422 without a reason, 404 for no such loan, 409 for a loan that is not active or not ``loss``)
    write nothing."""
    actor.require_role(*WRITERS)
    text = _reason(reason)
    loan = servicing._own_loan(session, actor, loan_id, lock=True)
    if loan.status != "active":
        raise Conflict(
            f"only an active loan can be written off (this one is {loan.status})", reason="lending.writeoff_not_active",
            details={"loan_id": loan.id, "status": loan.status},
        )
    if loan.classification != "loss":
        raise Conflict(
            f"only a loan classified loss can be written off (this one is {loan.classification})",
            reason="lending.writeoff_not_loss", details={"loan_id": loan.id, "classification": loan.classification},
        )
    d = day or servicing.today()
    before = _snapshot(loan)
    amount = loan.outstanding_minor
    topped_up = servicing._set_provision(session, loan, amount, d, note="write-off")
    transfer_id = None
    if amount > 0:
        allowance = ledger.internal_account(session, "loan_loss_allowance", loan.currency)
        res = ledger.transfer(
            session,
            ledger.TransferCommand(
                key=f"loan:{loan.id}:writeoff",
                debit_account_id=allowance.id,
                credit_account_id=loan.loan_account_id,
                amount_minor=amount,
                currency=loan.currency,
                kind="loan_writeoff",
                memo=f"loan {loan.number} written off",
                reference=f"loan:{loan.id}",
                initiated_by=actor.user_id or None,
                value_date=d,
            ),
        )
        transfer_id = res.id
    loan.provision_minor = 0  # the allowance was used up by the write-off itself: no release posting
    loan.outstanding_minor = 0
    loan.status, loan.closed_at = "written_off", ledger.utcnow()
    loan.version += 1
    cancelled = 0
    for i in servicing._installments(session, loan.id, open_only=True):
        i.status = "written_off"
        if i.due_date > d:  # interest not yet due is no longer charged: the claim is what was due plus principal
            cancelled += i.interest_minor - i.paid_interest_minor
            i.interest_minor = i.paid_interest_minor
    owed = servicing.still_owed(servicing._installments(session, loan.id))
    acct = ledger.get_account(session, loan.loan_account_id)
    session.refresh(acct)
    acct.overdraft_limit_minor = 0  # nothing is owed on it any more
    if acct.balance_minor == 0 and acct.status != "closed":
        ledger.set_account_status(session, acct, "closed")
    servicing._history(session, loan, d, f"written off: {text}"[:200])
    app = session.get(LoanApplication, loan.application_id)
    if app is not None and states.can_move(app.status, "written_off"):
        states.transition(session, app, "written_off", actor_id=actor.user_id or None,
                          note=f"loan {loan.number} written off")
    amt, owed_text = format_money(amount, loan.currency), format_money(owed, loan.currency)
    notifications.notify(
        session,
        customer_id=loan.customer_id,
        kind="loan_written_off",
        ref=f"loan:{loan.id}",
        title_en=f"Loan {loan.number} has been written off",
        title_zh=f"贷款 {loan.number} 已核销",
        body_en=f"The bank has written off loan {loan.number} ({amt} of principal unpaid) after a long "
        "period without repayment. No more automatic debits, interest or penalty interest are charged on it. "
        f"{owed_text} is still owed: you can pay it on the loan's page or contact the bank.",
        body_zh=f"因长期未还款，本行已将贷款 {loan.number}（未还本金 {amt}）核销，"
        "此后不再自动扣款、计息或计收罚息。"
        f"您仍欠 {owed_text}，可在贷款页面还款或与本行联系。",
    )
    after = _snapshot(loan) | {
        "written_off_minor": amount,
        "provision_top_up_minor": topped_up,
        "transfer_id": transfer_id,
        "interest_cancelled_minor": cancelled,
        "still_owed_minor": owed,
    }
    security.audit(
        session,
        actor,
        action="loan.write_off",
        object_type="loan",
        object_id=loan.id,
        before=before,
        after=after,
        note=text,
    )
    session.flush()
    return {
        "id": loan.id,
        "number": loan.number,
        "status": loan.status,
        "written_off_minor": amount,
        "provision_top_up_minor": topped_up,
        "transfer_id": transfer_id,
        "interest_cancelled_minor": cancelled,
        "still_owed_minor": owed,
        "day": d,
        "reason": text,
    }


MAX_REFERENCE = 100


def record_collection(session: Session, actor: Principal, loan_id: int, *, amount_minor: int, reference: str,
                      key: str, day: date | None = None) -> dict[str, Any]:
    """Collections record money received for a written-off loan outside the customer's accounts (a collection
    agency's or a court's payment, arriving through the bank's ``settlement`` account): allocated and posted
    like the customer's own recovery (kind ``collected``), with the payment's reference, audited. Only risk
    officers and administrators; ``key`` makes a retry return the first record (a different request with the
    same key is 409). Refusals write nothing."""
    actor.require_role(*WRITERS)
    ref = clean_text(reference, "the payment's reference", MAX_REFERENCE)
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or not 0 < amount_minor <= MAX_MINOR:
        raise ValidationFailed("the amount must be a positive whole number of fen",
                               details={"amount_minor": amount_minor})
    k = servicing._idem(actor, key)
    loan = servicing._own_loan(session, actor, loan_id, lock=True)
    old = servicing._replay(session, loan, k, amount_minor)
    if old is not None:
        if old.kind != "collected":
            raise IdempotencyConflict("this idempotency key was already used for a different request",
                                      details={"repayment_id": old.id})
        return servicing._repayment_view(old) | {"replayed": True}
    if loan.status != "written_off":
        raise Conflict("only a written-off loan's recoveries are recorded here (an active loan is repaid)",
                       details={"loan_id": loan.id, "status": loan.status})
    d = day or servicing.today()
    settlement = ledger.internal_account(session, "settlement", loan.currency)
    rep = servicing._recover(session, actor, loan, amount_minor, k, d, source_account_id=settlement.id,
                             kind="collected", note=f" (collected: {ref})")
    left = servicing.still_owed(servicing._installments(session, loan.id))
    security.audit(session, actor, action="loan.recovery", object_type="loan", object_id=loan.id,
                   before={"still_owed_minor": left + rep.amount_minor},
                   after={"still_owed_minor": left, "repayment_id": rep.id, "amount_minor": rep.amount_minor},
                   note=ref)
    session.flush()
    return servicing._repayment_view(rep) | {"replayed": False, "reference": ref, "still_owed_minor": left}
