"""Server-rendered web pages: the customer portal at ``/`` and the operator console at ``/console``.

:func:`mount` is called by :func:`smartbank.api.app.create_app`. Each page module exposes a
``router``; later modules add theirs to :data:`MODULES` and register their navigation entries
with :func:`register_console_page` / :func:`register_portal_page` and their strings with
:func:`register_messages`. See ``docs/WEB.md``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from smartbank.web.i18n import register_messages
from smartbank.web.nav import register_console_page, register_portal_page

STATIC = Path(__file__).parent / "static"

MODULES = (
    "smartbank.web.auth",
    "smartbank.web.identity",
    "smartbank.web.prefs",
    "smartbank.web.shell",
    "smartbank.web.portal",
    "smartbank.web.transfers",
    "smartbank.web.bills",
    "smartbank.web.console",
    "smartbank.web.insight",
    "smartbank.web.risk",
    "smartbank.web.risk_rules",
    "smartbank.web.risk_cases",
    "smartbank.web.reversals",
    "smartbank.web.changes",
    "smartbank.web.risk_dashboard",
    "smartbank.web.notifications",
    "smartbank.web.lending_apply",
    "smartbank.web.lending_review",
    "smartbank.web.lending_loans",
    "smartbank.web.lending_models",
    "smartbank.web.wealth",
    "smartbank.web.wealth_robo",
    "smartbank.web.recommend",
    "smartbank.web.assistant",
    "smartbank.web.assistant_agent",
    "smartbank.web.privacy",
    "smartbank.web.marketing_contact",
    "smartbank.web.marketing_campaigns",
    "smartbank.web.marketing_experiments",
    "smartbank.web.marketing_uplift",
    "smartbank.web.marketing_measure",
    "smartbank.web.marketing_journeys",
    "smartbank.web.loyalty",
    "smartbank.web.opinion",
)

__all__ = ["MODULES", "mount", "register_console_page", "register_messages", "register_portal_page"]


def mount(app: FastAPI) -> None:
    """Add the pages, their static files and the HTML error page (which the app's handler of unknown paths
    and methods shows a browser instead of the API's JSON error) to ``app``."""
    app.state.html_error_page = importlib.import_module("smartbank.web.shell").http_error_page
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name in MODULES:
        app.include_router(importlib.import_module(name).router)
