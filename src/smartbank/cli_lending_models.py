"""Credit model commands: ``smartbank eval credit``, ``smartbank lending train``, ``smartbank lending report``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    def fix(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, float):
            return round(v, 6)
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v
    return {k: fix(v) for k, v in d.items()}


def register(app: typer.Typer, lending_app: typer.Typer, eval_app: typer.Typer) -> None:
    @eval_app.command("credit")
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

        from smartbank.lending.credit.data import TargetError, read_table
        from smartbank.lending.credit.evaluate import evaluate_credit

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
        print(json.dumps(_clean(res), default=str))

    @lending_app.command("train")
    def lending_train(
        data: Annotated[Path | None, typer.Option("--data", dir_okay=False, help=(
            "Give-Me-Some-Credit style file (default: datasets_dir/give_me_some_credit/train.csv)"))] = None,
        fast: Annotated[bool, typer.Option("--fast", help="subsample and fewer trees: seconds (demo bank)")] = False,
        seed: Annotated[int, typer.Option(help="random seed")] = 42,
        model_dir: Annotated[Path | None, typer.Option(help="model registry folder (default: settings)")] = None,
    ) -> None:
        """Train, measure on a held-out 20% and save the production credit model; last line JSON."""
        from rich.console import Console

        from smartbank.lending.credit.scorer import default_data_path, train_production

        console = Console(stderr=True)
        path = data or default_data_path()
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}", param_hint="--data")
        with console.status(f"training the credit model on {path.name}" + (" (fast)" if fast else "")):
            res = train_production(path, model_dir=model_dir, fast=fast, seed=seed)
        console.print(f"credit {res['version']}: {res['model']}")
        console.print(f"held out ({res['n_holdout']:,} rows): AUC {res['auc']:.4f}  KS {res['ks']:.4f}  "
                      f"Gini {res['gini']:.4f}; challenger (scorecard) AUC {res['challenger_auc']:.4f}"
                      + (f"; default LightGBM AUC {res['lgbm_default_auc']:.4f}" if "lgbm_default_auc" in res else ""))
        console.print(f"trained in {res['train_seconds']:.1f} s; saved to {res['path']}")
        print(json.dumps(_clean(res), default=str))

    @lending_app.command("report")
    def lending_report(
        out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("credit_model_report.html"),
        days: Annotated[int, typer.Option(help="recent applications window for PSI, days", min=1)] = 30,
        lang: Annotated[str, typer.Option(help="en or zh")] = "en",
        model_dir: Annotated[Path | None, typer.Option(help="model registry folder (default: settings)")] = None,
    ) -> None:
        """Write the credit model report (metrics, curves, calibration, bands, PSI, champion vs challenger)."""
        from smartbank.lending.credit.report import build_report

        recent = _recent(days)
        path = build_report(out, model_dir=model_dir, recent=recent, lang=lang)
        typer.echo(str(path))


def _recent(days: int) -> dict[str, Any] | None:
    """Recent decisions' scores, or None when the database cannot be read (e.g. not migrated yet)."""
    from smartbank import db
    from smartbank.lending.credit.monitor import recent_scores

    try:
        return db.run_read(lambda s: recent_scores(s, days=days))  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - the report is still useful without the stability section
        return None
