"""A safe expression compiler: conditions over named values, checked on a whitelisted syntax tree.

The bank has two small rule languages that people type (a marketer's customer tags,
:mod:`smartbank.insight.tags`; a risk officer's payment rules, :mod:`smartbank.risk.rules`). Both are this
compiler with their own :class:`Language`: which names exist (bound from a context: a row of a frame, or a
mapping), which arithmetic and which functions are allowed, and their own words in the error messages.

An expression is Python-like::

    amount_minor >= 5000000 and channel in ["api", "assistant"] and not (cust_n_1h < 20)

It is parsed with :mod:`ast` and only these nodes are accepted: ``and``/``or``/``not``; comparisons
(``== != < <= > >=``, chained as ``1 < x < 5``, and ``in``/``not in`` a list of constants); the arithmetic the
language allows (of ``+ - * / // %``) and a sign; numbers, texts, ``true``/``false``/``null`` (or their Python
spellings); the language's names; calls of the language's functions (its *vocabulary*, by plain name and
positional arguments). Anything else - attributes, subscripts, calls of anything outside the vocabulary,
lambdas, comprehensions, if-expressions, assignments, names with ``__`` - is refused with the language's
:class:`ExpressionError` (a ``ValidationFailed``, HTTP 422) saying what and where; so is an expression longer
than ``max_length`` characters or with more than ``max_nodes`` syntax nodes.

Every checked expression compiles to BOTH a Python callable on a mapping (microseconds; the risk engine runs
it for each payment) and a Polars expression (over a whole frame). Values have a kind: ``num``, ``text``,
``bool`` or ``null``; comparing different kinds is refused when it is compiled, never at run time.

Two dialects:

- ``strict`` (the risk rules): SQL's three-valued logic in both forms. Numbers are 64-bit floats; a missing
  value (``None``, a float NaN, a division by zero) makes a comparison unknown; ``and``/``or`` are Kleene's
  (``false and unknown`` is false, ``true or unknown`` is true); ``not unknown`` is unknown; a condition
  matches only when it is *true*. The Python callable and the Polars expression agree on every input. ``~``
  and infinite numbers are refused; a list needs at least one value and a number or text on the left of
  ``in``, and may hold negative numbers.
- lenient (the tag language, as it was first written): the Polars expression uses the columns as they are
  with Polars' own arithmetic (a division by zero is infinite, NaN is a number); lists hold plain constants
  and may be empty; ``~x`` reads as ``x``. A missing value still never matches. The Python callable follows
  the strict rules.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from smartbank.errors import ValidationFailed

__all__ = [
    "ARITHMETIC",
    "KINDS",
    "Compiled",
    "ExpressionError",
    "Function",
    "Language",
    "NameRefused",
    "check_source",
    "compile_expression",
]

KINDS = ("num", "text", "bool", "null")
ARITHMETIC = frozenset({"+", "-", "*", "/", "//", "%"})
MAX_LIST = 100
MAX_TEXT = 200
MAX_INT = 2**62

Fn = Callable[[Mapping[str, Any]], Any]


class ExpressionError(ValidationFailed):
    """An expression that is not accepted (each language raises its own subclass)."""

    code = "invalid_expression"


class NameRefused(Exception):
    """Raised by a language's name resolver for a name it does not accept; ``message`` says why, ``reason`` and
    ``details`` name it for the message catalogue (``errors.<reason>``)."""

    def __init__(self, message: str, *, reason: str = "expr.unknown_name", details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.details = details or {}


@dataclass(frozen=True)
class Function:
    """A function a language allows: the kinds of its positional arguments, the kind it returns, and the same
    computation for Polars (on expressions) and for Python (on values, never ``None``: a missing argument makes
    the result missing without calling it)."""

    args: tuple[str, ...]
    returns: str
    polars: Callable[..., pl.Expr]
    python: Callable[..., Any]


@dataclass(frozen=True)
class Language:
    """One expression language: its names, operators, functions, dialect and words.

    ``names(name)`` returns the kind (``num`` or ``text``) of a name the language binds, or raises
    :class:`NameRefused` with the reason it is refused.
    """

    names: Callable[[str], str]
    error: type[ExpressionError] = ExpressionError
    functions: Mapping[str, Function] = field(default_factory=dict)
    arithmetic: frozenset[str] = frozenset({"+", "-", "*", "/"})
    strict: bool = True
    max_length: int = 1000
    max_nodes: int = 200
    # the language's words
    subject: str = "the expression"  # "the rule is not well formed", "... is too long", "... nested too deeply"
    noun: str = "an expression"  # "lambdas are not allowed in a risk rule"
    required: str = "an expression is required"
    too_long: str = "an expression has at most {max_length} characters"
    not_condition: str = "the expression must be a condition, e.g. x >= 1"
    boolean_hint: str = ""  # after "and/or/not need conditions (comparisons) on each side"
    operator_hint: str = ""  # after "the operator Pow is not allowed"
    in_example: str = 'x in ["a", "b"]'
    condition_example: str = "x >= 1"  # the example in ``not_condition``, for the catalogue's words

    def __post_init__(self) -> None:
        if not self.arithmetic <= ARITHMETIC:
            raise ValueError(f"unknown arithmetic operators: {sorted(self.arithmetic - ARITHMETIC)}")
        for name, f in self.functions.items():
            if not name.isidentifier() or "__" in name:
                raise ValueError(f"not a function name: {name!r}")
            if f.returns not in ("num", "text", "bool") or not set(f.args) <= {"num", "text", "bool"}:
                raise ValueError(f"the function {name!r} has an unknown kind")


@dataclass(frozen=True)
class Compiled:
    """A checked expression: ``fn(ctx)`` is True when it matches; ``expr`` is the same condition over a frame
    (null counts as false); ``names`` are the language's names it reads."""

    source: str
    fn: Callable[[Mapping[str, Any]], bool]
    expr: pl.Expr
    names: frozenset[str]


_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None, "True": True, "False": False,
                              "None": None}
_CMP: dict[type, str] = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
                           ast.Mod: "%"}
_OP_SYMBOLS: dict[type, str] = {ast.Pow: "**", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
                                ast.LShift: "<<", ast.RShift: ">>", **_ARITH}
_NODE_NAMES = {ast.Call: "function calls", ast.Attribute: "attributes (a.b)", ast.Subscript: "subscripts (a[b])",
               ast.Lambda: "lambdas", ast.IfExp: "if-expressions", ast.NamedExpr: "assignments",
               ast.ListComp: "comprehensions", ast.GeneratorExp: "comprehensions", ast.SetComp: "comprehensions",
               ast.DictComp: "comprehensions", ast.Dict: "dictionaries", ast.Starred: "starred expressions",
               ast.JoinedStr: "f-strings", ast.Await: "await", ast.Yield: "yield"}


# ------------------------------------------------------------------------------------------------ Python pieces
# each is a callable on the context returning a value or None (missing)


def _num_getter(name: str) -> Fn:
    def get(ctx: Mapping[str, Any]) -> float | None:
        v = ctx.get(name)
        if v is None:
            return None
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        return None if f != f else f

    return get


def _text_getter(name: str) -> Fn:
    def get(ctx: Mapping[str, Any]) -> str | None:
        v = ctx.get(name)
        return None if v is None else str(v)

    return get


def _const(v: Any) -> Fn:
    return lambda ctx: v


def _and(parts: list[Fn]) -> Fn:
    def f(ctx: Mapping[str, Any]) -> bool | None:
        unknown = False
        for p in parts:
            v = p(ctx)
            if v is False:
                return False
            if v is None:
                unknown = True
        return None if unknown else True

    return f


def _or(parts: list[Fn]) -> Fn:
    def f(ctx: Mapping[str, Any]) -> bool | None:
        unknown = False
        for p in parts:
            v = p(ctx)
            if v is True:
                return True
            if v is None:
                unknown = True
        return None if unknown else False

    return f


def _not(p: Fn) -> Fn:
    def f(ctx: Mapping[str, Any]) -> bool | None:
        v = p(ctx)
        return None if v is None else not v

    return f


def _neg(p: Fn) -> Fn:
    def f(ctx: Mapping[str, Any]) -> float | None:
        v = p(ctx)
        return None if v is None else -v

    return f


_PY_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
    "//": lambda a, b: a // b, "%": lambda a, b: a % b}


def _arith(op: str, left: Fn, right: Fn) -> Fn:
    calc = _PY_ARITH[op]
    div = op in ("/", "//", "%")

    def f(ctx: Mapping[str, Any]) -> float | None:
        a = left(ctx)
        if a is None:
            return None
        b = right(ctx)
        if b is None or (div and b == 0):
            return None
        r = calc(a, b)
        return None if r != r else r  # NaN (inf - inf) is missing

    return f


_PY_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _cmp(op: str, left: Fn, right: Fn) -> Fn:
    calc = _PY_CMP[op]

    def f(ctx: Mapping[str, Any]) -> bool | None:
        a = left(ctx)
        if a is None:
            return None
        b = right(ctx)
        if b is None:
            return None
        return calc(a, b)

    return f


def _call(fn: Callable[..., Any], args: list[Fn], returns: str) -> Fn:
    def f(ctx: Mapping[str, Any]) -> Any:
        values = []
        for a in args:
            v = a(ctx)
            if v is None:
                return None
            values.append(v)
        r = fn(*values)
        if returns == "num" and r is not None:
            r = float(r)
            return None if r != r else r
        return r

    return f


# ------------------------------------------------------------------------------------------------ the compiler


def _where(node: ast.AST) -> str:
    col = getattr(node, "col_offset", None)
    return f" (at column {col + 1})" if col is not None else ""


class _Compiler:
    """Walks a parsed tree; each visit returns (python callable, polars expression, kind)."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang
        self.used: set[str] = set()

    def fail(self, msg: str, node: ast.AST | None = None, *, reason: str,
             details: dict[str, Any] | None = None) -> ExpressionError:
        """The refusal ``reason`` (a catalogue key under ``errors.``) with its ``details`` and the column of ``node``
        (1-based, as ``column``)."""
        col = getattr(node, "col_offset", None) if node is not None else None
        params = {**(details or {}), **({"column": col + 1} if col is not None else {})}
        return self.lang.error(msg + (_where(node) if node is not None else ""), reason=reason, details=params)

    def visit(self, node: ast.AST) -> tuple[Fn, pl.Expr, str]:
        if isinstance(node, ast.BoolOp):
            parts = [self.boolean(v) for v in node.values]
            e = parts[0][1]
            for p in parts[1:]:
                e = (e & p[1]) if isinstance(node.op, ast.And) else (e | p[1])
            fns = [p[0] for p in parts]
            return (_and(fns) if isinstance(node.op, ast.And) else _or(fns)), e, "bool"
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Compare):
            fn, e = self.compare(node)
            return fn, e, "bool"
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Call) and self.lang.functions:
            return self.call(node)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            raise self.fail("a list may only follow 'in' or 'not in'", node, reason="expr.list_only_after_in")
        what = _NODE_NAMES.get(type(node), type(node).__name__)
        raise self.fail(f"{what} are not allowed in {self.lang.noun}", node, reason="expr.construct_not_allowed",
                        details={"construct": what})

    def boolean(self, node: ast.AST) -> tuple[Fn, pl.Expr]:
        fn, e, kind = self.visit(node)
        if kind != "bool":
            raise self.fail("and/or/not need conditions (comparisons) on each side" + self.lang.boolean_hint, node,
                            reason="expr.needs_conditions")
        return fn, e

    def unary(self, node: ast.UnaryOp) -> tuple[Fn, pl.Expr, str]:
        if isinstance(node.op, ast.Not):
            fn, e = self.boolean(node.operand)
            return _not(fn), ~e, "bool"
        if isinstance(node.op, ast.Invert) and self.lang.strict:
            raise self.fail("the operator ~ is not allowed", node, reason="expr.operator_not_allowed",
                            details={"operator": "~", "allowed": sorted(self.lang.arithmetic)})
        fn, e, kind = self.visit(node.operand)
        if kind != "num":
            raise self.fail("a sign (+/-) needs a number", node, reason="expr.sign_needs_number")
        return (_neg(fn), -e, "num") if isinstance(node.op, ast.USub) else (fn, e, "num")

    def binary(self, node: ast.BinOp) -> tuple[Fn, pl.Expr, str]:
        op = _ARITH.get(type(node.op))
        if op is None or op not in self.lang.arithmetic:
            raise self.fail(f"the operator {type(node.op).__name__} is not allowed{self.lang.operator_hint}", node,
                            reason="expr.operator_not_allowed",
                            details={"operator": _OP_SYMBOLS.get(type(node.op), type(node.op).__name__),
                                     "allowed": sorted(self.lang.arithmetic)})
        lf, le, lk = self.visit(node.left)
        rf, re_, rk = self.visit(node.right)
        if lk != "num" or rk != "num":
            raise self.fail(f"'{op}' needs numbers on both sides", node, reason="expr.needs_numbers",
                            details={"operator": op})
        if not self.lang.strict:
            e = {"+": le + re_, "-": le - re_, "*": le * re_, "/": le / re_, "//": le // re_, "%": le % re_}[op]
            return _arith(op, lf, rf), e, "num"
        if op in ("/", "//", "%"):
            e = pl.when(re_ == 0).then(None).otherwise({"/": le / re_, "//": le // re_, "%": le % re_}[op])
        else:
            e = {"+": le + re_, "-": le - re_, "*": le * re_}[op]
        return _arith(op, lf, rf), e.fill_nan(None), "num"

    def name(self, node: ast.Name) -> tuple[Fn, pl.Expr, str]:
        n = node.id
        if "__" in n:
            raise self.fail(f"the name {n!r} is not allowed", node, reason="expr.name_not_allowed", details={"name": n})
        if n in _CONSTANTS:
            v = _CONSTANTS[n]
            return (_const(v), pl.lit(v), "bool") if isinstance(v, bool) else (_const(None), pl.lit(None), "null")
        try:
            kind = self.lang.names(n)
        except NameRefused as exc:
            raise self.fail(exc.message, node, reason=exc.reason, details={"name": n, **exc.details}) from None
        if kind not in ("num", "text"):
            raise ValueError(f"the name resolver gave {n!r} the kind {kind!r}")
        self.used.add(n)
        if not self.lang.strict:
            return (_text_getter(n) if kind == "text" else _num_getter(n)), pl.col(n), kind
        if kind == "text":
            return _text_getter(n), pl.col(n).cast(pl.Utf8), "text"
        return _num_getter(n), pl.col(n).cast(pl.Float64).fill_nan(None), "num"

    def constant(self, node: ast.Constant) -> tuple[Fn, pl.Expr, str]:
        v = node.value
        if v is None:
            return _const(None), pl.lit(None), "null"
        if isinstance(v, bool):
            return _const(v), pl.lit(v), "bool"
        if isinstance(v, (int, float)):
            if isinstance(v, int) and abs(v) > MAX_INT:
                raise self.fail("the number is too large", node, reason="expr.number_too_large")
            if not self.lang.strict:
                return _const(v), pl.lit(v), "num"
            if isinstance(v, float) and not math.isfinite(v):
                raise self.fail("the number is too large", node, reason="expr.number_too_large")
            f = float(v)
            return _const(f), pl.lit(f, dtype=pl.Float64), "num"
        if isinstance(v, str):
            if len(v) > MAX_TEXT:
                raise self.fail(f"a text value has at most {MAX_TEXT} characters", node, reason="expr.text_too_long",
                                details={"max_length": MAX_TEXT})
            return _const(v), pl.lit(v, dtype=pl.Utf8), "text"
        raise self.fail(f"the value {v!r} is not allowed", node, reason="expr.value_not_allowed",
                        details={"value": repr(v)})

    def call(self, node: ast.Call) -> tuple[Fn, pl.Expr, str]:
        functions = self.lang.functions
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise self.fail(f"attributes (a.b) are not allowed in {self.lang.noun}", node.func,
                                reason="expr.attributes_not_allowed")
            raise self.fail(f"only these functions may be called: {', '.join(sorted(functions))}", node,
                            reason="expr.only_functions", details={"functions": sorted(functions)})
        n = node.func.id
        if "__" in n:
            raise self.fail(f"the name {n!r} is not allowed", node.func, reason="expr.name_not_allowed",
                            details={"name": n})
        spec = functions.get(n)
        if spec is None:
            raise self.fail(f"unknown function {n!r} (use {', '.join(sorted(functions))})", node.func,
                            reason="expr.unknown_function", details={"name": n, "functions": sorted(functions)})
        if node.keywords:
            raise self.fail(f"{n}() takes its arguments by position", node, reason="expr.positional_arguments",
                            details={"function": n})
        if len(node.args) != len(spec.args):
            raise self.fail(f"{n}() takes {len(spec.args)} argument{'' if len(spec.args) == 1 else 's'}", node,
                            reason="expr.argument_count", details={"function": n, "count": len(spec.args)})
        fns: list[Fn] = []
        exprs: list[pl.Expr] = []
        for i, (arg, want) in enumerate(zip(node.args, spec.args, strict=True), start=1):
            fn, e, kind = self.visit(arg)
            if kind != want:
                raise self.fail(f"{n}() needs a {want} as argument {i}, not a {kind}", arg, reason="expr.argument_kind",
                                details={"function": n, "position": i})
            fns.append(fn)
            exprs.append(e)
        e = spec.polars(*exprs)
        if self.lang.strict and spec.returns == "num":
            e = e.cast(pl.Float64).fill_nan(None)
        return _call(spec.python, fns, spec.returns), e, spec.returns

    def compare(self, node: ast.Compare) -> tuple[Fn, pl.Expr]:
        fns: list[Fn] = []
        exprs: list[pl.Expr] = []
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            fn, e = self.compare_one(left_node, op, right_node)
            fns.append(fn)
            exprs.append(e)
            left_node = right_node
        out = exprs[0]
        for e in exprs[1:]:
            out = out & e
        return (fns[0] if len(fns) == 1 else _and(fns)), out

    def list_value(self, elt: ast.AST) -> tuple[Any, str]:
        if self.lang.strict and isinstance(elt, ast.UnaryOp) and isinstance(elt.op, ast.USub) \
                and isinstance(elt.operand, ast.Constant) and isinstance(elt.operand.value, (int, float)) \
                and not isinstance(elt.operand.value, bool):
            _, _, k = self.constant(elt.operand)
            return -float(elt.operand.value), k
        if not isinstance(elt, ast.Constant) or elt.value is None or isinstance(elt.value, bool):
            raise self.fail("a list may only hold numbers or texts", elt, reason="expr.list_values")
        _, _, k = self.constant(elt)
        v: Any = elt.value
        return (float(v) if self.lang.strict and k == "num" else v), k

    def member(self, left_node: ast.AST, op: ast.cmpop, right_node: ast.AST) -> tuple[Fn, pl.Expr]:
        lf, le, lk = self.visit(left_node)
        if self.lang.strict and lk not in ("num", "text"):
            raise self.fail("'in' needs a number or a text on its left", left_node, reason="expr.in_needs_value")
        if not isinstance(right_node, (ast.List, ast.Tuple, ast.Set)):
            raise self.fail(f"'in' needs a list of values, e.g. {self.lang.in_example}", right_node,
                            reason="expr.in_needs_list", details={"example": self.lang.in_example})
        values = []
        for elt in right_node.elts:
            v, k = self.list_value(elt)
            if k != lk:
                raise self.fail(f"the list holds a {k} value but the left side is {lk}", elt,
                                reason="expr.list_mixed_kinds")
            values.append(v)
        if self.lang.strict and not values:
            raise self.fail("the list needs at least one value", right_node, reason="expr.list_empty")
        if len(values) > MAX_LIST:
            raise self.fail(f"a list holds at most {MAX_LIST} values", right_node, reason="expr.list_too_long",
                            details={"max_items": MAX_LIST})
        member = pl.when(le.is_null()).then(None).otherwise(le.is_in(values))
        vs = frozenset(values)
        negate = isinstance(op, ast.NotIn)

        def f(ctx: Mapping[str, Any]) -> bool | None:
            a = lf(ctx)
            if a is None:
                return None
            return (a in vs) != negate

        return f, (~member if negate else member)

    def compare_one(self, left_node: ast.AST, op: ast.cmpop, right_node: ast.AST) -> tuple[Fn, pl.Expr]:
        if isinstance(op, (ast.In, ast.NotIn)):
            return self.member(left_node, op, right_node)
        sym = _CMP.get(type(op))
        if sym is None:
            raise self.fail(f"the comparison {type(op).__name__} is not allowed (use == != < <= > >= in)", right_node,
                            reason="expr.comparison_not_allowed")
        lf, le, lk = self.visit(left_node)
        rf, re_, rk = self.visit(right_node)
        if "null" in (lk, rk):
            if sym not in ("==", "!="):
                raise self.fail("null can only be compared with == or !=", right_node, reason="expr.null_comparison")
            of, oe = (rf, re_) if lk == "null" else (lf, le)
            if sym == "==":
                return (lambda ctx: of(ctx) is None), oe.is_null()
            return (lambda ctx: of(ctx) is not None), oe.is_not_null()
        if lk != rk:
            raise self.fail(f"cannot compare {lk} with {rk}", right_node, reason="expr.kinds_differ")
        if lk in ("text", "bool") and sym not in ("==", "!="):
            raise self.fail(f"{lk} values can only be compared with == or !=", right_node, reason="expr.only_equality")
        e = {"==": le == re_, "!=": le != re_, "<": le < re_, "<=": le <= re_, ">": le > re_, ">=": le >= re_}[sym]
        return _cmp(sym, lf, rf), e


def check_source(source: Any, lang: Language) -> str:
    """The text of ``source`` on one line, once it is a non-empty string of at most ``max_length`` characters."""
    if not isinstance(source, str) or not source.strip():
        raise lang.error(lang.required, reason="expr.required")
    if len(source) > lang.max_length:
        raise lang.error(lang.too_long.format(max_length=lang.max_length), reason="expr.too_long",
                         details={"max_length": lang.max_length})
    return " ".join(source.split())  # expressions may be typed over several lines


def compile_expression(source: str, lang: Language) -> Compiled:
    """Check ``source`` in ``lang`` and compile it to a Python callable and a Polars expression."""
    text = check_source(source, lang)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise lang.error(f"{lang.subject} is not well formed: {exc.msg} (at column {exc.offset or 0})",
                         reason="expr.syntax", details={"column": exc.offset or 0}) from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise lang.error(f"{lang.subject} is not well formed", reason="expr.malformed") from exc
    if sum(1 for _ in ast.walk(tree)) > lang.max_nodes:
        raise lang.error(f"{lang.subject} is too long (at most {lang.max_nodes} parts)", reason="expr.too_many_parts",
                         details={"max_parts": lang.max_nodes})
    c = _Compiler(lang)
    try:
        fn, e, kind = c.visit(tree.body)
    except RecursionError as exc:
        raise lang.error(f"{lang.subject} is nested too deeply", reason="expr.too_deep") from exc
    if kind != "bool":
        raise lang.error(lang.not_condition, reason="expr.not_condition", details={"example": lang.condition_example})

    def matches(ctx: Mapping[str, Any]) -> bool:
        return fn(ctx) is True

    return Compiled(source=source, fn=matches, expr=e.fill_null(False), names=frozenset(c.used))
