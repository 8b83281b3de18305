"""Suitability: each outcome of the rule through ``assess_purchase`` leaves its record (a refusal too, through
the persisting error), and the compliance log is for risk officers and admins."""

from __future__ import annotations

import pytest

from smartbank import db
from smartbank.errors import Forbidden
from smartbank.security.service import Principal
from smartbank.wealth import products, suitability
from smartbank.wealth.models import WealthProduct
from tests.lending.support import customer
from tests.wealth.test_orders import MON, grade, make_product


@pytest.mark.parametrize(("g", "kind", "risk", "outcome", "reason"), [
    (None, "time_deposit", "R1", "pass", None),
    (None, "fund", "R1", "refused", "SUIT-NO-ASSESSMENT"),
    ("C3", "fund", "R3", "pass", None),
    ("C3", "wmp", "R4", "refused", "SUIT-ABOVE-GRADE"),
    ("C3", "insurance", "R4", "refused", "SUIT-ABOVE-GRADE"),
    ("C1", "fund", "R2", "refused", "SUIT-ABOVE-GRADE"),
    ("C2", "fund", "R5", "acknowledged", "SUIT-ABOVE-GRADE-ACK"),
])
def test_every_outcome_is_recorded(bank, engine, g, kind, risk, outcome, reason):
    cid, _, me = customer(bank)
    extra = {"term_days": 91, "rate_bps": 65} if kind == "time_deposit" else {}
    make_product(engine, "P1", kind=kind, risk=risk, **extra)
    if g:
        grade(engine, cid, g)
    with db.session_scope(engine) as s:
        p = products.get_product(s, "P1")
        verdict, _ = suitability.preview(s, cid, p, now=MON)
        ack = verdict.en if outcome == "acknowledged" else None
    try:
        with db.session_scope(engine) as s:
            p = s.get(WealthProduct, p.id)
            suitability.assess_purchase(s, me, p, acknowledgement=ack, channel="api", now=MON)
        assert outcome != "refused"
    except suitability.Unsuitable as exc:
        assert outcome == "refused" and exc.details["reason_code"] == reason and exc.details["reason_zh"]
    staff = Principal(user_id=bank.user("risk1", role="risk_officer"), username="risk1", role="risk_officer",
                      customer_id=None)
    with db.session_scope(engine) as s:
        log = suitability.checks_log(s, staff)
        assert [(c["outcome"], c["reason_code"], c["customer_grade"], c["channel"]) for c in log] == [
            (outcome, reason, g, "api")]
        assert suitability.checks_log(s, staff, outcome="pass" if outcome != "pass" else "refused") == []
        assert log[0]["acknowledgement"] == ack


def test_log_is_for_risk_officers_and_admins(bank, engine):
    mk = Principal(user_id=bank.user("mark1", role="marketer"), username="mark1", role="marketer", customer_id=None)
    _, _, me = customer(bank)
    with db.session_scope(engine) as s:
        for who in (mk, me):
            with pytest.raises(Forbidden):
                suitability.checks_log(s, who)
