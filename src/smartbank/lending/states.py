"""The application's life cycle as data, and the one function that moves an application along it.

    submitted -> scoring -> approved | declined | manual_review
    manual_review -> approved | declined            (a loan officer; two for large amounts)
    approved -> accepted (the customer takes the offer) | withdrawn | expired
    accepted -> disbursed (money paid out through the ledger) -> repaying (first instalment collected)
    disbursed | repaying -> closed (the loan is repaid in full) | written_off (the loan is written off)
    submitted | scoring | manual_review -> withdrawn (the customer changes their mind)

Every move writes a ``loan_application_events`` row (who, from, to, note): the progress the
customer sees and the case history the officer sees.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from smartbank.errors import Conflict
from smartbank.ledger.service import utcnow
from smartbank.lending.models import LoanApplication, LoanApplicationEvent

TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"scoring", "withdrawn"}),
    "scoring": frozenset({"approved", "declined", "manual_review", "withdrawn"}),
    "manual_review": frozenset({"approved", "declined", "withdrawn"}),
    "approved": frozenset({"accepted", "withdrawn", "expired"}),
    "accepted": frozenset({"disbursed"}),
    "disbursed": frozenset({"repaying", "closed", "written_off"}),
    "repaying": frozenset({"closed", "written_off"}),
    "declined": frozenset(),
    "withdrawn": frozenset(),
    "expired": frozenset(),
    "closed": frozenset(),
    "written_off": frozenset(),
}
FINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# the customer-facing progress line, in order (declined / withdrawn / expired end it early)
PROGRESS = ("submitted", "scoring", "manual_review", "approved", "accepted", "disbursed", "repaying", "closed")


class IllegalTransition(Conflict):
    code = "illegal_transition"


def can_move(current: str, to: str) -> bool:
    return to in TRANSITIONS.get(current, frozenset())


def transition(session: Session, app: LoanApplication, to: str, *, actor_id: int | None = None,
               note: str | None = None) -> LoanApplicationEvent:
    """Move ``app`` to ``to`` or raise :class:`IllegalTransition` (409) without writing anything."""
    if not can_move(app.status, to):
        raise IllegalTransition(f"an application cannot go from {app.status} to {to}",
                                reason="lending.illegal_transition", details={"from": app.status, "to": to})
    ev = LoanApplicationEvent(application_id=app.id, from_status=app.status, to_status=to, actor_id=actor_id,
                              note=note, at=utcnow())
    app.status = to
    app.updated_at = ev.at
    app.version = (app.version or 0) + 1
    session.add(ev)
    session.flush()
    return ev


def record_submitted(session: Session, app: LoanApplication, *, actor_id: int | None = None) -> LoanApplicationEvent:
    """The first event of a new application (status ``submitted``)."""
    ev = LoanApplicationEvent(application_id=app.id, from_status=None, to_status="submitted", actor_id=actor_id,
                              at=utcnow())
    session.add(ev)
    session.flush()
    return ev
