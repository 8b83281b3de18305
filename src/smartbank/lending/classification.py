"""Delinquency buckets, the five-category loan classification (五级分类) and provisioning, as data.

Days past due (dpd) count from the oldest instalment still unpaid at the end of its due date (0 on the
due date itself). Each table row is ``(name, first dpd, last dpd or None, ...)``; edit the rows, not the
code, to change a threshold.
"""

from __future__ import annotations

from decimal import Decimal

from smartbank.money import round_minor

__all__ = ["BUCKET_TABLE", "CLASSIFICATION_TABLE", "bucket", "classify", "label", "provision_minor",
           "provision_rate_bps"]

# name, first dpd, last dpd (None: no end), English, Chinese
BUCKET_TABLE: tuple[tuple[str, int, int | None, str, str], ...] = (
    ("current", 0, 0, "Current", "正常"),
    ("M1", 1, 30, "1-30 days past due", "逾期1-30天"),
    ("M2", 31, 60, "31-60 days past due", "逾期31-60天"),
    ("M3+", 61, None, "More than 60 days past due", "逾期60天以上"),
)

# name, first dpd, last dpd (None: no end), provision in basis points of the outstanding principal, en, zh
CLASSIFICATION_TABLE: tuple[tuple[str, int, int | None, int, str, str], ...] = (
    ("normal", 0, 0, 100, "Normal", "正常"),
    ("special_mention", 1, 90, 200, "Special mention", "关注"),
    ("substandard", 91, 180, 2_500, "Substandard", "次级"),
    ("doubtful", 181, 360, 5_000, "Doubtful", "可疑"),
    ("loss", 361, None, 10_000, "Loss", "损失"),
)


def _pick(table, dpd: int):  # type: ignore[no-untyped-def]
    dpd = max(0, dpd)
    for row in table:
        if row[1] <= dpd and (row[2] is None or dpd <= row[2]):
            return row
    return table[-1]


def bucket(dpd: int) -> str:
    return str(_pick(BUCKET_TABLE, dpd)[0])


def classify(dpd: int) -> str:
    return str(_pick(CLASSIFICATION_TABLE, dpd)[0])


def provision_rate_bps(classification: str) -> int:
    for row in CLASSIFICATION_TABLE:
        if row[0] == classification:
            return row[3]
    raise KeyError(classification)


def provision_minor(outstanding_minor: int, classification: str) -> int:
    """The provision a loan needs: its rate of the outstanding principal, rounded half-even once."""
    return round_minor(Decimal(max(0, outstanding_minor)) * provision_rate_bps(classification) / 10_000)


def label(name: str, lang: str = "en") -> str:
    for row in BUCKET_TABLE:
        if row[0] == name:
            return row[4] if lang == "zh" else row[3]
    for crow in CLASSIFICATION_TABLE:
        if crow[0] == name:
            return crow[5] if lang == "zh" else crow[4]
    return name
