"""Uplift for the bank's own campaigns: training on assignments and conversions, the registry round trip, the
audience scorers, the report, and who may do what."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smartbank import config, db
from smartbank.errors import Forbidden, NotFound, ValidationFailed
from smartbank.marketing import service as marketing
from smartbank.marketing import uplift
from smartbank.ml import service as ml
from smartbank.security.models import AuditLog
from smartbank.security.service import Principal
from tests.marketing.uplift_support import arrange_campaign

TELLER = Principal(user_id=8, username="teller1", role="teller", customer_id=None)
CUSTOMER = Principal(user_id=9, username="alice", role="customer", customer_id=1)


@pytest.fixture
def marketer(bank):
    return Principal(user_id=bank.user("market1", role="marketer"), username="market1", role="marketer",
                     customer_id=None)


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTBANK_MODEL_DIR", str(tmp_path / "models"))
    config.reset_settings()
    uplift._cache.clear()
    yield tmp_path / "models"
    config.reset_settings()


def test_train_save_load_and_score(engine, monkeypatch, models, marketer):
    frame = arrange_campaign(engine, monkeypatch, n=900)
    res = db.run_in_transaction(lambda s: marketing.train_campaign_uplift(s, marketer, "UPL-1"), engine=engine)
    assert res["customers"] == 900 and res["treated"] + res["holdout"] == 900
    assert res["qini"] > 0 and res["auuc"] > 0
    assert res["version"] == ml.latest_version("uplift_UPL-1")
    # the registry round trip: the saved artefact loads (hashes checked) with its figures and features
    loaded = ml.load_model("uplift_UPL-1", features=["x0", "x1", "segment=saver", "segment=spender"])
    assert loaded.meta["metrics"]["qini"] == res["qini"] and loaded.meta["params"]["campaign"] == "UPL-1"
    assert set(loaded.objects) == {"booster", "encoding"}
    ids = [int(i) for i in frame["customer_id"]]
    with db.session_scope(engine) as s:
        by_code = marketing.score_audience(s, "uplift:UPL-1", ids)
        by_goal = marketing.score_audience(s, "uplift:goal:wealth_purchase", ids)
        assert s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "marketing.uplift.train")) == 1
    assert by_code.model_version == res["version"] and by_code.scores == by_goal.scores
    hi = [by_code.scores[c] for c, x in zip(ids, frame["x0"], strict=True) if x > 0.3]
    lo = [by_code.scores[c] for c, x in zip(ids, frame["x0"], strict=True) if x < -0.3]
    assert sum(hi) / len(hi) > sum(lo) / len(lo) + 0.1
    # a second training is a new version; the report lists both and draws the latest
    res2 = db.run_in_transaction(lambda s: marketing.train_campaign_uplift(s, marketer, "UPL-1", seed=1),
                                 engine=engine)
    with db.session_scope(engine) as s:
        rep = marketing.uplift_report(s, marketer, "UPL-1")
        old = marketing.uplift_report(s, marketer, "UPL-1", version=res["version"])
        listed = marketing.list_uplift_models(s, marketer)
    assert rep["version"] == res2["version"] and rep["versions"] == sorted([res["version"], res2["version"]],
                                                                            reverse=True)
    assert old["qini"] == res["qini"] and rep["curve"]["x"][-1] == rep["validation_customers"]
    assert [m["campaign"] for m in listed] == ["UPL-1"]


def test_wrong_roles_are_refused(engine, monkeypatch, models, marketer):
    arrange_campaign(engine, monkeypatch, n=300)
    for who in (TELLER, CUSTOMER):
        with pytest.raises(Forbidden), db.session_scope(engine) as s:
            marketing.train_campaign_uplift(s, who, "UPL-1")
        with pytest.raises(Forbidden), db.session_scope(engine) as s:
            marketing.list_uplift_models(s, who)
        with pytest.raises(Forbidden), db.session_scope(engine) as s:
            marketing.uplift_report(s, who, "UPL-1")
    assert not models.exists()


def test_bad_requests_write_nothing(engine, monkeypatch, models, marketer):
    arrange_campaign(engine, monkeypatch, n=120)
    with pytest.raises(ValidationFailed) as exc, db.session_scope(engine) as s:
        marketing.train_campaign_uplift(s, marketer, "UPL-1")
    assert exc.value.reason == "marketing.uplift_not_enough_data" and exc.value.details["customers"] == 120
    with pytest.raises(NotFound), db.session_scope(engine) as s:
        marketing.train_campaign_uplift(s, marketer, "NOPE")
    with pytest.raises(NotFound), db.session_scope(engine) as s:
        marketing.uplift_report(s, marketer, "UPL-1")
    with pytest.raises(ValidationFailed) as missing, db.session_scope(engine) as s:
        marketing.score_audience(s, "uplift:goal:deposit", [1, 2])
    assert missing.value.reason == "marketing.uplift_model_missing"
    assert not models.exists()
    with db.session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_real_profiles_are_the_features(engine, bank, models, marketer):
    """Without the synthetic frame: the insight profile store is read, and two customers are too few."""
    from datetime import date

    from smartbank import clock
    from smartbank.insight.models import CustomerProfile
    from smartbank.marketing.models import Campaign, CampaignAssignment

    a, b = bank.customer("王芳"), bank.customer("李娜")
    with db.session_scope(engine) as s:
        for cid in (a, b):
            s.add(CustomerProfile(customer_id=cid, as_of=date(2026, 3, 1), computed_at=clock.now(),
                                  features={"income_monthly_minor": 1_000_000}, segment="saver"))
        c = Campaign(code="REAL", name_zh="活动", name_en="Campaign", goal="deposit", created_by="m")
        s.add(c)
        s.flush()
        s.add_all([CampaignAssignment(campaign_id=c.id, customer_id=a, arm="A"),
                   CampaignAssignment(campaign_id=c.id, customer_id=b, arm="holdout")])
    with pytest.raises(ValidationFailed) as exc, db.session_scope(engine) as s:
        marketing.train_campaign_uplift(s, marketer, "REAL")
    assert exc.value.details["customers"] == 2
