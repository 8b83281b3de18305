"""Object-level and role authorisation for every endpoint that names an object.

A customer never reads or moves another customer's money or data: the object is reported as not
found (404, so its existence is not revealed) and nothing is written. Staff-only endpoints answer
403 to customers and to staff whose role may not do the operation.

``test_every_id_taking_route_is_covered`` enumerates the published routes, so a new route that
takes an id (path parameter, ``*_id`` query parameter or ``*_id`` body field) fails the suite
until a case for it is added to ``CASES`` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from smartbank import clock, db
from smartbank.api.app import create_app
from smartbank.backoffice import service as backoffice
from smartbank.ledger import service as ledger
from smartbank.payments import service as payments
from smartbank.security.service import SYSTEM, Principal
from tests.api.support import API, add_biller, assert_error, issue_bill, number, state
from tests.conftest import login


@dataclass
class World:
    alice: int
    bob: int
    a1: int  # alice, funded
    a3: int  # alice, empty (closable)
    b1: int  # bob
    settlement: int
    payee: int  # alice's payee
    scheduled: int  # alice's scheduled transfer
    transfer: int  # alice -> bob, posted
    deposit: int  # settlement -> alice
    hold: int  # alice -> bob, pending
    bill: int
    h: dict[str, dict[str, str]]
    nb1: str  # bob's account number
    alert: int = 0  # a risk alert (a blocked payment of alice)
    limit: int = 0
    risk: int = 0  # a risk register entry
    warning: int = 0
    notification: int = 0  # alice's
    reversal: int = 0  # a reversal request (by risk1) waiting for a second officer
    change: int = 0  # a change request (alice's daily limit, by risk1) waiting for a second staff member
    teller: int = 0  # teller1's user id


def _world(client, bank, engine) -> World:
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=100_000)
    a3 = bank.account(alice)
    b1 = bank.account(bob, balance=50_000)
    uid = bank.user("alice", customer_id=alice)
    bank.user("bob", customer_id=bob)
    for name, role in (("teller1", "teller"), ("mark1", "marketer"), ("risk1", "risk_officer"),
                       ("admin1", "admin")):
        bank.user(name, role=role)
    add_biller(engine, "BJPOWER")
    add_biller(engine, "CMCC", category="mobile", requires_bill=False)
    bill = issue_bill(engine, "BJPOWER", "0012345678", 12_345)
    me = Principal(user_id=uid, username="alice", role="customer", customer_id=alice)
    nb1 = number(engine, b1)
    with db.session_scope(engine) as s:
        payee = payments.add_payee(s, me, alice, name="李娜", account_number=nb1).id
        sched = payments.schedule_transfer(
            s, me, from_account_id=a1, to_account_number=nb1, amount_minor=1_000, currency="CNY",
            frequency="monthly", start_date=clock.today() + timedelta(days=3)).id
        transfer = payments.pay(s, me, payments.PaymentRequest(
            from_account_id=a1, to_account_number=nb1, amount_minor=500, currency="CNY",
            idempotency_key="setup-pay")).id
        hold = backoffice.hold(s, SYSTEM, from_account_id=a1, to_account_id=b1, amount_minor=1_000,
                               currency="CNY", key="setup-hold").id
        settlement = ledger.internal_account(s, "settlement", "CNY").id
    deposit = int(_scalar(engine, "SELECT id FROM transfers WHERE credit_account_id = :a AND kind = 'deposit'", a=a1))
    h = {u: login(client, u) for u in ("alice", "bob", "teller1", "mark1", "risk1", "admin1")}
    w = World(alice, bob, a1, a3, b1, settlement, payee, sched, transfer, deposit, hold, bill, h, nb1)
    risk1 = int(_scalar(engine, "SELECT id FROM users WHERE username = 'risk1'"))
    with db.session_scope(engine) as s:
        fees = ledger.internal_account(s, "fees", "CNY").id  # a transfer between the bank's own accounts
        credit = ledger.transfer(s, ledger.TransferCommand(key="setup-credit", debit_account_id=settlement,
                                                           credit_account_id=fees, amount_minor=100, currency="CNY",
                                                           kind="fee")).id
        officer = Principal(user_id=risk1, username="risk1", role="risk_officer", customer_id=None)
        w.reversal = backoffice.request_reversal(s, officer, transfer_id=credit, key="setup-reversal",
                                               memo="paid twice")[0].id
        w.change = backoffice.propose_change(s, officer, kind="customer.daily_limit", target=alice,
                                             payload={"daily_limit_minor": 20_000_00}).id
    w.teller = int(_scalar(engine, "SELECT id FROM users WHERE username = 'teller1'"))
    _risk_world(engine, w)
    return w


def _risk_world(engine, w: World) -> None:

    from smartbank.notifications import service as notifications
    from smartbank.risk import cases, limits, register, rules
    from smartbank.risk.models import RiskDecision, RiskLimit, RiskRegisterEntry, RiskWarning

    with db.session_scope(engine) as s:
        rules.seed_defaults(s)
        limits.seed_defaults(s)
        register.seed_defaults(s)
        d = RiskDecision(customer_id=w.alice, account_id=w.a1, counterparty_account_id=w.b1, channel="api",
                         kind="transfer", product="demand", amount_minor=9_000_000, currency="CNY", decision="block",
                         model_version="rules-only", created_at=clock.now())
        s.add(d)
        s.flush()
        w.alert = cases.open_alert(s, decision=d).id
        w.limit = s.query(RiskLimit.id).order_by(RiskLimit.id).first()[0]
        w.risk = s.query(RiskRegisterEntry.id).order_by(RiskRegisterEntry.id).first()[0]
        warning = RiskWarning(source="kri", level="warning", value=1.0, message_en="x", message_zh="x",
                              at=clock.now())
        s.add(warning)
        s.flush()
        w.warning = warning.id
        w.notification = notifications.notify(s, customer_id=w.alice, kind="info", title_en="t", title_zh="t",
                                              body_en="b", body_zh="b").id


def _scalar(engine, sql, **kw):
    from tests.api.support import scalar

    return scalar(engine, sql, **kw)


# --------------------------------------------------------------------------------------------
# One case per (method, route): the attack by a customer on alice's objects, and the control
# that shows the same request succeeds for someone entitled to it (so the refusal is about who
# asks, not about a malformed request).


@dataclass(frozen=True)
class Case:
    method: str
    route: str  # as published in the OpenAPI document
    attack: Any  # (World) -> (url, json|None)
    attacker: str  # "bob": another customer -> 404; "customer": staff-only endpoint -> 403
    control: Any = None  # (World) -> (user, url, json|None, expected status)


def _t(w, **kw):
    return {"from_account_id": w.a1, "amount_minor": 100, "currency": "CNY", **kw}


CASES: list[Case] = [
    # --- reads of alice's data ---------------------------------------------------------------
    Case("get", "/api/v1/accounts/{account_id}", lambda w: (f"{API}/accounts/{w.a1}", None), "bob",
         lambda w: ("alice", f"{API}/accounts/{w.a1}", None, 200)),
    Case("get", "/api/v1/accounts/{account_id}/transactions",
         lambda w: (f"{API}/accounts/{w.a1}/transactions", None), "bob",
         lambda w: ("alice", f"{API}/accounts/{w.a1}/transactions", None, 200)),
    Case("get", "/api/v1/accounts/{account_id}/transactions.csv",
         lambda w: (f"{API}/accounts/{w.a1}/transactions.csv", None), "bob",
         lambda w: ("alice", f"{API}/accounts/{w.a1}/transactions.csv", None, 200)),
    Case("get", "/api/v1/accounts/{account_id}/statements/{year}/{month}",
         lambda w: (f"{API}/accounts/{w.a1}/statements/{clock.today().year}/{clock.today().month}", None), "bob",
         lambda w: ("alice", f"{API}/accounts/{w.a1}/statements/{clock.today().year}/{clock.today().month}",
                    None, 200)),
    Case("get", "/api/v1/transfers/{transfer_id}", lambda w: (f"{API}/transfers/{w.deposit}", None), "bob",
         lambda w: ("alice", f"{API}/transfers/{w.deposit}", None, 200)),
    Case("get", "/api/v1/customers/{customer_id}", lambda w: (f"{API}/customers/{w.alice}", None), "bob",
         lambda w: ("alice", f"{API}/customers/{w.alice}", None, 200)),
    Case("get", "/api/v1/accounts", lambda w: (f"{API}/accounts?customer_id={w.alice}", None), "bob",
         lambda w: ("alice", f"{API}/accounts?customer_id={w.alice}", None, 200)),
    Case("get", "/api/v1/payees", lambda w: (f"{API}/payees?customer_id={w.alice}", None), "bob",
         lambda w: ("alice", f"{API}/payees?customer_id={w.alice}", None, 200)),
    Case("get", "/api/v1/scheduled-transfers", lambda w: (f"{API}/scheduled-transfers?customer_id={w.alice}", None),
         "bob", lambda w: ("alice", f"{API}/scheduled-transfers?customer_id={w.alice}", None, 200)),
    # --- moving alice's money --------------------------------------------------------------------
    Case("post", "/api/v1/transfers",
         lambda w: (f"{API}/transfers", _t(w, to_account_number=w.nb1, idempotency_key="x1")), "bob",
         lambda w: ("alice", f"{API}/transfers", _t(w, to_account_number=w.nb1, idempotency_key="x1"), 201)),
    Case("post", "/api/v1/bill-payments",
         lambda w: (f"{API}/bill-payments", {"from_account_id": w.a1, "bill_id": w.bill, "idempotency_key": "x2"}),
         "bob", lambda w: ("alice", f"{API}/bill-payments",
                           {"from_account_id": w.a1, "bill_id": w.bill, "idempotency_key": "x2"}, 201)),
    Case("post", "/api/v1/top-ups",
         lambda w: (f"{API}/top-ups", {"from_account_id": w.a1, "biller_code": "CMCC", "phone": "13912345678",
                                       "amount_minor": 50_00, "idempotency_key": "x3"}), "bob",
         lambda w: ("alice", f"{API}/top-ups", {"from_account_id": w.a1, "biller_code": "CMCC",
                                                "phone": "13912345678", "amount_minor": 50_00,
                                                "idempotency_key": "x3"}, 201)),
    Case("post", "/api/v1/scheduled-transfers",
         lambda w: (f"{API}/scheduled-transfers", {
             "from_account_id": w.a1, "to_account_number": w.nb1, "amount_minor": 100, "frequency": "weekly",
             "start_date": str(clock.today() + timedelta(days=1))}), "bob",
         lambda w: ("alice", f"{API}/scheduled-transfers", {
             "from_account_id": w.a1, "to_account_number": w.nb1, "amount_minor": 100, "frequency": "weekly",
             "start_date": str(clock.today() + timedelta(days=1))}, 201)),
    Case("delete", "/api/v1/payees/{payee_id}", lambda w: (f"{API}/payees/{w.payee}", None), "bob",
         lambda w: ("alice", f"{API}/payees/{w.payee}", None, 204)),
    Case("delete", "/api/v1/scheduled-transfers/{scheduled_id}",
         lambda w: (f"{API}/scheduled-transfers/{w.scheduled}", None), "bob",
         lambda w: ("alice", f"{API}/scheduled-transfers/{w.scheduled}", None, 200)),
    # --- staff-only endpoints: a customer gets 403 whatever the object ---------------------------
    Case("post", "/api/v1/customers/{customer_id}/accounts",
         lambda w: (f"{API}/customers/{w.alice}/accounts", {"kind": "savings"}), "customer",
         lambda w: ("teller1", f"{API}/customers/{w.alice}/accounts", {"kind": "savings"}, 201)),
    Case("post", "/api/v1/customers/{customer_id}/kyc",
         lambda w: (f"{API}/customers/{w.alice}/kyc", {"outcome": "verified"}), "customer",
         lambda w: ("teller1", f"{API}/customers/{w.alice}/kyc", {"outcome": "verified"}, 200)),
    Case("post", "/api/v1/customers/{customer_id}/reveal",
         lambda w: (f"{API}/customers/{w.alice}/reveal", {"field": "id_number", "reason": "x"}), "customer",
         lambda w: ("teller1", f"{API}/customers/{w.alice}/reveal", {"field": "id_number", "reason": "counter"}, 200)),
    Case("put", "/api/v1/customers/{customer_id}/daily-limit",
         lambda w: (f"{API}/customers/{w.alice}/daily-limit", {"daily_limit_minor": 10**12}), "customer",
         # proposed: it applies once a second staff member approves it
         lambda w: ("teller1", f"{API}/customers/{w.alice}/daily-limit", {"daily_limit_minor": 10**12}, 202)),
    Case("post", "/api/v1/accounts/{account_id}/freeze",
         lambda w: (f"{API}/accounts/{w.a1}/freeze", {"reason": "x"}), "customer",
         lambda w: ("teller1", f"{API}/accounts/{w.a1}/freeze", {"reason": "x"}, 200)),
    Case("post", "/api/v1/accounts/{account_id}/unfreeze",
         lambda w: (f"{API}/accounts/{w.a1}/unfreeze", {"reason": "x"}), "customer",
         lambda w: ("teller1", f"{API}/accounts/{w.a1}/unfreeze", {"reason": "x"}, 200)),
    Case("post", "/api/v1/accounts/{account_id}/close", lambda w: (f"{API}/accounts/{w.a3}/close", {}), "customer",
         lambda w: ("teller1", f"{API}/accounts/{w.a3}/close", {}, 200)),
    Case("post", "/api/v1/cash/deposits",
         lambda w: (f"{API}/cash/deposits", {"account_id": w.b1, "amount_minor": 100, "idempotency_key": "c1"}),
         "customer", lambda w: ("teller1", f"{API}/cash/deposits",
                                {"account_id": w.b1, "amount_minor": 100, "idempotency_key": "c1"}, 201)),
    Case("post", "/api/v1/cash/withdrawals",
         lambda w: (f"{API}/cash/withdrawals", {"account_id": w.a1, "amount_minor": 100, "idempotency_key": "c2"}),
         "customer", lambda w: ("teller1", f"{API}/cash/withdrawals",
                                {"account_id": w.a1, "amount_minor": 100, "idempotency_key": "c2"}, 201)),
    Case("post", "/api/v1/holds",
         lambda w: (f"{API}/holds", {"from_account_id": w.a1, "to_account_id": w.b1, "amount_minor": 100,
                                     "idempotency_key": "h1"}), "customer",
         lambda w: ("teller1", f"{API}/holds", {"from_account_id": w.a1, "to_account_id": w.b1,
                                                "amount_minor": 100, "idempotency_key": "h1"}, 201)),
    Case("post", "/api/v1/holds/{transfer_id}/post",
         lambda w: (f"{API}/holds/{w.hold}/post", {"idempotency_key": "p1"}), "customer",
         lambda w: ("teller1", f"{API}/holds/{w.hold}/post", {"idempotency_key": "p1"}, 201)),
    Case("post", "/api/v1/holds/{transfer_id}/void",
         lambda w: (f"{API}/holds/{w.hold}/void", {"idempotency_key": "v1"}), "customer",
         # the hold was posted by the previous control: voiding it now is refused, exactly once
         lambda w: ("teller1", f"{API}/holds/{w.hold}/void", {"idempotency_key": "v1"}, 409)),
    Case("post", "/api/v1/transfers/{transfer_id}/reverse",
         lambda w: (f"{API}/transfers/{w.transfer}/reverse", {"idempotency_key": "r1", "memo": "paid twice"}),
         "customer",
         lambda w: ("risk1", f"{API}/transfers/{w.transfer}/reverse", {"idempotency_key": "r1", "memo": "paid twice"},
                    201)),
    Case("get", "/api/v1/reversals/{reversal_request_id}", lambda w: (f"{API}/reversals/{w.reversal}", None),
         "customer", lambda w: ("risk1", f"{API}/reversals/{w.reversal}", None, 200)),
    Case("post", "/api/v1/reversals/{reversal_request_id}/approve",
         lambda w: (f"{API}/reversals/{w.reversal}/approve", {}), "customer",
         # a second person approves the request risk1 made
         lambda w: ("admin1", f"{API}/reversals/{w.reversal}/approve", {"note": "checked"}, 200)),
    Case("post", "/api/v1/reversals/{reversal_request_id}/reject",
         lambda w: (f"{API}/reversals/{w.reversal}/reject", {"note": "no"}), "customer",
         # approved by the previous control: rejecting it now is refused
         lambda w: ("risk1", f"{API}/reversals/{w.reversal}/reject", {"note": "no"}, 409)),
    Case("get", "/api/v1/changes/{change_id}", lambda w: (f"{API}/changes/{w.change}", None), "customer",
         lambda w: ("teller1", f"{API}/changes/{w.change}", None, 200)),
    Case("post", "/api/v1/changes/{change_id}/approve", lambda w: (f"{API}/changes/{w.change}/approve", {}),
         "customer",
         # a second person approves the change risk1 proposed
         lambda w: ("admin1", f"{API}/changes/{w.change}/approve", {"note": "form checked"}, 200)),
    Case("post", "/api/v1/changes/{change_id}/reject", lambda w: (f"{API}/changes/{w.change}/reject", {"note": "no"}),
         "customer",
         # applied by the previous control: rejecting it now is refused
         lambda w: ("teller1", f"{API}/changes/{w.change}/reject", {"note": "no"}, 409)),
    Case("post", "/api/v1/changes/{change_id}/withdraw", lambda w: (f"{API}/changes/{w.change}/withdraw", {}),
         "customer", lambda w: ("risk1", f"{API}/changes/{w.change}/withdraw", {}, 409)),
    Case("put", "/api/v1/users/{user_id}/role",
         lambda w: (f"{API}/users/{w.teller}/role", {"role": "admin"}), "customer",
         lambda w: ("admin1", f"{API}/users/{w.teller}/role", {"role": "risk_officer"}, 202)),
    Case("put", "/api/v1/users/{user_id}/active",
         lambda w: (f"{API}/users/{w.teller}/active", {"active": False}), "customer",
         lambda w: ("admin1", f"{API}/users/{w.teller}/active", {"active": False}, 202)),
    Case("get", "/api/v1/audit", lambda w: (f"{API}/audit?object_type=account&object_id={w.a1}", None), "customer",
         lambda w: ("admin1", f"{API}/audit?object_type=account&object_id={w.a1}", None, 200)),
    # --- bills are looked up by the reference printed on them: any signed-in user, nobody else --
    Case("get", "/api/v1/billers/{code}/bills",
         lambda w: (f"{API}/billers/BJPOWER/bills?reference=0012345678", None), "anonymous",
         lambda w: ("bob", f"{API}/billers/BJPOWER/bills?reference=0012345678", None, 200)),
    # --- customer insight: a customer reads only their own 360; tags are managed by marketers ------
    Case("get", "/api/v1/insight/customers/{customer_id}",
         lambda w: (f"{API}/insight/customers/{w.alice}", None), "bob",
         lambda w: ("alice", f"{API}/insight/customers/{w.alice}", None, 200)),
    Case("get", "/api/v1/insight/tags/{code}", lambda w: (f"{API}/insight/tags/bill_payer", None), "customer",
         lambda w: ("mark1", f"{API}/insight/tags/bill_payer", None, 200)),
    Case("put", "/api/v1/insight/tags/{code}",
         lambda w: (f"{API}/insight/tags/bill_payer", {"description": "x"}), "customer",
         lambda w: ("mark1", f"{API}/insight/tags/bill_payer", {"description": "x"}, 200)),
    Case("post", "/api/v1/insight/tags/{code}/retire",
         lambda w: (f"{API}/insight/tags/bill_payer/retire", None), "customer",
         lambda w: ("mark1", f"{API}/insight/tags/bill_payer/retire", None, 200)),
    # --- notifications: a customer reads and marks only their own ------------------------------
    Case("post", "/api/v1/notifications/{notification_id}/read",
         lambda w: (f"{API}/notifications/{w.notification}/read", None), "bob",
         lambda w: ("alice", f"{API}/notifications/{w.notification}/read", None, 200)),
    # --- risk: risk officers only ---------------------------------------------------------------
    Case("get", "/api/v1/risk/alerts/{alert_id}", lambda w: (f"{API}/risk/alerts/{w.alert}", None), "customer",
         lambda w: ("risk1", f"{API}/risk/alerts/{w.alert}", None, 200)),
    Case("post", "/api/v1/risk/alerts/{alert_id}/assign",
         lambda w: (f"{API}/risk/alerts/{w.alert}/assign", None), "customer",
         lambda w: ("risk1", f"{API}/risk/alerts/{w.alert}/assign", None, 200)),
    Case("post", "/api/v1/risk/alerts/{alert_id}/notes",
         lambda w: (f"{API}/risk/alerts/{w.alert}/notes", {"note": "called the customer"}), "customer",
         lambda w: ("risk1", f"{API}/risk/alerts/{w.alert}/notes", {"note": "called the customer"}, 201)),
    Case("post", "/api/v1/risk/alerts/{alert_id}/resolve",
         lambda w: (f"{API}/risk/alerts/{w.alert}/resolve", {"resolution": "fraud", "action": "none"}), "customer",
         lambda w: ("risk1", f"{API}/risk/alerts/{w.alert}/resolve", {"resolution": "fraud", "action": "none"}, 200)),
    Case("get", "/api/v1/risk/rules/{code}", lambda w: (f"{API}/risk/rules/large_to_new_account", None), "customer",
         lambda w: ("risk1", f"{API}/risk/rules/large_to_new_account", None, 200)),
    Case("put", "/api/v1/risk/rules/{code}",
         lambda w: (f"{API}/risk/rules/large_to_new_account", {"name_en": "x"}), "customer",
         lambda w: ("risk1", f"{API}/risk/rules/large_to_new_account", {"name_en": "Huge to a new account"}, 202)),
    Case("post", "/api/v1/risk/rules/{code}/mode",
         lambda w: (f"{API}/risk/rules/large_to_new_account/mode", {"mode": "shadow"}), "customer",
         lambda w: ("risk1", f"{API}/risk/rules/large_to_new_account/mode", {"mode": "shadow", "reason": "x"}, 202)),
    Case("get", "/api/v1/risk/limits/breaches",
         lambda w: (f"{API}/risk/limits/breaches?customer_id={w.alice}", None), "customer",
         lambda w: ("risk1", f"{API}/risk/limits/breaches?customer_id={w.alice}", None, 200)),
    Case("get", "/api/v1/risk/limits/{limit_id}", lambda w: (f"{API}/risk/limits/{w.limit}", None), "customer",
         lambda w: ("risk1", f"{API}/risk/limits/{w.limit}", None, 200)),
    Case("patch", "/api/v1/risk/limits/{limit_id}",
         lambda w: (f"{API}/risk/limits/{w.limit}", {"daily_count": 30}), "customer",
         lambda w: ("risk1", f"{API}/risk/limits/{w.limit}", {"daily_count": 30}, 202)),
    Case("get", "/api/v1/risk/register/{entry_id}", lambda w: (f"{API}/risk/register/{w.risk}", None), "customer",
         lambda w: ("risk1", f"{API}/risk/register/{w.risk}", None, 200)),
    Case("patch", "/api/v1/risk/register/{entry_id}",
         lambda w: (f"{API}/risk/register/{w.risk}", {"likelihood": 4}), "customer",
         lambda w: ("risk1", f"{API}/risk/register/{w.risk}", {"likelihood": 4}, 200)),
    Case("post", "/api/v1/risk/warnings/{warning_id}/ack",
         lambda w: (f"{API}/risk/warnings/{w.warning}/ack", None), "customer",
         lambda w: ("risk1", f"{API}/risk/warnings/{w.warning}/ack", None, 200)),
]


# --- lending: a customer reaches only their own applications; reviews are for loan officers ------

def _lending(w: World) -> dict[str, int]:
    """Alice's applications (two approved offers, one in manual review), made once per world."""
    if getattr(w, "lending", None):
        return w.lending  # type: ignore[attr-defined]
    from dataclasses import dataclass as _dc

    from smartbank.lending import applications, decision, seed

    @_dc(frozen=True)
    class _Score:
        model_version: str = "test"
        pd: float = 0.01
        points: int | None = 600
        reasons: tuple = ()
        challenger_version: str | None = None
        challenger_pd: float | None = None

    class _Scorer:
        def score(self, features):
            return _Score()

    alice = Principal(user_id=int(_scalar(db.get_engine(), "SELECT id FROM users WHERE username = 'alice'")),
                      username="alice", role="customer", customer_id=w.alice)

    def cmd(amount: int) -> applications.ApplicationIn:
        return applications.ApplicationIn(product="PERSONAL", account_id=w.a1, amount_minor=amount, term_months=12,
                                          method="equal_installment", purpose="furniture",
                                          monthly_income_minor=2_000_000, employment="employed")

    real = decision.get_scorer
    out: dict[str, int] = {}
    try:
        with db.session_scope() as s:
            seed.seed(s)
            decision.get_scorer = lambda: _Scorer()  # type: ignore[assignment]
            out["accept"] = applications.submit(s, alice, cmd(1_000_000))[0].id
            out["withdraw"] = applications.submit(s, alice, cmd(1_100_000))[0].id
            decision.get_scorer = lambda: None  # type: ignore[assignment]
            out["review"] = applications.submit(s, alice, cmd(1_200_000))[0].id
    finally:
        decision.get_scorer = real  # type: ignore[assignment]
    w.lending = out  # type: ignore[attr-defined]
    return out


def _apply(w: World) -> dict[str, Any]:
    return {"product": "PERSONAL", "account_id": w.a1, "amount_minor": 500_000, "term_months": 12,
            "method": "equal_installment", "purpose": "travel", "monthly_income_minor": 2_000_000,
            "employment": "employed", "existing_debt_minor": 0, "existing_monthly_repayment_minor": 0}


CASES += [
    Case("post", "/api/v1/lending/applications",
         lambda w: (_lending(w) and f"{API}/lending/applications", _apply(w)), "bob",
         lambda w: ("alice", f"{API}/lending/applications", _apply(w), 201)),
    Case("get", "/api/v1/lending/applications/{application_id}",
         lambda w: (f"{API}/lending/applications/{_lending(w)['accept']}", None), "bob",
         lambda w: ("alice", f"{API}/lending/applications/{_lending(w)['accept']}", None, 200)),
    Case("post", "/api/v1/lending/applications/{application_id}/accept",
         lambda w: (f"{API}/lending/applications/{_lending(w)['accept']}/accept", None), "bob",
         lambda w: ("alice", f"{API}/lending/applications/{_lending(w)['accept']}/accept", None, 200)),
    Case("post", "/api/v1/lending/applications/{application_id}/withdraw",
         lambda w: (f"{API}/lending/applications/{_lending(w)['withdraw']}/withdraw", None), "bob",
         lambda w: ("alice", f"{API}/lending/applications/{_lending(w)['withdraw']}/withdraw", None, 200)),
    Case("get", "/api/v1/lending/reviews/{application_id}",
         lambda w: (f"{API}/lending/reviews/{_lending(w)['review']}", None), "customer",
         lambda w: ("admin1", f"{API}/lending/reviews/{_lending(w)['review']}", None, 200)),
    Case("post", "/api/v1/lending/reviews/{application_id}/claim",
         lambda w: (f"{API}/lending/reviews/{_lending(w)['review']}/claim", None), "customer",
         lambda w: ("admin1", f"{API}/lending/reviews/{_lending(w)['review']}/claim", None, 200)),
    Case("post", "/api/v1/lending/reviews/{application_id}/notes",
         lambda w: (f"{API}/lending/reviews/{_lending(w)['review']}/notes", {"note": "payslips seen"}), "customer",
         lambda w: ("admin1", f"{API}/lending/reviews/{_lending(w)['review']}/notes", {"note": "payslips seen"}, 201)),
    Case("post", "/api/v1/lending/reviews/{application_id}/decision",
         lambda w: (f"{API}/lending/reviews/{_lending(w)['review']}/decision", {"outcome": "approve"}), "customer",
         lambda w: ("admin1", f"{API}/lending/reviews/{_lending(w)['review']}/decision", {"outcome": "approve"}, 200)),
    Case("patch", "/api/v1/lending/products/{code}",
         lambda w: (_lending(w) and f"{API}/lending/products/PERSONAL", {"max_dti": 0.5}), "customer",
         lambda w: ("admin1", f"{API}/lending/products/PERSONAL", {"max_dti": 0.5}, 202)),
]


# --- lending: a customer reads and repays only their own loans ------------------------------------

def _loan(w: World) -> int:
    """Alice's loan, paid out 40 days ago into her funded account (an instalment is due), made once."""
    if getattr(w, "loan", None):
        return w.loan  # type: ignore[attr-defined]
    from smartbank.lending import servicing
    from tests.lending.support import disbursed

    loan = disbursed(db.get_engine(), w.alice, w.a1, start=servicing.today() - timedelta(days=40),
                     amount=600_000, rate_bps=600, term=6)
    w.loan = loan  # type: ignore[attr-defined]
    return loan


CASES += [
    Case("get", "/api/v1/lending/loans", lambda w: (f"{API}/lending/loans?customer_id={w.alice}", None), "bob",
         lambda w: ("alice", f"{API}/lending/loans?customer_id={w.alice}", None, 200)),
    Case("get", "/api/v1/lending/loans/{loan_id}", lambda w: (f"{API}/lending/loans/{_loan(w)}", None), "bob",
         lambda w: ("alice", f"{API}/lending/loans/{_loan(w)}", None, 200)),
    Case("get", "/api/v1/lending/loans/{loan_id}/schedule",
         lambda w: (f"{API}/lending/loans/{_loan(w)}/schedule", None), "bob",
         lambda w: ("alice", f"{API}/lending/loans/{_loan(w)}/schedule", None, 200)),
    Case("post", "/api/v1/lending/loans/{loan_id}/repayments",
         lambda w: (f"{API}/lending/loans/{_loan(w)}/repayments", {"idempotency_key": "lr1"}), "bob",
         lambda w: ("alice", f"{API}/lending/loans/{_loan(w)}/repayments", {"idempotency_key": "lr1"}, 201)),
    # staff only (risk officers, admins); alice's loan is current, so the admin passes the role check and is
    # refused on the loan's state (409: only a loan classified loss is written off)
    Case("post", "/api/v1/lending/loans/{loan_id}/write-off",
         lambda w: (f"{API}/lending/loans/{_loan(w)}/write-off", {"reason": "uncollectable"}), "customer",
         lambda w: ("admin1", f"{API}/lending/loans/{_loan(w)}/write-off", {"reason": "uncollectable"}, 409)),
    # staff only (risk officers, admins); alice's loan is not written off, so the risk officer passes the role
    # check and is refused on the loan's state (409)
    Case("post", "/api/v1/lending/loans/{loan_id}/collections",
         lambda w: (f"{API}/lending/loans/{_loan(w)}/collections",
                    {"amount_minor": 100, "reference": "AGY-1", "idempotency_key": "col1"}), "customer",
         lambda w: ("risk1", f"{API}/lending/loans/{_loan(w)}/collections",
                    {"amount_minor": 100, "reference": "AGY-1", "idempotency_key": "col1"}, 409)),
]


# --- wealth: a customer reaches only their own orders and holdings; the catalogue is managed by staff ----------

def _wealth(w: World) -> dict[str, int]:
    """Two of the catalogue's products, alice's two pending time-deposit orders and a bond-fund holding."""
    if getattr(w, "wealth", None):
        return w.wealth  # type: ignore[attr-defined]
    from smartbank.wealth import orders, seed
    from smartbank.wealth.models import Holding

    alice = Principal(user_id=int(_scalar(db.get_engine(), "SELECT id FROM users WHERE username = 'alice'")),
                      username="alice", role="customer", customer_id=w.alice)
    out: dict[str, int] = {}
    with db.session_scope() as s:
        seed.seed(s, codes=["TD3M", "F-BOND"], years=1)
        for name in ("get", "cancel"):
            out[name] = orders.purchase(s, alice, product_code="TD3M", account_id=w.a1, amount_minor=5_000,
                                        idempotency_key=f"wealth-{name}").id
        pid = seed.products.get_product(s, "F-BOND").id
        s.add(Holding(customer_id=w.alice, product_id=pid, units_micro=10_000_000, pending_units_micro=0,
                      cost_minor=1_000, opened_on=clock.today()))
    w.wealth = out  # type: ignore[attr-defined]
    return out


def _buy(w: World, key: str) -> dict[str, Any]:
    return {"product_code": "TD3M", "account_id": w.a1, "amount_minor": 5_000, "idempotency_key": key}


CASES += [
    Case("post", "/api/v1/wealth/orders/purchase",
         lambda w: (_wealth(w) and f"{API}/wealth/orders/purchase", _buy(w, "wb1")), "bob",
         lambda w: ("alice", f"{API}/wealth/orders/purchase", _buy(w, "wb1"), 201)),
    Case("post", "/api/v1/wealth/orders/redeem",
         lambda w: (_wealth(w) and f"{API}/wealth/orders/redeem",
                    {"product_code": "F-BOND", "account_id": w.a1, "idempotency_key": "wr1"}), "bob",
         lambda w: ("alice", f"{API}/wealth/orders/redeem",
                    {"product_code": "F-BOND", "account_id": w.a1, "idempotency_key": "wr1"}, 201)),
    Case("get", "/api/v1/wealth/orders", lambda w: (f"{API}/wealth/orders?customer_id={w.alice}", None), "bob",
         lambda w: ("alice", f"{API}/wealth/orders?customer_id={w.alice}", None, 200)),
    Case("get", "/api/v1/wealth/orders/{order_id}",
         lambda w: (f"{API}/wealth/orders/{_wealth(w)['get']}", None), "bob",
         lambda w: ("alice", f"{API}/wealth/orders/{_wealth(w)['get']}", None, 200)),
    Case("post", "/api/v1/wealth/orders/{order_id}/cancel",
         lambda w: (f"{API}/wealth/orders/{_wealth(w)['cancel']}/cancel", None), "bob",
         lambda w: ("alice", f"{API}/wealth/orders/{_wealth(w)['cancel']}/cancel", None, 200)),
    Case("get", "/api/v1/wealth/holdings", lambda w: (f"{API}/wealth/holdings?customer_id={w.alice}", None), "bob",
         lambda w: ("alice", f"{API}/wealth/holdings?customer_id={w.alice}", None, 200)),
    Case("get", "/api/v1/wealth/products/{code}", lambda w: (_wealth(w) and f"{API}/wealth/products/F-BOND", None),
         "anonymous", lambda w: ("alice", f"{API}/wealth/products/F-BOND", None, 200)),
    Case("get", "/api/v1/wealth/products/{code}/navs",
         lambda w: (_wealth(w) and f"{API}/wealth/products/F-BOND/navs", None), "anonymous",
         lambda w: ("alice", f"{API}/wealth/products/F-BOND/navs", None, 200)),
    Case("patch", "/api/v1/wealth/products/{code}",
         lambda w: (_wealth(w) and f"{API}/wealth/products/F-BOND", {"subscription_fee_bps": 50}), "customer",
         lambda w: ("mark1", f"{API}/wealth/products/F-BOND", {"subscription_fee_bps": 50}, 202)),
    Case("post", "/api/v1/wealth/products/{code}/navs",
         lambda w: (_wealth(w) and f"{API}/wealth/products/F-BOND/navs", {"day": "2030-01-02", "nav_micro": 1_000_000}),
         "customer",
         lambda w: ("mark1", f"{API}/wealth/products/F-BOND/navs", {"day": "2030-01-02", "nav_micro": 1_000_000}, 201)),
    Case("post", "/api/v1/wealth/products/{code}/close",
         lambda w: (_wealth(w) and f"{API}/wealth/products/F-BOND/close", None), "customer",
         lambda w: ("admin1", f"{API}/wealth/products/F-BOND/close", None, 202)),
]



def _correction(w: World) -> int:
    """A correction request of alice's, made once per world (for the staff-only resolve route)."""
    if getattr(w, "correction", None):
        return w.correction  # type: ignore[attr-defined]
    from smartbank.privacy import service as privacy

    alice = Principal(user_id=int(_scalar(db.get_engine(), "SELECT id FROM users WHERE username = 'alice'")),
                      username="alice", role="customer", customer_id=w.alice)
    with db.session_scope() as s:
        w.correction = privacy.request_correction(s, alice, field="city", value="杭州")["id"]  # type: ignore[attr-defined]
    return w.correction  # type: ignore[attr-defined]


# privacy: a customer's consents (staff read them; a teller records a branch form), corrections tellers resolve
CASES += [
    Case("get", "/api/v1/customers/{customer_id}/consents", lambda w: (f"{API}/customers/{w.alice}/consents", None),
         "bob", lambda w: ("alice", f"{API}/customers/{w.alice}/consents", None, 200)),
    Case("post", "/api/v1/customers/{customer_id}/consents",
         lambda w: (f"{API}/customers/{w.alice}/consents", {"purpose": "marketing_sms", "granted": True}), "customer",
         lambda w: ("teller1", f"{API}/customers/{w.alice}/consents", {"purpose": "marketing_sms", "granted": True},
                    201)),
    Case("post", "/api/v1/privacy/corrections/{request_id}/resolve",
         lambda w: (f"{API}/privacy/corrections/{_correction(w)}/resolve", {"accept": True}), "customer",
         lambda w: ("teller1", f"{API}/privacy/corrections/{_correction(w)}/resolve", {"accept": True}, 200)),
]

def _id_taking_routes() -> set[tuple[str, str]]:
    """(method, path) of every published operation that takes an id: a path parameter, a query
    parameter named ``*_id`` or a JSON body field named ``*_id``."""
    doc = create_app().openapi()
    schemas = doc.get("components", {}).get("schemas", {})

    def body_fields(op) -> set[str]:
        content = (op.get("requestBody") or {}).get("content", {})
        ref = content.get("application/json", {}).get("schema", {}).get("$ref")
        if not ref:
            return set()
        return set(schemas[ref.rsplit("/", 1)[-1]].get("properties", {}))

    out = set()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = op.get("parameters", [])
            takes_id = (any(p["in"] == "path" for p in params)
                        or any(p["in"] == "query" and p["name"].endswith("_id") for p in params)
                        or any(f.endswith("_id") for f in body_fields(op)))
            if takes_id:
                out.add((method, path))
    return out


def test_every_id_taking_route_is_covered():
    routes = _id_taking_routes()
    covered = {(c.method, c.route) for c in CASES}
    assert routes - covered == set(), "id-taking routes without an authorisation case"
    assert covered - routes == set(), "cases for routes that no longer exist or take no id"
    assert len(covered) == len(CASES), "one case per route"


def test_no_customer_reaches_another_customers_objects(client, bank, engine):
    w = _world(client, bank, engine)
    unknown = {"bob": 404, "customer": 403, "anonymous": 401}
    for case in CASES:
        url, body = case.attack(w)
        headers = {"anonymous": {}, "bob": w.h["bob"], "customer": w.h["bob"]}[case.attacker]
        before = state(engine)
        r = client.request(case.method.upper(), url, json=body, headers=headers)
        assert_error(r, unknown[case.attacker],
                     {"bob": "not_found", "customer": "forbidden", "anonymous": "not_authenticated"}[case.attacker])
        assert state(engine) == before, f"{case.method} {case.route} wrote something"
        if case.attacker == "customer":
            # alice may not do it to her own account either: the role, not the object, decides
            r = client.request(case.method.upper(), url, json=body, headers=w.h["alice"])
            assert_error(r, 403, "forbidden")
            assert state(engine) == before
        if case.control:
            user, curl, cbody, status = case.control(w)
            r = client.request(case.method.upper(), curl, json=cbody, headers=w.h[user])
            assert r.status_code == status, (case.route, r.text)
    bank.assert_invariants()


def test_refusal_does_not_reveal_existence(client, bank, engine):
    """Another customer's account, the bank's internal accounts and a missing account look alike."""
    w = _world(client, bank, engine)
    hb = w.h["bob"]
    missing = 10**9
    for aid in (w.a1, w.settlement, missing):
        for suffix in ("", "/transactions", "/transactions.csv", "/statements/2026/1"):
            r = client.get(f"{API}/accounts/{aid}{suffix}", headers=hb)
            body = assert_error(r, 404, "not_found")
            assert body["message"] == "account not found"
    for tid in (w.deposit, missing):
        assert_error(client.get(f"{API}/transfers/{tid}", headers=hb), 404, "not_found")
    # bob does see the transfer he received and his own account
    assert client.get(f"{API}/transfers/{w.transfer}", headers=hb).status_code == 200
    assert client.get(f"{API}/accounts/{w.b1}", headers=hb).status_code == 200
    # bob's own account list never includes alice's accounts
    ids = {a["id"] for a in client.get(f"{API}/accounts", headers=hb).json()}
    assert ids == {w.b1}
    # alice's payee and standing order look exactly like ones that do not exist: a plain 404 naming only the
    # id asked for, never alice's customer id
    for path, obj, what in (("payees", w.payee, "payee not found"),
                            ("scheduled-transfers", w.scheduled, "scheduled transfer not found")):
        before = state(engine)
        theirs = assert_error(client.delete(f"{API}/{path}/{obj}", headers=hb), 404, "not_found")
        none = assert_error(client.delete(f"{API}/{path}/{missing}", headers=hb), 404, "not_found")
        assert theirs["message"] == none["message"] == what
        assert set(theirs["details"]) == set(none["details"]) and "customer_id" not in theirs["details"]
        assert str(w.alice) not in str(theirs["details"]).replace(str(obj), "")
        assert state(engine) == before


def test_history_never_shows_another_customers_entries_through_the_counterparty(client, bank, engine):
    w = _world(client, bank, engine)
    items = client.get(f"{API}/accounts/{w.b1}/transactions", headers=w.h["bob"]).json()["items"]
    assert {i["transfer_id"] for i in items} == {w.transfer, _scalar(
        engine, "SELECT id FROM transfers WHERE credit_account_id = :b AND kind = 'deposit'", b=w.b1)}
    # bob sees alice's account number and name as counterparty, never her balance
    assert all("balance_after_minor" in i for i in items)
    alice_entry = _scalar(engine, "SELECT balance_after FROM entries WHERE account_id = :a AND transfer_id = :t",
                          a=w.a1, t=w.transfer)
    assert alice_entry not in {i["balance_after_minor"] for i in items}


# --------------------------------------------------------------------------------------------
# roles


def _post(client, w, user, url, body):
    return client.post(url, json=body, headers=w.h[user])


def test_staff_roles(client, bank, engine):
    w = _world(client, bank, engine)
    deny = [  # (user, url, body): each answers 403 and writes nothing
        ("mark1", f"{API}/accounts/{w.a1}/freeze", {}),
        ("mark1", f"{API}/cash/deposits", {"account_id": w.a1, "amount_minor": 100, "idempotency_key": "m1"}),
        ("mark1", f"{API}/cash/withdrawals", {"account_id": w.a1, "amount_minor": 100, "idempotency_key": "m2"}),
        ("mark1", f"{API}/holds", {"from_account_id": w.a1, "to_account_id": w.b1, "amount_minor": 1,
                                   "idempotency_key": "m3"}),
        ("mark1", f"{API}/transfers/{w.transfer}/reverse", {"idempotency_key": "m4", "memo": "paid twice"}),
        ("mark1", f"{API}/customers/{w.alice}/accounts", {}),
        ("mark1", f"{API}/users", {"username": "eve", "password": "passw0rd!x", "role": "admin"}),
        ("teller1", f"{API}/transfers/{w.transfer}/reverse", {"idempotency_key": "t1", "memo": "paid twice"}),
        ("teller1", f"{API}/users", {"username": "eve", "password": "passw0rd!x", "role": "admin"}),
        ("risk1", f"{API}/cash/deposits", {"account_id": w.a1, "amount_minor": 100, "idempotency_key": "r1"}),
        ("risk1", f"{API}/users", {"username": "eve", "password": "passw0rd!x", "role": "teller"}),
        ("alice", f"{API}/users", {"username": "eve", "password": "passw0rd!x", "role": "admin"}),
    ]
    for user, url, body in deny:
        before = state(engine)
        assert_error(_post(client, w, user, url, body), 403, "forbidden")
        assert state(engine) == before, (user, url)
    for user in ("alice", "teller1", "mark1", "risk1"):
        assert_error(client.get(f"{API}/audit", headers=w.h[user]), 403, "forbidden")
        assert_error(client.get(f"{API}/ledger/verify", headers=w.h[user]), 403, "forbidden")
    # customers never list or search customers
    assert_error(client.get(f"{API}/customers", headers=w.h["alice"]), 403, "forbidden")

    # the allowed side of the same rules
    assert _post(client, w, "teller1", f"{API}/accounts/{w.a1}/freeze", {"reason": "x"}).json()["status"] == "frozen"
    assert _post(client, w, "risk1", f"{API}/accounts/{w.a1}/unfreeze", {"reason": "x"}).json()["status"] == "open"
    r = _post(client, w, "teller1", f"{API}/cash/deposits", {"account_id": w.a1, "amount_minor": 700,
                                                             "idempotency_key": "d1"})
    assert r.status_code == 201 and r.json()["kind"] == "deposit"
    assert _post(client, w, "risk1", f"{API}/transfers/{w.transfer}/reverse",
                 {"idempotency_key": "rv", "memo": "paid twice"}).status_code == 201
    assert _post(client, w, "admin1", f"{API}/transfers/{r.json()['id']}/reverse",
                 {"idempotency_key": "rv2", "memo": "paid twice"}).status_code == 201
    r = _post(client, w, "admin1", f"{API}/users", {"username": "teller2", "password": "passw0rd!x",
                                                    "role": "teller"})
    assert r.status_code == 201 and r.json()["role"] == "teller"
    assert client.get(f"{API}/audit", headers=w.h["admin1"]).status_code == 200
    assert client.get(f"{API}/ledger/verify", headers=w.h["admin1"]).status_code == 200
    bank.assert_invariants()


@pytest.mark.parametrize("role_user", ["teller1", "mark1", "admin1"])
def test_staff_cannot_move_customer_money_through_customer_payment_endpoints(client, bank, engine, role_user):
    """Customer payments are the customer's: staff move money only through the audited, role-checked
    back-office operations. Otherwise a marketer could pay out of any account, unaudited."""
    w = _world(client, bank, engine)
    nb1 = w.nb1
    attempts = [
        (f"{API}/transfers", _t(w, to_account_number=nb1, idempotency_key="s1")),
        (f"{API}/bill-payments", {"from_account_id": w.a1, "bill_id": w.bill, "idempotency_key": "s2"}),
        (f"{API}/top-ups", {"from_account_id": w.a1, "biller_code": "CMCC", "phone": "13912345678",
                            "amount_minor": 50_00, "idempotency_key": "s3"}),
        (f"{API}/scheduled-transfers", {"from_account_id": w.a1, "to_account_number": nb1, "amount_minor": 100,
                                        "frequency": "daily", "start_date": str(clock.today() + timedelta(days=1))}),
    ]
    for url, body in attempts:
        before = state(engine)
        assert_error(_post(client, w, role_user, url, body), 403, "forbidden")
        assert state(engine) == before, url


@pytest.mark.parametrize("role_user", ["mark1", "teller1", "admin1"])
def test_staff_cannot_change_a_customers_payees_or_standing_orders(client, bank, engine, role_user):
    """Payees and scheduled transfers are the customer's own settings: staff may not delete or
    cancel them through the customer endpoints (no role check and no audit record there)."""
    w = _world(client, bank, engine)
    before = state(engine)
    assert_error(client.delete(f"{API}/payees/{w.payee}", headers=w.h[role_user]), 403, "forbidden")
    assert_error(client.delete(f"{API}/scheduled-transfers/{w.scheduled}", headers=w.h[role_user]), 403, "forbidden")
    assert state(engine) == before
    # staff who serve customers still see them (customer service reads); a marketer does not read a named
    # customer's payees or standing orders at all
    expected = 403 if role_user == "mark1" else 200
    assert client.get(f"{API}/payees?customer_id={w.alice}", headers=w.h[role_user]).status_code == expected
    assert client.get(f"{API}/scheduled-transfers?customer_id={w.alice}",
                      headers=w.h[role_user]).status_code == expected


# --- wealth robo-advice: a customer reads, checks and follows only their own plans ------------------------

def _robo(w: World) -> int:
    """Alice's plan (all in a money-market product she may buy), with a small catalogue and her grade, once."""
    if getattr(w, "robo_plan", None):
        return w.robo_plan  # type: ignore[attr-defined]

    from smartbank.wealth.models import PortfolioPlan
    from tests.wealth.test_robo import CATALOGUE, assess, make_catalogue

    engine = db.get_engine()
    make_catalogue(engine, until=clock.today(), days=130,
                   rows=[r for r in CATALOGUE if r[0] in ("MMF", "BOND0", "BONDF", "MIXF", "EQF1")])
    assess(engine, w.alice, "C3", at=clock.now())
    with db.session_scope(engine) as s:
        p = PortfolioPlan(customer_id=w.alice, grade="C3", horizon_months=12, amount_minor=500_00, method="min_cvar",
                          weights={"MMF": 1.0}, amounts={"MMF": 500_00}, backtest={}, status="followed",
                          drift_band=0.05)
        s.add(p)
        s.flush()
        w.robo_plan = p.id  # type: ignore[attr-defined]
    return w.robo_plan  # type: ignore[attr-defined]


def _robo_body(w: World) -> dict[str, Any]:
    return {"amount_minor": 200_000_00, "horizon_months": 36, "customer_id": w.alice}


CASES += [
    Case("post", "/api/v1/wealth/robo/plans", lambda w: (_robo(w) and f"{API}/wealth/robo/plans", _robo_body(w)),
         "bob", lambda w: ("alice", f"{API}/wealth/robo/plans", _robo_body(w), 201)),
    Case("get", "/api/v1/wealth/robo/plans",
         lambda w: (_robo(w) and f"{API}/wealth/robo/plans?customer_id={w.alice}", None), "bob",
         lambda w: ("alice", f"{API}/wealth/robo/plans?customer_id={w.alice}", None, 200)),
    Case("get", "/api/v1/wealth/robo/plans/{plan_id}", lambda w: (f"{API}/wealth/robo/plans/{_robo(w)}", None),
         "bob", lambda w: ("alice", f"{API}/wealth/robo/plans/{_robo(w)}", None, 200)),
    Case("get", "/api/v1/wealth/robo/plans/{plan_id}/drift",
         lambda w: (f"{API}/wealth/robo/plans/{_robo(w)}/drift", None), "bob",
         lambda w: ("alice", f"{API}/wealth/robo/plans/{_robo(w)}/drift", None, 200)),
    Case("post", "/api/v1/wealth/robo/plans/{plan_id}/follow",
         lambda w: (f"{API}/wealth/robo/plans/{_robo(w)}/follow", {"account_id": w.b1, "idempotency_key": "rf1"}),
         "bob", lambda w: ("alice", f"{API}/wealth/robo/plans/{_robo(w)}/follow",
                           {"account_id": w.a1, "idempotency_key": "rf1"}, 201)),
]


def _rec_list(w: World) -> int:
    if getattr(w, "rec_served", None):
        return w.rec_served  # type: ignore[attr-defined]
    from smartbank.recommend import items as rec_items
    from smartbank.recommend import service as rec_service
    from smartbank.wealth.models import WealthProduct

    with db.session_scope() as s:
        s.add(WealthProduct(code="TDREC", name_en="Time deposit", name_zh="定期存款", kind="time_deposit",
                            risk_level="R1", asset_class="cash", min_amount_minor=100_00))
        s.flush()
        rec_items.sync_items(s, SYSTEM)
        alice = Principal(user_id=0, username="alice", role="customer", customer_id=w.alice)
        w.rec_served = rec_service.recommend(s, alice, slot="api")["served_id"]  # type: ignore[attr-defined]
    return w.rec_served  # type: ignore[attr-defined]


CASES += [
    Case("post", "/api/v1/recommendations/events",
         lambda w: (f"{API}/recommendations/events",
                    {"event": "click", "item_key": "wealth:TDREC", "served_id": _rec_list(w)}), "bob",
         lambda w: ("alice", f"{API}/recommendations/events",
                    {"event": "click", "item_key": "wealth:TDREC", "served_id": _rec_list(w)}, 201)),
]


def _chat(w: World) -> int:
    """Alice's assistant conversation (one turn, no money moves)."""
    if getattr(w, "chat", None):
        return w.chat  # type: ignore[attr-defined]
    from smartbank.assistant import service as assistant

    with db.session_scope() as s:
        alice = Principal(user_id=0, username="alice", role="customer", customer_id=w.alice)
        w.chat = assistant.send(s, alice, text="你好")["conversation_id"]  # type: ignore[attr-defined]
    return w.chat  # type: ignore[attr-defined]


CASES += [
    Case("post", "/api/v1/assistant/messages",
         lambda w: (f"{API}/assistant/messages", {"text": "我的余额是多少", "conversation_id": _chat(w)}), "bob",
         lambda w: ("alice", f"{API}/assistant/messages", {"text": "我的余额是多少", "conversation_id": _chat(w)},
                    200)),
    Case("get", "/api/v1/assistant/conversations/{conversation_id}",
         lambda w: (f"{API}/assistant/conversations/{_chat(w)}", None), "bob",
         lambda w: ("alice", f"{API}/assistant/conversations/{_chat(w)}", None, 200)),
    Case("post", "/api/v1/assistant/conversations/{conversation_id}/rating",
         lambda w: (f"{API}/assistant/conversations/{_chat(w)}/rating", {"score": 5}), "bob",
         lambda w: ("alice", f"{API}/assistant/conversations/{_chat(w)}/rating", {"score": 5}, 200)),
]


def _faq_entry(w: World) -> int:
    """A knowledge-base entry (staff-only routes)."""
    if getattr(w, "faq", None):
        return w.faq  # type: ignore[attr-defined]
    from smartbank.assistant import faq

    with db.session_scope() as s:
        w.faq = faq.create_entry(s, SYSTEM, question_zh="问", question_en="Q", answer_zh="答",  # type: ignore[attr-defined]
                                 answer_en="A")["id"]
    return w.faq  # type: ignore[attr-defined]


def _handed(w: World) -> int:
    """Alice's conversation handed to an agent (the agents' routes are staff-only)."""
    if getattr(w, "handed", None):
        return w.handed  # type: ignore[attr-defined]
    from smartbank.assistant import handoff
    from smartbank.assistant.models import AssistantConversation

    with db.session_scope() as s:
        c = AssistantConversation(customer_id=w.alice, status="bot")
        s.add(c)
        s.flush()
        handoff.hand_off(s, c, reason="explicit", summary={})
        w.handed = c.id  # type: ignore[attr-defined]
    return w.handed  # type: ignore[attr-defined]


_AGENT = f"{API}/assistant/agent/conversations"
CASES += [
    Case("get", "/api/v1/assistant/faq/{entry_id}", lambda w: (f"{API}/assistant/faq/{_faq_entry(w)}", None),
         "customer", lambda w: ("admin1", f"{API}/assistant/faq/{_faq_entry(w)}", None, 200)),
    Case("patch", "/api/v1/assistant/faq/{entry_id}",
         lambda w: (f"{API}/assistant/faq/{_faq_entry(w)}", {"answer_en": "B"}), "customer",
         lambda w: ("admin1", f"{API}/assistant/faq/{_faq_entry(w)}", {"answer_en": "B"}, 200)),
    Case("post", "/api/v1/assistant/faq/{entry_id}/active",
         lambda w: (f"{API}/assistant/faq/{_faq_entry(w)}/active", {"active": False}), "customer",
         lambda w: ("admin1", f"{API}/assistant/faq/{_faq_entry(w)}/active", {"active": False}, 200)),
    Case("get", "/api/v1/assistant/agent/conversations/{conversation_id}",
         lambda w: (f"{_AGENT}/{_handed(w)}", None), "customer",
         lambda w: ("admin1", f"{_AGENT}/{_handed(w)}", None, 200)),
    Case("post", "/api/v1/assistant/agent/conversations/{conversation_id}/claim",
         lambda w: (f"{_AGENT}/{_handed(w)}/claim", None), "customer",
         lambda w: ("admin1", f"{_AGENT}/{_handed(w)}/claim", None, 200)),
    Case("post", "/api/v1/assistant/agent/conversations/{conversation_id}/messages",
         lambda w: (f"{_AGENT}/{_handed(w)}/messages", {"text": "您好"}), "customer",
         lambda w: ("admin1", f"{_AGENT}/{_handed(w)}/messages", {"text": "您好"}, 201)),
    Case("post", "/api/v1/assistant/agent/conversations/{conversation_id}/close",
         lambda w: (f"{_AGENT}/{_handed(w)}/close", None), "customer",
         lambda w: ("admin1", f"{_AGENT}/{_handed(w)}/close", None, 200)),
]


def _alice_session(w: World) -> str:
    return _scalar(db.get_engine(), "SELECT s.token_hash FROM auth_sessions s JOIN users u ON u.id = s.user_id"
                   " WHERE u.username = 'alice' AND s.revoked = :f ORDER BY s.created_at LIMIT 1", f=False)[:16]


# --- marketing, loyalty and public opinion: staff-only operations (a customer is refused by role, whatever the
# object); the loyalty redemption is the customer's own and the cash-back account must be theirs ---------------
def _staff_case(method: str, route: str, url: str, body: Any = None) -> Case:
    """A staff-only operation tried by a customer: ``url`` with ``{customer}`` for alice's id, ``body`` a dict or
    a function of the world."""
    return Case(method, route, lambda w: (url.format(customer=w.alice), body(w) if callable(body) else body),
                "customer")


_M = f"{API}/marketing"
CASES += [
    _staff_case("get", "/api/v1/loyalty/customers/{customer_id}", f"{API}/loyalty/customers/{{customer}}"),
    _staff_case("get", "/api/v1/marketing/campaigns/{code}", f"{_M}/campaigns/C1"),
    _staff_case("put", "/api/v1/marketing/campaigns/{code}", f"{_M}/campaigns/C1", {}),
    *[_staff_case("post", f"/api/v1/marketing/campaigns/{{code}}/{step}", f"{_M}/campaigns/C1/{step}", {})
      for step in ("approve", "cancel", "pause", "reject", "resume", "run", "submit")],
    _staff_case("get", "/api/v1/marketing/campaigns/{code}/results", f"{_M}/campaigns/C1/results"),
    _staff_case("get", "/api/v1/marketing/contact/campaigns/{campaign_id}/summary",
                f"{_M}/contact/campaigns/1/summary"),
    _staff_case("delete", "/api/v1/marketing/contact/dnd/{dnd_id}", f"{_M}/contact/dnd/1"),
    _staff_case("put", "/api/v1/marketing/contact/policy/{channel}", f"{_M}/contact/policy/sms", {"max_count": 1}),
    _staff_case("get", "/api/v1/marketing/experiments/{campaign_id}", f"{_M}/experiments/1"),
    _staff_case("post", "/api/v1/marketing/experiments/{campaign_id}/evaluate", f"{_M}/experiments/1/evaluate", {}),
    _staff_case("post", "/api/v1/marketing/journeys/events", f"{_M}/journeys/events",
                lambda w: {"kind": "account_opened", "customer_id": w.alice, "ref": "attack"}),
    _staff_case("get", "/api/v1/marketing/journeys/runs/{run_id}", f"{_M}/journeys/runs/1"),
    _staff_case("get", "/api/v1/marketing/journeys/{code}", f"{_M}/journeys/welcome"),
    *[_staff_case("post", f"/api/v1/marketing/journeys/{{code}}/{step}", f"{_M}/journeys/welcome/{step}", {})
      for step in ("approve", "disable", "request-enable")],
    _staff_case("post", "/api/v1/marketing/reports/attribution", f"{_M}/reports/attribution", {"campaign_id": 1}),
    _staff_case("get", "/api/v1/marketing/reports/campaigns/{campaign_id}", f"{_M}/reports/campaigns/1"),
    _staff_case("get", "/api/v1/opinion/alerts/{alert_id}", f"{API}/opinion/alerts/1"),
    *[_staff_case("post", f"/api/v1/opinion/alerts/{{alert_id}}/{step}", f"{API}/opinion/alerts/1/{step}",
                  {"note": "x"})
      for step in ("acknowledge", "assign", "close", "escalate", "respond")],
]
CASES += [
    Case("post", "/api/v1/loyalty/redemptions",
         lambda w: (f"{API}/loyalty/redemptions", {"reward_code": "CASHBACK_20", "account_id": w.a1}), "bob"),
]


CASES += [
    # last: the control ends alice's (only) session
    Case("delete", "/api/v1/auth/sessions/{session_id}",
         lambda w: (f"{API}/auth/sessions/{_alice_session(w)}", None), "bob",
         lambda w: ("alice", f"{API}/auth/sessions/{_alice_session(w)}", None, 204)),
]

