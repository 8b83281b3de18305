"""``smartbank bench risk``: generated card payments when the shared file is missing, the latency
percentile, and a decider that takes each payment through ``risk.service.assess``."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

CARD_FRAUD_FILE = "card_fraud/transactions_2018-04-01_2018-08-31.csv.gz"


def generated_transactions(*, days: int, customers: int = 2000, terminals: int = 4000, seed: int = 0) -> pl.DataFrame:
    """Handbook-like card payments (TX_SCHEMA) when the shared file is missing: about 2 a customer a day,
    amounts over 220 yuan and compromised terminals' payments (28 days each) are frauds."""
    import numpy as np
    import polars as pl

    from smartbank.risk import service as risk

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
    return df.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("tx_id")).select(list(risk.TX_SCHEMA)) \
        .cast(risk.TX_SCHEMA)  # type: ignore[arg-type]


def percentile(sorted_ms: list[float], q: float) -> float:
    i = min(len(sorted_ms) - 1, max(0, int(round(q / 100 * len(sorted_ms) + 0.5)) - 1))  # nearest rank
    return sorted_ms[i]


def decider(state: Any, model: Any, version: str, delay_days: int) -> Any:
    """A function deciding one card_fraud payment through ``risk.service.assess`` (customer = the card,
    counterparty = the terminal), with the default rules and limits of a scratch SQLite database."""
    import tempfile
    from collections import Counter
    from datetime import UTC

    from smartbank import db
    from smartbank.ops.service import upgrade
    from smartbank.risk import service as risk

    url = f"sqlite:///{tempfile.mkdtemp(prefix='sb-bench-risk-')}/risk.db"
    upgrade(url)
    eng = db.get_engine(url)
    db.run_in_transaction(risk.seed_defaults, engine=eng)
    engine = risk.install_engine(str(eng.url), state=state, model=model, model_version=str(version),
                                 delay_days=delay_days)
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
