"""The test suite's own database rules (tests/databases.py): which back-ends a run covers, and the rollback
isolation every test gets by default."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from smartbank import db
from tests import databases
from tests.databases import BackendUnavailable, choose_backends

PG = "postgresql://postgres@db.example:5432/postgres"


def _down() -> bool:
    return False


def _up() -> bool:
    return True


def test_both_backends_by_default():
    assert choose_backends(None, _up, PG) == ["sqlite", "postgresql"]
    assert choose_backends("", _up, PG) == ["sqlite", "postgresql"]


def test_postgresql_out_of_reach_is_an_error_unless_sqlite_only_is_asked_for():
    for setting in (None, "", "sqlite,postgresql", "postgresql"):
        with pytest.raises(BackendUnavailable) as err:
            choose_backends(setting, _down, PG)
        assert "db.example" in str(err.value) and "SMARTBANK_TEST_DATABASES=sqlite" in str(err.value)
    assert choose_backends("sqlite", _down, PG) == ["sqlite"]
    assert choose_backends(" sqlite , ", _down, PG) == ["sqlite"]


def test_the_asked_for_backends_in_order_once_each():
    assert choose_backends("postgresql, sqlite,postgresql", _up, PG) == ["postgresql", "sqlite"]


def test_an_unknown_backend_is_an_error():
    with pytest.raises(BackendUnavailable, match="mysql"):
        choose_backends("sqlite,mysql", _up, PG)


def test_the_tables_emptied_are_the_schema_s():
    import smartbank.models  # noqa: F401

    names = databases.table_names()
    assert sorted(names) == sorted(db.Base.metadata.tables) and len(names) == len(set(names))
    # parents before children: deleting in reverse order never breaks a foreign key
    position = {n: i for i, n in enumerate(names)}
    for table in db.Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name != table.name:
                assert position[fk.column.table.name] < position[table.name], (table.name, fk.target_fullname)


# ---------------------------------------------------------------------------------------------
# rollback isolation (these tests run in it)


def _customers(engine) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM customers")).scalar())


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_starts_empty_with_ids_from_one(bank, engine, round_):
    """Whatever the previous round wrote and committed is gone, and ids start again at 1 (as after TRUNCATE
    ... RESTART IDENTITY)."""
    assert _customers(engine) == 0
    assert bank.customer("张伟") == 1
    assert bank.customer("李娜") == 2


def test_a_commit_is_seen_by_every_later_unit_of_work(bank, engine, session):
    cid = bank.customer("张伟")  # committed by its own session_scope
    assert session.execute(text("SELECT name FROM customers WHERE id = :i"), {"i": cid}).scalar() == "张伟"
    assert db.run_read(lambda s: s.execute(text("SELECT count(*) FROM customers")).scalar(), engine=engine) == 1


def test_a_rollback_undoes_only_its_own_transaction(bank, engine):
    bank.customer("张伟")
    with pytest.raises(RuntimeError), db.session_scope(engine) as s:
        s.execute(text("UPDATE customers SET name = '李四'"))
        raise RuntimeError("the unit of work fails")
    with engine.connect() as c:
        assert c.execute(text("SELECT name FROM customers")).scalar() == "张伟"
    assert _customers(engine) == 1


def test_a_failed_statement_leaves_the_test_usable(bank, engine):
    """On PostgreSQL a failed statement aborts its transaction: only its own savepoint, not the test's."""
    from sqlalchemy.exc import IntegrityError

    cid = bank.customer("张伟")
    with pytest.raises(IntegrityError), db.session_scope(engine) as s:
        s.execute(text("UPDATE customers SET name = NULL WHERE id = :i"), {"i": cid})
    assert _customers(engine) == 1


def test_the_api_sees_what_the_test_wrote_and_the_test_what_the_api_wrote(client, bank, engine):
    from tests.conftest import login

    alice = bank.customer("王芳")
    a1 = bank.account(alice, balance=10_000)
    b1 = bank.account(bank.customer("李娜"))
    bank.user("alice", customer_id=alice)
    with engine.connect() as c:
        number = c.execute(text("SELECT number FROM accounts WHERE id = :i"), {"i": b1}).scalar()
    r = client.post("/api/v1/transfers", headers=login(client, "alice"), json={
        "from_account_id": a1, "to_account_number": number, "amount_minor": 2_500, "currency": "CNY",
        "idempotency_key": "isolation"})
    assert r.status_code == 201, r.text
    assert bank.balance(a1) == 7_500 and bank.balance(b1) == 2_500
    bank.assert_invariants()


SLOW = text("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 2000000)"
            " SELECT count(*) FROM r")


def test_two_threads_at_once_are_refused_with_the_remedy(engine, backend, _databases):
    """One connection cannot run two threads' statements at once: the second is refused with the remedy."""
    shared = _databases[backend].shared
    outcome: list[object] = []

    def slow() -> None:
        with engine.connect() as c:
            outcome.append(c.execute(SLOW).scalar())

    t = threading.Thread(target=slow)
    t.start()
    assert _wait_for(lambda: shared._busy is not None)  # the other thread is inside its statement
    with pytest.raises(databases.SharedConnectionMisuse, match="two threads"), engine.connect() as c:
        c.execute(text("SELECT 1"))
    t.join(30)
    assert outcome == [2_000_000]


def _wait_for(predicate, seconds: float = 10) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def test_a_second_engine_on_the_same_database_is_refused_with_the_remedy(database_url):
    other = db.make_engine(database_url)
    try:
        with pytest.raises(databases.SharedConnectionMisuse, match="second connection"), other.connect() as c:
            c.execute(text("SELECT 1"))
    finally:
        other.dispose()


def test_a_rolled_back_test_uses_ids_a_committing_test_after_it_gets_again(bank):
    """PostgreSQL's sequences ignore rollbacks: the next test (below, committing) restarts them."""
    assert bank.customer("王芳") == 1 and bank.customer("李娜") == 2


@pytest.mark.commits
@pytest.mark.parametrize("round_", [1, 2])
def test_tests_that_commit_get_empty_tables_too(bank, engine, round_):
    assert _customers(engine) == 0
    assert bank.customer("张伟") == 1
    other = db.make_engine(str(engine.url))  # a second connection sees the commit
    try:
        with other.connect() as c:
            assert c.execute(text("SELECT count(*) FROM customers")).scalar() == 1
    finally:
        other.dispose()


@pytest.mark.any_backend
def test_a_test_marked_any_backend_runs_on_the_first_backend_only(request, backend, client):
    from tests.conftest import _backends

    assert backend == _backends()[0]
    assert [i for i in request.session.items if getattr(i, "originalname", None) == request.node.originalname] \
        == [request.node]
    assert client.get("/login").status_code == 200  # a page that reads nothing
