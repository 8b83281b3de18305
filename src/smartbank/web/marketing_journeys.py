"""Pages: marketing journeys. The list (per-journey run counts), a journey's detail (its steps as a flow, the
per-step funnel as a chart, its versions) and the approval actions (approve and enable by a second person,
disable, ask to enable again). Every action calls :mod:`smartbank.marketing.service`, which checks the role,
refuses the maker as approver and audits."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.marketing import service as marketing
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import message
from smartbank.web.i18n import has, lang_of, translate
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/marketing/journeys"
register_console_page(PAGE, "nav.console.marketing_journeys", roles=security.roles_for("marketing.reports.read"),
                      order=75)


def _funnel_chart(journey: dict[str, Any]) -> dict[str, Any]:
    """Horizontal bars: how many runs reached each step, in the order of the steps."""
    funnel = journey["stats"]["funnel"]
    rows = [(s["id"], s["type"], funnel.get(s["id"], {}).get("runs", 0)) for s in journey["steps"]]
    top = max([n for _, _, n in rows] + [1])
    width = 300
    bars = [{"id": sid, "type": kind, "n": n, "y": 8 + 26 * i, "w": round(width * n / top, 1)}
            for i, (sid, kind, n) in enumerate(rows)]
    return {"bars": bars, "height": 16 + 26 * len(rows)}


def _flow(journey: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The steps with every field the template reads (absent ones None) and their funnel figures."""
    funnel = journey["stats"]["funnel"]
    out = []
    for st in journey["steps"]:
        cond = st.get("condition") or {}
        content = st.get("content") or {}
        text = content.get(lang)
        out.append({"id": st["id"], "type": st["type"], "channel": st.get("channel"), "text": text,
                    "days": st.get("days"), "hours": st.get("hours"), "next": st.get("next"),
                    "then": st.get("then"), "else": st.get("else"), "condition": cond.get("kind"),
                    "goal": cond.get("goal"), "expression": cond.get("expression"), "tag": cond.get("tag"),
                    "reached": funnel.get(st["id"], {}).get("runs", 0),
                    "outcomes": sorted(funnel.get(st["id"], {}).get("outcomes", {}).items())})
    return out


def _reason(code: str | None, lang: str) -> str | None:
    """Why a message was not sent, in words (the contact policy's reasons that journeys meet most)."""
    if not code:
        return None
    return translate(lang, f"mj.reason.{code}" if has(lang, f"mj.reason.{code}") else "mj.reason.other")


def _list(request: Request, actor: Principal, *, error: str | None = None, status_code: int = 200) -> Response:
    require_page(actor, PAGE)
    items = db.run_in_transaction(lambda s: marketing.list_journeys(s, actor))
    return render(request, "console/marketing/journeys/list.html", items=items, error=error,
                  may_manage=actor.can("marketing.campaigns.manage"), lang=lang_of(request), status_code=status_code)


@router.get(PAGE)
def journeys_page(request: Request, actor: Staff) -> Response:
    return _list(request, actor)


def _detail(request: Request, actor: Principal, code: str, *, error: str | None = None,
            status_code: int = 200) -> Response:
    require_page(actor, PAGE)
    def read(s: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        j = marketing.get_journey(s, actor, code)
        runs = marketing.recent_runs(s, actor, code) if actor.can("marketing.contacts.read") else []
        for r in runs:
            for h in r["history"]:
                h["reason"] = _reason(h["details"].get("suppressed_reason"), lang_of(request))
        return j, runs

    j, runs = db.run_in_transaction(read)
    return render(request, "console/marketing/journeys/detail.html", j=j, runs=runs, chart=_funnel_chart(j),
                  error=error, flow=_flow(j, lang_of(request)),
                  lang=lang_of(request), me=actor.username, may_manage=actor.can("marketing.campaigns.manage"),
                  may_approve=actor.can("marketing.campaigns.approve"), status_code=status_code)


@router.get(PAGE + "/{code}")
def journey_page(request: Request, code: str, actor: Staff) -> Response:
    return _detail(request, actor, code[:40])


def _act(request: Request, actor: Principal, code: str, fn: Any, notice: str) -> Response:
    require_page(actor, PAGE)
    try:
        db.run_in_transaction(fn)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        return _detail(request, actor, code, error=message(exc, lang_of(request)),
                       status_code=exc.status_code if exc.status_code in (409, 422) else 422)
    return RedirectResponse(f"{PAGE}/{code}?notice={notice}", status_code=303)


@router.post(PAGE + "/{code}/approve")
def approve(request: Request, code: str, actor: Staff) -> Response:
    return _act(request, actor, code[:40], lambda s: marketing.approve_journey(s, actor, code[:40]),
                "journey_approved")


@router.post(PAGE + "/{code}/disable")
def disable(request: Request, code: str, actor: Staff) -> Response:
    return _act(request, actor, code[:40], lambda s: marketing.disable_journey(s, actor, code[:40]),
                "journey_disabled")


@router.post(PAGE + "/{code}/request")
def request_enable(request: Request, code: str, actor: Staff) -> Response:
    return _act(request, actor, code[:40], lambda s: marketing.request_enable(s, actor, code[:40]),
                "journey_requested")


@router.post(PAGE + "/seed")
def seed(request: Request, actor: Staff) -> Response:
    require_page(actor, PAGE)
    db.run_in_transaction(lambda s: marketing.seed_default_journeys(s, actor))
    return RedirectResponse(f"{PAGE}?notice=journeys_seeded", status_code=303)
