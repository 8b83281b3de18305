"""Console page for change requests: maker-checker for sensitive configuration.

Risk rules and limits, reference rates, loan and wealth products, customers' daily limits and staff roles are
proposed by one staff member (from their own pages, the API or the command line) and take effect when a second
staff member holding the same permission approves them here; a checker may reject (saying why) and the maker
may withdraw. Each request shows the value before (when it was proposed) and the proposed value, field by
field. Every action is a CSRF-protected form whose request is one transaction (a refused action writes nothing
and shows the page again with the reason).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.backoffice import service as backoffice
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.money import format_minor
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import message
from smartbank.web.i18n import has, lang_of, register_messages, translate
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/changes"
_ROLES = tuple(r for r in security.STAFF_ROLES
               if any(security.allows(r, k.permission) for k in backoffice.CHANGE_KINDS.values()))
register_console_page(PAGE, "nav.console.changes", roles=_ROLES, order=51)

TABS = ("pending", "applied", "rejected", "withdrawn")

_FIELDS_ZH = {
    "name_en": "英文名称", "name_zh": "中文名称", "expression": "条件", "action": "动作", "mode": "模式",
    "reason_en": "英文原因说明", "reason_zh": "中文原因说明", "version": "版本", "scope": "范围",
    "scope_value": "范围取值", "daily_amount_minor": "每日金额上限", "daily_count": "每日笔数上限", "active": "启用",
    "note": "备注", "rate_bps": "利率", "effective_date": "生效日期", "published": "已发布次数", "kind": "类型",
    "currency": "币种", "min_amount_minor": "最低金额", "max_amount_minor": "最高金额",
    "min_term_months": "最短期限（月）",
    "max_term_months": "最长期限（月）", "methods": "还款方式", "reference_rate": "参考利率",
    "spreads_bps": "各等级加点",
    "grade_limits_minor": "各等级额度", "income_multiple": "收入倍数上限", "max_dti": "负债收入比上限",
    "max_ltv": "抵押率上限", "collateral_kind": "抵押物类型", "penalty_markup": "罚息上浮",
    "maker_checker_minor": "双人复核金额", "min_age": "最低年龄", "max_age": "最高年龄", "status": "状态",
    "description_en": "英文介绍", "description_zh": "中文介绍", "risk_level": "风险等级", "asset_class": "资产类别",
    "step_minor": "递增金额", "term_days": "期限（天）", "subscription_fee_bps": "申购费率",
    "redemption_fee_bps": "赎回费率", "management_fee_bps": "管理费率", "settlement_days": "确认天数",
    "issuer": "发行方",
    "tags": "标签", "launched_on": "成立日期", "money_market": "货币基金", "daily_limit_minor": "每日转账限额",
    "role": "岗位", "is_active": "启用", "username": "用户名",
}
_FIELDS_EN = {
    "name_en": "Name (English)", "name_zh": "Name (Chinese)", "expression": "Condition", "action": "Action",
    "mode": "Mode", "reason_en": "Reason (English)", "reason_zh": "Reason (Chinese)", "version": "Version",
    "scope": "Scope", "scope_value": "Scope value", "daily_amount_minor": "Daily amount cap",
    "daily_count": "Daily count cap", "active": "Active", "note": "Note", "rate_bps": "Rate",
    "effective_date": "Effective from", "published": "Times published", "kind": "Kind", "currency": "Currency",
    "min_amount_minor": "Minimum amount", "max_amount_minor": "Maximum amount",
    "min_term_months": "Shortest term (months)",
    "max_term_months": "Longest term (months)", "methods": "Repayment methods", "reference_rate": "Reference rate",
    "spreads_bps": "Spread by grade", "grade_limits_minor": "Limit by grade", "income_multiple": "Income multiple",
    "max_dti": "Maximum debt-to-income", "max_ltv": "Maximum loan-to-value", "collateral_kind": "Collateral",
    "penalty_markup": "Penalty markup", "maker_checker_minor": "Second check from", "min_age": "Minimum age",
    "max_age": "Maximum age", "status": "Status", "description_en": "Description (English)",
    "description_zh": "Description (Chinese)", "risk_level": "Risk level", "asset_class": "Asset class",
    "step_minor": "Step", "term_days": "Term (days)", "subscription_fee_bps": "Subscription fee",
    "redemption_fee_bps": "Redemption fee", "management_fee_bps": "Management fee",
    "settlement_days": "Settlement days", "issuer": "Issuer", "tags": "Tags", "launched_on": "Launched on",
    "money_market": "Money-market", "daily_limit_minor": "Daily transfer limit", "role": "Role",
    "is_active": "Active", "username": "Username",
}
_KINDS_ZH = {
    "risk_rule_create": "新建风控规则", "risk_rule_edit": "修改风控规则", "risk_rule_mode": "切换规则模式",
    "risk_limit_create": "新建风险限额", "risk_limit_edit": "修改风险限额", "lending_rate_set": "发布参考利率",
    "lending_product_create": "新建贷款产品", "lending_product_edit": "修改贷款产品参数",
    "wealth_product_create": "新建理财产品", "wealth_product_edit": "修改理财产品参数",
    "wealth_product_close": "关闭理财产品",
    "customer_daily_limit": "调整客户每日限额", "user_role": "调整员工岗位", "user_active": "启用或停用员工账号",
}
_KINDS_EN = {
    "risk_rule_create": "New risk rule", "risk_rule_edit": "Risk rule edit", "risk_rule_mode": "Risk rule mode",
    "risk_limit_create": "New risk limit", "risk_limit_edit": "Risk limit change",
    "lending_rate_set": "Reference rate",
    "lending_product_create": "New loan product", "lending_product_edit": "Loan product parameters",
    "wealth_product_create": "New wealth product", "wealth_product_edit": "Wealth product parameters",
    "wealth_product_close": "Wealth product closing", "customer_daily_limit": "Customer's daily limit",
    "user_role": "Staff role", "user_active": "Staff sign-in activation",
}

register_messages("zh", {
    "nav": {"console": {"changes": "参数变更复核"}},
    "change": {
        "title": "参数变更复核", "tab": {"pending": "待复核", "applied": "已生效", "rejected": "已驳回",
        "withdrawn": "已撤回"},
        "none": "没有记录。", "id": "编号", "what": "变更内容", "target": "对象", "field": "项目", "before": "变更前",
        "after": "变更后", "reason": "理由", "maker": "提出人", "checker": "复核人", "status": "状态",
        "st": {"pending": "待复核", "applied": "已生效", "rejected": "已驳回", "withdrawn": "已撤回"},
        "note": "复核意见", "approve": "批准并生效", "reject": "驳回", "withdraw": "撤回",
        "hint": "敏感参数的变更须由提出人以外、具有相应权限的另一位人员复核；批准后立即生效。对象在提出后又被修改的，"
                "不能批准，请驳回或撤回后重新提出。",
        "limit_new": "新的每日转账限额（元，留空为默认）", "propose": "提交复核",
        "limit_hint": "调整限额须由另一位人员在“参数变更复核”中批准后生效。",
        "own": "您提出的变更，须由他人复核。", "reason_label": "变更理由（供复核人参阅）",
        "needs_approval": "提交后须由另一位具有相应权限的人员在“参数变更复核”中批准才生效。",
        "new": "（新建）", "yes": "是", "no": "否", "empty": "—",
        "field_name": _FIELDS_ZH, "kind": _KINDS_ZH,
        "val": {
            "mode": {"active": "生效", "shadow": "影子模式", "retired": "停用"},
            "action": {"flag": "标记", "challenge": "加验", "review": "挂起复核", "block": "拦截"},
            "status": {"active": "在售", "retired": "已下架", "closed": "已关闭"},
            "scope": {"customer": "客户", "product": "产品", "channel": "渠道"},
        },
    },
    "notice": {"change_proposed": "已提交，待另一位人员复核后生效。", "change_approved": "已批准，变更已生效。",
               "change_rejected": "已驳回该变更。", "change_withdrawn": "已撤回该变更。"},
    "error_code": {"same_officer": "提出人不能复核自己的申请，须由另一位人员复核。",
                   "stale_change": "该对象在提出变更后又被修改，不能批准；请驳回或撤回后重新提出。"},
    "error_message": {
        "a note saying why is required": "请填写驳回理由。",
        "change request not found": "找不到该变更申请。",
        "this change request is already applied": "该变更已生效。",
        "this change request is already rejected": "该变更已驳回。",
        "this change request is already withdrawn": "该变更已撤回。",
        "it exists already": "该对象已存在。",
        "nothing to change": "要修改的对象不存在。",
        "nothing changes": "没有任何改动。",
    },
})
register_messages("en", {
    "nav": {"console": {"changes": "Change approvals"}},
    "change": {
        "title": "Change approvals", "tab": {"pending": "To approve", "applied": "Applied", "rejected": "Rejected",
                                             "withdrawn": "Withdrawn"},
        "none": "Nothing here.", "id": "No.", "what": "Change", "target": "Object", "field": "Field",
        "before": "Before", "after": "Proposed", "reason": "Reason", "maker": "Proposed by", "checker": "Decided by",
        "status": "Status", "st": {"pending": "Waiting", "applied": "Applied", "rejected": "Rejected",
                                   "withdrawn": "Withdrawn"},
        "note": "Note", "approve": "Approve and apply", "reject": "Reject", "withdraw": "Withdraw",
        "hint": "A change to sensitive configuration is approved by someone other than the person who proposed it,"
                " holding the same permission; approved, it applies at once. A change whose object was changed"
                " after it was proposed cannot be approved: reject or withdraw it and propose again.",
        "limit_new": "New daily transfer limit (yuan; blank for the default)", "propose": "Propose",
        "limit_hint": "A new limit applies once a second person approves it under Change approvals.",
        "own": "You proposed this one: someone else approves it.", "reason_label": "Why (for the checker)",
        "needs_approval": "Saved changes take effect once a second person with the same permission approves them"
                          " under Change approvals.", "new": "(new)", "yes": "Yes", "no": "No",
        "empty": "—", "field_name": _FIELDS_EN, "kind": _KINDS_EN,
        "val": {
            "mode": {"active": "Active", "shadow": "Shadow", "retired": "Retired"},
            "action": {"flag": "Flag", "challenge": "Challenge", "review": "Hold for review", "block": "Block"},
            "status": {"active": "Active", "retired": "Retired", "closed": "Closed"},
            "scope": {"customer": "Customer", "product": "Product", "channel": "Channel"},
        },
    },
    "notice": {"change_proposed": "Proposed: it takes effect once a second person approves it.",
               "change_approved": "Approved: the change is applied.", "change_rejected": "The change is rejected.",
               "change_withdrawn": "The change is withdrawn."},
    "error_code": {"same_officer": "The person who proposed cannot approve: a second person must.",
                   "stale_change": "This changed after the proposal was made, so it cannot be approved: reject or"
                                   " withdraw it and propose again."},
    "error_message": {
        "a note saying why is required": "Say why it is rejected.",
        "change request not found": "No such change request.",
        "this change request is already applied": "This change is already applied.",
        "this change request is already rejected": "This change is already rejected.",
        "this change request is already withdrawn": "This change is already withdrawn.",
        "it exists already": "It exists already.",
        "nothing to change": "The object to change does not exist.",
        "nothing changes": "Nothing is changed.",
    },
})


def show_value(lang: str, field: str, value: Any) -> str:
    """A value of a change as a person reads it: money, rates, yes/no and codes in words."""
    if value is None:
        return translate(lang, "change.empty")
    if isinstance(value, bool):
        return translate(lang, "change.yes" if value else "change.no")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {show_value(lang, field, v)}" for k, v in value.items()) or translate(
            lang, "change.empty")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or translate(lang, "change.empty")
    if isinstance(value, int) and field.endswith("_minor"):
        return format_minor(value, "CNY", grouping=True, symbol=True)
    if isinstance(value, int) and field.endswith("_bps"):
        return f"{value / 100:.2f}%"
    if field == "role":
        return translate(lang, f"role.{value}") if has(lang, f"role.{value}") else str(value)
    key = f"change.val.{field}.{value}"
    return translate(lang, key) if has(lang, key) else str(value)


def _label(lang: str, prefix: str, code: str) -> str:
    key = f"{prefix}.{code}"
    return translate(lang, key) if has(lang, key) else code


def view(lang: str, item: dict[str, Any]) -> dict[str, Any]:
    """A change request ready for the page: its kind in words, the rows before/after in words."""
    out = dict(item)
    out["kind_label"] = _label(lang, "change.kind", item["kind"].replace(".", "_"))
    who = (item["before"] or {}).get("username") if item["kind"].startswith("user.") else None
    out["target_label"] = f"{who} #{item['target']}" if who else item["target"]
    out["rows"] = [{"field": _label(lang, "change.field_name", r["field"]),
                    "before": translate(lang, "change.new") if item["before"] is None
                    else show_value(lang, r["field"], r["before"]),
                    "after": show_value(lang, r["field"], r["after"])} for r in item["changes"]]
    return out


def _page(request: Request, actor: Principal, tab: str, *, error: str | None = None,
          status_code: int = 200) -> Response:
    require_page(actor, PAGE)
    tab = tab if tab in TABS else "pending"
    lang = lang_of(request)
    items = db.run_in_transaction(lambda s: [backoffice.change_as_dict(s, r) for r in backoffice.list_changes(
        s, actor, status=tab, limit=200)])
    return render(request, "console/changes.html", status_code=status_code, items=[view(lang, i) for i in items],
                  tab=tab, tabs=TABS, me=actor.user_id, error=error)


@router.get(PAGE)
def change_queue(request: Request, actor: Staff, tab: str = "pending") -> Response:
    return _page(request, actor, tab)


Text = Annotated[str, Form()]


def _act(request: Request, actor: Principal, fn, notice: str) -> Response:
    require_page(actor, PAGE)
    try:
        db.run_in_transaction(fn)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        code = exc.status_code if exc.status_code in (409, 422) else 422
        return _page(request, actor, "pending", error=message(exc, lang_of(request)), status_code=code)
    return RedirectResponse(f"{PAGE}?notice={notice}", status_code=303)


@router.post(PAGE + "/{change_id}/approve")
def approve(request: Request, change_id: int, actor: Staff, note: Text = "") -> Response:
    return _act(request, actor, lambda s: backoffice.approve_change(s, actor, change_id, note=note),
                "change_approved")


@router.post(PAGE + "/{change_id}/reject")
def reject(request: Request, change_id: int, actor: Staff, note: Text = "") -> Response:
    return _act(request, actor, lambda s: backoffice.reject_change(s, actor, change_id, note=note),
                "change_rejected")


@router.post(PAGE + "/{change_id}/withdraw")
def withdraw(request: Request, change_id: int, actor: Staff, note: Text = "") -> Response:
    return _act(request, actor, lambda s: backoffice.withdraw_change(s, actor, change_id, note=note),
                "change_withdrawn")
