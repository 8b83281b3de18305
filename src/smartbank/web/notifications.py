"""The portal's notifications page."""

from __future__ import annotations

from smartbank.web.routing import web_router

router = web_router()
