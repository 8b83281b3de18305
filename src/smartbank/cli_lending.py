"""Lending commands (placeholder, filled in by the lending module)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, lending_app: typer.Typer, eval_app: typer.Typer) -> None:
    return None
