"""Tags as data: rules over profile features in a small, safe expression language.

A rule is a Python-like boolean expression, for example::

    age >= 22 and age <= 35 and income_monthly_minor >= 800000
    city in ["上海", "北京"] and not (digital_share < 0.5)
    churn_score >= 0.6 or (churn_score == null and activity_trend <= -0.5)

It is the shared safe-expression compiler (:mod:`smartbank.expr`, in its lenient dialect, with no
functions); only these nodes are accepted: ``and``/``or``/``not``,
comparisons (``== != < <= > >=``, ``in``/``not in`` a list of constants), arithmetic
(``+ - * / // %``, unary minus), numbers, strings, ``true``/``false``/``null`` (or their Python
spellings) and feature names from :data:`smartbank.insight.features.CATALOGUE`. Anything else -
calls, attributes, subscripts, lambdas, comprehensions, names with ``__`` - is refused with a
:class:`ExpressionError` (a ``ValidationFailed``) that says what and where. The checked tree is
compiled to one Polars expression and evaluated over the profiles frame; a missing value (null)
never matches. ``x == null`` / ``x != null`` test for a missing value.

A tag whose audience is ``customer`` may only use features the customer may see, so that a tag
shown to a customer never reveals a staff-only figure (such as a churn score).

Definitions are versioned rows of ``tag_definitions``: editing a tag adds version + 1, retiring
marks every version retired; the newest active version of a code is in force.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from smartbank import clock, expr
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.insight import features as F
from smartbank.insight.models import TagDefinition

MAX_LENGTH = 1000
MAX_NODES = 200
AUDIENCES = ("staff", "customer")
CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class ExpressionError(expr.ExpressionError):
    code = "invalid_tag_expression"


@dataclass(frozen=True)
class Compiled:
    source: str
    expr: pl.Expr
    features: frozenset[str]


def _names(allowed: frozenset[str]) -> Callable[[str], str]:
    def kind(name: str) -> str:
        if name not in F.BY_NAME:
            raise expr.NameRefused(f"unknown feature {name!r}", reason="expr.unknown_feature", details={"name": name})
        if name not in allowed:
            raise expr.NameRefused(f"the feature {name!r} is for staff only and cannot be used in a customer tag",
                                   reason="expr.staff_only_feature", details={"name": name})
        return "text" if name in F.TEXT_FEATURES else "num"

    return kind


def _language(allowed: frozenset[str]) -> expr.Language:
    # the lenient dialect: columns as they are, Polars' own arithmetic (see smartbank.expr)
    return expr.Language(
        names=_names(allowed), error=ExpressionError, arithmetic=frozenset({"+", "-", "*", "/", "//", "%"}),
        strict=False, max_length=MAX_LENGTH, max_nodes=MAX_NODES, subject="the rule", noun="a tag rule",
        required="a tag rule is required", too_long="a tag rule has at most {max_length} characters",
        not_condition="a tag rule must be a condition, e.g. age >= 30", condition_example="age >= 30",
        in_example='city in ["上海", "北京"]',
    )


LANGUAGES: dict[str, expr.Language] = {"staff": _language(frozenset(F.NAMES)),
                                       "customer": _language(F.CUSTOMER_FEATURES)}


def compile_expression(source: str, *, audience: str = "staff") -> Compiled:
    """Check ``source`` and compile it to a Polars boolean expression (null counts as false)."""
    expr.check_source(source, LANGUAGES["staff"])
    if audience not in AUDIENCES:
        raise ValidationFailed("audience must be staff or customer", details={"audience": audience})
    c = expr.compile_expression(source, LANGUAGES[audience])
    return Compiled(source=c.source, expr=c.expr, features=c.names)


def matches(profiles: pl.DataFrame, compiled: Compiled) -> pl.Series:
    """The customer ids whose profile matches ``compiled``, ascending."""
    try:
        return profiles.lazy().filter(compiled.expr).select("customer_id").collect()["customer_id"].sort()
    except pl.exceptions.PolarsError as exc:
        raise ExpressionError(f"the rule cannot be evaluated: {str(exc).splitlines()[0][:200]}",
                              reason="expr.cannot_evaluate") from exc


# ------------------------------------------------------------------------------------------------
# definitions


@dataclass(frozen=True)
class DefaultTag:
    code: str
    name_en: str
    name_zh: str
    audience: str
    expression: str
    description: str


DEFAULT_TAGS: tuple[DefaultTag, ...] = (
    DefaultTag("salary_earner", "Salary earner", "工资代发客户", "customer", "salary_months_365d >= 3",
               "A salary or pension credit in at least 3 months of the last year."),
    DefaultTag("young_professional", "Young professional", "年轻白领", "customer",
               'customer_kind == "individual" and age >= 22 and age <= 35 and income_monthly_minor >= 800000',
               "Aged 22-35 with an income (salary credits, else declared) of at least 8,000 yuan a month."),
    DefaultTag("high_value", "High value", "高价值客户", "staff",
               "total_balance_minor >= 50000000 or value_minor >= 2000000",
               "Balances of at least 500,000 yuan, or an estimated yearly contribution of 20,000 yuan."),
    DefaultTag("frequent_traveller", "Frequent traveller", "常旅客", "customer", "travel_txn_365d >= 4",
               "Proxy: at least 4 payments to travel merchants (airlines, rail, hotels, travel agencies) in "
               "the last year. We do not see trips, only what was paid for them."),
    DefaultTag("dormant", "Dormant", "沉睡客户", "staff",
               "tenure_days >= 180 and (recency_days == null or recency_days >= 180)",
               "No activity of their own for 180 days (interest and fees do not count)."),
    DefaultTag("churn_risk", "Churn risk", "流失风险", "staff",
               "churn_score >= 0.6 or (churn_score == null and txn_count_prior_90d >= 6 "
               "and activity_trend <= -0.5)",
               "The churn model's score is 0.6 or more; without a score, activity halved against the "
               "previous 90 days."),
    DefaultTag("digital_native", "Digital native", "数字化用户", "customer",
               "digital_share >= 0.7 and frequency_365d >= 12",
               "At least 70% of their own transactions in the app or online, and at least 12 a year."),
    DefaultTag("bill_payer", "Bill payer", "生活缴费用户", "customer", "bill_payments_365d >= 3",
               "At least 3 bill payments or top-ups in the last year."),
)


def _now() -> datetime:
    return clock.now()


def seed_defaults(session: Session) -> int:
    """Add the default catalogue when no tag has ever been defined. Returns how many were added."""
    if session.scalar(select(func.count()).select_from(TagDefinition)):
        return 0
    for d in DEFAULT_TAGS:
        compile_expression(d.expression, audience=d.audience)
        session.add(TagDefinition(code=d.code, version=1, name_en=d.name_en, name_zh=d.name_zh,
                                  description=d.description, expression=d.expression, audience=d.audience,
                                  status="active", created_at=_now()))
    session.flush()
    return len(DEFAULT_TAGS)


def all_versions(session: Session, code: str | None = None) -> list[TagDefinition]:
    stmt = select(TagDefinition).order_by(TagDefinition.code, TagDefinition.version)
    if code is not None:
        stmt = stmt.where(TagDefinition.code == code)
    return list(session.scalars(stmt))


def current(session: Session, *, include_retired: bool = False) -> list[TagDefinition]:
    """The newest version of every code (only active codes unless ``include_retired``)."""
    newest: dict[str, TagDefinition] = {}
    for d in all_versions(session):
        newest[d.code] = d
    return [d for d in newest.values() if include_retired or d.status == "active"]


def get_current(session: Session, code: str) -> TagDefinition:
    versions = all_versions(session, code)
    if not versions:
        raise NotFound("no such tag", details={"code": code})
    return versions[-1]


def _check_fields(code: str, name_en: str, name_zh: str, description: str, audience: str) -> None:
    if not CODE.match(code or ""):
        raise ValidationFailed("a tag code has 2-40 lower-case letters, digits or _, starting with a letter",
                               details={"code": code})
    for label, v in (("name_en", name_en), ("name_zh", name_zh)):
        if not (v or "").strip() or len(v) > 100:
            raise ValidationFailed(f"{label} needs 1-100 characters", reason="insight.tag_name_length",
                                   details={label: v, "field": label, "max_length": 100})
    if len(description or "") > 2000:
        raise ValidationFailed("the description has at most 2000 characters")
    if audience not in AUDIENCES:
        raise ValidationFailed("audience must be staff or customer", details={"audience": audience})


def create(session: Session, *, code: str, name_en: str, name_zh: str, expression: str, audience: str = "staff",
           description: str = "", created_by: int | None = None) -> TagDefinition:
    _check_fields(code, name_en, name_zh, description, audience)
    compile_expression(expression, audience=audience)
    if session.scalar(select(func.count()).select_from(TagDefinition).where(TagDefinition.code == code)):
        raise Conflict("a tag with this code exists; edit it to make a new version", details={"code": code})
    d = TagDefinition(code=code, version=1, name_en=name_en.strip(), name_zh=name_zh.strip(),
                      description=description.strip(), expression=expression.strip(), audience=audience,
                      status="active", created_by=created_by or None, created_at=_now())
    session.add(d)
    session.flush()
    return d


def edit(session: Session, code: str, *, name_en: str | None = None, name_zh: str | None = None,
         expression: str | None = None, audience: str | None = None, description: str | None = None,
         created_by: int | None = None) -> TagDefinition:
    """A new version (version + 1, active) with the given fields changed; earlier versions stay."""
    old = get_current(session, code)
    new = {"name_en": old.name_en if name_en is None else name_en,
           "name_zh": old.name_zh if name_zh is None else name_zh,
           "expression": old.expression if expression is None else expression,
           "audience": old.audience if audience is None else audience,
           "description": old.description if description is None else description}
    _check_fields(code, new["name_en"], new["name_zh"], new["description"], new["audience"])
    compile_expression(new["expression"], audience=new["audience"])
    d = TagDefinition(code=code, version=old.version + 1, name_en=new["name_en"].strip(),
                      name_zh=new["name_zh"].strip(), description=new["description"].strip(),
                      expression=new["expression"].strip(), audience=new["audience"], status="active",
                      created_by=created_by or None, created_at=_now())
    session.add(d)
    session.flush()
    return d


def retire(session: Session, code: str) -> TagDefinition:
    """Retire a tag (every version): it is no longer computed and customers stop carrying it."""
    d = get_current(session, code)
    if d.status == "retired":
        raise Conflict("the tag is already retired", details={"code": code})
    session.execute(update(TagDefinition).where(TagDefinition.code == code).values(status="retired"))
    session.flush()
    session.refresh(d)
    return d


def fingerprint(session: Session) -> int:
    """A number that changes whenever a definition is added, edited or retired."""
    rows = session.execute(select(TagDefinition.id, TagDefinition.code, TagDefinition.version,
                                  TagDefinition.status).order_by(TagDefinition.id)).all()
    h = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).digest()
    return int.from_bytes(h[:8], "big") >> 1


def assign(profiles: pl.DataFrame, definitions: list[TagDefinition] | list[DefaultTag]) -> pl.DataFrame:
    """Every (customer_id, code, version) a profile earns under the given active definitions."""
    frames = []
    for d in definitions:
        c = compile_expression(d.expression, audience=d.audience)
        ids = matches(profiles, c)
        frames.append(pl.DataFrame({"customer_id": ids, "code": [d.code] * len(ids),
                                    "version": [getattr(d, "version", 1)] * len(ids)},
                                   schema={"customer_id": pl.Int64, "code": pl.Utf8, "version": pl.Int64}))
    if not frames:
        return pl.DataFrame(schema={"customer_id": pl.Int64, "code": pl.Utf8, "version": pl.Int64})
    return pl.concat(frames).sort(["customer_id", "code"])


def as_dict(d: TagDefinition) -> dict[str, Any]:
    return {"code": d.code, "version": d.version, "name_en": d.name_en, "name_zh": d.name_zh,
            "description": d.description, "expression": d.expression, "audience": d.audience,
            "status": d.status, "created_by": d.created_by,
            "created_at": d.created_at.isoformat() if d.created_at else None}
