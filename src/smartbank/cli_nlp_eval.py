"""Commands placeholder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer, group: typer.Typer, eval_app: typer.Typer) -> None:
    _register_intent(eval_app)


def _register_intent(eval_app: typer.Typer) -> None:
    @eval_app.command("intent")
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
        import json

        from rich.console import Console

        from smartbank.assistant.nlp.intent_eval import evaluate_intent
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
