"""Encrypted, self-describing backups of the bank's database (``smartbank db backup`` / ``smartbank db restore``).

A backup is one file::

    MAGIC (10 bytes) | backup id (16 random bytes) | master key id | the backup's key, wrapped | frame | ...
    frame = flag (1 byte: 0 more, 1 last) | length (4 bytes, big-endian) | nonce | AES-256-GCM chunk and tag

Envelope encryption: each backup has a random AES-256 key of its own, wrapped by the platform's master key
through the security KeyProvider (the interface a KMS implements; the master key never enters the file or
the database). The first frame holds the manifest (JSON), the following ones the payload in chunks of
:data:`CHUNK` bytes. Every chunk carries in its associated data the backup id, a digest of the header, the
section, its number and whether it is the last one: a chunk altered, moved, swapped in from another backup,
or a file cut short or lengthened is refused before anything is written; a backup made under another master
key is refused naming both key ids.

The payload is a consistent snapshot of the whole database:

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies every page in one step under one read
  transaction, so the copy is consistent while the app writes (WAL mode: writers are not blocked);
- PostgreSQL: ``pg_dump`` in custom format (``-Fc``) reading the snapshot exported by a REPEATABLE READ
  transaction of ours, in which the manifest's row counts and journal head are read too.

The manifest: format, time (:mod:`smartbank.clock`), back-end, schema revision (the database's Alembic
revision), the journal's head (latest seal) with the checkpoint that anchored it and the ledger key's public
id, row counts per table, the app version, and the payload's size and SHA-256.

``restore`` checks the manifest against the payload (SHA-256, row counts, schema revision, journal head) and
the target (back-end, a revision this code knows, the same ledger key, an empty database unless ``force``),
then replaces the target's content in one step: SQLite through the backup API into the target file,
PostgreSQL through ``pg_restore`` piped into one ``psql --single-transaction`` that drops and recreates the
schema first and re-checks the counts and the journal head last (any difference rolls everything back).
Finally the restored journal's head is checkpointed as a new history of the target (the ledger key signs
it) and the ledger is verified.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from smartbank import __version__, clock, db
from smartbank.config import get_settings
from smartbank.errors import SmartbankError
from smartbank.ledger import service as ledger
from smartbank.ops import migrate
from smartbank.security import service as security

log = logging.getLogger("smartbank.ops.backup")

MAGIC = b"SBBACKUP1\n"
ID_BYTES = 16
CHUNK = 1 << 20  # 1 MiB of plaintext per sealed chunk
FORMAT = 1
MAX_FRAME = CHUNK + 4096  # a sealed chunk: the plaintext and the envelope's few dozen bytes
MAX_MANIFEST = 16 << 20
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BackupError(SmartbankError):
    """A backup that cannot be made, or a restore refused (nothing was written to the target)."""

    status_code = 422
    code = "backup_refused"


# ----------------------------------------------------------------------------------------------
# sealing: a key of its own per backup, wrapped by the platform's master key (the security KeyProvider)
#
# Not the key ring's data keys (security.encrypt_bytes): those live, wrapped, in the database's own
# ``data_keys`` table, so a backup sealed under one could be opened only with the database it contains. The
# per-backup key is wrapped by the master key through the KeyProvider interface (a KMS's encrypt call), so a
# restore into an empty database needs only the master key (or the KMS) the bank already holds.


class _Envelope:
    def __init__(self, backup_id: bytes, key: bytes, header: bytes):
        self.id, self._aead = backup_id, AESGCM(key)
        self._bind = hashlib.sha256(header).hexdigest()[:32]

    def _aad(self, section: str, n: int, last: bool) -> bytes:
        return f"smartbank-backup/v{FORMAT}/{self.id.hex()}/{self._bind}/{section}/{n}/{'last' if last else 'more'}"\
            .encode()

    def seal(self, data: bytes, section: str, n: int, last: bool) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, data, self._aad(section, n, last))

    def open(self, blob: bytes, section: str, n: int, last: bool) -> bytes:
        return self._aead.decrypt(blob[:12], blob[12:], self._aad(section, n, last))


def _wrap_aad(backup_id: bytes) -> bytes:
    return b"smartbank backup key|" + backup_id


def _header(backup_id: bytes, key_id: str, wrapped: bytes) -> bytes:
    kid = key_id.encode()
    return MAGIC + backup_id + struct.pack(">H", len(kid)) + kid + struct.pack(">H", len(wrapped)) + wrapped


class _Writer:
    def __init__(self, fh: IO[bytes], backup_id: bytes | None = None, key: bytes | None = None):
        provider = security.key_provider()
        backup_id = backup_id or secrets.token_bytes(ID_BYTES)
        key = key or secrets.token_bytes(32)
        header = _header(backup_id, provider.key_id, provider.wrap(key, aad=_wrap_aad(backup_id)))
        self.fh, self.env = fh, _Envelope(backup_id, key, header)
        fh.write(header)

    def frame(self, section: str, n: int, data: bytes, *, last: bool) -> None:
        blob = self.env.seal(data, section, n, last)
        self.fh.write(struct.pack(">BI", 1 if last else 0, len(blob)) + blob)

    def section(self, name: str, chunks: Iterator[bytes]) -> None:
        """Seal ``chunks`` (at least one, possibly empty) as one section; the last one says so."""
        n, pending = 0, None
        for c in chunks:
            if pending is not None:
                self.frame(name, n, pending, last=False)
                n += 1
            pending = c
        self.frame(name, n, pending if pending is not None else b"", last=True)


class _Reader:
    def __init__(self, fh: IO[bytes], where: str):
        self.fh, self.where = fh, where
        head = fh.read(len(MAGIC) + ID_BYTES)
        if len(head) < len(MAGIC) + ID_BYTES or not head.startswith(MAGIC):
            raise BackupError(f"{where} is not a smartbank backup (no backup header)", code="backup_not_a_backup")
        self.id = head[len(MAGIC):]
        key_id = self._field().decode(errors="replace")
        wrapped = self._field()
        self.key_id = key_id
        provider = security.key_provider()
        try:
            self.key = provider.unwrap(wrapped, aad=_wrap_aad(self.id))
        except (security.KeyRingError, InvalidTag, ValueError) as exc:
            if key_id != provider.key_id:
                raise BackupError(
                    f"cannot open {where}: it was encrypted under master key {key_id}, and the master key configured"
                    f" here is {provider.key_id}: set SMARTBANK_MASTER_KEY(_FILE) to the bank's master key",
                    code="backup_wrong_key") from exc
            raise BackupError(f"cannot open {where}: its key does not unwrap with the master key (the file was"
                              " altered)", code="backup_tampered") from exc
        self.env = _Envelope(self.id, self.key, _header(self.id, key_id, wrapped))

    def _field(self) -> bytes:
        raw = self.fh.read(2)
        if len(raw) < 2:
            raise BackupError(f"{self.where} is truncated inside its header", code="backup_truncated")
        (size,) = struct.unpack(">H", raw)
        data = self.fh.read(size)
        if len(data) < size:
            raise BackupError(f"{self.where} is truncated inside its header", code="backup_truncated")
        return data

    def section(self, name: str, limit: int) -> Iterator[bytes]:
        n = 0
        while True:
            hdr = self.fh.read(5)
            if len(hdr) < 5:
                raise BackupError(f"{self.where} is truncated: the {name} ends after chunk {n} without its last"
                                  " chunk", code="backup_truncated")
            flag, size = struct.unpack(">BI", hdr)
            if flag not in (0, 1) or size > limit:
                raise BackupError(f"{self.where} is damaged: chunk {n} of the {name} has an impossible header",
                                  code="backup_tampered")
            blob = self.fh.read(size)
            if len(blob) < size:
                raise BackupError(f"{self.where} is truncated inside chunk {n} of the {name}",
                                  code="backup_truncated")
            try:
                data = self.env.open(blob, name, n, flag == 1)
            except InvalidTag as exc:
                raise BackupError(f"{self.where} was altered: chunk {n} of the {name} does not authenticate"
                                  " (changed, moved or taken from another backup)", code="backup_tampered") from exc
            yield data
            n += 1
            if flag == 1:
                return

    def at_end(self) -> None:
        if self.fh.read(1):
            raise BackupError(f"{self.where} has data after its last chunk: it was altered",
                              code="backup_tampered")


# ----------------------------------------------------------------------------------------------
# the manifest


@dataclass
class Manifest:
    created_at: str
    backend: str
    schema_revision: str | None
    ledger: dict[str, Any]
    row_counts: dict[str, int]
    app_version: str
    payload: dict[str, Any]
    format: int = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "created_at": self.created_at, "backend": self.backend,
                "schema_revision": self.schema_revision, "ledger": self.ledger, "row_counts": self.row_counts,
                "app_version": self.app_version, "payload": self.payload, **self.extra}

    @classmethod
    def parse(cls, raw: bytes, where: str) -> Manifest:
        try:
            d = json.loads(raw)
            known = {"format", "created_at", "backend", "schema_revision", "ledger", "row_counts", "app_version",
                     "payload"}
            m = cls(created_at=str(d["created_at"]), backend=str(d["backend"]),
                    schema_revision=d["schema_revision"], ledger=dict(d["ledger"]),
                    row_counts={str(k): int(v) for k, v in d["row_counts"].items()},
                    app_version=str(d["app_version"]), payload=dict(d["payload"]), format=int(d["format"]),
                    extra={k: v for k, v in d.items() if k not in known})
            int(m.ledger["seq"]), str(m.ledger["hash"]), str(m.payload["sha256"]), int(m.payload["bytes"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"the manifest of {where} is not readable", code="backup_bad_manifest") from exc
        if m.format != FORMAT:
            raise BackupError(f"{where} is a backup of format {m.format}; this version reads format {FORMAT}",
                              code="backup_bad_manifest")
        return m


def app_version() -> str:
    try:
        return metadata.version("smartbank")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return __version__


# ----------------------------------------------------------------------------------------------
# reading a database: tables, counts, revision, journal head


def _tables(c: Connection) -> list[str]:
    if c.dialect.name == "sqlite":
        q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    else:
        q = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    return [r[0] for r in c.execute(text(q))]


def _row_counts(c: Connection) -> dict[str, int]:
    out = {}
    for t in _tables(c):
        if not _IDENT.match(t):
            raise BackupError(f"table {t!r} has a name this backup format does not carry")
        out[t] = int(c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() or 0)
    return out


def _revision(c: Connection) -> str | None:
    if "alembic_version" not in _tables(c):
        return None
    rows = [r[0] for r in c.execute(text("SELECT version_num FROM alembic_version"))]
    return rows[0] if len(rows) == 1 else None


def _journal(session: Session, source: URL) -> dict[str, Any]:
    h = ledger.journal_head(session)
    cp = ledger.journal_anchor(source, covering=h["seq"])
    return {**h, "key_id": ledger.ledger_key_id(ledger.ledger_key()),
            "checkpoint": None if cp is None else {k: cp[k] for k in ("seq", "hash", "at")}}


def _master_key_ids(c: Connection) -> list[str]:
    """The master keys the database's data keys are wrapped by (its personal data needs them)."""
    if "data_keys" not in _tables(c):
        return []
    return sorted({r[0] for r in c.execute(text("SELECT DISTINCT master_key_id FROM data_keys"))})


def _describe(session: Session, source: URL | None = None) -> dict[str, Any]:
    """Schema revision, row counts and journal head of the database ``session`` reads (a snapshot of the
    database at ``source``, whose checkpoints anchor the head), and the master keys of its data keys."""
    c = session.connection()
    return {"schema_revision": _revision(c), "row_counts": _row_counts(c),
            "ledger": _journal(session, source if source is not None else session.get_bind().engine.url),
            "data_key_masters": _master_key_ids(c)}


# what a freshly migrated database already holds: the schema's revision and the key ring's first data key
# (which encrypts nothing yet)
_BOOKKEEPING = frozenset({"alembic_version", "data_keys"})


def _has_rows(c: Connection) -> list[str]:
    return [t for t in _tables(c) if t not in _BOOKKEEPING and _IDENT.match(t)
            and c.execute(text(f'SELECT 1 FROM "{t}" LIMIT 1')).first() is not None]


# ----------------------------------------------------------------------------------------------
# PostgreSQL client programs


@dataclass(frozen=True)
class PgTools:
    pg_dump: str
    pg_restore: str
    psql: str
    major: int


def _major(program: str) -> int:
    out = subprocess.run([program, "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"PostgreSQL\)\s+(\d+)", out) or re.search(r"(\d+)\.\d+", out)
    if not m:  # pragma: no cover
        raise BackupError(f"cannot tell the version of {program} from {out.strip()!r}")
    return int(m.group(1))


def _candidates() -> list[Path]:
    dirs: list[Path] = []
    if env := os.environ.get("SMARTBANK_PG_BIN_DIR"):
        dirs.append(Path(env))
    for base in (Path("/usr/lib/postgresql"), Path("/usr/local/pgsql")):
        if base.is_dir():
            dirs += sorted((p / "bin" for p in base.iterdir() if (p / "bin").is_dir()),
                           key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for prog in ("pg_dump",):
        if found := shutil.which(prog):
            dirs.append(Path(found).parent)
    return dirs


def find_pg_tools(server_major: int) -> PgTools:
    """The client programs to use against a server of ``server_major``: ``SMARTBANK_PG_BIN_DIR`` first, then the
    versioned directories (``/usr/lib/postgresql/<major>/bin``, newest first), then ``PATH``; the first directory
    holding all three whose version is at least the server's (pg_dump refuses a newer server)."""
    seen: list[str] = []
    for d in _candidates():
        progs = [d / p for p in ("pg_dump", "pg_restore", "psql")]
        if not all(p.is_file() and os.access(p, os.X_OK) for p in progs):
            continue
        major = _major(str(progs[0]))
        seen.append(f"{d} ({major})")
        if major >= server_major:
            return PgTools(str(progs[0]), str(progs[1]), str(progs[2]), major)
    if not seen:
        raise BackupError("the PostgreSQL client programs (pg_dump, pg_restore, psql) are not installed: install"
                          " postgresql-client (scripts/ensure-system.sh postgres) or set SMARTBANK_PG_BIN_DIR",
                          code="backup_no_pg_tools")
    raise BackupError(f"the database server is PostgreSQL {server_major}, but the client programs found are older"
                      f" ({', '.join(seen)}): install postgresql-client-{server_major} or newer, or point"
                      " SMARTBANK_PG_BIN_DIR at its bin directory", code="backup_pg_version_mismatch")


def _pg_env(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password (which goes in PGPASSWORD, out of the process list)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _server_major(c: Connection) -> int:
    return int(c.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _run(cmd: list[str], env: dict[str, str], what: str, **kw: Any) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, capture_output=True, **kw)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip() if isinstance(proc.stderr, bytes) else proc.stderr
        raise BackupError(f"{what} failed: {err[-2000:]}", code="backup_pg_failed")
    return proc


# ----------------------------------------------------------------------------------------------
# backup


@dataclass
class BackupResult:
    path: Path
    manifest: Manifest

    def as_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {"file": str(self.path), "backend": m.backend, "created_at": m.created_at,
                "schema_revision": m.schema_revision, "journal_head": {"seq": m.ledger["seq"],
                                                                        "hash": m.ledger["hash"]},
                "tables": len(m.row_counts), "rows": sum(m.row_counts.values()),
                "payload_bytes": m.payload["bytes"], "bytes": self.path.stat().st_size}


@contextmanager
def _private_dir() -> Iterator[Path]:
    """A directory only this user can read, removed afterwards: where the plaintext snapshot lives briefly."""
    d = Path(tempfile.mkdtemp(prefix="smartbank-backup-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _sqlite_engine(path: Path):
    return create_engine(f"sqlite:///{path}", poolclass=NullPool)


def _sqlite_snapshot(src: Path, dst: Path) -> None:
    """Copy the live database into ``dst`` in one step of the online backup API (one read transaction: a
    consistent snapshot while others write), as a self-contained file (no WAL)."""
    if not src.exists():
        raise BackupError(f"the SQLite database {src} does not exist")
    source = sqlite3.connect(str(src), timeout=30)
    target = sqlite3.connect(str(dst))
    try:
        source.backup(target)  # pages=-1: everything in one step
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    for c in _file_chunks(path):
        h.update(c)
    return h.hexdigest()


@contextmanager
def _database_errors(what: str) -> Iterator[None]:
    """A database that cannot be reached or read is a clear refusal, not a traceback."""
    try:
        yield
    except (OperationalError, sqlite3.OperationalError) as exc:
        raise BackupError(f"{what}: the database could not be reached or read ({getattr(exc, 'orig', exc)})",
                          code="backup_database_unavailable") from exc


def backup(out: Path | str, *, url: str | None = None, overwrite: bool = False) -> BackupResult:
    """Write an encrypted backup of the database at ``url`` (default: the configured one) to ``out``."""
    with _database_errors("no backup"):
        return _backup(out, url=url, overwrite=overwrite)


def _backup(out: Path | str, *, url: str | None = None, overwrite: bool = False) -> BackupResult:
    out = Path(out)
    if out.exists() and not overwrite:
        raise BackupError(f"{out} exists: choose another name (or overwrite it explicitly)", code="backup_exists")
    sa_url = make_url(db.normalise_url(url or get_settings().database_url))
    backend = sa_url.get_backend_name()
    with _private_dir() as work:
        payload = work / "payload"
        extra: dict[str, Any] = {}
        if backend == "sqlite":
            _sqlite_snapshot(_sqlite_path(sa_url), payload)
            eng = _sqlite_engine(payload)
            try:
                with Session(eng) as s:
                    desc = _describe(s, sa_url)
            finally:
                eng.dispose()
            fmt = "sqlite3"
        elif backend == "postgresql":
            desc, extra = _pg_dump(sa_url, payload)
            fmt = "pg_dump-custom"
        else:
            raise BackupError(f"backing up a {backend} database is not supported")
        manifest = Manifest(
            created_at=clock.now().isoformat(), backend=backend, schema_revision=desc["schema_revision"],
            ledger=desc["ledger"], row_counts=desc["row_counts"], app_version=app_version(),
            payload={"format": fmt, "bytes": payload.stat().st_size, "sha256": _sha256(payload),
                     "chunk_bytes": CHUNK}, extra={**extra, "data_key_masters": desc["data_key_masters"]})
        tmp = out.with_name(out.name + ".partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                w = _Writer(fh)
                w.section("manifest", iter([json.dumps(manifest.as_dict(), sort_keys=True).encode()]))
                w.section("payload", _file_chunks(payload))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    log.info("backup of the %s database written to %s (%s rows, journal head #%s)", backend, out,
             sum(manifest.row_counts.values()), manifest.ledger["seq"])
    return BackupResult(out, manifest)


def _pg_dump(url: URL, payload: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """pg_dump of the snapshot in which the manifest's facts are read (an exported REPEATABLE READ snapshot)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with Session(engine) as s:
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            s.execute(text("SET TRANSACTION READ ONLY"))
            snapshot = s.execute(text("SELECT pg_export_snapshot()")).scalar()
            c = s.connection()
            major = _server_major(c)
            schema = c.execute(text("SELECT current_schema()")).scalar()
            desc = _describe(s, url)
            tools = find_pg_tools(major)
            conninfo, env = _pg_env(url)
            _run([tools.pg_dump, "--format=custom", f"--snapshot={snapshot}", "--no-password",
                  f"--file={payload}", f"--dbname={conninfo}"], env, "pg_dump")
            s.rollback()
    finally:
        engine.dispose()
    return desc, {"postgresql": {"server_major": major, "pg_dump_major": tools.major, "schema": schema}}


# ----------------------------------------------------------------------------------------------
# restore


@dataclass
class RestoreResult:
    manifest: Manifest
    target: str
    verify: dict[str, Any]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return bool(self.verify.get("ok"))

    def as_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {"restored": True, "target": self.target, "backend": m.backend, "backup_created_at": m.created_at,
                "schema_revision": m.schema_revision, "journal_head": {"seq": m.ledger["seq"],
                                                                        "hash": m.ledger["hash"]},
                "rows": sum(m.row_counts.values()), "verify_ok": self.ok,
                "verify_problems": self.verify.get("problems", []), "notes": self.notes}


def read_manifest(path: Path | str) -> Manifest:
    """The manifest of a backup file (authenticated with the platform's key)."""
    path = Path(path)
    with open(path, "rb") as fh:
        r = _Reader(fh, str(path))
        return Manifest.parse(b"".join(r.section("manifest", MAX_MANIFEST)), str(path))


def _unpack(path: Path, payload: Path) -> Manifest:
    """Authenticate the whole file, writing the payload to ``payload``; check its size and SHA-256."""
    where = str(path)
    if not path.is_file():
        raise BackupError(f"{path} does not exist", code="backup_not_found")
    with open(path, "rb") as fh, open(payload, "wb") as out:
        r = _Reader(fh, where)
        manifest = Manifest.parse(b"".join(r.section("manifest", MAX_MANIFEST)), where)
        h = hashlib.sha256()
        size = 0
        for chunk in r.section("payload", MAX_FRAME):
            h.update(chunk)
            size += len(chunk)
            out.write(chunk)
        r.at_end()
    if size != int(manifest.payload["bytes"]) or h.hexdigest() != manifest.payload["sha256"]:
        raise BackupError(f"the payload of {where} does not match its manifest (size {size}, manifest"
                          f" {manifest.payload['bytes']}; SHA-256 {h.hexdigest()[:16]}..., manifest"
                          f" {str(manifest.payload['sha256'])[:16]}...)", code="backup_manifest_mismatch")
    return manifest


def _check_manifest(m: Manifest, backend: str) -> list[str]:
    notes: list[str] = []
    if m.backend != backend:
        raise BackupError(f"this is a backup of a {m.backend} database; the target is {backend}: a backup is"
                          " restored on the back-end it was taken from", code="backup_wrong_backend")
    if m.schema_revision is None or not migrate.known_revision(m.schema_revision):
        raise BackupError(f"the backup's schema revision {m.schema_revision!r} is not one this version of smartbank"
                          f" knows (its migrations end at {migrate.head_revision()})",
                          code="backup_unknown_revision")
    if m.schema_revision != migrate.head_revision():
        notes.append(f"the backup's schema is at revision {m.schema_revision}; run `smartbank db upgrade` to bring"
                     f" it to {migrate.head_revision()}")
    mine = ledger.ledger_key_id(ledger.ledger_key())
    if m.ledger.get("key_id") != mine:
        raise BackupError(f"the backup's journal was sealed with ledger key {m.ledger.get('key_id')}; this"
                          f" installation's ledger key is {mine}: restore with the bank's ledger key"
                          " (SMARTBANK_LEDGER_KEY / SMARTBANK_LEDGER_KEY_FILE), or the journal will not verify",
                          code="backup_wrong_ledger_key")
    master = security.key_provider().key_id
    foreign = [k for k in m.extra.get("data_key_masters") or [] if k != master]
    if foreign:
        raise BackupError(f"the backup's personal data is encrypted under data keys wrapped by master key"
                          f" {', '.join(foreign)}; the master key configured here is {master}: restored, it could"
                          " not be read", code="backup_wrong_key")
    for t in m.row_counts:
        if not _IDENT.match(t):
            raise BackupError(f"the manifest names a table {t!r} that cannot exist", code="backup_bad_manifest")
    return notes


def _compare(m: Manifest, desc: dict[str, Any], what: str) -> None:
    problems = []
    if desc["schema_revision"] != m.schema_revision:
        problems.append(f"schema revision {desc['schema_revision']} (manifest {m.schema_revision})")
    if desc["row_counts"] != m.row_counts:
        diff = sorted(set(desc["row_counts"]) ^ set(m.row_counts))
        diff += [t for t in m.row_counts if t in desc["row_counts"] and desc["row_counts"][t] != m.row_counts[t]]
        problems.append("row counts of " + ", ".join(
            f"{t} {desc['row_counts'].get(t, '-')} (manifest {m.row_counts.get(t, '-')})" for t in diff[:10]))
    head = desc["ledger"]
    if (head["seq"], head["hash"]) != (int(m.ledger["seq"]), m.ledger["hash"]):
        problems.append(f"journal head #{head['seq']} (manifest #{m.ledger['seq']})")
    if problems:
        raise BackupError(f"{what} does not match the manifest: " + "; ".join(problems),
                          code="backup_manifest_mismatch")


def restore(path: Path | str, *, url: str | None = None, force: bool = False) -> RestoreResult:
    """Restore the backup at ``path`` into the database at ``url`` (default: the configured one)."""
    with _database_errors("not restored"):
        return _restore(path, url=url, force=force)


def _restore(path: Path | str, *, url: str | None = None, force: bool = False) -> RestoreResult:
    path = Path(path)
    target_url = db.normalise_url(url or get_settings().database_url)
    sa_url = make_url(target_url)
    backend = sa_url.get_backend_name()
    with _private_dir() as work:
        payload = work / "payload"
        manifest = _unpack(path, payload)
        notes = _check_manifest(manifest, backend)
        if backend == "sqlite":
            _sqlite_restore(manifest, payload, _sqlite_path(sa_url), force=force)
        elif backend == "postgresql":
            _pg_restore(manifest, payload, sa_url, force=force)
        else:  # pragma: no cover - _check_manifest refused it
            raise BackupError(f"restoring into a {backend} database is not supported")
    db.get_engine(target_url).dispose()  # pooled connections knew the replaced database
    security.reset_key_cache()  # and so did the key ring: the data keys are the restored ones now
    ledger.journal_anchor_restored(sa_url, seq=int(manifest.ledger["seq"]), head_hash=manifest.ledger["hash"],
                                   transfer_id=manifest.ledger.get("transfer_id"))
    def verify_and_record(s: Session) -> ledger.VerifyReport:
        rep = ledger.verify(s)
        security.audit(s, security.SYSTEM, action="database.restored", object_type="database", object_id=backend,
                       after={"backup_created_at": manifest.created_at, "schema_revision": manifest.schema_revision,
                              "journal_head_seq": int(manifest.ledger["seq"]), "journal_head": manifest.ledger["hash"],
                              "payload_sha256": manifest.payload["sha256"], "ledger_verified": rep.ok},
                       note=f"restored from {path.name}")
        return rep

    rep = db.run_in_transaction(verify_and_record, engine=db.get_engine(target_url))
    log.info("backup %s restored into the %s database (journal head #%s); ledger verify %s", path, backend,
             manifest.ledger["seq"], "ok" if rep.ok else "FAILED")
    return RestoreResult(manifest, sa_url.render_as_string(hide_password=True), rep.as_dict(), notes)


def _refuse_non_empty(c: Connection, force: bool) -> None:
    full = _has_rows(c)
    if full and not force:
        raise BackupError(f"the target database is not empty ({len(full)} tables hold rows, e.g."
                          f" {', '.join(full[:5])}): restore replaces everything in it; say so with --force",
                          code="backup_target_not_empty")


def _sqlite_restore(m: Manifest, payload: Path, target: Path, *, force: bool) -> None:
    staged = sqlite3.connect(str(payload))
    try:
        ok = staged.execute("PRAGMA integrity_check").fetchone()
        if not ok or ok[0] != "ok":
            raise BackupError(f"the backup's database fails SQLite's integrity check: {ok}",
                              code="backup_manifest_mismatch")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the backup's payload is not a SQLite database: {exc}",
                          code="backup_manifest_mismatch") from exc
    finally:
        staged.close()
    eng = _sqlite_engine(payload)
    try:
        with Session(eng) as s:
            _compare(m, _describe(s), "the backup's database")
    finally:
        eng.dispose()
    if target.exists():
        eng = _sqlite_engine(target)
        try:
            with eng.connect() as c:
                _refuse_non_empty(c, force)
        finally:
            eng.dispose()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(str(payload))
    dest = sqlite3.connect(str(target), timeout=30)
    try:
        dest.execute("PRAGMA busy_timeout=30000")
        source.backup(dest)  # every page in one step, under the target's write lock: all or nothing
        dest.execute("PRAGMA journal_mode=WAL")
    finally:
        dest.close()
        source.close()
    eng = _sqlite_engine(target)
    try:
        with Session(eng) as s:
            _compare(m, _describe(s), "the restored database")
    finally:
        eng.dispose()


def _pg_checks(m: Manifest, schema: str) -> str:
    """SQL run last in the restore's transaction: any difference from the manifest rolls the restore back."""
    def q(name: str) -> str:
        return f'"{schema}"."{name}"'

    lines = ["DO $smartbank$", "DECLARE n bigint; h text; v text;", "BEGIN"]
    lines.append(f"  SELECT count(*) INTO n FROM pg_tables WHERE schemaname = '{schema}';")
    lines.append(f"  IF n <> {len(m.row_counts)} THEN RAISE EXCEPTION 'smartbank restore: % tables restored, the"
                 f" manifest lists {len(m.row_counts)}', n; END IF;")
    for t, count in sorted(m.row_counts.items()):
        lines.append(f"  SELECT count(*) INTO n FROM {q(t)};")
        lines.append(f"  IF n <> {int(count)} THEN RAISE EXCEPTION 'smartbank restore: table {t} has % rows, the"
                     f" manifest says {int(count)}', n; END IF;")
    rev = str(m.schema_revision).replace("'", "")
    lines.append(f"  SELECT max(version_num) INTO v FROM {q('alembic_version')};")
    lines.append(f"  IF v IS DISTINCT FROM '{rev}' THEN RAISE EXCEPTION 'smartbank restore: schema revision %, the"
                 f" manifest says {rev}', v; END IF;")
    head = str(m.ledger["hash"]).replace("'", "")
    lines.append(f"  SELECT hash INTO h FROM {q('ledger_seals')} ORDER BY seq DESC LIMIT 1;")
    lines.append(f"  IF coalesce(h, '{ledger.JOURNAL_GENESIS}') <> '{head}' THEN RAISE EXCEPTION 'smartbank restore:"
                 f" the journal head differs from the manifest''s'; END IF;")
    lines += ["END", "$smartbank$;"]
    return "\n".join(lines) + "\n"


def _pg_restore(m: Manifest, payload: Path, url: URL, *, force: bool) -> None:
    info = m.extra.get("postgresql") or {}
    schema = str(info.get("schema") or "public")
    if not _IDENT.match(schema):
        raise BackupError(f"the manifest names a schema {schema!r} that cannot exist", code="backup_bad_manifest")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as c:
            major = _server_major(c)
            here = c.execute(text("SELECT current_schema()")).scalar()
            _refuse_non_empty(c, force)
    finally:
        engine.dispose()
    if here != schema:
        raise BackupError(f"the backup is of schema {schema}; the target's schema is {here}",
                          code="backup_wrong_backend")
    source_major = int(info.get("server_major") or 0)
    if major < source_major:
        raise BackupError(f"the backup comes from PostgreSQL {source_major}; the target server is {major}: restore"
                          " into the same or a newer version", code="backup_pg_version_mismatch")
    tools = find_pg_tools(max(major, int(info.get("pg_dump_major") or 0)))
    conninfo, env = _pg_env(url)
    with _private_dir() as work:
        pre, post = work / "pre.sql", work / "post.sql"
        pre.write_text(f"SET lock_timeout = '30s';\nDROP SCHEMA IF EXISTS \"{schema}\" CASCADE;\n"
                       f"CREATE SCHEMA \"{schema}\";\n")
        post.write_text(_pg_checks(m, schema))
        dump = subprocess.Popen([tools.pg_restore, "--no-owner", "--file=-", str(payload)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            psql = subprocess.run([tools.psql, "--no-psqlrc", "--quiet", "--no-password", "--single-transaction",
                                   "--set=ON_ERROR_STOP=1", f"--file={pre}", "--file=-", f"--file={post}",
                                   f"--dbname={conninfo}"], env=env, stdin=dump.stdout, capture_output=True)
        finally:
            assert dump.stdout is not None
            dump.stdout.close()
            dump_err = dump.stderr.read().decode(errors="replace") if dump.stderr else ""
            dump.wait()
    if dump.returncode != 0:
        raise BackupError(f"pg_restore could not read the backup's archive: {dump_err.strip()[-2000:]}",
                          code="backup_pg_failed")
    if psql.returncode != 0:
        err = psql.stderr.decode(errors="replace")
        mine = re.search(r"smartbank restore: ([^\n]*)", err)
        if mine:
            raise BackupError(f"the restored database does not match the manifest: {mine.group(1)} (nothing was"
                              " restored)", code="backup_manifest_mismatch")
        raise BackupError(f"the restore failed and was rolled back: {err.strip()[-2000:]}", code="backup_pg_failed")


__all__ = ["BackupError", "BackupResult", "Manifest", "RestoreResult", "backup", "read_manifest", "restore"]

