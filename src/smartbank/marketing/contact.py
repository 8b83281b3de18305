"""Sending one marketing message to one customer on one channel, under the contact policy.

:func:`send` is the only way a campaign or a journey reaches a customer. It asks the policy at send time
(consent for the purpose on that channel, ...), records the attempt in ``mkt_messages`` whether or not it was
sent (a refused one with its ``suppressed_reason``: the marketer can see why a customer was not contacted),
and hands the message to the channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.errors import ValidationFailed
from smartbank.marketing.models import CHANNELS, MarketingMessage
from smartbank.notifications import service as notifications

__all__ = ["Outgoing", "send"]

# the consent registry's channel for each marketing channel (in-app messages and banners are "push")
_CONSENT_CHANNEL = {"inapp": "push", "banner": "push", "sms": "sms", "email": "email"}


@dataclass(frozen=True)
class Outgoing:
    """One message to send: its content per language ({"zh": {"title", "body"}, "en": {...}}, already
    personalised) and where it comes from."""

    customer_id: int
    channel: str
    content: dict[str, dict[str, str]]
    campaign_id: int | None = None
    journey_id: int | None = None
    arm: str | None = None
    purpose: str = "marketing"
    lang: str = "zh"
    extra: dict[str, Any] = field(default_factory=dict)


def send(session: Session, out: Outgoing) -> MarketingMessage:
    """Send ``out`` if the contact policy allows it now; record the attempt either way and return its row
    (``status`` "suppressed" with ``suppressed_reason`` when it was not sent)."""
    if out.channel not in CHANNELS:
        raise ValidationFailed("unknown channel", reason="marketing.unknown_channel",
                               details={"channel": out.channel, "channels": list(CHANNELS)})
    text = out.content.get(out.lang) or out.content.get("zh") or next(iter(out.content.values()), {})
    msg = MarketingMessage(customer_id=out.customer_id, campaign_id=out.campaign_id, journey_id=out.journey_id,
                           arm=out.arm, channel=out.channel, purpose=out.purpose, lang=out.lang,
                           title=(text.get("title") or "")[:200], body=text.get("body") or "",
                           created_at=clock.now(), status="queued")
    if out.purpose == "marketing" and not customers.has_consent(session, out.customer_id, "marketing",
                                                                _CONSENT_CHANNEL[out.channel]):
        msg.status, msg.suppressed_reason = "suppressed", "no_consent"
        session.add(msg)
        session.flush()
        return msg
    if out.channel == "inapp":
        zh, en = out.content.get("zh", text), out.content.get("en", text)
        notifications.notify(session, customer_id=out.customer_id, kind="marketing",
                             title_zh=zh.get("title", ""), title_en=en.get("title", ""),
                             body_zh=zh.get("body", ""), body_en=en.get("body", ""),
                             ref=f"campaign:{out.campaign_id}" if out.campaign_id else None)
    msg.status, msg.sent_at = "sent", clock.now()
    session.add(msg)
    session.flush()
    return msg
