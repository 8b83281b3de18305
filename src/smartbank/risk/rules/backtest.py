"""Testing a rule against history: its figures over a history frame, and a draft rule over a period.

:func:`backtest` evaluates a rule over a frame of :mod:`smartbank.risk.rules.history` (the bank's own
payments, or a labelled file) and counts hits, frauds caught, false positives and the money a stopping
action would have saved. :func:`test_rule` is what the console, the API and the CLI call: nothing is written.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from smartbank.config import get_settings
from smartbank.errors import ValidationFailed
from smartbank.risk.models import RULE_ACTIONS
from smartbank.risk.rules.history import file_frame, history_frame, local_range
from smartbank.risk.rules.language import Compiled, RuleExpressionError, compile_expression
from smartbank.risk.rules.manage import RULE_MANAGERS
from smartbank.security.service import Principal

__all__ = ["MAX_SAMPLE", "MAX_TEST_DAYS", "STOPPING", "backtest", "dataset_path", "ratio", "test_rule"]

STOPPING = ("review", "block")  # actions that keep the money from leaving
MAX_SAMPLE = 50
MAX_TEST_DAYS = 366  # the longest period test_rule (console, API) scans


def ratio(a: int, b: int) -> float | None:
    return round(a / b, 6) if b else None


def backtest(frame: pl.DataFrame, expression: str | Compiled, action: str, *, sample: int = 10) -> dict[str, Any]:
    """Figures of one rule over a history frame (see docs/RISK_RULES.md for the definitions)."""
    if action not in RULE_ACTIONS:
        raise ValidationFailed("action must be flag, challenge, review or block", details={"action": action})
    c = expression if isinstance(expression, Compiled) else compile_expression(expression)
    try:
        df = frame.lazy().with_columns(c.expr.alias("_hit")).select(
            "tx_id", "ts", "customer_id", "terminal_id", "amount_minor", "fraud", "_hit").collect()
    except pl.exceptions.PolarsError as exc:
        raise RuleExpressionError(f"the rule cannot be evaluated: {str(exc).splitlines()[0][:200]}",
                                  reason="expr.cannot_evaluate") from exc
    hit = pl.col("_hit")
    fraud = pl.col("fraud") == 1
    genuine = pl.col("fraud") == 0
    amt = pl.col("amount_minor")
    s = df.select(
        pl.len().alias("scanned"),
        hit.sum().alias("hits"),
        fraud.sum().alias("frauds"),
        pl.col("fraud").is_not_null().sum().alias("labelled"),
        (hit & fraud).sum().alias("frauds_hit"),
        (hit & genuine).sum().alias("false_positives"),
        (hit & pl.col("fraud").is_null()).sum().alias("unlabelled_hits"),
        amt.filter(hit & fraud).sum().alias("fraud_hit_minor"),
        amt.filter(hit & genuine).sum().alias("genuine_hit_minor"),
        amt.filter(fraud).sum().alias("fraud_minor"),
    ).row(0, named=True)
    v = {k: int(x or 0) for k, x in s.items()}
    labelled_hits = v["frauds_hit"] + v["false_positives"]
    rows = df.filter(hit).head(max(0, min(int(sample), MAX_SAMPLE)))
    return {
        "expression": c.source, "action": action, "names": sorted(c.names),
        "scanned": v["scanned"], "hits": v["hits"], "hit_rate": ratio(v["hits"], v["scanned"]),
        "labelled": v["labelled"], "frauds": v["frauds"], "frauds_hit": v["frauds_hit"],
        "recall": ratio(v["frauds_hit"], v["frauds"]),
        "labelled_hits": labelled_hits, "precision": ratio(v["frauds_hit"], labelled_hits),
        "false_positives": v["false_positives"], "unlabelled_hits": v["unlabelled_hits"],
        "fraud_minor": v["fraud_minor"],
        "money_saved_minor": v["fraud_hit_minor"] if action in STOPPING else 0,
        "challenged_fraud_minor": v["fraud_hit_minor"] if action == "challenge" else 0,
        "genuine_hit_minor": v["genuine_hit_minor"],
        "sample": [{"tx_id": int(r["tx_id"]), "ts": r["ts"].isoformat(sep=" "), "customer_id": int(r["customer_id"]),
                    "terminal_id": int(r["terminal_id"]), "amount_minor": int(r["amount_minor"]),
                    "fraud": None if r["fraud"] is None else int(r["fraud"])} for r in rows.iter_rows(named=True)],
    }


def dataset_path(source: str) -> Path:
    """A history file named relative to ``settings.datasets_dir``; nothing outside it may be read."""
    root = Path(get_settings().datasets_dir).resolve()
    p = (root / source).resolve()
    if root not in p.parents or not p.is_file():
        raise ValidationFailed("unknown history source: use 'bank' or a file under the datasets directory",
                               details={"source": source})
    return p


def test_rule(session: Session, *, actor: Principal, expression: str, action: str, start: date | datetime,
              end: date | datetime, source: str = "bank", sample: int = 10) -> dict[str, Any]:
    """Backtest a draft rule over [start, end]; nothing is written.

    ``source`` is ``bank`` (this bank's payments, :func:`history_frame`) or the name of a labelled
    card_fraud-style file under the datasets directory (:func:`file_frame`).
    """
    actor.require_role(*RULE_MANAGERS)
    compiled = compile_expression(expression)
    if action not in RULE_ACTIONS:
        raise ValidationFailed("action must be flag, challenge, review or block", details={"action": action})
    lo, hi = local_range(start, end, max_days=MAX_TEST_DAYS)
    frame = history_frame(session, lo, hi) if source == "bank" else file_frame(dataset_path(source), lo, hi)
    out = backtest(frame, compiled, action, sample=sample)
    out.update(source=source, start=lo.isoformat(sep=" "), end=hi.isoformat(sep=" "))
    return out
