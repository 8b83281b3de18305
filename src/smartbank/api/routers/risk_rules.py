"""Risk rules as data: create, edit (new version), test against history, shadow mode, statistics.

Authorisation is in ``risk.rules``: risk officers (and admins) only; every change is audited. A rule is
created in shadow mode unless ``mode`` says ``active``; editing writes version + 1; ``/mode`` switches
between active, shadow and retired (also a new version). Creating, editing and switching a rule's mode are
maker-checker: the route proposes the change (202, the change request) and it applies when a second risk officer
or administrator approves it (``/api/v1/changes``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import Field

from smartbank.api.deps import Actor, uow
from smartbank.api.routers.changes import proposed
from smartbank.api.schemas import In
from smartbank.risk import service as risk

router = APIRouter(prefix="/risk/rules", tags=["risk"])
RuleCode = Path(min_length=2, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
Action = Literal["flag", "challenge", "review", "block"]


class RuleIn(In):
    code: str = Field(min_length=2, max_length=40)
    name_en: str = Field(min_length=1, max_length=120)
    name_zh: str = Field(min_length=1, max_length=120)
    expression: str = Field(min_length=1, max_length=1000, description="a condition over the decision context")
    action: Action
    reason_en: str = Field(min_length=1, max_length=300, description="plain words a customer may be shown")
    reason_zh: str = Field(min_length=1, max_length=300)
    mode: Literal["active", "shadow"] = "shadow"
    reason: str = Field("", max_length=500, description="why (required, recorded in the audit trail; the change waits "
                                                        "for a second staff member)")


class RuleEditIn(In):
    name_en: str | None = Field(None, min_length=1, max_length=120)
    name_zh: str | None = Field(None, min_length=1, max_length=120)
    expression: str | None = Field(None, min_length=1, max_length=1000)
    action: Action | None = None
    reason_en: str | None = Field(None, min_length=1, max_length=300)
    reason_zh: str | None = Field(None, min_length=1, max_length=300)
    reason: str = Field("", max_length=500, description="why (required, recorded in the audit trail; the change waits "
                                                        "for a second staff member)")


class ModeIn(In):
    mode: Literal["active", "shadow", "retired"]
    reason: str = Field("", max_length=500, description="why (required, recorded in the audit trail; the change waits "
                                                        "for a second staff member)")


class RuleTestIn(In):
    expression: str = Field(min_length=1, max_length=1000)
    action: Action = "review"
    start: date
    end: date = Field(description="inclusive (Asia/Shanghai days)")
    source: str = Field("bank", min_length=1, max_length=300,
                        description="'bank' or a card_fraud-style file under the datasets directory")
    sample: int = Field(10, ge=0, le=50, strict=True)


@router.get("")
def list_rules(actor: Actor, include_retired: bool = False) -> list[dict[str, Any]]:
    """The newest version of every rule, most severe first."""
    return uow(lambda s: risk.list_rules(s, actor=actor, include_retired=include_retired))


@router.post("", status_code=202)
def create_rule(body: RuleIn, actor: Actor, request: Request) -> dict[str, Any]:
    """Propose a new rule; it exists once a second risk officer approves it."""
    fields = body.model_dump(exclude={"code", "reason"})
    return uow(lambda s: proposed(s, actor, request, kind="risk.rule.create", target=body.code, payload=fields,
                                  reason=body.reason))


@router.post("/test")
def test_rule(body: RuleTestIn, actor: Actor) -> dict[str, Any]:
    """Backtest a draft rule over a period of history; nothing is saved."""
    return uow(lambda s: risk.test_rule(s, actor=actor, **body.model_dump()))


@router.get("/stats")
def rule_stats(actor: Actor, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per rule: live hits, shadow hits, precision and money saved, from the stored decisions and labels."""
    return uow(lambda s: risk.rule_stats(s, since, actor=actor))


@router.get("/{code}")
def get_rule(actor: Actor, code: str = RuleCode) -> dict[str, Any]:
    """The rule in its newest version, with every version."""
    def work(s: Any) -> dict[str, Any]:
        out = risk.get_rule(s, actor=actor, code=code)
        out["versions"] = risk.rule_versions(s, actor=actor, code=code)
        return out

    return uow(work)


@router.put("/{code}", status_code=202)
def edit_rule(body: RuleEditIn, actor: Actor, request: Request, code: str = RuleCode) -> dict[str, Any]:
    """Propose a new version of the rule (the earlier versions stay), applied once approved."""
    changes = body.model_dump(exclude_none=True, exclude={"reason"})
    return uow(lambda s: proposed(s, actor, request, kind="risk.rule.edit", target=code, payload=changes,
                                  reason=body.reason))


@router.post("/{code}/mode", status_code=202)
def set_mode(body: ModeIn, actor: Actor, request: Request, code: str = RuleCode) -> dict[str, Any]:
    """Propose activating, shadowing or retiring the rule, applied once approved."""
    return uow(lambda s: proposed(s, actor, request, kind="risk.rule.mode", target=code,
                                  payload={"mode": body.mode}, reason=body.reason))
