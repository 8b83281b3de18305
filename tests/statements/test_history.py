"""Account history through the API: filters, cursor pagination, CSV export."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import timedelta

from smartbank import clock, db
from smartbank.ledger import service as ledger
from tests.api.support import API, add_biller, assert_error, number
from tests.conftest import TEST_NOW, login

D0 = clock.local_date(TEST_NOW) - timedelta(days=40)  # the suite's clock, not the day the module is imported


def _world(client, bank, engine):
    """alice's account a1 with a known history, spread over several value dates.

    Returns the account ids and the expected (value_date, amount, kind, memo, counterparty id) rows.
    """
    alice, bob, carol = bank.customer("王芳"), bank.customer("李娜"), bank.customer("陈静")
    bank.funding_date = D0  # bob and carol had their money before they paid alice
    a1 = bank.account(alice)
    b1, c1 = bank.account(bob, balance=10**8), bank.account(carol, balance=10**8)
    bank.user("alice", customer_id=alice)
    power = add_biller(engine, "BJPOWER")
    with db.session_scope(engine) as s:
        settle = ledger.internal_account(s, "settlement", "CNY").id
        from smartbank.payments.models import Biller

        power_acct = s.get(Biller, power).settlement_account_id
    rows = [  # (day offset, debit, credit, amount, kind, memo)
        (0, settle, a1, 500_000, "deposit", "opening deposit"),
        (1, b1, a1, 12_345, "transfer", "dinner split"),
        (2, a1, c1, 2_000, "transfer", "=HYPERLINK(\"http://evil\")"),
        (3, a1, power_acct, 8_800, "bill_payment", "BJPOWER Co 2026-01"),
        (5, c1, a1, 99, "transfer", "+refund"),
        (8, a1, b1, 150_000, "transfer", "-rent March"),
        (8, b1, a1, 1_000, "transfer", "@gift"),
        (13, a1, c1, 7_700, "transfer", "\tbook club"),
        (21, settle, a1, 30_000, "salary", "salary"),
        (34, a1, b1, 4_321, "transfer", "taxi"),
    ]
    with db.session_scope(engine) as s:
        for i, (off, d, c, amt, kind, memo) in enumerate(rows):
            ledger.transfer(s, ledger.TransferCommand(
                key=f"h{i}", debit_account_id=d, credit_account_id=c, amount_minor=amt, currency="CNY", kind=kind,
                memo=memo, value_date=D0 + timedelta(days=off), reference=f"ref-{i}"))
    expected = []
    for off, d, c, amt, kind, memo in rows:
        sign = 1 if c == a1 else -1
        expected.append({"value_date": str(D0 + timedelta(days=off)), "amount_minor": sign * amt, "kind": kind,
                         "memo": memo, "cp": d if c == a1 else c})
    expected.reverse()  # newest first, as the API answers
    return {"a1": a1, "b1": b1, "c1": c1, "power": power_acct, "settle": settle, "h": login(client, "alice"),
            "expected": expected}


def _get(client, w, **params):
    r = client.get(f"{API}/accounts/{w['a1']}/transactions", params=params, headers=w["h"])
    assert r.status_code == 200, r.text
    return r.json()


def _all(client, w, cursor=None, **params) -> list[dict]:
    items, pages = [], 0
    while True:
        page = _get(client, w, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            return items
        assert pages < 100


def _shape(items):
    return [(i["value_date"], i["amount_minor"], i["kind"], i["memo"]) for i in items]


def _exp(w, pred=lambda e: True):
    return [(e["value_date"], e["amount_minor"], e["kind"], e["memo"]) for e in w["expected"] if pred(e)]


def test_history_is_complete_newest_first_with_running_balances(client, bank, engine):
    w = _world(client, bank, engine)
    items = _get(client, w)["items"]
    assert _shape(items) == _exp(w)
    # balance_after walks back from the current balance
    bal = bank.balance(w["a1"])
    for it in items:
        assert it["balance_after_minor"] == bal
        bal -= it["amount_minor"]
    assert bal == 0
    assert {i["direction"] for i in items if i["amount_minor"] > 0} == {"in"}
    assert items[0]["counterparty_account"] == number(engine, w["b1"])


def test_filters(client, bank, engine):
    w = _world(client, bank, engine)
    day = lambda n: str(D0 + timedelta(days=n))  # noqa: E731
    assert _shape(_get(client, w, date_from=day(5), date_to=day(13))["items"]) == _exp(
        w, lambda e: day(5) <= e["value_date"] <= day(13))
    assert _shape(_get(client, w, date_from=day(8), date_to=day(8))["items"]) == _exp(
        w, lambda e: e["value_date"] == day(8))
    assert _shape(_get(client, w, date_to=day(0))["items"]) == _exp(w, lambda e: e["value_date"] == day(0))
    assert _shape(_get(client, w, kind="in")["items"]) == _exp(w, lambda e: e["amount_minor"] > 0)
    assert _shape(_get(client, w, kind="out")["items"]) == _exp(w, lambda e: e["amount_minor"] < 0)
    assert _shape(_get(client, w, kind="bill_payment")["items"]) == _exp(w, lambda e: e["kind"] == "bill_payment")
    assert _shape(_get(client, w, kind="salary")["items"]) == _exp(w, lambda e: e["kind"] == "salary")
    # an unknown kind is refused (422), for the page and for the CSV export, instead of answering nothing
    for suffix in ("transactions", "transactions.csv"):
        for bad in ("no_such_kind", "foo", "IN", "transfer "):
            r = client.get(f"{API}/accounts/{w['a1']}/{suffix}", params={"kind": bad}, headers=w["h"])
            body = assert_error(r, 422, "validation_error")
            assert "in" in body["details"]["allowed"] and "bill_payment" in body["details"]["allowed"]
    # amounts are compared without sign, bounds included
    assert _shape(_get(client, w, min_amount_minor=2_000, max_amount_minor=12_345)["items"]) == _exp(
        w, lambda e: 2_000 <= abs(e["amount_minor"]) <= 12_345)
    assert _shape(_get(client, w, min_amount_minor=100_000)["items"]) == _exp(
        w, lambda e: abs(e["amount_minor"]) >= 100_000)
    # counterparty by account number (spaces allowed) or by account name
    nb = number(engine, w["b1"])
    spaced = f"{nb[:4]} {nb[4:8]} {nb[8:]}"
    assert _shape(_get(client, w, counterparty=spaced)["items"]) == _exp(w, lambda e: e["cp"] == w["b1"])
    assert _shape(_get(client, w, counterparty="BJPOWER")["items"]) == _exp(w, lambda e: e["cp"] == w["power"])
    # ... or by the holder's name: customers' accounts are named after the customer
    by_name = _get(client, w, counterparty="李娜")["items"]
    assert _shape(by_name) == _exp(w, lambda e: e["cp"] == w["b1"])
    assert {i["counterparty_name"] for i in by_name} == {"李娜"}
    assert _shape(_get(client, w, q="陈静")["items"]) == _exp(w, lambda e: e["cp"] == w["c1"])
    # free text over memo and reference
    assert _shape(_get(client, w, q="rent")["items"]) == _exp(w, lambda e: "rent" in e["memo"])
    assert _shape(_get(client, w, q="ref-3")["items"]) == _exp(w, lambda e: e["memo"].startswith("BJPOWER"))
    assert _get(client, w, q="nothing like this")["items"] == []
    # filters combine
    assert _shape(_get(client, w, kind="out", date_from=day(3), max_amount_minor=8_000)["items"]) == _exp(
        w, lambda e: e["amount_minor"] < 0 and e["value_date"] >= day(3) and abs(e["amount_minor"]) <= 8_000)


def test_cursor_pagination_walks_every_entry_once(client, bank, engine):
    w = _world(client, bank, engine)
    full = _get(client, w, limit=500)["items"]
    for limit in (1, 2, 3, 4, 9, 10, 11):
        pages = _all(client, w, limit=limit)
        assert [i["entry_id"] for i in pages] == [i["entry_id"] for i in full], limit
    # the last page has no cursor, an exact fit included
    assert _get(client, w, limit=10)["next_cursor"] is None
    assert _get(client, w, limit=9)["next_cursor"] is not None
    # pagination under a filter
    outs = _all(client, w, kind="out", limit=2)
    assert _shape(outs) == _exp(w, lambda e: e["amount_minor"] < 0)
    # entries posted while paging do not shift the pages already being read
    first = _get(client, w, limit=4)
    with db.session_scope(engine) as s:
        ledger.transfer(s, ledger.TransferCommand(key="late", debit_account_id=w["settle"], credit_account_id=w["a1"],
                                                  amount_minor=1, currency="CNY", kind="deposit"))
    rest = _all(client, w, limit=4, cursor=first["next_cursor"])
    assert [i["entry_id"] for i in first["items"] + rest] == [i["entry_id"] for i in full]


def test_invalid_cursors_are_422(client, bank, engine):
    w = _world(client, bank, engine)

    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    for cursor in ("garbage!", "e30", enc([1]), enc({"x": 1}), enc({"e": "abc"}), enc({"e": 10**30}),
                   enc({"e": -5}), enc({"e": 1.5}), enc({"e": True}), "%%%", base64.b64encode(b"\xff\xfe").decode()):
        r = client.get(f"{API}/accounts/{w['a1']}/transactions", params={"cursor": cursor}, headers=w["h"])
        body = assert_error(r, 422, "validation_error")
        assert body["message"] == "invalid cursor", cursor
    assert_error(client.get(f"{API}/accounts/{w['a1']}/transactions", params={"cursor": "x" * 201}, headers=w["h"]),
                 422)


def test_csv_export(client, bank, engine):
    w = _world(client, bank, engine)
    r = client.get(f"{API}/accounts/{w['a1']}/transactions.csv", headers=w["h"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert f'filename="transactions-{w["a1"]}.csv"' in r.headers["content-disposition"]
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")  # so that Excel reads the UTF-8
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["value_date", "created_at", "transfer_id", "kind", "direction", "amount", "currency",
                       "balance_after", "counterparty_account", "counterparty_name", "memo", "reference"]
    body = rows[1:]
    assert len(body) == len(w["expected"])
    cols = rows[0]
    got = [dict(zip(cols, row, strict=True)) for row in body]
    assert [g["value_date"] for g in got] == [e["value_date"] for e in w["expected"]]
    assert [g["amount"] for g in got] == [f"{e['amount_minor'] / 100:.2f}" for e in w["expected"]]
    assert got[-1]["balance_after"] == "5000.00" and got[-1]["direction"] == "in"
    # every text a customer (or a counterparty) chose is neutralised against formula injection
    memos = [g["memo"] for g in got]
    for raw in ("=HYPERLINK(\"http://evil\")", "+refund", "-rent March", "@gift", "\tbook club"):
        assert "'" + raw in memos, raw
    assert all(not m or m[0] not in "=+-@\t\r" for m in memos)
    assert "dinner split" in memos  # untouched when harmless
    # the export honours the filters
    r = client.get(f"{API}/accounts/{w['a1']}/transactions.csv", params={"kind": "in"}, headers=w["h"])
    assert len(list(csv.reader(io.StringIO(r.content.decode()[1:])))) - 1 == sum(
        1 for e in w["expected"] if e["amount_minor"] > 0)


def test_csv_neutralises_a_hostile_counterparty_name(client, bank, engine):
    """Account names are shown as the counterparty: one that starts a formula is neutralised too."""
    w = _world(client, bank, engine)
    from smartbank.payments import service as payments

    with db.session_scope(engine) as s:
        b = payments.add_biller(s, code="EVIL", name_zh="x", name_en="=cmd|' /C calc'!A0", category="water")
        ledger.transfer(s, ledger.TransferCommand(key="evil", debit_account_id=w["a1"],
                                                  credit_account_id=b.settlement_account_id, amount_minor=1,
                                                  currency="CNY", kind="bill_payment", memo="water"))
    r = client.get(f"{API}/accounts/{w['a1']}/transactions.csv", headers=w["h"])
    names = [row[9] for row in csv.reader(io.StringIO(r.content.decode()[1:]))][1:]
    assert "'=cmd|' /C calc'!A0 settlement" in names
    assert all(not n or n[0] not in "=+-@\t\r" for n in names)
