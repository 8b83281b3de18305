"""Console page for reversals under maker-checker (risk officers and administrators).

A reversal is asked for by one officer (a fraud case resolved with "reverse", or the back-office API) and
approved (it posts) or rejected here by a different one. The page also lists the negative-balance exceptions
that approved overdrawing reversals left, for collections. Every action is a CSRF-protected form whose
request is one transaction (a refused action writes nothing and shows the page again with the reason).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.backoffice import service as backoffice
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import message
from smartbank.web.i18n import lang_of, register_messages
from smartbank.web.nav import register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/reversals"
register_console_page(PAGE, "nav.console.reversals", roles=security.roles_for("transfer.reverse"), order=52)

TABS = ("requested", "executed", "rejected", "overdrawn")

register_messages("zh", {
    "nav": {"console": {"reversals": "冲正复核"}},
    "reversal": {
        "title": "冲正复核", "tab": {"requested": "待复核", "executed": "已冲正", "rejected": "已驳回",
                                    "overdrawn": "透支待追收"},
        "none": "没有记录。", "id": "编号", "transfer": "原交易", "amount": "金额", "from": "退回自账户",
        "to": "退回至账户", "reason": "原因", "maker": "申请人", "checker": "复核人", "status": "状态",
        "st": {"requested": "待复核", "executed": "已冲正", "rejected": "已驳回"},
        "overdraw": "允许透支", "shortfall": "透支金额", "shortfall_now": "现在批准将透支",
        "alert": "风险预警", "note": "复核意见", "approve": "批准并冲正", "reject": "驳回",
        "hint": "冲正须由申请人以外的另一位人员复核；批准后立即入账，只执行一次。",
        "own": "您提交的申请，须由他人复核。", "when": "时间",
    },
    "notice": {"reversal_approved": "已批准，冲正已入账。", "reversal_rejected": "已驳回冲正申请。"},
    "error_code": {"same_officer": "申请人不能复核自己的申请，须由另一位人员复核。"},
    "error_message": {
        "a note saying why is required": "请填写驳回理由。",
        "transfer already reversed": "该交易已冲正。",
        "a reversal of this transfer is already waiting for approval": "该交易已有待复核的冲正申请。",
        "this reversal request is already executed": "该申请已冲正。",
        "this reversal request is already rejected": "该申请已驳回。",
        "reversal request not found": "找不到该冲正申请。",
    },
})
register_messages("en", {
    "nav": {"console": {"reversals": "Reversal approvals"}},
    "reversal": {
        "title": "Reversal approvals", "tab": {"requested": "To approve", "executed": "Reversed",
                                               "rejected": "Rejected", "overdrawn": "Overdrawn, to collect"},
        "none": "Nothing here.", "id": "No.", "transfer": "Transfer", "amount": "Amount", "from": "Taken back from",
        "to": "Returned to", "reason": "Reason", "maker": "Asked by", "checker": "Decided by", "status": "Status",
        "st": {"requested": "Waiting", "executed": "Reversed", "rejected": "Rejected"},
        "overdraw": "May overdraw", "shortfall": "Overdrawn by", "shortfall_now": "Approving now overdraws by",
        "alert": "Risk alert", "note": "Note", "approve": "Approve and reverse", "reject": "Reject",
        "hint": "A reversal is approved by someone other than the person who asked; approved, it posts at once,"
                " once.",
        "own": "You asked for this one: someone else approves it.", "when": "When",
    },
    "notice": {"reversal_approved": "Approved: the reversal is posted.",
               "reversal_rejected": "The reversal request is rejected."},
    "error_code": {"same_officer": "The person who asked cannot approve: a second person must."},
    "error_message": {
        "a note saying why is required": "Say why it is rejected.",
        "transfer already reversed": "This transfer is already reversed.",
        "a reversal of this transfer is already waiting for approval":
            "A reversal of this transfer is already waiting for approval.",
        "this reversal request is already executed": "This request is already reversed.",
        "this reversal request is already rejected": "This request is already rejected.",
        "reversal request not found": "No such reversal request.",
    },
})


def _page(request: Request, actor: Principal, tab: str, *, error: str | None = None,
          status_code: int = 200) -> Response:
    require_page(actor, PAGE)
    tab = tab if tab in TABS else "requested"

    def work(s: Any) -> Any:
        if tab == "overdrawn":
            items = backoffice.list_reversals(s, actor, overdrawn=True, limit=200)
        else:
            items = backoffice.list_reversals(s, actor, status=tab, limit=200)
        names = security.display_names(s, {u for i in items for u in (i["requested_by"], i["decided_by"]) if u})
        return items, names

    items, names = db.run_in_transaction(work)
    for i in items:
        i["maker_name"] = names.get(i["requested_by"]) if i["requested_by"] else None
        i["checker_name"] = names.get(i["decided_by"]) if i["decided_by"] else None
    return render(request, "console/reversals.html", status_code=status_code, items=items, tab=tab, tabs=TABS,
                  me=actor.user_id, error=error)


@router.get(PAGE)
def reversal_queue(request: Request, actor: Staff, tab: str = "requested") -> Response:
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
        return _page(request, actor, "requested", error=message(exc, lang_of(request)), status_code=code)
    return RedirectResponse(f"{PAGE}?notice={notice}", status_code=303)


@router.post(PAGE + "/{request_id}/approve")
def approve(request: Request, request_id: int, actor: Staff, note: Text = "") -> Response:
    return _act(request, actor, lambda s: backoffice.approve_reversal(s, actor, request_id, note=note),
                "reversal_approved")


@router.post(PAGE + "/{request_id}/reject")
def reject(request: Request, request_id: int, actor: Staff, note: Text = "") -> Response:
    return _act(request, actor, lambda s: backoffice.reject_reversal(s, actor, request_id, note=note),
                "reversal_rejected")
