"""Console page of the credit model: ``/console/lending/models`` shows the newest credit model's report
(metrics, curves, calibration, points bands, PSI against recent applications, champion vs challenger) and
``/console/lending/models/report.html`` returns it as a standalone document. Loan officers, risk officers
and admins only.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response

from smartbank import db
from smartbank.lending.service import credit_report_body as report_body
from smartbank.lending.service import credit_report_document as report_document
from smartbank.lending.service import latest_credit_model as load_latest
from smartbank.lending.service import recent_credit_scores as recent_scores
from smartbank.security import service as security
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_console_page
from smartbank.web.render import env, page_context
from smartbank.web.routing import web_router

router = web_router()

PATH = "/console/lending/models"
ROLES = security.roles_for("lending.models.read")
RECENT_DAYS = 30
register_console_page(PATH, "nav.console.lending_models", roles=ROLES, order=62)


_PAGE = "console/lending/models.html"

# the standalone report carries its own small stylesheet and no script
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'"


def _data() -> tuple[Any, dict[str, Any]]:
    lm = load_latest()
    version = lm.version if lm is not None else None
    recent = db.run_read(lambda s: recent_scores(s, days=RECENT_DAYS, model_version=version))
    return lm, recent


@router.get(PATH)
def models_page(request: Request, actor: Staff) -> Response:
    require_page(actor, PATH)
    lm, recent = _data()
    body = Markup(report_body(lm, recent, lang=lang_of(request)))  # noqa: S704 - built with html.escape
    return HTMLResponse(env.get_template(_PAGE).render(page_context(request, body=body)))


@router.get(PATH + "/report.html")
def report_page(request: Request, actor: Staff) -> Response:
    require_page(actor, PATH)
    lm, recent = _data()
    resp = HTMLResponse(report_document(lm, recent, lang=lang_of(request)))
    resp.headers["Content-Security-Policy"] = REPORT_CSP
    return resp
