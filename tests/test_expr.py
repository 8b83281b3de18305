"""The shared safe-expression compiler: what it accepts, what it refuses, and its two dialects."""

from __future__ import annotations

import polars as pl
import pytest

from smartbank import expr
from smartbank.errors import ValidationFailed


class DemoError(expr.ExpressionError):
    code = "invalid_demo_expression"


KINDS = {"x": "num", "y": "num", "s": "text"}


def kind(name: str) -> str:
    if name not in KINDS:
        raise expr.NameRefused(f"unknown name {name!r}")
    return KINDS[name]


VOCABULARY = {
    "abs": expr.Function(("num",), "num", lambda e: e.abs(), abs),
    "lower": expr.Function(("text",), "text", lambda e: e.str.to_lowercase(), str.lower),
    "between": expr.Function(("num", "num", "num"), "bool", lambda v, lo, hi: (v >= lo) & (v <= hi),
                             lambda v, lo, hi: lo <= v <= hi),
}
LANG = expr.Language(names=kind, error=DemoError, functions=VOCABULARY, noun="a demo rule", max_length=300,
                     max_nodes=60)
BARE = expr.Language(names=kind, error=DemoError, noun="a demo rule")  # no functions at all
LENIENT = expr.Language(names=kind, error=DemoError, strict=False, arithmetic=expr.ARITHMETIC)

ROWS = [{"x": 3.0, "y": 0.0, "s": "Web"}, {"x": -7.0, "y": 2.0, "s": "api"}, {"x": None, "y": 1.0, "s": None},
        {"x": float("nan"), "y": 5.0, "s": "WEB"}]


def frame() -> pl.DataFrame:
    return pl.DataFrame(ROWS, schema={"x": pl.Float64, "y": pl.Float64, "s": pl.Utf8})


def both(source: str, lang: expr.Language = LANG) -> tuple[list[bool], list[bool]]:
    c = expr.compile_expression(source, lang)
    return [c.fn(r) for r in ROWS], frame().select(c.expr.alias("m"))["m"].to_list()


@pytest.mark.parametrize(("source", "expected"), [
    ("x > 0", [True, False, False, False]),
    ("abs(x) >= 5", [False, True, False, False]),
    ("lower(s) == 'web'", [True, False, False, True]),
    ("between(x, -10, 5) and y > 0", [False, True, False, False]),
    ("not (abs(x - 1) < 1)", [True, True, False, False]),
    ("x / y > 0", [False, False, False, False]),  # 3 / 0 is missing in the strict dialect
    ("s in ['api', 'Web'] or x == null", [True, True, True, True]),
    ("-1 < x <= 3", [True, False, False, False]),
])
def test_accepted_and_python_agrees_with_polars(source, expected):
    py, pol = both(source)
    assert py == expected and pol == expected, source


@pytest.mark.parametrize(("source", "says"), [
    # attribute access, in every position
    ("x.real > 1", "attributes (a.b) are not allowed in a demo rule (at column 1)"),
    ("s.upper() == 'A'", "attributes (a.b) are not allowed in a demo rule"),
    ("abs.__call__(x) > 1", "attributes (a.b) are not allowed"),
    ("x.__class__ == 1", "attributes"),
    # calls outside the vocabulary
    ("max(x, 1) > 0", "unknown function 'max' (use abs, between, lower)"),
    ("eval('1') == 1", "unknown function 'eval'"),
    ("__import__('os').system('id') == 0", "attributes"),
    ("__import__('os') == 1", "the name '__import__' is not allowed"),
    ("(lambda: 1)() == 1", "only these functions may be called: abs, between, lower"),
    ("abs(x)(1) > 0", "only these functions may be called"),
    ("abs(x=1) > 0", "abs() takes its arguments by position"),
    ("abs(*[x]) > 0", "starred expressions are not allowed"),
    ("abs(x, y) > 0", "abs() takes 1 argument"),
    ("between(x, 1) == true", "between() takes 3 arguments"),
    ("abs(s) > 0", "abs() needs a num as argument 1, not a text"),
    ("lower(s) > 1", "cannot compare text with num"),
    # dunder names
    ("__builtins__ == 1", "the name '__builtins__' is not allowed"),
    ("x__y > 1", "the name 'x__y' is not allowed"),
    ("__debug__", "not allowed"),
    # names the language does not bind
    ("z > 1", "unknown name 'z' (at column 1)"),
    # lambdas, comprehensions and other statements in disguise
    ("(lambda: x) == 1", "lambdas are not allowed in a demo rule"),
    ("[a for a in [1]] == 1", "comprehensions are not allowed"),
    ("(a for a in [1]) == 1", "comprehensions are not allowed"),
    ("{a for a in [1]} == 1", "comprehensions are not allowed"),
    ("{a: 1 for a in [1]} == 1", "comprehensions are not allowed"),
    ("(x := 1) > 0", "assignments are not allowed"),
    ("(1 if x else 2) > 0", "if-expressions are not allowed"),
    ("{1: 2} == 1", "dictionaries are not allowed"),
    ("f'{x}' == 'a'", "f-strings are not allowed"),
    ("x[0] > 1", "subscripts (a[b]) are not allowed"),
    ("x ** 2 > 1", "the operator Pow is not allowed"),
    ("x % 2 == 1", "the operator Mod is not allowed"),
    ("~x > 1", "the operator ~ is not allowed"),
    ("x is None", "the comparison Is is not allowed"),
    ("import os", "not well formed"),
    ("x > 1; y > 1", "not well formed"),
    # huge expressions
    ("x>1" + " or x>1" * 15, "too long (at most 60 parts)"),
    ("x" * 301, "has at most 300 characters"),
    ("x > " + "9" * 40, "the number is too large"),
    ("x > 1e999", "the number is too large"),
    ("s == '" + "a" * 201 + "'", "a text value has at most 200 characters"),
    ("x in [" + ",".join(["1"] * 101) + "]", "too long (at most 60 parts)"),
    # not a condition, and kinds that do not mix
    ("", "required"),
    ("x + 1", "must be a condition"),
    ("abs(x)", "must be a condition"),
    ("x and y > 1", "and/or/not need conditions"),
    ("s < 'a'", "text values can only be compared with == or !="),
    ("x in ['a']", "the list holds a text value but the left side is num"),
    ("x in []", "the list needs at least one value"),
])
def test_refused_with_the_languages_error(source, says):
    with pytest.raises(DemoError) as e:
        expr.compile_expression(source, LANG)
    assert says in e.value.message, e.value.message
    assert isinstance(e.value, ValidationFailed) and e.value.status_code == 422
    assert e.value.code == "invalid_demo_expression"


def test_long_lists_are_refused_when_the_node_limit_allows_them():
    lang = expr.Language(names=kind, error=DemoError, max_nodes=500)
    with pytest.raises(DemoError, match="a list holds at most 100 values"):
        expr.compile_expression("x in [" + ", ".join(["1"] * 101) + "]", lang)


@pytest.mark.parametrize("source", ["(" * 250 + "x > 1" + ")" * 250, "-" * 60_000 + "x > 1",
                                    "not " * 30_000 + "x > 1"])
def test_deeply_nested_or_enormous_expressions_are_refused(source):
    lang = expr.Language(names=kind, error=DemoError, max_length=10**6, max_nodes=10**6)
    with pytest.raises(DemoError) as e:
        expr.compile_expression(source, lang)
    assert "not well formed" in e.value.message or "nested too deeply" in e.value.message


def test_a_language_without_functions_refuses_every_call():
    for source in ("abs(x) > 1", "__import__('os') == 1", "(lambda: 1)() == 1", "x.real() > 1"):
        with pytest.raises(DemoError, match="function calls are not allowed in a demo rule"):
            expr.compile_expression(source, BARE)


def test_names_read_and_missing_values():
    c = expr.compile_expression("abs(x) > 1 and lower(s) == 'api'", LANG)
    assert c.names == frozenset({"x", "s"}) and c.source == "abs(x) > 1 and lower(s) == 'api'"
    assert c.fn({"x": -2, "s": "API"}) is True
    assert c.fn({"x": None, "s": "api"}) is False  # missing never matches
    assert c.fn({"x": "not a number", "s": "api"}) is False
    assert c.fn({}) is False
    assert expr.compile_expression("x\n  > 1", LANG).fn({"x": 2})  # typed over several lines


def test_lenient_dialect_uses_polars_arithmetic():
    source = "x / y > 1"
    strict = expr.compile_expression(source, expr.Language(names=kind))
    lenient = expr.compile_expression(source, LENIENT)
    f = frame()
    assert f.select(strict.expr.alias("m"))["m"].to_list() == [False, False, False, False]
    assert f.select(lenient.expr.alias("m"))["m"].to_list()[0] is True  # 3 / 0 is infinite there
    assert expr.compile_expression("x % 2 == 1", LENIENT).fn({"x": 3})
    assert expr.compile_expression("x in []", LENIENT).fn({"x": 3}) is False
    with pytest.raises(DemoError, match="a list may only hold numbers or texts"):
        expr.compile_expression("x in [-1]", LENIENT)


def test_a_language_is_checked_when_it_is_made():
    with pytest.raises(ValueError):
        expr.Language(names=kind, arithmetic=frozenset({"**"}))
    with pytest.raises(ValueError):
        expr.Language(names=kind, functions={"__import__": VOCABULARY["abs"]})
    with pytest.raises(ValueError):
        expr.Language(names=kind, functions={"f": expr.Function(("list",), "num", abs, abs)})


def test_check_source():
    assert expr.check_source("  x >\n 1 ", LANG) == "x > 1"
    for bad in (None, 5, "", "   "):
        with pytest.raises(DemoError, match="required"):
            expr.check_source(bad, LANG)
