"""What a payment's risk decision can see: the decision context, one flat mapping per payment.

Rules (:mod:`smartbank.risk.rules`), limits and the model all read the same names. The context of a
payment is built online by :mod:`smartbank.risk.engine` (from the in-memory :class:`OnlineState`)
and, for testing rules against history, in batch by :func:`smartbank.risk.rules.history_frame`
(from :func:`smartbank.risk.features.build_features` over the bank's transfers), so a rule means
the same thing in both places.

In the bank, a payment's "customer" is the customer who owns the paying account and its
"terminal" is the receiving account (a person's account, or a biller's settlement account): the
terminal features of the card model become counterparty features (how busy the receiving account
is, and the share of its incoming payments later confirmed as fraud, over windows that respect the
label delay).
"""

from __future__ import annotations

from smartbank.risk.features import FEATURES

__all__ = ["CONTEXT", "PAYMENT_FIELDS"]

# the payment's own fields, beside the point-in-time features of risk.features.FEATURES
PAYMENT_FIELDS: dict[str, str] = {
    "amount_minor": "the payment's amount in minor units (fen)",
    "channel": "where the customer made the payment: web | api | assistant | schedule",
    "kind": "transfer | bill_payment | top_up",
    "product": "the paying account's product: demand | savings",
    "saved_payee": "1 if the receiving account is one of the customer's saved payees, else 0",
    "own_account": "1 if the receiving account belongs to the same customer, else 0",
    "counterparty_age_days": "days since the receiving account was opened",
    "model_score": "the fraud model's probability for this payment (null when no model is loaded)",
}

# every name a rule may use -> what it means
CONTEXT: dict[str, str] = {**PAYMENT_FIELDS, **FEATURES}

