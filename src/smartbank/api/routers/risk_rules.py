"""Risk rules as data: create, edit (new version), test against history, shadow mode, statistics."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/risk/rules", tags=["risk"])
