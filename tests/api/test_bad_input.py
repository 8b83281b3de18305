"""Bad input is refused with the documented error body, writes nothing, and never causes a 500."""

from __future__ import annotations

import json
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartbank import clock, db
from smartbank.customers.validation import make_resident_id
from smartbank.ledger import service as ledger
from smartbank.security import service as security
from tests.api.support import API, add_biller, assert_error, issue_bill, number, state
from tests.conftest import login


def _setup(client, bank, engine):
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=100_000)
    usd = bank.account(alice, currency="USD", balance=5_000)
    frozen = bank.account(alice, balance=10_000)
    b1 = bank.account(bob, balance=1_000)
    bank.user("alice", customer_id=alice)
    bank.user("bob", customer_id=bob)
    bank.user("teller1", role="teller")
    with db.session_scope(engine) as s:
        ledger.set_account_status(s, ledger.get_account(s, frozen), "frozen")
    add_biller(engine, "CMCC", category="mobile", requires_bill=False)
    add_biller(engine, "BJPOWER")
    bill = issue_bill(engine, "BJPOWER", "0099", 2_000)
    return {"a1": a1, "usd": usd, "frozen": frozen, "b1": b1, "nb1": number(engine, b1), "bill": bill,
            "ha": login(client, "alice"), "hb": login(client, "bob"), "ht": login(client, "teller1")}


def _bodies(w, amount):
    """Every endpoint that takes an amount, with an otherwise valid body."""
    start = str(clock.today() + timedelta(days=2))
    return [
        ("ha", f"{API}/transfers", {"from_account_id": w["a1"], "to_account_number": w["nb1"], "amount_minor": amount,
                                    "idempotency_key": "amt0"}),
        ("ha", f"{API}/top-ups", {"from_account_id": w["a1"], "biller_code": "CMCC", "phone": "13912345678",
                                  "amount_minor": amount, "idempotency_key": "amt1"}),
        ("ha", f"{API}/scheduled-transfers", {"from_account_id": w["a1"], "to_account_number": w["nb1"],
                                              "amount_minor": amount, "frequency": "once", "start_date": start}),
        ("ht", f"{API}/cash/deposits", {"account_id": w["a1"], "amount_minor": amount, "idempotency_key": "amt2"}),
        ("ht", f"{API}/cash/withdrawals", {"account_id": w["a1"], "amount_minor": amount, "idempotency_key": "amt3"}),
        ("ht", f"{API}/holds", {"from_account_id": w["a1"], "to_account_id": w["b1"], "amount_minor": amount,
                                "idempotency_key": "amt4"}),
    ]


BAD_AMOUNTS = [0, -1, -10**6, 10**15 + 1, 10**16, 10**30, 1e16, 1.5, 100.0, 0.01, "100", "1e3", "abc", "", True,
               False, None, [], {}, [100], {"minor": 100}]


def test_bad_amounts_are_refused_and_write_nothing(client, bank, engine):
    w = _setup(client, bank, engine)
    for amount in BAD_AMOUNTS:
        for who, url, body in _bodies(w, amount):
            before = state(engine)
            r = client.post(url, json=body, headers=w[who])
            err = assert_error(r, 422, "validation_error")
            locs = [e["loc"] for e in err["details"]["errors"]]
            assert ["body", "amount_minor"] in locs, (url, amount, locs)
            assert state(engine) == before, (url, amount)
    # the same bodies with a good amount go through: the refusals above were about the amount
    for who, url, body in _bodies(w, 50_00):
        assert client.post(url, json=body, headers=w[who]).status_code == 201, url
    bank.assert_invariants()


def test_missing_amount_and_missing_body(client, bank, engine):
    w = _setup(client, bank, engine)
    before = state(engine)
    r = client.post(f"{API}/transfers", json={"from_account_id": w["a1"], "to_account_number": w["nb1"],
                                              "idempotency_key": "k"}, headers=w["ha"])
    err = assert_error(r, 422, "validation_error")
    assert {"loc": ["body", "amount_minor"], "msg": "Field required", "type": "missing"} in err["details"]["errors"]
    assert_error(client.post(f"{API}/transfers", headers=w["ha"]), 422, "validation_error")
    assert_error(client.post(f"{API}/transfers", json=[1, 2], headers=w["ha"]), 422, "validation_error")
    assert_error(client.post(f"{API}/transfers", json="x", headers=w["ha"]), 422, "validation_error")
    assert state(engine) == before


def test_malformed_json_is_400(client, bank, engine):
    w = _setup(client, bank, engine)
    before = state(engine)
    for url, headers in ((f"{API}/transfers", w["ha"]), (f"{API}/auth/login", {}), (f"{API}/auth/signup", {}),
                         (f"{API}/payees", w["ha"]), (f"{API}/cash/deposits", w["ht"])):
        for raw in ('{"from_account_id": 1,', "{'single': 'quotes'}", '{"a": 1} trailing', "{", "\x00"):
            r = client.post(url, content=raw.encode(), headers={**headers, "Content-Type": "application/json"})
            body = assert_error(r, 400, "malformed_json")
            assert body["details"] == {}
    assert state(engine) == before


def test_unknown_fields_are_422(client, bank, engine):
    w = _setup(client, bank, engine)
    before = state(engine)
    cases = [
        ("ha", f"{API}/transfers", {"from_account_id": w["a1"], "to_account_number": w["nb1"], "amount_minor": 100,
                                    "idempotency_key": "u1", "fee_minor": 0}),
        # a client trying to pick the debit side by the ledger's own name for it
        ("ha", f"{API}/transfers", {"from_account_id": w["a1"], "to_account_number": w["nb1"], "amount_minor": 100,
                                    "idempotency_key": "u2", "debit_account_id": w["b1"]}),
        ("ha", f"{API}/payees", {"name": "x", "account_number": w["nb1"], "customer_id": 1}),
        ("ht", f"{API}/cash/deposits", {"account_id": w["a1"], "amount_minor": 1, "idempotency_key": "u3",
                                        "approved": True}),
        ("ha", f"{API}/bill-payments", {"from_account_id": w["a1"], "bill_id": w["bill"], "idempotency_key": "u4",
                                        "amount_minor": 1}),
    ]
    for who, url, body in cases:
        err = assert_error(client.post(url, json=body, headers=w[who]), 422, "validation_error")
        assert any(e["type"] == "extra_forbidden" for e in err["details"]["errors"]), err
    r = client.post(f"{API}/auth/login", json={"username": "alice", "password": "passw0rd!", "role": "admin"})
    assert_error(r, 422, "validation_error")
    assert state(engine) == before


def test_currency_account_number_frozen_and_foreign_accounts(client, bank, engine):
    w = _setup(client, bank, engine)

    def tr(key, **kw):
        body = {"from_account_id": w["a1"], "to_account_number": w["nb1"], "amount_minor": 100, "currency": "CNY",
                "idempotency_key": key, **kw}
        return client.post(f"{API}/transfers", json=body, headers=w["ha"])

    before = state(engine)
    assert_error(tr("c1", currency="USD"), 422, "currency_mismatch")  # a known currency, not the accounts'
    assert_error(tr("c2", from_account_id=w["usd"]), 422, "currency_mismatch")  # USD account, CNY transfer
    body = assert_error(tr("c3", currency="XYZ"), 422, "validation_error")
    assert "XYZ" in body["message"]
    assert_error(tr("c4", currency="CN"), 422, "validation_error")
    assert_error(tr("c5", currency="CNYY"), 422, "validation_error")
    assert_error(tr("c6", currency=""), 422, "validation_error")
    assert_error(tr("c7", currency=None), 422, "validation_error")
    unknown = ledger.new_account_number(rand=424242)  # valid check digit, no such account
    assert_error(tr("n1", to_account_number=unknown), 404, "not_found")
    assert_error(tr("n2", to_account_number="abcdefgh"), 404, "not_found")
    assert_error(tr("n3", to_account_number="12345"), 422, "validation_error")  # shorter than any number
    assert_error(tr("n4", to_account_number=number(engine, w["a1"])), 422, "validation_error")  # to itself
    settlement = number(engine, _settlement(engine))
    assert_error(tr("n5", to_account_number=settlement), 404, "not_found")  # the bank's own books
    body = assert_error(tr("f1", from_account_id=w["frozen"]), 422, "account_not_open")
    assert "frozen" in body["message"]
    assert_error(tr("o1", from_account_id=w["b1"]), 404, "not_found")  # bob's account
    assert_error(tr("o2", from_account_id=10**9), 404, "not_found")
    assert_error(tr("o3", from_account_id=0), 422, "validation_error")
    assert_error(tr("o4", from_account_id=2**63), 422, "validation_error")
    assert_error(tr("o5", from_account_id=str(w["a1"])), 422, "validation_error")
    assert_error(tr("big", amount_minor=100_001), 422, "insufficient_funds")
    assert state(engine) == before
    # lower-case currency codes are accepted and normalised
    assert tr("ok", currency="cny").json()["currency"] == "CNY"


def _settlement(engine):
    with db.session_scope(engine) as s:
        return ledger.internal_account(s, "settlement", "CNY").id


def test_idempotency_key_is_required_and_must_agree(client, bank, engine):
    w = _setup(client, bank, engine)
    base = {"from_account_id": w["a1"], "to_account_number": w["nb1"], "amount_minor": 100}
    before = state(engine)
    body = assert_error(client.post(f"{API}/transfers", json=base, headers=w["ha"]), 422, "validation_error")
    assert "idempotency" in body["message"].lower()
    assert_error(client.post(f"{API}/transfers", json={**base, "idempotency_key": ""}, headers=w["ha"]), 422)
    assert_error(client.post(f"{API}/transfers", json={**base, "idempotency_key": "k" * 129}, headers=w["ha"]), 422)
    r = client.post(f"{API}/transfers", json={**base, "idempotency_key": "a"},
                    headers={**w["ha"], "Idempotency-Key": "b"})
    assert_error(r, 422, "validation_error")
    for url, body in ((f"{API}/bill-payments", {"from_account_id": w["a1"], "bill_id": w["bill"]}),
                      (f"{API}/top-ups", {"from_account_id": w["a1"], "biller_code": "CMCC", "phone": "13912345678",
                                          "amount_minor": 10_00})):
        assert_error(client.post(url, json=body, headers=w["ha"]), 422, "validation_error")
    assert_error(client.post(f"{API}/cash/deposits", json={"account_id": w["a1"], "amount_minor": 1},
                             headers=w["ht"]), 422, "validation_error")
    assert state(engine) == before
    # the header alone is enough, and a replay through the header returns the same transfer
    r1 = client.post(f"{API}/transfers", json=base, headers={**w["ha"], "Idempotency-Key": "hdr"})
    r2 = client.post(f"{API}/transfers", json=base, headers={**w["ha"], "Idempotency-Key": "hdr"})
    assert (r1.status_code, r2.status_code) == (201, 200) and r1.json()["id"] == r2.json()["id"]


def test_tokens(client, bank, engine):
    w = _setup(client, bank, engine)
    url = f"{API}/accounts/{w['a1']}"
    assert client.get(url, headers=w["ha"]).status_code == 200
    assert_error(client.get(url), 401, "not_authenticated")
    assert_error(client.get(url, headers={"Authorization": "Bearer "}), 401, "not_authenticated")
    assert_error(client.get(url, headers={"Authorization": "Bearer not-a-token"}), 401, "not_authenticated")
    assert_error(client.get(url, headers={"Authorization": "Basic YWxpY2U6cGFzc3cwcmQh"}), 401, "not_authenticated")
    token = w["ha"]["Authorization"].split(" ", 1)[1]
    with db.session_scope(engine) as s:
        security.expire_token_now(s, token)
    before = state(engine)
    assert_error(client.get(url, headers=w["ha"]), 401, "session_expired")
    body = {"from_account_id": w["a1"], "to_account_number": w["nb1"], "amount_minor": 100, "idempotency_key": "e"}
    assert_error(client.post(f"{API}/transfers", json=body, headers=w["ha"]), 401, "session_expired")
    assert_error(client.get(f"{API}/auth/me", headers=w["ha"]), 401, "session_expired")
    assert state(engine) == before
    # bob's token is untouched by alice's expiry
    assert client.get(f"{API}/auth/me", headers=w["hb"]).json()["username"] == "bob"


def test_unknown_routes_and_methods_use_the_error_body(client, bank, engine):
    w = _setup(client, bank, engine)
    assert_error(client.get(f"{API}/no-such-thing", headers=w["ha"]), 404, "not_found")
    assert_error(client.delete(f"{API}/transfers", headers=w["ha"]), 405, "method_not_allowed")
    assert_error(client.get(f"{API}/accounts/abc", headers=w["ha"]), 422, "validation_error")
    assert_error(client.get(f"{API}/accounts/{w['a1']}/statements/2026/13", headers=w["ha"]), 422)
    assert_error(client.get(f"{API}/accounts/{w['a1']}/statements/1999/1", headers=w["ha"]), 422)
    assert_error(client.get(f"{API}/accounts/{w['a1']}/transactions?limit=0", headers=w["ha"]), 422)
    assert_error(client.get(f"{API}/accounts/{w['a1']}/transactions?date_from=2026-02-30", headers=w["ha"]), 422)
    assert_error(client.get(f"{API}/accounts/{w['a1']}/transactions?date_from=2026-02-01&date_to=2026-01-01",
                            headers=w["ha"]), 422)
    assert_error(client.get(f"{API}/accounts/{w['a1']}/transactions?min_amount_minor=5&max_amount_minor=4",
                            headers=w["ha"]), 422)
    assert_error(client.get(f"{API}/billers?category=casino", headers=w["ha"]), 422)
    assert_error(client.get(f"{API}/billers/NOPE/bills?reference=1", headers=w["ha"]), 404, "not_found")
    assert_error(client.get(f"{API}/billers/BJPOWER/bills", headers=w["ha"]), 422)


def test_nul_characters_are_422_not_500(client, bank, engine):
    """PostgreSQL text cannot hold NUL; the API refuses it before the database sees it."""
    w = _setup(client, bank, engine)
    h = {**w["ha"], "Content-Type": "application/json"}
    before = state(engine)
    base = {"from_account_id": w["a1"], "to_account_number": w["nb1"], "amount_minor": 1, "idempotency_key": "z"}
    for body in ({**base, "memo": "a\x00b"}, {**base, "idempotency_key": "k\x00"},
                 {**base, "to_account_number": w["nb1"] + "\x00"}):
        assert_error(client.post(f"{API}/transfers", content=json.dumps(body), headers=h), 422, "validation_error")
    assert_error(client.post(f"{API}/payees", content=json.dumps({"name": "x\x00", "account_number": w["nb1"]}),
                             headers=h), 422, "validation_error")
    assert_error(client.post(f"{API}/auth/login", content=json.dumps({"username": "a\x00", "password": "x"}),
                             headers={"Content-Type": "application/json"}), 422, "validation_error")
    history = f"{API}/accounts/{w['a1']}/transactions"
    for url in (f"{history}?q=%00", f"{history}?counterparty=a%00", f"{API}/billers/%00/bills?reference=1",
                f"{API}/billers/CMCC/bills?reference=%00"):
        assert_error(client.get(url, headers=w["ha"]), 422, "validation_error")
    assert state(engine) == before


# --------------------------------------------------------------------------------------------
# fuzz: whatever JSON arrives, the answer is never a 500. Bodies start valid and hypothesis
# replaces some fields, so odd values get past validation and reach the services and the database.

json_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=3)
                           | st.dictionaries(st.text(max_size=10), kids, max_size=3), max_leaves=8)
nasty = st.sampled_from([
    "a\x00b", "\x00", "CNY", "cny", "USD", "XYZ", "CMCC", "BJPOWER", "13912345678", "+86 139 1234 5678",
    "01012345678", "once", "daily",
    "2026-13-01", "2020-01-01", "9999-12-31", "\ud800", "=1+1", "' OR 1=1 --", "%", "_",
    "621700000000000000", "110101198503070011", "<b>", "&", "\u202e", "x" * 300])
texty = st.text(max_size=40) | nasty
small_ints = st.integers(min_value=-3, max_value=12) | st.sampled_from([0, 1, 10_00, 50_00, 10**15, 10**15 + 1,
                                                                        2**31, 2**63 - 1, 2**63, -(2**63)])
# weighted towards the strings and numbers that have broken things before
field_values = st.one_of(nasty, nasty, nasty, st.text(max_size=40), small_ints, small_ints, json_scalars, json_values)


def _valid_bodies(ctx) -> dict[str, dict]:
    start = str(clock.today() + timedelta(days=1))
    return {
        "/transfers": {"from_account_id": ctx["a1"], "to_account_number": ctx["nb"], "amount_minor": 1,
                       "currency": "CNY", "memo": "m", "idempotency_key": "k"},
        "/payees": {"name": "n", "account_number": ctx["nb"], "nickname": "x"},
        "/scheduled-transfers": {"from_account_id": ctx["a1"], "to_account_number": ctx["nb"], "amount_minor": 1,
                                 "currency": "CNY", "frequency": "daily", "start_date": start, "end_date": None,
                                 "memo": "m"},
        "/bill-payments": {"from_account_id": ctx["a1"], "bill_id": ctx["bill"], "idempotency_key": "k"},
        "/top-ups": {"from_account_id": ctx["a1"], "biller_code": "CMCC", "phone": "13912345678",
                     "amount_minor": 10_00, "idempotency_key": "k"},
        "/auth/login": {"username": "fuzzer", "password": "wrong-passw0rd"},
        "/auth/signup": {"name": "李四", "id_number": make_resident_id("110101", date(1990, 1, 2), 7),
                         "phone": "13900000001",
                         "email": "a@b.cn", "username": "newbie", "password": "jade-harbour-71"},
    }


def _fuzzer(client, bank, engine) -> dict:
    """A signed-in customer with money, a counterparty and a bill; made once per test (the
    fixtures outlive hypothesis' examples)."""
    if not hasattr(bank, "fuzz"):
        c, other = bank.customer(), bank.customer()
        a1 = bank.account(c, balance=10**9)
        nb = number(engine, bank.account(other))
        bank.user("fuzzer", customer_id=c)
        add_biller(engine, "CMCC", category="mobile", requires_bill=False)
        add_biller(engine, "BJPOWER")
        bill = issue_bill(engine, "BJPOWER", "0001", 100)
        bank.fuzz = {"a1": a1, "nb": nb, "bill": bill, "headers": login(client, "fuzzer")}
    return bank.fuzz


def _check(r):
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert_error(r, r.status_code)


def _post_json(client, path, body, headers):
    # json.dumps escapes non-ASCII, so lone surrogates ("\ud800") reach the server as JSON escapes
    return client.post(f"{API}{path}", content=json.dumps(body).encode(),
                       headers={**headers, "Content-Type": "application/json"})


FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_bodies_never_500(client, bank, engine, data):
    ctx = _fuzzer(client, bank, engine)
    path = data.draw(st.sampled_from(sorted(_valid_bodies(ctx))))
    body = dict(_valid_bodies(ctx)[path])
    if "idempotency_key" in body:  # a fresh key, so a valid body posts instead of replaying
        ctx["n"] = ctx.get("n", 0) + 1
        body["idempotency_key"] = f"k{ctx['n']}"
    # mostly one or two replaced fields (hypothesis favours small draws: those keep the body deep-reaching)
    for key in data.draw(st.lists(st.sampled_from(sorted(body)), min_size=1, max_size=2, unique=True)):
        if data.draw(st.integers(0, 9)) == 9:
            del body[key]
        else:
            body[key] = data.draw(field_values)
    if data.draw(st.integers(0, 19)) == 19:
        body[data.draw(st.text(max_size=8))] = data.draw(json_scalars)
    _check(_post_json(client, path, body, ctx["headers"]))


@FUZZ
@given(body=json_values, path=st.sampled_from(["/transfers", "/payees", "/scheduled-transfers", "/bill-payments",
                                               "/top-ups", "/auth/login", "/auth/signup", "/cash/deposits",
                                               "/holds"]),
       raw=st.binary(max_size=30), use_raw=st.booleans())
def test_fuzz_any_body_never_500(client, bank, engine, body, path, raw, use_raw):
    headers = _fuzzer(client, bank, engine)["headers"]
    content = raw if use_raw else json.dumps(body).encode()
    _check(client.post(f"{API}{path}", content=content, headers={**headers, "Content-Type": "application/json"}))


def _url_safe(t: str) -> bool:  # lone surrogates cannot be put in a URL at all
    return not any(0xD800 <= ord(ch) <= 0xDFFF for ch in t)


@FUZZ
@given(account=st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str),
                         st.text(max_size=12).filter(_url_safe)),
       query=st.dictionaries(st.sampled_from(["date_from", "date_to", "kind", "min_amount_minor", "max_amount_minor",
                                              "counterparty", "q", "cursor", "limit"]),
                             texty.filter(_url_safe) | st.integers(min_value=-(2**70), max_value=2**70).map(str),
                             max_size=4),
       own=st.booleans())
def test_fuzz_history_query_never_500(client, bank, engine, account, query, own):
    from urllib.parse import quote

    ctx = _fuzzer(client, bank, engine)
    account = str(ctx["a1"]) if own else quote(account, safe="")
    for suffix in ("/transactions", "/transactions.csv"):
        r = client.get(f"{API}/accounts/{account}{suffix}", params=query, headers=ctx["headers"])
        _check(r)
