"""The console's risk dashboard: matrix, register, KRIs, early warnings, model drift, limits."""

from __future__ import annotations

from smartbank.web.routing import web_router

router = web_router()
