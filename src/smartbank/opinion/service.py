"""The front door of the opinion domain."""

from __future__ import annotations

__all__: list[str] = []
