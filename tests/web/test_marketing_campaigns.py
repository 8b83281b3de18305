"""The console's campaign pages: list, the new form, the detail page with the live preview, maker-checker buttons."""

from __future__ import annotations

import pytest

from tests.marketing.campaign_helpers import arrange
from tests.web.conftest import post_form, raw_keys, sign_in

PAGE = "/console/marketing/campaigns"


def _form(**over):
    data = {"code": "SPRING", "name_zh": "春季理财", "name_en": "Spring wealth", "expression": "age >= 20",
            "segments": "", "tags": "", "model": "", "min_score": "", "channels": ["inapp", "sms"],
            "arm_A_weight": "1", "arm_A_zh_title": "新品", "arm_A_zh_body": "{first_name}您好",
            "arm_A_en_title": "New", "arm_A_en_body": "Hello {name}", "holdout_bp": "1000", "kind": "once",
            "start_at": "2026-11-24T12:00", "goal": "wealth_purchase", "goal_window_days": "14"}
    data.update(over)
    return data



def test_create_preview_and_approve_through_the_pages(client, bank, people, bank_clock):
    arrange(bank, 6, consent_every=2)
    from tests.web.conftest import make_user

    make_user(bank.engine, "market2", role="marketer")
    sign_in(client, "market1", console=True)
    r = client.get(PAGE)
    assert r.status_code == 200 and "营销活动" in r.text and not raw_keys(r.text)
    bad = post_form(client, PAGE + "/new", PAGE, _form(arm_A_zh_body="{nickname}您好"))
    assert bad.status_code == 422 and "nickname" in bad.text and "不能使用个性化字段" in bad.text
    ok = post_form(client, PAGE + "/new", PAGE, _form())
    assert ok.status_code == 303, ok.text
    detail = ok.headers["location"].split("?")[0]
    html = client.get(detail).text
    assert 'id="mkc-in-audience">6<' in html and 'id="mkc-reachable">3<' in html
    assert not raw_keys(html)
    assert post_form(client, detail, detail + "/submit", {}).status_code == 303
    html = client.get(detail).text
    assert 'id="mkc-approve"' not in html  # the maker sees no approval button
    r = post_form(client, detail, detail + "/approve", {"note": ""})
    assert r.status_code == 409 and "创建人和提交人以外" in r.text
    client.cookies.clear()
    sign_in(client, "market2", console=True)
    client.cookies.set("sb_lang", "en")
    html = client.get(detail).text
    assert 'id="mkc-approve"' in html and "Audience preview" in html and "Awaiting approval" in html
    assert not any(w in html for w in ("客群预览", "待审批", "执行结果", "站内消息"))
    assert post_form(client, detail, detail + "/approve", {"note": "fine"}).status_code == 303
    assert 'data-status="approved"' in client.get(detail).text


@pytest.mark.parametrize("path", [PAGE, PAGE + "/new"])
def test_a_teller_is_refused(client, people, path):
    sign_in(client, "teller1", console=True)
    assert client.get(path).status_code == 403
