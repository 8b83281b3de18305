"""A customer's holdings: units, NAV, market value, cost, profit and loss, and performance figures.

Per holding: market value ``floor(units_micro * nav_micro / 10**10)`` fen (what a redemption would pay before
its fee), profit/loss = market value - cost (cost includes subscription fees), return = P&L / cost, and the
figures of :mod:`analytics` over the product's NAV since the holding was opened.

A money-market holding (NAV 1.000000) grows by the income credited to it as units; it shows the latest day's
income and the total credited, and its figures read the value of a unit with the income reinvested.

Portfolio figures: today's holdings (their current units) valued at each weekday's NAVs (the latest on or
before the day) since the first of them was opened - the performance of the portfolio as it stands now. The
risk-free rate of the Sharpe ratio is the one-year time deposit's rate in the catalogue (0.95% without one).

Who may read: the customer (their own; another customer's holdings are "not found"); staff with
:data:`smartbank.wealth.orders.ORDER_READERS` roles or administrators name the customer. Other modules (the
recommender, robo-advice) may pass a customer id directly: they are trusted code acting for the customer.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import analytics, products
from smartbank.wealth.models import UNIT, Holding, MoneyMarketIncome, WealthOrder, WealthProduct
from smartbank.wealth.orders import _reader_customer, order_view, proceeds_for, today
from smartbank.wealth.products import risk_free_rate

__all__ = ["customer_holdings", "held_products", "holders", "holding_starts", "portfolio_series"]


# ------------------------------------------------------------------------------------------------
# what other domains (the recommender) read about holdings: ids only, no personal figures


def held_products(session: Session, customer_id: int) -> set[int]:
    """Ids of the wealth products the customer holds (units, or units still being bought) or has a pending
    purchase of."""
    held = session.scalars(select(Holding.product_id).where(
        Holding.customer_id == customer_id, (Holding.units_micro > 0) | (Holding.pending_units_micro > 0)))
    buying = session.scalars(select(WealthOrder.product_id).where(
        WealthOrder.customer_id == customer_id, WealthOrder.kind == "purchase", WealthOrder.status == "pending"))
    return {int(i) for i in held} | {int(i) for i in buying}


def holders(session: Session) -> list[tuple[int, int]]:
    """(customer id, product id) of every current holding, units still being bought included."""
    return [(int(c), int(p)) for c, p in session.execute(select(Holding.customer_id, Holding.product_id).where(
        (Holding.units_micro > 0) | (Holding.pending_units_micro > 0)))]


def holding_starts(session: Session) -> list[tuple[int, int, datetime | None]]:
    """(customer id, product id, last change) of every holding with settled units."""
    return [(int(c), int(p), at) for c, p, at in session.execute(
        select(Holding.customer_id, Holding.product_id, Holding.updated_at).where(Holding.units_micro > 0))]


def _ffill(series: list[tuple[date, int]], days: list[date]) -> list[int | None]:
    out: list[int | None] = []
    i, last = 0, None
    for d in days:
        while i < len(series) and series[i][0] <= d:
            last = series[i][1]
            i += 1
        out.append(last)
    return out


def _money_market_income(session: Session, customer_id: int, product_id: int) -> dict[str, Any]:
    rows = session.execute(select(MoneyMarketIncome.day, MoneyMarketIncome.income_units_micro).where(
        MoneyMarketIncome.customer_id == customer_id, MoneyMarketIncome.product_id == product_id)
        .order_by(MoneyMarketIncome.day.desc())).all()
    return {"income_day": rows[0][0] if rows else None,
            "last_income_minor": proceeds_for(int(rows[0][1]), UNIT) if rows else 0,
            "total_income_minor": proceeds_for(sum(int(r[1]) for r in rows), UNIT)}


def portfolio_series(session: Session, units: dict[int, int], start: date, end: date) -> list[tuple[date, int]]:
    """``[(day, value in fen)]`` on the weekdays from ``start`` to ``end`` of fixed ``units`` (product id ->
    units_micro); a product counts from its first NAV on."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    days = [d for d in days if d.weekday() < 5]
    if not days:
        return []
    total = [0] * len(days)
    for pid, u in units.items():
        history = products.value_history(session, pid, end=end)
        navs = _ffill(history, days)
        # a money-market product: today's units (NAV 1) were fewer units earlier, by the income added since
        scale = Decimal(UNIT) / history[-1][1] if history and products.is_money_market(session, pid) else None
        for i, n in enumerate(navs):
            if n is not None:
                total[i] += proceeds_for(u, int(n * scale) if scale is not None else n)
    return [(d, v) for d, v in zip(days, total, strict=True) if v > 0]


def customer_holdings(session: Session, actor_or_customer_id: Principal | int, *, customer_id: int | None = None,
                      day: date | None = None, with_analytics: bool = True) -> dict[str, Any]:
    """Holdings with value and P&L (and figures), the totals, and the orders not settled yet."""
    if isinstance(actor_or_customer_id, int):
        cid = actor_or_customer_id
    else:
        cid = _reader_customer(actor_or_customer_id, customer_id)
        security.audit_reads(session, actor_or_customer_id, action="holdings.read", customer_ids=[cid])
    d = day or today()
    rf = risk_free_rate(session)
    rows = session.execute(select(Holding, WealthProduct).join(WealthProduct, WealthProduct.id == Holding.product_id)
                           .where(Holding.customer_id == cid, Holding.units_micro > 0)
                           .order_by(WealthProduct.kind, WealthProduct.risk_level, WealthProduct.code)).all()
    items: list[dict[str, Any]] = []
    total_value = total_cost = 0
    for h, p in rows:
        point = products.nav_point(session, p.id, d)
        nav = point[1] if point else None
        value = proceeds_for(h.units_micro, nav) if nav else 0
        pnl = value - h.cost_minor
        item = {"product_id": p.id, "code": p.code, "name_en": p.name_en, "name_zh": p.name_zh, "kind": p.kind,
                "risk_level": p.risk_level, "asset_class": p.asset_class, "currency": p.currency,
                "units_micro": h.units_micro, "pending_units_micro": h.pending_units_micro,
                "available_units_micro": h.units_micro - h.pending_units_micro,
                "nav_micro": nav, "nav_day": point[0] if point else None, "market_value_minor": value,
                "cost_minor": h.cost_minor, "pnl_minor": pnl, "return": pnl / h.cost_minor if h.cost_minor else None,
                "opened_on": h.opened_on, "term_days": p.term_days, "money_market": bool(p.money_market)}
        if p.money_market:  # the income credited as units: yesterday's (the latest day) and in all
            item.update(_money_market_income(session, cid, p.id))
        if with_analytics:
            start = h.opened_on or d
            navs = [n for _, n in products.value_history(session, p.id, start=start, end=d)]
            item["analytics"] = analytics.summary(navs, rf)
        items.append(item)
        total_value += value
        total_cost += h.cost_minor
    for it in items:
        it["weight"] = int(it["market_value_minor"]) / total_value if total_value else None
    pending = session.execute(select(WealthOrder, WealthProduct).join(
        WealthProduct, WealthProduct.id == WealthOrder.product_id).where(
        WealthOrder.customer_id == cid, WealthOrder.status == "pending").order_by(WealthOrder.id.desc())).all()
    out: dict[str, Any] = {
        "customer_id": cid, "day": d, "holdings": items, "market_value_minor": total_value,
        "cost_minor": total_cost, "pnl_minor": total_value - total_cost,
        "return": (total_value - total_cost) / total_cost if total_cost else None,
        "pending_orders": [order_view(o, p) for o, p in pending],
        "pending_purchase_minor": sum(int(o.amount_minor or 0) for o, _ in pending if o.kind == "purchase"),
        "risk_free": rf,
    }
    if with_analytics and items:
        start = min(h.opened_on or d for h, _ in rows)
        series = portfolio_series(session, {h.product_id: h.units_micro for h, _ in rows}, start, d)
        out["analytics"] = analytics.summary([v for _, v in series], rf)
        out["series"] = [(x.isoformat(), v) for x, v in series]
    else:
        out["analytics"] = None
        out["series"] = []
    return out
