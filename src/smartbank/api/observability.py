"""Request ids, structured JSON logs and Prometheus metrics, as a pure ASGI middleware.

The log line of a request is queued and written by the log thread (:mod:`smartbank.logs`); ``/metrics`` sums
every serving process's counters when several serve (:mod:`smartbank.metrics`)."""

from __future__ import annotations

import logging
import time
import uuid

from prometheus_client import Counter, Histogram

from smartbank import logs, metrics
from smartbank.logs import JsonFormatter, request_id_var

REQUESTS = Counter("smartbank_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("smartbank_http_request_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
TRANSFERS = Counter("smartbank_transfers_total", "Transfers through the API", ["kind", "outcome"])


def configure_logging(json_logs: bool = True, level: int = logging.INFO) -> None:
    """The process's log handler (see :mod:`smartbank.logs`): once per process."""
    logs.configure(json_logs, level)


log = logging.getLogger("smartbank.http")


def route_label(scope) -> str:
    """The matched route's full template, e.g. ``/api/v1/accounts/{account_id}`` (never an id).

    A route inside an included router knows only its own template (``/accounts/{account_id}``),
    the same for the API and for the web page of that name; the router's prefix is the part of the
    request path in front of the concrete route path.
    """
    template = getattr(scope.get("route"), "path", None)
    if not template:
        return "unmatched"
    try:
        concrete = template.format(**scope.get("path_params") or {})
    except (KeyError, IndexError, ValueError):  # e.g. {name:path} convertors: keep the template
        return template
    path = scope.get("path", "")
    if path.endswith(concrete):
        return path[: len(path) - len(concrete)] + template
    return template


class RequestContextMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        for k, v in scope.get("headers") or []:
            if k == b"x-request-id":
                rid = v.decode("latin-1")[:64]
                break
        rid = rid or uuid.uuid4().hex
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status = {"code": 500}

        async def _send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            dur = time.perf_counter() - start
            path = route_label(scope)
            REQUESTS.labels(scope["method"], path, str(status["code"])).inc()
            LATENCY.labels(scope["method"], path).observe(dur)
            log.info("request", extra={"fields": {"method": scope["method"], "path": scope["path"],
                                                  "route": path, "status": status["code"],
                                                  "ms": round(dur * 1000, 2)}})
            request_id_var.reset(token)


def metrics_payload() -> tuple[bytes, str]:
    return metrics.payload()


__all__ = ["LATENCY", "REQUESTS", "TRANSFERS", "JsonFormatter", "RequestContextMiddleware", "configure_logging",
           "metrics_payload", "route_label"]
