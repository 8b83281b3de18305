"""The FastAPI application: API under /api/v1, web pages at /, one error body for everything."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import threading
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from smartbank import __version__, db, logs, web
from smartbank.api.deps import reject_nul, token_from
from smartbank.api.guards import ApiAuthMiddleware, BodyLimitMiddleware, SecurityHeadersMiddleware
from smartbank.api.observability import RequestContextMiddleware, configure_logging, metrics_payload
from smartbank.api.routers import (
    accounts,
    assistant,
    assistant_agent,
    auth,
    backoffice,
    changes,
    insight,
    lending_apply,
    lending_loans,
    loyalty,
    marketing_campaigns,
    marketing_contact,
    marketing_experiments,
    marketing_journeys,
    marketing_measure,
    marketing_uplift,
    notifications,
    opinion,
    payments,
    privacy,
    recommend,
    risk,
    risk_cases,
    risk_monitor,
    risk_rules,
    wealth,
    wealth_robo,
)
from smartbank.assistant.service import warm as warm_assistant
from smartbank.config import get_settings, require_serving_secret
from smartbank.errors import Forbidden, NotAuthenticated, SmartbankError
from smartbank.metrics import mark_process_dead
from smartbank.recommend.service import warm as warm_recommender
from smartbank.risk.service import warm_up as warm_risk
from smartbank.security import service as security

log = logging.getLogger("smartbank.api")


def error_body(code: str, message: str, details: dict | None = None, reason: str | None = None) -> dict:
    return {"code": code, "reason": reason or code, "message": message, "details": details or {}}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


# set once this process has loaded what its first requests need (at once for an app that warms nothing);
# ``/readyz`` answers 503 until then, so a load balancer, or a benchmark, waits for the warm-up to end
_ready = threading.Event()


def _warm_engines() -> None:
    """Load the fraud model and the risk features, and the recommender's items, feedback and model, before
    the first request needs them; the assistant's models follow in the background, then the process is
    ready."""
    for name, fn in (("risk", warm_risk), ("recommendation", warm_recommender)):
        try:
            db.run_in_transaction(fn)
        except Exception:  # noqa: BLE001 - a database not migrated yet: the first request warms it instead
            log.exception("%s engine warm-up failed", name)
    threading.Thread(target=_warm_assistant, name="assistant-warm-up", daemon=True).start()


def _warm_assistant() -> None:
    """The assistant's intent model (trained in memory when none is saved: a few seconds) and sentiment model,
    loaded in the background so the first chat message does not wait for them."""
    try:
        warm_assistant()
    except Exception:  # noqa: BLE001 - the first message loads them instead
        log.exception("assistant warm-up failed")
    finally:
        _ready.set()


OPENAPI_URL = "/api/v1/openapi.json"
# where the Swagger UI page loads its script and stylesheet from (FastAPI's defaults) and its icon
DOCS_ASSET_ORIGIN = "https://cdn.jsdelivr.net"
DOCS_ICON_ORIGIN = "https://fastapi.tiangolo.com"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def docs_page(title: str) -> HTMLResponse:
    """The Swagger UI page with a Content-Security-Policy that allows exactly what it loads: its script and
    stylesheet from the CDN, its one inline start-up script (by hash), the OpenAPI document and the API
    calls of "try it out" from this origin. Swagger UI adds inline <style> elements, hence style-src
    'unsafe-inline' (styles only, never scripts). No validator badge (it would call a third party)."""
    page = get_swagger_ui_html(openapi_url=OPENAPI_URL, title=title, swagger_ui_parameters={"validatorUrl": None})
    html = bytes(page.body).decode()
    hashes = " ".join("'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
                      for m in _INLINE_SCRIPT.findall(html))
    csp = (f"default-src 'none'; script-src {DOCS_ASSET_ORIGIN} {hashes}; "
           f"style-src {DOCS_ASSET_ORIGIN} 'unsafe-inline'; img-src 'self' data: {DOCS_ICON_ORIGIN}; "
           "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
           "form-action 'none'; object-src 'none'")
    return HTMLResponse(html, headers={"Content-Security-Policy": csp, "X-Frame-Options": "DENY",
                                       "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


def require_metrics_access(request: Request) -> None:
    """``/metrics`` is for the bank's monitoring: a scraper presenting ``SMARTBANK_METRICS_TOKEN`` as its
    bearer token, or a signed-in administrator. Route labels and counts tell an outsider what the bank
    runs and how busy it is."""
    token = token_from(request)
    if not token:
        raise NotAuthenticated("sign in first")
    expected = get_settings().metrics_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return
    principal = db.run_read(lambda s: security.authenticate(s, token))
    if not principal.can("metrics.read"):  # the permission table: administrators
        raise Forbidden("the metrics are for administrators and the monitoring system")


def create_app(*, warm_engines: bool = False) -> FastAPI:
    """The web pages and the API. HTTP only: the journal sealer, the insight refreshes and close of day run in
    ``smartbank worker`` (:mod:`smartbank.ops.worker`), never in a serving process. ``warm_engines``: load the
    risk, recommendation and assistant models before the first request needs them (the served app)."""
    settings = get_settings()
    require_serving_secret(settings)  # never serve with a secret key anyone can know (unless in development)
    configure_logging(settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        logs.start()  # request log lines are written by the log thread from now on
        if warm_engines:
            _warm_engines()
        else:
            _ready.set()
        try:
            yield
        finally:
            logs.stop()  # writes what is still queued
            mark_process_dead()  # several serving processes: this one's live gauges leave the sum

    app = FastAPI(title="smartbank", version=__version__, lifespan=lifespan,
                  openapi_url=OPENAPI_URL, docs_url=None, redoc_url=None,
                  description="smartbank core banking API. Amounts are integer minor units (fen). "
                              "Errors are always {code, message, details}.")
    # outermost last: request id and metrics, then security headers, then the body limit (checked before
    # anything else reads the body), then authentication of protected API calls (before their body is parsed)
    app.add_middleware(ApiAuthMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware)

    @app.exception_handler(SmartbankError)
    async def _domain_error(request: Request, exc: SmartbankError):
        return JSONResponse(error_body(exc.code, exc.message, exc.details, exc.reason), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(error_body("malformed_json", "the request body is not valid JSON"), status_code=400)
        clean = [{"loc": list(e.get("loc", [])), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
        return JSONResponse(error_body("validation_error", "the request is not valid", {"errors": clean}),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        html_error_page = getattr(request.app.state, "html_error_page", None)
        if html_error_page is not None and _wants_html(request):
            return html_error_page(request, exc.status_code, str(exc.detail))
        code = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated", 403: "forbidden"}.get(
            exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error")
        return JSONResponse(error_body("internal_error", "something went wrong on our side"), status_code=500)

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(reject_nul)])
    for r in (auth.router, accounts.router, payments.router, backoffice.router, changes.router, insight.router,
              risk.router, risk_rules.router, risk_cases.router, risk_monitor.router, notifications.router,
              lending_apply.router, lending_loans.router, wealth.router, wealth_robo.router, recommend.router,
              assistant.router, assistant_agent.router, privacy.router, marketing_contact.router,
              marketing_campaigns.router, marketing_experiments.router, marketing_uplift.router,
              marketing_measure.router, marketing_journeys.router, loyalty.router, opinion.router):
        api.include_router(r)
    app.include_router(api)

    @app.get("/healthz", tags=["system"])
    def healthz() -> dict:
        with db.get_engine().connect() as c:
            c.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["system"], responses={503: {"description": "still loading its models"}})
    def readyz() -> JSONResponse:
        """Ready once this process has loaded its models (risk, recommendation, assistant)."""
        if not _ready.is_set():
            return JSONResponse(error_body("warming_up", "the server is still loading its models", {}),
                                status_code=503)
        return JSONResponse({"status": "ready", "version": __version__})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return docs_page(f"{app.title} - API")

    @app.get("/metrics", tags=["system"], include_in_schema=False)
    def metrics(request: Request) -> Response:
        require_metrics_access(request)
        body, ctype = metrics_payload()
        return Response(body, media_type=ctype)

    # the composition root: the web pages are mounted next to the API (the one import of smartbank.web by
    # smartbank.api; the pages themselves share only smartbank.http with the API)
    web.mount(app)
    return app


def serving_app() -> FastAPI:
    """The app as served by ``smartbank serve``: HTTP only, its models warmed before the first request."""
    return create_app(warm_engines=True)
