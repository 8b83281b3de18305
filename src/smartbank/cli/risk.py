"""``smartbank risk ...``: the fraud model (seed, train), monitoring, and ``smartbank risk rules ...``.

``rules list``, ``show`` and ``stats`` read the rules and their live figures; ``rules test`` backtests a
condition, a stored rule or every default rule over a period of this bank's payments or of a labelled
card_fraud-style file. Commands act as the system user (an administrator). The last line of each is one
JSON object.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from smartbank import clock
from smartbank.cli.common import DbUrl
from smartbank.money import format_minor

if TYPE_CHECKING:
    import polars as pl

app = typer.Typer(help="Risk control: the fraud model, rules, alerts, limits, monitoring.", no_args_is_help=True)
rules_app = typer.Typer(help="Risk rules as data: list, show, test against history, live figures.",
                        no_args_is_help=True)
app.add_typer(rules_app, name="rules")

# seed and train say "database URL" (the rules commands share the common option's help)
TrainDbUrl = Annotated[str | None, typer.Option("--database-url", envvar="SMARTBANK_DATABASE_URL",  # noqa: UP007
                                                help="database URL (default: SMARTBANK_DATABASE_URL)")]
ACTIONS = ("flag", "challenge", "review", "block")


@app.command("seed")
def risk_seed(database_url: TrainDbUrl = None) -> None:
    """Create the default rules, limits, risk register and KRIs (idempotent)."""
    from smartbank import db
    from smartbank.risk import service as risk

    counts = db.run_in_transaction(risk.seed_defaults, engine=db.get_engine(database_url))
    print(json.dumps({"created": counts}))


@app.command("train")
def risk_train(
    transactions: Annotated[Path | None, typer.Option(
        "--transactions", dir_okay=False,
        help="a labelled card_fraud-style file (tx_id, ts, customer, terminal, amount, fraud)")] = None,
    from_db: Annotated[bool, typer.Option(
        "--from-db", help="train on the bank's own payments, labelled by the risk officers' confirmed cases "
                          "(payments older than the label delay without a fraud label count as genuine)")]
    = False,
    days: Annotated[int, typer.Option(min=14, help="--from-db: days of history")] = 120,
    delay_days: Annotated[int, typer.Option("--delay-days", min=0, help="label delay in days")] = 7,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    database_url: TrainDbUrl = None,
    model_dir: Annotated[Path | None, typer.Option(help="model registry (default: SMARTBANK_MODEL_DIR)")] = None,
    min_frauds: Annotated[int | None, typer.Option(
        "--min-frauds", min=1, envvar="SMARTBANK_RISK_TRAIN_MIN_FRAUDS",
        help="refuse to register a model trained on fewer confirmed frauds (default: 50)")] = None,
    min_genuine: Annotated[int | None, typer.Option(
        "--min-genuine", min=1, envvar="SMARTBANK_RISK_TRAIN_MIN_GENUINE",
        help="refuse to register a model trained on fewer genuine payments (default: 50)")] = None,
    min_validation_frauds: Annotated[int | None, typer.Option(
        "--min-validation-frauds", min=1, envvar="SMARTBANK_RISK_TRAIN_MIN_VALIDATION_FRAUDS",
        help="frauds needed in the validation window to compare models (default: 5)")] = None,
    min_gain: Annotated[float | None, typer.Option(
        "--min-gain", min=0.0, envvar="SMARTBANK_RISK_TRAIN_MIN_GAIN",
        help="validation average precision to add over the current model (default: 0)")] = None,
) -> None:
    """Train the fraud model the payment decisions use and save it as a new ``fraud_lgbm`` version.

    Servers load the newest version when they start, so a model is saved only when it has enough labels
    (--min-frauds, --min-genuine) and its validation on the last days of the period beats the current
    model on the same days (or, with none, a score that knows nothing); otherwise nothing is saved, the
    reason is printed and the exit code is 1. Last line: one JSON object."""
    import time

    import polars as pl
    from rich.console import Console

    from smartbank.ml.service import RegistryError, latest_version
    from smartbank.risk import service as risk

    console = Console(stderr=True)
    if (transactions is None) == (not from_db):
        raise typer.BadParameter("give either --transactions FILE or --from-db")
    if transactions is not None:
        if not transactions.exists():
            raise typer.BadParameter(f"no such file: {transactions}")
        tx = risk.load_transactions(transactions)
        source = str(transactions)
    else:
        tx = _bank_history(database_url, days=days, delay_days=delay_days)
        source = "bank"
    if tx.height == 0 or int(tx["fraud"].fill_null(0).sum()) == 0:
        raise typer.BadParameter("no confirmed frauds to learn from (confirm cases first, or use --transactions)")
    first: datetime = tx["ts"].min()  # type: ignore[assignment]
    last: datetime = tx["ts"].max()  # type: ignore[assignment]
    t0 = time.perf_counter()
    feats = risk.build_features(tx, delay_days=delay_days)
    # the first 30 days only warm the features up - when there is history enough to spare them
    warm = first + timedelta(days=30) if (last - first).days >= 60 else first
    train = feats.filter((pl.col("ts") >= warm) & pl.col("fraud").is_not_null())
    console.print(f"{source}: {tx.height:,} payments, training on {train.height:,} "
                  f"({int(train['fraud'].sum()):,} frauds) from {warm:%Y-%m-%d} to {last:%Y-%m-%d}")
    default = risk.RegistrationBar()
    bar = risk.RegistrationBar(
        min_frauds=default.min_frauds if min_frauds is None else min_frauds,
        min_genuine=default.min_genuine if min_genuine is None else min_genuine,
        min_validation_frauds=(default.min_validation_frauds if min_validation_frauds is None
                               else min_validation_frauds),
        min_gain=default.min_gain if min_gain is None else min_gain)
    frauds, genuine = risk.fraud_label_counts(train)
    out: dict[str, Any] = {"model": None, "train_rows": train.height, "frauds": frauds, "train_seconds": 0.0,
                           "params": None, "validation": None, "genuine": genuine, "registered": False,
                           "refused": None, "reason": None, "champion": None, "comparison": None,
                           "bar": dataclasses.asdict(bar)}

    def refuse(code: str, reason: str) -> NoReturn:
        out.update(refused=code, reason=reason)
        console.print(f"[bold red]not registered[/]: {reason}. Nothing was saved; the payment decisions "
                      "keep the model they use now.")
        print(json.dumps(out, default=str))
        raise typer.Exit(code=1)

    early = risk.check_fraud_labels(train, bar)
    if early is not None:  # not worth the training time
        refuse(early.code, early.reason)
    champion, champion_version = None, latest_version(risk.FRAUD_MODEL_NAME, model_dir=model_dir)
    if champion_version is not None:
        try:
            champion = risk.load_fraud_model(model_dir=model_dir, version=champion_version)
        except RegistryError as exc:  # servers cannot load it either: they decide by rules only
            console.print(f"the current model {champion_version} cannot be loaded ({exc.message}); "
                          "comparing with rules only")
            out["champion_unusable"] = {"version": champion_version, "error": exc.message}
            champion_version = None
    out["champion"] = champion_version
    model, sel = risk.select_and_fit_fraud_model(train, delay_days=delay_days, random_state=seed)
    secs = time.perf_counter() - t0
    out.update(train_seconds=round(secs, 1), params=sel.params, validation=sel.validation)
    verdict = risk.judge_fraud_model(train, sel, champion=champion, champion_version=champion_version, bar=bar)
    out["comparison"] = verdict.comparison or None
    if not verdict.register:
        refuse(verdict.code, verdict.reason)
    console.print(verdict.reason)
    scores = model.predict_proba(train)[:, 1]
    # the training scores' distribution: the reference of the drift monitor (PSI)
    import numpy as np

    edges = list(risk.SCORE_BINS)
    counts, _ = np.histogram(np.clip(scores, 0.0, 1.0), bins=edges)
    path = model.save(data_hash=risk.transactions_hash(tx), metrics={"validation": sel.validation,
                                                                "train_rows": train.height,
                                                                "frauds": frauds, "genuine": genuine,
                                                                "comparison": verdict.comparison},
                      model_dir=model_dir,
                      extra={"source": source, "delay_days": delay_days,
                             "score_bins": {"edges": edges, "counts": [int(c) for c in counts]}})
    console.print(f"saved {path} ({secs:.1f} s); restart the server to use it")
    out.update(model=str(path), registered=True, reason=verdict.reason)
    print(json.dumps(out, default=str))


def _bank_history(database_url: str | None, *, days: int, delay_days: int) -> pl.DataFrame:
    """The bank's customer payments of the last ``days`` days in the TX_SCHEMA frame: confirmed frauds 1,
    other payments older than the label delay 0 (genuine), younger unlabelled ones null."""

    import polars as pl

    from smartbank import db
    from smartbank.risk import service as risk

    now = clock.local_now().replace(tzinfo=None)  # history_frame reads bank-local times
    frame = db.run_in_transaction(lambda s: risk.history_frame(s, now - timedelta(days=days), now),
                                  engine=db.get_engine(database_url))
    cutoff = now - timedelta(days=delay_days)
    return frame.select("tx_id", "ts", "customer_id", "terminal_id", "amount_minor", "fraud").with_columns(
        pl.when(pl.col("fraud").is_null() & (pl.col("ts") < cutoff)).then(0).otherwise(pl.col("fraud"))
        .cast(pl.Int8).alias("fraud"))


def _parse_now(text: str | None) -> datetime:
    if not text:
        return clock.now()
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter("an ISO date or date-time, e.g. 2026-11-24T18:00:00+08:00") from exc
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


@app.command("monitor")
def monitor_cmd(
    now: Annotated[str | None, typer.Option(help="evaluate as of this moment (ISO; default: now)")] = None,
    period_days: Annotated[int, typer.Option(min=1, max=90, help="model-drift period in days")] = 7,
) -> None:
    """Model drift (PSI per model version) and every KRI; stores the values, raises early warnings.

    Prints the KRIs and the open warnings; the last line is one JSON object."""
    from rich.console import Console
    from rich.table import Table

    from smartbank import db
    from smartbank.lending import service as lending  # noqa: F401 - provides the delinquency-rate KRI to risk
    from smartbank.risk import service as risk
    from smartbank.security.service import SYSTEM

    at = _parse_now(now)

    def work(s: Any) -> dict[str, Any]:
        res = risk.run_monitor(s, at, period_days=period_days)
        res["open_warnings"] = risk.list_warnings(s, SYSTEM, open_only=True, limit=50)
        res["kri_rows"] = risk.list_kris(s, SYSTEM)
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


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.2f}%"


@rules_app.command("list")
def rules_list(retired: Annotated[bool, typer.Option("--retired", help="include retired rules")] = False,
               database_url: DbUrl = None) -> None:
    """The rules in force (newest version of each), most severe first."""
    from smartbank import db
    from smartbank.risk import service as risk
    from smartbank.security.service import SYSTEM

    out = db.run_in_transaction(lambda s: risk.list_rules(s, actor=SYSTEM, include_retired=retired),
                                engine=db.get_engine(database_url))
    for r in out:
        print(f"{r['code']:<28} v{r['version']:<3} {r['action']:<9} {r['mode']:<7} {r['expression']}")
    print(json.dumps({"rules": [{k: r[k] for k in ("code", "version", "action", "mode")} for r in out]},
                     ensure_ascii=False))


@rules_app.command("show")
def rules_show(code: Annotated[str, typer.Argument(help="the rule's code")], database_url: DbUrl = None) -> None:
    """A rule with every version."""
    from smartbank import db
    from smartbank.risk import service as risk
    from smartbank.security.service import SYSTEM

    vers = db.run_in_transaction(lambda s: risk.rule_versions(s, actor=SYSTEM, code=code),
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
    from smartbank.risk import service as risk

    out = db.run_in_transaction(lambda s: risk.rule_stats(s, since), engine=db.get_engine(database_url))
    print(f"{'code':<28} {'hits':>7} {'shadow':>7} {'precision':>9} {'saved (yuan)':>14} {'shadow saves':>14}")
    for r in out:
        print(f"{r['code']:<28} {r['hits']:>7} {r['shadow_hits']:>7} {_pct(r['precision']):>9} "
              f"{format_minor(r['saved_minor'], grouping=True):>14} "
              f"{format_minor(r['shadow_would_save_minor'], grouping=True):>14}")
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
    from smartbank.risk import service as risk
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
        r = db.run_in_transaction(lambda s: risk.get_rule(s, actor=SYSTEM, code=code), engine=engine)
        todo.append((code, r["expression"], r["action"]))
    else:
        todo += [(d.code, d.expression, d.action) for d in risk.DEFAULT_RULES]
    t0 = time.perf_counter()
    try:
        if file is not None:
            if not file.is_file():
                raise typer.BadParameter(f"no such file: {file}")
            frame = risk.file_frame(file, lo, hi)
        else:
            frame = db.run_in_transaction(lambda s: risk.history_frame(s, lo, hi), engine=engine)
        built = time.perf_counter() - t0
        results: list[dict[str, Any]] = []
        for name, expr, act in todo:
            out = risk.backtest(frame, expr, act, sample=sample)
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
              f"{o['false_positives']:>7} {format_minor(o['money_saved_minor'], grouping=True):>14} "
              f"{format_minor(o['challenged_fraud_minor'], grouping=True):>12}")
    print(json.dumps({"source": src, "start": str(lo), "end": str(hi), "payments": frame.height,
                      "seconds": round(elapsed, 3),
                      "results": [{k: v for k, v in o.items() if k != "names"} for o in results]},
                     ensure_ascii=False))
