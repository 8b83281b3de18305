# ruff: noqa: E501 - the page templates are kept inline, one HTML element a line
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
from smartbank.lending import products, review
from smartbank.security.service import Principal
from smartbank.web.auth import Staff
from smartbank.web.console import require_page
from smartbank.web.forms import FormError, message
from smartbank.web.i18n import lang_of, register_messages
from smartbank.web.nav import register_console_page
from smartbank.web.render import env, page_context
from smartbank.web.risk_cases import age_text
from smartbank.web.routing import web_router

router = web_router()
PAGE = "/console/lending/reviews"
PRODUCTS = "/console/lending/products"
register_console_page(PAGE, "nav.console.lending_reviews", roles=review.OFFICER_ROLES, order=60)
register_console_page(PRODUCTS, "nav.console.lending_products", roles=review.OFFICER_ROLES, order=61)

register_messages("zh", {
    "nav": {"console": {"lending_reviews": "贷款审批", "lending_products": "贷款产品"}},
    "lreview": {
        "queue": "贷款人工审核队列", "none": "没有待审核的申请。", "no": "编号", "customer": "客户", "product": "产品",
        "amount": "金额", "grade": "等级", "pd": "违约概率", "reasons": "原因", "assignee": "处理人", "age": "时长",
        "open": "查看", "two": "需双人审批", "maker": "已由 {n} 提出批准，等待复核", "case": "贷款申请 {n}",
        "application": "申请信息", "customer_ctx": "客户情况", "accounts": "账户", "loans": "现有贷款",
        "scores": "评分", "champion": "主模型", "challenger": "挑战者模型", "policy": "政策规则命中",
        "decisions": "决定记录", "events": "处理记录", "claim": "认领", "note": "备注", "add_note": "添加备注",
        "decide": "审批", "approve": "批准", "decline": "拒绝", "return": "退回（复核人）", "reason_code": "拒绝原因",
        "rate_bps": "年利率（基点）", "amount_yuan": "批准金额（元）", "rate_bounds": "利率范围 {lo}–{hi} 基点",
        "closed": "此申请已不在人工审核中。", "bad_int": "请输入整数。", "products": "贷款产品",
    },
    "notice": {"lreview_done": "已保存。"},
})
register_messages("en", {
    "nav": {"console": {"lending_reviews": "Loan reviews", "lending_products": "Loan products"}},
    "lreview": {
        "queue": "Loan review queue", "none": "Nothing waiting for review.", "no": "No.", "customer": "Customer",
        "product": "Product", "amount": "Amount", "grade": "Grade", "pd": "PD", "reasons": "Reasons",
        "assignee": "Assigned to", "age": "Age", "open": "Open", "two": "Needs two officers",
        "maker": "Approval proposed by {n}; waiting for a checker", "case": "Loan application {n}",
        "application": "Application", "customer_ctx": "Customer", "accounts": "Accounts", "loans": "Existing loans",
        "scores": "Scores", "champion": "Champion", "challenger": "Challenger", "policy": "Policy hits",
        "decisions": "Decisions", "events": "History", "claim": "Claim", "note": "Note", "add_note": "Add note",
        "decide": "Decide", "approve": "Approve", "decline": "Decline", "return": "Send back (checker)",
        "reason_code": "Decline reason", "rate_bps": "Rate (bps a year)", "amount_yuan": "Approved amount (yuan)",
        "rate_bounds": "Rate bounds {lo}–{hi} bps", "closed": "This application is no longer in review.",
        "bad_int": "Enter a whole number.", "products": "Loan products",
    },
    "notice": {"lreview_done": "Saved."},
})

_QUEUE = env.from_string("""{% extends "base.html" %}
{% block title %}{{ t('lreview.queue') }}{% endblock %}
{% block content %}
<h1>{{ t('lreview.queue') }}</h1>
{% if not items %}<p class="card">{{ t('lreview.none') }}</p>{% else %}
<table class="data" id="review-queue"><thead><tr><th>{{ t('lreview.no') }}</th><th>{{ t('lreview.customer') }}</th><th>{{ t('lreview.product') }}</th><th>{{ t('lreview.amount') }}</th><th>{{ t('lreview.grade') }}</th><th>{{ t('lreview.pd') }}</th><th>{{ t('lreview.reasons') }}</th><th>{{ t('lreview.assignee') }}</th><th>{{ t('lreview.age') }}</th><th></th></tr></thead>
<tbody>{% for i in items %}<tr><td>{{ i.number }}</td><td>{{ i.customer_name }}</td><td>{{ i.product_name_zh if lang == 'zh' else i.product_name_en }}</td><td>{{ i.amount_minor|money }}{% if i.needs_two %} <small>{{ t('lreview.two') }}</small>{% endif %}</td>
<td>{{ i.grade or '-' }}</td><td>{{ '%.3f'|format(i.pd) if i.pd is not none else '-' }}</td><td>{% for r in i.reasons %}{{ r.code }} {% endfor %}</td><td>{{ i.assigned_name or '' }}{% if i.maker_name %} <small>{{ t('lreview.maker', n=i.maker_name) }}</small>{% endif %}</td><td>{{ i.age }}</td><td><a href="{{ page }}/{{ i.id }}">{{ t('lreview.open') }}</a></td></tr>{% endfor %}</tbody></table>
{% endif %}
{% endblock %}""")

_CASE = env.from_string("""{% extends "base.html" %}
{% block title %}{{ t('lreview.case', n=a.number) }}{% endblock %}
{% block content %}
<h1>{{ t('lreview.case', n=a.number) }}</h1>
<p id="case-status">{{ a.status }}{% if case.needs_two %} · {{ t('lreview.two') }}{% endif %}{% if case.maker_name %} · <strong>{{ t('lreview.maker', n=case.maker_name) }}</strong>{% endif %}</p>
<section class="card"><h2>{{ t('lreview.application') }}</h2>
<p>{{ case.product.name_zh if lang == 'zh' else case.product.name_en }} · {{ a.amount_minor|money }} · {{ a.term_months }} · {{ a.method }} · {{ a.purpose }}</p>
<ul class="plain">{% for k, v in a.details.items() %}<li>{{ k }}: {{ v if v is not none else '-' }}</li>{% endfor %}</ul></section>
<section class="card"><h2>{{ t('lreview.customer_ctx') }}</h2><p>{{ c.name }} ({{ c.number }}) · {{ c.birth_date or '' }} · {{ c.occupation or '' }}</p>
<h3>{{ t('lreview.accounts') }}</h3><ul class="plain">{% for x in c.accounts %}<li>{{ x.number|account_number }} {{ x.kind }} {{ x.status }} {{ x.balance_minor|money }}</li>{% endfor %}</ul>
<h3>{{ t('lreview.loans') }}</h3><ul class="plain">{% for x in c.loans %}<li>{{ x.number }} {{ x.outstanding_minor|money }} {{ x.status }} DPD {{ x.days_past_due }}</li>{% else %}<li>-</li>{% endfor %}</ul></section>
{% if case.auto %}<section class="card"><h2>{{ t('lreview.scores') }}</h2>
<p>{{ t('lreview.champion') }}: {{ case.auto.model_version }} · PD {{ case.auto.pd if case.auto.pd is not none else '-' }} · {{ case.auto.points or '' }} · {{ t('lreview.grade') }} {{ case.auto.grade or '-' }}</p>
<p>{{ t('lreview.challenger') }}: {{ case.auto.challenger_version or '-' }} · PD {{ case.auto.challenger_pd if case.auto.challenger_pd is not none else '-' }}</p>
<h3>{{ t('lreview.policy') }}</h3><ul>{% for h in case.auto.policy_hits %}<li>{{ h.code }} ({{ h.action }}): {{ h.zh if lang == 'zh' else h.en }}</li>{% else %}<li>-</li>{% endfor %}</ul>
<h3>{{ t('lreview.reasons') }}</h3><ul>{% for r in case.auto.reasons %}<li>{{ r.code }}: {{ r.zh if lang == 'zh' else r.en }}</li>{% endfor %}</ul></section>{% endif %}
<section class="card"><h2>{{ t('lreview.decisions') }}</h2><ul>{% for d in case.decisions %}<li>{{ d.decided_at|show_date }} {{ d.stage }} {{ d.outcome }} {{ d.amount_minor|money if d.amount_minor else '' }} {{ d.rate_bps or '' }} {{ d.decided_by_name or '' }} {{ d.note or '' }}</li>{% endfor %}</ul>
<h2>{{ t('lreview.events') }}</h2><ul>{% for e in a.events %}<li>{{ e.at|show_date }} {{ e.from or '' }} → {{ e.to }} {{ e.actor_name or '' }} {{ e.note or '' }}</li>{% endfor %}</ul></section>
{% if case.open %}
<form method="post" action="{{ page }}/{{ a.id }}/claim" class="inline">{{ csrf_input }}<button type="submit" id="case-claim">{{ t('lreview.claim') }}</button></form>
<form method="post" action="{{ page }}/{{ a.id }}/note" class="card stack">{{ csrf_input }}<label>{{ t('lreview.note') }}<textarea name="note" maxlength="2000">{{ form.note }}</textarea></label><button type="submit">{{ t('lreview.add_note') }}</button></form>
<form method="post" action="{{ page }}/{{ a.id }}/decision" class="card stack" id="case-decide">{{ csrf_input }}
<input type="hidden" name="version" value="{{ a.version }}">
<fieldset><legend>{{ t('lreview.decide') }}</legend>
<label><input type="radio" name="outcome" value="approve"> {{ t('lreview.approve') }}</label>
<label><input type="radio" name="outcome" value="decline"> {{ t('lreview.decline') }}</label>
{% if case.maker_name %}<label><input type="radio" name="outcome" value="return"> {{ t('lreview.return') }}</label>{% endif %}</fieldset>
{% if not case.maker_name %}<label>{{ t('lreview.amount_yuan') }}<input name="amount" value="{{ form.amount }}" inputmode="decimal" maxlength="24"></label>
<label>{{ t('lreview.rate_bps') }} <small>{{ t('lreview.rate_bounds', lo=case.rate_bounds.min_bps, hi=case.rate_bounds.max_bps) }}</small><input name="rate_bps" value="{{ form.rate_bps }}" inputmode="numeric" maxlength="5"></label>{% endif %}
<label>{{ t('lreview.reason_code') }}<select name="reason_code"><option value=""></option>{% for r in case.decline_reasons %}<option value="{{ r.code }}">{{ r.code }} – {{ r.zh if lang == 'zh' else r.en }}</option>{% endfor %}</select></label>
<label>{{ t('lreview.note') }}<textarea name="note" maxlength="2000"></textarea></label>
<button type="submit" class="primary" id="case-submit">{{ t('lreview.decide') }}</button></form>
{% else %}<p class="card">{{ t('lreview.closed') }}</p>{% endif %}
{% endblock %}""")

_PRODUCTS = env.from_string("""{% extends "base.html" %}
{% block title %}{{ t('lreview.products') }}{% endblock %}
{% block content %}
<h1>{{ t('lreview.products') }}</h1>
<table class="data" id="products"><tbody>{% for p in items %}<tr><td>{{ p.code }}</td><td>{{ p.name_zh if lang == 'zh' else p.name_en }}</td><td>{{ p.min_amount_minor|money }} – {{ p.max_amount_minor|money }}</td><td>{{ p.min_term_months }}–{{ p.max_term_months }}</td><td>{{ p.reference_rate }} + {{ p.spreads_bps }}</td><td>{{ p.status }}</td></tr>{% endfor %}</tbody></table>
{% endblock %}""")


def _html(request: Request, tpl: Any, status_code: int = 200, **ctx: Any) -> Response:
    return HTMLResponse(tpl.render(page_context(request, **ctx)), status_code=status_code)


@router.get(PAGE)
def queue_page(request: Request, actor: Staff) -> Response:
    require_page(actor, PAGE)
    items = db.run_in_transaction(lambda s: review.queue(s, actor))
    lang = lang_of(request)
    for i in items:
        i["age"] = age_text(i["age_seconds"], lang)
    return _html(request, _QUEUE, items=items, page=PAGE)


def _case(request: Request, actor: Principal, app_id: int, *, error: str | None = None, status_code: int = 200,
          form: dict[str, str] | None = None) -> Response:
    require_page(actor, PAGE)
    case = db.run_in_transaction(lambda s: review.get_case(s, actor, app_id))
    return _html(request, _CASE, status_code=status_code, case=case, a=case["application"], c=case["customer"],
                 page=PAGE, error=error, form=form or {"note": "", "amount": "", "rate_bps": ""}, here=PAGE)


@router.get(PAGE + "/{app_id}")
def case_page(request: Request, app_id: int, actor: Staff) -> Response:
    return _case(request, actor, app_id)


Text = Annotated[str, Form()]


def _act(request: Request, actor: Principal, app_id: int, fn: Any, form: dict[str, str]) -> Response:
    require_page(actor, PAGE)
    try:
        db.run_in_transaction(fn)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        code = exc.status_code if exc.status_code in (409, 422) else 422
        return _case(request, actor, app_id, error=message(exc, lang_of(request)), status_code=code, form=form)
    return RedirectResponse(f"{PAGE}/{app_id}?notice=lreview_done", status_code=303)


@router.post(PAGE + "/{app_id}/claim")
def claim(request: Request, app_id: int, actor: Staff) -> Response:
    return _act(request, actor, app_id, lambda s: review.claim(s, actor, app_id), {})


@router.post(PAGE + "/{app_id}/note")
def note(request: Request, app_id: int, actor: Staff, note: Text = "") -> Response:
    return _act(request, actor, app_id, lambda s: review.add_note(s, actor, app_id, note), {"note": note})


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
    form = {"note": note, "amount": amount, "rate_bps": rate_bps}

    def work(s: Any) -> Any:
        from smartbank.web.forms import optional_amount

        return review.decide(s, actor, app_id, outcome=outcome, amount_minor=optional_amount(amount),
                             rate_bps=_int(rate_bps), reason_code=reason_code or None, note=note,
                             version=_int(version))

    return _act(request, actor, app_id, work, form)


@router.get(PRODUCTS)
def products_page(request: Request, actor: Staff) -> Response:
    require_page(actor, PRODUCTS)
    items = db.run_in_transaction(lambda s: [products.product_dict(p) for p in products.list_products(
        s, include_retired=True)])
    return _html(request, _PRODUCTS, items=items)
