"""The recommendable items (``rec_items``), kept in step with the product catalogues.

``sync_items`` copies every wealth product and every loan product into ``rec_items``:

- ``item_key`` is ``"wealth:<code>"`` or ``"loan:<code>"``; ``ref_id`` the product's id in its own domain;
- ``features`` are the content features the recommender compares: ``kind`` (time_deposit, wmp, fund,
  insurance; loans: ``loan``), ``asset_class`` (cash, bond, mixed, equity, alternative; loans: none),
  ``risk_level`` (R1..R5; loans: none), ``term_days`` / ``term_months``, ``rate_bps`` (time deposits),
  ``loan_kind`` (consumer, business, secured), ``min_age`` / ``max_age`` (loans), ``tags`` and ``code``;
- ``status`` follows the product: ``active`` while the product is on sale, ``closed`` otherwise (a closed
  wealth product, a retired loan product, a product that no longer exists).

The copy is only a catalogue for ranking. The filters after ranking read the products' own tables again
(status, kind, risk level), so a stale copy can never let an unsuitable or closed product through.

Both catalogues are read through their owners' services (``wealth.all_products``, ``lending.list_products``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.lending import service as lending
from smartbank.recommend.models import RecItem
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import service as wealth
from smartbank.wealth.service import WealthProduct

__all__ = ["ITEM_MANAGERS", "item_key", "parse_item_key", "sync_items", "wealth_feature"]

ITEM_MANAGERS = security.roles_for("recommend.items.manage")


def item_key(item_type: str, code: str) -> str:
    return f"{item_type}:{code}"


def parse_item_key(key: str) -> tuple[str, str]:
    """``"wealth:WMP001"`` -> ``("wealth", "WMP001")``; a malformed key gives ``("", "")``."""
    kind, _, code = (key or "").partition(":")
    return (kind, code) if kind and code else ("", "")


def wealth_feature(p: WealthProduct) -> dict[str, Any]:
    return {"code": p.code, "kind": p.kind, "asset_class": p.asset_class, "risk_level": p.risk_level,
            "term_days": p.term_days, "rate_bps": p.rate_bps, "min_amount_minor": p.min_amount_minor,
            "tags": [str(t) for t in (p.tags or [])]}


def _loan_feature(p: Any) -> dict[str, Any]:
    return {"code": p.code, "kind": "loan", "loan_kind": p.kind, "asset_class": None, "risk_level": None,
            "term_months": [p.min_term_months, p.max_term_months], "min_age": p.min_age, "max_age": p.max_age,
            "min_amount_minor": p.min_amount_minor, "tags": ["loan", p.kind]}


def sync_items(session: Session, actor: Principal) -> dict[str, int]:
    """Bring ``rec_items`` in line with the wealth and loan catalogues; returns counts of added, updated
    and closed items. Marketers and administrators (and the system) may run it."""
    actor.require_role(*ITEM_MANAGERS)
    wanted: dict[str, dict[str, Any]] = {}
    for w in wealth.all_products(session):
        wanted[item_key("wealth", w.code)] = {
            "item_type": "wealth", "ref_id": w.id, "name_en": w.name_en[:160], "name_zh": w.name_zh[:160],
            "risk_level": w.risk_level, "features": wealth_feature(w),
            "status": "active" if w.status == "active" else "closed"}
    for lp in lending.list_products(session, include_retired=True):
        wanted[item_key("loan", lp.code)] = {
            "item_type": "loan", "ref_id": lp.id, "name_en": lp.name_en[:160], "name_zh": lp.name_zh[:160],
            "risk_level": None, "features": _loan_feature(lp),
            "status": "active" if lp.status == "active" else "closed"}
    have = {i.item_key: i for i in session.scalars(select(RecItem))}
    added = updated = closed = 0
    for key, fields in wanted.items():
        item = have.get(key)
        if item is None:
            session.add(RecItem(item_key=key, **fields))
            added += 1
            continue
        if any(getattr(item, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(item, k, v)
            updated += 1
    for key, item in have.items():
        if key not in wanted and item.item_type in ("wealth", "loan") and item.status != "closed":
            item.status = "closed"
            closed += 1
    session.flush()
    return {"added": added, "updated": updated, "closed": closed, "items": len(wanted)}
