"""Robo-advice page (``/wealth/robo``): ask for a plan (amount, horizon), see the proposed allocation (table and
a donut drawn server-side as inline SVG), its backtest against equal weight (figures and a cumulative-return
chart), drift and rebalancing suggestions, and follow the plan.

Every request calls :mod:`smartbank.wealth.robo` inside one transaction; a refused proposal or purchase
writes nothing and shows the page again with the reason.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Form, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.payments import service as payments
from smartbank.security.service import Principal
from smartbank.wealth import service as wealth
from smartbank.web import forms, views
from smartbank.web.auth import Customer
from smartbank.web.i18n import lang_of, register_messages, translate
from smartbank.web.nav import register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/wealth/robo"
register_portal_page(PAGE, "nav.portal.robo", order=52)

ZH: dict[str, Any] = {
    "nav": {"portal": {"robo": "智能投顾"}},
    "robo": {
        "title": "智能投顾", "intro": "根据您的风险承受能力等级和投资期限，在可购买的产品中优化配置。",
        "amount": "投资金额（元）", "horizon": "投资期限（月）", "propose": "生成配置方案",
        "plan": "配置方案", "grade": "风险等级", "method_label": "配置方法", "months": "{n} 个月",
        "method": {"min_cvar": "最小化尾部风险（CVaR）", "risk_parity": "风险平价", "max_diversification": "最大分散化",
                   "mean_variance": "均值-方差（最大夏普比率）", "equal_weight": "等权重"},
        "status": {"proposed": "待执行", "followed": "已执行", "superseded": "已被替代"},
        "product": "产品", "class_label": "资产类别", "risk": "风险", "weight": "占比", "amount_col": "金额",
        "class": {"cash": "现金类", "bond": "债券类", "mixed": "混合类", "equity": "权益类", "alternative": "另类",
                  "unknown": "其他"},
        "uninvested": "因购买单位限制未投资 {amount} 元。",
        "backtest": "历史回测（样本外）", "backtest_hint":
            "每月用此前一年的数据重新配置，持有至下月；与同一组产品的等权重组合比较。收益已扣除调仓的申购费和赎回费"
            "（管理费已含在净值中）。过往表现不代表未来收益。",
        "backtest_none": "产品净值历史较短，暂无回测。", "figure": "指标", "ours": "本方案", "equal": "等权重",
        "annual_return": "年化收益率", "annual_volatility": "年化波动率", "max_drawdown": "最大回撤",
        "sharpe": "夏普比率", "total_return": "累计收益率", "fees_paid": "申购赎回费合计（占初始资金）",
        "period": "回测区间：{start} 至 {end}",
        "curve": "累计收益走势",
        "drift": "偏离与再平衡", "band": "允许偏离：±{band}", "actual": "当前占比", "target": "目标占比",
        "value": "市值", "suggestions": "调整建议",
        "follow": "按方案买入", "follow_hint": "将从所选账户按上表金额逐一申购。", "follow_btn": "确认买入",
        "history": "历史方案", "open": "查看", "none": "您还没有配置方案。", "from": "付款账户",
        "bad_horizon": "请以整数月份填写投资期限。", "account_required": "请选择付款账户。",
        "short_funds": "您的账户可用余额（最多 {available}）不足以买入本方案的 {needed}，暂不能按方案一键买入。"
                       "本方案仅供参考，您可存入资金后再买入，或按可用金额重新生成方案。",
    },
    "notice": {"robo_proposed": "已生成新的配置方案。", "robo_followed": "已按方案提交申购。"},
    "error_code": {"assessment_required": "请先完成（或重新进行）风险承受能力评估，再生成配置方案。",
                   "robo_no_products": "目前没有适合您风险等级和投资期限的产品。",
                   "robo_infeasible": "现有产品不足以在您的风险预算内构建组合。",
                   "robo_amount_too_small": "投资金额低于产品起购金额，无法构建分散的组合，请提高金额。",
                   "plan_superseded": "该方案已被新方案替代。",
                   "plan_insufficient_funds": "付款账户可用余额不足以买入整个方案，未买入任何产品。"},
}
EN: dict[str, Any] = {
    "nav": {"portal": {"robo": "Robo-advice"}},
    "robo": {
        "title": "Robo-advice",
        "intro": "An optimised mix of the products you may buy, for your risk grade and how long you can invest.",
        "amount": "Amount to invest (yuan)", "horizon": "Horizon (months)", "propose": "Propose a plan",
        "plan": "Your plan", "grade": "Risk grade", "method_label": "Method", "months": "{n} months",
        "method": {"min_cvar": "Minimum tail risk (CVaR)", "risk_parity": "Risk parity",
                   "max_diversification": "Maximum diversification",
                   "mean_variance": "Mean-variance (maximum Sharpe ratio)", "equal_weight": "Equal weight"},
        "status": {"proposed": "Proposed", "followed": "Followed", "superseded": "Replaced"},
        "product": "Product", "class_label": "Asset class", "risk": "Risk", "weight": "Weight", "amount_col": "Amount",
        "class": {"cash": "Cash", "bond": "Bonds", "mixed": "Mixed", "equity": "Equity", "alternative": "Alternative",
                  "unknown": "Other"},
        "uninvested": "{amount} stays uninvested because of purchase steps.",
        "backtest": "Backtest (out of sample)", "backtest_hint":
            "Refitted every month on the year before and held to the next month, against an equal-weight mix of "
            "the same products. Returns are after the subscription and redemption fees of the trades (management "
            "fees are already in the NAVs). Past performance does not guarantee future returns.",
        "backtest_none": "The products' NAV history is too short for a backtest yet.", "figure": "Figure",
        "ours": "This plan", "equal": "Equal weight", "annual_return": "Annual return",
        "annual_volatility": "Annual volatility", "max_drawdown": "Maximum drawdown", "sharpe": "Sharpe ratio",
        "total_return": "Total return", "fees_paid": "Subscription and redemption fees (share of the start)",
        "period": "Period: {start} to {end}", "curve": "Cumulative return",
        "drift": "Drift and rebalancing", "band": "Band: ±{band}", "actual": "Now", "target": "Target",
        "value": "Value", "suggestions": "Suggestions",
        "follow": "Follow this plan", "follow_hint": "Buys each product for the amount above from the account chosen.",
        "follow_btn": "Buy now", "history": "Earlier plans", "open": "Open", "none": "You have no plan yet.",
        "from": "Pay from", "bad_horizon": "Enter the horizon as a whole number of months.",
        "account_required": "Choose the account to pay from.",
        "short_funds": "Your accounts' available balance (at most {available}) is short of this plan's {needed}, so "
                       "it cannot be bought in one step. The plan is advice only: add money first, or propose a "
                       "plan for the amount you have.",
    },
    "notice": {"robo_proposed": "A new plan is ready.", "robo_followed": "The plan's purchases were placed."},
    "error_code": {"assessment_required": "Please complete (or renew) the risk-tolerance assessment first.",
                   "robo_no_products": "No product fits your risk grade and horizon yet.",
                   "robo_infeasible": "The catalogue has too few products to build a portfolio within your budget.",
                   "robo_amount_too_small": "The amount is below the products' minimum purchases for a diversified "
                                            "portfolio; please invest more.",
                   "plan_superseded": "This plan was replaced by a newer one.",
                   "plan_insufficient_funds": "The paying account's available balance is short of the plan's "
                                              "amount; nothing was bought."},
}
register_messages("zh", ZH)
register_messages("en", EN)

F = Annotated[str, Form()]
# sixteen distinct colours (a plan rarely has more lines; beyond them the colours repeat, the legend still names
# every line)
COLOURS = ("#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#1b7c83", "#e16f24", "#6e7781", "#bc4c00",
           "#0a3069", "#57ab5a", "#a475f9", "#d4a72c", "#ec6547", "#116329", "#8c1d5a")


def donut(lines: list[dict[str, Any]], size: int = 160) -> Markup:
    """A donut of the plan's weights (one arc per line, colours as in the table)."""
    r, c, stroke = size * 0.35, size / 2, size * 0.18
    circ = 2 * math.pi * r
    parts, offset = [], 0.0
    for i, ln in enumerate(lines):
        seg = max(0.0, float(ln["weight"])) * circ
        parts.append(f'<circle r="{r:.2f}" cx="{c:.2f}" cy="{c:.2f}" fill="none" stroke="{COLOURS[i % len(COLOURS)]}" '
                     f'stroke-width="{stroke:.2f}" stroke-dasharray="{seg:.3f} {circ - seg:.3f}" '
                     f'stroke-dashoffset="{-offset:.3f}" transform="rotate(-90 {c:.2f} {c:.2f})"/>')
        offset += seg
    return Markup(f'<svg viewBox="0 0 {size} {size}" width="{size}" height="{size}" class="robo-donut" '
                  f'id="robo-donut" aria-hidden="true">{"".join(parts)}</svg>')


def curve_chart(curve: dict[str, Any], labels: tuple[str, str], w: int = 340, h: int = 180) -> Markup:
    """Cumulative return of the plan (solid) and equal weight (dashed): a y axis in percent (lowest, zero,
    highest), the first and last dates, and the two lines named with their final figures."""
    plan, ew = curve.get("plan") or [], curve.get("equal_weight") or []
    if len(plan) < 2:
        return Markup("")
    lo, hi = min(0.0, *plan, *ew), max(0.0, *plan, *ew)
    span = (hi - lo) or 1.0
    left, right, top, bottom = 44, 10, 26, 22
    pw, ph = w - left - right, h - top - bottom

    def y(v: float) -> float:
        return top + ph * (hi - v) / span

    def pts(ys: list[float]) -> str:
        n = len(ys) - 1
        return " ".join(f"{left + pw * i / n:.1f},{y(v):.1f}" for i, v in enumerate(ys))

    ticks = "".join(
        f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#d8dee4" stroke-width="0.6"/>'
        f'<text x="{left - 4}" y="{y(v) + 3.5:.1f}" font-size="10" fill="#57606a" text-anchor="end">'
        f'{v * 100:.1f}%</text>'
        for v in sorted({lo, 0.0, hi}) if v == 0.0 or abs(y(v) - y(0.0)) > 12)
    esc = [Markup.escape(s) for s in labels]
    return Markup(
        f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" class="robo-curve" id="robo-curve" '
        f'aria-label="{esc[0]} {plan[-1] * 100:.1f}%, {esc[1]} {ew[-1] * 100:.1f}%">{ticks}'
        f'<line x1="{left}" x2="{w - right}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}" stroke="#57606a" stroke-width="1"/>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" stroke="#57606a" stroke-width="1"/>'
        f'<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="{pts(plan)}"/>'
        f'<polyline fill="none" stroke="#57606a" stroke-width="1.5" stroke-dasharray="4 3" points="{pts(ew)}"/>'
        f'<text x="{left}" y="12" font-size="10" fill="#0a58ca">— {esc[0]} {plan[-1] * 100:.1f}%</text>'
        f'<text x="{left + pw / 2:.0f}" y="12" font-size="10" fill="#57606a">- - {esc[1]} {ew[-1] * 100:.1f}%</text>'
        f'<text x="{left}" y="{h - 4}" font-size="10" fill="#57606a">{Markup.escape(curve["dates"][0])}</text>'
        f'<text x="{w - right}" y="{h - 4}" font-size="10" fill="#57606a" text-anchor="end">'
        f'{Markup.escape(curve["dates"][-1])}</text></svg>')


def _page(request: Request, actor: Principal, *, plan_id: int | None = None, error: str | None = None,
          error_field: str | None = None, status_code: int = 200, values: dict[str, str] | None = None) -> Response:
    lang = lang_of(request)

    def work(s: Any) -> tuple[Any, Any, Any, Any]:
        plans = wealth.list_plans(s, actor)
        pid = plan_id or (plans[0]["id"] if plans else None)
        plan = wealth.get_plan(s, actor, pid) if pid else None
        d = wealth.plan_drift(s, actor, pid) if pid else None
        accounts = views.payable([views.account(a) for a in payments.list_accounts(s, actor)])
        return plans, plan, d, accounts

    plans, plan, d, accounts = db.run_in_transaction(work)
    v = {"amount": "", "horizon": "36", "idempotency_key": forms.new_key(), "from_account": ""}
    v.update(values or {})
    charts: dict[str, Any] = {}
    funding: dict[str, Any] = {"accounts": [], "needed": 0, "most": 0}
    if plan:
        # the plan is offered for purchase only from an account whose available balance covers it
        cash = [a for a in accounts if a["kind"] in ("demand", "savings") and a["currency"] == "CNY"]
        needed = sum(int(x) for x in plan["amounts"].values())
        funding = {"accounts": [a for a in cash if a["available"] >= needed], "needed": needed,
                   "most": max((a["available"] for a in cash), default=0)}
        for i, ln in enumerate(plan["lines"]):
            ln["colour"] = COLOURS[i % len(COLOURS)]
        charts["donut"] = donut(plan["lines"])
        if plan["backtest"] and plan["backtest"].get("curve"):
            charts["curve"] = curve_chart(plan["backtest"]["curve"],
                                          (translate(lang, "robo.ours"), translate(lang, "robo.equal")))
    if error_field == "from_account" and not funding["accounts"]:
        error_field = None  # no account field on the page: the error goes to the top
    return render(request, "portal/robo.html", status_code=status_code, plans=plans, plan=plan, drift=d,
                  accounts=accounts, funding=funding, values=v, error=error, error_field=error_field, charts=charts,
                  lang=lang,
                  here=PAGE)


@router.get(PAGE)
def robo_page(request: Request, actor: Customer, plan: int | None = None) -> Response:
    return _page(request, actor, plan_id=plan)


@router.post(PAGE)
def propose(request: Request, actor: Customer, amount: F = "", horizon: F = "") -> Response:
    values = {"amount": amount, "horizon": horizon}
    try:
        minor = forms.amount(amount)
        h = horizon.strip()
        if not h.isdigit():
            raise forms.FormError("robo.bad_horizon")
        plan_id = db.run_in_transaction(lambda s: wealth.propose_plan(s, actor, amount_minor=minor,
                                                               horizon_months=int(h)).id)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        return _page(request, actor, error=forms.message(exc, lang_of(request)), error_field=_propose_field(exc),
                     status_code=422, values=values)
    return RedirectResponse(f"{PAGE}?plan={plan_id}&notice=robo_proposed", status_code=303)


def _propose_field(exc: SmartbankError) -> str | None:
    """The proposal form's field a refusal is about (shown beside it), or None (shown at the top)."""
    if isinstance(exc, forms.FormError):
        return "horizon" if exc.key == "robo.bad_horizon" else "amount"
    if exc.reason in ("wealth.robo_bad_amount", "wealth.robo_amount_too_small"):
        return "amount"
    if exc.reason == "wealth.bad_horizon":
        return "horizon"
    return None


@router.post(PAGE + "/{plan_id}/follow")
def follow(request: Request, plan_id: int, actor: Customer, from_account: F = "", idempotency_key: F = "") -> Response:
    key = forms.key_or_new(idempotency_key)
    values = {"from_account": from_account, "idempotency_key": key}
    try:
        if not from_account.strip().isdigit():
            raise forms.FormError("robo.account_required")
        acct = int(from_account)
        db.run_in_transaction(lambda s: wealth.follow_plan(s, actor, plan_id, account_id=acct, idempotency_key=key))
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        # the account field is drawn only when an account can pay for the plan: other refusals go to the top
        field = "from_account" if isinstance(exc, forms.FormError) else None
        return _page(request, actor, plan_id=plan_id, error=forms.message(exc, lang_of(request)), error_field=field,
                     status_code=422, values=values)
    return RedirectResponse(f"{PAGE}?plan={plan_id}&notice=robo_followed", status_code=303)
