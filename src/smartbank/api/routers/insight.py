"""Customer insight: 360 profiles, tag definitions (versioned rules), segments.

Authorisation is in ``insight.service``: marketers (and admins) manage tags and read every profile;
service agents and risk officers read profiles; a customer reads only ``/insight/me``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from smartbank.api.deps import Actor, PathId, uow
from smartbank.api.schemas import In
from smartbank.insight import service as insight

router = APIRouter(prefix="/insight", tags=["insight"])
TagCode = Path(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")


class TagIn(In):
    code: str = Field(min_length=1, max_length=40)
    name_en: str = Field(min_length=1, max_length=100)
    name_zh: str = Field(min_length=1, max_length=100)
    expression: str = Field(min_length=1, max_length=1000, description="a rule over profile features")
    audience: Literal["staff", "customer"] = "staff"
    description: str = Field("", max_length=2000)


class TagEditIn(In):
    name_en: str | None = Field(None, min_length=1, max_length=100)
    name_zh: str | None = Field(None, min_length=1, max_length=100)
    expression: str | None = Field(None, min_length=1, max_length=1000)
    audience: Literal["staff", "customer"] | None = None
    description: str | None = Field(None, max_length=2000)


class TagTestIn(In):
    expression: str = Field(min_length=1, max_length=1000)
    audience: Literal["staff", "customer"] = "staff"
    sample: int = Field(10, ge=0, le=50, strict=True)


@router.get("/customers/{customer_id}")
def customer_profile(customer_id: PathId, actor: Actor, timeline: int = Query(20, ge=0, le=200)) -> dict[str, Any]:
    """The customer 360: profile features, tags, segment, value, churn and recent activity."""
    return uow(lambda s: insight.profile_360(s, actor, customer_id, timeline=timeline))


@router.get("/me")
def my_insights(actor: Actor) -> dict[str, Any]:
    """The signed-in customer's own insights (customer-audience features and tags only)."""
    return uow(lambda s: insight.my_insights(s, actor))


@router.get("/features")
def feature_catalogue(actor: Actor) -> list[dict[str, Any]]:
    """The features a tag rule may use (a customer sees the customer-audience ones)."""
    return insight.feature_catalogue(actor)


@router.get("/tags")
def list_tags(actor: Actor, include_retired: bool = False) -> list[dict[str, Any]]:
    return uow(lambda s: insight.list_tags(s, actor, include_retired=include_retired))


@router.post("/tags", status_code=201)
def create_tag(body: TagIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: insight.create_tag(s, actor, **body.model_dump()))


@router.post("/tags/test")
def test_tag(body: TagTestIn, actor: Actor) -> dict[str, Any]:
    """Evaluate a draft rule against the current profiles; nothing is saved."""
    return uow(lambda s: insight.preview_tag(s, actor, expression=body.expression, audience=body.audience,
                                             sample=body.sample))


@router.get("/tags/{code}")
def tag_versions(actor: Actor, code: str = TagCode) -> list[dict[str, Any]]:
    return uow(lambda s: insight.tag_history(s, actor, code))


@router.put("/tags/{code}")
def edit_tag(body: TagEditIn, actor: Actor, code: str = TagCode) -> dict[str, Any]:
    """A new version of the tag (the earlier versions stay)."""
    changes = body.model_dump(exclude_none=True)
    return uow(lambda s: insight.edit_tag(s, actor, code, **changes))


@router.post("/tags/{code}/retire")
def retire_tag(actor: Actor, code: str = TagCode) -> dict[str, Any]:
    return uow(lambda s: insight.retire_tag(s, actor, code))


@router.get("/segments")
def segments(actor: Actor) -> list[dict[str, Any]]:
    return uow(lambda s: insight.list_segments(s, actor))
