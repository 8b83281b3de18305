"""``smartbank eval recommend`` (top-k recommender against default ALS and popularity) and ``smartbank eval
portfolio`` (the default allocation against equal weight, out of sample)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def register(app: typer.Typer, bench_app: typer.Typer, eval_app: typer.Typer) -> None:
    @eval_app.command("recommend")
    def eval_recommend(
        train: Annotated[Path, typer.Option("--train", exists=True, dir_okay=False,
                                            help="user item rating timestamp rows, tab-separated, no header")],
        test: Annotated[Path, typer.Option("--test", exists=True, dir_okay=False, help="same format")],
        k: Annotated[int, typer.Option("--k", min=1, help="list length")] = 10,
        seed: Annotated[int, typer.Option(help="validation split and ALS initialisation")] = 0,
    ) -> None:
        """Choose the recommender on a split of train, refit on train, score test users' top-k (train items
        excluded) against implicit's default ALS and popularity; last line: JSON metrics."""
        from rich.console import Console

        from smartbank.recommend.evaluate import evaluate_recommend, load_ratings

        console = Console(stderr=True)
        tr, te = load_ratings(train), load_ratings(test)
        if len(tr) == 0:
            raise typer.BadParameter(f"no rows in {train}")
        console.print(f"train {len(tr):,} rows ({tr['user'].nunique():,} users, {tr['item'].nunique():,} items), "
                      f"test {len(te):,} rows ({te['user'].nunique():,} users)")
        with console.status("validation split inside train, model choice, refit, scoring, baselines"):
            res = evaluate_recommend(tr, te, k=k, seed=seed)
        console.print(f"chosen {res['method']} (validation nDCG@{k} "
                      f"{res['validation_ndcg_at_k'][res['method']]:.4f}); {res['n_test_users']} test users, "
                      f"{res['n_cold_test_users']} cold")
        for label, p in (("ours", ""), ("ALS default", "als_default_"), ("popularity", "popularity_")):
            console.print(f"{label:>11}: P@{k} {res[p + 'precision_at_k']:.4f}  R@{k} {res[p + 'recall_at_k']:.4f}  "
                          f"nDCG@{k} {res[p + 'ndcg_at_k']:.4f}  MAP@{k} {res[p + 'map_at_k']:.4f}  "
                          f"cov {res[p + 'coverage']:.3f}")
        print(json.dumps(_clean(res)))

    @eval_app.command("portfolio")
    def eval_portfolio(
        prices: Annotated[Path, typer.Option("--prices", exists=True, dir_okay=False,
                                             help="wide prices: a date column, one column per asset (CSV/Parquet)")],
        test_size: Annotated[float, typer.Option("--test-size", min=0.01, max=0.99,
                                                 help="last fraction of the days, for testing")] = 0.33,
        method: Annotated[str | None, typer.Option(help="allocation method (default: the project's default)")]  # noqa: UP007
        = None,
        max_weight: Annotated[float | None, typer.Option("--max-weight", help="per-asset cap (default 0.15)")]  # noqa: UP007
        = None,
    ) -> None:
        """Walk the default allocation through the test part (monthly refits on the past two years), compare
        with equal weight on the same days; last line: JSON metrics."""
        from rich.console import Console

        from smartbank.wealth.allocation import DEFAULT_MAX_WEIGHT, DEFAULT_METHOD, METHODS
        from smartbank.wealth.evaluate import evaluate_portfolio, load_prices

        console = Console(stderr=True)
        m = method or DEFAULT_METHOD
        if m not in METHODS:
            raise typer.BadParameter(f"unknown method {m!r}; one of {', '.join(METHODS)}")
        px = load_prices(prices)
        console.print(f"{px.shape[1]} assets, {len(px):,} days, {px.index[0].date()} .. {px.index[-1].date()}")
        with console.status("walk-forward over the fitting part (validation) and the test part"):
            try:
                res = evaluate_portfolio(px, test_size=test_size, method=m,
                                         max_weight=DEFAULT_MAX_WEIGHT if max_weight is None else max_weight)
            except ValueError as e:
                raise typer.BadParameter(str(e)) from None
        console.print(f"fit {res['train_start']}..{res['train_end']}, test {res['test_start']}..{res['test_end']}; "
                      f"{m}, max weight {res['max_weight']:.3f}, {res['n_rebalances']} refits")
        console.print(f"validation (walk-forward inside the fitting part): Sharpe {res['validation_sharpe']:.3f} "
                      f"vs equal weight {res['equal_weight_validation_sharpe']:.3f}")
        for label, p in (("ours", ""), ("equal weight", "equal_weight_")):
            console.print(f"{label:>12}: Sharpe {res[p + 'sharpe']:.3f}  return {res[p + 'annual_return']:.2%}  "
                          f"vol {res[p + 'annual_volatility']:.2%}  max drawdown {res[p + 'max_drawdown']:.2%}")
        print(json.dumps(_clean(res)))
