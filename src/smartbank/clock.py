"""The one clock of the platform: every service, batch, page and model reads the time here.

``now()`` is an aware UTC instant; ``today()`` is the bank's business date (Asia/Shanghai). Nothing else
in the package reads the wall clock (``datetime.now``, ``date.today``), so the whole bank can be run at
another instant:

- ``SMARTBANK_CLOCK`` (environment): unset or ``system`` reads the machine's clock; an ISO instant
  (``2027-01-04T09:30:00+08:00``) starts the clock there when the process first reads it, and it then
  ticks with real time; ``fixed:<instant>`` stops it at that instant.
- In code and tests: ``clock.use(clock.TickingClock(start))`` / ``clock.set_clock(...)``.

Durations (timeouts, latencies, benchmarks) are not the bank's time and keep using ``time.monotonic``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

BANK_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that stands still at ``at`` until moved with ``advance`` or ``set``."""

    def __init__(self, at: datetime) -> None:
        self._at = _aware(at)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = _aware(at)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._at += delta

    def __repr__(self) -> str:
        return f"FixedClock({self._at.isoformat()})"


class TickingClock:
    """A clock that starts at ``start`` and moves with real (monotonic) time from then on."""

    def __init__(self, start: datetime) -> None:
        self._start = _aware(start)
        self._t0 = time.monotonic()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return self._start + self._offset + timedelta(seconds=time.monotonic() - self._t0)

    def advance(self, delta: timedelta) -> None:
        self._offset += delta

    def __repr__(self) -> str:
        return f"TickingClock(start={self._start.isoformat()})"


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("the clock needs an aware datetime (with its time zone)")
    return at.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO instant; a bare date or a naive time is read as the bank's local time."""
    t = text.strip()
    at = datetime.fromisoformat(t)
    if at.tzinfo is None:
        at = at.replace(tzinfo=BANK_TZ)
    return at.astimezone(UTC)


def from_env(value: str | None) -> Clock:
    v = (value or "").strip()
    if not v or v.lower() == "system":
        return SystemClock()
    if v.lower().startswith("fixed:"):
        return FixedClock(parse_instant(v[6:]))
    return TickingClock(parse_instant(v))


_clock: Clock | None = None
_guard = threading.Lock()


def get_clock() -> Clock:
    global _clock
    c = _clock
    if c is None:
        with _guard:
            if _clock is None:
                _clock = from_env(os.environ.get("SMARTBANK_CLOCK"))
            c = _clock
    return c


def set_clock(c: Clock | None) -> None:
    """Install ``c`` for the whole process (``None``: read ``SMARTBANK_CLOCK`` again on next use)."""
    global _clock
    with _guard:
        _clock = c


@contextmanager
def use(c: Clock) -> Iterator[Clock]:
    previous = _clock
    set_clock(c)
    try:
        yield c
    finally:
        set_clock(previous)


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return get_clock().now()


def local_now() -> datetime:
    """The current instant in the bank's time zone."""
    return now().astimezone(BANK_TZ)


def today() -> date:
    """The bank's business date (the calendar date in Asia/Shanghai)."""
    return local_now().date()


def local_date(at: datetime) -> date:
    """The bank's calendar date of an instant (a naive datetime is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(BANK_TZ).date()


def instant_of(d: date, *, hour: int = 12) -> datetime:
    """An instant on the bank's calendar date ``d`` (noon local by default), in UTC."""
    return datetime(d.year, d.month, d.day, hour, tzinfo=BANK_TZ).astimezone(UTC)


__all__ = [
    "BANK_TZ", "Clock", "FixedClock", "SystemClock", "TickingClock", "from_env", "get_clock", "instant_of",
    "local_date", "local_now", "now", "parse_instant", "set_clock", "today", "use",
]
