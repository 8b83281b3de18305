"""GET /recommendations, POST /recommendations/events, GET /recommendations/report."""

from __future__ import annotations

from tests.api.support import API, assert_error
from tests.conftest import login
from tests.recommend.test_items import _fresh_engine, grade, make_products  # noqa: F401


def _setup(bank, engine):
    make_products(engine, loans=False)
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    grade(engine, alice, "C3")
    bank.user("alice", customer_id=alice)
    bank.user("bob", customer_id=bob)
    bank.user("market1", role="marketer")
    bank.user("teller1", role="teller")
    return alice, bob


def test_list_click_and_report(client, bank, engine):
    _setup(bank, engine)
    ha = login(client, "alice")
    r = client.get(f"{API}/recommendations", params={"slot": "portal_home", "n": 5}, headers=ha)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["slot"] == "portal_home" and 1 <= len(body["items"]) <= 5
    first = body["items"][0]
    assert first["reason"]["en"] and first["reason"]["zh"] and first["reason"]["code"].startswith("REC-")
    assert body["model_version"] and body["served_id"] >= 1
    r = client.post(f"{API}/recommendations/events", headers=ha,
                    json={"event": "click", "item_key": first["item_key"], "served_id": body["served_id"]})
    assert r.status_code == 201, r.text
    rep = client.get(f"{API}/recommendations/report", headers=login(client, "market1"))
    assert rep.status_code == 200, rep.text
    t = rep.json()["total"]
    assert t["lists"] == 1 and t["impressions"] == len(body["items"]) and t["clicks"] == 1
    assert t["ctr"] == round(1 / len(body["items"]), 6)


def test_bad_input_is_422_and_writes_nothing(client, bank, engine):
    _setup(bank, engine)
    ha = login(client, "alice")
    for params in ({"slot": "Bad Slot"}, {"slot": "x" * 40}, {"n": 0}, {"n": 51}, {"n": "ten"}):
        assert_error(client.get(f"{API}/recommendations", params=params, headers=ha), 422)
    good = client.get(f"{API}/recommendations", headers=ha).json()
    before = bank.count("rec_events"), bank.count("rec_served")
    key = good["items"][0]["item_key"]
    for body in ({"event": "purchase", "item_key": key, "served_id": good["served_id"]},
                 {"event": "click", "item_key": "no key", "served_id": good["served_id"]},
                 {"event": "click", "item_key": key, "served_id": "1"},
                 {"event": "click", "item_key": key, "served_id": 0},
                 {"event": "click", "item_key": key},  # a click names its list
                 {"event": "click", "item_key": key, "served_id": good["served_id"], "extra": 1}):
        assert_error(client.post(f"{API}/recommendations/events", json=body, headers=ha), 422)
    assert_error(client.get(f"{API}/recommendations/report", params={"date_from": "2026-13-01"},
                            headers=login(client, "market1")), 422)
    assert (bank.count("rec_events"), bank.count("rec_served")) == before


def test_authorisation(client, bank, engine):
    _setup(bank, engine)
    ha, hb = login(client, "alice"), login(client, "bob")
    mine = client.get(f"{API}/recommendations", headers=ha).json()
    before = bank.count("rec_events")
    # bob cannot click on alice's list: it does not exist for him
    assert_error(client.post(f"{API}/recommendations/events", headers=hb,
                             json={"event": "click", "item_key": mine["items"][0]["item_key"],
                                   "served_id": mine["served_id"]}), 404, "not_found")
    assert bank.count("rec_events") == before
    # staff have no list of their own; the report is for marketers and admins
    assert_error(client.get(f"{API}/recommendations", headers=login(client, "teller1")), 403)
    assert_error(client.get(f"{API}/recommendations/report", headers=ha), 403, "forbidden")
    assert_error(client.get(f"{API}/recommendations/report", headers=login(client, "teller1")), 403, "forbidden")
    assert_error(client.get(f"{API}/recommendations"), 401)
