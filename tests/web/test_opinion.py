"""Console pages of public opinion: the overview (chart, queue, mentions) and an alert's workflow, in zh and en;
a teller may not open them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from smartbank import clock, db
from smartbank.opinion import service as opinion
from smartbank.opinion.models import OpinionAlert
from tests.opinion.support import add_series
from tests.web.conftest import make_user, post_form, raw_keys, sign_in

_ZH_FORBIDDEN = re.compile(r"\b(Alert|Mentions|Severity|Status|volume|negative|acknowledged)\b")


def _spike(engine) -> int:
    now = opinion.hour_floor(clock.now())
    with db.session_scope(engine) as s:
        add_series(s, now, spike_at=now - timedelta(hours=2), spike=25)
        opinion.run_due(s)
        return s.query(OpinionAlert).filter(OpinionAlert.kind == "negative").one().id


@pytest.mark.parametrize("lang, title, step_word",
                         [("zh", "舆情监测", "确认"), ("en", "Public opinion", "Acknowledge")])
def test_overview_and_alert_workflow(client, engine, lang, title, step_word):
    aid = _spike(engine)
    make_user(engine, "market1", role="marketer")
    sign_in(client, "market1", console=True)
    client.cookies.set("sb_lang", lang)
    r = client.get("/console/opinion")
    assert r.status_code == 200 and title in r.text, r.text[:500]
    assert not raw_keys(r.text)
    assert '<svg class="opinion-chart"' in r.text and 'class="bar spike"' in r.text and "<polyline" in r.text
    assert f'href="/console/opinion/alerts/{aid}"' in r.text and 'class="list sortable"' in r.text
    assert " style=" not in r.text.split("<body", 1)[-1]
    if lang == "zh":
        body = re.sub(r'<code translate="no">.*?</code>|<span lang="en".*?</span>|<[^>]+>', " ",
                      r.text.split("<body", 1)[-1])
        assert not _ZH_FORBIDDEN.search(body), _ZH_FORBIDDEN.search(body)
    # filters
    r = client.get("/console/opinion", params={"label": "negative", "topic": "outage"})
    assert r.status_code == 200 and "mention-" in r.text
    page = f"/console/opinion/alerts/{aid}"
    r = client.get(page)
    assert r.status_code == 200 and step_word in r.text and not raw_keys(r.text)
    assert post_form(client, page, f"{page}/acknowledge", {"note": "seen"}).status_code == 303
    assert post_form(client, page, f"{page}/assign", {"assignee": "pr_team", "note": ""}).status_code == 303
    r = post_form(client, page, f"{page}/respond", {"note": ""})  # a response needs a note: shown on the page
    assert r.status_code == 422 and 'role="alert"' in r.text
    assert post_form(client, page, f"{page}/respond", {"note": "statement posted"}).status_code == 303
    assert post_form(client, page, f"{page}/close", {"note": ""}).status_code == 303
    with db.session_scope(engine) as s:
        a = s.get(OpinionAlert, aid)
        assert (a.status, a.assignee, a.response) == ("closed", "pr_team", "statement posted")
    assert client.get("/console/opinion/alerts/999999").status_code == 404


def test_teller_may_not_open_the_pages(client, engine):
    aid = _spike(engine)
    make_user(engine, "teller1", role="teller")
    sign_in(client, "teller1", console=True)
    assert client.get("/console/opinion").status_code == 403
    assert client.get(f"/console/opinion/alerts/{aid}").status_code == 403
