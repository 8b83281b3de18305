"""Pages: marketing experiments - the campaigns read as experiments (list) and one campaign's experiment: per arm
customers, conversions and rate; per comparison with the control the lift with its always-valid interval drawn
over time (from the stored reads, as server-side SVG), the always-valid p-value, the decision in words and the
guardrails. Marketers and administrators; evaluating now needs ``marketing.campaigns.manage``. Every page calls
``smartbank.marketing``, which checks who may see what."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.marketing import service as marketing
from smartbank.security import service as security
from smartbank.web import fmt
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.i18n import lang_of, translate
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/marketing/experiments"
register_console_page(PAGE, "nav.console.mkt_experiments", roles=security.roles_for("marketing.reports.read"),
                      order=72)

# chart geometry (SVG user units; the chart scales down to the page's width)
W, H, LEFT, RIGHT, TOP, BOTTOM = 340.0, 180.0, 52.0, 10.0, 10.0, 24.0


def _fraction_params(lang: str, r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in r.items():
        if k in ("alpha", "effect", "p_value", "smallest_p") and isinstance(v, int | float):
            out[k] = fmt.percent(v, lang, 2) if k in ("alpha", "effect") else fmt.number(float(v), lang, 4)
        else:
            out[k] = v
    return out


def reason_text(lang: str, r: dict[str, Any]) -> str:
    return translate(lang, f"mkt_exp.reason_codes.{r.get('code')}", **_fraction_params(lang, r))


def decision_text(lang: str, read: dict[str, Any] | None) -> str:
    if not read:
        return translate(lang, "mkt_exp.no_reads")
    if read["decision"] == "winner":
        win: dict[str, Any] = next((c for c in read["comparisons"] if c["arm"] == read["winner"]), {})
        return translate(lang, "mkt_exp.winner_words", arm=read["winner"],
                         effect=fmt.percent(read["effect"], lang, 2),
                         lift=fmt.percent(win.get("lift"), lang, 1),
                         confidence=fmt.percent(read["confidence"], lang, 2))
    if read["decision"] == "stopped_guardrail":
        return translate(lang, "mkt_exp.stopped_words")
    return translate(lang, "mkt_exp.no_diff_words")


def chart(history: list[dict[str, Any]], arm: str) -> dict[str, Any] | None:
    """The lift of ``arm`` over the reads: a dot per read at its effect, a vertical bar for its always-valid
    interval, a horizontal line at zero; y ticks at the bounds and zero."""
    pts = [(r, c) for r in history for c in r["comparisons"] if c["arm"] == arm]
    if not pts:
        return None
    lows = [c["ci_low"] for _, c in pts] + [0.0]
    highs = [c["ci_high"] for _, c in pts] + [0.0]
    lo, hi = min(lows), max(highs)
    if hi - lo < 1e-6:
        lo, hi = lo - 0.01, hi + 0.01
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad

    def y(v: float) -> float:
        return round(TOP + (hi - v) / (hi - lo) * (H - TOP - BOTTOM), 1)

    span = W - LEFT - RIGHT
    n = len(pts)
    marks = []
    for k, (r, c) in enumerate(pts):
        x = round(LEFT + (span * (k + 0.5) / n), 1)
        marks.append({"x": x, "y": y(c["effect"]), "y_low": y(c["ci_low"]), "y_high": y(c["ci_high"]),
                      "effect": c["effect"], "low": c["ci_low"], "high": c["ci_high"], "at": r["at"],
                      "significant": c["significant"]})
    ticks = sorted({round(lo + pad, 6), 0.0, round(hi - pad, 6)})
    return {"width": W, "height": H, "left": LEFT, "right": W - RIGHT, "zero": y(0.0), "marks": marks,
            "ticks": [{"y": y(v), "value": v} for v in ticks], "path": " ".join(
                f"{'M' if k == 0 else 'L'}{m['x']},{m['y']}" for k, m in enumerate(marks)),
            "first": pts[0][0]["at"], "last": pts[-1][0]["at"], "bottom": H - BOTTOM}


@router.get(PAGE)
def list_page(request: Request, actor: Staff) -> Response:
    require_page(actor, PAGE)
    rows = db.run_in_transaction(lambda s: marketing.list_experiments(s, actor))
    return render(request, "console/marketing/experiments/list.html", rows=rows)


@router.get(PAGE + "/{campaign_id}")
def detail_page(request: Request, actor: Staff, campaign_id: int) -> Response:
    rep = db.run_in_transaction(lambda s: marketing.experiment_report(s, actor, campaign_id))
    lang = lang_of(request)
    last = rep["last"]
    charts = [{"arm": c["arm"], "chart": chart(rep["history"], c["arm"])} for c in (last or {}).get("comparisons", [])]
    return render(request, "console/marketing/experiments/detail.html", rep=rep, last=last, charts=charts,
                  decision_words=decision_text(lang, last),
                  reasons=[reason_text(lang, r) for r in (last or {}).get("reasons", [])],
                  may_evaluate=actor.can("marketing.campaigns.manage"))


@router.post(PAGE + "/{campaign_id}/evaluate")
def evaluate(request: Request, actor: Staff, campaign_id: int) -> Response:
    db.run_in_transaction(lambda s: marketing.evaluate_experiment(s, campaign_id, actor=actor))
    return RedirectResponse(f"{PAGE}/{campaign_id}", status_code=303)
