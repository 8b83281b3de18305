"""Commands placeholder."""

from __future__ import annotations

import typer


def register(app: typer.Typer, group: typer.Typer, eval_app: typer.Typer) -> None:
    return None
