"""``python -m smartbank.cli``."""

from smartbank.cli.main import app

app()
