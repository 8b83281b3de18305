"""Live metrics, KRIs with early warnings, PSI and model drift, the monitor run and the dashboard."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, insert, select

from smartbank.errors import Forbidden, NotFound, ValidationFailed
from smartbank.risk import monitor
from smartbank.risk.models import (
    RiskAlert,
    RiskDecision,
    RiskKri,
    RiskKriValue,
    RiskLabel,
    RiskModelMonitor,
    RiskWarning,
)
from smartbank.security.service import Principal

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
OFFICER = Principal(user_id=0, username="ro", role="risk_officer", customer_id=None)


def decisions(session, n, *, at=NOW - timedelta(days=1), decision="allow", scores=None, model="m1", outcome=None,
              start_id=None):
    rows = [{"created_at": at, "customer_id": 1, "account_id": 1, "channel": "web", "kind": "transfer",
             "product": "demand", "amount_minor": 100, "currency": "CNY", "decision": decision,
             "score": None if scores is None else float(scores[i]), "model_version": model, "outcome": outcome}
            for i in range(n)]
    if rows:
        session.execute(insert(RiskDecision), rows)
    session.flush()


# ------------------------------------------------------------------------------------------------ PSI


def test_psi_identical_is_zero():
    assert monitor.psi([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0, abs=1e-12)


def test_psi_known_shift():
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)  # (0.25-0.5)ln(0.25/0.5) + (0.75-0.5)ln(0.75/0.5)
    assert monitor.psi([50, 50], [25, 75]) == pytest.approx(expected, rel=1e-9)
    assert monitor.psi([50, 50], [25, 75]) == pytest.approx(0.2747, abs=1e-4)


def test_psi_empty_bin_is_finite_and_bad_input_refused():
    v = monitor.psi([1, 1, 0], [1, 1, 1])
    assert math.isfinite(v) and v > monitor.PSI_DRIFT
    for e, a in (([1, 2], [1, 2, 3]), ([0, 0], [1, 1]), ([-1, 2], [1, 1]), ([], [])):
        with pytest.raises(ValueError):
            monitor.psi(e, a)


def test_histogram_bins():
    counts = monitor.histogram([0.0, 0.0005, 0.001, 0.3, 1.0, 1.5])
    assert len(counts) == len(monitor.SCORE_BINS) - 1 and counts.sum() == 6
    assert counts[0] == 2 and counts[1] == 1 and counts[-1] == 2


def test_psi_status_thresholds():
    assert monitor.psi_status(0.05, 100) == "ok"
    assert monitor.psi_status(0.2, 100) == "warning"
    assert monitor.psi_status(0.3, 100) == "drift"
    assert monitor.psi_status(0.3, 10) == "no_data"
    assert monitor.psi_status(None, 100) == "no_data"


# ------------------------------------------------------------------------------------------------ drift

rng = np.random.default_rng(3)
LOW = rng.beta(1, 200, 400)   # ordinary payments: scores near zero
HIGH = rng.beta(2, 20, 400)   # a drifted population


def test_drift_against_first_period_warns_once(session):
    decisions(session, 400, at=NOW - timedelta(days=20), scores=LOW)  # the reference: first period of m1
    decisions(session, 400, at=NOW - timedelta(days=1), scores=LOW[::-1])
    [r] = monitor.model_drift(session, now=NOW)
    assert r["reference"] == "first_period" and r["status"] == "ok" and r["psi"] < 0.1 and r["n"] == 400
    session.execute(RiskDecision.__table__.delete().where(RiskDecision.created_at > NOW - timedelta(days=2)))
    decisions(session, 300, at=NOW - timedelta(days=1), scores=HIGH, decision="allow")
    decisions(session, 100, at=NOW - timedelta(days=1), scores=HIGH, decision="review")
    [r] = monitor.model_drift(session, now=NOW)  # same period again: the row is updated
    assert r["status"] == "drift" and r["psi"] > 0.25 and r["warning_raised"]
    assert r["alert_rate"] == pytest.approx(0.25)
    [r] = monitor.model_drift(session, now=NOW + timedelta(hours=1))
    assert r["status"] == "drift" and not r["warning_raised"]
    decisions(session, 400, at=NOW + timedelta(days=6), scores=HIGH)
    [r] = monitor.model_drift(session, now=NOW + timedelta(days=7))  # next period, still drifting
    assert r["status"] == "drift" and not r["warning_raised"]
    warnings = session.execute(select(RiskWarning)).scalars().all()
    assert [(w.source, w.level) for w in warnings] == [("model_drift", "breach")]
    assert "PSI" in warnings[0].message_en and "漂移" in warnings[0].message_zh
    rows = session.execute(select(RiskModelMonitor).order_by(RiskModelMonitor.period_end)).scalars().all()
    assert len(rows) == 2 and rows[0].bins["edges"] == list(monitor.SCORE_BINS) and sum(rows[0].bins["actual"]) == 400


def test_first_period_has_nothing_to_compare(session):
    decisions(session, 100, at=NOW - timedelta(days=2), scores=LOW)
    decisions(session, 20, at=NOW - timedelta(days=2), decision="allow", model="rules-only")  # no score
    [r] = monitor.model_drift(session, now=NOW)
    assert r["model_version"] == "m1" and r["psi"] is None and r["status"] == "no_data"


def test_reference_from_training_meta(session, tmp_path):
    folder = tmp_path / "fraud_lgbm" / "v7"
    folder.mkdir(parents=True)
    counts = [int(c) for c in monitor.histogram(LOW)]
    (folder / "meta.json").write_text(json.dumps({"name": "fraud_lgbm", "version": "v7", "score_bins": {
        "edges": list(monitor.SCORE_BINS), "counts": counts}}))
    decisions(session, 400, at=NOW - timedelta(days=1), scores=HIGH, model="fraud_lgbm/v7")
    [r] = monitor.model_drift(session, now=NOW, model_dir=tmp_path)
    assert r["reference"] == "training" and r["status"] == "drift"
    assert monitor.training_bins("v7", model_dir=tmp_path) is not None
    assert monitor.training_bins("../v7", model_dir=tmp_path) is None
    assert monitor.training_bins("nope", model_dir=tmp_path) is None


# ------------------------------------------------------------------------------------------------ metrics

W = (NOW - timedelta(days=7), NOW)


def test_decision_shares_and_fraud_rate(session):
    decisions(session, 90)
    decisions(session, 5, decision="block")
    decisions(session, 3, decision="review")
    decisions(session, 2, decision="challenge", outcome="challenge_failed")
    decisions(session, 6, decision="challenge", outcome="challenge_passed")
    decisions(session, 50, at=NOW - timedelta(days=30), decision="block")  # outside the window
    M = monitor.METRICS
    assert M["block_rate"](session, *W) == pytest.approx(5 / 106)
    assert M["review_rate"](session, *W) == pytest.approx(3 / 106)
    assert M["challenge_rate"](session, *W) == pytest.approx(8 / 106)
    assert M["challenge_fail_rate"](session, *W) == pytest.approx(2 / 8)
    ids = session.execute(select(RiskDecision.id).where(RiskDecision.decision == "block")
                          .order_by(RiskDecision.id)).scalars().all()
    session.add_all([RiskLabel(decision_id=ids[0], label=1, source="case"),
                     RiskLabel(decision_id=ids[1], label=0, source="case")])
    session.flush()
    assert M["fraud_rate"](session, *W) == pytest.approx(1 / 106)
    empty = (NOW - timedelta(days=100), NOW - timedelta(days=90))
    for name in ("block_rate", "fraud_rate", "challenge_fail_rate", "false_alarm_share", "model_psi",
                 "delinquency_rate"):
        assert M[name](session, *empty) is None, name


def test_alert_metrics(session):
    def alert(i, created, status="open", closed=None, resolution=None):
        session.add(RiskAlert(decision_id=i, decision="review", amount_minor=1, currency="CNY", status=status,
                              created_at=created, closed_at=closed, resolution=resolution))

    alert(1, NOW - timedelta(hours=30))
    alert(2, NOW - timedelta(hours=2), status="investigating")
    alert(3, NOW - timedelta(days=3), "closed", NOW - timedelta(days=2), "false_alarm")
    alert(4, NOW - timedelta(days=3), "closed", NOW - timedelta(hours=1), "fraud")
    alert(5, NOW - timedelta(days=3), "closed", NOW - timedelta(hours=3), "false_alarm")
    session.flush()
    M = monitor.METRICS
    assert M["alert_backlog"](session, *W) == 2
    assert M["alert_oldest_hours"](session, *W) == pytest.approx(30)
    assert M["alert_backlog"](session, NOW, NOW - timedelta(days=2, hours=12)) == 3  # back in time
    assert M["false_alarm_share"](session, *W) == pytest.approx(2 / 3)
    series = monitor.backlog_series(session, now=NOW, days=5)
    assert len(series) == 5 and series[-1]["backlog"] == 2


# ------------------------------------------------------------------------------------------------ KRIs


def test_kri_level():
    assert monitor.kri_level(None, direction="above", warn=1, breach=2) == "no_data"
    assert monitor.kri_level(0.5, direction="above", warn=1, breach=2) == "ok"
    assert monitor.kri_level(1, direction="above", warn=1, breach=2) == "warning"
    assert monitor.kri_level(3, direction="above", warn=1, breach=2) == "breach"
    assert monitor.kri_level(0.9, direction="below", warn=0.8, breach=0.5) == "ok"
    assert monitor.kri_level(0.6, direction="below", warn=0.8, breach=0.5) == "warning"
    assert monitor.kri_level(0.4, direction="below", warn=0.8, breach=0.5) == "breach"


def test_kri_warnings_raised_on_worsening_only(session):
    k = monitor.create_kri(session, OFFICER, code="kri-block", name_en="Blocked", name_zh="拦截", metric="block_rate",
                           warn_threshold=0.02, breach_threshold=0.05, window_days=7)
    monitor.create_kri(session, OFFICER, code="KRI-LOANS", name_en="Loans", name_zh="贷款",
                       metric="delinquency_rate", warn_threshold=0.02, breach_threshold=0.05)
    decisions(session, 97)
    decisions(session, 3, decision="block")
    out = {r["code"]: r for r in monitor.evaluate_kris(session, NOW)}
    assert out["KRI-BLOCK"]["level"] == "warning" and out["KRI-BLOCK"]["warning_raised"] == "warning"
    assert out["KRI-LOANS"]["level"] == "no_data" and out["KRI-LOANS"]["warning_raised"] is None
    assert monitor.evaluate_kris(session, NOW + timedelta(minutes=5))[0]["warning_raised"] is None
    decisions(session, 5, decision="block", at=NOW)
    r = monitor.evaluate_kris(session, NOW + timedelta(minutes=10))[0]
    assert r["level"] == "breach" and r["warning_raised"] == "breach"
    assert monitor.evaluate_kris(session, NOW + timedelta(minutes=15))[0]["warning_raised"] is None
    assert session.execute(select(func.count()).select_from(RiskKriValue)
                           .where(RiskKriValue.kri_id == k["id"])).scalar() == 4
    ws = monitor.list_warnings(session, OFFICER, open_only=True)
    assert [w["level"] for w in ws] == ["breach", "warning"] and "7.62%" in ws[0]["message_en"]
    listed = {x["code"]: x for x in monitor.list_kris(session, OFFICER)}
    assert listed["KRI-BLOCK"]["level"] == "breach" and listed["KRI-LOANS"]["level"] == "no_data"
    acked = monitor.acknowledge(session, OFFICER, ws[0]["id"])
    assert acked["acknowledged_at"] is not None
    assert len(monitor.list_warnings(session, OFFICER, open_only=True)) == 1
    with pytest.raises(NotFound):
        monitor.acknowledge(session, OFFICER, 10**9)


@pytest.mark.parametrize("kw", [
    {"metric": "weather"}, {"direction": "sideways"}, {"warn_threshold": 0.5, "breach_threshold": 0.1},
    {"window_days": 0}, {"name_en": ""}, {"warn_threshold": float("nan")},
])
def test_bad_kri_writes_nothing(session, kw):
    args = {"code": "KRI-X", "name_en": "x", "name_zh": "x", "metric": "block_rate", "warn_threshold": 0.1,
            "breach_threshold": 0.2, **kw}
    with pytest.raises(ValidationFailed):
        monitor.create_kri(session, OFFICER, **args)
    assert session.execute(select(func.count()).select_from(RiskKri)).scalar() == 0


@pytest.mark.any_backend
@pytest.mark.parametrize("role", ["teller", "customer"])
def test_others_refused(session, role):
    who = Principal(user_id=0, username="x", role=role, customer_id=None)
    for call in (lambda: monitor.list_kris(session, who), lambda: monitor.list_warnings(session, who),
                 lambda: monitor.acknowledge(session, who, 1), lambda: monitor.dashboard(session, who, now=NOW),
                 lambda: monitor.create_kri(session, who, code="KRI-X", name_en="x", name_zh="x",
                                            metric="block_rate", warn_threshold=0.1, breach_threshold=0.2)):
        with pytest.raises(Forbidden):
            call()


def test_seed_and_run(session):
    assert monitor.seed_defaults(session) >= 8 and monitor.seed_defaults(session) == 0
    kris = monitor.list_kris(session, OFFICER)
    assert all(k["risk_id"] for k in kris) and {k["metric"] for k in kris} <= set(monitor.METRICS)
    decisions(session, 400, at=NOW - timedelta(days=20), scores=LOW)
    decisions(session, 390, scores=HIGH)
    decisions(session, 10, scores=HIGH, decision="block")
    out = monitor.run(session, NOW)
    assert out["model_drift"][0]["status"] == "drift"
    psi_now = monitor.METRICS["model_psi"](session, *W)
    assert psi_now == pytest.approx(out["model_drift"][0]["psi"])
    by = {k["code"]: k for k in out["kris"]}
    assert by["KRI-BLOCK-RATE"]["level"] == "warning" and by["KRI-DELINQUENCY"]["level"] == "no_data"
    assert out["warnings_raised"] >= 2
    d = monitor.dashboard(session, OFFICER, now=NOW)
    assert d["matrix"]["n"] >= 10 and len(d["decision_mix"]) == 30 and len(d["alert_backlog"]) == 30
    assert sum(x["block"] for x in d["decision_mix"]) == 10 and d["model_monitor"][0]["status"] == "drift"
    assert d["metrics"]["delinquency_rate"]["value"] is None
