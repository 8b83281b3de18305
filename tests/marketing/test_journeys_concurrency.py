"""Journeys under concurrency on PostgreSQL: events for one customer at the same moment start one run."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from smartbank import db
from smartbank.marketing import service as marketing
from smartbank.marketing.journeys_tables import JourneyEvent, JourneyRun

pytestmark = pytest.mark.commits  # threads racing on their own connections


@pytest.fixture(autouse=True)
def _postgres_only(is_pg):
    if not is_pg:
        pytest.skip("row races need PostgreSQL; SQLite serialises writers")


def test_simultaneous_events_start_one_active_run(engine, bank):
    cid = bank.customer()
    db.run_in_transaction(lambda s: marketing.seed_journeys(s, enable=True), engine=engine)
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []
    results: list[dict] = []

    def emit(i: int) -> None:
        try:
            barrier.wait()
            # half the threads send the same event (same ref), the others a distinct one each
            ref = "account:1" if i % 2 else f"account:{100 + i}"
            results.append(db.run_in_transaction(
                lambda s: marketing.emit_event(s, "account_opened", cid, ref), engine=engine))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=emit, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session_scope(engine) as s:
        runs = s.scalar(select(func.count()).select_from(JourneyRun).where(JourneyRun.customer_id == cid))
        events = s.scalar(select(func.count()).select_from(JourneyEvent).where(JourneyEvent.ref == "account:1"))
    assert runs == 1 and events == 1
    assert sum(len(r["runs_started"]) for r in results) == 1
