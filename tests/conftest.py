"""Shared fixtures. Every database test runs once per backend in ``SMARTBANK_TEST_DATABASES``
(default: sqlite, plus postgresql when a server answers at ``SMARTBANK_TEST_PG_URL``).

Each test starts from empty tables (truncated after the test), on a schema built by the real
Alembic migrations once per test session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from smartbank import clock, config, db
from smartbank.ops.migrate import upgrade

# the app refuses to serve with the development secret key: the tests use a key of their own
os.environ["SMARTBANK_SECRET_KEY"] = "tests-only-secret-key-0123456789abcdef"
os.environ.pop("SMARTBANK_DEV_MODE", None)

PG_URL = os.environ.get("SMARTBANK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = [
    "assistant_handoffs", "assistant_messages", "assistant_conversations", "faq_entries",
    "rec_served", "rec_events", "rec_items", "portfolio_plans", "money_market_income", "holdings", "wealth_orders",
    "suitability_checks",
    "product_navs", "wealth_products", "risk_assessments", "risk_questionnaires",
    "credit_blacklist", "loan_warnings", "loan_status_history", "loan_repayments", "loan_installments", "loans",
    "credit_decisions", "loan_application_events", "loan_applications", "reference_rates", "loan_products",
    "risk_decisions", "risk_challenges", "risk_rules", "risk_alerts", "risk_alert_events", "risk_labels",
    "risk_limits", "risk_limit_breaches", "risk_register", "risk_kris", "risk_kri_values", "risk_warnings",
    "risk_model_monitor", "notifications",
    "customer_tags", "tag_definitions", "customer_profiles", "segments", "insight_state", "external_transactions",
    "customer_source_ids", "import_batches",
    "reversal_requests", "ledger_seals", "ledger_unsealed", "entries", "bills", "scheduled_transfers", "payees",
    "billers", "customer_daily_usage", "business_days", "audit_log", "login_throttle", "auth_sessions", "users",
    "transfers", "accounts", "customers",
]


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
    test key, and a checkpoint file of the test's own (the databases are reused, truncated, between tests)."""
    path = tmp_path / "ledger-checkpoints.jsonl"
    monkeypatch.setenv("SMARTBANK_LEDGER_KEY", "test-ledger-key-not-for-production")
    monkeypatch.setenv("SMARTBANK_LEDGER_CHECKPOINT_FILE", str(path))
    config.reset_settings()
    yield path
    config.reset_settings()


def _pg_available() -> bool:
    try:
        e = create_engine(db.normalise_url(PG_URL))
        with e.connect() as c:
            c.execute(text("SELECT 1"))
        e.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


def _backends() -> list[str]:
    env = os.environ.get("SMARTBANK_TEST_DATABASES")
    if env:
        return [b.strip() for b in env.split(",") if b.strip()]
    return ["sqlite", "postgresql"] if _pg_available() else ["sqlite"]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def _databases(tmp_path_factory) -> Iterator[dict[str, str]]:
    urls: dict[str, str] = {}
    created: list[str] = []
    for b in _backends():
        if b == "sqlite":
            urls[b] = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        elif b == "postgresql":
            name = f"sbtest_{_worker()}_{uuid.uuid4().hex[:6]}"
            admin = create_engine(db.normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            created.append(name)
            urls[b] = PG_URL.rsplit("/", 1)[0] + "/" + name
        else:
            raise ValueError(f"unknown test database {b!r}")
        upgrade(urls[b])
    yield urls
    db.dispose_engines()
    for name in created:
        admin = create_engine(db.normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", _backends(), scope="session")


@pytest.fixture
def database_url(backend: str, _databases: dict[str, str], monkeypatch) -> Iterator[str]:
    url = _databases[backend]
    monkeypatch.setenv("SMARTBANK_DATABASE_URL", url)
    monkeypatch.setenv("SMARTBANK_LOG_JSON", "false")
    config.reset_settings()
    _forget_process_caches()
    yield url
    _truncate(db.get_engine(url))
    _forget_process_caches()
    config.reset_settings()


def _forget_process_caches() -> None:
    """Each test reuses its worker's database (truncated after it), so the engines a process keeps per
    database URL must forget what an earlier test's rows taught them."""
    from smartbank.recommend import engine as rec_engine
    from smartbank.risk import engine as risk_engine
    from smartbank.risk import limits as risk_limits

    risk_engine.reset()
    rec_engine.reset()
    risk_limits.invalidate()


def _truncate(engine: Engine) -> None:
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(text("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE"))
        else:
            for t in TABLES:
                c.execute(text(f"DELETE FROM {t}"))


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


@pytest.fixture
def client(database_url: str):
    from fastapi.testclient import TestClient

    from smartbank.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def login(client, username: str, password: str = "passw0rd!") -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
