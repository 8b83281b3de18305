"""Attribution and ROI: the conversions of a campaign found in the bank's own records, and what they earned.

**Conversions** (:func:`find_conversions`, the worker task ``attribution``). For every customer assigned to a
campaign - every arm, the holdout too - the campaign's goal events inside the customer's window are read from
the bank's records (never self-reported):

============== ==========================================================================================
goal           record
============== ==========================================================================================
wealth_purchase a purchase order not cancelled or failed (``wealth_orders``; amount = cash paid)
loan_application a loan application submitted (``loan_applications``; amount = the amount asked)
top_up         a mobile top-up (a ``bill_payment`` transfer with a ``topup:`` reference)
bill_payment   a bill paid (a ``bill_payment`` transfer that is not a top-up)
deposit        money deposited into one of the customer's accounts (a ``deposit`` transfer)
digital_login  no record yet: never converts
============== ==========================================================================================

The window of a customer opens at the later of the assignment and the campaign's start and closes
``goal_window_days`` later; the same window for every arm, so the holdout is a fair baseline (an
intention-to-treat comparison: a customer of a contacted arm whose message was suppressed still counts in it).
Each event is written once (``campaign, customer, event_ref`` is unique): a rerun adds only what is new.

**Last touch.** A conversion's ``message_id`` is the campaign's message to that customer that touched them last
before the event and no longer than ``goal_window_days`` before it; a message touches when it is sent
(``sent_at``) and again when it is clicked (``clicked_at``). Messages not sent (suppressed, failed) never touch;
the holdout is never contacted, so its conversions have none.

**Margin** (revenue as the bank's margin, :data:`DEFAULT_MARGIN_RULES`, overridable per goal by the setting
``marketing_margin_rules``)::

    margin = fixed_minor + amount x rate_bp/10^4 x months/12 x share_bp/10^4

rounded half to even to the fen once per conversion (e.g. a wealth purchase: the annual fee rate times the
amount times the expected holding; a loan application: the net interest margin on the amount for the first
year times the approval rate; a top-up: the operator's commission).

**Attribution** (:func:`campaign_report`): last touch within the window, with the holdout's baseline
subtracted::

    holdout rate        = holdout conversions / holdout customers
    incremental conv.   = contacted-arm conversions - holdout rate x contacted-arm customers
    incremental margin  = contacted-arm margin - holdout margin per customer x contacted-arm customers
    cost                = sum of cost_micro of the messages sent + offer cost (offer.cost_minor per conversion
                          of a contacted arm)
    ROI                 = (incremental margin - cost) / cost          (null when nothing was spent)

Money stays exact integers until the end: margins in fen, costs in micro-yuan (10^4 per fen); incremental
margin and cost are rounded half to even to the fen for display, ROI is computed on the exact figures and
shown to four decimals. By arm and by segment (the customer's insight segment) the baseline is that group's
holdout rate (the campaign's holdout rate when the group has no holdout customers: flagged
``baseline: "campaign"``). By channel the conversions are those whose last touch is on that channel, the
customers those of a contacted arm sent a message on it, and the cost that of its messages; a customer
reached on two channels counts in both, so channels do not add up to the campaign.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.config import get_settings
from smartbank.errors import NotFound, ValidationFailed
from smartbank.insight import service as insight
from smartbank.ledger import service as ledger
from smartbank.lending import service as lending
from smartbank.marketing.jobs import register_task
from smartbank.marketing.models import (
    GOALS,
    Campaign,
    CampaignArm,
    CampaignAssignment,
    Conversion,
    MarketingMessage,
)
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import service as wealth

__all__ = [
    "DEFAULT_MARGIN_RULES", "MEASURED_STATUSES", "MarginRule", "REPORT_DIMENSIONS", "campaign_report",
    "find_all_conversions", "find_conversions", "margin_for", "margin_rules", "marketing_overview",
    "roi_report", "run_attribution",
]

MICRO_PER_MINOR = 10_000  # cost_micro is in 1e-6 yuan, a fen is 1e-2
# campaigns whose conversions are looked for and reported (a draft has no customers yet)
MEASURED_STATUSES = ("approved", "running", "paused", "completed")
REPORT_DIMENSIONS = ("campaign", "arm", "channel", "segment")
_SENT = ("sent", "delivered")
NO_SEGMENT = "none"
NO_CHANNEL = "none"


@dataclass(frozen=True)
class MarginRule:
    """margin = fixed_minor + amount x rate_bp/10^4 x months/12 x share_bp/10^4 (see the module's docstring)."""

    rate_bp: int = 0  # a yearly rate (fee, net interest margin) or a one-off commission with months = 12
    months: int = 12  # how long the business earns it
    share_bp: int = 10_000  # the share of events that earn it (e.g. the approval rate of applications)
    fixed_minor: int = 0  # a flat amount per event
    basis: str = ""  # what the rule stands for, in words


# the bank's planning assumptions (overridable per goal by the setting ``marketing_margin_rules``)
DEFAULT_MARGIN_RULES: dict[str, MarginRule] = {
    # management fee 0.80 % a year, held six months on average
    "wealth_purchase": MarginRule(rate_bp=80, months=6, basis="fee 0.80%/yr x 6 months held"),
    # net interest margin 3.00 % on the amount for the first year, 60 % of applications approved
    "loan_application": MarginRule(rate_bp=300, months=12, share_bp=6_000,
                                   basis="NIM 3.00%/yr x 12 months x 60% approved"),
    # the operator's commission: 1.00 % of a top-up
    "top_up": MarginRule(rate_bp=100, basis="operator commission 1.00%"),
    # the biller's fee: 0.50 yuan a bill
    "bill_payment": MarginRule(fixed_minor=50, basis="biller fee 0.50 per bill"),
    # deposit spread 1.50 % a year, kept three months on average
    "deposit": MarginRule(rate_bp=150, months=3, basis="deposit spread 1.50%/yr x 3 months"),
    "digital_login": MarginRule(basis="no revenue"),
}


def margin_rules() -> dict[str, MarginRule]:
    """The rules in force: the defaults, each overridden field by field by ``marketing_margin_rules``."""
    override: dict[str, dict[str, Any]] = dict(getattr(get_settings(), "marketing_margin_rules", None) or {})
    out = dict(DEFAULT_MARGIN_RULES)
    for goal, fields in override.items():
        if goal in out:
            base = asdict(out[goal])
            base.update({k: v for k, v in fields.items() if k in base})
            out[goal] = MarginRule(**base)
    return out


def _round_fen(x: Fraction) -> int:
    """Half to even (``Fraction.__round__``)."""
    return round(x)


def margin_for(goal: str, amount_minor: int, rules: dict[str, MarginRule] | None = None) -> int:
    """The bank's margin on one conversion of ``goal`` worth ``amount_minor``, in fen (half to even)."""
    rule = (rules or margin_rules()).get(goal, MarginRule())
    share = Fraction(int(amount_minor) * rule.rate_bp * rule.months * rule.share_bp, 10_000 * 12 * 10_000)
    return rule.fixed_minor + _round_fen(share)


# ------------------------------------------------------------------------------------------------
# goal events from the bank's records: (event_ref, customer id, occurred at, amount in fen)

Event = tuple[str, int, datetime, int]


def goal_events(session: Session, goal: str, customer_ids: Sequence[int], since: datetime, until: datetime
                ) -> list[Event]:
    """The goal's events of these customers between ``since`` and ``until``, from the bank's records (the one
    definition of a conversion: attribution and the journeys' "converted" branch both ask here)."""
    if not customer_ids:
        return []
    ids = list(customer_ids)
    out: list[Event] = []
    for i in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        chunk = ids[i:i + 900]
        if goal == "wealth_purchase":
            W = wealth.WealthOrder
            rows = session.execute(select(W.id, W.customer_id, W.created_at, W.amount_minor).where(
                W.customer_id.in_(chunk), W.kind == "purchase", W.status.not_in(("cancelled", "failed")),
                W.created_at >= since, W.created_at <= until))
            out += [(f"wealth_order:{r[0]}", int(r[1]), r[2], int(r[3] or 0)) for r in rows]
        elif goal == "loan_application":
            L = lending.LoanApplication
            apps = session.execute(select(L.id, L.customer_id, L.created_at, L.amount_minor).where(
                L.customer_id.in_(chunk), L.created_at >= since, L.created_at <= until))
            out += [(f"loan_application:{r[0]}", int(r[1]), r[2], int(r[3])) for r in apps]
        elif goal in ("top_up", "bill_payment", "deposit"):
            T, A = ledger.Transfer, ledger.Account
            side = T.credit_account_id if goal == "deposit" else T.debit_account_id
            cond = [A.customer_id.in_(chunk), T.flags.in_(("posted", "pending")), T.created_at >= since,
                    T.created_at <= until]
            if goal == "deposit":
                cond.append(T.kind == "deposit")
            elif goal == "top_up":
                cond += [T.kind == "bill_payment", T.reference.like("topup:%")]
            else:
                cond += [T.kind == "bill_payment", (T.reference.is_(None)) | ~T.reference.like("topup:%")]
            moves = session.execute(select(T.id, A.customer_id, T.created_at, T.amount_minor)
                                   .join(A, A.id == side).where(and_(*cond)))
            out += [(f"transfer:{r[0]}", int(r[1] or 0), r[2], int(r[3])) for r in moves]
        # digital_login: no record of it yet
    return out


def _utc(at: datetime) -> datetime:
    """SQLite hands timestamps back naive (they are stored in UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _campaign_start(c: Campaign) -> datetime | None:
    raw = (c.schedule or {}).get("start_at")
    if not raw:
        return None
    try:
        return clock.parse_instant(str(raw))
    except ValueError:
        return None


def _touch_at(m: MarketingMessage, before: datetime) -> datetime | None:
    """When ``m`` last touched its customer before ``before``: the click if it came first, else the send."""
    best = None
    for at in (m.sent_at, m.clicked_at):
        if at is not None and _utc(at) <= before and (best is None or _utc(at) > best):
            best = _utc(at)
    return best


def _get_campaign(session: Session, campaign_id: int) -> Campaign:
    c = session.get(Campaign, campaign_id)
    if c is None:
        raise NotFound("campaign not found", reason="marketing.report_campaign_not_found",
                       details={"campaign_id": campaign_id})
    return c


def find_conversions(session: Session, campaign_id: int) -> dict[str, Any]:
    """Write the campaign's new conversions (see the module's docstring); idempotent. Returns counts."""
    c = _get_campaign(session, campaign_id)
    window = timedelta(days=int(c.goal_window_days or 0))
    start = _campaign_start(c)
    now = clock.now()
    assigned = session.execute(select(CampaignAssignment.customer_id, CampaignAssignment.arm,
                                      CampaignAssignment.assigned_at)
                               .where(CampaignAssignment.campaign_id == c.id)).all()
    if not assigned:
        return {"campaign": c.code, "customers": 0, "found": 0, "new": 0}
    opens: dict[int, tuple[str, datetime]] = {}
    for cid, arm, at in assigned:
        o = _utc(at)
        if start is not None and start > o:
            o = start
        opens[int(cid)] = (arm, o)
    since = min(o for _, o in opens.values())
    until = min(max(o for _, o in opens.values()) + window, now)
    events = goal_events(session, c.goal, list(opens), since, until)
    messages: dict[int, list[MarketingMessage]] = defaultdict(list)
    for m in session.scalars(select(MarketingMessage).where(MarketingMessage.campaign_id == c.id,
                                                            MarketingMessage.status.in_(_SENT))):
        messages[int(m.customer_id)].append(m)
    known = set(session.scalars(select(Conversion.event_ref).where(Conversion.campaign_id == c.id)))
    rules = margin_rules()
    found = new = 0
    for ref, cid, at_raw, amount in sorted(events, key=lambda e: (_utc(e[2]), e[0])):
        arm, opened = opens[cid]
        at = _utc(at_raw)
        if not opened <= at <= opened + window:
            continue
        found += 1
        if ref in known:
            continue
        best: tuple[datetime, int] | None = None  # (touched at, message id) of the last touch
        if arm != "holdout":
            for m in messages.get(cid, ()):
                t = _touch_at(m, at)
                if t is not None and at - t <= window and (best is None or (t, m.id) > best):
                    best = (t, m.id)
        session.add(Conversion(campaign_id=c.id, customer_id=cid, arm=arm, goal=c.goal, event_ref=ref,
                               occurred_at=at, amount_minor=amount, margin_minor=margin_for(c.goal, amount, rules),
                               message_id=best[1] if best is not None else None, found_at=now))
        known.add(ref)
        new += 1
    session.flush()
    return {"campaign": c.code, "customers": len(opens), "found": found, "new": new}


def find_all_conversions(session: Session) -> dict[str, Any]:
    """The worker's task ``attribution``: :func:`find_conversions` for every measured campaign."""
    ids = list(session.scalars(select(Campaign.id).where(Campaign.status.in_(MEASURED_STATUSES))
                               .order_by(Campaign.id)))
    new = 0
    for cid in ids:
        new += find_conversions(session, cid)["new"]
    return {"campaigns": len(ids), "new": new}


register_task("attribution", find_all_conversions)


def run_attribution(session: Session, actor: Principal, campaign_id: int | None = None) -> dict[str, Any]:
    """A marketer asks for the conversions now (one campaign or every measured one) instead of waiting for the
    worker; recorded in the audit log."""
    actor.require("marketing.campaigns.manage")
    out = find_conversions(session, campaign_id) if campaign_id is not None else find_all_conversions(session)
    security.audit(session, actor, action="marketing.attribution.run", object_type="campaign",
                   object_id=campaign_id, after={"new": out["new"]})
    return out


# ------------------------------------------------------------------------------------------------
# the report


@dataclass
class _Group:
    customers: int = 0  # contacted-arm customers
    holdout: int = 0
    conversions: int = 0  # of contacted-arm customers
    holdout_conversions: int = 0
    margin_minor: int = 0
    holdout_margin_minor: int = 0
    attributed: int = 0  # conversions with a last touch
    cost_micro: int = 0
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0


def _figures(g: _Group, base: _Group | None, offer_cost_minor: int) -> dict[str, Any]:
    """The group's figures; ``base`` supplies the holdout when the group has none of its own."""
    ref = g if g.holdout or base is None else base
    rate = Fraction(ref.holdout_conversions, ref.holdout) if ref.holdout else Fraction(0)
    per_customer = Fraction(ref.holdout_margin_minor, ref.holdout) if ref.holdout else Fraction(0)
    incr = Fraction(g.conversions) - rate * g.customers
    incr_margin = Fraction(g.margin_minor) - per_customer * g.customers
    cost_micro = g.cost_micro + offer_cost_minor * g.conversions * MICRO_PER_MINOR
    roi = (incr_margin * MICRO_PER_MINOR - cost_micro) / cost_micro if cost_micro else None
    return {
        "customers": g.customers, "holdout_customers": g.holdout,
        "conversions": g.conversions, "holdout_conversions": g.holdout_conversions,
        "attributed_conversions": g.attributed,
        "conversion_rate": round(g.conversions / g.customers, 6) if g.customers else None,
        "holdout_rate": round(float(rate), 6) if ref.holdout else None,
        "baseline": "own" if g.holdout else ("campaign" if base is not None and base.holdout else "none"),
        "incremental_conversions": round(float(incr), 2),
        "margin_minor": g.margin_minor, "holdout_margin_minor": g.holdout_margin_minor,
        "incremental_margin_minor": _round_fen(incr_margin),
        "incremental_margin_micro": round(incr_margin * MICRO_PER_MINOR),  # what sums and ROI of sums use
        "cost_micro": cost_micro, "cost_minor": _round_fen(Fraction(cost_micro, MICRO_PER_MINOR)),
        "roi": None if roi is None else round(float(roi), 4),
        "funnel": {"sent": g.sent, "delivered": g.delivered, "opened": g.opened, "clicked": g.clicked,
                   "converted": g.attributed},
    }


def _segments(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    ids = list(customer_ids)
    out: dict[int, str] = {}
    P = insight.CustomerProfile
    for i in range(0, len(ids), 900):
        for cid, seg in session.execute(select(P.customer_id, P.segment).where(P.customer_id.in_(ids[i:i + 900]))):
            out[int(cid)] = seg or NO_SEGMENT
    return out


def _report(session: Session, c: Campaign) -> dict[str, Any]:
    arms = {a.code: a for a in session.scalars(select(CampaignArm).where(CampaignArm.campaign_id == c.id))}
    assigned = {int(cid): arm for cid, arm in session.execute(
        select(CampaignAssignment.customer_id, CampaignAssignment.arm).where(CampaignAssignment.campaign_id == c.id))}
    segs = _segments(session, assigned)
    offer_cost = int((c.offer or {}).get("cost_minor") or 0)
    total = _Group()
    by: dict[str, dict[str, _Group]] = {"arm": defaultdict(_Group), "channel": defaultdict(_Group),
                                        "segment": defaultdict(_Group)}

    def groups(cid: int, arm: str) -> list[_Group]:
        return [total, by["arm"][arm], by["segment"][segs.get(cid, NO_SEGMENT)]]

    for cid, arm in assigned.items():
        hold = arm == "holdout" or bool(arms.get(arm) and arms[arm].is_holdout)
        for g in groups(cid, arm):
            if hold:
                g.holdout += 1
            else:
                g.customers += 1
    channel_customers: dict[str, set[int]] = defaultdict(set)
    msg_channel: dict[int, str] = {}
    for m in session.scalars(select(MarketingMessage).where(MarketingMessage.campaign_id == c.id)):
        cid = int(m.customer_id)
        msg_channel[m.id] = m.channel
        if m.status not in _SENT:
            continue
        arm = assigned.get(cid, m.arm or "")
        targets = [*groups(cid, arm), by["channel"][m.channel]]
        channel_customers[m.channel].add(cid)
        for g in targets:
            g.cost_micro += int(m.cost_micro or 0)
            g.sent += 1
            g.delivered += 1 if (m.delivered_at is not None or m.status == "delivered") else 0
            g.opened += 1 if m.opened_at is not None else 0
            g.clicked += 1 if m.clicked_at is not None else 0
    for ch, cids in channel_customers.items():
        by["channel"][ch].customers = sum(1 for x in cids if assigned.get(x) != "holdout")
    for v in session.scalars(select(Conversion).where(Conversion.campaign_id == c.id)):
        cid = int(v.customer_id)
        hold = v.arm == "holdout"
        targets = groups(cid, v.arm)
        if not hold:
            targets.append(by["channel"][msg_channel.get(v.message_id or 0, NO_CHANNEL)])
        for g in targets:
            if hold:
                g.holdout_conversions += 1
                g.holdout_margin_minor += int(v.margin_minor)
            else:
                g.conversions += 1
                g.margin_minor += int(v.margin_minor)
                g.attributed += 1 if v.message_id is not None else 0
    rule = margin_rules().get(c.goal, MarginRule())
    out: dict[str, Any] = {
        "campaign_id": c.id, "code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "status": c.status,
        "goal": c.goal, "goal_window_days": c.goal_window_days, "channels": list(c.channels or []),
        "margin_rule": asdict(rule), "offer_cost_minor": offer_cost, **_figures(total, None, offer_cost),
    }
    for dim, gs in by.items():
        rows = []
        for key in sorted(gs):
            if dim == "arm" and key == "holdout":
                continue
            rows.append({"key": key, **_figures(gs[key], total, offer_cost)})
        out[f"by_{dim}"] = rows
    return out


def _require_reader(actor: Principal) -> None:
    actor.require("marketing.reports.read")


def _campaign_by_code(session: Session, code: str) -> Campaign:
    c = session.scalars(select(Campaign).where(Campaign.code == code)).first()
    if c is None:
        raise NotFound("campaign not found", reason="marketing.report_campaign_code", details={"code": code})
    return c


def campaign_report(session: Session, actor: Principal, campaign_id: int) -> dict[str, Any]:
    """One campaign's results: funnel, conversions, incremental conversions and margin, cost and ROI, by arm,
    channel and segment."""
    _require_reader(actor)
    c = _get_campaign(session, campaign_id)
    report = _report(session, c)
    security.audit(session, actor, action="marketing.report.read", object_type="campaign", object_id=c.id)
    return report


def roi_report(session: Session, actor: Principal, *, campaign: str | None = None, by: str = "campaign",
               goal: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """ROI rows: one per campaign (``by="campaign"``), or per arm / channel / segment of each campaign (or of the
    campaign whose code is ``campaign``), optionally only the campaigns of a goal or a status."""
    _require_reader(actor)
    if by not in REPORT_DIMENSIONS:
        raise ValidationFailed("unknown report dimension", reason="marketing.report_dimension",
                               details={"by": by, "allowed": ", ".join(REPORT_DIMENSIONS)})
    if goal is not None and goal not in GOALS:
        raise ValidationFailed("unknown goal", reason="marketing.report_goal",
                               details={"goal": goal, "allowed": ", ".join(GOALS)})
    if campaign:
        camps = [_campaign_by_code(session, campaign)]
    else:
        stmt = select(Campaign).where(Campaign.status.in_((status,) if status else MEASURED_STATUSES))
        if goal:
            stmt = stmt.where(Campaign.goal == goal)
        camps = list(session.scalars(stmt.order_by(Campaign.id)))
    rows: list[dict[str, Any]] = []
    for c in camps:
        rep = _report(session, c)
        head = {"campaign_id": c.id, "code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "goal": c.goal,
                "status": c.status}
        if by == "campaign":
            rows.append({**head, "key": c.code, **{k: v for k, v in rep.items() if not k.startswith("by_")
                                                    and k not in head}})
        else:
            rows += [{**head, **r} for r in rep[f"by_{by}"]]
    return rows


def _finish(g: dict[str, Any]) -> None:
    """Fen figures and ROI of a sum of rows (summed at micro-yuan precision)."""
    cost, margin = int(g["cost_micro"]), int(g["incremental_margin_micro"])
    g["cost_minor"] = _round_fen(Fraction(cost, MICRO_PER_MINOR))
    g["incremental_margin_minor"] = _round_fen(Fraction(margin, MICRO_PER_MINOR))
    g["roi"] = round((margin - cost) / cost, 4) if cost else None


def _sum_rows(rows: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        k = str(r["key"])
        g = out.setdefault(k, {"key": k, "incremental_margin_micro": 0, "cost_micro": 0, "conversions": 0,
                               "incremental_conversions": 0.0, "customers": 0})
        g["customers"] += int(r["customers"])
        g["incremental_margin_micro"] += int(r["incremental_margin_micro"])
        g["cost_micro"] += int(r["cost_micro"])
        g["conversions"] += int(r["conversions"])
        g["incremental_conversions"] = round(g["incremental_conversions"] + float(r["incremental_conversions"]), 2)
    for g in out.values():
        _finish(g)
    return {"by": key, "rows": sorted(out.values(), key=lambda g: g["key"])}


def marketing_overview(session: Session, actor: Principal, *, goal: str | None = None,
                       status: str | None = None) -> dict[str, Any]:
    """The marketing home's figures: every measured campaign with its ROI, the funnel of them all, and ROI by
    channel and by segment summed over the campaigns (the sums of each campaign's incremental margin and cost)."""
    campaigns = roi_report(session, actor, by="campaign", goal=goal, status=status)
    funnel = {k: 0 for k in ("sent", "delivered", "opened", "clicked", "converted")}
    for r in campaigns:
        for k in funnel:
            funnel[k] += int(r["funnel"][k])
    totals = {"incremental_margin_micro": sum(int(r["incremental_margin_micro"]) for r in campaigns),
              "cost_micro": sum(int(r["cost_micro"]) for r in campaigns),
              "conversions": sum(int(r["conversions"]) for r in campaigns),
              "incremental_conversions": round(sum(float(r["incremental_conversions"]) for r in campaigns), 2)}
    _finish(totals)
    by_channel = _sum_rows(roi_report(session, actor, by="channel", goal=goal, status=status), "channel")
    by_segment = _sum_rows(roi_report(session, actor, by="segment", goal=goal, status=status), "segment")
    return {"campaigns": campaigns, "funnel": funnel, "totals": totals, "by_channel": by_channel["rows"],
            "by_segment": by_segment["rows"], "filters": {"goal": goal, "status": status}}
