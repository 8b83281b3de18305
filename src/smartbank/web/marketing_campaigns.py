"""Console pages for campaigns: the list, the new / edit form, and a campaign's page (the live audience preview,
arms and content, the approval buttons and the results).

Marketers draft and submit; a second marketer or an administrator approves or rejects (the service refuses the
maker). Every action calls :mod:`smartbank.marketing.service`, which checks the permission and audits it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from smartbank import clock, db
from smartbank.errors import SmartbankError
from smartbank.marketing import service as mkt
from smartbank.security import service as security
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import message
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/marketing/campaigns"
READERS = tuple(sorted(set(security.roles_for("marketing.campaigns.manage"))
                       | set(security.roles_for("marketing.campaigns.approve"))))
register_console_page(PAGE, "nav.console.mkt_campaigns", roles=READERS, order=70)
ARM_SLOTS = ("A", "B", "C")
ACTIONS = ("submit", "approve", "reject", "pause", "resume", "cancel", "run")
NOTICES = {a: f"mkc_{a}" for a in ACTIONS}


def _local(iso: str | None) -> str:
    """An ISO instant as the value of a datetime-local field (the bank's time)."""
    if not iso:
        return ""
    return clock.parse_instant(iso).astimezone(clock.BANK_TZ).strftime("%Y-%m-%dT%H:%M")


def _blank_form() -> dict[str, Any]:
    start = clock.now().astimezone(clock.BANK_TZ).replace(second=0, microsecond=0)
    return {"code": "", "name_zh": "", "name_en": "", "expression": "", "segments": "", "tags": "",
            "model": "", "min_score": "", "channels": ["inapp"], "holdout_bp": "1000", "kind": "once",
            "start_at": start.strftime("%Y-%m-%dT%H:%M"), "every_days": "", "end_at": "", "goal": mkt.GOALS[0],
            "goal_window_days": "14",
            "arms": {s: {"weight": "1", "zh_title": "", "zh_body": "", "en_title": "", "en_body": ""}
                     for s in ARM_SLOTS}}


def _form_of(c: dict[str, Any]) -> dict[str, Any]:
    f = _blank_form()
    aud, sched = c.get("audience") or {}, c.get("schedule") or {}
    f.update(code=c["code"], name_zh=c["name_zh"], name_en=c["name_en"], expression=aud.get("expression", ""),
             segments=", ".join(aud.get("segments", [])), tags=", ".join(aud.get("tags", [])),
             model=(aud.get("model") or {}).get("name", ""),
             min_score=str((aud.get("model") or {}).get("min_score", "")), channels=c["channels"],
             holdout_bp=str(c["holdout_bp"]), kind=sched.get("kind", "once"), start_at=_local(sched.get("start_at")),
             every_days=str(sched.get("every_days") or ""), end_at=_local(sched.get("end_at")), goal=c["goal"],
             goal_window_days=str(c["goal_window_days"]))
    live = [a for a in c.get("arms", []) if not a["is_holdout"]]
    f["arms"] = {}
    for i, s in enumerate(ARM_SLOTS):
        a = live[i] if i < len(live) else None
        content = (a or {}).get("content", {})
        f["arms"][s] = {"code": a["code"] if a else s, "weight": str(a["weight"]) if a else "1",
                        **{f"{lang}_{k}": content.get(lang, {}).get(k, "") for lang in ("zh", "en")
                           for k in ("title", "body")}}
    return f


def _number(raw: str, default: Any = None) -> Any:
    raw = (raw or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return raw  # the service refuses it with its reason


def _spec_of(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """The form as the service's campaign specification, and as the form to draw again."""
    g = lambda k: str(form.get(k) or "").strip()  # noqa: E731
    f = _blank_form()
    f.update({k: g(k) for k in ("code", "name_zh", "name_en", "expression", "segments", "tags", "model",
                                "min_score", "holdout_bp", "kind", "start_at", "every_days", "end_at", "goal",
                                "goal_window_days")})
    f["channels"] = [c for c in mkt.CHANNELS if c in form.getlist("channels")]
    audience: dict[str, Any] = {}
    if f["expression"]:
        audience["expression"] = f["expression"]
    for k in ("segments", "tags"):
        values = [v.strip() for v in f[k].replace("，", ",").split(",") if v.strip()]
        if values:
            audience[k] = values
    if f["model"]:
        audience["model"] = {"name": f["model"], "min_score": _number(f["min_score"], 0.0)}
    arms = []
    for s in ARM_SLOTS:
        a = {k: g(f"arm_{s}_{k}") for k in ("weight", "zh_title", "zh_body", "en_title", "en_body")}
        f["arms"][s] = a
        if s != "A" and not (a["zh_body"] or a["en_body"]):
            continue
        arms.append({"code": s, "weight": _number(a["weight"], 1),
                     "content": {lang: {"title": a[f"{lang}_title"], "body": a[f"{lang}_body"]}
                                 for lang in ("zh", "en")}})
    schedule: dict[str, Any] = {"kind": f["kind"], "start_at": f["start_at"]}
    if f["kind"] == "recurring":
        schedule.update(every_days=_number(f["every_days"]), end_at=f["end_at"] or None)
    spec = {"code": f["code"], "name_zh": f["name_zh"], "name_en": f["name_en"], "audience": audience,
            "channels": f["channels"], "arms": arms, "holdout_bp": _number(f["holdout_bp"], 0),
            "schedule": schedule, "goal": f["goal"], "goal_window_days": _number(f["goal_window_days"], 14)}
    return spec, f


def _form_page(request: Request, actor: Any, form: dict[str, Any], *, ref: str | None, error: str | None = None,
               status_code: int = 200) -> Response:
    return render(request, "console/marketing/campaigns/form.html", form=form, ref=ref, error=error,
                  channels=mkt.CHANNELS, goals=mkt.GOALS, models=mkt.scorer_names(), slots=ARM_SLOTS,
                  fields=", ".join("{" + f + "}" for f in mkt.FIELDS), status_code=status_code)


@router.get(PAGE)
def list_page(request: Request, actor: Staff, status: str = "") -> Response:
    require_page(actor, PAGE)
    rows = db.run_in_transaction(lambda s: mkt.list_campaigns(s, actor, status=status or None))
    return render(request, "console/marketing/campaigns/list.html", rows=rows,
                  may_manage=actor.can("marketing.campaigns.manage"), statuses=mkt.CAMPAIGN_STATUSES,
                  status=status)


@router.get(PAGE + "/new")
def new_page(request: Request, actor: Staff) -> Response:
    require_page(actor, PAGE)
    actor.require("marketing.campaigns.manage")
    return _form_page(request, actor, _blank_form(), ref=None)


@router.post(PAGE)
async def create(request: Request, actor: Staff) -> Response:
    require_page(actor, PAGE)
    spec, f = _spec_of(await request.form())
    try:
        out = db.run_in_transaction(lambda s: mkt.create_campaign(s, actor, spec))
    except SmartbankError as exc:
        if exc.status_code == 403:
            raise
        return _form_page(request, actor, f, ref=None, error=message(exc, lang_of(request)), status_code=422)
    return RedirectResponse(f"{PAGE}/{out['id']}?notice=mkc_saved", status_code=303)


@router.get(PAGE + "/{code}/edit")
def edit_page(request: Request, actor: Staff, code: str) -> Response:
    ref = code
    require_page(actor, PAGE)
    actor.require("marketing.campaigns.manage")
    c = db.run_in_transaction(lambda s: mkt.get_campaign(s, actor, ref))
    return _form_page(request, actor, _form_of(c), ref=str(c["id"]))


@router.post(PAGE + "/{code}")
async def save(request: Request, actor: Staff, code: str) -> Response:
    ref = code
    require_page(actor, PAGE)
    spec, f = _spec_of(await request.form())
    try:
        out = db.run_in_transaction(lambda s: mkt.edit_campaign(s, actor, ref, spec))
    except SmartbankError as exc:
        if exc.status_code in (403, 404):
            raise
        return _form_page(request, actor, f, ref=ref, error=message(exc, lang_of(request)), status_code=422)
    return RedirectResponse(f"{PAGE}/{out['id']}?notice=mkc_saved", status_code=303)


def _detail(s: Any, actor: Any, ref: str) -> dict[str, Any]:
    c = mkt.get_campaign(s, actor, ref)
    preview = None
    if actor.can("marketing.campaigns.manage"):
        preview = mkt.preview_audience(s, actor, c["audience"], c["channels"])
    return {"c": c, "preview": preview, "results": mkt.campaign_results(s, actor, ref)}


def _bars(results: dict[str, Any]) -> dict[str, Any]:
    """A server-side bar chart of customers assigned and messages sent per arm."""
    rows = [r for r in results["arms"] if r["assigned"] or r["messages"]]
    top = max([r["assigned"] for r in rows] + [1])
    return {"height": 12 + 40 * len(rows),
            "bars": [{"arm": r["arm"], "y": 6 + 40 * i, "assigned_w": round(220 * r["assigned"] / top, 1),
                      "sent_w": round(220 * r["sent"] / top, 1), "assigned": r["assigned"], "sent": r["sent"]}
                     for i, r in enumerate(rows)]}


@router.get(PAGE + "/{code}")
def detail_page(request: Request, actor: Staff, code: str) -> Response:
    ref = code
    require_page(actor, PAGE)
    d = db.run_in_transaction(lambda s: _detail(s, actor, ref))
    return _detail_page(request, actor, d)


def _parts(text: str) -> list[tuple[str, bool]]:
    """A content split into plain text and its personalisation fields (shown as code)."""
    return [(p, bool(re.fullmatch(r"\{\w+\}", p))) for p in re.split(r"(\{\w+\})", text or "") if p]


def _detail_page(request: Request, actor: Any, d: dict[str, Any], error: str | None = None,
                 status_code: int = 200) -> Response:
    c = d["c"]
    for a in c["arms"]:
        a["view"] = {lang: {k: _parts(v) for k, v in parts.items()} for lang, parts in (a["content"] or {}).items()}
    maker = actor.username in (c["created_by"], c["submitted_by"])
    may = {"manage": actor.can("marketing.campaigns.manage"),
           "decide": actor.can("marketing.campaigns.approve") and not maker and c["status"] == "submitted"}
    return render(request, "console/marketing/campaigns/detail.html", c=c, preview=d["preview"],
                  results=d["results"], chart=_bars(d["results"]), may=may, error=error, status_code=status_code,
                  start_local=_local((c["schedule"] or {}).get("start_at")),
                  next_local=_local(c["next_run_at"]), last_local=_local(c["last_run_at"]))


async def _act(request: Request, actor: Any, ref: str, action: str) -> Response:
    require_page(actor, PAGE)
    note = str((await request.form()).get("note") or "").strip()[:500]

    def work(s: Any) -> Any:
        if action == "run":
            return mkt.run_campaign(s, ref, actor=actor, force=True)
        fn = getattr(mkt, f"{action}_campaign")
        if action in ("approve", "reject", "cancel"):
            return fn(s, actor, ref, note=note) if action == "reject" else fn(s, actor, ref, note=note or None)
        return fn(s, actor, ref)

    try:
        db.run_in_transaction(work)
    except SmartbankError as exc:
        if exc.status_code in (403, 404):
            raise
        d = db.run_in_transaction(lambda s: _detail(s, actor, ref))
        return _detail_page(request, actor, d, error=message(exc, lang_of(request)), status_code=409
                            if exc.status_code == 409 else 422)
    return RedirectResponse(f"{PAGE}/{ref}?" + urlencode({"notice": NOTICES[action]}), status_code=303)


def _register_action(action: str) -> None:
    async def handler(request: Request, actor: Staff, code: str) -> Response:
        ref = code
        return await _act(request, actor, ref, action)

    handler.__name__ = f"campaign_{action}"
    router.post(PAGE + "/{code}/" + action)(handler)


for _action in ACTIONS:
    _register_action(_action)
