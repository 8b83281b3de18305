"""The tag rule language: what it refuses, and what it computes."""

from __future__ import annotations

import polars as pl
import pytest

from smartbank.insight import features as F
from smartbank.insight import tags as T


def frame() -> pl.DataFrame:
    rows = [
        {"customer_id": 1, "age": 25, "city": "上海", "income_monthly_minor": 900_000, "digital_share": 0.9,
         "churn_score": None, "activity_trend": -0.8, "txn_count_prior_90d": 10},
        {"customer_id": 2, "age": 40, "city": "北京", "income_monthly_minor": 300_000, "digital_share": 0.2,
         "churn_score": 0.7, "activity_trend": 0.1, "txn_count_prior_90d": 3},
        {"customer_id": 3, "age": None, "city": None, "income_monthly_minor": None, "digital_share": None,
         "churn_score": 0.1, "activity_trend": -0.9, "txn_count_prior_90d": 20},
    ]
    schema = {"customer_id": pl.Int64, **{n: F._dtype(n) for n in F.NAMES}}
    return pl.DataFrame([{n: r.get(n) for n in schema} for r in rows], schema=schema, orient="row")


def ids(rule: str, audience: str = "staff") -> list[int]:
    return T.matches(frame(), T.compile_expression(rule, audience=audience)).to_list()


@pytest.mark.parametrize("rule, expected", [
    ("age >= 22 and age <= 35", [1]),
    ("22 <= age <= 35", [1]),
    ("not (age < 30)", [2]),  # a missing age never matches
    ('city in ["上海", "广州"]', [1]),
    ('city not in ["上海"]', [2]),
    ('city == "北京" or digital_share > 0.5', [1, 2]),
    ("income_monthly_minor / 100 >= 5000", [1]),
    ("income_monthly_minor - 300000 * 2 > 0", [1]),
    ("-age < -30", [2]),
    ("age % 2 == 1", [1]),
    ("churn_score == null", [1]),
    ("churn_score != None", [2, 3]),
    ("churn_score >= 0.6 or (churn_score == null and txn_count_prior_90d >= 6 and activity_trend <= -0.5)", [1, 2]),
    ("true", [1, 2, 3]),
    ("age >= 22\n  and city == '上海'", [1]),
])
def test_rules_evaluate(rule, expected):
    assert ids(rule) == expected


@pytest.mark.parametrize("rule, words", [
    ("__import__('os').system('id')", "not allowed"),
    ("age.__class__ == 1", "attributes"),
    ("len(city) > 2", "function calls"),
    ("city[0] == 'x'", "subscripts"),
    ("(lambda: 1)() == 1", "not allowed"),
    ("__builtins__ == 1", "not allowed"),
    ("salary > 5", "unknown feature 'salary'"),
    ("[x for x in [1]] == 1", "comprehensions"),
    ("age ** 2 > 4", "not allowed"),
    ("age", "must be a condition"),
    ("age + 1", "must be a condition"),
    ("age >", "not well formed"),
    ("", "required"),
    ("city > 'a'", "only be compared with == or !="),
    ("city == 5", "cannot compare text with num"),
    ("age in [1, 'a']", "list holds a text"),
    ("age in city", "needs a list"),
    ("age and city == 'x'", "need conditions"),
    ("age < null", "null can only"),
    ("age is None", "not allowed"),
    ("x := 1", "not well formed"),
    ("age>1" + " and age>1" * 50, "too long"),
    ("a" * 1001, "at most 1000"),
])
def test_rules_refused_with_a_clear_error(rule, words):
    with pytest.raises(T.ExpressionError) as e:
        T.compile_expression(rule)
    assert words in e.value.message
    assert e.value.status_code == 422


def test_customer_tags_cannot_use_staff_only_features():
    with pytest.raises(T.ExpressionError, match="staff only"):
        T.compile_expression("churn_score > 0.5", audience="customer")
    assert ids("age > 30", audience="customer") == [2]


def test_default_tags_compile():
    for d in T.DEFAULT_TAGS:
        c = T.compile_expression(d.expression, audience=d.audience)
        assert c.features <= set(F.NAMES)


def test_assign_gives_code_and_version():
    out = T.assign(frame(), [T.DefaultTag("young", "Young", "年轻", "customer", "age < 30", "")])
    assert out.rows() == [(1, "young", 1)]
