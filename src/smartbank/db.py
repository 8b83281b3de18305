"""Engine, sessions and the unit of work.

Services only ``flush()``; the entry point (API request, CLI command, batch job) owns the
transaction through :func:`session_scope` / :func:`run_in_transaction`, which also retries
serialization failures and deadlocks so that they never reach a client.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar, overload

from sqlalchemy import BigInteger, Engine, Integer, MetaData, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from smartbank.config import get_settings
from smartbank.errors import SmartbankError

T = TypeVar("T")
log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger keys map to it there.
BigId = BigInteger().with_variant(Integer(), "sqlite")
MAX_ID = 2**63 - 1  # ids are BIGINT: a larger one cannot exist (and would overflow the database driver)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kw) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _rec):  # pragma: no cover - exercised by every sqlite test
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover
            # IMMEDIATE takes the write lock up front, so two writers never deadlock on upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if "poolclass" not in kw:
        kw.setdefault("pool_size", 20)
        kw.setdefault("max_overflow", 20)
    # no pre-ping: it costs a round trip on every checkout; stale connections are recycled instead
    kw.setdefault("pool_recycle", 1800)
    return create_engine(url, **kw)


def get_engine(url: str | None = None) -> Engine:
    url = normalise_url(url or get_settings().database_url)
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def dispose_engines() -> None:
    with _lock:
        for e in _engines.values():
            auto = _autocommit.pop(e, None)
            if auto is not None:
                auto.dispose()
            e.dispose()
        _engines.clear()


_factories: dict[int, sessionmaker[Session]] = {}


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    engine = engine or get_engine()
    f = _factories.get(id(engine))
    if f is None or f.kw.get("bind") is not engine:
        f = _factories[id(engine)] = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    return f


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except SmartbankError as exc:
        if exc.persist:
            session.commit()  # a refusal that is itself a record (see SmartbankError.persist)
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
        if state in RETRYABLE_SQLSTATES:
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc):
            return True
    return False


def run_in_transaction(fn: Callable[[Session], T], *, engine: Engine | None = None, retries: int = 8) -> T:
    """Run ``fn(session)`` in one transaction, retrying deadlocks and serialization failures."""
    attempt = 0
    while True:
        try:
            with session_scope(engine) as session:
                return fn(session)
        except DBAPIError as exc:
            attempt += 1
            if attempt > retries or not is_retryable(exc):
                raise
            time.sleep(min(0.002 * 2**attempt, 0.2))


def autocommit_engine(engine: Engine | None = None) -> Engine:
    """PostgreSQL: a sibling of ``engine`` (same database, its own small pool) whose connections are
    in autocommit mode from the start, so a checkout never toggles the isolation level."""
    engine = engine or get_engine()
    auto = _autocommit.get(engine)
    if auto is None:
        with _lock:
            auto = _autocommit.get(engine)
            if auto is None:
                auto = _autocommit[engine] = create_engine(
                    engine.url, isolation_level="AUTOCOMMIT", pool_size=10, max_overflow=30, pool_recycle=1800)
    return auto


class NeedsTransaction(Exception):
    """Raised by a unit of work running in autocommit mode (:func:`run_single_write`) before its first write
    when it finds it must write more than once: the unit of work is run again in a transaction."""


def in_autocommit(session: Session) -> bool:
    return bool(session.info.get("autocommit"))


def run_read(fn: Callable[[Session], T], *, engine: Engine | None = None) -> T:
    """A mostly-reading unit of work. On PostgreSQL it runs in autocommit mode (no BEGIN/COMMIT round
    trips; any single write it makes commits on its own); elsewhere it is a normal transaction."""
    engine = engine or get_engine()
    if engine.dialect.name != "postgresql":
        return run_in_transaction(fn, engine=engine)
    session = session_factory(autocommit_engine(engine))()
    session.info["autocommit"] = True
    try:
        return fn(session)
    finally:
        session.close()


def run_single_write(fn: Callable[[Session], T], *, engine: Engine | None = None, retries: int = 8) -> T:
    """A unit of work that reads as much as it likes and then writes with ONE statement, such as a
    payment (the ledger's transfer is one call of the stored procedure ``sb_transfer`` on PostgreSQL).

    On PostgreSQL that statement is its own transaction in autocommit mode - atomic on its own - so
    the BEGIN and COMMIT round trips are saved; its serialization failures and deadlocks are retried
    (a failed statement wrote nothing). Elsewhere this is :func:`run_in_transaction`. A function
    that writes twice must use :func:`run_in_transaction`.
    """
    engine = engine or get_engine()
    if engine.dialect.name != "postgresql":
        return run_in_transaction(fn, engine=engine, retries=retries)
    attempt = 0
    while True:
        try:
            return run_read(fn, engine=engine)
        except NeedsTransaction:
            return run_in_transaction(fn, engine=engine, retries=retries)
        except DBAPIError as exc:
            attempt += 1
            if attempt > retries or not is_retryable(exc):
                raise
            time.sleep(min(0.002 * 2**attempt, 0.2))


_autocommit: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


@contextmanager
def engine_override(url: str, engine: Engine, *, autocommit: Engine) -> Iterator[Engine]:
    """Inside the block, :func:`get_engine` answers ``engine`` for ``url`` and :func:`autocommit_engine`
    answers ``autocommit`` for ``engine``; the previous engine comes back afterwards.

    The seam of the test suite's isolation (``tests/databases.py``): every unit of work of a test, whatever
    path it takes to the database, runs on one connection whose transaction is rolled back at the end.
    """
    key = normalise_url(url)
    with _lock:
        previous = _engines.get(key)
        _engines[key] = engine
        _autocommit[engine] = autocommit
    try:
        yield engine
    finally:
        with _lock:
            _autocommit.pop(engine, None)
            if previous is None:
                _engines.pop(key, None)
            else:
                _engines[key] = previous


# ----------------------------------------------------------------------------------------------
# work that must wait for the commit

_HOOKS = "after_commit_hooks"


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn()`` once what the session has written so far is committed; never if it is rolled back.

    For in-memory state that mirrors the database (the risk engine's online features, for one): updated
    before the commit, a commit that fails would leave it holding something that never happened.

    - In autocommit mode (:func:`run_read`, :func:`run_single_write` on PostgreSQL) each statement has
      committed when it returns: ``fn`` runs now.
    - Otherwise ``fn`` runs after the outermost COMMIT (releasing a savepoint is not a commit). It is
      dropped when the transaction, or a savepoint it was registered inside, rolls back, and when the
      session closes without committing.
    - A hook that fails is logged, not raised: the data is committed, and what mirrors it in memory catches up
      from the database.
    """
    if in_autocommit(session):
        _run_hook(fn)
        return
    hooks: list[tuple[object, Callable[[], None]]] | None = session.info.get(_HOOKS)
    if hooks is None:
        hooks = session.info[_HOOKS] = []
        event.listen(session, "after_commit", _run_hooks)
        event.listen(session, "after_soft_rollback", _drop_rolled_back)
        event.listen(session, "after_transaction_end", _forget_hooks)
    hooks.append((session.get_nested_transaction() or session.get_transaction(), fn))


def _run_hook(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - committed already; see after_commit
        log.exception("a post-commit hook failed")


def _run_hooks(session: Session) -> None:
    if session.get_nested_transaction() is not None:  # a savepoint was released: not committed yet
        return
    todo = session.info.get(_HOOKS) or []
    session.info[_HOOKS] = []
    for _, fn in todo:
        _run_hook(fn)


def _drop_rolled_back(session: Session, previous_transaction) -> None:
    def inside(tx) -> bool:
        while tx is not None:
            if tx is previous_transaction:
                return True
            tx = tx.parent
        return False

    hooks = session.info.get(_HOOKS)
    if hooks:
        session.info[_HOOKS] = [h for h in hooks if not inside(h[0])]


def _forget_hooks(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: run (after_commit) or never
        session.info[_HOOKS] = []


@overload
def aware(dt: datetime) -> datetime: ...
@overload
def aware(dt: None) -> None: ...
def aware(dt: datetime | None) -> datetime | None:
    """A stored timestamp as an aware UTC datetime: SQLite hands back ``DateTime(timezone=True)`` columns
    naive (in UTC), PostgreSQL aware."""
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt
