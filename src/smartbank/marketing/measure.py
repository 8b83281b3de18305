"""The marketing domain's measure part."""

from __future__ import annotations

__all__: list[str] = []
