"""The marketing domain's background work, run by the worker (``smartbank worker``, job ``marketing``): each
part's due work in its own unit of work, so that one part's failure does not hold up the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

__all__ = ["MARKETING_TASKS", "register_task", "run_marketing_tasks"]

# name -> function(session) -> summary; each part registers its due work (sends, journey steps, attribution)
MARKETING_TASKS: dict[str, Callable[[Session], dict[str, Any]]] = {}


def register_task(name: str, fn: Callable[[Session], dict[str, Any]]) -> None:
    MARKETING_TASKS[name] = fn


def run_marketing_tasks(run: Callable[[Callable[[Session], Any]], Any]) -> dict[str, Any]:
    """Run every registered task, each through ``run`` (the caller's unit of work, e.g.
    ``db.run_in_transaction``); a task that fails is reported and the others still run."""
    out: dict[str, Any] = {}
    for name, fn in sorted(MARKETING_TASKS.items()):
        try:
            out[name] = run(fn)
        except Exception as exc:  # noqa: BLE001 - reported, the next run retries
            out[name] = {"error": type(exc).__name__}
    return out
