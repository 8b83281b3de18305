"""The one clock: injectable, in the bank's time zone, and the only reader of the wall clock."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from smartbank import clock

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "smartbank"
WALL_CLOCK = re.compile(r"datetime\.(now|utcnow|today)\(|\bdate\.today\(|time\.time\(\)")
# durations across processes (benchmark start barriers) may read the machine's clock: they are not the bank's time
ALLOWED = {"clock.py", "bench/http.py", "bench/ledger.py"}


def test_nothing_but_the_clock_reads_the_wall_clock():
    offenders = []
    for p in SRC.rglob("*.py"):
        rel = p.relative_to(SRC).as_posix()
        if rel in ALLOWED or rel.startswith("migrations/"):
            continue
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if WALL_CLOCK.search(line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []


def test_no_test_reads_the_wall_clock():
    """Tests take the time from the injected clock too, so none depends on the day it runs."""
    me = Path(__file__).resolve()
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "tests").rglob("*.py") if p.resolve() != me
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if WALL_CLOCK.search(line)]
    assert offenders == []


def test_no_test_module_reads_the_clock_when_it_is_imported():
    """A module-level ``clock.today()`` runs before the test's clock is installed: it reads the machine's day."""
    at_import = re.compile(r"^(?:[A-Za-z_]\w*\s*(?::[^=]*)?=|def\s.*=\s*)[^#]*clock\.(?:today|now|local_now)\(")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "tests").rglob("*.py")
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if at_import.search(line)]
    assert offenders == []


def test_today_is_the_bank_date_in_shanghai():
    # 2027-01-31 17:30 UTC is already 1 February in Beijing
    with clock.use(clock.FixedClock(datetime(2027, 1, 31, 17, 30, tzinfo=UTC))):
        assert clock.today() == date(2027, 2, 1)
        assert clock.now() == datetime(2027, 1, 31, 17, 30, tzinfo=UTC)


def test_environment_sets_the_clock(monkeypatch):
    monkeypatch.setenv("SMARTBANK_CLOCK", "fixed:2028-02-29T09:00:00+08:00")
    previous = clock.get_clock()
    clock.set_clock(None)
    try:
        assert clock.now() == datetime(2028, 2, 29, 1, 0, tzinfo=UTC)
        assert clock.today() == date(2028, 2, 29)
    finally:
        clock.set_clock(previous)
    ticking = clock.from_env("2027-06-30")  # a bare date: midnight, bank time, then it ticks
    assert ticking.now() >= datetime(2027, 6, 29, 16, 0, tzinfo=UTC)
    assert isinstance(clock.from_env("system"), clock.SystemClock)


def test_fixed_clock_moves_only_when_told():
    c = clock.FixedClock(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    c.advance(timedelta(hours=2))
    assert c.now() == datetime(2027, 1, 1, 1, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.FixedClock(datetime(2026, 1, 1))  # naive: which zone?


def test_the_suite_runs_on_the_injected_clock(bank_clock):
    assert abs(clock.now() - bank_clock.now()) < timedelta(seconds=5)
    assert clock.today() == clock.local_date(bank_clock.now())
