"""Tables of the loyalty domain."""

from __future__ import annotations

PERSONAL_DATA: dict[str, dict[str, str]] = {}
