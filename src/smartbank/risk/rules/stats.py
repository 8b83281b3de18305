"""Live figures per rule: what its hits did, from the stored decisions and the confirmed labels."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from smartbank.risk.rules.backtest import STOPPING, ratio
from smartbank.risk.rules.manage import RULE_MANAGERS
from smartbank.risk.rules.ruleset import SEVERITY, all_versions, newest
from smartbank.security.service import Principal

__all__ = ["rule_stats"]


def rule_stats(session: Session, since: datetime | None = None, *, actor: Principal | None = None
               ) -> list[dict[str, Any]]:
    """Per rule code, from the stored decisions since ``since`` and the confirmed labels.

    ``hits`` / ``shadow_hits``: decisions the rule hit while active / in shadow. ``labelled``, ``frauds``
    and ``precision`` count hits whose payment has a label. ``saved_minor``: frauds an active review or block
    hit stopped; ``challenged_fraud_minor``: frauds an active challenge hit met; ``shadow_would_save_minor``:
    frauds a shadow review/block hit would have stopped.
    """
    if actor is not None:
        actor.require_role(*RULE_MANAGERS)
    dialect = session.get_bind().dialect.name
    hits_text = "CAST(d.rule_hits AS TEXT)" if dialect == "postgresql" else "d.rule_hits"
    sql = ("SELECT d.rule_hits, d.amount_minor, l.label FROM risk_decisions d"
           " LEFT JOIN risk_labels l ON l.transfer_id = d.transfer_id AND d.transfer_id IS NOT NULL"
           f" WHERE d.rule_hits IS NOT NULL AND {hits_text} NOT IN ('[]', 'null')")
    params: dict[str, Any] = {}
    if since is not None:
        sql += " AND d.created_at >= :since"
        params["since"] = since if since.tzinfo else since.replace(tzinfo=UTC)
    names = {r.code: r for r in newest(all_versions(session)).values()}
    stats: dict[str, dict[str, Any]] = {}

    def blank(code: str) -> dict[str, Any]:
        r = names.get(code)
        return {"code": code, "name_en": r.name_en if r else code, "name_zh": r.name_zh if r else code,
                "mode": r.mode if r else None, "action": r.action if r else None, "hits": 0, "shadow_hits": 0,
                "labelled": 0, "frauds": 0, "precision": None, "saved_minor": 0, "challenged_fraud_minor": 0,
                "shadow_would_save_minor": 0, "shadow_labelled": 0, "shadow_frauds": 0, "shadow_precision": None}

    for code in names:
        stats[code] = blank(code)
    for raw_hits, amount, label in session.execute(text(sql), params):
        hits = raw_hits
        if isinstance(hits, str):
            hits = json.loads(hits)
        for h in hits or []:
            if not isinstance(h, dict) or "code" not in h:
                continue
            st = stats.setdefault(h["code"], blank(h["code"]))
            shadow = bool(h.get("shadow"))
            act = h.get("action")
            st["shadow_hits" if shadow else "hits"] += 1
            if label is None:
                continue
            st["shadow_labelled" if shadow else "labelled"] += 1
            if int(label) == 1:
                st["shadow_frauds" if shadow else "frauds"] += 1
                if shadow and act in STOPPING:
                    st["shadow_would_save_minor"] += int(amount)
                elif not shadow and act in STOPPING:
                    st["saved_minor"] += int(amount)
                elif not shadow and act == "challenge":
                    st["challenged_fraud_minor"] += int(amount)
    for st in stats.values():
        st["precision"] = ratio(st["frauds"], st["labelled"])
        st["shadow_precision"] = ratio(st["shadow_frauds"], st["shadow_labelled"])
    return sorted(stats.values(), key=lambda s: (SEVERITY.get(s["action"] or "", 9), s["code"]))
