"""``smartbank serve``: the web UI and the API, HTTP only (background work runs in ``smartbank worker``)."""

from __future__ import annotations

from pathlib import Path
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
    """Serve the web UI and the API (HTTP only: run one `smartbank worker` beside it for the journal sealer,
    the insight refresh and close of day)."""
    import uvicorn

    from smartbank.config import InsecureSecretKey, get_settings, require_serving_secret

    use_database(database_url)
    s = get_settings()
    try:
        require_serving_secret(s)
    except InsecureSecretKey as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    share_metrics(workers, Path(s.var_dir))
    uvicorn.run("smartbank.api.app:serving_app", factory=True, host=host or s.host, port=port or s.port,
                workers=workers, log_level="warning", access_log=False)


def share_metrics(workers: int, var_dir: Path) -> str | None:
    """Several serving processes: their metrics go to one directory (``PROMETHEUS_MULTIPROC_DIR``, default
    ``<var_dir>/prometheus``, emptied now), which ``/metrics`` sums. One process keeps its own registry, unless
    the directory is set (a worker sharing it). Returns the directory in use, or None."""
    from smartbank import metrics

    path = metrics.multiprocess_dir()
    if path is None and workers <= 1:
        return None
    return str(metrics.use_multiprocess_dir(path or var_dir / "prometheus"))
