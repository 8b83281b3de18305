"""``smartbank serve``: the web UI and the API."""

from __future__ import annotations

from typing import Annotated

import typer

from smartbank.cli.common import DbUrl, console, use_database

app = typer.Typer()


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,  # noqa: UP007
    port: Annotated[int | None, typer.Option()] = None,  # noqa: UP007
    workers: int = 1,
    database_url: DbUrl = None,
) -> None:
    """Serve the web UI and the API (the journal sealer runs in the background)."""
    import uvicorn

    from smartbank.config import InsecureSecretKey, get_settings, require_serving_secret

    use_database(database_url)
    s = get_settings()
    try:
        require_serving_secret(s)
    except InsecureSecretKey as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    uvicorn.run("smartbank.api.app:serving_app", factory=True, host=host or s.host, port=port or s.port,
                workers=workers, log_level="warning", access_log=False)
