"""Ingesting mentions from feeds: JSON lines and CSV files, and the signed HTTP webhook.

A row has ``id`` (the feed's own id), ``text``, ``posted_at`` (ISO 8601; without an offset, the bank's time) and
optionally ``author`` and ``url``. A batch is all or nothing: when any row is bad, the error lists every bad row
with its line number and nothing is written. A row already stored (same source and id), or repeated in the
batch, is skipped and counted as a duplicate.

The webhook (``POST /api/v1/opinion/webhook``) carries ``{"source": ..., "mentions": [rows]}``; its header
``X-Opinion-Signature: sha256=<hex>`` is the HMAC-SHA256 of the raw body under the ``opinion_webhook_secret``
setting. A missing or wrong signature (or no secret configured) is refused before anything is read.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import NotAuthenticated, ValidationFailed
from smartbank.opinion.models import Mention
from smartbank.opinion.understand import Vocabulary, analyse
from smartbank.security.service import SYSTEM, Principal, audit

__all__ = ["MAX_ROWS", "SIGNATURE_HEADER", "ingest_file", "ingest_rows", "ingest_webhook", "parse_text", "sign",
           "verify_signature"]

MAX_ROWS = 50_000
MAX_TEXT = 5_000
SIGNATURE_HEADER = "X-Opinion-Signature"
_SOURCE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


def _bad_source(source: str) -> ValidationFailed:
    return ValidationFailed("a source is 1-40 letters, digits, '.', '_' or '-'", reason="opinion.bad_source",
                            details={"source": source[:60]})


def _row(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """(clean row, None) or (None, what is wrong)."""
    if not isinstance(raw, dict):
        return None, "not an object"
    ext = raw.get("id", raw.get("external_id"))
    text = raw.get("text")
    posted = raw.get("posted_at")
    if ext is None or str(ext).strip() == "":
        return None, "no id"
    if not isinstance(text, str) or not text.strip():
        return None, "no text"
    if len(text) > MAX_TEXT:
        return None, f"text longer than {MAX_TEXT} characters"
    if not isinstance(posted, str) or not posted.strip():
        return None, "no posted_at"
    try:
        at = datetime.fromisoformat(posted.strip().replace("Z", "+00:00"))
    except ValueError:
        return None, f"posted_at is not an ISO 8601 time: {posted[:40]!r}"
    if at.tzinfo is None:
        at = at.replace(tzinfo=clock.BANK_TZ)
    author, url = raw.get("author"), raw.get("url")
    return {"external_id": str(ext).strip()[:120], "text": text.strip(), "posted_at": at,
            "author": str(author)[:120] if author else None, "url": str(url)[:500] if url else None}, None


def parse_text(data: str, fmt: str) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """(rows with their line numbers, errors ``{"line", "error"}``) of a JSON-lines (``jsonl``) or CSV text."""
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    if fmt == "jsonl":
        for n, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append({"line": n, "error": f"not JSON: {exc.msg}"})
                continue
            row, err = _row(raw)
            if err:
                errors.append({"line": n, "error": err})
            else:
                rows.append((n, row))  # type: ignore[arg-type]
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(data))
        if not reader.fieldnames or not {"id", "text", "posted_at"} <= set(reader.fieldnames):
            errors.append({"line": 1, "error": "the header needs id, text and posted_at"})
            return rows, errors
        for raw in reader:
            n = reader.line_num
            if None in raw:
                errors.append({"line": n, "error": "more fields than the header"})
                continue
            row, err = _row(raw)
            if err:
                errors.append({"line": n, "error": err})
            else:
                rows.append((n, row))  # type: ignore[arg-type]
    else:
        raise ValidationFailed("the format is jsonl or csv", reason="opinion.bad_format", details={"format": fmt})
    if len(rows) + len(errors) > MAX_ROWS:
        raise ValidationFailed("too many rows in one batch", reason="opinion.too_many_rows",
                               details={"max_rows": MAX_ROWS})
    return rows, errors


def ingest_rows(session: Session, actor: Principal, source: str, rows: list[tuple[int, dict[str, Any]]],
                errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Store the rows of one batch (all or nothing), each with what was understood of it."""
    actor.require("opinion.ingest")
    if not _SOURCE.match(source or ""):
        raise _bad_source(source or "")
    if errors:
        raise ValidationFailed("some rows are not right: nothing was stored", reason="opinion.bad_rows",
                               details={"lines": ", ".join(str(e["line"]) for e in errors[:20]),
                                        "count": len(errors), "errors": errors[:200]})
    seen: set[str] = set()
    fresh: list[dict[str, Any]] = []
    for _, r in rows:
        if r["external_id"] not in seen:
            seen.add(r["external_id"])
            fresh.append(r)
    existing: set[str] = set()
    ids = [r["external_id"] for r in fresh]
    for i in range(0, len(ids), 500):
        existing |= set(session.scalars(select(Mention.external_id).where(
            Mention.source == source, Mention.external_id.in_(ids[i:i + 500]))))
    vocab = Vocabulary(session)
    inserted = 0
    negative = 0
    for r in fresh:
        if r["external_id"] in existing:
            continue
        a = analyse(r["text"], vocab)
        session.add(Mention(source=source, external_id=r["external_id"], posted_at=r["posted_at"], text=r["text"],
                            author=r["author"], url=r["url"], language=a["language"], terms=a["terms"],
                            products=a["products"], relevant=a["relevant"], sentiment=a["sentiment"],
                            sentiment_label=a["sentiment_label"], model_version=a["model_version"],
                            topics=a["topics"]))
        inserted += 1
        negative += a["sentiment_label"] == "negative"
    session.flush()
    res = {"source": source, "read": len(rows), "inserted": inserted, "duplicates": len(rows) - inserted,
           "negative": negative}
    audit(session, actor, action="opinion.ingest", object_type="opinion_source", object_id=source, after=res)
    return res


def ingest_file(session: Session, actor: Principal, path: Path | str, *, source: str,
                fmt: str | None = None) -> dict[str, Any]:
    """Ingest a JSON-lines (``.jsonl``/``.json``) or CSV file (format from the suffix unless given)."""
    p = Path(path)
    fmt = fmt or ("csv" if p.suffix.lower() == ".csv" else "jsonl")
    try:
        data = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed("the file cannot be read", reason="opinion.unreadable_file",
                               details={"file": p.name, "error": str(exc)[:200]}) from None
    rows, errors = parse_text(data, fmt)
    return ingest_rows(session, actor, source, rows, errors) | {"file": p.name, "format": fmt}


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str | None, secret: str | None) -> None:
    """Refuse (401) a body whose signature is missing or wrong, or any body when no secret is configured."""
    if not secret:
        raise NotAuthenticated("the opinion webhook is not configured", reason="opinion.webhook_disabled")
    if not signature or not hmac.compare_digest(sign(body, secret), signature.strip()):
        raise NotAuthenticated("bad webhook signature", reason="opinion.bad_signature")


def ingest_webhook(session: Session, body: bytes, signature: str | None, secret: str | None) -> dict[str, Any]:
    """The webhook: check the signature over the raw body, then ingest its mentions as the system."""
    verify_signature(body, signature, secret)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationFailed("the body is not JSON", reason="opinion.bad_json") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("mentions"), list):
        raise ValidationFailed("the body is {source, mentions: [...]}", reason="opinion.bad_payload")
    source = str(payload.get("source") or "")
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    for n, raw in enumerate(payload["mentions"], start=1):
        row, err = _row(raw)
        if err:
            errors.append({"line": n, "error": err})
        else:
            rows.append((n, row))  # type: ignore[arg-type]
    if len(rows) + len(errors) > MAX_ROWS:
        raise ValidationFailed("too many rows in one batch", reason="opinion.too_many_rows",
                               details={"max_rows": MAX_ROWS})
    return ingest_rows(session, SYSTEM, source, rows, errors)
