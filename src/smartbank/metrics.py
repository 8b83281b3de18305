"""Prometheus metrics of this process, or of every process serving the bank.

One process (``smartbank serve`` with one worker, ``smartbank demo``): the counters live in the process's
default registry and ``/metrics`` shows them.

Several processes (``smartbank serve --workers N``, and a ``smartbank worker`` given the same directory):
prometheus_client's multiprocess mode. ``PROMETHEUS_MULTIPROC_DIR`` names a directory where every process
writes its counters to memory-mapped files (the variable must be set before the process first imports
prometheus_client: the serving command sets it before it starts its workers); ``/metrics``, in whichever
process answers, sums the files of all of them (:class:`prometheus_client.multiprocess.MultiProcessCollector`).
A process that exits calls :func:`mark_process_dead` so its live gauges are dropped; its counters stay in
the sum. The directory is emptied when the serving command starts (stale files would add old counts).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

ENV = "PROMETHEUS_MULTIPROC_DIR"
_METRIC_FILES = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")


def multiprocess_dir() -> str | None:
    """The multiprocess directory in force, or None (single-process registry)."""
    return os.environ.get(ENV) or None


def use_multiprocess_dir(path: str | Path) -> Path:
    """Create (or empty) ``path`` and name it in this process's environment, so that the processes it starts
    from now on write their metrics there. Only the metric files of a previous run are removed."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    for pattern in _METRIC_FILES:
        for f in p.glob(pattern):
            f.unlink(missing_ok=True)
    os.environ[ENV] = str(p)
    return p


def payload() -> tuple[bytes, str]:
    """The text exposition: the sum over every process in multiprocess mode, this process's otherwise."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int | None = None) -> None:
    """At a process's exit in multiprocess mode: drop its live gauges from the sum (no-op otherwise)."""
    path = multiprocess_dir()
    if path is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid if pid is not None else os.getpid(), path)


__all__ = ["ENV", "mark_process_dead", "multiprocess_dir", "payload", "use_multiprocess_dir"]
