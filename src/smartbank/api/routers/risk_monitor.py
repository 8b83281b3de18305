"""Risk limits, the risk register and matrix, KRIs, early warnings and model monitoring.

Risk officers (and administrators) only; authorisation and every rule are in the limit, register and
monitoring functions of :mod:`smartbank.risk.service`. Each request is one transaction, so
a refused request writes nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field

from smartbank import clock
from smartbank.api.deps import Actor, PathId, QueryId, request_id, uow
from smartbank.api.routers.changes import proposed
from smartbank.api.schemas import In
from smartbank.risk import service as risk

router = APIRouter(prefix="/risk", tags=["risk"])

Scope = Literal["customer", "product", "channel"]
Action = Literal["challenge", "review", "block"]
Category = Literal["credit", "market", "operational", "compliance", "infosec"]
Status = Literal["open", "mitigating", "accepted", "closed"]
Scale = Field(ge=1, le=5, strict=True)
DailyAmount = Field(None, gt=0, le=risk.MAX_LIMIT_AMOUNT, strict=True, description="integer minor units (fen)")
DailyCount = Field(None, gt=0, le=risk.MAX_LIMIT_COUNT, strict=True)


class LimitIn(In):
    scope: Scope
    scope_value: str = Field(min_length=1, max_length=40,
                             description="a customer id, a product (demand | savings) or a channel")
    daily_amount_minor: int | None = DailyAmount
    daily_count: int | None = DailyCount
    action: Action = "block"
    note: str | None = Field(None, max_length=300)
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


class LimitEditIn(In):
    daily_amount_minor: int | None = DailyAmount
    daily_count: int | None = DailyCount
    action: Action | None = None
    active: bool | None = Field(None, strict=True)
    note: str | None = Field(None, max_length=300)
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


class RiskIn(In):
    code: str = Field(min_length=2, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    category: Category
    title_en: str = Field(min_length=1, max_length=200)
    title_zh: str = Field(min_length=1, max_length=200)
    likelihood: int = Scale
    impact: int = Scale
    description: str | None = Field(None, max_length=4000)
    owner: str | None = Field(None, max_length=80)
    controls: str | None = Field(None, max_length=4000)
    status: Status = "open"


class RiskEditIn(In):
    category: Category | None = None
    title_en: str | None = Field(None, min_length=1, max_length=200)
    title_zh: str | None = Field(None, min_length=1, max_length=200)
    likelihood: int | None = Field(None, ge=1, le=5, strict=True)
    impact: int | None = Field(None, ge=1, le=5, strict=True)
    description: str | None = Field(None, max_length=4000)
    owner: str | None = Field(None, max_length=80)
    controls: str | None = Field(None, max_length=4000)
    status: Status | None = None


def _set_fields(body: In) -> dict[str, Any]:
    """The fields the client sent (an explicit null clears an optional field)."""
    return body.model_dump(exclude_unset=True)


# ------------------------------------------------------------------------------------------------ limits


@router.get("/limits")
def list_limits(actor: Actor, include_inactive: bool = True) -> list[dict[str, Any]]:
    return uow(lambda s: risk.list_limits(s, actor, include_inactive=include_inactive))


@router.post("/limits", status_code=202)
def create_limit(body: LimitIn, actor: Actor, request: Request) -> dict[str, Any]:
    """Propose a new limit; it applies once a second risk officer or administrator approves it."""
    return uow(lambda s: proposed(s, actor, request, kind="risk.limit.create", target="new",
                                  payload=body.model_dump(exclude={"reason"}), reason=body.reason))


@router.get("/limits/breaches")
def limit_breaches(actor: Actor, customer_id: QueryId = None, limit_id: QueryId = None,
                   limit: int = Query(200, ge=1, le=1000)) -> list[dict[str, Any]]:
    return uow(lambda s: risk.list_breaches(s, actor, customer_id=customer_id, limit_id=limit_id, limit=limit))


@router.get("/limits/{limit_id}")
def get_limit(limit_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: risk.get_limit(s, actor, limit_id))


@router.patch("/limits/{limit_id}", status_code=202)
def edit_limit(limit_id: PathId, body: LimitEditIn, actor: Actor, request: Request) -> dict[str, Any]:
    """Propose changing caps, action, note or ``active`` (false deactivates); ``null`` for a cap removes it.
    Applied once a second risk officer or administrator approves it."""
    changes = _set_fields(body)
    changes.pop("reason", None)
    for k in ("action", "active"):
        if k in changes and changes[k] is None:
            changes.pop(k)
    return uow(lambda s: proposed(s, actor, request, kind="risk.limit.edit", target=limit_id, payload=changes,
                                  reason=body.reason))


# ------------------------------------------------------------------------------------------------ register


@router.get("/register")
def list_register(actor: Actor, category: Category | None = None, include_closed: bool = True
                  ) -> list[dict[str, Any]]:
    return uow(lambda s: risk.list_register_entries(s, actor, category=category, include_closed=include_closed))


@router.post("/register", status_code=201)
def create_risk(body: RiskIn, actor: Actor, request: Request) -> dict[str, Any]:
    return uow(lambda s: risk.create_register_entry(s, actor, **body.model_dump(), rid=request_id(request)))


@router.get("/register/{entry_id}")
def get_risk(entry_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: risk.get_register_entry(s, actor, entry_id))


@router.patch("/register/{entry_id}")
def edit_risk(entry_id: PathId, body: RiskEditIn, actor: Actor, request: Request) -> dict[str, Any]:
    changes = {k: v for k, v in _set_fields(body).items()
               if v is not None or k in ("description", "owner", "controls")}
    return uow(lambda s: risk.edit_register_entry(s, actor, entry_id, rid=request_id(request), **changes))


@router.get("/matrix")
def risk_matrix(actor: Actor) -> dict[str, Any]:
    """The 5x5 likelihood x impact matrix of risks not closed (cells[likelihood-1][impact-1])."""
    return uow(lambda s: risk.register_matrix(s, actor))


# ------------------------------------------------------------------------------------------------ KRIs, warnings


@router.get("/kris")
def list_kris(actor: Actor) -> list[dict[str, Any]]:
    """Each KRI with its latest value and level (ok / warning / breach / no_data)."""
    return uow(lambda s: risk.list_kris(s, actor))


@router.get("/warnings")
def list_warnings(actor: Actor, open_only: bool = False, limit: int = Query(100, ge=1, le=1000)
                  ) -> list[dict[str, Any]]:
    return uow(lambda s: risk.list_warnings(s, actor, open_only=open_only, limit=limit))


@router.post("/warnings/{warning_id}/ack")
def acknowledge_warning(warning_id: PathId, actor: Actor, request: Request) -> dict[str, Any]:
    return uow(lambda s: risk.acknowledge_warning(s, actor, warning_id, rid=request_id(request)))


@router.get("/model-monitor")
def model_monitor(actor: Actor, limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """PSI, alert rate and status per model version and period, newest first."""
    return uow(lambda s: risk.list_model_monitor(s, actor, limit=limit))


@router.get("/dashboard")
def dashboard(actor: Actor) -> dict[str, Any]:
    """Matrix, top risks, KRIs, open warnings, model monitor, limits and breaches, decision mix and alert
    backlog over 30 days, and the live metrics over 7 days."""
    return uow(lambda s: risk.dashboard(s, actor, now=clock.now()))
