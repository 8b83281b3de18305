"""The history rules are tested on: an analytics read model over several domains' tables.

:func:`history_frame` turns the bank's own customer payments of a period into a frame with every name of
:data:`smartbank.risk.context.CONTEXT`, as the engine would have seen them, so a rule means the same thing
in a backtest as on a live payment. It is a **read model for analytics**, like ``insight.extract`` and the
statements: a backtest scans up to a year of payments (plus the features' warm-up) in one pass, which no
owner's per-object functions could serve. It reads, and never writes:

==================  =============  ====================================================================
table               owner          what for
==================  =============  ====================================================================
``transfers``       ledger         the payments: time, amount, kind, reference, posted or held
``accounts``        ledger         the payer (its customer and product) and the payee (owner, opening)
``payees``          payments       whether the payee was a saved payee of the payer at the time
``risk_decisions``  risk           the channel and the model score the payment was decided with
``risk_labels``     risk           the confirmed outcome (fraud or genuine)
==================  =============  ====================================================================

Its columns are the contract; a change in one of those tables' meaning is a change here too
(``tests/risk/test_rules.py::test_history_frame_and_backtest_on_the_bank`` checks every column on payments
made through the ledger). Operational reads of other domains (a case's payments, a payment's counterparty)
go through their services.

:func:`file_frame` does the same for a labelled card_fraud-style file. See docs/RISK_RULES.md.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from smartbank.errors import ValidationFailed
from smartbank.risk.context import PAYMENT_FIELDS
from smartbank.risk.features import FEATURE_NAMES, HISTORY_DAYS, TX_SCHEMA, build_features, load_transactions
from smartbank.risk.rules.language import TEXT_FIELDS

__all__ = ["CUSTOMER_KINDS", "DELAY_DAYS", "HISTORY_SCHEMA", "LOCAL_TZ", "file_frame", "history_frame",
           "local_range"]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DELAY_DAYS = 7  # a fraud label becomes known a week after the payment (as the fraud model assumes)
# the ledger kinds of customer payments (as the engine's online history counts them)
CUSTOMER_KINDS = ("transfer", "bill_payment", "card_payment", "scheduled")


HISTORY_SCHEMA: dict[str, Any] = {
    **TX_SCHEMA,
    **{n: pl.Float64 for n in FEATURE_NAMES},
    **{n: (pl.Utf8 if n in TEXT_FIELDS else pl.Float64) for n in PAYMENT_FIELDS if n != "amount_minor"},
}


def local_range(start: date | datetime, end: date | datetime, *, max_days: int | None = None
                 ) -> tuple[datetime, datetime]:
    """Naive Asia/Shanghai local [start, end): a date ``end`` counts as a whole day (inclusive)."""
    s = start if isinstance(start, datetime) else datetime.combine(start, time())
    e = end if isinstance(end, datetime) else datetime.combine(end, time()) + timedelta(days=1)
    if s.tzinfo is not None:
        s = s.astimezone(LOCAL_TZ).replace(tzinfo=None)
    if e.tzinfo is not None:
        e = e.astimezone(LOCAL_TZ).replace(tzinfo=None)
    if e <= s:
        raise ValidationFailed("the end of the period must be after its start",
                               details={"start": str(start), "end": str(end)})
    if max_days is not None and e - s > timedelta(days=max_days):
        raise ValidationFailed(f"a test covers at most {max_days} days", reason="risk.period_too_long",
                               details={"start": str(start), "end": str(end), "max_days": max_days})
    return s, e


def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=LOCAL_TZ).astimezone(UTC)


def _epoch_us(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"
    return (f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000 + CASE WHEN substr({column}, 20, 1) = '.'"
            f" THEN CAST(substr({column}, 21, 6) AS INTEGER) ELSE 0 END)")


def _history_sql(dialect: str) -> tuple[str, str]:
    """The read-model queries: customer payments in a period, and earlier payments per (payer, payee)."""
    ts = _epoch_us(dialect, "t.created_at")
    if dialect == "postgresql":
        period = "t.created_at >= :lo AND t.created_at < :hi"
        before = "t.created_at < :lo"
    else:
        period = f"{ts} >= :lo_us AND {ts} < :hi_us"
        before = f"{ts} < :lo_us"
    kinds = ", ".join(f"'{k}'" for k in CUSTOMER_KINDS)
    base = (" FROM transfers t JOIN accounts da ON da.id = t.debit_account_id"
            " JOIN accounts ca ON ca.id = t.credit_account_id"
            f" WHERE t.kind IN ({kinds}) AND t.flags IN ('posted', 'pending') AND da.customer_id IS NOT NULL")
    rows = (
        f"SELECT t.id AS tx_id, {ts} AS ts_us, da.customer_id, t.credit_account_id AS terminal_id, t.amount_minor,"
        " l.label AS fraud, t.kind AS ledger_kind, t.reference, da.kind AS product,"
        " CASE WHEN ca.customer_id = da.customer_id THEN 1 ELSE 0 END AS own_account,"
        f" {_epoch_us(dialect, 'ca.created_at')} AS cp_created_us,"
        " CASE WHEN EXISTS (SELECT 1 FROM payees p WHERE p.customer_id = da.customer_id"
        " AND p.account_number = ca.number AND p.created_at <= t.created_at) THEN 1 ELSE 0 END AS saved_payee,"
        " d.channel, d.kind AS decision_kind, d.score AS model_score"
        + base.replace(" WHERE", " LEFT JOIN risk_labels l ON l.transfer_id = t.id"
                       " LEFT JOIN risk_decisions d ON d.id = (SELECT max(d2.id) FROM risk_decisions d2"
                       " WHERE d2.transfer_id = t.id) WHERE")
        + f" AND {period} ORDER BY t.id")
    prior = ("SELECT da.customer_id, t.credit_account_id AS terminal_id, count(*) AS n" + base
             + f" AND {before} GROUP BY da.customer_id, t.credit_account_id")
    return rows, prior


_RAW_SCHEMA: dict[str, Any] = {
    "tx_id": pl.Int64, "ts_us": pl.Int64, "customer_id": pl.Int64, "terminal_id": pl.Int64, "amount_minor": pl.Int64,
    "fraud": pl.Int8, "ledger_kind": pl.Utf8, "reference": pl.Utf8, "product": pl.Utf8, "own_account": pl.Float64,
    "cp_created_us": pl.Int64, "saved_payee": pl.Float64, "channel": pl.Utf8, "decision_kind": pl.Utf8,
    "model_score": pl.Float64,
}


def _local_ts(col: str) -> pl.Expr:
    return (pl.from_epoch(pl.col(col), time_unit="us").dt.replace_time_zone("UTC")
            .dt.convert_time_zone("Asia/Shanghai").dt.replace_time_zone(None).cast(pl.Datetime("us")))


def history_frame(session: Session, start: date | datetime, end: date | datetime) -> pl.DataFrame:
    """The bank's customer payments in [start, end) (Asia/Shanghai local) with every name of ``CONTEXT``.

    Payments are transfers of the customer kinds (transfer, bill_payment, card_payment, scheduled), posted or held;
    the customer is the owner of the paying account, the terminal the receiving account; ``fraud`` is the
    confirmed label (null when unknown). Features see ``HISTORY_DAYS`` + the label delay before ``start``;
    ``new_terminal`` / ``cust_term_n_prev`` count every earlier payment.
    """
    lo, hi = local_range(start, end)
    warm = lo - timedelta(days=HISTORY_DAYS + DELAY_DAYS + 1)
    dialect = session.get_bind().dialect.name
    rows_sql, prior_sql = _history_sql(dialect)
    params = {"lo": _utc(warm), "hi": _utc(hi), "lo_us": int(_utc(warm).timestamp() * 1_000_000),
              "hi_us": int(_utc(hi).timestamp() * 1_000_000)}
    rows = session.execute(text(rows_sql), params).all()
    raw = pl.DataFrame([tuple(r) for r in rows], schema=_RAW_SCHEMA, orient="row")
    prior = pl.DataFrame([tuple(r) for r in session.execute(text(prior_sql), params).all()],
                         schema={"customer_id": pl.Int64, "terminal_id": pl.Int64, "n": pl.Int64}, orient="row")
    tx = raw.select(pl.col("tx_id"), _local_ts("ts_us").alias("ts"), "customer_id", "terminal_id", "amount_minor",
                    "fraud").cast(TX_SCHEMA)  # type: ignore[arg-type]
    feats = build_features(tx, delay_days=DELAY_DAYS)
    feats = feats.join(prior, on=["customer_id", "terminal_id"], how="left").with_columns(
        (pl.col("cust_term_n_prev") + pl.col("n").fill_null(0)).alias("cust_term_n_prev"),
    ).with_columns((pl.col("cust_term_n_prev") == 0).cast(pl.Float64).alias("new_terminal")).drop("n")
    kind = (pl.when(pl.col("decision_kind").is_not_null()).then(pl.col("decision_kind"))
            .when(pl.col("reference").str.starts_with("topup:")).then(pl.lit("top_up"))
            .when(pl.col("ledger_kind") == "scheduled").then(pl.lit("transfer"))
            .otherwise(pl.col("ledger_kind")))
    channel = (pl.when(pl.col("channel").is_not_null()).then(pl.col("channel"))
               .when(pl.col("ledger_kind") == "scheduled").then(pl.lit("schedule")).otherwise(None))
    extra = raw.select(
        "tx_id", kind.alias("kind"), channel.alias("channel"), "product", "saved_payee", "own_account",
        ((pl.col("ts_us") - pl.col("cp_created_us")).cast(pl.Float64) / 86_400e6).alias("counterparty_age_days"),
        "model_score")
    out = feats.join(extra, on="tx_id", how="left").filter(pl.col("ts") >= lo, pl.col("ts") < hi)
    return _finish(out)


def _finish(df: pl.DataFrame) -> pl.DataFrame:
    for n, dt in HISTORY_SCHEMA.items():
        if n not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=dt).alias(n))
    df = df.select([pl.col(n).cast(dt) for n, dt in HISTORY_SCHEMA.items()])
    floats = [n for n, dt in HISTORY_SCHEMA.items() if dt == pl.Float64]
    return df.with_columns([pl.col(n).fill_nan(None) for n in floats]).sort("ts", "tx_id")


_FILE_CACHE: dict[tuple[str, float], pl.DataFrame] = {}
_FILE_LOCK = threading.Lock()


def _load_cached(path: Path) -> pl.DataFrame:
    key = (str(path.resolve()), path.stat().st_mtime)
    with _FILE_LOCK:
        if key not in _FILE_CACHE:
            _FILE_CACHE.clear()  # one file at a time: the card_fraud file is 1.4M rows
            _FILE_CACHE[key] = load_transactions(path)
        return _FILE_CACHE[key]


def file_frame(path: str | Path, start: date | datetime, end: date | datetime) -> pl.DataFrame:
    """A labelled card_fraud-style file as a history frame for [start, end) (its local times as given).

    Card payments go to merchants: ``saved_payee`` and ``own_account`` are 0 and ``kind`` is ``card_payment``;
    ``channel``, ``product``, ``counterparty_age_days`` and ``model_score`` are unknown (null).
    """
    lo, hi = local_range(start, end)
    p = Path(path)
    if not p.is_file():
        raise ValidationFailed("no such history file", details={"source": str(path)})
    tx = _load_cached(p)
    warm = lo - timedelta(days=HISTORY_DAYS + DELAY_DAYS + 1)
    # new_terminal needs every earlier payment of the (customer, terminal) pair
    prior = (tx.filter(pl.col("ts") < warm).group_by("customer_id", "terminal_id").agg(pl.len().alias("n"))
             .cast({"n": pl.Int64}))
    feats = build_features(tx.filter(pl.col("ts") >= warm, pl.col("ts") < hi), delay_days=DELAY_DAYS)
    feats = feats.join(prior, on=["customer_id", "terminal_id"], how="left").with_columns(
        (pl.col("cust_term_n_prev") + pl.col("n").fill_null(0)).alias("cust_term_n_prev"),
    ).with_columns((pl.col("cust_term_n_prev") == 0).cast(pl.Float64).alias("new_terminal")).drop("n")
    out = feats.filter(pl.col("ts") >= lo, pl.col("ts") < hi).with_columns(
        pl.lit("card_payment").alias("kind"), pl.lit(0.0).alias("saved_payee"), pl.lit(0.0).alias("own_account"))
    return _finish(out)
