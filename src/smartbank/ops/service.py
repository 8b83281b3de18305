"""The front door of operations (:data:`__all__`): close of day (:mod:`.close_of_day`) and database migrations
(:mod:`.migrate`). Ops sits at the top of the domains: close of day runs every domain's end-of-day work in
order, through their front doors."""

from __future__ import annotations

from smartbank.ops.close_of_day import (
    DayResult,
    close_day,
    days_to_close,
    last_closed_day,
    mark_closed_through,
    next_day_to_close,
)
from smartbank.ops.migrate import upgrade

__all__ = ["DayResult", "close_day", "days_to_close", "last_closed_day", "mark_closed_through", "next_day_to_close",
           "upgrade"]
