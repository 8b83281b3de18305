"""The risk register: CRUD with audit, authorisation, the 5x5 matrix and its ratings, defaults."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.risk import register
from smartbank.risk.models import RISK_CATEGORIES, RiskRegisterEntry
from smartbank.security.models import AuditLog
from smartbank.security.service import Principal

OFFICER = Principal(user_id=0, username="ro", role="risk_officer", customer_id=None)


def entry(session, code="OP-99", likelihood=3, impact=4, **kw):
    return register.create_entry(session, OFFICER, code=code, category=kw.pop("category", "operational"),
                                 title_en="A risk", title_zh="一个风险", likelihood=likelihood, impact=impact, **kw)


@pytest.mark.parametrize(("lk", "im", "rating"), [
    (1, 1, "low"), (2, 2, "low"), (1, 5, "medium"), (3, 3, "medium"), (2, 5, "high"), (4, 4, "high"),
    (4, 5, "critical"), (5, 5, "critical")])
def test_rating(lk, im, rating):
    assert register.rating(lk, im) == rating


def test_create_edit_audited(session):
    e = entry(session, code="op-99", owner="Ops")
    assert e["code"] == "OP-99" and e["score"] == 12 and e["rating"] == "high"
    e2 = register.edit_entry(session, OFFICER, e["id"], likelihood=5, impact=5, status="mitigating")
    assert e2["rating"] == "critical" and e2["status"] == "mitigating"
    log = session.execute(select(AuditLog).order_by(AuditLog.id)).scalars().all()
    assert [x.action for x in log] == ["risk_register.create", "risk_register.edit"]
    assert log[1].before["likelihood"] == 3 and log[1].after["likelihood"] == 5


@pytest.mark.parametrize("kw", [
    {"likelihood": 0}, {"impact": 6}, {"likelihood": 2.5}, {"impact": True}, {"category": "weather"},
    {"status": "gone"}, {"code": "x"}, {"code": "bad code!"}, {"title_en": ""}, {"title_zh": "  "},
])
def test_bad_input_writes_nothing(session, kw):
    args = {"code": "OP-98", "category": "operational", "title_en": "t", "title_zh": "t", "likelihood": 2,
            "impact": 2, **kw}
    with pytest.raises(ValidationFailed):
        register.create_entry(session, OFFICER, **args)
    assert session.execute(select(func.count()).select_from(RiskRegisterEntry)).scalar() == 0
    assert session.execute(select(func.count()).select_from(AuditLog)).scalar() == 0


def test_duplicate_code_and_bad_edits(session):
    e = entry(session)
    with pytest.raises(Conflict):
        entry(session)
    with pytest.raises(ValidationFailed):
        register.edit_entry(session, OFFICER, e["id"], impact=9)
    with pytest.raises(ValidationFailed):
        register.edit_entry(session, OFFICER, e["id"], code="NEW")
    with pytest.raises(NotFound):
        register.edit_entry(session, OFFICER, 10**9, impact=2)
    assert register.get_entry(session, OFFICER, e["id"])["impact"] == 4


@pytest.mark.any_backend
@pytest.mark.parametrize("role", ["teller", "customer", "marketer"])
def test_others_refused(session, role):
    who = Principal(user_id=0, username="x", role=role, customer_id=None)
    with pytest.raises(Forbidden):
        register.create_entry(session, who, code="OP-97", category="operational", title_en="t", title_zh="t",
                              likelihood=1, impact=1)
    with pytest.raises(Forbidden):
        register.list_entries(session, who)
    with pytest.raises(Forbidden):
        register.matrix(session, who)


def test_matrix_counts_open_risks(session):
    entry(session, "A-1", 3, 4)
    entry(session, "A-2", 3, 4)
    entry(session, "A-3", 5, 5)
    entry(session, "A-4", 1, 1)
    closed = entry(session, "A-5", 2, 2)
    register.edit_entry(session, OFFICER, closed["id"], status="closed")
    m = register.matrix(session, OFFICER)
    assert len(m["cells"]) == 5 and all(len(r) == 5 for r in m["cells"])
    assert m["cells"][2][3]["count"] == 2 and m["cells"][2][3]["codes"] == ["A-1", "A-2"]
    assert m["cells"][4][4]["count"] == 1 and m["cells"][0][0]["count"] == 1 and m["cells"][1][1]["count"] == 0
    assert sum(c["count"] for r in m["cells"] for c in r) == 4 == m["n"]
    assert m["totals"] == {"low": 1, "medium": 0, "high": 2, "critical": 1}
    assert [e["code"] for e in register.list_entries(session, OFFICER, include_closed=False)] == ["A-3", "A-1", "A-2",
                                                                                                   "A-4"]


def test_seed_defaults(session):
    n = register.seed_defaults(session)
    assert n >= 10 and register.seed_defaults(session) == 0
    rows = register.list_entries(session, OFFICER)
    assert {r["category"] for r in rows} == set(RISK_CATEGORIES)
    assert all(r["title_zh"] and r["title_en"] and r["controls"] for r in rows)


# the code that carries out each implemented default control (module:attribute)
IMPLEMENTED_BY = {
    ("CR-01", "Automatic credit decisions with reasons"): "smartbank.lending.decision:evaluate",
    ("CR-01", "risk-based pricing"): "smartbank.lending.products:price",
    ("CR-01", "delinquency monitoring"): "smartbank.risk.monitor:delinquency_rate",
    ("CR-01", "early warning on loans"): "smartbank.lending.warning:run",
    ("MK-02", "Suitability checks"): "smartbank.wealth.suitability:assess_purchase",
    ("MK-02", "risk-tolerance assessment"): "smartbank.wealth.questionnaire:take",
    ("MK-02", "product risk ratings"): "smartbank.wealth.models:RISK_LEVELS",
    ("OP-01", "Real-time fraud scoring on every payment"): "smartbank.risk.service:assess",
    ("OP-01", "rules"): "smartbank.risk.rules:load_ruleset",
    ("OP-01", "step-up challenges"): "smartbank.risk.service:guarded_transfer",
    ("OP-01", "alert queue"): "smartbank.risk.cases:queue",
    ("OP-01", "limits"): "smartbank.risk.limits:check",
    ("OP-02", "close-of-day runs exactly once"): "smartbank.ops.close_of_day:mark_closed_through",
    ("OP-03", "Score-distribution monitoring (PSI)"): "smartbank.risk.monitor:model_psi",
    ("OP-04", "Public-opinion monitoring with spike alerts"): "smartbank.opinion.service:detect",
    ("OP-04", "alert response workflow with deadlines"): "smartbank.opinion.service:sla_breaches",
    ("OP-03", "retraining with confirmed labels"): "smartbank.risk.rules:history_frame",
    ("CP-02", "masking of ID numbers and phone numbers on staff pages"): "smartbank.web.render:mask",
    ("CP-02", "audit log of staff actions"): "smartbank.security.service:audit",
    ("IS-01", "least-privilege roles"): "smartbank.security.service:Principal.require_role",
    ("IS-01", "audit log"): "smartbank.security.service:audit",
    ("IS-01", "tamper-evident journal"): "smartbank.ledger.journal:verify",
    ("IS-02", "Lock-out after repeated failures"): "smartbank.security.service:sign_in",
    ("IS-02", "strong passwords"): "smartbank.security.service:check_password_strength",
    ("IS-02", "session expiry"): "smartbank.security.service:authenticate",
}


def _resolve(ref):
    import importlib

    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_implemented_control_names_code_that_exists():
    assert set(register.DEFAULT_CONTROLS) == {d["code"] for d in register.DEFAULTS}
    for code, controls in register.DEFAULT_CONTROLS.items():
        assert controls, code
        for c in controls:
            assert c.status in register.CONTROL_STATUSES, (code, c)
            if c.status == "implemented":
                assert (code, c.name) in IMPLEMENTED_BY, (code, c)
                assert _resolve(IMPLEMENTED_BY[code, c.name]) is not None, (code, c)
            else:
                assert (code, c.name) not in IMPLEMENTED_BY, (code, c)
    implemented = {(code, c.name) for code, cs in register.DEFAULT_CONTROLS.items() for c in cs
                   if c.status == "implemented"}
    assert implemented == set(IMPLEMENTED_BY)


def test_controls_that_do_not_exist_are_marked_planned(session):
    register.seed_defaults(session)
    items = {r["code"]: r["control_items"] for r in register.list_entries(session, OFFICER)}
    planned = {i["name"].lower() for v in items.values() for i in v if i["status"] == "planned"}
    implemented = {i["name"].lower() for v in items.values() for i in v if i["status"] == "implemented"}
    for name in ("consent records", "field encryption", "encryption at rest", "replicated database"):
        assert name in planned and name not in implemented
    assert not any("encryption" in n or "consent" in n for n in implemented)
    # the stored text reads back to the same statuses
    for d in register.DEFAULTS:
        assert [(i["name"], i["status"]) for i in items[d["code"]]] == \
            [(c.name, c.status) for c in register.DEFAULT_CONTROLS[d["code"]]]


def test_parse_controls_marks():
    assert register.parse_controls("A; B [planned]；C [计划] ; ") == [
        {"name": "A", "status": "implemented"}, {"name": "B", "status": "planned"},
        {"name": "C", "status": "planned"}]
    assert register.parse_controls(None) == []


def test_seed_corrects_stale_default_controls_but_keeps_officer_edits(session):
    session.add(RiskRegisterEntry(code="IS-01", category="infosec", title_en="t", title_zh="t", likelihood=3,
                                  impact=5, status="open",
                                  controls="Encryption at rest; least-privilege roles; audit log; "
                                           "tamper-evident journal"))
    session.add(RiskRegisterEntry(code="CP-02", category="compliance", title_en="t", title_zh="t", likelihood=2,
                                  impact=4, status="open", controls="Our own wording"))
    session.flush()
    register.seed_defaults(session)
    rows = {r["code"]: r for r in register.list_entries(session, OFFICER)}
    assert {"name": "Encryption at rest", "status": "planned"} in rows["IS-01"]["control_items"]
    assert rows["CP-02"]["controls"] == "Our own wording"
