"""``smartbank marketing journey ...``: event-triggered journeys. Commands act as the system user; the last line
of each is one JSON object."""

from __future__ import annotations

from typing import Annotated

import typer

from smartbank.cli.common import DbUrl, emit

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def journey_list(database_url: DbUrl = None) -> None:
    """Every journey (latest version): trigger, status and runs per status."""
    from smartbank import db
    from smartbank.marketing import service as marketing
    from smartbank.security.service import SYSTEM

    items = db.run_in_transaction(lambda s: marketing.list_journeys(s, SYSTEM), engine=db.get_engine(database_url))
    for j in items:
        r = j["runs"]
        typer.echo(f"{j['code']:<18} v{j['version']:<3} {j['trigger']:<18} {j['status']:<10} "
                   f"active {r['active']:>5}  completed {r['completed']:>5}  exited {r['exited']:>5}", err=True)
    emit({"journeys": [{"code": j["code"], "version": j["version"], "status": j["status"], "runs": j["runs"]}
                       for j in items]})


@app.command("show")
def journey_show(code: str, database_url: DbUrl = None) -> None:
    """A journey's steps, runs per status and per-step funnel."""
    from smartbank import db
    from smartbank.marketing import service as marketing
    from smartbank.security.service import SYSTEM

    j = db.run_in_transaction(lambda s: marketing.get_journey(s, SYSTEM, code), engine=db.get_engine(database_url))
    for st in j["steps"]:
        f = j["stats"]["funnel"].get(st["id"], {})
        typer.echo(f"{st['id']:<12} {st['type']:<9} reached {f.get('runs', 0):>5}  {f.get('outcomes', {})}", err=True)
    emit({k: j[k] for k in ("code", "version", "status", "trigger", "stats")})


@app.command("emit")
def journey_emit(kind: str, customer_id: Annotated[int, typer.Option("--customer", min=1)],
                 ref: Annotated[str, typer.Option("--ref", help="the event's reference, unique per kind")],
                 database_url: DbUrl = None) -> None:
    """Record an event (idempotent on kind + ref) and start the journeys it triggers."""
    from smartbank import db
    from smartbank.marketing import service as marketing

    emit(db.run_in_transaction(lambda s: marketing.emit_event(s, kind, customer_id, ref),
                               engine=db.get_engine(database_url)))


@app.command("advance")
def journey_advance(database_url: DbUrl = None) -> None:
    """The worker's journeys task once: detect events in the bank's records, advance the runs that are due."""
    from smartbank import db
    from smartbank.marketing import service as marketing

    emit(db.run_in_transaction(marketing.run_journeys_task, engine=db.get_engine(database_url)))


@app.command("seed")
def journey_seed(enable: Annotated[bool, typer.Option("--enable", help="enable them at once (the demo)")] = False,
                 database_url: DbUrl = None) -> None:
    """The default journeys that are missing: drafts waiting for approval, or enabled (``--enable``)."""
    from smartbank import db
    from smartbank.marketing import service as marketing

    emit(db.run_in_transaction(lambda s: marketing.seed_journeys(s, enable=enable),
                               engine=db.get_engine(database_url)))
