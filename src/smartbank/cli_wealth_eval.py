"""Wealth and recommendation evaluations (placeholder, filled in by the wealth module)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, bench_app: typer.Typer, eval_app: typer.Typer) -> None:
    return None
