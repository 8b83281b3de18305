"""What risk lets the domains above it plug in.

Risk sits below payments and lending (payments calls risk to score every payment; lending asks risk for a
customer's fraud flags), so risk never imports them. Where risk needs something only they know, it owns a
hook here and they register with it when their module is imported (through :mod:`smartbank.risk.service`):

- **payment voided** (:func:`on_payment_voided`): a risk officer stopped a customer payment held for review
  (the hold is voided; nothing was paid). Payments registers :func:`smartbank.payments.service.reopen_bill_paid_by`
  so that a stopped bill payment leaves its bill unpaid. Listeners run in the resolution's transaction.
- **provided metrics** (:func:`provide_metric`): a KRI metric another domain computes from its own tables.
  Lending provides ``delinquency_rate``, opinion ``reputational_risk``; until a provider is registered the
  metric has no data (``None``).

An entry point that runs risk work depending on such a hook imports the providing domain (the API and web
apps import every domain; close of day imports lending and payments; ``smartbank risk monitor`` imports
lending).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

__all__ = ["PROVIDED_METRICS", "Metric", "PaymentVoided", "metric_provider", "on_payment_voided", "payment_voided",
           "provide_metric"]

PaymentVoided = Callable[[Session, int], object]
Metric = Callable[[Session, datetime, datetime], float | None]

# the metrics of risk.monitor.METRICS that another domain computes
PROVIDED_METRICS = frozenset({"delinquency_rate", "reputational_risk"})

_lock = threading.Lock()
_voided: list[PaymentVoided] = []
_metrics: dict[str, Metric] = {}


def on_payment_voided(fn: PaymentVoided) -> PaymentVoided:
    """Call ``fn(session, transfer_id)`` whenever a risk officer voids a held payment (registered once)."""
    with _lock:
        if fn not in _voided:
            _voided.append(fn)
    return fn


def payment_voided(session: Session, transfer_id: int) -> None:
    """Tell every listener that the held payment ``transfer_id`` was voided (in the caller's transaction)."""
    for fn in tuple(_voided):
        fn(session, transfer_id)


def provide_metric(name: str, fn: Metric) -> Metric:
    """Register the function computing the provided metric ``name`` (one of :data:`PROVIDED_METRICS`)."""
    if name not in PROVIDED_METRICS:
        raise ValueError(f"{name!r} is not a metric risk lets another domain provide: {sorted(PROVIDED_METRICS)}")
    with _lock:
        _metrics[name] = fn
    return fn


def metric_provider(name: str) -> Metric | None:
    """The registered function of a provided metric, or None."""
    return _metrics.get(name)
