"""Evaluation of the intent classifier on BANKING77-format CSV files (``text,category``).

``evaluate_intent(train, test)`` fits :class:`~smartbank.assistant.nlp.intent_model.IntentModel` on the
training file, scores the test file (or, without one, a stratified 20% split of the training file with a
fixed seed) and fits the same-run baseline (word TF-IDF + logistic regression) on the same rows.

Figures: accuracy, macro F1, ``train_seconds`` (the whole fit), ``p95_ms`` - the 95th percentile of the
latency of classifying ONE message (``IntentModel.top``), over ``latency_n`` single-message calls.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smartbank.assistant.nlp.intent_model import IntentModel, default_kind, texts_hash
from smartbank.errors import ValidationFailed

__all__ = ["accuracy", "evaluate_intent", "macro_f1", "p95_latency_ms", "read_intents", "stratified_split"]

MAX_TEXT = 1000


def read_intents(path: Path) -> tuple[list[str], list[str]]:
    """Read a ``text,category`` CSV; any other shape is a :class:`ValidationFailed` naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise ValidationFailed(f"{path}: no such file", reason="assistant.data.no_such_file",
                               details={"path": str(path)})
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            cols = [c.strip() for c in (reader.fieldnames or [])]
            if "text" not in cols or "category" not in cols:
                raise ValidationFailed(f"{path}: expected a CSV with the columns text,category; found "
                                       f"{','.join(cols) or 'no header'}", reason="assistant.data.bad_header",
                                       details={"path": str(path)})
            texts: list[str] = []
            labels: list[str] = []
            for n, row in enumerate(reader, start=2):
                row = {(k or "").strip(): v for k, v in row.items()}
                text, label = (row.get("text") or "").strip(), (row.get("category") or "").strip()
                if not text or not label:
                    raise ValidationFailed(f"{path}, line {n}: empty text or category",
                                           reason="assistant.data.empty_row",
                                           details={"path": str(path), "line": n})
                texts.append(text[:MAX_TEXT])
                labels.append(label)
    except UnicodeDecodeError:
        raise ValidationFailed(f"{path}: not a UTF-8 text file", reason="assistant.data.not_utf8",
                               details={"path": str(path)}) from None
    except csv.Error as exc:
        raise ValidationFailed(f"{path}: not a readable CSV ({exc})", reason="assistant.data.bad_csv",
                               details={"path": str(path)}) from None
    if not texts:
        raise ValidationFailed(f"{path}: no rows", reason="assistant.data.no_rows", details={"path": str(path)})
    return texts, labels


def stratified_split(texts: Sequence[str], labels: Sequence[str], *, test_size: float = 0.2,
                     seed: int = 0) -> tuple[list[str], list[str], list[str], list[str]]:
    """Per-label shuffled split; labels with a single example stay in training."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, y in enumerate(labels):
        by_label.setdefault(y, []).append(i)
    tr: list[int] = []
    te: list[int] = []
    for y in sorted(by_label):
        idx = rng.permutation(by_label[y]).tolist()
        k = int(round(len(idx) * test_size)) if len(idx) > 1 else 0
        te += idx[:k]
        tr += idx[k:]
    tr.sort()
    te.sort()
    return ([texts[i] for i in tr], [labels[i] for i in tr], [texts[i] for i in te], [labels[i] for i in te])


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    if not y_true:
        return float("nan")
    return float(np.mean([a == b for a, b in zip(y_true, y_pred, strict=True)]))


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Unweighted mean over the true labels of the per-label F1 (a label never predicted scores 0)."""
    labels = sorted(set(y_true))
    if not labels:
        return float("nan")
    f1s = []
    for c in labels:
        tp = sum(1 for a, b in zip(y_true, y_pred, strict=True) if a == c and b == c)
        fp = sum(1 for a, b in zip(y_true, y_pred, strict=True) if a != c and b == c)
        fn = sum(1 for a, b in zip(y_true, y_pred, strict=True) if a == c and b != c)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(f1s))


def p95_latency_ms(model: IntentModel, texts: Sequence[str], *, n: int = 300) -> float:
    """95th percentile (nearest rank) of the time to classify one message, over ``n`` calls."""
    if not texts:
        return float("nan")
    model.top(texts[0], 1)  # warm-up
    ms = []
    for i in range(n):
        t0 = time.perf_counter()
        model.top(texts[i % len(texts)], 1)
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    return ms[min(len(ms) - 1, max(0, int(np.ceil(0.95 * len(ms))) - 1))]


def evaluate_intent(
    train: Path,
    test: Path | None = None,
    *,
    kind: str | None = None,
    seed: int = 0,
    epochs: int = 4,
    baseline: bool = True,
    latency_n: int = 300,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """Fit on ``train``, score ``test`` (or a stratified 20% split of ``train``); returns the figures."""
    texts, labels = read_intents(train)
    if test is not None:
        te_x, te_y = read_intents(test)
        tr_x, tr_y, split = texts, labels, "file"
    else:
        tr_x, tr_y, te_x, te_y = stratified_split(texts, labels, seed=seed)
        split = f"stratified 80/20 of --train, seed {seed}"
        if not te_x:
            raise ValidationFailed(f"{train}: too few rows per intent to hold out a test split",
                                   reason="assistant.data.too_few_rows", details={"path": str(train)})
    kind = kind or default_kind()
    model = IntentModel(kind, seed=seed, epochs=epochs).fit(tr_x, tr_y)
    pred = model.predict(te_x)
    out: dict[str, Any] = {
        "accuracy": round(accuracy(te_y, pred), 4),
        "macro_f1": round(macro_f1(te_y, pred), 4),
        "train_seconds": round(model.train_seconds, 2),
        "p95_ms": round(p95_latency_ms(model, te_x, n=latency_n), 2),
        "n_train": len(tr_x),
        "n_test": len(te_x),
        "n_intents": len(model.classes_),
        "unseen_test_intents": len(set(te_y) - set(model.classes_)),
        "model": kind,
        "split": split,
        "seed": seed,
    }
    if kind in ("encoder", "ensemble"):
        out["epochs"] = epochs
    if model_dir is not None:
        metrics = {k: out[k] for k in ("accuracy", "macro_f1", "p95_ms")}
        out["model_path"] = str(model.save(data_hash=texts_hash(tr_x, tr_y), metrics=metrics, model_dir=model_dir))
    if baseline:
        base = IntentModel("baseline", seed=seed).fit(tr_x, tr_y)
        bpred = base.predict(te_x)
        out.update({
            "baseline_model": "word TF-IDF + logistic regression",
            "baseline_accuracy": round(accuracy(te_y, bpred), 4),
            "baseline_macro_f1": round(macro_f1(te_y, bpred), 4),
            "baseline_train_seconds": round(base.train_seconds, 2),
        })
    return out
