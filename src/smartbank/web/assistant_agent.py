"""Pages placeholder (filled in by the assistant module)."""

from __future__ import annotations

from smartbank.web.routing import web_router

router = web_router()
