"""The console's uplift page: the models with their Qini and AUUC, the Qini curve as SVG, training from the form;
in zh and en; other staff refused."""

from __future__ import annotations

import re

import pytest

from smartbank import config
from smartbank.marketing import uplift
from tests.marketing.uplift_support import arrange_campaign
from tests.web.conftest import make_user, post_form, raw_keys, sign_in

PAGE = "/console/marketing/uplift"


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTBANK_MODEL_DIR", str(tmp_path / "models"))
    config.reset_settings()
    uplift._cache.clear()
    yield tmp_path / "models"
    config.reset_settings()


def test_train_from_the_page_then_the_report_in_both_languages(client, engine, monkeypatch, models):
    arrange_campaign(engine, monkeypatch, n=400)
    make_user(engine, "market1", role="marketer")
    sign_in(client, "market1", console=True)
    r = client.get(PAGE)
    assert r.status_code == 200 and 'id="upl-none"' in r.text and 'id="upl-train"' in r.text
    bad = post_form(client, PAGE, PAGE + "/train", {"campaign": "NOPE"})
    assert bad.status_code == 404 and 'id="upl-error"' in bad.text
    r = post_form(client, PAGE, PAGE + "/train", {"campaign": "UPL-1"})
    assert r.status_code == 303 and r.headers["location"].startswith(PAGE + "?campaign=UPL-1")
    for lang, title in (("zh", "增益模型"), ("en", "Uplift models")):
        client.cookies.set("sb_lang", lang)
        r = client.get(PAGE, params={"campaign": "UPL-1"})
        assert r.status_code == 200 and title in r.text, r.text
        assert not raw_keys(r.text)
        assert 'data-campaign="UPL-1"' in r.text and 'id="upl-qini-chart"' in r.text
        svg = re.search(r'<svg[^>]*id="upl-qini-chart".*?</svg>', r.text, re.S).group(0)
        assert len(re.findall(r'<path d="M', svg)) == 3  # the model, the random line, the perfect model
        assert 'style="' not in r.text and "<script>" not in r.text
        visible = re.sub(r"<code translate=\"no\">.*?</code>|<[^>]+>", " ", r.text.split("<main", 1)[-1])
        if lang == "zh":
            assert "增量转化曲线" in r.text and not re.search(r"\b(Qini|AUUC|uplift)\b", visible)
        else:
            assert "Qini curve" in r.text and not re.search(r"[\u4e00-\u9fff]", visible)


def test_other_staff_are_refused(client, engine, models):
    make_user(engine, "teller1", role="teller")
    sign_in(client, "teller1", console=True)
    assert client.get(PAGE).status_code == 403
