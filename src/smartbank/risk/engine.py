"""The in-process risk engine: online feature state, the loaded fraud model and the cached rules.

(Being built: see :mod:`smartbank.risk.service` for the decision.)
"""

from __future__ import annotations


def on_label(transfer_id: int, fraud: bool) -> None:
    """A confirmed outcome of a payment (from a case): counts in the online features from now on."""
