"""A campaign as an experiment: its arms (one may be the holdout), the deterministic assignment
(``mkt_assignments``) and the outcome (a ``mkt_conversions`` row), read with statistics that stay valid when
people look early (:mod:`smartbank.marketing.sequential`).

:func:`evaluate_experiment` counts customers and converted customers per arm, compares each arm with the
control (the holdout if there is one, else the first arm) with the always-valid mSPRT at alpha divided by the
number of comparisons, checks the guardrails (opt-outs, and whatever others register with
:func:`register_guardrail`, e.g. complaints) with the same test, stores the read (``mkt_experiment_reads``) and
decides:

- ``stopped_guardrail``: an arm is significantly worse than the control on a guardrail; a running campaign is
  paused (audited);
- ``winner``: an arm beats the control (always-valid p < its alpha); with several, the one with the largest
  effect; reported with its confidence (1 - p) and effect;
- ``no_difference_yet``: neither (or fewer than :data:`MIN_PER_ARM` customers in an arm: no decision yet).

The same counts after the same earlier reads give the same decision. The worker's task ``experiments``
evaluates every running campaign.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.errors import NotFound, ValidationFailed
from smartbank.marketing import sequential
from smartbank.marketing.campaigns import pause_campaign
from smartbank.marketing.experiments_tables import EXPERIMENT_DECISIONS, ExperimentRead
from smartbank.marketing.jobs import register_task
from smartbank.marketing.models import Campaign, CampaignArm, CampaignAssignment, Conversion, MarketingMessage
from smartbank.security import service as security
from smartbank.security.service import SYSTEM, Principal

__all__ = [
    "EXPERIMENT_DECISIONS", "GUARDRAILS", "MIN_PER_ARM", "ExperimentRead", "arm_counts", "evaluate_experiment",
    "evaluate_running_experiments", "experiment_report", "list_experiments", "register_guardrail",
]

ALPHA = 0.05
MIN_PER_ARM = 100  # customers in every compared arm before any decision
MAX_HISTORY = 200  # reads shown on the page's chart
_SENT = ("sent", "delivered")

Guardrail = Callable[[Session, int, str], int]
# name -> fn(session, campaign_id, arm) -> the number of the arm's customers with the harm (more is worse)
GUARDRAILS: dict[str, Guardrail] = {}


def register_guardrail(name: str, fn: Guardrail) -> None:
    """Add a guardrail metric (e.g. ``complaints``): ``fn(session, campaign_id, arm)`` counts the arm's customers
    with the harm; an arm significantly worse than the control stops the test."""
    GUARDRAILS[name] = fn


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _iso(at: datetime | None) -> str | None:
    return _utc(at).isoformat() if at is not None else None


def opt_outs(session: Session, campaign_id: int, arm: str) -> int:
    """Customers of the arm who withdrew a marketing consent (any channel) after the campaign reached them
    (their first sent message; for the holdout, never contacted, after their assignment), as the consent
    registry says now."""
    since: dict[int, datetime | None] = {}
    for cid, at in session.execute(select(CampaignAssignment.customer_id, CampaignAssignment.assigned_at)
                                   .where(CampaignAssignment.campaign_id == campaign_id,
                                          CampaignAssignment.arm == arm)):
        since[cid] = _utc(at)
    first = session.execute(
        select(MarketingMessage.customer_id, func.min(func.coalesce(MarketingMessage.sent_at,
                                                                    MarketingMessage.created_at)))
        .where(MarketingMessage.campaign_id == campaign_id, MarketingMessage.arm == arm,
               MarketingMessage.status.in_(_SENT))
        .group_by(MarketingMessage.customer_id))
    contacted = {cid: _utc(at) for cid, at in first if at is not None}
    holdout = session.scalar(select(CampaignArm.is_holdout).where(CampaignArm.campaign_id == campaign_id,
                                                                  CampaignArm.code == arm))
    count = 0
    for cid in sorted(since):
        start = since[cid] if holdout else contacted.get(cid)
        if start is None:
            continue
        for state in customers.consent_state(session, cid).values():
            if (state.purpose.startswith("marketing_") and state.source == "recorded" and not state.granted
                    and state.at is not None and _utc(state.at) >= start):
                count += 1
                break
    return count


register_guardrail("opt_outs", opt_outs)


def _campaign(session: Session, campaign_id: int) -> Campaign:
    c = session.get(Campaign, campaign_id)
    if c is None:
        raise NotFound("no such campaign", reason="marketing.experiment_not_found",
                       details={"campaign": campaign_id})
    return c


def _arms(session: Session, campaign_id: int) -> tuple[str, list[str]]:
    """(control, the other arms), in code order; the holdout is the control when there is one."""
    rows = list(session.scalars(select(CampaignArm).where(CampaignArm.campaign_id == campaign_id)
                                .order_by(CampaignArm.code)))
    if len(rows) < 2:
        raise ValidationFailed("an experiment needs two arms or an arm and a holdout",
                               reason="marketing.experiment_needs_arms",
                               details={"campaign": campaign_id, "arms": len(rows)})
    holdouts = [a.code for a in rows if a.is_holdout]
    control = holdouts[0] if holdouts else rows[0].code
    return control, [a.code for a in rows if a.code != control]


def arm_counts(session: Session, campaign_id: int, *, as_of: datetime | None = None) -> dict[str, dict[str, int]]:
    """Per arm: customers assigned (``n``) and those of them with at least one conversion (``conversions``);
    ``as_of``: only what had happened by then (assignments and conversions)."""
    assigned = [CampaignAssignment.campaign_id == campaign_id]
    if as_of is not None:
        assigned.append(CampaignAssignment.assigned_at <= as_of)
    n = {arm: k for arm, k in session.execute(select(CampaignAssignment.arm, func.count())
                                              .where(*assigned).group_by(CampaignAssignment.arm))}
    conv_q = (select(CampaignAssignment.arm, func.count(distinct(Conversion.customer_id)))
              .join(Conversion, (Conversion.campaign_id == CampaignAssignment.campaign_id)
                    & (Conversion.customer_id == CampaignAssignment.customer_id))
              .where(*assigned))
    if as_of is not None:
        conv_q = conv_q.where(Conversion.occurred_at <= as_of)
    conv = {arm: k for arm, k in session.execute(conv_q.group_by(CampaignAssignment.arm))}
    return {arm: {"n": int(n.get(arm, 0)), "conversions": int(conv.get(arm, 0))} for arm in sorted(set(n) | set(conv))}


def _last_read(session: Session, campaign_id: int) -> ExperimentRead | None:
    return session.scalars(select(ExperimentRead).where(ExperimentRead.campaign_id == campaign_id)
                           .order_by(ExperimentRead.id.desc()).limit(1)).first()


def _read_dict(r: ExperimentRead) -> dict[str, Any]:
    return {"id": r.id, "campaign_id": r.campaign_id, "at": _iso(r.at),
            "control": r.control, "arms": r.arms, "comparisons": r.comparisons, "guardrails": r.guardrails,
            "alpha": r.alpha, "method": r.method, "decision": r.decision, "winner": r.winner,
            "confidence": r.confidence, "effect": r.effect, "reasons": r.reasons, "evaluated_by": r.evaluated_by}


def _pause(session: Session, actor: Principal, campaign: Campaign, why: list[dict[str, Any]]) -> bool:
    """Stop a running campaign through its lifecycle (the same pause, state check and audit as a marketer's),
    saying which guardrails were worse."""
    if campaign.status != "running":
        return False
    names = ", ".join(sorted({f"{w['guardrail']} ({w['arm']})" for w in why}))
    pause_campaign(session, actor, campaign.id, note=f"guardrail significantly worse than control: {names}")
    return True


def evaluate_experiment(session: Session, campaign_id: int | str, *, actor: Principal | None = None,
                        alpha: float = ALPHA, min_per_arm: int = MIN_PER_ARM,
                        tau: float = sequential.DEFAULT_TAU, as_of: datetime | None = None) -> dict[str, Any]:
    """Read the campaign's experiment now, store the read and decide (see the module). ``actor``: the staff
    member asking (``marketing.campaigns.manage``: the read may pause the campaign); None for the worker.
    ``campaign_id``: the campaign's id, or its code (a string). ``as_of``: read the counts as they stood then
    (a replay of a campaign's history, e.g. for the demo; the guardrails are read as they stand now)."""
    who = actor or SYSTEM
    if actor is not None:
        actor.require("marketing.campaigns.manage")
    if not 0 < alpha < 1 or min_per_arm < 1:
        raise ValidationFailed("alpha must lie in (0, 1) and the minimum sample be positive",
                               reason="marketing.experiment_bad_parameters",
                               details={"alpha": alpha, "min_per_arm": min_per_arm})
    campaign = _find(session, campaign_id)
    campaign_id = campaign.id
    control, others = _arms(session, campaign_id)
    counts = arm_counts(session, campaign_id, as_of=as_of)
    for arm in [control, *others]:
        counts.setdefault(arm, {"n": 0, "conversions": 0})
    prev = _last_read(session, campaign_id)
    prev_cmp = {c["arm"]: c for c in (prev.comparisons if prev and prev.control == control else [])}
    prev_guard = {(g["name"], g["arm"]): g for g in (prev.guardrails if prev and prev.control == control else [])}
    each = alpha / len(others)  # Bonferroni over the comparisons with the control
    c0 = counts[control]
    reasons: list[dict[str, Any]] = []

    comparisons = [sequential.compare(arm, control, n_control=c0["n"], conversions_control=c0["conversions"],
                                      n_arm=counts[arm]["n"], conversions_arm=counts[arm]["conversions"],
                                      alpha=each, tau=tau, previous=prev_cmp.get(arm))
                   for arm in others]
    enough = all(counts[a]["n"] >= min_per_arm for a in [control, *others])
    if not enough:
        reasons.append({"code": "min_sample", "min_per_arm": min_per_arm,
                        "smallest": min(counts[a]["n"] for a in [control, *others])})

    guard_rows: list[dict[str, Any]] = []
    worse: list[dict[str, Any]] = []
    for name in sorted(GUARDRAILS):
        fn = GUARDRAILS[name]
        g0 = int(fn(session, campaign_id, control))
        for arm in others:
            g = int(fn(session, campaign_id, arm))
            cmp = sequential.compare(arm, control, n_control=c0["n"], conversions_control=min(g0, c0["n"]),
                                     n_arm=counts[arm]["n"], conversions_arm=min(g, counts[arm]["n"]),
                                     alpha=each, tau=tau, previous=prev_guard.get((name, arm)))
            row = {"name": name, **cmp.as_dict(), "worse": bool(enough and cmp.significant and cmp.ci_low > 0)}
            guard_rows.append(row)
            if row["worse"]:
                worse.append({"code": "guardrail_worse", "guardrail": name, "arm": arm,
                              "p_value": cmp.p_value, "effect": cmp.effect})

    winner: sequential.Comparison | None = None
    if worse:
        decision = "stopped_guardrail"
        reasons.extend(worse)
        if _pause(session, who, campaign, worse):
            reasons.append({"code": "campaign_paused"})
    else:
        better = [c for c in comparisons if enough and c.significant and c.ci_low > 0]
        for c in comparisons:
            if enough and c.significant and c.ci_high < 0:
                reasons.append({"code": "arm_worse", "arm": c.arm, "p_value": c.p_value, "effect": c.effect})
        if better:
            winner = max(better, key=lambda c: (c.effect, -c.p_value, c.arm))
            decision = "winner"
            reasons.append({"code": "winner", "arm": winner.arm, "p_value": winner.p_value,
                            "alpha": winner.alpha, "effect": winner.effect,
                            "significant_arms": sorted(c.arm for c in better)})
        else:
            decision = "no_difference_yet"
            if enough:
                reasons.append({"code": "not_significant", "alpha": each,
                                "smallest_p": min(c.p_value for c in comparisons)})

    arms_out = [{"arm": a, "n": counts[a]["n"], "conversions": counts[a]["conversions"],
                 "rate": counts[a]["conversions"] / counts[a]["n"] if counts[a]["n"] else None,
                 "is_control": a == control} for a in [control, *others]]
    read = ExperimentRead(campaign_id=campaign_id, at=as_of or clock.now(), control=control, arms=arms_out,
                          comparisons=[c.as_dict() for c in comparisons], guardrails=guard_rows, alpha=alpha,
                          method=f"{sequential.METHOD};tau={tau:g};bonferroni;min_per_arm={min_per_arm}",
                          decision=decision, winner=winner.arm if winner else None,
                          confidence=(1 - winner.p_value) if winner else None,
                          effect=winner.effect if winner else None, reasons=reasons, evaluated_by=who.username)
    session.add(read)
    session.flush()
    if actor is not None:
        security.audit(session, actor, action="marketing.experiment.evaluated", object_type="mkt_campaign",
                       object_id=campaign_id, after={"read": read.id, "decision": decision})
    return {"campaign": {"id": campaign.id, "code": campaign.code, "status": campaign.status},
            **_read_dict(read)}


def _find(session: Session, campaign: int | str) -> Campaign:
    if not isinstance(campaign, str):
        return _campaign(session, campaign)
    c = session.scalars(select(Campaign).where(Campaign.code == campaign)).first()
    if c is None:
        raise NotFound("no such campaign", reason="marketing.experiment_not_found", details={"campaign": campaign})
    return c


def experiment_report(session: Session, actor: Principal, campaign: int | str) -> dict[str, Any]:
    """A campaign's experiment: the counts now, the last read and the reads over time (oldest first)
    (``marketing.reports.read``)."""
    actor.require("marketing.reports.read")
    c = _find(session, campaign)
    arms = list(session.scalars(select(CampaignArm).where(CampaignArm.campaign_id == c.id)
                                .order_by(CampaignArm.code)))
    counts = arm_counts(session, c.id)
    reads = list(session.scalars(select(ExperimentRead).where(ExperimentRead.campaign_id == c.id)
                                 .order_by(ExperimentRead.id.desc()).limit(MAX_HISTORY)))[::-1]
    return {
        "campaign": {"id": c.id, "code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "status": c.status,
                     "goal": c.goal},
        "arms": [{"arm": a.code, "is_holdout": a.is_holdout, "weight": a.weight,
                  "n": counts.get(a.code, {}).get("n", 0),
                  "conversions": counts.get(a.code, {}).get("conversions", 0),
                  "rate": (counts[a.code]["conversions"] / counts[a.code]["n"])
                  if counts.get(a.code, {}).get("n") else None} for a in arms],
        "last": _read_dict(reads[-1]) if reads else None,
        "history": [_read_dict(r) for r in reads],
        "guardrail_names": sorted(GUARDRAILS),
    }


def list_experiments(session: Session, actor: Principal) -> list[dict[str, Any]]:
    """Campaigns with two arms or more (an arm and a holdout count), each with its last decision."""
    actor.require("marketing.reports.read")
    n_arms = (select(CampaignArm.campaign_id, func.count().label("k")).group_by(CampaignArm.campaign_id)
              .subquery())
    rows = session.execute(select(Campaign, n_arms.c.k).join(n_arms, n_arms.c.campaign_id == Campaign.id)
                           .where(n_arms.c.k >= 2).order_by(Campaign.id.desc()).limit(500)).all()
    out = []
    for c, k in rows:
        last = _last_read(session, c.id)
        out.append({"id": c.id, "code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "status": c.status,
                    "arms": int(k), "decision": last.decision if last else None,
                    "winner": last.winner if last else None, "at": _iso(last.at) if last else None})
    return out


def evaluate_running_experiments(session: Session) -> dict[str, Any]:
    """The worker's task: evaluate every running campaign with two arms or more."""
    ids = list(session.scalars(select(Campaign.id).where(Campaign.status == "running").order_by(Campaign.id)))
    out: dict[str, Any] = {"evaluated": 0, "winner": 0, "stopped_guardrail": 0}
    for cid in ids:
        k = session.scalar(select(func.count()).select_from(CampaignArm).where(CampaignArm.campaign_id == cid))
        if (k or 0) < 2:
            continue
        read = evaluate_experiment(session, cid)
        out["evaluated"] += 1
        if read["decision"] in out:
            out[read["decision"]] += 1
    return out


register_task("experiments", evaluate_running_experiments)
