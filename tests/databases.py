"""The test databases: which back-ends run, how their schema is made, and how each test is isolated.

- :func:`choose_backends` decides the back-ends from ``SMARTBANK_TEST_DATABASES``; PostgreSQL asked for
  (it is by default) but out of reach is an error, never a silent SQLite-only run.
- The schema is migrated once per test run into a template (PostgreSQL: a template database; SQLite: a
  file) that each worker, and each test asking for a fresh database, clones.
- :class:`SharedConnection`: by default a test runs on one connection per back-end inside an outer
  transaction that is rolled back at its end (see "Isolation" in ``tests/README.md``). Tests marked
  ``commits`` run on the real engine instead and the tables are emptied after them (:func:`empty_tables`).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool, StaticPool

from smartbank import db

KNOWN_BACKENDS = ("sqlite", "postgresql")
ASKED_FOR_SQLITE_ONLY = "SMARTBANK_TEST_DATABASES=sqlite"


class BackendUnavailable(Exception):
    """A back-end the run must cover cannot be reached."""


def choose_backends(setting: str | None, pg_reachable: Callable[[], bool], pg_url: str) -> list[str]:
    """The back-ends every database test runs on.

    ``setting`` is ``SMARTBANK_TEST_DATABASES`` (comma-separated; unset or empty: both). When PostgreSQL is
    among them and ``pg_reachable()`` says no, :class:`BackendUnavailable` explains how to start it or how to
    ask for SQLite only: a run never quietly drops a back-end."""
    chosen = [b.strip() for b in (setting or "").split(",") if b.strip()] or list(KNOWN_BACKENDS)
    unknown = [b for b in chosen if b not in KNOWN_BACKENDS]
    if unknown:
        raise BackendUnavailable(f"unknown test database {', '.join(unknown)!r} in SMARTBANK_TEST_DATABASES "
                                 f"(known: {', '.join(KNOWN_BACKENDS)})")
    if "postgresql" in chosen and not pg_reachable():
        raise BackendUnavailable(
            f"PostgreSQL is not reachable at {pg_url} (SMARTBANK_TEST_PG_URL), and the tests run on SQLite and "
            "PostgreSQL. Start it (`bash scripts/ensure-system.sh postgres`, which `make test` runs), point "
            f"SMARTBANK_TEST_PG_URL at a server, or ask for SQLite only: {ASKED_FOR_SQLITE_ONLY}.")
    return list(dict.fromkeys(chosen))


def pg_reachable(pg_url: str) -> bool:
    try:
        e = create_engine(db.normalise_url(pg_url), connect_args={"connect_timeout": 5})
        try:
            with e.connect() as c:
                c.execute(text("SELECT 1"))
        finally:
            e.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means: not usable
        return False


# ---------------------------------------------------------------------------------------------
# templates: the migration chain runs once per test run

# every database this suite creates starts with this prefix and the hour the PostgreSQL server made it (its own
# clock: the tests may run under a faked one), so that one left behind by a killed run can be dropped later
PREFIX = "sbtest_"
STALE_AFTER = timedelta(hours=12)
_STAMP = re.compile(rf"^{PREFIX}(\d{{10}})_")
_SERVER_NOW = text("SELECT CAST(now() AT TIME ZONE 'UTC' AS timestamp)")


def database_name(c: Connection, kind: str) -> str:
    return f"{PREFIX}{c.execute(_SERVER_NOW).scalar():%y%m%d%H%M}_{kind}_{uuid.uuid4().hex[:8]}"[:63]


def pg_database_url(pg_url: str, name: str) -> str:
    return pg_url.rsplit("/", 1)[0] + "/" + name


@contextmanager
def _pg_admin(pg_url: str) -> Iterator[Connection]:
    e = create_engine(db.normalise_url(pg_url), isolation_level="AUTOCOMMIT")
    try:
        with e.connect() as c:
            yield c
    finally:
        e.dispose()


def drop_stale_pg_databases(pg_url: str) -> list[str]:
    """Drop the test databases that runs killed before their clean-up left behind (older than half a day)."""
    dropped = []
    with _pg_admin(pg_url) as c:
        cutoff = c.execute(_SERVER_NOW).scalar() - STALE_AFTER
        for (name,) in c.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                 {"p": PREFIX + "%"}).all():
            m = _STAMP.match(name)
            if m and datetime.strptime(m.group(1), "%y%m%d%H%M") < cutoff:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                dropped.append(name)
    return dropped


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass
class Templates:
    """The migrated templates of one test run, shared by its workers through files in ``run_dir``."""

    run_dir: Path
    pg_url: str

    def _migrate(self, url: str) -> None:
        from smartbank.ops.migrate import upgrade

        upgrade(url)  # through an engine of its own, disposed: nothing stays connected to the template

    def sqlite_template(self) -> Path:
        path = self.run_dir / "sqlite-template.db"
        with _file_lock(self.run_dir / "sqlite-template.lock"):
            if not path.exists():
                tmp = path.with_suffix(".tmp")
                self._migrate(f"sqlite:///{tmp}")
                tmp.rename(path)
        return path

    def pg_template(self) -> str:
        record = self.run_dir / "pg-template.name"
        with _file_lock(self.run_dir / "pg-template.lock"):
            if not record.exists():
                with _pg_admin(self.pg_url) as c:
                    name = database_name(c, "template")
                    c.execute(text(f'CREATE DATABASE "{name}"'))
                self._migrate(pg_database_url(self.pg_url, name))
                record.write_text(name)
            return record.read_text().strip()

    def clone(self, backend: str, where: Path, kind: str) -> tuple[str, str | None]:
        """A new migrated database: ``(url, name of the PostgreSQL database to drop or None)``."""
        if backend == "sqlite":
            where.mkdir(parents=True, exist_ok=True)
            path = where / f"{kind}-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(self.sqlite_template(), path)
            return f"sqlite:///{path}", None
        if backend == "postgresql":
            template = self.pg_template()
            # one copy at a time: PostgreSQL refuses to copy a template while another session uses it
            with _file_lock(self.run_dir / "pg-template.lock"), _pg_admin(self.pg_url) as c:
                name = database_name(c, kind)
                c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
                # a commit returns before its WAL is flushed: a test's data need not survive a crash of the
                # PostgreSQL server (the application killed mid-write is still tested: the server keeps what it
                # acknowledged). Per-database settings are not copied from a template, hence here.
                c.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
            return pg_database_url(self.pg_url, name), name
        raise ValueError(f"unknown test database {backend!r}")

    def drop_later(self, name: str) -> None:
        """Drop this PostgreSQL database at the end of the run (:meth:`drop_all`), not now: a DROP DATABASE
        waits a second or two for the server's checkpoint."""
        with _file_lock(self.run_dir / "pg-drop.lock"), open(self.run_dir / "pg-drop.names", "a") as f:
            f.write(name + "\n")

    def drop_all(self) -> subprocess.Popen | None:
        """The end of the run: drop its PostgreSQL databases (the template, the workers', the fresh ones) in a
        process of their own that outlives the run. Whatever a killed run leaves behind, a later run drops
        (:func:`drop_stale_pg_databases`)."""
        names = []
        for record in (self.run_dir / "pg-drop.names", self.run_dir / "pg-template.name"):
            if record.exists():
                names += [n for n in record.read_text().split() if n.startswith(PREFIX)]
                record.unlink()
        if not names:
            return None
        return subprocess.Popen([sys.executable, "-c", _DROPPER, _libpq_url(self.pg_url), *names],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)


_DROPPER = """
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    for name in sys.argv[2:]:
        c.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name.replace('"', ''))
"""


def _libpq_url(url: str) -> str:
    return db.normalise_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


# ---------------------------------------------------------------------------------------------
# emptying the tables (the tests that commit)


# kept when the tables are emptied: the data key the migrations made (version 1, wrapped by the tests' fixed
# master key), as a bank's own data keys outlive its data; the versions a committing test added (a rotation, a
# backup's source) are removed and version 1 is the active one again, as in the template
KEPT_TABLES = frozenset({"data_keys"})
_RESET_KEYS = ("DELETE FROM data_keys WHERE version > 1", "UPDATE data_keys SET status = 'active' WHERE version = 1")


def table_names() -> list[str]:
    """Every table of the schema, parents before children (from the models, never a hand-written list)."""
    import smartbank.models  # noqa: F401 - registers every table

    return [t.name for t in db.Base.metadata.sorted_tables]


def empty_tables(engine: Engine) -> None:
    """Delete every row, children first, and restart the id sequences, in one round trip. (DELETE of a few
    rows costs milliseconds where PostgreSQL's TRUNCATE of 66 tables costs a second.)"""
    tables = [t for t in table_names() if t not in KEPT_TABLES]
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.exec_driver_sql("; ".join([*(f'DELETE FROM "{t}"' for t in reversed(tables)), *_RESET_KEYS]))
            c.execute(text(restart_sequences_sql(c)))
        else:
            for t in reversed(tables):
                c.exec_driver_sql(f'DELETE FROM "{t}"')
            for statement in _RESET_KEYS:
                c.exec_driver_sql(statement)
            if c.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first():
                c.exec_driver_sql("DELETE FROM sqlite_sequence")


_SEQUENCES = text("SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences"
                  " WHERE schemaname = current_schema()")


def restart_sequences_sql(c: Connection) -> str:
    """PostgreSQL: one statement that starts every id sequence again at 1 (sequences ignore rollbacks)."""
    names = c.execute(_SEQUENCES).scalars().all()
    return "SELECT " + (", ".join(f"setval('{n}', 1, false)" for n in names) or "1")


def restart_sequences(engine: Engine) -> None:
    """Ids start again at 1, as after TRUNCATE ... RESTART IDENTITY (SQLite reuses ids of deleted rows itself)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text(restart_sequences_sql(c)))


# ---------------------------------------------------------------------------------------------
# rollback isolation


class SharedConnectionMisuse(Exception):
    """The test did something one connection cannot stand in for: it needs real commits."""


_HINT = ("mark the test `@pytest.mark.commits` (real commits; tables emptied after it), see tests/README.md")
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|CREATE|DROP|ALTER|COPY)\b|sb_transfer\(", re.I)


@dataclass(eq=False)
class _Frame:
    """One transaction of the code under test, played as a savepoint of the test's transaction."""

    owner: Connection
    name: str
    autocommit: bool
    wrote: bool = False
    holds_released_writes: bool = False  # a transaction inside it committed writes


class _SharedPool(StaticPool):
    """The one connection of a test engine. ``engine.dispose()`` by the code under test must not close it."""

    def dispose(self) -> None:
        pass


@dataclass(eq=False)
class SharedConnection:
    """One connection to a worker's database, and two engines over it that the code under test gets from
    ``db.get_engine`` and ``db.autocommit_engine`` during a test (:meth:`test`).

    The test runs inside one transaction, rolled back at its end. Every transaction the code under test opens
    on these engines (sessions, ``engine.connect()``/``begin()``, the API's requests in the TestClient's
    threads, the CLI) is a savepoint inside it: its COMMIT releases the savepoint, its ROLLBACK rolls back to
    it. PostgreSQL's autocommit units of work (``db.run_read``/``run_single_write``) keep what they wrote unless
    their statement failed. Sequences restart at every test, as after a TRUNCATE ... RESTART IDENTITY.

    What one connection cannot reproduce is refused loudly, asking for ``@pytest.mark.commits``: two threads
    using the database at once, and a second connection to the same database (it would not see the test's
    rows, nor be rolled back). Transactions ending out of order are noted in :attr:`notes` (reported with a
    failure).
    """

    real: Engine
    frames: list[_Frame] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    statements: int = 0
    active: bool = False

    def __post_init__(self) -> None:
        self.backend = self.real.dialect.name
        self._fairy = self.real.raw_connection()  # checked out of the real engine's pool for the whole session
        self.dbapi: Any = self._fairy.driver_connection
        self._dbapi_id = id(self.dbapi)
        self._seq = 0
        self._busy: int | None = None
        self._guard = threading.Lock()
        self._restart_sequences: str | None = None
        self.where = self._where(self.dbapi)
        self.engine = self._make_engine(autocommit=False)
        self.autocommit = self._make_engine(autocommit=True) if self.backend == "postgresql" else self.engine
        event.listen(Pool, "checkout", self._on_checkout)

    # -- the engines

    def _make_engine(self, *, autocommit: bool) -> Engine:
        e = create_engine(self.real.url, poolclass=_SharedPool, creator=lambda: self.dbapi, pool_reset_on_return=None)
        with e.connect():  # the dialect's first-connect initialisation, before the hooks below
            pass
        self._raw_rollback()
        # BEGIN/COMMIT/ROLLBACK become savepoint statements issued by the listeners
        e.dialect.do_begin = lambda dbapi_connection: None  # type: ignore[method-assign]
        e.dialect.do_commit = lambda dbapi_connection: None  # type: ignore[method-assign]
        e.dialect.do_rollback = lambda dbapi_connection: None  # type: ignore[method-assign]
        event.listen(e, "begin", lambda conn: self._begin(conn, autocommit))
        event.listen(e, "commit", self._commit)
        event.listen(e, "rollback", self._rollback)
        event.listen(e, "before_cursor_execute", self._before_statement)
        event.listen(e, "after_cursor_execute", self._after_statement)
        event.listen(e, "handle_error", self._statement_failed)
        return e

    def _raw(self, sql: str) -> None:
        cur = self.dbapi.cursor()
        try:
            cur.execute(sql)
        finally:
            cur.close()

    def _raw_rollback(self) -> None:
        if self.backend == "sqlite":
            if self.dbapi.in_transaction:
                self._raw("ROLLBACK")
        else:
            self.dbapi.rollback()

    def _pg_in_error(self) -> bool:
        if self.backend != "postgresql":
            return False
        from psycopg.pq import TransactionStatus

        return self.dbapi.info.transaction_status == TransactionStatus.INERROR

    @staticmethod
    def _where(dbapi: Any) -> str:
        """Which database a DBAPI connection is connected to."""
        info = getattr(dbapi, "info", None)
        if info is not None and hasattr(info, "dbname"):  # psycopg
            return f"postgresql:{info.host}:{info.port}/{info.dbname}"
        cur = dbapi.cursor()
        try:
            files = [row[2] for row in cur.execute("PRAGMA database_list") if row[1] == "main"]
        finally:
            cur.close()
        return f"sqlite:{os.path.realpath(files[0]) if files and files[0] else ''}"

    # -- one test

    @contextmanager
    def test(self, url: str) -> Iterator[None]:
        """Run the block as one test: inside a transaction rolled back at the end."""
        if self.backend == "postgresql":
            if self._restart_sequences is None:
                with self.real.connect() as c:
                    self._restart_sequences = restart_sequences_sql(c)
            self._raw(self._restart_sequences)  # non-transactional; starts the test's transaction
        else:
            self._raw("BEGIN")
        self.frames.clear()
        self.notes.clear()
        self.statements = 0
        self.active = True
        try:
            with db.engine_override(url, self.engine, autocommit=self.autocommit):
                yield
        finally:
            self.active = False
            self.frames.clear()
            self._busy = None
            self._raw_rollback()

    # -- transactions of the code under test

    def _alone(self) -> None:
        """Refuse a thread that comes while another thread's statement runs on the connection."""
        busy = self._busy
        if busy is not None and busy != threading.get_ident():
            raise SharedConnectionMisuse("two threads used the test's database at the same time: " + _HINT)

    def _begin(self, conn: Connection, autocommit: bool) -> None:
        self._alone()
        if not self.active:
            raise SharedConnectionMisuse("a test engine was used outside its test (an engine kept in a cache "
                                         "from an earlier test?)")
        self._seq += 1
        frame = _Frame(conn, f"sbtest_{self._seq}", autocommit)
        self._raw(f"SAVEPOINT {frame.name}")
        self.frames.append(frame)

    def _find(self, conn: Connection) -> int | None:
        for i in range(len(self.frames) - 1, -1, -1):
            if self.frames[i].owner is conn:
                return i
        return None

    def _commit(self, conn: Connection) -> None:
        self._alone()
        i = self._find(conn)
        if i is None:
            return  # ended already, by an earlier transaction ending out of order (noted then)
        frame = self.frames[i]
        if self._pg_in_error():  # COMMIT of a failed transaction is a ROLLBACK in PostgreSQL
            self._end(i, rollback=True)
            return
        self._end(i, rollback=False)
        if frame.wrote and self.frames:
            self.frames[-1].holds_released_writes = True

    def _rollback(self, conn: Connection) -> None:
        self._alone()
        i = self._find(conn)
        if i is None:
            return
        frame = self.frames[i]
        if frame.autocommit and not self._pg_in_error():
            # autocommit mode: every statement that succeeded has committed on its own
            self._end(i, rollback=False)
            if frame.wrote and self.frames:
                self.frames[-1].holds_released_writes = True
            return
        if frame.holds_released_writes:
            self.notes.append(f"a transaction rolled back what a transaction inside it had committed ({frame.name})")
        self._end(i, rollback=True)

    def _end(self, i: int, *, rollback: bool) -> None:
        frame = self.frames[i]
        if i != len(self.frames) - 1:
            self.notes.append(f"a transaction ended ({frame.name}) while {len(self.frames) - 1 - i} later one(s) "
                              "on other connections were still open")
        if rollback:
            self._raw(f"ROLLBACK TO SAVEPOINT {frame.name}")
        self._raw(f"RELEASE SAVEPOINT {frame.name}")
        del self.frames[i:]

    # -- statements

    def _before_statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        me = threading.get_ident()
        with self._guard:
            if self._busy is not None and self._busy != me:
                raise SharedConnectionMisuse("two threads used the test's database at the same time: " + _HINT)
            self._busy = me
        self.statements += 1
        if _WRITE.search(statement):
            i = self._find(conn)
            if i is not None:
                self.frames[i].wrote = True

    def _after_statement(self, *args: Any) -> None:
        self._busy = None

    def _statement_failed(self, context: Any) -> None:
        self._busy = None

    def _on_checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if not self.active or id(dbapi_connection) == self._dbapi_id:
            return
        try:
            where = self._where(dbapi_connection)
        except Exception:  # noqa: BLE001 - another kind of connection: not ours
            return
        if where == self.where:
            raise SharedConnectionMisuse(
                "the test opened a second connection to its database (an engine of its own?), which would not "
                "see the test's uncommitted rows nor be rolled back with them: " + _HINT)

    def close(self) -> None:
        event.remove(Pool, "checkout", self._on_checkout)
        self._raw_rollback()
        self._fairy.close()
