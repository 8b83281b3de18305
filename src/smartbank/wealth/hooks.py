"""What wealth lets the domains above it plug in.

The recommender sits above wealth (it reads the grade in force and the catalogue to filter its lists), so
wealth never imports it. A purchase is behaviour the recommender learns from at once, so wealth owns a hook:

- **purchase placed** (:func:`on_purchase`): a customer bought a product (the cash has moved to custody; the
  order waits for its settle date). The recommender registers :func:`smartbank.recommend.events` 's listener
  when its front door is imported, and records a ``purchase`` event (and a ``conversion`` when the product was
  shown to the customer). Listeners run in the purchase's transaction; one that raises aborts the purchase.

An entry point that sells wealth products and wants the recommender told imports the recommender (the API and
web apps import every domain; the demo loader trains the recommender).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from smartbank.security.service import Principal

__all__ = ["Purchase", "PurchaseListener", "on_purchase", "purchase_placed"]


@dataclass(frozen=True)
class Purchase:
    """A purchase order just placed."""

    customer_id: int
    product_code: str
    order_id: int
    recommendation_id: int | None  # the served recommendation list it was bought from, if any
    at: datetime | None  # the time the caller gave the purchase (None: now)


PurchaseListener = Callable[[Session, Principal, Purchase], object]

_lock = threading.Lock()
_listeners: list[PurchaseListener] = []


def on_purchase(fn: PurchaseListener) -> PurchaseListener:
    """Call ``fn(session, actor, purchase)`` after every purchase is placed (registered once)."""
    with _lock:
        if fn not in _listeners:
            _listeners.append(fn)
    return fn


def purchase_placed(session: Session, actor: Principal, purchase: Purchase) -> None:
    """Tell every listener about ``purchase`` (in the caller's transaction)."""
    for fn in tuple(_listeners):
        fn(session, actor, purchase)
