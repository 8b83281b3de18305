"""Console pages for loan officers: the manual-review queue, a case with its decision form (maker-checker
state shown), and the product list.

Every page calls :mod:`smartbank.lending.review` / :mod:`smartbank.lending.products`, which check the role;
every action is a CSRF-protected form whose request is one transaction (a refused action writes nothing and
shows the case again with the reason).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from smartbank import db
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.lending import service as lending
from smartbank.security.service import Principal
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import FormError, message, optional_amount
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_console_page
from smartbank.web.render import env, page_context
from smartbank.web.risk_cases import age_text
from smartbank.web.routing import web_router

router = web_router()
PAGE = "/console/lending/reviews"
PRODUCTS = "/console/lending/products"
register_console_page(PAGE, "nav.console.lending_reviews", roles=lending.OFFICER_ROLES, order=60)
register_console_page(PRODUCTS, "nav.console.lending_products", roles=lending.OFFICER_ROLES, order=61)


_QUEUE = "console/lending/reviews.html"

_CASE = "console/lending/review_case.html"

_PRODUCTS = "console/lending/products.html"


def _html(request: Request, tpl: Any, status_code: int = 200, **ctx: Any) -> Response:
    return HTMLResponse(env.get_template(tpl).render(page_context(request, **ctx)), status_code=status_code)


@router.get(PAGE)
def queue_page(request: Request, actor: Staff) -> Response:
    require_page(actor, PAGE)
    items = db.run_in_transaction(lambda s: lending.review_queue(s, actor))
    lang = lang_of(request)
    for i in items:
        i["age"] = age_text(i["age_seconds"], lang)
    return _html(request, _QUEUE, items=items, page=PAGE)


_EMPTY = {"note": "", "amount": "", "rate_bps": "", "outcome": "", "reason_code": "", "decision_note": ""}
# the field of the decision form a refusal concerns (shown beside it, once)
_FIELD_OF = {"a note is required": "note", "a decline needs a reason code": "reason_code",
             "lending.approved_amount_range": "amount", "lending.rate_bounds": "rate_bps"}


def _case(request: Request, actor: Principal, app_id: int, *, error: str | None = None, status_code: int = 200,
          form: dict[str, str] | None = None, error_field: str | None = None) -> Response:
    require_page(actor, PAGE)
    case = db.run_in_transaction(lambda s: lending.get_review_case(s, actor, app_id))
    return _html(request, _CASE, status_code=status_code, case=case, a=case["application"], c=case["customer"],
                 page=PAGE, error=error, error_field=error_field, form={**_EMPTY, **(form or {})}, here=PAGE)


@router.get(PAGE + "/{app_id}")
def case_page(request: Request, app_id: int, actor: Staff) -> Response:
    return _case(request, actor, app_id)


Text = Annotated[str, Form()]


def _act(request: Request, actor: Principal, app_id: int, fn: Any, form: dict[str, str],
         decision: bool = False) -> Response:
    require_page(actor, PAGE)
    try:
        db.run_in_transaction(fn)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        code = exc.status_code if exc.status_code in (409, 422) else 422
        field = (_FIELD_OF.get(exc.reason) or _FIELD_OF.get(exc.message)) if decision else None
        # the case page shows every form of the case again: the fields this action did not send are empty
        return _case(request, actor, app_id, error=message(exc, lang_of(request)), status_code=code, form=form,
                     error_field=field)
    return RedirectResponse(f"{PAGE}/{app_id}?notice=lreview_done", status_code=303)


@router.post(PAGE + "/{app_id}/claim")
def claim(request: Request, app_id: int, actor: Staff) -> Response:
    return _act(request, actor, app_id, lambda s: lending.claim_review(s, actor, app_id), {})


@router.post(PAGE + "/{app_id}/note")
def note(request: Request, app_id: int, actor: Staff, note: Text = "") -> Response:
    return _act(request, actor, app_id, lambda s: lending.add_review_note(s, actor, app_id, note), {"note": note})


def _int(text: str) -> int | None:
    t = (text or "").strip()
    if not t:
        return None
    if not t.isdigit() or len(t) > 9:
        raise FormError("lreview.bad_int")
    return int(t)


@router.post(PAGE + "/{app_id}/decision")
def decide(request: Request, app_id: int, actor: Staff, outcome: Text = "", amount: Text = "", rate_bps: Text = "",
           reason_code: Text = "", note: Text = "", version: Text = "") -> Response:
    form = {"decision_note": note, "amount": amount, "rate_bps": rate_bps, "outcome": outcome,
            "reason_code": reason_code}

    def work(s: Any) -> Any:
        return lending.decide_review(s, actor, app_id, outcome=outcome, amount_minor=optional_amount(amount),
                             rate_bps=_int(rate_bps), reason_code=reason_code or None, note=note,
                             version=_int(version))

    return _act(request, actor, app_id, work, form, decision=True)


@router.get(PRODUCTS)
def products_page(request: Request, actor: Staff) -> Response:
    require_page(actor, PRODUCTS)
    items = db.run_in_transaction(lambda s: [lending.product_dict(p) for p in lending.list_products(
        s, include_retired=True)])
    return _html(request, _PRODUCTS, items=items)
