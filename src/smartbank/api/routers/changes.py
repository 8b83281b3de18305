"""Change requests: maker-checker for sensitive configuration (risk rules and limits, reference rates, loan and
wealth products, customers' daily limits, staff roles).

The routes that change these (``POST /risk/rules``, ``POST /lending/rates``, ``PUT /customers/{id}/daily-limit``
...) propose the change and answer 202 with the request (:func:`proposed`); a second staff member holding the
same permission approves it here (the change applies then), or rejects it; the maker may withdraw it. The list
shows each caller the kinds their role decides."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field

from smartbank.api.deps import Actor, PathId, request_id, uow
from smartbank.api.schemas import In
from smartbank.backoffice import service as backoffice
from smartbank.security.service import Principal

router = APIRouter(prefix="/changes", tags=["change requests"])

Status = Literal["pending", "applied", "rejected", "withdrawn", "all"]
AWAITS = "the change awaits approval by a second staff member (change request {id})"


class NoteIn(In):
    note: str = Field(default="", max_length=500)


class RejectNoteIn(In):
    note: str = Field(min_length=1, max_length=500, description="why the change is turned down")


def proposed(s: Any, actor: Principal, request: Request, *, kind: str, target: str | int, payload: dict[str, Any],
             reason: str = "") -> dict[str, Any]:
    """Propose a change for an entry point: the answer (202) says it awaits approval and carries the request."""
    req = backoffice.propose_change(s, actor, kind=kind, target=target, payload=payload, reason=reason,
                                    rid=request_id(request))
    return {"status": "pending_approval", "message": AWAITS.format(id=req.id),
            "change": backoffice.change_as_dict(s, req)}


@router.get("")
def list_changes(actor: Actor, status: Status = "pending", kind: str | None = Query(None, max_length=40),
                 limit: int = Query(100, ge=1, le=500)) -> dict[str, Any]:
    """The change requests of the kinds your role decides: pending ones oldest first (the checkers' queue)."""
    return uow(lambda s: {"items": [backoffice.change_as_dict(s, r) for r in backoffice.list_changes(
        s, actor, status=None if status == "all" else status, kind=kind, limit=limit)]})


@router.get("/{change_id}")
def get_change(change_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: backoffice.change_as_dict(s, backoffice.get_change(s, actor, change_id)))


@router.post("/{change_id}/approve")
def approve_change(change_id: PathId, actor: Actor, request: Request, body: NoteIn | None = None) -> dict[str, Any]:
    """A second staff member approves: the change applies now (409 ``same_officer`` for its maker, 409
    ``stale_change`` when the object changed since it was proposed)."""
    note = body.note if body is not None else ""
    return uow(lambda s: backoffice.change_as_dict(s, backoffice.approve_change(
        s, actor, change_id, note=note, rid=request_id(request))))


@router.post("/{change_id}/reject")
def reject_change(change_id: PathId, body: RejectNoteIn, actor: Actor, request: Request) -> dict[str, Any]:
    return uow(lambda s: backoffice.change_as_dict(s, backoffice.reject_change(
        s, actor, change_id, note=body.note, rid=request_id(request))))


@router.post("/{change_id}/withdraw")
def withdraw_change(change_id: PathId, actor: Actor, request: Request, body: NoteIn | None = None
                    ) -> dict[str, Any]:
    """The maker takes their proposal back."""
    note = body.note if body is not None else ""
    return uow(lambda s: backoffice.change_as_dict(s, backoffice.withdraw_change(
        s, actor, change_id, note=note, rid=request_id(request))))
