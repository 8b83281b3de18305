"""The background worker: each job on its interval (driven by an injected clock, never by sleeping), one job's
failure isolated from the others, one worker at a time (PostgreSQL advisory lock, SQLite file lock), graceful
shutdown on SIGTERM, and the bank's real jobs - sealing, insight, close of day with its scheduled transfers."""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from smartbank import clock, db
from smartbank.ledger import service as ledger
from smartbank.ops import close_of_day, jobs
from smartbank.ops.worker import JOB_RUNS, WORKER_LOCK_ID, FileLockGuard, Job, Worker, guard_for
from smartbank.payments import service as payments
from smartbank.security.service import Principal
from tests.conftest import TEST_NOW


class NoLock:
    """A guard that is always free (for the tests that are about jobs, not about the lock)."""

    def __init__(self) -> None:
        self.taken = False

    def acquire(self) -> bool:
        self.taken = True
        return True

    def held(self) -> bool:
        return self.taken

    def release(self) -> None:
        self.taken = False


def recorder(calls: list[str], name: str):
    def run(stopping):
        calls.append(name)
        return name

    return run


def test_each_job_runs_on_its_own_interval():
    at = clock.FixedClock(TEST_NOW)
    calls: list[str] = []
    w = Worker([Job("seal", 1, recorder(calls, "seal")), Job("insight", 5, recorder(calls, "insight")),
                Job("close-of-day", 300, recorder(calls, "close-of-day")),
                Job("off", 0, recorder(calls, "off"))], guard=NoLock(), clock=at)
    assert w.tick() == {"seal": "ok", "insight": "ok", "close-of-day": "ok"}  # everything is due at first
    assert w.tick() == {}  # nothing is due again at the same instant
    at.advance(timedelta(seconds=1))
    assert w.tick() == {"seal": "ok"}
    at.advance(timedelta(seconds=4))
    assert w.tick() == {"seal": "ok", "insight": "ok"}
    at.advance(timedelta(seconds=295))
    assert set(w.tick()) == {"seal", "insight", "close-of-day"}
    assert "off" not in calls and calls.count("seal") == 4 and calls.count("close-of-day") == 2
    assert w.last["insight"].outcome == "ok" and w.last["insight"].result == "insight"


def test_the_interval_runs_from_the_end_of_the_previous_run():
    at = clock.FixedClock(TEST_NOW)

    def slow(stopping):
        at.advance(timedelta(seconds=3))  # the run took three seconds of the clock

    w = Worker([Job("slow", 10, slow)], guard=NoLock(), clock=at)
    w.tick()
    at.advance(timedelta(seconds=9))
    assert w.tick() == {}
    at.advance(timedelta(seconds=1))
    assert w.tick() == {"slow": "ok"}


def test_a_failing_job_is_logged_and_the_others_still_run():
    at = clock.FixedClock(TEST_NOW)
    calls: list[str] = []
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    def broken(stopping):
        raise RuntimeError("the database went away")

    handler = Keep(level=logging.ERROR)
    logging.getLogger("smartbank.worker").addHandler(handler)
    failed_before = JOB_RUNS.labels("broken", "failed")._value.get()
    try:
        w = Worker([Job("broken", 1, broken), Job("seal", 1, recorder(calls, "seal"))], guard=NoLock(), clock=at)
        assert w.tick() == {"broken": "failed", "seal": "ok"}
        at.advance(timedelta(seconds=1))
        assert w.tick() == {"broken": "failed", "seal": "ok"}  # retried at its next interval, the other unharmed
    finally:
        logging.getLogger("smartbank.worker").removeHandler(handler)
    assert calls == ["seal", "seal"]
    # the traceback travels with the record: as exc_info, or already formatted (and redacted) by the platform's
    # log handler, which sees the record first
    trace = records[0].exc_text or (logging.Formatter().formatException(records[0].exc_info)
                                    if records[0].exc_info else "")
    assert len(records) == 2 and "RuntimeError: the database went away" in trace
    assert "broken" in records[0].getMessage()
    assert JOB_RUNS.labels("broken", "failed")._value.get() == failed_before + 2


def test_job_names_are_unique_and_unknown_jobs_are_refused():
    with pytest.raises(ValueError):
        Worker([Job("a", 1, recorder([], "a")), Job("a", 2, recorder([], "a"))], guard=NoLock())
    with pytest.raises(ValueError, match="unknown job"):
        jobs.default_jobs(only=["seal", "coffee"])
    assert [j.name for j in jobs.default_jobs(only=["seal"])] == ["seal"]


def test_sigterm_stops_the_worker_after_the_running_job_and_releases_the_lock(tmp_path):
    """run() in the main thread: SIGTERM arrives during a job; that job ends, nothing else starts."""
    guard = FileLockGuard(tmp_path / "w.lock")
    done: list[str] = []
    previous = signal.getsignal(signal.SIGTERM)

    def job(stopping):
        os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread, which is waiting in run()
        told = threading.Event()
        for _ in range(1000):
            if stopping():
                told.set()
                break
            told.wait(0.01)
        done.append("finished" if told.is_set() else "not told")

    w = Worker([Job("job", 3600, job)], guard=guard, poll_seconds=0.01, standby_seconds=0.01)
    assert w.run() == 0
    assert done == ["finished"]  # the running job completed, having been told to stop
    assert not guard.held() and FileLockGuard(tmp_path / "w.lock").acquire()  # the lock is free again
    assert signal.getsignal(signal.SIGTERM) == previous  # the process's own handler is back


# ---- one worker at a time ---------------------------------------------------------------------------

@pytest.mark.commits  # the worker holds its lock on a connection of its own
def test_only_one_guard_holds_the_lock(database_url):
    first, second = guard_for(database_url), guard_for(database_url)
    try:
        assert first.acquire()
        assert not second.acquire()
        assert first.held() and not second.held()
        first.release()
        assert second.acquire() and second.held()
        assert not first.acquire()
    finally:
        first.release()
        second.release()


@pytest.mark.commits  # the worker holds its lock on a connection of its own
def test_two_workers_only_the_lock_holder_runs_and_the_other_takes_over(database_url):
    ran = {"a": threading.Event(), "b": threading.Event()}

    def job(name):
        def run(stopping):
            ran[name].set()

        return run

    a = Worker([Job("seal", 0.01, job("a"))], guard=guard_for(database_url), poll_seconds=0.01,
               standby_seconds=0.02)
    b = Worker([Job("seal", 0.01, job("b"))], guard=guard_for(database_url), poll_seconds=0.01,
               standby_seconds=0.02)
    ta = threading.Thread(target=a.run, kwargs={"handle_signals": False})
    ta.start()
    try:
        assert ran["a"].wait(10)  # a holds the lock and runs
        tb = threading.Thread(target=b.run, kwargs={"handle_signals": False})
        tb.start()
        assert not ran["b"].wait(0.3)  # b stands by while a holds the lock
        assert a.guard.held() and not b.guard.held()
        a.stop()
        ta.join(10)
        assert ran["b"].wait(10)  # a has stopped: b takes over
    finally:
        a.stop()
        b.stop()
        ta.join(10)
        tb.join(10)
    assert not ta.is_alive() and not tb.is_alive()


@pytest.mark.commits  # the worker holds its lock on a connection of its own
def test_a_worker_that_loses_its_postgresql_lock_stops(database_url, backend, engine):
    if backend != "postgresql":
        pytest.skip("the lock of a PostgreSQL worker lives on its connection")
    ran = threading.Event()
    w = Worker([Job("seal", 0.01, lambda stopping: ran.set())], guard=guard_for(database_url), poll_seconds=0.01,
               standby_seconds=0.05)
    out: list[int] = []
    t = threading.Thread(target=lambda: out.append(w.run(handle_signals=False)))
    t.start()
    try:
        assert ran.wait(10)
        with engine.begin() as c:  # an administrator (or a failover) ends the worker's lock connection
            killed = c.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"k": WORKER_LOCK_ID}).scalars().all()
        assert killed == [True]
        t.join(10)
    finally:
        w.stop()
        t.join(10)
    assert out == [1]


# ---- the bank's jobs, one tick -------------------------------------------------------------------------

def test_one_tick_seals_refreshes_insight_and_closes_yesterday_with_its_scheduled_transfers(bank, engine):
    today = clock.today()
    yesterday = today - timedelta(days=1)
    alice = bank.customer("王芳")
    src = bank.account(alice, balance=100_000)
    bob = bank.customer("李娜")
    dst = bank.account(bob)
    uid = bank.user("alice", customer_id=alice)
    actor = Principal(user_id=uid, username="alice", role="customer", customer_id=alice)
    with db.session_scope(engine) as s:
        number = ledger.get_account(s, dst).number
        sched = payments.schedule_transfer(s, actor, from_account_id=src, to_account_number=number,
                                           amount_minor=2_500, currency="CNY", frequency="once",
                                           start_date=yesterday, today=yesterday).id
        close_of_day.mark_closed_through(s, yesterday - timedelta(days=1), source="test")
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM ledger_unsealed")).scalar() > 0

    w = Worker(jobs.default_jobs(), guard=NoLock(), clock=clock.FixedClock(TEST_NOW))
    assert w.tick() == {"seal": "ok", "insight": "ok", "close-of-day": "ok", "marketing": "ok"}

    assert w.last["close-of-day"].result == {"closed": [yesterday.isoformat()]}
    assert bank.balance(dst) == 2_500  # yesterday's scheduled transfer ran in yesterday's close of day
    with engine.connect() as c:
        assert c.execute(text("SELECT status FROM scheduled_transfers WHERE id = :i"), {"i": sched}).scalar() \
            == "completed"
        assert c.execute(text("SELECT max(day) FROM business_days")).scalar() in (yesterday, yesterday.isoformat())
        assert c.execute(text("SELECT count(*) FROM customer_profiles")).scalar() == 2
        assert c.execute(text("SELECT count(*) FROM ledger_seals")).scalar() > 0
    assert w.last["insight"].result["mode"] == "full"
    # sealed before the day was closed: the close of day's transfer waits for the next run of the sealer
    assert jobs.seal_journal() >= 1
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM ledger_unsealed")).scalar() == 0
    bank.assert_invariants()


def test_close_of_day_never_closes_today_and_stops_between_days(bank, engine):
    today = clock.today()
    with db.session_scope(engine) as s:
        close_of_day.mark_closed_through(s, today - timedelta(days=4), source="test")
    asked = iter([False, True])  # shutdown is asked after the first day
    out = jobs.close_finished_days(lambda: next(asked))
    assert out == {"closed": [(today - timedelta(days=3)).isoformat()]}
    assert jobs.close_finished_days() == {"closed": [(today - timedelta(days=d)).isoformat() for d in (2, 1)]}
    assert jobs.close_finished_days() == {"closed": []}  # today is closed once it is over
    with engine.connect() as c:
        days = [str(d)[:10] for d in c.execute(text("SELECT day FROM business_days ORDER BY day")).scalars()]
    assert days[-1] == (today - timedelta(days=1)).isoformat() and date.fromisoformat(days[-1]) < today
