"""``smartbank insight ...`` and ``smartbank bench insight``: profile refresh, tag definitions, and a
benchmark of the columnar feature + tag computation on generated activity."""

from __future__ import annotations

import json
import os
import resource
import time
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console(stderr=True, soft_wrap=True)
DbUrl = Annotated[str | None, typer.Option("--database-url", envvar="SMARTBANK_DATABASE_URL",  # noqa: UP007
                                             help="defaults to SMARTBANK_DATABASE_URL")]


def _use(url: str | None) -> None:
    from smartbank.config import reset_settings

    if url:
        os.environ["SMARTBANK_DATABASE_URL"] = url
        reset_settings()


def _emit(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD") from exc


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def register(app: typer.Typer, bench_app: typer.Typer, insight_app: typer.Typer) -> None:
    tags_app = typer.Typer(help="Tag definitions: rules over profile features, versioned.", no_args_is_help=True)
    insight_app.add_typer(tags_app, name="tags")

    @insight_app.command("refresh")
    def refresh(full: Annotated[bool, typer.Option("--full", help="recompute every customer")] = False,
                as_of: Annotated[str | None, typer.Option(help="profile day YYYY-MM-DD (default today)")] = None,
                database_url: DbUrl = None) -> None:
        """Fold new activity into profiles and tags (incremental), or recompute all of them (--full)."""
        from smartbank.insight import service

        _use(database_url)
        day = _day(as_of)
        res = service.refresh_all(as_of=day) if full else service.refresh_incremental(as_of=day)
        console.print(f"insight refresh: {res['mode']}, {res.get('customers', 0)} customers, "
                      f"{res.get('tags', 0)} tags, {res.get('seconds', 0)} s")
        _emit(res)

    @tags_app.command("list")
    def tags_list(retired: Annotated[bool, typer.Option("--retired", help="include retired tags")] = False,
                  database_url: DbUrl = None) -> None:
        """The tag definitions in force, with how many customers carry each."""
        from smartbank import db
        from smartbank.insight import service
        from smartbank.security.service import SYSTEM

        _use(database_url)
        rows = db.run_in_transaction(lambda s: service.list_tags(s, SYSTEM, include_retired=retired))
        for r in rows:
            console.print(f"{r['code']:<22} v{r['version']:<3} {r['status']:<8} {r['audience']:<9} "
                          f"{r['customers']:>8}  {r['expression']}")
        _emit({"tags": rows})

    @tags_app.command("add")
    def tags_add(code: str, expression: Annotated[str, typer.Option("--expression", "-e")],
                 name_en: Annotated[str, typer.Option("--name-en")], name_zh: Annotated[str, typer.Option("--name-zh")],
                 audience: str = "staff", description: str = "", database_url: DbUrl = None) -> None:
        """Define a new tag (or, if the code exists, use the API or console to make a new version)."""
        from smartbank import db
        from smartbank.errors import SmartbankError
        from smartbank.insight import service
        from smartbank.security.service import SYSTEM

        _use(database_url)
        try:
            d = db.run_in_transaction(lambda s: service.create_tag(
                s, SYSTEM, code=code, name_en=name_en, name_zh=name_zh, expression=expression, audience=audience,
                description=description))
        except SmartbankError as exc:
            console.print(f"[red]{exc.message}[/]")
            raise typer.Exit(1) from None
        console.print(f"[green]tag {d['code']} v{d['version']} saved[/]; it applies from the next refresh")
        _emit(d)

    @tags_app.command("test")
    def tags_test(expression: str, audience: str = "staff", database_url: DbUrl = None) -> None:
        """How many current profiles a draft rule matches (nothing is saved)."""
        from smartbank import db
        from smartbank.errors import SmartbankError
        from smartbank.insight import service
        from smartbank.security.service import SYSTEM

        _use(database_url)
        try:
            res = db.run_in_transaction(lambda s: service.preview_tag(s, SYSTEM, expression=expression,
                                                                      audience=audience))
        except SmartbankError as exc:
            console.print(f"[red]{exc.message}[/]")
            raise typer.Exit(1) from None
        console.print(f"{res['matches']} of {res['profiles']} profiles match")
        _emit(res)

    @bench_app.command("insight")
    def bench_insight(customers: int = 100_000, transactions: int = 5_000_000, seed: int = 7) -> None:
        """Features and default tags for generated activity in the columnar engine; last line is JSON."""
        if customers < 1 or transactions < 0:
            raise typer.BadParameter("customers >= 1 and transactions >= 0")
        res = run_bench(customers, transactions, seed=seed)
        console.print(f"generated in {res['generate_seconds']} s; features in {res['feature_seconds']} s, "
                      f"tags in {res['tag_seconds']} s ({res['tagged']} tags on {res['customers']} customers)")
        console.print(f"{res['transactions_per_second']:,.0f} transactions/s, "
                      f"{res['customers_per_second']:,.0f} customers/s, peak RSS {res['peak_rss_mb']} MB")
        _emit({k: res[k] for k in ("customers", "transactions", "seconds", "transactions_per_second",
                                   "customers_per_second", "peak_rss_mb")})


# ------------------------------------------------------------------------------------------------
# benchmark


_KINDS = ("card_payment", "transfer", "bill_payment", "salary", "withdrawal", "interest", "fee")
_KIND_P = (0.62, 0.14, 0.06, 0.05, 0.04, 0.05, 0.04)
_CATS = ("groceries", "dining", "transport", "shopping", "travel", "entertainment", "health", "education",
         "digital")
_CHANNELS = ("app", "card", "counter", "atm", "online", "payroll", "system")
_CITIES = ("上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "西安")
_JOBS = ("engineer", "teacher", "doctor", "clerk", "student", "retired", "self_employed")


def generate(customers: int, transactions: int, *, seed: int = 7, as_of: date = date(2025, 6, 30)) -> dict[str, Any]:
    """Deterministic activity, customers and holdings frames in the read model's schemas."""
    import numpy as np
    import polars as pl

    from smartbank.insight.extract import ACTIVITY_SCHEMA, CUSTOMER_SCHEMA, HOLDINGS_SCHEMA

    rng = np.random.default_rng(seed)
    end_us = int(datetime.combine(as_of + timedelta(days=1), datetime.min.time(), UTC).timestamp() * 1e6)
    span_us = 400 * 86_400 * 1_000_000
    # activity per customer is skewed: a few very active customers, many quiet ones
    weight = rng.pareto(1.5, customers) + 0.2
    cust = rng.choice(customers, size=transactions, p=weight / weight.sum()).astype(np.int64) + 1
    ts = end_us - rng.integers(1, span_us, size=transactions, dtype=np.int64)
    kind = rng.choice(len(_KINDS), size=transactions, p=_KIND_P).astype(np.int8)
    cat = rng.integers(0, len(_CATS), size=transactions, dtype=np.int8)
    amount = np.round(rng.lognormal(8.5, 1.1, size=transactions)).astype(np.int64) + 1
    incoming = (kind == 3) | (kind == 5) | ((kind == 1) & (rng.random(transactions) < 0.4))
    amount = np.where(incoming, amount * np.where(kind == 3, 40, 1), -amount)
    chan = np.select([kind == 3, kind >= 5, kind == 4, kind == 0], [5, 6, 3, 1],
                     rng.choice([0, 2, 4], size=transactions, p=[0.8, 0.1, 0.1]))
    merchant = rng.integers(0, 20_000, size=transactions, dtype=np.int32)

    def labels(codes: Any, names: tuple[str, ...]) -> pl.Series:
        return pl.Series(codes).replace_strict(dict(enumerate(names)), return_dtype=pl.Utf8)

    activity = pl.DataFrame({
        "customer_id": cust,
        "ts": pl.Series(ts).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "amount_minor": amount,
        "currency": pl.repeat("CNY", transactions, dtype=pl.Utf8, eager=True),
        "kind": labels(kind, _KINDS),
        "channel": labels(chan, _CHANNELS),
        "category": labels(cat, _CATS),
        "counterparty": pl.Series(merchant).cast(pl.Utf8),
        "source": pl.repeat("ledger", transactions, dtype=pl.Utf8, eager=True),
        "account_kind": pl.repeat("demand", transactions, dtype=pl.Utf8, eager=True),
        "own_account": pl.repeat(False, transactions, dtype=pl.Boolean, eager=True),
    }, schema=ACTIVITY_SCHEMA)
    k = pl.col("kind")
    activity = activity.with_columns(
        pl.when(k == "salary").then(pl.lit("salary")).when(k == "bill_payment").then(pl.lit("electricity"))
        .when(k.is_in(["interest", "fee", "withdrawal"])).then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(pl.col("category")).alias("category"))
    del cust, ts, kind, cat, amount, chan, merchant
    ids = np.arange(1, customers + 1, dtype=np.int64)
    born = (np.datetime64("1950-01-01") + rng.integers(0, 20_000, customers).astype("timedelta64[D]"))
    created = end_us - rng.integers(86_400_000_000, 3650 * 86_400_000_000, customers, dtype=np.int64)
    custs = pl.DataFrame({
        "customer_id": ids, "kind": pl.repeat("individual", customers, dtype=pl.Utf8, eager=True),
        "birth_date": born, "gender": labels(rng.integers(0, 2, customers), ("F", "M")),
        "city": labels(rng.integers(0, len(_CITIES), customers), _CITIES),
        "occupation": labels(rng.integers(0, len(_JOBS), customers), _JOBS),
        "annual_income_minor": rng.integers(3_000_000, 50_000_000, customers, dtype=np.int64),
        "created_at": pl.Series(created).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "status": pl.repeat("active", customers, dtype=pl.Utf8, eager=True),
        "risk_level": labels(rng.choice(3, customers, p=[0.85, 0.12, 0.03]), ("low", "medium", "high")),
    }, schema=CUSTOMER_SCHEMA)
    holdings = pl.DataFrame({
        "customer_id": np.concatenate([ids, ids]),
        "account_kind": ["demand"] * customers + ["savings"] * customers,
        "currency": "CNY",
        "accounts": np.ones(2 * customers, dtype=np.int64),
        "balance_minor": np.concatenate([rng.integers(0, 5_000_000, customers),
                                         rng.integers(0, 80_000_000, customers)]).astype(np.int64),
        "overdraft_used_minor": np.zeros(2 * customers, dtype=np.int64),
    }, schema=HOLDINGS_SCHEMA)
    return {"activity": activity, "customers": custs, "holdings": holdings, "as_of": as_of}


def run_bench(customers: int, transactions: int, *, seed: int = 7) -> dict[str, Any]:
    from smartbank.insight import features as F
    from smartbank.insight import tags as T

    t0 = time.perf_counter()
    data = generate(customers, transactions, seed=seed)
    t1 = time.perf_counter()
    profiles = F.compute(data["activity"], data["customers"], data["as_of"], holdings=data["holdings"])
    t2 = time.perf_counter()
    tagged = T.assign(profiles, list(T.DEFAULT_TAGS))
    t3 = time.perf_counter()
    seconds = t3 - t1
    return {"customers": customers, "transactions": transactions, "seconds": round(seconds, 3),
            "generate_seconds": round(t1 - t0, 3), "feature_seconds": round(t2 - t1, 3),
            "tag_seconds": round(t3 - t2, 3), "tagged": tagged.height,
            "transactions_per_second": round(transactions / seconds, 1) if seconds else 0.0,
            "customers_per_second": round(customers / seconds, 1) if seconds else 0.0,
            "peak_rss_mb": _peak_rss_mb()}
