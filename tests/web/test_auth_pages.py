from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.web.conftest import PASSWORD, csrf_token, post_form, sign_in


@pytest.mark.any_backend
def test_login_page_in_chinese_by_default_and_english_by_cookie(client):
    zh = client.get("/login")
    assert zh.status_code == 200
    assert '<html lang="zh-CN"' in zh.text and "登录" in zh.text and 'href="/prefs/lang/en' in zh.text
    client.cookies.set("sb_lang", "en")
    en = client.get("/login")
    assert '<html lang="en"' in en.text and "Sign in" in en.text and "登录" not in en.text


@pytest.mark.any_backend
def test_language_toggle_sets_cookie_and_returns(client):
    r = client.get("/prefs/lang/en?next=/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "sb_lang=en" in r.headers["set-cookie"]
    assert "Sign in" in client.get("/login").text
    client.get("/prefs/lang/zh?next=/login")
    assert "登录" in client.get("/login").text


@pytest.mark.any_backend
def test_toggles_never_redirect_off_site(client):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        r = client.get("/prefs/elder/on", params={"next": target}, follow_redirects=False)
        assert r.headers["location"] == "/", target


def test_unauthenticated_pages_redirect_to_the_right_sign_in(client, people):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = client.get(f"/accounts/{people.alice_acct}", follow_redirects=False)
    assert r.headers["location"] == f"/login?next=%2Faccounts%2F{people.alice_acct}"
    r = client.get("/console/customers?q=x", follow_redirects=False)
    assert r.headers["location"].startswith("/console/login?next=%2Fconsole%2Fcustomers")


def test_sign_in_sets_a_safe_session_cookie_and_follows_next(client, people):
    page = client.get("/login?next=/payees").text
    r = client.post("/login", data={"username": "alice", "password": PASSWORD, "next": "/payees",
                                    "csrf_token": csrf_token(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/payees"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("sb_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = client.get("/")
    assert home.status_code == 200 and "¥1,000.00" in home.text and "¥50.00" in home.text


def test_sign_in_refuses_offsite_next(client, people):
    page = client.get("/login").text
    r = client.post("/login", data={"username": "alice", "password": PASSWORD, "next": "//evil.example",
                                    "csrf_token": csrf_token(page)}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_wrong_password_is_shown_translated_and_counted(client, people, engine):
    r = post_form(client, "/login", "/login", {"username": "alice", "password": "nope12345"})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    client.cookies.set("sb_lang", "en")
    r = post_form(client, "/login", "/login", {"username": "alice", "password": "nope12345"})
    assert "Wrong username or password" in r.text
    with engine.connect() as c:
        assert c.execute(text("SELECT failures FROM login_throttle WHERE key = 'a:testclient'")).scalar() == 2


def test_staff_and_customers_use_their_own_sign_in(client, people):
    r = post_form(client, "/login", "/login", {"username": "teller1", "password": PASSWORD})
    assert r.status_code == 401 and "员工请从运营管理台登录" in r.text
    r = post_form(client, "/console/login", "/console/login", {"username": "alice", "password": PASSWORD})
    assert r.status_code == 401 and "此处仅供银行员工登录" in r.text


def test_customer_session_does_not_open_the_console(client, people):
    sign_in(client, "alice")
    r = client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert client.get("/").status_code == 200  # still signed in to the portal


def test_sign_out_ends_the_session(client, people):
    sign_in(client, "alice")
    r = post_form(client, "/me", "/logout", {})  # signing out is on the "me" page
    assert r.status_code == 303 and r.headers["location"] == "/login?notice=signed_out"
    assert "您已安全退出" in client.get(r.headers["location"]).text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_stale_session_cookie_is_cleared(client, people):
    client.cookies.set("sb_session", "not-a-real-token")
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and 'sb_session=""' in r.headers.get("set-cookie", "")


def test_signup_opens_an_account_and_signs_in(client, bank):
    from datetime import date

    from smartbank.customers.validation import make_resident_id

    data = {"name": "赵敏", "id_number": make_resident_id("310101", date(1990, 5, 1), 7), "phone": "13912345678",
            "email": "", "username": "zhaomin", "password": "jade-harbour-71", "password2": "jade-harbour-71"}
    r = post_form(client, "/signup", "/signup", data)
    assert r.status_code == 303 and r.headers["location"] == "/?notice=welcome", r.text
    home = client.get(r.headers["location"])
    assert "开户成功" in home.text and "¥0.00" in home.text
    assert bank.count("customers") == 1 and bank.count("accounts") == 1


def test_signup_errors_are_shown_and_nothing_is_written(client, bank):
    data = {"name": "赵敏", "id_number": "123", "phone": "13912345678", "email": "", "username": "zhaomin",
            "password": "jade-harbour-71", "password2": "jade-harbour-71"}
    r = post_form(client, "/signup", "/signup", data)
    assert r.status_code == 422 and "身份证号码应为 17 位数字" in r.text and 'value="赵敏"' in r.text
    r = post_form(client, "/signup", "/signup", {**data, "password2": "other123"})
    assert "两次输入的密码不一致" in r.text
    assert bank.count("customers") == 0 and bank.count("users") == 0



@pytest.mark.any_backend
def test_nul_characters_in_a_form_are_refused_without_a_server_error(client):
    r = post_form(client, "/login", "/login", {"username": "a\x00b", "password": "x\x00y"})
    assert r.status_code == 400
    assert client.get("/login?next=%00").status_code == 400


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_wrong_second_factor_code_is_said_once_beside_its_field(client, people, engine, lang):
    """The second step of a staff sign-in refuses a wrong code in the page's language, once, next to the code
    field (aria-describedby), and the page keeps the recovery hint free of placeholder letters."""
    from smartbank import db
    from smartbank.security import service as security

    with db.session_scope(engine) as s:
        security.enrol_demo_mfa(s, security.find_user_by_name(s, "teller1"))
    client.cookies.set("sb_lang", lang)
    r = post_form(client, "/console/login", "/console/login", {"username": "teller1", "password": PASSWORD})
    assert r.headers["location"].startswith("/console/login/mfa")
    html = client.get(r.headers["location"]).text
    r = client.post("/console/login/mfa", data={"code": "000000", "csrf_token": csrf_token(html)},
                    follow_redirects=False)
    assert r.status_code in (400, 401, 422)
    words = "验证码不正确" if lang == "zh" else "That code is not right"
    assert r.text.count(words) == 1, r.text
    assert 'id="err-code"' in r.text and 'aria-describedby="mfa-hint err-code"' in r.text
    assert 'id="form-error"' not in r.text and "xxxxx" not in r.text
