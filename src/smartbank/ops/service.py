"""The front door of operations (:data:`__all__`): close of day (:mod:`.close_of_day`), database migrations
(:mod:`.migrate`), encrypted backups and restores (:mod:`.backup`) and the background worker with its jobs
(:mod:`.worker`, :mod:`.jobs`). Ops sits at the top of the domains: close of day and the jobs run every domain's
end-of-day and background work, through their front doors."""

from __future__ import annotations

from smartbank.ops.backup import BackupError, BackupResult, Manifest, RestoreResult, backup, read_manifest, restore
from smartbank.ops.close_of_day import (
    DayResult,
    close_day,
    days_to_close,
    last_closed_day,
    mark_closed_through,
    next_day_to_close,
)
from smartbank.ops.jobs import JOB_NAMES, default_jobs
from smartbank.ops.migrate import head_revision, known_revision, upgrade
from smartbank.ops.worker import Job, Worker, guard_for, run_process, start_in_thread

__all__ = [
    # close of day
    "DayResult", "close_day", "days_to_close", "last_closed_day", "mark_closed_through", "next_day_to_close",
    # migrations
    "head_revision", "known_revision", "upgrade",
    # backups
    "BackupError", "BackupResult", "Manifest", "RestoreResult", "backup", "read_manifest", "restore",
    # the background worker
    "JOB_NAMES", "Job", "Worker", "default_jobs", "guard_for", "run_process", "start_in_thread",
]
