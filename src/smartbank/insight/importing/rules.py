"""Validation and standardisation rules, vectorised with Polars.

Every rule has a code, a severity and a text. ``reject`` rules keep a row out of the database (it goes
to the rejects file with its codes); ``fix`` and ``impute`` rules change a value and keep the row;
``merge`` rules fold a duplicate into the record it duplicates. Every hit is counted.

Values that need the customers domain's own validators (PRC resident ID numbers, phone numbers) or
Unicode NFKC are computed once per distinct value, so the Python work grows with the number of distinct
values, not rows; everything else is column arithmetic.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from smartbank import clock
from smartbank.customers.service import normalise_phone, parse_id_document, parse_resident_id
from smartbank.errors import ValidationFailed
from smartbank.insight.importing.mapping import ENUMS, REQUIRED, FieldSpec, Mapping, MappingError
from smartbank.ledger.service import valid_account_number
from smartbank.money import CURRENCIES, MAX_MINOR


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str  # reject | fix | impute | merge | info
    text: str


_RULES = [
    Rule("REQ_MISSING", "reject", "a required value is missing"),
    Rule("TOO_LONG", "reject", "the value is longer than the target column allows"),
    Rule("STD_TRIM", "fix", "leading/trailing whitespace removed"),
    Rule("STD_NFKC", "fix", "full-width or compatibility characters normalised (NFKC)"),
    Rule("STD_WHITESPACE", "fix", "inner whitespace collapsed"),
    Rule("STD_CASE", "fix", "letter case normalised"),
    Rule("STD_PHONE", "fix", "phone number rewritten to +86 form"),
    Rule("STD_ID_NUMBER", "fix", "ID number: spaces/dashes removed, x upper-cased"),
    Rule("NAME_INVALID", "reject", "a name needs at least one letter"),
    Rule("ENUM_INVALID", "reject", "the value is not one of the allowed codes"),
    Rule("ID_MISSING", "reject", "an identity document number is required for this ID type"),
    Rule("ID_FORMAT", "reject", "the ID number has the wrong format"),
    Rule("ID_REGION", "reject", "the resident ID number has an unknown region code"),
    Rule("ID_BIRTH_DATE", "reject", "the resident ID number holds an impossible or out-of-range birth date"),
    Rule("ID_CHECKSUM", "reject", "the resident ID number's check digit is wrong"),
    Rule("PHONE_INVALID", "reject", "not a valid mainland China phone number"),
    Rule("EMAIL_INVALID", "reject", "not an e-mail address"),
    Rule("GENDER_INVALID", "reject", "gender is not one of the mapped values"),
    Rule("GENDER_CONFLICT", "fix", "stated gender differs from the resident ID; the ID's is kept"),
    Rule("BIRTH_CONFLICT", "fix", "stated birth date differs from the resident ID; the ID's is kept"),
    Rule("DATE_INVALID", "reject", "not a date/time in any of the mapped formats"),
    Rule("DATE_FUTURE", "reject", "the date is in the future"),
    Rule("DATE_TOO_OLD", "reject", "the date is implausibly old"),
    Rule("AMT_INVALID", "reject", "not an amount"),
    Rule("AMT_PRECISION", "reject", "the amount has more decimals than the currency allows"),
    Rule("AMT_NEGATIVE", "reject", "the amount is negative"),
    Rule("AMT_ZERO", "reject", "a transaction amount must be positive"),
    Rule("AMT_TOO_LARGE", "reject", "the amount is larger than the mapped or absolute maximum"),
    Rule("AMT_ROUNDED", "fix", "extra decimals rounded half-even to the currency's minor unit (exact decimal)"),
    Rule("AMT_CREDIT", "fix", "a negative amount was read as money in (direction credit)"),
    Rule("CUR_UNKNOWN", "reject", "unknown currency code"),
    Rule("BOOL_INVALID", "reject", "not a yes/no value"),
    Rule("ACC_NUMBER_INVALID", "reject", "the account number fails its check digit"),
    Rule("ACC_NUMBER_TAKEN", "reject", "the account number belongs to another customer"),
    Rule("UNKNOWN_CUSTOMER", "reject", "no customer with this source customer id"),
    Rule("IMP_CURRENCY", "impute", "currency taken from the mapping default"),
    Rule("IMP_DEFAULT", "impute", "a missing value taken from the mapping default"),
    Rule("IMP_BIRTH_DATE", "impute", "birth date derived from the resident ID"),
    Rule("IMP_GENDER", "impute", "gender derived from the resident ID"),
    Rule("IMP_EXTERNAL_ID", "impute", "no ID number: registered as id_type external with the source id"),
    Rule("IMP_CUSTOMER", "impute", "an unknown source customer created as a pending placeholder customer"),
    Rule("DUP_EXTERNAL_ID", "merge", "the same source external id appeared earlier in the file"),
    Rule("DUP_ID_NUMBER", "merge", "the same normalised ID number appeared earlier in the file"),
    Rule("DUP_FUZZY", "merge", "the same person under a slightly different name, phone or ID spelling"),
    Rule("DUP_DB_SOURCE_ID", "merge", "already imported from this source (re-import)"),
    Rule("DUP_DB_ID_NUMBER", "merge", "a customer with this ID number already exists; linked to it"),
    Rule("DUP_DB_FUZZY", "merge", "matches an existing customer (fuzzy); linked to it"),
    Rule("DUP_DB_ACCOUNT", "merge", "the account was already imported (re-import)"),
    Rule("ENC_GB18030", "info", "the file is not UTF-8; decoded as GB18030"),
]
RULES: dict[str, Rule] = {r.code: r for r in _RULES}

MAX_LEN = {"external_id": 64, "customer_external_id": 64, "name": 200, "city": 64, "address": 300,
           "occupation": 64, "counterparty": 64, "category": 32, "email": 200, "id_number": 40, "number": 32}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日")
DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S%.f",
                    "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S")
GENDER_VALUES = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F", "1": "M", "2": "F"}
BOOL_VALUES = {"1": "true", "0": "false", "true": "true", "false": "false", "t": "true", "f": "false",
               "yes": "true", "no": "false", "y": "true", "n": "false", "是": "true", "否": "false"}
_NON_ASCII = r"[^\x00-\x7F]"


@dataclass
class Flag:
    column: str
    code: str
    field: str
    rejects: bool


@dataclass
class Cleaned:
    """The cleaned frame (``_row`` = 1-based data row of the file, ``f_<field>`` = cleaned values), its
    rule flags (one boolean column each) and the rule hits so far."""

    df: pl.DataFrame
    flags: list[Flag] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)

    def flag(self, code: str, fld: str, mask: pl.Series | pl.Expr, *, rejects: bool | None = None) -> None:
        col = f"!{code}!{fld}"
        if col in self.df.columns:  # the same rule on the same field twice: or them
            self.df = self.df.with_columns((pl.col(col) | mask).fill_null(False).alias(col))
        else:
            self.df = self.df.with_columns(
                (mask if isinstance(mask, pl.Expr) else pl.lit(mask)).fill_null(False).alias(col))
            self.flags.append(Flag(col, code, fld, RULES[code].severity == "reject" if rejects is None else rejects))

    def count(self, code: str, n: int) -> None:
        if n:
            self.hits[code] = self.hits.get(code, 0) + int(n)

    def rejected(self) -> pl.Series:
        cols = [f.column for f in self.flags if f.rejects]
        if not cols:
            return pl.Series("_rejected", [False] * self.df.height, dtype=pl.Boolean)
        return self.df.select(pl.any_horizontal(cols).alias("_rejected")).to_series()

    def finish_hits(self) -> dict[str, int]:
        sums = self.df.select([pl.col(f.column).sum() for f in self.flags]).row(0) if self.flags else ()
        for f, n in zip(self.flags, sums, strict=True):
            self.count(f.code, n or 0)
        return dict(sorted(self.hits.items()))

    def reasons(self) -> pl.DataFrame:
        """``_row``, ``_rules`` (CODE:field;...) and ``_message`` for every row with a rejecting flag."""
        rej = [f for f in self.flags if f.rejects]
        if not rej:
            return pl.DataFrame({"_row": [], "_rules": [], "_message": []},
                                schema={"_row": pl.Int64, "_rules": pl.String, "_message": pl.String})
        d = self.df.filter(pl.any_horizontal([f.column for f in rej]))
        codes = pl.concat_str([pl.when(pl.col(f.column)).then(pl.lit(f"{f.code}:{f.field}")) for f in rej],
                              separator=";", ignore_nulls=True)
        msgs = pl.concat_str([pl.when(pl.col(f.column)).then(pl.lit(f"{f.field}: {RULES[f.code].text}"))
                              for f in rej], separator="; ", ignore_nulls=True)
        return d.select(pl.col("_row"), codes.alias("_rules"), msgs.alias("_message"))


def map_unique(s: pl.Series, fn: Callable[[str], Any], dtype: Any) -> pl.Series:
    """Apply ``fn`` once per distinct non-null value (for validators written for one value)."""
    uniq = s.drop_nulls().unique().to_list()
    table = {v: fn(v) for v in uniq}
    return s.replace_strict(table, default=None, return_dtype=dtype) if table else pl.Series(
        s.name, [None] * s.len(), dtype=dtype)


def nfkc(s: pl.Series) -> pl.Series:
    mask = s.str.contains(_NON_ASCII).fill_null(False)
    if not mask.any():
        return s
    table = {v: unicodedata.normalize("NFKC", v) for v in s.filter(mask).unique().to_list()}
    return s.replace(table)


class Cleaner:
    def __init__(self, mapping: Mapping, *, now: datetime | None = None):
        self.m = mapping
        self.now = now or clock.now()
        self.today = clock.local_date(self.now)

    # -- entry --------------------------------------------------------------------------------
    def run(self, raw: pl.DataFrame) -> Cleaned:
        missing = [c for c in self.m.columns() if c not in raw.columns]
        if missing:
            raise MappingError(f"the file has no column(s) {missing}; it has {raw.columns[:30]}",
                               details={"missing": missing})
        df = raw.select([pl.int_range(1, raw.height + 1, dtype=pl.Int64).alias("_row")]
                        + [pl.col(c) for c in dict.fromkeys(self.m.columns())])
        c = Cleaned(df)
        self._standardise(c)
        fields = self.m.fields
        # currency first: amounts need its exponent
        self._currency(c, fields.get("currency"))
        for name, spec in fields.items():
            if name == "currency":
                continue
            getattr(self, "_" + spec.type)(c, spec)
        for name in REQUIRED[self.m.kind]:  # required values present (after the mapping's defaults)
            spec = fields[name]
            if spec.default is None and spec.column is not None:
                c.flag("REQ_MISSING", name, pl.col(f"_raw_{name}").is_null())
        if self.m.kind == "customers":
            self._customer_rules(c)
        if self.m.kind == "transactions":
            if "f_direction" not in c.df.columns:
                c.df = c.df.with_columns(pl.lit("debit").alias("f_direction"))
            if "_neg_amount" in c.df.columns:
                c.df = c.df.with_columns(pl.when(pl.col("_neg_amount")).then(pl.lit("credit"))
                                         .otherwise(pl.col("f_direction")).alias("f_direction"))
        return c

    # -- generic steps ------------------------------------------------------------------------
    def _standardise(self, c: Cleaned) -> None:
        """Trim, blank -> null and NFKC every mapped source column (once per column)."""
        cols = list(dict.fromkeys(self.m.columns()))
        out = []
        for col in cols:
            s = c.df.get_column(col).cast(pl.String)
            t = s.str.strip_chars()
            c.count("STD_TRIM", int((t != s).sum() or 0))
            n = nfkc(t)
            c.count("STD_NFKC", int((n != t).sum() or 0))
            n = n.str.strip_chars()
            out.append(pl.when(n.str.len_chars() == 0).then(None).otherwise(n).alias(col))
        c.df = c.df.with_columns(out)

    def _source(self, c: Cleaned, spec: FieldSpec) -> pl.Expr:
        """The field's source value after the ``values`` map and the ``prefix``, before its default."""
        name = spec.target
        e = pl.col(spec.column) if spec.column else pl.lit(None, dtype=pl.String)
        c.df = c.df.with_columns(e.alias(f"_raw_{name}"))
        e = pl.col(f"_raw_{name}")
        if spec.values:
            keys = {str(k).strip(): str(v) if v is not None else None for k, v in spec.values.items()}
            keys.update({k.lower(): v for k, v in list(keys.items())})
            e = pl.when(e.is_in(list(keys))).then(e.replace(keys)).when(e.str.to_lowercase().is_in(list(keys))) \
                .then(e.str.to_lowercase().replace(keys)).otherwise(e)
        if spec.prefix:
            e = pl.lit(spec.prefix) + e
        return e

    def _with_default(self, c: Cleaned, spec: FieldSpec, e: pl.Expr, code: str = "IMP_DEFAULT") -> pl.Expr:
        if spec.default is None:
            return e
        c.flag(code, spec.target, e.is_null())
        return e.fill_null(pl.lit(str(spec.default)))

    def _length(self, c: Cleaned, spec: FieldSpec) -> None:
        limit = MAX_LEN.get(spec.target)
        if limit:
            c.flag("TOO_LONG", spec.target, pl.col(f"f_{spec.target}").str.len_chars() > limit,
                   rejects=spec.on_invalid == "reject" or spec.target.endswith("id"))
            if spec.on_invalid == "null":
                c.df = c.df.with_columns(pl.when(pl.col(f"f_{spec.target}").str.len_chars() > limit).then(None)
                                         .otherwise(pl.col(f"f_{spec.target}")).alias(f"f_{spec.target}"))

    def _invalid(self, c: Cleaned, spec: FieldSpec, code: str, mask: pl.Expr) -> None:
        """Flag invalid values; with ``on_invalid: null`` the value is dropped and the row kept."""
        c.flag(code, spec.target, mask, rejects=spec.on_invalid == "reject")
        if spec.on_invalid == "null":
            out = f"f_{spec.target}"
            c.df = c.df.with_columns(pl.when(pl.col(f"!{code}!{spec.target}")).then(None).otherwise(pl.col(out))
                                     .alias(out))

    def _case(self, e: pl.Expr, spec: FieldSpec) -> pl.Expr:
        return {"upper": e.str.to_uppercase(), "lower": e.str.to_lowercase(),
                "title": e.str.to_titlecase()}.get(spec.case or "", e)

    # -- field types --------------------------------------------------------------------------
    def _id(self, c: Cleaned, spec: FieldSpec) -> None:
        e = self._with_default(c, spec, self._source(c, spec))
        c.df = c.df.with_columns(self._case(e, spec).alias(f"f_{spec.target}"))
        self._length(c, spec)

    def _text(self, c: Cleaned, spec: FieldSpec) -> None:
        e = self._source(c, spec)
        collapsed = e.str.replace_all(r"\s+", " ")
        c.flag("STD_WHITESPACE", spec.target, collapsed != e)
        e = self._with_default(c, spec, self._case(collapsed, spec))
        c.df = c.df.with_columns(e.alias(f"f_{spec.target}"))
        self._length(c, spec)

    def _name(self, c: Cleaned, spec: FieldSpec) -> None:
        e = self._source(c, spec)
        collapsed = e.str.replace_all(r"\s+", " ")
        # a Chinese name has no spaces ("张 伟" -> "张伟"); a Latin one is title-cased ("ZHANG  WEI" -> "Zhang Wei")
        han = collapsed.str.contains(r"^[\p{Han}·\s]+$")
        latin = collapsed.str.contains(r"^[A-Za-z .'\-]+$")
        fixed = pl.when(han).then(collapsed.str.replace_all(r"\s", "")).otherwise(collapsed)
        c.flag("STD_WHITESPACE", spec.target, fixed != e)
        cased = self._case(fixed, spec) if spec.case else pl.when(latin).then(fixed.str.to_titlecase()).otherwise(fixed)
        c.flag("STD_CASE", spec.target, cased != fixed)
        cased = self._with_default(c, spec, cased)
        c.df = c.df.with_columns(cased.alias(f"f_{spec.target}"))
        c.flag("NAME_INVALID", spec.target, pl.col(f"f_{spec.target}").is_not_null()
               & ~pl.col(f"f_{spec.target}").str.contains(r"\p{L}"))
        self._length(c, spec)

    def _enum(self, c: Cleaned, spec: FieldSpec) -> None:
        e = self._source(c, spec).str.to_lowercase()
        e = self._with_default(c, spec, e)
        c.df = c.df.with_columns(e.alias(f"f_{spec.target}"))
        allowed = ENUMS.get((self.m.kind, spec.target))
        if allowed:
            self._invalid(c, spec, "ENUM_INVALID", pl.col(f"f_{spec.target}").is_not_null()
                          & ~pl.col(f"f_{spec.target}").is_in(list(allowed)))

    def _currency(self, c: Cleaned, spec: FieldSpec | None) -> None:
        if spec is None:
            c.df = c.df.with_columns(pl.lit("CNY").alias("f_currency"))
            c.flag("IMP_CURRENCY", "currency", pl.lit(True))
        else:
            e = self._source(c, spec).str.to_uppercase().str.replace_all(r"^RMB$", "CNY")
            e = self._with_default(c, spec, e, "IMP_CURRENCY")
            c.df = c.df.with_columns(e.alias("f_currency"))
            c.flag("CUR_UNKNOWN", "currency", pl.col("f_currency").is_null()
                   | ~pl.col("f_currency").is_in(list(CURRENCIES)))
        c.df = c.df.with_columns(pl.col("f_currency").replace_strict(CURRENCIES, default=2, return_dtype=pl.Int8)
                                 .alias("_exp"))

    def _amount(self, c: Cleaned, spec: FieldSpec) -> None:
        name = spec.target
        e = self._source(c, spec)
        if spec.default is not None:
            e = e.fill_null(pl.lit(str(spec.default)))
        s = e.str.replace_all(r"[¥￥$\s]", "").str.replace(r"^(?:CNY|RMB)", "")
        neg = s.str.starts_with("-") | (s.str.starts_with("(") & s.str.ends_with(")"))
        body = s.str.strip_chars("+-()")
        grouped = body.str.contains(r"^\d{1,3}(?:,\d{3})+(?:\.\d*)?$")
        body = pl.when(grouped).then(body.str.replace_all(",", "")).otherwise(body)
        c.df = c.df.with_columns(body.alias("_b"), neg.fill_null(False).alias("_neg"))
        b = pl.col("_b")
        if spec.unit == "minor":
            ok = b.str.contains(r"^\d{1,18}$")
            minor = b.cast(pl.Int64, strict=False)
            frac_len = pl.lit(0)
        else:
            ok = b.str.contains(r"^\d{1,15}(?:\.\d*)?$") | b.str.contains(r"^\.\d+$")
            whole = b.str.extract(r"^(\d*)", 1).str.replace(r"^$", "0").cast(pl.Int64, strict=False)
            frac = b.str.extract(r"\.(\d*)$", 1).fill_null("").str.strip_chars_end("0")
            frac_len = frac.str.len_chars()
            frac2 = frac.str.pad_end(2, "0").str.slice(0, 2).cast(pl.Int64, strict=False)
            exact = pl.when(pl.col("_exp") == 0).then(whole).otherwise(whole * 100 + frac2)
            if spec.rounding == "half_even":
                # round the decimal string itself: look at the first dropped digit and what follows it
                keep = pl.col("_exp").cast(pl.Int64)
                dropped = pl.when(keep == 0).then(frac).otherwise(frac.str.slice(2))
                first = dropped.str.slice(0, 1).cast(pl.Int64, strict=False).fill_null(0)
                tail = dropped.str.slice(1).str.contains(r"[1-9]").fill_null(False)
                odd = (exact % 2) == 1
                up = (first > 5) | ((first == 5) & (tail | odd))
                minor = exact + up.cast(pl.Int64)
                c.df = c.df.with_columns((b.is_not_null() & (frac_len > keep)).fill_null(False).alias("_rounded"))
                c.flag("AMT_ROUNDED", name, pl.col("_rounded") & ok)
                frac_len = pl.lit(0)
            else:
                minor = exact
        c.df = c.df.with_columns(minor.alias(f"f_{name}"), ok.alias("_ok"), frac_len.alias("_fl"))
        present = pl.col("_b").is_not_null()
        c.flag("AMT_INVALID", name, present & ~pl.col("_ok"), rejects=spec.on_invalid == "reject")
        c.flag("AMT_PRECISION", name, present & pl.col("_ok") & (pl.col("_fl") > pl.col("_exp").cast(pl.Int64)))
        v = pl.col(f"f_{name}")
        maximum = min(int(spec.max), MAX_MINOR) if spec.max is not None else MAX_MINOR
        c.flag("AMT_TOO_LARGE", name, present & pl.col("_ok") & (v > maximum))
        if self.m.kind == "transactions" and name == "amount" and spec.min is None:
            c.flag("AMT_ZERO", name, present & pl.col("_ok") & (v == 0))
        if spec.negative == "credit":
            c.flag("AMT_CREDIT", name, pl.col("_neg"))
            c.df = c.df.with_columns(pl.col("_neg").alias("_neg_amount"))
        else:
            c.flag("AMT_NEGATIVE", name, pl.col("_neg") & (v != 0))
        bad = ~pl.col("_ok") | (pl.col("_fl") > pl.col("_exp").cast(pl.Int64))
        c.df = c.df.with_columns(pl.when(present & ~bad).then(v).otherwise(None).alias(f"f_{name}")) \
            .drop("_b", "_neg", "_ok", "_fl", *(["_rounded"] if "_rounded" in c.df.columns else []))

    def _parse_dates(self, e: pl.Expr, formats: tuple[str, ...], dtype: pl.DataType) -> pl.Expr:
        return pl.coalesce([e.str.strptime(dtype, f, strict=False) for f in formats])  # type: ignore[arg-type]

    def _date(self, c: Cleaned, spec: FieldSpec) -> None:
        name = spec.target
        e = self._with_default(c, spec, self._source(c, spec))
        d = self._parse_dates(e, spec.formats or DATE_FORMATS, pl.Date())
        c.df = c.df.with_columns(e.alias("_s"), d.alias(f"f_{name}"))
        self._invalid(c, spec, "DATE_INVALID", pl.col("_s").is_not_null() & pl.col(f"f_{name}").is_null())
        v = pl.col(f"f_{name}")
        self._invalid(c, spec, "DATE_FUTURE", v > self.today)
        if spec.min_date:
            oldest = date.fromisoformat(str(spec.min_date))
        elif name == "birth_date":
            years = spec.max_age_years or 120
            oldest = self.today.replace(year=self.today.year - years, day=min(self.today.day, 28))
        else:
            oldest = date(1900, 1, 1)
        self._invalid(c, spec, "DATE_TOO_OLD", v < oldest)
        c.df = c.df.drop("_s")

    def _datetime(self, c: Cleaned, spec: FieldSpec) -> None:
        name = spec.target
        e = self._with_default(c, spec, self._source(c, spec))
        d = self._parse_dates(e, spec.formats or DATETIME_FORMATS, pl.Datetime("us"))
        d = d.dt.replace_time_zone(spec.timezone, ambiguous="earliest", non_existent="null") \
            .dt.convert_time_zone("UTC")
        c.df = c.df.with_columns(e.alias("_s"), d.alias(f"f_{name}"))
        self._invalid(c, spec, "DATE_INVALID", pl.col("_s").is_not_null() & pl.col(f"f_{name}").is_null())
        v = pl.col(f"f_{name}")
        tolerance = timedelta(days=float(self.m.opt("future_tolerance_days")))
        self._invalid(c, spec, "DATE_FUTURE", v > pl.lit(self.now + tolerance).dt.convert_time_zone("UTC"))
        oldest = datetime.fromisoformat(str(spec.min_date or "1970-01-01")).replace(tzinfo=UTC)
        self._invalid(c, spec, "DATE_TOO_OLD", v < pl.lit(oldest).dt.convert_time_zone("UTC"))
        c.df = c.df.drop("_s")

    def _bool(self, c: Cleaned, spec: FieldSpec) -> None:
        e = self._with_default(c, spec, self._source(c, spec)).str.to_lowercase()
        c.df = c.df.with_columns(e.alias("_s"))
        parsed = pl.col("_s").replace_strict(BOOL_VALUES, default=None, return_dtype=pl.String)
        c.df = c.df.with_columns((parsed == "true").alias(f"f_{spec.target}"))
        self._invalid(c, spec, "BOOL_INVALID", pl.col("_s").is_not_null() & parsed.is_null())
        c.df = c.df.drop("_s")

    def _gender(self, c: Cleaned, spec: FieldSpec) -> None:
        e = self._source(c, spec)
        e = e.str.to_lowercase().replace_strict({**GENDER_VALUES, "m": "M", "f": "F"}, default=e)
        e = self._with_default(c, spec, e)
        c.df = c.df.with_columns(e.alias(f"f_{spec.target}"))
        self._invalid(c, spec, "GENDER_INVALID", pl.col(f"f_{spec.target}").is_not_null()
                      & ~pl.col(f"f_{spec.target}").is_in(["M", "F"]))

    def _email(self, c: Cleaned, spec: FieldSpec) -> None:
        e = self._with_default(c, spec, self._source(c, spec)).str.to_lowercase()
        c.df = c.df.with_columns(e.alias(f"f_{spec.target}"))
        self._invalid(c, spec, "EMAIL_INVALID", pl.col(f"f_{spec.target}").is_not_null()
                      & ~pl.col(f"f_{spec.target}").str.contains(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"))
        self._length(c, spec)

    def _phone(self, c: Cleaned, spec: FieldSpec) -> None:
        e = self._with_default(c, spec, self._source(c, spec))
        c.df = c.df.with_columns(e.alias("_s"))

        def norm(v: str) -> str | None:
            try:
                return normalise_phone(v)
            except ValidationFailed:
                return None

        out = map_unique(c.df.get_column("_s"), norm, pl.String)
        c.df = c.df.with_columns(out.alias(f"f_{spec.target}"))
        c.flag("STD_PHONE", spec.target, pl.col(f"f_{spec.target}").is_not_null()
               & (pl.col(f"f_{spec.target}") != pl.col("_s")))
        self._invalid(c, spec, "PHONE_INVALID", pl.col("_s").is_not_null() & pl.col(f"f_{spec.target}").is_null())
        c.df = c.df.drop("_s")

    def _id_number(self, c: Cleaned, spec: FieldSpec) -> None:
        e = self._with_default(c, spec, self._source(c, spec))
        cleaned = e.str.replace_all(r"[\s\-]", "").str.to_uppercase()
        c.flag("STD_ID_NUMBER", spec.target, cleaned != e)
        c.df = c.df.with_columns(cleaned.alias(f"f_{spec.target}"))

    def _account_number(self, c: Cleaned, spec: FieldSpec) -> None:
        e = self._with_default(c, spec, self._source(c, spec)).str.replace_all(r"[\s\-]", "")
        c.df = c.df.with_columns(e.alias(f"f_{spec.target}"))
        ok = map_unique(c.df.get_column(f"f_{spec.target}"), valid_account_number, pl.Boolean)
        c.flag("ACC_NUMBER_INVALID", spec.target, pl.col(f"f_{spec.target}").is_not_null() & ~ok.fill_null(False))

    # -- customers: identity documents and what they imply -------------------------------------
    def _customer_rules(self, c: Cleaned) -> None:
        df = c.df
        if "f_kind" not in df.columns:
            df = df.with_columns(pl.lit("individual").alias("f_kind"))
        if "f_id_number" not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias("f_id_number"))
        if "f_id_type" not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias("f_id_type"))
        for col, dt in (("f_birth_date", pl.Date()), ("f_gender", pl.String())):
            if col not in df.columns:
                df = df.with_columns(pl.lit(None, dtype=dt).alias(col))
        df = df.with_columns(pl.col("f_id_type").fill_null(
            pl.when(pl.col("f_kind") == "business").then(pl.lit("business_licence")).otherwise(pl.lit("resident_id"))))
        c.df = df
        # no ID number: registered as an external identity (pending KYC) instead of being dropped
        no_id = pl.col("f_id_number").is_null()
        c.flag("IMP_EXTERNAL_ID", "id_number", no_id)
        c.df = c.df.with_columns(
            pl.when(no_id).then(pl.lit("external")).otherwise(pl.col("f_id_type")).alias("f_id_type"),
            pl.when(no_id).then(pl.lit(self.m.source + ":") + pl.col("f_external_id"))
            .otherwise(pl.col("f_id_number")).alias("f_id_number"))

        today = self.today

        def rid(v: str) -> dict[str, Any]:
            try:
                r = parse_resident_id(v, today=today)
                return {"err": None, "birth": r.birth_date, "gender": r.gender}
            except ValidationFailed as exc:
                msg = exc.message
                code = ("ID_CHECKSUM" if "check digit" in msg else "ID_REGION" if "region" in msg
                        else "ID_BIRTH_DATE" if "birth date" in msg else "ID_FORMAT")
                return {"err": code, "birth": None, "gender": None}

        is_rid = pl.col("f_id_type") == "resident_id"
        rid_numbers = c.df.select(pl.when(is_rid).then(pl.col("f_id_number")).alias("n")).to_series()
        parsed = map_unique(rid_numbers, rid, pl.Struct({"err": pl.String, "birth": pl.Date, "gender": pl.String}))
        c.df = c.df.with_columns(parsed.struct.field("err").alias("_rid_err"),
                                 parsed.struct.field("birth").alias("_rid_birth"),
                                 parsed.struct.field("gender").alias("_rid_gender"))
        for code in ("ID_FORMAT", "ID_REGION", "ID_BIRTH_DATE", "ID_CHECKSUM"):
            c.flag(code, "id_number", pl.col("_rid_err") == code)
        other = pl.col("f_id_number")
        # every other document by its own rule - the same one the bank applies when it opens a customer
        # (customers.validation.parse_id_document); the normalised number replaces what was typed

        def doc(key: str) -> dict[str, Any]:
            kind, id_type, number = key.split("\x1f", 2)
            try:
                return {"err": None, "number": parse_id_document(kind, id_type, number, today=today).number}
            except ValidationFailed:
                return {"err": "ID_FORMAT", "number": None}

        is_doc = ~is_rid & (pl.col("f_id_type") != "external") & pl.col("f_id_type").is_in(
            list(ENUMS[("customers", "id_type")]))
        keys = c.df.select(pl.when(is_doc).then(pl.concat_str(
            [pl.col("f_kind").fill_null("individual"), pl.col("f_id_type"), other], separator="\x1f")).alias("k"))
        checked = map_unique(keys.to_series(), doc, pl.Struct({"err": pl.String, "number": pl.String}))
        c.df = c.df.with_columns(checked.struct.field("err").alias("_doc_err"),
                                 checked.struct.field("number").alias("_doc_number"))
        c.flag("ID_FORMAT", "id_number", pl.col("_doc_err") == "ID_FORMAT")
        c.df = c.df.with_columns(pl.coalesce(pl.col("_doc_number"), pl.col("f_id_number")).alias("f_id_number")) \
            .drop("_doc_err", "_doc_number")
        c.flag("TOO_LONG", "id_number", other.str.len_chars() > 40)
        c.flag("ID_FORMAT", "id_type", ~pl.col("f_id_type").is_in(list(ENUMS[("customers", "id_type")])))
        # imputation and conflicts: the resident ID is the authority on birth date and gender
        has = pl.col("_rid_birth").is_not_null()
        c.flag("IMP_BIRTH_DATE", "birth_date", has & pl.col("f_birth_date").is_null())
        c.flag("BIRTH_CONFLICT", "birth_date", has & pl.col("f_birth_date").is_not_null()
               & (pl.col("f_birth_date") != pl.col("_rid_birth")))
        c.flag("IMP_GENDER", "gender", has & pl.col("f_gender").is_null())
        c.flag("GENDER_CONFLICT", "gender", has & pl.col("f_gender").is_in(["M", "F"])
               & (pl.col("f_gender") != pl.col("_rid_gender")))
        c.df = c.df.with_columns(
            pl.when(has).then(pl.col("_rid_birth")).otherwise(pl.col("f_birth_date")).alias("f_birth_date"),
            pl.when(has).then(pl.col("_rid_gender")).otherwise(pl.col("f_gender")).alias("f_gender"),
        ).drop("_rid_err", "_rid_birth", "_rid_gender")
