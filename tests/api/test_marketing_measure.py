"""/api/v1/marketing/reports/...: the attribution figures through the API, for marketers only."""

from __future__ import annotations

from tests.api.support import API, assert_error
from tests.conftest import login
from tests.marketing.test_attribution import history  # noqa: F401


def test_reports(client, bank, history):  # noqa: F811
    bank.user("market1", role="marketer")
    bank.user("teller1", role="teller")
    hm = login(client, "market1")
    r = client.post(f"{API}/marketing/reports/attribution", headers=hm, json={})
    assert r.status_code == 200, r.text
    assert r.json() == {"campaigns": 1, "new": 6}
    assert client.post(f"{API}/marketing/reports/attribution", headers=hm, json={}).json()["new"] == 0
    cid = history["campaign_id"]
    rep = client.get(f"{API}/marketing/reports/campaigns/{cid}", headers=hm).json()
    assert (rep["conversions"], rep["incremental_conversions"], rep["incremental_margin_minor"], rep["roi"]) == \
        (5, 3.5, 1012, 41.1875)
    rows = client.get(f"{API}/marketing/reports/roi", params={"by": "channel", "campaign": "DEP1"}, headers=hm)
    assert rows.status_code == 200 and {x["key"] for x in rows.json()["rows"]} == {"inapp", "sms", "email", "none"}
    ov = client.get(f"{API}/marketing/reports/overview", params={"goal": "deposit"}, headers=hm).json()
    assert ov["totals"]["roi"] == 41.1875 and ov["funnel"]["sent"] == 7
    assert client.get(f"{API}/marketing/reports/overview", params={"goal": "wealth_purchase"},
                      headers=hm).json()["campaigns"] == []


def test_refusals(client, bank, history):  # noqa: F811
    bank.user("market1", role="marketer")
    bank.user("teller1", role="teller")
    hm, ht = login(client, "market1"), login(client, "teller1")
    assert_error(client.get(f"{API}/marketing/reports/overview", headers=ht), 403)
    assert_error(client.post(f"{API}/marketing/reports/attribution", headers=ht, json={}), 403)
    assert_error(client.get(f"{API}/marketing/reports/campaigns/999", headers=hm), 404)
    assert_error(client.get(f"{API}/marketing/reports/campaigns/0", headers=hm), 422)
    assert_error(client.get(f"{API}/marketing/reports/roi", params={"by": "weekday"}, headers=hm), 422)
    assert_error(client.get(f"{API}/marketing/reports/roi", params={"campaign": "NOPE"}, headers=hm), 404)
    assert_error(client.post(f"{API}/marketing/reports/attribution", headers=hm, json={"campaign_id": "x"}), 422)
