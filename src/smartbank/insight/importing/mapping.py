"""The mapping file: which source column is which target field, with per-field options.

A mapping is YAML (see docs/IMPORT.md)::

    source: legacy_core          # the source system's name (customer_source_ids.source)
    kind: customers              # customers | accounts | transactions
    encoding: auto               # auto (UTF-8, GB18030 fallback) | utf-8 | gb18030
    delimiter: ","
    options: {create_missing_customers: false, kyc_status: pending, fuzzy_dedup: true}
    fields:
      external_id: {column: CUST_NO}
      name:        {column: 姓名}
      gender:      {column: 性别, values: {男: M, 女: F}, on_invalid: "null"}
      opening_balance: {column: BAL, unit: major}
      currency:    {column: CCY, default: CNY}

Everything is checked before a single row is read, so a bad mapping writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smartbank.errors import ValidationFailed
from smartbank.money import CURRENCIES

KINDS = ("customers", "accounts", "transactions")

# target field -> type; the types decide which options apply and which rules run
TARGETS: dict[str, dict[str, str]] = {
    "customers": {
        "external_id": "id", "name": "name", "kind": "enum", "id_type": "enum", "id_number": "id_number",
        "phone": "phone", "email": "email", "gender": "gender", "birth_date": "date", "city": "text",
        "address": "text", "occupation": "text", "annual_income": "amount", "currency": "currency",
    },
    "accounts": {
        "external_id": "id", "customer_external_id": "id", "number": "account_number", "kind": "enum",
        "name": "text", "currency": "currency", "opening_balance": "amount", "opened_on": "date",
    },
    "transactions": {
        "external_id": "id", "customer_external_id": "id", "occurred_at": "datetime", "amount": "amount",
        "currency": "currency", "direction": "enum", "counterparty": "text", "channel": "enum",
        "category": "text", "is_fraud": "bool",
    },
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("external_id", "name"),
    "accounts": ("external_id", "customer_external_id"),
    "transactions": ("external_id", "customer_external_id", "occurred_at", "amount"),
}
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("customers", "kind"): ("individual", "business"),
    ("customers", "id_type"): ("resident_id", "passport", "hk_macau_permit", "taiwan_permit", "business_licence",
                               "external"),
    ("accounts", "kind"): ("demand", "savings"),
    ("transactions", "direction"): ("debit", "credit"),
    ("transactions", "channel"): ("card", "online", "atm", "branch", "mobile"),
}
OPTION_KEYS = {"column", "default", "values", "unit", "format", "timezone", "on_invalid", "prefix", "case",
               "min", "max", "negative", "min_date", "max_age_years", "rounding"}
GLOBAL_OPTIONS = {"create_missing_customers": False, "customer_source": None, "kyc_status": "pending",
                  "fuzzy_dedup": True, "fuzzy_threshold": 90, "future_tolerance_days": 1}


class MappingError(ValidationFailed):
    code = "bad_mapping"


@dataclass(frozen=True)
class FieldSpec:
    target: str
    type: str
    column: str | None = None
    default: Any = None
    values: dict[str, Any] | None = None
    unit: str = "major"
    formats: tuple[str, ...] = ()
    timezone: str = "Asia/Shanghai"
    on_invalid: str = "reject"  # reject | null
    prefix: str = ""
    case: str | None = None  # upper | lower | title
    min: Any = None
    max: Any = None
    negative: str = "reject"  # reject | credit (amounts below zero mean money in)
    min_date: str | None = None
    max_age_years: int | None = None
    rounding: str | None = None  # None: extra decimals reject the row | half_even: round once, exactly


@dataclass(frozen=True)
class Mapping:
    kind: str
    source: str
    fields: dict[str, FieldSpec]
    encoding: str = "auto"
    delimiter: str = ","
    options: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def opt(self, key: str) -> Any:
        return self.options.get(key, GLOBAL_OPTIONS.get(key))

    @property
    def customer_source(self) -> str:
        return self.opt("customer_source") or self.source

    def columns(self) -> list[str]:
        return [f.column for f in self.fields.values() if f.column]


def load_mapping(path: str | Path | None = None, *, data: dict[str, Any] | None = None, kind: str | None = None,
                 source: str | None = None) -> Mapping:
    """Read and check a mapping. ``kind``/``source`` given on the command line must agree with the file
    (or fill in what it leaves out)."""
    if data is None:
        if path is None:
            raise MappingError("a mapping file is required")
        p = Path(path)
        if not p.is_file():
            raise MappingError(f"mapping file not found: {p}", details={"mapping": str(p)})
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise MappingError(f"mapping file {p} is not valid YAML: {exc}", details={"mapping": str(p)}) from exc
    if not isinstance(data, dict):
        raise MappingError("a mapping is a YAML mapping with 'kind', 'source' and 'fields'")
    unknown = set(data) - {"kind", "source", "encoding", "delimiter", "options", "fields", "description"}
    if unknown:
        raise MappingError(f"unknown mapping keys: {sorted(unknown)}", details={"keys": sorted(unknown)})
    k = data.get("kind") or kind
    if kind and data.get("kind") and data["kind"] != kind:
        raise MappingError(f"the mapping is for {data['kind']}, not {kind}", details={"kind": data["kind"]})
    if k not in KINDS:
        raise MappingError(f"kind must be one of {', '.join(KINDS)}", details={"kind": k})
    src = source or data.get("source")
    if not src or not isinstance(src, str) or len(src) > 32 or not src.replace("_", "").replace("-", "").isalnum():
        raise MappingError("source must be a name of 1-32 letters, digits, '-' or '_'", details={"source": src})
    encoding = str(data.get("encoding", "auto")).lower()
    if encoding not in ("auto", "utf-8", "utf8", "gb18030", "gbk"):
        raise MappingError(f"unsupported encoding {encoding!r}", details={"encoding": encoding})
    delimiter = str(data.get("delimiter", ","))
    if len(delimiter) != 1:
        raise MappingError("delimiter must be one character", details={"delimiter": delimiter})
    options = data.get("options") or {}
    if not isinstance(options, dict) or set(options) - set(GLOBAL_OPTIONS):
        raise MappingError(f"unknown options: {sorted(set(options) - set(GLOBAL_OPTIONS))}; "
                           f"known: {sorted(GLOBAL_OPTIONS)}")
    if options.get("kyc_status", "pending") not in ("pending", "verified"):
        raise MappingError("option kyc_status is pending (the default) or verified (carried over from the previous "
                           "core system, recorded as legacy_import)", details={"kyc_status": options.get("kyc_status")})
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, dict) or not raw_fields:
        raise MappingError("'fields' must map target fields to {column: ..., options}")
    targets = TARGETS[k]
    fields: dict[str, FieldSpec] = {}
    for name, spec in raw_fields.items():
        if name not in targets:
            raise MappingError(f"{k} have no field {name!r}; known: {', '.join(targets)}", details={"field": name})
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict):
            raise MappingError(f"field {name!r}: give a column name or a mapping of options")
        bad = set(spec) - OPTION_KEYS
        if bad:
            raise MappingError(f"field {name!r}: unknown options {sorted(bad)}", details={"field": name})
        fields[name] = _field(k, name, targets[name], spec)
    for req in REQUIRED[k]:
        f = fields.get(req)
        if f is None or (f.column is None and f.default is None):
            raise MappingError(f"{k} need the field {req!r} (a column or a default)", details={"field": req})
    return Mapping(kind=k, source=src, fields=fields, encoding=encoding, delimiter=delimiter, options=dict(options),
                   raw=dict(data))


def _field(kind: str, name: str, ftype: str, spec: dict[str, Any]) -> FieldSpec:
    col = spec.get("column")
    if col is not None and not isinstance(col, str | int):
        raise MappingError(f"field {name!r}: column must be a column name")
    values = spec.get("values")
    if values is not None:
        if not isinstance(values, dict):
            raise MappingError(f"field {name!r}: values must map source values to target values")
        values = {str(a): b for a, b in values.items()}
    unit = str(spec.get("unit", "major"))
    if unit not in ("major", "minor"):
        raise MappingError(f"field {name!r}: unit must be major or minor", details={"unit": unit})
    if "unit" in spec and ftype != "amount":
        raise MappingError(f"field {name!r}: unit applies to amounts only")
    fmt = spec.get("format")
    formats = tuple([fmt] if isinstance(fmt, str) else (fmt or []))
    if formats and ftype not in ("date", "datetime"):
        raise MappingError(f"field {name!r}: format applies to dates only")
    on_invalid = str(spec.get("on_invalid", "reject"))
    if on_invalid not in ("reject", "null"):
        raise MappingError(f"field {name!r}: on_invalid must be reject or null")
    negative = str(spec.get("negative", "reject"))
    if negative not in ("reject", "credit"):
        raise MappingError(f"field {name!r}: negative must be reject or credit")
    rounding = spec.get("rounding")
    if rounding not in (None, "half_even"):
        raise MappingError(f"field {name!r}: rounding must be half_even (or left out to reject extra decimals)")
    case = spec.get("case")
    if case not in (None, "upper", "lower", "title"):
        raise MappingError(f"field {name!r}: case must be upper, lower or title")
    default = spec.get("default")
    allowed = ENUMS.get((kind, name))
    if allowed:
        for v in [default, *((values or {}).values())]:
            if v is not None and v not in allowed:
                raise MappingError(f"field {name!r}: {v!r} is not one of {', '.join(allowed)}")
    if ftype == "currency" and default is not None and str(default).upper() not in CURRENCIES:
        raise MappingError(f"field {name!r}: unknown default currency {default!r}")
    if ftype == "gender":
        for v in (values or {}).values():
            if v not in ("M", "F", None):
                raise MappingError(f"field {name!r}: gender values map to M or F")
    tz = str(spec.get("timezone", "Asia/Shanghai"))
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except Exception as exc:  # noqa: BLE001
        raise MappingError(f"field {name!r}: unknown timezone {tz!r}") from exc
    return FieldSpec(
        target=name, type=ftype, column=None if col is None else str(col), default=default, values=values,
        unit=unit, formats=formats, timezone=tz, on_invalid=on_invalid, prefix=str(spec.get("prefix", "")),
        case=case, min=spec.get("min"), max=spec.get("max"), negative=negative, min_date=spec.get("min_date"),
        max_age_years=spec.get("max_age_years"), rounding=rounding,
    )
