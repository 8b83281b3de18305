"""The security pages: staff enrolment at sign-in, the second sign-in step, the portal's and the console's
security pages (second factor, password, sessions, phone and limit behind a step-up), and the password reset,
in Chinese and English without raw message keys."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp

from smartbank import clock
from tests.conftest import sms_code, totp_code
from tests.web.conftest import csrf_token, post_form, raw_keys, sign_in

STRONG = "jade-harbour-71"


def test_staff_enrol_on_the_page_their_sign_in_leads_to_in_both_languages(client, people):
    for lang, words in (("zh", "设置双重验证"), ("en", "Set up two-step verification")):
        client.cookies.clear()
        client.cookies.set("sb_lang", lang)
        r = post_form(client, "/console/login", "/console/login", {"username": "teller1", "password": "passw0rd!"})
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login/enrol")
        page = client.get(r.headers["location"]).text
        assert words in page and "<svg" in page and 'id="mfa-uri">otpauth://totp/' in page
        assert raw_keys(page) == []
    # the session only opens with the right code; the recovery codes are shown once
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', page).group(1)
    bad = client.post("/console/login/enrol", data={"code": "000000", "csrf_token": csrf_token(page)},
                      follow_redirects=False)
    assert bad.status_code == 401 and "sb_session" not in bad.cookies
    ok = client.post("/console/login/enrol", data={"code": pyotp.TOTP(secret).at(clock.now()),
                                                   "csrf_token": csrf_token(page)}, follow_redirects=False)
    assert ok.status_code == 200 and len(re.findall(r"<li>[a-z2-9]{5}-[a-z2-9]{5}</li>", ok.text)) == 10
    assert raw_keys(ok.text) == []
    assert client.get("/console", follow_redirects=False).status_code == 200


def test_the_second_step_without_a_first_one_starts_again(client):
    r = client.get("/login/mfa", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?notice=sign_in_expired"
    assert "重新登录" in client.get(r.headers["location"]).text


def test_a_customer_turns_on_the_second_factor_and_then_signs_in_with_it(client, people):
    sign_in(client, "alice")
    page = client.get("/security").text
    assert "安全设置" in page and raw_keys(page) == []
    r = client.post("/security/mfa/enrol", data={"csrf_token": csrf_token(page)})
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', r.text).group(1)
    r = client.post("/security/mfa/confirm", data={"code": pyotp.TOTP(secret).at(clock.now()),
                                                   "csrf_token": csrf_token(r.text)})
    assert r.status_code == 200 and 'id="recovery-codes"' in r.text
    client.cookies.clear()
    r = post_form(client, "/login", "/login", {"username": "alice", "password": "passw0rd!"})
    assert r.headers["location"].startswith("/login/mfa")
    step = client.get(r.headers["location"]).text
    assert "身份验证器" in step and raw_keys(step) == []
    wrong = client.post("/login/mfa", data={"code": "000000", "csrf_token": csrf_token(step)})
    assert wrong.status_code == 401 and "验证码不正确" in wrong.text
    clock.get_clock().advance(timedelta(seconds=30))  # the next code: the enrolment used this one
    ok = post_form(client, "/login/mfa", "/login/mfa", {"code": totp_code("alice")})
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert client.get("/security").status_code == 200


def test_the_portal_security_page_in_english_changes_the_phone_after_a_text_code(client, people, sms_outbox):
    sign_in(client, "alice")
    client.cookies.set("sb_lang", "en")
    page = client.get("/security").text
    assert "Signed-in devices" in page and raw_keys(page) == []
    r = post_form(client, "/security", "/security/phone", {"phone": "13800001111"})
    assert r.status_code == 200 and 'id="step-up-prompt"' in r.text and "We texted a code" in r.text
    code = sms_code(sms_outbox)
    r = client.post("/security/phone", data={"phone": "13800001111", "step_up_code": code,
                                             "csrf_token": csrf_token(r.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/security?notice=phone_changed"
    assert "138****1111" in client.get(r.headers["location"]).text


def test_password_change_from_the_console(client, people):
    sign_in(client, "teller1", console=True)
    page = client.get("/console/security").text
    assert "我的安全设置" in page and raw_keys(page) == []
    r = post_form(client, "/console/security", "/console/security/password",
                  {"current_password": "passw0rd!", "new_password": "password1", "new_password2": "password1"})
    assert r.status_code == 422 and "密码" in r.text
    r = post_form(client, "/console/security", "/console/security/password",
                  {"current_password": "passw0rd!", "new_password": STRONG, "new_password2": STRONG})
    assert r.status_code == 303 and r.headers["location"] == "/console/security?notice=password_changed"


def test_password_reset_pages(client, people, sms_outbox):
    page = client.get("/login").text
    assert 'href="/password-reset"' in page
    r = post_form(client, "/password-reset", "/password-reset", {"username": "alice"})
    assert r.status_code == 200 and 'id="reset-code"' in r.text and raw_keys(r.text) == []
    code = sms_code(sms_outbox)
    r = client.post("/password-reset/confirm", data={"username": "alice", "code": code, "new_password": STRONG,
                                                     "new_password2": STRONG, "csrf_token": csrf_token(r.text)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?notice=password_reset"
    client.cookies.clear()
    assert post_form(client, "/login", "/login", {"username": "alice", "password": STRONG}).status_code == 303
