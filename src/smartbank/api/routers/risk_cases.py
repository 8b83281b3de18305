"""The risk alert queue and case management."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/risk/alerts", tags=["risk"])
