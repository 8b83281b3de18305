"""The ``smartbank`` command line (typer): one module per domain, each with a module-level ``app`` that
:mod:`smartbank.cli.main` adds to the root with ``add_typer``."""

from smartbank.cli.main import app, main

__all__ = ["app", "main"]
