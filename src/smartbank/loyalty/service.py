"""The front door of the loyalty domain."""

from __future__ import annotations

__all__: list[str] = []
