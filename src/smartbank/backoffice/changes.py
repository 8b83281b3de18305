"""Maker-checker for sensitive configuration: change requests.

The same style as the reversals (:mod:`smartbank.ledger.reversals`) and the loan review's second check: one
staff member *proposes* a change (the maker: what, the new value, the value now, a reason); it takes effect
only when a *different* staff member holding the kind's permission *approves* it (the checker), in the
checker's transaction, through the owning domain's front-door function; it may be *rejected* (by a checker,
with a note) or *withdrawn* (by its maker). A proposal whose object changed since it was made is *stale*:
approving it is refused (409 ``stale_change``) and it stays pending until rejected or withdrawn, so nobody
approves a before/after they did not see. Every step is audited (``security.audit``).

A proposal is tried at once in a savepoint that is rolled back (:func:`propose`), so bad input is refused
when it is proposed, with the owner's own error, and nothing waits that could never apply.

The kinds (:data:`KINDS`) and what each covers:

=====================  ===========================  ====================================================
kind                   target                       applied through
=====================  ===========================  ====================================================
risk.rule.create       rule code                    ``risk.create_rule``
risk.rule.edit         rule code                    ``risk.edit_rule`` (a new version)
risk.rule.mode         rule code                    ``risk.set_rule_mode`` (activate, shadow, retire)
risk.limit.create      ``new``                      ``risk.create_limit``
risk.limit.edit        limit id                     ``risk.edit_limit`` (caps, action, note, active)
lending.rate.set       LPR1Y / LPR5Y                ``lending.set_rate``
lending.product.create product code                 ``lending.create_product``
lending.product.edit   product code                 ``lending.edit_product`` (spreads, limits, ...)
wealth.product.create  product code                 ``wealth.create_product``
wealth.product.edit    product code                 ``wealth.update_product``
wealth.product.close   product code                 ``wealth.close_product``
customer.daily_limit   customer id                  ``customers.set_daily_limit``
user.role              user id                      ``security.set_user_role``
user.active            user id                      ``security.set_user_active``
=====================  ===========================  ====================================================

Seeding (the demo, ``smartbank ... seed``, migrations, the synthetic bank) calls the owners' functions
directly: it is not a change to a running bank's configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.backoffice.models import CHANGE_STATUSES, ChangeRequest
from smartbank.customers import service as customers
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.lending import service as lending
from smartbank.risk import service as risk
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.text import clean_text
from smartbank.wealth import service as wealth

__all__ = [
    "CHANGE_STATUSES", "KINDS", "ChangeRequest", "SameMaker", "StaleChange", "approve", "as_dict", "get",
    "listing", "propose", "reject", "withdraw",
]

MAX_REASON = 500


class SameMaker(Conflict):
    """The person who proposed a change cannot also approve it."""

    code = "same_officer"


class StaleChange(Conflict):
    """The object changed after the proposal was made: what the checker would approve is not what was proposed."""

    code = "stale_change"


Current = Callable[[Session, Principal, str], "dict[str, Any] | None"]
Apply = Callable[[Session, Principal, str, "dict[str, Any]"], "dict[str, Any]"]


@dataclass(frozen=True)
class Kind:
    code: str
    permission: str  # the maker and the checker both need it
    current: Current  # the object's state now (None: it does not exist)
    apply: Apply  # make the change through the owner's front door; the state after
    creates: bool = False  # the object must not exist yet
    # the owner's function takes the proposal's reason (``reason`` beside the payload): it may require one and
    # records it in its own audit entry (changing a rule's mode)
    with_reason: bool = False


def _plain(value: Any) -> Any:
    """JSON-safe and canonical (dates as ISO text), so a stored snapshot compares equal to a fresh one."""
    def default(v: Any) -> Any:
        if isinstance(v, datetime | date):
            return v.isoformat()
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, set | frozenset | tuple):
            return sorted(v) if isinstance(v, set | frozenset) else list(v)
        raise TypeError(f"not JSON: {type(v).__name__}")

    return json.loads(json.dumps(value, default=default, sort_keys=True))


def _int_target(target: str, what: str) -> int:
    if not (target.isdigit() and 0 < int(target) < 2**63):
        raise ValidationFailed(f"the target is a {what} id", reason="backoffice.target_not_an_id",
                               details={"target": target})
    return int(target)


def _date(v: Any, field: str) -> date:
    if isinstance(v, date):
        return v
    try:
        return date.fromisoformat(str(v))
    except ValueError:
        raise ValidationFailed(f"{field} is a date YYYY-MM-DD", reason="backoffice.not_a_date",
                               details={field: v}) from None


# ------------------------------------------------------------------------------------------- risk rules
_RULE_FIELDS = ("version", "name_en", "name_zh", "expression", "action", "mode", "reason_en", "reason_zh")


def _rule_now(s: Session, actor: Principal, code: str) -> dict[str, Any] | None:
    try:
        r = risk.get_rule(s, actor=actor, code=code)
    except NotFound:
        return None
    return {k: r[k] for k in _RULE_FIELDS}


def _rule_create(s: Session, actor: Principal, code: str, p: dict[str, Any]) -> dict[str, Any]:
    r = risk.create_rule(s, actor=actor, code=code, **p)
    return {k: r[k] for k in _RULE_FIELDS}


def _rule_edit(s: Session, actor: Principal, code: str, p: dict[str, Any]) -> dict[str, Any]:
    r = risk.edit_rule(s, actor=actor, code=code, **p)
    return {k: r[k] for k in _RULE_FIELDS}


def _rule_mode(s: Session, actor: Principal, code: str, p: dict[str, Any]) -> dict[str, Any]:
    r = risk.set_rule_mode(s, actor=actor, code=code, mode=p.get("mode", ""), reason=p.get("reason", ""))
    return {k: r[k] for k in _RULE_FIELDS}


# ------------------------------------------------------------------------------------------- risk limits
_LIMIT_FIELDS = ("scope", "scope_value", "daily_amount_minor", "daily_count", "action", "active", "note")


def _limit_now(s: Session, actor: Principal, target: str) -> dict[str, Any] | None:
    if target == "new":
        return None
    r = risk.get_limit(s, actor, _int_target(target, "limit"))
    return {k: r[k] for k in _LIMIT_FIELDS}


def _limit_create(s: Session, actor: Principal, target: str, p: dict[str, Any]) -> dict[str, Any]:
    if target != "new":
        raise ValidationFailed("a new limit's target is 'new'", details={"target": target})
    r = risk.create_limit(s, actor, **p)
    return {"id": r["id"]} | {k: r[k] for k in _LIMIT_FIELDS}


def _limit_edit(s: Session, actor: Principal, target: str, p: dict[str, Any]) -> dict[str, Any]:
    r = risk.edit_limit(s, actor, _int_target(target, "limit"), **p)
    return {k: r[k] for k in _LIMIT_FIELDS}


# ------------------------------------------------------------------------------------------- lending
def _rate_now(s: Session, actor: Principal, name: str) -> dict[str, Any] | None:
    if name not in lending.RATE_NAMES:
        raise ValidationFailed("unknown reference rate", details={"name": name, "names": list(lending.RATE_NAMES)})
    rows = lending.list_rates(s, name)
    last = rows[-1] if rows else None
    return {"rate_bps": last["rate_bps"] if last else None,
            "effective_date": last["effective_date"] if last else None, "published": len(rows)}


def _rate_set(s: Session, actor: Principal, name: str, p: dict[str, Any]) -> dict[str, Any]:
    r = lending.set_rate(s, actor, name, p.get("rate_bps", 0), _date(p.get("effective_date"), "effective_date"))
    return {"rate_bps": r.rate_bps, "effective_date": r.effective_date.isoformat()}


def _loan_product_now(s: Session, actor: Principal, code: str) -> dict[str, Any] | None:
    try:
        p = lending.get_product(s, code)
    except NotFound:
        return None
    return lending.product_dict(p)


def _loan_product_create(s: Session, actor: Principal, code: str, p: dict[str, Any]) -> dict[str, Any]:
    return lending.product_dict(lending.create_product(s, actor, **(p | {"code": code})))


def _loan_product_edit(s: Session, actor: Principal, code: str, p: dict[str, Any]) -> dict[str, Any]:
    return lending.product_dict(lending.edit_product(s, actor, code, **p))


# ------------------------------------------------------------------------------------------- wealth
def _wealth_product_now(s: Session, actor: Principal, code: str) -> dict[str, Any] | None:
    try:
        p = wealth.get_product(s, code)
    except NotFound:
        return None
    return _wealth_view(p)


def _wealth_view(p: Any) -> dict[str, Any]:
    v = wealth.product_view(p)
    return {k: v[k] for k in v if k not in ("nav_day", "nav_micro", "income_per_10k_micro", "yield_7d_ppm")}


def _wealth_create(s: Session, actor: Principal, code: str, p: dict[str, Any]) -> dict[str, Any]:
    fields = dict(p) | {"code": code}
    if fields.get("launched_on") is not None:
        fields["launched_on"] = _date(fields["launched_on"], "launched_on")
    return _wealth_view(wealth.create_product(s, actor, fields))


def _wealth_edit(s: Session, actor: Principal, code: str, p: dict[str, Any]) -> dict[str, Any]:
    return _wealth_view(wealth.update_product(s, actor, code, dict(p)))


def _wealth_close(s: Session, actor: Principal, code: str, p: dict[str, Any]) -> dict[str, Any]:
    return _wealth_view(wealth.close_product(s, actor, code))


# ------------------------------------------------------------------------------------------- customers
def _limit_of_customer(s: Session, actor: Principal, target: str) -> dict[str, Any] | None:
    c = customers.get_customer(s, _int_target(target, "customer"))
    return {"daily_limit_minor": c.daily_limit_minor}


def _set_daily_limit(s: Session, actor: Principal, target: str, p: dict[str, Any]) -> dict[str, Any]:
    limit = p.get("daily_limit_minor")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise ValidationFailed("a daily limit is an integer of minor units, or none",
                               details={"daily_limit_minor": limit})
    c = customers.get_customer(s, _int_target(target, "customer"))
    before = {"daily_limit_minor": c.daily_limit_minor}
    customers.set_daily_limit(s, c, limit)
    security.audit(s, actor, action="customer.daily_limit", object_type="customer", object_id=c.id,
                   before=before, after={"daily_limit_minor": c.daily_limit_minor})
    return {"daily_limit_minor": c.daily_limit_minor}


# ------------------------------------------------------------------------------------------- staff
def _staff_now(s: Session, actor: Principal, target: str) -> dict[str, Any] | None:
    return security.staff_state(s, _int_target(target, "user"))


def _set_role(s: Session, actor: Principal, target: str, p: dict[str, Any]) -> dict[str, Any]:
    uid = _int_target(target, "user")
    if uid == actor.user_id:
        raise ValidationFailed("a staff member's own role is changed by others")
    before = security.staff_state(s, uid)
    security.set_user_role(s, uid, p.get("role", ""))
    after = security.staff_state(s, uid)
    security.audit(s, actor, action="user.role", object_type="user", object_id=uid, before=before, after=after)
    return after


def _set_active(s: Session, actor: Principal, target: str, p: dict[str, Any]) -> dict[str, Any]:
    uid = _int_target(target, "user")
    if uid == actor.user_id:
        raise ValidationFailed("a staff member's own sign-in is activated or deactivated by others")
    before = security.staff_state(s, uid)
    security.set_user_active(s, uid, p.get("active"))  # type: ignore[arg-type]
    after = security.staff_state(s, uid)
    security.audit(s, actor, action="user.active", object_type="user", object_id=uid, before=before, after=after)
    return after


KINDS: dict[str, Kind] = {k.code: k for k in (
    Kind("risk.rule.create", "risk.rules.manage", _rule_now, _rule_create, creates=True),
    Kind("risk.rule.edit", "risk.rules.manage", _rule_now, _rule_edit),
    Kind("risk.rule.mode", "risk.rules.manage", _rule_now, _rule_mode, with_reason=True),
    Kind("risk.limit.create", "risk.limits.manage", _limit_now, _limit_create, creates=True),
    Kind("risk.limit.edit", "risk.limits.manage", _limit_now, _limit_edit),
    Kind("lending.rate.set", "lending.rates.set", _rate_now, _rate_set),
    Kind("lending.product.create", "lending.products.manage", _loan_product_now, _loan_product_create,
         creates=True),
    Kind("lending.product.edit", "lending.products.manage", _loan_product_now, _loan_product_edit),
    Kind("wealth.product.create", "wealth.products.manage", _wealth_product_now, _wealth_create, creates=True),
    Kind("wealth.product.edit", "wealth.products.manage", _wealth_product_now, _wealth_edit),
    Kind("wealth.product.close", "wealth.products.manage", _wealth_product_now, _wealth_close),
    Kind("customer.daily_limit", "customer.limit.set", _limit_of_customer, _set_daily_limit),
    Kind("user.role", "user.manage", _staff_now, _set_role),
    Kind("user.active", "user.manage", _staff_now, _set_active),
)}


def _kind(code: str) -> Kind:
    k = KINDS.get(code)
    if k is None:
        raise ValidationFailed("unknown kind of change", details={"kind": code, "kinds": sorted(KINDS)})
    return k


def _now_of(session: Session, actor: Principal, kind: Kind, target: str) -> dict[str, Any] | None:
    cur = kind.current(session, actor, target)
    if kind.creates and cur is not None:
        raise Conflict("it exists already", details={"kind": kind.code, "target": target})
    if not kind.creates and cur is None:
        raise NotFound("nothing to change", details={"kind": kind.code, "target": target})
    return None if cur is None else _plain(cur)


def _note(text: str | None, what: str) -> str:
    return clean_text(text or "", what, MAX_REASON, required=False)


def propose(session: Session, actor: Principal, *, kind: str, target: str | int, payload: dict[str, Any],
            reason: str = "", rid: str | None = None) -> ChangeRequest:
    """The maker proposes a change. It is tried in a savepoint that is rolled back, so a change that could not
    apply is refused now (the owner's own error) and nothing is written; otherwise it waits for a checker."""
    k = _kind(kind)
    actor.require_staff()
    actor.require(k.permission)
    target = str(target).strip()
    if not target or len(target) > 80:
        raise ValidationFailed("the target needs 1-80 characters", details={"target": target})
    if k.code.startswith(("lending.product", "wealth.product")):
        target = target.upper()
    payload = _plain(payload)
    reason = _note(reason, "reason")
    before = _now_of(session, actor, k, target)
    if before is not None and payload:  # only what changes (a form sends every field)
        changed = {f: v for f, v in payload.items() if f not in before or before[f] != v}
        if not changed:
            raise Conflict("nothing changes", details={"kind": k.code, "target": target})
        payload = changed
    sp = session.begin_nested()
    try:
        k.apply(session, actor, target, dict(payload) | ({"reason": reason} if k.with_reason else {}))
    finally:
        sp.rollback()  # a trial: the change itself waits for the checker
    req = ChangeRequest(kind=k.code, target=target, status="pending", payload=payload, before=before,
                        reason=reason, requested_by=actor.user_id or None, requested_at=clock.now())
    session.add(req)
    session.flush()
    security.audit(session, actor, action="change.propose", object_type="change_request", object_id=req.id,
                   before=before, after={"kind": k.code, "target": target, "payload": payload},
                   request_id=rid, note=reason or None)
    return req


def _load(session: Session, change_id: int, *, lock: bool = False) -> ChangeRequest:
    stmt = select(ChangeRequest).where(ChangeRequest.id == change_id)
    if lock:  # serialise the deciders of one request (FOR UPDATE on PostgreSQL; SQLite has one writer)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    req = session.scalars(stmt).first()
    if req is None:
        raise NotFound("change request not found", details={"change_id": change_id})
    return req


def _pending(req: ChangeRequest) -> None:
    if req.status != "pending":
        raise Conflict(f"this change request is already {req.status}", reason="backoffice.change_not_pending",
                       details={"change_id": req.id, "status": req.status})


def _decide(req: ChangeRequest, actor: Principal, status: str, note: str | None) -> None:
    req.status = status
    req.decided_by = actor.user_id or None
    req.decided_at = clock.now()
    req.decision_note = note or None


def approve(session: Session, actor: Principal, change_id: int, *, note: str = "",
            rid: str | None = None) -> ChangeRequest:
    """The checker approves: the change applies now, in this transaction, through the owner's function (which
    audits it under the checker), and the approval is audited with the maker, the value before and after.
    Refused: the maker themself (409 ``same_officer``), a role without the kind's permission (403), a request
    no longer pending (409), a proposal whose object changed since (409 ``stale_change``)."""
    note = _note(note, "note")
    req = _load(session, change_id, lock=True)
    k = _kind(req.kind)
    actor.require_staff()
    actor.require(k.permission)
    _pending(req)
    if not actor.user_id or (req.requested_by is not None and actor.user_id == req.requested_by):
        raise SameMaker("a second, different staff member must approve this change",
                        details={"requested_by": req.requested_by})
    now = k.current(session, actor, req.target)
    if (None if now is None else _plain(now)) != req.before:
        raise StaleChange("this changed after the proposal was made; withdraw or reject it and propose again",
                          details={"change_id": req.id, "proposed_on": req.before, "now": _plain(now)})
    after = _plain(k.apply(session, actor, req.target,
                           dict(req.payload) | ({"reason": req.reason or ""} if k.with_reason else {})))
    _decide(req, actor, "applied", note)
    req.after = after
    session.flush()
    security.audit(session, actor, action="change.approve", object_type="change_request", object_id=req.id,
                   before=req.before, after={"kind": req.kind, "target": req.target, "value": after,
                                             "requested_by": req.requested_by},
                   request_id=rid, note=note or None)
    return req


def reject(session: Session, actor: Principal, change_id: int, *, note: str, rid: str | None = None) -> ChangeRequest:
    """A checker turns the change down, saying why; nothing changes."""
    note = _note(note, "note")
    if not note:
        raise ValidationFailed("a note saying why is required")
    req = _load(session, change_id, lock=True)
    k = _kind(req.kind)
    actor.require_staff()
    actor.require(k.permission)
    _pending(req)
    _decide(req, actor, "rejected", note)
    session.flush()
    security.audit(session, actor, action="change.reject", object_type="change_request", object_id=req.id,
                   before={"status": "pending"}, after={"status": "rejected", "kind": req.kind,
                                                        "target": req.target},
                   request_id=rid, note=note)
    return req


def withdraw(session: Session, actor: Principal, change_id: int, *, note: str = "",
             rid: str | None = None) -> ChangeRequest:
    """The maker takes their own proposal back; nothing changes."""
    note = _note(note, "note")
    req = _load(session, change_id, lock=True)
    actor.require_staff()
    if req.requested_by is None or req.requested_by != actor.user_id:
        raise NotFound("change request not found", details={"change_id": change_id})
    _pending(req)
    _decide(req, actor, "withdrawn", note)
    session.flush()
    security.audit(session, actor, action="change.withdraw", object_type="change_request", object_id=req.id,
                   before={"status": "pending"}, after={"status": "withdrawn", "kind": req.kind,
                                                        "target": req.target},
                   request_id=rid, note=note or None)
    return req


def visible_kinds(actor: Principal) -> list[str]:
    return [k.code for k in KINDS.values() if actor.can(k.permission)]


def listing(session: Session, actor: Principal, *, status: str | None = "pending", kind: str | None = None,
            limit: int = 100) -> list[ChangeRequest]:
    """The change requests of the kinds this staff member may decide; pending ones oldest first (the checkers'
    queue), others newest first."""
    actor.require_staff()
    if status is not None and status not in CHANGE_STATUSES:
        raise ValidationFailed("unknown status", details={"status": status, "allowed": list(CHANGE_STATUSES)})
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500")
    kinds = visible_kinds(actor)
    if kind is not None:
        _kind(kind)
        kinds = [k for k in kinds if k == kind]
    stmt = select(ChangeRequest).where(ChangeRequest.kind.in_(kinds))
    if status is not None:
        stmt = stmt.where(ChangeRequest.status == status)
    stmt = stmt.order_by(ChangeRequest.id if status == "pending" else ChangeRequest.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def get(session: Session, actor: Principal, change_id: int) -> ChangeRequest:
    req = _load(session, change_id)
    actor.require_staff()
    if req.kind not in visible_kinds(actor) and req.requested_by != actor.user_id:
        raise NotFound("change request not found", details={"change_id": change_id})
    return req


def _diff(req: ChangeRequest) -> list[dict[str, Any]]:
    """Field by field: the value before (when proposed) and the proposed one."""
    before = req.before or {}
    rows = []
    for field, new in req.payload.items():
        rows.append({"field": field, "before": before.get(field), "after": new})
    return rows


def as_dict(session: Session, req: ChangeRequest) -> dict[str, Any]:
    names = security.display_names(session, {i for i in (req.requested_by, req.decided_by) if i})
    return {
        "id": req.id, "kind": req.kind, "target": req.target, "status": req.status, "payload": req.payload,
        "before": req.before, "after": req.after, "changes": _diff(req), "reason": req.reason,
        "requested_by": req.requested_by, "requested_by_name": names.get(req.requested_by or 0),
        "requested_at": req.requested_at, "decided_by": req.decided_by,
        "decided_by_name": names.get(req.decided_by or 0), "decided_at": req.decided_at,
        "decision_note": req.decision_note,
    }
