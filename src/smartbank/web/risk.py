"""Portal pages of payment risk decisions: the one-time code of a challenged payment."""

from __future__ import annotations

from smartbank.web.routing import web_router

router = web_router()
