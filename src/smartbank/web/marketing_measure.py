"""Pages: the marketing home (``/console/marketing``: every measured campaign with its ROI, the funnel, ROI by
channel and by segment, through the goal and status filters) and one campaign's results
(``/console/marketing/results/{campaign_id}``). Every page calls ``smartbank.marketing``, which checks who may
see what; the charts are server-side SVG (geometry computed here, drawn by the templates)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from smartbank import db
from smartbank.errors import NotFound
from smartbank.marketing import service as marketing
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

HOME = "/console/marketing"
RESULTS = "/console/marketing/results/{campaign_id}"
register_console_page(HOME, "nav.console.marketing_home", order=80)

FUNNEL = ("sent", "delivered", "opened", "clicked", "converted")
_W = 300.0  # bar area width of a chart, in SVG units (the label column is to its left)


def funnel_chart(funnel: dict[str, int]) -> dict[str, Any]:
    """Geometry of the funnel: one horizontal bar per stage, as long as its count relative to the first."""
    top = max([int(funnel.get(k, 0)) for k in FUNNEL] + [1])
    bars = [{"key": k, "value": int(funnel.get(k, 0)), "y": 6 + i * 26,
             "w": round(_W * int(funnel.get(k, 0)) / top, 1)} for i, k in enumerate(FUNNEL)]
    return {"bars": bars, "height": 12 + 26 * len(FUNNEL)}


def roi_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of an ROI bar chart: one bar per row from a zero axis (to its left when the ROI is negative);
    rows without an ROI (nothing spent) get no bar."""
    values = [float(r["roi"]) for r in rows if r.get("roi") is not None]
    lo, hi = min(values + [0.0]), max(values + [0.0])
    span = (hi - lo) or 1.0
    zero = round(_W * (-lo) / span, 1)
    bars = []
    for i, r in enumerate(rows):
        roi = r.get("roi")
        x = w = 0.0
        if roi is not None:
            w = round(_W * abs(float(roi)) / span, 1)
            x = zero if roi >= 0 else round(zero - w, 1)
        bars.append({"key": str(r["key"]), "roi": roi, "x": x, "w": w, "y": 6 + i * 26,
                     "negative": roi is not None and roi < 0})
    return {"bars": bars, "zero": zero, "height": 12 + 26 * max(len(rows), 1)}


def _choice(value: str, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get(HOME)
def home(request: Request, actor: Staff, goal: str = "", status: str = "") -> Response:
    require_page(actor, HOME)
    g, st = _choice(goal, marketing.GOALS), _choice(status, marketing.MEASURED_STATUSES)
    out = db.run_in_transaction(lambda s: marketing.marketing_overview(s, actor, goal=g, status=st))
    return render(request, "console/marketing/measure/home.html", ov=out, goals=marketing.GOALS,
                  statuses=marketing.MEASURED_STATUSES, goal=g or "", status=st or "",
                  funnel=funnel_chart(out["funnel"]), by_channel=roi_chart(out["by_channel"]),
                  by_segment=roi_chart(out["by_segment"]), stages=FUNNEL)


@router.get(RESULTS)
def results(request: Request, actor: Staff, campaign_id: str) -> Response:
    require_page(actor, RESULTS)
    if not campaign_id.isdigit() or not 1 <= int(campaign_id) < 2**63:
        raise NotFound("campaign not found", reason="marketing.report_campaign_not_found",
                       details={"campaign_id": campaign_id[:20]})
    rep = db.run_in_transaction(lambda s: marketing.campaign_report(s, actor, int(campaign_id)))
    return render(request, "console/marketing/measure/results.html", rep=rep, funnel=funnel_chart(rep["funnel"]),
                  by_arm=roi_chart(rep["by_arm"]), by_channel=roi_chart(rep["by_channel"]),
                  by_segment=roi_chart(rep["by_segment"]), stages=FUNNEL)
