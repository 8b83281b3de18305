"""The marketing domain's audience part."""

from __future__ import annotations

__all__: list[str] = []
