"""Customer notifications: written by any domain in the caller's transaction, read in the portal and API.

Each message is stored in Chinese and English; the reader's language chooses which is shown.

The front door of the notifications domain (:data:`__all__`), which also re-exports the SMS gateway
(:mod:`.sms`) that one-time codes go through.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import NotFound
from smartbank.notifications.models import Notification
from smartbank.notifications.sms import (
    FileSmsSink,
    MemorySmsSink,
    SmsGateway,
    SmsMessage,
    gateway,
    mask_phone,
    set_gateway,
    use,
)
from smartbank.security.service import Principal

__all__ = ["Notification", "as_dict", "list_for", "mark_read", "notify", "unread_count",
           # the SMS gateway
           "FileSmsSink", "MemorySmsSink", "SmsGateway", "SmsMessage", "gateway", "mask_phone", "set_gateway", "use",
           # a deleted customer's messages (privacy)
           "erase_for"]


def notify(
    session: Session,
    *,
    customer_id: int,
    kind: str,
    title_en: str,
    title_zh: str,
    body_en: str,
    body_zh: str,
    ref: str | None = None,
) -> Notification:
    n = Notification(
        customer_id=customer_id,
        kind=kind,
        title_en=title_en[:200],
        title_zh=title_zh[:200],
        body_en=body_en,
        body_zh=body_zh,
        ref=ref,
        created_at=clock.now(),
    )
    session.add(n)
    session.flush()
    return n


def _customer_of(actor: Principal, customer_id: int | None) -> int:
    cid = customer_id if customer_id is not None else actor.customer_id
    if cid is None or (not actor.is_staff and cid != actor.customer_id):
        raise NotFound("customer not found", details={"customer_id": customer_id})
    return cid


def list_for(
    session: Session, actor: Principal, customer_id: int | None = None, *, limit: int = 50, kind: str | None = None
) -> list[Notification]:
    cid = _customer_of(actor, customer_id)
    stmt = select(Notification).where(Notification.customer_id == cid)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return list(session.scalars(stmt.order_by(Notification.id.desc()).limit(max(1, min(limit, 200)))))


def unread_count(session: Session, actor: Principal) -> int:
    if actor.customer_id is None:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.customer_id == actor.customer_id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, actor: Principal, notification_id: int | None = None) -> int:
    """Mark one (or, with no id, every) notification of the signed-in customer as read; returns how many
    changed. Another customer's (or no such) notification is "not found"; one already read counts 0."""
    cid = _customer_of(actor, None)
    stmt = update(Notification).where(Notification.customer_id == cid, Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    res = session.execute(stmt.values(read_at=clock.now()))
    marked = int(getattr(res, "rowcount", 0) or 0)
    if notification_id is not None and marked == 0 and session.scalar(
            select(Notification.id).where(Notification.id == notification_id, Notification.customer_id == cid)) is None:
        raise NotFound("notification not found", details={"notification_id": notification_id})
    return marked


def as_dict(n: Notification, lang: str = "en") -> dict[str, Any]:
    zh = lang.startswith("zh")
    return {
        "id": n.id,
        "kind": n.kind,
        "title": n.title_zh if zh else n.title_en,
        "body": n.body_zh if zh else n.body_en,
        "ref": n.ref,
        "created_at": n.created_at.isoformat() if n.created_at else None,
        "read": n.read_at is not None,
    }


def erase_for(session: Session, customer_id: int) -> int:
    """Delete the customer's in-app messages (a deletion request: they are no record the bank must keep);
    returns how many."""
    n = getattr(session.execute(delete(Notification).where(Notification.customer_id == customer_id)), "rowcount", 0)
    session.flush()
    return int(n or 0)
