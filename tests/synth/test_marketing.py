"""The demo's campaigns with a known effect: the outcomes are real purchases, and attribution finds the planted
average effect within its sampling error."""

from __future__ import annotations

import math
import random

from sqlalchemy import func, select

from smartbank import clock, db
from smartbank.marketing import service as marketing
from smartbank.payments import service as payments
from smartbank.security.service import Principal
from smartbank.synth.marketing import WEALTH_CODE, seed_marketing
from smartbank.wealth import seed

MARKETER = Principal(user_id=0, username="m1", role="marketer", customer_id=None)


def test_demo_campaign_effect_is_recovered(bank, engine):
    with db.session_scope(engine) as s:
        seed.seed(s, codes=["F-MMF"], years=1)
        payments.add_biller(s, code="MOB-CM", name_zh="中国移动话费充值", name_en="China Mobile top-up",
                            category="mobile", requires_bill=False)
    rng = random.Random(5)
    for i in range(260):
        cid = bank.customer(f"客户{i}")
        bank.account(cid, balance=rng.choice((800_000, 2_000_000, 6_000_000, 20_000_000)))
    out = seed_marketing(engine, seed=11, skip_first=0)
    w, top = out["wealth"], out["topup"]
    assert top["top_ups"] > 0 and top["refused"] == 0  # every customer here is on China Mobile (138...)
    assert top["found"]["new"] == top["top_ups"]  # no other top-up in this bank
    with db.session_scope(engine) as s:
        rep = marketing.campaign_report(s, MARKETER, w["campaign_id"])
        orders = s.scalar(select(func.count()).select_from(marketing.Conversion)
                          .where(marketing.Conversion.campaign_id == w["campaign_id"]))
        holdout_msgs = s.scalar(select(func.count()).select_from(marketing.MarketingMessage)
                                .where(marketing.MarketingMessage.arm == "holdout"))
        last_sent = s.scalar(select(func.max(marketing.MarketingMessage.sent_at)))
    made = sum(t["purchases"] for t in w["tally"].values())
    assert made > 0 and orders == made == rep["conversions"] + rep["holdout_conversions"]
    assert holdout_msgs == 0 and last_sent is not None
    assert (last_sent.replace(tzinfo=None) if last_sent.tzinfo is None else last_sent.astimezone().replace(
        tzinfo=None)) < clock.now().replace(tzinfo=None)
    assert rep["customers"] + rep["holdout_customers"] == 260 and rep["cost_micro"] > 0
    # the estimate of the extra purchases against what was planted (the sum of the contacted customers' added
    # probabilities), within three standard errors of the difference-in-means estimator
    n1, n0 = rep["customers"], rep["holdout_customers"]
    p1, p0 = rep["conversions"] / n1, rep["holdout_conversions"] / n0
    se = math.sqrt(n1 * p1 * (1 - p1) + n1 * n1 * p0 * (1 - p0) / n0 + n1 * 0.25 / n0)
    too_little = sum(t.get("too_little", 0) for t in w["tally"].values())
    assert abs(rep["incremental_conversions"] - w["planted_incremental"]) <= 3 * se + too_little, (rep, w, se)
    assert seed_marketing(engine, seed=11) == {"skipped": "the demo campaigns exist already"}
    assert w["found"]["new"] == made and w["found"]["campaign"] == WEALTH_CODE
