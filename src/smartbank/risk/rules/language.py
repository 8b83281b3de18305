"""The risk rule language: :mod:`smartbank.expr` in its strict dialect over the decision context.

A rule is a condition over the names of :data:`smartbank.risk.context.CONTEXT` (the payment's own fields and
the point-in-time features), for example::

    amount_minor >= 5000000 and new_terminal == 1 and saved_payee == 0 and amount_ratio_max_30d > 5
    channel in ["api", "assistant"] and not (cust_n_1h < 20)
    model_score == null and counterparty_age_days < 1

Accepted: ``and``/``or``/``not``; comparisons (``== != < <= > >=``, chained as ``1 < x < 5``, and
``in``/``not in`` a list of constants); arithmetic ``+ - * /`` and a sign; numbers, strings,
``true``/``false``/``null`` (or their Python spellings); names from ``CONTEXT``. No function may be called.
Anything else (calls, attributes, subscripts, ``%``, ``**``, lambdas, names with ``__`` ...) is refused with a
:class:`RuleExpressionError` (a ``ValidationFailed``, HTTP 422) saying what and where.

Every checked rule compiles to BOTH a Python callable on a mapping (the engine runs it for each payment,
microseconds per rule) and a Polars expression (for testing the rule against history). Both follow SQL's
three-valued logic: a missing value (``None``, or a float NaN) makes a comparison unknown; ``and``/``or``
are Kleene's (``false and unknown`` is false, ``true or unknown`` is true); ``not unknown`` is unknown; a
rule matches only when it is *true*, so a missing value never matches. Division by zero is missing too.
``x == null`` / ``x != null`` test for a missing value. Numbers are compared as 64-bit floats.
"""

from __future__ import annotations

from smartbank import expr
from smartbank.expr import Compiled
from smartbank.risk.context import CONTEXT

__all__ = ["LANGUAGE", "MAX_LENGTH", "MAX_NODES", "TEXT_FIELDS", "Compiled", "RuleExpressionError",
           "compile_expression"]

MAX_LENGTH = 1000
MAX_NODES = 200
TEXT_FIELDS = frozenset({"channel", "kind", "product"})


class RuleExpressionError(expr.ExpressionError):
    code = "invalid_rule_expression"


def _kind(name: str) -> str:
    if name not in CONTEXT:
        raise expr.NameRefused(f"unknown name {name!r} (see the list of payment fields and features)",
                               reason="expr.unknown_name", details={"name": name})
    return "text" if name in TEXT_FIELDS else "num"


LANGUAGE = expr.Language(
    names=_kind, error=RuleExpressionError, arithmetic=frozenset({"+", "-", "*", "/"}), strict=True,
    max_length=MAX_LENGTH, max_nodes=MAX_NODES, subject="the rule", noun="a risk rule",
    required="a rule condition is required", too_long="a rule has at most {max_length} characters",
    not_condition="a rule must be a condition, e.g. amount_minor >= 5000000",
    condition_example="amount_minor >= 5000000", boolean_hint=", e.g. new_terminal == 1",
    operator_hint=" (use + - * /)", in_example='channel in ["web", "api"]',
)


def compile_expression(source: str) -> Compiled:
    """Check ``source`` and compile it to a Python callable and a Polars expression (null counts as false)."""
    return expr.compile_expression(source, LANGUAGE)
