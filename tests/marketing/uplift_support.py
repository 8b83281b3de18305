"""Arranging a campaign with a planted heterogeneous effect: customers with ``x0 > 0`` convert more when
contacted, the others do not react; the holdout is 30%. Profiles are a synthetic frame (the insight profile
store is replaced by it through ``uplift._profiles``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from smartbank import clock, db
from smartbank.marketing import uplift
from smartbank.marketing.models import Campaign, CampaignArm, CampaignAssignment, Conversion


def planted(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=n), rng.normal(size=n)
    seg = rng.choice(["saver", "spender"], size=n)
    t = (rng.random(n) < 0.7).astype(int)
    base = 0.10 + 0.05 * (x1 > 0)
    effect = np.where(x0 > 0, 0.30, 0.0)
    y = (rng.random(n) < base + effect * t).astype(int)
    frame = pd.DataFrame({"customer_id": np.arange(1, n + 1), "x0": x0, "x1": x1, "segment": seg})
    return frame, t, y


def arrange_campaign(engine, monkeypatch, *, n: int = 600, code: str = "UPL-1", seed: int = 0) -> pd.DataFrame:
    frame, t, y = planted(n, seed)
    monkeypatch.setattr(uplift, "_profiles", lambda session: frame.copy())
    with db.session_scope(engine) as s:
        c = Campaign(code=code, name_zh="测试活动", name_en="Test campaign", goal="wealth_purchase",
                     created_by="market1", status="running")
        s.add(c)
        s.flush()
        s.add_all([CampaignArm(campaign_id=c.id, code="A", weight=1, is_holdout=False, content={}),
                   CampaignArm(campaign_id=c.id, code="holdout", weight=0, is_holdout=True, content={})])
        for cid, ti, yi in zip(frame["customer_id"], t, y, strict=True):
            arm = "A" if ti else "holdout"
            s.add(CampaignAssignment(campaign_id=c.id, customer_id=int(cid), arm=arm))
            if yi:
                s.add(Conversion(campaign_id=c.id, customer_id=int(cid), arm=arm, goal="wealth_purchase",
                                 event_ref=f"wealth_order:{cid}", occurred_at=clock.now()))
    return frame
