"""``smartbank import customers|accounts|transactions FILE``: data integration and cleaning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from smartbank.cli.common import DbUrl, console
from smartbank.errors import SmartbankError

app = typer.Typer(help="Import customers, accounts or transactions from CSV (.csv.gz) or Parquet with a "
                       "mapping file: validate, standardise, de-duplicate, load, report.",
                  no_args_is_help=True)

MappingOpt = Annotated[Path | None, typer.Option("--mapping", help="mapping YAML (see docs/IMPORT.md)")]  # noqa: UP007
SourceOpt = Annotated[str | None, typer.Option("--source", help="source system name (overrides the mapping's)")]  # noqa: UP007
RejectsOpt = Annotated[Path | None, typer.Option("--rejects", help="rejects CSV (default var/imports/...)")]  # noqa: UP007
ReportOpt = Annotated[Path | None, typer.Option("--report", help="HTML report (default var/imports/...)")]  # noqa: UP007


def _default_mapping(kind: str, source: str | None) -> Path | None:
    if source:
        p = Path(__file__).parent.parent / "insight" / "mappings" / f"{source}_{kind}.yaml"
        if p.is_file():
            return p
    return None


def _run(kind: str, file: Path, mapping: Path | None, source: str | None, rejects: Path | None,
         report: Path | None, database_url: str | None) -> None:
    import os

    from smartbank.config import get_settings, reset_settings
    from smartbank.insight.service import run_import

    if database_url:
        os.environ["SMARTBANK_DATABASE_URL"] = database_url
        reset_settings()
    mapping = mapping or _default_mapping(kind, source)
    if mapping is None:
        console.print("[red]a mapping is required: --mapping FILE.yaml (or --source NAME with a shipped "
                      "mapping insight/mappings/NAME_KIND.yaml)[/]")
        raise typer.Exit(2)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, advance: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            elif total is not None:
                bar.update(tasks[stage], total=total)
            bar.advance(tasks[stage], advance)
            if stage != "load" or advance == 0:
                for other, t in tasks.items():
                    if other != stage:
                        bar.update(t, completed=bar.tasks[t].total or 1, total=bar.tasks[t].total or 1)

        try:
            res = run_import(kind=kind, path=file, mapping_path=mapping, source=source, rejects_path=rejects,
                             report_path=report, progress=progress)
        except SmartbankError as exc:
            console.print(f"[red]import failed ({exc.code}):[/] {exc.message}")
            print(json.dumps({"error": exc.code, "message": exc.message, "details": exc.details},
                             ensure_ascii=False, default=str))
            raise typer.Exit(1) from None
        for t in tasks.values():
            bar.update(t, completed=bar.tasks[t].total or 1, total=bar.tasks[t].total or 1)
    console.print(f"[green]{res.kind} from {res.source}[/]: read {res.rows_read:,}, loaded {res.rows_loaded:,}, "
                  f"rejected {res.rows_rejected:,}, merged {res.rows_merged:,}"
                  + (f", customers created {res.customers_created:,}" if res.customers_created else "")
                  + f" in {res.seconds:.2f} s ({res.rows_per_second:,.0f} rows/s); database "
                  + get_settings().database_url.split("@")[-1])
    top = sorted(res.hits.items(), key=lambda kv: -kv[1])[:12]
    console.print("rule hits: " + ", ".join(f"{k}={v:,}" for k, v in top))
    console.print(f"stages (s): {', '.join(f'{k}={v:.2f}' for k, v in res.stages.items())}")
    print(json.dumps(res.summary(), ensure_ascii=False))


@app.command("customers")
def import_customers(file: Path, mapping: MappingOpt = None, source: SourceOpt = None,
                     rejects: RejectsOpt = None, report: ReportOpt = None, database_url: DbUrl = None) -> None:
    """Customers -> customers (+ customer_source_ids); exact and fuzzy de-duplication."""
    _run("customers", file, mapping, source, rejects, report, database_url)


@app.command("accounts")
def import_accounts(file: Path, mapping: MappingOpt = None, source: SourceOpt = None,
                    rejects: RejectsOpt = None, report: ReportOpt = None, database_url: DbUrl = None) -> None:
    """Accounts -> ledger accounts; an opening balance is a ledger transfer keyed import:SOURCE:ID."""
    _run("accounts", file, mapping, source, rejects, report, database_url)


@app.command("transactions")
def import_transactions(file: Path, mapping: MappingOpt = None, source: SourceOpt = None,
                        rejects: RejectsOpt = None, report: ReportOpt = None,
                        database_url: DbUrl = None) -> None:
    """Transactions -> external_transactions (history from another system; moves no money here)."""
    _run("transactions", file, mapping, source, rejects, report, database_url)
