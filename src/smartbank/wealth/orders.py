"""Purchases and redemptions: cash <-> units at NAV, through the ledger, settled at close of day.

Money (every move a ``ledger.transfer`` with a key derived from the order):

- purchase, at once: the customer's open demand (or savings) account -> the product's custody account
  (internal, purpose ``wealth_custody``, one per product), kind ``wealth_purchase``, key ``wealth:purchase:<order>``;
- at settlement (close of day of ``settle_date`` = trade date + ``settlement_days`` weekdays), the
  subscription fee custody -> the bank's ``fees`` account (``wealth_fee``, ``wealth:fee:<order>``);
- redemption, at settlement: custody -> the customer's account (``wealth_redemption``, ``wealth:redeem:<order>``)
  and the redemption fee custody -> ``fees``;
- time deposits at maturity: their interest interest_expense -> custody (``interest``,
  ``wealth:interest:<order>``), then principal and interest custody -> the account they came from.

Arithmetic (exact integers; 1 unit at NAV 1.000000 is worth 1 yuan = 100 fen):

- subscription fee ``fee = round_half_even(amount * subscription_fee_bps / 10000)``;
- units ``units_micro = floor((amount - fee) * 10**10 / nav_micro)`` - rounded down, so the units never
  claim more than the cash paid for them; the sub-unit residue stays in the product (its custody account);
- redemption ``gross = floor(units_micro * nav_micro / 10**10)`` fen (rounded down again),
  ``fee = round_half_even(gross * redemption_fee_bps / 10000)``, ``proceeds = gross - fee``;
- both fill at the NAV of the trade date (the latest NAV on or before it; fixed-rate products use their
  closed form on the exact day).

Time deposits: bought like any product (no fee, ``settlement_days`` 0: the units exist that evening) and paid
back automatically at maturity (settle date + ``term_days``) as principal + simple interest
``round_half_even(amount * rate_bps * term_days / 3_650_000)``, which is what a fixed deposit pays. A time
deposit cannot be redeemed before its term (a redemption request is a 409 naming the maturity dates).

The customer's average cost (``holdings.cost_minor``) includes the subscription fee; a redemption removes the
redeemed share of it (half-even; all of it when the last units go).

Money-market products (NAV fixed at 1.000000): :func:`accrue_income`, at close of day, credits each holding the
day's income as additional units, ``floor(units * income_per_10k_micro / 10**10)`` units_micro on the units not
being redeemed; one ``money_market_income`` row per customer, product and day makes a rerun credit nothing.

Idempotency: the client's key, namespaced by user. The same key with the same request returns the original
order; with a different request it is a 409. :func:`settle_day` is safe to rerun: only pending orders are
settled, each transfer's key is derived from its order, and the maturity orders' keys from the purchase.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import Conflict, Forbidden, IdempotencyConflict, InsufficientFunds, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.money import MAX_MINOR, round_minor
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import hooks, products, suitability
from smartbank.wealth.models import Holding, MoneyMarketIncome, ProductNav, WealthOrder, WealthProduct

__all__ = ["ORDER_READERS", "SCALE", "accrue_income", "available_to_invest", "cancel", "fee_for", "get_order",
           "is_placed", "list_orders", "proceeds_for", "purchase", "redeem", "settle_day", "today", "units_for",
           "was_replayed"]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
SCALE = 10**10  # fen * 10**10 / nav_micro = units_micro (1 unit at 1.000000 = 100 fen)
ORDER_READERS = security.roles_for("wealth.orders.read")
CASH_ACCOUNT_KINDS = ("demand", "savings")


def today(now: datetime | None = None) -> date:
    return (now or clock.now()).astimezone(LOCAL_TZ).date()


def add_weekdays(d: date, n: int) -> date:
    while n > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


# ------------------------------------------------------------------------------------------------
# arithmetic


def fee_for(amount_minor: int, bps: int) -> int:
    return round_minor(Decimal(amount_minor) * bps / Decimal(10_000)) if bps else 0


def units_for(net_minor: int, nav_micro: int) -> int:
    return net_minor * SCALE // nav_micro


def proceeds_for(units_micro: int, nav_micro: int) -> int:
    return units_micro * nav_micro // SCALE


def deposit_interest(amount_minor: int, rate_bps: int, days: int) -> int:
    return round_minor(Decimal(amount_minor) * rate_bps * days / Decimal(3_650_000))


def fill_nav(session: Session, product: WealthProduct, day: date) -> int | None:
    if product.rate_bps is not None and product.kind in ("time_deposit", "insurance") and product.launched_on:
        return products.fixed_nav(product.rate_bps, product.launched_on, day)
    return products.nav_on(session, product.id, day)


# ------------------------------------------------------------------------------------------------
# helpers


def _customer(actor: Principal) -> int:
    if actor.is_staff or actor.customer_id is None:
        raise Forbidden("orders are placed by the customer", reason="wealth.customer_only",
                        details={"role": actor.role})
    return actor.customer_id


def _key(actor: Principal, key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > 128:
        raise ValidationFailed("an idempotency key of 1-128 characters is required",
                               reason="wealth.bad_idempotency_key",
                               details={"idempotency_key": key})
    return f"u{actor.user_id}:{key}"


def _replayed(order: WealthOrder) -> WealthOrder:
    order._replayed = True  # type: ignore[attr-defined]
    return order


def was_replayed(order: WealthOrder) -> bool:
    """True when :func:`purchase` / :func:`redeem` returned an order made by an earlier request."""
    return bool(getattr(order, "_replayed", False))


def _by_key(session: Session, key: str) -> WealthOrder | None:
    return session.scalars(select(WealthOrder).where(WealthOrder.idempotency_key == key)).first()


def _insert(session: Session, order: WealthOrder, same_request: Callable[[WealthOrder], bool]) -> WealthOrder | None:
    """Insert a new order. When a concurrent request with the same key inserted its order after our look-up
    (the unique key refuses ours), that order is returned replayed - or a conflict when it was another
    request - and nothing of ours is written past this point."""
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError as exc:
        old = _by_key(session, order.idempotency_key)
        if old is None:
            raise Conflict("the order could not be recorded; try again", reason="wealth.order_not_recorded") from exc
        if not same_request(old):
            raise IdempotencyConflict("this idempotency key was already used for a different request",
                                      details={"order_id": old.id}) from exc
        return _replayed(old)
    return None


def _cash_account(session: Session, customer_id: int, account_id: int, currency: str) -> Any:
    acct = ledger.find_account(session, account_id)
    if acct is None or acct.customer_id != customer_id:
        raise NotFound("account not found", details={"account_id": account_id})
    if acct.kind not in CASH_ACCOUNT_KINDS:
        raise ValidationFailed("wealth products are bought and paid out through a deposit account",
                               reason="wealth.not_a_deposit_account",
                               details={"account_id": account_id})
    if acct.status != "open":
        raise ValidationFailed("the account is not open", reason="wealth.account_not_open",
                               details={"account_id": account_id, "status": acct.status})
    if acct.currency != currency:
        raise ValidationFailed("the account's currency is not the product's", reason="wealth.currency_mismatch",
                               details={"account_currency": acct.currency, "product_currency": currency})
    return acct


def available_to_invest(session: Session, actor: Principal, account_id: int, currency: str = "CNY") -> int:
    """The available balance (fen) of the customer's own open deposit account that would pay for a purchase
    (the same checks as :func:`purchase`; an overdraft is not money to invest)."""
    acct = _cash_account(session, _customer(actor), account_id, currency)
    session.refresh(acct)
    return int(acct.available_minor)


def is_placed(session: Session, actor: Principal, idempotency_key: str) -> bool:
    """True when the customer already placed an order with this idempotency key."""
    return _by_key(session, _key(actor, idempotency_key)) is not None


def _holding(session: Session, customer_id: int, product_id: int, *, lock: bool = False) -> Holding | None:
    stmt = select(Holding).where(Holding.customer_id == customer_id, Holding.product_id == product_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def _move(session: Session, *, key: str, debit: int, credit: int, amount: int, currency: str, kind: str, memo: str,
          order: WealthOrder, by: int | None, day: date) -> int:
    res = ledger.transfer(session, ledger.TransferCommand(
        key=key, debit_account_id=debit, credit_account_id=credit, amount_minor=amount, currency=currency, kind=kind,
        memo=memo[:200], reference=f"wealth_order:{order.id}", initiated_by=by, value_date=day))
    return res.id


# ------------------------------------------------------------------------------------------------
# purchase


def purchase(session: Session, actor: Principal, *, product_code: str, account_id: int, amount_minor: int,
             idempotency_key: str, acknowledgement: str | None = None, channel: str = "web",
             recommendation_id: int | None = None, now: datetime | None = None) -> WealthOrder:
    """Buy ``amount_minor`` of a product from the customer's own account. Checks, in order: the request,
    the product (active), the account (the customer's own, open, a deposit account in the product's
    currency), minimum and step, the balance, then suitability (which writes its check; a refusal keeps it
    and raises). Then the cash moves to custody at once and the order waits for its settle date."""
    cid = _customer(actor)
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or not 0 < amount_minor <= MAX_MINOR:
        raise ValidationFailed("the amount must be a positive whole number of fen", reason="wealth.bad_amount",
                               details={"amount_minor": amount_minor})
    k = _key(actor, idempotency_key)
    product = products.get_product(session, product_code)

    def same_request(old: WealthOrder) -> bool:
        return (old.kind, old.product_id, old.account_id, old.amount_minor) == ("purchase", product.id, account_id,
                                                                              amount_minor)

    if (old := _by_key(session, k)) is not None:
        if not same_request(old):
            raise IdempotencyConflict("this idempotency key was already used for a different request",
                                      details={"order_id": old.id})
        return _replayed(old)
    if product.status != "active":
        raise Conflict("this product is closed to new purchases", reason="wealth.product_closed",
                       details={"code": product.code})
    acct = _cash_account(session, cid, account_id, product.currency)
    if amount_minor < product.min_amount_minor:
        raise ValidationFailed("the amount is below the product's minimum", reason="wealth.below_minimum",
                               details={"min_amount_minor": product.min_amount_minor, "amount_minor": amount_minor})
    if product.step_minor > 1 and amount_minor % product.step_minor:
        raise ValidationFailed("the amount must be a multiple of the product's step",
                               reason="wealth.not_a_step_multiple",
                               details={"step_minor": product.step_minor, "amount_minor": amount_minor})
    session.refresh(acct)
    limit = acct.overdraft_limit_minor
    if limit is not None and acct.available_minor + limit < amount_minor:
        raise InsufficientFunds("the account does not hold enough for this purchase",
                                details={"account_id": acct.id, "available_minor": acct.available_minor})
    trade = today(now)
    check = suitability.assess_purchase(session, actor, product, acknowledgement=acknowledgement, channel=channel,
                                        now=now)
    order = WealthOrder(idempotency_key=k, customer_id=cid, product_id=product.id, account_id=acct.id,
                        kind="purchase", status="pending", amount_minor=amount_minor, fee_minor=0, trade_date=trade,
                        settle_date=add_weekdays(trade, product.settlement_days), suitability_check_id=check.id,
                        recommendation_id=recommendation_id, channel=(channel or "web")[:16])
    if (earlier := _insert(session, order, same_request)) is not None:
        return earlier  # the same key bought concurrently: its order, not a second one
    custody = products.custody_account(session, product)
    tid = _move(session, key=f"wealth:purchase:{order.id}", debit=acct.id, credit=custody, amount=amount_minor,
                currency=product.currency, kind="wealth_purchase", memo=f"buy {product.code}", order=order,
                by=actor.user_id, day=trade)
    order.transfer_ids = [tid]
    check.order_id = order.id
    session.flush()
    _tell_listeners(session, actor, order, product, now)
    return order


def _tell_listeners(session: Session, actor: Principal, order: WealthOrder, product: WealthProduct,
                    now: datetime | None) -> None:
    """A purchase is behaviour the recommender learns from at once (:mod:`smartbank.wealth.hooks`)."""
    hooks.purchase_placed(session, actor, hooks.Purchase(
        customer_id=order.customer_id, product_code=product.code, order_id=order.id,
        recommendation_id=order.recommendation_id, at=now))


# ------------------------------------------------------------------------------------------------
# redemption


def _maturities(session: Session, customer_id: int, product: WealthProduct) -> list[date]:
    rows = session.scalars(select(WealthOrder).where(
        WealthOrder.customer_id == customer_id, WealthOrder.product_id == product.id, WealthOrder.kind == "purchase",
        WealthOrder.status.in_(("pending", "settled"))))
    return sorted({o.settle_date + timedelta(days=product.term_days or 0) for o in rows})


def redeem(session: Session, actor: Principal, *, product_code: str, units_micro: int | None, account_id: int,
           idempotency_key: str, channel: str = "web", now: datetime | None = None) -> WealthOrder:
    """Sell units (None: every unit not already being sold) into the customer's own account. The units are
    locked at once (``pending_units_micro``); the cash is paid at settlement."""
    cid = _customer(actor)
    if units_micro is not None and (not isinstance(units_micro, int) or isinstance(units_micro, bool)
                                    or not 0 < units_micro <= 10**18):
        raise ValidationFailed("units must be a positive whole number of millionths", reason="wealth.bad_units",
                               details={"units_micro": units_micro})
    k = _key(actor, idempotency_key)
    product = products.get_product(session, product_code)

    def same_request(old: WealthOrder) -> bool:
        return (old.kind, old.product_id, old.account_id) == ("redemption", product.id, account_id) and (
            units_micro is None or units_micro == old.units_micro)

    if (old := _by_key(session, k)) is not None:
        if not same_request(old):
            raise IdempotencyConflict("this idempotency key was already used for a different request",
                                      details={"order_id": old.id})
        return _replayed(old)
    acct = _cash_account(session, cid, account_id, product.currency)
    if product.kind == "time_deposit":
        raise Conflict("a time deposit is paid back automatically at maturity and cannot be redeemed before",
                       reason="wealth.time_deposit_not_redeemable",
                       details={"code": product.code,
                                "maturities": [d.isoformat() for d in _maturities(session, cid, product)]})
    h = _holding(session, cid, product.id, lock=True)
    free = (h.units_micro - h.pending_units_micro) if h is not None else 0
    if free <= 0:
        raise ValidationFailed("you hold no units of this product to redeem", reason="wealth.nothing_to_redeem",
                               details={"code": product.code})
    units = free if units_micro is None else units_micro
    if units > free:
        raise ValidationFailed("that is more units than you hold", reason="wealth.more_than_held",
                               details={"available_units_micro": free, "units_micro": units,
                                        "available_units": free / 1_000_000})
    assert h is not None
    trade = today(now)
    order = WealthOrder(idempotency_key=k, customer_id=cid, product_id=product.id, account_id=acct.id,
                        kind="redemption", status="pending", units_micro=units, fee_minor=0, trade_date=trade,
                        settle_date=add_weekdays(trade, product.settlement_days), channel=(channel or "web")[:16])
    if (earlier := _insert(session, order, same_request)) is not None:
        return earlier
    h.pending_units_micro += units
    session.flush()
    return order


def cancel(session: Session, actor: Principal, order_id: int, *, now: datetime | None = None) -> WealthOrder:
    """Cancel a pending order on its trade date (before that day's close): a purchase's cash goes back to the
    account, a redemption's units are unlocked."""
    cid = _customer(actor)
    order = session.get(WealthOrder, order_id)
    if order is None or order.customer_id != cid:
        raise NotFound("order not found", reason="wealth.order_not_found", details={"order_id": order_id})
    if order.status == "cancelled":
        return order
    if order.status != "pending" or order.trade_date != today(now):
        raise Conflict("only a pending order can be cancelled, on its trade date", reason="wealth.not_cancellable",
                       details={"status": order.status, "trade_date": order.trade_date.isoformat()})
    product = session.get(WealthProduct, order.product_id)
    assert product is not None
    if order.kind == "purchase":
        tid = _move(session, key=f"wealth:cancel:{order.id}", debit=products.custody_account(session, product),
                    credit=order.account_id, amount=int(order.amount_minor or 0), currency=product.currency,
                    kind="wealth_redemption", memo=f"cancelled purchase of {product.code}", order=order,
                    by=actor.user_id, day=order.trade_date)
        order.transfer_ids = [*(order.transfer_ids or []), tid]
    else:
        h = _holding(session, cid, product.id, lock=True)
        if h is not None:
            h.pending_units_micro -= int(order.units_micro or 0)
    order.status = "cancelled"
    session.flush()
    return order


# ------------------------------------------------------------------------------------------------
# settlement (close of day)


def _settle_purchase(session: Session, order: WealthOrder, product: WealthProduct, day: date, nav: int) -> int:
    amount = int(order.amount_minor or 0)
    fee = fee_for(amount, product.subscription_fee_bps) if product.kind != "time_deposit" else 0
    units = units_for(amount - fee, nav)
    ids = list(order.transfer_ids or [])
    if fee:
        ids.append(_move(session, key=f"wealth:fee:{order.id}", debit=products.custody_account(session, product),
                         credit=ledger.internal_account(session, "fees", product.currency).id, amount=fee,
                         currency=product.currency, kind="wealth_fee", memo=f"subscription fee {product.code}",
                         order=order, by=None, day=day))
    h = _holding(session, order.customer_id, product.id, lock=True)
    if h is None:
        h = Holding(customer_id=order.customer_id, product_id=product.id, units_micro=0, pending_units_micro=0,
                    cost_minor=0, opened_on=order.trade_date)
        session.add(h)
    elif h.units_micro == 0:
        h.opened_on = order.trade_date
    h.units_micro += units
    h.cost_minor += amount
    h.updated_at = ledger.utcnow()
    order.units_micro, order.fee_minor, order.nav_micro, order.transfer_ids = units, fee, nav, ids
    session.flush()  # the next order of the same holding must find it
    return fee


def _settle_redemption(session: Session, order: WealthOrder, product: WealthProduct, day: date, nav: int,
                       *, matured_from: WealthOrder | None = None) -> tuple[int, int]:
    units = int(order.units_micro or 0)
    custody = products.custody_account(session, product)
    ids = list(order.transfer_ids or [])
    if matured_from is not None:  # a time deposit: principal + simple interest for the term
        principal = int(matured_from.amount_minor or 0)
        interest = deposit_interest(principal, product.rate_bps or 0, product.term_days or 0)
        gross, fee = principal + interest, 0
        if interest:
            ids.append(_move(session, key=f"wealth:interest:{order.id}",
                             debit=ledger.internal_account(session, "interest_expense", product.currency).id,
                             credit=custody, amount=interest, currency=product.currency, kind="interest",
                             memo=f"{product.code} interest", order=order, by=None, day=day))
    else:
        gross = proceeds_for(units, nav)
        fee = fee_for(gross, product.redemption_fee_bps)
    proceeds = gross - fee
    if proceeds > 0:
        ids.append(_move(session, key=f"wealth:redeem:{order.id}", debit=custody, credit=order.account_id,
                         amount=proceeds, currency=product.currency, kind="wealth_redemption",
                         memo=f"{'maturity' if matured_from else 'redeem'} {product.code}", order=order, by=None,
                         day=day))
    if fee:
        ids.append(_move(session, key=f"wealth:fee:{order.id}", debit=custody,
                         credit=ledger.internal_account(session, "fees", product.currency).id, amount=fee,
                         currency=product.currency, kind="wealth_fee", memo=f"redemption fee {product.code}",
                         order=order, by=None, day=day))
    h = _holding(session, order.customer_id, product.id, lock=True)
    if h is not None:
        before = h.units_micro
        removed = h.cost_minor if units >= before else round_minor(Decimal(h.cost_minor) * units / Decimal(before))
        h.units_micro -= units
        h.pending_units_micro -= units
        h.cost_minor -= removed
        h.updated_at = ledger.utcnow()
    order.fee_minor, order.nav_micro, order.proceeds_minor, order.transfer_ids = fee, nav, proceeds, ids
    session.flush()
    return proceeds, fee


def _mature(session: Session, day: date, out: dict[str, int]) -> None:
    """Time deposits whose term ends on or before ``day``: a redemption order per purchase (key from the
    purchase, so exactly once), settled at once."""
    for product in session.scalars(select(WealthProduct).where(WealthProduct.kind == "time_deposit")
                                   .order_by(WealthProduct.id)):
        cutoff = day - timedelta(days=product.term_days or 0)
        due = list(session.scalars(select(WealthOrder).where(
            WealthOrder.product_id == product.id, WealthOrder.kind == "purchase", WealthOrder.status == "settled",
            WealthOrder.settle_date <= cutoff).order_by(WealthOrder.id)))
        for p in due:
            key = f"sys:mature:{p.id}"
            if _by_key(session, key) is not None:
                continue
            maturity = p.settle_date + timedelta(days=product.term_days or 0)
            acct = ledger.get_account(session, p.account_id)
            if acct.status == "closed":
                out["blocked"] += 1
                continue
            order = WealthOrder(idempotency_key=key, customer_id=p.customer_id, product_id=product.id,
                                account_id=p.account_id, kind="redemption", status="pending",
                                units_micro=p.units_micro, fee_minor=0, trade_date=maturity, settle_date=maturity,
                                channel="system")
            session.add(order)
            h = _holding(session, p.customer_id, product.id, lock=True)
            if h is not None:
                h.pending_units_micro += int(p.units_micro or 0)
            session.flush()
            nav = fill_nav(session, product, maturity) or products.UNIT
            proceeds, _ = _settle_redemption(session, order, product, day, nav, matured_from=p)
            order.status, order.settled_at = "settled", ledger.utcnow()
            session.flush()
            out["matured"] += 1
            out["paid_out_minor"] += proceeds


def accrue_income(session: Session, day: date) -> dict[str, int]:
    """Credit the money-market income published for ``day`` to every holding of those products, as units (NAV 1:
    a unit is a yuan). Earns: the settled units not being redeemed. Safe to rerun: a holding credited for the
    day is not credited again."""
    out = {"money_market_credits": 0, "money_market_income_units_micro": 0}
    rows = session.execute(select(ProductNav.product_id, ProductNav.income_per_10k_micro).join(
        WealthProduct, WealthProduct.id == ProductNav.product_id).where(
        WealthProduct.money_market.is_(True), ProductNav.day == day,
        ProductNav.income_per_10k_micro.is_not(None))).all()
    for pid, income_or_none in rows:
        income = int(income_or_none or 0)
        done = set(session.scalars(select(MoneyMarketIncome.customer_id).where(
            MoneyMarketIncome.product_id == pid, MoneyMarketIncome.day == day)))
        stmt = select(Holding).where(Holding.product_id == pid, Holding.units_micro > 0).order_by(Holding.id)
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        for h in session.scalars(stmt):
            earning = h.units_micro - h.pending_units_micro
            if h.customer_id in done or earning <= 0:
                continue
            units = earning * income // SCALE
            session.add(MoneyMarketIncome(customer_id=h.customer_id, product_id=pid, day=day, units_micro=earning,
                                          income_per_10k_micro=income, income_units_micro=units))
            h.units_micro += units
            out["money_market_credits"] += 1
            out["money_market_income_units_micro"] += units
    session.flush()
    return out


def settle_day(session: Session, day: date) -> dict[str, int]:
    """Close of day: pay back time deposits that reached their term, then settle every pending order whose
    settle date has come (purchases into units, redemptions into cash). Orders whose trade-date NAV is not
    published yet, or whose payout account was closed, wait. Rerunning posts nothing new."""
    out = {"purchases_settled": 0, "redemptions_settled": 0, "matured": 0, "fees_minor": 0, "paid_out_minor": 0,
           "waiting": 0, "blocked": 0}
    _mature(session, day, out)
    session.flush()
    pending = list(session.scalars(select(WealthOrder).where(
        WealthOrder.status == "pending", WealthOrder.settle_date <= day).order_by(WealthOrder.id)))
    cache: dict[int, WealthProduct] = {}
    for order in pending:
        product = cache.get(order.product_id) or session.get(WealthProduct, order.product_id)
        assert product is not None
        cache[product.id] = product
        nav = fill_nav(session, product, order.trade_date)
        if nav is None:
            out["waiting"] += 1
            continue
        if order.kind == "purchase":
            out["fees_minor"] += _settle_purchase(session, order, product, day, nav)
            out["purchases_settled"] += 1
        else:
            if ledger.get_account(session, order.account_id).status == "closed":
                out["blocked"] += 1
                continue
            proceeds, fee = _settle_redemption(session, order, product, day, nav)
            out["fees_minor"] += fee
            out["paid_out_minor"] += proceeds
            out["redemptions_settled"] += 1
        order.status, order.settled_at = "settled", ledger.utcnow()
    session.flush()
    return out


# ------------------------------------------------------------------------------------------------
# read side


def purchase_orders(session: Session) -> list[tuple[int, int, datetime, int | None]]:
    """(customer id, product id, placed at, recommendation id) of every purchase order not cancelled or failed,
    oldest first (what the recommender back-fills its purchase events from)."""
    return [(int(c), int(p), at, int(r) if r else None) for c, p, at, r in session.execute(
        select(WealthOrder.customer_id, WealthOrder.product_id, WealthOrder.created_at, WealthOrder.recommendation_id)
        .where(WealthOrder.kind == "purchase", WealthOrder.status.in_(("pending", "settled")))
        .order_by(WealthOrder.id))]


def order_view(o: WealthOrder, p: WealthProduct | None) -> dict[str, Any]:
    return {"id": o.id, "kind": o.kind, "status": o.status, "customer_id": o.customer_id, "product_id": o.product_id,
            "product_code": p.code if p else None, "product_name_en": p.name_en if p else None,
            "product_name_zh": p.name_zh if p else None, "currency": p.currency if p else "CNY",
            "account_id": o.account_id, "amount_minor": o.amount_minor, "units_micro": o.units_micro,
            "fee_minor": o.fee_minor, "nav_micro": o.nav_micro, "proceeds_minor": o.proceeds_minor,
            "trade_date": o.trade_date, "settle_date": o.settle_date, "transfer_ids": list(o.transfer_ids or []),
            "suitability_check_id": o.suitability_check_id, "recommendation_id": o.recommendation_id,
            "channel": o.channel, "created_at": o.created_at, "settled_at": o.settled_at}


def _reader_customer(actor: Principal, customer_id: int | None) -> int:
    if actor.is_staff:
        actor.require_role(*ORDER_READERS)
        if customer_id is None:
            raise ValidationFailed("which customer?", reason="wealth.customer_required")
        return customer_id
    if actor.customer_id is None or (customer_id is not None and customer_id != actor.customer_id):
        raise NotFound("customer not found", details={"customer_id": customer_id})
    return actor.customer_id


def list_orders(session: Session, actor: Principal, customer_id: int | None = None, *, status: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
    """A customer's orders, newest first (staff readers name the customer)."""
    cid = _reader_customer(actor, customer_id)
    security.audit_reads(session, actor, action="wealth_orders.read", customer_ids=[cid])
    stmt = select(WealthOrder, WealthProduct).join(WealthProduct, WealthProduct.id == WealthOrder.product_id).where(
        WealthOrder.customer_id == cid)
    if status:
        stmt = stmt.where(WealthOrder.status == status)
    stmt = stmt.order_by(WealthOrder.id.desc()).limit(max(1, min(limit, 500)))
    return [order_view(o, p) for o, p in session.execute(stmt).all()]


def get_order(session: Session, actor: Principal, order_id: int) -> dict[str, Any]:
    o = session.get(WealthOrder, order_id)
    if o is None:
        raise NotFound("order not found", reason="wealth.order_not_found", details={"order_id": order_id})
    if actor.is_staff:
        actor.require_role(*ORDER_READERS)
    elif actor.customer_id is None or o.customer_id != actor.customer_id:
        raise NotFound("order not found", reason="wealth.order_not_found", details={"order_id": order_id})
    security.audit_reads(session, actor, action="wealth_order.read", customer_ids=[o.customer_id],
                         shown={"order_id": o.id})
    return order_view(o, session.get(WealthProduct, o.product_id))
