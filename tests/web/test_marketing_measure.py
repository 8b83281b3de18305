"""The marketing home and a campaign's results page: figures, charts, filters, both languages."""

from __future__ import annotations

import re

import pytest

from smartbank import db
from smartbank.marketing import service as marketing
from tests.marketing.test_attribution import history  # noqa: F401
from tests.web.conftest import make_user, raw_keys, sign_in

_HAN = re.compile(r"[\u4e00-\u9fff]")


def _visible(html: str) -> str:
    body = html.split("<main", 1)[-1]
    body = re.sub(r"<code[^>]*translate=\"no\"[^>]*>.*?</code>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]*translate=\"no\"[^>]*>[^<]*<", "<", body)
    return re.sub(r"<[^>]+>", " ", body)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_home_and_results(client, engine, history, lang):  # noqa: F811
    make_user(engine, "market1", role="marketer")
    with db.session_scope(engine) as s:
        marketing.find_conversions(s, history["campaign_id"])
    sign_in(client, "market1", console=True)
    client.cookies.set("sb_lang", lang)
    r = client.get("/console/marketing")
    assert r.status_code == 200 and not raw_keys(r.text)
    for chart in ("mkt-funnel-chart", "mkt-channel-chart", "mkt-segment-chart"):
        assert f'id="{chart}"' in r.text
    assert 'id="mkt-funnel-chart-converted" data-value="3"' in r.text
    assert 'id="mkt-channel-chart-inapp" data-roi="186.75"' in r.text
    assert "style=" not in r.text.split("<main", 1)[-1]
    text = _visible(r.text)
    if lang == "en":
        assert not _HAN.search(text.replace("存款", ""))  # the campaign's own zh name is not shown on en pages
    else:
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", text)
    f = client.get("/console/marketing?goal=wealth_purchase")
    assert f.status_code == 200 and 'id="mkt-no-data"' in f.text
    res = client.get(f"/console/marketing/results/{history['campaign_id']}")
    assert res.status_code == 200 and not raw_keys(res.text)
    assert 'id="mkt-arm-chart-A" data-roi="41.1875"' in res.text and 'id="mkt-by-segment"' in res.text
    assert client.get("/console/marketing/results/999").status_code == 404
    assert client.get("/console/marketing/results/abc").status_code == 404


def test_teller_refused(client, engine):
    make_user(engine, "teller1", role="teller")
    sign_in(client, "teller1", console=True)
    assert client.get("/console/marketing").status_code == 403
