"""Console pages of public-opinion monitoring (舆情): ``/console/opinion`` (the volume chart with its seasonal
baseline band and spikes, the alert queue, mentions with filters) and ``/console/opinion/alerts/{id}`` (an
alert's evidence and its workflow). Marketers and risk officers; every action goes through
:mod:`smartbank.opinion.service`, which checks the role and audits the step."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import clock, db
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.opinion import service as opinion
from smartbank.security.service import roles_for
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import message
from smartbank.web.i18n import lang_of, translate
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/opinion"
register_console_page(PAGE, "nav.console.opinion", roles=roles_for("opinion.read"), order=80)
STEPS = ("acknowledge", "assign", "respond", "close", "escalate")
Text = Annotated[str, Form()]
NOTICES = {"acknowledge": "notice=opinion_acknowledge", "assign": "notice=opinion_assign",
           "respond": "notice=opinion_respond", "close": "notice=opinion_close", "escalate": "notice=opinion_escalate"}


def volume_svg(series: dict[str, Any], lang: str) -> str | None:
    """The hourly counts as bars, the baseline as a line, the band up to the spike threshold, and the hours that
    raised an alert marked; inline SVG built here (no inline style, no script)."""
    pts = series["points"]
    if not pts or not any(p["count"] for p in pts):
        return None
    w, h, left, bottom, top = 720, 220, 34, 24, 10
    n = len(pts)
    top_v = max(max(p["count"] for p in pts), max(p["threshold"] for p in pts), 1)
    sx = (w - left - 6) / n
    sy = (h - bottom - top) / top_v

    def y(v: float) -> float:
        return round(h - bottom - v * sy, 1)

    alerted = {a["hour"] for a in series["alerts"]}
    parts = [f'<svg class="opinion-chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="vol-title" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="vol-title">'
             f'{escape(translate(lang, "opinion.chart.title"))}</title>']
    band = [f"{round(left + i * sx, 1)},{y(p['baseline'])}" for i, p in enumerate(pts)]
    band += [f"{round(left + i * sx, 1)},{y(p['threshold'])}" for i, p in reversed(list(enumerate(pts)))]
    parts.append(f'<polygon class="band" fill="#cfe3f5" points="{" ".join(band)}"/>')
    for i, p in enumerate(pts):
        if p["count"]:
            cls = "bar spike" if p["hour"] in alerted else "bar"
            fill = "#c62828" if p["hour"] in alerted else "#5b7fa6"
            parts.append(f'<rect class="{cls}" fill="{fill}" x="{round(left + i * sx, 1)}" y="{y(p["count"])}" '
                         f'width="{max(round(sx - 0.5, 1), 0.6)}" height="{round(p["count"] * sy, 1)}"/>')
    line = " ".join(f"{round(left + i * sx, 1)},{y(p['baseline'])}" for i, p in enumerate(pts))
    parts.append(f'<polyline class="baseline" fill="none" stroke="#1f4e79" stroke-width="1.2" points="{line}"/>')
    parts.append(f'<line x1="{left}" y1="{h - bottom}" x2="{w - 6}" y2="{h - bottom}" stroke="#555"/>')
    parts.append(f'<text x="2" y="{top + 8}" font-size="10">{top_v}</text>'
                 f'<text x="2" y="{h - bottom}" font-size="10">0</text>')
    for i in range(0, n, 24):
        day = datetime.fromisoformat(pts[i]["hour"]).astimezone(clock.BANK_TZ).strftime("%m-%d")
        parts.append(f'<text x="{round(left + i * sx, 1)}" y="{h - 8}" font-size="10">{day}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _when(iso: str | None) -> str:
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).astimezone(clock.BANK_TZ).strftime("%Y-%m-%d %H:%M")


@router.get(PAGE)
def opinion_page(request: Request, actor: Staff, label: str = "", topic: str = "", source: str = "",
                 q: str = "") -> Response:
    require_page(actor, PAGE)
    lang = lang_of(request)
    filters = {"label": label if label in ("negative", "neutral", "positive") else "",
               "topic": topic[:40], "source": source[:40], "q": q[:100]}

    def work(s: Any) -> tuple[Any, ...]:
        return (opinion.volume_series(s, actor, hours=168), opinion.list_alerts(s, actor, limit=100),
                opinion.list_mentions(s, actor, label=filters["label"] or None, topic=filters["topic"] or None,
                                      source=filters["source"] or None, q=filters["q"] or None, limit=100),
                opinion.list_topics(s, actor), opinion.summary(s, actor))

    series, alerts, mentions, topics, summary = db.run_read(work)
    for a in alerts:
        a["hour_text"] = _when(a["bucket_start"])
    for m in mentions:
        m["when"] = _when(m["posted_at"])
    topic_names = {t["code"]: t["name_zh"] if lang == "zh" else t["name_en"] for t in topics}
    open_n = sum(r["n"] for r in summary["open"])
    return render(request, "console/opinion/index.html", chart=volume_svg(series, lang), alerts=alerts,
                  mentions=mentions, topics=topics, topic_names=topic_names, filters=filters, open_n=open_n,
                  kri=summary["reputational_risk"])


def _alert_page(request: Request, actor: Any, alert_id: int, *, error: str | None = None,
                status_code: int = 200) -> Response:
    lang = lang_of(request)

    def work(s: Any) -> tuple[Any, ...]:
        return opinion.get_alert(s, actor, alert_id), opinion.list_topics(s, actor)

    alert, topics = db.run_read(work)
    topic_names = {t["code"]: t["name_zh"] if lang == "zh" else t["name_en"] for t in topics}
    alert["hour_text"] = _when(alert["bucket_start"])
    for k in ("ack_due_at", "respond_due_at"):
        alert["sla"][k + "_text"] = _when(alert["sla"][k])
    for e in alert["events"]:
        e["when"] = _when(e["at"])
    return render(request, "console/opinion/alert.html", status_code=status_code, alert=alert,
                  topic_names=topic_names, error=error, steps=STEPS)


@router.get(PAGE + "/alerts/{alert_id}")
def alert_page(request: Request, alert_id: int, actor: Staff) -> Response:
    require_page(actor, PAGE)
    if not 1 <= alert_id <= 2**53:
        raise NotFound("no such opinion alert", reason="opinion.alert_not_found", details={"alert_id": alert_id})
    return _alert_page(request, actor, alert_id)


def _do_step(request: Request, actor: Any, alert_id: int, step: str, note: str, assignee: str) -> Response:
    require_page(actor, PAGE)
    if not 1 <= alert_id <= 2**53:
        raise NotFound("no such opinion alert", reason="opinion.alert_not_found", details={"alert_id": alert_id})
    try:
        def work(s: Any) -> Any:
            if step == "assign":
                return opinion.assign(s, actor, alert_id, assignee, note=note)
            return getattr(opinion, step)(s, actor, alert_id, note=note)
        db.run_in_transaction(work)
    except Forbidden:
        raise
    except SmartbankError as exc:
        if exc.status_code == 404:
            raise
        return _alert_page(request, actor, alert_id, error=message(exc, lang_of(request)),
                           status_code=exc.status_code if exc.status_code in (409, 422) else 422)
    return RedirectResponse(f"{PAGE}/alerts/{alert_id}?{NOTICES[step]}", status_code=303)


@router.post(PAGE + "/alerts/{alert_id}/acknowledge")
def alert_acknowledge(request: Request, alert_id: int, actor: Staff, note: Text = "") -> Response:
    return _do_step(request, actor, alert_id, "acknowledge", note, "")


@router.post(PAGE + "/alerts/{alert_id}/assign")
def alert_assign(request: Request, alert_id: int, actor: Staff, note: Text = "", assignee: Text = "") -> Response:
    return _do_step(request, actor, alert_id, "assign", note, assignee)


@router.post(PAGE + "/alerts/{alert_id}/respond")
def alert_respond(request: Request, alert_id: int, actor: Staff, note: Text = "") -> Response:
    return _do_step(request, actor, alert_id, "respond", note, "")


@router.post(PAGE + "/alerts/{alert_id}/close")
def alert_close(request: Request, alert_id: int, actor: Staff, note: Text = "") -> Response:
    return _do_step(request, actor, alert_id, "close", note, "")


@router.post(PAGE + "/alerts/{alert_id}/escalate")
def alert_escalate(request: Request, alert_id: int, actor: Staff, note: Text = "") -> Response:
    return _do_step(request, actor, alert_id, "escalate", note, "")
