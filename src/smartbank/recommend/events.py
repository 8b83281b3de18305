"""Implicit feedback and the serving record: ``rec_events``.

Events and what they mean to the model (weights in :data:`smartbank.recommend.engine.WEIGHTS`):

- ``view`` (0.15), ``click`` (0.4), ``purchase`` and ``hold`` (1.0): a customer's row keeps each item's
  strongest weight; ``dismiss`` keeps the item out of that customer's lists;
- ``impression``: an item shown in a served list (written by :func:`smartbank.recommend.service.recommend`);
  not used by the model (an unclicked impression is at most a weak negative; see docs/RECOMMEND.md);
- ``conversion``: a purchase of an item that was shown to the customer within
  :data:`CONVERSION_WINDOW_DAYS` days, attributed to the newest list that showed it (its slot and model
  version), or to the list the purchase names.

Customers record views, clicks and dismissals of their own lists (:func:`record`); a wealth purchase is
recorded with :func:`record_purchase` through the purchase hook wealth offers
(:func:`smartbank.wealth.service.on_purchase`, registered when this module is imported: wealth sits below the
recommender and never imports it);
:func:`sync_wealth` back-fills holdings and purchase orders written before the recommender existed, read
through the wealth service. Events reach this process's engine
when the transaction commits (nothing from a rolled-back transaction), other processes within seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from smartbank import clock, db
from smartbank.db import aware as _aware
from smartbank.errors import NotFound, ValidationFailed
from smartbank.recommend import engine as rec_engine
from smartbank.recommend.models import RecEvent, RecItem, RecServed
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import service as wealth

__all__ = ["CONVERSION_WINDOW_DAYS", "CUSTOMER_EVENTS", "after_commit", "record", "record_purchase",
           "sync_wealth"]

CUSTOMER_EVENTS = ("view", "click", "dismiss")
CONVERSION_WINDOW_DAYS = 7
SYNC_ROLES = security.roles_for("recommend.sync")


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` once the session's transaction commits (not when a savepoint is released); forget it if it
    rolls back. The shared mechanism is :func:`smartbank.db.after_commit`."""
    db.after_commit(session, fn)


def _observe_later(session: Session, events: list[tuple[int, int, str]]) -> None:
    bind = session.get_bind()
    after_commit(session, lambda: _observe_bind(bind, events))


def _observe_bind(bind: Any, events: list[tuple[int, int, str]]) -> None:
    eng = rec_engine._engines.get(str(bind.engine.url))
    if eng is not None:
        eng.observe(events)


def _item(session: Session, *, item_key: str | None = None, item_id: int | None = None) -> RecItem:
    if item_id is not None:
        item = session.get(RecItem, item_id)
    elif item_key:
        item = session.scalars(select(RecItem).where(RecItem.item_key == item_key)).first()
    else:
        raise ValidationFailed("name the item (item_key)", reason="recommend.item_required")
    if item is None:
        raise NotFound("no such item", reason="recommend.item_not_found",
                       details={"item_key": item_key, "item_id": item_id})
    return item


def _served_of(session: Session, actor: Principal, served_id: int) -> RecServed:
    s = session.get(RecServed, served_id)
    if s is None or s.customer_id != actor.customer_id:
        raise NotFound("no such recommendation list", reason="recommend.list_not_found",
                       details={"served_id": served_id})
    return s


def record(session: Session, actor: Principal, *, event: str, item_key: str | None = None,
           item_id: int | None = None, served_id: int | None = None) -> dict[str, Any]:
    """A customer's own view, click or dismissal. A click or dismissal names the served list it came from
    (it must be the customer's and show the item); a view may name none."""
    if actor.role != "customer" or actor.customer_id is None:
        raise NotFound("recommendations are for customers", reason="recommend.customer_only")
    if event not in CUSTOMER_EVENTS:
        raise ValidationFailed("unknown event", reason="recommend.unknown_event",
                               details={"event": event, "allowed": list(CUSTOMER_EVENTS)})
    item = _item(session, item_key=item_key, item_id=item_id)
    slot = model_version = None
    if served_id is not None:
        served = _served_of(session, actor, served_id)
        if item.id not in {int(i.get("item_id", 0)) for i in served.items or []}:
            raise ValidationFailed("that item was not in that list", reason="recommend.item_not_in_list",
                                   details={"served_id": served_id, "item_key": item.item_key})
        slot, model_version = served.slot, served.model_version
    elif event != "view":
        raise ValidationFailed(f"a {event} names the list it came from (served_id)",
                               reason="recommend.served_id_required",
                               details={"event": event})
    e = RecEvent(customer_id=actor.customer_id, item_id=item.id, event=event, weight=1.0, served_id=served_id,
                 slot=slot, model_version=model_version, at=clock.now())
    session.add(e)
    session.flush()
    _observe_later(session, [(actor.customer_id, item.id, event)])
    return {"id": e.id, "event": event, "item_key": item.item_key, "served_id": served_id}


def _attribute(session: Session, customer_id: int, item_id: int, at: datetime,
               served_id: int | None = None) -> RecServed | None:
    """The list a purchase at ``at`` is attributed to: the one it names (if it showed the item to this
    customer), else the newest list that showed the item within the window before ``at``."""
    since = at - timedelta(days=CONVERSION_WINDOW_DAYS)
    if served_id is not None:
        s = session.get(RecServed, served_id)
        if s is not None and s.customer_id == customer_id and \
                item_id in {int(i.get("item_id", 0)) for i in s.items or []}:
            return s
    q = (select(RecServed).where(RecServed.customer_id == customer_id, RecServed.at >= since,
                                 RecServed.at <= at + timedelta(seconds=1))
         .order_by(RecServed.at.desc(), RecServed.id.desc()))
    for s in session.scalars(q):
        if item_id in {int(i.get("item_id", 0)) for i in s.items or []}:
            return s
    return None


def _purchase_rows(session: Session, customer_id: int, item: RecItem, at: datetime,
                   served_id: int | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"customer_id": customer_id, "item_id": item.id, "event": "purchase",
                                   "weight": 1.0, "served_id": None, "slot": None, "model_version": None, "at": at}]
    s = _attribute(session, customer_id, item.id, at, served_id)
    if s is not None:
        rows[0].update(served_id=s.id, slot=s.slot, model_version=s.model_version)
        rows.append({"customer_id": customer_id, "item_id": item.id, "event": "conversion", "weight": 1.0,
                     "served_id": s.id, "slot": s.slot, "model_version": s.model_version, "at": at})
    return rows


def record_purchase(session: Session, actor: Principal, *, customer_id: int, item_key: str,
                    served_id: int | None = None, at: datetime | None = None) -> dict[str, Any]:
    """A purchase (a wealth order placed, a loan taken): a ``purchase`` event and, when the item was shown
    to the customer within the window, a ``conversion`` attributed to that list. Called by the selling
    service inside its own transaction; a customer may record only their own purchases."""
    if actor.role == "customer" and actor.customer_id != customer_id:
        raise NotFound("customer not found", details={"customer_id": customer_id})
    item = _item(session, item_key=item_key)
    at = at or clock.now()
    rows = _purchase_rows(session, customer_id, item, at, served_id)
    session.execute(insert(RecEvent), rows)
    _observe_later(session, [(customer_id, item.id, "purchase")])
    conv = rows[1] if len(rows) > 1 else None
    return {"item_key": item.item_key, "conversion": conv is not None,
            "served_id": conv["served_id"] if conv else None}


def sync_wealth(session: Session, actor: Principal) -> dict[str, int]:
    """Back-fill from the wealth tables: a ``hold`` event per current holding without one, and a ``purchase``
    (with its conversion, if any) per purchase order without one - an order's event is known by its
    customer, item and time, so running this again adds nothing."""
    actor.require_role(*SYNC_ROLES)
    wealth_items = {int(r): int(i) for i, r in session.execute(
        select(RecItem.id, RecItem.ref_id).where(RecItem.item_type == "wealth", RecItem.ref_id.is_not(None)))
        if r is not None}
    by_id = {i.id: i for i in session.scalars(select(RecItem).where(RecItem.item_type == "wealth"))}
    have_hold = {(int(c), int(i)) for c, i in session.execute(
        select(RecEvent.customer_id, RecEvent.item_id).where(RecEvent.event == "hold"))}
    have_buy = {(int(c), int(i), _aware(a).replace(microsecond=0)) for c, i, a in session.execute(
        select(RecEvent.customer_id, RecEvent.item_id, RecEvent.at).where(RecEvent.event == "purchase"))}
    rows: list[dict[str, Any]] = []
    holds = 0
    for c, p, opened in wealth.holding_starts(session):
        i = wealth_items.get(int(p))
        if i is not None and (int(c), i) not in have_hold:
            rows.append({"customer_id": int(c), "item_id": i, "event": "hold", "weight": 1.0, "served_id": None,
                         "slot": None, "model_version": None,
                         "at": _aware(opened) if isinstance(opened, datetime) else clock.now()})
            have_hold.add((int(c), i))
            holds += 1
    buys = conversions = 0
    for c, p, created, rec_id in wealth.purchase_orders(session):
        i = wealth_items.get(int(p))
        if i is None:
            continue
        at = _aware(created) if isinstance(created, datetime) else clock.now()
        if (int(c), i, at.replace(microsecond=0)) in have_buy:
            continue
        new = _purchase_rows(session, int(c), by_id[i], at, int(rec_id) if rec_id else None)
        rows += new
        have_buy.add((int(c), i, at.replace(microsecond=0)))
        buys += 1
        conversions += len(new) - 1
    if rows:
        session.execute(insert(RecEvent), rows)
        _observe_later(session, [(r["customer_id"], r["item_id"], r["event"]) for r in rows])
    return {"holds": holds, "purchases": buys, "conversions": conversions}


def _wealth_purchased(session: Session, actor: Principal, purchase: wealth.Purchase) -> None:
    """The wealth purchase hook: a purchase is behaviour the recommender learns from at once (and a conversion
    when the product was shown to the customer). A product the recommender does not list yet is simply not
    recorded here (and nothing this wrote is kept)."""
    try:
        with session.begin_nested():
            record_purchase(session, actor, customer_id=purchase.customer_id,
                            item_key=f"wealth:{purchase.product_code}", served_id=purchase.recommendation_id,
                            at=purchase.at)
    except NotFound:
        pass


wealth.on_purchase(_wealth_purchased)
