"""``smartbank db ...``: the database schema (Alembic migrations), encrypted backups and restores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smartbank.cli.common import DbUrl, console, emit, use_database

app = typer.Typer(help="Database schema (Alembic migrations), encrypted backups and restores.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(database_url: DbUrl = None, revision: str = "head") -> None:
    """Create or migrate the schema to the latest revision."""
    from smartbank.ops.service import upgrade

    url = use_database(database_url)
    upgrade(url, revision)
    console.print(f"[green]schema at {revision}[/] ({url.split('@')[-1]})")


@app.command("backup")
def db_backup(
    out: Annotated[Path, typer.Argument(help="the backup file to write (refused if it exists)")],
    database_url: DbUrl = None,
) -> None:
    """Write an encrypted backup of the database (SQLite online backup, PostgreSQL pg_dump) with its manifest."""
    from smartbank.errors import SmartbankError
    from smartbank.ops.service import backup

    use_database(database_url)
    try:
        with console.status(f"backing up to {out}..."):
            res = backup(out)
    except SmartbankError as exc:
        console.print(f"[red]no backup[/]: {exc.message}")
        raise typer.Exit(1) from exc
    d = res.as_dict()
    console.print(f"[green]backup written[/]: {d['file']} ({d['backend']}, schema {d['schema_revision']},"
                  f" {d['rows']} rows in {d['tables']} tables, journal head #{d['journal_head']['seq']})")
    emit(d)


@app.command("restore")
def db_restore(
    backup_file: Annotated[Path, typer.Argument(metavar="IN", help="the backup file to restore")],
    force: Annotated[bool, typer.Option("--force", help="replace a database that is not empty")] = False,
    database_url: DbUrl = None,
) -> None:
    """Restore an encrypted backup into the configured database, check it against its manifest, verify the ledger."""
    from smartbank.errors import SmartbankError
    from smartbank.ops.service import restore

    use_database(database_url)
    try:
        with console.status(f"restoring {backup_file}..."):
            res = restore(backup_file, force=force)
    except SmartbankError as exc:
        console.print(f"[red]not restored[/] (nothing was written): {exc.message}")
        raise typer.Exit(1) from exc
    d = res.as_dict()
    for note in res.notes:
        console.print(f"[yellow]note[/]: {note}")
    if res.ok:
        console.print(f"[green]restored[/] {d['rows']} rows (backup of {d['backup_created_at']}); ledger verify OK,"
                      f" journal head #{d['journal_head']['seq']}")
    else:
        console.print(f"[red]restored, but the ledger does not verify[/]: {d['verify_problems'][:3]}")
    emit(d)
    raise typer.Exit(0 if res.ok else 1)
