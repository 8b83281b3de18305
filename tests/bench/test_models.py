"""``smartbank bench models``: the figures the timed assertions of the model tests became."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank.bench import models
from smartbank.cli import app


def test_the_command_prints_every_figure_with_its_budget_and_a_json_last_line():
    r = CliRunner().invoke(app, ["bench", "models", "--calls", "10", "--credit-rows", "1200"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["calls"] == 10 and res["credit_rows"] == 1200 and 0.5 < res["credit_auc"] <= 1
    for key in ("credit_train_fast_seconds", "credit_score_ms", "sentiment_lexicon_ms", "sentiment_model_ms"):
        assert res[key] > 0 and res["budgets"][key] > 0, key
        for tail in ("_p50", "_p95"):
            if key.endswith("_ms"):
                assert res[key + tail] > 0, key + tail
    assert res["within_budget"] == all(res[k] <= v for k, v in res["budgets"].items())
    assert "credit: fast fit" in r.stderr and "sentiment: lexicon" in r.stderr


def test_per_call_figures_leave_out_the_first_call():
    seen: list[int] = []
    figures = models._per_call_ms(lambda: seen.append(1), 20)
    assert len(seen) == 21  # one warm-up call, then the timed ones
    assert 0 <= figures["p50"] <= figures["p95"] and figures["mean"] >= 0


def test_synthetic_reviews_are_balanced_and_reproducible():
    a = models.synthetic_reviews(40, seed=2)
    assert a == models.synthetic_reviews(40, seed=2) and a != models.synthetic_reviews(40, seed=3)
    assert sum(y for y, _ in a) == 20 and all(isinstance(t, str) and t for _, t in a)
