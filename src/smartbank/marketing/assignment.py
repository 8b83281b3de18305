"""Deterministic assignment of a customer to a campaign's arm.

The same campaign code and customer always give the same arm, on any machine and in any process (a hash, not
a random draw), so a campaign that runs again, a journey that asks twice or an analyst recomputing the split
all agree. The first hash decides the holdout (``holdout_bp`` basis points of the audience), a second,
independent hash chooses among the contacted arms by weight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["HOLDOUT", "assign_arm", "bucket"]

HOLDOUT = "holdout"
_BUCKETS = 10_000


def bucket(key: str, customer_id: int, salt: str = "") -> int:
    """A stable number in [0, 10000) for ``customer_id`` under ``key`` (and ``salt``)."""
    digest = hashlib.sha256(f"{key}\x1f{salt}\x1f{int(customer_id)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS


def assign_arm(key: str, customer_id: int, arms: Sequence[tuple[str, int]], holdout_bp: int = 0) -> str:
    """The arm of ``customer_id`` in the experiment ``key`` (a campaign's code): :data:`HOLDOUT` for
    ``holdout_bp``/10000 of the customers, else one of ``arms`` (``(code, weight)``, weights > 0) in proportion to
    its weight."""
    if not 0 <= holdout_bp <= _BUCKETS:
        raise ValueError("holdout_bp must be within 0..10000")
    if holdout_bp and bucket(key, customer_id, "holdout") < holdout_bp:
        return HOLDOUT
    live = [(code, int(w)) for code, w in arms if int(w) > 0]
    if not live:
        if holdout_bp:
            return HOLDOUT
        raise ValueError("an experiment needs at least one arm with a positive weight")
    total = sum(w for _, w in live)
    point = bucket(key, customer_id, "arm") * total // _BUCKETS
    for code, w in live:
        if point < w:
            return code
        point -= w
    return live[-1][0]
