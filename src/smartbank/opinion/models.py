"""Tables of the opinion domain."""

from __future__ import annotations

PERSONAL_DATA: dict[str, dict[str, str]] = {}
