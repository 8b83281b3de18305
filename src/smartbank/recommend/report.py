"""Click-through and conversion per slot and per model version (the basis for A/B tests).

Over the events of a date range (``from`` and ``to`` inclusive, UTC days):

- ``lists``: served lists (``rec_served`` rows);
- ``impressions``: ``impression`` events (one per item shown in a list);
- ``clicks``: distinct (list, item) pairs with a ``click`` event that names its list (clicking twice counts
  once; clicks outside a list do not count);
- ``conversions``: distinct (list, item) pairs with a ``conversion`` event (a purchase attributed to the list);
- ``dismissals``: distinct (list, item) pairs dismissed;
- ``ctr = clicks / impressions``, ``conversion_rate = conversions / impressions``,
  ``click_conversion = conversions / clicks`` (None when the divisor is 0).

Grouped three ways: by slot, by model version, and by both. Marketers and administrators only.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import ValidationFailed
from smartbank.recommend.models import RecEvent, RecServed
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = ["REPORT_ROLES", "report"]

REPORT_ROLES = security.roles_for("recommend.report")
MAX_DAYS = 366


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 6) if b else None


def _figures(c: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {k: int(c.get(k, 0)) for k in ("lists", "impressions", "clicks", "conversions",
                                                         "dismissals")}
    out.update(ctr=_rate(out["clicks"], out["impressions"]),
               conversion_rate=_rate(out["conversions"], out["impressions"]),
               click_conversion=_rate(out["conversions"], out["clicks"]))
    return out


def report(session: Session, actor: Principal, *, date_from: date | None = None, date_to: date | None = None
           ) -> dict[str, Any]:
    """CTR and conversion per slot, per model version and per (slot, model) between two days."""
    actor.require_role(*REPORT_ROLES)
    date_to = date_to or clock.today()
    date_from = date_from or date_to - timedelta(days=29)
    if date_from > date_to:
        raise ValidationFailed("date_from is after date_to", reason="recommend.dates_reversed",
                               details={"date_from": str(date_from),
                                                                       "date_to": str(date_to)})
    if (date_to - date_from).days >= MAX_DAYS:
        raise ValidationFailed(f"at most {MAX_DAYS} days at a time", reason="recommend.range_too_long",
                               details={"max_days": MAX_DAYS})
    start = datetime.combine(date_from, time.min, UTC)
    end = datetime.combine(date_to + timedelta(days=1), time.min, UTC)
    cells: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s_slot, s_mv, n in session.execute(
            select(RecServed.slot, RecServed.model_version, func.count(RecServed.id))
            .where(RecServed.at >= start, RecServed.at < end).group_by(RecServed.slot, RecServed.model_version)):
        cells[(s_slot, s_mv)]["lists"] += int(n)
    for slot, mv, n in session.execute(
            select(RecEvent.slot, RecEvent.model_version, func.count(RecEvent.id))
            .where(RecEvent.event == "impression", RecEvent.at >= start, RecEvent.at < end)
            .group_by(RecEvent.slot, RecEvent.model_version)):
        cells[(slot or "-", mv or "-")]["impressions"] += int(n)
    pairs = (select(RecEvent.slot, RecEvent.model_version, RecEvent.event, RecEvent.served_id, RecEvent.item_id)
             .where(RecEvent.event.in_(("click", "conversion", "dismiss")), RecEvent.served_id.is_not(None),
                    RecEvent.at >= start, RecEvent.at < end)
             .distinct().subquery())
    names = {"click": "clicks", "conversion": "conversions", "dismiss": "dismissals"}
    for slot, mv, ev, n in session.execute(
            select(pairs.c.slot, pairs.c.model_version, pairs.c.event, func.count())
            .group_by(pairs.c.slot, pairs.c.model_version, pairs.c.event)):
        cells[(slot or "-", mv or "-")][names[ev]] += int(n)
    by_slot: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_model: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    total: dict[str, int] = defaultdict(int)
    for (slot, mv), c in cells.items():
        for k, v in c.items():
            by_slot[slot][k] += v
            by_model[mv][k] += v
            total[k] += v
    return {
        "date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
        "total": _figures(total),
        "by_slot": [{"slot": s, **_figures(c)} for s, c in sorted(by_slot.items())],
        "by_model": [{"model_version": m, **_figures(c)} for m, c in sorted(by_model.items())],
        "by_slot_model": [{"slot": s, "model_version": m, **_figures(c)} for (s, m), c in sorted(cells.items())],
    }
