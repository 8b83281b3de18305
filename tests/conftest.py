"""Shared fixtures. Every database test runs once per back-end in ``SMARTBANK_TEST_DATABASES`` (default: sqlite
and postgresql; PostgreSQL out of reach is an error unless ``SMARTBANK_TEST_DATABASES=sqlite`` asks for SQLite only).

Isolation (details in tests/README.md):

- by default a test runs inside one transaction per back-end that is rolled back at its end: everything the
  test and the code under test write (sessions, ``engine.connect()``, API requests through ``client``, CLI
  commands) goes through one connection and is gone afterwards;
- a test that needs real commits across connections (threads racing, a second engine, a live server) is marked
  ``@pytest.mark.commits``: it runs on the real engine and the tables are emptied after it.

The schema is built by the real Alembic migrations once per test run (a template each worker copies). The
password hasher is argon2id with the lightest parameters unless a test is marked ``real_argon2``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from smartbank import clock, config, db
from tests import databases

# the app refuses to serve with the development secret key: the tests use a key of their own
os.environ["SMARTBANK_SECRET_KEY"] = "tests-only-secret-key-0123456789abcdef"
os.environ.pop("SMARTBANK_DEV_MODE", None)
# the master key of the personal-data encryption in every test (fixed: the migrated templates' data key is
# wrapped by it); never a production key. The ``master_key`` fixture puts it back for each test.
TEST_MASTER_KEY = "+L7Q/XPgRZdisfTxwKlPLLbCo6xKb6DTZT1JKzrXVm0="
os.environ["SMARTBANK_MASTER_KEY"] = TEST_MASTER_KEY
os.environ.pop("SMARTBANK_MASTER_KEY_FILE", None)

PG_URL = os.environ.get("SMARTBANK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "commits: the test needs real commits across connections (threads, a "
                                       "second engine, a live server): no rollback isolation, tables emptied after it")
    config.addinivalue_line("markers", "real_argon2: the test hashes passwords with the production argon2id cost")
    config.addinivalue_line("markers", "any_backend: the test needs a database but sends it no statement, so it "
                                       "runs on one back-end only (the first of SMARTBANK_TEST_DATABASES)")
    if hasattr(config, "workerinput"):
        return  # the controller decided, and wrote the decision into the environment the workers inherit
    try:
        backends = databases.choose_backends(os.environ.get("SMARTBANK_TEST_DATABASES"),
                                             lambda: databases.pg_reachable(PG_URL), PG_URL)
    except databases.BackendUnavailable as exc:
        raise pytest.UsageError(str(exc)) from None
    os.environ["SMARTBANK_TEST_DATABASES"] = ",".join(backends)
    if "postgresql" in backends:
        databases.drop_stale_pg_databases(PG_URL)


def _run_dir(config: pytest.Config) -> Path:
    """A directory shared by the workers of this run (the controller's temporary directory)."""
    base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    return base.parent if hasattr(config, "workerinput") else base


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput") and "postgresql" in _backends():
        databases.Templates(_run_dir(session.config), PG_URL).drop_all()


def _backends() -> list[str]:
    return [b for b in os.environ.get("SMARTBANK_TEST_DATABASES", "").split(",") if b]


# The bank's clock in every test: it starts at this instant (bank time) and ticks. No test depends on the
# day it runs; SMARTBANK_TEST_NOW moves the whole suite to another instant.
TEST_NOW = clock.parse_instant(os.environ.get("SMARTBANK_TEST_NOW", "2026-11-24T10:00:00+08:00"))


@pytest.fixture(autouse=True)
def bank_clock() -> Iterator[clock.TickingClock]:
    """The platform clock for this test, started at ``TEST_NOW``; ``bank_clock.advance(timedelta)`` moves it."""
    with clock.use(clock.TickingClock(TEST_NOW)) as c:
        yield c  # type: ignore[misc]


@pytest.fixture(autouse=True)
def sms_outbox():
    """The text messages of this test (one-time codes), kept in memory instead of the development file sink."""
    from smartbank.notifications import sms

    with sms.use(sms.MemorySmsSink()) as sink:
        yield sink


def sms_code(sink, phone: str | None = None) -> str:
    """The one-time code in the last text message (to ``phone``)."""
    import re

    m = re.search(r"Code (\d{6})", sink.last(phone).text)
    assert m, sink.sent
    return m.group(1)


@pytest.fixture(autouse=True)
def ledger_files(tmp_path, monkeypatch) -> Iterator[Path]:
    """The journal's key and checkpoint file for this test (outside the database, as in production): a fixed
    test key, and a checkpoint file of the test's own (the databases are reused, emptied, between tests)."""
    path = tmp_path / "ledger-checkpoints.jsonl"
    monkeypatch.setenv("SMARTBANK_LEDGER_KEY", "test-ledger-key-not-for-production")
    monkeypatch.setenv("SMARTBANK_LEDGER_CHECKPOINT_FILE", str(path))
    config.reset_settings()
    yield path
    config.reset_settings()


@pytest.fixture(autouse=True)
def master_key(monkeypatch) -> Iterator[str]:
    """The test suite's fixed master key (as the ledger key: outside the database), and a key ring that starts
    empty in every test (the data keys are read again from the test's database on first use)."""
    from smartbank.security import service as security

    monkeypatch.setenv("SMARTBANK_MASTER_KEY", TEST_MASTER_KEY)
    monkeypatch.delenv("SMARTBANK_MASTER_KEY_FILE", raising=False)
    config.reset_settings()
    security.reset_key_cache()
    yield TEST_MASTER_KEY
    security.reset_key_cache()


# argon2id with the lightest parameters: the same code path, a fraction of the production cost (64 MiB, t=3)
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_argon2(request, monkeypatch) -> PasswordHasher | None:
    """argon2id with the lightest parameters (the same code path, a fraction of the 64 MiB cost) in every test
    but those marked ``real_argon2``, which check the hashing itself."""
    if request.node.get_closest_marker("real_argon2"):
        return None
    from smartbank.security import passwords

    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP_HASHER)
    monkeypatch.setattr(passwords, "_DUMMY", [])
    return CHEAP_HASHER


@pytest.fixture(scope="session")
def credit_model(tmp_path_factory) -> dict:
    """The production credit model in its fast mode, trained once per worker on a synthetic 4,000-row portfolio
    in the Give-Me-Some-Credit layout (with Kaggle's unnamed index column): ``path`` (the data), ``models`` (the
    registry folder), ``res`` (what ``train_production`` returned). Read-only: a test that trains trains its own."""
    from smartbank.lending.credit.scorer import synthetic_credit, train_production

    root = tmp_path_factory.mktemp("credit")
    path = root / "gmsc.csv"
    synthetic_credit(4000, seed=3).to_csv(path, index=True, index_label="")
    res = train_production(path, model_dir=root / "models", fast=True, seed=1)
    return {"root": root, "path": path, "models": root / "models", "res": res}


@dataclass
class TestDatabase:
    """A worker's database on one back-end, and the connection its rolled-back tests share."""

    url: str
    pg_name: str | None
    shared: databases.SharedConnection | None = None

    def shared_connection(self) -> databases.SharedConnection:
        if self.shared is None:
            self.shared = databases.SharedConnection(db.get_engine(self.url))
        return self.shared


@pytest.fixture(scope="session")
def templates(request) -> databases.Templates:
    """The migrated templates of this run (made once, by whichever worker needs one first)."""
    return databases.Templates(_run_dir(request.config), PG_URL)


@pytest.fixture(scope="session")
def _databases(templates, tmp_path_factory) -> Iterator[dict[str, TestDatabase]]:
    out: dict[str, TestDatabase] = {}
    where = tmp_path_factory.mktemp("db")
    try:
        for b in _backends():
            url, pg_name = templates.clone(b, where, "worker")
            out[b] = TestDatabase(url, pg_name)
        yield out
    finally:
        for d in out.values():
            if d.shared is not None:
                d.shared.close()
        db.dispose_engines()
        for d in out.values():
            if d.pg_name:
                templates.drop_later(d.pg_name)


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        backends = _backends()
        if metafunc.definition.get_closest_marker("any_backend"):
            backends = backends[:1]
        metafunc.parametrize("backend", backends, scope="session")


def commits(request) -> bool:
    """Does this test run with real commits (marked ``commits``, or served by the browser tests' live server)?"""
    return request.node.get_closest_marker("commits") is not None or "live_server" in request.fixturenames


@pytest.fixture
def database_url(request, backend: str, _databases: dict[str, TestDatabase], monkeypatch) -> Iterator[str]:
    """The test's database, empty; rolled back after the test, or emptied after it when it ``commits``."""
    d = _databases[backend]
    monkeypatch.setenv("SMARTBANK_DATABASE_URL", d.url)
    monkeypatch.setenv("SMARTBANK_LOG_JSON", "false")
    config.reset_settings()
    _forget_process_caches()
    if commits(request):
        databases.restart_sequences(db.get_engine(d.url))  # rolled-back tests used ids too
        try:
            yield d.url
        finally:
            databases.empty_tables(db.get_engine(d.url))
    else:
        shared = d.shared_connection()
        with shared.test(d.url):
            yield d.url
        if shared.statements and request.node.get_closest_marker("any_backend"):
            pytest.fail(f"marked any_backend, yet it sent {shared.statements} statement(s) to the database: "
                        "a test that uses the database runs on every back-end", pytrace=False)
    _forget_process_caches()
    config.reset_settings()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        notes = [n for d in (item.funcargs.get("_databases") or {}).values() if d.shared for n in d.shared.notes]
        if notes:
            report.sections.append(("rollback isolation", "\n".join(notes) + "\n(one connection stands in for "
                                    "every connection of this test; if it needs real commits, mark it "
                                    "@pytest.mark.commits)"))
    return report


def _forget_process_caches() -> None:
    """Each test reuses its worker's database (rolled back or emptied after it), so the engines a process keeps
    per database URL must forget what an earlier test's rows taught them."""
    from smartbank.recommend import engine as rec_engine
    from smartbank.risk import engine as risk_engine
    from smartbank.risk import limits as risk_limits
    from smartbank.security import service as security

    security.reset_key_cache()  # the data keys: a rolled-back test's new version is gone
    risk_engine.reset()
    rec_engine.reset()
    risk_limits.invalidate()


@pytest.fixture
def engine(database_url: str) -> Engine:
    return db.get_engine(database_url)


@pytest.fixture
def session(engine: Engine):
    """A session for arranging and inspecting; commit explicitly when other connections must see it."""
    s = db.session_factory(engine)()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def is_pg(backend: str) -> bool:
    return backend == "postgresql"


# ---------------------------------------------------------------------------------------------
# builders


FUNDED_ON = date(2020, 1, 1)


class Bank:
    """Arrange customers, users and funded accounts through the real services."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._n = 0
        # value date of opening deposits: long before any date a test posts at (a back-dated payment cannot spend
        # money that arrived after its value date); None: today
        self.funding_date: date | None = FUNDED_ON

    def customer(self, name: str = "张伟", **kw):
        from smartbank.customers import service as customers
        from smartbank.customers.validation import make_resident_id

        self._n += 1
        with db.session_scope(self.engine) as s:
            c = customers.create_customer(s, customers.CustomerCreate(
                kind=kw.pop("kind", "individual"), name=name,
                id_number=kw.pop("id_number", make_resident_id("110101", date(1985, 3, 7), self._n)),
                phone=kw.pop("phone", f"1380000{self._n:04d}"), **kw))
            return c.id

    def account(self, customer_id: int, *, kind: str = "demand", balance: int = 0, currency: str = "CNY",
                overdraft: int = 0, rate=None) -> int:
        from smartbank.ledger import service as ledger

        with db.session_scope(self.engine) as s:
            a = ledger.open_account(s, customer_id=customer_id, kind=kind, currency=currency,
                                    overdraft_limit_minor=overdraft, interest_rate=rate)
            if balance:
                src = ledger.internal_account(s, "settlement", currency)
                ledger.transfer(s, ledger.TransferCommand(
                    key=f"fund-{a.id}", debit_account_id=src.id, credit_account_id=a.id, amount_minor=balance,
                    currency=currency, kind="deposit", value_date=self.funding_date))
            return a.id

    def user(self, username: str, password: str = "passw0rd!", *, role: str = "customer",
             customer_id: int | None = None) -> int:
        from smartbank.security import service as security

        with db.session_scope(self.engine) as s:
            return security.create_user(s, username=username, password=password, role=role,
                                        customer_id=customer_id).id

    def balance(self, account_id: int) -> int:
        with self.engine.connect() as c:
            return int(c.execute(text("SELECT credits_posted - debits_posted FROM accounts WHERE id = :i"),
                                 {"i": account_id}).scalar())

    def available(self, account_id: int) -> int:
        with self.engine.connect() as c:
            return int(c.execute(text(
                "SELECT credits_posted - debits_posted - debits_pending FROM accounts WHERE id = :i"),
                {"i": account_id}).scalar())

    def count(self, table: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(text(f"SELECT count(*) FROM {table}")).scalar())

    def assert_invariants(self) -> None:
        """Every transfer's entries sum to zero; every balance equals the sum of its entries;
        balances sum to zero per currency."""
        with self.engine.connect() as c:
            assert c.execute(text(
                "SELECT count(*) FROM (SELECT transfer_id FROM entries GROUP BY transfer_id"
                " HAVING sum(amount_minor) <> 0) x")).scalar() == 0
            assert c.execute(text(
                "SELECT count(*) FROM accounts a LEFT JOIN (SELECT account_id, sum(amount_minor) s FROM entries"
                " GROUP BY account_id) e ON e.account_id = a.id"
                " WHERE a.credits_posted - a.debits_posted <> COALESCE(e.s, 0)")).scalar() == 0
            for cur, total in c.execute(text(
                    "SELECT currency, sum(credits_posted - debits_posted) FROM accounts GROUP BY currency")):
                assert int(total) == 0, f"{cur} does not sum to zero"
            assert c.execute(text(
                "SELECT count(*) FROM accounts WHERE overdraft_limit_minor IS NOT NULL AND"
                " credits_posted - debits_posted - debits_pending < -overdraft_limit_minor")).scalar() == 0


@pytest.fixture
def bank(engine: Engine) -> Bank:
    return Bank(engine)


@pytest.fixture(scope="session")
def app():
    """The application, made once per worker: it reads its settings (the database among them) per request."""
    from smartbank.api.app import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMARTBANK_LOG_JSON", "false")
        config.reset_settings()
        made = create_app()
    config.reset_settings()
    return made


@pytest.fixture
def client(database_url: str, app):
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def login(client, username: str, password: str = "passw0rd!") -> dict[str, str]:
    """Sign in through the API as a person would, second factor included: staff enrol one at their first
    sign-in (from the secret the answer gives) and send its codes afterwards (read off the factor like an
    authenticator app would; a code is good once per 30-second step, so a second sign-in in the same step
    waits for the next step on the bank's clock)."""
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    out = r.json()
    if out["status"] == "mfa_enrolment_required":
        code = pyotp.TOTP(out["secret"]).at(clock.now())
        r = client.post("/api/v1/auth/login/enrol", json={"pending_token": out["pending_token"], "code": code})
        assert r.status_code == 200, r.text
        out = r.json()
    elif out["status"] == "mfa_required":
        r = client.post("/api/v1/auth/login/mfa", json={"pending_token": out["pending_token"],
                                                        "code": totp_code(username)})
        assert r.status_code == 200, r.text
        out = r.json()
    return {"Authorization": f"Bearer {out['token']}"}


def totp_code(username: str) -> str:
    """A fresh code of ``username``'s second factor: the next 30-second step on the bank's clock when this
    step's code was used already (a code is accepted once)."""
    from smartbank.security import service as security
    from smartbank.security.models import User, UserMfa

    def last_step(s) -> int | None:
        return s.scalar(select(UserMfa.last_step).join(User, User.id == UserMfa.user_id)
                        .where(User.username == username))

    last = db.run_read(last_step)
    now_step = int(clock.now().timestamp()) // 30
    if last is not None and last >= now_step:
        c = clock.get_clock()
        assert hasattr(c, "advance"), "the bank's clock cannot move to the next code"
        c.advance(timedelta(seconds=(last + 1) * 30 - clock.now().timestamp() + 0.001))
    return db.run_read(lambda s: security.demo_totp_code(s, username))
