"""Wealth pages: the customer's "My wealth" (holdings, P&L, chart, assessment status), the risk questionnaire,
the product list and page (risk, fees, returns, volatility, NAV chart, the purchase form with its suitability
step) and redemption; the console's catalogue (with NAV publication) and suitability log.

Charts are inline SVG polylines drawn on the server (no script, no CDN). Every rule is in
:mod:`smartbank.wealth`; a refused purchase keeps its suitability check and shows the reason in plain words.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from smartbank import clock, db
from smartbank.errors import NotFound, SmartbankError
from smartbank.ledger import service as ledger
from smartbank.security.service import Principal
from smartbank.wealth import service as wealth
from smartbank.web import fmt, forms
from smartbank.web.auth import Customer, Staff
from smartbank.web.console import require_page
from smartbank.web.i18n import lang_of, register_messages, translate
from smartbank.web.nav import register_console_page, register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

CATALOGUE = "/console/wealth/products"
SUITABILITY = "/console/wealth/suitability"
register_portal_page("/wealth", "nav.portal.wealth", order=50)
register_console_page(CATALOGUE, "nav.console.wealth_products", roles=wealth.PRODUCT_MANAGERS, order=70)
register_console_page(SUITABILITY, "nav.console.wealth_suitability", roles=wealth.SUITABILITY_LOG_READERS, order=71)

register_messages("zh", {
    "nav": {"portal": {"wealth": "我的理财"},
            "console": {"wealth_products": "理财产品", "wealth_suitability": "适当性记录"}},
    "wealth": {
        "title": "我的理财", "value": "总市值", "cost": "投入本金", "pnl": "累计盈亏", "ret": "收益率",
        "holdings": "持仓", "none": "您还没有理财持仓。", "browse": "浏览理财产品", "units": "份额", "nav": "单位净值",
        "pending": "处理中的订单", "chart": "组合市值走势", "ann_ret": "年化收益", "ann_vol": "年化波动率",
        "mdd": "最大回撤", "sharpe": "夏普比率", "redeem": "赎回", "redeem_all": "全部赎回",
        "redeem_units": "赎回份额（留空则全部）",
        "redeem_btn": "确认赎回", "to_account": "收款账户", "matures": "定期存款到期自动转回",
        "grade": "风险承受能力", "expires": "有效期至", "days_left": "剩余 {n} 天",
        "lapsed": "您的风险测评已过期，请重新测评后再购买理财产品。",
        "never": "购买基金、理财、保险前，请先完成风险承受能力评估。", "retake": "重新测评", "take": "开始测评",
        "grade_names": {"C1": "C1 保守型", "C2": "C2 稳健型", "C3": "C3 平衡型", "C4": "C4 成长型", "C5": "C5 进取型"},
        "kind": {"time_deposit": "定期存款", "wmp": "银行理财", "fund": "基金", "insurance": "保险"},
        "status": {"pending": "处理中", "settled": "已确认", "cancelled": "已撤销", "failed": "失败"},
        "okind": {"purchase": "申购", "redemption": "赎回"},
        "products": "理财产品", "all": "全部", "risk": "风险等级", "min": "起购金额", "fees": "费用",
        "sub_fee": "申购费", "red_fee": "赎回费", "mgmt_fee": "管理费（已含在净值中）", "settle": "确认时间",
        "t_plus": "T+{n}", "term": "期限", "days": "{n} 天", "rate": "年利率", "issuer": "发行机构",
        "returns": "历史收益", "r1m": "近1月", "r3m": "近3月", "r1y": "近1年", "rsl": "成立以来",
        "nav_chart": "净值走势", "buy": "购买", "amount": "购买金额（元）", "buy_btn": "确认购买",
        "ack_title": "风险提示", "ack_label": "我已阅读并确认：", "refused_title": "暂不能购买",
        "suits": "该产品与您的风险承受能力相匹配。", "back": "返回产品列表", "open": "查看",
        "past": "过往业绩不代表未来表现，理财非存款，投资须谨慎。",
        "q_title": "风险承受能力评估", "q_hint": "共 {n} 题，请根据实际情况作答。结果有效期 {d} 天。",
        "q_submit": "提交测评",
        "cancel": "撤销",
        "yield_7d": "七日年化", "income_10k": "万份收益", "yuan": "{x} 元", "yield_chart": "七日年化收益率走势",
        "mm_hint": "货币类产品每份净值固定为 1.0000 元，每日收益以份额形式结转，份额即市值。",
        "last_income": "最新收益", "total_income": "累计收益",
        "age_mismatch": "您选择的年龄段与身份证件上的出生日期不符：按证件您现年 {age} 岁，请选择“{option}”。"
                        "本次测评未生效。",
        "cooling_off": "距上次测评不足 24 小时，暂不能重新测评，请于 {when} 之后再试。本次测评未生效。",
        "retake_limit": "{days} 天内最多可重新测评 {n} 次，请于 {when} 之后再试。本次测评未生效。",
        "next_retake": "下次可重新测评时间：{when}",
    },
    "cwealth": {
        "products": "理财产品目录", "suitability": "适当性检查记录", "code": "代码", "name": "名称",
        "navday": "最新净值日",
        "publish": "发布净值", "day": "日期", "nav_micro": "单位净值（×1,000,000）", "publish_btn": "发布",
        "income_micro": "万份收益（元×1,000,000）",
        "customer": "客户", "product": "产品", "outcome": "结果", "reason": "原因", "ack": "确认文本", "at": "时间",
        "grade": "客户等级", "outcomes": {"pass": "通过", "refused": "拒绝", "acknowledged": "已确认风险"},
        "none": "没有记录。", "closed": "已停售",
    },
    "notice": {"wealth_bought": "购买申请已提交，份额将在确认日到账。",
    "wealth_redeemed": "赎回申请已提交，资金将在确认日到账。",
               "wealth_assessed": "测评完成。", "wealth_nav": "净值已发布。", "wealth_cancelled": "订单已撤销。"},
})
register_messages("en", {
    "nav": {"portal": {"wealth": "My wealth"},
            "console": {"wealth_products": "Wealth products", "wealth_suitability": "Suitability log"}},
    "wealth": {
        "title": "My wealth", "value": "Market value", "cost": "Invested", "pnl": "Profit / loss", "ret": "Return",
        "holdings": "Holdings", "none": "You hold no investments yet.", "browse": "Browse products", "units": "Units",
        "nav": "NAV", "pending": "Orders in progress", "chart": "Portfolio value", "ann_ret": "Annualised return",
        "ann_vol": "Annualised volatility", "mdd": "Maximum drawdown", "sharpe": "Sharpe ratio", "redeem": "Redeem",
        "redeem_all": "Redeem all", "redeem_units": "Units to redeem (empty: all)", "redeem_btn": "Redeem",
        "to_account": "Pay into", "matures": "Time deposits are paid back automatically at maturity",
        "grade": "Risk tolerance", "expires": "Valid until", "days_left": "{n} days left",
        "lapsed": "Your risk assessment has lapsed: please take it again before buying investments.",
        "never": "Before buying funds, wealth products or insurance, please take the risk assessment.",
        "retake": "Take it again", "take": "Start the assessment",
        "grade_names": {"C1": "C1 Conservative", "C2": "C2 Cautious", "C3": "C3 Balanced", "C4": "C4 Growth",
                        "C5": "C5 Aggressive"},
        "kind": {"time_deposit": "Time deposits", "wmp": "Wealth products", "fund": "Funds", "insurance": "Insurance"},
        "status": {"pending": "In progress", "settled": "Done", "cancelled": "Cancelled", "failed": "Failed"},
        "okind": {"purchase": "Purchase", "redemption": "Redemption"},
        "products": "Products", "all": "All", "risk": "Risk level", "min": "Minimum", "fees": "Fees",
        "sub_fee": "Subscription fee", "red_fee": "Redemption fee", "mgmt_fee": "Management fee (in the NAV)",
        "settle": "Settlement", "t_plus": "T+{n}", "term": "Term", "days": "{n} days", "rate": "Annual rate",
        "issuer": "Issuer", "returns": "Past returns", "r1m": "1 month", "r3m": "3 months", "r1y": "1 year",
        "rsl": "Since launch", "nav_chart": "NAV history", "buy": "Buy", "amount": "Amount (yuan)",
        "buy_btn": "Buy now", "ack_title": "Risk warning", "ack_label": "I have read and confirm:",
        "refused_title": "You cannot buy this product", "suits": "This product suits your risk tolerance.",
        "back": "Back to products", "open": "Open",
        "past": "Past performance does not predict future returns. Investments are not deposits and can lose value.",
        "q_title": "Risk tolerance assessment", "q_hint": "{n} questions: answer as things are. The result is valid "
                                                          "for {d} days.", "q_submit": "Submit", "cancel": "Cancel",
        "yield_7d": "7-day annualised yield", "income_10k": "Income per 10,000 units", "yuan": "¥{x}",
        "yield_chart": "7-day annualised yield history",
        "mm_hint": "A money-market product's units stay at ¥1.0000 each; the daily income is added as units, so "
                   "your units are your balance.",
        "last_income": "Latest income", "total_income": "Income so far",
        "age_mismatch": "The age you chose does not match the birth date on your ID: you are {age}, please choose "
                        "\"{option}\". This attempt did not count.",
        "cooling_off": "Less than 24 hours have passed since your last assessment: you can retake it from {when}. "
                       "This attempt did not count.",
        "retake_limit": "The assessment can be retaken at most {n} times in {days} days: you can retake it from "
                        "{when}. This attempt did not count.",
        "next_retake": "You can retake the assessment from {when}",
    },
    "cwealth": {
        "products": "Wealth catalogue", "suitability": "Suitability checks", "code": "Code", "name": "Name",
        "navday": "Latest NAV day", "publish": "Publish a NAV", "day": "Day", "nav_micro": "NAV (x 1,000,000)",
        "income_micro": "Income per 10,000 units (yuan x 1,000,000)",
        "publish_btn": "Publish", "customer": "Customer", "product": "Product", "outcome": "Outcome",
        "reason": "Reason", "ack": "Confirmed text", "at": "When", "grade": "Grade",
        "outcomes": {"pass": "Passed", "refused": "Refused", "acknowledged": "Risk acknowledged"},
        "none": "No records.", "closed": "Closed",
    },
    "notice": {"wealth_bought": "Order placed: the units arrive on the settlement date.",
               "wealth_redeemed": "Redemption placed: the money arrives on the settlement date.",
               "wealth_assessed": "Assessment done.", "wealth_nav": "NAV published.",
               "wealth_cancelled": "Order cancelled."},
})

F = Annotated[str, Form()]


def _tick(value: float, kind: str, lang: str) -> str:
    """An axis label: yuan without fen for a value, four decimals for a NAV, a percentage for a yield (ppm)."""
    if kind == "value":
        return "¥" + fmt.number(round(value / 100), lang)
    if kind == "yield":
        return fmt.percent(value / 1_000_000, lang, 2)
    return f"{value / 1_000_000:.4f}"


def line_chart(series: list[tuple[Any, int]], *, kind: str, title: str, lang: str, chart_id: str,
               w: int = 360, h: int = 190) -> Markup:
    """A line chart as inline SVG drawn on the server: the y axis with three labelled ticks (lowest, middle,
    highest, in the ``kind``'s unit: ``value`` fen, ``nav`` millionths of a yuan, ``yield`` ppm), the x axis with
    the first, middle and last dates, axis titles in the page's language and a text description for screen
    readers. Empty for fewer than two points."""
    if len(series) < 2:
        return Markup("")
    values = [float(v) for _, v in series]
    days = [fmt.day(d, lang) for d, _ in series]
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    left, right, top, bottom = 62, 10, 22, 34
    pw, ph = w - left - right, h - top - bottom
    n = len(values) - 1

    def x(i: int) -> float:
        return left + pw * i / n

    def y(v: float) -> float:
        return top + ph * (hi - v) / (hi - lo)

    esc = Markup.escape
    axis_y = {"value": "wealth.axis_value", "nav": "wealth.axis_nav", "yield": "wealth.axis_yield"}[kind]
    parts = [f'<text x="2" y="12" class="axis-title">{esc(translate(lang, axis_y))}</text>']
    for v in (lo, (lo + hi) / 2, hi):
        yy = y(v)
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
                     f'<text x="{left - 4}" y="{yy + 3.5:.1f}" text-anchor="end" class="tick">'
                     f'{esc(_tick(v, kind, lang))}</text>')
    for i, anchor in ((0, "start"), (n // 2, "middle"), (n, "end")):
        parts.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{top + ph}" y2="{top + ph + 4}" class="axis"/>'
                     f'<text x="{x(i):.1f}" y="{top + ph + 16}" text-anchor="{anchor}" class="tick">'
                     f'{esc(days[i])}</text>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{h - 2}" text-anchor="middle" class="axis-title">'
                 f'{esc(translate(lang, "wealth.axis_date"))}</text>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" class="axis"/>'
                 f'<line x1="{left}" x2="{w - right}" y1="{top + ph}" y2="{top + ph}" class="axis"/>')
    pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts.append(f'<polyline fill="none" class="line" stroke-width="2" points="{pts}"/>')
    desc = translate(lang, "wealth.chart_desc", title=title, start=days[0], end=days[-1],
                     low=_tick(min(values), kind, lang), high=_tick(max(values), kind, lang),
                     last=_tick(values[-1], kind, lang))
    return Markup(f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" class="wealth-chart" id="{chart_id}" '
                  f'aria-label="{esc(desc)}"><title>{esc(title)}</title>{"".join(parts)}</svg>')


def _value_chart(data: dict[str, Any], lang: str) -> Markup:
    return line_chart(data["series"], kind="value", title=translate(lang, "wealth.chart"), lang=lang,
                      chart_id="portfolio-chart")


def _product_chart(page: dict[str, Any], lang: str) -> Markup:
    if page.get("chart_kind") == "yield_7d":
        return line_chart(page["chart"], kind="yield", title=translate(lang, "wealth.yield_chart"), lang=lang,
                          chart_id="yield-chart")
    return line_chart(page["chart"], kind="nav", title=translate(lang, "wealth.nav_chart"), lang=lang,
                      chart_id="nav-chart")


_ZH_THEN_EN = re.compile(r"^([^A-Za-z]*[\u4e00-\u9fff][^A-Za-z]*?)\s+([A-Za-z].*)$")


def in_language(text: str | None, lang: str) -> str:
    """A name the data holds in both languages ("汇通基金 Huitong Fund Management") in the page's language."""
    m = _ZH_THEN_EN.match((text or "").strip())
    if not m:
        return text or ""
    return m.group(1) if lang == "zh" else m.group(2)


def _cash_accounts(session: Any, customer_id: int) -> list[dict[str, Any]]:
    return [{"id": a.id, "number": a.number, "name": a.name, "kind": a.kind, "currency": a.currency,
             "available": a.available_minor} for a in ledger.customer_accounts(session, customer_id)
            if a.kind in wealth.CASH_ACCOUNT_KINDS and a.status == "open"]


@router.get("/wealth")
def my_wealth(request: Request, actor: Customer) -> Response:
    def work(s: Any) -> Any:
        return (wealth.customer_holdings(s, actor), wealth.assessment_status(s, actor),
                _cash_accounts(s, int(actor.customer_id or 0)))

    data, status, accounts = db.run_in_transaction(work)
    if status.get("next_retake_at"):
        at = datetime.fromisoformat(str(status["next_retake_at"])).astimezone(clock.BANK_TZ)
        status["next_retake_local"] = f"{at:%Y-%m-%d %H:%M}"
    return render(request, "portal/wealth.html", data=data, status=status, accounts=accounts,
                  chart=_value_chart(data, lang_of(request)), key=forms.new_key())


@router.get("/wealth/assessment")
def assessment(request: Request, actor: Customer) -> Response:
    q = db.run_in_transaction(lambda s: wealth.questionnaire_view(wealth.ensure_questionnaire(s)))
    return render(request, "portal/wealth_assessment.html", q=q, answers={}, here="/wealth")


@router.post("/wealth/assessment")
async def take_assessment(request: Request, actor: Customer) -> Response:
    form = await request.form()
    q = db.run_in_transaction(lambda s: wealth.questionnaire_view(wealth.ensure_questionnaire(s)))
    answers: dict[str, Any] = {}
    for item in q["questions"]:
        v = str(form.get(f"q_{item['id']}", "")).strip()
        if v.isdigit():
            answers[item["id"]] = int(v)
    try:
        db.run_in_transaction(lambda s: wealth.take_assessment(s, actor, answers, channel="web"))
    except SmartbankError as exc:
        lang = lang_of(request)
        return render(request, "portal/wealth_assessment.html", status_code=exc.status_code, q=q, answers=answers,
                      error=_assessment_error(exc, lang), here="/wealth")
    return RedirectResponse("/wealth?notice=wealth_assessed", status_code=303)


def _assessment_error(exc: SmartbankError, lang: str) -> str:
    """A refused assessment in plain words: the option the ID's age calls for, or from when a retake is
    possible (bank time)."""
    d = exc.details or {}
    if exc.code == "assessment_age_mismatch" and d.get("id_age") is not None:
        option = d.get("expected_zh" if lang == "zh" else "expected_en") or ""
        return translate(lang, "wealth.age_mismatch", age=d["id_age"], option=option)
    if exc.code in ("assessment_cooling_off", "assessment_retake_limit") and d.get("next_allowed_at"):
        at = datetime.fromisoformat(str(d["next_allowed_at"])).astimezone(clock.BANK_TZ)
        return translate(lang, f"wealth.{exc.code.removeprefix('assessment_')}", when=f"{at:%Y-%m-%d %H:%M}",
                         n=wealth.MAX_RETAKES, days=wealth.RETAKE_WINDOW.days)
    return forms.message(exc, lang)


@router.get("/wealth/products")
def product_list(request: Request, actor: Customer, kind: str = "") -> Response:
    k = kind if kind in ("time_deposit", "wmp", "fund", "insurance") else None
    items = db.run_in_transaction(lambda s: wealth.list_products(s, kind=k))
    return render(request, "portal/wealth_products.html", items=items, kind=k or "")


def _product_page(request: Request, actor: Principal, code: str, *, error: str | None = None,
                  error_field: str | None = None, refused: dict[str, Any] | None = None, status_code: int = 200,
                  values: dict[str, str] | None = None) -> Response:
    lang = lang_of(request)

    def work(s: Any) -> Any:
        page = wealth.product_page(s, code)
        p = wealth.get_product(s, code)
        verdict, grade = wealth.preview_suitability(s, int(actor.customer_id or 0), p)
        return page, verdict, grade, _cash_accounts(s, int(actor.customer_id or 0))

    page, verdict, grade, accounts = db.run_in_transaction(work)
    v = {"amount": "", "account_id": "", "idempotency_key": forms.new_key()}
    v.update(values or {})
    page["issuer_shown"] = in_language(page.get("issuer"), lang)
    return render(request, "portal/wealth_product.html", status_code=status_code, p=page, verdict=verdict,
                  ack_text=verdict.zh if lang == "zh" else verdict.en, grade=grade, accounts=accounts, values=v,
                  chart=_product_chart(page, lang), error=error, error_field=error_field, refused=refused,
                  here="/wealth/products")


@router.get("/wealth/products/{code}")
def product(request: Request, code: str, actor: Customer) -> Response:
    return _product_page(request, actor, code)


@router.post("/wealth/products/{code}/buy")
def buy(request: Request, code: str, actor: Customer, amount: F = "", account_id: F = "", acknowledgement: F = "",
        idempotency_key: F = "") -> Response:
    key = forms.key_or_new(idempotency_key)
    values = {"amount": amount, "account_id": account_id, "idempotency_key": key}
    lang = lang_of(request)
    try:
        amt = forms.amount(amount)
        acct = int(account_id) if account_id.strip().isdigit() else 0
        db.run_in_transaction(lambda s: wealth.purchase(
            s, actor, product_code=code, account_id=acct, amount_minor=amt, idempotency_key=key,
            acknowledgement=acknowledgement or None, channel="web"))
    except wealth.Unsuitable as exc:
        reason = exc.details.get("reason_zh" if lang == "zh" else "reason_en", exc.message)
        return _product_page(request, actor, code, refused={"reason": reason}, status_code=403, values=values)
    except NotFound as exc:
        if exc.details.get("code"):
            raise
        return _product_page(request, actor, code, error=forms.message(exc, lang), error_field="account_id",
                             status_code=422, values=values)
    except SmartbankError as exc:
        return _product_page(request, actor, code, error=forms.message(exc, lang), error_field=_buy_field(exc),
                             status_code=422, values=values)
    return RedirectResponse("/wealth?notice=wealth_bought", status_code=303)


# refusals about what was typed in the purchase form's amount, shown beside it
_AMOUNT_REASONS = {"wealth.bad_amount", "wealth.below_minimum", "wealth.not_a_step_multiple"}


def _buy_field(exc: SmartbankError) -> str | None:
    if isinstance(exc, forms.FormError) and exc.key.startswith("form.") and "amount" in exc.key:
        return "amount"
    if exc.reason in _AMOUNT_REASONS:
        return "amount"
    if exc.code == "insufficient_funds" or exc.reason in ("wealth.account_not_open", "wealth.currency_mismatch",
                                                          "wealth.not_a_deposit_account"):
        return "account_id"
    return None


@router.post("/wealth/redeem")
def redeem(request: Request, actor: Customer, product_code: F = "", units: F = "", account_id: F = "",
           idempotency_key: F = "") -> Response:
    key = forms.key_or_new(idempotency_key)
    try:
        u = None
        if units.strip():
            # units typed like an amount with up to 6 decimals
            whole, _, frac = units.strip().replace(",", "").partition(".")
            if not whole.isdigit() or (frac and (not frac.isdigit() or len(frac) > 6)):
                raise forms.FormError("form.bad_amount")
            u = int(whole) * 1_000_000 + int((frac or "0").ljust(6, "0"))
        acct = int(account_id) if account_id.strip().isdigit() else 0
        db.run_in_transaction(lambda s: wealth.redeem(s, actor, product_code=product_code, units_micro=u,
                                                      account_id=acct, idempotency_key=key, channel="web"))
    except SmartbankError as exc:
        def work(s: Any) -> Any:
            return (wealth.customer_holdings(s, actor), wealth.assessment_status(s, actor),
                    _cash_accounts(s, int(actor.customer_id or 0)))

        data, status, accounts = db.run_in_transaction(work)
        return render(request, "portal/wealth.html", status_code=422, data=data, status=status, accounts=accounts,
                      chart=_value_chart(data, lang_of(request)), key=forms.new_key(),
                      error=forms.message(exc, lang_of(request)), here="/wealth")
    return RedirectResponse("/wealth?notice=wealth_redeemed", status_code=303)


@router.post("/wealth/orders/{order_id}/cancel")
def cancel(request: Request, order_id: int, actor: Customer) -> Response:
    db.run_in_transaction(lambda s: wealth.cancel_order(s, actor, order_id))
    return RedirectResponse("/wealth?notice=wealth_cancelled", status_code=303)


# --- console -------------------------------------------------------------------------------------------------


@router.get(CATALOGUE)
def console_products(request: Request, actor: Staff) -> Response:
    require_page(actor, CATALOGUE)
    items = db.run_in_transaction(lambda s: wealth.list_products(s, status=None))
    return render(request, "console/wealth_products.html", items=items, today=wealth.trade_date().isoformat(),
                  error_code=None, nav_values={})


@router.post(CATALOGUE + "/{code}/nav")
def console_publish_nav(request: Request, code: str, actor: Staff, day: F = "", nav: F = "", income_per_10k: F = "",
                        nav_micro: F = "", income_per_10k_micro: F = "") -> Response:
    """Publish a day's NAV (or a money-market product's income per 10,000 units), typed in yuan with up to six
    decimals (``nav``, ``income_per_10k``); the older fields in millionths are still read."""
    require_page(actor, CATALOGUE)

    def number(text: str) -> int:
        t = text.strip().replace(",", "")
        return int(t) if t.isdigit() else 0

    try:
        d = forms.required_date(day)
        n = micro(nav) if nav.strip() else None
        income = micro(income_per_10k) if income_per_10k.strip() else None
        if n is None and nav_micro.strip():
            n = number(nav_micro)
        if income is None and income_per_10k_micro.strip():
            income = number(income_per_10k_micro)
        if n is None and income is None:
            n = 0
        db.run_in_transaction(lambda s: wealth.publish_nav(s, actor, code, day=d, nav_micro=n,
                                                             income_per_10k_micro=income))
    except SmartbankError as exc:
        items = db.run_in_transaction(lambda s: wealth.list_products(s, status=None))
        # shown beside the product's form; at the top if there is no such product on the page
        row = code.upper() if any(p["code"] == code.upper() for p in items) else None
        return render(request, "console/wealth_products.html", status_code=422, items=items,
                      today=clock.today().isoformat(), error=forms.message(exc, lang_of(request)),
                      error_field="nav" if row else None, error_code=row,
                      nav_values={"nav": nav, "income_per_10k": income_per_10k, "day": day})
    return RedirectResponse(CATALOGUE + "?notice=wealth_nav", status_code=303)


def micro(text: str) -> int:
    """A figure typed in yuan with up to six decimals ("1.0289", "0.4512") as millionths."""
    m = re.fullmatch(r"([0-9]{1,9})(?:\.([0-9]{0,6}))?", text.strip().replace(",", ""))  # ASCII digits only
    if m is None:
        raise forms.FormError("cwealth.bad_nav")
    return int(m.group(1)) * 1_000_000 + int((m.group(2) or "0").ljust(6, "0"))


@router.get(SUITABILITY)
def console_suitability(request: Request, actor: Staff, outcome: str = "") -> Response:
    require_page(actor, SUITABILITY)
    o = outcome if outcome in ("pass", "refused", "acknowledged") else None
    rows = db.run_in_transaction(lambda s: wealth.suitability_log(s, actor, outcome=o, limit=500))
    return render(request, "console/wealth_suitability.html", rows=rows, outcome=o or "")
