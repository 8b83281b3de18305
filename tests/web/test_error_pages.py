"""Unknown paths: a browser gets the web's HTML error page (which the pages hand the app when they are mounted,
so the API does not import them), an API client the API's JSON error."""

from __future__ import annotations


def test_an_unknown_page_is_an_html_page_for_a_browser_and_json_otherwise(client):
    r = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower()
    r = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.get("/api/v1/no-such-operation", headers={"Accept": "text/html"})
    assert r.status_code in (401, 404) and r.headers["content-type"].startswith("application/json")


def test_the_app_gets_the_html_error_page_from_the_pages(client):
    from smartbank.web.shell import http_error_page

    assert client.app.state.html_error_page is http_error_page


def test_the_html_error_page_speaks_the_page_language_not_the_framework_s(client):
    for lang, words in (("zh", "找不到您要的内容"), ("en", "We could not find")):
        client.cookies.set("sb_lang", lang)
        r = client.get("/no-such-page", headers={"Accept": "text/html"})
        assert words in r.text and "Not Found" not in r.text
    r = client.post("/prefs/lang/zh", headers={"Accept": "text/html"})  # a method the path does not take
    assert r.status_code == 405 and "Method Not Allowed" not in r.text
