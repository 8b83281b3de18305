"""``smartbank risk rules ...``: list, create, edit, test against history, shadow-run and report rules."""

from __future__ import annotations

import typer


def register(risk_app: typer.Typer) -> None:
    """Add this module's commands to the ``smartbank risk`` group."""
