"""The portal chat: works as a plain form post and page, and as JSON for the script."""

from __future__ import annotations

import re

import pytest

from smartbank import db
from smartbank.assistant import service as assistant
from smartbank.web.assistant import linkify
from tests.assistant.support import agent
from tests.web.conftest import csrf_token, make_user, post_form, raw_keys, sign_in


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


# ---- the thread as a conversation -------------------------------------------------------------------------

ASK = {"zh": ("我要申请贷款", "转人工", "申请贷款", "已为您转接人工客服", "人工客服已接入", "客服"),
       "en": ("I want to apply for a loan", "talk to a person", "Apply for a loan",
              "You have been passed to a colleague", "A colleague has joined", "Colleague")}


def _send(client, cid: str, text: str) -> str:
    page = f"/assistant?c={cid}" if cid else "/assistant"
    r = post_form(client, page, "/assistant", {"text": text, "conversation_id": cid})
    assert r.status_code == 303, r.text
    return re.search(r"c=(\d+)", r.headers["location"]).group(1)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_thread_shows_bubbles_links_and_the_hand_off(client, engine, people, lang):
    loan, human, page_name, handed, joined, colleague = ASK[lang]
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    cid = _send(client, "", loan)
    html = client.get(f"/assistant?c={cid}").text
    # the customer's words on the right, the assistant's on the left, each in a bubble
    assert re.search(r'<li class="msg customer" data-id="\d+">.*?<div class="bubble">' + re.escape(loan), html, re.S)
    assert '<li class="msg assistant kind-link"' in html
    # the path in the answer is a link, named as the page is in the menu (no "/loans/apply" as text)
    assert f'<a href="/loans/apply">{page_name}</a>' in html and ">/loans/apply<" not in html
    assert not raw_keys(html)

    _send(client, cid, human)
    html = client.get(f"/assistant?c={cid}").text
    assert f'data-sys="handed"><span>{handed}</span>' in html and 'id="chat-form"' in html
    assert '<div class="chips" id="chips" hidden></div>' in html  # no quick replies while a colleague is awaited

    uid = make_user(engine, "agent1", role="service_agent")
    words = "请看 https://bank.example/help?a=1&b=2 。<b>"
    db.run_in_transaction(lambda s: assistant.agent_reply(s, agent(uid, "agent1"), int(cid), words), engine=engine)
    html = client.get(f"/assistant?c={cid}").text
    assert f'data-sys="joined"><span>{joined}</span>' in html
    assert '<li class="msg agent" data-id=' in html
    assert f'<span class="who">{colleague}<span class="asst-sr">: </span></span>' in html
    # escaped first, then linkified: the markup in the text stays text, the address is a link without the "."
    assert '<a href="https://bank.example/help?a=1&amp;b=2" rel="noopener noreferrer nofollow" target="_blank">' in html
    assert "&lt;b&gt;" in html and "<b>" not in html.split('id="messages"')[1]
    # the script's poll returns the same items, drawn by the server
    data = client.get(f"/assistant/{cid}/messages?after=0").json()
    assert 'class="msg agent"' in data["html"] and 'data-sys="handed"' in data["html"] and data["last"] > 0


@pytest.mark.parametrize("lang, chip", [("zh", "查余额"), ("en", "Balance")])
def test_quick_replies_post_their_words_without_script(client, people, lang, chip):
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    html = client.get("/assistant").text
    chips = html.split('id="chips"')[1].split("</form>")[0]
    assert f">{chip}</button>" in chips and 'name="text"' in chips and 'name="csrf_token"' in chips
    value = re.search(rf'value="([^"]+)">{chip}</button>', chips).group(1)
    cid = _send(client, "", value)
    page = client.get(f"/assistant?c={cid}").text
    assert "¥1,000.00" in page  # the balance answer
    # a reply offers its own quick replies (here: the greeting's suggestions)
    cid = _send(client, cid, "你好" if lang == "zh" else "hello")
    page = client.get(f"/assistant?c={cid}").text
    assert page.count('class="chip"') == 5


def test_links_in_texts_are_escaped_then_linked():
    out = str(linkify('<script>x</script> see https://a.example/p?q=1&r=2, /loans/apply。 and/or /no such', "en"))
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert '<a href="https://a.example/p?q=1&amp;r=2" rel="noopener noreferrer nofollow" target="_blank">' in out
    assert '</a>, ' in out  # the comma after the address is not part of it
    assert '<a href="/loans/apply">Apply for a loan</a>。' in out
    assert "and/or" in out and 'href="/or' not in out
    assert str(linkify('javascript:alert(1) "/x" onclick=', "zh")).count("<a ") == 0
