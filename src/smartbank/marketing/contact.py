"""Sending one marketing message to one customer on one channel, under the contact policy.

:func:`send` is the only way a campaign or a journey reaches a customer. It asks the policy at send time and
records the attempt in ``mkt_messages`` whether or not it was sent: a refused one has status ``suppressed``, a
stable ``suppressed_reason`` and its ``reason_details``, so the marketer can see why a customer was not
contacted. The checks, in order (the first that refuses decides):

1. the customer's relationship: closed (``customer_closed``) or anonymised (``customer_anonymised``);
2. the suppression providers other domains register (:func:`register_suppression`): an open fraud case
   (``fraud_case``, from risk), a complaint still open (``complaint_open``, registered by its domain)...;
3. the do-not-disturb list, on that channel or on all (``do_not_disturb``);
4. consent to the purpose on that channel (``no_consent``; only for purpose ``marketing``);
5. the frequency caps: messages sent to the customer in the period on this channel, and on all channels
   together (``frequency_cap``). On PostgreSQL the customer's sends are serialised by a transaction-scoped
   advisory lock taken before counting, so two campaigns at once never exceed a cap;
6. quiet hours of the channel (local time): the message is not refused but deferred - status ``queued``,
   ``suppressed_reason`` ``quiet_hours`` and ``reason_details.not_before`` - and the worker task
   ``contact_deferred`` sends it after the quiet hours, asking the whole policy again then. In-app messages and
   banners have no quiet hours by default: they are seen only when the customer opens the app or the portal.

A sent message costs its channel's ``cost_micro`` (1e-6 yuan).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import String, case, cast, func, literal, or_, select, text
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.errors import NotFound, ValidationFailed
from smartbank.marketing.channels import CHANNEL_SENDERS, click_url, read_click_token
from smartbank.marketing.contact_tables import ContactPolicy, DoNotDisturb
from smartbank.marketing.jobs import register_task
from smartbank.marketing.models import CHANNELS, MarketingMessage
from smartbank.notifications import service as notifications
from smartbank.risk import service as risk
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.text import clean_text

__all__ = [
    "CONTACT_REASONS", "DEFAULT_POLICY", "Outgoing", "POLICY_SCOPES", "SUPPRESSIONS", "active_banners",
    "add_do_not_disturb", "click_url", "contact_history", "contact_policy", "contact_report", "contact_summary",
    "dismiss_banner", "list_do_not_disturb", "record_click", "record_impression", "register_suppression",
    "record_inapp_opens", "remove_do_not_disturb", "send", "send_deferred", "set_contact_policy", "why_not_contacted",
]

# the consent registry's channel for each marketing channel (in-app messages and banners are "push")
_CONSENT_CHANNEL = {"inapp": "push", "banner": "push", "sms": "sms", "email": "email"}
POLICY_SCOPES = (*CHANNELS, "all")

# the defaults, when the policy table has no row for a channel. Caps: at most max_count sent in period_days.
DEFAULT_POLICY: dict[str, dict[str, Any]] = {
    "sms": {"max_count": 2, "period_days": 7, "quiet_start": "21:00", "quiet_end": "09:00", "cost_micro": 50_000},
    "email": {"max_count": 3, "period_days": 7, "quiet_start": "21:00", "quiet_end": "09:00", "cost_micro": 1_000},
    "inapp": {"max_count": 5, "period_days": 7, "quiet_start": None, "quiet_end": None, "cost_micro": 0},
    "banner": {"max_count": 3, "period_days": 7, "quiet_start": None, "quiet_end": None, "cost_micro": 0},
    "all": {"max_count": 6, "period_days": 7, "quiet_start": None, "quiet_end": None, "cost_micro": 0},
}
_TZ = "Asia/Shanghai"

# every reason an attempt may carry (the catalogue has words for each: marketing_contact.reason.<code>)
CONTACT_REASONS = ("customer_closed", "customer_anonymised", "fraud_case", "complaint_open", "do_not_disturb",
                   "no_consent", "frequency_cap", "quiet_hours")

_COUNTED = ("sent", "delivered")  # what counts against a cap: messages that reached the customer


@dataclass(frozen=True)
class Outgoing:
    """One message to send: its content per language ({"zh": {"title", "body"}, "en": {...}}, already
    personalised) and where it comes from. ``target``: the page of the bank a click leads to (a path)."""

    customer_id: int
    channel: str
    content: dict[str, dict[str, str]]
    campaign_id: int | None = None
    journey_id: int | None = None
    arm: str | None = None
    purpose: str = "marketing"
    lang: str = "zh"
    extra: dict[str, Any] = field(default_factory=dict)
    target: str | None = None


# ----------------------------------------------------------------------------------------------
# suppression providers: other domains say "do not market to this customer now"

SUPPRESSIONS: dict[str, Callable[[Session, int], bool]] = {}


def register_suppression(name: str, fn: Callable[[Session, int], bool]) -> None:
    """``fn(session, customer_id)`` true = suppress; the attempt's reason is ``name`` (give it words under
    ``marketing_contact.reason.<name>``). Providers are asked in the order they were registered."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,38}", name):
        raise ValueError(f"bad suppression name {name!r}")
    SUPPRESSIONS[name] = fn


def _fraud_case(session: Session, customer_id: int) -> bool:
    flags = risk.customer_flags(session, customer_id)
    return bool(flags.get("open") or flags.get("confirmed"))


register_suppression("fraud_case", _fraud_case)


# ----------------------------------------------------------------------------------------------
# the policy table

def _row_dict(scope: str, row: ContactPolicy | None) -> dict[str, Any]:
    d = dict(DEFAULT_POLICY[scope], timezone=_TZ, updated_by=None, updated_at=None)
    if row is not None:
        d.update(max_count=row.max_count, period_days=row.period_days, quiet_start=row.quiet_start,
                 quiet_end=row.quiet_end, cost_micro=row.cost_micro, timezone=row.timezone,
                 updated_by=row.updated_by, updated_at=row.updated_at)
    return {"channel": scope, **d}


def contact_policy(session: Session) -> dict[str, dict[str, Any]]:
    """The policy in force per channel and for all channels (the table's rows over the defaults)."""
    rows = {r.channel: r for r in session.scalars(select(ContactPolicy))}
    return {scope: _row_dict(scope, rows.get(scope)) for scope in POLICY_SCOPES}


_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def set_contact_policy(session: Session, actor: Principal, channel: str, **changes: Any) -> dict[str, Any]:
    """Change a channel's (or ``all``'s) cap, period, quiet hours or cost (``marketing.policy.manage``),
    audited with before and after. ``max_count`` None removes the cap; ``quiet_start``/``quiet_end`` both None
    removes the quiet hours."""
    actor.require("marketing.policy.manage")
    if channel not in POLICY_SCOPES:
        raise ValidationFailed("unknown channel", reason="marketing.unknown_channel",
                               details={"channel": channel, "channels": list(POLICY_SCOPES)})
    allowed = {"max_count", "period_days", "quiet_start", "quiet_end", "cost_micro"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed("unknown policy field", reason="marketing.policy_field",
                               details={"field": sorted(unknown)[0]})
    before = contact_policy(session)[channel]
    after = {k: before[k] for k in allowed} | changes
    mc, pd, cost = after["max_count"], after["period_days"], after["cost_micro"]
    if mc is not None and (not isinstance(mc, int) or isinstance(mc, bool) or not 0 <= mc <= 1000):
        raise ValidationFailed("bad cap", reason="marketing.policy_cap", details={"max_count": mc})
    if not isinstance(pd, int) or isinstance(pd, bool) or not 1 <= pd <= 365:
        raise ValidationFailed("bad period", reason="marketing.policy_period", details={"period_days": pd})
    if not isinstance(cost, int) or isinstance(cost, bool) or not 0 <= cost <= 100_000_000:
        raise ValidationFailed("bad cost", reason="marketing.policy_cost", details={"cost_micro": cost})
    qs, qe = after["quiet_start"] or None, after["quiet_end"] or None
    if (qs is None) != (qe is None) or any(q is not None and not (isinstance(q, str) and _HHMM.fullmatch(q))
                                           for q in (qs, qe)) or (qs is not None and qs == qe):
        raise ValidationFailed("bad quiet hours", reason="marketing.policy_quiet",
                               details={"quiet_start": str(qs), "quiet_end": str(qe)})
    row = session.get(ContactPolicy, channel)
    if row is None:
        row = ContactPolicy(channel=channel, timezone=_TZ)
        session.add(row)
    row.max_count, row.period_days, row.cost_micro = mc, pd, cost
    row.quiet_start, row.quiet_end = qs, qe
    row.updated_by, row.updated_at = actor.username, clock.now()
    session.flush()
    out = _row_dict(channel, row)
    security.audit(session, actor, action="marketing.policy.set", object_type="mkt_contact_policy",
                   object_id=channel, before={k: before[k] for k in allowed}, after={k: out[k] for k in allowed})
    return out


# ----------------------------------------------------------------------------------------------
# do-not-disturb

def _dnd_dict(d: DoNotDisturb) -> dict[str, Any]:
    return {"id": d.id, "customer_id": d.customer_id, "channel": d.channel, "reason": d.reason, "until": d.until,
            "active": d.active, "created_by": d.created_by, "created_at": d.created_at, "removed_by": d.removed_by,
            "removed_at": d.removed_at}


def add_do_not_disturb(session: Session, actor: Principal, customer_id: int, *, channel: str, reason: object,
                       until: datetime | None = None) -> dict[str, Any]:
    """Put a customer on do-not-disturb on ``channel`` (or ``all``) until ``until`` (None: until removed);
    ``marketing.suppress`` (tellers, agents, marketers), audited."""
    actor.require("marketing.suppress")
    if channel not in POLICY_SCOPES:
        raise ValidationFailed("unknown channel", reason="marketing.unknown_channel",
                               details={"channel": channel, "channels": list(POLICY_SCOPES)})
    why = clean_text(reason, "reason", 300, empty="a reason is required")
    if until is not None and until <= clock.now():
        raise ValidationFailed("the end is in the past", reason="marketing.dnd_until_past",
                               details={"until": until.isoformat()})
    customers.get_customer(session, customer_id)
    d = DoNotDisturb(customer_id=customer_id, channel=channel, reason=why, until=until, active=True,
                     created_by=actor.username, created_at=clock.now())
    session.add(d)
    session.flush()
    security.audit(session, actor, action="marketing.dnd.add", object_type="customer", object_id=customer_id,
                   after={"dnd_id": d.id, "channel": channel, "until": until.isoformat() if until else None})
    return _dnd_dict(d)


def remove_do_not_disturb(session: Session, actor: Principal, dnd_id: int) -> dict[str, Any]:
    actor.require("marketing.suppress")
    d = session.get(DoNotDisturb, dnd_id)
    if d is None or not d.active:
        raise NotFound("no such do-not-disturb entry", reason="marketing.dnd_not_found", details={"dnd_id": dnd_id})
    d.active, d.removed_by, d.removed_at = False, actor.username, clock.now()
    session.flush()
    security.audit(session, actor, action="marketing.dnd.remove", object_type="customer", object_id=d.customer_id,
                   before={"dnd_id": d.id, "channel": d.channel})
    return _dnd_dict(d)


def list_do_not_disturb(session: Session, actor: Principal, customer_id: int | None = None,
                        *, limit: int = 200) -> list[dict[str, Any]]:
    actor.require("marketing.contacts.read")
    q = select(DoNotDisturb).where(DoNotDisturb.active.is_(True)).order_by(DoNotDisturb.id.desc()).limit(limit)
    if customer_id is not None:
        q = q.where(DoNotDisturb.customer_id == customer_id)
    return [_dnd_dict(d) for d in session.scalars(q)]


# ----------------------------------------------------------------------------------------------
# the checks

def _lock_customer(session: Session, customer_id: int) -> None:
    """Serialise this customer's sends until the transaction ends (PostgreSQL: an advisory lock in the
    marketing-contact namespace; SQLite: the writer's lock already serialises transactions)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :k)"),
                        {"ns": 0x4D4B5443, "k": int(customer_id) % 2**31})


def _quiet_until(pol: dict[str, Any], now: datetime) -> datetime | None:
    """When the quiet hours in force at ``now`` end (an aware instant), or None when it is not quiet now."""
    qs, qe = pol.get("quiet_start"), pol.get("quiet_end")
    if not qs or not qe:
        return None
    try:
        tz = ZoneInfo(pol.get("timezone") or _TZ)
    except ZoneInfoNotFoundError:
        tz = ZoneInfo(_TZ)
    local = now.astimezone(tz)
    start, end = time.fromisoformat(qs), time.fromisoformat(qe)
    t = local.time()
    quiet = (start <= t or t < end) if start > end else (start <= t < end)
    if not quiet:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz)


def _sent_count(session: Session, customer_id: int, channel: str | None, since: datetime) -> int:
    q = select(func.count()).select_from(MarketingMessage).where(
        MarketingMessage.customer_id == customer_id, MarketingMessage.status.in_(_COUNTED),
        MarketingMessage.sent_at >= since)
    if channel is not None:
        q = q.where(MarketingMessage.channel == channel)
    return int(session.scalar(q) or 0)


def _check(session: Session, customer_id: int, channel: str, purpose: str) -> tuple[str, dict[str, Any]] | None:
    """The first rule that stops the message now: (reason, details); None when it may go."""
    c = customers.get_customer(session, customer_id)
    if c.status == "closed":
        anonymised = c.phone is None and c.email is None and c.address is None
        return ("customer_anonymised" if anonymised else "customer_closed"), {"status": c.status}
    if c.status not in ("active",):
        return "customer_closed", {"status": c.status}
    for name, fn in list(SUPPRESSIONS.items()):
        if fn(session, customer_id):
            return name, {"provider": name}
    now = clock.now()
    dnd = session.scalars(select(DoNotDisturb).where(
        DoNotDisturb.customer_id == customer_id, DoNotDisturb.active.is_(True),
        DoNotDisturb.channel.in_((channel, "all")),
        or_(DoNotDisturb.until.is_(None), DoNotDisturb.until > now)).order_by(DoNotDisturb.id).limit(1)).first()
    if dnd is not None:
        return "do_not_disturb", {"dnd_id": dnd.id, "channel": dnd.channel,
                                  "until": dnd.until.isoformat() if dnd.until else None}
    if purpose == "marketing" and not customers.has_consent(session, customer_id, "marketing",
                                                            _CONSENT_CHANNEL[channel]):
        return "no_consent", {"purpose": "marketing", "channel": _CONSENT_CHANNEL[channel]}
    pol = contact_policy(session)
    _lock_customer(session, customer_id)
    for scope in (channel, "all"):
        p = pol[scope]
        if p["max_count"] is None:
            continue
        since = now - timedelta(days=p["period_days"])
        n = _sent_count(session, customer_id, None if scope == "all" else channel, since)
        if n >= p["max_count"]:
            return "frequency_cap", {"scope": scope, "sent": n, "max_count": p["max_count"],
                                     "period_days": p["period_days"]}
    until = _quiet_until(pol[channel], now)
    if until is not None:
        return "quiet_hours", {"not_before": until.astimezone(UTC).isoformat(),
                               "quiet_start": pol[channel]["quiet_start"], "quiet_end": pol[channel]["quiet_end"]}
    return None


def _deliver(session: Session, msg: MarketingMessage, content: dict[str, dict[str, str]],
             extra: dict[str, Any]) -> None:
    # a message on its way keeps only its link's target in the details (a banner is drawn with it)
    msg.suppressed_reason = None
    msg.reason_details = {"target": extra["target"]} if extra.get("target") else None
    msg.sent_at = clock.now()
    CHANNEL_SENDERS[msg.channel](session, msg, content, extra)
    if msg.status in _COUNTED:
        msg.cost_micro = int(contact_policy(session)[msg.channel]["cost_micro"])
    else:
        msg.sent_at = None
    session.flush()


def _apply(session: Session, msg: MarketingMessage, content: dict[str, dict[str, str]],
           extra: dict[str, Any]) -> MarketingMessage:
    stop = _check(session, msg.customer_id, msg.channel, msg.purpose)
    if stop is None:
        _deliver(session, msg, content, extra)
        return msg
    reason, details = stop
    if reason == "quiet_hours":
        # kept, to send after the quiet hours; the content travels in the details
        msg.status, msg.suppressed_reason = "queued", reason
        msg.reason_details = {**details, "content": content, "extra": extra}
    else:
        msg.status, msg.suppressed_reason, msg.reason_details = "suppressed", reason, details
    session.flush()
    return msg


def send(session: Session, out: Outgoing) -> MarketingMessage:
    """Send ``out`` if the contact policy allows it now; record the attempt either way and return its row
    (``status`` "suppressed" with ``suppressed_reason`` when it was not sent, "queued" when it waits for the end
    of the quiet hours, "failed" with ``error`` when the channel could not deliver it)."""
    if out.channel not in CHANNELS:
        raise ValidationFailed("unknown channel", reason="marketing.unknown_channel",
                               details={"channel": out.channel, "channels": list(CHANNELS)})
    text_ = out.content.get(out.lang) or out.content.get("zh") or next(iter(out.content.values()), {})
    msg = MarketingMessage(customer_id=out.customer_id, campaign_id=out.campaign_id, journey_id=out.journey_id,
                           arm=out.arm, channel=out.channel, purpose=out.purpose, lang=out.lang,
                           title=(text_.get("title") or "")[:200], body=text_.get("body") or "",
                           created_at=clock.now(), status="queued", cost_micro=0)
    session.add(msg)
    session.flush()  # the id, for the channel's signed links
    extra = {k: v for k, v in out.extra.items() if isinstance(v, str | int | float | bool)}
    if out.target:
        extra["target"] = out.target
    return _apply(session, msg, out.content, extra)


def send_deferred(session: Session, *, limit: int = 500) -> dict[str, Any]:
    """The worker's task: the messages held by quiet hours whose time has come, each asked the whole policy
    again (it may now be capped, withdrawn, on do-not-disturb... or still quiet)."""
    now = clock.now()
    rows = session.scalars(select(MarketingMessage).where(
        MarketingMessage.status == "queued", MarketingMessage.suppressed_reason == "quiet_hours")
        .order_by(MarketingMessage.id).limit(limit)).all()
    out = {"due": 0, "sent": 0, "suppressed": 0, "failed": 0, "still_queued": 0}
    for msg in rows:
        det = dict(msg.reason_details or {})
        nb = det.get("not_before")
        if nb and datetime.fromisoformat(nb) > now:
            continue
        out["due"] += 1
        _apply(session, msg, det.get("content") or {}, det.get("extra") or {})
        key = {"sent": "sent", "delivered": "sent", "suppressed": "suppressed", "failed": "failed"}
        out[key.get(msg.status, "still_queued")] += 1
    return out


register_task("contact_deferred", send_deferred)


def record_inapp_opens(session: Session, *, limit: int = 5000) -> dict[str, Any]:
    """The worker's task: an in-app message is opened when the customer has read its notification (the
    notification carries ``mkt:<message id>``); its ``opened_at`` is the time it was read."""
    note = notifications.Notification
    ref = literal("mkt:", String) + cast(MarketingMessage.id, String)
    rows = session.execute(
        select(MarketingMessage, note.read_at).join(note, note.ref == ref)
        .where(MarketingMessage.channel == "inapp", MarketingMessage.opened_at.is_(None),
               MarketingMessage.status.in_(_COUNTED), note.read_at.is_not(None))
        .limit(limit)).all()
    for m, read_at in rows:
        m.opened_at = read_at
    session.flush()
    return {"opened": len(rows)}


register_task("contact_inapp_opens", record_inapp_opens)


# ----------------------------------------------------------------------------------------------
# the customer's side: banners, impressions, clicks

def _own_message(session: Session, actor: Principal, message_id: int) -> MarketingMessage:
    m = session.get(MarketingMessage, message_id)
    if m is None or actor.customer_id is None or m.customer_id != actor.customer_id:
        raise NotFound("no such message", reason="marketing.message_not_found", details={"message_id": message_id})
    return m


def active_banners(session: Session, actor: Principal, *, limit: int = 2) -> list[dict[str, Any]]:
    """The signed-in customer's banners still shown (not expired, not dismissed); showing them is an impression
    (``opened_at``, the first time)."""
    if actor.customer_id is None:
        return []
    now = clock.now()
    rows = session.scalars(select(MarketingMessage).where(
        MarketingMessage.customer_id == actor.customer_id, MarketingMessage.channel == "banner",
        MarketingMessage.status.in_(_COUNTED), MarketingMessage.dismissed_at.is_(None),
        MarketingMessage.expires_at > now).order_by(MarketingMessage.id.desc()).limit(limit)).all()
    for m in rows:
        if m.opened_at is None:
            m.opened_at = now
    session.flush()
    return [{"id": m.id, "title": m.title, "body": m.body, "lang": m.lang,
             "url": click_url(m.id, (m.reason_details or {}).get("target"))} for m in rows]


def record_impression(session: Session, actor: Principal, message_id: int) -> None:
    m = _own_message(session, actor, message_id)
    if m.opened_at is None:
        m.opened_at = clock.now()
        session.flush()


def dismiss_banner(session: Session, actor: Principal, message_id: int) -> None:
    m = _own_message(session, actor, message_id)
    if m.dismissed_at is None:
        m.dismissed_at = clock.now()
        session.flush()


def record_click(session: Session, token: str, target: str | None) -> str:
    """A click on a tracked link: the message's ``clicked_at`` (and ``opened_at``) the first time; answers the
    page to go to. A token that is not signed for this target is "not found" (ids cannot be guessed)."""
    mid = read_click_token(token, target)
    m = session.get(MarketingMessage, mid) if mid is not None else None
    if m is None:
        raise NotFound("no such link", reason="marketing.link_not_found")
    now = clock.now()
    m.clicked_at = m.clicked_at or now
    m.opened_at = m.opened_at or now
    session.flush()
    t = target or "/"
    return t if t.startswith("/") and not t.startswith("//") else "/"


# ----------------------------------------------------------------------------------------------
# why (not) contacted, and per campaign

def _attempt(m: MarketingMessage) -> dict[str, Any]:
    det = {k: v for k, v in (m.reason_details or {}).items() if k not in ("content", "extra")}
    return {"id": m.id, "campaign_id": m.campaign_id, "journey_id": m.journey_id, "channel": m.channel,
            "status": m.status, "reason": m.suppressed_reason, "details": det, "created_at": m.created_at,
            "sent_at": m.sent_at, "opened_at": m.opened_at, "clicked_at": m.clicked_at, "address": m.address,
            "error": m.error, "cost_micro": m.cost_micro, "title": m.title}


def contact_history(session: Session, customer_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
    """Every contact attempt of a customer, newest first (for other parts' own checks)."""
    rows = session.scalars(select(MarketingMessage).where(MarketingMessage.customer_id == customer_id)
                           .order_by(MarketingMessage.id.desc()).limit(limit))
    return [_attempt(m) for m in rows]


def why_not_contacted(session: Session, actor: Principal, customer_number: str, *,
                      limit: int = 100) -> dict[str, Any]:
    """A customer's contact attempts with the reason each was not sent, the do-not-disturb entries in force
    and what the policy would decide now per channel (``marketing.contacts.read``). The customer's name is
    shown as the masking policy shows it to the role; the read is audited."""
    actor.require("marketing.contacts.read")
    number = (customer_number or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9-]{1,20}", number):
        raise ValidationFailed("a customer number is required", reason="marketing.customer_number",
                               details={"customer_number": number[:20]})
    c = customers.customer_by_number(session, number)
    rec = customers.customer_record(c, role=actor.role, purpose="search")
    security.audit_reads(session, actor, action="marketing.contacts.read", customer_ids=[c.id],
                         shown={"masked": rec["masked"]})
    now_decision = {}
    for ch in CHANNELS:  # what the policy would decide now (asking it writes nothing)
        stop = _check(session, c.id, ch, "marketing")
        now_decision[ch] = {"reason": stop[0] if stop else None, "details": stop[1] if stop else {}}
    return {"customer": {"id": c.id, "number": c.number, "name": rec["name"], "status": c.status},
            "attempts": contact_history(session, c.id, limit=limit),
            "do_not_disturb": [_dnd_dict(d) for d in session.scalars(select(DoNotDisturb).where(
                DoNotDisturb.customer_id == c.id, DoNotDisturb.active.is_(True)).order_by(DoNotDisturb.id))],
            "now": now_decision}


def contact_summary(session: Session, campaign_id: int) -> dict[str, Any]:
    """A campaign's attempts: counts per status, per suppression reason, per channel; opens, clicks and cost."""
    base = select(MarketingMessage).where(MarketingMessage.campaign_id == campaign_id).subquery()
    by_status: dict[str, int] = dict(session.execute(select(base.c.status, func.count()).group_by(base.c.status)).all())
    by_reason: dict[str, int] = dict(session.execute(select(base.c.suppressed_reason, func.count())
                                     .where(base.c.suppressed_reason.is_not(None))
                                     .group_by(base.c.suppressed_reason)).all())
    by_channel = {ch: {"attempts": int(n), "sent": int(s or 0), "cost_micro": int(cost or 0)}
                  for ch, n, s, cost in session.execute(select(
                      base.c.channel, func.count(),
                      func.sum(case((base.c.status.in_(_COUNTED), 1), else_=0)),
                      func.sum(base.c.cost_micro)).group_by(base.c.channel)).all()}
    totals = session.execute(select(func.count(), func.count(base.c.opened_at), func.count(base.c.clicked_at),
                                    func.coalesce(func.sum(base.c.cost_micro), 0))).one()
    return {"campaign_id": campaign_id, "attempts": int(totals[0]), "opened": int(totals[1]),
            "clicked": int(totals[2]), "cost_micro": int(totals[3]),
            "by_status": {k: int(v) for k, v in by_status.items()},
            "by_reason": {k: int(v) for k, v in by_reason.items()}, "by_channel": by_channel}



def contact_report(session: Session, actor: Principal, campaign_id: int) -> dict[str, Any]:
    """:func:`contact_summary` for staff who may read marketing reports."""
    actor.require("marketing.reports.read")
    return contact_summary(session, campaign_id)
