"""Ids no database can hold (beyond BIGINT) in any page's path, or in an account field of a form, are a plain
"not found" or a form error: never a 500 (the database driver would overflow on them)."""

from __future__ import annotations

import re

import pytest

from smartbank.api.app import create_app
from tests.web.conftest import csrf_token, sign_in

HUGE = "9" * 20


def _pages() -> list[tuple[str, str]]:
    """(method, path) of every page route with a path parameter, from the app itself."""
    out = []

    def walk(routes, prefix: str = "") -> None:
        for r in routes:
            if type(r).__name__ == "_IncludedRouter":
                ctx = getattr(r, "include_context", None)
                walk(r.original_router.routes, prefix + (getattr(ctx, "prefix", "") or ""))
                continue
            path = prefix + getattr(r, "path", "")
            if path.startswith("/api") or "{" not in path:
                continue
            for m in sorted(getattr(r, "methods", ()) or ()):
                if m in ("GET", "POST"):
                    out.append((m, path))

    walk(create_app().routes)
    return out


PAGES = _pages()


def test_the_pages_were_found():
    assert len(PAGES) >= 30 and any(p.startswith("/console") for _, p in PAGES)


@pytest.mark.parametrize("console", [False, True], ids=["customer", "staff"])
def test_an_id_beyond_bigint_in_a_path_is_not_found(client, bank, console):
    if console:
        bank.user("admin1", role="admin")
        sign_in(client, "admin1", console=True)
        token = csrf_token(client.get("/console").text)
    else:
        cid = bank.customer("王芳")
        bank.account(cid, balance=1_000)
        bank.user("alice", customer_id=cid)
        sign_in(client, "alice")
        token = csrf_token(client.get("/me").text)
    for method, path in PAGES:
        if path.startswith("/console") != console:
            continue
        url = re.sub(r"\{[^}]+\}", HUGE, path)
        r = client.request(method, url, data={"csrf_token": token} if method == "POST" else None,
                           follow_redirects=False)
        assert r.status_code < 500, (method, url, r.status_code)
        if method == "GET" and re.fullmatch(r".*/\{\w+_id\}", path):
            assert r.status_code == 404, (method, url, r.status_code)


@pytest.mark.parametrize("page, action, fields", [
    ("/transfer", "/transfer/confirm", {"from_account": HUGE, "to_account": "6217000000000000000", "amount": "1"}),
    ("/scheduled", "/scheduled", {"from_account": HUGE, "to_account": "6217000000000000000", "amount": "1",
                                  "frequency": "monthly", "start_date": "2030-01-01"}),
])
def test_an_account_id_beyond_bigint_in_a_form_is_a_form_error(client, bank, page, action, fields):
    cid = bank.customer("王芳")
    bank.account(cid, balance=1_000)
    bank.user("alice", customer_id=cid)
    sign_in(client, "alice")
    before = bank.count("transfers")
    r = client.post(action, data={**fields, "csrf_token": csrf_token(client.get(page).text)},
                    follow_redirects=False)
    assert r.status_code == 422, r.status_code
    assert bank.count("transfers") == before
