"""``smartbank eval fraud``: the fraud model's time-split evaluation against the handbook's peer."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer


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
        with console.status("features, validation-window model selection, training, scoring (and the peer)"):
            res = evaluate_fraud(tx, test_start=start, test_days=test_days, delay_days=delay_days,
                                 random_state=seed, with_peer=peer, model_dir=model_dir)
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
