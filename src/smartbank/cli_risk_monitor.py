"""``smartbank risk monitor ...``: KRIs, early warnings, model drift (PSI), limits and the risk register."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from smartbank import clock


def _parse_now(text: str | None) -> datetime:
    if not text:
        return clock.now()
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter("an ISO date or date-time, e.g. 2026-11-24T18:00:00+08:00") from exc
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def register(risk_app: typer.Typer) -> None:
    """Add this module's commands to the ``smartbank risk`` group."""

    @risk_app.command("monitor")
    def monitor_cmd(
        now: Annotated[str | None, typer.Option(help="evaluate as of this moment (ISO; default: now)")] = None,
        period_days: Annotated[int, typer.Option(min=1, max=90, help="model-drift period in days")] = 7,
    ) -> None:
        """Model drift (PSI per model version) and every KRI; stores the values, raises early warnings.

        Prints the KRIs and the open warnings; the last line is one JSON object."""
        from rich.console import Console
        from rich.table import Table

        from smartbank import db
        from smartbank.risk import monitor
        from smartbank.security.service import SYSTEM

        at = _parse_now(now)

        def work(s: Any) -> dict[str, Any]:
            res = monitor.run(s, at, period_days=period_days)
            res["open_warnings"] = monitor.list_warnings(s, SYSTEM, open_only=True, limit=50)
            res["kri_rows"] = monitor.list_kris(s, SYSTEM)
            return res

        res = db.run_in_transaction(work)
        console = Console(stderr=True, soft_wrap=True)
        table = Table(title=f"KRIs at {res['at']:%Y-%m-%d %H:%M} UTC")
        for col in ("KRI", "metric", "value", "warn", "breach", "level"):
            table.add_column(col)
        for k in res["kri_rows"]:
            table.add_row(k["code"], k["metric"], k["display"], f"{k['warn_threshold']:g}",
                          f"{k['breach_threshold']:g}", k["level"] or "-")
        console.print(table)
        for d in res["model_drift"]:
            psi = "-" if d["psi"] is None else f"{d['psi']:.3f}"
            console.print(f"model {d['model_version']}: n={d['n']} PSI={psi} ({d['reference']}) {d['status']}")
        if not res["model_drift"]:
            console.print("model drift: no scored payments in the period")
        for w in res["open_warnings"]:
            console.print(f"[{w['level']}] {w['at']:%Y-%m-%d %H:%M} {w['message_en']}")
        levels: dict[str, int] = {}
        for k in res["kris"]:
            levels[k["level"]] = levels.get(k["level"], 0) + 1
        print(json.dumps({"at": res["at"].isoformat(), "kris": len(res["kris"]), "levels": levels,
                          "model_drift": [{k: d[k] for k in ("model_version", "n", "psi", "status")}
                                          for d in res["model_drift"]],
                          "warnings_raised": res["warnings_raised"], "open_warnings": len(res["open_warnings"])},
                         default=str))
