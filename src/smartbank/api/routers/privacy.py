"""Privacy (PIPL): the customer's consents, a copy of their data, correction and deletion requests; staff read a
customer's consents, tellers record consent signed at a branch and resolve correction requests."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field

from smartbank.api.deps import Actor, PathId, uow
from smartbank.api.schemas import In
from smartbank.customers import service as customers
from smartbank.errors import ValidationFailed
from smartbank.privacy import service as privacy
from smartbank.security.service import Principal

router = APIRouter(tags=["privacy"])


class ConsentIn(In):
    purpose: str = Field(max_length=40)
    granted: bool
    given_via: Literal["web", "app", "api"] = "api"
    notice_version: str | None = Field(None, max_length=32)


class BranchConsentIn(In):
    purpose: str = Field(max_length=40)
    granted: bool
    notice_version: str | None = Field(None, max_length=32)


class CorrectionIn(In):
    field: str = Field(max_length=32)
    value: str = Field(max_length=300)
    note: str | None = Field(None, max_length=500)


class ResolveIn(In):
    accept: bool
    note: str | None = Field(None, max_length=500)


class DeletionIn(In):
    confirm: Literal[True] = Field(description="the customer confirms the deletion request")


def _own(actor: Principal) -> int:
    if actor.customer_id is None:
        raise ValidationFailed("which customer?")
    return actor.customer_id


@router.get("/privacy/consents")
def my_consents(actor: Actor) -> dict[str, Any]:
    """Every purpose's state now (a default until the customer says otherwise) and the notice version."""
    return uow(lambda s: {"notice_version": customers.PRIVACY_NOTICE_VERSION,
                          "items": customers.list_consents(s, actor, _own(actor))})


@router.get("/privacy/consents/history")
def my_consent_history(actor: Actor) -> dict[str, Any]:
    return uow(lambda s: {"items": customers.consent_history(s, actor, _own(actor))})


@router.put("/privacy/consents")
def set_my_consent(body: ConsentIn, actor: Actor) -> dict[str, Any]:
    """Grant or withdraw one purpose (``marketing_sms``, ``marketing_email``, ``marketing_push``,
    ``marketing_phone``, ``personalised_recommendation``, ``partner_sharing``, ``analytics``); takes effect at
    once."""
    return uow(lambda s: customers.set_consent(s, actor, _own(actor), purpose=body.purpose, granted=body.granted,
                                               given_via=body.given_via, notice_version=body.notice_version))


@router.get("/customers/{customer_id}/consents")
def customer_consents(customer_id: PathId, actor: Actor) -> dict[str, Any]:
    """A customer's consents and their history (staff: read-only, audited)."""
    return uow(lambda s: {"items": customers.list_consents(s, actor, customer_id),
                          "history": customers.consent_history(s, actor, customer_id)})


@router.post("/customers/{customer_id}/consents", status_code=201)
def record_branch_consent(customer_id: PathId, body: BranchConsentIn, actor: Actor) -> dict[str, Any]:
    """A teller records the consent form the customer signed at the counter (channel ``branch``)."""
    return uow(lambda s: customers.set_consent(s, actor, customer_id, purpose=body.purpose, granted=body.granted,
                                               given_via="branch", notice_version=body.notice_version))


@router.get("/privacy/export", response_class=Response)
def export(actor: Actor, format: Literal["json", "csv"] = Query("json")) -> Response:
    """A copy of the customer's data: JSON, or (``csv``) a zip with one CSV file per kind."""
    body, name, media = uow(lambda s: privacy.export_own(s, actor, fmt=format))
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/privacy/requests")
def my_requests(actor: Actor) -> dict[str, Any]:
    return uow(lambda s: {"items": privacy.list_requests(s, actor)})


@router.post("/privacy/corrections", status_code=201)
def request_correction(body: CorrectionIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: privacy.request_correction(s, actor, field=body.field, value=body.value, note=body.note))


@router.get("/privacy/correction-queue")
def correction_queue(actor: Actor, status: Literal["open", "accepted", "rejected"] = "open") -> dict[str, Any]:
    return uow(lambda s: {"items": privacy.correction_queue(s, actor, status=status)})


@router.post("/privacy/corrections/{request_id}/resolve")
def resolve_correction(request_id: PathId, body: ResolveIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: privacy.resolve_correction(s, actor, request_id, accept=body.accept, note=body.note))


@router.get("/privacy/deletion")
def deletion_check(actor: Actor) -> dict[str, Any]:
    """Whether a deletion request would be accepted now, why not, and what would be erased and kept until when."""
    return uow(lambda s: privacy.deletion_check(s, actor))


@router.post("/privacy/deletion")
def request_deletion(body: DeletionIn, actor: Actor) -> dict[str, Any]:
    """Delete what the retention rules allow (409 ``deletion_refused`` with the reasons while anything is open)."""
    return uow(lambda s: privacy.request_deletion(s, actor, confirm=body.confirm))
