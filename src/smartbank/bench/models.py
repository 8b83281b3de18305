"""``smartbank bench models``: what the models' everyday calls cost, measured.

- credit: fitting the production credit model in its fast mode (``lending.train_credit_model(fast=True)``, the demo
  bank's model) on a synthetic portfolio (4,000 rows unless told otherwise), then one applicant's score
  (``Scorer.score``), timed over ``calls`` calls;
- sentiment: one customer message's score with the lexicon alone (no trained model), and with a model fitted on
  a small synthetic set of reviews, each timed over ``calls`` calls.

Per-call figures are in milliseconds: the mean (``*_ms``), the median (``*_ms_p50``) and the 95th percentile.

The figures come with the budgets the product holds them to (``budgets``: a fast fit within 15 s, a credit
score within 5 ms, a sentiment score within 20 ms) and ``within_budget``. They used to be timed assertions
inside the test suite, where a loaded machine made them fail for no fault of the code.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUDGETS = {"credit_train_fast_seconds": 15.0, "credit_score_ms": 5.0, "sentiment_lexicon_ms": 20.0,
           "sentiment_model_ms": 20.0}
CREDIT_APPLICANT = {"RevolvingUtilizationOfUnsecuredLines": 1.1, "age": 24, "NumberOfTime30-59DaysPastDueNotWorse": 4,
                    "DebtRatio": 2.5, "MonthlyIncome": 15000, "NumberOfOpenCreditLinesAndLoans": 8,
                    "NumberOfTimes90DaysLate": 3, "NumberRealEstateLoansOrLines": 1,
                    "NumberOfTime60-89DaysPastDueNotWorse": 0, "NumberOfDependents": 0}
MESSAGE = "你们的服务太差了，我要投诉！这是什么破银行，转账一直失败"
REVIEW = "房间很差，太失望了"


def _per_call_ms(fn: Callable[[], object], calls: int) -> dict[str, float]:
    fn()  # the first call loads what it needs: not an everyday call
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"mean": round(statistics.fmean(times), 3), "p50": round(statistics.median(times), 3),
            "p95": round(times[int(0.95 * (len(times) - 1))], 3)}


def synthetic_reviews(n: int, seed: int) -> list[tuple[int, str]]:
    """Short Chinese reviews, half good and half bad, each a thing and two opinion words."""
    rng = random.Random(seed)
    good = ["很好", "满意", "不错", "喜欢", "推荐", "方便"]
    bad = ["很差", "失望", "垃圾", "难用", "后悔", "太慢"]
    things = ["酒店", "房间", "服务", "早餐", "手机", "外卖", "书"]
    out = []
    for i in range(n):
        y = i % 2
        words = good if y else bad
        out.append((y, f"{rng.choice(things)}{rng.choice(words)}，{rng.choice(things)}也{rng.choice(words)}"))
    return out


def credit(workdir: Path, *, calls: int, seed: int, rows: int = 4000) -> dict[str, Any]:
    from smartbank.lending import service as lending

    path = workdir / "gmsc.csv"
    lending.synthetic_credit(rows, seed=3).to_csv(path, index=True, index_label="")
    t0 = time.perf_counter()
    res = lending.train_credit_model(path, model_dir=workdir / "models", fast=True, seed=seed)
    seconds = time.perf_counter() - t0
    scorer = lending.load_credit_scorer(workdir / "models")
    if scorer is None:
        raise RuntimeError(f"no credit model was saved under {workdir / 'models'}")
    per_call = _per_call_ms(lambda: scorer.score(CREDIT_APPLICANT), calls)
    return {"credit_train_fast_seconds": round(seconds, 2), "credit_auc": round(float(res["auc"]), 4),
            "credit_score_ms": per_call["mean"], "credit_score_ms_p50": per_call["p50"],
            "credit_score_ms_p95": per_call["p95"]}


def sentiment(workdir: Path, *, calls: int, seed: int) -> dict[str, Any]:
    from smartbank.assistant import service as assistant

    models = workdir / "models"
    empty = workdir / "no-models"
    empty.mkdir()
    assistant.reset_sentiment_cache()
    lexicon = _per_call_ms(lambda: assistant.score_sentiment(MESSAGE, model_dir=empty), calls)
    train = workdir / "reviews.tsv"
    train.write_text("label\ttext_a\n" + "".join(f"{y}\t{t}\n" for y, t in synthetic_reviews(300, seed)),
                     encoding="utf-8")
    assistant.train_sentiment([train], model_dir=models, seed=seed)
    assistant.reset_sentiment_cache()
    assistant.warm_sentiment(models)
    model = _per_call_ms(lambda: assistant.score_sentiment(REVIEW, model_dir=models), calls)
    return {"sentiment_lexicon_ms": lexicon["mean"], "sentiment_lexicon_ms_p50": lexicon["p50"],
            "sentiment_lexicon_ms_p95": lexicon["p95"], "sentiment_model_ms": model["mean"],
            "sentiment_model_ms_p50": model["p50"], "sentiment_model_ms_p95": model["p95"]}


def run(*, calls: int = 200, seed: int = 1, credit_rows: int = 4000, workdir: Path | None = None) -> dict[str, Any]:
    """Measure everything above; the figures, the budgets and whether every figure is within its budget."""
    with tempfile.TemporaryDirectory(prefix="smartbank-bench-models-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        (root / "credit").mkdir(parents=True, exist_ok=True)
        (root / "sentiment").mkdir(parents=True, exist_ok=True)
        out: dict[str, Any] = {"calls": calls, "credit_rows": credit_rows}
        out.update(credit(root / "credit", calls=calls, seed=seed, rows=credit_rows))
        out.update(sentiment(root / "sentiment", calls=calls, seed=seed))
    out["budgets"] = dict(BUDGETS)
    out["within_budget"] = all(out[k] <= limit for k, limit in BUDGETS.items())
    return out
