"""Live risk metrics, key risk indicators (KRIs) with early warnings, and fraud-model drift (PSI).

**Metrics** (:data:`METRICS`, ``name -> fn(session, start, end) -> float | None``; ``None`` means "no
data", never zero). Every metric reads the window ``[start, end)``:

* ``fraud_rate`` - confirmed frauds per scored payment: decisions made in the window whose payment
  carries a fraud label (``risk_labels.label = 1``, matched by decision id or transfer id), divided by
  all decisions made in the window. Labels arrive late, so a recent window reads low.
* ``alert_backlog`` - alerts open or under investigation at ``end`` (created before ``end`` and not
  closed by then).
* ``alert_oldest_hours`` - age at ``end``, in hours, of the oldest alert in that backlog.
* ``block_rate`` / ``challenge_rate`` / ``review_rate`` - share of the window's decisions with that
  decision.
* ``challenge_fail_rate`` - challenges of the window that failed, out of those passed or failed.
* ``false_alarm_share`` - alerts closed in the window as ``false_alarm``, out of all alerts closed in
  the window with a resolution.
* ``model_psi`` - the PSI of the latest model-monitor period ending by ``end`` (the largest across
  model versions).
* ``delinquency_rate`` - share of active loans' outstanding principal that is 1+ days past due, as of the
  last loan close of day (a point in time, not the window); ``None`` when there are no active loans.
* ``reputational_risk`` - high-severity public-opinion alerts open at ``end`` (a point in time); provided by
  the opinion domain; ``None`` without it or before any mention was ingested.

**KRIs** (``risk_kris``) bind a register entry to a metric over a trailing window of ``window_days``
with a warning and a breach threshold (``direction`` ``above``: higher is worse; ``below``: lower is
worse). :func:`evaluate_kris` stores each value and level (ok / warning / breach / no_data) and raises an
early warning (``risk_warnings``) only when the level gets worse than the KRI's previous level, so an
ongoing breach warns once.

**Model drift** (:func:`model_drift`): the score distribution of the last period's decisions, per
model version, against a reference, by the population stability index over fixed bins
(:data:`SCORE_BINS`). The reference is the model's training distribution when its registry
``meta.json`` has ``score_bins`` (counts or shares per bin of :data:`SCORE_BINS`), else the model
version's first period of live decisions. PSI < 0.1 is ok, 0.1-0.25 a warning, > 0.25 drift (which
raises one early warning until the drift ends).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.ml import service as ml
from smartbank.risk import hooks
from smartbank.risk import limits as risk_limits
from smartbank.risk import register as risk_register
from smartbank.risk.fraud_model import MODEL_NAME
from smartbank.risk.limits import LOCAL_TZ
from smartbank.risk.models import (
    RiskAlert,
    RiskDecision,
    RiskKri,
    RiskKriValue,
    RiskLabel,
    RiskModelMonitor,
    RiskRegisterEntry,
    RiskWarning,
)
from smartbank.security import service as security
from smartbank.security.service import Principal, audit

__all__ = ["METRICS", "METRIC_INFO", "MONITOR_READERS", "PSI_DRIFT", "PSI_WARNING", "SCORE_BINS", "acknowledge",
           "current_kris",
           "evaluate_kris", "kri_level", "list_kris", "list_warnings", "model_drift", "psi", "raise_warning", "run"]

MONITOR_READERS = security.roles_for("risk.monitor.read")
Metric = Callable[[Session, datetime, datetime], float | None]


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# ------------------------------------------------------------------------------------------------
# metrics


def _decision_count(session: Session, start: datetime, end: datetime, *where: Any) -> int:
    D = RiskDecision
    return int(session.execute(select(func.count()).select_from(D)
                               .where(D.created_at >= _utc(start), D.created_at < _utc(end), *where)).scalar() or 0)


def _share(session: Session, start: datetime, end: datetime, decision: str) -> float | None:
    n = _decision_count(session, start, end)
    if n == 0:
        return None
    return _decision_count(session, start, end, RiskDecision.decision == decision) / n


def fraud_rate(session: Session, start: datetime, end: datetime) -> float | None:
    D, L = RiskDecision, RiskLabel
    n = _decision_count(session, start, end)
    if n == 0:
        return None
    labelled = exists().where(L.label == 1, or_(L.decision_id == D.id,
                                                and_(D.transfer_id.is_not(None), L.transfer_id == D.transfer_id)))
    return _decision_count(session, start, end, labelled) / n


def _backlog(session: Session, end: datetime) -> list[datetime]:
    A = RiskAlert
    end = _utc(end)
    rows = session.execute(select(A.created_at).where(
        A.created_at < end, or_(A.closed_at.is_(None), A.closed_at >= end),
        or_(A.status != "closed", A.closed_at.is_not(None)))).scalars()
    return [_utc(r) for r in rows]


def alert_backlog(session: Session, start: datetime, end: datetime) -> float | None:
    return float(len(_backlog(session, end)))


def alert_oldest_hours(session: Session, start: datetime, end: datetime) -> float | None:
    created = _backlog(session, end)
    if not created:
        return 0.0
    return (_utc(end) - min(created)).total_seconds() / 3600


def challenge_fail_rate(session: Session, start: datetime, end: datetime) -> float | None:
    D = RiskDecision
    done = _decision_count(session, start, end, D.decision == "challenge",
                           D.outcome.in_(("challenge_passed", "challenge_failed")))
    if done == 0:
        return None
    return _decision_count(session, start, end, D.decision == "challenge", D.outcome == "challenge_failed") / done


def false_alarm_share(session: Session, start: datetime, end: datetime) -> float | None:
    A = RiskAlert
    rows = dict(session.execute(select(A.resolution, func.count()).where(
        A.closed_at >= _utc(start), A.closed_at < _utc(end), A.resolution.is_not(None)).group_by(A.resolution)).all())
    total = sum(int(v) for v in rows.values())
    if total == 0:
        return None
    return int(rows.get("false_alarm", 0)) / total


def model_psi(session: Session, start: datetime, end: datetime) -> float | None:
    M = RiskModelMonitor
    last = session.execute(select(func.max(M.period_end)).where(
        M.period_end <= _local_date(end), M.psi.is_not(None))).scalar()
    if last is None:
        return None
    v = session.execute(select(func.max(M.psi)).where(M.period_end == last, M.psi.is_not(None))).scalar()
    return None if v is None else float(v)


def delinquency_rate(session: Session, start: datetime, end: datetime) -> float | None:
    """Share of active loans' outstanding principal 1+ days past due (lending's state at its last close of
    day); None when there are no active loans. Lending provides it (:func:`smartbank.risk.hooks.provide_metric`);
    without its provider the metric has no data."""
    provider = hooks.metric_provider("delinquency_rate")
    return None if provider is None else provider(session, start, end)


def reputational_risk(session: Session, start: datetime, end: datetime) -> float | None:
    """High-severity public-opinion alerts open at ``end``; the opinion domain provides it."""
    provider = hooks.metric_provider("reputational_risk")
    return None if provider is None else provider(session, start, end)


METRICS: dict[str, Metric] = {
    "fraud_rate": fraud_rate,
    "alert_backlog": alert_backlog,
    "alert_oldest_hours": alert_oldest_hours,
    "block_rate": lambda s, a, b: _share(s, a, b, "block"),
    "challenge_rate": lambda s, a, b: _share(s, a, b, "challenge"),
    "review_rate": lambda s, a, b: _share(s, a, b, "review"),
    "challenge_fail_rate": challenge_fail_rate,
    "false_alarm_share": false_alarm_share,
    "model_psi": model_psi,
    "delinquency_rate": delinquency_rate,
    "reputational_risk": reputational_risk,
}

# name -> (unit, English, Chinese); unit: share (0-1, shown as %), count, hours, index
METRIC_INFO: dict[str, tuple[str, str, str]] = {
    "fraud_rate": ("share", "Confirmed frauds per scored payment", "已确认欺诈占评分付款比例"),
    "alert_backlog": ("count", "Alerts open or under investigation", "未结案预警数"),
    "alert_oldest_hours": ("hours", "Age of the oldest open alert (hours)", "最久未结预警时长（小时）"),
    "block_rate": ("share", "Share of payments blocked", "拦截比例"),
    "challenge_rate": ("share", "Share of payments challenged", "加验比例"),
    "review_rate": ("share", "Share of payments held for review", "挂起复核比例"),
    "challenge_fail_rate": ("share", "Share of challenges failed", "加验失败比例"),
    "false_alarm_share": ("share", "Share of closed alerts that were false alarms", "误报占已结预警比例"),
    "model_psi": ("index", "Fraud model score drift (PSI)", "欺诈模型分数漂移（PSI）"),
    "delinquency_rate": ("share", "Loan principal 1+ days past due", "贷款逾期率（逾期1天以上本金占比）"),
    "reputational_risk": ("count", "Open high-severity public-opinion alerts", "未结高级别舆情预警数"),
}


# ------------------------------------------------------------------------------------------------
# KRIs and early warnings

LEVELS = ("no_data", "ok", "warning", "breach")
_SEVERITY = {"no_data": 0, "ok": 0, "warning": 1, "breach": 2}


def kri_level(value: float | None, *, direction: str, warn: float, breach: float) -> str:
    if value is None:
        return "no_data"
    if direction == "below":
        return "breach" if value <= breach else "warning" if value <= warn else "ok"
    return "breach" if value >= breach else "warning" if value >= warn else "ok"


def _fmt(metric: str, v: float | None) -> str:
    if v is None:
        return "-"
    unit = METRIC_INFO.get(metric, ("index",))[0]
    if unit == "share":
        return f"{v * 100:.2f}%"
    if unit == "count":
        return f"{v:.0f}"
    if unit == "hours":
        return f"{v:.1f}h"
    return f"{v:.3f}"


def _last_values(session: Session, kri_ids: list[int]) -> dict[int, RiskKriValue]:
    if not kri_ids:
        return {}
    V = RiskKriValue
    latest = (select(V.kri_id, func.max(V.id).label("id")).where(V.kri_id.in_(kri_ids)).group_by(V.kri_id)
              .subquery())
    rows = session.execute(select(V).join(latest, latest.c.id == V.id)).scalars()
    return {r.kri_id: r for r in rows}


def evaluate_kris(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Compute every active KRI at ``now``, store the values, raise warnings on a worsening level."""
    now = _utc(now)
    kris = list(session.execute(select(RiskKri).where(RiskKri.active.is_(True)).order_by(RiskKri.code)).scalars())
    previous = _last_values(session, [k.id for k in kris])
    out = []
    for k in kris:
        fn = METRICS.get(k.metric)
        value = fn(session, now - timedelta(days=k.window_days), now) if fn else None
        level = kri_level(value, direction=k.direction, warn=k.warn_threshold, breach=k.breach_threshold)
        session.add(RiskKriValue(kri_id=k.id, at=now, value=value, level=level))
        prev = previous.get(k.id)
        raised = None
        if _SEVERITY[level] > _SEVERITY[prev.level if prev else "ok"]:
            thr = k.breach_threshold if level == "breach" else k.warn_threshold
            vs, ts = _fmt(k.metric, value), _fmt(k.metric, thr)
            word_en = "breached" if level == "breach" else "crossed the warning threshold"
            word_zh = "突破警戒线" if level == "breach" else "触及预警线"
            w = RiskWarning(kri_id=k.id, source="kri", level=level, value=value, at=now,
                            message_en=f"{k.name_en}: {vs} {word_en} ({ts})"[:300],
                            message_zh=f"{k.name_zh}：{vs}，{word_zh}（{ts}）"[:300])
            session.add(w)
            raised = level
        out.append({"id": k.id, "code": k.code, "metric": k.metric, "value": value, "level": level,
                    "warning_raised": raised})
    session.flush()
    return out


def _kri_view(k: RiskKri, last: RiskKriValue | None, risk_codes: dict[int, str]) -> dict[str, Any]:
    return {"id": k.id, "code": k.code, "risk_id": k.risk_id, "risk_code": risk_codes.get(k.risk_id or 0),
            "name_en": k.name_en, "name_zh": k.name_zh, "metric": k.metric, "direction": k.direction,
            "warn_threshold": k.warn_threshold, "breach_threshold": k.breach_threshold,
            "window_days": k.window_days, "active": bool(k.active), "unit": METRIC_INFO.get(k.metric, ("index",))[0],
            "value": last.value if last else None, "level": last.level if last else None,
            "at": last.at if last else None, "display": _fmt(k.metric, last.value if last else None)}


def list_kris(session: Session, actor: Principal) -> list[dict[str, Any]]:
    actor.require_role(*MONITOR_READERS)
    kris = list(session.execute(select(RiskKri).order_by(RiskKri.code)).scalars())
    last = _last_values(session, [k.id for k in kris])
    codes = {i: c for i, c in session.execute(select(RiskRegisterEntry.id, RiskRegisterEntry.code))}
    return [_kri_view(k, last.get(k.id), codes) for k in kris]


def _check_kri(fields: dict[str, Any]) -> None:
    if "metric" in fields and fields["metric"] not in METRICS:
        raise ValidationFailed("unknown metric", details={"metrics": sorted(METRICS)})
    if "direction" in fields and fields["direction"] not in ("above", "below"):
        raise ValidationFailed("direction is above or below")
    if "window_days" in fields and not (isinstance(fields["window_days"], int) and 1 <= fields["window_days"] <= 366):
        raise ValidationFailed("window_days is 1-366")
    for k in ("name_en", "name_zh"):
        if k in fields and not (isinstance(fields[k], str) and 0 < len(fields[k].strip()) <= 120):
            raise ValidationFailed(f"{k} needs 1-120 characters", reason="risk.kri_name_length",
                                       details={"field": k, "max_length": 120})


def _check_thresholds(direction: str, warn: float, breach: float) -> None:
    for v in (warn, breach):
        if not isinstance(v, int | float) or isinstance(v, bool) or not np.isfinite(v):
            raise ValidationFailed("thresholds are numbers")
    if (direction == "above" and breach < warn) or (direction == "below" and breach > warn):
        raise ValidationFailed("the breach threshold lies beyond the warning threshold",
                               details={"direction": direction, "warn": warn, "breach": breach})


def create_kri(session: Session, actor: Principal, *, code: str, name_en: str, name_zh: str, metric: str,
               warn_threshold: float, breach_threshold: float, direction: str = "above", window_days: int = 7,
               risk_id: int | None = None, rid: str | None = None) -> dict[str, Any]:
    actor.require_role(*MONITOR_READERS)
    code = (code or "").strip().upper()
    if not 2 <= len(code) <= 40:
        raise ValidationFailed("a KRI code has 2-40 characters")
    _check_kri({"metric": metric, "direction": direction, "window_days": window_days, "name_en": name_en,
                "name_zh": name_zh})
    _check_thresholds(direction, warn_threshold, breach_threshold)
    if risk_id is not None and session.get(RiskRegisterEntry, risk_id) is None:
        raise NotFound("no such risk", details={"risk_id": risk_id})
    if session.execute(select(RiskKri.id).where(RiskKri.code == code)).first() is not None:
        raise Conflict("a KRI with this code exists", details={"code": code})
    k = RiskKri(code=code, name_en=name_en.strip(), name_zh=name_zh.strip(), metric=metric, direction=direction,
                warn_threshold=float(warn_threshold), breach_threshold=float(breach_threshold),
                window_days=window_days, risk_id=risk_id, active=True)
    session.add(k)
    session.flush()
    view = _kri_view(k, None, {})
    audit(session, actor, action="risk_kri.create", object_type="risk_kri", object_id=k.id,
          after={x: view[x] for x in ("code", "metric", "direction", "warn_threshold", "breach_threshold",
                                      "window_days", "risk_id")}, request_id=rid)
    return view


KRI_EDITABLE = ("name_en", "name_zh", "warn_threshold", "breach_threshold", "direction", "window_days", "active")


def edit_kri(session: Session, actor: Principal, kri_id: int, *, rid: str | None = None,
             **changes: Any) -> dict[str, Any]:
    actor.require_role(*MONITOR_READERS)
    unknown = set(changes) - set(KRI_EDITABLE)
    if unknown:
        raise ValidationFailed("these fields of a KRI cannot be changed", details={"fields": sorted(unknown)})
    k = session.get(RiskKri, kri_id)
    if k is None:
        raise NotFound("no such KRI", details={"id": kri_id})
    _check_kri(changes)
    if "active" in changes and not isinstance(changes["active"], bool):
        raise ValidationFailed("active is true or false")
    fields = ("warn_threshold", "breach_threshold", "direction", "window_days", "active", "name_en", "name_zh")
    before = {f: getattr(k, f) for f in fields}
    new = {**before, **changes}
    _check_thresholds(new["direction"], new["warn_threshold"], new["breach_threshold"])
    for f, v in changes.items():
        setattr(k, f, v.strip() if isinstance(v, str) else v)
    session.flush()
    audit(session, actor, action="risk_kri.edit", object_type="risk_kri", object_id=k.id, before=before,
          after={f: getattr(k, f) for f in fields}, request_id=rid)
    return _kri_view(k, _last_values(session, [k.id]).get(k.id), {})


WARNING_LEVELS = ("warning", "breach")


def raise_warning(session: Session, *, source: str, level: str, value: float | None, message_en: str,
                  message_zh: str, at: datetime | None = None) -> int:
    """An early warning from another module (e.g. lending's predicted missed payments) on the risk
    dashboard; returns its id. The caller commits."""
    if level not in WARNING_LEVELS:
        raise ValidationFailed("level is warning or breach", details={"level": level})
    if not source or len(source) > 24:
        raise ValidationFailed("a warning source has 1-24 characters", details={"source": source})
    w = RiskWarning(source=source, level=level, value=value, at=_utc(at or clock.now()),
                    message_en=message_en[:300], message_zh=message_zh[:300])
    session.add(w)
    session.flush()
    return int(w.id)


def _warning_view(w: RiskWarning) -> dict[str, Any]:
    return {"id": w.id, "kri_id": w.kri_id, "source": w.source, "level": w.level, "value": w.value,
            "message_en": w.message_en, "message_zh": w.message_zh, "at": w.at,
            "acknowledged_by": w.acknowledged_by, "acknowledged_at": w.acknowledged_at}


def list_warnings(session: Session, actor: Principal, *, open_only: bool = False, limit: int = 100
                  ) -> list[dict[str, Any]]:
    actor.require_role(*MONITOR_READERS)
    stmt = select(RiskWarning).order_by(RiskWarning.id.desc()).limit(max(1, min(limit, 1000)))
    if open_only:
        stmt = stmt.where(RiskWarning.acknowledged_at.is_(None))
    return [_warning_view(w) for w in session.execute(stmt).scalars()]


def acknowledge(session: Session, actor: Principal, warning_id: int, *, rid: str | None = None) -> dict[str, Any]:
    """Mark an early warning as seen (once; acknowledging again changes nothing)."""
    actor.require_role(*MONITOR_READERS)
    w = session.get(RiskWarning, warning_id)
    if w is None:
        raise NotFound("no such warning", details={"id": warning_id})
    if w.acknowledged_at is None:
        w.acknowledged_by = actor.user_id or None
        w.acknowledged_at = clock.now()
        session.flush()
        audit(session, actor, action="risk_warning.acknowledge", object_type="risk_warning", object_id=w.id,
              after={"acknowledged_by": w.acknowledged_by}, request_id=rid)
    return _warning_view(w)


DEFAULT_KRIS: tuple[dict[str, Any], ...] = (
    {"code": "KRI-FRAUD-RATE", "risk": "OP-01", "metric": "fraud_rate", "warn_threshold": 0.002,
     "breach_threshold": 0.005, "window_days": 30, "name_en": "Confirmed fraud rate (30 days)",
     "name_zh": "已确认欺诈率（30天）"},
    {"code": "KRI-BLOCK-RATE", "risk": "OP-01", "metric": "block_rate", "warn_threshold": 0.01,
     "breach_threshold": 0.03, "window_days": 7, "name_en": "Blocked payments (7 days)", "name_zh": "拦截比例（7天）"},
    {"code": "KRI-REVIEW-RATE", "risk": "OP-01", "metric": "review_rate", "warn_threshold": 0.02,
     "breach_threshold": 0.05, "window_days": 7, "name_en": "Payments held for review (7 days)",
     "name_zh": "挂起复核比例（7天）"},
    {"code": "KRI-CHALLENGE-RATE", "risk": "OP-01", "metric": "challenge_rate", "warn_threshold": 0.05,
     "breach_threshold": 0.10, "window_days": 7, "name_en": "Payments challenged (7 days)",
     "name_zh": "加验比例（7天）"},
    {"code": "KRI-CHALLENGE-FAIL", "risk": "IS-02", "metric": "challenge_fail_rate", "warn_threshold": 0.20,
     "breach_threshold": 0.40, "window_days": 7, "name_en": "Challenges failed (7 days)",
     "name_zh": "加验失败比例（7天）"},
    {"code": "KRI-ALERT-BACKLOG", "risk": "OP-01", "metric": "alert_backlog", "warn_threshold": 50,
     "breach_threshold": 200, "window_days": 1, "name_en": "Open alert backlog", "name_zh": "未结预警积压"},
    {"code": "KRI-ALERT-AGE", "risk": "OP-01", "metric": "alert_oldest_hours", "warn_threshold": 24,
     "breach_threshold": 72, "window_days": 1, "name_en": "Oldest open alert (hours)",
     "name_zh": "最久未结预警（小时）"},
    {"code": "KRI-FALSE-ALARM", "risk": "OP-03", "metric": "false_alarm_share", "warn_threshold": 0.90,
     "breach_threshold": 0.97, "window_days": 30, "name_en": "False alarms among closed alerts (30 days)",
     "name_zh": "误报占已结预警比例（30天）"},
    {"code": "KRI-DELINQUENCY", "risk": "CR-01", "metric": "delinquency_rate", "warn_threshold": 0.02,
     "breach_threshold": 0.05, "window_days": 30, "name_en": "Loans past due (30 days)",
     "name_zh": "贷款逾期率（30天）"},
    {"code": "KRI-REPUTATION", "risk": "OP-04", "metric": "reputational_risk", "warn_threshold": 1,
     "breach_threshold": 3, "window_days": 1, "name_en": "Open high public-opinion alerts",
     "name_zh": "未结高级别舆情预警"},
)


def seed_defaults(session: Session) -> int:
    """The default register entries (if missing) and the default KRIs bound to them; returns KRIs added."""
    risk_register.seed_defaults(session)
    ids = {c: i for c, i in session.execute(select(RiskRegisterEntry.code, RiskRegisterEntry.id))}
    have = set(session.execute(select(RiskKri.code)).scalars())
    added = 0
    for d in DEFAULT_KRIS:
        if d["code"] in have:
            continue
        fields = {k: v for k, v in d.items() if k != "risk"}
        session.add(RiskKri(risk_id=ids.get(d["risk"]), direction="above", active=True, **fields))
        added += 1
    session.flush()
    return added


# ------------------------------------------------------------------------------------------------
# model drift

# Fixed bin edges for fraud probabilities, which crowd near zero: finer at the bottom so that a shift
# among ordinary payments shows, ten bins in all.
SCORE_BINS: tuple[float, ...] = (0.0, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
PSI_WARNING = 0.1
PSI_DRIFT = 0.25
PSI_EPSILON = 1e-4  # an empty bin counts as this share, so the logarithm stays finite
MIN_N = 50  # fewer scored payments in a period: the PSI is stored but the status is no_data


def psi(expected: Any, actual: Any) -> float:
    """Population stability index of two distributions over the same bins (counts or shares).

    ``sum((a - e) * ln(a / e))`` over the bins, with shares floored at :data:`PSI_EPSILON`.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape or e.ndim != 1 or e.size == 0:
        raise ValueError("expected and actual need the same, non-empty bins")
    if (e < 0).any() or (a < 0).any() or e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("bins hold non-negative counts with a positive total")
    e = np.maximum(e / e.sum(), PSI_EPSILON)
    a = np.maximum(a / a.sum(), PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def histogram(scores: Any) -> np.ndarray:
    """Counts of scores in :data:`SCORE_BINS` (the last bin includes 1.0; scores are clipped to [0, 1])."""
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    counts, _ = np.histogram(s, bins=np.asarray(SCORE_BINS))
    return counts


def psi_status(value: float | None, n: int) -> str:
    if value is None or n < MIN_N:
        return "no_data"
    return "drift" if value > PSI_DRIFT else "warning" if value > PSI_WARNING else "ok"


def _local_date(dt: datetime) -> date:
    return _utc(dt).astimezone(LOCAL_TZ).date()


def training_bins(model_version: str, *, model_dir: Path | None = None) -> np.ndarray | None:
    """The training score distribution from the model's ``meta.json`` (``score_bins``), if any."""
    version = model_version.split("/", 1)[1] if model_version.startswith(MODEL_NAME + "/") else model_version
    if not version or "/" in version or version.startswith("."):
        return None
    try:
        path = (model_dir or ml.default_model_dir()) / MODEL_NAME / version / "meta.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    bins = meta.get("score_bins") or (meta.get("params") or {}).get("score_bins")
    if isinstance(bins, dict):
        if bins.get("edges") is not None and [float(x) for x in bins["edges"]] != list(SCORE_BINS):
            return None
        bins = bins.get("counts") or bins.get("shares")
    if not isinstance(bins, list) or len(bins) != len(SCORE_BINS) - 1:
        return None
    arr = np.asarray(bins, dtype=np.float64)
    return arr if arr.sum() > 0 and (arr >= 0).all() else None


def _scores(session: Session, model_version: str, start: datetime, end: datetime) -> np.ndarray:
    D = RiskDecision
    rows = session.execute(select(D.score).where(D.model_version == model_version, D.score.is_not(None),
                                                 D.created_at >= _utc(start), D.created_at < _utc(end))).scalars()
    return np.fromiter((float(x) for x in rows if x is not None), dtype=np.float64)


def model_drift(session: Session, *, now: datetime, period_days: int = 7,
                model_dir: Path | None = None) -> list[dict[str, Any]]:
    """PSI and alert rate of each model version scored in the last ``period_days`` (stored in
    ``risk_model_monitor``, one row per model version and period end; rerunning updates it)."""
    if period_days < 1:
        raise ValidationFailed("period_days is at least 1")
    now = _utc(now)
    start = now - timedelta(days=period_days)
    D, M = RiskDecision, RiskModelMonitor
    versions = session.execute(select(D.model_version, func.count(), func.min(D.created_at)).where(
        D.created_at >= start, D.created_at < now, D.score.is_not(None)).group_by(D.model_version)).all()
    out = []
    for version, _n, _first in versions:
        actual = _scores(session, version, start, now)
        n = int(actual.size)
        reference = "training"
        expected = training_bins(version, model_dir=model_dir)
        if expected is None:
            reference = "first_period"
            first = session.execute(select(func.min(D.created_at)).where(
                D.model_version == version, D.score.is_not(None))).scalar()
            ref_start = _utc(first or start)
            ref_end = ref_start + timedelta(days=period_days)
            if ref_end > start:  # the model is still in its first period: nothing to compare with yet
                expected = None
            else:
                ref = _scores(session, version, ref_start, ref_end)
                expected = histogram(ref) if ref.size else None
        counts = histogram(actual)
        value = psi(expected, counts) if expected is not None and n else None
        status = psi_status(value, n)
        total = _decision_count(session, start, now, D.model_version == version)
        flagged = _decision_count(session, start, now, D.model_version == version, D.decision != "allow")
        alert_rate = flagged / total if total else None
        bins = {"edges": list(SCORE_BINS), "actual": [int(c) for c in counts], "reference": reference,
                "expected": None if expected is None else [float(x) for x in expected]}
        p_end, p_start = _local_date(now), _local_date(start)
        row = session.execute(select(M).where(M.model_version == version, M.period_end == p_end)).scalars().first()
        prev = session.execute(select(M).where(M.model_version == version, M.period_end < p_end)
                               .order_by(M.period_end.desc(), M.id.desc()).limit(1)).scalars().first()
        was_drift = row.status == "drift" if row is not None else (prev is not None and prev.status == "drift")
        if row is None:
            row = M(model_version=version, period_end=p_end)
            session.add(row)
        row.at, row.period_start, row.n = now, p_start, n
        row.mean_score = float(actual.mean()) if n else None
        row.psi, row.alert_rate, row.status, row.bins = value, alert_rate, status, bins
        raised = False
        if status == "drift" and not was_drift:
            session.add(RiskWarning(
                source="model_drift", level="breach", value=value, at=now,
                message_en=f"Fraud model {version}: score distribution drifted (PSI {value:.3f} > {PSI_DRIFT})"[:300],
                message_zh=f"欺诈模型 {version} 分数分布发生漂移（PSI {value:.3f} > {PSI_DRIFT}）"[:300]))
            raised = True
        out.append({"model_version": version, "period_start": p_start, "period_end": p_end, "n": n,
                    "mean_score": row.mean_score, "psi": value, "alert_rate": alert_rate, "status": status,
                    "reference": reference, "warning_raised": raised})
    session.flush()
    return out


def list_model_monitor(session: Session, actor: Principal, *, limit: int = 100) -> list[dict[str, Any]]:
    actor.require_role(*MONITOR_READERS)
    M = RiskModelMonitor
    rows = session.execute(select(M).order_by(M.period_end.desc(), M.id.desc()).limit(max(1, min(limit, 1000))))
    return [{"id": r.id, "at": r.at, "model_version": r.model_version, "period_start": r.period_start,
             "period_end": r.period_end, "n": r.n, "mean_score": r.mean_score, "psi": r.psi,
             "alert_rate": r.alert_rate, "status": r.status, "bins": r.bins} for r in rows.scalars()]


# ------------------------------------------------------------------------------------------------
# everything at once


def run(session: Session, now: datetime, *, period_days: int = 7, model_dir: Path | None = None) -> dict[str, Any]:
    """Model drift, then every KRI (so ``model_psi`` reads this run's PSI). The caller commits."""
    drift = model_drift(session, now=now, period_days=period_days, model_dir=model_dir)
    kris = evaluate_kris(session, now)
    raised = sum(1 for k in kris if k["warning_raised"]) + sum(1 for d in drift if d["warning_raised"])
    return {"at": _utc(now), "kris": kris, "model_drift": drift, "warnings_raised": raised}


# ------------------------------------------------------------------------------------------------
# series for the dashboard


def _local_day_expr(session: Session) -> Any:
    D = RiskDecision
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", D.created_at), "YYYY-MM-DD")
    return func.date(D.created_at, "+8 hours")  # Asia/Shanghai has kept UTC+8 without summer time since 1991


def decision_mix(session: Session, *, now: datetime, days: int = 30) -> list[dict[str, Any]]:
    """Decisions per bank day and decision over the last ``days`` days (oldest first, every day present)."""
    now = _utc(now)
    first = _local_date(now) - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=LOCAL_TZ).astimezone(UTC)
    day = _local_day_expr(session)
    D = RiskDecision
    rows = session.execute(select(day, D.decision, func.count()).where(D.created_at >= start, D.created_at < now)
                           .group_by(day, D.decision)).all()
    by_day: dict[str, dict[str, int]] = {}
    for d, decision, n in rows:
        by_day.setdefault(str(d)[:10], {})[decision] = int(n)
    out = []
    for i in range(days):
        d = (first + timedelta(days=i)).isoformat()
        counts = by_day.get(d, {})
        out.append({"day": d, **{k: counts.get(k, 0) for k in ("allow", "challenge", "review", "block")}})
    return out


def backlog_series(session: Session, *, now: datetime, days: int = 30) -> list[dict[str, Any]]:
    """The alert backlog at the end of each bank day (today: now), oldest first."""
    now = _utc(now)
    today = _local_date(now)
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=LOCAL_TZ).astimezone(UTC)
    A = RiskAlert
    rows = session.execute(select(A.created_at, A.closed_at).where(
        A.created_at < now, or_(A.closed_at.is_(None), A.closed_at >= start))).all()
    created = np.array([_utc(c).timestamp() for c, _ in rows], dtype=np.float64)
    closed = np.array([_utc(x).timestamp() if x is not None else np.inf for _, x in rows], dtype=np.float64)
    out = []
    for i in range(days):
        d = first + timedelta(days=i)
        end = now if d == today else datetime(d.year, d.month, d.day, tzinfo=LOCAL_TZ) + timedelta(days=1)
        t = _utc(end).timestamp()
        out.append({"day": d.isoformat(), "backlog": int(((created < t) & (closed >= t)).sum())})
    return out


def current_kris(session: Session, actor: Principal, *, now: datetime) -> list[dict[str, Any]]:
    """Every KRI with its value and level computed at ``now`` over its window (read only: nothing is stored and
    no warning raised, that is :func:`evaluate_kris`' work); ``last_value``/``last_level``/``last_at`` are the
    last evaluation's. An inactive KRI keeps its last stored value."""
    now = _utc(now)
    out = []
    for k in list_kris(session, actor):
        k |= {"last_value": k["value"], "last_level": k["level"], "last_at": k["at"]}
        fn = METRICS.get(k["metric"])
        if k["active"] and fn is not None:
            value = fn(session, now - timedelta(days=k["window_days"]), now)
            k |= {"value": value, "at": now, "display": _fmt(k["metric"], value),
                  "level": kri_level(value, direction=k["direction"], warn=k["warn_threshold"],
                                     breach=k["breach_threshold"])}
        out.append(k)
    return out


def dashboard(session: Session, actor: Principal, *, now: datetime) -> dict[str, Any]:
    """Everything the risk dashboard shows, in one mapping."""
    actor.require_role(*MONITOR_READERS)
    now = _utc(now)
    register = risk_register.list_entries(session, actor, include_closed=False)
    return {
        "at": now,
        "matrix": risk_register.matrix(session),
        "register_top": register[:10],
        "kris": current_kris(session, actor, now=now),
        "warnings": list_warnings(session, actor, open_only=True, limit=50),
        "model_monitor": list_model_monitor(session, actor, limit=60),
        "limits": risk_limits.list_limits(session, actor, include_inactive=False),
        "breaches": risk_limits.list_breaches(session, actor, limit=20),
        "breaches_7d": risk_limits.breach_counts(session, since=now - timedelta(days=7)),
        "decision_mix": decision_mix(session, now=now),
        "alert_backlog": backlog_series(session, now=now),
        "metrics": {name: {"value": fn(session, now - timedelta(days=7), now), "unit": METRIC_INFO[name][0],
                           "en": METRIC_INFO[name][1], "zh": METRIC_INFO[name][2]}
                    for name, fn in METRICS.items()},
    }
