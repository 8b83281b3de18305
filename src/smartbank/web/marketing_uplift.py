"""Pages: marketing uplift models - every campaign's latest uplift model with its Qini and AUUC, one model's Qini
curve against the random line (server-side SVG), and refitting a campaign's model (marketers, admins).
Every page calls ``smartbank.marketing``, which checks who may see and do what."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.marketing import service as marketing
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import message
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/marketing/uplift"
register_console_page(PAGE, "nav.console.marketing_uplift", roles=("marketer", "admin"), order=74)
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")

W, H, PAD = 640, 300, 44


def qini_chart(curve: dict[str, Any] | None) -> dict[str, Any] | None:
    """Geometry of the Qini chart: the model's curve, the perfect model's and the random line (drawn by the
    template as SVG)."""
    if not curve or not curve.get("x"):
        return None
    xs, ys = curve["x"], curve["y"]
    px, py = curve.get("perfect_x") or [], curve.get("perfect_y") or []
    n = max(xs[-1], 1.0)
    lo = min([0.0, *ys, *py])
    hi = max([1e-9, *ys, *py, curve.get("random_end", 0.0)])

    def sx(v: float) -> float:
        return round(PAD + (W - 2 * PAD) * v / n, 1)

    def sy(v: float) -> float:
        return round(H - PAD - (H - 2 * PAD) * (v - lo) / (hi - lo or 1.0), 1)

    def path(a: list[float], b: list[float]) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{sx(x)},{sy(y)}" for i, (x, y) in enumerate(zip(a, b, strict=True)))

    ticks = [{"y": sy(v), "v": v} for v in (lo, (lo + hi) / 2, hi)]
    return {"w": W, "h": H, "pad": PAD, "model": path(xs, ys), "perfect": path(px, py) if px else "",
            "random": f"M{sx(0)},{sy(0)} L{sx(n)},{sy(curve.get('random_end', 0.0))}",
            "x0": PAD, "x1": W - PAD, "y0": H - PAD, "y1": PAD, "ticks": ticks, "n": n, "zero": sy(0)}


@router.get(PAGE)
def uplift_page(request: Request, actor: Staff, campaign: str = "", version: str = "") -> Response:
    require_page(actor, PAGE)
    code = campaign if _CODE.match(campaign or "") else ""
    ver = version if re.fullmatch(r"[0-9TZ]{1,40}", version or "") else None
    models = db.run_in_transaction(lambda s: marketing.list_uplift_models(s, actor))
    if not code and models:
        code = str(models[0]["campaign"] or "")
    report, error = None, None
    if code:
        try:
            report = db.run_in_transaction(lambda s: marketing.uplift_report(s, actor, code, version=ver))
        except NotFound as exc:
            error = message(exc, lang_of(request))
    return render(request, "console/marketing/uplift/index.html", models=models, report=report,
                  chart=qini_chart(report.get("curve") if report else None), code=code, error=error,
                  may_train=actor.can("marketing.campaigns.manage"), page=PAGE,
                  status_code=404 if error and campaign else 200)


@router.post(PAGE + "/train")
def train(request: Request, actor: Staff, campaign: Annotated[str, Form()] = "") -> Response:
    require_page(actor, PAGE)
    code = (campaign or "").strip()
    try:
        db.run_in_transaction(lambda s: marketing.train_campaign_uplift(s, actor, code))
    except Forbidden:
        raise
    except SmartbankError as exc:
        models = db.run_in_transaction(lambda s: marketing.list_uplift_models(s, actor))
        return render(request, "console/marketing/uplift/index.html", models=models, report=None, chart=None,
                      code=code if _CODE.match(code) else "", error=message(exc, lang_of(request)),
                      may_train=True, page=PAGE, status_code=404 if isinstance(exc, NotFound) else 422)
    return RedirectResponse(f"{PAGE}?campaign={code}&notice=uplift_trained", status_code=303)
