"""Tables of the marketing domain's measure part (see :mod:`smartbank.marketing.models`)."""

from __future__ import annotations

PERSONAL_DATA: dict[str, dict[str, str]] = {}
