"""``smartbank bench ...``: benchmarks. Each prints figures; the last line is one JSON object.

The work itself lives in :mod:`smartbank.bench`; heavy libraries are imported inside the commands."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from smartbank.bench.risk import CARD_FRAUD_FILE
from smartbank.cli.common import DbUrl, console, emit, use_database

app = typer.Typer(help="Benchmarks: each prints figures, the last line is one JSON object.", no_args_is_help=True)


@app.command("ledger")
def bench_ledger(
    database_url: DbUrl = None,
    clients: int = 8,
    seconds: float = 10.0,
    accounts: int = 1000,
    compare_pgbench: Annotated[bool, typer.Option(
        help="alternate with pgbench tpcb-like on the same server, in rounds")] = False,
    rounds: Annotated[int, typer.Option(min=1, help="rounds of the side-by-side comparison")] = 4,
) -> None:
    """Concurrent transfers through the ledger service; last line: JSON with tps, p50_ms, p99_ms, conserved."""
    from smartbank.bench import ledger as bl

    url = use_database(database_url)
    if compare_pgbench:
        res = bl.compare(url, clients=clients, seconds=seconds, accounts=accounts, rounds=rounds)
        console.print(f"pgbench tpcb-like -c {clients}: {res['pgbench_tps']:.0f} tps"
                      f" (rounds {res['pgbench_round_tps']})")
    else:
        res = bl.run(url, clients=clients, seconds=seconds, accounts=accounts)
    console.print(f"ledger: {res['tps']:.0f} transfers/s, p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, "
                  f"conserved={res['conserved']}")
    emit(res)
    if not res["conserved"]:
        raise typer.Exit(1)


@app.command("http")
def bench_http(
    database_url: DbUrl = None,
    clients: int = 16,
    seconds: float = 10.0,
    workers: int = 2,
) -> None:
    """POST /api/v1/transfers from concurrent clients against a real server; last line is JSON."""
    from smartbank.bench import http as bh

    url = use_database(database_url)
    res = bh.run(url, clients=clients, seconds=seconds, workers=workers)
    console.print(f"http: {res['tps']:.0f} transfers/s, p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms")
    emit(res)


@app.command("insight")
def bench_insight(customers: int = 100_000, transactions: int = 5_000_000, seed: int = 7) -> None:
    """Features and default tags for generated activity in the columnar engine; last line is JSON."""
    if customers < 1 or transactions < 0:
        raise typer.BadParameter("customers >= 1 and transactions >= 0")
    from smartbank.bench.insight import run_bench

    res = run_bench(customers, transactions, seed=seed)
    console.print(f"generated in {res['generate_seconds']} s; features in {res['feature_seconds']} s, "
                  f"tags in {res['tag_seconds']} s ({res['tagged']} tags on {res['customers']} customers)")
    console.print(f"{res['transactions_per_second']:,.0f} transactions/s, "
                  f"{res['customers_per_second']:,.0f} customers/s, peak RSS {res['peak_rss_mb']} MB")
    emit({k: res[k] for k in ("customers", "transactions", "seconds", "transactions_per_second",
                              "customers_per_second", "peak_rss_mb")})


@app.command("risk")
def bench_risk(
    transactions: Annotated[Path | None, typer.Option(
        "--transactions", dir_okay=False,
        help=f"card_fraud-style file (default: datasets_dir/{CARD_FRAUD_FILE}; generated data if missing)")]
    = None,
    warm_days: Annotated[int, typer.Option("--warm-days", min=1, help="days of history to warm the state")]
    = 60,
    payments: Annotated[int, typer.Option("--payments", min=1, help="following payments scored one by one")]
    = 20_000,
    delay_days: Annotated[int, typer.Option("--delay-days", min=0, help="label delay in days")] = 7,
    model_dir: Annotated[Path | None, typer.Option(help="where to look for a saved fraud_lgbm")] = None,
    whole: Annotated[bool, typer.Option(
        "--decision/--model-only",
        help="time the whole decision (features, model, the default rules, limits, reasons) or only "
             "features + model")] = True,
) -> None:
    """Decide payments one at a time, in process; latency percentiles, last line JSON.

    With ``--decision`` (default) each payment goes through ``risk.service.assess`` - features, model,
    the bank's default rules and limits (from a scratch SQLite database), reason codes - then is observed;
    with ``--model-only``, features + model + observe."""
    import gc
    import time

    import polars as pl
    from rich.console import Console

    from smartbank.bench.risk import decider, generated_transactions, percentile
    from smartbank.config import get_settings
    from smartbank.ml.service import latest_version
    from smartbank.risk import service as risk

    console = Console(stderr=True)
    path = transactions or Path(get_settings().datasets_dir) / CARD_FRAUD_FILE
    if path.exists():
        t0 = time.perf_counter()
        tx = risk.load_transactions(path)
        console.print(f"{path}: {tx.height:,} transactions ({time.perf_counter() - t0:.1f} s to load)")
    elif transactions is not None:
        raise typer.BadParameter(f"no such file: {transactions}")
    else:
        tx = generated_transactions(days=warm_days + 30)
        console.print(f"{path} is missing: {tx.height:,} generated transactions")
    first: datetime = tx["ts"].min()  # type: ignore[assignment]
    now = datetime(first.year, first.month, first.day) + timedelta(days=warm_days)
    history = tx.filter(pl.col("ts") < now)
    stream = tx.filter(pl.col("ts") >= now).head(payments)
    if stream.height == 0:
        raise typer.BadParameter(f"no payments after the first {warm_days} days")

    version = latest_version(risk.FRAUD_MODEL_NAME, model_dir=model_dir)
    if version is not None:
        model = risk.load_fraud_model(model_dir=model_dir, version=version)
        console.print(f"model: loaded {risk.FRAUD_MODEL_NAME} {version}")
    else:
        t0 = time.perf_counter()
        feats = risk.build_features(history, delay_days=delay_days)
        train = feats.filter((pl.col("ts") >= first + timedelta(days=min(30, warm_days // 2)))
                             & (pl.col("ts") < now - timedelta(days=delay_days)) & pl.col("fraud").is_not_null())
        model = risk.FraudModel(n_estimators=200).fit(train, train["fraud"].to_numpy())
        version = "trained-in-bench"
        console.print(f"model: none saved in {model_dir or get_settings().model_dir}; trained a small one "
                      f"(200 trees, {train.height:,} rows, {time.perf_counter() - t0:.1f} s; not saved)")

    t0 = time.perf_counter()
    state = risk.OnlineState.from_history(history, now, delay_days=delay_days)
    console.print(f"state warmed on {history.height:,} payments of {warm_days} days in "
                  f"{time.perf_counter() - t0:.1f} s")
    scorer = risk.OnlineScorer(state, model)
    decide = decider(state, model, version, delay_days) if whole else None
    rows = stream.iter_rows(named=True)
    arriving: list[dict[str, Any]] = [
        {k: r[k] for k in ("tx_id", "ts", "customer_id", "terminal_id", "amount_minor")} for r in rows]
    labels = stream.select("tx_id", "ts", "fraud").rows()
    gc.collect()
    gc.freeze()  # the warmed state is long-lived: keep it out of the collector's full scans
    lat: list[float] = []
    perf = time.perf_counter_ns
    start = perf()
    for p, (tx_id, ts, fraud) in zip(arriving, labels, strict=True):
        t1 = perf()
        if decide is not None:
            decide(p)  # the whole decision, then observe
        else:
            scorer.process(p)  # features, model, observe
        lat.append((perf() - t1) / 1e6)
        if fraud is not None:  # the label will be known after the delay (not timed: not on the payment path)
            state.label(tx_id, bool(fraud), at=ts + timedelta(days=delay_days))
    wall = (perf() - start) / 1e9
    gc.unfreeze()
    lat.sort()
    res = {"payments": len(lat), "p50_ms": round(percentile(lat, 50), 4), "p95_ms": round(percentile(lat, 95), 4),
           "p99_ms": round(percentile(lat, 99), 4), "max_ms": round(lat[-1], 4),
           "per_second": round(len(lat) / sum(lat) * 1000, 1), "features": len(risk.FEATURE_NAMES),
           "model_version": version, "path": "decision" if whole else "model"}
    if decide is not None:
        res["decisions"] = dict(decide.counts)  # type: ignore[attr-defined]
    console.print(f"{len(lat):,} payments: p50 {res['p50_ms']:.3f} ms  p95 {res['p95_ms']:.3f} ms  "
                  f"p99 {res['p99_ms']:.3f} ms  max {res['max_ms']:.3f} ms  {res['per_second']:,.0f} payments/s "
                  f"(loop with labelling {len(lat) / wall:,.0f}/s)")
    print(json.dumps(res))


@app.command("recommend")
def bench_recommend(
    database_url: DbUrl = None,
    customers: Annotated[int, typer.Option(min=10)] = 10_000,
    items: Annotated[int, typer.Option(min=5)] = 300,
    requests: Annotated[int, typer.Option(min=10)] = 2000,
) -> None:
    """Top-10 for one customer through the service (ranking, filters, reasons, recording, commit);
    a temporary SQLite bank unless a database is given. Last line: JSON with p50_ms, p95_ms, p99_ms."""
    import sys

    from smartbank.bench import recommend as br

    res = br.run(database_url, customers=customers, items=items, requests=requests)
    print(f"recommend: {res['requests']} lists, p50 {res['p50_ms']} ms, p95 {res['p95_ms']} ms, "
          f"p99 {res['p99_ms']} ms ({res['database']}, {res['customers']} customers, {res['items']} items)",
          file=sys.stderr)
    emit(res)


@app.command("models")
def bench_models(
    calls: Annotated[int, typer.Option(min=10, help="calls timed per figure")] = 200,
    credit_rows: Annotated[int, typer.Option(min=500, help="rows of the synthetic credit portfolio")] = 4000,
    seed: int = 1,
) -> None:
    """The credit model's fast fit and one score, a sentiment score with and without a trained model, against
    their budgets; last line: JSON (``*_ms`` are per-call means; ``within_budget``)."""
    from smartbank.bench import models as bm

    res = bm.run(calls=calls, seed=seed, credit_rows=credit_rows)
    console.print(f"credit: fast fit {res['credit_train_fast_seconds']} s (AUC {res['credit_auc']}), "
                  f"score {res['credit_score_ms']} ms (p95 {res['credit_score_ms_p95']} ms)")
    console.print(f"sentiment: lexicon {res['sentiment_lexicon_ms']} ms, "
                  f"trained model {res['sentiment_model_ms']} ms (p95 {res['sentiment_model_ms_p95']} ms)")
    console.print("within budget" if res["within_budget"] else f"over budget: {res['budgets']}")
    emit(res)
