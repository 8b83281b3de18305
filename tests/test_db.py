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
