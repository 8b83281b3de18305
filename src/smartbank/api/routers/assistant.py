"""API placeholder (filled in by the assistant module)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["assistant"])
