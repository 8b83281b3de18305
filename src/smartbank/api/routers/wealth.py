"""API placeholder (filled in by the wealth module)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["wealth"])
