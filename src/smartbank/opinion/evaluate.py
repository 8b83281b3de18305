"""How well the opinion pipeline's sentiment reads labelled public texts (``smartbank eval opinion``).

Each text is scored as a mention is (``assistant.score_sentiment``: the trained Chinese model blended with the
lexicon, or the lexicon alone when no model is trained); a text is read as positive when its score is above
0 (the labelled sets are binary). Also reported: the share of labelled-negative texts the monitor calls
negative (score <= ``NEGATIVE_AT``, what feeds the negative-spike series) and the precision of that call.

Which data: ``--data`` when given (a CSV with a header naming ``text``/``review`` and ``label`` (1 positive,
0 negative), or a ChnSentiCorp-style TSV ``label<TAB>text_a``); else a Weibo sentiment folder under
``datasets_dir`` (any folder whose name contains ``weibo``) when present; else the first of
:data:`CANDIDATES` the sentiment model in use was *not* trained on (its ``meta.json`` lists its train files).
"""

from __future__ import annotations

import csv
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from smartbank.assistant import service as assistant
from smartbank.errors import ValidationFailed
from smartbank.ml import service as ml
from smartbank.opinion.understand import NEGATIVE_AT

__all__ = ["CANDIDATES", "choose_dataset", "evaluate", "read_texts"]

CANDIDATES = ("waimai_10k/waimai_10k.csv", "online_shopping_10_cats/online_shopping_10_cats.csv",
              "chnsenticorp_htl/ChnSentiCorp_htl_all.csv", "chnsenticorp/dev.tsv")
MODEL_NAME = "assistant_sentiment"

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def read_texts(path: Path) -> tuple[list[str], list[int]]:
    """(texts, labels 0/1) of a labelled CSV or TSV."""
    p = Path(path)
    try:
        with p.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t" if p.suffix.lower() == ".tsv" else ","))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed("the file cannot be read", reason="opinion.unreadable_file",
                               details={"file": p.name, "error": str(exc)[:200]}) from None
    if not rows:
        raise ValidationFailed("the file is empty", reason="opinion.unreadable_file", details={"file": p.name})
    head = [h.strip().lower() for h in rows[0]]
    ti = next((head.index(k) for k in ("text", "review", "text_a", "content") if k in head), None)
    li = head.index("label") if "label" in head else None
    if ti is None or li is None:
        raise ValidationFailed("the header needs text (or review) and label", reason="opinion.bad_eval_header",
                               details={"file": p.name})
    xs, ys = [], []
    for r in rows[1:]:
        if len(r) <= max(ti, li) or r[li].strip() not in ("0", "1") or not r[ti].strip():
            continue
        xs.append(r[ti].strip())
        ys.append(int(r[li]))
    return xs, ys


def _model_info(model_dir: Path | None) -> dict[str, Any]:
    root = Path(model_dir) if model_dir is not None else ml.default_model_dir()
    version = ml.latest_version(MODEL_NAME, model_dir=root)
    if version is None:
        return {"version": None, "train_files": []}
    meta = json.loads((root / MODEL_NAME / version / "meta.json").read_text(encoding="utf-8"))
    files = (meta.get("params") or {}).get("train_files") or []
    return {"version": version, "train_files": [str(f) for f in files]}


def choose_dataset(datasets_dir: Path, model_dir: Path | None = None) -> tuple[Path | None, str]:
    """(file, why) by the rule of the module docstring; (None, why) when nothing fits."""
    root = Path(datasets_dir)
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and "weibo" in p.name.lower()):
            files = sorted([*folder.glob("*.csv"), *folder.glob("*.tsv")])
            if files:
                return files[0], "weibo"
    trained = {Path(f).name for f in _model_info(model_dir)["train_files"]}
    for c in CANDIDATES:
        p = root / c
        if p.is_file() and p.name not in trained:
            return p, "not trained on"
    if not root.is_dir():
        return None, f"no datasets folder at {root}"
    return None, "every candidate is missing or was used to train the model"


def evaluate(path: Path, *, model_dir: Path | None = None, limit: int | None = None) -> dict[str, Any]:
    xs, ys = read_texts(path)
    if limit and limit < len(xs):  # a seeded sample: the files are often sorted by label
        keep = sorted(random.Random(0).sample(range(len(xs)), limit))
        xs, ys = [xs[i] for i in keep], [ys[i] for i in keep]
    if not xs:
        raise ValidationFailed("no labelled text in the file", reason="opinion.no_labelled_text",
                               details={"file": Path(path).name})
    t0 = time.perf_counter()
    scores, versions = [], set()
    for x in xs:
        s = assistant.score_sentiment(x, model_dir=model_dir)
        scores.append(s.value)
        versions.add(s.model_version)
    secs = time.perf_counter() - t0
    right = sum((v > 0) == (y == 1) for v, y in zip(scores, ys, strict=True))
    called = [y for v, y in zip(scores, ys, strict=True) if v <= NEGATIVE_AT]
    negatives = sum(1 for y in ys if y == 0)
    info = _model_info(model_dir)
    return {"dataset": str(Path(path).parent.name + "/" + Path(path).name), "n": len(xs),
            "accuracy": round(right / len(xs), 4), "positive_share": round(sum(ys) / len(ys), 4),
            "negative_recall": round(sum(1 for y in called if y == 0) / negatives, 4) if negatives else None,
            "negative_precision": round(sum(1 for y in called if y == 0) / len(called), 4) if called else None,
            "model_versions": sorted(versions), "model_train_files": [Path(f).name for f in info["train_files"]],
            "seconds": round(secs, 2)}
