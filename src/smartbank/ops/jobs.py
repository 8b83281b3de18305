"""The bank's background jobs, as ``smartbank worker`` runs them (the loop is :mod:`smartbank.ops.worker`).

=============  =========================================  ==========================================
job            what it does                               interval (setting, seconds; 0 = never)
=============  =========================================  ==========================================
seal           chains committed transfers into the        ``SMARTBANK_SEAL_INTERVAL_SECONDS`` (1)
               journal (at most 20 batches a run)
insight        folds new activity into customer profiles  ``SMARTBANK_INSIGHT_REFRESH_SECONDS`` (5)
               and tags (a full refresh when the day or
               a tag definition changed)
close-of-day   closes every finished business day not     ``SMARTBANK_CLOSE_OF_DAY_CHECK_SECONDS``
               yet closed, in order: interest, scheduled  (300)
               transfers, overdue bills, loan servicing,
               risk indicators, wealth settlement
marketing      due campaign sends, journey steps,         ``SMARTBANK_MARKETING_INTERVAL_SECONDS``
               attribution, points expiry, opinion        (60)
               spikes (each part in its own transaction)
=============  =========================================  ==========================================

Each run owns its transactions (like a CLI command): a failure rolls back its own work only. Close of day
closes one day per transaction and stops between days when the worker shuts down; a day is closed once
the bank's date has moved past it (``smartbank close-of-day`` closes today on demand).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from smartbank import clock, db
from smartbank.config import Settings, get_settings
from smartbank.insight import service as insight
from smartbank.ledger import service as ledger
from smartbank.loyalty import service as loyalty
from smartbank.marketing import service as marketing
from smartbank.opinion import service as opinion
from smartbank.ops import close_of_day
from smartbank.ops.worker import Job

log = logging.getLogger("smartbank.worker")

JOB_NAMES = ("seal", "insight", "close-of-day", "marketing")


def seal_journal(stopping: Callable[[], bool] = lambda: False) -> int:
    """Chain what was committed since the last run (bounded, so a backlog is sealed over several runs)."""
    return db.run_in_transaction(lambda s: ledger.seal(s, max_batches=20))


def refresh_insight(stopping: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    return insight.refresh_incremental()


def close_finished_days(stopping: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Close every business day before the bank's today that is not closed yet, oldest first."""
    until = clock.today() - timedelta(days=1)
    days = db.run_in_transaction(lambda s: close_of_day.days_to_close(s, until))
    closed: list[str] = []
    for d in days:
        if stopping():
            break
        r = db.run_in_transaction(partial(close_of_day.close_day, day=d))
        if not r.skipped:
            closed.append(d.isoformat())
            log.info("business day %s closed", d.isoformat(), extra={"fields": {"close_of_day": r.as_dict()}})
    return {"closed": closed}


def run_marketing(stopping: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """The marketing domain's due work, then the loyalty programme's (points earned and expired) and public-opinion
    monitoring's (spikes, SLA breaches), each in its own transaction: one failing does not hold up the others."""
    out = marketing.run_marketing_tasks(db.run_in_transaction)
    for name, fn in (("loyalty", loyalty.run_due), ("opinion", opinion.run_due)):
        try:
            out[name] = db.run_in_transaction(fn)
        except Exception as exc:  # noqa: BLE001 - reported, the next run retries
            log.exception("marketing job: %s failed", name)
            out[name] = {"error": type(exc).__name__}
    return out


def default_jobs(settings: Settings | None = None, *, only: Sequence[str] | None = None) -> list[Job]:
    """The worker's jobs with their intervals from ``settings``; ``only``: these jobs alone (by name)."""
    s = settings or get_settings()
    jobs = [Job("seal", s.seal_interval_seconds, seal_journal),
            Job("insight", s.insight_refresh_seconds, refresh_insight),
            Job("close-of-day", s.close_of_day_check_seconds, close_finished_days),
            Job("marketing", s.marketing_interval_seconds, run_marketing)]
    if only:
        unknown = sorted(set(only) - set(JOB_NAMES))
        if unknown:
            raise ValueError(f"unknown job(s) {', '.join(unknown)}: the jobs are {', '.join(JOB_NAMES)}")
        jobs = [j for j in jobs if j.name in only]
    return jobs


__all__ = ["JOB_NAMES", "close_finished_days", "default_jobs", "refresh_insight", "run_marketing", "seal_journal"]
