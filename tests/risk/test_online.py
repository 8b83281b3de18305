"""The online feature state gives the batch features of every payment of a stream, name by name."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from smartbank.risk.features import FEATURE_NAMES, build_features
from smartbank.risk.fraud_model import FraudModel
from smartbank.risk.online import OnlineScorer, OnlineState

DELAY = 7


def _payment(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("tx_id", "ts", "customer_id", "terminal_id", "amount_minor")}


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _assert_same(online: dict[str, float], batch: dict[str, Any], where: str) -> None:
    assert list(online) == FEATURE_NAMES
    bad = {n: (online[n], batch[n]) for n in FEATURE_NAMES
           if not _close(online[n], float("nan") if batch[n] is None else float(batch[n]))}
    assert not bad, f"{where}: {bad}"


@pytest.fixture(scope="module")
def stream(tx: pl.DataFrame) -> pl.DataFrame:
    """The generated history plus same-second payments (same customer, other terminal) and unknown labels."""
    rng = np.random.default_rng(3)
    twins = tx.sample(60, seed=1).with_columns(pl.col("tx_id") + 1_000_000,
                                                (pl.col("terminal_id") + 1) % 30,
                                                (pl.col("amount_minor") * 3 + 7))
    out = pl.concat([tx, twins]).sort("ts", "tx_id")
    unknown = rng.random(out.height) < 0.05
    return out.with_columns(pl.when(pl.Series(unknown)).then(None).otherwise(pl.col("fraud")).alias("fraud"))


def _replay(state: OnlineState, rows: list[dict[str, Any]], batch: dict[int, dict[str, Any]]) -> int:
    checked = 0
    seen = dict.fromkeys(("term_risk_7d", "cust_known_fraud_14d", "cust_n_high_14d", "amount_z_30d",
                          "cust_days_since_known_fraud"), 0)
    for row in rows:
        p = _payment(row)
        f = state.features(p)
        _assert_same(f, batch[row["tx_id"]], f"tx {row['tx_id']} at {row['ts']}")
        checked += 1
        for n in seen:
            seen[n] += f[n] > 0
        state.observe(p)
        if row["fraud"] is not None:  # the label arrives within the delay, at a varying time
            lag = timedelta(days=DELAY) * (row["tx_id"] % 4) / 3
            state.label(row["tx_id"], bool(row["fraud"]), at=row["ts"] + lag)
    assert all(v > 20 for v in seen.values()), seen  # the label and history features are exercised
    return checked


def test_online_features_equal_batch_on_the_whole_stream(stream: pl.DataFrame) -> None:
    assert stream.height > 2000 and stream["fraud"].sum() > 50
    batch = {r["tx_id"]: r for r in build_features(stream, delay_days=DELAY).iter_rows(named=True)}
    state = OnlineState(delay_days=DELAY)
    assert _replay(state, list(stream.iter_rows(named=True)), batch) == stream.height


def test_warm_start_then_stream_equals_batch(stream: pl.DataFrame) -> None:
    batch = {r["tx_id"]: r for r in build_features(stream, delay_days=DELAY).iter_rows(named=True)}
    cut = datetime(2018, 5, 12, 9, 30)
    state = OnlineState.from_history(stream, cut, delay_days=DELAY)
    rest = list(stream.filter(pl.col("ts") >= cut).iter_rows(named=True))
    assert _replay(state, rest, batch) == len(rest) > 900


def test_label_counts_only_after_the_delay_and_after_it_arrives() -> None:
    t0 = datetime(2018, 4, 1, 12)
    state = OnlineState(delay_days=DELAY)
    fraud = {"tx_id": 1, "ts": t0, "customer_id": 5, "terminal_id": 9, "amount_minor": 1000}
    state.observe(fraud)
    state.label(1, True, at=t0 + timedelta(hours=1))

    def probe(t: datetime) -> dict[str, float]:
        return state.features({"ts": t, "customer_id": 6, "terminal_id": 9, "amount_minor": 500})

    assert probe(t0 + timedelta(days=DELAY))["term_known_n_7d"] == 0  # exactly at s + delay: not yet (batch too)
    after = probe(t0 + timedelta(days=DELAY, seconds=1))
    assert after["term_known_n_7d"] == 1 and after["term_risk_7d"] == 1.0
    assert after["term_days_since_known_fraud"] == pytest.approx((DELAY * 86400 + 1) / 86400)
    # a label arriving after the delay counts only from its arrival
    late = {"tx_id": 2, "ts": t0 + timedelta(days=1), "customer_id": 5, "terminal_id": 10, "amount_minor": 1000}
    state.observe(late)
    arrives = t0 + timedelta(days=1 + DELAY + 2)
    state.label(2, True, at=arrives)
    other = {"customer_id": 6, "terminal_id": 10, "amount_minor": 500}
    assert state.features({**other, "ts": arrives - timedelta(seconds=1)})["term_known_n_7d"] == 0
    assert state.features({**other, "ts": arrives})["term_known_n_7d"] == 1


def test_features_are_read_before_the_payment_is_added() -> None:
    t0 = datetime(2018, 4, 2, 3, 4, 5)
    state = OnlineState(delay_days=DELAY)
    p = {"tx_id": 1, "ts": t0, "customer_id": 1, "terminal_id": 2, "amount_minor": 12_345}
    before = state.features(p)
    assert before["cust_n_30d"] == 0 and before["new_terminal"] == 1 and math.isnan(before["secs_since_prev"])
    state.observe(p)
    same_second = state.features({**p, "tx_id": 2})
    assert same_second["cust_n_30d"] == 0  # windows exclude the same second, as the batch does
    assert same_second["cust_term_n_prev"] == 1 and same_second["secs_since_prev"] == 0
    later = state.features({**p, "tx_id": 3, "ts": t0 + timedelta(minutes=5)})
    assert later["cust_n_1h"] == 1 and later["cust_sum_1h"] == 123.45 and later["term_n_1d"] == 1
    with pytest.raises(ValueError):
        state.observe({**p, "ts": t0 - timedelta(seconds=1)})


def test_a_payment_read_late_counts_at_the_last_time_seen() -> None:
    """Another process's payment, committed a moment before the last one this process saw, is clamped to
    that time: it counts in every window, and the state stays in time order."""
    t0 = datetime(2018, 4, 2, 3, 4, 5)
    state = OnlineState(delay_days=DELAY)
    p = {"tx_id": 1, "ts": t0, "customer_id": 1, "terminal_id": 2, "amount_minor": 10_000}
    state.observe(p)
    late = {**p, "tx_id": 2, "ts": t0 - timedelta(milliseconds=300), "amount_minor": 20_000}
    assert not state.seen(2)
    state.observe(late, clamp=True)
    assert state.seen(1) and state.seen(2)
    f = state.features({**p, "tx_id": 3, "ts": t0 + timedelta(minutes=1)})
    assert f["cust_n_1h"] == 2 and f["cust_sum_1h"] == 300.0 and f["cust_max_1h"] == 200.0
    state.observe({**p, "tx_id": 3, "ts": t0 + timedelta(minutes=1)})  # later ones go on as before


def test_scorer_probability_equals_the_batch_model(stream: pl.DataFrame) -> None:
    feats = build_features(stream, delay_days=DELAY)
    cut = datetime(2018, 5, 20)
    train = feats.filter(pl.col("ts") < cut)
    model = FraudModel(n_estimators=30, num_leaves=7, min_child_samples=10, n_jobs=1).fit(
        train, train["fraud"].fill_null(0).to_numpy())
    scorer = OnlineScorer(OnlineState.from_history(stream, cut, delay_days=DELAY), model)
    rest = feats.filter(pl.col("ts") >= cut).head(200)
    expected = model.predict_proba(rest)[:, 1]
    got = [scorer.process(_payment(r))[0] for r in rest.iter_rows(named=True)]
    assert np.allclose(got, expected, rtol=1e-9, atol=1e-12)
    # the plain Booster.predict path gives the same
    scorer._fast = None
    row = rest.row(0, named=True)
    assert scorer.predict(row) == pytest.approx(expected[0], rel=1e-9)


def test_bench_risk_command(gz_file: Any, tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from smartbank.cli import app

    res = CliRunner().invoke(app, ["bench", "risk", "--transactions", str(gz_file), "--warm-days", "40",
                                   "--payments", "300", "--model-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["payments"] == 300 and out["features"] == len(FEATURE_NAMES)
    assert 0 < out["p50_ms"] <= out["p95_ms"] <= out["p99_ms"] <= out["max_ms"]
    assert out["model_version"] == "trained-in-bench"


def test_a_customer_with_thousands_of_payments_in_the_window_equals_batch() -> None:
    """One busy customer (~60 payments a day for 90 days, repeated amounts, same-second pairs, frauds,
    late and reversed labels) beside light ones: the indexed windows, the moving median and the compaction
    of expired entries give the batch features."""
    rng = np.random.default_rng(11)
    t0 = datetime(2018, 4, 1)
    rows = []
    for i in range(6000):
        busy = i % 8 != 0
        ts = t0 + timedelta(seconds=int(i * 1350 + rng.integers(0, 600)))
        if i % 97 == 1:
            ts = rows[-1][1]  # the same second as the previous payment
        amount = int(rng.choice([500, 1000, 2500])) if i % 5 == 0 else int(rng.integers(100, 90_000))
        rows.append((i + 1, ts, 1 if busy else int(rng.integers(2, 6)), int(rng.integers(0, 40)), amount,
                     None if i % 13 == 0 else int(rng.random() < 0.04)))
    rows.sort(key=lambda r: (r[1], r[0]))
    stream = pl.DataFrame(rows, schema={"tx_id": pl.Int64, "ts": pl.Datetime("us"), "customer_id": pl.Int64,
                                        "terminal_id": pl.Int64, "amount_minor": pl.Int64, "fraud": pl.Int8},
                          orient="row")
    batch = {r["tx_id"]: r for r in build_features(stream, delay_days=DELAY).iter_rows(named=True)}
    state = OnlineState(delay_days=DELAY)
    peak = 0
    for row in stream.iter_rows(named=True):
        p = _payment(row)
        _assert_same(state.features(p), batch[row["tx_id"]], f"tx {row['tx_id']} at {row['ts']}")
        state.observe(p)
        peak = max(peak, len(state._cust[1]) if 1 in state._cust else 0)
        if row["fraud"] is not None:
            lag = timedelta(days=DELAY) * (row["tx_id"] % 4) / 3
            state.label(row["tx_id"], bool(row["fraud"]), at=row["ts"] + lag)
    assert peak > 1500  # the busy customer's window really held that many
