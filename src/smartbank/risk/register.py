"""The risk register and the 5x5 risk matrix.

Each entry (``risk_register``) names a risk, its category (credit / market / operational / compliance /
infosec), its likelihood and impact on a 1-5 scale, its owner and controls. Its *score* is
likelihood x impact (1-25), rated by :func:`rating`. Each control is ``implemented`` or ``planned`` (see
:data:`DEFAULT_CONTROLS`):

======== ========== =========================
score    rating     meaning
======== ========== =========================
1-4      low        accept, review yearly
5-9      medium     controls in place, monitor
10-16    high       owner acts, KRIs watched
20-25    critical   board attention now
======== ========== =========================

The matrix counts the entries that are not closed in each (likelihood, impact) cell. Risk officers
(and admins) edit the register; every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.risk.models import RISK_CATEGORIES, RiskRegisterEntry
from smartbank.security import service as security
from smartbank.security.service import Principal, audit

__all__ = ["CONTROL_STATUSES", "DEFAULT_CONTROLS", "REGISTER_MANAGERS", "STATUSES", "Control", "controls_text",
           "create_entry", "edit_entry", "get_entry", "list_entries", "matrix", "parse_controls", "rating",
           "seed_defaults"]

REGISTER_MANAGERS = security.roles_for("risk.register.manage")
STATUSES = ("open", "mitigating", "accepted", "closed")
RATINGS = ("low", "medium", "high", "critical")
_CODE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def rating(likelihood: int, impact: int) -> str:
    """low (1-4), medium (5-9), high (10-16) or critical (20-25) by likelihood x impact."""
    score = likelihood * impact
    if score <= 4:
        return "low"
    if score <= 9:
        return "medium"
    if score <= 16:
        return "high"
    return "critical"


def _view(r: RiskRegisterEntry) -> dict[str, Any]:
    return {"id": r.id, "code": r.code, "category": r.category, "title_en": r.title_en, "title_zh": r.title_zh,
            "description": r.description, "likelihood": r.likelihood, "impact": r.impact,
            "score": r.likelihood * r.impact, "rating": rating(r.likelihood, r.impact), "owner": r.owner,
            "controls": r.controls, "control_items": parse_controls(r.controls), "status": r.status,
            "updated_at": r.updated_at}


def _audit_view(r: RiskRegisterEntry) -> dict[str, Any]:
    v = _view(r)
    v.pop("updated_at")
    v.pop("control_items")
    return v


def _scale(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 5:
        raise ValidationFailed(f"{name} is a whole number from 1 to 5", reason="risk.scale_1_to_5",
                               details={name: v, "field": name})
    return v


def _text(name: str, v: Any, limit: int, *, required: bool = False) -> str | None:
    if v is None:
        if required:
            raise ValidationFailed(f"{name} is required", reason="risk.field_required", details={"field": name})
        return None
    if not isinstance(v, str):
        raise ValidationFailed(f"{name} is text", reason="risk.field_not_text", details={name: v, "field": name})
    v = v.strip()
    if required and not v:
        raise ValidationFailed(f"{name} is required", reason="risk.field_required", details={"field": name})
    if len(v) > limit:
        raise ValidationFailed(f"{name} has at most {limit} characters", reason="risk.field_too_long",
                               details={"field": name, "max_length": limit})
    return v or None


def _check(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "category" in fields:
        if fields["category"] not in RISK_CATEGORIES:
            raise ValidationFailed("unknown risk category", details={"categories": list(RISK_CATEGORIES)})
        out["category"] = fields["category"]
    if "status" in fields:
        if fields["status"] not in STATUSES:
            raise ValidationFailed("unknown status", details={"statuses": list(STATUSES)})
        out["status"] = fields["status"]
    for k in ("likelihood", "impact"):
        if k in fields:
            out[k] = _scale(k, fields[k])
    for k in ("title_en", "title_zh"):
        if k in fields:
            out[k] = _text(k, fields[k], 200, required=True)
    if "owner" in fields:
        out["owner"] = _text("owner", fields["owner"], 80)
    for k in ("description", "controls"):
        if k in fields:
            out[k] = _text(k, fields[k], 4000)
    return out


def list_entries(session: Session, actor: Principal, *, category: str | None = None,
                 include_closed: bool = True) -> list[dict[str, Any]]:
    actor.require_role(*REGISTER_MANAGERS)
    stmt = select(RiskRegisterEntry).order_by(RiskRegisterEntry.code)
    if category:
        stmt = stmt.where(RiskRegisterEntry.category == category)
    if not include_closed:
        stmt = stmt.where(RiskRegisterEntry.status != "closed")
    rows = [_view(r) for r in session.execute(stmt).scalars()]
    rows.sort(key=lambda v: (-v["score"], v["code"]))
    return rows


def _get(session: Session, entry_id: int) -> RiskRegisterEntry:
    r = session.get(RiskRegisterEntry, entry_id)
    if r is None:
        raise NotFound("no such risk", details={"id": entry_id})
    return r


def get_entry(session: Session, actor: Principal, entry_id: int) -> dict[str, Any]:
    actor.require_role(*REGISTER_MANAGERS)
    return _view(_get(session, entry_id))


def create_entry(session: Session, actor: Principal, *, code: str, category: str, title_en: str, title_zh: str,
                 likelihood: int, impact: int, description: str | None = None, owner: str | None = None,
                 controls: str | None = None, status: str = "open", rid: str | None = None) -> dict[str, Any]:
    actor.require_role(*REGISTER_MANAGERS)
    code = (code or "").strip().upper()
    if not 2 <= len(code) <= 40 or not set(code) <= _CODE_CHARS:
        raise ValidationFailed("a risk code has 2-40 letters, digits, - or _", details={"code": code})
    fields = _check({"category": category, "title_en": title_en, "title_zh": title_zh, "likelihood": likelihood,
                     "impact": impact, "description": description, "owner": owner, "controls": controls,
                     "status": status})
    if session.execute(select(RiskRegisterEntry.id).where(RiskRegisterEntry.code == code)).first() is not None:
        raise Conflict("a risk with this code exists", details={"code": code})
    r = RiskRegisterEntry(code=code, updated_at=clock.now(), **fields)
    session.add(r)
    session.flush()
    audit(session, actor, action="risk_register.create", object_type="risk_register", object_id=r.id,
          after=_audit_view(r), request_id=rid)
    return _view(r)


EDITABLE = ("category", "title_en", "title_zh", "description", "likelihood", "impact", "owner", "controls", "status")


def edit_entry(session: Session, actor: Principal, entry_id: int, *, rid: str | None = None,
               **changes: Any) -> dict[str, Any]:
    actor.require_role(*REGISTER_MANAGERS)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed("these fields of a risk cannot be changed", details={"fields": sorted(unknown)})
    r = _get(session, entry_id)
    fields = _check(changes)
    before = _audit_view(r)
    for k, v in fields.items():
        setattr(r, k, v)
    r.updated_at = clock.now()
    session.flush()
    audit(session, actor, action="risk_register.edit", object_type="risk_register", object_id=r.id, before=before,
          after=_audit_view(r), request_id=rid)
    return _view(r)


def matrix(session: Session, actor: Principal | None = None) -> dict[str, Any]:
    """The 5x5 matrix of open risks: ``cells[likelihood-1][impact-1]`` = {count, rating, codes}; rows are
    likelihood 1..5, columns impact 1..5. Also totals per rating."""
    if actor is not None:
        actor.require_role(*REGISTER_MANAGERS)
    cells: list[list[dict[str, Any]]] = [
        [{"likelihood": lk, "impact": im, "score": lk * im, "rating": rating(lk, im), "count": 0, "codes": []}
         for im in range(1, 6)] for lk in range(1, 6)]
    totals = dict.fromkeys(RATINGS, 0)
    rows = session.execute(select(RiskRegisterEntry.code, RiskRegisterEntry.likelihood, RiskRegisterEntry.impact)
                           .where(RiskRegisterEntry.status != "closed").order_by(RiskRegisterEntry.code)).all()
    for code, lk, im in rows:
        if not (1 <= lk <= 5 and 1 <= im <= 5):
            continue
        cell = cells[lk - 1][im - 1]
        cell["count"] += 1
        cell["codes"].append(code)
        totals[rating(lk, im)] += 1
    return {"cells": cells, "totals": totals, "n": sum(totals.values())}


# ------------------------------------------------------------------------------------------------ controls
#
# A register states only controls that exist. Each default control is either ``implemented`` (the code that
# carries it out is named, and imported, by tests/risk/test_register.py: the register sits in the risk domain,
# below most of the domains it describes, so it does not name their code itself), or ``planned``: named so the
# gap is visible, never presented as in place. In the ``controls`` text controls are separated by
# ``;`` and a planned one ends with ``[planned]`` (``[计划]`` is read the same way).

CONTROL_STATUSES = ("implemented", "planned")
PLANNED_MARKS = ("[planned]", "[计划]", "【计划】")
PLANNED_MARK = PLANNED_MARKS[0]


@dataclass(frozen=True, slots=True)
class Control:
    name: str
    status: str  # implemented | planned


def _done(name: str) -> Control:
    return Control(name, "implemented")


def _planned(name: str) -> Control:
    return Control(name, "planned")


def controls_text(controls: tuple[Control, ...]) -> str:
    """The ``controls`` text of a register entry: ``a; b; c [planned]``."""
    return "; ".join(c.name + (f" {PLANNED_MARK}" if c.status == "planned" else "") for c in controls)


def parse_controls(text: str | None) -> list[dict[str, str]]:
    """The controls of a ``controls`` text, each ``{"name", "status"}`` (``planned`` when marked so)."""
    out: list[dict[str, str]] = []
    for part in (text or "").replace("；", ";").split(";"):
        name, status = part.strip(), "implemented"
        for mark in PLANNED_MARKS:
            if name.lower().endswith(mark):
                name, status = name[: -len(mark)].rstrip(), "planned"
                break
        if name:
            out.append({"name": name, "status": status})
    return out


DEFAULT_CONTROLS: dict[str, tuple[Control, ...]] = {
    "CR-01": (_done("Automatic credit decisions with reasons"),
              _done("risk-based pricing"),
              _done("delinquency monitoring"),
              _done("early warning on loans")),
    "CR-02": (_planned("Portfolio limits per industry and region, reviewed quarterly"),),
    "MK-01": (_planned("Asset-liability committee"), _planned("repricing gap limits")),
    "MK-02": (_done("Suitability checks"),
              _done("risk-tolerance assessment"),
              _done("product risk ratings")),
    "OP-01": (_done("Real-time fraud scoring on every payment"),
              _done("rules"),
              _done("step-up challenges"),
              _done("alert queue"),
              _done("limits")),
    "OP-02": (_done("close-of-day runs exactly once"),
              _planned("Replicated database"), _planned("tested recovery")),
    "OP-04": (_done("Public-opinion monitoring with spike alerts"),
              _done("alert response workflow with deadlines")),
    "OP-03": (_done("Score-distribution monitoring (PSI)"),
              _done("retraining with confirmed labels")),
    "CP-01": (_planned("Large and suspicious transaction screening"), _planned("AML case review")),
    "CP-02": (_done("masking of ID numbers and phone numbers on staff pages"),
              _done("audit log of staff actions"),
              _planned("Consent records"), _planned("field encryption"),
              _planned("data classification (JR/T 0171-2020)")),
    "IS-01": (_done("least-privilege roles"),
              _done("audit log"),
              _done("tamper-evident journal"),
              _planned("Encryption at rest")),
    "IS-02": (_done("Lock-out after repeated failures"),
              _done("strong passwords"),
              _done("session expiry")),
}

# the controls text the defaults once carried, which named controls that do not exist; seed_defaults replaces
# it where an officer has not changed it since
_STALE_CONTROLS: dict[str, str] = {
    "CR-02": "Portfolio limits per industry and region, reviewed quarterly",
    "MK-01": "Asset-liability committee; repricing gap limits",
    "OP-02": "Replicated database; tested recovery; close-of-day runs exactly once",
    "CP-01": "Large and suspicious transaction screening; case review",
    "CP-02": "Consent records; field encryption and masking; data classification (JR/T 0171-2020)",
    "IS-01": "Encryption at rest; least-privilege roles; audit log; tamper-evident journal",
}

_DEFAULT_RISKS: tuple[dict[str, Any], ...] = (
    {"code": "CR-01", "category": "credit", "likelihood": 3, "impact": 4, "owner": "Credit risk",
     "title_en": "Retail loan defaults rise above appetite", "title_zh": "零售贷款违约率超出风险偏好"},
    {"code": "CR-02", "category": "credit", "likelihood": 2, "impact": 4, "owner": "Credit risk",
     "title_en": "Concentration in one industry or region", "title_zh": "行业或地区授信集中度过高"},
    {"code": "MK-01", "category": "market", "likelihood": 3, "impact": 3, "owner": "Treasury",
     "title_en": "Interest-rate moves squeeze the deposit margin", "title_zh": "利率变动压缩存贷利差"},
    {"code": "MK-02", "category": "market", "likelihood": 2, "impact": 3, "owner": "Wealth",
     "title_en": "Fund NAV falls hit customers' wealth products", "title_zh": "基金净值下跌影响客户理财产品"},
    {"code": "OP-01", "category": "operational", "likelihood": 4, "impact": 4, "owner": "Fraud operations",
     "title_en": "Payment fraud and account takeover", "title_zh": "支付欺诈与账户盗用"},
    {"code": "OP-02", "category": "operational", "likelihood": 2, "impact": 5, "owner": "Operations",
     "title_en": "Core system outage stops payments", "title_zh": "核心系统故障导致支付中断"},
    {"code": "OP-03", "category": "operational", "likelihood": 3, "impact": 2, "owner": "Fraud operations",
     "title_en": "Fraud model drifts and misses new patterns", "title_zh": "欺诈模型漂移、漏识新型欺诈"},
    {"code": "OP-04", "category": "operational", "likelihood": 3, "impact": 3, "owner": "Communications",
     "title_en": "Negative public opinion harms the bank's reputation", "title_zh": "负面舆情损害银行声誉"},
    {"code": "CP-01", "category": "compliance", "likelihood": 2, "impact": 5, "owner": "Compliance",
     "title_en": "Anti-money-laundering reporting failure", "title_zh": "反洗钱报告义务未履行"},
    {"code": "CP-02", "category": "compliance", "likelihood": 2, "impact": 4, "owner": "Data protection officer",
     "title_en": "Personal information handled against PIPL", "title_zh": "个人信息处理不符合《个人信息保护法》"},
    {"code": "IS-01", "category": "infosec", "likelihood": 3, "impact": 5, "owner": "Information security",
     "title_en": "Customer data breach", "title_zh": "客户数据泄露"},
    {"code": "IS-02", "category": "infosec", "likelihood": 3, "impact": 3, "owner": "Information security",
     "title_en": "Credential stuffing against customer sign-in", "title_zh": "撞库攻击客户登录"},
)


DEFAULTS: tuple[dict[str, Any], ...] = tuple(
    {**d, "controls": controls_text(DEFAULT_CONTROLS[d["code"]])} for d in _DEFAULT_RISKS)


def seed_defaults(session: Session) -> int:
    """Insert the default register entries that are missing (by code); returns how many. A default entry whose
    controls still read as first seeded (naming controls that do not exist) gets the corrected text."""
    have = {r.code: r for r in session.execute(select(RiskRegisterEntry)).scalars()}
    added = 0
    for d in DEFAULTS:
        if d["code"] in have:
            old = have[d["code"]]
            if _STALE_CONTROLS.get(d["code"]) == old.controls:
                old.controls = d["controls"]
                old.updated_at = clock.now()
            continue
        session.add(RiskRegisterEntry(status="open", updated_at=clock.now(), **d))
        added += 1
    session.flush()
    return added
