"""The alert workflow (audited, each step with who and a note), the SLA on the bank's clock, escalation, the
reputational-risk KRI on the risk dashboard's indicators, and run_due."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from smartbank import clock
from smartbank.db import aware
from smartbank.errors import Conflict, Forbidden, ValidationFailed
from smartbank.opinion import service as opinion
from smartbank.opinion.models import OpinionAlert
from smartbank.opinion.spikes import SLA
from smartbank.risk import hooks, monitor
from smartbank.risk.models import RiskKri
from smartbank.security.models import AuditLog
from tests.opinion.support import MARKETER, OFFICER, TELLER, add_series


def _alert(session, spike: int = 25) -> OpinionAlert:
    now = opinion.hour_floor(clock.now())
    add_series(session, now, spike_at=now - timedelta(hours=1), spike=spike)
    res = opinion.run_due(session)
    assert res["alerts_raised"] == 2 and res["sla_breaches"] == 0
    return session.scalars(select(OpinionAlert).where(OpinionAlert.kind == "negative")).one()


def test_workflow_in_order_audited(session, bank_clock):
    a = _alert(session)
    with pytest.raises(Conflict):
        opinion.respond(session, MARKETER, a.id, note="too early")
    opinion.acknowledge(session, OFFICER, a.id, note="looking")
    opinion.assign(session, MARKETER, a.id, "pr_team", note="to PR")
    opinion.assign(session, MARKETER, a.id, "ops_team", note="outage: ops")
    with pytest.raises(ValidationFailed):
        opinion.respond(session, MARKETER, a.id)  # a response says what was done
    opinion.respond(session, MARKETER, a.id, note="statement posted: service restored")
    view = opinion.close(session, OFFICER, a.id)
    assert view["status"] == "closed" and view["assignee"] == "ops_team"
    assert view["response"] == "statement posted: service restored"
    got = opinion.get_alert(session, MARKETER, a.id)
    assert [(e["action"], e["actor"]) for e in got["events"]] == [
        ("raised", "system"), ("acknowledge", "ro1"), ("assign", "mk1"), ("assign", "mk1"), ("respond", "mk1"),
        ("close", "ro1")]
    assert got["events"][2]["note"] == "to PR"
    audited = session.scalars(select(AuditLog.action).where(AuditLog.object_type == "opinion_alert",
                                                            AuditLog.object_id == str(a.id))).all()
    assert sorted(audited) == sorted(["opinion.alert.acknowledge", "opinion.alert.assign", "opinion.alert.assign",
                                      "opinion.alert.respond", "opinion.alert.close"])
    with pytest.raises(Conflict):
        opinion.escalate(session, OFFICER, a.id)
    with pytest.raises(Conflict):
        opinion.acknowledge(session, OFFICER, a.id)


def test_close_without_response_needs_a_note_and_wrong_role_is_refused(session):
    a = _alert(session)
    with pytest.raises(Forbidden):
        opinion.acknowledge(session, TELLER, a.id)
    with pytest.raises(Forbidden):
        opinion.list_alerts(session, TELLER)
    with pytest.raises(ValidationFailed):
        opinion.close(session, MARKETER, a.id)
    assert opinion.close(session, MARKETER, a.id, note="false alarm: a test post")["status"] == "closed"


def test_sla_breaches_on_the_bank_clock(session, bank_clock):
    a = _alert(session)
    b = session.scalars(select(OpinionAlert).where(OpinionAlert.kind == "volume")).one()
    assert a.severity == "high"
    bank_clock.advance(timedelta(minutes=59))
    assert opinion.sla_breaches(session) == 0
    opinion.acknowledge(session, OFFICER, b.id)  # b is acknowledged in time
    bank_clock.advance(timedelta(minutes=2))
    assert opinion.sla_breaches(session) == 1  # a: not acknowledged within the hour
    assert a.ack_breached_at is not None and a.respond_breached_at is None
    assert opinion.get_alert(session, OFFICER, a.id)["sla"]["ack_breached"]
    assert opinion.sla_breaches(session) == 0  # stamped once
    bank_clock.advance(timedelta(hours=3))
    assert opinion.run_due(session)["sla_breaches"] == 2  # neither responded within 4 hours
    assert [e["action"] for e in opinion.get_alert(session, OFFICER, a.id)["events"]] == [
        "raised", "sla_breach", "sla_breach"]


def test_escalation_raises_severity_and_tightens_the_sla(session):
    a = _alert(session)
    # as detect() writes a low alert: due in 24 h and 72 h
    a.severity = "low"
    a.ack_due_at, a.respond_due_at = opinion.sla_due("low", aware(a.created_at))
    session.flush()
    view = opinion.escalate(session, OFFICER, a.id, note="journalists calling")
    assert (view["severity"], view["escalated"], view["status"]) == ("medium", 1, "new")
    created = aware(a.created_at)
    assert (aware(a.ack_due_at) - created, aware(a.respond_due_at) - created) == (SLA["medium"])
    opinion.acknowledge(session, OFFICER, a.id)
    view = opinion.escalate(session, MARKETER, a.id)
    assert (view["severity"], view["escalated"], view["status"]) == ("high", 2, "acknowledged")
    assert opinion.escalate(session, MARKETER, a.id)["severity"] == "high"  # already the highest


def test_reputational_risk_kri(session, bank_clock):
    assert monitor.METRICS["reputational_risk"] is not None
    assert hooks.metric_provider("reputational_risk") is opinion.reputational_risk
    monitor.seed_defaults(session)
    kri = session.scalars(select(RiskKri).where(RiskKri.code == "KRI-REPUTATION")).one()
    assert kri.metric == "reputational_risk" and kri.warn_threshold == 1
    now = clock.now()
    assert monitor.METRICS["reputational_risk"](session, now - timedelta(days=1), now) is None  # no feed yet
    a = _alert(session)
    bank_clock.advance(timedelta(minutes=5))
    now = clock.now()
    assert monitor.METRICS["reputational_risk"](session, now - timedelta(days=1), now) >= 1.0
    opinion.close(session, OFFICER, a.id, note="handled")
    bank_clock.advance(timedelta(minutes=5))
    n_high_open = len([x for x in opinion.list_alerts(session, OFFICER, open_only=True) if x["severity"] == "high"])
    assert monitor.METRICS["reputational_risk"](session, clock.now() - timedelta(days=1), clock.now()) == n_high_open
    rows = {r["code"]: r for r in monitor.evaluate_kris(session, clock.now())}
    assert rows["KRI-REPUTATION"]["value"] == n_high_open
