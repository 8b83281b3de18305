"""Managing rules: list, read, create, edit and switch modes; every change is a new version, audited.

Only risk officers (and administrators: ``risk.rules.manage``) may manage rules. A new rule starts in shadow
mode (its hits are recorded, nothing changes for the payment) unless it is created active.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.risk.models import RULE_ACTIONS, RULE_MODES, RiskRule
from smartbank.risk.rules.defaults import seed_defaults
from smartbank.risk.rules.language import compile_expression
from smartbank.risk.rules.ruleset import SEVERITY, all_versions, newest
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = ["CODE", "RULE_MANAGERS", "as_dict", "create", "edit", "get_rule", "list_rules", "set_mode", "versions"]

RULE_MANAGERS = security.roles_for("risk.rules.manage")
CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


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
            raise ValidationFailed(f"{label} needs 1-{most} characters", reason="risk.rule_text_length",
                                   details={label: v, "field": label, "max_length": most})
    if action not in RULE_ACTIONS:
        raise ValidationFailed("action must be flag, challenge, review or block", details={"action": action})


def _current(session: Session, code: str) -> RiskRule:
    rows = all_versions(session, code)
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
    rows = [r for r in newest(all_versions(session)).values() if include_retired or r.mode != "retired"]
    rows.sort(key=lambda r: (r.mode == "retired", SEVERITY.get(r.action, 9), r.code))
    return [as_dict(r) for r in rows]


def get_rule(session: Session, *, actor: Principal, code: str) -> dict[str, Any]:
    actor.require_role(*RULE_MANAGERS)
    return as_dict(_current(session, code))


def versions(session: Session, *, actor: Principal, code: str) -> list[dict[str, Any]]:
    """Every version of a rule, oldest first."""
    actor.require_role(*RULE_MANAGERS)
    rows = all_versions(session, code)
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


def set_mode(session: Session, *, actor: Principal, code: str, mode: str, reason: str) -> dict[str, Any]:
    """Switch a rule to active, shadow or retired: a new version with the same condition and words. Changing what
    a rule does to payments needs a ``reason`` (1-500 characters), recorded in the audit trail."""
    actor.require_role(*RULE_MANAGERS)
    if mode not in RULE_MODES:
        raise ValidationFailed("mode must be active, shadow or retired", details={"mode": mode})
    why = " ".join(reason.split()) if isinstance(reason, str) else ""
    if not why:
        raise ValidationFailed("a reason is required to change a rule's mode", reason="risk.mode_reason_required",
                               details={"code": code, "mode": mode})
    if len(why) > 500:
        raise ValidationFailed("the reason has at most 500 characters", reason="risk.mode_reason_too_long",
                               details={"max_length": 500})
    old = _current(session, code)
    if old.mode == mode:
        raise Conflict(f"the rule is already {mode}", reason="risk.rule_already_in_mode",
                       details={"code": code, "mode": mode})
    compile_expression(old.expression)
    now = _now()
    row = _write(session, RiskRule(code=code, version=old.version + 1, name_en=old.name_en, name_zh=old.name_zh,
                                   expression=old.expression, action=old.action, mode=mode,
                                   reason_en=old.reason_en, reason_zh=old.reason_zh,
                                   created_by=actor.user_id or None, created_at=now,
                                   retired_at=now if mode == "retired" else None))
    out = as_dict(row)
    security.audit(session, actor, action=f"risk.rule.{'retire' if mode == 'retired' else 'mode'}",
                   object_type="risk_rule", object_id=code, before=as_dict(old), after=out, note=why)
    return out
