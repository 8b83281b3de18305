"""Campaigns: drafted by a marketer, approved by a second person, run on their schedule.

The lifecycle (``Campaign.status``)::

    draft --submit--> submitted --approve (another person)--> approved --run--> running --...--> completed
                                \\--reject (with a note)--> rejected --edit--> draft
    approved/running --pause--> paused --resume--> approved/running;   any open state --cancel--> cancelled

Editing a submitted, approved, paused or rejected campaign sends it back to ``draft`` with ``version + 1``: what
was approved is never what runs after a change. The approver holds ``marketing.campaigns.approve`` and is
neither the campaign's maker, nor who edited it into its present version, nor who submitted it
(``marketing.same_maker``). Every step writes an
audit record with the campaign before and after.

A run (:func:`run_campaign`, and the worker's task ``campaigns`` for the campaigns whose ``next_run_at`` has come)
builds the audience, assigns each customer not yet assigned once (``assignment.assign_arm`` on the campaign's
code: deterministic; the score that chose the customer is kept), and sends each non-holdout customer one message
through ``contact.send`` on the first of the campaign's channels they consent to (with none, on the first channel,
which the contact policy records as not sent and why), personalised and in the customer's language. The holdout
is assigned and never contacted. A run belongs to its scheduled time (the slot): a customer already messaged by
the campaign since that time is not messaged again, so a run repeated for the same slot sends nothing twice.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.insight import service as insight
from smartbank.marketing.assignment import HOLDOUT, assign_arm
from smartbank.marketing.audience import build_audience, check_audience, consenting_channels
from smartbank.marketing.contact import Outgoing, send
from smartbank.marketing.jobs import register_task
from smartbank.marketing.models import (
    CAMPAIGN_STATUSES,
    CHANNELS,
    GOALS,
    Campaign,
    CampaignArm,
    CampaignAssignment,
    Conversion,
    MarketingMessage,
)
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = ["BODY_LIMITS", "EDITABLE", "FIELDS", "HOLDOUT_MAX_BP", "LANGS", "approve_campaign", "campaign_results",
           "cancel_campaign", "create_campaign", "edit_campaign", "get_campaign", "list_campaigns",
           "pause_campaign", "personalise", "reject_campaign", "resume_campaign", "run_campaign",
           "run_due_campaigns", "submit_campaign", "validate_spec"]

LANGS = ("zh", "en")
# personalisation fields a content may use, and the characters each is counted at when a length is checked
FIELDS = {"name": 12, "first_name": 8, "segment": 16}
TITLE_MAX = 60
# the most characters of a body per channel and language (an SMS of 70 Chinese or 160 Latin characters)
BODY_LIMITS = {"sms": {"zh": 70, "en": 160}, "inapp": {"zh": 300, "en": 600}, "banner": {"zh": 40, "en": 90},
               "email": {"zh": 3000, "en": 6000}}
HOLDOUT_MAX_BP = 5000
MAX_ARMS = 6
MAX_WEIGHT = 1000
WINDOW_DAYS = (1, 90)
MAX_EVERY_DAYS = 365
EDITABLE = ("draft", "submitted", "approved", "paused", "rejected")
BATCH = 500
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,39}$")
ARM_CODE = re.compile(r"^[A-Za-z0-9]{1,8}$")
_SPEC_KEYS = {"code", "name_zh", "name_en", "audience", "channels", "arms", "holdout_bp", "schedule", "goal",
              "goal_window_days", "offer"}


def _bad(message: str, name: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(message, reason=f"marketing.{name}", details=details)


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


# ------------------------------------------------------------------------------------------------
# validation


def _template_fields(text: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise _bad("a brace in the content is not closed", "bad_template") from None
    out = []
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if name not in FIELDS or spec or conv:
            raise _bad("unknown personalisation field", "unknown_field", field=name[:40],
                       fields=", ".join("{" + f + "}" for f in FIELDS))
        out.append(name)
    return out


def _counted_length(text: str) -> int:
    """The length of a content with each field counted at its allowance (what the customer may receive)."""
    fields = _template_fields(text)
    bare = text
    for f in set(fields):
        bare = bare.replace("{" + f + "}", "")
    return len(bare.replace("{{", "{").replace("}}", "}")) + sum(FIELDS[f] for f in fields)


def _check_content(content: Any, channels: list[str], arm: str) -> dict[str, dict[str, str]]:
    if not isinstance(content, dict):
        raise _bad("an arm needs its content in Chinese and English", "content_missing", arm=arm)
    out: dict[str, dict[str, str]] = {}
    for lang in LANGS:
        c = content.get(lang)
        if not isinstance(c, dict) or not isinstance(c.get("body"), str) or not c["body"].strip():
            raise _bad("an arm needs its content in Chinese and English", "content_missing", arm=arm)
        title = c.get("title") or ""
        if not isinstance(title, str):
            raise _bad("an arm needs its content in Chinese and English", "content_missing", arm=arm)
        title, body = title.strip(), c["body"].strip()
        if _counted_length(title) > TITLE_MAX:
            raise _bad("the title is too long", "title_too_long", arm=arm, max_length=TITLE_MAX)
        n = _counted_length(body)
        for ch in channels:
            if n > BODY_LIMITS[ch][lang]:
                raise _bad("the content is too long for the channel", "content_too_long", arm=arm,
                           channel=ch, lang=lang, max_length=BODY_LIMITS[ch][lang], length=n)
        out[lang] = {"title": title, "body": body}
    return out


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _bad("a number out of range", name, min=lo, max=hi)
    return value


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return _utc(value)  # type: ignore[return-value]
    if not isinstance(value, str):
        raise _bad("the schedule needs a start time", "schedule")
    try:
        return clock.parse_instant(value)
    except ValueError:
        raise _bad("the schedule's time is not a date and time", "schedule") from None


def _check_schedule(schedule: Any) -> dict[str, Any]:
    if not isinstance(schedule, dict) or schedule.get("kind") not in ("once", "recurring"):
        raise _bad("the schedule is once or recurring", "schedule")
    start = _instant(schedule.get("start_at"))
    out: dict[str, Any] = {"kind": schedule["kind"], "start_at": start.isoformat(), "every_days": None,
                           "end_at": None}
    if schedule["kind"] == "recurring":
        out["every_days"] = _int(schedule.get("every_days"), "every_days", 1, MAX_EVERY_DAYS)
        if schedule.get("end_at"):
            end = _instant(schedule["end_at"])
            if end <= start:
                raise _bad("the schedule ends before it starts", "schedule_end")
            out["end_at"] = end.isoformat()
    return out


def validate_spec(spec: Any) -> dict[str, Any]:
    """A campaign's specification checked and normalised; every refusal a ``ValidationFailed`` with a
    ``marketing.*`` reason (the audience's rule: the tag language's ``expr.*`` reasons)."""
    if not isinstance(spec, dict):
        raise _bad("a campaign is an object", "spec_shape")
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        raise _bad("unknown keys in the campaign", "spec_keys", keys=", ".join(unknown)[:200])
    code = spec.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        raise _bad("a campaign code has 2-40 letters, digits, - or _", "code")
    names = {}
    for k in ("name_zh", "name_en"):
        v = spec.get(k)
        if not isinstance(v, str) or not 0 < len(v.strip()) <= 120:
            raise _bad("a campaign needs a name in Chinese and English", "name", max_length=120)
        names[k] = v.strip()
    channels = spec.get("channels")
    if (not isinstance(channels, list) or not channels or any(c not in CHANNELS for c in channels)
            or len(set(channels)) != len(channels)):
        raise _bad("channels: one or more of the known channels, each once", "channels",
                   channels=", ".join(CHANNELS))
    arms_in = spec.get("arms")
    if not isinstance(arms_in, list) or not 1 <= len(arms_in) <= MAX_ARMS:
        raise _bad("a campaign has 1 to 6 arms", "arms", max=MAX_ARMS)
    arms, seen = [], set()
    for a in arms_in:
        if not isinstance(a, dict) or not isinstance(a.get("code"), str) or not ARM_CODE.match(a["code"]) \
                or a["code"].lower() == HOLDOUT:
            raise _bad("an arm's code has 1-8 letters or digits", "arm_code")
        if a["code"] in seen:
            raise _bad("two arms have the same code", "arm_duplicate", arm=a["code"])
        seen.add(a["code"])
        weight = _int(a.get("weight", 1), "weight", 1, MAX_WEIGHT)
        arms.append({"code": a["code"], "weight": weight, "content": _check_content(a.get("content"), channels,
                                                                                    a["code"])})
    goal = spec.get("goal")
    if goal not in GOALS:
        raise _bad("unknown goal", "goal", goals=", ".join(GOALS))
    return {
        "code": code, **names, "audience": check_audience(spec.get("audience")), "channels": list(channels),
        "arms": arms, "holdout_bp": _int(spec.get("holdout_bp", 1000), "holdout_range", 0, HOLDOUT_MAX_BP),
        "schedule": _check_schedule(spec.get("schedule")), "goal": goal,
        "goal_window_days": _int(spec.get("goal_window_days", 14), "goal_window", *WINDOW_DAYS),
        "offer": spec.get("offer") if isinstance(spec.get("offer"), dict) else None,
    }


# ------------------------------------------------------------------------------------------------
# reading


def _get(session: Session, ref: int | str, *, lock: bool = False) -> Campaign:
    stmt = select(Campaign)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        stmt = stmt.where(Campaign.id == int(ref))
    else:
        stmt = stmt.where(Campaign.code == str(ref))
    if lock:
        stmt = stmt.with_for_update()
    c = session.scalars(stmt).first()
    if c is None:
        raise NotFound("no such campaign", reason="marketing.campaign_not_found", details={"campaign": str(ref)[:40]})
    return c


def _arms(session: Session, campaign_id: int) -> list[CampaignArm]:
    return list(session.scalars(select(CampaignArm).where(CampaignArm.campaign_id == campaign_id)
                                .order_by(CampaignArm.is_holdout, CampaignArm.code)))


def _as_dict(session: Session, c: Campaign) -> dict[str, Any]:
    def iso(d: datetime | None) -> str | None:
        return _utc(d).isoformat() if d else None  # type: ignore[union-attr]

    return {"id": c.id, "code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "status": c.status,
            "version": c.version, "audience": c.audience, "channels": c.channels, "schedule": c.schedule,
            "goal": c.goal, "goal_window_days": c.goal_window_days, "holdout_bp": c.holdout_bp, "offer": c.offer,
            "created_by": c.created_by, "created_at": iso(c.created_at), "updated_at": iso(c.updated_at),
            "submitted_by": c.submitted_by, "submitted_at": iso(c.submitted_at), "decided_by": c.decided_by,
            "decided_at": iso(c.decided_at), "decision_note": c.decision_note, "next_run_at": iso(c.next_run_at),
            "last_run_at": iso(c.last_run_at),
            "arms": [{"code": a.code, "weight": a.weight, "is_holdout": a.is_holdout, "content": a.content}
                     for a in _arms(session, c.id)]}


def _read(actor: Principal) -> None:
    if not (actor.can("marketing.campaigns.manage") or actor.can("marketing.campaigns.approve")):
        actor.require("marketing.campaigns.manage")


def list_campaigns(session: Session, actor: Principal, *, status: str | None = None) -> list[dict[str, Any]]:
    _read(actor)
    stmt = select(Campaign).order_by(Campaign.id.desc())
    if status:
        if status not in CAMPAIGN_STATUSES:
            raise _bad("unknown status", "status", statuses=", ".join(CAMPAIGN_STATUSES))
        stmt = stmt.where(Campaign.status == status)
    return [{"id": c.id, "code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "status": c.status,
             "version": c.version, "goal": c.goal, "channels": c.channels, "created_by": c.created_by,
             "next_run_at": _utc(c.next_run_at).isoformat() if c.next_run_at else None}  # type: ignore[union-attr]
            for c in session.scalars(stmt.limit(500))]


def get_campaign(session: Session, actor: Principal, ref: int | str) -> dict[str, Any]:
    _read(actor)
    return _as_dict(session, _get(session, ref))


# ------------------------------------------------------------------------------------------------
# the lifecycle


def _write_arms(session: Session, c: Campaign, arms: list[dict[str, Any]]) -> None:
    session.execute(delete(CampaignArm).where(CampaignArm.campaign_id == c.id))
    for a in arms:
        session.add(CampaignArm(campaign_id=c.id, code=a["code"], weight=a["weight"], is_holdout=False,
                                content=a["content"]))
    if c.holdout_bp:
        session.add(CampaignArm(campaign_id=c.id, code=HOLDOUT, weight=0, is_holdout=True, content={}))
    session.flush()


def _apply(c: Campaign, v: dict[str, Any]) -> None:
    c.name_zh, c.name_en, c.audience, c.channels = v["name_zh"], v["name_en"], v["audience"], v["channels"]
    c.schedule, c.goal, c.goal_window_days = v["schedule"], v["goal"], v["goal_window_days"]
    c.holdout_bp, c.offer = v["holdout_bp"], v["offer"]


def create_campaign(session: Session, actor: Principal, spec: dict[str, Any]) -> dict[str, Any]:
    actor.require("marketing.campaigns.manage")
    v = validate_spec(spec)
    if session.scalar(select(func.count()).select_from(Campaign).where(Campaign.code == v["code"])):
        raise Conflict("a campaign with this code exists", reason="marketing.code_taken", details={"code": v["code"]})
    c = Campaign(code=v["code"], status="draft", version=1, created_by=actor.username, created_at=clock.now(),
                 name_zh="", name_en="", goal=v["goal"])
    _apply(c, v)
    session.add(c)
    session.flush()
    _write_arms(session, c, v["arms"])
    out = _as_dict(session, c)
    security.audit(session, actor, action="marketing.campaign.create", object_type="campaign", object_id=c.id,
                   after=out)
    return out


def edit_campaign(session: Session, actor: Principal, ref: int | str, spec: dict[str, Any]) -> dict[str, Any]:
    """Change a campaign not yet running; one that was submitted, approved, paused or rejected goes back to
    draft with ``version + 1`` (it needs a new approval). The code is not changed."""
    actor.require("marketing.campaigns.manage")
    c = _get(session, ref, lock=True)
    if c.status not in EDITABLE:
        raise Conflict("this campaign can no longer be changed", reason="marketing.not_editable",
                       details={"status": c.status})
    v = validate_spec({**spec, "code": c.code})
    before = _as_dict(session, c)
    _apply(c, v)
    if c.status != "draft":
        c.version += 1
    c.status, c.updated_at, c.next_run_at = "draft", clock.now(), None
    c.submitted_by = c.submitted_at = c.decided_by = c.decided_at = None
    session.flush()
    _write_arms(session, c, v["arms"])
    out = _as_dict(session, c)
    security.audit(session, actor, action="marketing.campaign.edit", object_type="campaign", object_id=c.id,
                   before=before, after=out)
    return out


def _step(session: Session, actor: Principal, ref: int | str, *, action: str, allowed: Sequence[str],
          to: str, note: str | None = None) -> tuple[Campaign, dict[str, Any]]:
    c = _get(session, ref, lock=True)
    if c.status not in allowed:
        raise Conflict("the campaign is not in a state for this", reason="marketing.bad_state",
                       details={"status": c.status, "action": action})
    before = _as_dict(session, c)
    c.status = to
    return c, before


def _done(session: Session, actor: Principal, c: Campaign, before: dict[str, Any], action: str,
          note: str | None = None) -> dict[str, Any]:
    session.flush()
    out = _as_dict(session, c)
    security.audit(session, actor, action=f"marketing.campaign.{action}", object_type="campaign", object_id=c.id,
                   before=before, after=out, note=note)
    return out


def submit_campaign(session: Session, actor: Principal, ref: int | str) -> dict[str, Any]:
    actor.require("marketing.campaigns.manage")
    c, before = _step(session, actor, ref, action="submit", allowed=("draft",), to="submitted")
    validate_spec({"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "audience": c.audience,
                   "channels": c.channels, "holdout_bp": c.holdout_bp, "schedule": c.schedule, "goal": c.goal,
                   "goal_window_days": c.goal_window_days,
                   "arms": [{"code": a.code, "weight": a.weight, "content": a.content}
                            for a in _arms(session, c.id) if not a.is_holdout]})
    c.submitted_by, c.submitted_at = actor.username, clock.now()
    return _done(session, actor, c, before, "submit")


def _is_maker(session: Session, actor: Principal, c: Campaign) -> bool:
    """Whether ``actor`` made this version of the campaign: created it, edited it into this version or
    submitted it (read from the campaign's audit trail, and its maker and submitter)."""
    if actor.username in (c.created_by, c.submitted_by):
        return True
    for row in security.audit_trail(session, object_type="campaign", object_id=str(c.id), limit=500):
        if (row.action in ("marketing.campaign.create", "marketing.campaign.edit", "marketing.campaign.submit")
                and (row.after or {}).get("version") == c.version and row.actor_user_id == actor.user_id
                and actor.user_id):
            return True
    return False


def approve_campaign(session: Session, actor: Principal, ref: int | str, *, note: str | None = None
                     ) -> dict[str, Any]:
    """Approve a submitted campaign: by a holder of ``marketing.campaigns.approve`` who neither made nor
    submitted it. Its first run is due at the schedule's start (or now, when that has passed)."""
    actor.require("marketing.campaigns.approve")
    c = _get(session, ref, lock=True)
    if _is_maker(session, actor, c):
        raise Conflict("a campaign is approved by someone other than its maker", reason="marketing.same_maker",
                       details={"maker": c.created_by})
    c, before = _step(session, actor, ref, action="approve", allowed=("submitted",), to="approved")
    c.decided_by, c.decided_at, c.decision_note = actor.username, clock.now(), (note or "").strip()[:500] or None
    c.next_run_at = clock.parse_instant(c.schedule["start_at"])
    return _done(session, actor, c, before, "approve", note)


def reject_campaign(session: Session, actor: Principal, ref: int | str, *, note: str) -> dict[str, Any]:
    actor.require("marketing.campaigns.approve")
    note = (note or "").strip()
    if not note:
        raise _bad("a rejection needs a note for the maker", "note_required")
    c = _get(session, ref, lock=True)
    if _is_maker(session, actor, c):
        raise Conflict("a campaign is decided by someone other than its maker", reason="marketing.same_maker",
                       details={"maker": c.created_by})
    c, before = _step(session, actor, ref, action="reject", allowed=("submitted",), to="rejected")
    c.decided_by, c.decided_at, c.decision_note, c.next_run_at = actor.username, clock.now(), note[:500], None
    return _done(session, actor, c, before, "reject", note[:500])


def pause_campaign(session: Session, actor: Principal, ref: int | str, *, note: str | None = None
                   ) -> dict[str, Any]:
    actor.require("marketing.campaigns.manage")
    c, before = _step(session, actor, ref, action="pause", allowed=("approved", "running"), to="paused")
    return _done(session, actor, c, before, "pause", note)


def resume_campaign(session: Session, actor: Principal, ref: int | str) -> dict[str, Any]:
    actor.require("marketing.campaigns.manage")
    c, before = _step(session, actor, ref, action="resume", allowed=("paused",), to="approved")
    if c.last_run_at is not None:
        c.status = "running"
    return _done(session, actor, c, before, "resume")


def cancel_campaign(session: Session, actor: Principal, ref: int | str, *, note: str | None = None
                    ) -> dict[str, Any]:
    actor.require("marketing.campaigns.manage")
    c, before = _step(session, actor, ref, action="cancel",
                      allowed=("draft", "submitted", "approved", "running", "paused", "rejected"), to="cancelled")
    c.next_run_at = None
    return _done(session, actor, c, before, "cancel", note)


# ------------------------------------------------------------------------------------------------
# running


def _first_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        return ""
    if " " in name:
        return name.split()[0]
    return name[1:] if len(name) >= 2 and not name.isascii() else name


def personalise(content: dict[str, dict[str, str]], values: dict[str, str]) -> dict[str, dict[str, str]]:
    """``content`` ({lang: {title, body}}) with its fields filled from ``values`` (a missing value: empty)."""
    safe = {f: values.get(f, "") for f in FIELDS}
    return {lang: {k: (v or "").format_map(safe) for k, v in parts.items()} for lang, parts in content.items()}


def _slot(c: Campaign, now: datetime) -> tuple[datetime, str]:
    """Which run this is and when it began: the due run (``next_run_at`` has come), else the last run again
    (a forced rerun), else a first run ahead of the schedule."""
    due = _utc(c.next_run_at)
    if due is not None and due <= now:
        return due, "due"
    last = _utc(c.last_run_at)
    return (last, "rerun") if last is not None else (now, "early")


def _advance(c: Campaign, slot: datetime, now: datetime) -> None:
    c.last_run_at = now
    sched = c.schedule or {}
    if sched.get("kind") != "recurring":
        c.status, c.next_run_at = "completed", None
        return
    step = timedelta(days=int(sched.get("every_days") or 1))
    nxt = slot + step
    while nxt <= now:
        nxt += step
    end = clock.parse_instant(sched["end_at"]) if sched.get("end_at") else None
    if end is not None and nxt > end:
        c.status, c.next_run_at = "completed", None
    else:
        c.status, c.next_run_at = "running", nxt


def _languages(session: Session, ids: list[int]) -> dict[int, str]:
    user = security.User
    out: dict[int, str] = {}
    for cid, lang in session.execute(select(user.customer_id, user.language)
                                     .where(user.customer_id.in_(ids)).order_by(user.id)):
        if cid is not None and lang in LANGS:
            out.setdefault(int(cid), lang)
    return out


def run_campaign(session: Session, ref: int | str, *, actor: Principal | None = None,
                 force: bool = False) -> dict[str, Any]:
    """Run a campaign now: its due run (``next_run_at`` has come), or with ``force`` its current run again
    (only those not yet messaged for it; a completed campaign's last run too). Returns what it did."""
    who = actor or security.SYSTEM
    if actor is not None:
        actor.require("marketing.campaigns.manage")
    c = _get(session, ref, lock=True)
    now = clock.now()
    due = _utc(c.next_run_at)
    if not force and (c.status not in ("approved", "running") or due is None or due > now):
        # not due (or no longer: another worker ran it while this one waited for the campaign's lock)
        return {"campaign": c.code, "ran": False, "status": c.status,
                "next_run_at": due.isoformat() if due else None}
    slot, mode = _slot(c, now)
    rerun = mode == "rerun" and c.status == "completed"  # a completed campaign's last run again
    if c.status not in ("approved", "running") and not rerun:
        raise Conflict("only an approved campaign runs", reason="marketing.bad_state",
                       details={"status": c.status, "action": "run"})
    arms = [a for a in _arms(session, c.id) if not a.is_holdout]
    content = {a.code: a.content for a in arms}
    weights = [(a.code, a.weight) for a in arms]
    aud = build_audience(session, c.audience)
    seg_names = {s["label"]: s for s in insight.list_segments(session, security.SYSTEM)}
    counts: Counter[str] = Counter()
    for k in range(0, len(aud.customer_ids), BATCH):
        ids = aud.customer_ids[k:k + BATCH]
        assigned = {int(r.customer_id): r for r in session.scalars(
            select(CampaignAssignment).where(CampaignAssignment.campaign_id == c.id,
                                             CampaignAssignment.customer_id.in_(ids)))}
        messaged = set(int(i) for i in session.scalars(
            select(MarketingMessage.customer_id).where(MarketingMessage.campaign_id == c.id,
                                                       MarketingMessage.customer_id.in_(ids),
                                                       MarketingMessage.created_at >= slot)))
        consent = consenting_channels(session, ids, c.channels)
        langs = _languages(session, ids)
        names = customers.names_of(session, ids)
        for cid in ids:
            row = assigned.get(cid)
            if row is None:
                arm = assign_arm(c.code, cid, weights, c.holdout_bp)
                row = CampaignAssignment(campaign_id=c.id, customer_id=cid, arm=arm, score=aud.scores.get(cid),
                                         assigned_at=now)
                session.add(row)
                counts["assigned"] += 1
            if row.arm == HOLDOUT:
                counts["holdout"] += 1
                continue
            if cid in messaged or row.arm not in content:
                counts["already_messaged" if cid in messaged else "arm_removed"] += 1
                continue
            lang = langs.get(cid, "zh")
            seg = aud.segments.get(cid)
            seg_row = seg_names.get(seg) if seg else None
            filled = personalise(content[row.arm], {
                "name": names.get(cid, ""), "first_name": _first_name(names.get(cid, "")),
                "segment": (seg_row or {}).get(f"name_{lang}", "") if seg_row else ""})
            channel = (consent.get(cid) or c.channels)[0]
            msg = send(session, Outgoing(customer_id=cid, channel=channel, content=filled, campaign_id=c.id,
                                         arm=row.arm, purpose=c.purpose or "marketing", lang=lang))
            # "sent": handed to its channel (an in-app message or a banner is delivered at once)
            counts["sent" if msg.status in ("sent", "delivered") else msg.status] += 1
        session.flush()
    before_status = c.status
    if mode == "due":
        _advance(c, slot, now)
    elif mode == "early":  # an extra run ahead of the schedule: the scheduled runs stay as they were
        c.last_run_at = now
        if (c.schedule or {}).get("kind") != "recurring":
            c.status, c.next_run_at = "completed", None
        else:
            c.status = "running"
    session.flush()
    out = {"campaign": c.code, "ran": True, "slot": slot.isoformat(), "mode": mode,
           "in_audience": len(aud.customer_ids), "model_version": aud.model_version, **dict(counts), "status": c.status,
           "next_run_at": _utc(c.next_run_at).isoformat() if c.next_run_at else None}  # type: ignore[union-attr]
    security.audit(session, who, action="marketing.campaign.run", object_type="campaign", object_id=c.id,
                   before={"status": before_status}, after=out)
    return out


def run_due_campaigns(session: Session) -> dict[str, Any]:
    """The worker's task: run every approved or running campaign whose next run has come."""
    now = clock.now()
    due = list(session.scalars(select(Campaign.id).where(Campaign.status.in_(("approved", "running")),
                                                         Campaign.next_run_at <= now).order_by(Campaign.id)))
    runs = [r for r in (run_campaign(session, cid) for cid in due) if r["ran"]]
    return {"campaigns": len(runs), "sent": sum(r.get("sent", 0) for r in runs),
            "suppressed": sum(r.get("suppressed", 0) for r in runs)}


register_task("campaigns", run_due_campaigns)


# ------------------------------------------------------------------------------------------------
# results


def campaign_results(session: Session, actor: Principal, ref: int | str) -> dict[str, Any]:
    """Per arm: customers assigned, messages by status, not-sent messages by reason, conversions and their
    margin (from ``mkt_conversions``)."""
    if not actor.can("marketing.reports.read"):
        _read(actor)
    c = _get(session, ref)
    arms = [a.code for a in _arms(session, c.id)]
    per: dict[str, dict[str, Any]] = {a: {"arm": a, "assigned": 0, "messages": 0, "sent": 0, "delivered": 0,
                                          "suppressed": 0, "failed": 0, "conversions": 0, "converted": 0,
                                          "margin_minor": 0} for a in arms}

    def arm_row(a: str | None) -> dict[str, Any]:
        key = a or "-"
        return per.setdefault(key, {"arm": key, "assigned": 0, "messages": 0, "sent": 0, "delivered": 0,
                                    "suppressed": 0, "failed": 0, "conversions": 0, "converted": 0,
                                    "margin_minor": 0})

    for a, n in session.execute(select(CampaignAssignment.arm, func.count()).where(
            CampaignAssignment.campaign_id == c.id).group_by(CampaignAssignment.arm)):
        arm_row(a)["assigned"] = int(n)
    reasons: Counter[str] = Counter()
    for arm, status, reason, n in session.execute(
            select(MarketingMessage.arm, MarketingMessage.status, MarketingMessage.suppressed_reason, func.count())
            .where(MarketingMessage.campaign_id == c.id)
            .group_by(MarketingMessage.arm, MarketingMessage.status, MarketingMessage.suppressed_reason)):
        r = arm_row(arm)
        r["messages"] += int(n)
        if status in ("sent", "delivered"):
            r["sent"] += int(n)
        if status in r and status != "sent":
            r[status] += int(n)
        if status == "suppressed":
            reasons[reason or "unknown"] += int(n)
    for a, n, people, margin in session.execute(
            select(Conversion.arm, func.count(), func.count(func.distinct(Conversion.customer_id)),
                   func.coalesce(func.sum(Conversion.margin_minor), 0))
            .where(Conversion.campaign_id == c.id).group_by(Conversion.arm)):
        r = arm_row(a)
        r["conversions"], r["converted"], r["margin_minor"] = int(n), int(people), int(margin)
    rows = list(per.values())
    for r in rows:
        r["conversion_rate"] = (r["converted"] / r["assigned"]) if r["assigned"] else None
    return {"campaign": c.code, "status": c.status, "arms": rows,
            "suppressed_by_reason": dict(sorted(reasons.items())),
            "totals": {k: sum(r[k] for r in rows) for k in ("assigned", "messages", "sent", "suppressed",
                                                             "conversions", "margin_minor")}}
