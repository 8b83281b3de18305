"""Console pages of the assistant: the service agents' hand-off queue and conversation, the knowledge base
editor, and analytics (charts as inline SVG).

Every page calls :mod:`smartbank.assistant.handoff`, :mod:`~smartbank.assistant.faq` or
:mod:`~smartbank.assistant.analytics`, which check the role; every action is a CSRF-protected form whose
request is one transaction (a refused action writes nothing and shows the page again with the reason).
"""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Annotated, Any

from fastapi import Form, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response

from smartbank import db
from smartbank.assistant import service as assistant
from smartbank.assistant.service import HANDOFF_REASONS
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.security.service import Principal
from smartbank.web.assistant import linkify
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import FormError, message, optional_date
from smartbank.web.i18n import lang_of, register_messages, translate
from smartbank.web.nav import register_console_page
from smartbank.web.render import env, money, page_context, translate_value
from smartbank.web.routing import web_router

router = web_router()
QUEUE = "/console/assistant/queue"
CONV = "/console/assistant/conversations"
FAQ = "/console/assistant/faq"
STATS = "/console/assistant/analytics"
register_console_page(QUEUE, "nav.console.assistant_queue", roles=assistant.AGENT_ROLES, order=80)
register_console_page(FAQ, "nav.console.assistant_faq", roles=assistant.FAQ_EDITORS, order=81)
register_console_page(STATS, "nav.console.assistant_analytics", roles=assistant.ANALYTICS_VIEWERS, order=82)

register_messages("zh", {
    "nav": {"console": {"assistant_queue": "人工客服队列", "assistant_faq": "知识库",
                        "assistant_analytics": "智能客服分析"}},
    "asst": {
        "queue": "人工客服队列", "waiting": "等待中", "assigned": "处理中", "closed": "已结束", "none": "队列为空。",
        "customer": "客户", "segment": "客群", "accounts": "账户", "reason": "转人工原因", "intent": "识别意图",
        "priority": "优先级", "left": "剩余 {n} 分钟", "overdue": "已超时 {n} 分钟", "met": "达标",
        "missed": "超时", "assignee": "处理人", "open": "查看", "claim": "认领", "reply": "回复", "send": "发送",
        "close": "结束会话", "conversation": "会话 #{n}", "transcript": "对话记录", "sender": "发送方",
        "confidence": "置信度", "sentiment": "情绪", "context": "客户情况", "balance": "余额合计",
        "summary": "转接摘要", "is_closed": "此会话已结束。",
        "r": {"explicit": "客户要求", "sentiment": "负面情绪", "misunderstood": "多次未理解", "complaint": "投诉",
              "action_failed": "业务办理失败"},
        "faq": "知识库", "category": "分类", "question_zh": "中文问题", "question_en": "英文问题",
        "variants": "其他问法（每行一个）", "answer_zh": "中文答案", "answer_en": "英文答案", "version": "版本",
        "active": "启用", "inactive": "已停用", "deactivate": "停用", "activate": "启用", "save": "保存",
        "new": "新增条目", "edit": "编辑条目 #{n}", "try": "试一试", "try_text": "客户问题",
        "no_match": "未达到阈值 {t}，不会自动回答。",
        "match": "匹配 #{id}（置信度 {c}）", "analytics": "智能客服分析", "from": "开始日期",
        "to": "结束日期", "apply": "查询",
        "conversations": "会话数", "handed": "转人工", "containment": "自助解决率", "top_intents": "热门意图",
        "reasons": "转人工原因", "trend": "每日平均情绪", "satisfaction": "满意度",
        "mean": "平均 {m}", "no_data": "暂无数据", "bad_int": "请输入整数。",
    },
    "notice": {"asst_done": "已保存。"},
})
register_messages("en", {
    "nav": {"console": {"assistant_queue": "Chat hand-offs", "assistant_faq": "Knowledge base",
                        "assistant_analytics": "Assistant analytics"}},
    "asst": {
        "queue": "Chat hand-off queue", "waiting": "Waiting", "assigned": "In progress", "closed": "Closed",
        "none": "The queue is empty.", "customer": "Customer", "segment": "Segment", "accounts": "Accounts",
        "reason": "Reason", "intent": "Detected intent", "priority": "Priority",
        "left": "{n} min left", "overdue": "Overdue by {n} min", "met": "Met", "missed": "Missed",
        "assignee": "Agent", "open": "Open", "claim": "Claim", "reply": "Reply", "send": "Send",
        "close": "Close conversation", "conversation": "Conversation #{n}", "transcript": "Transcript",
        "sender": "From", "confidence": "Confidence", "sentiment": "Sentiment", "context": "Customer",
        "balance": "Total balance", "summary": "Hand-off summary", "is_closed": "This conversation is closed.",
        "r": {"explicit": "Customer asked", "sentiment": "Negative sentiment", "misunderstood": "Not understood",
              "complaint": "Complaint", "action_failed": "Action failed"},
        "faq": "Knowledge base", "category": "Category", "question_zh": "Question (Chinese)",
        "question_en": "Question (English)", "variants": "Other ways to ask (one per line)",
        "answer_zh": "Answer (Chinese)", "answer_en": "Answer (English)", "version": "Version", "active": "Active",
        "inactive": "Inactive", "deactivate": "Deactivate", "activate": "Activate", "save": "Save",
        "new": "New entry", "edit": "Edit entry #{n}", "try": "Try it", "try_text": "Customer's question",
        "no_match": "Below the threshold {t}: no automatic answer.", "match": "Match #{id} (confidence {c})",
        "analytics": "Assistant analytics", "from": "From", "to": "To", "apply": "Show",
        "conversations": "Conversations", "handed": "Handed off", "containment": "Containment rate",
        "top_intents": "Top intents", "reasons": "Hand-off reasons", "trend": "Mean sentiment per day",
        "satisfaction": "Satisfaction", "mean": "mean {m}",
        "no_data": "No data", "bad_int": "Enter a whole number.",
    },
    "notice": {"asst_done": "Saved."},
})

Text = Annotated[str, Form()]


def _html(request: Request, tpl: str, status_code: int = 200, **ctx: Any) -> Response:
    return HTMLResponse(env.get_template(tpl).render(page_context(request, **ctx)), status_code=status_code)


def _labels(lang: str) -> dict[str, dict[str, str]]:
    """Translated hand-off reasons and status names (looked up by value in the templates)."""
    return {"reasons": {r: translate(lang, f"asst.r.{r}") for r in HANDOFF_REASONS},
            "statuses": {st: translate(lang, f"asst.{st}") for st in assistant.HANDOFF_TABS}}


env.filters.setdefault("linkify", linkify)


def _slot_text(name: str, value: Any, lang: str) -> str:
    if name.endswith("_minor") and isinstance(value, int):
        return money(value)
    if name in ("payee", "loan") and isinstance(value, dict):
        label = value.get("nickname") or value.get("name") or value.get("number") or ""
        return f"{label} (*{value['last4']})" if value.get("last4") else str(label)
    if name == "payee_choices" and isinstance(value, list):
        return ", ".join(_slot_text("payee", v, lang) for v in value)
    if name == "bill_type":
        return translate_value(lang, "asst.bill", value)
    return str(value)


def summary_rows(summary: dict[str, Any] | None, lang: str) -> list[tuple[str, str]]:
    """The hand-off summary for the agent, in words: intents and emotions by name, the slots filled so far with
    their amounts in yuan (never the stored codes and minor units)."""
    rows: list[tuple[str, str]] = []
    for key, value in (summary or {}).items():
        if value is None or value == {} or value == []:
            continue
        if key in ("intent", "top_intent"):
            text = translate_value(lang, "asst.intent_name", value)
        elif key == "emotion":
            text = translate_value(lang, "asst.emotion", value)
        elif key == "language":
            text = translate_value(lang, "asst.language", value)
        elif key == "sentiment" and isinstance(value, int | float):
            text = f"{value:+.2f}"
        elif key == "slots" and isinstance(value, dict):
            text = "; ".join(f"{translate_value(lang, 'asst.slot', k)} {_slot_text(k, v, lang)}"
                             for k, v in value.items() if k != "bill_id")
        else:
            text = str(value)
        rows.append((translate_value(lang, "asst.summary_key", key), text))
    return rows


def _refused(exc: SmartbankError) -> int:
    return exc.status_code if exc.status_code in (409, 422) else 422


# ------------------------------------------------------------------------------------------------
# queue and conversation


def sla_text(item: dict[str, Any], lang: str) -> str:
    if item.get("sla_met") is not None:
        return translate(lang, "asst.met" if item["sla_met"] else "asst.missed")
    left = item.get("sla_seconds_left")
    if left is None:
        return ""
    if left < 0:
        return translate(lang, "asst.overdue", n=(-left) // 60 + 1)
    return translate(lang, "asst.left", n=left // 60)


@router.get(QUEUE)
def queue_page(request: Request, actor: Staff, tab: str = "waiting") -> Response:
    require_page(actor, QUEUE)
    tab = tab if tab in assistant.HANDOFF_TABS else "waiting"
    items, counts = db.run_in_transaction(lambda s: (assistant.handoff_queue(s, actor, status=tab),
                                                     assistant.handoff_counts(s, actor)))
    lang = lang_of(request)
    for i in items:
        i["sla_text"] = sla_text(i, lang)
    return _html(request, "console/assistant_queue.html", items=items, counts=counts, tab=tab,
                 tabs=assistant.HANDOFF_TABS, page=QUEUE, conv=CONV, labels=_labels(lang))


def _conversation(request: Request, actor: Principal, conversation_id: int, *, error: str | None = None,
                  status_code: int = 200, reply: str = "") -> Response:
    require_page(actor, QUEUE)
    case = db.run_in_transaction(lambda s: assistant.agent_conversation(s, actor, conversation_id))
    case["handoff"]["sla_text"] = sla_text(case["handoff"], lang_of(request))
    return _html(request, "console/assistant_conversation.html", status_code=status_code, case=case,
                 h=case["handoff"], c=case["customer"], page=QUEUE, conv=CONV, error=error, reply=reply, here=QUEUE,
                 labels=_labels(lang_of(request)),
                 summary=summary_rows(case["handoff"].get("summary"), lang_of(request)))


@router.get(CONV + "/{conversation_id}")
def conversation_page(request: Request, conversation_id: int, actor: Staff) -> Response:
    return _conversation(request, actor, conversation_id)


def _act(request: Request, actor: Principal, conversation_id: int, fn: Any, reply: str = "") -> Response:
    require_page(actor, QUEUE)
    try:
        db.run_in_transaction(fn)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        return _conversation(request, actor, conversation_id, error=message(exc, lang_of(request)),
                             status_code=_refused(exc), reply=reply)
    return RedirectResponse(f"{CONV}/{conversation_id}?notice=asst_done", status_code=303)


@router.post(CONV + "/{conversation_id}/claim")
def claim(request: Request, conversation_id: int, actor: Staff) -> Response:
    return _act(request, actor, conversation_id, lambda s: assistant.claim_conversation(s, actor, conversation_id))


@router.post(CONV + "/{conversation_id}/reply")
def reply(request: Request, conversation_id: int, actor: Staff, text: Text = "") -> Response:
    return _act(request, actor, conversation_id, lambda s: assistant.agent_reply(s, actor, conversation_id, text),
                reply=text)


@router.post(CONV + "/{conversation_id}/close")
def close(request: Request, conversation_id: int, actor: Staff) -> Response:
    return _act(request, actor, conversation_id, lambda s: assistant.close_conversation(s, actor, conversation_id))


# ------------------------------------------------------------------------------------------------
# knowledge base

_EMPTY = {"category": "general", "question_zh": "", "question_en": "", "variants": "", "answer_zh": "",
          "answer_en": "", "version": ""}


_FIELDS = ("question_zh", "question_en", "answer_zh", "answer_en", "category")


def _field(exc: SmartbankError) -> str | None:
    """The form field a knowledge-base refusal concerns, so the page shows it beside that field."""
    name = exc.details.get("field") if isinstance(exc.details, dict) else None
    return name if name in _FIELDS else None


def _faq(request: Request, actor: Principal, *, form: dict[str, Any] | None = None, editing: int | None = None,
         error: str | None = None, status_code: int = 200, trial: dict[str, Any] | None = None,
         error_field: str | None = None) -> Response:
    require_page(actor, FAQ)

    def work(s: Any) -> tuple[Any, Any]:
        items = assistant.list_faq_entries(s, actor)
        current = assistant.get_faq_entry(s, actor, editing) if editing is not None and form is None else None
        return items, current

    items, current = db.run_in_transaction(work)
    if current is not None:
        form = {**current, "variants": "\n".join(current["variants"])}
    return _html(request, "console/assistant_faq.html", status_code=status_code, items=items,
                 form=form or dict(_EMPTY), editing=editing, error=error, trial=trial, page=FAQ,
                 error_field=error_field, categories=assistant.FAQ_CATEGORIES, here=FAQ)


@router.get(FAQ)
def faq_page(request: Request, actor: Staff, q: str = "", language: str = "zh") -> Response:
    trial = None
    if q.strip():
        require_page(actor, FAQ)
        lang = language if language in assistant.FAQ_LANGUAGES else "zh"
        trial = db.run_in_transaction(
            lambda s: assistant.explain_faq_match(s, actor, q[:assistant.FAQ_MAX_TEXT], language=lang))
    return _faq(request, actor, trial=trial)


@router.get(FAQ + "/{entry_id}")
def faq_edit_page(request: Request, entry_id: int, actor: Staff) -> Response:
    return _faq(request, actor, editing=entry_id)


def _fields(category: str, question_zh: str, question_en: str, variants: str, answer_zh: str,
            answer_en: str) -> dict[str, Any]:
    return {"category": category, "question_zh": question_zh, "question_en": question_en,
            "variants": [v.strip() for v in variants.splitlines() if v.strip()], "answer_zh": answer_zh,
            "answer_en": answer_en}


@router.post(FAQ)
def faq_create(request: Request, actor: Staff, category: Text = "general", question_zh: Text = "",
               question_en: Text = "", variants: Text = "", answer_zh: Text = "", answer_en: Text = "") -> Response:
    require_page(actor, FAQ)
    form = {"category": category, "question_zh": question_zh, "question_en": question_en, "variants": variants,
            "answer_zh": answer_zh, "answer_en": answer_en, "version": ""}
    try:
        out = db.run_in_transaction(lambda s: assistant.create_faq_entry(s, actor, **_fields(
            category, question_zh, question_en, variants, answer_zh, answer_en)))
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        return _faq(request, actor, form=form, error=message(exc, lang_of(request)), status_code=_refused(exc),
                    error_field=_field(exc))
    return RedirectResponse(f"{FAQ}/{out['id']}?notice=asst_done", status_code=303)


@router.post(FAQ + "/{entry_id}")
def faq_save(request: Request, entry_id: int, actor: Staff, category: Text = "general", question_zh: Text = "",
             question_en: Text = "", variants: Text = "", answer_zh: Text = "", answer_en: Text = "",
             version: Text = "") -> Response:
    require_page(actor, FAQ)
    form = {"category": category, "question_zh": question_zh, "question_en": question_en, "variants": variants,
            "answer_zh": answer_zh, "answer_en": answer_en, "version": version}
    try:
        if version and not version.isdigit():
            raise FormError("asst.bad_int")
        v = int(version) if version else None
        db.run_in_transaction(lambda s: assistant.update_faq_entry(s, actor, entry_id, version=v, **_fields(
            category, question_zh, question_en, variants, answer_zh, answer_en)))
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        return _faq(request, actor, form=form, editing=entry_id, error=message(exc, lang_of(request)),
                    status_code=_refused(exc), error_field=_field(exc))
    return RedirectResponse(f"{FAQ}/{entry_id}?notice=asst_done", status_code=303)


@router.post(FAQ + "/{entry_id}/active")
def faq_active(request: Request, entry_id: int, actor: Staff, active: Text = "0") -> Response:
    require_page(actor, FAQ)
    db.run_in_transaction(lambda s: assistant.set_faq_active(s, actor, entry_id, active == "1"))
    return RedirectResponse(f"{FAQ}?notice=asst_done", status_code=303)


# ------------------------------------------------------------------------------------------------
# analytics and its charts

_W, _BAR = 520, 22


def bar_chart(rows: list[tuple[str, float]], *, label: str, fmt: str = "{:g}", axis: str = "") -> Markup | None:
    """A horizontal bar chart as inline SVG (one bar per row, value at its end), with the value axis named
    ``axis`` under the bars."""
    if not rows:
        return None
    top = max((v for _, v in rows), default=0) or 1
    h = len(rows) * (_BAR + 6) + 6 + (22 if axis else 0)
    parts = [f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {_W} {h}" width="{_W}" '
             f'height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for i, (name, value) in enumerate(rows):
        y = 6 + i * (_BAR + 6)
        w = max(1.0, (_W - 230) * value / top)
        parts.append(f'<text x="150" y="{y + 15}" text-anchor="end" font-size="12">{escape(name)}</text>'
                     f'<rect x="156" y="{y}" width="{w:.1f}" height="{_BAR}" fill="#3b6ea5"><title>{escape(name)}: '
                     f'{escape(fmt.format(value))}</title></rect>'
                     f'<text x="{160 + w:.1f}" y="{y + 15}" font-size="12">{escape(fmt.format(value))}</text>')
    if axis:
        base = len(rows) * (_BAR + 6) + 4
        parts.append(f'<line x1="156" x2="{_W - 70}" y1="{base}" y2="{base}" stroke="#57606a"/>'
                     f'<text x="156" y="{base + 16}" font-size="11">0</text>'
                     f'<text x="{_W - 70}" y="{base + 16}" font-size="11" text-anchor="end">{escape(axis)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(points: list[tuple[str, float]], *, label: str, lo: float = -1.0, hi: float = 1.0,
               axis: str = "") -> Markup | None:
    """Values per day between ``lo`` and ``hi`` as an inline SVG line with a zero line and dots."""
    if not points:
        return None
    h, pad = 180, 30
    span = hi - lo
    n = len(points)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + (_W - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        y = pad / 2 + (h - pad) * (hi - v) / span
        return x, y

    coords = [xy(i, v) for i, (_, v) in enumerate(points)]
    zero_y = xy(0, 0.0)[1]
    parts = [f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {_W} {h}" width="{_W}" '
             f'height="{h}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{pad}" x2="{_W - pad}" y1="{zero_y:.1f}" y2="{zero_y:.1f}" stroke="#999" '
             f'stroke-dasharray="4 3"/>',
             f'<text x="2" y="{xy(0, hi)[1] + 4:.1f}" font-size="10">{hi:g}</text>'
             f'<text x="2" y="{xy(0, lo)[1]:.1f}" font-size="10">{lo:g}</text>']
    if n > 1:
        parts.append('<polyline fill="none" stroke="#3b6ea5" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
    for (day, v), (x, y) in zip(points, coords, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#3b6ea5"><title>{escape(day)}: {v:+.2f}'
                     f'</title></circle>')
    parts.append(f'<text x="{pad}" y="{h - 2}" font-size="10">{escape(points[0][0])}</text>'
                 f'<text x="{_W - pad}" y="{h - 2}" font-size="10" text-anchor="end">{escape(points[-1][0])}</text>'
                 f'<text x="2" y="{zero_y + 4:.1f}" font-size="10">0</text>')
    if axis:
        parts.append(f'<text x="{pad + 4}" y="12" font-size="11">{escape(axis)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


@router.get(STATS)
def analytics_page(request: Request, actor: Staff, start: str = "", end: str = "") -> Response:
    require_page(actor, STATS)
    lang = lang_of(request)
    error = None
    try:
        d0: date | None = optional_date(start)
        d1: date | None = optional_date(end)
        res = db.run_in_transaction(lambda s: assistant.analytics_summary(s, actor, start=d0, end=d1))
    except Forbidden:
        raise
    except SmartbankError as exc:
        error = message(exc, lang)
        res = db.run_in_transaction(lambda s: assistant.analytics_summary(s, actor))

    names = _labels(lang)["reasons"]
    reasons = [(names.get(r["reason"], r["reason"]), float(r["count"])) for r in res["handoff_reasons"]]
    sat = res["satisfaction"]
    count = translate(lang, "asst.axis_count")
    charts = {
        "intents": bar_chart([(translate_value(lang, "asst.intent_name", r["intent"]), float(r["count"]))
                              for r in res["top_intents"]], label=translate(lang, "asst.top_intents"), axis=count),
        "reasons": bar_chart(reasons, label=translate(lang, "asst.reasons"), axis=count),
        "trend": line_chart([(p["day"], float(p["mean"])) for p in res["sentiment_trend"]],
                            label=translate(lang, "asst.trend"), axis=translate(lang, "asst.axis_sentiment")),
        "satisfaction": bar_chart([(translate(lang, "asst.stars", n=int(k)), float(v))
                                   for k, v in sorted(sat["counts"].items(), reverse=True)],
                                  label=translate(lang, "asst.satisfaction"), axis=count) if sat["rated"] else None,
    }
    return _html(request, "console/assistant_analytics.html", status_code=422 if error else 200, res=res,
                 charts=charts, error=error, start=start or res["start"], end=end or res["end"], page=STATS)
