"""What the command modules share: the stderr console, the ``--database-url`` option, the JSON last line."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console(stderr=True, soft_wrap=True)

DbUrl = Annotated[str | None, typer.Option("--database-url", envvar="SMARTBANK_DATABASE_URL",  # noqa: UP007
                                             help="defaults to SMARTBANK_DATABASE_URL")]


def use_database(url: str | None) -> str:
    """Point the settings at ``url`` when one is given; the database URL in use."""
    import os

    from smartbank.config import get_settings, reset_settings

    if url:
        os.environ["SMARTBANK_DATABASE_URL"] = url
        reset_settings()
    return get_settings().database_url


def emit(obj: object) -> None:
    """Print the command's last line: one JSON object."""
    print(json.dumps(obj, ensure_ascii=False, default=str))


def json_safe(obj: Any) -> Any:
    """JSON-safe: NaN/inf become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def json_safe_rounded(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe and rounded to 6 decimals: NaN/inf become null."""
    def fix(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, float):
            return round(v, 6)
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v
    return {k: fix(v) for k, v in d.items()}
