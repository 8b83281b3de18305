"""Console pages of marketing experiments: the list and a campaign's page (arms, comparisons, the SVG chart of
the lift over time, guardrails, the decision in words) in zh and en; evaluating from the page; roles."""

from __future__ import annotations

import re

import pytest

from smartbank import db
from smartbank.marketing import experiments as ex
from tests.marketing.test_experiments import make_campaign
from tests.web.conftest import csrf_token, raw_keys, sign_in

PAGE = "/console/marketing/experiments"
_CODE = re.compile(r'<(code|svg|script|style)\b[^>]*translate="no"[^>]*>.*?</\1>|<(script|style)\b.*?</\2>', re.S)
_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_\-.'][A-Za-z0-9]+)*")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _visible(html: str) -> str:
    body = html.split("<main", 1)[-1].split(">", 1)[-1].split("</main>", 1)[0]
    return _TAG.sub(" ", _CODE.sub(" ", body))


def _arrange(engine) -> int:
    with db.session_scope(engine) as s:
        cid = make_campaign(s, "SPRING", {"A": (300, 90), "B": (300, 36), "holdout": (300, 30)})
        ex.evaluate_experiment(s, cid)
        make_campaign(s, "MORE", {"A": (300, 95), "B": (300, 36), "holdout": (300, 30)}, first_customer=1)
    with db.session_scope(engine) as s:  # a second read: the chart has two points
        from sqlalchemy import insert

        from smartbank import clock
        from smartbank.marketing.models import Conversion
        s.execute(insert(Conversion), [{"campaign_id": cid, "customer_id": k, "arm": "A", "goal": "wealth_purchase",
                                        "event_ref": f"x:{k}", "occurred_at": clock.now()} for k in range(91, 100)])
        ex.evaluate_experiment(s, cid)
    return cid


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_render_in_both_languages(client, people, engine, lang):
    cid = _arrange(engine)
    client.cookies.set("sb_lang", lang)
    sign_in(client, "market1", console=True)
    listing = client.get(PAGE)
    assert listing.status_code == 200 and f"{PAGE}/{cid}" in listing.text and 'class="list sortable' in listing.text
    r = client.get(f"{PAGE}/{cid}")
    assert r.status_code == 200, r.text
    html = r.text
    assert not raw_keys(html)
    assert html.count('class="mkt-exp-chart"') == 2 and html.count("<circle") == 4  # 2 comparisons x 2 reads
    assert 'id="mkt-exp-guardrails"' in html and 'data-guardrail="opt_outs"' in html
    assert " style=" not in html.split("<main", 1)[-1]  # the CSP forbids inline styles
    text = _visible(html)
    if lang == "zh":
        assert "版本" in text and "胜出" in text and "留出对照组" in text
        english = [w for w in _WORD.findall(text) if not re.fullmatch(r"[A-Z][A-Z0-9]*", w)]
        assert english == [], english
    else:
        assert "wins" in text and "Holdout" in text and "Always-valid p-value" in text
        assert not _CJK.search(text), _CJK.findall(text)[:10]


def test_evaluate_from_the_page_and_roles(client, people, engine):
    cid = _arrange(engine)
    sign_in(client, "market1", console=True)
    page = client.get(f"{PAGE}/{cid}").text
    r = client.post(f"{PAGE}/{cid}/evaluate", data={"csrf_token": csrf_token(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}/{cid}"
    assert client.get(f"{PAGE}/{cid}").text.count("<circle") == 6
    assert client.get(f"{PAGE}/999999").status_code == 404
    assert client.get(f"{PAGE}/abc").status_code in (400, 404, 422)
    client.cookies.clear()
    sign_in(client, "teller1", console=True)
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}/{cid}").status_code == 403
