"""Data-key rotation, online: a new data key becomes active, then every encrypted column is re-encrypted under
it in small batches, each its own short transaction, while the bank keeps serving (reads open either version;
new writes already use the new one).

The encrypted columns are found in the table registry (:data:`smartbank.db.Base.metadata`, every column whose
type is :class:`~smartbank.security.keyring.EncryptedText`): a domain that adds one needs nothing here. A run
that stops part-way is resumed by running again (:func:`reencrypt`): it picks up the rows whose ciphertext
still names an older version, found in SQL by their first four characters (``keyring.text_prefix``). A row the
bank changes between the batch's read and its write is left to the next pass (the update compares the old
ciphertext), never overwritten with stale data.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Table, text
from sqlalchemy.engine import Connection, Engine

from smartbank import db
from smartbank.security import keyring

__all__ = ["RotationReport", "encrypted_columns", "reencrypt", "rotate", "rows_per_version"]


@dataclass
class RotationReport:
    version: int  # the active data key version the rows were brought to
    created: bool  # whether this run made that version
    rewritten: dict[str, int] = field(default_factory=dict)  # "table.column" -> rows re-encrypted
    batches: int = 0
    left: dict[str, int] = field(default_factory=dict)  # rows still under an older version (changed meanwhile)

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "created": self.created, "rewritten": self.rewritten,
                "batches": self.batches, "left": self.left}


def encrypted_columns() -> list[tuple[Table, Column[Any], str]]:
    """``(table, column, context)`` of every encrypted column of the registered tables (import
    ``smartbank.models`` first for all of them): the :class:`~.keyring.EncryptedText` columns, and the text
    columns their owner encrypts itself, marked ``info={"encrypted": context}`` (the TOTP secrets)."""
    out = []
    for t in db.Base.metadata.sorted_tables:
        for c in t.columns:
            if isinstance(c.type, keyring.EncryptedText):
                out.append((t, c, c.type.context))
            elif c.info.get("encrypted"):
                out.append((t, c, str(c.info["encrypted"])))
    return out


def _pk(t: Table) -> str:
    cols = list(t.primary_key.columns)
    if len(cols) != 1:
        raise keyring.KeyRingError(f"{t.name} has a composite primary key: its encrypted columns cannot be rotated")
    return cols[0].name


def _version_of_prefix(prefix: str) -> int | None:
    try:
        raw = base64.b64decode(prefix + "====")
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw[1:3], "big") if len(raw) >= 3 and raw[0] == keyring.BLOB_FORMAT else None


def rows_per_version(engine: Engine | None = None) -> dict[str, dict[str, int]]:
    """Per encrypted column, how many rows each data key version protects (``"other"``: not a ciphertext)."""
    eng = engine or db.get_engine()
    out: dict[str, dict[str, int]] = {}
    with eng.connect() as c:
        for t, col, _ctx in encrypted_columns():
            rows = c.execute(text(f'SELECT substr("{col.name}", 1, 4), count(*) FROM "{t.name}" '
                                  f'WHERE "{col.name}" IS NOT NULL GROUP BY substr("{col.name}", 1, 4)')).all()
            counts: dict[str, int] = {}
            for prefix, n in rows:
                v = _version_of_prefix(str(prefix))
                key = str(v) if v is not None else "other"
                counts[key] = counts.get(key, 0) + int(n)
            out[f"{t.name}.{col.name}"] = dict(sorted(counts.items()))
    return out


def _batch(c: Connection, t: Table, col: Column[Any], context: str, pk: str, prefix: str, after: Any,
           size: int, engine: Engine) -> tuple[int, Any, int]:
    """One batch: up to ``size`` rows after ``after`` (by primary key) not yet under ``prefix``; answers
    (rows read, the last key read, rows rewritten)."""
    lock = " FOR UPDATE" if c.dialect.name == "postgresql" else ""
    rows = c.execute(text(
        f'SELECT "{pk}", "{col.name}" FROM "{t.name}" WHERE "{pk}" > :after AND "{col.name}" IS NOT NULL '
        f'AND "{col.name}" NOT LIKE :prefix ORDER BY "{pk}" LIMIT :n{lock}'),
        {"after": after, "prefix": prefix + "%", "n": size}).all()
    if not rows:
        return 0, after, 0
    params = []
    for key, old in rows:
        plain = keyring.decrypt_text(old, context=context, engine=engine)
        params.append({"k": key, "old": old, "new": keyring.encrypt_text(plain, context=context, engine=engine)})
    res = c.execute(text(f'UPDATE "{t.name}" SET "{col.name}" = :new WHERE "{pk}" = :k AND "{col.name}" = :old'),
                    params)
    rewritten = res.rowcount if res.rowcount is not None and res.rowcount >= 0 else len(params)
    return len(rows), rows[-1][0], rewritten


def reencrypt(engine: Engine | None = None, *, batch_size: int = 500, passes: int = 3,
              progress: Callable[[str, int], None] | None = None) -> RotationReport:
    """Bring every encrypted value under the active data key, ``batch_size`` rows per transaction (resumable:
    what is done stays done). ``progress(column, rows)`` is told after each batch."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    eng = engine or db.get_engine()
    version, _ = keyring._active(eng)
    prefix = keyring.text_prefix(version)
    report = RotationReport(version=version, created=False)
    for t, col, context in encrypted_columns():
        pk = _pk(t)
        name = f"{t.name}.{col.name}"
        report.rewritten.setdefault(name, 0)
        for _ in range(passes):
            after: Any = -(2**63)
            seen = 0
            while True:
                with eng.begin() as c:  # one short transaction per batch
                    n, after, done = _batch(c, t, col, context, pk, prefix, after, batch_size, eng)
                if not n:
                    break
                seen += n
                report.batches += 1
                report.rewritten[name] += done
                if progress is not None:
                    progress(name, done)
            if not seen:
                break
        with eng.connect() as c:
            left = c.execute(text(f'SELECT count(*) FROM "{t.name}" WHERE "{col.name}" IS NOT NULL '
                                  f'AND "{col.name}" NOT LIKE :prefix'), {"prefix": prefix + "%"}).scalar_one()
        if left:
            report.left[name] = int(left)
    return report


def rotate(engine: Engine | None = None, *, batch_size: int = 500, new_key: bool = True,
           progress: Callable[[str, int], None] | None = None) -> RotationReport:
    """Make a new data key active (``new_key``; without it: finish an interrupted rotation), then
    :func:`reencrypt` every encrypted column under it."""
    eng = engine or db.get_engine()
    if new_key:
        keyring.create_data_key(eng)
    report = reencrypt(eng, batch_size=batch_size, progress=progress)
    report.created = new_key
    return report
