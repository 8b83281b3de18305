"""The shell on a 360 px phone: the home page and the "me" page fit the screen (no sideways scrolling), the tab bar
stays in view at the bottom, and amounts do not wrap; in Chinese and in English. Elderly mode: at most six tiles."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import _context
from tests.e2e.test_portal_browser import no_sideways_scroll, sign_in
from tests.web.conftest import make_user

pytestmark = pytest.mark.e2e

SERIOUS = ("serious", "critical")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response.get("violations", [])
    return [f"{v['impact']} {v['id']}: {[n.get('target') for n in v.get('nodes', [])[:3]]}"
            for v in found if v.get("impact") in SERIOUS]

SMALL = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
TABS = {"zh": "我的", "en": "Me"}


@pytest.fixture
def alice(bank, engine):
    """Alice with CNY 1,000.00 on a current account."""
    a = bank.customer("王芳")
    acct = bank.account(a, balance=100_000)
    make_user(engine, "alice", customer_id=a)
    return {"account": acct}


@pytest.fixture
def small(browser, live_server, database_url):
    ctx = _context(browser, live_server, **SMALL)
    yield ctx.new_page()
    ctx.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_home_and_me_fit_a_360px_phone_with_the_tab_bar_in_view(small, alice, live_server, lang):
    small.context.add_cookies([{"name": "sb_lang", "value": lang, "url": live_server}])
    sign_in(small)
    expect(small.locator("#total-figure")).to_be_visible()
    for path in ("/", "/me"):
        small.goto(path)
        bar = small.locator("nav.tabbar")
        expect(bar).to_be_visible()
        box = bar.bounding_box()
        assert box and box["y"] + box["height"] <= 740 + 1 and box["y"] > 600  # fixed at the bottom of the screen
        assert no_sideways_scroll(small), path
        assert serious_violations(small) == [], path
        # a figure is one line: no amount breaks in the middle
        for fig in small.locator(".num").all()[:12]:
            if fig.is_visible():
                b = fig.bounding_box()
                line = float(fig.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 24"))
                assert b and b["height"] <= line * 1.6, (path, fig.inner_text())
    me = small.locator("nav.tabbar a[data-tab=me]")
    expect(me).to_have_text(TABS[lang])
    expect(me).to_have_attribute("aria-current", "page")
    expect(small.locator("#sign-out")).to_be_visible()


def test_elderly_home_on_a_phone_has_big_tiles_and_a_way_back(small, alice):
    sign_in(small)
    small.click("#elder-toggle")
    expect(small.locator("#elder-home")).to_be_visible()
    tiles = small.locator("[data-primary-action]")
    assert 4 <= tiles.count() <= 6
    for i in range(tiles.count()):
        box = tiles.nth(i).bounding_box()
        assert box and box["height"] >= 48 and box["width"] >= 48
    expect(small.locator("nav.tabbar")).to_have_count(0)
    assert no_sideways_scroll(small)
    assert serious_violations(small) == []
    small.click("#elder-toggle")  # one tap back to the standard mode
    expect(small.locator("html")).not_to_have_class("elder")
    expect(small.locator("nav.tabbar")).to_be_visible()


def test_radio_buttons_sit_beside_their_answers(small, alice):
    """label{display:grid} once put each radio on a line of its own, away from its words (the risk questionnaire,
    the early-repayment choice, the loan decision): a radio and its words share one row."""
    sign_in(small)
    small.goto("/wealth/assessment")
    labels = small.locator("label:has(> input[type=radio])")
    assert labels.count() >= 4
    for i in range(4):
        label = labels.nth(i)
        radio = label.locator("input[type=radio]").bounding_box()
        box = label.bounding_box()
        assert radio and box
        assert radio["x"] - box["x"] < 24  # the radio opens the row
        assert box["height"] < radio["height"] * 3  # one row, not the radio above its words
        words = label.evaluate("""l => { const r = document.createRange(); r.selectNodeContents(l);
            const rects = [...r.getClientRects()].filter(x => x.width > 4 && x.left > l.querySelector('input')
                .getBoundingClientRect().right); return rects.length ? rects[0].top : null; }""")
        assert words is not None and abs(words - radio["y"]) < radio["height"] * 1.5
