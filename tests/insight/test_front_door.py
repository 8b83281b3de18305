"""What insight answers other domains' staff views: a customer's stored profile, without a check or an audit
record of its own (the calling service has decided and recorded the read)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from smartbank import clock, db
from smartbank.insight import service as insight
from smartbank.insight.models import CustomerProfile
from smartbank.security.models import AuditLog


def test_a_stored_profile_or_none(bank, engine):
    cid = bank.customer("王芳")
    other = bank.customer("李娜")
    with db.session_scope(engine) as s:
        s.add(CustomerProfile(customer_id=cid, as_of=date(2026, 3, 1), computed_at=clock.now(),
                              features={"income_monthly_minor": 1_200_000}, segment="saver", churn_score=0.25))
    with db.session_scope(engine) as s:
        p = insight.stored_profile(s, cid)
        assert p == {"features": {"income_monthly_minor": 1_200_000}, "segment": "saver", "churn_score": 0.25,
                     "as_of": date(2026, 3, 1)}
        assert insight.stored_profile(s, other) is None
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 0
