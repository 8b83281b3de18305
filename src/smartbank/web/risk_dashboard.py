"""The console's risk dashboard: matrix, register, KRIs, early warnings, model drift, limits.

Pages for risk officers (and admins): ``/console/risk`` (the 5x5 matrix, KRIs with levels, open early
warnings to acknowledge, charts of the decision mix, the alert backlog and PSI per period),
``/console/risk/limits`` (the limits editor and recent breaches) and ``/console/risk/register`` (the
risk register). Every page calls the monitoring, limit and register functions of
:mod:`smartbank.risk.service`, which check the role and audit changes. Charts are SVG drawn by matplotlib and
embedded as ``data:`` images (the page's CSP forbids inline styles and scripts).
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import clock, db
from smartbank.backoffice import service as backoffice
from smartbank.errors import Forbidden, SmartbankError
from smartbank.http.session import request_id
from smartbank.risk import service as risk
from smartbank.security import service as security
from smartbank.web import fmt, forms
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.i18n import lang_of, register_messages, translate
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

ROLES = security.roles_for("risk.monitor.read")
register_console_page("/console/risk", "nav.console.risk_dashboard", roles=ROLES, order=49)
register_console_page("/console/risk/limits", "nav.console.risk_limits", roles=ROLES, order=50)
register_console_page("/console/risk/register", "nav.console.risk_register", roles=ROLES, order=51)

register_messages("zh", {
    "nav": {"console": {"risk_dashboard": "风险看板", "risk_limits": "风险限额", "risk_register": "风险登记簿"}},
    "riskdash": {
        "title": "风险看板", "matrix": "风险矩阵", "likelihood": "可能性", "impact": "影响程度",
        "matrix_hint": "行为可能性（1-5），列为影响程度（1-5），格内为未关闭风险数。",
        "rating": {"low": "低", "medium": "中", "high": "高", "critical": "极高"},
        "kris": "关键风险指标", "kri": "指标", "value": "当前值", "warn": "预警线", "breach": "警戒线",
        "level_label": "状态", "window": "窗口（天）", "no_kris": "尚未设置关键风险指标。",
        "level": {"ok": "正常", "warning": "预警", "breach": "突破", "no_data": "无数据"},
        "warnings": "待处理预警", "no_warnings": "没有待处理的预警。", "ack": "确认", "when": "时间",
        "source": {"kri": "指标", "model_drift": "模型漂移"},
        "charts": "趋势", "chart_mix": "每日风控决策（30天）", "chart_backlog": "未结预警积压（30天）",
        "chart_psi": "欺诈模型分数漂移 PSI（每期）", "no_psi": "尚无模型监控数据。",
        "model": "模型监控", "version": "模型版本", "period": "期间", "n": "笔数", "psi": "PSI",
        "alert_rate": "非放行比例", "status": "状态",
        "mstatus": {"ok": "稳定", "warning": "轻微漂移", "drift": "显著漂移", "no_data": "无数据"},
        "delinquency_note": "贷款逾期率：上一次日终时逾期1天以上的贷款本金占全部在贷本金的比例。",
        "run": "立即评估", "top_risks": "主要风险",
        "decision": {"allow": "放行", "challenge": "加验", "review": "挂起复核", "block": "拦截"},
        "limits_title": "风险限额", "new_limit": "新增限额", "scope_label": "范围", "scope_value": "范围值",
        "scope": {"customer": "客户", "product": "产品", "channel": "渠道"},
        "scope_help": "选择付款渠道或付款账户产品；限额只针对某位客户时，选“指定客户”并填写客户号。",
        "daily_amount": "每日金额（元）", "daily_count": "每日笔数", "action_label": "超限处理",
        "action": {"challenge": "加验", "review": "挂起复核", "block": "拦截"},
        "note": "备注", "active": "启用", "inactive": "已停用", "save": "保存", "deactivate": "停用",
        "none": "不限", "breaches": "最近超限记录", "no_breaches": "暂无超限记录。", "customer": "客户",
        "amount": "本笔金额", "used": "当日已用", "no_limits": "尚未设置限额。",
        "register_title": "风险登记簿", "new_risk": "新增风险", "edit_risk": "编辑风险", "code": "编号",
        "category_label": "类别",
        "category": {"credit": "信用风险", "market": "市场风险", "operational": "操作风险", "compliance": "合规风险",
                     "infosec": "信息安全"},
        "title_en": "英文名称", "title_zh": "中文名称", "owner": "负责人", "controls": "控制措施",
        "control_planned": "计划中", "controls_help": "多项控制措施用分号分隔；尚未落实的措施在末尾标注 [计划]。",
        "description": "说明", "score": "分值", "rstatus_label": "状态",
        "rstatus": {"open": "未处置", "mitigating": "处置中", "accepted": "已接受", "closed": "已关闭"},
        "edit": "编辑", "no_risks": "登记簿为空。", "bad_count": "笔数须为正整数。",
        "bad_scale": "可能性和影响程度须为 1 到 5 的整数。",
    },
    "notice": {"risk_limit_saved": "限额已保存。", "risk_limit_deactivated": "限额已停用。",
               "risk_saved": "风险已保存。", "risk_warning_acked": "预警已确认。", "risk_monitor_run": "已完成评估。"},
})
register_messages("en", {
    "nav": {"console": {"risk_dashboard": "Risk dashboard", "risk_limits": "Risk limits",
                        "risk_register": "Risk register"}},
    "riskdash": {
        "title": "Risk dashboard", "matrix": "Risk matrix", "likelihood": "Likelihood", "impact": "Impact",
        "matrix_hint": "Rows: likelihood (1-5); columns: impact (1-5); each cell counts the risks not closed.",
        "rating": {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"},
        "kris": "Key risk indicators", "kri": "Indicator", "value": "Value", "warn": "Warning at",
        "breach": "Breach at", "level_label": "Level", "window": "Window (days)", "no_kris": "No KRIs yet.",
        "level": {"ok": "OK", "warning": "Warning", "breach": "Breach", "no_data": "No data"},
        "warnings": "Open early warnings", "no_warnings": "No open warnings.", "ack": "Acknowledge", "when": "When",
        "source": {"kri": "KRI", "model_drift": "Model drift"},
        "charts": "Trends", "chart_mix": "Risk decisions per day (30 days)",
        "chart_backlog": "Open alert backlog (30 days)", "chart_psi": "Fraud model score drift, PSI per period",
        "no_psi": "No model monitoring yet.", "model": "Model monitoring", "version": "Model version",
        "period": "Period", "n": "Payments", "psi": "PSI", "alert_rate": "Not allowed", "status": "Status",
        "mstatus": {"ok": "Stable", "warning": "Some drift", "drift": "Drift", "no_data": "No data"},
        "delinquency_note": ("Loan delinquency: the share of outstanding loan principal 1+ days past due at the last"
                             " close of day."),
        "run": "Evaluate now", "top_risks": "Top risks",
        "decision": {"allow": "Allowed", "challenge": "Challenged", "review": "Held", "block": "Blocked"},
        "limits_title": "Risk limits", "new_limit": "New limit", "scope_label": "Scope", "scope_value": "Applies to",
        "scope": {"customer": "Customer", "product": "Product", "channel": "Channel"},
        "scope_help": "Choose a channel or the paying account's product, or one customer by id.",
        "daily_amount": "Daily amount (yuan)", "daily_count": "Daily count", "action_label": "When exceeded",
        "action": {"challenge": "Challenge", "review": "Hold for review", "block": "Block"},
        "note": "Note", "active": "Active", "inactive": "Inactive", "save": "Save", "deactivate": "Deactivate",
        "none": "No cap", "breaches": "Recent breaches", "no_breaches": "No breaches.", "customer": "Customer",
        "amount": "Payment", "used": "Used that day", "no_limits": "No limits yet.",
        "register_title": "Risk register", "new_risk": "New risk", "edit_risk": "Edit risk", "code": "Code",
        "category_label": "Category",
        "category": {"credit": "Credit", "market": "Market", "operational": "Operational",
                     "compliance": "Compliance", "infosec": "Information security"},
        "title_en": "English title", "title_zh": "Chinese title", "owner": "Owner", "controls": "Controls",
        "control_planned": "Planned",
        "controls_help": "Separate controls with a semicolon; end a control not yet in place with [planned].",
        "description": "Description", "score": "Score", "rstatus_label": "Status",
        "rstatus": {"open": "Open", "mitigating": "Mitigating", "accepted": "Accepted", "closed": "Closed"},
        "edit": "Edit", "no_risks": "The register is empty.", "bad_count": "A count is a whole number.",
        "bad_scale": "Likelihood and impact are whole numbers from 1 to 5.",
    },
    "notice": {"risk_limit_saved": "Limit saved.", "risk_limit_deactivated": "Limit deactivated.",
               "risk_saved": "Risk saved.", "risk_warning_acked": "Warning acknowledged.",
               "risk_monitor_run": "Evaluation done."},
})

Text = Annotated[str, Form()]
_RATING_COLOURS = {"low": "#4caf50", "medium": "#ffc107", "high": "#ff7043", "critical": "#c62828"}
_DECISION_COLOURS = {"allow": "#9ccc65", "challenge": "#ffca28", "review": "#ffa726", "block": "#e53935"}


# ------------------------------------------------------------------------------------------------ charts


@contextmanager
def _figure(width: float, height: float) -> Iterator[Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        yield Figure(figsize=(width, height))


def _uri(fig: Any) -> str:
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue().encode()).decode()


def matrix_chart(matrix: dict[str, Any], lang: str) -> str:
    """The 5x5 matrix as a coloured grid (likelihood up, impact right) with the count in each cell."""
    labels = {"zh": ("影响程度", "可能性"), "en": ("Impact", "Likelihood")}[lang if lang == "zh" else "en"]
    with _figure(4.2, 4.0) as fig:
        ax = fig.add_subplot()
        for row in matrix["cells"]:
            for c in row:
                x, y = c["impact"] - 1, c["likelihood"] - 1
                ax.add_patch(_rect(x, y, _RATING_COLOURS[c["rating"]], 0.95 if c["count"] else 0.35))
                if c["count"]:
                    ax.text(x + 0.5, y + 0.5, str(c["count"]), ha="center", va="center", fontsize=13,
                            fontweight="bold")
        ax.set_xlim(0, 5)
        ax.set_ylim(0, 5)
        ax.set_xticks([i + 0.5 for i in range(5)], [str(i) for i in range(1, 6)])
        ax.set_yticks([i + 0.5 for i in range(5)], [str(i) for i in range(1, 6)])
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_aspect("equal")
        ax.tick_params(length=0)
        for s in ax.spines.values():
            s.set_visible(False)
        return _uri(fig)


def _rect(x: float, y: float, colour: str, alpha: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x + 0.03, y + 0.03), 0.94, 0.94, facecolor=colour, alpha=alpha, edgecolor="white")


def mix_chart(mix: list[dict[str, Any]], names: dict[str, str], lang: str = "zh") -> str | None:
    if not any(d[k] for d in mix for k in _DECISION_COLOURS):
        return None
    with _figure(6.4, 2.8) as fig:
        ax = fig.add_subplot()
        xs = list(range(len(mix)))
        bottom = [0] * len(mix)
        for k, colour in _DECISION_COLOURS.items():
            vals = [d[k] for d in mix]
            ax.bar(xs, vals, bottom=bottom, color=colour, label=names.get(k, k), width=0.85)
            bottom = [a + b for a, b in zip(bottom, vals, strict=True)]
        step = max(1, len(mix) // 6)
        ax.set_xticks(xs[::step], [d["day"][5:] for d in mix][::step])
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=8, ncols=4, loc="upper left", frameon=False)
        ax.set_ylim(0, max(bottom) * 1.3 or 1)
        ax.set_xlabel(translate(lang, "riskdash.axis.day"))
        ax.set_ylabel(translate(lang, "riskdash.axis.payments"))
        return _uri(fig)


def backlog_chart(series: list[dict[str, Any]], lang: str = "zh") -> str | None:
    if not any(d["backlog"] for d in series):
        return None
    with _figure(6.4, 2.4) as fig:
        ax = fig.add_subplot()
        xs = list(range(len(series)))
        ax.plot(xs, [d["backlog"] for d in series], color="#1f4e79", marker=".",
                label=translate(lang, "riskdash.axis.backlog"))
        ax.set_xlabel(translate(lang, "riskdash.axis.day"))
        ax.set_ylabel(translate(lang, "riskdash.axis.alerts"))
        ax.legend(fontsize=8, frameon=False, loc="upper left")
        step = max(1, len(series) // 6)
        ax.set_xticks(xs[::step], [d["day"][5:] for d in series][::step])
        ax.set_ylim(bottom=0)
        ax.spines[["top", "right"]].set_visible(False)
        return _uri(fig)


def psi_chart(rows: list[dict[str, Any]], lang: str = "zh") -> str | None:
    pts = sorted((r for r in rows if r["psi"] is not None), key=lambda r: r["period_end"])
    if not pts:
        return None
    with _figure(6.4, 2.4) as fig:
        ax = fig.add_subplot()
        for version in sorted({r["model_version"] for r in pts}):
            mine = [r for r in pts if r["model_version"] == version]
            ax.plot([str(r["period_end"])[5:10] for r in mine], [r["psi"] for r in mine], marker="o", label=version)
        ax.axhline(risk.PSI_WARNING, color="#ffa726", linestyle="--", linewidth=1,
                   label=translate(lang, "riskdash.axis.psi_warning", v=fmt.number(risk.PSI_WARNING, lang)))
        ax.axhline(risk.PSI_DRIFT, color="#e53935", linestyle="--", linewidth=1,
                   label=translate(lang, "riskdash.axis.psi_drift", v=fmt.number(risk.PSI_DRIFT, lang)))
        ax.set_xlabel(translate(lang, "riskdash.axis.period_end"))
        ax.set_ylabel("PSI")
        ax.set_ylim(0, max(max(r["psi"] for r in pts) * 1.2, risk.PSI_DRIFT * 1.3))
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=8, frameon=False)
        return _uri(fig)


# ------------------------------------------------------------------------------------------------ KRIs


def kri_figure(value: float | None, unit: str, lang: str) -> str:
    """A KRI's value or threshold as people read it: shares as percentages, counts as whole numbers, hours."""
    if value is None:
        return translate(lang, "riskdash.level.no_data")
    if unit == "share":
        return fmt.percent(value, lang, digits=2)
    if unit == "count":
        return fmt.number(round(value), lang)
    if unit == "hours":
        return translate(lang, "riskdash.hours", n=fmt.number(value, lang, digits=1))
    return fmt.number(value, lang, digits=3)


# the KRI chart: one row per indicator, its value as a bar on a scale that shows both thresholds
KRI_CHART = {"width": 420, "bar_x": 0, "bar_w": 420, "row": 50, "top": 32}
_LEVEL_COLOURS = {"ok": "#2e7d32", "warning": "#ef6c00", "breach": "#c62828", "no_data": "#9e9e9e"}


def kri_rows(kris: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """The KRIs as the page shows them: figures in the page's language beside their thresholds, a status in
    words, and the geometry of each one's bar in the chart (a scale up to 1.25 times the breach threshold or
    the value, whichever is larger)."""
    c = KRI_CHART
    out = []
    for i, k in enumerate(kris):
        value, warn, breach = k.get("value"), float(k["warn_threshold"]), float(k["breach_threshold"])
        top = max(warn, breach, value or 0.0) * 1.25 or 1.0
        level = k.get("level") or "no_data"
        out.append({**k, "level": level, "name": k["name_zh"] if lang == "zh" else k["name_en"],
                    "value_text": kri_figure(value, k["unit"], lang),
                    "warn_text": kri_figure(warn, k["unit"], lang), "breach_text": kri_figure(breach, k["unit"], lang),
                    "direction_text": translate(lang, f"riskdash.direction.{k['direction']}"),
                    "y": c["top"] + i * c["row"], "bar": round(c["bar_w"] * (value or 0.0) / top, 1),
                    "warn_x": round(c["bar_x"] + c["bar_w"] * warn / top, 1),
                    "breach_x": round(c["bar_x"] + c["bar_w"] * breach / top, 1),
                    "colour": _LEVEL_COLOURS.get(level, "#9e9e9e")})
    return out


# ------------------------------------------------------------------------------------------------ dashboard


def _page(actor: Any, path: str) -> None:
    require_page(actor, path)


@router.get("/console/risk")
def dashboard_page(request: Request, actor: Staff) -> Response:
    _page(actor, "/console/risk")
    d = db.run_in_transaction(lambda s: risk.dashboard(s, actor, now=clock.now()))
    lang = lang_of(request)

    names = {k: translate(lang, f"riskdash.decision.{k}") for k in _DECISION_COLOURS}
    kris = kri_rows(d["kris"], lang)
    counts = {lv: sum(1 for k in kris if k["level"] == lv) for lv in ("breach", "warning", "ok", "no_data")}
    return render(request, "console/risk/dashboard.html", d=d, matrix_rows=list(reversed(d["matrix"]["cells"])),
                  kris=kris, kri_counts=counts, kri_chart=KRI_CHART, kri_colours=_LEVEL_COLOURS,
                  kri_chart_height=KRI_CHART["top"] + len(kris) * KRI_CHART["row"] + 8,
                  mix_img=mix_chart(d["decision_mix"], names, lang),
                  backlog_img=backlog_chart(d["alert_backlog"], lang), psi_img=psi_chart(d["model_monitor"], lang))


@router.post("/console/risk/warnings/{warning_id}/ack")
def ack_warning(request: Request, warning_id: int, actor: Staff) -> Response:
    _page(actor, "/console/risk")
    db.run_in_transaction(lambda s: risk.acknowledge_warning(s, actor, warning_id, rid=request_id(request)))
    return RedirectResponse("/console/risk?notice=risk_warning_acked", status_code=303)


@router.post("/console/risk/run")
def run_monitor(request: Request, actor: Staff) -> Response:
    _page(actor, "/console/risk")
    actor.require_role(*ROLES)
    db.run_in_transaction(lambda s: risk.run_monitor(s, clock.now()))
    return RedirectResponse("/console/risk?notice=risk_monitor_run", status_code=303)


# ------------------------------------------------------------------------------------------------ limits


def _limits_page(request: Request, actor: Any, *, form: dict[str, Any] | None = None, error: str | None = None,
                 status_code: int = 200) -> Response:
    def work(s: Any) -> tuple[Any, Any]:
        return risk.list_limits(s, actor), risk.list_breaches(s, actor, limit=50)

    rows, breaches = db.run_in_transaction(work)
    for r in rows:
        r["amount_text"] = "" if r["daily_amount_minor"] is None else forms.plain_amount(r["daily_amount_minor"])
    form = form or {"target": "channel:web", "customer_id": "", "daily_amount": "", "daily_count": "",
                    "action": "challenge", "note": ""}
    return render(request, "console/risk/limits.html", status_code=status_code, limits=rows, breaches=breaches,
                  form=form, error=error, channels=risk.LIMIT_CHANNELS, products=risk.LIMIT_PRODUCTS,
                  actions=risk.LIMIT_ACTIONS)


def _count(text: str) -> int | None:
    t = (text or "").strip()
    if not t:
        return None
    if not t.isdigit():
        raise forms.FormError("riskdash.bad_count")
    return int(t)


@router.get("/console/risk/limits")
def limits_page(request: Request, actor: Staff) -> Response:
    _page(actor, "/console/risk/limits")
    return _limits_page(request, actor)


@router.post("/console/risk/limits")
def limit_create(request: Request, actor: Staff, scope: Text = "", scope_value: Text = "", daily_amount: Text = "",
                 daily_count: Text = "", action: Text = "challenge", note: Text = "", reason: Text = "",
                 target: Text = "", customer_id: Text = "") -> Response:
    """Propose a new limit: it applies once a second risk officer or administrator approves it. The page's form
    chooses what the limit applies to in one list (``target``: ``channel:web``, ``product:demand`` or
    ``customer`` with ``customer_id``); ``scope`` and ``scope_value`` name it directly. The service validates
    either way."""
    _page(actor, "/console/risk/limits")
    if target:
        scope, _, scope_value = target.partition(":")
        if scope == "customer":
            scope_value = customer_id.strip()
    else:
        target = f"{scope}:{scope_value}" if scope != "customer" else "customer"
        customer_id = scope_value if scope == "customer" else customer_id
    form = {"target": target, "customer_id": customer_id, "daily_amount": daily_amount, "daily_count": daily_count,
            "action": action, "note": note}
    try:
        amount = forms.optional_amount(daily_amount)
        count = _count(daily_count)
        text = forms.short_text(note, 300) or None
        db.run_in_transaction(lambda s: backoffice.propose_change(
            s, actor, kind="risk.limit.create", target="new", reason=reason, rid=request_id(request),
            payload={"scope": scope, "scope_value": scope_value, "daily_amount_minor": amount,
                     "daily_count": count, "action": action, "note": text}))
    except Forbidden:
        raise
    except SmartbankError as exc:
        return _limits_page(request, actor, form=form, error=forms.message(exc, lang_of(request)), status_code=422)
    return RedirectResponse("/console/changes?notice=change_proposed", status_code=303)


@router.post("/console/risk/limits/{limit_id}")
def limit_edit(request: Request, limit_id: int, actor: Staff, daily_amount: Text = "", daily_count: Text = "",
               action: Text = "", note: Text = "", active: Text = "", reason: Text = "") -> Response:
    """Propose changing a limit: it applies once a second risk officer or administrator approves it."""
    _page(actor, "/console/risk/limits")
    try:
        changes: dict[str, Any] = {"daily_amount_minor": forms.optional_amount(daily_amount),
                                   "daily_count": _count(daily_count), "note": forms.short_text(note, 300) or None,
                                   "active": active in ("1", "on", "true")}
        if action:
            changes["action"] = action
        db.run_in_transaction(lambda s: backoffice.propose_change(
            s, actor, kind="risk.limit.edit", target=limit_id, payload=changes, reason=reason,
            rid=request_id(request)))
    except Forbidden:
        raise
    except SmartbankError as exc:
        if exc.status_code == 404:
            raise
        return _limits_page(request, actor, error=forms.message(exc, lang_of(request)), status_code=422)
    return RedirectResponse("/console/changes?notice=change_proposed", status_code=303)


@router.post("/console/risk/limits/{limit_id}/deactivate")
def limit_deactivate(request: Request, limit_id: int, actor: Staff, reason: Text = "") -> Response:
    """Propose deactivating a limit: it stops applying once a second person approves it."""
    _page(actor, "/console/risk/limits")
    try:
        db.run_in_transaction(lambda s: backoffice.propose_change(
            s, actor, kind="risk.limit.edit", target=limit_id, payload={"active": False}, reason=reason,
            rid=request_id(request)))
    except Forbidden:
        raise
    except SmartbankError as exc:
        if exc.status_code == 404:
            raise
        return _limits_page(request, actor, error=forms.message(exc, lang_of(request)), status_code=422)
    return RedirectResponse("/console/changes?notice=change_proposed", status_code=303)


# ------------------------------------------------------------------------------------------------ register

_RISK_FIELDS = ("code", "category", "title_en", "title_zh", "likelihood", "impact", "owner", "controls",
                "description", "status")


def _register_page(request: Request, actor: Any, *, form: dict[str, Any] | None = None, editing: int | None = None,
                   error: str | None = None, status_code: int = 200) -> Response:
    def work(s: Any) -> tuple[Any, Any, Any]:
        rows = risk.list_register_entries(s, actor)
        current = risk.get_register_entry(s, actor, editing) if editing else None
        return rows, risk.register_matrix(s, actor), current

    rows, matrix, current = db.run_in_transaction(work)
    if form is None:
        form = {k: (current or {}).get(k) or "" for k in _RISK_FIELDS}
        if not current:
            form.update(category="operational", likelihood=3, impact=3, status="open")
    return render(request, "console/risk/register.html", status_code=status_code, risks=rows, form=form,
                  editing=editing, error=error, matrix=matrix, matrix_img=matrix_chart(matrix, lang_of(request)),
                  categories=risk.RISK_CATEGORIES, statuses=risk.REGISTER_STATUSES)


@router.get("/console/risk/register")
def register_page(request: Request, actor: Staff) -> Response:
    _page(actor, "/console/risk/register")
    return _register_page(request, actor)


@router.get("/console/risk/register/{entry_id}")
def register_edit_page(request: Request, entry_id: int, actor: Staff) -> Response:
    _page(actor, "/console/risk/register")
    return _register_page(request, actor, editing=entry_id)


def _scale(text: str) -> int:
    t = (text or "").strip()
    if not (t.isdigit() and 1 <= int(t) <= 5):
        raise forms.FormError("riskdash.bad_scale")
    return int(t)


@router.post("/console/risk/register")
def register_save(request: Request, actor: Staff, editing: Text = "", code: Text = "", category: Text = "",
                  title_en: Text = "", title_zh: Text = "", likelihood: Text = "", impact: Text = "",
                  owner: Text = "", controls: Text = "", description: Text = "", status: Text = "open") -> Response:
    _page(actor, "/console/risk/register")
    form = {"code": code, "category": category, "title_en": title_en, "title_zh": title_zh,
            "likelihood": likelihood, "impact": impact, "owner": owner, "controls": controls,
            "description": description, "status": status}
    edit_id = forms.int_id(editing, "error.bad_request") if editing.strip() else None
    try:
        fields: dict[str, Any] = {"category": category, "title_en": title_en, "title_zh": title_zh,
                  "likelihood": _scale(likelihood), "impact": _scale(impact), "owner": owner or None,
                  "controls": controls or None, "description": description or None, "status": status}
        if edit_id:
            db.run_in_transaction(lambda s: risk.edit_register_entry(s, actor, edit_id, rid=request_id(request),
                                                                     **fields))
        else:
            db.run_in_transaction(lambda s: risk.create_register_entry(s, actor, code=code, rid=request_id(request),
                                                                       **fields))
    except Forbidden:
        raise
    except SmartbankError as exc:
        if exc.status_code == 404:
            raise
        return _register_page(request, actor, form=form, editing=edit_id,
                              error=forms.message(exc, lang_of(request)), status_code=422)
    return RedirectResponse("/console/risk/register?notice=risk_saved", status_code=303)
