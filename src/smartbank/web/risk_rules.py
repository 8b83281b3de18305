"""Console pages for risk rules: list, editor with versions, test against history, shadow results."""

from __future__ import annotations

from smartbank.web.routing import web_router

router = web_router()
