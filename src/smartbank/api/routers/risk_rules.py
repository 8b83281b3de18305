"""Risk rules as data: create, edit (new version), test against history, shadow mode, statistics.

Authorisation is in ``risk.rules``: risk officers (and admins) only; every change is audited. A rule is
created in shadow mode unless ``mode`` says ``active``; editing writes version + 1; ``/mode`` switches
between active, shadow and retired (also a new version).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Path
from pydantic import Field

from smartbank.api.deps import Actor, uow
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


class RuleEditIn(In):
    name_en: str | None = Field(None, min_length=1, max_length=120)
    name_zh: str | None = Field(None, min_length=1, max_length=120)
    expression: str | None = Field(None, min_length=1, max_length=1000)
    action: Action | None = None
    reason_en: str | None = Field(None, min_length=1, max_length=300)
    reason_zh: str | None = Field(None, min_length=1, max_length=300)


class ModeIn(In):
    mode: Literal["active", "shadow", "retired"]


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


@router.post("", status_code=201)
def create_rule(body: RuleIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: risk.create_rule(s, actor=actor, **body.model_dump()))


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


@router.put("/{code}")
def edit_rule(body: RuleEditIn, actor: Actor, code: str = RuleCode) -> dict[str, Any]:
    """A new version of the rule (the earlier versions stay)."""
    changes = body.model_dump(exclude_none=True)
    return uow(lambda s: risk.edit_rule(s, actor=actor, code=code, **changes))


@router.post("/{code}/mode")
def set_mode(body: ModeIn, actor: Actor, code: str = RuleCode) -> dict[str, Any]:
    return uow(lambda s: risk.set_rule_mode(s, actor=actor, code=code, mode=body.mode))
