"""Request bodies are bounded and read only after authentication; responses carry security headers;
``/docs`` has a Content-Security-Policy that lets its page load; ``/metrics`` is for staff monitoring."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from smartbank import config
from tests.api.support import API, assert_error, number
from tests.conftest import login

LIMIT = 1_048_576


def _transfer(engine, bank) -> tuple[dict, dict]:
    a = bank.customer()
    a1 = bank.account(a, balance=10_000)
    b1 = bank.account(bank.customer())
    bank.user("alice", customer_id=a)
    return {"from_account_id": a1, "to_account_number": number(engine, b1), "amount_minor": 100,
            "idempotency_key": "k1"}, {"a1": a1}


# ------------------------------------------------------------------------------------------- body limits


@pytest.mark.any_backend
def test_an_oversized_body_is_refused_before_it_is_read(client):
    big = b'{"username": "' + b"x" * (2 * LIMIT) + b'", "password": "p"}'
    r = client.post(f"{API}/auth/login", content=big, headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    r = client.post(f"{API}/transfers", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code in (401, 413), r.text  # never parsed: no 422


def test_an_oversized_body_of_a_signed_in_caller_is_refused(client, bank, engine):
    body, _ = _transfer(engine, bank)
    h = login(client, "alice")
    body["memo"] = "m" * (2 * LIMIT)
    r = client.post(f"{API}/transfers", json=body, headers=h)
    assert_error(r, 413, "payload_too_large")
    assert bank.count("transfers") == 1  # the funding deposit only


@pytest.mark.any_backend
def test_a_streamed_body_is_counted(client, monkeypatch):
    """A body sent without Content-Length (chunked) is refused once it passes the limit."""
    monkeypatch.setenv("SMARTBANK_MAX_BODY_BYTES", "1000")
    config.reset_settings()

    def chunks():
        for _ in range(10):
            yield b"x" * 500

    r = client.post(f"{API}/auth/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")


# ------------------------------------------------------------------------------- authentication first


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-session"}])
def test_a_protected_call_without_a_valid_session_is_401_before_its_body_is_validated(client, headers):
    for method, path in (("post", "/transfers"), ("post", "/payees"), ("post", "/assistant/messages"),
                         ("put", "/customers/1/daily-limit"), ("post", "/risk/rules")):
        r = client.request(method.upper(), f"{API}{path}", content=b'{"amount_minor": "lots"',
                           headers={**headers, "Content-Type": "application/json"})
        assert_error(r, 401, "not_authenticated")
        r = client.request(method.upper(), f"{API}{path}", json={"amount_minor": "lots"}, headers=headers)
        assert_error(r, 401, "not_authenticated")


@pytest.mark.any_backend
def test_an_unknown_api_path_without_a_session_is_401(client):
    assert_error(client.get(f"{API}/no-such-thing"), 401, "not_authenticated")


def test_public_operations_stay_open(client, bank):
    bank.user("alice", customer_id=bank.customer())
    assert client.get(f"{API}/openapi.json").status_code == 200
    assert client.post(f"{API}/auth/login", json={"username": "alice", "password": "passw0rd!"}).status_code == 200
    assert_error(client.post(f"{API}/auth/login", json={"username": 1}), 422, "validation_error")


def test_a_valid_session_still_reaches_validation_and_the_payment(client, bank, engine):
    body, ids = _transfer(engine, bank)
    h = login(client, "alice")
    assert_error(client.post(f"{API}/transfers", json={**body, "amount_minor": "lots"}, headers=h), 422)
    r = client.post(f"{API}/transfers", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert bank.balance(ids["a1"]) == 9_900


# -------------------------------------------------------------------------------------- response headers


def test_api_responses_are_not_stored_or_sniffed(client, bank, engine):
    _transfer(engine, bank)
    h = login(client, "alice")
    for r in (client.get(f"{API}/accounts", headers=h), client.get(f"{API}/auth/me", headers=h),
              client.get(f"{API}/accounts"), client.get(f"{API}/accounts/999", headers=h)):
        assert r.headers["cache-control"] == "no-store", r.headers
        assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.any_backend
def test_pages_are_not_sniffed_and_only_static_assets_are_cacheable(client):
    page = client.get("/login")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    css = client.get("/static/app.css")
    assert css.status_code == 200
    assert css.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in css.headers.get("cache-control", "")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.mark.any_backend
def test_docs_have_a_csp_that_allows_what_the_page_loads(client):
    r = client.get("/docs")
    assert r.status_code == 200
    csp = {d.split()[0]: d.split()[1:] for d in (x.strip() for x in r.headers["content-security-policy"].split(";"))}
    html = r.text
    assert csp["default-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    # every external script and stylesheet comes from an origin the policy names
    for src in re.findall(r'<script src="([^"]+)"', html):
        assert re.match(r"https://[^/]+", src).group(0) in csp["script-src"], src
    for href in re.findall(r'<link type="text/css" rel="stylesheet" href="([^"]+)"', html):
        assert re.match(r"https://[^/]+", href).group(0) in csp["style-src"], href
    # the inline start-up script is allowed by its hash, and nothing else inline may run
    inline = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert inline and all(_sha256(s) in csp["script-src"] for s in inline)
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert "'self'" in csp["connect-src"]  # the OpenAPI document and "try it out"
    assert "/api/v1/openapi.json" in html


# ------------------------------------------------------------------------------------------------ metrics


def test_metrics_are_for_administrators_and_the_monitoring_token(client, bank, monkeypatch):
    bank.user("alice", customer_id=bank.customer())
    bank.user("root", role="admin")
    bank.user("teller", role="teller")
    assert_error(client.get("/metrics"), 401, "not_authenticated")
    assert_error(client.get("/metrics", headers={"Authorization": "Bearer guess"}), 401)
    assert_error(client.get("/metrics", headers=login(client, "alice")), 403, "forbidden")
    assert_error(client.get("/metrics", headers=login(client, "teller")), 403, "forbidden")
    r = client.get("/metrics", headers=login(client, "root"))
    assert r.status_code == 200 and "smartbank_http_requests_total" in r.text
    assert r.headers["cache-control"] == "no-store"

    monkeypatch.setenv("SMARTBANK_METRICS_TOKEN", "scrape-" + "s" * 32)
    config.reset_settings()
    r = client.get("/metrics", headers={"Authorization": "Bearer scrape-" + "s" * 32})
    assert r.status_code == 200
    assert_error(client.get("/metrics", headers={"Authorization": "Bearer scrape-wrong"}), 401)


@pytest.mark.any_backend
def test_error_bodies_of_the_guards_have_the_one_shape(client):
    body = assert_error(client.post(f"{API}/transfers", json={}), 401)
    assert json.dumps(body)
