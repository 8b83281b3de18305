"""Risk rules as data: a small, safe expression language over the decision context, versioned rows a risk
officer edits, tested against history and shadow-run before they act.

The language
------------
A rule is a Python-like condition over the names of :data:`smartbank.risk.context.CONTEXT` (the payment's
own fields and the point-in-time features), for example::

    amount_minor >= 5000000 and new_terminal == 1 and saved_payee == 0 and amount_ratio_max_30d > 5
    channel in ["api", "assistant"] and not (cust_n_1h < 20)
    model_score == null and counterparty_age_days < 1

It is parsed with :mod:`ast` and only these nodes are accepted: ``and``/``or``/``not``; comparisons
(``== != < <= > >=``, chained as ``1 < x < 5``, and ``in``/``not in`` a list of constants); arithmetic
``+ - * /`` and unary minus; numbers, strings, ``true``/``false``/``null`` (or their Python spellings);
names from ``CONTEXT``. Anything else (calls, attributes, subscripts, ``%``, ``**``, lambdas, names with
``__`` ...) is refused with a :class:`RuleExpressionError` (a ``ValidationFailed``, HTTP 422) saying what
and where.

Every checked rule compiles to BOTH a Python callable on a mapping (the engine runs it for each payment,
microseconds per rule) and a Polars expression (for testing the rule against history). Both follow SQL's
three-valued logic: a missing value (``None``, or a float NaN) makes a comparison unknown; ``and``/``or``
are Kleene's (``false and unknown`` is false, ``true or unknown`` is true); ``not unknown`` is unknown; a
rule matches only when it is *true*, so a missing value never matches. Division by zero is missing too.
``x == null`` / ``x != null`` test for a missing value. Numbers are compared as 64-bit floats.

Rows
----
``risk_rules`` rows are never changed: creating a rule writes version 1, and every later change - an edit
of its words, condition or action, and a mode switch (active / shadow / retired) - writes version + 1. The
newest version of each code is in force unless its mode is ``retired``. So the fingerprint of the rules in
force is just ``r<max id>-<row count>`` (:func:`fingerprint`, one small query) and each decision's
``rule_hits`` names exactly the version, and so the mode, that was applied.

History
-------
:func:`history_frame` is a read model (like ``insight.extract`` and ``statements``): it reads the bank's
customer payments from ``transfers`` joined with ``accounts`` (payer and payee), ``payees`` (saved payees),
``risk_decisions`` (channel, model score) and ``risk_labels`` (confirmed outcomes), and computes the
features with :func:`smartbank.risk.features.build_features`. :func:`file_frame` does the same for a
labelled card_fraud-style file. :func:`backtest` evaluates a rule over either. See docs/RISK_RULES.md.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.risk.context import CONTEXT, PAYMENT_FIELDS
from smartbank.risk.features import FEATURE_NAMES, HISTORY_DAYS, TX_SCHEMA, build_features, load_transactions
from smartbank.risk.models import RULE_ACTIONS, RULE_MODES, RiskRule
from smartbank.security import permissions
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = [
    "DEFAULT_RULES",
    "RULE_MANAGERS",
    "Compiled",
    "RuleExpressionError",
    "RuleHit",
    "RuleSet",
    "backtest",
    "compile_expression",
    "create",
    "edit",
    "file_frame",
    "fingerprint",
    "get_rule",
    "history_frame",
    "list_rules",
    "load_ruleset",
    "rule_stats",
    "seed_defaults",
    "set_mode",
    "test_rule",
    "versions",
]

log = logging.getLogger(__name__)

RULE_MANAGERS = permissions.roles_for("risk.rules.manage")
MAX_LENGTH = 1000
MAX_NODES = 200
CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
TEXT_FIELDS = frozenset({"channel", "kind", "product"})
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DELAY_DAYS = 7  # a fraud label becomes known a week after the payment (as the fraud model assumes)
# the ledger kinds of customer payments (as the engine's online history counts them)
CUSTOMER_KINDS = ("transfer", "bill_payment", "card_payment", "scheduled")
SEVERITY = {"block": 0, "review": 1, "challenge": 2, "flag": 3}
STOPPING = ("review", "block")  # actions that keep the money from leaving
MAX_SAMPLE = 50
MAX_TEST_DAYS = 366  # the longest period test_rule (console, API) scans

_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None, "True": True, "False": False,
                              "None": None}
_CMP: dict[type, str] = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_NODE_NAMES = {ast.Call: "function calls", ast.Attribute: "attributes (a.b)", ast.Subscript: "subscripts (a[b])",
               ast.Lambda: "lambdas", ast.IfExp: "if-expressions", ast.NamedExpr: "assignments",
               ast.ListComp: "comprehensions", ast.GeneratorExp: "comprehensions", ast.SetComp: "comprehensions",
               ast.DictComp: "comprehensions", ast.Dict: "dictionaries", ast.Starred: "starred expressions",
               ast.JoinedStr: "f-strings", ast.Await: "await", ast.Yield: "yield"}

Fn = Callable[[Mapping[str, Any]], Any]


class RuleExpressionError(ValidationFailed):
    code = "invalid_rule_expression"


@dataclass(frozen=True)
class Compiled:
    """A checked rule: ``fn(ctx)`` is True when it matches; ``expr`` is the same rule over a frame."""

    source: str
    fn: Callable[[Mapping[str, Any]], bool]
    expr: pl.Expr
    names: frozenset[str]


def _where(node: ast.AST) -> str:
    col = getattr(node, "col_offset", None)
    return f" (at column {col + 1})" if col is not None else ""


def _fail(msg: str, node: ast.AST | None = None) -> RuleExpressionError:
    return RuleExpressionError(msg + (_where(node) if node is not None else ""))


# ------------------------------------------------------------------------------------------------ the compiler
# each visit returns (python callable, polars expression, kind) with kind in num | text | bool | null


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
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


def _arith(op: str, left: Fn, right: Fn) -> Fn:
    calc = _PY_ARITH[op]
    div = op == "/"

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


class _Compiler:
    def __init__(self) -> None:
        self.used: set[str] = set()

    def visit(self, node: ast.AST) -> tuple[Fn, pl.Expr, str]:
        if isinstance(node, ast.BoolOp):
            parts = [self.boolean(v) for v in node.values]
            expr = parts[0][1]
            for p in parts[1:]:
                expr = (expr & p[1]) if isinstance(node.op, ast.And) else (expr | p[1])
            fns = [p[0] for p in parts]
            return (_and(fns) if isinstance(node.op, ast.And) else _or(fns)), expr, "bool"
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                fn, e = self.boolean(node.operand)
                return _not(fn), ~e, "bool"
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise _fail("the operator ~ is not allowed", node)
            fn, e, kind = self.visit(node.operand)
            if kind != "num":
                raise _fail("a sign (+/-) needs a number", node)
            return (_neg(fn), -e, "num") if isinstance(node.op, ast.USub) else (fn, e, "num")
        if isinstance(node, ast.BinOp):
            op = _ARITH.get(type(node.op))
            if op is None:
                raise _fail(f"the operator {type(node.op).__name__} is not allowed (use + - * /)", node)
            lf, le, lk = self.visit(node.left)
            rf, re_, rk = self.visit(node.right)
            if lk != "num" or rk != "num":
                raise _fail(f"'{op}' needs numbers on both sides", node)
            if op == "/":
                e = pl.when(re_ == 0).then(None).otherwise(le / re_)
            else:
                e = {"+": le + re_, "-": le - re_, "*": le * re_}[op]
            return _arith(op, lf, rf), e.fill_nan(None), "num"
        if isinstance(node, ast.Compare):
            fn, e = self.compare(node)
            return fn, e, "bool"
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            raise _fail("a list may only follow 'in' or 'not in'", node)
        what = _NODE_NAMES.get(type(node), type(node).__name__)
        raise _fail(f"{what} are not allowed in a risk rule", node)

    def boolean(self, node: ast.AST) -> tuple[Fn, pl.Expr]:
        fn, e, kind = self.visit(node)
        if kind != "bool":
            raise _fail("and/or/not need conditions (comparisons) on each side, e.g. new_terminal == 1", node)
        return fn, e

    def name(self, node: ast.Name) -> tuple[Fn, pl.Expr, str]:
        n = node.id
        if "__" in n:
            raise _fail(f"the name {n!r} is not allowed", node)
        if n in _CONSTANTS:
            v = _CONSTANTS[n]
            return (_const(v), pl.lit(v), "bool") if isinstance(v, bool) else (_const(None), pl.lit(None), "null")
        if n not in CONTEXT:
            raise _fail(f"unknown name {n!r} (see the list of payment fields and features)", node)
        self.used.add(n)
        if n in TEXT_FIELDS:
            return _text_getter(n), pl.col(n).cast(pl.Utf8), "text"
        return _num_getter(n), pl.col(n).cast(pl.Float64).fill_nan(None), "num"

    def constant(self, node: ast.Constant) -> tuple[Fn, pl.Expr, str]:
        v = node.value
        if v is None:
            return _const(None), pl.lit(None), "null"
        if isinstance(v, bool):
            return _const(v), pl.lit(v), "bool"
        if isinstance(v, (int, float)):
            if isinstance(v, int) and abs(v) > 2**62:
                raise _fail("the number is too large", node)
            if isinstance(v, float) and not math.isfinite(v):
                raise _fail("the number is too large", node)
            f = float(v)
            return _const(f), pl.lit(f, dtype=pl.Float64), "num"
        if isinstance(v, str):
            if len(v) > 200:
                raise _fail("a text value has at most 200 characters", node)
            return _const(v), pl.lit(v, dtype=pl.Utf8), "text"
        raise _fail(f"the value {v!r} is not allowed", node)

    def compare(self, node: ast.Compare) -> tuple[Fn, pl.Expr]:
        fns: list[Fn] = []
        exprs: list[pl.Expr] = []
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            fn, e = self.compare_one(left_node, op, right_node)
            fns.append(fn)
            exprs.append(e)
            left_node = right_node
        expr = exprs[0]
        for e in exprs[1:]:
            expr = expr & e
        return (fns[0] if len(fns) == 1 else _and(fns)), expr

    def _list_value(self, elt: ast.AST) -> tuple[Any, str]:
        if isinstance(elt, ast.UnaryOp) and isinstance(elt.op, ast.USub) and isinstance(elt.operand, ast.Constant) \
                and isinstance(elt.operand.value, (int, float)) and not isinstance(elt.operand.value, bool):
            _, _, k = self.constant(elt.operand)
            return -float(elt.operand.value), k
        if not isinstance(elt, ast.Constant) or elt.value is None or isinstance(elt.value, bool):
            raise _fail("a list may only hold numbers or texts", elt)
        _, _, k = self.constant(elt)
        v: Any = elt.value
        return (float(v) if k == "num" else v), k

    def compare_one(self, left_node: ast.AST, op: ast.cmpop, right_node: ast.AST) -> tuple[Fn, pl.Expr]:
        if isinstance(op, (ast.In, ast.NotIn)):
            lf, le, lk = self.visit(left_node)
            if lk not in ("num", "text"):
                raise _fail("'in' needs a number or a text on its left", left_node)
            if not isinstance(right_node, (ast.List, ast.Tuple, ast.Set)):
                raise _fail("'in' needs a list of values, e.g. channel in [\"web\", \"api\"]", right_node)
            values = []
            for elt in right_node.elts:
                v, k = self._list_value(elt)
                if k != lk:
                    raise _fail(f"the list holds a {k} value but the left side is {lk}", elt)
                values.append(v)
            if not values:
                raise _fail("the list needs at least one value", right_node)
            if len(values) > 100:
                raise _fail("a list holds at most 100 values", right_node)
            member = pl.when(le.is_null()).then(None).otherwise(le.is_in(values))
            vs = frozenset(values)
            negate = isinstance(op, ast.NotIn)

            def f(ctx: Mapping[str, Any]) -> bool | None:
                a = lf(ctx)
                if a is None:
                    return None
                return (a in vs) != negate

            return f, (~member if negate else member)
        sym = _CMP.get(type(op))
        if sym is None:
            raise _fail(f"the comparison {type(op).__name__} is not allowed (use == != < <= > >= in)", right_node)
        lf, le, lk = self.visit(left_node)
        rf, re_, rk = self.visit(right_node)
        if "null" in (lk, rk):
            if sym not in ("==", "!="):
                raise _fail("null can only be compared with == or !=", right_node)
            of, oe = (rf, re_) if lk == "null" else (lf, le)
            if sym == "==":
                return (lambda ctx: of(ctx) is None), oe.is_null()
            return (lambda ctx: of(ctx) is not None), oe.is_not_null()
        if lk != rk:
            raise _fail(f"cannot compare {lk} with {rk}", right_node)
        if lk in ("text", "bool") and sym not in ("==", "!="):
            raise _fail(f"{lk} values can only be compared with == or !=", right_node)
        e = {"==": le == re_, "!=": le != re_, "<": le < re_, "<=": le <= re_, ">": le > re_, ">=": le >= re_}[sym]
        return _cmp(sym, lf, rf), e


def compile_expression(source: str) -> Compiled:
    """Check ``source`` and compile it to a Python callable and a Polars expression (null counts as false)."""
    if not isinstance(source, str) or not source.strip():
        raise RuleExpressionError("a rule condition is required")
    if len(source) > MAX_LENGTH:
        raise RuleExpressionError(f"a rule has at most {MAX_LENGTH} characters")
    text_ = " ".join(source.split())  # rules may be typed over several lines
    try:
        tree = ast.parse(text_, mode="eval")
    except SyntaxError as exc:
        raise RuleExpressionError(f"the rule is not well formed: {exc.msg} (at column {exc.offset or 0})") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise RuleExpressionError("the rule is not well formed") from exc
    if len(list(ast.walk(tree))) > MAX_NODES:
        raise RuleExpressionError(f"the rule is too long (at most {MAX_NODES} parts)")
    c = _Compiler()
    try:
        fn, expr, kind = c.visit(tree.body)
    except RecursionError as exc:
        raise RuleExpressionError("the rule is nested too deeply") from exc
    if kind != "bool":
        raise RuleExpressionError("a rule must be a condition, e.g. amount_minor >= 5000000")

    def matches(ctx: Mapping[str, Any]) -> bool:
        return fn(ctx) is True

    return Compiled(source=source, fn=matches, expr=expr.fill_null(False), names=frozenset(c.used))


# ------------------------------------------------------------------------------------------------ rule sets


@dataclass(frozen=True, slots=True)
class RuleHit:
    code: str
    version: int
    action: str
    shadow: bool
    name_en: str
    name_zh: str
    reason_en: str
    reason_zh: str

    def as_json(self) -> dict[str, Any]:
        """The form stored in ``risk_decisions.rule_hits``."""
        return {"code": self.code, "version": self.version, "action": self.action, "shadow": self.shadow}


class RuleSet:
    """The rules in force (newest version of every code that is not retired), compiled once.

    ``evaluate`` returns the hits of active AND shadow rules, most severe first (block, review, challenge,
    flag), then by code; the engine ignores shadow hits for the outcome and records them all. A stored rule
    that no longer compiles (say a feature was renamed) is left out and listed in ``broken``.
    """

    __slots__ = ("_rules", "broken", "version")

    def __init__(self, version: str, rules: Sequence[tuple[Callable[[Mapping[str, Any]], bool], RuleHit]],
                 broken: Sequence[tuple[str, int, str]] = ()):
        self.version = version
        self._rules = tuple(sorted(rules, key=lambda r: (SEVERITY.get(r[1].action, 9), r[1].code)))
        self.broken = tuple(broken)

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def hits_possible(self) -> list[RuleHit]:
        return [h for _, h in self._rules]

    def evaluate(self, ctx: Mapping[str, Any]) -> list[RuleHit]:
        return [hit for fn, hit in self._rules if fn(ctx)]


def _fingerprint(max_id: int | None, count: int | None) -> str:
    return f"r{int(max_id or 0)}-{int(count or 0)}"


def fingerprint(session: Session) -> str:
    """``r<max id>-<rows>`` of ``risk_rules``: rows are never changed, so any change moves it."""
    max_id, count = session.execute(select(func.max(RiskRule.id), func.count(RiskRule.id))).one()
    return _fingerprint(max_id, count)


def _all_versions(session: Session, code: str | None = None) -> list[RiskRule]:
    stmt = select(RiskRule).order_by(RiskRule.code, RiskRule.version)
    if code is not None:
        stmt = stmt.where(RiskRule.code == code)
    return list(session.scalars(stmt))


def _newest(rows: Iterable[RiskRule]) -> dict[str, RiskRule]:
    newest: dict[str, RiskRule] = {}
    for r in rows:
        if r.code not in newest or r.version > newest[r.code].version:
            newest[r.code] = r
    return newest


def _hit(r: RiskRule) -> RuleHit:
    return RuleHit(code=r.code, version=r.version, action=r.action, shadow=r.mode == "shadow", name_en=r.name_en,
                   name_zh=r.name_zh, reason_en=r.reason_en, reason_zh=r.reason_zh)


def load_ruleset(session: Session) -> RuleSet:
    """The newest version of every non-retired code (active and shadow), compiled."""
    rows = _all_versions(session)
    version = _fingerprint(max((r.id for r in rows), default=0), len(rows))
    compiled: list[tuple[Callable[[Mapping[str, Any]], bool], RuleHit]] = []
    broken: list[tuple[str, int, str]] = []
    for r in _newest(rows).values():
        if r.mode == "retired":
            continue
        try:
            compiled.append((compile_expression(r.expression).fn, _hit(r)))
        except ValidationFailed as exc:
            log.error("risk rule %s v%s does not compile: %s", r.code, r.version, exc.message)
            broken.append((r.code, r.version, exc.message))
    return RuleSet(version, compiled, broken)


# ------------------------------------------------------------------------------------------------ defaults


@dataclass(frozen=True)
class DefaultRule:
    code: str
    action: str
    expression: str
    name_en: str
    name_zh: str
    reason_en: str
    reason_zh: str
    why: str


DEFAULT_RULES: tuple[DefaultRule, ...] = (
    DefaultRule(
        "large_to_new_account", "block",
        "amount_minor >= 100000000 and counterparty_age_days < 1 and own_account == 0",
        "Very large payment to a just-opened account", "向新开账户的超大额付款",
        "This payment of 1,000,000 yuan or more goes to an account opened less than a day ago, which is how "
        "many scams move money. It has been stopped; please contact us if you meant it.",
        "这笔100万元及以上的付款收款账户开立不到一天，这是常见的诈骗转账方式，已被拦截。如确属本人意愿，请联系我们。",
        "Mule accounts are opened shortly before a large scam payment; an own-account move is never stopped."),
    DefaultRule(
        "new_payee_unusual_amount", "review",
        "new_terminal == 1 and saved_payee == 0 and own_account == 0 and amount_minor >= 5000000 "
        "and amount_ratio_max_30d > 5",
        "Unusually large payment to a new payee", "向新收款人的异常大额付款",
        "This payment to someone you have not paid before is much larger than your usual payments, so we are "
        "holding it for a quick check before it is sent.",
        "这笔付款的收款人您从未付过款，且金额远高于您平时的付款，我们将暂时保留资金，核实后再汇出。",
        "At least 50,000 yuan and more than five times the customer's largest payment of the last 30 days, to an "
        "account they never paid and did not save: the shape of an account takeover or an impersonation scam."),
    DefaultRule(
        "night_new_payee", "challenge",
        "is_night == 1 and new_terminal == 1 and saved_payee == 0 and own_account == 0 and amount_minor >= 2000000",
        "Large night-time payment to a new payee", "夜间向新收款人的大额付款",
        "This is a large payment at night to someone you have not paid before. Please confirm it with the "
        "one-time code we send to your phone.",
        "这是一笔夜间向新收款人的大额付款，请输入我们发送到您手机的验证码确认。",
        "20,000 yuan or more between 00:00 and 06:59 to an unsaved account never paid before; a one-time code "
        "is little trouble for a real customer and stops most remote takeovers."),
    DefaultRule(
        "burst_then_new_payee", "challenge",
        "cust_n_1h >= 30 and new_terminal == 1 and own_account == 0 and amount_minor >= 1000000",
        "Many payments in an hour, then a large one to a new payee", "短时间内多笔付款后向新收款人大额付款",
        "You have made many payments in the last hour and this one is a large payment to someone new. Please "
        "confirm it with the one-time code we send to your phone.",
        "您在一小时内已有多笔付款，这笔又是向新收款人的大额付款，请输入我们发送到您手机的验证码确认。",
        "Velocity: 30 payments in the hour before (scripted draining), and then at least 10,000 yuan to a new "
        "account. Bursts of small payments to known accounts (payroll, tests, family) pass."),
    DefaultRule(
        "known_fraud_counterparty", "review",
        "term_risk_30d >= 0.3 and term_known_n_30d >= 3 and own_account == 0",
        "Receiving account linked to confirmed fraud", "收款账户涉及已确认的欺诈",
        "The receiving account has recently received payments that were confirmed as fraud, so we are holding "
        "this payment for a check before it is sent.",
        "该收款账户近期收到过已确认为欺诈的款项，我们将暂时保留这笔付款，核实后再汇出。",
        "At least 30% of the receiving account's labelled incoming payments of the last 30 days (labels known "
        "by now, i.e. a week old) were fraud, over at least three of them: a mule account."),
)


def seed_defaults(session: Session) -> int:
    """Add every default rule whose code was never defined (idempotent). Returns how many were added."""
    have = set(session.scalars(select(RiskRule.code).distinct()))
    missing = [d for d in DEFAULT_RULES if d.code not in have]
    if not missing:
        return 0
    try:
        with session.begin_nested():
            for d in missing:
                compile_expression(d.expression)
                session.add(RiskRule(code=d.code, version=1, name_en=d.name_en, name_zh=d.name_zh,
                                     expression=d.expression, action=d.action, mode="active", reason_en=d.reason_en,
                                     reason_zh=d.reason_zh, created_by=None, created_at=_now()))
    except IntegrityError:  # another transaction seeded them at the same moment
        return 0
    return len(missing)


# ------------------------------------------------------------------------------------------------ management


def _now() -> datetime:
    return clock.now()


def as_dict(r: RiskRule) -> dict[str, Any]:
    return {"code": r.code, "version": r.version, "name_en": r.name_en, "name_zh": r.name_zh,
            "expression": r.expression, "action": r.action, "mode": r.mode, "reason_en": r.reason_en,
            "reason_zh": r.reason_zh, "created_by": r.created_by,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "retired_at": r.retired_at.isoformat() if r.retired_at else None}


def _check_fields(code: str, name_en: str, name_zh: str, action: str, reason_en: str, reason_zh: str) -> None:
    if not isinstance(code, str) or not CODE.match(code):
        raise ValidationFailed("a rule code has 2-40 lower-case letters, digits or _, starting with a letter",
                               details={"code": code})
    for label, v, most in (("name_en", name_en, 120), ("name_zh", name_zh, 120), ("reason_en", reason_en, 300),
                           ("reason_zh", reason_zh, 300)):
        if not isinstance(v, str) or not v.strip() or len(v.strip()) > most:
            raise ValidationFailed(f"{label} needs 1-{most} characters", details={label: v})
    if action not in RULE_ACTIONS:
        raise ValidationFailed("action must be flag, challenge, review or block", details={"action": action})


def _current(session: Session, code: str) -> RiskRule:
    rows = _all_versions(session, code)
    if not rows:
        raise NotFound("no such rule", details={"code": code})
    return rows[-1]


def _write(session: Session, row: RiskRule) -> RiskRule:
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise Conflict("the rule was changed at the same moment; reload it and try again",
                       details={"code": row.code, "version": row.version}) from exc
    return row


def list_rules(session: Session, *, actor: Principal, include_retired: bool = False) -> list[dict[str, Any]]:
    """The newest version of every rule (retired ones too when asked), most severe first."""
    actor.require_role(*RULE_MANAGERS)
    seed_defaults(session)
    rows = [r for r in _newest(_all_versions(session)).values() if include_retired or r.mode != "retired"]
    rows.sort(key=lambda r: (r.mode == "retired", SEVERITY.get(r.action, 9), r.code))
    return [as_dict(r) for r in rows]


def get_rule(session: Session, *, actor: Principal, code: str) -> dict[str, Any]:
    actor.require_role(*RULE_MANAGERS)
    return as_dict(_current(session, code))


def versions(session: Session, *, actor: Principal, code: str) -> list[dict[str, Any]]:
    """Every version of a rule, oldest first."""
    actor.require_role(*RULE_MANAGERS)
    rows = _all_versions(session, code)
    if not rows:
        raise NotFound("no such rule", details={"code": code})
    return [as_dict(r) for r in rows]


def create(session: Session, *, actor: Principal, code: str, name_en: str, name_zh: str, expression: str,
           action: str, reason_en: str, reason_zh: str, mode: str = "shadow") -> dict[str, Any]:
    """A new rule (version 1). It starts in shadow mode unless ``mode="active"`` is asked for."""
    actor.require_role(*RULE_MANAGERS)
    _check_fields(code, name_en, name_zh, action, reason_en, reason_zh)
    if mode not in ("active", "shadow"):
        raise ValidationFailed("a new rule is active or shadow", details={"mode": mode})
    compile_expression(expression)
    if session.scalar(select(func.count()).select_from(RiskRule).where(RiskRule.code == code)):
        raise Conflict("a rule with this code exists; edit it to make a new version", details={"code": code})
    row = _write(session, RiskRule(code=code, version=1, name_en=name_en.strip(), name_zh=name_zh.strip(),
                                   expression=expression.strip(), action=action, mode=mode,
                                   reason_en=reason_en.strip(), reason_zh=reason_zh.strip(),
                                   created_by=actor.user_id or None, created_at=_now()))
    out = as_dict(row)
    security.audit(session, actor, action="risk.rule.create", object_type="risk_rule", object_id=code, after=out)
    return out


def edit(session: Session, *, actor: Principal, code: str, name_en: str | None = None, name_zh: str | None = None,
         expression: str | None = None, action: str | None = None, reason_en: str | None = None,
         reason_zh: str | None = None) -> dict[str, Any]:
    """A new version (version + 1, same mode) with the given fields changed; earlier versions stay."""
    actor.require_role(*RULE_MANAGERS)
    old = _current(session, code)
    if old.mode == "retired":
        raise Conflict("the rule is retired: switch it to shadow or active before editing", details={"code": code})
    new = {"name_en": old.name_en if name_en is None else name_en,
           "name_zh": old.name_zh if name_zh is None else name_zh,
           "expression": old.expression if expression is None else expression,
           "action": old.action if action is None else action,
           "reason_en": old.reason_en if reason_en is None else reason_en,
           "reason_zh": old.reason_zh if reason_zh is None else reason_zh}
    _check_fields(code, new["name_en"], new["name_zh"], new["action"], new["reason_en"], new["reason_zh"])
    compile_expression(new["expression"])
    new = {k: v.strip() for k, v in new.items()}
    before = as_dict(old)
    if all(before[k] == v for k, v in new.items()):
        raise ValidationFailed("nothing to change: give a new name, condition, action or reason")
    row = _write(session, RiskRule(code=code, version=old.version + 1, mode=old.mode,
                                   created_by=actor.user_id or None, created_at=_now(), **new))
    out = as_dict(row)
    security.audit(session, actor, action="risk.rule.edit", object_type="risk_rule", object_id=code,
                   before=before, after=out)
    return out


def set_mode(session: Session, *, actor: Principal, code: str, mode: str) -> dict[str, Any]:
    """Switch a rule to active, shadow or retired: a new version with the same condition and words."""
    actor.require_role(*RULE_MANAGERS)
    if mode not in RULE_MODES:
        raise ValidationFailed("mode must be active, shadow or retired", details={"mode": mode})
    old = _current(session, code)
    if old.mode == mode:
        raise Conflict(f"the rule is already {mode}", details={"code": code, "mode": mode})
    compile_expression(old.expression)
    now = _now()
    row = _write(session, RiskRule(code=code, version=old.version + 1, name_en=old.name_en, name_zh=old.name_zh,
                                   expression=old.expression, action=old.action, mode=mode,
                                   reason_en=old.reason_en, reason_zh=old.reason_zh,
                                   created_by=actor.user_id or None, created_at=now,
                                   retired_at=now if mode == "retired" else None))
    out = as_dict(row)
    security.audit(session, actor, action=f"risk.rule.{'retire' if mode == 'retired' else 'mode'}",
                   object_type="risk_rule", object_id=code, before=as_dict(old), after=out)
    return out


# ------------------------------------------------------------------------------------------------ history


HISTORY_SCHEMA: dict[str, Any] = {
    **TX_SCHEMA,
    **{n: pl.Float64 for n in FEATURE_NAMES},
    **{n: (pl.Utf8 if n in TEXT_FIELDS else pl.Float64) for n in PAYMENT_FIELDS if n != "amount_minor"},
}


def _local_range(start: date | datetime, end: date | datetime, *, max_days: int | None = None
                 ) -> tuple[datetime, datetime]:
    """Naive Asia/Shanghai local [start, end): a date ``end`` counts as a whole day (inclusive)."""
    s = start if isinstance(start, datetime) else datetime.combine(start, time())
    e = end if isinstance(end, datetime) else datetime.combine(end, time()) + timedelta(days=1)
    if s.tzinfo is not None:
        s = s.astimezone(LOCAL_TZ).replace(tzinfo=None)
    if e.tzinfo is not None:
        e = e.astimezone(LOCAL_TZ).replace(tzinfo=None)
    if e <= s:
        raise ValidationFailed("the end of the period must be after its start",
                               details={"start": str(start), "end": str(end)})
    if max_days is not None and e - s > timedelta(days=max_days):
        raise ValidationFailed(f"a test covers at most {max_days} days", details={"start": str(start), "end": str(end)})
    return s, e


def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=LOCAL_TZ).astimezone(UTC)


def _epoch_us(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"
    return (f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000 + CASE WHEN substr({column}, 20, 1) = '.'"
            f" THEN CAST(substr({column}, 21, 6) AS INTEGER) ELSE 0 END)")


def _history_sql(dialect: str) -> tuple[str, str]:
    """The read-model queries: customer payments in a period, and earlier payments per (payer, payee)."""
    ts = _epoch_us(dialect, "t.created_at")
    if dialect == "postgresql":
        period = "t.created_at >= :lo AND t.created_at < :hi"
        before = "t.created_at < :lo"
    else:
        period = f"{ts} >= :lo_us AND {ts} < :hi_us"
        before = f"{ts} < :lo_us"
    kinds = ", ".join(f"'{k}'" for k in CUSTOMER_KINDS)
    base = (" FROM transfers t JOIN accounts da ON da.id = t.debit_account_id"
            " JOIN accounts ca ON ca.id = t.credit_account_id"
            f" WHERE t.kind IN ({kinds}) AND t.flags IN ('posted', 'pending') AND da.customer_id IS NOT NULL")
    rows = (
        f"SELECT t.id AS tx_id, {ts} AS ts_us, da.customer_id, t.credit_account_id AS terminal_id, t.amount_minor,"
        " l.label AS fraud, t.kind AS ledger_kind, t.reference, da.kind AS product,"
        " CASE WHEN ca.customer_id = da.customer_id THEN 1 ELSE 0 END AS own_account,"
        f" {_epoch_us(dialect, 'ca.created_at')} AS cp_created_us,"
        " CASE WHEN EXISTS (SELECT 1 FROM payees p WHERE p.customer_id = da.customer_id"
        " AND p.account_number = ca.number AND p.created_at <= t.created_at) THEN 1 ELSE 0 END AS saved_payee,"
        " d.channel, d.kind AS decision_kind, d.score AS model_score"
        + base.replace(" WHERE", " LEFT JOIN risk_labels l ON l.transfer_id = t.id"
                       " LEFT JOIN risk_decisions d ON d.id = (SELECT max(d2.id) FROM risk_decisions d2"
                       " WHERE d2.transfer_id = t.id) WHERE")
        + f" AND {period} ORDER BY t.id")
    prior = ("SELECT da.customer_id, t.credit_account_id AS terminal_id, count(*) AS n" + base
             + f" AND {before} GROUP BY da.customer_id, t.credit_account_id")
    return rows, prior


_RAW_SCHEMA: dict[str, Any] = {
    "tx_id": pl.Int64, "ts_us": pl.Int64, "customer_id": pl.Int64, "terminal_id": pl.Int64, "amount_minor": pl.Int64,
    "fraud": pl.Int8, "ledger_kind": pl.Utf8, "reference": pl.Utf8, "product": pl.Utf8, "own_account": pl.Float64,
    "cp_created_us": pl.Int64, "saved_payee": pl.Float64, "channel": pl.Utf8, "decision_kind": pl.Utf8,
    "model_score": pl.Float64,
}


def _local_ts(col: str) -> pl.Expr:
    return (pl.from_epoch(pl.col(col), time_unit="us").dt.replace_time_zone("UTC")
            .dt.convert_time_zone("Asia/Shanghai").dt.replace_time_zone(None).cast(pl.Datetime("us")))


def history_frame(session: Session, start: date | datetime, end: date | datetime) -> pl.DataFrame:
    """The bank's customer payments in [start, end) (Asia/Shanghai local) with every name of ``CONTEXT``.

    Payments are transfers of the customer kinds (transfer, bill_payment, card_payment, scheduled), posted or held;
    the customer is the owner of the paying account, the terminal the receiving account; ``fraud`` is the
    confirmed label (null when unknown). Features see ``HISTORY_DAYS`` + the label delay before ``start``;
    ``new_terminal`` / ``cust_term_n_prev`` count every earlier payment.
    """
    lo, hi = _local_range(start, end)
    warm = lo - timedelta(days=HISTORY_DAYS + DELAY_DAYS + 1)
    dialect = session.get_bind().dialect.name
    rows_sql, prior_sql = _history_sql(dialect)
    params = {"lo": _utc(warm), "hi": _utc(hi), "lo_us": int(_utc(warm).timestamp() * 1_000_000),
              "hi_us": int(_utc(hi).timestamp() * 1_000_000)}
    rows = session.execute(text(rows_sql), params).all()
    raw = pl.DataFrame([tuple(r) for r in rows], schema=_RAW_SCHEMA, orient="row")
    prior = pl.DataFrame([tuple(r) for r in session.execute(text(prior_sql), params).all()],
                         schema={"customer_id": pl.Int64, "terminal_id": pl.Int64, "n": pl.Int64}, orient="row")
    tx = raw.select(pl.col("tx_id"), _local_ts("ts_us").alias("ts"), "customer_id", "terminal_id", "amount_minor",
                    "fraud").cast(TX_SCHEMA)  # type: ignore[arg-type]
    feats = build_features(tx, delay_days=DELAY_DAYS)
    feats = feats.join(prior, on=["customer_id", "terminal_id"], how="left").with_columns(
        (pl.col("cust_term_n_prev") + pl.col("n").fill_null(0)).alias("cust_term_n_prev"),
    ).with_columns((pl.col("cust_term_n_prev") == 0).cast(pl.Float64).alias("new_terminal")).drop("n")
    kind = (pl.when(pl.col("decision_kind").is_not_null()).then(pl.col("decision_kind"))
            .when(pl.col("reference").str.starts_with("topup:")).then(pl.lit("top_up"))
            .when(pl.col("ledger_kind") == "scheduled").then(pl.lit("transfer"))
            .otherwise(pl.col("ledger_kind")))
    channel = (pl.when(pl.col("channel").is_not_null()).then(pl.col("channel"))
               .when(pl.col("ledger_kind") == "scheduled").then(pl.lit("schedule")).otherwise(None))
    extra = raw.select(
        "tx_id", kind.alias("kind"), channel.alias("channel"), "product", "saved_payee", "own_account",
        ((pl.col("ts_us") - pl.col("cp_created_us")).cast(pl.Float64) / 86_400e6).alias("counterparty_age_days"),
        "model_score")
    out = feats.join(extra, on="tx_id", how="left").filter(pl.col("ts") >= lo, pl.col("ts") < hi)
    return _finish(out)


def _finish(df: pl.DataFrame) -> pl.DataFrame:
    for n, dt in HISTORY_SCHEMA.items():
        if n not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=dt).alias(n))
    df = df.select([pl.col(n).cast(dt) for n, dt in HISTORY_SCHEMA.items()])
    floats = [n for n, dt in HISTORY_SCHEMA.items() if dt == pl.Float64]
    return df.with_columns([pl.col(n).fill_nan(None) for n in floats]).sort("ts", "tx_id")


_FILE_CACHE: dict[tuple[str, float], pl.DataFrame] = {}
_FILE_LOCK = threading.Lock()


def _load_cached(path: Path) -> pl.DataFrame:
    key = (str(path.resolve()), path.stat().st_mtime)
    with _FILE_LOCK:
        if key not in _FILE_CACHE:
            _FILE_CACHE.clear()  # one file at a time: the card_fraud file is 1.4M rows
            _FILE_CACHE[key] = load_transactions(path)
        return _FILE_CACHE[key]


def file_frame(path: str | Path, start: date | datetime, end: date | datetime) -> pl.DataFrame:
    """A labelled card_fraud-style file as a history frame for [start, end) (its local times as given).

    Card payments go to merchants: ``saved_payee`` and ``own_account`` are 0 and ``kind`` is ``card_payment``;
    ``channel``, ``product``, ``counterparty_age_days`` and ``model_score`` are unknown (null).
    """
    lo, hi = _local_range(start, end)
    p = Path(path)
    if not p.is_file():
        raise ValidationFailed("no such history file", details={"source": str(path)})
    tx = _load_cached(p)
    warm = lo - timedelta(days=HISTORY_DAYS + DELAY_DAYS + 1)
    # new_terminal needs every earlier payment of the (customer, terminal) pair
    prior = (tx.filter(pl.col("ts") < warm).group_by("customer_id", "terminal_id").agg(pl.len().alias("n"))
             .cast({"n": pl.Int64}))
    feats = build_features(tx.filter(pl.col("ts") >= warm, pl.col("ts") < hi), delay_days=DELAY_DAYS)
    feats = feats.join(prior, on=["customer_id", "terminal_id"], how="left").with_columns(
        (pl.col("cust_term_n_prev") + pl.col("n").fill_null(0)).alias("cust_term_n_prev"),
    ).with_columns((pl.col("cust_term_n_prev") == 0).cast(pl.Float64).alias("new_terminal")).drop("n")
    out = feats.filter(pl.col("ts") >= lo, pl.col("ts") < hi).with_columns(
        pl.lit("card_payment").alias("kind"), pl.lit(0.0).alias("saved_payee"), pl.lit(0.0).alias("own_account"))
    return _finish(out)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 6) if b else None


def backtest(frame: pl.DataFrame, expression: str | Compiled, action: str, *, sample: int = 10) -> dict[str, Any]:
    """Figures of one rule over a history frame (see docs/RISK_RULES.md for the definitions)."""
    if action not in RULE_ACTIONS:
        raise ValidationFailed("action must be flag, challenge, review or block", details={"action": action})
    c = expression if isinstance(expression, Compiled) else compile_expression(expression)
    try:
        df = frame.lazy().with_columns(c.expr.alias("_hit")).select(
            "tx_id", "ts", "customer_id", "terminal_id", "amount_minor", "fraud", "_hit").collect()
    except pl.exceptions.PolarsError as exc:
        raise RuleExpressionError(f"the rule cannot be evaluated: {str(exc).splitlines()[0][:200]}") from exc
    hit = pl.col("_hit")
    fraud = pl.col("fraud") == 1
    genuine = pl.col("fraud") == 0
    amt = pl.col("amount_minor")
    s = df.select(
        pl.len().alias("scanned"),
        hit.sum().alias("hits"),
        fraud.sum().alias("frauds"),
        pl.col("fraud").is_not_null().sum().alias("labelled"),
        (hit & fraud).sum().alias("frauds_hit"),
        (hit & genuine).sum().alias("false_positives"),
        (hit & pl.col("fraud").is_null()).sum().alias("unlabelled_hits"),
        amt.filter(hit & fraud).sum().alias("fraud_hit_minor"),
        amt.filter(hit & genuine).sum().alias("genuine_hit_minor"),
        amt.filter(fraud).sum().alias("fraud_minor"),
    ).row(0, named=True)
    v = {k: int(x or 0) for k, x in s.items()}
    labelled_hits = v["frauds_hit"] + v["false_positives"]
    rows = df.filter(hit).head(max(0, min(int(sample), MAX_SAMPLE)))
    return {
        "expression": c.source, "action": action, "names": sorted(c.names),
        "scanned": v["scanned"], "hits": v["hits"], "hit_rate": _ratio(v["hits"], v["scanned"]),
        "labelled": v["labelled"], "frauds": v["frauds"], "frauds_hit": v["frauds_hit"],
        "recall": _ratio(v["frauds_hit"], v["frauds"]),
        "labelled_hits": labelled_hits, "precision": _ratio(v["frauds_hit"], labelled_hits),
        "false_positives": v["false_positives"], "unlabelled_hits": v["unlabelled_hits"],
        "fraud_minor": v["fraud_minor"],
        "money_saved_minor": v["fraud_hit_minor"] if action in STOPPING else 0,
        "challenged_fraud_minor": v["fraud_hit_minor"] if action == "challenge" else 0,
        "genuine_hit_minor": v["genuine_hit_minor"],
        "sample": [{"tx_id": int(r["tx_id"]), "ts": r["ts"].isoformat(sep=" "), "customer_id": int(r["customer_id"]),
                    "terminal_id": int(r["terminal_id"]), "amount_minor": int(r["amount_minor"]),
                    "fraud": None if r["fraud"] is None else int(r["fraud"])} for r in rows.iter_rows(named=True)],
    }


def dataset_path(source: str) -> Path:
    """A history file named relative to ``settings.datasets_dir``; nothing outside it may be read."""
    from smartbank.config import get_settings

    root = Path(get_settings().datasets_dir).resolve()
    p = (root / source).resolve()
    if root not in p.parents or not p.is_file():
        raise ValidationFailed("unknown history source: use 'bank' or a file under the datasets directory",
                               details={"source": source})
    return p


def test_rule(session: Session, *, actor: Principal, expression: str, action: str, start: date | datetime,
              end: date | datetime, source: str = "bank", sample: int = 10) -> dict[str, Any]:
    """Backtest a draft rule over [start, end]; nothing is written.

    ``source`` is ``bank`` (this bank's payments, :func:`history_frame`) or the name of a labelled
    card_fraud-style file under the datasets directory (:func:`file_frame`).
    """
    actor.require_role(*RULE_MANAGERS)
    compiled = compile_expression(expression)
    if action not in RULE_ACTIONS:
        raise ValidationFailed("action must be flag, challenge, review or block", details={"action": action})
    lo, hi = _local_range(start, end, max_days=MAX_TEST_DAYS)
    frame = history_frame(session, lo, hi) if source == "bank" else file_frame(dataset_path(source), lo, hi)
    out = backtest(frame, compiled, action, sample=sample)
    out.update(source=source, start=lo.isoformat(sep=" "), end=hi.isoformat(sep=" "))
    return out


# ------------------------------------------------------------------------------------------------ live figures


def rule_stats(session: Session, since: datetime | None = None, *, actor: Principal | None = None
               ) -> list[dict[str, Any]]:
    """Per rule code, from the stored decisions since ``since`` and the confirmed labels.

    ``hits`` / ``shadow_hits``: decisions the rule hit while active / in shadow. ``labelled``, ``frauds``
    and ``precision`` count hits whose payment has a label. ``saved_minor``: frauds an active review or block
    hit stopped; ``challenged_fraud_minor``: frauds an active challenge hit met; ``shadow_would_save_minor``:
    frauds a shadow review/block hit would have stopped.
    """
    if actor is not None:
        actor.require_role(*RULE_MANAGERS)
    dialect = session.get_bind().dialect.name
    hits_text = "CAST(d.rule_hits AS TEXT)" if dialect == "postgresql" else "d.rule_hits"
    sql = ("SELECT d.rule_hits, d.amount_minor, l.label FROM risk_decisions d"
           " LEFT JOIN risk_labels l ON l.transfer_id = d.transfer_id AND d.transfer_id IS NOT NULL"
           f" WHERE d.rule_hits IS NOT NULL AND {hits_text} NOT IN ('[]', 'null')")
    params: dict[str, Any] = {}
    if since is not None:
        sql += " AND d.created_at >= :since"
        params["since"] = since if since.tzinfo else since.replace(tzinfo=UTC)
    names = {r.code: r for r in _newest(_all_versions(session)).values()}
    stats: dict[str, dict[str, Any]] = {}

    def blank(code: str) -> dict[str, Any]:
        r = names.get(code)
        return {"code": code, "name_en": r.name_en if r else code, "name_zh": r.name_zh if r else code,
                "mode": r.mode if r else None, "action": r.action if r else None, "hits": 0, "shadow_hits": 0,
                "labelled": 0, "frauds": 0, "precision": None, "saved_minor": 0, "challenged_fraud_minor": 0,
                "shadow_would_save_minor": 0, "shadow_labelled": 0, "shadow_frauds": 0, "shadow_precision": None}

    for code in names:
        stats[code] = blank(code)
    for raw_hits, amount, label in session.execute(text(sql), params):
        hits = raw_hits
        if isinstance(hits, str):
            hits = json.loads(hits)
        for h in hits or []:
            if not isinstance(h, dict) or "code" not in h:
                continue
            st = stats.setdefault(h["code"], blank(h["code"]))
            shadow = bool(h.get("shadow"))
            act = h.get("action")
            st["shadow_hits" if shadow else "hits"] += 1
            if label is None:
                continue
            st["shadow_labelled" if shadow else "labelled"] += 1
            if int(label) == 1:
                st["shadow_frauds" if shadow else "frauds"] += 1
                if shadow and act in STOPPING:
                    st["shadow_would_save_minor"] += int(amount)
                elif not shadow and act in STOPPING:
                    st["saved_minor"] += int(amount)
                elif not shadow and act == "challenge":
                    st["challenged_fraud_minor"] += int(amount)
    for st in stats.values():
        st["precision"] = _ratio(st["frauds"], st["labelled"])
        st["shadow_precision"] = _ratio(st["shadow_frauds"], st["shadow_labelled"])
    return sorted(stats.values(), key=lambda s: (SEVERITY.get(s["action"] or "", 9), s["code"]))
