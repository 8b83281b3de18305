"""Serving recommendations: rank with the engine, filter, explain, record.

``recommend`` is the only way a list reaches a customer. After the model has ranked the items,
:func:`apply_filters` - the one place the compliance filters live - removes, in this order:

- ``dismissed``: items the customer dismissed;
- ``inactive``: the item or its product is not on sale (the product's own table is read again: a stale
  catalogue copy cannot let a closed product through);
- ``held``: wealth products the customer holds or has a pending purchase of;
- ``suitability``: wealth products that do not pass ``wealth.rules.allowed_without_acknowledgement`` for the
  customer's grade in force (no valid grade: only time deposits, which need no assessment);
- ``loan_age``: loan products outside the product's age range for the customer (unknown age: refused);
- ``loan_delinquent``: loan products for a customer with a loan past due or written off;
- ``unknown_type``: anything the filters do not know how to judge.

Whatever the model ranks first, nothing reaches the list without passing all of them. The removed items
that ranked above the last shown item are stored in ``rec_served.filtered`` with the rule. What the filters
judge is asked of its owners' services (the grade in force, holdings and the products' facts of wealth; the
loan catalogue and delinquency of lending; the birth date of customers), never read from their tables.

This module is also the recommender's front door (:data:`__all__`): events (:mod:`.events`), items
(:mod:`.items`), the report (:mod:`.report`), the engine's lifecycle (:mod:`.engine`), training
(:mod:`.training`) and the offline evaluation (:mod:`.evaluate`) are re-exported here. Importing it registers
the recommender's listener of wealth purchases (:mod:`.events`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, text
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.errors import NotFound, ValidationFailed
from smartbank.lending import service as lending
from smartbank.recommend import engine as rec_engine
from smartbank.recommend.engine import get as get_engine
from smartbank.recommend.engine import reset as reset_engines
from smartbank.recommend.evaluate import evaluate_recommend, load_ratings
from smartbank.recommend.events import CUSTOMER_EVENTS, record, record_purchase, sync_wealth
from smartbank.recommend.items import ITEM_MANAGERS, item_key, parse_item_key, sync_items
from smartbank.recommend.models import RecEvent, RecItem, RecServed
from smartbank.recommend.reasons import NOT_PERSONALISED, reason_for
from smartbank.recommend.report import REPORT_ROLES, report
from smartbank.recommend.training import train
from smartbank.security.service import Principal
from smartbank.wealth import service as wealth
from smartbank.wealth.service import allowed_without_acknowledgement

__all__ = [
    # serving
    "MAX_N", "SLOT_PATTERN", "Context", "apply_filters", "recommend",
    # events and items
    "CUSTOMER_EVENTS", "ITEM_MANAGERS", "RecEvent", "RecItem", "item_key", "parse_item_key", "record",
    "record_purchase", "sync_items", "sync_wealth",
    # a deleted customer's behaviour (privacy)
    "erase_customer_events",
    # the report
    "REPORT_ROLES", "report",
    # the engine, training and evaluation
    "evaluate_recommend", "get_engine", "load_ratings", "reset_engines", "train", "warm",
]

SLOT_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
_SLOT = re.compile(SLOT_PATTERN)
MAX_N = 50


@dataclass
class Context:
    """What the filters judge against, read fresh for every list."""

    customer_id: int
    grade: str | None
    age: int | None
    delinquent: bool
    held_wealth: set[int] = field(default_factory=set)  # wealth product ids held or being bought
    wealth: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # product id -> (status, kind, risk)
    loans: dict[int, tuple[str, int, int]] = field(default_factory=dict)  # product id -> (status, min, max age)
    dismissed: set[int] = field(default_factory=set)  # item indexes


def _rule(r: rec_engine.Ranked, items: rec_engine.Items, ctx: Context) -> str | None:
    """The first filter that removes the item, or None when it may be shown."""
    i = r.index
    if i in ctx.dismissed:
        return "dismissed"
    if items.status[i] != "active":
        return "inactive"
    kind, ref = items.types[i], items.ref_ids[i]
    if kind == "wealth":
        truth = ctx.wealth.get(ref) if ref is not None else None
        if truth is None or truth[0] != "active":
            return "inactive"
        if ref in ctx.held_wealth:
            return "held"
        if not allowed_without_acknowledgement(ctx.grade, truth[1], truth[2]):
            return "suitability"
        return None
    if kind == "loan":
        lt = ctx.loans.get(ref) if ref is not None else None
        if lt is None or lt[0] != "active":
            return "inactive"
        if ctx.age is None or ctx.age < max(18, lt[1]) or ctx.age >= lt[2]:
            return "loan_age"
        if ctx.delinquent:
            return "loan_delinquent"
        return None
    return "unknown_type"


def apply_filters(ranked: Iterable[rec_engine.Ranked], items: rec_engine.Items, ctx: Context, n: int
                  ) -> tuple[list[rec_engine.Ranked], list[dict[str, Any]]]:
    """The first ``n`` ranked items that pass every filter, and the removed items ranked above the last one
    kept (``{"item_id", "item_key", "rule"}``)."""
    kept: list[rec_engine.Ranked] = []
    removed: list[dict[str, Any]] = []
    for r in ranked:
        if len(kept) >= n:
            break
        rule = _rule(r, items, ctx)
        if rule is None:
            kept.append(r)
        else:
            removed.append({"item_id": r.item_id, "item_key": items.keys[r.index], "rule": rule})
    return kept, removed


# ------------------------------------------------------------------------------------------------
# the context: small reads, fresh per list


def _age(session: Session, customer_id: int) -> int | None:
    try:
        born = customers.birth_date_of(customers.get_customer(session, customer_id))
    except NotFound:
        return None
    if born is None:
        return None
    d = clock.today()
    return d.year - born.year - ((d.month, d.day) < (born.month, born.day))


def _context(session: Session, eng: rec_engine.RecEngine, customer_id: int, grade: str | None,
             ranked: list[rec_engine.Ranked], ctx: Context | None = None) -> Context:
    """The context for judging ``ranked``: read on first need, extended for later slices."""
    assert eng.items is not None
    items = eng.items
    if ctx is None:
        with eng.lock:
            dismissed = set(eng.dismissed.get(customer_id, ()))
        ctx = Context(customer_id=customer_id, grade=grade, age=None, delinquent=False,
                      held_wealth=wealth.held_products(session, customer_id), dismissed=dismissed)
    wealth_ids = [i for r in ranked if items.types[r.index] == "wealth"
                  and (i := items.ref_ids[r.index]) is not None and i not in ctx.wealth]
    ctx.wealth.update(wealth.product_facts(session, wealth_ids))
    if not ctx.loans and any(items.types[r.index] == "loan" for r in ranked):
        ctx.loans = {p.id: (p.status, p.min_age, p.max_age)
                     for p in lending.list_products(session, include_retired=True)}
        ctx.age = _age(session, customer_id)
        ctx.delinquent = lending.is_delinquent(session, customer_id)
    return ctx


def warm(session: Session) -> None:
    """Load this process's engine of the session's database (items, feedback, model) before a request needs it."""
    rec_engine.get(session)


def _link(item_type: str, code: str) -> str:
    if item_type == "wealth":
        return f"/wealth/products/{code}"
    if item_type == "loan":
        return f"/loans/apply?product={code}"
    return "/for-you"


# ------------------------------------------------------------------------------------------------
# serving


def recommend(session: Session, actor: Principal, *, slot: str, n: int = 10) -> dict[str, Any]:
    """The signed-in customer's top ``n`` for ``slot``: ranked by the hybrid model, filtered (see the
    module docstring), each with a reason in zh and en; records the list (``rec_served``) and one
    ``impression`` event per item shown."""
    t0 = time.perf_counter()
    if actor.role != "customer" or actor.customer_id is None:
        raise NotFound("recommendations are for customers", reason="recommend.customer_only")
    if not isinstance(slot, str) or not _SLOT.match(slot):
        raise ValidationFailed("slot: lower-case letters, digits and _ (up to 32)", reason="recommend.bad_slot",
                               details={"slot": slot})
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise ValidationFailed(f"n must be 1..{MAX_N}", reason="recommend.bad_n", details={"n": n, "max_n": MAX_N})
    cid = actor.customer_id
    eng = rec_engine.get(session)
    grade = wealth.current_grade(session, cid)  # the suitability filter applies whether personalised or not
    # read for every list (no cache): a withdrawal counts from the next list on
    personalised = customers.has_consent(session, cid, "personalised_recommendation")
    model_version = eng.model_version if personalised else "non-personalised-popularity"
    items = eng.items
    kept: list[rec_engine.Ranked] = []
    removed: list[dict[str, Any]] = []
    if items is not None and len(items):
        # judge the ranking slice by slice (the head first, then 4x larger slices) until n items pass
        ctx: Context | None = None
        offset, size = 0, max(2 * n, 20)
        while len(kept) < n and offset < len(items):
            ranked = eng.rank(cid, grade, limit=size, offset=offset, personalised=personalised)
            if not ranked:
                break
            ctx = _context(session, eng, cid, grade, ranked, ctx)
            passed, dropped = apply_filters(ranked, items, ctx, n - len(kept))
            kept += passed
            removed += dropped
            offset += len(ranked)
            size *= 4
    out_items: list[dict[str, Any]] = []
    stored: list[dict[str, Any]] = []
    for rank, r in enumerate(kept, 1):
        assert items is not None
        i = r.index
        t, code = items.types[i], items.features[i].get("code") or items.keys[i].partition(":")[2]
        reason = (reason_for(r.parts, grade=grade, top_interest=r.top_interest,
                             anchor_name=items.names[r.anchor] if r.anchor is not None else None,
                             item_has_risk=bool(items.risk[i] > 0)) if personalised else NOT_PERSONALISED)
        stored.append({"item_id": r.item_id, "item_key": items.keys[i], "score": round(r.score, 6),
                       "reason_code": reason["code"], "en": reason["en"], "zh": reason["zh"],
                       "source": reason["source"]})
        f = items.features[i]
        out_items.append({"rank": rank, "item_id": r.item_id, "item_key": items.keys[i], "item_type": t, "code": code,
                          "name_en": items.names[i][0], "name_zh": items.names[i][1], "kind": f.get("kind"),
                          "asset_class": f.get("asset_class"), "risk_level": f.get("risk_level"),
                          "score": round(r.score, 6), "reason": {k: reason[k] for k in ("code", "en", "zh")},
                          "source": reason["source"], "link": _link(t, str(code))})
    now = clock.now()
    latency_us = int((time.perf_counter() - t0) * 1e6)
    if session.get_bind().dialect.name == "postgresql":
        # the list and its impressions are a log: the commit need not wait for the disk (a crash may lose
        # the last moments of served lists). Entry points run recommend in a unit of work of its own.
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    served_id = int(session.execute(insert(RecServed).returning(RecServed.id), {
        "customer_id": cid, "slot": slot, "model_version": model_version, "items": stored,
        "filtered": removed, "latency_us": latency_us, "at": now}).scalar_one())
    if stored:
        session.execute(insert(RecEvent), [
            {"customer_id": cid, "item_id": s["item_id"], "event": "impression", "weight": 1.0,
             "served_id": served_id, "slot": slot, "model_version": model_version, "at": now}
            for s in stored])
    return {"served_id": served_id, "customer_id": cid, "slot": slot, "model_version": model_version,
            "grade": grade, "personalised": personalised, "items": out_items, "filtered": removed,
            "latency_us": latency_us}


def erase_customer_events(session: Session, customer_id: int) -> int:
    """A deletion request: the customer's clicks, views, impressions and served lists are deleted (behaviour the
    bank has no duty to keep; purchases stay as wealth orders). The engines forget the customer's row at their
    next warm-up. Returns the number of events deleted."""
    n = getattr(session.execute(delete(RecEvent).where(RecEvent.customer_id == customer_id)), "rowcount", 0)
    session.execute(delete(RecServed).where(RecServed.customer_id == customer_id))
    session.flush()
    return int(n or 0)
