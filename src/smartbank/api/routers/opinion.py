"""API: public-opinion monitoring (舆情) - mentions, the volume series, alerts and their workflow, topics, the
watch list, ingest and the signed webhook.

Marketers and risk officers read and respond; marketers (and administrators) ingest. The webhook is public: the
service checks its HMAC-SHA256 signature (a bad one is 401 and writes nothing). Each request is one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from smartbank.api.deps import Actor, PathId, uow
from smartbank.api.schemas import In
from smartbank.config import get_settings
from smartbank.errors import ValidationFailed
from smartbank.opinion import service as opinion

router = APIRouter(prefix="/opinion", tags=["opinion"])

Label = Literal["negative", "neutral", "positive"]
Severity = Literal["low", "medium", "high"]
Status = Literal["new", "acknowledged", "assigned", "responded", "closed"]
Note = Field(None, max_length=2000)


class IngestIn(In):
    source: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    format: Literal["jsonl", "csv"]
    content: str = Field(min_length=1, max_length=20_000_000)


class NoteIn(In):
    note: str | None = Note


class AssignIn(In):
    assignee: str = Field(min_length=1, max_length=64)
    note: str | None = Note


class DetectIn(In):
    start: datetime
    end: datetime


class TopicIn(In):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$")
    name_zh: str | None = Field(None, min_length=1, max_length=80)
    name_en: str | None = Field(None, min_length=1, max_length=80)
    keywords_zh: list[str] | None = Field(None, max_length=100)
    keywords_en: list[str] | None = Field(None, max_length=100)
    active: bool | None = Field(None, strict=True)


class TermIn(In):
    term: str = Field(min_length=2, max_length=160)
    kind: Literal["bank", "product"] = "bank"


@router.post("/webhook")
async def webhook(request: Request) -> dict[str, Any]:
    """Mentions pushed by a feed: ``{"source": ..., "mentions": [{id, text, posted_at, author?, url?}]}``, signed
    in the ``X-Opinion-Signature`` header (``sha256=`` + hex HMAC-SHA256 of the raw body)."""
    body = await request.body()
    sig = request.headers.get(opinion.SIGNATURE_HEADER)
    secret = get_settings().opinion_webhook_secret
    return await run_in_threadpool(uow, lambda s: opinion.ingest_webhook(s, body, sig, secret))


@router.post("/ingest", status_code=201)
def ingest(body: IngestIn, actor: Actor) -> dict[str, Any]:
    """A batch in JSON lines or CSV (all or nothing; duplicates skipped)."""
    def work(s):
        rows, errors = opinion.parse_text(body.content, body.format)
        return opinion.ingest_rows(s, actor, body.source, rows, errors)
    return uow(work)


@router.get("/mentions")
def mentions(actor: Actor, source: str | None = Query(None, max_length=40), label: Label | None = None,
             topic: str | None = Query(None, max_length=40), relevant: bool | None = None,
             since: datetime | None = None, until: datetime | None = None, q: str | None = Query(None, max_length=100),
             limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    return uow(lambda s: opinion.list_mentions(s, actor, source=source, label=label, topic=topic, relevant=relevant,
                                               since=since, until=until, q=q, limit=limit))


@router.get("/series")
def series(actor: Actor, hours: int = Query(168, ge=1, le=744)) -> dict[str, Any]:
    """Hourly counts with each hour's seasonal baseline and threshold, and the alerts raised."""
    return uow(lambda s: opinion.volume_series(s, actor, hours=hours))


@router.get("/summary")
def summary(actor: Actor) -> dict[str, Any]:
    return uow(lambda s: opinion.summary(s, actor))


@router.post("/detect")
def detect(body: DetectIn, actor: Actor) -> list[dict[str, Any]]:
    """Test every complete hour of ``[start, end)`` (at most 31 days) for spikes."""
    if body.start.tzinfo is None or body.end.tzinfo is None:
        raise ValidationFailed("give times with an offset", reason="opinion.naive_time")
    if not 0 < (body.end - body.start).total_seconds() <= 31 * 86400:
        raise ValidationFailed("the range is 1 hour to 31 days", reason="opinion.bad_range", details={"max_days": 31})
    return uow(lambda s: opinion.detect_range(s, actor, body.start, body.end))


@router.get("/alerts")
def alerts(actor: Actor, status: Status | None = None, severity: Severity | None = None, open_only: bool = False,
           limit: int = Query(200, ge=1, le=1000)) -> list[dict[str, Any]]:
    return uow(lambda s: opinion.list_alerts(s, actor, status=status, severity=severity, open_only=open_only,
                                             limit=limit))


@router.get("/alerts/{alert_id}")
def alert(alert_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: opinion.get_alert(s, actor, alert_id))


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: PathId, body: NoteIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: opinion.acknowledge(s, actor, alert_id, note=body.note))


@router.post("/alerts/{alert_id}/assign")
def assign(alert_id: PathId, body: AssignIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: opinion.assign(s, actor, alert_id, body.assignee, note=body.note))


@router.post("/alerts/{alert_id}/respond")
def respond(alert_id: PathId, body: NoteIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: opinion.respond(s, actor, alert_id, note=body.note))


@router.post("/alerts/{alert_id}/close")
def close(alert_id: PathId, body: NoteIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: opinion.close(s, actor, alert_id, note=body.note))


@router.post("/alerts/{alert_id}/escalate")
def escalate(alert_id: PathId, body: NoteIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: opinion.escalate(s, actor, alert_id, note=body.note))


@router.get("/topics")
def topics(actor: Actor) -> list[dict[str, Any]]:
    return uow(lambda s: opinion.list_topics(s, actor))


@router.post("/topics")
def save_topic(body: TopicIn, actor: Actor) -> dict[str, Any]:
    """Create a topic (by its ``code``) or change its names, keywords or ``active``."""
    fields = body.model_dump(exclude_unset=True)
    code = fields.pop("code")
    return uow(lambda s: opinion.save_topic(s, actor, code, **fields))


@router.get("/watch-terms")
def watch_terms(actor: Actor) -> list[dict[str, Any]]:
    return uow(lambda s: opinion.list_watch_terms(s, actor))


@router.post("/watch-terms", status_code=201)
def add_watch_term(body: TermIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: opinion.add_watch_term(s, actor, body.term, kind=body.kind))
