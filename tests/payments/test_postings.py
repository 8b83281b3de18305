"""System postings are described from their kind and facts; the memo wording matched is the producers' own."""

from __future__ import annotations

from pathlib import Path

import pytest

import smartbank
from smartbank.payments import service as payments

SRC = Path(smartbank.__file__).parent


@pytest.mark.parametrize("kind, memo, key, params", [
    ("wealth_purchase", "buy F-BOND", "posting.wealth_buy", {"product": "F-BOND"}),
    ("wealth_redemption", "cancelled purchase of F-BOND", "posting.wealth_cancelled", {"product": "F-BOND"}),
    ("wealth_redemption", "maturity TD-90", "posting.wealth_maturity", {"product": "TD-90"}),
    ("wealth_redemption", "redeem F-MMF", "posting.wealth_redeem", {"product": "F-MMF"}),
    ("wealth_fee", "subscription fee F-EQ", "posting.wealth_subscription_fee", {"product": "F-EQ"}),
    ("wealth_fee", "redemption fee F-EQ", "posting.wealth_redemption_fee", {"product": "F-EQ"}),
    ("interest", "interest 2026-09", "posting.interest_month", {"month": "2026-09"}),
    ("interest", "TD-90 interest", "posting.wealth_interest", {"product": "TD-90"}),
    ("loan_disbursement", "loan L1 paid out", "posting.loan_paid_out", {"loan": "L1"}),
    ("loan_repayment", "loan L1 principal", "posting.loan_principal", {"loan": "L1"}),
    ("loan_repayment", "loan L1 interest income", "posting.loan_repayment", {"loan": "L1", "part": "interest income"}),
    ("loan_recovery", "loan L1 principal recovered after write-off", "posting.loan_recovery", {"loan": "L1"}),
    ("loan_writeoff", "loan L1 written off", "posting.loan_writeoff", {"loan": "L1"}),
    ("loan_provision", "loan L1 provision stage 2", "posting.loan_provision", {"loan": "L1"}),
    ("card_payment", "POS 1234 STARBUCKS", "txkind.card_payment", {}),  # unknown wording: the kind alone
])
def test_a_system_posting_is_a_key_and_parameters(kind, memo, key, params):
    assert payments.describe_posting(kind, memo, None) == {"key": key, "params": params}


def test_a_customers_memo_is_theirs():
    assert payments.describe_posting("transfer", "buy F-BOND for mum", None) is None
    assert payments.describe_posting("scheduled", "rent", None) is None


def test_bills_and_top_ups_read_their_facts_from_the_transfer():
    d = payments.describe_posting("bill_payment", "State Grid 2026-09", {"biller": "X", "period": "2026-09"})
    assert d == {"key": "posting.bill", "params": {"period": "2026-09"}}
    d = payments.describe_posting("bill_payment", "China Mobile top-up 138****1111",
                                  {"biller": "X", "phone": "138****1111"})
    assert d == {"key": "posting.topup", "params": {"phone": "138****1111"}}


@pytest.mark.parametrize("path, wording", [
    ("wealth/orders.py", 'memo=f"buy {product.code}"'),
    ("wealth/orders.py", 'memo=f"cancelled purchase of {product.code}"'),
    ("wealth/orders.py", 'memo=f"subscription fee {product.code}"'),
    ("wealth/orders.py", 'memo=f"redemption fee {product.code}"'),
    ("wealth/orders.py", 'memo=f"{product.code} interest"'),
    ("wealth/orders.py", "memo=f\"{'maturity' if matured_from else 'redeem'} {product.code}\""),
    ("ledger/interest.py", 'memo=f"interest {day:%Y-%m}"'),
    ("lending/servicing.py", 'memo=f"loan {number} paid out"'),
    ("lending/servicing.py", "memo=f\"loan {loan.number} {what}{' recovered after write-off' if recovery else ''}\""),
    ("lending/writeoff.py", 'memo=f"loan {loan.number} written off"'),
])
def test_the_wording_matched_is_what_the_producers_write(path, wording):
    """If a producer changes its memo, this fails: change the patterns in payments/postings.py with it."""
    assert wording in (SRC / path).read_text(encoding="utf-8")
