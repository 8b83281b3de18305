"""The marketing domain's campaigns part."""

from __future__ import annotations

__all__: list[str] = []
