"""The background worker: periodic jobs run outside the web processes, by one worker at a time.

``smartbank serve`` answers HTTP and nothing else; ``smartbank worker`` runs the bank's background work
(the job table is :mod:`smartbank.ops.jobs`: the journal sealer, the insight refreshes, close of day with its
scheduled transfers); ``smartbank demo`` runs both in one process. This module knows no domain: it runs
:class:`Job` objects, each on its own interval, and keeps a second worker from running them at the same time.

- **Intervals**: a job runs again ``interval`` seconds after its previous run ended, read on an injectable
  clock (:mod:`smartbank.clock`): tests drive :meth:`Worker.tick` on a ``FixedClock`` and never sleep. The
  default clock starts at the bank's instant and moves with elapsed time, so a bank clock stopped with
  ``SMARTBANK_CLOCK=fixed:...`` does not stop the sealer.
- **Isolation**: a job that raises is logged (with its traceback) and counted, and runs again at its next
  interval; the other jobs go on. In :meth:`Worker.run` each job has its own thread, so a long close of day
  does not hold up sealing.
- **One worker at a time**: :meth:`Worker.run` first takes a lock (:func:`guard_for`): a session-level
  advisory lock on PostgreSQL, held on a connection of its own for the worker's life; an exclusive ``flock``
  on a file next to the database on SQLite. A second worker stands by and takes over when the first one
  stops. Losing the PostgreSQL connection loses the lock: the worker then stops with status 1, for its
  supervisor to restart it.
- **Shutdown**: SIGTERM or SIGINT asks every job to stop; a job that is running finishes (a long one checks
  ``stopping()`` between its steps, each its own transaction), then the lock is released.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import Counter, Histogram
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from smartbank import clock as bank_clock
from smartbank import db, logs, metrics
from smartbank.config import get_settings

log = logging.getLogger("smartbank.worker")

JOB_RUNS = Counter("smartbank_worker_job_runs_total", "Background job runs", ["job", "outcome"])
JOB_SECONDS = Histogram("smartbank_worker_job_seconds", "Background job run time", ["job"],
                        buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800))

# the advisory lock a running worker holds (the sealer's and the insight refresh's locks are other keys)
WORKER_LOCK_ID = 74110002


@dataclass(frozen=True)
class Job:
    """``run(stopping)`` is called every ``interval`` seconds (from the end of its previous run; an interval of
    0 or less: never). ``stopping()`` tells a long run that the worker is shutting down."""

    name: str
    interval: float
    run: Callable[[Callable[[], bool]], Any]


# ------------------------------------------------------------------------------------------------
# one worker at a time


class InstanceGuard(Protocol):
    def acquire(self) -> bool:
        """Take the lock without waiting: True when this worker holds it now."""

    def held(self) -> bool:
        """Whether this worker still holds the lock."""

    def release(self) -> None:
        """Let the lock go (nothing happens when it is not held)."""


class AdvisoryLockGuard:
    """PostgreSQL: ``pg_try_advisory_lock`` on a connection of its own (no pool), held until released or the
    connection ends - a worker that dies loses the lock with its connection."""

    def __init__(self, url: str, key: int = WORKER_LOCK_ID) -> None:
        self.url, self.key = url, key
        self._engine: Engine | None = None
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return True
        engine = db.make_engine(self.url, poolclass=pool.NullPool)
        conn = engine.connect()
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
            conn.commit()  # a session-level lock outlives the transaction: the connection is not left open in one
        except BaseException:
            conn.close()
            engine.dispose()
            raise
        if not got:
            conn.close()
            engine.dispose()
            return False
        self._engine, self._conn = engine, conn
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except DBAPIError:
            log.exception("the worker's lock connection is gone")
            self._close()
            return False

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._conn.commit()
        except DBAPIError:  # the connection is gone, and the lock with it
            pass
        finally:
            self._close()

    def _close(self) -> None:
        conn, engine = self._conn, self._engine
        self._conn = self._engine = None
        if conn is not None:
            with contextlib.suppress(DBAPIError):
                conn.close()
        if engine is not None:
            engine.dispose()


class FileLockGuard:
    """SQLite (one machine): an exclusive ``flock`` on a lock file, released by the kernel if the worker dies.
    The file holds the pid of the worker that has it, for people; the lock is the ``flock``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def lock_file_for(url: str) -> Path:
    """Where the SQLite worker lock lives: next to the database file (``<db>.worker.lock``)."""
    u = make_url(db.normalise_url(url))
    if u.database and u.database != ":memory:":
        return Path(u.database + ".worker.lock")
    return Path(get_settings().var_dir) / "worker.lock"


def guard_for(url: str) -> InstanceGuard:
    """The single-instance lock of the workers of the database at ``url``."""
    if make_url(db.normalise_url(url)).get_backend_name() == "postgresql":
        return AdvisoryLockGuard(url)
    return FileLockGuard(lock_file_for(url))


# ------------------------------------------------------------------------------------------------
# the worker


def _elapsed_clock() -> bank_clock.Clock:
    """The bank's instant now, moving with elapsed (monotonic) time from then on."""
    return bank_clock.TickingClock(bank_clock.now())


@dataclass
class LastRun:
    outcome: str  # ok | failed
    at: datetime
    result: Any = None


class Worker:
    """Runs ``jobs`` on their intervals while holding ``guard``. :meth:`tick` runs what is due once, in the
    caller's thread; :meth:`run` is the process's loop."""

    def __init__(self, jobs: Sequence[Job], *, guard: InstanceGuard, clock: bank_clock.Clock | None = None,
                 poll_seconds: float = 1.0, standby_seconds: float = 5.0) -> None:
        names = [j.name for j in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must differ: {names}")
        self.jobs = [j for j in jobs if j.interval > 0]
        self.guard = guard
        self.clock = clock or _elapsed_clock()
        self.poll_seconds = poll_seconds
        self.standby_seconds = standby_seconds
        self.last: dict[str, LastRun] = {}
        self._due: dict[str, datetime] = {}
        self._stop = threading.Event()

    # -- one pass ------------------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> list[Job]:
        at = now or self.clock.now()
        return [j for j in self.jobs if self._due.get(j.name, at) <= at]

    def tick(self) -> dict[str, str]:
        """Run every job due at the clock's instant, one after another: ``{job: "ok" | "failed"}``."""
        return {j.name: self._run(j) for j in self.due()}

    def run_all(self) -> dict[str, str]:
        """Run every job once now, due or not (``smartbank worker --once``)."""
        return {j.name: self._run(j) for j in self.jobs}

    def _run(self, job: Job) -> str:
        t0 = time.monotonic()  # a duration, not the bank's time
        result: Any = None
        try:
            result = job.run(self._stop.is_set)
            outcome = "ok"
        except Exception:  # noqa: BLE001 - one job's failure never stops the others; it runs again next interval
            log.exception("job %s failed", job.name, extra={"fields": {"job": job.name}})
            outcome = "failed"
        JOB_RUNS.labels(job.name, outcome).inc()
        JOB_SECONDS.labels(job.name).observe(time.monotonic() - t0)
        now = self.clock.now()
        self.last[job.name] = LastRun(outcome, now, result)
        self._due[job.name] = now + timedelta(seconds=job.interval)
        return outcome

    # -- the process loop ----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end: running jobs finish, then :meth:`run` returns."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, *, handle_signals: bool = True) -> int:
        """Take the lock (standing by while another worker holds it), run every job on its interval until
        :meth:`stop`, SIGTERM or SIGINT, then release the lock. Returns 0, or 1 when the lock was lost."""
        restore = self._install_signal_handlers() if handle_signals else (lambda: None)
        try:
            return self._run_loop()
        finally:
            self.guard.release()
            restore()

    def _run_loop(self) -> int:
        waiting = False
        while not self.guard.acquire():
            if not waiting:
                log.info("another worker holds the lock: standing by")
                waiting = True
            if self._stop.wait(self.standby_seconds):
                return 0
        if self._stop.is_set():
            return 0
        log.info("worker running", extra={"fields": {"jobs": {j.name: j.interval for j in self.jobs}}})
        lanes = [threading.Thread(target=self._lane, args=(j,), name=f"worker-{j.name}", daemon=True)
                 for j in self.jobs]
        for t in lanes:
            t.start()
        lost = False
        while not self._stop.wait(self.standby_seconds):
            if not self.guard.held():
                log.error("the worker lost its lock: stopping (its supervisor restarts it)")
                lost = True
                self._stop.set()
        for t in lanes:
            t.join()
        log.info("worker stopped")
        return 1 if lost else 0

    def _lane(self, job: Job) -> None:
        while not self._stop.is_set():
            now = self.clock.now()
            due = self._due.get(job.name, now)
            if due <= now:
                self._run(job)
                continue
            self._stop.wait(min(self.poll_seconds, max(0.01, (due - now).total_seconds())))

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None  # only the main thread may handle signals: the owner calls stop()
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("%s: stopping after the running jobs", signal.Signals(signum).name)
            self.stop()

        for sig in previous:
            signal.signal(sig, on_signal)

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore


def run_process(jobs: Sequence[Job], *, url: str | None = None, once: bool = False) -> tuple[int, dict[str, str]]:
    """The worker process (``smartbank worker``): its log thread, the lock of the database at ``url`` (default:
    the configured one), the jobs until SIGTERM/SIGINT - or, with ``once``, every job once, refused while
    another worker holds the lock. Returns the exit status (0 when everything ran) and, with ``once``, each
    job's outcome."""
    settings = get_settings()
    logs.configure(settings.log_json)
    worker = Worker(jobs, guard=guard_for(url or settings.database_url))
    with logs.running():
        try:
            if not once:
                return worker.run(), {}
            if not worker.guard.acquire():
                log.error("another worker holds the lock: nothing run")
                return 1, {}
            try:
                out = worker.run_all()
            finally:
                worker.guard.release()
            return (0 if all(v == "ok" for v in out.values()) else 1), out
        finally:
            metrics.mark_process_dead()  # several processes share the metrics: this one's live gauges leave


def start_in_thread(worker: Worker) -> threading.Thread:
    """Run ``worker`` in a background thread of this process (``smartbank demo``); stop it with
    ``worker.stop()`` and join the thread."""
    t = threading.Thread(target=worker.run, kwargs={"handle_signals": False}, name="smartbank-worker",
                         daemon=True)
    t.start()
    return t


__all__ = ["AdvisoryLockGuard", "FileLockGuard", "InstanceGuard", "JOB_RUNS", "Job", "LastRun", "WORKER_LOCK_ID",
           "Worker", "guard_for", "lock_file_for", "run_process", "start_in_thread"]
