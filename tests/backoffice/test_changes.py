"""Maker-checker for sensitive configuration, through the back office's front door: one staff member proposes,
a different one with the right role approves (the change applies then), rejects, or the maker withdraws; a
proposal whose object changed since is refused at approval; every step is audited."""

from __future__ import annotations

import pytest

from smartbank import db
from smartbank.backoffice import service as backoffice
from smartbank.customers import service as customers
from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.lending import service as lending
from smartbank.risk import service as risk
from smartbank.security import service as security


def _p(s, user_id):
    return security.principal_of(security.find_user(s, user_id))


@pytest.fixture
def staff(bank):
    return {name: bank.user(name, role=role) for name, role in (
        ("risk1", "risk_officer"), ("risk2", "risk_officer"), ("admin1", "admin"), ("admin2", "admin"),
        ("teller1", "teller"), ("mkt1", "marketer"))}


def _run(fn):
    return db.run_in_transaction(fn)


def _propose_limit(staff, cid, minor, reason="customer asked at the counter"):
    return _run(lambda s: backoffice.propose_change(
        s, _p(s, staff["teller1"]), kind="customer.daily_limit", target=cid,
        payload={"daily_limit_minor": minor}, reason=reason).id)


def _limit(cid):
    return _run(lambda s: customers.get_customer(s, cid).daily_limit_minor)


def test_approval_by_a_second_person_applies_and_audits(bank, staff):
    cid = bank.customer()
    before = _limit(cid)
    ch = _propose_limit(staff, cid, 2_000_00)
    assert _limit(cid) == before  # nothing changes until a checker approves
    req = _run(lambda s: backoffice.change_as_dict(s, backoffice.get_change(s, _p(s, staff["risk1"]), ch)))
    assert req["status"] == "pending" and req["before"] == {"daily_limit_minor": before}
    assert req["changes"] == [{"field": "daily_limit_minor", "before": before, "after": 2_000_00}]
    assert req["reason"] == "customer asked at the counter"
    done = _run(lambda s: backoffice.change_as_dict(
        s, backoffice.approve_change(s, _p(s, staff["risk1"]), ch, note="checked the form")))
    assert done["status"] == "applied" and done["after"] == {"daily_limit_minor": 2_000_00}
    assert done["requested_by"] == staff["teller1"] and done["decided_by"] == staff["risk1"]
    assert _limit(cid) == 2_000_00
    trail = _run(lambda s: [(a.action, a.actor_user_id, a.before, a.after)
                            for a in security.audit_trail(s, object_type="change_request", object_id=str(ch))])
    assert [t[0] for t in trail] == ["change.approve", "change.propose"]
    assert trail[1][1] == staff["teller1"] and trail[0][1] == staff["risk1"]
    assert trail[0][2] == {"daily_limit_minor": before}
    assert trail[0][3]["value"] == {"daily_limit_minor": 2_000_00}
    # the owner's own audit of the change names the checker
    owner = _run(lambda s: [(a.action, a.actor_user_id) for a in security.audit_trail(
        s, object_type="customer", object_id=str(cid)) if a.action == "customer.daily_limit"])
    assert owner == [("customer.daily_limit", staff["risk1"])]


def test_the_maker_cannot_approve_their_own_change(bank, staff):
    cid = bank.customer()
    ch = _propose_limit(staff, cid, 1_00)
    with pytest.raises(Conflict) as e:
        _run(lambda s: backoffice.approve_change(s, _p(s, staff["teller1"]), ch))
    assert e.value.code == "same_officer"
    assert _limit(cid) != 1_00


def test_a_role_without_the_permission_cannot_approve(bank, staff):
    cid = bank.customer()
    ch = _propose_limit(staff, cid, 1_00)
    with pytest.raises(Forbidden):
        _run(lambda s: backoffice.approve_change(s, _p(s, staff["mkt1"]), ch))
    # nor see it in their queue
    assert _run(lambda s: backoffice.list_changes(s, _p(s, staff["mkt1"]))) == []
    assert _limit(cid) != 1_00


def test_a_stale_proposal_is_refused_at_approval(bank, staff):
    cid = bank.customer()
    first = _propose_limit(staff, cid, 1_000_00)
    second = _propose_limit(staff, cid, 3_000_00)
    _run(lambda s: backoffice.approve_change(s, _p(s, staff["risk1"]), first))
    with pytest.raises(Conflict) as e:
        _run(lambda s: backoffice.approve_change(s, _p(s, staff["risk2"]), second))
    assert e.value.code == "stale_change"
    assert _limit(cid) == 1_000_00
    assert _run(lambda s: backoffice.get_change(s, _p(s, staff["risk1"]), second).status) == "pending"


def test_reject_leaves_the_value_and_needs_a_note(bank, staff):
    cid = bank.customer()
    before = _limit(cid)
    ch = _propose_limit(staff, cid, 9_00)
    with pytest.raises(ValidationFailed):
        _run(lambda s: backoffice.reject_change(s, _p(s, staff["risk1"]), ch, note=" "))
    _run(lambda s: backoffice.reject_change(s, _p(s, staff["risk1"]), ch, note="no signed form"))
    assert _limit(cid) == before
    with pytest.raises(Conflict):  # decided once
        _run(lambda s: backoffice.approve_change(s, _p(s, staff["risk2"]), ch))
    actions = _run(lambda s: [a.action for a in security.audit_trail(s, object_type="change_request",
                                                                      object_id=str(ch))])
    assert actions == ["change.reject", "change.propose"]


def test_only_the_maker_withdraws(bank, staff):
    cid = bank.customer()
    ch = _propose_limit(staff, cid, 9_00)
    with pytest.raises(NotFound):
        _run(lambda s: backoffice.withdraw_change(s, _p(s, staff["risk1"]), ch))
    _run(lambda s: backoffice.withdraw_change(s, _p(s, staff["teller1"]), ch, note="typo"))
    assert _run(lambda s: backoffice.get_change(s, _p(s, staff["teller1"]), ch).status) == "withdrawn"


def test_bad_input_is_refused_at_proposal_and_nothing_is_written(bank, staff):
    with pytest.raises(ValidationFailed):  # the owner's own check, run in a trial
        _run(lambda s: backoffice.propose_change(
            s, _p(s, staff["risk1"]), kind="risk.rule.create", target="bad_rule",
            payload={"name_en": "x", "name_zh": "x", "expression": "amount >", "action": "block",
                     "reason_en": "x", "reason_zh": "x"}))
    with pytest.raises(Forbidden):  # a marketer proposes no risk rule
        _run(lambda s: backoffice.propose_change(
            s, _p(s, staff["mkt1"]), kind="risk.rule.mode", target="large_new_payee", payload={"mode": "retired"}))
    with pytest.raises(ValidationFailed):
        _run(lambda s: backoffice.propose_change(s, _p(s, staff["risk1"]), kind="no.such", target="1", payload={}))
    assert _run(lambda s: backoffice.list_changes(s, _p(s, staff["admin1"]), status=None)) == []


def test_risk_rule_retire_and_staff_role(bank, staff):
    _run(lambda s: risk.seed_defaults(s))
    code = _run(lambda s: risk.list_rules(s, actor=security.SYSTEM)[0]["code"])
    ch = _run(lambda s: backoffice.propose_change(s, _p(s, staff["risk1"]), kind="risk.rule.mode", target=code,
                                                  payload={"mode": "retired"}, reason="too many false alarms").id)
    assert _run(lambda s: risk.get_rule(s, actor=security.SYSTEM, code=code)["mode"]) != "retired"
    _run(lambda s: backoffice.approve_change(s, _p(s, staff["admin1"]), ch))
    assert _run(lambda s: risk.get_rule(s, actor=security.SYSTEM, code=code)["mode"]) == "retired"

    ch = _run(lambda s: backoffice.propose_change(s, _p(s, staff["admin1"]), kind="user.role",
                                                  target=staff["teller1"], payload={"role": "admin"}).id)
    with pytest.raises(Forbidden):  # only administrators decide staff roles
        _run(lambda s: backoffice.approve_change(s, _p(s, staff["risk1"]), ch))
    _run(lambda s: backoffice.approve_change(s, _p(s, staff["admin2"]), ch))
    assert _run(lambda s: security.find_user(s, staff["teller1"]).role) == "admin"
    ch = _run(lambda s: backoffice.propose_change(s, _p(s, staff["admin1"]), kind="user.active",
                                                  target=staff["mkt1"], payload={"active": False}).id)
    _run(lambda s: backoffice.approve_change(s, _p(s, staff["admin2"]), ch))
    assert _run(lambda s: security.find_user(s, staff["mkt1"]).is_active) is False


def test_rate_proposal_goes_stale_when_another_rate_is_published(bank, staff):
    from datetime import date

    _run(lambda s: lending.seed_products(s))
    a = _run(lambda s: backoffice.propose_change(s, _p(s, staff["admin1"]), kind="lending.rate.set",
                                                 target="LPR1Y",
                                                 payload={"rate_bps": 301, "effective_date": "2031-01-20"}).id)
    b = _run(lambda s: backoffice.propose_change(s, _p(s, staff["admin1"]), kind="lending.rate.set",
                                                 target="LPR1Y",
                                                 payload={"rate_bps": 299, "effective_date": "2031-02-20"}).id)
    _run(lambda s: backoffice.approve_change(s, _p(s, staff["admin2"]), a))
    assert _run(lambda s: lending.rate_on(s, "LPR1Y", date(2031, 1, 25))) == 301
    with pytest.raises(Conflict):
        _run(lambda s: backoffice.approve_change(s, _p(s, staff["admin2"]), b))


@pytest.mark.commits
def test_two_checkers_at_once_decide_once(bank, staff, engine, is_pg):
    """Approval and rejection of one request at the same moment: the row lock lets exactly one decide."""
    import threading

    if not is_pg:
        pytest.skip("row locks: PostgreSQL")
    cid = bank.customer()
    ch = _propose_limit(staff, cid, 7_00)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def act(who, approve):
        barrier.wait()
        try:
            if approve:
                _run(lambda s: backoffice.approve_change(s, _p(s, staff[who]), ch))
            else:
                _run(lambda s: backoffice.reject_change(s, _p(s, staff[who]), ch, note="no"))
            results.append("ok")
        except Conflict as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=act, args=("risk1", True)), threading.Thread(target=act, args=("risk2", False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "ok"]
    status = _run(lambda s: backoffice.get_change(s, _p(s, staff["admin1"]), ch).status)
    assert (status == "applied") == (_limit(cid) == 7_00)
    decisions = _run(lambda s: [a.action for a in security.audit_trail(s, object_type="change_request",
                                                                        object_id=str(ch))])
    assert sorted(decisions) == sorted(["change.propose", "change.approve" if status == "applied" else "change.reject"])
