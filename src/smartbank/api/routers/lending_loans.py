"""Lending API (placeholder, filled in by the lending module)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/lending", tags=["lending"])
