"""``smartbank worker``: the bank's background work - the journal sealer, the insight refresh, close of day with
its scheduled transfers - in a process of its own (:mod:`smartbank.ops.worker`, the jobs in
:mod:`smartbank.ops.jobs`). Run one beside ``smartbank serve``; a second one stands by until the first stops."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from smartbank.cli.common import DbUrl, console, emit, use_database

if TYPE_CHECKING:
    from smartbank.ops.service import Worker

app = typer.Typer()


@app.command("worker")
def worker(
    job: Annotated[list[str] | None, typer.Option(  # noqa: UP007
        "--job", help="run only this job (repeatable): seal, insight, close-of-day")] = None,
    once: Annotated[bool, typer.Option("--once", help="run each job once now and exit (the JSON line says how "
                                                      "each went)")] = False,
    database_url: DbUrl = None,
) -> None:
    """Run the background jobs on their intervals until SIGTERM or Ctrl-C (one worker at a time per database)."""
    from smartbank.ops import service as ops

    use_database(database_url)
    try:
        chosen = ops.default_jobs(only=job)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if not [j for j in chosen if j.interval > 0]:
        console.print("[red]no job to run: every chosen job has an interval of 0 (switched off)[/]")
        raise typer.Exit(2)
    if not once:
        console.print("smartbank worker: " + ", ".join(f"{j.name} every {j.interval:g}s" for j in chosen
                                                        if j.interval > 0) + " (Ctrl-C stops)")
    status, outcomes = ops.run_process(chosen, once=once)
    if once:
        emit({"jobs": outcomes, "ok": status == 0})
    raise typer.Exit(status)


@contextmanager
def worker_in_thread() -> Iterator[Worker]:
    """The background jobs in a thread of this process while the block runs (``smartbank demo``), with the log
    thread; stopped (after its running job) when the block ends."""
    from smartbank import logs
    from smartbank.config import get_settings
    from smartbank.ops import service as ops

    s = get_settings()
    logs.configure(s.log_json)
    w = ops.Worker(ops.default_jobs(s), guard=ops.guard_for(s.database_url))
    with logs.running():
        t = ops.start_in_thread(w)
        try:
            yield w
        finally:
            w.stop()
            t.join()
