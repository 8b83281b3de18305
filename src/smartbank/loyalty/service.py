"""The front door of the loyalty domain (客户激励): points earned by rules on behaviours, with expiry (FIFO),
redeemed for fee waivers, top-up coupons and cash-back; the points liability posted in the ledger and reconciled.

One point is worth exactly 1 fen (``POINT_VALUE_MINOR``). ``run_due(session)`` is the worker's earning task
(the worker runs it); wealth's ``on_purchase`` hook earns a first purchase at once.
"""

from __future__ import annotations

from smartbank.loyalty.points import (
    BEHAVIOURS,
    CURRENCY,
    DEFAULT_REWARDS,
    DEFAULT_RULES,
    ENTRY_KINDS,
    EXPIRING_SOON_DAYS,
    EXPIRY_MONTHS,
    POINT_VALUE_MINOR,
    REWARD_KINDS,
    TRANSFER_KIND,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyRedemption,
    LoyaltyReward,
    LoyaltyRule,
    adjust_points,
    balance,
    customer_points,
    earn,
    ensure_defaults,
    expire_due,
    liability_summary,
    list_rewards,
    list_rules,
    on_wealth_purchase,
    point_holders,
    points_by_number,
    reconcile,
    reconciliation,
    redeem,
    run_due,
    set_rule,
    use_voucher,
)
from smartbank.wealth import service as _wealth

_wealth.on_purchase(on_wealth_purchase)

__all__ = [
    "BEHAVIOURS", "CURRENCY", "DEFAULT_REWARDS", "DEFAULT_RULES", "ENTRY_KINDS", "EXPIRING_SOON_DAYS",
    "EXPIRY_MONTHS", "POINT_VALUE_MINOR", "REWARD_KINDS", "TRANSFER_KIND",
    "LoyaltyEntry", "LoyaltyLot", "LoyaltyRedemption", "LoyaltyReward", "LoyaltyRule",
    "adjust_points", "balance", "customer_points", "earn", "ensure_defaults", "expire_due", "liability_summary",
    "list_rewards", "list_rules", "point_holders", "points_by_number", "reconcile", "reconciliation",
    "redeem", "run_due", "set_rule", "use_voucher",
]
