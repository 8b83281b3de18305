"""Serving: filters after ranking that nothing bypasses, reasons, recording, authorisation."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from smartbank import clock, db
from smartbank.errors import NotFound, ValidationFailed
from smartbank.recommend import engine as rec_engine
from smartbank.recommend import events, service
from smartbank.recommend.models import RecEvent, RecServed
from smartbank.security.service import Principal
from smartbank.wealth.models import Holding, RiskAssessment, WealthProduct
from smartbank.wealth.rules import allowed_without_acknowledgement
from tests.recommend.test_items import _fresh_engine, customer_actor, grade, hold, make_products  # noqa: F401


def serve(engine, actor, slot="for_you", n=10):
    return db.run_in_transaction(lambda s: service.recommend(s, actor, slot=slot, n=n), engine=engine)


def products(engine) -> dict[str, tuple[str, str, str]]:
    with db.session_scope(engine) as s:
        return {p.code: (p.kind, p.risk_level, p.status) for p in s.scalars(select(WealthProduct))}


def held(engine, cid) -> set[str]:
    with db.session_scope(engine) as s:
        ids = set(s.scalars(select(Holding.product_id).where(Holding.customer_id == cid)))
        return {p.code for p in s.scalars(select(WealthProduct).where(WealthProduct.id.in_(ids)))}


def injected_ranking(monkeypatch, order_keys):
    """Replace the model by one that ranks the items in ``order_keys`` order (the rest after)."""
    real = rec_engine.RecEngine.rank

    def rank(self, customer_id, grade, limit=None, offset=0, **kw):
        out = real(self, customer_id, grade, **kw)
        pos = {k: i for i, k in enumerate(order_keys)}
        out.sort(key=lambda r: pos.get(self.items.keys[r.index], len(pos)))
        return out[offset:] if limit is None else out[offset:offset + limit]

    monkeypatch.setattr(rec_engine.RecEngine, "rank", rank)


def test_model_ranking_an_unsuitable_product_first_cannot_get_it_through(engine, bank, monkeypatch):
    make_products(engine)
    cid = bank.customer()
    grade(engine, cid, "C2")
    injected_ranking(monkeypatch, ["wealth:EQ2", "wealth:EQ1", "wealth:INS1", "wealth:MIX1", "wealth:BOND1"])
    out = serve(engine, customer_actor(cid))
    keys = [i["item_key"] for i in out["items"]]
    assert "wealth:EQ2" not in keys and "wealth:EQ1" not in keys and "wealth:INS1" not in keys
    assert keys[0] == "wealth:BOND1"
    rules = {f["item_key"]: f["rule"] for f in out["filtered"]}
    assert rules == {"wealth:EQ2": "suitability", "wealth:EQ1": "suitability", "wealth:INS1": "suitability",
                     "wealth:MIX1": "suitability"}
    with db.session_scope(engine) as s:
        row = s.get(RecServed, out["served_id"])
        assert {f["rule"] for f in row.filtered} == {"suitability"} and len(row.items) == len(keys)
        assert row.model_version == out["model_version"] and row.latency_us is not None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=st.sampled_from([None, "C1", "C2", "C3", "C4", "C5"]), lapsed=st.booleans(),
       holdings=st.sets(st.sampled_from(["TD1Y", "BOND1", "MIX1", "EQ1", "EQ2", "WMPCASH"]), max_size=4),
       closed=st.sets(st.sampled_from(["BOND2", "WMPBOND", "TD3Y"]), max_size=2),
       seed=st.integers(0, 10_000), n=st.integers(1, 12))
def test_never_unsuitable_held_or_closed(engine, bank, monkeypatch, g, lapsed, holdings, closed, seed, n):
    from smartbank.customers.models import Customer

    if not products(engine):  # the first example builds the bank; later ones reuse it
        make_products(engine)
        bank.customer()
    with db.session_scope(engine) as s:
        cid = s.scalar(select(Customer.id).limit(1))
        s.execute(delete(RiskAssessment))
        s.execute(delete(Holding))
        for p in s.scalars(select(WealthProduct)):
            p.status = "closed" if p.code in closed else "active"
    if g:
        grade(engine, cid, g, lapsed=lapsed)
    ids = {c: (k, r) for c, (k, r, _) in products(engine).items()}
    with db.session_scope(engine) as s:
        pid = {p.code: p.id for p in s.scalars(select(WealthProduct))}
    for code in holdings:
        hold(engine, cid, pid[code])
    keys = [f"wealth:{c}" for c in ids] + ["loan:PERSONAL", "loan:MORTGAGE"]
    random.Random(seed).shuffle(keys)
    injected_ranking(monkeypatch, keys)
    out = serve(engine, customer_actor(cid), n=n)
    valid = None if (g is None or lapsed) else g
    assert len(out["items"]) <= n
    for it in out["items"]:
        if it["item_type"] == "wealth":
            kind, risk = ids[it["code"]]
            assert allowed_without_acknowledgement(valid, kind, risk), (it, valid)
            assert it["code"] not in holdings and it["code"] not in closed
            if valid is None:
                assert kind == "time_deposit"
        assert it["reason"]["en"] and it["reason"]["zh"] and it["reason"]["code"].startswith("REC-")


def test_lapsed_assessment_leaves_only_deposits(engine, bank):
    make_products(engine, loans=False)
    cid = bank.customer()
    grade(engine, cid, "C5", lapsed=True)
    out = serve(engine, customer_actor(cid))
    assert out["grade"] is None
    assert {i["code"] for i in out["items"]} == {"TD1Y", "TD3Y"}
    assert {f["rule"] for f in out["filtered"]} == {"suitability"}


def _bank_with_behaviour(engine, bank, n_growth=6, n_safe=8):
    ids = make_products(engine, loans=False)
    for _ in range(n_growth):  # growth investors hold both equity funds
        c = bank.customer()
        hold(engine, c, ids["EQ1"])
        hold(engine, c, ids["EQ2"])
    for _ in range(n_safe):  # more careful savers hold a deposit and a bond fund
        c = bank.customer()
        hold(engine, c, ids["TD1Y"])
        hold(engine, c, ids["BOND1"])
    return ids


def test_a_click_changes_the_next_list_at_once(engine, bank):
    _bank_with_behaviour(engine, bank)
    cid = bank.customer()
    grade(engine, cid, "C5")
    actor = customer_actor(cid)
    first = serve(engine, actor)
    assert first["items"][0]["reason"]["code"] in ("REC-POPULAR", "REC-POPULAR-SEGMENT")
    assert "wealth:EQ1" in [i["item_key"] for i in first["items"]]
    db.run_in_transaction(lambda s: events.record(s, actor, event="click", item_key="wealth:EQ1",
                                                  served_id=first["served_id"]), engine=engine)
    second = serve(engine, actor)
    top = second["items"][0]
    assert top["item_key"] == "wealth:EQ2", second["items"][:3]
    assert top["reason"]["code"] == "REC-ALSO-CHOSE" and "Product EQ1" in top["reason"]["en"]
    assert "产品EQ1" in top["reason"]["zh"]
    assert [i["item_key"] for i in first["items"]] != [i["item_key"] for i in second["items"]]


def test_a_click_in_another_process_arrives_with_the_refresh(engine, bank, monkeypatch):
    _bank_with_behaviour(engine, bank)
    cid = bank.customer()
    grade(engine, cid, "C5")
    actor = customer_actor(cid)
    first = serve(engine, actor)
    # another process writes the click: this process's engine does not see the commit hook
    with db.session_scope(engine) as s:
        item_id = next(i["item_id"] for i in first["items"] if i["item_key"] == "wealth:EQ1")
        s.add(RecEvent(customer_id=cid, item_id=item_id, event="click", served_id=first["served_id"],
                       slot="for_you", model_version=first["model_version"]))
    eng = rec_engine._engines[str(engine.url)]
    eng._checked["events"] -= rec_engine.REFRESH_SECONDS  # the refresh interval has passed
    assert serve(engine, actor)["items"][0]["item_key"] == "wealth:EQ2"


def test_cold_start_falls_back_to_popularity_in_the_segment(engine, bank):

    from smartbank.insight.models import CustomerProfile

    ids = make_products(engine, loans=False)
    seniors = []
    for _ in range(6):
        c = bank.customer()
        hold(engine, c, ids["TD3Y"])
        seniors.append(c)
    for _ in range(10):  # everyone else (more of them) likes the cash product
        c = bank.customer()
        hold(engine, c, ids["WMPCASH"])
    newcomer = bank.customer()
    with db.session_scope(engine) as s:
        for c in [*seniors, newcomer]:
            s.add(CustomerProfile(customer_id=c, as_of=clock.today(), computed_at=clock.now(), features={},
                                  segment="steady_savers"))
    grade(engine, newcomer, "C3")
    out = serve(engine, customer_actor(newcomer))
    assert out["items"][0]["code"] == "TD3Y"
    assert out["items"][0]["reason"]["code"] == "REC-POPULAR-SEGMENT"
    assert out["items"][0]["reason"]["zh"] == "在与您相似的客户中很受欢迎。"
    # a customer outside any segment gets everyone's favourite
    other = bank.customer()
    grade(engine, other, "C3")
    assert serve(engine, customer_actor(other))["items"][0]["code"] == "WMPCASH"


def test_recording_impressions_and_reasons_in_both_languages(engine, bank):
    _bank_with_behaviour(engine, bank)
    cid = bank.customer()
    grade(engine, cid, "C3")
    out = serve(engine, customer_actor(cid), slot="portal_home", n=3)
    assert len(out["items"]) == 3
    with db.session_scope(engine) as s:
        imps = list(s.scalars(select(RecEvent).where(RecEvent.event == "impression")))
    assert sorted(e.item_id for e in imps) == sorted(i["item_id"] for i in out["items"])
    assert all(e.served_id == out["served_id"] and e.slot == "portal_home" and e.model_version == out["model_version"]
               for e in imps)
    assert out["model_version"].startswith("hybrid1-ease")
    for it in out["items"]:
        assert it["reason"]["en"] and it["reason"]["zh"] and it["link"].startswith("/wealth/products/")


def test_loans_only_for_adults_in_good_standing(engine, bank):
    from datetime import date

    make_products(engine)
    adult = bank.customer()
    grade(engine, adult, "C3")
    keys = [i["item_key"] for i in serve(engine, customer_actor(adult), n=50)["items"]]
    assert "loan:PERSONAL" in keys
    with db.session_scope(engine) as s:
        from smartbank.customers.models import Customer

        s.get(Customer, adult).birth_date = date(clock.today().year - 16, 1, 1)
    out = serve(engine, customer_actor(adult), n=50)
    assert not [i for i in out["items"] if i["item_type"] == "loan"]
    assert "loan_age" in {f["rule"] for f in out["filtered"]}


def test_purchase_after_an_impression_is_a_conversion_of_that_list(engine, bank):
    from smartbank.security.service import SYSTEM

    _bank_with_behaviour(engine, bank)
    cid = bank.customer()
    grade(engine, cid, "C3")
    out = serve(engine, customer_actor(cid), slot="wealth_page")
    key = out["items"][0]["item_key"]
    res = db.run_in_transaction(lambda s: events.record_purchase(s, SYSTEM, customer_id=cid, item_key=key),
                                engine=engine)
    assert res == {"item_key": key, "conversion": True, "served_id": out["served_id"]}
    with db.session_scope(engine) as s:
        conv = s.scalars(select(RecEvent).where(RecEvent.event == "conversion")).one()
    assert conv.slot == "wealth_page" and conv.model_version == out["model_version"]
    # the purchased item is now in the customer's row: the engine sees it at once
    eng = rec_engine._engines[str(engine.url)]
    assert eng.rows[cid][eng.items.by_key[key]] == 1.0


def test_authorisation_and_bad_input(engine, bank):
    make_products(engine, loans=False)
    a, b = bank.customer(), bank.customer()
    out = serve(engine, customer_actor(a))
    staff = Principal(user_id=9, username="m", role="marketer", customer_id=None)
    with pytest.raises(NotFound):
        serve(engine, staff)
    with pytest.raises(NotFound):  # another customer's list
        db.run_in_transaction(lambda s: events.record(s, customer_actor(b, 2), event="click",
                                                      item_key=out["items"][0]["item_key"],
                                                      served_id=out["served_id"]), engine=engine)
    for kw in ({"slot": "Bad Slot"}, {"slot": "ok", "n": 0}, {"slot": "ok", "n": 51}):
        with pytest.raises(ValidationFailed):
            db.run_in_transaction(lambda s, kw=kw: service.recommend(s, customer_actor(a), **kw), engine=engine)
    with pytest.raises(ValidationFailed):
        db.run_in_transaction(lambda s: events.record(s, customer_actor(a), event="purchase",
                                                      item_key="wealth:TD1Y"), engine=engine)
    with pytest.raises(ValidationFailed):  # a click must name its list
        db.run_in_transaction(lambda s: events.record(s, customer_actor(a), event="click",
                                                      item_key="wealth:TD1Y"), engine=engine)
    assert bank.count("rec_served") == 1 and bank.count("rec_events") == len(out["items"])


def test_dismissed_items_stay_out(engine, bank):
    make_products(engine, loans=False)
    cid = bank.customer()
    actor = customer_actor(cid)
    out = serve(engine, actor)
    first = out["items"][0]["item_key"]
    db.run_in_transaction(lambda s: events.record(s, actor, event="dismiss", item_key=first,
                                                  served_id=out["served_id"]), engine=engine)
    again = serve(engine, actor)
    assert first not in [i["item_key"] for i in again["items"]]
    assert {"item_id": out["items"][0]["item_id"], "item_key": first, "rule": "dismissed"} in again["filtered"]


def test_filters_alone_never_pass_what_the_rule_refuses():
    """apply_filters on synthetic catalogues: random grades, holdings, statuses and orderings."""
    rng = np.random.default_rng(0)
    kinds = ["time_deposit", "wmp", "fund", "insurance"]
    for trial in range(300):
        n_items = 12
        keys = [f"wealth:P{i}" for i in range(n_items)]
        types = ["wealth"] * n_items
        truth = {i: (rng.choice(["active", "closed"], p=[0.8, 0.2]), str(rng.choice(kinds)),
                     f"R{rng.integers(1, 6)}") for i in range(n_items)}
        items = rec_engine.Items(ids=np.arange(n_items), keys=keys, types=types, ref_ids=list(range(n_items)),
                                 names=[("", "")] * n_items, features=[{}] * n_items, status=["active"] * n_items,
                                 risk=np.zeros(n_items), content=np.zeros((n_items, 1)), content_names=["x"])
        g = rng.choice([None, "C1", "C2", "C3", "C4", "C5"])
        held_ = set(rng.choice(n_items, size=rng.integers(0, 4), replace=False).tolist())
        ctx = service.Context(customer_id=1, grade=g, age=30, delinquent=False, held_wealth=held_,
                              wealth={i: (str(s), k, r) for i, (s, k, r) in truth.items()})
        order = rng.permutation(n_items)
        ranked = [rec_engine.Ranked(index=int(i), item_id=int(i), score=1.0, parts={}, anchor=None,
                                    top_interest=None) for i in order]
        kept, removed = service.apply_filters(ranked, items, ctx, int(rng.integers(1, 10)))
        for r in kept:
            s_, k, risk = truth[r.index]
            assert s_ == "active" and r.index not in held_ and allowed_without_acknowledgement(g, k, risk), trial


def test_a_wealth_purchase_reaches_the_recommender_at_once(bank, engine):
    """Buying a product records a purchase event in the same transaction (and the product then drops out of
    the customer's lists as held)."""
    from sqlalchemy import text

    from smartbank import db
    from smartbank.recommend import items as rec_items
    from smartbank.security.service import SYSTEM, Principal
    from smartbank.wealth import orders
    from smartbank.wealth.models import WealthProduct

    cid = bank.customer("王芳")
    acct = bank.account(cid, balance=1_000_000)
    uid = bank.user("wangfang", customer_id=cid)
    me = Principal(user_id=uid, username="wangfang", role="customer", customer_id=cid)
    with db.session_scope(engine) as s:
        s.add(WealthProduct(code="TD1Y", name_en="1-year deposit", name_zh="一年定期", kind="time_deposit",
                            risk_level="R1", asset_class="cash", min_amount_minor=100_00, term_days=365,
                            rate_bps=150, settlement_days=0))
        s.flush()
        rec_items.sync_items(s, SYSTEM)
    with db.session_scope(engine) as s:
        orders.purchase(s, me, product_code="TD1Y", account_id=acct, amount_minor=500_00, idempotency_key="p1")
    with engine.connect() as c:
        events = c.execute(text("SELECT e.event FROM rec_events e JOIN rec_items i ON i.id = e.item_id"
                                " WHERE e.customer_id = :c AND i.item_key = 'wealth:TD1Y'"), {"c": cid}).scalars().all()
    assert events == ["purchase"]
