"""Plain dictionaries for templates, built inside the unit of work from service results."""

from __future__ import annotations

from typing import Any

from smartbank.ledger.service import Account


def account(a: Account) -> dict[str, Any]:
    return {"id": a.id, "number": a.number, "name": a.name, "kind": a.kind, "status": a.status,
            "currency": a.currency, "balance": a.balance_minor, "available": a.available_minor,
            "customer_id": a.customer_id}


def main_account(accounts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The account the elderly-mode home shows: the first open current account, else the first."""
    for a in accounts:
        if a["kind"] == "demand" and a["status"] == "open":
            return a
    return accounts[0] if accounts else None


def payable(accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in accounts if a["status"] == "open" and a["kind"] not in ("internal", "loan")]
