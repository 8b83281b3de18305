"""The marketing domain's experiments part."""

from __future__ import annotations

__all__: list[str] = []
