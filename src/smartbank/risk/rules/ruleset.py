"""The rules in force, compiled once: what the engine evaluates for every payment.

``risk_rules`` rows are never changed: creating a rule writes version 1, and every later change - an edit
of its words, condition or action, and a mode switch (active / shadow / retired) - writes version + 1. The
newest version of each code is in force unless its mode is ``retired``. So the fingerprint of the rules in
force is just ``r<max id>-<row count>`` (:func:`fingerprint`, one small query) and each decision's
``rule_hits`` names exactly the version, and so the mode, that was applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank.errors import ValidationFailed
from smartbank.risk.models import RiskRule
from smartbank.risk.rules.language import compile_expression

__all__ = ["SEVERITY", "RuleHit", "RuleSet", "all_versions", "fingerprint", "load_ruleset", "newest"]

log = logging.getLogger("smartbank.risk.rules")

SEVERITY = {"block": 0, "review": 1, "challenge": 2, "flag": 3}


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


def all_versions(session: Session, code: str | None = None) -> list[RiskRule]:
    """Every stored version (of one code, or of all), by code and version."""
    stmt = select(RiskRule).order_by(RiskRule.code, RiskRule.version)
    if code is not None:
        stmt = stmt.where(RiskRule.code == code)
    return list(session.scalars(stmt))


def newest(rows: Iterable[RiskRule]) -> dict[str, RiskRule]:
    """The newest version of every code among ``rows``."""
    out: dict[str, RiskRule] = {}
    for r in rows:
        if r.code not in out or r.version > out[r.code].version:
            out[r.code] = r
    return out


def _hit(r: RiskRule) -> RuleHit:
    return RuleHit(code=r.code, version=r.version, action=r.action, shadow=r.mode == "shadow", name_en=r.name_en,
                   name_zh=r.name_zh, reason_en=r.reason_en, reason_zh=r.reason_zh)


def load_ruleset(session: Session) -> RuleSet:
    """The newest version of every non-retired code (active and shadow), compiled."""
    rows = all_versions(session)
    version = _fingerprint(max((r.id for r in rows), default=0), len(rows))
    compiled: list[tuple[Callable[[Mapping[str, Any]], bool], RuleHit]] = []
    broken: list[tuple[str, int, str]] = []
    for r in newest(rows).values():
        if r.mode == "retired":
            continue
        try:
            compiled.append((compile_expression(r.expression).fn, _hit(r)))
        except ValidationFailed as exc:
            log.error("risk rule %s v%s does not compile: %s", r.code, r.version, exc.message)
            broken.append((r.code, r.version, exc.message))
    return RuleSet(version, compiled, broken)
