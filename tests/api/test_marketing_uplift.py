"""GET /marketing/uplift/models, GET /marketing/uplift/report, POST /marketing/uplift/train."""

from __future__ import annotations

import pytest

from smartbank import config
from smartbank.marketing import uplift
from tests.api.support import API, assert_error
from tests.conftest import login
from tests.marketing.uplift_support import arrange_campaign


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTBANK_MODEL_DIR", str(tmp_path / "models"))
    config.reset_settings()
    uplift._cache.clear()
    yield tmp_path / "models"
    config.reset_settings()


def test_train_list_and_report(client, bank, engine, monkeypatch, models):
    arrange_campaign(engine, monkeypatch, n=400)
    bank.user("market1", role="marketer")
    bank.user("teller1", role="teller")
    hm = login(client, "market1")
    assert client.get(f"{API}/marketing/uplift/models", headers=hm).json() == []
    assert_error(client.get(f"{API}/marketing/uplift/report", params={"campaign": "UPL-1"}, headers=hm), 404)
    r = client.post(f"{API}/marketing/uplift/train", json={"campaign": "UPL-1"}, headers=hm)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["campaign"] == "UPL-1" and body["customers"] == 400 and "qini" in body and "auuc" in body
    listed = client.get(f"{API}/marketing/uplift/models", headers=hm).json()
    assert_error(client.get(f"{API}/marketing/uplift/report", headers=hm), 404)
    assert [m["version"] for m in listed] == [body["version"]]
    rep = client.get(f"{API}/marketing/uplift/report", params={"campaign": "UPL-1"}, headers=hm).json()
    assert rep["qini"] == body["qini"] and len(rep["curve"]["x"]) == len(rep["curve"]["y"]) > 2
    assert_error(client.post(f"{API}/marketing/uplift/train", json={"campaign": "NOPE"}, headers=hm), 404)
    ht = login(client, "teller1")
    assert_error(client.get(f"{API}/marketing/uplift/models", headers=ht), 403)
    assert_error(client.post(f"{API}/marketing/uplift/train", json={"campaign": "UPL-1"}, headers=ht), 403)


def test_too_little_data_is_a_clear_error(client, bank, engine, monkeypatch, models):
    arrange_campaign(engine, monkeypatch, n=50)
    bank.user("market1", role="marketer")
    hm = login(client, "market1")
    body = assert_error(client.post(f"{API}/marketing/uplift/train", json={"campaign": "UPL-1"}, headers=hm), 422)
    assert body["reason"] == "marketing.uplift_not_enough_data" and body["details"]["customers"] == 50
    assert not models.exists()
