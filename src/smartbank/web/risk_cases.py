"""Console pages for the risk alert queue and cases."""

from __future__ import annotations

from smartbank.web.routing import web_router

router = web_router()
