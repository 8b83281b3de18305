"""Encryption at rest of personal data: a master key behind a key-management interface, versioned data keys
stored wrapped, AES-GCM ciphertexts that name their key version, and keyed blind indexes.

- The **master key** never enters the database. :class:`KeyProvider` is the interface a real KMS (an HSM, a
  cloud KMS) implements: wrap and unwrap a data key, derive a purpose-bound key, and a public key id.
  :class:`LocalKeyProvider` is the built-in one: the key is ``SMARTBANK_MASTER_KEY`` (32 bytes, base64), else
  the file ``SMARTBANK_MASTER_KEY_FILE`` (which must exist), else ``<var_dir>/master.key``, made on first use
  with mode 0600 (development and the demo; production sets one and keeps it out of the database's backups).
- **Data keys** (DEKs) are random AES-256 keys with versions, stored wrapped in ``data_keys``; exactly one is
  active (new ciphertexts), the retired ones still decrypt until ``smartbank keys rotate`` has re-encrypted
  what they protect. Unwrapped keys are cached in the process; the active version is re-read every
  :data:`ACTIVE_TTL_SECONDS`, so a rotation made by another process is picked up without a restart.
- **Ciphertext** (:func:`encrypt_bytes`): ``format (1 byte) | key version (2 bytes, big-endian) | nonce (12) |
  AES-256-GCM ciphertext and tag``, the header and the ``context`` (e.g. ``customers.phone``) authenticated as
  associated data: a blob moved to another column, a changed version or a flipped bit fails to decrypt.
  :func:`encrypt_text` is the same in base64 for a text column; a version's ciphertexts all start with the
  same four characters (:func:`text_prefix`), so a rotation finds the rows still under an old key in SQL.
- **Blind index** (:func:`blind_index`): HMAC-SHA256 of the normalised value under a key derived from the
  master key per kind (HKDF, purpose-separated), never stored; equality look-ups without the plaintext.

The key ring reads ``data_keys`` on a raw connection of its own (a plain SELECT: on SQLite it takes no lock,
so it may run while the caller's unit of work holds the write lock), and writes it only in
:func:`create_data_key` (the migration makes version 1, rotation the next ones).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
import struct
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text, insert, select, update
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from smartbank import clock, db
from smartbank.config import get_settings, key_file_text
from smartbank.errors import SmartbankError
from smartbank.security.models import DataKey

__all__ = [
    "ACTIVE_TTL_SECONDS", "BLOB_FORMAT", "DecryptionError", "EncryptedColumnCompared", "EncryptedText",
    "KeyProvider", "KeyRingError", "LocalKeyProvider",
    "blind_index", "blob_version", "create_data_key", "data_keys", "decrypt_bytes", "decrypt_standalone",
    "decrypt_text", "encrypt_standalone",
    "encrypt_bytes", "encrypt_text", "key_provider", "keys_of", "master_key_from_settings", "normalise_for_index",
    "reset_key_cache", "seal", "text_prefix", "unseal", "use_key_provider",
]

log = logging.getLogger(__name__)

BLOB_FORMAT = 1
_HEADER = struct.Struct(">BH")  # format, key version
_NONCE = 12
_TAG = 16
MASTER_KEY_BYTES = 32
ACTIVE_TTL_SECONDS = 30.0
INDEX_HEX_CHARS = 32  # 128 bits of HMAC-SHA256: collisions out of reach, half the column


class DecryptionError(SmartbankError):
    """A ciphertext that does not open: tampered, written for another column (context), under an unknown key
    version, or not a ciphertext of this format at all."""

    status_code = 500
    code = "decryption_failed"


class KeyRingError(RuntimeError):
    """The key configuration is unusable: no or malformed master key, a data key wrapped by another master key."""


# ----------------------------------------------------------------------------------------------
# the master key behind a key-management interface


@runtime_checkable
class KeyProvider(Protocol):
    """What the platform needs from a key-management system. A KMS implementation keeps the master key inside
    the KMS: ``wrap``/``unwrap`` are its encrypt/decrypt calls (with the associated data as encryption context),
    ``derive`` an HMAC-based derivation it performs (or a derived key it hands out once, wrapped)."""

    @property
    def key_id(self) -> str:
        """A public name of the master key (stored next to each wrapped data key), never the key."""
        ...

    def wrap(self, key: bytes, *, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, aad: bytes) -> bytes: ...

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (e.g. ``blind-index/phone``), different for every purpose."""
        ...


def _hkdf(master: bytes, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(master)


class LocalKeyProvider:
    """The master key held by this process (from the environment or a file): AES-256-GCM key wrapping under a
    key derived from it, HKDF for every other purpose. The raw master key itself encrypts nothing."""

    def __init__(self, master: bytes) -> None:
        if len(master) != MASTER_KEY_BYTES:
            raise KeyRingError(f"the master key must be {MASTER_KEY_BYTES} bytes (base64 of 32 random bytes), "
                               f"got {len(master)}")
        self._wrapping = AESGCM(_hkdf(master, "smartbank/key-wrap/v1"))
        self._master = master
        self._id = hmac.new(master, b"smartbank master key id", hashlib.sha256).hexdigest()[:16]

    @property
    def key_id(self) -> str:
        return self._id

    def wrap(self, key: bytes, *, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._wrapping.encrypt(nonce, key, aad)

    def unwrap(self, wrapped: bytes, *, aad: bytes) -> bytes:
        try:
            return self._wrapping.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], aad)
        except InvalidTag as exc:
            raise KeyRingError("a data key does not unwrap with this master key") from exc

    def derive(self, purpose: str) -> bytes:
        return _hkdf(self._master, "smartbank/" + purpose)


def _decode_master(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyRingError(f"the master key in {where} is not base64") from exc
    if len(raw) != MASTER_KEY_BYTES:
        raise KeyRingError(f"the master key in {where} is {len(raw)} bytes; it must be {MASTER_KEY_BYTES} (python -c "
                           "'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')")
    return raw


def master_key_from_settings() -> bytes:
    """``SMARTBANK_MASTER_KEY``, else the file ``SMARTBANK_MASTER_KEY_FILE`` (which must exist), else
    ``<var_dir>/master.key``, made with 32 random bytes on first use (readable by its owner only)."""
    st = get_settings()
    if st.master_key:
        return _decode_master(st.master_key, "SMARTBANK_MASTER_KEY")
    path = st.master_key_file or Path(st.var_dir) / "master.key"
    try:
        text = key_file_text(path, must_exist=st.master_key_file is not None, what="master key",
                             make=lambda: base64.b64encode(secrets.token_bytes(MASTER_KEY_BYTES)).decode())
    except FileNotFoundError:
        raise KeyRingError(f"the master key file {path} does not exist") from None
    if not text:
        raise KeyRingError(f"the master key file {path} is empty")
    return _decode_master(text, str(path))


_provider_lock = threading.Lock()
_override: list[KeyProvider] = []
_local: dict[tuple[Any, ...], LocalKeyProvider] = {}


def key_provider() -> KeyProvider:
    """The key provider in force: one installed with :func:`use_key_provider`, else the local one."""
    if _override:
        return _override[-1]
    st = get_settings()
    where = (st.master_key, st.master_key_file, str(st.var_dir))
    with _provider_lock:
        p = _local.get(where)
        if p is None:
            _local.clear()
            p = _local[where] = LocalKeyProvider(master_key_from_settings())
        return p


@contextmanager
def use_key_provider(provider: KeyProvider) -> Iterator[KeyProvider]:
    """Inside the block, ``provider`` (a KMS client, a test double) is the key provider."""
    _override.append(provider)
    reset_key_cache()
    try:
        yield provider
    finally:
        _override.remove(provider)
        reset_key_cache()


# ----------------------------------------------------------------------------------------------
# the data keys


def _wrap_aad(version: int) -> bytes:
    return f"smartbank data key v{version}".encode()


@dataclass
class _Ring:
    active: int | None = None
    keys: dict[int, AESGCM] = field(default_factory=dict)
    wrapped: dict[int, str] = field(default_factory=dict)  # what each cached key was unwrapped from
    loaded_at: float = -1e18


_rings: dict[tuple[str, str], _Ring] = {}
_ring_lock = threading.RLock()


def reset_key_cache() -> None:
    """Forget every unwrapped data key and the active versions (the next use reads ``data_keys`` again)."""
    with _ring_lock:
        _rings.clear()
    with _provider_lock:
        _local.clear()
    _index_keys.clear()


_engine_in_use: ContextVar[Engine | None] = ContextVar("smartbank_key_ring_engine", default=None)


@contextmanager
def keys_of(engine: Engine) -> Iterator[Engine]:
    """Inside the block, the key ring reads the data keys of ``engine``'s database, not the configured one: for
    code that works on another database than ``SMARTBANK_DATABASE_URL`` (the synthetic bank's loader, tools).
    The column type cannot see its connection, so it asks this."""
    token = _engine_in_use.set(engine)
    try:
        yield engine
    finally:
        _engine_in_use.reset(token)


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    return _engine_in_use.get() or db.get_engine()


def _read_rows(engine: Engine) -> list[tuple[int, str, str, str]]:
    """The rows of ``data_keys``, read on a raw connection: a plain SELECT outside any transaction the caller
    may hold (SQLite: no lock taken, so no wait for the caller's own write lock)."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            cur.execute("SELECT version, wrapped_key, master_key_id, status FROM data_keys ORDER BY version")
            return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in cur.fetchall()]
        finally:
            cur.close()
    finally:
        raw.close()  # back to the pool, whose reset ends the read's transaction (PostgreSQL)


def _load(engine: Engine, provider: KeyProvider, known: _Ring | None) -> _Ring:
    """The ring as ``data_keys`` says now; a key already unwrapped from the same wrapped value is reused (a KMS
    is asked once per version and process)."""
    ring = _Ring()
    for version, wrapped, master_id, status in _read_rows(engine):
        if status == "active":
            ring.active = version
        if known is not None and known.wrapped.get(version) == wrapped:
            ring.keys[version], ring.wrapped[version] = known.keys[version], wrapped
            continue
        if master_id != provider.key_id:
            raise KeyRingError(f"data key version {version} is wrapped by master key {master_id}, but the master "
                               f"key configured is {provider.key_id}: set SMARTBANK_MASTER_KEY(_FILE) to the key "
                               "this database was encrypted with")
        ring.keys[version] = AESGCM(provider.unwrap(base64.b64decode(wrapped), aad=_wrap_aad(version)))
        ring.wrapped[version] = wrapped
    ring.loaded_at = time.monotonic()
    return ring


def _ring(engine: Engine | None = None, *, fresh: bool = False) -> _Ring:
    eng = _engine(engine)
    provider = key_provider()
    key = (eng.url.render_as_string(hide_password=True), provider.key_id)
    with _ring_lock:
        ring = _rings.get(key)
        if fresh or ring is None or time.monotonic() - ring.loaded_at > ACTIVE_TTL_SECONDS:
            ring = _rings[key] = _load(eng, provider, ring)
        return ring


def create_data_key(engine: Engine | None = None, *, only_if_none: bool = False) -> int:
    """Make a new random data key, wrapped by the master key, the active version (the previous active one is
    retired: it still decrypts). ``only_if_none``: only when no version is active yet (then answers that one).
    Its own short transaction."""
    eng = _engine(engine)
    provider = key_provider()
    for _ in range(5):
        try:
            with eng.begin() as c:
                active = c.execute(select(DataKey.version).where(DataKey.status == "active")).scalar()
                if only_if_none and active is not None:
                    version = int(active)
                    break
                top = c.execute(select(DataKey.version).order_by(DataKey.version.desc()).limit(1)).scalar()
                version = int(top or 0) + 1
                if version >= 2**16:
                    raise KeyRingError("no data key version left (65535 in use)")
                wrapped = provider.wrap(AESGCM.generate_key(bit_length=256), aad=_wrap_aad(version))
                now = clock.now()
                c.execute(update(DataKey).where(DataKey.status == "active")
                          .values(status="retired", retired_at=now))
                c.execute(insert(DataKey).values(
                    version=version, wrapped_key=base64.b64encode(wrapped).decode(),
                    master_key_id=provider.key_id, status="active", created_at=now))
            break
        except IntegrityError:  # another process made the same version at the same moment: look again
            continue
    else:
        raise KeyRingError("could not make a new data key (the version was taken five times)")
    _ring(eng, fresh=True)
    return version


def data_keys(engine: Engine | None = None) -> list[dict[str, Any]]:
    """The versions of ``data_keys`` (no key material): version, status, master key id, when made/retired."""
    with _engine(engine).connect() as c:
        rows = c.execute(select(DataKey.version, DataKey.status, DataKey.master_key_id, DataKey.created_at,
                                DataKey.retired_at).order_by(DataKey.version)).all()
    return [dict(r._mapping) for r in rows]


def _active(engine: Engine | None = None) -> tuple[int, AESGCM]:
    ring = _ring(engine)
    if ring.active is None:
        create_data_key(engine, only_if_none=True)
        ring = _ring(engine, fresh=True)
    assert ring.active is not None
    return ring.active, ring.keys[ring.active]


def _key_of(version: int, engine: Engine | None = None) -> AESGCM:
    ring = _ring(engine)
    k = ring.keys.get(version)
    if k is None:
        k = _ring(engine, fresh=True).keys.get(version)
    if k is None:
        raise DecryptionError(f"no data key version {version}", details={"key_version": version})
    return k


# ----------------------------------------------------------------------------------------------
# ciphertexts


def seal(key: AESGCM, version: int, data: bytes, *, context: str) -> bytes:
    """Encrypt ``data`` under an explicit key and version (the migrations, which bring their own key)."""
    header = _HEADER.pack(BLOB_FORMAT, version)
    nonce = secrets.token_bytes(_NONCE)
    return header + nonce + key.encrypt(nonce, data, header + context.encode())


def blob_version(blob: bytes) -> int:
    """The key version a ciphertext names (:class:`DecryptionError` for what is not one)."""
    if len(blob) < _HEADER.size + _NONCE + _TAG:
        raise DecryptionError("not a ciphertext (too short)")
    fmt, version = _HEADER.unpack_from(blob)
    if fmt != BLOB_FORMAT:
        raise DecryptionError(f"not a ciphertext of a known format ({fmt})")
    return int(version)


def unseal(key: AESGCM, blob: bytes, *, context: str) -> bytes:
    header = blob[:_HEADER.size]
    try:
        return key.decrypt(blob[_HEADER.size:_HEADER.size + _NONCE], blob[_HEADER.size + _NONCE:],
                           header + context.encode())
    except InvalidTag as exc:
        raise DecryptionError("the ciphertext does not open: tampered, or written for another context",
                              details={"context": context}) from exc


def encrypt_bytes(data: bytes, *, context: str, engine: Engine | None = None) -> bytes:
    """AES-256-GCM under the active data key; ``context`` (what the value is, e.g. ``backup`` or
    ``user_mfa.secret``) is authenticated, and must be given again to decrypt."""
    version, key = _active(engine)
    return seal(key, version, data, context=context)


def decrypt_bytes(blob: bytes, *, context: str, engine: Engine | None = None) -> bytes:
    """The plaintext of :func:`encrypt_bytes`' ``blob``, under whichever data key version it names;
    :class:`DecryptionError` for a wrong context, a tampered blob or an unknown key version."""
    return unseal(_key_of(blob_version(blob), engine), blob, context=context)


def encrypt_text(value: str | None, *, context: str, engine: Engine | None = None) -> str | None:
    """:func:`encrypt_bytes` of the UTF-8 text, as base64 for a text column (None stays None)."""
    if value is None:
        return None
    return base64.b64encode(encrypt_bytes(value.encode("utf-8"), context=context, engine=engine)).decode("ascii")


def decrypt_text(value: str | None, *, context: str, engine: Engine | None = None) -> str | None:
    if value is None:
        return None
    try:
        blob = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("not a ciphertext (not base64)", details={"context": context}) from exc
    return decrypt_bytes(blob, context=context, engine=engine).decode("utf-8")


STANDALONE_FORMAT = 2
_STANDALONE = struct.Struct(">BH")  # format, length of the wrapped key


def encrypt_standalone(data: bytes, *, context: str) -> bytes:
    """AES-256-GCM under a fresh key made for this blob and wrapped by the master key *inside* the blob: it
    opens with the master key alone, without any database (a backup file, which must open when the database it
    holds is gone). ``format 2 (1) | wrapped key length (2) | wrapped key | nonce (12) | ciphertext+tag``."""
    provider = key_provider()
    key = AESGCM.generate_key(bit_length=256)
    aad_key = b"smartbank standalone key " + context.encode()
    wrapped = provider.wrap(key, aad=aad_key)
    header = _STANDALONE.pack(STANDALONE_FORMAT, len(wrapped)) + wrapped
    nonce = secrets.token_bytes(_NONCE)
    return header + nonce + AESGCM(key).encrypt(nonce, data, header + context.encode())


def decrypt_standalone(blob: bytes, *, context: str) -> bytes:
    """The plaintext of :func:`encrypt_standalone`'s blob (:class:`DecryptionError` when it does not open:
    another context, tampered, or another master key)."""
    if len(blob) < _STANDALONE.size or blob[0] != STANDALONE_FORMAT:
        raise DecryptionError("not a standalone ciphertext")
    _fmt, n = _STANDALONE.unpack_from(blob)
    end = _STANDALONE.size + n
    header, body = blob[:end], blob[end:]
    if len(body) < _NONCE + _TAG:
        raise DecryptionError("not a standalone ciphertext (too short)")
    try:
        key = key_provider().unwrap(header[_STANDALONE.size:], aad=b"smartbank standalone key " + context.encode())
    except KeyRingError as exc:
        raise DecryptionError("the blob's key does not unwrap: another master key, or another context",
                              details={"context": context}) from exc
    try:
        return AESGCM(key).decrypt(body[:_NONCE], body[_NONCE:], header + context.encode())
    except InvalidTag as exc:
        raise DecryptionError("the ciphertext does not open: tampered, or written for another context",
                              details={"context": context}) from exc


def text_prefix(version: int) -> str:
    """The first four characters of every :func:`encrypt_text` ciphertext under ``version`` (base64 of the
    three header bytes): ``col LIKE prefix || '%'`` finds a version's rows in SQL."""
    return base64.b64encode(_HEADER.pack(BLOB_FORMAT, version)).decode("ascii")


# ----------------------------------------------------------------------------------------------
# blind indexes

_index_keys: dict[tuple[str, str], bytes] = {}
_SPACES = re.compile(r"[\s\-()（）]")


def normalise_for_index(value: str, kind: str) -> str:
    """The form a value is indexed in: the same person's number typed two ways gives one index.

    ``id_number``: without spaces, capital X; ``phone``: E.164 for mainland numbers (``13812345678``,
    ``+86 138 1234 5678``, ``0086...`` -> ``+8613812345678``); any other kind: NFKC, trimmed, case-folded."""
    v = unicodedata.normalize("NFKC", value or "").strip()
    if kind == "id_number":
        return re.sub(r"\s", "", v).upper()
    if kind == "phone":
        s = _SPACES.sub("", v)
        if s.startswith("0086"):
            s = "+86" + s[4:]
        elif s.startswith("86") and len(s) == 13:
            s = "+" + s
        elif re.fullmatch(r"1[3-9][0-9]{9}", s):
            s = "+86" + s
        return s
    return v.casefold()


def blind_index(value: str, *, kind: str) -> str:
    """Keyed HMAC-SHA256 (hex, 128 bits) of the normalised value, under a key derived from the master key for
    this ``kind`` only: equal values give equal indexes, and without the master key nothing can be learnt or
    tried from the index."""
    provider = key_provider()
    k = _index_keys.get((provider.key_id, kind))
    if k is None:
        k = _index_keys[(provider.key_id, kind)] = provider.derive("blind-index/" + kind)
    mac = hmac.new(k, normalise_for_index(value, kind).encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:INDEX_HEX_CHARS]


# ----------------------------------------------------------------------------------------------
# the column type


class EncryptedColumnCompared(TypeError):
    """A query compared an encrypted column with a value: ciphertexts never match (a fresh nonce each time).
    Compare the column's blind index instead."""


class EncryptedText(TypeDecorator[str]):
    """A text column that holds :func:`encrypt_text` ciphertext (the context is ``table.column``, so a value
    copied to another column does not open): the ORM and Core statements read and write plaintext. Comparing
    it with a value in SQL is refused (:class:`EncryptedColumnCompared`): look people up by the blind index."""

    impl = Text
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator[str]):  # noqa: N801 - SQLAlchemy's name
        _ALLOWED = (operators.is_, operators.is_not, operators.asc_op, operators.desc_op, operators.nulls_first_op,
                    operators.nulls_last_op)

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op in self._ALLOWED or ((op is operators.eq or op is operators.ne) and other and other[0] is None):
                return super().operate(op, *other, **kwargs)
            raise EncryptedColumnCompared(f"{self.expr} is encrypted: compare its blind index, not the value")

        def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
            raise EncryptedColumnCompared(f"{self.expr} is encrypted: compare its blind index, not the value")

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt_text(str(value), context=self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return decrypt_text(value, context=self.context)

    def __repr__(self) -> str:
        return f"EncryptedText({self.context!r})"
