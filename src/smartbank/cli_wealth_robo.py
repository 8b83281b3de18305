"""Commands placeholder."""

from __future__ import annotations

import typer


def register(app: typer.Typer, group: typer.Typer, bench_app: typer.Typer) -> None:
    return None
