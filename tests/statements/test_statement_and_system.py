"""The monthly PDF statement (read back with pypdf), /healthz, /metrics and the published OpenAPI."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from smartbank import clock, db
from smartbank.ledger import service as ledger
from smartbank.money import format_minor
from tests.api.support import API, assert_error, number
from tests.conftest import TEST_NOW, login

THIS = clock.local_date(TEST_NOW).replace(day=1)  # the suite's clock, not the day the module is imported
LAST = (THIS - timedelta(days=1)).replace(day=1)  # first day of the previous month
BEFORE = (LAST - timedelta(days=1)).replace(day=1)  # first day of the month before that


def _post(engine, key, debit, credit, amount, value_date, memo=""):
    with db.session_scope(engine) as s:
        ledger.transfer(s, ledger.TransferCommand(key=key, debit_account_id=debit, credit_account_id=credit,
                                                  amount_minor=amount, currency="CNY", memo=memo,
                                                  value_date=value_date))


def _ledger_balance(engine, account_id, *, before: date) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT COALESCE(sum(amount_minor), 0) FROM entries WHERE account_id = :a"
                                  " AND value_date < :d"), {"a": account_id, "d": before}).scalar())


def _pdf_text(client, account_id, month: date, headers) -> str:
    r = client.get(f"{API}/accounts/{account_id}/statements/{month.year}/{month.month}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    assert f"statement-{account_id}-{month.year}-{month.month:02d}.pdf" in r.headers["content-disposition"]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)


def _amount(label: str, pdf: str) -> str:
    m = re.search(label + r"\s*:\s*(-?[\d,]+\.\d\d)", pdf)
    assert m, (label, pdf)
    return m.group(1)


def _setup(client, bank, engine):
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1, b1 = bank.account(alice), bank.account(bob, balance=10**9)
    bank.user("alice", customer_id=alice)
    with db.session_scope(engine) as s:
        settle = ledger.internal_account(s, "settlement", "CNY").id
    return a1, b1, settle, login(client, "alice")


def test_monthly_statement_balances_match_the_ledger(client, bank, engine):
    a1, b1, settle, h = _setup(client, bank, engine)
    _post(engine, "s1", settle, a1, 1_234_567, BEFORE + timedelta(days=3), "salary")
    _post(engine, "s2", a1, b1, 34_500, LAST + timedelta(days=1), "rent")
    _post(engine, "s3", b1, a1, 2_001, LAST + timedelta(days=9), "refund")
    _post(engine, "s4", a1, b1, 100, THIS, "coffee")  # next month: not on last month's statement
    pdf = _pdf_text(client, a1, LAST, h)

    assert number(engine, a1) in pdf
    assert "王芳" in pdf
    opening = _ledger_balance(engine, a1, before=LAST)
    closing = _ledger_balance(engine, a1, before=THIS)
    assert (opening, closing) == (1_234_567, 1_234_567 - 34_500 + 2_001)
    assert _amount("Opening", pdf) == format_minor(opening, grouping=True) == "12,345.67"
    assert _amount("Closing", pdf) == format_minor(closing, grouping=True)
    assert _amount("Credits", pdf) == "20.01" and _amount("Debits", pdf) == "345.00"
    assert "rent" in pdf and "refund" in pdf and "coffee" not in pdf and "salary" not in pdf
    # the current month opens where the last one closed
    assert _amount("Opening", _pdf_text(client, a1, THIS, h)) == format_minor(closing, grouping=True)


def test_statement_counts_a_backdated_entry_in_its_own_month(client, bank, engine):
    """An entry posted today but dated last month (a late scheduled run, a correction) belongs to
    last month: this month's opening balance includes it, and only once."""
    a1, b1, settle, h = _setup(client, bank, engine)
    _post(engine, "now", settle, a1, 10_000, THIS)  # posted first, dated this month
    _post(engine, "late", settle, a1, 5_000, LAST + timedelta(days=27))  # posted later, dated last month
    this = _pdf_text(client, a1, THIS, h)
    assert _amount("Opening", this) == format_minor(_ledger_balance(engine, a1, before=THIS), grouping=True) == "50.00"
    assert _amount("Closing", this) == format_minor(bank.balance(a1), grouping=True) == "150.00"
    last = _pdf_text(client, a1, LAST, h)
    assert (_amount("Opening", last), _amount("Closing", last)) == ("0.00", "50.00")


def test_statement_prints_any_memo_literally(client, bank, engine):
    """Memos are the payer's free text, printed on the payee's statement: markup must not break it."""
    a1, b1, settle, h = _setup(client, bank, engine)
    memos = ["R&D <b>bonus</b>", "a < b & c > d", "<font name='nope'>x</font>", "&amp; &#9999999; <para>"]
    for i, memo in enumerate(memos):
        _post(engine, f"m{i}", b1, a1, 100 + i, THIS, memo)
    pdf = _pdf_text(client, a1, THIS, h)
    for memo in memos:
        assert memo[:20] in pdf.replace("\n", " "), memo
    # the holder's name is printed literally too
    odd = bank.customer("Tom & <Jerry>")
    bank.user("tom", customer_id=odd)
    t1 = bank.account(odd, balance=100)
    assert "Tom & <Jerry>" in _pdf_text(client, t1, THIS, login(client, "tom"))


def test_statement_of_an_empty_month_and_bad_months(client, bank, engine):
    a1, b1, settle, h = _setup(client, bank, engine)
    _post(engine, "s1", settle, a1, 700, BEFORE)
    pdf = _pdf_text(client, a1, LAST, h)
    assert "No transactions" in pdf
    assert _amount("Opening", pdf) == _amount("Closing", pdf) == "7.00"
    for y, m in ((2026, 0), (2026, 13), (1999, 12), (2101, 1)):
        assert_error(client.get(f"{API}/accounts/{a1}/statements/{y}/{m}", headers=h), 422, "validation_error")


def _requests(client, route: str) -> float:
    """smartbank_http_requests_total of one route, summed over methods and statuses (read as an administrator)."""
    total = 0.0
    for ln in client.get("/metrics", headers=client.metrics_auth).text.splitlines():
        if ln.startswith("smartbank_http_requests_total{") and f'route="{route}"' in ln:
            total += float(ln.rsplit(" ", 1)[1])
    return total


def test_healthz_metrics_and_openapi(client, bank, engine):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["version"]
    # one API request, then the counter shows it under its full route template
    a1, b1, settle, h = _setup(client, bank, engine)
    bank.user("ops-admin", role="admin")
    client.metrics_auth = login(client, "ops-admin")
    assert client.get("/metrics").status_code == 401  # the metrics are not public
    api_route, web_route = "/api/v1/accounts/{account_id}", "/accounts/{account_id}"
    api0, web0 = _requests(client, api_route), _requests(client, web_route)
    client.get(f"{API}/accounts/{a1}", headers=h)
    m = client.get("/metrics", headers=client.metrics_auth)
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    assert "# TYPE smartbank_http_requests_total counter" in m.text
    assert f'smartbank_http_requests_total{{method="GET",route="{api_route}",status="200"}}' in m.text
    assert f"/accounts/{a1}\"" not in m.text  # ids never become label values
    assert (_requests(client, api_route), _requests(client, web_route)) == (api0 + 1, web0)
    # the web page of the same name is counted apart from the API
    client.get(f"/accounts/{a1}", headers={"Accept": "text/html"})
    assert (_requests(client, api_route), _requests(client, web_route)) == (api0 + 1, web0 + 1)
    assert "smartbank_http_request_seconds_bucket" in m.text

    doc = client.get(f"{API}/openapi.json")
    assert doc.status_code == 200
    spec = doc.json()
    assert spec["info"]["title"] == "smartbank" and spec["openapi"].startswith("3.")
    for path in ("/api/v1/transfers", "/api/v1/accounts/{account_id}/transactions", "/api/v1/auth/login",
                 "/api/v1/bill-payments", "/api/v1/audit"):
        assert path in spec["paths"], path
    # the published contract states the limits the server enforces
    amount = spec["components"]["schemas"]["TransferIn"]["properties"]["amount_minor"]
    assert (amount["type"], amount["exclusiveMinimum"], amount["maximum"]) == ("integer", 0, 10**15)
    assert spec["components"]["schemas"]["TransferIn"]["additionalProperties"] is False
    assert client.get("/docs").status_code == 200


@pytest.mark.any_backend
def test_readyz_answers_503_while_the_models_load(client, monkeypatch):
    from smartbank.api import app as app_module

    assert client.get("/readyz").status_code == 200  # an app that warms nothing is ready at once
    warming = app_module.threading.Event()
    monkeypatch.setattr(app_module, "_ready", warming)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["code"] == "warming_up"
    warming.set()
    assert client.get("/readyz").json()["status"] == "ready"


def test_history_and_statements_run_by_value_date(client, bank, engine):
    """A credit posted late but dated earlier (a catch-up) sits where its value date puts it: the history is
    ordered by value date, each line's running balance follows that order, and a statement's lines run from
    its opening balance to its closing one, which is the next month's opening."""
    a1, b1, settle, h = _setup(client, bank, engine)
    _post(engine, "t1", settle, a1, 100_000, LAST + timedelta(days=9), "deposit")
    _post(engine, "t2", a1, b1, 30_000, LAST + timedelta(days=19), "rent")
    _post(engine, "t3", settle, a1, 50_000, LAST + timedelta(days=4), "late deposit")  # posted after t2
    _post(engine, "t4", a1, b1, 10_000, THIS, "coffee")
    r = client.get(f"{API}/accounts/{a1}/transactions", headers=h)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["memo"] for i in items] == ["coffee", "rent", "deposit", "late deposit"]
    assert [i["balance_after_minor"] for i in items] == [110_000, 120_000, 150_000, 50_000]
    assert [i["value_date"] for i in items] == sorted((i["value_date"] for i in items), reverse=True)
    # one entry a page: the same lines, in the same order
    seen, cursor = [], None
    while True:
        page = client.get(f"{API}/accounts/{a1}/transactions", params={"limit": 1, **(
            {"cursor": cursor} if cursor else {})}, headers=h).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [i["entry_id"] for i in seen] == [i["entry_id"] for i in items]
    # a cursor of another account's entry is refused
    other = client.get(f"{API}/accounts/{a1}/transactions", params={"limit": 1}, headers=h).json()["next_cursor"]
    assert other is not None
    b_entry = int(_ledger_scalar(engine, "SELECT max(id) FROM entries WHERE account_id = :a", a=b1))
    from smartbank.statements.service import encode_cursor

    assert_error(client.get(f"{API}/accounts/{a1}/transactions", params={"cursor": encode_cursor(b_entry)},
                            headers=h), 422, "validation_error")
    last = _pdf_text(client, a1, LAST, h)
    assert _amount("Opening", last) == "0.00" and _amount("Closing", last) == "1,200.00"
    assert _amount("Opening", _pdf_text(client, a1, THIS, h)) == "1,200.00"
    # on paper, oldest first: each line's amount, then the balance after it
    lines = re.findall(r"^-?[\d,]+\.\d\d$", last.split("Balance", 1)[1], flags=re.M)
    assert lines == ["500.00", "500.00", "1,000.00", "1,500.00", "-300.00", "1,200.00"]


def _ledger_scalar(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar()
