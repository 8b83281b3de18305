"""Annotations: rows another domain writes with a transfer, in the transfer's own transaction - and on
PostgreSQL in the very statement that posts it, so that an annotated payment is still one round trip.

The ledger does not know what an annotation means. The domain that owns the rows registers a *kind* with its
table (:func:`register`); the table has a ``transfer_id`` and a ``created_at`` column, which the ledger fills
with the new transfer's id and time, and the annotation's row fills the other columns (a missing one is NULL).
A transfer command carries ``annotations`` (:class:`Annotation`: a registered kind and its row); they are
written only when the transfer is: never for a refusal or an idempotent replay.

How they are written:
- the Python path (SQLite, and the postings PostgreSQL runs in Python): one ``INSERT`` per annotation after the
  transfer's own rows;
- the procedure path (PostgreSQL): the call of ``sb_transfer`` becomes the first part of one statement whose
  data-modifying parts insert each annotation with the id the procedure returned, only when it returned
  ``ok`` (:func:`pg_statement`). The statement's text depends only on the kinds, so it stays a prepared
  statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Table, insert, null
from sqlalchemy.orm import Session

__all__ = ["Annotation", "register", "registered_kinds"]


@dataclass(frozen=True, slots=True)
class Annotation:
    """A row of a registered kind, written with the transfer (without its ``transfer_id`` and ``created_at``)."""

    kind: str
    row: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Writer:
    kind: str
    table: Table
    columns: tuple[str, ...]  # the row's columns: all but the primary key, transfer_id and created_at
    json_columns: frozenset[str]


_WRITERS: dict[str, _Writer] = {}
_FILLED = ("transfer_id", "created_at")


def register(kind: str, table: Table | type) -> None:
    """Let transfers carry annotations of ``kind``, written into ``table`` (the registering domain's own: a
    table or its mapped class). Registering the same kind with the same table again is harmless; with another
    table, an error."""
    if not isinstance(table, Table):
        table = cast(Table, table.__table__)  # type: ignore[attr-defined]
    missing = [c for c in _FILLED if c not in table.c]
    if missing:
        raise ValueError(f"an annotation table needs {' and '.join(missing)} columns: {table.name}")
    old = _WRITERS.get(kind)
    if old is not None and old.table is not table:
        raise ValueError(f"annotation kind {kind!r} is already written into {old.table.name}")
    cols = tuple(c.name for c in table.columns if not c.primary_key and c.name not in _FILLED)
    _WRITERS[kind] = _Writer(kind, table, cols, frozenset(c.name for c in table.columns
                                                          if isinstance(c.type, JSON) and c.name in cols))


def registered_kinds() -> tuple[str, ...]:
    return tuple(sorted(_WRITERS))


def check(annotations: Sequence[Annotation]) -> None:
    """Every annotation has a registered kind and names only its table's columns (before anything is written)."""
    for a in annotations:
        w = _WRITERS.get(a.kind)
        if w is None:
            raise ValueError(f"no annotation kind {a.kind!r} is registered")
        unknown = set(a.row) - set(w.columns)
        if unknown:
            raise ValueError(f"annotation {a.kind!r} has no column(s) {', '.join(sorted(unknown))}")


def write(session: Session, annotations: Sequence[Annotation], *, transfer_id: int, at: datetime) -> None:
    """The Python path: insert each annotation's row with the transfer's id and time."""
    for a in annotations:
        w = _WRITERS[a.kind]
        values: dict[str, Any] = {c: a.row.get(c) for c in w.columns}
        for c in w.json_columns:
            if values[c] is None:
                values[c] = null()  # SQL NULL, as the procedure path writes it (not a JSON null)
        session.execute(insert(w.table).values(**values, transfer_id=transfer_id, created_at=at))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_STATEMENTS: dict[tuple[str, ...], str] = {}


def pg_statement(call: str, annotations: Sequence[Annotation]) -> str:
    """``call`` (a ``SELECT status, info, tid FROM sb_transfer(...)`` with ``%(name)s`` parameters, one of them
    ``%(at)s``) extended to write ``annotations`` in the same statement. The rows are the parameters
    ``%(a0)s``, ``%(a1)s``... (JSON text, :func:`pg_params`)."""
    kinds = tuple(a.kind for a in annotations)
    stmt = _STATEMENTS.get(kinds)
    if stmt is None:
        parts = [f"WITH t AS MATERIALIZED ({call})"]
        for i, kind in enumerate(kinds):
            w = _WRITERS[kind]
            table = _q(w.table.name)
            cols = ", ".join(_q(c) for c in w.columns)
            picked = ", ".join(f"r.{_q(c)}" for c in w.columns)
            parts.append(
                f"a{i} AS (INSERT INTO {table} (transfer_id, created_at, {cols})"
                f" SELECT t.tid, %(at)s, {picked} FROM t, json_populate_record(NULL::{table}, %(a{i})s::json) r"
                " WHERE t.status = 'ok')")
        stmt = _STATEMENTS[kinds] = ", ".join(parts) + " SELECT status, info, tid FROM t"
    return stmt


def pg_params(annotations: Sequence[Annotation], dumps) -> dict[str, str]:
    return {f"a{i}": dumps(dict(a.row)) for i, a in enumerate(annotations)}
