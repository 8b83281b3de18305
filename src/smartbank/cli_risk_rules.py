"""``smartbank risk rules ...``: list, create, edit, test against history, shadow-run and report rules.

``list``, ``show`` and ``stats`` read the rules and their live figures; ``test`` backtests a condition, a
stored rule or every default rule over a period of this bank's payments or of a labelled card_fraud-style
file. Commands act as the system user (an administrator). The last line of each is one JSON object.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

ACTIONS = ("flag", "challenge", "review", "block")
# as smartbank.cli.DbUrl (defined here too: typer reads the annotations from this module's globals)
DbUrl = Annotated[str | None, typer.Option("--database-url", envvar="SMARTBANK_DATABASE_URL",  # noqa: UP007
                                           help="defaults to SMARTBANK_DATABASE_URL")]


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.2f}%"


def _yuan(minor: int) -> str:
    return f"{minor / 100:,.2f}"


def register(risk_app: typer.Typer) -> None:
    """Add this module's commands to the ``smartbank risk`` group."""
    rules_app = typer.Typer(help="Risk rules as data: list, show, test against history, live figures.",
                            no_args_is_help=True)
    risk_app.add_typer(rules_app, name="rules")

    @rules_app.command("list")
    def rules_list(retired: Annotated[bool, typer.Option("--retired", help="include retired rules")] = False,
                   database_url: DbUrl = None) -> None:
        """The rules in force (newest version of each), most severe first."""
        from smartbank import db
        from smartbank.risk import rules
        from smartbank.security.service import SYSTEM

        out = db.run_in_transaction(lambda s: rules.list_rules(s, actor=SYSTEM, include_retired=retired),
                                    engine=db.get_engine(database_url))
        for r in out:
            print(f"{r['code']:<28} v{r['version']:<3} {r['action']:<9} {r['mode']:<7} {r['expression']}")
        print(json.dumps({"rules": [{k: r[k] for k in ("code", "version", "action", "mode")} for r in out]},
                         ensure_ascii=False))

    @rules_app.command("show")
    def rules_show(code: Annotated[str, typer.Argument(help="the rule's code")], database_url: DbUrl = None) -> None:
        """A rule with every version."""
        from smartbank import db
        from smartbank.risk import rules
        from smartbank.security.service import SYSTEM

        vers = db.run_in_transaction(lambda s: rules.versions(s, actor=SYSTEM, code=code),
                                     engine=db.get_engine(database_url))
        cur = vers[-1]
        print(f"{cur['code']}: {cur['name_en']} / {cur['name_zh']}")
        print(f"  reason: {cur['reason_en']}\n  原因: {cur['reason_zh']}")
        for v in vers:
            print(f"  v{v['version']:<3} {v['created_at'] or '':<32} {v['action']:<9} {v['mode']:<7} {v['expression']}")
        print(json.dumps({"code": code, "versions": vers}, ensure_ascii=False))

    @rules_app.command("stats")
    def rules_stats(since: Annotated[datetime | None, typer.Option(help="only decisions from this time")] = None,
                    database_url: DbUrl = None) -> None:
        """Live figures per rule from the stored decisions and confirmed labels."""
        from smartbank import db
        from smartbank.risk import rules

        out = db.run_in_transaction(lambda s: rules.rule_stats(s, since), engine=db.get_engine(database_url))
        print(f"{'code':<28} {'hits':>7} {'shadow':>7} {'precision':>9} {'saved (yuan)':>14} {'shadow saves':>14}")
        for r in out:
            print(f"{r['code']:<28} {r['hits']:>7} {r['shadow_hits']:>7} {_pct(r['precision']):>9} "
                  f"{_yuan(r['saved_minor']):>14} {_yuan(r['shadow_would_save_minor']):>14}")
        print(json.dumps({"stats": out}, ensure_ascii=False))

    @rules_app.command("test")
    def rules_test(
        start: Annotated[str, typer.Option("--start", help="first day, YYYY-MM-DD")],
        end: Annotated[str, typer.Option("--end", help="last day (inclusive), YYYY-MM-DD")],
        expression: Annotated[str | None, typer.Option("--expression", "-e", help="a condition to test")] = None,
        action: Annotated[str, typer.Option(help="flag | challenge | review | block")] = "review",
        code: Annotated[str | None, typer.Option("--code", help="test a stored rule (its newest version)")] = None,
        defaults: Annotated[bool, typer.Option("--defaults", help="test every default rule")] = False,
        file: Annotated[Path | None, typer.Option(
            "--file", dir_okay=False, help="a labelled card_fraud-style file (default: this bank's payments)")]
        = None,
        sample: Annotated[int, typer.Option(min=0, max=50, help="hits to list")] = 5,
        database_url: DbUrl = None,
    ) -> None:
        """Backtest over [start, end]: scanned, hits, recall, precision, money saved. Nothing is written."""
        from smartbank import db
        from smartbank.errors import SmartbankError
        from smartbank.risk import rules
        from smartbank.security.service import SYSTEM

        if sum(x is not None and x is not False for x in (expression, code, defaults or None)) != 1:
            raise typer.BadParameter("give exactly one of --expression, --code or --defaults")
        if action not in ACTIONS:
            raise typer.BadParameter(f"--action must be one of {', '.join(ACTIONS)}")
        try:
            lo, hi = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError as exc:
            raise typer.BadParameter("dates are YYYY-MM-DD") from exc
        engine = db.get_engine(database_url) if file is None or code else None
        todo: list[tuple[str, str, str]] = []
        if expression is not None:
            todo.append(("(draft)", expression, action))
        elif code is not None:
            r = db.run_in_transaction(lambda s: rules.get_rule(s, actor=SYSTEM, code=code), engine=engine)
            todo.append((code, r["expression"], r["action"]))
        else:
            todo += [(d.code, d.expression, d.action) for d in rules.DEFAULT_RULES]
        t0 = time.perf_counter()
        try:
            if file is not None:
                if not file.is_file():
                    raise typer.BadParameter(f"no such file: {file}")
                frame = rules.file_frame(file, lo, hi)
            else:
                frame = db.run_in_transaction(lambda s: rules.history_frame(s, lo, hi), engine=engine)
            built = time.perf_counter() - t0
            results: list[dict[str, Any]] = []
            for name, expr, act in todo:
                out = rules.backtest(frame, expr, act, sample=sample)
                out["code"] = name
                results.append(out)
        except SmartbankError as exc:
            raise typer.BadParameter(exc.message) from exc
        elapsed = time.perf_counter() - t0
        src = str(file) if file is not None else "bank"
        print(f"source {src}, {lo} .. {hi}: {frame.height:,} payments, {int(frame['fraud'].eq(1).sum()):,} known "
              f"frauds; features {built:.2f} s, total {elapsed:.2f} s")
        print(f"{'code':<28} {'action':<9} {'hits':>7} {'hit rate':>9} {'recall':>14} {'precision':>9} "
              f"{'false +':>7} {'saved (yuan)':>14} {'challenged':>12}")
        for o in results:
            print(f"{o['code']:<28} {o['action']:<9} {o['hits']:>7} {_pct(o['hit_rate']):>9} "
                  f"{o['frauds_hit']:>5}/{o['frauds']:<5} {_pct(o['recall']):>7} {_pct(o['precision']):>9} "
                  f"{o['false_positives']:>7} {_yuan(o['money_saved_minor']):>14} "
                  f"{_yuan(o['challenged_fraud_minor']):>12}")
        print(json.dumps({"source": src, "start": str(lo), "end": str(hi), "payments": frame.height,
                          "seconds": round(elapsed, 3),
                          "results": [{k: v for k, v in o.items() if k != "names"} for o in results]},
                         ensure_ascii=False))
