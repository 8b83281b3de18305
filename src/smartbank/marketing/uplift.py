"""The marketing domain's uplift part."""

from __future__ import annotations

__all__: list[str] = []
