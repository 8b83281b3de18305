"""Daily amount and count limits per customer, product and channel, checked on every payment.

A limit (``risk_limits``) applies to a payment when its scope matches: ``customer`` (the paying
customer's id as text), ``product`` (the paying account's kind: ``demand``, ``savings`` ...) or
``channel`` (``web``, ``api``, ``assistant``, ``schedule``). It caps the customer's use within one
bank day (the Asia/Shanghai calendar day) by amount, by count, or both. A payment that would take the
day's use past a cap (use + this payment > cap; for the count, use + 1 > cap) is a *hit*, and the
limit's action (``challenge`` / ``review`` / ``block``) is what the decision path applies.

**The day's use** is read from ``risk_decisions`` of the same customer, created within the bank day:

* ``allow`` and ``review`` decisions count (the payment was posted, or held and likely to post),
  unless their ``outcome`` says the payment was refused afterwards (:data:`REFUSED_OUTCOMES`);
* a ``challenge`` counts when its outcome is ``challenge_passed``, and while its one-time code is still
  valid (no outcome yet, made within ``risk_otp_seconds``): the payment may still be made, so it keeps its
  room, as a held payment does - otherwise two challenged payments could each be answered into a limit
  that holds only one;
* a ``block`` never counts.

A customer limit sums every product and channel; a product limit sums the customer's payments from
accounts of that product; a channel limit sums the customer's payments through that channel.

**Concurrency**: the day's use is an aggregate, so two payments checked at the same moment would both see
the room for one. A payment that a limit applies to is therefore decided inside its transaction, after
:func:`serialise` has taken the customer's lock (PostgreSQL: a transaction-scoped advisory lock per
customer; SQLite: every transaction already holds the database's write lock from its first statement,
``BEGIN IMMEDIATE``), and its decision row - what the next payment's check counts - is written in that
same transaction. The next payment of the customer waits for the commit, then sees it.

**Cost on the hot path**: active limits are held in memory per database and reloaded at most every
:data:`RELOAD_SECONDS` (and at once, in this process, after a change through this module). When no
limit applies to the payment's customer, product or channel, :func:`check` returns ``[]`` without a
query, and :func:`applies` says so without one (the payment keeps its single-statement path, no lock);
otherwise it runs exactly one query (usage grouped by product and channel).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, event, func, or_, select, text
from sqlalchemy.orm import Session

from smartbank.config import get_settings
from smartbank.errors import NotFound, ValidationFailed
from smartbank.money import format_minor
from smartbank.risk.models import CHANNELS, LIMIT_SCOPES, RiskDecision, RiskLimit, RiskLimitBreach
from smartbank.security import service as security
from smartbank.security.service import Principal, audit

__all__ = [
    "ACTIONS", "LIMIT_MANAGERS", "LimitHit", "RELOAD_SECONDS", "REFUSED_OUTCOMES", "applies", "bank_day", "check",
    "create_limit", "deactivate_limit", "edit_limit", "invalidate", "list_breaches", "list_limits",
    "record_breaches", "seed_defaults", "serialise",
]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
ACTIONS = ("challenge", "review", "block")
SEVERITY = {"challenge": 1, "review": 2, "block": 3}
PRODUCTS = ("demand", "savings")
LIMIT_MANAGERS = security.roles_for("risk.limits.manage")
RELOAD_SECONDS = 5.0
# outcomes after which an allowed or held payment did not move money
REFUSED_OUTCOMES = ("challenge_failed", "voided", "reversed", "refused", "rejected", "expired", "cancelled")
MAX_AMOUNT = 10**15
MAX_COUNT = 1_000_000


@dataclass(frozen=True, slots=True)
class LimitHit:
    limit_id: int
    scope: str
    scope_value: str
    action: str
    daily_amount_minor: int | None
    daily_count: int | None
    used_amount_minor: int
    used_count: int
    reason_en: str
    reason_zh: str


@dataclass(frozen=True, slots=True)
class _Limit:
    id: int
    scope: str
    scope_value: str
    daily_amount_minor: int | None
    daily_count: int | None
    action: str


# ------------------------------------------------------------------------------------------------
# the in-memory cache of active limits, per database

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[tuple[str, str], tuple[_Limit, ...]]]] = {}


def _db_key(session: Session) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def invalidate(session: Session | None = None) -> None:
    """Forget the cached limits of the session's database (of every database without a session)."""
    with _lock:
        if session is None:
            _cache.clear()
        else:
            _cache.pop(_db_key(session), None)


def _load(session: Session) -> dict[tuple[str, str], tuple[_Limit, ...]]:
    out: dict[tuple[str, str], list[_Limit]] = {}
    for r in session.execute(select(RiskLimit).where(RiskLimit.active.is_(True)).order_by(RiskLimit.id)).scalars():
        out.setdefault((r.scope, r.scope_value), []).append(_Limit(
            r.id, r.scope, r.scope_value, r.daily_amount_minor, r.daily_count, r.action))
    return {k: tuple(v) for k, v in out.items()}


def _active(session: Session) -> dict[tuple[str, str], tuple[_Limit, ...]]:
    key = _db_key(session)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < RELOAD_SECONDS:
        return hit[1]
    limits = _load(session)
    with _lock:
        _cache[key] = (now, limits)
    return limits


def _changed(session: Session) -> None:
    """A limit changed in this session: forget the cache now, and again when the change commits or
    rolls back (a reload in between would have seen the uncommitted or the old state)."""
    invalidate(session)
    key = _db_key(session)

    def _drop(_s: Session, *_a: Any) -> None:
        with _lock:
            _cache.pop(key, None)

    event.listen(session, "after_commit", _drop, once=True)
    event.listen(session, "after_rollback", _drop, once=True)


# ------------------------------------------------------------------------------------------------
# the check


def bank_day(now: datetime) -> tuple[datetime, datetime]:
    """The bank day (Asia/Shanghai calendar day) holding ``now``, as a UTC [start, end) range."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    local = now.astimezone(LOCAL_TZ)
    start = datetime(local.year, local.month, local.day, tzinfo=LOCAL_TZ)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def counted_condition(now: datetime) -> Any:
    """The SQL condition for a decision that uses up a daily limit at ``now`` (see the module's docstring)."""
    D = RiskDecision
    not_refused = or_(D.outcome.is_(None), D.outcome.not_in(REFUSED_OUTCOMES))
    code_valid_since = now - timedelta(seconds=get_settings().risk_otp_seconds)
    return or_(and_(D.decision.in_(("allow", "review")), not_refused),
               and_(D.decision == "challenge",
                    or_(D.outcome == "challenge_passed",
                        and_(D.outcome.is_(None), D.created_at >= code_valid_since))))


def _usage(session: Session, customer_id: int, now: datetime) -> list[tuple[str | None, str, int, int]]:
    start, end = bank_day(now)
    D = RiskDecision
    rows = session.execute(
        select(D.product, D.channel, func.count(), func.coalesce(func.sum(D.amount_minor), 0))
        .where(D.customer_id == customer_id, D.created_at >= start, D.created_at < end, counted_condition(now))
        .group_by(D.product, D.channel)).all()
    return [(p, c, int(n), int(a)) for p, c, n, a in rows]


def _applicable(session: Session, customer_id: int, product: str | None, channel: str) -> list[_Limit]:
    limits = _active(session)
    if not limits:
        return []
    out = [*limits.get(("customer", str(customer_id)), ()), *limits.get(("channel", channel), ())]
    if product is not None:
        out += limits.get(("product", product), ())
    return out


def applies(session: Session, *, customer_id: int, product: str | None, channel: str) -> bool:
    """Whether any active limit covers a payment of this customer, product and channel (no query: the cache)."""
    return bool(_applicable(session, customer_id, product, channel))


_LOCK_CLASS = 0x5B11  # advisory lock namespace of the per-customer limit lock (the object is the customer)
_SERIALISE_PG = text("SELECT pg_advisory_xact_lock(:ns, CAST(:c % 2147483647 AS integer))")


def serialise(session: Session, customer_id: int) -> None:
    """Make this transaction the only one deciding a payment of this customer against the limits until it
    ends (see the module's docstring). Call it before :func:`check`, in the transaction that writes the
    payment's decision."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_SERIALISE_PG, {"ns": _LOCK_CLASS, "c": customer_id})
    # SQLite: the transaction took the database's write lock with its first statement (BEGIN IMMEDIATE)


_SCOPE_EN = {"customer": "for this customer", "product": "for payments from {v} accounts",
             "channel": "for payments through {v}"}
_SCOPE_ZH = {"customer": "该客户", "product": "{v}账户付款", "channel": "{v}渠道付款"}
_PRODUCT_ZH = {"demand": "活期", "savings": "储蓄"}
_CHANNEL_ZH = {"web": "网银", "api": "开放接口", "assistant": "智能助手", "schedule": "定时转账"}


def _reason(lim: _Limit, *, over_amount: bool, used_amount: int, used_count: int) -> tuple[str, str]:
    v_zh = _PRODUCT_ZH.get(lim.scope_value, lim.scope_value) if lim.scope == "product" else \
        _CHANNEL_ZH.get(lim.scope_value, lim.scope_value)
    where_en = _SCOPE_EN[lim.scope].format(v=lim.scope_value)
    where_zh = _SCOPE_ZH[lim.scope].format(v=v_zh)
    if over_amount and lim.daily_amount_minor is not None:
        cap = format_minor(lim.daily_amount_minor, "CNY", grouping=True, symbol=True)
        used = format_minor(used_amount, "CNY", grouping=True, symbol=True)
        return (f"This payment would exceed the daily limit of {cap} {where_en} ({used} used today).",
                f"本笔付款将超过{where_zh}每日限额{cap}（今日已用{used}）。")
    return (f"This payment would exceed the daily limit of {lim.daily_count} payments {where_en} "
            f"({used_count} made today).",
            f"本笔付款将超过{where_zh}每日{lim.daily_count}笔的限制（今日已付{used_count}笔）。")


def check(session: Session, *, customer_id: int, product: str | None, channel: str, amount_minor: int,
          now: datetime) -> list[LimitHit]:
    """The limits this payment would break, the most severe action first (``[]``: none)."""
    applicable = _applicable(session, customer_id, product, channel)
    if not applicable:
        return []
    rows = _usage(session, customer_id, now)
    hits: list[LimitHit] = []
    for lim in applicable:
        if lim.scope == "customer":
            sel = rows
        elif lim.scope == "product":
            sel = [r for r in rows if r[0] == lim.scope_value]
        else:
            sel = [r for r in rows if r[1] == lim.scope_value]
        used_n = sum(r[2] for r in sel)
        used_amt = sum(r[3] for r in sel)
        over_amount = lim.daily_amount_minor is not None and used_amt + amount_minor > lim.daily_amount_minor
        over_count = lim.daily_count is not None and used_n + 1 > lim.daily_count
        if not (over_amount or over_count):
            continue
        en, zh = _reason(lim, over_amount=over_amount, used_amount=used_amt, used_count=used_n)
        hits.append(LimitHit(lim.id, lim.scope, lim.scope_value, lim.action, lim.daily_amount_minor, lim.daily_count,
                             used_amt, used_n, en, zh))
    hits.sort(key=lambda h: -SEVERITY.get(h.action, 0))
    return hits


def record_breaches(session: Session, hits: list[LimitHit], *, decision_id: int | None, customer_id: int,
                    amount_minor: int) -> None:
    """Log every hit of a payment in ``risk_limit_breaches`` (flushed; the caller commits)."""
    if not hits:
        return
    session.add_all([RiskLimitBreach(limit_id=h.limit_id, customer_id=customer_id, decision_id=decision_id,
                                     amount_minor=amount_minor, used_amount_minor=h.used_amount_minor,
                                     used_count=h.used_count, action=h.action) for h in hits])
    session.flush()


# ------------------------------------------------------------------------------------------------
# management (risk officers and admins; every change audited)


def _view(r: RiskLimit) -> dict[str, Any]:
    return {"id": r.id, "scope": r.scope, "scope_value": r.scope_value, "daily_amount_minor": r.daily_amount_minor,
            "daily_count": r.daily_count, "action": r.action, "active": bool(r.active), "note": r.note,
            "created_by": r.created_by, "created_at": r.created_at}


def _audit_view(r: RiskLimit) -> dict[str, Any]:
    v = _view(r)
    v.pop("created_at")
    return v


def _validate(scope: str, scope_value: str, amount: int | None, count: int | None, action: str) -> None:
    if scope not in LIMIT_SCOPES:
        raise ValidationFailed("a limit's scope is customer, product or channel", details={"scope": scope})
    if action not in ACTIONS:
        raise ValidationFailed("a limit's action is challenge, review or block", details={"action": action})
    if not scope_value or len(scope_value) > 40:
        raise ValidationFailed("a limit needs a scope value of 1-40 characters")
    if scope == "customer" and not (scope_value.isdigit() and 0 < int(scope_value) < 2**63):
        raise ValidationFailed("a customer limit's scope value is the customer id",
                               details={"scope_value": scope_value})
    if scope == "channel" and scope_value not in CHANNELS:
        raise ValidationFailed("unknown channel", details={"scope_value": scope_value, "channels": list(CHANNELS)})
    if scope == "product" and scope_value not in PRODUCTS:
        raise ValidationFailed("unknown product", details={"scope_value": scope_value, "products": list(PRODUCTS)})
    if amount is None and count is None:
        raise ValidationFailed("a limit caps the daily amount, the daily count, or both")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT):
        raise ValidationFailed("a daily amount is a positive integer of minor units", details={"amount": amount})
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_COUNT):
        raise ValidationFailed("a daily count is a positive integer", details={"count": count})


def _get(session: Session, limit_id: int) -> RiskLimit:
    r = session.get(RiskLimit, limit_id)
    if r is None:
        raise NotFound("no such limit", details={"id": limit_id})
    return r


def list_limits(session: Session, actor: Principal, *, include_inactive: bool = True) -> list[dict[str, Any]]:
    actor.require_role(*LIMIT_MANAGERS)
    stmt = select(RiskLimit).order_by(RiskLimit.scope, RiskLimit.scope_value, RiskLimit.id)
    if not include_inactive:
        stmt = stmt.where(RiskLimit.active.is_(True))
    return [_view(r) for r in session.execute(stmt).scalars()]


def get_limit(session: Session, actor: Principal, limit_id: int) -> dict[str, Any]:
    actor.require_role(*LIMIT_MANAGERS)
    return _view(_get(session, limit_id))


def create_limit(session: Session, actor: Principal, *, scope: str, scope_value: str,
                 daily_amount_minor: int | None = None, daily_count: int | None = None, action: str = "block",
                 note: str | None = None, rid: str | None = None) -> dict[str, Any]:
    actor.require_role(*LIMIT_MANAGERS)
    scope_value = (scope_value or "").strip()
    _validate(scope, scope_value, daily_amount_minor, daily_count, action)
    r = RiskLimit(scope=scope, scope_value=scope_value, daily_amount_minor=daily_amount_minor,
                  daily_count=daily_count, action=action, active=True, note=(note or None),
                  created_by=actor.user_id or None)
    session.add(r)
    session.flush()
    audit(session, actor, action="risk_limit.create", object_type="risk_limit", object_id=r.id,
          after=_audit_view(r), request_id=rid)
    _changed(session)
    return _view(r)


_EDITABLE = ("daily_amount_minor", "daily_count", "action", "active", "note")


def edit_limit(session: Session, actor: Principal, limit_id: int, *, rid: str | None = None,
               **changes: Any) -> dict[str, Any]:
    """Change a limit's caps, action, note or active flag (``None`` for a cap removes that cap)."""
    actor.require_role(*LIMIT_MANAGERS)
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise ValidationFailed("these fields of a limit cannot be changed", details={"fields": sorted(unknown)})
    r = _get(session, limit_id)
    before = _audit_view(r)
    new = {k: changes.get(k, before[k]) for k in _EDITABLE}
    if not isinstance(new["active"], bool):
        raise ValidationFailed("active is true or false")
    _validate(r.scope, r.scope_value, new["daily_amount_minor"], new["daily_count"], new["action"])
    for k in _EDITABLE:
        setattr(r, k, new[k])
    session.flush()
    audit(session, actor, action="risk_limit.edit", object_type="risk_limit", object_id=r.id, before=before,
          after=_audit_view(r), request_id=rid)
    _changed(session)
    return _view(r)


def deactivate_limit(session: Session, actor: Principal, limit_id: int, *, rid: str | None = None) -> dict[str, Any]:
    return edit_limit(session, actor, limit_id, active=False, rid=rid)


def list_breaches(session: Session, actor: Principal, *, customer_id: int | None = None,
                  limit_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
    actor.require_role(*LIMIT_MANAGERS)
    B = RiskLimitBreach
    stmt = (select(B, RiskLimit.scope, RiskLimit.scope_value).join(RiskLimit, RiskLimit.id == B.limit_id, isouter=True)
            .order_by(B.id.desc()).limit(max(1, min(limit, 1000))))
    if customer_id is not None:
        stmt = stmt.where(B.customer_id == customer_id)
    if limit_id is not None:
        stmt = stmt.where(B.limit_id == limit_id)
    return [{"id": b.id, "limit_id": b.limit_id, "scope": scope, "scope_value": value, "customer_id": b.customer_id,
             "decision_id": b.decision_id, "at": b.at, "amount_minor": b.amount_minor,
             "used_amount_minor": b.used_amount_minor, "used_count": b.used_count, "action": b.action}
            for b, scope, value in session.execute(stmt).all()]


def breach_counts(session: Session, *, since: datetime) -> dict[str, int]:
    """Breaches per action since a moment (for the dashboard)."""
    B = RiskLimitBreach
    rows = session.execute(select(B.action, func.count()).where(B.at >= since).group_by(B.action)).all()
    return {a: int(n) for a, n in rows}


# Ordinary use (tens to thousands of yuan through web or api, a few payments a day) never meets these, and
# web / api payments from demand accounts (the hot path) match none of them, so they cost no query.
DEFAULTS: tuple[dict[str, Any], ...] = (
    {"scope": "channel", "scope_value": "assistant", "daily_amount_minor": 2_000_000, "daily_count": 20,
     "action": "challenge", "note": "Assistant: at most 20,000 yuan and 20 payments a day without a challenge"},
    {"scope": "product", "scope_value": "savings", "daily_amount_minor": None, "daily_count": 50,
     "action": "review", "note": "Savings accounts are not for everyday payments: hold the 51st payment of a day"},
    {"scope": "channel", "scope_value": "schedule", "daily_amount_minor": None, "daily_count": 500,
     "action": "review", "note": "Scheduled transfers: hold beyond 500 a day (a runaway schedule)"},
)


def seed_defaults(session: Session) -> int:
    """Insert the default limits that are missing (matched by scope, value and action); returns how many."""
    existing = {(r.scope, r.scope_value, r.action) for r in session.execute(select(RiskLimit)).scalars()}
    added = 0
    for d in DEFAULTS:
        if (d["scope"], d["scope_value"], d["action"]) in existing:
            continue
        session.add(RiskLimit(**d, active=True))
        added += 1
    if added:
        session.flush()
        _changed(session)
    return added

