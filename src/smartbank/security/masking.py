"""Masking of personal data for staff who may see a customer's record but not its identity details
(the roles without ``customer.pii.read``): enough is left to match a caller or a document, never enough
to reuse it."""

from __future__ import annotations

__all__ = ["mask_email", "mask_id_number", "mask_phone"]


def mask_id_number(value: str | None) -> str | None:
    """``110101199003071234`` -> ``1101**********1234``; a short document number keeps its first and last two."""
    if not value:
        return value
    keep = (4, 4) if len(value) >= 12 else (1, 2)
    if len(value) <= sum(keep):
        return "*" * len(value)
    return value[:keep[0]] + "*" * (len(value) - sum(keep)) + value[-keep[1]:]


def mask_phone(value: str | None) -> str | None:
    """``+8613812345678`` -> ``+86138****5678``: the four digits before the last four are hidden."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:-8] + "****" + value[-4:]


def mask_email(value: str | None) -> str | None:
    """``zhao.liu@example.cn`` -> ``z***@example.cn``."""
    if not value:
        return value
    local, at, domain = value.partition("@")
    return (local[:1] + "***" + at + domain) if at else "***"
