"""API of marketing experiments: list, show, evaluate; roles; bad input writes nothing."""

from __future__ import annotations

from smartbank import db
from tests.api.support import API, assert_error
from tests.conftest import login
from tests.marketing.test_experiments import make_campaign

BASE = f"{API}/marketing/experiments"


def _arrange(bank, engine) -> int:
    bank.user("market1", role="marketer")
    bank.user("teller1", role="teller")
    with db.session_scope(engine) as s:
        return make_campaign(s, "SPRING", {"A": (300, 90), "B": (300, 33), "holdout": (300, 30)})


def test_evaluate_show_and_list(client, bank, engine):
    cid = _arrange(bank, engine)
    h = login(client, "market1")
    r = client.post(f"{BASE}/{cid}/evaluate", headers=h)
    assert r.status_code == 200, r.text
    read = r.json()
    assert read["decision"] == "winner" and read["winner"] == "A" and read["campaign"]["id"] == cid
    assert 0 < read["confidence"] <= 1 and read["effect"] > 0
    shown = client.get(f"{BASE}/{cid}", headers=h).json()
    assert shown["last"]["id"] == read["id"] and len(shown["history"]) == 1
    assert {a["arm"]: a["n"] for a in shown["arms"]} == {"A": 300, "B": 300, "holdout": 300}
    listed = client.get(BASE, headers=h).json()["experiments"]
    assert [(e["code"], e["decision"], e["winner"]) for e in listed] == [("SPRING", "winner", "A")]


def test_roles_and_bad_input(client, bank, engine):
    cid = _arrange(bank, engine)
    t = login(client, "teller1")
    assert_error(client.get(BASE, headers=t), 403, "forbidden")
    assert_error(client.get(f"{BASE}/{cid}", headers=t), 403, "forbidden")
    assert_error(client.post(f"{BASE}/{cid}/evaluate", headers=t), 403, "forbidden")
    assert_error(client.get(BASE), 401)
    h = login(client, "market1")
    assert_error(client.get(f"{BASE}/999999", headers=h), 404)
    for bad in ("SPRING", "0", "-1", str(2**63)):
        assert_error(client.post(f"{BASE}/{bad}/evaluate", headers=h), 422)
    for alpha in ("0", "0.7", "x"):
        assert_error(client.post(f"{BASE}/{cid}/evaluate", params={"alpha": alpha}, headers=h), 422)
    assert bank.count("mkt_experiment_reads") == 0
