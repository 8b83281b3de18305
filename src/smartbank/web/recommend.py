"""Recommendation pages: the portal's "For you" (cards with reasons; clicks and dismissals recorded) and
the console's report of click-through and conversion per slot and model version (marketers, admins).
Every page calls ``smartbank.recommend``, which checks who may see what."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.errors import SmartbankError, ValidationFailed
from smartbank.recommend import service as recommend
from smartbank.recommend.service import parse_item_key
from smartbank.web.auth import Customer, Staff
from smartbank.web.console import require_page
from smartbank.web.forms import FormError, message
from smartbank.web.i18n import lang_of, register_messages
from smartbank.web.nav import register_console_page, register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/recommend"
SLOT = "for_you"
register_portal_page("/for-you", "nav.portal.for_you", order=45)
register_console_page(PAGE, "nav.console.recommend", roles=recommend.REPORT_ROLES, order=60)

register_messages("zh", {
    "nav": {"portal": {"for_you": "为您推荐"}, "console": {"recommend": "推荐效果"}},
    "rec": {
        "title": "为您推荐", "none": "暂时没有适合您的推荐，稍后再来看看。", "why": "推荐理由", "open": "查看",
        "dismiss": "不感兴趣", "risk": "风险等级", "loan": "贷款",
        "grade_none": "完成风险测评后，我们可以为您推荐更多理财产品。",
        "report_title": "推荐效果", "from": "开始日期", "to": "结束日期", "show": "查询", "slot": "推荐位",
        "model": "模型版本", "lists": "推荐次数", "impressions": "曝光", "clicks": "点击", "conversions": "转化",
        "dismissals": "不感兴趣", "ctr": "点击率", "cvr": "转化率", "by_slot": "按推荐位", "by_model": "按模型版本",
        "by_both": "按推荐位和模型", "total": "合计", "chart": "点击率与转化率", "no_data": "所选时间内没有推荐记录。",
    },
})
register_messages("en", {
    "nav": {"portal": {"for_you": "For you"}, "console": {"recommend": "Recommendations"}},
    "rec": {
        "title": "For you", "none": "Nothing to suggest right now; please look again later.", "why": "Why",
        "open": "View", "dismiss": "Not interested", "risk": "Risk level", "loan": "Loan",
        "grade_none": "Take the risk-tolerance assessment and we can suggest more investment products.",
        "report_title": "Recommendations", "from": "From", "to": "To", "show": "Show", "slot": "Slot",
        "model": "Model version", "lists": "Lists", "impressions": "Impressions", "clicks": "Clicks",
        "conversions": "Conversions", "dismissals": "Dismissed", "ctr": "CTR", "cvr": "Conversion rate",
        "by_slot": "By slot", "by_model": "By model version", "by_both": "By slot and model", "total": "Total",
        "chart": "Click-through and conversion", "no_data": "No recommendations in this period.",
    },
})


def _target(item_key: str) -> str:
    kind, code = parse_item_key(item_key)
    if kind == "wealth":
        return f"/wealth/products/{code}"
    if kind == "loan":
        return f"/loans/apply?product={code}"
    return "/for-you"


def _served_id(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) < 2**63:
        raise ValidationFailed("served_id", reason="recommend.served_id_required")
    return int(raw)


@router.get("/for-you")
def for_you(request: Request, actor: Customer) -> Response:
    out = db.run_in_transaction(lambda s: recommend.recommend(s, actor, slot=SLOT, n=10))
    return render(request, "portal/recommend.html", rec=out, lang=lang_of(request))


@router.post("/for-you/click")
def for_you_click(request: Request, actor: Customer, served_id: Annotated[str, Form()] = "",
                  item_key: Annotated[str, Form()] = "") -> Response:
    sid = _served_id(served_id)
    out = db.run_in_transaction(lambda s: recommend.record(s, actor, event="click", item_key=item_key[:64],
                                                        served_id=sid))
    return RedirectResponse(_target(out["item_key"]), status_code=303)


@router.post("/for-you/dismiss")
def for_you_dismiss(request: Request, actor: Customer, served_id: Annotated[str, Form()] = "",
                    item_key: Annotated[str, Form()] = "") -> Response:
    sid = _served_id(served_id)
    db.run_in_transaction(lambda s: recommend.record(s, actor, event="dismiss", item_key=item_key[:64], served_id=sid))
    return RedirectResponse("/for-you", status_code=303)


def _bars(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of a grouped horizontal bar chart (CTR and conversion rate per slot x model), drawn as
    inline SVG by the template."""
    top = max([r["ctr"] or 0.0 for r in rows] + [r["conversion_rate"] or 0.0 for r in rows] + [1e-9])
    width = 340.0
    bars = []
    for k, r in enumerate(rows):
        y = 8 + k * 44
        bars.append({"slot": r["slot"], "model": str(r["model_version"]), "y": y,
                     "ctr_w": round(width * (r["ctr"] or 0.0) / top, 1),
                     "cvr_w": round(width * (r["conversion_rate"] or 0.0) / top, 1),
                     "ctr": r["ctr"], "cvr": r["conversion_rate"]})
    return {"bars": bars, "height": 16 + 44 * len(rows), "x0": 0}


@router.get(PAGE)
def report_page(request: Request, actor: Staff, date_from: str = "", date_to: str = "") -> Response:
    require_page(actor, PAGE)
    error = None
    try:
        d0 = date.fromisoformat(date_from) if date_from else None
        d1 = date.fromisoformat(date_to) if date_to else None
    except ValueError:
        d0 = d1 = None
        error = message(FormError("form.bad_date"), lang_of(request))
    try:
        out = db.run_in_transaction(lambda s: recommend.report(s, actor, date_from=d0, date_to=d1))
    except ValidationFailed as exc:
        error = message(exc, lang_of(request))
        out = db.run_in_transaction(lambda s: recommend.report(s, actor))
    except SmartbankError:
        raise
    return render(request, "console/recommend.html", rep=out, chart=_bars(out["by_slot_model"]), error=error,
                  status_code=422 if error else 200)
