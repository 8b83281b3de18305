"""Event-triggered journeys: each a small state machine of steps with waits and branches.

A journey is data (``mkt_journeys``, versioned): a trigger event kind and steps, the first being the entry:

- ``send``: a message on a channel with content per language, through :func:`contact.send` (the contact
  policy applies) and never during a quiet period;
- ``wait``: ``days`` and/or ``hours``; the run sleeps until then;
- ``branch``: ``condition`` -> ``then`` or ``else``. Conditions: ``opened`` / ``clicked`` (the run's last
  message), ``converted`` (a goal event of the customer since the run started, from the bank's own records),
  ``expression`` (a condition on the customer's stored profile, the tag language's names) and ``tag`` (the
  customer carries an insight tag);
- ``suppress``: a quiet period of ``days`` (no marketing message: journeys check it, and the contact policy
  asks :func:`in_quiet_period` through its suppression providers when it has them);
- ``exit``.

``send``, ``wait`` and ``suppress`` name their ``next`` step (none: the run ends). A definition is checked
before it is stored (known trigger, channels and conditions; every step reachable; no loop without a wait). A
new version is enabled only after a second person approves it (``marketing.campaigns.approve``, maker !=
checker), audited.

:func:`emit_event` (idempotent on kind + ref) starts a run of each enabled journey with that trigger (one
active run per journey and customer; ``reentry_days`` says when a customer may enter again); the worker task
``journeys`` runs the detectors (the bank's records -> events) and advances the runs that are due, recording
every step's outcome and why in ``mkt_journey_steps``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock, expr
from smartbank.customers import service as customers
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.insight import service as insight
from smartbank.ledger import service as ledger
from smartbank.lending import service as lending
from smartbank.marketing import contact, jobs
from smartbank.marketing.journeys_tables import (
    JOURNEY_STATUSES,
    RUN_STATUSES,
    Journey,
    JourneyEvent,
    JourneyQuiet,
    JourneyRun,
    JourneyStep,
    JourneyWatermark,
)
from smartbank.marketing.measure import goal_events
from smartbank.marketing.models import CHANNELS, GOALS, MarketingMessage
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import service as wealth

__all__ = [
    "CONDITIONS", "EVENT_KINDS", "JOURNEY_STATUSES", "MAX_JOURNEY_STEPS", "RUN_STATUSES", "STEP_TYPES", "Journey",
    "JourneyEvent", "JourneyQuiet", "JourneyRun", "JourneyStep", "advance_runs", "approve_journey", "create_journey",
    "detect_events", "disable_journey", "emit_event", "get_journey", "in_quiet_period", "journey_stats",
    "list_journeys", "quiet_until", "recent_runs", "record_event", "request_enable", "run_history", "run_journeys_task",
    "seed_default_journeys", "seed_journeys", "validate_definition",
]

EVENT_KINDS = ("account_opened", "dormant", "maturity_soon", "salary_credited", "loan_paid_off", "complaint_closed")
STEP_TYPES = ("send", "wait", "branch", "suppress", "exit")
CONDITIONS = ("opened", "clicked", "converted", "expression", "tag")
CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
STEP_ID = re.compile(r"^[a-z0-9_]{1,40}$")
MAX_STEPS = 30
MAX_JOURNEY_STEPS = MAX_STEPS
MAX_STEPS_PER_ADVANCE = 50  # a run executes at most this many steps in one go (a wait ends a go anyway)
DORMANT_DAYS = 90
MATURITY_NOTICE_DAYS = 7
FRESH_DAYS = 7  # an account opening or a salary older than this when first read starts nothing (a backfill)
QUIET_REASON = "journey_quiet"
# the goals a ``converted`` branch can read from the bank's records: goal -> ledger transfer kinds
# the goals the bank's records can show (attribution's definition, measure.goal_events); digital_login has none
_CONVERSION_GOALS = ("wealth_purchase", "loan_application", "top_up", "bill_payment", "deposit")


def _now() -> datetime:
    return clock.now()


def _aware(at: datetime) -> datetime:
    """SQLite hands back naive datetimes (UTC): make them comparable with the clock's."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _invalid(message: str, name: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(message, reason=f"marketing.{name}", details=details)


# --------------------------------------------------------------------------------------------- profile language

def _profile_kind(name: str) -> str:
    if name == "segment":
        return "text"
    if name == "churn_score":
        return "num"
    for f in insight.CATALOGUE:
        if f.name == name:
            return "text" if f.type == "text" else "num"
    raise expr.NameRefused(f"unknown feature {name!r}", reason="expr.unknown_feature", details={"name": name})


_PROFILE = expr.Language(names=_profile_kind, strict=True, subject="the condition", noun="a journey condition",
                         required="a journey condition is required", condition_example="age >= 30")


# ------------------------------------------------------------------------------------------------- definitions

def _check_content(sid: str, content: Any) -> None:
    if not isinstance(content, dict) or not content or not set(content) <= {"zh", "en"}:
        raise _invalid("a send step needs its content in zh and/or en", "journey_bad_content", step=sid)
    for text in content.values():
        if not isinstance(text, dict) or not str(text.get("body") or "").strip():
            raise _invalid("a send step needs its content in zh and/or en", "journey_bad_content", step=sid)


def validate_definition(trigger: str, steps: Any) -> list[dict[str, Any]]:
    """Check a journey's trigger and steps; return the steps as stored. Raises ``ValidationFailed`` naming the
    step and the problem."""
    if trigger not in EVENT_KINDS:
        raise _invalid("unknown trigger event", "journey_unknown_trigger", trigger=str(trigger)[:40],
                       kinds=", ".join(EVENT_KINDS))
    if not isinstance(steps, list) or not steps:
        raise _invalid("a journey needs at least one step", "journey_no_steps")
    if len(steps) > MAX_STEPS:
        raise _invalid("a journey has at most {max} steps", "journey_too_many_steps", max=MAX_STEPS)
    ids: list[str] = []
    for raw in steps:
        sid = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(sid, str) or not STEP_ID.match(sid):
            raise _invalid("each step needs an id of lower-case letters, digits and _", "journey_bad_step_id",
                           step=str(sid)[:40])
        if sid in ids:
            raise _invalid("two steps have the same id", "journey_duplicate_step", step=sid)
        ids.append(sid)
    known = set(ids)
    edges: dict[str, list[str]] = {}
    out: list[dict[str, Any]] = []
    for raw in steps:
        sid, kind = raw["id"], raw.get("type")
        if kind not in STEP_TYPES:
            raise _invalid("unknown step type", "journey_unknown_step_type", step=sid, type=str(kind)[:20])
        step: dict[str, Any] = {"id": sid, "type": kind}
        targets: list[str] = []
        if kind == "send":
            if raw.get("channel") not in CHANNELS:
                raise _invalid("unknown channel", "journey_unknown_channel", step=sid,
                               channel=str(raw.get("channel"))[:20], channels=", ".join(CHANNELS))
            _check_content(sid, raw.get("content"))
            step.update(channel=raw["channel"], content=raw["content"])
        elif kind in ("wait", "suppress"):
            days, hours = raw.get("days", 0), raw.get("hours", 0)
            if (not isinstance(days, int) or not isinstance(hours, int) or isinstance(days, bool)
                    or isinstance(hours, bool) or days < 0 or hours < 0 or days > 366 or hours > 24 * 366
                    or days * 24 + hours == 0):
                raise _invalid("a wait or quiet period needs days and/or hours (at most a year)",
                               "journey_bad_duration", step=sid)
            step.update(days=days, hours=hours)
        elif kind == "branch":
            step["condition"] = _check_condition(sid, raw.get("condition"))
            for arm in ("then", "else"):
                if not isinstance(raw.get(arm), str):
                    raise _invalid("a branch needs a then and an else step", "journey_branch_arms", step=sid)
                step[arm] = raw[arm]
                targets.append(raw[arm])
        if kind in ("send", "wait", "suppress") and raw.get("next") is not None:
            step["next"] = raw["next"]
            targets.append(raw["next"])
        for t in targets:
            if t not in known:
                raise _invalid("a step leads to a step that does not exist", "journey_unknown_next", step=sid,
                               target=str(t)[:40])
        edges[sid] = targets
        out.append(step)
    seen, todo = {ids[0]}, [ids[0]]
    while todo:
        for t in edges[todo.pop()]:
            if t not in seen:
                seen.add(t)
                todo.append(t)
    unreachable = [s for s in ids if s not in seen]
    if unreachable:
        raise _invalid("some steps cannot be reached", "journey_unreachable", steps=", ".join(unreachable))
    loop = _loop_without_wait(edges, {s["id"] for s in out if s["type"] == "wait"})
    if loop:
        raise _invalid("a loop of steps has no wait", "journey_cycle_without_wait", steps=" -> ".join(loop))
    return out


def _loop_without_wait(edges: dict[str, list[str]], waits: set[str]) -> list[str]:
    """A cycle among the steps that are not waits (a run would spin on it), or []."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str]:
        state[n] = 1
        path.append(n)
        for t in edges[n]:
            if t in waits:
                continue
            if state.get(t) == 1:
                return [*path[path.index(t):], t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        path.pop()
        state[n] = 2
        return []

    for n in edges:
        if n not in waits and n not in state:
            found = visit(n)
            if found:
                return found
    return []


def _check_condition(sid: str, cond: Any) -> dict[str, Any]:
    kind = cond.get("kind") if isinstance(cond, dict) else None
    if kind not in CONDITIONS:
        raise _invalid("unknown branch condition", "journey_unknown_condition", step=sid,
                       condition=str(kind)[:20], conditions=", ".join(CONDITIONS))
    out: dict[str, Any] = {"kind": kind}
    if kind == "converted":
        goal = cond.get("goal")
        if goal not in _CONVERSION_GOALS:
            raise _invalid("unknown goal", "journey_unknown_goal", step=sid, goal=str(goal)[:32],
                           goals=", ".join(g for g in GOALS if g in _CONVERSION_GOALS))
        out["goal"] = goal
    elif kind == "expression":
        source = cond.get("expression")
        expr.compile_expression(source if isinstance(source, str) else "", _PROFILE)
        out["expression"] = " ".join(source.split())
    elif kind == "tag":
        tag = cond.get("tag")
        if not isinstance(tag, str) or not CODE.match(tag):
            raise _invalid("a tag condition needs a tag code", "journey_bad_tag", step=sid)
        out["tag"] = tag
    return out


def _as_dict(j: Journey) -> dict[str, Any]:
    return {"id": j.id, "code": j.code, "version": j.version, "name_zh": j.name_zh, "name_en": j.name_en,
            "trigger": j.trigger, "steps": j.steps, "reentry_days": j.reentry_days, "status": j.status,
            "created_by": j.created_by, "requested_by": j.requested_by, "approved_by": j.approved_by,
            "approved_at": j.approved_at.isoformat() if j.approved_at else None,
            "created_at": j.created_at.isoformat() if j.created_at else None}


def _latest(session: Session, code: str, *, lock: bool = False) -> Journey:
    q = select(Journey).where(Journey.code == code).order_by(Journey.version.desc()).limit(1)
    j = session.scalars(q.with_for_update() if lock else q).first()
    if j is None:
        raise NotFound("no such journey", reason="marketing.journey_not_found", details={"code": code[:40]})
    return j


def create_journey(session: Session, actor: Principal, *, code: str, name_zh: str, name_en: str, trigger: str,
                   steps: Any, reentry_days: int | None = None) -> dict[str, Any]:
    """A new journey, or a new version of one (a draft until a second person approves it)."""
    actor.require("marketing.campaigns.manage")
    if not isinstance(code, str) or not CODE.match(code):
        raise _invalid("a code is 2-40 lower-case letters, digits or _", "journey_bad_code")
    if not (name_zh or "").strip() or not (name_en or "").strip() or len(name_zh) > 120 or len(name_en) > 120:
        raise _invalid("a journey needs names in zh and en (at most 120 characters)", "journey_bad_name")
    if reentry_days is not None and (not isinstance(reentry_days, int) or not 0 <= reentry_days <= 3650):
        raise _invalid("re-entry is after 0-3650 days, or never", "journey_bad_reentry")
    checked = validate_definition(trigger, steps)
    prev = session.scalars(select(Journey).where(Journey.code == code).order_by(Journey.version.desc())
                           .limit(1).with_for_update()).first()
    ran = prev is not None and session.scalars(select(JourneyRun.id).where(JourneyRun.journey_id == prev.id)
                                               .limit(1)).first() is not None
    if prev is not None and prev.status == "draft" and not ran:
        session.delete(prev)  # a draft that never ran is replaced by the newer one
        session.flush()
        version = prev.version
    else:
        if prev is not None and prev.status == "draft":
            prev.status = "disabled"  # a version waiting to be enabled again gives way to the newer one
        version = (prev.version + 1) if prev else 1
    j = Journey(code=code, version=version, name_zh=name_zh.strip(), name_en=name_en.strip(), trigger=trigger,
                steps=checked, reentry_days=reentry_days, status="draft", created_by=actor.username,
                requested_by=actor.username, created_at=_now())
    session.add(j)
    session.flush()
    security.audit(session, actor, action="marketing.journey.create", object_type="mkt_journey", object_id=j.id,
                   after={"code": code, "version": version, "trigger": trigger})
    return _as_dict(j)


def approve_journey(session: Session, actor: Principal, code: str, *, note: str | None = None) -> dict[str, Any]:
    """Enable the journey's pending version: a second person (never the one who asked for it)."""
    actor.require("marketing.campaigns.approve")
    j = _latest(session, code, lock=True)
    if j.status != "draft":
        raise Conflict("the journey has nothing waiting for approval", reason="marketing.journey_not_pending",
                       details={"code": code, "status": j.status})
    if j.requested_by == actor.username:
        raise Conflict("a journey is approved by a second person, not the one who asked for it",
                        reason="marketing.journey_self_approval", details={"code": code})
    for old in session.scalars(select(Journey).where(Journey.code == code, Journey.status == "enabled",
                                                     Journey.id != j.id)):
        old.status = "superseded"
    j.status, j.approved_by, j.approved_at, j.note = "enabled", actor.username, _now(), (note or None)
    session.flush()
    security.audit(session, actor, action="marketing.journey.approve", object_type="mkt_journey", object_id=j.id,
                   before={"status": "draft"}, after={"status": "enabled", "version": j.version}, note=note)
    return _as_dict(j)


def disable_journey(session: Session, actor: Principal, code: str) -> dict[str, Any]:
    """Stop starting new runs (runs under way finish their steps)."""
    actor.require("marketing.campaigns.manage")
    j = _latest(session, code, lock=True)
    if j.status not in ("enabled", "draft"):
        raise Conflict("the journey is not enabled", reason="marketing.journey_not_enabled",
                       details={"code": code, "status": j.status})
    before = j.status
    for other in session.scalars(select(Journey).where(Journey.code == code, Journey.status == "enabled")):
        other.status = "disabled"
    if j.status == "draft":
        j.status = "disabled"
    session.flush()
    security.audit(session, actor, action="marketing.journey.disable", object_type="mkt_journey", object_id=j.id,
                   before={"status": before}, after={"status": "disabled"})
    return _as_dict(j)


def request_enable(session: Session, actor: Principal, code: str) -> dict[str, Any]:
    """Ask for a disabled journey to be enabled again (a second person approves it)."""
    actor.require("marketing.campaigns.manage")
    j = _latest(session, code, lock=True)
    if j.status != "disabled":
        raise Conflict("the journey is not disabled", reason="marketing.journey_not_disabled",
                       details={"code": code, "status": j.status})
    j.status, j.requested_by, j.approved_by, j.approved_at = "draft", actor.username, None, None
    session.flush()
    security.audit(session, actor, action="marketing.journey.request_enable", object_type="mkt_journey",
                   object_id=j.id, before={"status": "disabled"}, after={"status": "draft"})
    return _as_dict(j)


def _require_reader(actor: Principal) -> None:
    if not (actor.can("marketing.reports.read") or actor.can("marketing.campaigns.manage")):
        actor.require("marketing.reports.read")


def get_journey(session: Session, actor: Principal, code: str) -> dict[str, Any]:
    """The latest version with its figures and its earlier versions."""
    _require_reader(actor)
    j = _latest(session, code)
    out = _as_dict(j)
    out["stats"] = journey_stats(session, code)
    out["versions"] = [{"version": v.version, "status": v.status, "approved_by": v.approved_by}
                       for v in session.scalars(select(Journey).where(Journey.code == code)
                                                .order_by(Journey.version.desc()))]
    return out


def list_journeys(session: Session, actor: Principal) -> list[dict[str, Any]]:
    """Every journey (its latest version) with its run counts."""
    _require_reader(actor)
    latest = (select(Journey.code, func.max(Journey.version).label("v")).group_by(Journey.code).subquery())
    rows = session.scalars(select(Journey).join(latest, and_(Journey.code == latest.c.code,
                                                             Journey.version == latest.c.v)).order_by(Journey.code))
    counts: dict[tuple[str, str], int] = {
        (c, s): int(n) for c, s, n in session.execute(
            select(JourneyRun.journey_code, JourneyRun.status, func.count()).group_by(JourneyRun.journey_code,
                                                                                      JourneyRun.status))}
    out = []
    for j in rows:
        d = _as_dict(j)
        d["runs"] = {s: counts.get((j.code, s), 0) for s in RUN_STATUSES}
        out.append(d)
    return out


def journey_stats(session: Session, code: str) -> dict[str, Any]:
    """Runs per status and the per-step funnel: how many runs reached each step, and its outcomes."""
    runs = {s: int(n) for s, n in session.execute(
        select(JourneyRun.status, func.count()).where(JourneyRun.journey_code == code).group_by(JourneyRun.status))}
    funnel: dict[str, dict[str, Any]] = {}
    for sid, outcome, n, r in session.execute(
            select(JourneyStep.step_id, JourneyStep.outcome, func.count(),
                   func.count(func.distinct(JourneyStep.run_id)))
            .where(JourneyStep.journey_code == code).group_by(JourneyStep.step_id, JourneyStep.outcome)):
        f = funnel.setdefault(sid, {"runs": 0, "outcomes": {}})
        f["runs"] += int(r)
        f["outcomes"][outcome] = int(n)
    return {"runs": {s: runs.get(s, 0) for s in RUN_STATUSES}, "funnel": funnel}


def run_history(session: Session, actor: Principal, run_id: int) -> dict[str, Any]:
    """One run with every step it executed and why."""
    actor.require("marketing.contacts.read")
    run = session.get(JourneyRun, run_id)
    if run is None:
        raise NotFound("no such journey run", reason="marketing.journey_run_not_found", details={"run_id": run_id})
    steps = session.scalars(select(JourneyStep).where(JourneyStep.run_id == run_id).order_by(JourneyStep.id))
    return {"id": run.id, "journey_code": run.journey_code, "journey_id": run.journey_id,
            "customer_id": run.customer_id, "status": run.status, "step": run.step,
            "wake_at": run.wake_at.isoformat() if run.wake_at else None,
            "history": [{"step": s.step_id, "type": s.step_type, "outcome": s.outcome, "details": s.details,
                         "at": s.at.isoformat()} for s in steps]}


def recent_runs(session: Session, actor: Principal, code: str, *, limit: int = 10) -> list[dict[str, Any]]:
    """The journey's latest runs, each with its steps and why (the reads of these customers are audited)."""
    actor.require("marketing.contacts.read")
    runs = list(session.scalars(select(JourneyRun).where(JourneyRun.journey_code == code)
                                .order_by(JourneyRun.id.desc()).limit(max(1, min(limit, 50)))))
    if not runs:
        return []
    security.audit_reads(session, actor, action="marketing.journey.runs", customer_ids=[r.customer_id for r in runs])
    steps: dict[int, list[dict[str, Any]]] = {}
    for st in session.scalars(select(JourneyStep).where(JourneyStep.run_id.in_([r.id for r in runs]))
                              .order_by(JourneyStep.id)):
        steps.setdefault(st.run_id, []).append({"step": st.step_id, "type": st.step_type, "outcome": st.outcome,
                                                "details": st.details or {}, "at": _aware(st.at)})
    return [{"id": r.id, "customer_id": r.customer_id, "status": r.status, "step": r.step,
             "wake_at": _aware(r.wake_at) if r.wake_at else None, "started_at": _aware(r.started_at),
             "history": steps.get(r.id, [])} for r in runs]


# ------------------------------------------------------------------------------------------ events and runs

def emit_event(session: Session, kind: str, customer_id: int, ref: str, at: datetime | None = None
               ) -> dict[str, Any]:
    """Record the event ``kind`` of a customer (idempotent on kind + ref: a second call returns the first
    one's answer) and start a run of each enabled journey it triggers."""
    if kind not in EVENT_KINDS:
        raise _invalid("unknown event kind", "journey_unknown_event", kind=str(kind)[:40],
                       kinds=", ".join(EVENT_KINDS))
    if not isinstance(ref, str) or not 1 <= len(ref) <= 80:
        raise _invalid("an event needs a reference of 1-80 characters", "journey_bad_ref")
    if not isinstance(customer_id, int) or customer_id < 1:
        raise _invalid("an event needs a customer", "journey_bad_customer")
    existing = session.scalars(select(JourneyEvent).where(JourneyEvent.kind == kind, JourneyEvent.ref == ref)).first()
    if existing is not None:
        if existing.customer_id != customer_id:
            raise Conflict("this event was recorded for another customer", reason="marketing.journey_event_mismatch",
                           details={"kind": kind, "ref": ref})
        return {"event_id": existing.id, "created": False, "runs_started": []}
    ev = JourneyEvent(kind=kind, customer_id=customer_id, ref=ref, occurred_at=at or _now(), created_at=_now())
    try:
        with session.begin_nested():
            session.add(ev)
            session.flush()
    except IntegrityError:  # the same event at the same time in another transaction
        return {"event_id": None, "created": False, "runs_started": []}
    started = []
    for j in session.scalars(select(Journey).where(Journey.trigger == kind, Journey.status == "enabled")
                             .order_by(Journey.code)):
        run = _start_run(session, j, customer_id, ev.id)
        if run is not None:
            started.append(run.id)
    ev.runs_started = len(started)
    session.flush()
    return {"event_id": ev.id, "created": True, "runs_started": started}


def record_event(session: Session, actor: Principal, *, kind: str, customer_id: int, ref: str) -> dict[str, Any]:
    """:func:`emit_event` on a member of staff's word (the API and the CLI), audited."""
    actor.require("marketing.campaigns.manage")
    customers.get_customer(session, customer_id)  # an unknown customer is a 404
    out = emit_event(session, kind, customer_id, ref)
    if out["created"]:
        security.audit(session, actor, action="marketing.journey.event", object_type="mkt_journey_event",
                       object_id=out["event_id"], after={"kind": kind, "customer_id": customer_id, "ref": ref})
    return out


def _start_run(session: Session, j: Journey, customer_id: int, event_id: int) -> JourneyRun | None:
    prev = session.scalars(select(JourneyRun).where(JourneyRun.journey_code == j.code,
                                                    JourneyRun.customer_id == customer_id)
                           .order_by(JourneyRun.id.desc()).limit(1)).first()
    if prev is not None:
        if prev.status == "active" or j.reentry_days is None:
            return None
        if prev.ended_at and _now() < _aware(prev.ended_at) + timedelta(days=j.reentry_days):
            return None
    run = JourneyRun(journey_id=j.id, journey_code=j.code, customer_id=customer_id, event_id=event_id,
                     status="active", step=j.steps[0]["id"], wake_at=_now(), started_at=_now())
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:  # another transaction started this customer's run at the same moment
        return None
    return run


def quiet_until(session: Session, customer_id: int) -> datetime | None:
    """The end of the customer's quiet period now in force (a journey's ``suppress`` step), or None."""
    until = session.scalar(select(func.max(JourneyQuiet.until)).where(JourneyQuiet.customer_id == customer_id,
                                                                      JourneyQuiet.until > _now()))
    return None if until is None else _aware(until)


def in_quiet_period(session: Session, customer_id: int) -> bool:
    """Whether no marketing message may reach the customer now (a suppression provider of the contact policy)."""
    return quiet_until(session, customer_id) is not None


def _log(session: Session, run: JourneyRun, step: dict[str, Any], outcome: str, **details: Any) -> None:
    session.add(JourneyStep(run_id=run.id, journey_code=run.journey_code, step_id=step["id"],
                            step_type=step["type"], outcome=outcome, details=details or None, at=_now()))


def _converted(session: Session, customer_id: int, goal: str, since: datetime) -> dict[str, Any]:
    events = goal_events(session, goal, [customer_id], since, _now())
    return {"events": len(events), "refs": [e[0] for e in events[:5]]}


def _evaluate(session: Session, run: JourneyRun, cond: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    kind = cond["kind"]
    if kind in ("opened", "clicked"):
        msg = session.get(MarketingMessage, run.last_message_id) if run.last_message_id else None
        at = None if msg is None else (msg.opened_at if kind == "opened" else msg.clicked_at)
        if kind == "opened" and msg is not None and at is None:
            at = msg.clicked_at  # a click implies it was seen
        return at is not None, {"condition": kind, "message_id": run.last_message_id,
                                "at": at.isoformat() if at else None}
    if kind == "converted":
        found = _converted(session, run.customer_id, cond["goal"], run.started_at)
        return found["events"] > 0, {"condition": kind, "goal": cond["goal"], **found}
    if kind == "tag":
        has = run.customer_id in insight.tagged_customers(session, [cond["tag"]], among=[run.customer_id])
        return bool(has), {"condition": kind, "tag": cond["tag"]}
    profile = insight.stored_profile(session, run.customer_id)
    if profile is None:
        return False, {"condition": kind, "expression": cond["expression"], "profile": None}
    ctx = {**profile["features"], "segment": profile["segment"], "churn_score": profile["churn_score"]}
    compiled = expr.compile_expression(cond["expression"], _PROFILE)
    used = {n: ctx.get(n) for n in sorted(compiled.names)}
    return bool(compiled.fn(ctx)), {"condition": kind, "expression": cond["expression"], "values": used,
                                    "as_of": str(profile["as_of"])}


def _end(run: JourneyRun, status: str) -> None:
    run.status, run.step, run.wake_at, run.ended_at = status, None, None, _now()


def _advance_one(session: Session, run: JourneyRun, journey: Journey) -> int:
    """Execute the run's steps until a wait or its end; the number of steps executed."""
    by_id = {s["id"]: s for s in journey.steps}
    done = 0
    while run.status == "active" and done < MAX_STEPS_PER_ADVANCE:
        step = by_id.get(run.step or "")
        if step is None:
            _end(run, "exited")
            break
        done += 1
        kind, nxt = step["type"], step.get("next")
        if kind == "send":
            until = quiet_until(session, run.customer_id)
            text = step["content"].get("zh") or next(iter(step["content"].values()))
            if until is not None:
                msg = MarketingMessage(customer_id=run.customer_id, journey_id=journey.id, channel=step["channel"],
                                       purpose="marketing", lang="zh", status="suppressed",
                                       suppressed_reason=QUIET_REASON, reason_details={"until": until.isoformat()},
                                       title=str(text.get("title") or "")[:200], body=text.get("body") or "",
                                       created_at=_now())
                session.add(msg)
                session.flush()
            else:
                msg = contact.send(session, contact.Outgoing(customer_id=run.customer_id, channel=step["channel"],
                                                             content=step["content"], journey_id=journey.id))
            run.last_message_id = msg.id
            _log(session, run, step, msg.status, message_id=msg.id, channel=step["channel"],
                 suppressed_reason=msg.suppressed_reason)
        elif kind == "wait":
            run.wake_at = _now() + timedelta(days=step["days"], hours=step["hours"])
            run.step = nxt
            _log(session, run, step, "waiting", until=run.wake_at.isoformat())
            if nxt is None:
                _end(run, "completed")
            break
        elif kind == "branch":
            ok, why = _evaluate(session, run, step["condition"])
            nxt = step["then"] if ok else step["else"]
            _log(session, run, step, "yes" if ok else "no", next=nxt, **why)
        elif kind == "suppress":
            until = _now() + timedelta(days=step["days"], hours=step["hours"])
            session.add(JourneyQuiet(customer_id=run.customer_id, until=until, journey_code=journey.code,
                                     run_id=run.id, created_at=_now()))
            _log(session, run, step, "quiet", until=until.isoformat())
        else:
            _log(session, run, step, "exit")
            _end(run, "completed")
            break
        if nxt is None:
            _end(run, "completed")
            break
        run.step = nxt
    session.flush()
    return done


def advance_runs(session: Session, *, limit: int = 500) -> dict[str, int]:
    """Advance every active run whose ``wake_at`` has come (oldest first, at most ``limit``)."""
    q = (select(JourneyRun).where(JourneyRun.status == "active", JourneyRun.wake_at <= _now())
         .order_by(JourneyRun.wake_at, JourneyRun.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    runs = list(session.scalars(q))
    journeys: dict[int, Journey] = {}
    steps = 0
    for run in runs:
        j = journeys.get(run.journey_id) or session.get(Journey, run.journey_id)
        if j is None:
            _end(run, "exited")
            continue
        journeys[run.journey_id] = j
        steps += _advance_one(session, run, j)
    return {"runs": len(runs), "steps": steps}


# ------------------------------------------------------------------------------------------------- detectors

def _watermark(session: Session, name: str) -> JourneyWatermark:
    w = session.get(JourneyWatermark, name, with_for_update=True)
    if w is None:
        w = JourneyWatermark(name=name, value=0, updated_at=_now())
        session.add(w)
        session.flush()
    return w


def _detect_accounts(session: Session) -> int:
    w = _watermark(session, "account_opened")
    n = 0
    for a in session.scalars(select(ledger.Account).where(
            ledger.Account.id > w.value, ledger.Account.customer_id.is_not(None),
            ledger.Account.kind.in_(("demand", "savings"))).order_by(ledger.Account.id).limit(5000)):
        w.value = a.id
        if a.customer_id is None or _aware(a.created_at) < _now() - timedelta(days=FRESH_DAYS):
            continue
        n += emit_event(session, "account_opened", a.customer_id, f"account:{a.id}", at=a.created_at)["created"]
    w.updated_at = _now()
    return n


def _detect_salary(session: Session) -> int:
    w = _watermark(session, "salary_credited")
    n = 0
    for t, cid in session.execute(
            select(ledger.Transfer, ledger.Account.customer_id)
            .join(ledger.Account, ledger.Account.id == ledger.Transfer.credit_account_id)
            .where(ledger.Transfer.id > w.value, ledger.Transfer.kind == "salary", ledger.Transfer.flags == "posted",
                   ledger.Account.customer_id.is_not(None)).order_by(ledger.Transfer.id).limit(5000)):
        w.value = t.id
        if _aware(t.created_at) < _now() - timedelta(days=FRESH_DAYS):
            continue
        n += emit_event(session, "salary_credited", int(cid or 0), f"transfer:{t.id}", at=t.created_at)["created"]
    w.updated_at = _now()
    return n


def _detect_loans(session: Session) -> int:
    n = 0
    since = _now() - timedelta(days=30)
    for loan in session.scalars(select(lending.Loan).where(lending.Loan.status == "closed",
                                                           lending.Loan.closed_at >= since).order_by(lending.Loan.id)):
        n += emit_event(session, "loan_paid_off", loan.customer_id, f"loan:{loan.id}", at=loan.closed_at)["created"]
    return n


def _detect_maturities(session: Session) -> int:
    """Settled purchases of term products (time deposits, closed-end products) maturing within 7 days."""
    today = clock.today()
    n = 0
    for order, term in session.execute(
            select(wealth.WealthOrder, wealth.WealthProduct.term_days)
            .join(wealth.WealthProduct, wealth.WealthProduct.id == wealth.WealthOrder.product_id)
            .where(wealth.WealthOrder.kind == "purchase", wealth.WealthOrder.status == "settled",
                   wealth.WealthProduct.term_days.is_not(None),
                   wealth.WealthOrder.settle_date >= today - timedelta(days=3660))):
        maturity = order.settle_date + timedelta(days=int(term or 0))
        if today <= maturity <= today + timedelta(days=MATURITY_NOTICE_DAYS):
            n += emit_event(session, "maturity_soon", order.customer_id, f"wealth_order:{order.id}")["created"]
    return n


def _detect_dormant(session: Session) -> int:
    """Customers with an open account for 90 days and no payment of their own for 90 days (once a day)."""
    w = _watermark(session, "dormant")
    day = clock.today().toordinal()
    if w.value >= day:
        return 0
    w.value, w.updated_at = day, _now()
    cutoff = _now() - timedelta(days=DORMANT_DAYS)
    last = (select(ledger.Account.customer_id.label("cid"), func.max(ledger.Transfer.created_at).label("at"))
            .join(ledger.Transfer, ledger.Transfer.debit_account_id == ledger.Account.id)
            .where(ledger.Transfer.kind.in_(ledger.CUSTOMER_PAYMENT_KINDS), ledger.Account.customer_id.is_not(None))
            .group_by(ledger.Account.customer_id).subquery())
    first = (select(ledger.Account.customer_id.label("cid"), func.min(ledger.Account.created_at).label("opened"))
             .where(ledger.Account.customer_id.is_not(None), ledger.Account.kind.in_(("demand", "savings")),
                    ledger.Account.status == "open")
             .group_by(ledger.Account.customer_id).subquery())
    n = 0
    for cid, opened, at in session.execute(
            select(first.c.cid, first.c.opened, last.c.at).outerjoin(last, last.c.cid == first.c.cid)
            .where(first.c.opened <= cutoff, or_(last.c.at.is_(None), last.c.at <= cutoff))):
        since = at or opened
        ref = f"dormant:{cid}:{clock.local_date(since).isoformat()}"  # once per spell of dormancy
        n += emit_event(session, "dormant", int(cid), ref)["created"]
    return n


DETECTORS: dict[str, Callable[[Session], int]] = {
    "account_opened": _detect_accounts, "salary_credited": _detect_salary, "loan_paid_off": _detect_loans,
    "maturity_soon": _detect_maturities, "dormant": _detect_dormant,
}


def detect_events(session: Session) -> dict[str, int]:
    """Turn the bank's records into journey events (each detector idempotent: watermarks and event refs).
    ``complaint_closed`` has no detector: the service domain emits it when it closes a complaint."""
    return {name: fn(session) for name, fn in DETECTORS.items()}


def run_journeys_task(session: Session) -> dict[str, Any]:
    """The worker's ``journeys`` task: detect events, then advance the runs that are due."""
    events = detect_events(session)
    return {"events": events, **advance_runs(session)}


jobs.register_task("journeys", run_journeys_task)
if hasattr(contact, "register_suppression"):  # the contact policy's suppression providers, where provided
    contact.register_suppression(QUIET_REASON, in_quiet_period)


# --------------------------------------------------------------------------------------------- the defaults

def _msg(zh_title: str, zh_body: str, en_title: str, en_body: str) -> dict[str, dict[str, str]]:
    return {"zh": {"title": zh_title, "body": zh_body}, "en": {"title": en_title, "body": en_body}}


DEFAULT_JOURNEYS: tuple[dict[str, Any], ...] = (
    {"code": "welcome", "name_zh": "开户欢迎", "name_en": "Welcome", "trigger": "account_opened",
     "reentry_days": None, "steps": [
         {"id": "hello", "type": "send", "channel": "inapp", "next": "wait3",
          "content": _msg("欢迎加入", "感谢您开户，点击了解手机银行的常用功能。",
                          "Welcome", "Thank you for opening an account: see what the app can do.")},
         {"id": "wait3", "type": "wait", "days": 3, "next": "clicked"},
         {"id": "clicked", "type": "branch", "condition": {"kind": "clicked"}, "then": "done", "else": "sms"},
         {"id": "sms", "type": "send", "channel": "sms", "next": "done",
          "content": _msg("", "【智慧银行】欢迎开户！登录手机银行即可转账、缴费、理财。",
                          "", "Welcome to the bank! Sign in to the app to pay, transfer and save.")},
         {"id": "done", "type": "exit"}]},
    {"code": "reactivation", "name_zh": "沉睡客户唤醒", "name_en": "Reactivation", "trigger": "dormant",
     "reentry_days": 90, "steps": [
         {"id": "nudge", "type": "send", "channel": "inapp", "next": "wait7",
          "content": _msg("好久不见", "您有一段时间没有使用账户了，看看最近的新功能吧。",
                          "It has been a while", "You have not used your account for some time: see what is new.")},
         {"id": "wait7", "type": "wait", "days": 7, "next": "back"},
         {"id": "back", "type": "branch", "condition": {"kind": "opened"}, "then": "done", "else": "sms"},
         {"id": "sms", "type": "send", "channel": "sms", "next": "done",
          "content": _msg("", "【智慧银行】好久不见，登录手机银行查看为您准备的服务。",
                          "", "We miss you: sign in to the app to see what we have for you.")},
         {"id": "done", "type": "exit"}]},
    {"code": "maturity", "name_zh": "到期提醒", "name_en": "Maturity", "trigger": "maturity_soon",
     "reentry_days": 0, "steps": [
         {"id": "notice", "type": "send", "channel": "inapp", "next": "done",
          "content": _msg("产品即将到期", "您持有的产品将在 7 天内到期，到期资金将自动回到您的账户。",
                          "A product matures soon",
                          "A product you hold matures within 7 days; the money returns to your account.")},
         {"id": "done", "type": "exit"}]},
    {"code": "salary", "name_zh": "工资到账", "name_en": "Salary arrival", "trigger": "salary_credited",
     "reentry_days": 30, "steps": [
         {"id": "saved", "type": "branch", "condition": {"kind": "converted", "goal": "wealth_purchase"},
          "then": "done", "else": "offer"},
         {"id": "offer", "type": "send", "channel": "inapp", "next": "done",
          "content": _msg("工资已到账", "让闲钱动起来：看看适合您的稳健理财。",
                          "Your salary has arrived", "Put spare money to work: see low-risk savings for you.")},
         {"id": "done", "type": "exit"}]},
    {"code": "loan_paid_off", "name_zh": "贷款结清", "name_en": "Loan paid off", "trigger": "loan_paid_off",
     "reentry_days": 0, "steps": [
         {"id": "thanks", "type": "send", "channel": "inapp", "next": "done",
          "content": _msg("贷款已结清", "恭喜您结清贷款，感谢您的信任。",
                          "Loan paid off", "Congratulations on paying off your loan, and thank you.")},
         {"id": "done", "type": "exit"}]},
    {"code": "complaint_closed", "name_zh": "投诉结案静默期", "name_en": "Quiet after a complaint",
     "trigger": "complaint_closed", "reentry_days": 0, "steps": [
         {"id": "quiet", "type": "suppress", "days": 30, "next": "done"},
         {"id": "done", "type": "exit"}]},
)


def seed_journeys(session: Session, *, enable: bool = False, actor: Principal | None = None) -> dict[str, int]:
    """The default journeys, version 1 of each that is missing: drafts waiting for a second person's approval,
    or (``enable``, the demo) enabled at once by the system."""
    who = actor or security.SYSTEM
    made = 0
    for d in DEFAULT_JOURNEYS:
        if session.scalars(select(Journey.id).where(Journey.code == d["code"])).first() is not None:
            continue
        j = Journey(code=d["code"], version=1, name_zh=d["name_zh"], name_en=d["name_en"], trigger=d["trigger"],
                    steps=validate_definition(d["trigger"], d["steps"]), reentry_days=d["reentry_days"],
                    status="enabled" if enable else "draft", created_by=who.username, requested_by=who.username,
                    approved_by=who.username if enable else None, approved_at=_now() if enable else None,
                    created_at=_now())
        session.add(j)
        session.flush()
        security.audit(session, who, action="marketing.journey.seed", object_type="mkt_journey", object_id=j.id,
                       after={"code": j.code, "status": j.status})
        made += 1
    return {"created": made}


def seed_default_journeys(session: Session, actor: Principal) -> dict[str, int]:
    """:func:`seed_journeys` on a marketer's word: drafts, each waiting for a second person's approval."""
    actor.require("marketing.campaigns.manage")
    return seed_journeys(session, actor=actor)
