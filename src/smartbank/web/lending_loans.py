"""Loan pages: the customer's "My loans" (schedule, next payment, repay and pay-off forms) and the
console's loan book (summary by classification and bucket, the loans, one loan's detail).

Every page calls :mod:`smartbank.lending.servicing`, which checks who may see or pay what; every form is
CSRF-protected and one transaction (a refused repayment writes nothing and shows the loan again).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.lending import service as lending
from smartbank.security.service import Principal
from smartbank.web import forms
from smartbank.web.auth import Customer, Staff
from smartbank.web.console import require_page
from smartbank.web.i18n import lang_of, register_messages
from smartbank.web.nav import register_console_page, register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

BOOK = "/console/lending/book"
register_portal_page("/loans", "nav.portal.loans", order=45)
register_console_page(BOOK, "nav.console.loan_book", roles=lending.BOOK_READERS, order=62)

register_messages("zh", {
    "nav": {"portal": {"loans": "我的贷款"}, "console": {"loan_book": "贷款台账"}},
    "riskdash": {"source": {"lending": "信贷预警"}},
    "myloans": {
        "title": "我的贷款", "none": "您目前没有贷款。", "number": "贷款编号", "principal": "贷款金额",
        "outstanding": "剩余本金", "rate": "年利率", "term": "期限", "months": "{n} 个月", "next": "下次还款",
        "due_now": "当前应还", "overdue_days": "已逾期 {n} 天", "open": "查看",
        "method": {"equal_installment": "等额本息", "equal_principal": "等额本金"},
        "status": {"active": "还款中", "closed": "已结清", "written_off": "已核销"},
        "schedule": "还款计划", "seq": "期数", "due_date": "还款日", "principal_part": "本金", "interest_part": "利息",
        "penalty_part": "罚息", "payment": "应还", "left": "未还", "state": "状态",
        "inst": {"paid": "已还", "due": "未到期", "due_today": "今日到期", "overdue": "逾期", "superseded": "已调整",
                 "written_off": "已核销"},
        "repayments": "还款记录", "when": "日期", "amount": "金额",
        "kind": {"scheduled": "主动还款", "auto_debit": "自动扣款", "early_partial": "提前部分还款",
                 "early_full": "提前结清", "recovery": "核销后还款",
                 "collected": "核销后催收回款"},
        "repay": "偿还当前应还", "repay_owed": "偿还尚欠款项", "still_owed": "尚欠款项",
        "repay_hint": "从尾号 {n} 的账户扣款。",
        "repay_amount": "还款金额（留空则全部还清当前应还）",
        "repay_btn": "立即还款", "early": "提前还款", "early_amount": "提前还款金额",
        "recalc": {"reduce_payment": "期限不变，减少月供", "shorten_term": "月供不变，缩短期限"},
        "early_btn": "提前部分还款", "payoff": "一次结清",
        "payoff_hint": "今日结清共需 {amount} 元（含按日计算的利息 {interest} 元）。",
        "payoff_btn": "全部结清", "class": "五级分类", "bucket": "逾期状态", "paid_principal": "已还本金",
        "back": "返回我的贷款",
    },
    "book": {
        "title": "贷款台账", "summary": "资产质量", "by_class": "按五级分类", "by_bucket": "按逾期状态",
        "loans": "笔数", "outstanding": "剩余本金", "provision": "拨备", "rate": "拨备比例", "share": "占比",
        "delinquency": "逾期率（逾期1天以上本金占比）", "allowance": "贷款损失准备余额", "filter": "筛选",
        "all": "全部", "customer": "客户", "dpd": "逾期天数", "none": "没有符合条件的贷款。", "open": "查看",
        "loan_title": "贷款 {n}", "back": "返回台账",
        "writeoff": "核销贷款",
        "writeoff_hint": "该贷款已列为损失类：核销时先将拨备补足至剩余本金的100%，"
                         "再以贷款损失准备冲销剩余本金 {amount}。未收利息和罚息不确认为收入。",
        "writeoff_reason": "核销原因（必填，最多200字）", "writeoff_btn": "确认核销",
        "written_off": "该贷款已核销。",
        "written_off_total": "已核销 {n} 笔，本金 {amount}，核销后收回 {recovered}", "recovery_rate": "本金收回率",
        "collection": "登记核销后收回款项", "collection_hint": "客户尚欠 {amount}。登记经清算账户收到的催收或诉讼回款，"
        "按先罚息、再利息、后本金的顺序冲抵。", "collection_amount": "收回金额（元）",
        "collection_reference": "来款参考号（必填）", "collection_btn": "登记收回",
    },
    "notice": {"loan_repaid": "还款成功。", "loan_written_off": "贷款已核销。", "loan_collected": "收回款项已登记。"},
})
register_messages("en", {
    "nav": {"portal": {"loans": "My loans"}, "console": {"loan_book": "Loan book"}},
    "riskdash": {"source": {"lending": "Lending"}},
    "myloans": {
        "title": "My loans", "none": "You have no loans.", "number": "Loan number", "principal": "Amount borrowed",
        "outstanding": "Principal left", "rate": "Annual rate", "term": "Term", "months": "{n} months",
        "next": "Next payment", "due_now": "Due now", "overdue_days": "{n} days overdue", "open": "Open",
        "method": {"equal_installment": "Equal instalments", "equal_principal": "Equal principal"},
        "status": {"active": "Repaying", "closed": "Repaid", "written_off": "Written off"},
        "schedule": "Repayment schedule", "seq": "No.", "due_date": "Due", "principal_part": "Principal",
        "interest_part": "Interest", "penalty_part": "Penalty", "payment": "Payment", "left": "Unpaid",
        "state": "Status",
        "inst": {"paid": "Paid", "due": "Upcoming", "due_today": "Due today", "overdue": "Overdue",
                 "superseded": "Replaced", "written_off": "Written off"},
        "repayments": "Repayments", "when": "Date", "amount": "Amount",
        "kind": {"scheduled": "Repayment", "auto_debit": "Automatic debit", "early_partial": "Early repayment",
                 "early_full": "Paid off early", "recovery": "Paid after write-off",
                 "collected": "Recovered by collections"},
        "repay": "Pay what is due", "repay_owed": "Pay what is still owed", "still_owed": "Still owed",
        "repay_hint": "From your account ending {n}.",
        "repay_amount": "Amount (leave empty to pay everything due)", "repay_btn": "Pay now",
        "early": "Pay ahead", "early_amount": "Amount to pay ahead",
        "recalc": {"reduce_payment": "Same term, lower payment", "shorten_term": "Same payment, shorter term"},
        "early_btn": "Pay ahead", "payoff": "Pay off", "payoff_hint":
            "Paying off today costs {amount} (with {interest} interest for the days since the last due date).",
        "payoff_btn": "Pay off the loan", "class": "Classification", "bucket": "Delinquency",
        "paid_principal": "Principal repaid", "back": "Back to my loans",
    },
    "book": {
        "title": "Loan book", "summary": "Portfolio quality", "by_class": "By classification",
        "by_bucket": "By delinquency bucket", "loans": "Loans", "outstanding": "Outstanding",
        "provision": "Provision", "rate": "Provision rate", "share": "Share",
        "delinquency": "Delinquency rate (principal 1+ days past due)", "allowance": "Loan loss allowance",
        "filter": "Filter", "all": "All", "customer": "Customer", "dpd": "Days past due",
        "none": "No loans match.", "open": "Open", "loan_title": "Loan {n}", "back": "Back to the book",
        "writeoff": "Write off the loan", "writeoff_hint": "This loan is classified loss: the provision is first "
            "brought to 100 % of the principal left, then the loan loss allowance is used up against the {amount} "
            "principal left. Unpaid interest and penalty are not booked as income.",
        "writeoff_reason": "Reason (required, up to 200 characters)", "writeoff_btn": "Write off",
        "written_off": "This loan has been written off.",
        "written_off_total": "Written off: {n} loans, {amount} of principal; recovered since: {recovered}",
        "recovery_rate": "Principal recovered",
        "collection": "Record money recovered", "collection_hint": "The customer still owes {amount}. Record a "
        "payment received through settlement (a collection agency's, a court's); it is applied to penalty, then "
        "interest, then principal.", "collection_amount": "Amount received (yuan)",
        "collection_reference": "Payment reference (required)", "collection_btn": "Record",
    },
    "notice": {"loan_repaid": "Repayment made.", "loan_written_off": "The loan has been written off.",
               "loan_collected": "The money recovered has been recorded."},
})

F = Annotated[str, Form()]


@router.get("/loans")
def my_loans(request: Request, actor: Customer) -> Response:
    loans = db.run_in_transaction(lambda s: lending.list_loans(s, actor))
    return render(request, "portal/loans.html", loans=loans)


def _loan_page(request: Request, actor: Principal, loan_id: int, *, error: str | None = None,
               status_code: int = 200, values: dict[str, str] | None = None) -> Response:
    lang = lang_of(request)
    loan = db.run_in_transaction(lambda s: lending.loan_view(s, actor, loan_id, lang=lang))
    v = {"amount": "", "early_amount": "", "recalc": "reduce_payment", "idempotency_key": forms.new_key()}
    v.update(values or {})
    return render(request, "portal/loan.html", status_code=status_code, loan=loan, error=error, values=v,
                  here="/loans")


@router.get("/loans/{loan_id}")
def my_loan(request: Request, loan_id: int, actor: Customer) -> Response:
    return _loan_page(request, actor, loan_id)


def _pay(request: Request, actor: Principal, loan_id: int, fn: Any, values: dict[str, str]) -> Response:
    try:
        db.run_in_transaction(fn)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        return _loan_page(request, actor, loan_id, error=forms.message(exc, lang_of(request)), status_code=422,
                          values=values)
    return RedirectResponse(f"/loans/{loan_id}?notice=loan_repaid", status_code=303)


@router.post("/loans/{loan_id}/repay")
def repay(request: Request, loan_id: int, actor: Customer, amount: F = "", idempotency_key: F = "") -> Response:
    key = forms.key_or_new(idempotency_key)
    values = {"amount": amount, "idempotency_key": key}
    return _pay(request, actor, loan_id, lambda s: lending.repay(
        s, actor, loan_id, amount_minor=forms.optional_amount(amount), key=key), values)


@router.post("/loans/{loan_id}/early")
def repay_early(request: Request, loan_id: int, actor: Customer, early_amount: F = "", recalc: F = "reduce_payment",
                payoff: F = "", idempotency_key: F = "") -> Response:
    key = forms.key_or_new(idempotency_key)
    values = {"early_amount": early_amount, "recalc": recalc, "idempotency_key": key}

    def work(s: Any) -> Any:
        amount = None if payoff else forms.amount(early_amount)
        return lending.repay_early(s, actor, loan_id, amount_minor=amount, recalc=recalc, key=key)

    return _pay(request, actor, loan_id, work, values)


@router.get(BOOK)
def loan_book(request: Request, actor: Staff, bucket: str = "", classification: str = "") -> Response:
    require_page(actor, BOOK)
    b = bucket if bucket in [x[0] for x in lending.BUCKET_TABLE] else None
    c = classification if classification in [x[0] for x in lending.CLASSIFICATION_TABLE] else None

    def work(s: Any) -> Any:
        return (lending.portfolio_summary(s, actor),
                lending.loan_book(s, actor, bucket=b, classification=c, limit=500))

    summary, loans = db.run_in_transaction(work)
    lang = lang_of(request)
    names = [x[0] for x in lending.BUCKET_TABLE] + [x[0] for x in lending.CLASSIFICATION_TABLE]
    labels = {n: lending.classification_label(n, lang) for n in names}
    return render(request, "console/lending/book.html", summary=summary, loans=loans, bucket=b or "",
                  classification=c or "", labels=labels, buckets=[x[0] for x in lending.BUCKET_TABLE],
                  classes=[x[0] for x in lending.CLASSIFICATION_TABLE])


def _book_loan_page(request: Request, actor: Principal, loan_id: int, *, error: str | None = None,
                    status_code: int = 200, reason: str = "", collection: dict[str, str] | None = None
                    ) -> Response:
    require_page(actor, BOOK)
    lang = lang_of(request)
    loan = db.run_in_transaction(lambda s: lending.loan_view(s, actor, loan_id, lang=lang))
    writer = actor.role in (*lending.WRITERS, "admin")
    can_write_off = writer and loan["status"] == "active" and loan["classification"] == "loss"
    can_collect = writer and loan["status"] == "written_off" and bool(loan["still_owed_minor"])
    collection = collection or {"amount": "", "reference": "", "idempotency_key": forms.key_or_new(None)}
    return render(request, "console/lending/book_loan.html", status_code=status_code, loan=loan, error=error,
                  reason=reason, can_write_off=can_write_off, can_collect=can_collect, collection=collection,
                  here=BOOK)


@router.get(BOOK + "/{loan_id}")
def book_loan(request: Request, loan_id: int, actor: Staff) -> Response:
    return _book_loan_page(request, actor, loan_id)


def _staff_action(request: Request, actor: Principal, loan_id: int, work: Any, notice: str,
                  **form: Any) -> Response:
    """Run a staff action on a loan in one transaction: back to the loan with a notice, or the loan page again
    with the refusal and what was typed (403 and 404 go to the error page)."""
    require_page(actor, BOOK)
    try:
        db.run_in_transaction(work)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        code = exc.status_code if exc.status_code in (409, 422) else 422
        return _book_loan_page(request, actor, loan_id, error=forms.message(exc, lang_of(request)), status_code=code,
                               **form)
    return RedirectResponse(f"{BOOK}/{loan_id}?notice={notice}", status_code=303)


@router.post(BOOK + "/{loan_id}/write-off")
def write_off(request: Request, loan_id: int, actor: Staff, reason: F = "") -> Response:
    """Risk officers and administrators write off a loan classified loss (audited, one transaction)."""
    return _staff_action(request, actor, loan_id, lambda s: lending.write_off(s, actor, loan_id, reason=reason),
                         "loan_written_off", reason=reason)


@router.post(BOOK + "/{loan_id}/collections")
def record_collection(request: Request, loan_id: int, actor: Staff, amount: F = "", reference: F = "",
                      idempotency_key: F = "") -> Response:
    """Risk officers and administrators record money received for a written-off loan (audited)."""
    values = {"amount": amount, "reference": reference, "idempotency_key": forms.key_or_new(idempotency_key)}
    return _staff_action(request, actor, loan_id, lambda s: lending.record_collection(
        s, actor, loan_id, amount_minor=forms.amount(amount), reference=reference, key=values["idempotency_key"]),
        "loan_collected", collection=values)
