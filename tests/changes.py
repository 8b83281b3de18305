"""Maker-checker in tests: a change an entry point proposed is approved by a second staff member.

The entry points that change sensitive configuration (risk rules and limits, reference rates, products, daily
limits, staff roles) answer 202 with the change request waiting for a checker. A test whose subject is what the
change does afterwards approves it with :func:`approve`, which acts as a different staff member holding the
kind's permission (created on first use, ``checker_<role>``), through the back office's front door."""

from __future__ import annotations

from typing import Any

from smartbank import db
from smartbank.backoffice import service as backoffice
from smartbank.security import service as security

# the role a checker takes for each permission (the first role holding it that is not the maker's)
_PREFERENCE = ("risk_officer", "teller", "marketer", "admin")


def checker(session: Any, permission: str, *, not_user: int | None = None) -> security.Principal:
    """A staff principal holding ``permission`` who is not ``not_user`` (created if needed)."""
    roles = security.roles_for(permission)
    maker_role = None
    if not_user is not None:
        u = security.find_user(session, not_user)
        maker_role = u.role if u is not None else None
    role = next((r for r in _PREFERENCE if r in roles and r != maker_role), None) or roles[-1]
    name = f"checker_{role}"
    user = security.find_user_by_name(session, name)
    if user is None:
        user = security.create_user(session, username=name, password="passw0rd!", role=role)
    return security.principal_of(user)


def change_id(proposed: Any) -> int:
    """The change request's id in an entry point's answer (a response, its JSON, or the id itself)."""
    if isinstance(proposed, int):
        return proposed
    body = proposed.json() if hasattr(proposed, "json") else proposed
    return int(body["change"]["id"])


def approve(proposed: Any, *, note: str = "") -> dict[str, Any]:
    """Approve the proposed change as a second staff member; returns the applied request (``after`` = the new
    value)."""
    cid = change_id(proposed)

    def work(s: Any) -> dict[str, Any]:
        req = s.get(backoffice.ChangeRequest, cid)
        assert req is not None, f"no change request {cid}"
        who = checker(s, backoffice.CHANGE_KINDS[req.kind].permission, not_user=req.requested_by)
        return backoffice.change_as_dict(s, backoffice.approve_change(s, who, cid, note=note))

    return db.run_in_transaction(work)


def approve_pending() -> list[dict[str, Any]]:
    """Approve every pending change request, oldest first (for pages, which redirect to the queue)."""
    def ids(s: Any) -> list[int]:
        from sqlalchemy import select

        return list(s.scalars(select(backoffice.ChangeRequest.id).where(
            backoffice.ChangeRequest.status == "pending").order_by(backoffice.ChangeRequest.id)))

    return [approve(i) for i in db.run_in_transaction(ids)]
