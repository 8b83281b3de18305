"""The risk alert queue and case management.

A payment scored ``review`` (its money held as a pending transfer) or ``block`` (nothing moved) opens
an alert (:func:`open_alert`, called by the decision path in the payment's transaction). Risk officers
work the queue: assign, add notes, read the case (decision, score, reasons, rule hits, the customer's
recent payments, decisions and notifications) and resolve it:

=====================  ==============================  =====================================
payment state          resolution -> allowed actions   ledger operation (once per alert)
=====================  ==============================  =====================================
held (pending)         false_alarm -> release | void   ``resolve_pending(post=True|False)``
                       fraud -> void
posted                 fraud -> reverse | none         a reversal *request* (maker-checker)
                       false_alarm -> none
none (blocked)         fraud | false_alarm -> none     -
=====================  ==============================  =====================================

A reversal is never posted by one person: resolving a posted payment as fraud with ``reverse`` asks for it
(:mod:`smartbank.ledger.reversals`; the alert's action is ``reverse_pending``) and a second officer approves
or rejects the request in the back office, which then calls :func:`reversal_decided` (action ``reversed``
and the customer told, or ``none``). Voiding a held payment tells the payment-voided listeners
(:func:`smartbank.risk.hooks.on_payment_voided`: payments reopens a bill the payment paid) in the same
transaction.

Each resolution writes a :class:`RiskLabel` (1 fraud, 0 genuine; none when there is no transfer), case
events, an audit record and a customer notification, and tells the online features the label once it
commits (:func:`smartbank.risk.engine.on_label`). The alert row is locked first, so two officers resolving
the same alert at once move money once: the second sees a closed alert (409). Ledger idempotency keys
derive from the alert id, so a retried request cannot move money twice either.

Only risk officers (and administrators) see or touch alerts; every other role gets 403.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.db import after_commit
from smartbank.db import aware as _aware
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.money import format_minor
from smartbank.notifications import service as notifications
from smartbank.risk import engine, hooks
from smartbank.risk.models import ALERT_RESOLUTIONS, ALERT_STATUSES, RiskAlert, RiskAlertEvent, RiskDecision, RiskLabel
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.statements import service as statements
from smartbank.text import clean_text

__all__ = [
    "ACTIONS", "HIGH_AMOUNT_MINOR", "HIGH_SCORE", "OFFICER_ROLES", "add_note", "allowed_actions", "assign", "counts",
    "customer_notification_texts", "get_case", "open_alert", "priority_of", "queue", "resolve",
    "reversal_decided",
]

OFFICER_ROLES = security.roles_for("risk.alerts.manage")
ACTIONS = ("release", "void", "reverse", "none")
# what the alert records: a reversal waits for a second officer (``reverse_pending``) until it is decided
_DONE = {"release": "released", "void": "voided", "reverse": "reverse_pending", "none": "none"}
HIGH_SCORE = 0.8  # a model score at or above this makes an alert high priority
HIGH_AMOUNT_MINOR = 5_000_000  # as does an amount of CNY 50,000 or more
MAX_NOTE = 2000
QUEUE_FILTERS = ("active", "all", *ALERT_STATUSES)


def _now() -> datetime:
    return clock.now()


def _iso(dt: datetime | None) -> str | None:
    a = _aware(dt)
    return a.isoformat() if a is not None else None


def _require_officer(actor: Principal) -> None:
    actor.require_role(*OFFICER_ROLES)


def _event(session: Session, alert_id: int, actor_id: int | None, event: str, note: str | None = None) -> None:
    session.add(RiskAlertEvent(alert_id=alert_id, at=_now(), actor_id=actor_id or None, event=event, note=note))


def _load(session: Session, alert_id: int, *, lock: bool = False) -> RiskAlert:
    stmt = select(RiskAlert).where(RiskAlert.id == alert_id)
    if lock:  # serialise every writer of one alert (FOR UPDATE on PostgreSQL; SQLite has one writer)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    alert = session.scalars(stmt).first()
    if alert is None:
        raise NotFound("alert not found", details={"alert_id": alert_id})
    return alert


# ------------------------------------------------------------------------------------------------
# opening


def priority_of(decision: RiskDecision) -> int:
    """1 high (blocked, a failed one-time-code challenge, a high score or a large amount), 2 a payment held
    for review, 3 anything else."""
    if decision.decision == "block" or decision.outcome == "challenge_failed":
        return 1
    if decision.score is not None and decision.score >= HIGH_SCORE:
        return 1
    if decision.amount_minor >= HIGH_AMOUNT_MINOR:
        return 1
    return 2 if decision.decision == "review" else 3


def open_alert(session: Session, *, decision: RiskDecision) -> RiskAlert:
    """The alert of a decision, opened once (a second call returns the first alert). Flushes.

    Called by the decision path for review and block decisions, in the payment's transaction."""
    if decision.id is None:
        session.flush()
    existing = session.scalars(select(RiskAlert).where(RiskAlert.decision_id == decision.id)).first()
    if existing is not None:
        return existing
    alert = RiskAlert(
        decision_id=decision.id, customer_id=decision.customer_id, transfer_id=decision.transfer_id,
        decision=decision.decision, amount_minor=decision.amount_minor, currency=decision.currency,
        score=decision.score, priority=priority_of(decision), status="open", created_at=_now(),
    )
    session.add(alert)
    session.flush()
    score = "none" if decision.score is None else f"{decision.score:.3f}"
    _event(session, alert.id, None, "created",
           f"decision {decision.decision}, score {score}, model {decision.model_version}")
    session.flush()
    return alert


# ------------------------------------------------------------------------------------------------
# reading


def _users(session: Session, ids: set[int]) -> dict[int, str]:
    return security.display_names(session, ids)


def _customer_brief(session: Session, customer_id: int | None, cache: dict[int, dict[str, Any]]) -> dict[str, Any]:
    if customer_id is None:
        return {"id": None, "number": None, "name": None}
    if customer_id not in cache:
        try:
            c = customers.get_customer(session, customer_id)
            cache[customer_id] = {"id": c.id, "number": c.number, "name": c.name}
        except NotFound:
            cache[customer_id] = {"id": customer_id, "number": None, "name": None}
    return cache[customer_id]


def _alert_dict(a: RiskAlert, *, now: datetime, users: dict[int, str], customer: dict[str, Any]) -> dict[str, Any]:
    created = _aware(a.created_at)
    closed = _aware(a.closed_at)
    age = int(((closed or now) - created).total_seconds()) if created is not None else None
    return {
        "id": a.id, "decision_id": a.decision_id, "customer_id": a.customer_id,
        "customer_name": customer.get("name"), "customer_number": customer.get("number"),
        "transfer_id": a.transfer_id, "decision": a.decision, "amount_minor": a.amount_minor, "currency": a.currency,
        "score": a.score, "priority": a.priority, "status": a.status, "assigned_to": a.assigned_to,
        "assigned_name": users.get(a.assigned_to) if a.assigned_to else None, "resolution": a.resolution,
        "action": a.action, "created_at": _iso(a.created_at), "closed_at": _iso(a.closed_at), "age_seconds": age,
    }


def queue(session: Session, actor: Principal, *, status: str | None = None, assigned_to: int | None = None,
          limit: int = 50) -> list[dict[str, Any]]:
    """Alerts, most urgent first: ``status`` None or "active" (open and investigating), "all", or one
    status; ``assigned_to`` a user id. Closed alerts come most recently closed first."""
    _require_officer(actor)
    st = status or "active"
    if st not in QUEUE_FILTERS:
        raise ValidationFailed("unknown alert status", details={"status": status, "allowed": list(QUEUE_FILTERS)})
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500", details={"limit": limit})
    stmt = select(RiskAlert)
    if st == "active":
        stmt = stmt.where(RiskAlert.status != "closed")
    elif st != "all":
        stmt = stmt.where(RiskAlert.status == st)
    if assigned_to is not None:
        stmt = stmt.where(RiskAlert.assigned_to == assigned_to)
    if st == "closed":
        stmt = stmt.order_by(RiskAlert.closed_at.desc(), RiskAlert.id.desc())
    else:
        closed_last = (RiskAlert.status == "closed")
        stmt = stmt.order_by(closed_last, RiskAlert.priority, RiskAlert.created_at, RiskAlert.id)
    alerts = list(session.scalars(stmt.limit(limit)))
    users = _users(session, {a.assigned_to for a in alerts if a.assigned_to})
    cache: dict[int, dict[str, Any]] = {}
    now = _now()
    out = [_alert_dict(a, now=now, users=users, customer=_customer_brief(session, a.customer_id, cache))
           for a in alerts]
    security.audit_reads(session, actor, action="risk_alerts.list", customer_ids=[a.customer_id for a in alerts],
                         shown={"status": st})
    return out


def counts(session: Session, actor: Principal) -> dict[str, int]:
    """Alerts per status, and the active ones assigned to the actor (``mine``)."""
    _require_officer(actor)
    out = dict.fromkeys(ALERT_STATUSES, 0)
    for st, n in session.execute(select(RiskAlert.status, func.count()).group_by(RiskAlert.status)):
        out[st] = int(n)
    out["mine"] = int(session.scalar(select(func.count()).select_from(RiskAlert).where(
        RiskAlert.assigned_to == actor.user_id, RiskAlert.status != "closed")) or 0)
    return out


def _payment_state(session: Session, transfer_id: int | None) -> tuple[str, dict[str, Any] | None]:
    """none (nothing moved), held (a pending transfer) or posted, with the transfer."""
    if transfer_id is None:
        return "none", None
    try:
        t = ledger.get_transfer(session, transfer_id)
    except NotFound:
        return "none", None
    if t["flags"] == "pending":
        return "held", t
    if t["flags"] in ("posted", "post_pending"):
        return "posted", t
    return "other", t


def allowed_actions(state: str) -> dict[str, list[str]]:
    """Per resolution, the actions a payment in ``state`` (none | held | posted) allows."""
    if state == "held":
        return {"false_alarm": ["release", "void"], "fraud": ["void"]}
    if state == "posted":
        return {"false_alarm": ["none"], "fraud": ["reverse", "none"]}
    return {"false_alarm": ["none"], "fraud": ["none"]}


def _decision_dict(d: RiskDecision) -> dict[str, Any]:
    return {
        "id": d.id, "created_at": _iso(d.created_at), "transfer_id": d.transfer_id, "customer_id": d.customer_id,
        "account_id": d.account_id, "counterparty_account_id": d.counterparty_account_id, "channel": d.channel,
        "kind": d.kind, "product": d.product, "amount_minor": d.amount_minor, "currency": d.currency,
        "decision": d.decision, "score": d.score, "model_version": d.model_version,
        "rules_version": d.rules_version, "rule_hits": list(d.rule_hits or []), "reasons": list(d.reasons or []),
        "features": dict(d.features or {}), "outcome": d.outcome,
    }


def _account_brief(session: Session, account_id: int | None) -> dict[str, Any] | None:
    if account_id is None:
        return None
    acct = ledger.find_account(session, account_id)
    if acct is None:
        return None
    name = acct.name
    if acct.customer_id is not None:
        with contextlib.suppress(NotFound):
            name = customers.get_customer(session, acct.customer_id).name
    return {"id": acct.id, "number": acct.number, "name": name, "customer_id": acct.customer_id, "kind": acct.kind}


def _payments(session: Session, customer_id: int, limit: int) -> list[dict[str, Any]]:
    """The customer's most recent ledger entries over all accounts (the statements read model)."""
    items: list[dict[str, Any]] = []
    for acct in ledger.customer_accounts(session, customer_id):
        for it in statements.history(session, acct, statements.HistoryFilter(limit=limit))["items"]:
            items.append({**it, "account_number": acct.number})
    items.sort(key=lambda it: (it["created_at"], it["entry_id"]), reverse=True)
    return items[:limit]


def get_case(session: Session, actor: Principal, alert_id: int, *, lang: str = "en",
             timeline: int = 20) -> dict[str, Any]:
    """One case: the alert, its decision, the payment and who it went to, the customer's recent
    payments, decisions and notifications, the case events and the actions still open."""
    _require_officer(actor)
    alert = _load(session, alert_id)
    security.audit_reads(session, actor, action="risk_case.read", customer_ids=[alert.customer_id],
                         shown={"alert_id": alert.id})
    d = session.get(RiskDecision, alert.decision_id)
    state, transfer = _payment_state(session, alert.transfer_id)
    events = list(session.scalars(select(RiskAlertEvent).where(RiskAlertEvent.alert_id == alert.id)
                                  .order_by(RiskAlertEvent.at, RiskAlertEvent.id)))
    ids = {e.actor_id for e in events if e.actor_id}
    if alert.assigned_to:
        ids.add(alert.assigned_to)
    users = _users(session, ids)
    cache: dict[int, dict[str, Any]] = {}
    customer = _customer_brief(session, alert.customer_id, cache)
    decisions: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    if alert.customer_id is not None:
        alerts_by_decision = dict(session.execute(
            select(RiskAlert.decision_id, RiskAlert.id).where(RiskAlert.customer_id == alert.customer_id)).all())
        for r in session.scalars(select(RiskDecision).where(RiskDecision.customer_id == alert.customer_id)
                                 .order_by(RiskDecision.created_at.desc(), RiskDecision.id.desc()).limit(timeline)):
            decisions.append({"id": r.id, "created_at": _iso(r.created_at), "decision": r.decision, "score": r.score,
                              "amount_minor": r.amount_minor, "currency": r.currency, "kind": r.kind,
                              "channel": r.channel, "transfer_id": r.transfer_id,
                              "alert_id": alerts_by_decision.get(r.id), "outcome": r.outcome})
        if customer.get("number") is not None:
            payments = _payments(session, alert.customer_id, timeline)
            notes = [notifications.as_dict(n, lang)
                     for n in notifications.list_for(session, actor, alert.customer_id, limit=timeline)]
    label = None
    if alert.transfer_id is not None:
        lab = session.scalars(select(RiskLabel).where(RiskLabel.transfer_id == alert.transfer_id)).first()
        if lab is not None:
            label = {"label": lab.label, "source": lab.source, "created_at": _iso(lab.created_at)}
    return {
        "alert": _alert_dict(alert, now=_now(), users=users, customer=customer),
        "decision": _decision_dict(d) if d is not None else None,
        "payment_state": state,
        "transfer": transfer,
        "payer_account": _account_brief(session, d.account_id if d is not None else None),
        "counterparty": _account_brief(session, d.counterparty_account_id if d is not None else None),
        "customer": customer,
        "timeline": {"payments": payments, "decisions": decisions, "notifications": notes},
        "events": [{"id": e.id, "at": _iso(e.at), "actor_id": e.actor_id,
                    "actor_name": users.get(e.actor_id) if e.actor_id else None, "event": e.event, "note": e.note}
                   for e in events],
        "label": label,
        "allowed": allowed_actions(state) if alert.status != "closed" else {},
    }


# ------------------------------------------------------------------------------------------------
# working a case


def _alert_snapshot(a: RiskAlert) -> dict[str, Any]:
    return {"status": a.status, "assigned_to": a.assigned_to, "resolution": a.resolution, "action": a.action}


def assign(session: Session, actor: Principal, alert_id: int, *, user_id: int | None = None) -> dict[str, Any]:
    """Give the alert to a risk officer (by default the actor); an open alert becomes investigating."""
    _require_officer(actor)
    target = actor.user_id if user_id is None else user_id
    user = security.find_user(session, target) if target else None
    if user is None or not user.is_active or user.role not in (*OFFICER_ROLES, "admin"):
        raise ValidationFailed("alerts are assigned to an active risk officer", details={"user_id": target})
    alert = _load(session, alert_id, lock=True)
    if alert.status == "closed":
        raise Conflict("the alert is closed", details={"alert_id": alert.id})
    before = _alert_snapshot(alert)
    alert.assigned_to = user.id
    alert.status = "investigating"
    _event(session, alert.id, actor.user_id, "assigned", user.display_name or user.username)
    security.audit(session, actor, action="risk_alert.assign", object_type="risk_alert", object_id=alert.id,
                   before=before, after=_alert_snapshot(alert))
    session.flush()
    return {"id": alert.id, "status": alert.status, "assigned_to": alert.assigned_to}


def add_note(session: Session, actor: Principal, alert_id: int, note: str) -> dict[str, Any]:
    """A note on the case's timeline (also after it is closed)."""
    _require_officer(actor)
    text = clean_text(note, "the note", MAX_NOTE, empty="the note is empty")
    alert = _load(session, alert_id, lock=True)
    _event(session, alert.id, actor.user_id, "note", text)
    session.flush()
    return {"id": alert.id, "status": alert.status}


def customer_notification_texts(*, action: str, resolution: str, amount_minor: int, currency: str,
                                payee: str | None) -> dict[str, str]:
    """The customer's words for a case outcome, in English and Chinese."""
    amt = format_minor(amount_minor, currency, grouping=True, symbol=True)
    to_en = f" to {payee}" if payee else ""
    to_zh = f"向{payee}" if payee else ""
    if action == "released":
        return {"kind": "payment_released", "title_en": "Your payment has been released",
                "title_zh": "您的付款已放行",
                "body_en": f"Your payment of {amt}{to_en} was checked and released. It has now been paid.",
                "body_zh": f"您{to_zh}支付的 {amt} 已核实并放行，款项已付出。"}
    if action == "voided":
        return {"kind": "payment_stopped", "title_en": "Your payment was stopped", "title_zh": "您的付款已被拦截",
                "body_en": f"Your payment of {amt}{to_en} was stopped and the money returned to your account. "
                           "If you did not make this payment, please contact us.",
                "body_zh": f"您{to_zh}支付的 {amt} 已被拦截，款项已退回您的账户。如非本人操作，请联系我们。"}
    if action == "reversed":
        return {"kind": "payment_reversed", "title_en": "Your payment was reversed", "title_zh": "您的付款已退回",
                "body_en": f"Your payment of {amt}{to_en} was found to be fraudulent. It was reversed and the "
                           "money returned to your account.",
                "body_zh": f"您{to_zh}支付的 {amt} 经核实为欺诈交易，已冲正，款项已退回您的账户。"}
    if resolution == "false_alarm":
        return {"kind": "payment_review_closed", "title_en": "We have finished checking your payment",
                "title_zh": "付款核查已完成",
                "body_en": f"We checked your payment of {amt}{to_en} and found nothing wrong. "
                           "If it was stopped, you can make it again.",
                "body_zh": f"我们已核查您{to_zh}支付的 {amt}，未发现问题。如付款被拦截，您可以重新发起。"}
    return {"kind": "payment_review_closed", "title_en": "We have finished checking your payment",
            "title_zh": "付款核查已完成",
            "body_en": f"We checked your payment of {amt}{to_en} and confirmed it was not made by you. "
                       "It did not go through. Please contact us if you have questions.",
            "body_zh": f"我们已核查您{to_zh}支付的 {amt}，确认并非本人操作，该笔付款未成功。如有疑问请联系我们。"}


def resolve(session: Session, actor: Principal, alert_id: int, *, resolution: str, action: str,
            note: str = "") -> dict[str, Any]:
    """Close a case: confirm fraud or a false alarm and release, void or reverse the payment (once).

    Bad input is refused before anything is written; a closed alert is a 409."""
    _require_officer(actor)
    if resolution not in ALERT_RESOLUTIONS:
        raise ValidationFailed("resolution is fraud or false_alarm", details={"resolution": resolution})
    if action not in ACTIONS:
        raise ValidationFailed("action is release, void, reverse or none", details={"action": action})
    note = clean_text(note, "the note", MAX_NOTE, required=False)
    if action == "reverse" and not note:  # undoing a paid-out payment: the officer says why (the approver reads it)
        raise ValidationFailed("a reversal needs its reason in the note", reason="risk.reverse_reason_required")
    alert = _load(session, alert_id, lock=True)
    if alert.status == "closed":
        raise Conflict("the alert is already resolved",
                       details={"alert_id": alert.id, "resolution": alert.resolution, "action": alert.action})
    state, transfer = _payment_state(session, alert.transfer_id)
    allowed = allowed_actions(state).get(resolution, [])
    if action not in allowed:
        raise ValidationFailed(f"a {state} payment confirmed as {resolution} allows: {', '.join(allowed)}",
                               reason="risk.action_not_allowed",
                               details={"payment_state": state, "resolution": resolution, "action": action,
                                        "allowed": allowed})
    before = _alert_snapshot(alert)
    key = f"risk-alert:{alert.id}:{action}"
    memo = f"risk alert #{alert.id}: {resolution}"
    moved: int | None = None
    asked: int | None = None
    if action in ("release", "void") and transfer is not None:
        moved = ledger.resolve_pending(session, pending_id=transfer["id"], post=action == "release", key=key,
                                       initiated_by=actor.user_id or None, memo=memo).id
    elif action == "reverse" and transfer is not None:
        # maker-checker: this officer asks, a different one approves (and the reversal posts) in the back office
        asked = ledger.request_reversal(
            session, transfer_id=transfer["id"], key=key, requested_by=actor.user_id or None,
            reason=(f"{memo}: {note}" if note else memo)[:ledger.MAX_REVERSAL_REASON], alert_id=alert.id)[0].id
    if action == "void" and transfer is not None:
        hooks.payment_voided(session, transfer["id"])  # payments: a stopped bill payment leaves the bill unpaid
    done = _DONE[action]
    alert.status = "closed"
    alert.resolution = resolution
    alert.action = done
    alert.closed_at = _now()
    if alert.assigned_to is None:
        alert.assigned_to = actor.user_id or None
    _event(session, alert.id, actor.user_id, "fraud_confirmed" if resolution == "fraud" else "false_alarm",
           note or None)
    if asked is not None:
        _event(session, alert.id, actor.user_id, "reversal_requested", f"reversal request #{asked}")
    elif done != "none":
        _event(session, alert.id, actor.user_id, done, f"transfer #{moved}")
    fraud = resolution == "fraud"
    if alert.transfer_id is not None:
        lab = session.scalars(select(RiskLabel).where(RiskLabel.transfer_id == alert.transfer_id)
                              .with_for_update()).first()
        if lab is None:
            session.add(RiskLabel(transfer_id=alert.transfer_id, decision_id=alert.decision_id,
                                  customer_id=alert.customer_id, label=int(fraud), source="case",
                                  created_by=actor.user_id or None, created_at=_now()))
        else:  # a confirmed case outcome supersedes an earlier label (e.g. a passed challenge)
            lab.label, lab.source, lab.created_by, lab.decision_id = int(fraud), "case", actor.user_id or None, \
                alert.decision_id
    security.audit(session, actor, action="risk_alert.resolve", object_type="risk_alert", object_id=alert.id,
                   before=before, after={**_alert_snapshot(alert), "transfer_id": alert.transfer_id,
                                         "ledger_transfer_id": moved, "reversal_request_id": asked},
                   note=note or None)
    if asked is None:  # a reversal is told to the customer when it happens
        _notify(session, alert, done=done, resolution=resolution)
    session.flush()
    if alert.transfer_id is not None:
        tid = alert.transfer_id
        after_commit(session, lambda: engine.on_label(tid, fraud))  # a resolution rolled back labels nothing
    return {"id": alert.id, "status": alert.status, "resolution": alert.resolution, "action": alert.action,
            "transfer_id": alert.transfer_id, "ledger_transfer_id": moved, "reversal_request_id": asked}


def _notify(session: Session, alert: RiskAlert, *, done: str, resolution: str) -> None:
    if alert.customer_id is None:
        return
    d = session.get(RiskDecision, alert.decision_id)
    cp = _account_brief(session, d.counterparty_account_id if d is not None else None)
    texts = customer_notification_texts(action=done, resolution=resolution, amount_minor=alert.amount_minor,
                                        currency=alert.currency, payee=cp["name"] if cp else None)
    notifications.notify(session, customer_id=alert.customer_id, kind=texts["kind"], title_en=texts["title_en"],
                         title_zh=texts["title_zh"], body_en=texts["body_en"], body_zh=texts["body_zh"],
                         ref=f"transfer:{alert.transfer_id}" if alert.transfer_id is not None
                         else f"decision:{alert.decision_id}")


def reversal_decided(session: Session, actor: Principal, alert_id: int, *, executed: bool,
                     reversal_id: int | None = None, note: str = "") -> None:
    """The second officer decided the reversal this alert asked for: posted (the alert's action becomes
    ``reversed`` and the customer is told) or rejected (``none``: no money moved). Called by the back office
    in the decision's transaction."""
    alert = _load(session, alert_id, lock=True)
    if alert.action != _DONE["reverse"]:
        return
    before = _alert_snapshot(alert)
    if executed:
        alert.action = "reversed"
        _event(session, alert.id, actor.user_id, "reversed", f"transfer #{reversal_id}")
    else:
        alert.action = "none"
        _event(session, alert.id, actor.user_id, "reversal_rejected", note or None)
    security.audit(session, actor, action="risk_alert.reversal_decided", object_type="risk_alert",
                   object_id=alert.id, before=before, after={**_alert_snapshot(alert),
                                                             "ledger_transfer_id": reversal_id},
                   note=note or None)
    if executed:
        _notify(session, alert, done="reversed", resolution=alert.resolution or "fraud")
    session.flush()


def customer_flags(session: Session, customer_id: int) -> dict[str, int]:
    """What risk knows against a customer, for other modules' decisions (e.g. credit policy): confirmed
    fraud labels and alerts still open."""
    confirmed = session.scalar(select(func.count()).select_from(RiskLabel)
                               .where(RiskLabel.customer_id == customer_id, RiskLabel.label == 1))
    open_alerts = session.scalar(select(func.count()).select_from(RiskAlert)
                                 .where(RiskAlert.customer_id == customer_id, RiskAlert.status != "closed"))
    return {"confirmed": int(confirmed or 0), "open": int(open_alerts or 0)}
