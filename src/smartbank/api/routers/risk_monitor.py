"""Risk limits, the risk register and matrix, KRIs, early warnings and model monitoring."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/risk", tags=["risk"])
