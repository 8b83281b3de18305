"""``smartbank db ...``: the database schema (Alembic migrations)."""

from __future__ import annotations

import typer

from smartbank.cli.common import DbUrl, console, use_database

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(database_url: DbUrl = None, revision: str = "head") -> None:
    """Create or migrate the schema to the latest revision."""
    from smartbank.ops.service import upgrade

    url = use_database(database_url)
    upgrade(url, revision)
    console.print(f"[green]schema at {revision}[/] ({url.split('@')[-1]})")
