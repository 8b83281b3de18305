"""The demo bank's campaigns: opt-ins, one campaign approved by a second person and run, one awaiting approval."""

from __future__ import annotations

from sqlalchemy import select

from smartbank.marketing.models import Campaign, CampaignAssignment, MarketingMessage
from smartbank.synth.campaigns import seed_campaigns
from tests.marketing.campaign_helpers import arrange


def test_seed_campaigns(bank, engine, session, bank_clock):
    ids = arrange(bank, 20, consent_every=0)
    bank.user("marketer", role="marketer")
    bank.user("admin", role="admin")
    out = seed_campaigns(engine, opt_in_share=0.5)
    assert 0 < out["opted_in"] < len(ids)
    by_code = {c.code: c for c in session.scalars(select(Campaign))}
    assert by_code["WEALTH-STEADY"].status == "running" and by_code["WEALTH-STEADY"].decided_by == "admin"
    assert by_code["LOAN-SPRING"].status == "submitted"
    steady = out["campaigns"][0]
    held = session.scalars(select(CampaignAssignment.customer_id).where(CampaignAssignment.arm == "holdout")).all()
    sent = session.scalars(select(MarketingMessage.customer_id)
                           .where(MarketingMessage.status.in_(("sent", "delivered")))).all()
    assert steady["holdout"] == len(held) and steady["sent"] == len(sent) > 0 and not set(held) & set(sent)
    assert seed_campaigns(engine)["campaigns"] == []  # once only
