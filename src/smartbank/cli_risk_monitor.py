"""``smartbank risk monitor ...``: KRIs, early warnings, model drift (PSI), limits and the risk register."""

from __future__ import annotations

import typer


def register(risk_app: typer.Typer) -> None:
    """Add this module's commands to the ``smartbank risk`` group."""
