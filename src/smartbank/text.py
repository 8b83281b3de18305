"""Free text typed by people (reasons, notes, replies, references): one rule for every domain."""

from __future__ import annotations

from smartbank.errors import ValidationFailed

__all__ = ["clean_text"]


def clean_text(value: object, what: str, limit: int, *, required: bool = True, empty: str | None = None) -> str:
    """``value`` stripped of surrounding blanks. Refused (422, nothing written) when it is empty and ``required``
    (``empty`` is then the message, by default "<what> is required"), longer than ``limit`` characters, or holding
    a NUL character (PostgreSQL text cannot store one). Anything but a string counts as empty."""
    t = value.strip() if isinstance(value, str) else ""
    if required and not t:
        raise ValidationFailed(empty or f"{what} is required", reason=None if empty else "text.required")
    if len(t) > limit:
        raise ValidationFailed(f"{what} is longer than {limit} characters", reason="text.too_long",
                               details={"length": len(t), "limit": limit})
    if "\x00" in t:
        raise ValidationFailed(f"{what} contains a NUL character", reason="text.nul")
    return t
