"""The console's credit model page and report: roles, both languages, the report's sections, PSI."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import insert

from smartbank import clock, db
from smartbank.config import reset_settings
from smartbank.lending.models import CreditDecision
from tests.web.conftest import raw_keys, sign_in

PAGE = "/console/lending/models"


@pytest.fixture
def trained(credit_model):
    """The session's fast production credit model (tests/conftest.py: credit_model): its folder and version."""
    return credit_model["models"], credit_model["res"]["version"]


@pytest.fixture
def staff(bank, monkeypatch, trained):
    monkeypatch.setenv("SMARTBANK_MODEL_DIR", str(trained[0]))
    reset_settings()
    c = bank.customer()
    bank.user("amy", role="customer", customer_id=c)
    for role in ("loan_officer", "risk_officer", "teller"):
        bank.user(f"{role}1", role=role)
    yield trained[1]
    reset_settings()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_for_loan_and_risk_officers(client, staff, lang):
    client.cookies.set("sb_lang", lang)
    for user in ("loan_officer1", "risk_officer1"):
        sign_in(client, user, console=True)
        assert f'href="{PAGE}"' in client.get("/console").text
        r = client.get(PAGE)
        assert r.status_code == 200, r.text[:500]
        assert [k for k in raw_keys(r.text) if not k.endswith(".csv")] == []  # the data file's name is no key
        # no inline script or style (the content security policy): the shell's own script files only
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", r.text) and 'style="' not in r.text
        for ident in ("champion-challenger", "chart-roc", "chart-ks", "chart-calibration", "score-bands",
                      "no-recent", "points-table"):
            assert f"id='{ident}'" in r.text, ident
        assert staff in r.text
        rep = client.get(PAGE + "/report.html")
        assert rep.status_code == 200 and rep.text.startswith("<!doctype html>")
        assert "script-src" not in rep.headers["content-security-policy"]


def test_psi_against_recent_decisions(client, staff, engine):
    now = clock.now()
    with db.session_scope(engine) as s:
        s.execute(insert(CreditDecision), [
            {"application_id": i, "stage": "auto", "outcome": "approve", "pd": 0.02 + i / 1000, "points": 600,
             "model_version": staff, "created_at": now - timedelta(days=1)} for i in range(1, 40)])
    sign_in(client, "risk_officer1", console=True)
    page = client.get(PAGE).text
    assert "id='psi'" in page and "no-recent" not in page


@pytest.mark.parametrize("user", ["amy", "teller1"])
def test_others_are_refused(client, staff, user):
    sign_in(client, user, console=(user != "amy"))
    for path in (PAGE, PAGE + "/report.html"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code in (303, 403), (path, r.status_code)
        assert "credit-report" not in r.text
