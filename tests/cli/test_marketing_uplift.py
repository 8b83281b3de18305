"""``smartbank marketing uplift train --campaign CODE`` and ``... report``; the demo seeding of uplift models."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from smartbank import config
from smartbank.cli import app
from smartbank.marketing import uplift
from tests.marketing.uplift_support import arrange_campaign, planted


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTBANK_MODEL_DIR", str(tmp_path / "models"))
    config.reset_settings()
    uplift._cache.clear()
    yield tmp_path / "models"
    config.reset_settings()


def _last(out: str) -> object:
    return json.loads(out.strip().splitlines()[-1])


def test_train_then_report(database_url, engine, monkeypatch, models):
    arrange_campaign(engine, monkeypatch, n=400)
    r = CliRunner().invoke(app, ["marketing", "uplift", "report", "--database-url", database_url])
    assert r.exit_code == 0, r.output
    assert _last(r.stdout) == []
    r = CliRunner().invoke(app, ["marketing", "uplift", "train", "--campaign", "UPL-1", "--database-url",
                                 database_url])
    assert r.exit_code == 0, r.output
    trained = _last(r.stdout)
    assert trained["campaign"] == "UPL-1" and trained["customers"] == 400
    r = CliRunner().invoke(app, ["marketing", "uplift", "report", "--campaign", "UPL-1", "--database-url",
                                 database_url])
    assert r.exit_code == 0, r.output
    rep = _last(r.stdout)
    assert rep["version"] == trained["version"] and rep["qini"] == trained["qini"] and rep["curve"]["x"]
    r = CliRunner().invoke(app, ["marketing", "uplift", "train", "--campaign", "NOPE", "--database-url",
                                 database_url])
    assert r.exit_code == 2 and "no such campaign" in r.output


def test_seed_trains_what_it_can_and_says_why_not(engine, monkeypatch, models):
    from smartbank.synth.uplift import seed_uplift

    arrange_campaign(engine, monkeypatch, n=400)
    arrange_campaign(engine, monkeypatch, n=30, code="SMALL")
    profiles = planted(400)[0]  # the profiles of both campaigns' customers (ids 1..400)
    monkeypatch.setattr(uplift, "_profiles", lambda s: profiles.copy())
    out = seed_uplift(engine)
    assert [t["campaign"] for t in out["trained"]] == ["UPL-1"]
    assert out["skipped"] == {"SMALL": "marketing.uplift_not_enough_data"}
