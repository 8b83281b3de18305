"""The root of the ``smartbank`` command line: the small core commands (``close-of-day``, ``synth``) and every
command group, one module each, added with ``add_typer``. Every command calls the same services as the API and
web UI; heavy libraries are imported inside the commands so that ``smartbank --help`` stays fast."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Annotated

import typer

from smartbank import clock
from smartbank.cli import (
    assistant,
    bench,
    changes,
    demo,
    importing,
    insight,
    keys,
    lending,
    marketing,
    privacy,
    recommend,
    risk,
    serve,
    users,
    wealth,
    worker,
)
from smartbank.cli import db as db_cli
from smartbank.cli import eval as eval_cli
from smartbank.cli import ledger as ledger_cli
from smartbank.cli.common import DbUrl, console, emit, use_database

app = typer.Typer(help="smartbank: an open-source intelligent digital-banking platform.", no_args_is_help=True)


@app.command("close-of-day")
def close_of_day(
    database_url: DbUrl = None,
    day: Annotated[str | None, typer.Option("--date", help="business date YYYY-MM-DD (default today)")] = None,  # noqa: UP007
) -> None:
    """Accrue interest, capitalise at month end, run scheduled transfers; every missed day in order.
    Rerunnable: a closed day is never posted twice."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.ledger.service import seal
    from smartbank.ops.service import close_day, days_to_close

    use_database(database_url)
    try:
        until = date.fromisoformat(day) if day else clock.today()
    except ValueError:
        console.print(f"[red]not a date: {day!r} (use YYYY-MM-DD)[/]")
        raise typer.Exit(2) from None
    try:
        days = db.run_in_transaction(lambda s: days_to_close(s, until))
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    if days:
        console.print(f"closing {len(days)} business day(s): {days[0]} to {days[-1]}")
    results = []
    for d in days:
        r = db.run_in_transaction(partial(close_day, day=d))
        results.append(r.as_dict())
        console.print(f"{d}: {'already closed' if r.skipped else 'closed'}"
                      f" accrued={r.accrued_accounts} capitalised={r.capitalised_accounts}"
                      f" interest={r.interest_posted_minor} scheduled={r.scheduled}")
    db.run_in_transaction(lambda s: seal(s))
    emit({"days": len(results), "results": results[-5:]})


@app.command("synth")
def synth(
    customers: Annotated[int, typer.Option(min=1)] = 1000,
    months: Annotated[int, typer.Option(min=1, max=120)] = 12,
    seed: int = 42,
    bulk: Annotated[bool | None, typer.Option("--bulk/--no-bulk", help="default: bulk for large runs")] = None,
    end_date: Annotated[str | None, typer.Option("--end-date", help="last day, YYYY-MM-DD")] = None,
    database_url: DbUrl = None,
) -> None:
    """Generate a deterministic synthetic bank (customers, accounts, a history of transactions)."""
    from smartbank.ops.service import upgrade
    from smartbank.synth import service as synth_mod

    url = use_database(database_url)
    upgrade(url)
    try:
        end = date.fromisoformat(end_date) if end_date else None
    except ValueError:
        console.print(f"[red]not a date: {end_date!r} (use YYYY-MM-DD)[/]")
        raise typer.Exit(2) from None
    summary = synth_mod.run(url, customers=customers, months=months, seed=seed, bulk=bulk, end_date=end,
                            progress=True)
    emit(summary)


# the order of the groups is the order of ``smartbank --help``
app.add_typer(serve.app)  # smartbank serve
app.add_typer(worker.app)  # smartbank worker
app.add_typer(demo.app)  # smartbank demo
app.add_typer(db_cli.app, name="db")
app.add_typer(ledger_cli.app, name="ledger")
app.add_typer(users.app, name="user")
app.add_typer(changes.app, name="changes")
app.add_typer(bench.app, name="bench")
app.add_typer(insight.app, name="insight")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(risk.app, name="risk")
app.add_typer(lending.app, name="lending")
app.add_typer(wealth.app, name="wealth")
app.add_typer(recommend.app, name="recommend")
app.add_typer(assistant.app, name="assistant")
app.add_typer(importing.app, name="import")
app.add_typer(keys.app, name="keys")
app.add_typer(privacy.app, name="privacy")
app.add_typer(marketing.app, name="marketing")


def main() -> None:  # pragma: no cover
    app()
