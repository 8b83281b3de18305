"""``smartbank import``: read a file, clean it with the mapping's rules, de-duplicate, load, report.

One run is one transaction: the batch row, every customer, account and transaction it writes commit
together or not at all. Nothing is dropped silently: each row read ends up loaded, rejected (with its
rule codes, in the rejects file) or merged into the record it duplicates (also in the rejects file, with
the record it was merged into), and ``rows_read = rows_loaded + rows_rejected + rows_merged``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from smartbank import clock, db
from smartbank.config import get_settings
from smartbank.customers import service as customers
from smartbank.errors import ValidationFailed
from smartbank.insight.importing import load
from smartbank.insight.importing.dedup import Person, clusters
from smartbank.insight.importing.mapping import Mapping, load_mapping
from smartbank.insight.importing.report import write_report as _write
from smartbank.insight.importing.rules import RULES, Cleaned, Cleaner
from smartbank.insight.models import ImportBatch
from smartbank.ledger import service as ledger

Progress = Callable[[str, int, int | None], None]  # (stage, advance, total)


class ImportFileError(ValidationFailed):
    code = "bad_import_file"


@dataclass
class ImportResult:
    kind: str
    source: str
    batch_id: int
    file: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_merged: int
    seconds: float
    hits: dict[str, int]
    report: str | None
    rejects: str | None
    customers_created: int = 0
    outcomes: pl.DataFrame | None = field(default=None, repr=False)
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return round(self.rows_read / self.seconds, 1) if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "rows_read": self.rows_read,
                "rows_loaded": self.rows_loaded, "rows_rejected": self.rows_rejected,
                "rows_merged": self.rows_merged, "seconds": round(self.seconds, 3),
                "rows_per_second": self.rows_per_second, "report": self.report, "rejects": self.rejects}


# -- reading ------------------------------------------------------------------------------------


def read_table(path: str | Path, mapping: Mapping) -> tuple[pl.DataFrame, dict[str, int]]:
    """Every column as text (so amounts and ids are parsed exactly, never through floats)."""
    p = Path(path)
    if not p.is_file():
        raise ImportFileError(f"file not found: {p}", details={"file": str(p)})
    name = p.name.lower()
    hits: dict[str, int] = {}
    try:
        if name.endswith((".parquet", ".pq")):
            df = pl.read_parquet(p)
            # Decimal columns print exactly; float columns print their shortest round-trip form
            return df.with_columns(pl.all().cast(pl.String)), hits
        data = p.read_bytes()
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        data = data.removeprefix(b"\xef\xbb\xbf")
        enc = mapping.encoding
        if enc in ("gb18030", "gbk"):
            data = data.decode("gb18030").encode("utf-8")
        else:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if enc != "auto":
                    raise ImportFileError(f"{p} is not valid UTF-8 ({exc}); set encoding: gb18030 or auto") from exc
                data = data.decode("gb18030").encode("utf-8")
                hits["ENC_GB18030"] = -1  # filled with the row count below
        df = pl.read_csv(io.BytesIO(data), infer_schema=False, separator=mapping.delimiter)
    except ImportFileError:
        raise
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError, EOFError) as exc:
        raise ImportFileError(f"cannot read {p}: {exc}", details={"file": str(p)}) from exc
    if "ENC_GB18030" in hits:
        hits["ENC_GB18030"] = df.height
    return df, hits


# -- the run ------------------------------------------------------------------------------------


class _Outcomes:
    def __init__(self) -> None:
        self.rejects: list[pl.DataFrame] = []
        self.merges: list[pl.DataFrame] = []

    def reject(self, rows: list[int] | pl.Series, code: str, fld: str) -> None:
        rows = list(rows)
        if rows:
            self.rejects.append(pl.DataFrame({"_row": rows, "_rules": f"{code}:{fld}",
                                              "_message": f"{fld}: {RULES[code].text}"},
                                             schema={"_row": pl.Int64, "_rules": pl.String, "_message": pl.String}))

    def merge(self, rows: list[int] | pl.Series, code: str, into: list[str] | pl.Series) -> None:
        rows = list(rows)
        if rows:
            self.merges.append(pl.DataFrame({"_row": rows, "_rules": code, "_message": RULES[code].text,
                                             "_merged_into": list(into)},
                                            schema={"_row": pl.Int64, "_rules": pl.String, "_message": pl.String,
                                                    "_merged_into": pl.String}))

    def frame(self, n: int) -> pl.DataFrame:
        schema = {"_row": pl.Int64, "_rules": pl.String, "_message": pl.String}
        rej = pl.concat(self.rejects) if self.rejects else pl.DataFrame(schema=schema)
        rej = rej.group_by("_row").agg(pl.col("_rules").str.join(";"), pl.col("_message").str.join("; ")) \
            .with_columns(pl.lit("rejected").alias("_outcome"), pl.lit(None, dtype=pl.String).alias("_merged_into"))
        mer = pl.concat(self.merges) if self.merges else pl.DataFrame(schema={**schema, "_merged_into": pl.String})
        mer = mer.with_columns(pl.lit("merged").alias("_outcome"))
        cols = ["_row", "_outcome", "_rules", "_message", "_merged_into"]
        out = pl.concat([rej.select(cols), mer.select(cols)])
        if out["_row"].is_duplicated().any():  # pragma: no cover - a row is rejected or merged, never both
            raise AssertionError("a row has two outcomes")
        return out.sort("_row")


def run_import(*, kind: str, path: str | Path, mapping_path: str | Path | None = None,
               mapping_data: dict[str, Any] | None = None, source: str | None = None,
               rejects_path: str | Path | None = None, report_path: str | Path | None = None,
               engine: Engine | None = None, now: datetime | None = None, progress: Progress | None = None,
               write_report: bool = True) -> ImportResult:
    t0 = time.perf_counter()
    stages: dict[str, float] = {}
    say = progress or (lambda stage, adv, total: None)
    mapping = load_mapping(mapping_path, data=mapping_data, kind=kind, source=source)  # before anything else
    say("read", 0, None)
    raw, read_hits = read_table(path, mapping)
    stages["read"] = time.perf_counter() - t0
    say("clean", 0, None)
    cleaned = Cleaner(mapping, now=now).run(raw)
    cleaned.df = cleaned.df.with_columns(cleaned.rejected())
    stages["clean"] = time.perf_counter() - t0 - stages["read"]
    engine = engine or db.get_engine()
    stem = f"{mapping.source}_{mapping.kind}_{(now or clock.now()):%Y%m%dT%H%M%S}"
    out_dir = get_settings().var_dir / "imports"
    rejects_p = Path(rejects_path) if rejects_path else out_dir / f"{stem}_rejects.csv"
    report_p = (Path(report_path) if report_path else out_dir / f"{stem}_report.html") if write_report else None

    def work(session: Session) -> ImportResult:
        load.lock_source(session, mapping.source)
        batch = ImportBatch(kind=mapping.kind, source=mapping.source, file_name=Path(path).name[:300],
                            mapping=mapping.raw, status="running", rejects_path=str(rejects_p),
                            report_path=str(report_p) if report_p else None)
        session.add(batch)
        session.flush()
        outcomes = _Outcomes()
        created = {"customers": 0}
        t1 = time.perf_counter()
        if mapping.kind == "transactions":
            _transactions(session, mapping, cleaned, batch.id, outcomes, created, say)
        elif mapping.kind == "customers":
            _customers(session, mapping, cleaned, batch.id, outcomes, created)
        else:
            _accounts(session, mapping, cleaned, batch.id, outcomes, created)
        stages["load"] = time.perf_counter() - t1
        hits = cleaned.finish_hits()
        for k, v in read_hits.items():
            hits[k] = hits.get(k, 0) + v
        if created["customers"]:
            hits["IMP_CUSTOMER"] = hits.get("IMP_CUSTOMER", 0) + created["customers"]
        flagged = cleaned.reasons()
        if flagged.height:
            outcomes.rejects.insert(0, flagged)
        out = outcomes.frame(raw.height)
        for part in outcomes.rejects[1 if flagged.height else 0:] + outcomes.merges:
            for code in part["_rules"].unique().to_list():
                code = code.split(":")[0]
                hits[code] = hits.get(code, 0) + int((part["_rules"].str.split(":").list.first() == code).sum())
        rejected = int((out["_outcome"] == "rejected").sum())
        merged = int((out["_outcome"] == "merged").sum())
        loaded = raw.height - rejected - merged
        seconds = time.perf_counter() - t0
        res = ImportResult(kind=mapping.kind, source=mapping.source, batch_id=batch.id, file=str(path),
                           rows_read=raw.height, rows_loaded=loaded, rows_rejected=rejected, rows_merged=merged,
                           seconds=seconds, hits=dict(sorted(hits.items())), report=str(report_p) if report_p else None,
                           rejects=str(rejects_p), customers_created=created["customers"], outcomes=out, stages=stages)
        say("report", 0, None)
        _write_rejects(rejects_p, raw, out)
        if report_p is not None:
            _write(report_p, res, raw, cleaned, mapping)
        res.seconds = time.perf_counter() - t0
        stages["files"] = res.seconds - seconds
        session.execute(update(ImportBatch).where(ImportBatch.id == batch.id).values(
            status="done", rows_read=res.rows_read, rows_loaded=loaded, rows_rejected=rejected, rows_merged=merged,
            rule_hits=res.hits, finished_at=clock.now()))
        return res

    result = db.run_in_transaction(work, engine=engine, retries=0)
    if mapping.kind == "accounts":
        db.run_in_transaction(ledger.seal, engine=engine)
    result.seconds = time.perf_counter() - t0
    return result


def _write_rejects(p: Path, raw: pl.DataFrame, out: pl.DataFrame) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    rows = raw.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    rows.join(out, on="_row", how="inner").sort("_row").write_csv(p)


# -- transactions -------------------------------------------------------------------------------


def _match_customers(session: Session, mapping: Mapping, ok: pl.DataFrame, batch_id: int,
                     outcomes: _Outcomes, created: dict[str, int]) -> pl.DataFrame:
    """Attach ``customer_id`` by (customer source, source customer id); create or reject the unknown."""
    known = load.source_customers(session, mapping.customer_source)
    ok = ok.join(known.rename({"external_id": "f_customer_external_id"}), on="f_customer_external_id", how="left")
    unknown = ok.filter(pl.col("customer_id").is_null())
    if unknown.height:
        if mapping.opt("create_missing_customers"):
            ids = unknown["f_customer_external_id"].unique(maintain_order=True).to_list()
            rows = [load.placeholder_customer(mapping.customer_source, x, f"I{batch_id:07d}{i:07d}")
                    for i, x in enumerate(ids, 1)]
            new_ids = customers.insert_many(session, rows)
            load.link_sources(session, [{"source": mapping.customer_source, "external_id": x, "customer_id": c,
                                         "batch_id": batch_id} for x, c in zip(ids, new_ids, strict=True)])
            created["customers"] += len(ids)
            fresh = pl.DataFrame({"f_customer_external_id": ids, "_new": new_ids},
                                 schema={"f_customer_external_id": pl.String, "_new": pl.Int64})
            ok = ok.join(fresh, on="f_customer_external_id", how="left") \
                .with_columns(pl.col("customer_id").fill_null(pl.col("_new"))).drop("_new")
        else:
            outcomes.reject(unknown["_row"], "UNKNOWN_CUSTOMER", "customer_external_id")
            ok = ok.filter(pl.col("customer_id").is_not_null())
    return ok


def _transactions(session: Session, mapping: Mapping, c: Cleaned, batch_id: int, outcomes: _Outcomes,
                  created: dict[str, int], say: Progress) -> None:
    ok = c.df.filter(~pl.col("_rejected"))
    first = ok["f_external_id"].is_first_distinct()
    dups = ok.filter(~first)
    outcomes.merge(dups["_row"], "DUP_EXTERNAL_ID", dups["f_external_id"])
    ok = ok.filter(first)
    existing = load.existing_transaction_ids(session, mapping.source)
    if existing.len():
        again = ok["f_external_id"].is_in(existing.implode())
        old = ok.filter(again)
        outcomes.merge(old["_row"], "DUP_DB_SOURCE_ID", old["f_external_id"])
        ok = ok.filter(~again)
    ok = _match_customers(session, mapping, ok, batch_id, outcomes, created)
    frame = ok.select(
        pl.lit(mapping.source).alias("source"), pl.col("f_external_id").alias("external_id"),
        pl.lit(batch_id, dtype=pl.Int64).alias("batch_id"), pl.col("customer_id"),
        _opt(ok, "f_counterparty").alias("counterparty"), pl.col("f_amount").alias("amount_minor"),
        pl.col("f_currency").alias("currency"), pl.col("f_direction").alias("direction"),
        pl.col("f_occurred_at").alias("occurred_at"), _opt(ok, "f_channel").alias("channel"),
        _opt(ok, "f_category").alias("category"), _opt(ok, "f_is_fraud", pl.Boolean).alias("is_fraud"))
    say("load", 0, frame.height)
    load.copy_transactions(session, frame, progress=lambda n: say("load", n, frame.height))


def _opt(df: pl.DataFrame, col: str, dtype: Any = pl.String) -> pl.Expr:
    return pl.col(col) if col in df.columns else pl.lit(None, dtype=dtype)


# -- customers ----------------------------------------------------------------------------------

_CUSTOMER_FIELDS = ("name", "kind", "id_type", "id_number", "phone", "email", "gender", "birth_date", "city",
                    "address", "occupation", "annual_income")


def _customers(session: Session, mapping: Mapping, c: Cleaned, batch_id: int, outcomes: _Outcomes,
               created: dict[str, int]) -> None:
    df = c.df
    for f in _CUSTOMER_FIELDS:
        if f"f_{f}" not in df.columns:
            df = df.with_columns(pl.lit(None).alias(f"f_{f}"))
    ok = df.filter(~pl.col("_rejected"))
    first = ok["f_external_id"].is_first_distinct()
    dups = ok.filter(~first)
    outcomes.merge(dups["_row"], "DUP_EXTERNAL_ID", dups["f_external_id"])
    ok = ok.filter(first)
    known = load.source_customers(session, mapping.source)
    ok = ok.join(known.rename({"external_id": "f_external_id", "customer_id": "_known"}), on="f_external_id",
                 how="left")
    again = ok.filter(pl.col("_known").is_not_null())
    outcomes.merge(again["_row"], "DUP_DB_SOURCE_ID", again["_known"].cast(pl.String).map_elements(
        lambda v: f"customer:{v}", return_dtype=pl.String) if again.height else [])
    recs = ok.filter(pl.col("_known").is_null()).select(
        "_row", *[pl.col(f"f_{f}").alias(f) for f in (*_CUSTOMER_FIELDS, "external_id")]).to_dicts()

    links: list[tuple[str, Any]] = []  # (external_id, customer id or ("row", survivor row))
    survivors: dict[int, dict[str, Any]] = {}
    by_doc: dict[tuple[str, str], int] = {}
    doc_hits = customers.ids_by_document(session, [(r["id_type"], r["id_number"]) for r in recs])
    pending: list[dict[str, Any]] = []
    for r in recs:
        doc = (r["id_type"], r["id_number"])
        if doc in doc_hits:
            outcomes.merge([r["_row"]], "DUP_DB_ID_NUMBER", [f"customer:{doc_hits[doc]}"])
            links.append((r["external_id"], doc_hits[doc]))
        elif doc in by_doc:
            s = survivors[by_doc[doc]]
            outcomes.merge([r["_row"]], "DUP_ID_NUMBER", [s["external_id"]])
            links.append((r["external_id"], ("row", s["_row"])))
        else:
            by_doc[doc] = r["_row"]
            survivors[r["_row"]] = r
            pending.append(r)
    if mapping.opt("fuzzy_dedup") and pending:
        people = [Person(("db", cid), name, phone, birth, email, t, n)
                  for cid, name, phone, birth, email, t, n in customers.matching_records(session)]
        people += [Person(r["_row"], r["name"], r["phone"], r["birth_date"], r["email"], r["id_type"], r["id_number"])
                   for r in pending]
        roots, _stats = clusters(people, float(mapping.opt("fuzzy_threshold")))
        keep = []
        for r in pending:
            root = roots[r["_row"]]
            if root == r["_row"]:
                keep.append(r)
            elif isinstance(root, tuple):
                outcomes.merge([r["_row"]], "DUP_DB_FUZZY", [f"customer:{root[1]}"])
                links.append((r["external_id"], root[1]))
                del survivors[r["_row"]]
            else:
                outcomes.merge([r["_row"]], "DUP_FUZZY", [survivors[root]["external_id"]])
                links.append((r["external_id"], ("row", root)))
                del survivors[r["_row"]]
        pending = keep
    kyc = str(mapping.opt("kyc_status"))
    rows = [{
        "number": f"I{batch_id:07d}{i:07d}", "kind": r["kind"] or "individual", "name": r["name"],
        "id_type": r["id_type"], "id_number": r["id_number"], "birth_date": r["birth_date"], "gender": r["gender"],
        "phone": r["phone"], "email": r["email"], "city": r["city"], "address": r["address"],
        "occupation": r["occupation"], "annual_income_minor": r["annual_income"],
        **_kyc("pending" if r["id_type"] == "external" else kyc, mapping.source), "risk_level": "low",
        "daily_limit_minor": None, "status": "active",
    } for i, r in enumerate(pending, 1)]
    ids = customers.insert_many(session, rows)
    created["customers"] += 0
    by_row = {r["_row"]: cid for r, cid in zip(pending, ids, strict=True)}
    out = [{"source": mapping.source, "external_id": r["external_id"], "customer_id": by_row[r["_row"]],
            "batch_id": batch_id} for r in pending]
    for ext, target in links:
        cid = by_row[target[1]] if isinstance(target, tuple) else target
        out.append({"source": mapping.source, "external_id": ext, "customer_id": cid, "batch_id": batch_id})
    load.link_sources(session, out)


def _kyc(status: str, source: str) -> dict[str, Any]:
    """An imported customer's identity status. ``verified`` is the previous core system's verification carried
    over (a migration): recorded as such, with when, so that it is never mistaken for a check made here."""
    if status != "verified":
        return {"kyc_status": status, "kyc_method": None, "kyc_verified_at": None}
    return {"kyc_status": "verified", "kyc_method": "legacy_import", "kyc_verified_at": clock.now()}


# -- accounts -----------------------------------------------------------------------------------


def account_number(source: str, external_id: str) -> str:
    """A stable, check-digit-valid account number for an imported account without one: re-importing the
    same source id finds the same account."""
    h = int(hashlib.sha256(f"{source}:{external_id}".encode()).hexdigest(), 16) % 10**12
    body = f"621799{h:012d}"
    return body + ledger.luhn_digit(body)


def _accounts(session: Session, mapping: Mapping, c: Cleaned, batch_id: int, outcomes: _Outcomes,
              created: dict[str, int]) -> None:
    ok = c.df.filter(~pl.col("_rejected"))
    first = ok["f_external_id"].is_first_distinct()
    dups = ok.filter(~first)
    outcomes.merge(dups["_row"], "DUP_EXTERNAL_ID", dups["f_external_id"])
    ok = _match_customers(session, mapping, ok.filter(first), batch_id, outcomes, created)
    for col in ("f_number", "f_kind", "f_name", "f_opening_balance", "f_opened_on"):
        if col not in ok.columns:
            ok = ok.with_columns(pl.lit(None).alias(col))
    for r in ok.iter_rows(named=True):
        number = r["f_number"] or account_number(mapping.source, r["f_external_id"])
        acct = ledger.find_customer_account(session, number)
        if acct is not None:
            if acct.customer_id == r["customer_id"]:
                outcomes.merge([r["_row"]], "DUP_DB_ACCOUNT", [number])
            else:
                outcomes.reject([r["_row"]], "ACC_NUMBER_TAKEN", "number")
            continue
        acct = ledger.open_account(session, customer_id=r["customer_id"], kind=r["f_kind"] or "demand",
                                   currency=r["f_currency"], name=(r["f_name"] or "")[:200], number=number,
                                   opened_on=r["f_opened_on"])
        if r["f_opening_balance"]:
            src = ledger.internal_account(session, "suspense", r["f_currency"])
            ledger.transfer(session, ledger.TransferCommand(
                key=f"import:{mapping.source}:{r['f_external_id']}", debit_account_id=src.id,
                credit_account_id=acct.id, amount_minor=int(r["f_opening_balance"]), currency=r["f_currency"],
                kind="opening", memo=f"opening balance imported from {mapping.source}"[:200]))
