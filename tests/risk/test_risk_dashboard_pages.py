"""The console risk dashboard, limits and register pages: roles, both languages, forms through CSRF."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import insert

from smartbank import clock, db
from smartbank.risk import limits, monitor
from smartbank.risk.models import RiskAlert, RiskDecision
from tests.changes import approve_pending
from tests.web.conftest import csrf_token, raw_keys, sign_in


@pytest.fixture(autouse=True)
def _fresh_limits():
    limits.invalidate()


@pytest.fixture
def world(bank, engine):
    c = bank.customer()
    bank.user("amy", role="customer", customer_id=c)
    for role in ("risk_officer", "teller"):
        bank.user(f"{role}1", role=role)
    now = clock.now()
    rng = np.random.default_rng(1)
    with db.session_scope(engine) as s:
        monitor.seed_defaults(s)
        limits.seed_defaults(s)
        rows = []
        for days, scores in ((20, rng.beta(1, 200, 200)), (1, rng.beta(2, 20, 200))):
            for i, sc in enumerate(scores):
                rows.append({"created_at": now - timedelta(days=days), "customer_id": c, "account_id": 1,
                             "channel": "web", "kind": "transfer", "product": "demand", "amount_minor": 100,
                             "currency": "CNY", "decision": ("allow", "block", "review", "challenge")[i % 4],
                             "score": float(sc), "model_version": "m1"})
        s.execute(insert(RiskDecision), rows)
        s.add(RiskAlert(decision_id=1, decision="review", amount_minor=100, currency="CNY",
                        created_at=now - timedelta(days=2)))
        s.flush()
        monitor.run(s, now)
    return c


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_render_for_risk_officers(client, world, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk_officer1", console=True)
    home = client.get("/console").text
    for path in ("/console/risk", "/console/risk/limits", "/console/risk/register"):
        assert f'href="{path}"' in home
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert raw_keys(r.text) == [], path
        assert 'style="' not in r.text and not re.search(r"<script(?![^>]*\bsrc=)", r.text)  # no inline script
    page = client.get("/console/risk").text
    assert 'id="matrix-grid"' in page
    for chart in ("mix-chart", "backlog-chart", "psi-chart"):
        assert f'id="{chart}" src="data:image/svg+xml;base64,' in page, chart
    assert 'id="kri-KRI-BLOCK-RATE"' in page and 'id="cell-4-4"' in page
    assert ("突破" if lang == "zh" else "Breach") in page


def test_acknowledge_and_run(client, world):
    sign_in(client, "risk_officer1", console=True)
    page = client.get("/console/risk").text
    wid = re.search(r'id="ack-(\d+)"', page).group(1)
    r = client.post(f"/console/risk/warnings/{wid}/ack", data={"csrf_token": csrf_token(page)},
                    follow_redirects=False)
    assert r.status_code == 303
    assert f'id="ack-{wid}"' not in client.get("/console/risk").text
    r = client.post("/console/risk/run", data={"csrf_token": csrf_token(page)}, follow_redirects=False)
    assert r.status_code == 303


def test_limit_editor(client, world, bank):
    sign_in(client, "risk_officer1", console=True)
    page = client.get("/console/risk/limits").text
    token = csrf_token(page)
    before = bank.count("risk_limits")
    r = client.post("/console/risk/limits", data={"csrf_token": token, "scope": "customer",
                                                   "scope_value": str(world), "daily_amount": "5,000.00",
                                                   "daily_count": "", "action": "review"}, follow_redirects=False)
    assert r.status_code == 303 and bank.count("risk_limits") == before  # proposed: a second officer approves
    approve_pending()
    assert bank.count("risk_limits") == before + 1
    bad = client.post("/console/risk/limits", data={"csrf_token": token, "scope": "channel", "scope_value": "fax",
                                                     "daily_count": "3", "action": "block"})
    assert bad.status_code == 422 and 'id="form-error"' in bad.text
    bad = client.post("/console/risk/limits", data={"csrf_token": token, "scope": "channel", "scope_value": "web",
                                                     "daily_count": "three", "action": "block"})
    assert bad.status_code == 422 and bank.count("risk_limits") == before + 1
    page = client.get("/console/risk/limits").text
    lid = max(int(x) for x in re.findall(r'id="limit-(\d+)"', page))
    assert 'value="5000.00"' in page
    r = client.post(f"/console/risk/limits/{lid}", data={"csrf_token": token, "daily_amount": "", "daily_count": "7",
                                                          "action": "block", "active": "1"}, follow_redirects=False)
    assert r.status_code == 303
    approve_pending()
    r = client.post(f"/console/risk/limits/{lid}/deactivate", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    approve_pending()
    with db.session_scope(bank.engine) as s:
        from smartbank.risk.models import RiskLimit

        row = s.get(RiskLimit, lid)
        assert (row.daily_amount_minor, row.daily_count, row.action, row.active) == (None, 7, "block", False)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_limit_applies_to_a_channel_product_or_customer_chosen_in_words(client, world, bank, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk_officer1", console=True)
    page = client.get("/console/risk/limits").text
    token = csrf_token(page)
    # the channels and products are chosen from a list in the page's language, not typed as codes
    assert '<select name="target"' in page and 'value="product:savings"' in page and 'value="channel:schedule"' in page
    assert ("储蓄账户" if lang == "zh" else "Savings account".lower()) in page.lower()
    assert "demand（" not in page and "web、api" not in page
    before = bank.count("risk_limits")
    for target, customer in (("product:savings", ""), ("customer", str(world))):
        r = client.post("/console/risk/limits", data={"csrf_token": token, "target": target, "customer_id": customer,
                                                       "daily_count": "5", "action": "review"}, follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
    approve_pending()
    assert bank.count("risk_limits") == before + 2
    with db.session_scope(bank.engine) as s:
        from smartbank.risk.models import RiskLimit

        rows = {(x.scope, x.scope_value) for x in s.query(RiskLimit).all()}
    assert {("product", "savings"), ("customer", str(world))} <= rows
    # the service still refuses what it refuses: a customer limit without a customer
    bad = client.post("/console/risk/limits", data={"csrf_token": token, "target": "customer", "customer_id": "",
                                                     "daily_count": "5", "action": "review"})
    assert bad.status_code == 422 and 'selected>' in bad.text and bank.count("risk_limits") == before + 2
    page = client.get("/console/risk/limits").text
    assert '<code translate="no" class="mono">savings</code>' in page


def test_register_editor(client, world, bank):
    sign_in(client, "risk_officer1", console=True)
    page = client.get("/console/risk/register").text
    token = csrf_token(page)
    n = bank.count("risk_register")
    form = {"csrf_token": token, "editing": "", "code": "OP-77", "category": "operational", "title_en": "Outage",
            "title_zh": "停机", "likelihood": "2", "impact": "5", "status": "open"}
    assert client.post("/console/risk/register", data=form, follow_redirects=False).status_code == 303
    bad = client.post("/console/risk/register", data={**form, "code": "OP-78", "impact": "9"})
    assert bad.status_code == 422 and bank.count("risk_register") == n + 1
    dup = client.post("/console/risk/register", data=form)
    assert dup.status_code == 422 and bank.count("risk_register") == n + 1
    page = client.get("/console/risk/register").text
    rid = re.search(r'href="/console/risk/register/(\d+)">OP-77<', page).group(1)
    edit = client.get(f"/console/risk/register/{rid}").text
    assert 'value="Outage"' in edit
    r = client.post("/console/risk/register", data={**form, "editing": rid, "likelihood": "5"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert "5×5 = 25" in client.get("/console/risk/register").text


def test_other_roles_refused(client, world, bank):
    sign_in(client, "teller1", console=True)
    assert "/console/risk" not in client.get("/console").text
    for path in ("/console/risk", "/console/risk/limits", "/console/risk/register"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client.get("/console").text)
    n = bank.count("risk_limits")
    r = client.post("/console/risk/limits", data={"csrf_token": token, "scope": "channel", "scope_value": "web",
                                                   "daily_count": "1", "action": "block"})
    assert r.status_code == 403 and bank.count("risk_limits") == n
    assert client.post("/console/risk/run", data={"csrf_token": token}).status_code == 403


def test_register_page_marks_planned_controls(client, world, engine):
    from smartbank.risk import register

    with db.session_scope(engine) as s:
        register.seed_defaults(s)
    client.cookies.set("sb_lang", "zh")
    sign_in(client, "risk_officer1", console=True)
    page = client.get("/console/risk/register").text
    row = page[page.index('id="risk-IS-01"'):]
    row = row[:row.index("</tr>")]
    assert "Encryption at rest" in row and "计划中" in row and "[planned]" not in row


@pytest.fixture
def unevaluated(bank, engine):
    """Decisions but no stored KRI values yet (the monitor has not run): the page computes them."""
    c = bank.customer()
    bank.user("risk_officer1", role="risk_officer")
    now = clock.now()
    with db.session_scope(engine) as s:
        monitor.seed_defaults(s)
        s.execute(insert(RiskDecision), [
            {"created_at": now - timedelta(days=1), "customer_id": c, "account_id": 1, "channel": "web",
             "kind": "transfer", "product": "demand", "amount_minor": 100, "currency": "CNY",
             "decision": ("allow", "block", "review", "challenge")[i % 4], "score": 0.01, "model_version": "m1"}
            for i in range(200)])
    return c


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_kris_are_computed_and_shown_as_percentages_against_their_thresholds(client, unevaluated, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk_officer1", console=True)
    page = client.get("/console/risk").text
    row = re.search(r'<tr id="kri-KRI-BLOCK-RATE" data-level="breach">(.*?)</tr>', page, re.S)
    assert row is not None, "the block rate is computed (25% of the week's payments) and breaches 3%"
    cells = re.findall(r'<td class="num"[^>]*>([^<]*)</td>', row.group(1))
    assert cells[:3] == ["25.00%", "1.00%", "3.00%"]
    assert ("突破" if lang == "zh" else "Breach") in row.group(1)
    hours = re.search(r'<tr id="kri-KRI-ALERT-AGE"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert ("24 小时" if lang == "zh" else "24 h") in hours
    assert 'id="kri-chart"' in page and 'id="kri-bar-KRI-BLOCK-RATE"' in page
    assert ("指标与阈值对照" if lang == "zh" else "Indicators against their thresholds") in page
    assert re.search(r'id="kri-summary">[^<]*' + ("项突破警戒线" if lang == "zh" else "breached"), page)
    assert "0.03<" not in page and ">-<" not in page
