"""API placeholder (filled in by the recommend module)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["recommend"])
