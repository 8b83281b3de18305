"""``smartbank insight ...``: profile refresh, the insight models (train, report) and tag definitions."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from smartbank import clock
from smartbank.cli.common import DbUrl, console, emit, use_database
from smartbank.money import format_mean_minor

app = typer.Typer(help="Customer insight: profiles, tags, segments, value, churn.", no_args_is_help=True)
tags_app = typer.Typer(help="Tag definitions: rules over profile features, versioned.", no_args_is_help=True)
app.add_typer(tags_app, name="tags")


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD") from exc


def _load_source(source: str, as_of: date | None) -> tuple[Any, Any, date, Any]:
    """(activity, customers, as_of, holdings or None: card_fraud has no balances)."""
    holdings = None
    if source == "card_fraud":
        from smartbank.ml.service import load_card_fraud

        activity, customers = load_card_fraud()
    elif source == "database":
        from smartbank import db
        from smartbank.insight import service as insight

        engine = db.get_engine()
        activity = insight.load_activity(engine)
        customers = insight.load_customers(engine)
        holdings = insight.load_holdings(engine)
    else:
        raise typer.BadParameter(f"unknown source {source!r} (card_fraud | database)")
    if as_of is None:
        last = activity["ts"].max()
        as_of = (last.date() + timedelta(days=1)) if last is not None else clock.today()  # type: ignore[union-attr]
    return activity, customers, as_of, holdings


@app.command("refresh")
def refresh(full: Annotated[bool, typer.Option("--full", help="recompute every customer")] = False,
            as_of: Annotated[str | None, typer.Option(help="profile day YYYY-MM-DD (default today)")] = None,
            database_url: DbUrl = None) -> None:
    """Fold new activity into profiles and tags (incremental), or recompute all of them (--full)."""
    from smartbank.insight import service

    use_database(database_url)
    day = _day(as_of)
    res = service.refresh_all(as_of=day) if full else service.refresh_incremental(as_of=day)
    console.print(f"insight refresh: {res['mode']}, {res.get('customers', 0)} customers, "
                  f"{res.get('tags', 0)} tags, {res.get('seconds', 0)} s")
    emit(res)


@app.command("train")
def insight_train(
    source: Annotated[str, typer.Option(help="card_fraud | database")] = "database",
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: day after the last row)")]
    = None,
    seed: Annotated[int, typer.Option(help="random seed of every model")] = 0,
    model_dir: Annotated[Path | None, typer.Option(help="default: settings.model_dir")] = None,
) -> None:
    """Train segments, CLV, churn, propensity, the spend and balance forecasts; print metrics (last line: JSON)."""
    from rich.console import Console

    from smartbank.insight.service import train_models as train_all

    console = Console(stderr=False)
    with console.status(f"loading {source}"):
        activity, customers, when, holdings = _load_source(source, date.fromisoformat(as_of) if as_of else None)
    console.print(f"{source}: {activity.height:,} activity rows, {customers.height:,} customers, as of {when}")
    with console.status("training"):
        m = train_all(activity, customers, when, model_dir=model_dir, seed=seed, holdings=holdings)
    console.print(f"segments: k={m['segments']} sizes {m['segment_detail']['sizes']} "
                  f"dormant {m['segment_detail']['dormant']}")
    console.print(f"CLV: {m['clv_method']} for {m['clv_customers']:,} customers ({m['clv_detail']['reason']})")
    skipped = m["skipped"]
    auc = m["churn_auc"]
    if "churn" not in skipped and auc is None:
        console.print("churn: AUC n/a (one class)")
    elif "churn" not in skipped:
        console.print(
            f"churn: AUC {auc:.3f} (recency alone {m['churn_baseline_auc_recency']:.3f}), "
            f"lift@top10% {m['churn_lift_top_decile']:.2f}, capture@top10% {m['churn_capture_top_decile']:.1%}, "
            f"positive rate {m['churn_eval_positive_rate']:.2%}")
    if "churn" not in skipped:
        console.print(f"churn serves: {m['churn_served']} ({m['churn_served_reason']})")
    if "propensity" not in skipped:
        console.print(f"propensity: {m['propensity']}")
    if "forecast" not in skipped:
        console.print(f"forecast: MAE {format_mean_minor(m['forecast_mae_minor'], grouping=True)}, "
                      f"WAPE {m['forecast_wape']:.3f} "
                      f"(last value {m['baseline_wape']:.3f}, mean of 3 months {m['mean3_wape']:.3f})")
    for name, why in skipped.items():
        console.print(f"[yellow]{name}: not trained[/] ({why}); the previously saved version, if any, stays in use")
    if "balance_forecast" not in skipped and m["balance_forecast_wape"] is not None:
        console.print(f"balance forecast ({m['balance_holdout_month']}, {m['balance_n_holdout']:,} customers): "
                      f"MAE {format_mean_minor(m['balance_forecast_mae_minor'], grouping=True)}, "
                      f"WAPE {m['balance_forecast_wape']:.4f} "
                      f"(last value: MAE {format_mean_minor(m['balance_baseline_mae_minor'], grouping=True)}, "
                      f"WAPE {m['balance_baseline_wape']:.4f}; last value + mean net flow of 3 months "
                      f"{m['balance_drift_wape']:.4f})")
    elif "balance_forecast" not in skipped:
        console.print("balance forecast: not trained (no holdings or no ledger rows in this source)")
    console.print(f"saved: {m['versions']}  ({m['train_seconds']:.1f} s)")
    keys = ["churn_auc", "churn_lift_top_decile", "churn_capture_top_decile", "churn_eval_positive_rate",
            "churn_baseline_auc_recency", "churn_served",
            "segments", "clv_customers", "clv_method", "forecast_mae_minor", "forecast_wape", "baseline_wape",
            "mean3_wape", "balance_forecast_mae_minor", "balance_forecast_wape", "balance_baseline_wape",
            "train_seconds", "skipped"]
    print(json.dumps({"source": source, "as_of": str(when), "seed": seed, **{k: m[k] for k in keys}}))


@app.command("report")
def insight_report(
    out: Annotated[Path | None, typer.Option(help="HTML file (default: <var_dir>/reports/insight_models.html)")]
    = None,
    model_dir: Annotated[Path | None, typer.Option(help="default: settings.model_dir")] = None,
) -> None:
    """Write an HTML report of the newest saved insight models (charts for churn, segments, forecast)."""
    from smartbank.config import get_settings
    from smartbank.insight.service import build_model_report as build_report

    path = out or Path(get_settings().var_dir) / "reports" / "insight_models.html"
    written = build_report(model_dir, path)
    print(json.dumps({"report": str(written), "bytes": written.stat().st_size}))


@tags_app.command("list")
def tags_list(retired: Annotated[bool, typer.Option("--retired", help="include retired tags")] = False,
              database_url: DbUrl = None) -> None:
    """The tag definitions in force, with how many customers carry each."""
    from smartbank import db
    from smartbank.insight import service
    from smartbank.security.service import SYSTEM

    use_database(database_url)
    rows = db.run_in_transaction(lambda s: service.list_tags(s, SYSTEM, include_retired=retired))
    for r in rows:
        console.print(f"{r['code']:<22} v{r['version']:<3} {r['status']:<8} {r['audience']:<9} "
                      f"{r['customers']:>8}  {r['expression']}")
    emit({"tags": rows})


@tags_app.command("add")
def tags_add(code: str, expression: Annotated[str, typer.Option("--expression", "-e")],
             name_en: Annotated[str, typer.Option("--name-en")], name_zh: Annotated[str, typer.Option("--name-zh")],
             audience: str = "staff", description: str = "", database_url: DbUrl = None) -> None:
    """Define a new tag (or, if the code exists, use the API or console to make a new version)."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.insight import service
    from smartbank.security.service import SYSTEM

    use_database(database_url)
    try:
        d = db.run_in_transaction(lambda s: service.create_tag(
            s, SYSTEM, code=code, name_en=name_en, name_zh=name_zh, expression=expression, audience=audience,
            description=description))
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    console.print(f"[green]tag {d['code']} v{d['version']} saved[/]; it applies from the next refresh")
    emit(d)


@tags_app.command("test")
def tags_test(expression: str, audience: str = "staff", database_url: DbUrl = None) -> None:
    """How many current profiles a draft rule matches (nothing is saved)."""
    from smartbank import db
    from smartbank.errors import SmartbankError
    from smartbank.insight import service
    from smartbank.security.service import SYSTEM

    use_database(database_url)
    try:
        res = db.run_in_transaction(lambda s: service.preview_tag(s, SYSTEM, expression=expression,
                                                                  audience=audience))
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    console.print(f"{res['matches']} of {res['profiles']} profiles match")
    emit(res)
