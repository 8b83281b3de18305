"""``smartbank eval fraud`` (the fraud model against the handbook's peer) and ``smartbank bench risk``."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from smartbank import clock

if TYPE_CHECKING:
    import polars as pl

DbUrl = Annotated[str | None, typer.Option("--database-url", envvar="SMARTBANK_DATABASE_URL",  # noqa: UP007
                                           help="database URL (default: SMARTBANK_DATABASE_URL)")]
CARD_FRAUD_FILE = "card_fraud/transactions_2018-04-01_2018-08-31.csv.gz"


def generated_transactions(*, days: int, customers: int = 2000, terminals: int = 4000, seed: int = 0) -> pl.DataFrame:
    """Handbook-like card payments (TX_SCHEMA) when the shared file is missing: about 2 a customer a day,
    amounts over 220 yuan and compromised terminals' payments (28 days each) are frauds."""
    import numpy as np
    import polars as pl

    from smartbank.risk.features import TX_SCHEMA

    rng = np.random.default_rng(seed)
    per_day = rng.poisson(2.0, size=(customers, days))
    cust = np.repeat(np.tile(np.arange(customers), days), per_day.T.ravel())
    day = np.repeat(np.repeat(np.arange(days), customers), per_day.T.ravel())
    n = len(cust)
    secs = np.clip(rng.normal(43200, 20000, n), 0, 86399).astype(np.int64)
    mean_amt = rng.uniform(5, 100, customers)
    amt = np.abs(rng.normal(mean_amt[cust], mean_amt[cust] / 2))
    home = rng.integers(0, terminals, size=(customers, 50))
    term = home[cust, rng.integers(0, 50, n)]
    bad = rng.choice(terminals, size=max(1, terminals // 200), replace=False)
    bad_from = rng.integers(0, max(days - 28, 1), size=len(bad))
    compromised = np.zeros(n, dtype=bool)
    for t, d in zip(bad, bad_from, strict=True):
        compromised |= (term == t) & (day >= d) & (day < d + 28)
    fraud = ((amt > 220) | compromised).astype(np.int8)
    ts = (np.datetime64("2018-04-01T00:00:00", "us") + day.astype("timedelta64[D]")
          + secs.astype("timedelta64[s]"))
    df = pl.DataFrame({"ts": ts, "customer_id": cust.astype(np.int64), "terminal_id": term.astype(np.int64),
                       "amount_minor": np.round(amt * 100).astype(np.int64), "fraud": fraud}).sort("ts")
    return df.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("tx_id")).select(list(TX_SCHEMA)) \
        .cast(TX_SCHEMA)  # type: ignore[arg-type]


def _percentile(sorted_ms: list[float], q: float) -> float:
    i = min(len(sorted_ms) - 1, max(0, int(round(q / 100 * len(sorted_ms) + 0.5)) - 1))  # nearest rank
    return sorted_ms[i]


def register(app: typer.Typer, bench_app: typer.Typer, eval_app: typer.Typer) -> None:
    @eval_app.command("fraud")
    def eval_fraud(
        transactions: Annotated[Path, typer.Option("--transactions", exists=True, dir_okay=False,
                                                   help="card_fraud-style file: gzip CSV, CSV or Parquet")],
        test_start: Annotated[str, typer.Option("--test-start", help="first test day, YYYY-MM-DD")],
        test_days: Annotated[int, typer.Option("--test-days", min=1)] = 7,
        delay_days: Annotated[int, typer.Option("--delay-days", min=0, help="label delay in days")] = 7,
        seed: Annotated[int, typer.Option(help="random_state of both models")] = 0,
        peer: Annotated[bool, typer.Option("--peer/--no-peer", help="also train the handbook's random forest")]
        = True,
        model_dir: Annotated[Path | None, typer.Option(help="also save the trained model there")] = None,
    ) -> None:
        """Train before test-start - delay, score the test window in time order; last line: JSON metrics."""
        from rich.console import Console

        from smartbank.risk.evaluate import evaluate_fraud
        from smartbank.risk.features import load_transactions

        console = Console(stderr=True)
        try:
            start = date.fromisoformat(test_start)
        except ValueError:
            raise typer.BadParameter(f"not a date: {test_start!r} (use YYYY-MM-DD)") from None
        with console.status(f"loading {transactions.name}"):
            tx = load_transactions(transactions)
        console.print(f"{tx.height:,} transactions, {tx['ts'].min()!s} .. {tx['ts'].max()!s}")
        from smartbank.errors import ValidationFailed

        try:
            with console.status("features, validation-window model selection, training, scoring (and the peer)"):
                res = evaluate_fraud(tx, test_start=start, test_days=test_days, delay_days=delay_days,
                                     random_state=seed, with_peer=peer, model_dir=model_dir)
        except ValidationFailed as exc:
            console.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(2) from None
        w = res["windows"]
        console.print(f"train {w['train_start'][:10]}..{w['train_end'][:10]} ({res['train_rows']:,} rows), "
                      f"test {w['test_start'][:10]}..{w['test_end'][:10]} ({res['test_rows']:,} rows, "
                      f"{res['test_frauds']} frauds); chosen {res['chosen']}")
        console.print(f"ours: AUC {res['auc']:.4f}  AP {res['average_precision']:.4f}  "
                      f"CP@100 {res['card_precision_at_100']:.4f}  ({res['train_seconds']:.1f} s)")
        if peer:
            console.print(f"peer: AUC {res['peer_auc']:.4f}  AP {res['peer_average_precision']:.4f}  "
                          f"CP@100 {res['peer_card_precision_at_100']:.4f}  ({res['peer_train_seconds']:.1f} s)")
        print(json.dumps(res, default=str))

    @bench_app.command("risk")
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

        from smartbank.config import get_settings
        from smartbank.ml.registry import latest_version
        from smartbank.risk.features import FEATURE_NAMES, build_features, load_transactions
        from smartbank.risk.fraud_model import MODEL_NAME, FraudModel, load_fraud_model
        from smartbank.risk.online import OnlineScorer, OnlineState

        console = Console(stderr=True)
        path = transactions or Path(get_settings().datasets_dir) / CARD_FRAUD_FILE
        if path.exists():
            t0 = time.perf_counter()
            tx = load_transactions(path)
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

        version = latest_version(MODEL_NAME, model_dir=model_dir)
        if version is not None:
            model = load_fraud_model(model_dir=model_dir, version=version)
            console.print(f"model: loaded {MODEL_NAME} {version}")
        else:
            t0 = time.perf_counter()
            feats = build_features(history, delay_days=delay_days)
            train = feats.filter((pl.col("ts") >= first + timedelta(days=min(30, warm_days // 2)))
                                 & (pl.col("ts") < now - timedelta(days=delay_days)) & pl.col("fraud").is_not_null())
            model = FraudModel(n_estimators=200).fit(train, train["fraud"].to_numpy())
            version = "trained-in-bench"
            console.print(f"model: none saved in {model_dir or get_settings().model_dir}; trained a small one "
                          f"(200 trees, {train.height:,} rows, {time.perf_counter() - t0:.1f} s; not saved)")

        t0 = time.perf_counter()
        state = OnlineState.from_history(history, now, delay_days=delay_days)
        console.print(f"state warmed on {history.height:,} payments of {warm_days} days in "
                      f"{time.perf_counter() - t0:.1f} s")
        scorer = OnlineScorer(state, model)
        decide = _decider(state, model, version, delay_days) if whole else None
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
        res = {"payments": len(lat), "p50_ms": round(_percentile(lat, 50), 4), "p95_ms": round(_percentile(lat, 95), 4),
               "p99_ms": round(_percentile(lat, 99), 4), "max_ms": round(lat[-1], 4),
               "per_second": round(len(lat) / sum(lat) * 1000, 1), "features": len(FEATURE_NAMES),
               "model_version": version, "path": "decision" if whole else "model"}
        if decide is not None:
            res["decisions"] = dict(decide.counts)  # type: ignore[attr-defined]
        console.print(f"{len(lat):,} payments: p50 {res['p50_ms']:.3f} ms  p95 {res['p95_ms']:.3f} ms  "
                      f"p99 {res['p99_ms']:.3f} ms  max {res['max_ms']:.3f} ms  {res['per_second']:,.0f} payments/s "
                      f"(loop with labelling {len(lat) / wall:,.0f}/s)")
        print(json.dumps(res))


def _decider(state: Any, model: Any, version: str, delay_days: int) -> Any:
    """A function deciding one card_fraud payment through ``risk.service.assess`` (customer = the card,
    counterparty = the terminal), with the default rules and limits of a scratch SQLite database."""
    import tempfile
    from collections import Counter
    from datetime import UTC

    from smartbank import db
    from smartbank.ops.migrate import upgrade
    from smartbank.risk import engine as risk_engine
    from smartbank.risk import service as risk

    url = f"sqlite:///{tempfile.mkdtemp(prefix='sb-bench-risk-')}/risk.db"
    upgrade(url)
    eng = db.get_engine(url)
    db.run_in_transaction(risk.seed_defaults, engine=eng)
    engine = risk_engine.RiskEngine(delay_days=delay_days, model=model, model_version=str(version))
    engine.state = state
    engine.scorer = __import__("smartbank.risk.online", fromlist=["OnlineScorer"]).OnlineScorer(state, model)
    engine.warmed = True
    risk_engine._engines[str(eng.url)] = engine
    session = db.session_factory(eng)()
    counts: Counter[str] = Counter()
    shift = timedelta(hours=8)  # the file's times are bank-local (Asia/Shanghai, UTC+8)

    def decide(p: dict[str, Any]) -> None:
        pc = risk.PaymentContext(customer_id=p["customer_id"], account_id=0, counterparty_account_id=p["terminal_id"],
                                 amount_minor=p["amount_minor"], currency="CNY", kind="transfer", channel="web",
                                 product="demand")
        a = risk.assess(session, pc, now=(p["ts"] - shift).replace(tzinfo=UTC))
        engine.observe({**a.payment, "tx_id": p["tx_id"]}, a.feats)
        counts[a.decision] += 1

    decide.counts = counts  # type: ignore[attr-defined]
    return decide


def register_risk(risk_app: typer.Typer) -> None:
    """``smartbank risk train`` and the other commands of the decision path."""
    @risk_app.command("seed")
    def risk_seed(database_url: DbUrl = None) -> None:
        """Create the default rules, limits, risk register and KRIs (idempotent)."""
        from smartbank import db
        from smartbank.risk import service as risk

        counts = db.run_in_transaction(risk.seed_defaults, engine=db.get_engine(database_url))
        print(json.dumps({"created": counts}))

    @risk_app.command("train")
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
        database_url: DbUrl = None,
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

        from smartbank.ml.registry import RegistryError, latest_version
        from smartbank.risk.features import build_features, load_transactions, transactions_hash
        from smartbank.risk.fraud_model import (
            MODEL_NAME,
            RegistrationBar,
            check_labels,
            judge,
            label_counts,
            load_fraud_model,
        )

        console = Console(stderr=True)
        if (transactions is None) == (not from_db):
            raise typer.BadParameter("give either --transactions FILE or --from-db")
        if transactions is not None:
            if not transactions.exists():
                raise typer.BadParameter(f"no such file: {transactions}")
            tx = load_transactions(transactions)
            source = str(transactions)
        else:
            tx = _bank_history(database_url, days=days, delay_days=delay_days)
            source = "bank"
        if tx.height == 0 or int(tx["fraud"].fill_null(0).sum()) == 0:
            raise typer.BadParameter("no confirmed frauds to learn from (confirm cases first, or use --transactions)")
        first: datetime = tx["ts"].min()  # type: ignore[assignment]
        last: datetime = tx["ts"].max()  # type: ignore[assignment]
        t0 = time.perf_counter()
        feats = build_features(tx, delay_days=delay_days)
        # the first 30 days only warm the features up - when there is history enough to spare them
        warm = first + timedelta(days=30) if (last - first).days >= 60 else first
        train = feats.filter((pl.col("ts") >= warm) & pl.col("fraud").is_not_null())
        console.print(f"{source}: {tx.height:,} payments, training on {train.height:,} "
                      f"({int(train['fraud'].sum()):,} frauds) from {warm:%Y-%m-%d} to {last:%Y-%m-%d}")
        default = RegistrationBar()
        bar = RegistrationBar(
            min_frauds=default.min_frauds if min_frauds is None else min_frauds,
            min_genuine=default.min_genuine if min_genuine is None else min_genuine,
            min_validation_frauds=(default.min_validation_frauds if min_validation_frauds is None
                                   else min_validation_frauds),
            min_gain=default.min_gain if min_gain is None else min_gain)
        frauds, genuine = label_counts(train)
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

        early = check_labels(train, bar)
        if early is not None:  # not worth the training time
            refuse(early.code, early.reason)
        champion, champion_version = None, latest_version(MODEL_NAME, model_dir=model_dir)
        if champion_version is not None:
            try:
                champion = load_fraud_model(model_dir=model_dir, version=champion_version)
            except RegistryError as exc:  # servers cannot load it either: they decide by rules only
                console.print(f"the current model {champion_version} cannot be loaded ({exc.message}); "
                              "comparing with rules only")
                out["champion_unusable"] = {"version": champion_version, "error": exc.message}
                champion_version = None
        out["champion"] = champion_version
        from smartbank.risk.fraud_model import select_and_fit

        model, sel = select_and_fit(train, delay_days=delay_days, random_state=seed)
        secs = time.perf_counter() - t0
        out.update(train_seconds=round(secs, 1), params=sel.params, validation=sel.validation)
        verdict = judge(train, sel, champion=champion, champion_version=champion_version, bar=bar)
        out["comparison"] = verdict.comparison or None
        if not verdict.register:
            refuse(verdict.code, verdict.reason)
        console.print(verdict.reason)
        scores = model.predict_proba(train)[:, 1]
        # the training scores' distribution: the reference of the drift monitor (PSI)
        import numpy as np

        from smartbank.risk.monitor import SCORE_BINS

        edges = list(SCORE_BINS)
        counts, _ = np.histogram(np.clip(scores, 0.0, 1.0), bins=edges)
        path = model.save(data_hash=transactions_hash(tx), metrics={"validation": sel.validation,
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
    from smartbank.risk import rules

    now = clock.local_now().replace(tzinfo=None)  # history_frame reads bank-local times
    frame = db.run_in_transaction(lambda s: rules.history_frame(s, now - timedelta(days=days), now),
                                  engine=db.get_engine(database_url))
    cutoff = now - timedelta(days=delay_days)
    return frame.select("tx_id", "ts", "customer_id", "terminal_id", "amount_minor", "fraud").with_columns(
        pl.when(pl.col("fraud").is_null() & (pl.col("ts") < cutoff)).then(0).otherwise(pl.col("fraud"))
        .cast(pl.Int8).alias("fraud"))
