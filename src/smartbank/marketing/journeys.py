"""The marketing domain's journeys part."""

from __future__ import annotations

__all__: list[str] = []
