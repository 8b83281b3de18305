"""The portal chat: works as a plain form post and page, and as JSON for the script."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import csrf_token, post_form, raw_keys, sign_in


@pytest.mark.parametrize("lang, title", [("zh", "智能助手"), ("en", "Ask the assistant")])
def test_plain_form_round_trip(client, people, lang, title):
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    r = client.get("/assistant")
    assert r.status_code == 200 and title in r.text and not raw_keys(r.text)
    r = post_form(client, "/assistant", "/assistant", {"text": "我的余额是多少", "conversation_id": ""})
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "我的余额是多少" in page.text and "¥1,000.00" in page.text and not raw_keys(page.text)
    cid = re.search(r"c=(\d+)", r.headers["location"]).group(1)
    r = post_form(client, f"/assistant?c={cid}", f"/assistant/{cid}/rating", {"score": "5", "comment": ""})
    assert r.status_code == 303
    assert 'id="chat-form"' not in client.get(f"/assistant?c={cid}").text  # closed


def test_script_posts_json_and_polls(client, people):
    sign_in(client, "alice")
    token = csrf_token(client.get("/assistant").text)
    r = client.post("/assistant", data={"text": "talk to a person", "conversation_id": "", "csrf_token": token},
                    headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["status"] == "waiting"
    cid = r.json()["conversation_id"]
    msgs = client.get(f"/assistant/{cid}/messages?after=0").json()["messages"]
    assert msgs[0]["sender"] == "customer" and msgs[-1]["sender"] == "assistant"
    assert client.get("/static/assistant.js").status_code == 200


def test_another_customers_conversation_is_not_found(client, people):
    sign_in(client, "alice")
    token = csrf_token(client.get("/assistant").text)
    cid = client.post("/assistant", data={"text": "你好", "conversation_id": "", "csrf_token": token},
                      headers={"Accept": "application/json"}).json()["conversation_id"]
    client.cookies.clear()
    sign_in(client, "bob")
    assert client.get(f"/assistant?c={cid}").status_code == 404
    assert client.get(f"/assistant/{cid}/messages").status_code == 404
