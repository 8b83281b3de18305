"""Console pages for the risk alert queue and cases (risk officers and administrators).

Every page calls the case functions of :mod:`smartbank.risk.service`, which check the role; every action
is a CSRF-protected form whose request is one transaction (a refused action writes nothing and shows the
case again).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.risk import service as risk
from smartbank.security.service import Principal
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import FormError, message
from smartbank.web.i18n import lang_of, register_messages, translate
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/risk/alerts"
register_console_page(PAGE, "nav.console.risk_alerts", roles=risk.ALERT_OFFICER_ROLES, order=51)

FILTERS = ("active", "open", "investigating", "closed", "all")

register_messages("zh", {
    "nav": {"console": {"risk_alerts": "风险预警"}},
    "riskcase": {
        "queue_title": "风险预警队列", "filter": {"active": "待处理", "open": "未分配", "investigating": "调查中",
                                                  "closed": "已结案", "all": "全部"},
        "mine": "只看我的", "everyone": "全部人员", "none": "没有预警。", "id": "编号", "priority": "优先级",
        "prio": {"1": "高", "2": "中", "3": "低"}, "customer": "客户", "amount": "金额", "decision": "决定",
        "dec": {"allow": "放行", "challenge": "验证", "review": "人工复核", "block": "拦截"},
        "score": "评分", "status": "状态", "st": {"open": "未分配", "investigating": "调查中", "closed": "已结案"},
        "assignee": "处理人", "age": "时长", "open_case": "查看",
        "age_m": "{n} 分钟", "age_h": "{n} 小时", "age_d": "{n} 天",
        "case_title": "预警 #{id}", "back": "返回队列", "payment": "付款", "payer": "付款账户", "payee": "收款方",
        "state": {"held": "款项冻结待复核", "posted": "已付出", "none": "未付出（已拦截）", "other": "其他"},
        "model": "模型版本", "rules_version": "规则版本", "reasons": "原因", "rule_hits": "命中规则",
        "rule": "规则", "action": "动作", "shadow": "影子模式", "no_hits": "没有命中规则。",
        "features": "关键特征", "timeline": "客户近况", "payments": "最近交易", "decisions": "最近风控决定",
        "notifications": "已发通知", "no_items": "暂无。", "when": "时间", "kind": "类型", "counterparty": "对方",
        "channel": "渠道", "events": "处理记录", "event": "事件",
        "ev": {"created": "创建", "assigned": "分配", "note": "备注", "fraud_confirmed": "确认欺诈",
               "false_alarm": "确认误报", "released": "放行", "voided": "拦截退回", "reversed": "冲正",
               "reversal_requested": "申请冲正（待复核）", "reversal_rejected": "冲正申请被驳回"},
        "by": "操作人", "system": "系统", "assign_me": "分配给我", "assign_to": "分配给（用户编号，可留空）",
        "assign": "分配", "note": "备注", "add_note": "添加备注", "resolve": "结案",
        "choice": {"false_alarm:release": "误报：放行付款", "false_alarm:void": "误报：取消付款并退回款项",
                   "false_alarm:none": "误报：无需操作", "fraud:void": "欺诈：拦截付款并退回款项",
                   "fraud:reverse": "欺诈：申请冲正已付出的款项（须另一人复核）", "fraud:none": "欺诈：无需资金操作"},
        "resolution": "结论", "res": {"fraud": "欺诈", "false_alarm": "误报"},
        "outcome": {"released": "已放行", "voided": "已拦截退回", "reversed": "已冲正", "none": "无资金操作",
                    "reverse_pending": "冲正待复核"},
        "to_reversals": "前往冲正复核",
        "closed_note": "此预警已结案。", "label": "标注", "lab": {"0": "正常", "1": "欺诈"},
        "pick": "请选择一个结论。", "bad_user": "用户编号应为数字。",
        "resolve_hint": "结案会移动资金并通知客户，只能执行一次。",
    },
    "notice": {"riskcase_assigned": "预警已分配。", "riskcase_noted": "备注已添加。",
               "riskcase_resolved": "预警已结案。"},
})
register_messages("en", {
    "nav": {"console": {"risk_alerts": "Risk alerts"}},
    "riskcase": {
        "queue_title": "Risk alert queue", "filter": {"active": "To do", "open": "Unassigned",
                                                      "investigating": "Investigating", "closed": "Closed",
                                                      "all": "All"},
        "mine": "Mine only", "everyone": "Everyone", "none": "No alerts.", "id": "No.", "priority": "Priority",
        "prio": {"1": "High", "2": "Medium", "3": "Low"}, "customer": "Customer", "amount": "Amount",
        "decision": "Decision", "dec": {"allow": "Allowed", "challenge": "Challenged", "review": "Held for review",
                                        "block": "Blocked"},
        "score": "Score", "status": "Status", "st": {"open": "Unassigned", "investigating": "Investigating",
                                                     "closed": "Closed"},
        "assignee": "Assigned to", "age": "Age", "open_case": "Open",
        "age_m": "{n} min", "age_h": "{n} h", "age_d": "{n} d",
        "case_title": "Alert #{id}", "back": "Back to the queue", "payment": "Payment", "payer": "Paying account",
        "payee": "Paid to", "state": {"held": "Money held for review", "posted": "Paid",
                                      "none": "Not paid (blocked)", "other": "Other"},
        "model": "Model version", "rules_version": "Rules version", "reasons": "Reasons", "rule_hits": "Rule hits",
        "rule": "Rule", "action": "Action", "shadow": "Shadow", "no_hits": "No rule hit.",
        "features": "Key features", "timeline": "The customer lately", "payments": "Recent payments",
        "decisions": "Recent risk decisions", "notifications": "Notifications sent", "no_items": "None.",
        "when": "When", "kind": "Kind", "counterparty": "Counterparty", "channel": "Channel",
        "events": "Case history", "event": "Event",
        "ev": {"created": "Created", "assigned": "Assigned", "note": "Note", "fraud_confirmed": "Fraud confirmed",
               "false_alarm": "False alarm", "released": "Released", "voided": "Stopped and returned",
               "reversed": "Reversed", "reversal_requested": "Reversal asked for (awaiting approval)",
               "reversal_rejected": "Reversal rejected"},
        "by": "By", "system": "System", "assign_me": "Assign to me",
        "assign_to": "Assign to (user number, optional)", "assign": "Assign", "note": "Note",
        "add_note": "Add note", "resolve": "Close the case",
        "choice": {"false_alarm:release": "False alarm: release the payment",
                   "false_alarm:void": "False alarm: cancel the payment and return the money",
                   "false_alarm:none": "False alarm: nothing to do",
                   "fraud:void": "Fraud: stop the payment and return the money",
                   "fraud:reverse": "Fraud: ask for the payment to be reversed (a second officer approves)",
                   "fraud:none": "Fraud: no money to move"},
        "resolution": "Resolution", "res": {"fraud": "Fraud", "false_alarm": "False alarm"},
        "outcome": {"released": "Released", "voided": "Stopped and returned", "reversed": "Reversed",
                    "none": "No money moved", "reverse_pending": "Reversal awaiting approval"},
        "to_reversals": "Go to reversal approvals",
        "closed_note": "This alert is closed.", "label": "Label", "lab": {"0": "Genuine", "1": "Fraud"},
        "pick": "Choose a resolution.", "bad_user": "The user number is digits only.",
        "resolve_hint": "Closing moves money and tells the customer; it happens once.",
    },
    "notice": {"riskcase_assigned": "Alert assigned.", "riskcase_noted": "Note added.",
               "riskcase_resolved": "Alert closed."},
})


def age_text(seconds: int | None, lang: str) -> str:
    if seconds is None:
        return ""
    minutes = max(0, seconds) // 60
    if minutes < 60:
        return translate(lang, "riskcase.age_m", n=minutes)
    if minutes < 48 * 60:
        return translate(lang, "riskcase.age_h", n=minutes // 60)
    return translate(lang, "riskcase.age_d", n=minutes // (24 * 60))


@router.get(PAGE)
def alert_queue(request: Request, actor: Staff, status: str = "active", mine: int = 0) -> Response:
    require_page(actor, PAGE)
    st = status if status in FILTERS else "active"
    who = actor.user_id if mine else None

    def work(s):
        return risk.alert_queue(s, actor, status=st, assigned_to=who, limit=200), risk.alert_counts(s, actor)

    items, counts = db.run_in_transaction(work)
    lang = lang_of(request)
    for it in items:
        it["age"] = age_text(it["age_seconds"], lang)
    counts["active"] = counts["open"] + counts["investigating"]
    counts["all"] = counts["active"] + counts["closed"]
    return render(request, "console/risk/alerts.html", items=items, counts=counts, status=st, mine=bool(mine),
                  filters=FILTERS)


def _case_page(request: Request, actor: Principal, alert_id: int, *, error: str | None = None,
               status_code: int = 200, form: dict[str, str] | None = None) -> Response:
    require_page(actor, PAGE)
    lang = lang_of(request)
    case = db.run_in_transaction(lambda s: risk.get_case(s, actor, alert_id, lang=lang))
    case["alert"]["age"] = age_text(case["alert"]["age_seconds"], lang)
    choices = [f"{res}:{act}" for res, acts in case["allowed"].items() for act in acts]
    return render(request, "console/risk/case.html", status_code=status_code, case=case, a=case["alert"],
                  d=case["decision"], choices=choices, error=error, form=form or {"note": "", "choice": ""})


@router.get(PAGE + "/{alert_id}")
def alert_case(request: Request, alert_id: int, actor: Staff) -> Response:
    return _case_page(request, actor, alert_id)


Text = Annotated[str, Form()]


def _act(request: Request, actor: Principal, alert_id: int, fn, notice: str, form: dict[str, str]) -> Response:
    require_page(actor, PAGE)
    try:
        db.run_in_transaction(fn)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        code = exc.status_code if exc.status_code in (409, 422) else 422
        return _case_page(request, actor, alert_id, error=message(exc, lang_of(request)), status_code=code,
                          form=form)
    return RedirectResponse(f"{PAGE}/{alert_id}?notice={notice}", status_code=303)


@router.post(PAGE + "/{alert_id}/assign")
def assign(request: Request, alert_id: int, actor: Staff, user_id: Text = "") -> Response:
    uid = user_id.strip()

    def work(s: Any) -> Any:
        if uid and not (uid.isdigit() and len(uid) < 19):
            raise FormError("riskcase.bad_user")
        return risk.assign_alert(s, actor, alert_id, user_id=int(uid) if uid else None)

    return _act(request, actor, alert_id, work, "riskcase_assigned", {"note": "", "choice": ""})


@router.post(PAGE + "/{alert_id}/note")
def add_note(request: Request, alert_id: int, actor: Staff, note: Text = "") -> Response:
    return _act(request, actor, alert_id, lambda s: risk.add_case_note(s, actor, alert_id, note), "riskcase_noted",
                {"note": note, "choice": ""})


@router.post(PAGE + "/{alert_id}/resolve")
def resolve(request: Request, alert_id: int, actor: Staff, choice: Text = "", note: Text = "") -> Response:
    form = {"note": note, "choice": choice}
    res, _, act = choice.partition(":")

    def work(s: Any) -> Any:
        if not res or not act:
            raise FormError("riskcase.pick")
        return risk.resolve_alert(s, actor, alert_id, resolution=res, action=act, note=note)

    return _act(request, actor, alert_id, work, "riskcase_resolved", form)
