"""``smartbank ledger ...``: verify, seal and rekey the tamper-evident journal."""

from __future__ import annotations

import typer

from smartbank.cli.common import DbUrl, console, emit, use_database

app = typer.Typer(help="The ledger: verify and seal the tamper-evident journal.", no_args_is_help=True)


@app.command("verify")
def ledger_verify(database_url: DbUrl = None) -> None:
    """Recompute the hash chain and every balance; exit 1 naming the first broken entry."""
    from smartbank import db
    from smartbank.ledger.service import verify

    use_database(database_url)
    rep = db.run_in_transaction(lambda s: verify(s))
    d = rep.as_dict()
    if rep.ok:
        console.print(f"[green]ledger OK[/]: {rep.sealed} sealed transfers, {rep.unsealed} awaiting seal, "
                      f"{rep.accounts} accounts, totals {rep.totals_by_currency}, anchored by checkpoint "
                      f"{(rep.checkpoint or {}).get('seq', '-')} ({rep.checkpoint_file})")
    else:
        fb = rep.first_broken or {}
        console.print(f"[red]LEDGER BROKEN[/]: first broken: {fb.get('problem') or rep.problems[0]}")
        for p in rep.problems[:10]:
            console.print(f"  - {p}")
    emit(d)
    raise typer.Exit(0 if rep.ok else 1)


@app.command("rekey")
def ledger_rekey(database_url: DbUrl = None) -> None:
    """Key a journal sealed before its chain was keyed (checks every plain SHA-256 link first), once."""
    from smartbank import db
    from smartbank.ledger.service import rekey

    use_database(database_url)
    try:
        n = db.run_in_transaction(lambda s: rekey(s))
    except RuntimeError as exc:
        console.print(f"[red]not rekeyed[/]: {exc}")
        raise typer.Exit(1) from exc
    emit({"rekeyed": n})


@app.command("seal")
def ledger_seal(database_url: DbUrl = None) -> None:
    """Chain every committed transfer into the journal now (`smartbank worker` does this every second)."""
    from smartbank import db
    from smartbank.ledger.service import seal

    use_database(database_url)
    n = db.run_in_transaction(lambda s: seal(s))
    emit({"sealed": n})
