"""A small generated card-payment history in the card_fraud layout (a few thousand rows)."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from smartbank.risk.features import load_transactions

START = datetime(2018, 4, 1)


def make_raw(*, seed: int = 7, customers: int = 40, terminals: int = 30, days: int = 60) -> pl.DataFrame:
    """Handbook-like: amounts over 220 are frauds, compromised terminals, compromised cards (amount x5)."""
    rng = np.random.default_rng(seed)
    mean_amt = rng.uniform(5, 100, customers)
    rate = rng.uniform(0.5, 2.0, customers)
    rows = []
    for c in range(customers):
        for d in range(days):
            for _ in range(rng.poisson(rate[c])):
                secs = int(np.clip(rng.normal(43200, 20000), 0, 86399))
                amt = abs(rng.normal(mean_amt[c], mean_amt[c] / 2))
                rows.append((START + timedelta(days=d, seconds=secs), c, int(rng.integers(terminals)), amt))
    rows.sort()
    bad_terminals = {(int(rng.integers(terminals)), int(rng.integers(days))) for _ in range(6)}
    bad_cards = {(int(rng.integers(customers)), int(rng.integers(days))) for _ in range(6)}
    out = []
    for i, (ts, c, t, amt) in enumerate(rows):
        day = (ts - START).days
        fraud = int(amt > 220)
        if any(t == bt and bd <= day < bd + 28 for bt, bd in bad_terminals):
            fraud = 1
        if any(c == bc and bd <= day < bd + 14 for bc, bd in bad_cards) and rng.random() < 1 / 3:
            amt, fraud = amt * 5, 1
        out.append({"TRANSACTION_ID": i, "TX_DATETIME": ts.strftime("%Y-%m-%d %H:%M:%S"), "CUSTOMER_ID": c,
                    "TERMINAL_ID": t, "TX_AMOUNT": f"{amt:.2f}", "TX_TIME_SECONDS": int((ts - START).total_seconds()),
                    "TX_TIME_DAYS": day, "TX_FRAUD": fraud})
    return pl.DataFrame(out)


@pytest.fixture(scope="session")
def raw() -> pl.DataFrame:
    return make_raw()


@pytest.fixture(scope="session")
def gz_file(raw: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("card") / "tx.csv.gz"
    with gzip.open(path, "wb") as f:
        f.write(raw.write_csv().encode())
    return path


@pytest.fixture(scope="session")
def tx(gz_file: Path) -> pl.DataFrame:
    return load_transactions(gz_file)
