"""Portal loan pages: choose a product, apply with a prefilled form (with the indicative monthly payment),
follow the application (progress line, decision and reasons in plain words) and accept or withdraw.

Every page calls :mod:`smartbank.lending.applications`, which checks who may see what; every action is a
CSRF-protected form whose request is one transaction (a refused action writes nothing).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import clock, db
from smartbank.errors import SmartbankError
from smartbank.lending import service as lending
from smartbank.lending.service import EMPLOYMENT
from smartbank.web import forms
from smartbank.web.auth import Customer
from smartbank.web.i18n import lang_of, register_messages
from smartbank.web.nav import register_portal_page
from smartbank.web.render import env, page_context
from smartbank.web.routing import web_router

router = web_router()
register_portal_page("/loans/apply", "nav.loans_apply", order=60)

register_messages("zh", {
    "nav": {"loans_apply": "申请贷款"},
    "loanapp": {
        "title": "申请贷款", "choose": "选择贷款产品", "amount_range": "额度 {lo} – {hi}",
        "term_range": "期限 {lo}–{hi} 个月", "apply": "申请", "amount": "借款金额（元）", "term": "期限（月）",
        "method": "还款方式", "m": {"equal_installment": "等额本息", "equal_principal": "等额本金"},
        "purpose": "借款用途", "income": "月收入（元）", "employment": "工作情况",
        "emp": {"employed": "受雇", "self_employed": "自雇", "business_owner": "企业主", "retired": "退休",
                "student": "学生", "unemployed": "无业"},
        "employer": "工作单位", "years": "工作年限", "dependents": "供养人数",
        "debt": "其他贷款余额（元）", "repay": "其他贷款月还款（元）", "card_balance": "信用卡已用额度（元）",
        "card_limit": "信用卡总额度（元）", "collateral_value": "抵押物价值（元）", "collateral_desc": "抵押物说明",
        "account": "放款及还款账户", "estimate": "估算", "monthly": "预计月供 {lo} – {hi}（以审批利率为准）",
        "submit": "提交申请", "no_account": "您需要一个正常状态的活期账户才能申请贷款。",
        "my": "我的贷款申请", "none": "暂无申请。", "app_title": "贷款申请 {n}",
        "st": {"submitted": "已提交", "scoring": "审批中", "manual_review": "人工审核", "approved": "已批准",
               "accepted": "已接受", "disbursed": "已放款", "repaying": "还款中", "closed": "已结清",
               "declined": "未通过", "withdrawn": "已撤回", "expired": "已过期", "written_off": "已核销"},
        "reasons": "主要原因", "offer": "审批结果", "rate": "年利率 {r}%", "expires": "请在 {d} 前确认",
        "accept": "接受并放款", "withdraw": "撤回申请", "back": "返回", "bad_number": "请输入整数。",
    },
    "notice": {"loan_submitted": "申请已提交。", "loan_accepted": "您已接受贷款。", "loan_withdrawn": "申请已撤回。"},
})
register_messages("en", {
    "nav": {"loans_apply": "Apply for a loan"},
    "loanapp": {
        "title": "Apply for a loan", "choose": "Choose a loan", "amount_range": "Amount {lo} – {hi}",
        "term_range": "Term {lo}–{hi} months", "apply": "Apply", "amount": "Amount (yuan)", "term": "Term (months)",
        "method": "Repayment", "m": {"equal_installment": "Equal instalments", "equal_principal": "Equal principal"},
        "purpose": "Purpose", "income": "Monthly income (yuan)", "employment": "Employment",
        "emp": {"employed": "Employed", "self_employed": "Self-employed", "business_owner": "Business owner",
                "retired": "Retired", "student": "Student", "unemployed": "Not working"},
        "employer": "Employer", "years": "Years employed", "dependents": "Dependents",
        "debt": "Other loans outstanding (yuan)", "repay": "Other loans, monthly repayments (yuan)",
        "card_balance": "Credit cards used (yuan)", "card_limit": "Credit cards limit (yuan)",
        "collateral_value": "Collateral value (yuan)", "collateral_desc": "Collateral description",
        "account": "Account for payout and repayments", "estimate": "Estimate",
        "monthly": "About {lo} – {hi} a month (the approved rate decides)", "submit": "Submit application",
        "no_account": "You need an open current account to apply for a loan.",
        "my": "My loan applications", "none": "No applications yet.", "app_title": "Loan application {n}",
        "st": {"submitted": "Submitted", "scoring": "Being assessed", "manual_review": "Officer review",
               "approved": "Approved", "accepted": "Accepted", "disbursed": "Paid out", "repaying": "Repaying",
               "closed": "Repaid", "declined": "Declined", "withdrawn": "Withdrawn", "expired": "Expired",
               "written_off": "Written off"},
        "reasons": "Main reasons", "offer": "Our offer", "rate": "{r}% a year", "expires": "Please accept by {d}",
        "accept": "Accept and pay out", "withdraw": "Withdraw", "back": "Back",
        "bad_number": "Enter a whole number.",
    },
    "notice": {"loan_submitted": "Application submitted.", "loan_accepted": "You accepted the loan.",
               "loan_withdrawn": "Application withdrawn."},
})

_APPLY = "portal/loan_apply.html"

_APP = "portal/loan_application.html"

F = Annotated[str, Form()]


def _html(request: Request, tpl: Any, status_code: int = 200, **ctx: Any) -> Response:
    from starlette.responses import HTMLResponse

    return HTMLResponse(env.get_template(tpl).render(page_context(request, **ctx)), status_code=status_code)


def _yuan(minor: int | None) -> str:
    return "" if minor is None else forms.plain_amount(minor)


def _values_from_prefill(p: dict[str, Any]) -> dict[str, str]:
    v = p["values"]
    return {"idempotency_key": forms.new_key(), "amount": _yuan(v["amount_minor"]),
            "term_months": str(v["term_months"]), "method": v["method"], "purpose": v["purpose"] or "",
            "income": _yuan(v["monthly_income_minor"]), "employment": v["employment"] or "employed",
            "employer": v["employer"] or "", "years_employed": "" if v["years_employed"] is None
            else str(v["years_employed"]), "dependents": str(v["dependents"] or 0),
            "debt": _yuan(v["existing_debt_minor"]), "repay": _yuan(v["existing_monthly_repayment_minor"]),
            "card_balance": _yuan(v["revolving_balance_minor"]), "card_limit": _yuan(v["revolving_limit_minor"]),
            "collateral_value": _yuan(v["collateral_value_minor"]),
            "collateral_description": v["collateral_description"] or "",
            "account_id": str(v["account_id"] or "")}


def _page(request: Request, actor: Any, code: str, values: dict[str, str] | None = None, *,
          error: str | None = None, status_code: int = 200, quote: dict[str, Any] | None = None) -> Response:
    def work(s):
        items = [lending.product_dict(p) for p in lending.list_products(s)]
        chosen = code if any(p["code"] == code for p in items) else (items[0]["code"] if items else "")
        pre = lending.prefill(s, actor, chosen) if chosen else None
        mine = [{"id": a.id, "number": a.number, "amount_minor": a.amount_minor, "status": a.status}
                for a in lending.list_applications(s, actor, limit=20)]
        return items, pre, mine

    items, pre, mine = db.run_in_transaction(work)
    if pre is None:
        return _html(request, _APPLY, products=[], product={"code": ""}, accounts=[], v={}, employment=EMPLOYMENT,
                     mine=mine, quote=None, here="/loans/apply")
    v = values or _values_from_prefill(pre)
    if quote is None and v.get("amount") and v.get("term_months", "").isdigit():
        try:
            amount = forms.amount(v["amount"])
            quote = db.run_in_transaction(lambda s: lending.quote(
                s, product_code=pre["product"]["code"], amount_minor=amount, term_months=int(v["term_months"]),
                method=v.get("method") or "equal_installment", day=clock.today()))
        except SmartbankError:
            quote = None
    return _html(request, _APPLY, status_code=status_code, products=items, product=pre["product"],
                 accounts=pre["accounts"], v=v, employment=EMPLOYMENT, mine=mine, quote=quote, error=error,
                 here="/loans/apply")


@router.get("/loans/apply")
def apply_page(request: Request, actor: Customer, product: str = "") -> Response:
    return _page(request, actor, product[:32].upper())


def _opt_int(text: str, key: str = "loanapp.bad_number") -> int | None:
    t = (text or "").strip()
    if not t:
        return None
    if not t.isdigit() or len(t) > 4:
        raise forms.FormError(key, reason=key)
    return int(t)


@router.post("/loans/apply")
def apply_submit(request: Request, actor: Customer, product: F = "", amount: F = "", term_months: F = "",
                 method: F = "", purpose: F = "", income: F = "", employment: F = "", employer: F = "",
                 years_employed: F = "", dependents: F = "", debt: F = "", repay: F = "", card_balance: F = "",
                 card_limit: F = "", collateral_value: F = "", collateral_description: F = "", account_id: F = "",
                 idempotency_key: F = "", action: F = "submit") -> Response:
    values = {"idempotency_key": forms.key_or_new(idempotency_key), "amount": amount, "term_months": term_months,
              "method": method, "purpose": purpose, "income": income, "employment": employment, "employer": employer,
              "years_employed": years_employed, "dependents": dependents, "debt": debt, "repay": repay,
              "card_balance": card_balance, "card_limit": card_limit, "collateral_value": collateral_value,
              "collateral_description": collateral_description, "account_id": account_id}
    code = product[:32].upper()
    if action == "estimate":
        return _page(request, actor, code, values)

    def work(s):
        p = lending.get_product(s, code)
        secured = lending.collateral_kind(p)
        cmd = lending.ApplicationIn(
            product=code, account_id=forms.int_id(account_id), amount_minor=forms.amount(amount),
            term_months=_opt_int(term_months) or 0, method=method, purpose=forms.short_text(purpose, 200),
            monthly_income_minor=forms.optional_amount(income) or 0, employment=employment,
            employer=forms.short_text(employer, 200) or None, years_employed=_opt_int(years_employed),
            dependents=_opt_int(dependents) or 0, existing_debt_minor=forms.optional_amount(debt) or 0,
            existing_monthly_repayment_minor=forms.optional_amount(repay) or 0,
            revolving_balance_minor=forms.optional_amount(card_balance),
            revolving_limit_minor=forms.optional_amount(card_limit),
            collateral_kind=secured, collateral_value_minor=forms.optional_amount(collateral_value) if secured
            else None, collateral_description=forms.short_text(collateral_description, 300) or None if secured
            else None)
        app, _created = lending.submit(s, actor, cmd, idempotency_key=values["idempotency_key"], channel="web")
        return app.id

    try:
        app_id = db.run_in_transaction(work)
    except SmartbankError as exc:
        return _page(request, actor, code, values, error=forms.message(exc, lang_of(request)), status_code=422)
    return RedirectResponse(f"/loans/applications/{app_id}?notice=loan_submitted", status_code=303)


@router.get("/loans/applications/{application_id}")
def application_page(request: Request, application_id: int, actor: Customer) -> Response:
    a = db.run_in_transaction(lambda s: lending.application_view(
        s, lending.get_application(s, actor, application_id)))
    return _html(request, _APP, a=a, here="/loans/apply")


@router.post("/loans/applications/{application_id}/accept")
def accept(request: Request, application_id: int, actor: Customer) -> Response:
    db.run_in_transaction(lambda s: lending.accept(s, actor, application_id))
    return RedirectResponse(f"/loans/applications/{application_id}?notice=loan_accepted", status_code=303)


@router.post("/loans/applications/{application_id}/withdraw")
def withdraw(request: Request, application_id: int, actor: Customer) -> Response:
    db.run_in_transaction(lambda s: lending.withdraw(s, actor, application_id))
    return RedirectResponse(f"/loans/applications/{application_id}?notice=loan_withdrawn", status_code=303)
