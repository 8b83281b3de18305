"""The units of work in smartbank.db."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from smartbank import db


class _Serialization(Exception):
    sqlstate = "40001"


def test_single_write_retries_serialization_failures(engine):
    calls = []

    def work(s):
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("SELECT 1", {}, _Serialization())
        return s.execute(text("SELECT 41 + 1")).scalar()

    assert db.run_single_write(work, engine=engine) == 42
    assert len(calls) == 3


def test_single_write_gives_up_on_other_errors(engine):
    calls = []

    def work(s):
        calls.append(1)
        raise OperationalError("SELECT 1", {}, ValueError("no"))

    with pytest.raises(OperationalError):
        db.run_single_write(work, engine=engine)
    assert len(calls) == 1


def test_single_write_statement_is_atomic_and_commits_on_its_own(engine, bank):
    """On PostgreSQL the one writing statement is its own transaction: it commits when it succeeds
    (what follows cannot undo it) and leaves nothing behind when it fails."""
    cid = bank.customer("张伟")

    def rename_then_fail(s):
        s.execute(text("UPDATE customers SET name = '张三' WHERE id = :i"), {"i": cid})
        raise RuntimeError("after the write")

    with pytest.raises(RuntimeError):
        db.run_single_write(rename_then_fail, engine=engine)
    with engine.connect() as c:
        name = c.execute(text("SELECT name FROM customers WHERE id = :i"), {"i": cid}).scalar()
    # elsewhere the unit of work is a normal transaction and rolls back
    assert name == ("张三" if engine.dialect.name == "postgresql" else "张伟")

    bank.customer("李娜")

    def failing_statement(s):  # renames one customer and blanks the other, which NOT NULL refuses
        s.execute(text("UPDATE customers SET name = CASE WHEN id = :i THEN '李四' ELSE NULL END"), {"i": cid})

    with pytest.raises(IntegrityError):
        db.run_single_write(failing_statement, engine=engine)
    with engine.connect() as c:
        assert c.execute(text("SELECT name FROM customers WHERE id = :i"), {"i": cid}).scalar() != "李四"


def test_after_commit_runs_only_when_the_outermost_transaction_commits(engine):
    ran: list[str] = []
    with db.session_scope(engine) as s:
        s.execute(text("SELECT 1"))
        db.after_commit(s, lambda: ran.append("kept"))
        sp = s.begin_nested()
        db.after_commit(s, lambda: ran.append("released savepoint"))
        sp.commit()  # releasing a savepoint is not a commit
        assert ran == []
        sp = s.begin_nested()
        db.after_commit(s, lambda: ran.append("rolled-back savepoint"))
        sp.rollback()
        assert ran == []
    assert ran == ["kept", "released savepoint"]

    ran.clear()
    with pytest.raises(RuntimeError), db.session_scope(engine) as s:
        s.execute(text("SELECT 1"))
        sp = s.begin_nested()
        db.after_commit(s, lambda: ran.append("inside a savepoint of a rolled-back transaction"))
        sp.commit()
        raise RuntimeError("the transaction fails")
    assert ran == []

    def failing_commit(s):
        s.execute(text("SELECT 1"))
        db.after_commit(s, lambda: ran.append("never committed"))
        from sqlalchemy import event

        event.listen(s, "before_commit", lambda _s: (_ for _ in ()).throw(RuntimeError("commit failed")))

    with pytest.raises(RuntimeError):
        db.run_in_transaction(failing_commit, engine=engine)
    assert ran == []


def test_after_commit_in_autocommit_mode_runs_at_once(engine):
    """In autocommit mode (PostgreSQL's single-write units of work) a statement has committed when it returns."""
    ran: list[int] = []

    def work(s):
        s.execute(text("SELECT 1"))
        db.after_commit(s, lambda: ran.append(1))
        return list(ran)

    seen_inside = db.run_single_write(work, engine=engine)
    assert ran == [1]
    assert seen_inside == ([1] if engine.dialect.name == "postgresql" else [])
