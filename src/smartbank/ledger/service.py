"""The ledger's front door: everything other domains, tools and entry points may use of the ledger.

Import it as ``from smartbank.ledger import service as ledger``; the modules behind it are private:
- :mod:`~smartbank.ledger.accounts`: opening accounts, numbers, status, balances by value date, reads;
- :mod:`~smartbank.ledger.transfers`: the double-entry hot path (TigerBeetle's rules; on PostgreSQL the
  procedure ``sb_transfer`` in one round trip), pending holds, reversing transfers;
- :mod:`~smartbank.ledger.annotations`: rows another domain writes with a transfer (a payment's risk decision)
  in the same statement - the owner registers its table with :func:`register_annotation`;
- :mod:`~smartbank.ledger.daily_limit`: the customer's daily limit and its use (``customer_daily_usage``);
- :mod:`~smartbank.ledger.reversals`: reversals under maker-checker;
- :mod:`~smartbank.ledger.journal`: the tamper-evident journal (sealing, verification, checkpoints);
- :mod:`~smartbank.ledger.models`: the tables (re-exported below for the queries others make of them).
"""

from __future__ import annotations

from smartbank.ledger import reversals
from smartbank.ledger.accounts import (
    CUSTOMER_PAYMENT_KINDS,
    NON_PAYMENT_KINDS,
    account_flows,
    customer_accounts,
    customer_payments_after,
    customer_payments_since,
    find_account,
    find_customer_account,
    first_opening_day,
    get_account,
    get_account_by_number,
    internal_account,
    internal_balances,
    lowest_balance_from,
    luhn_digit,
    new_account_number,
    open_account,
    payment_accounts,
    set_account_status,
    spendable,
    total_by_kind,
    valid_account_number,
)
from smartbank.ledger.annotations import Annotation, registered_kinds
from smartbank.ledger.annotations import register as register_annotation
from smartbank.ledger.daily_limit import daily_limit_status
from smartbank.ledger.interest import InterestDay, accrue_interest, capitalise_amount, daily_accrual_micro
from smartbank.ledger.journal import GENESIS as JOURNAL_GENESIS
from smartbank.ledger.journal import SEALER_LOCK_ID, VerifyReport, ledger_key, rekey, seal, verify, write_checkpoint
from smartbank.ledger.journal import anchor as journal_anchor
from smartbank.ledger.journal import anchor_restored as journal_anchor_restored
from smartbank.ledger.journal import canonical as journal_canonical  # the bulk loader chains what it copies in
from smartbank.ledger.journal import head as journal_head
from smartbank.ledger.journal import key_id as ledger_key_id
from smartbank.ledger.journal import link as journal_link
from smartbank.ledger.models import (
    ACCOUNT_KINDS,
    INTERNAL_PURPOSES,
    REVERSAL_STATUSES,
    TRANSFER_KINDS,
    Account,
    Entry,
    ReversalRequest,
    Transfer,
)
from smartbank.ledger.reversals import SameOfficer
from smartbank.ledger.transfers import (
    TransferCommand,
    TransferResult,
    check_transfer,
    find_transfer_by_key,
    get_transfer,
    resolve_pending,
    reverse,
    transfer,
    utcnow,
    validate_command,
)

# reversals under maker-checker (one officer asks, another approves)
MAX_REVERSAL_REASON = reversals.MAX_REASON
request_reversal = reversals.request
approve_reversal = reversals.approve
reject_reversal = reversals.reject
get_reversal = reversals.get
reversal_listing = reversals.listing
reversal_exceptions = reversals.exceptions
reversal_as_dict = reversals.as_dict
reversal_shortfall = reversals.shortfall

__all__ = [
    # accounts
    "ACCOUNT_KINDS", "CUSTOMER_PAYMENT_KINDS", "INTERNAL_PURPOSES", "NON_PAYMENT_KINDS", "account_flows",
    "customer_accounts", "customer_payments_after", "customer_payments_since", "find_account",
    "find_customer_account", "first_opening_day", "get_account", "get_account_by_number", "internal_account",
    "internal_balances",
    "lowest_balance_from", "luhn_digit", "new_account_number", "open_account", "payment_accounts",
    "set_account_status", "spendable", "total_by_kind", "valid_account_number",
    # transfers
    "TRANSFER_KINDS", "TransferCommand", "TransferResult", "check_transfer", "find_transfer_by_key",
    "get_transfer", "resolve_pending", "reverse", "transfer", "utcnow", "validate_command",
    # annotations written with a transfer
    "Annotation", "register_annotation", "registered_kinds",
    # the daily limit
    "daily_limit_status",
    # savings interest (close of day)
    "InterestDay", "accrue_interest", "capitalise_amount", "daily_accrual_micro",
    # reversals under maker-checker
    "MAX_REVERSAL_REASON", "REVERSAL_STATUSES", "SameOfficer", "approve_reversal", "get_reversal",
    "reject_reversal", "request_reversal", "reversal_as_dict", "reversal_exceptions", "reversal_listing",
    "reversal_shortfall",
    # the journal
    "JOURNAL_GENESIS", "SEALER_LOCK_ID", "VerifyReport", "journal_anchor", "journal_anchor_restored",
    "journal_canonical", "journal_head", "journal_link", "ledger_key", "ledger_key_id", "rekey", "seal", "verify",
    "write_checkpoint",
    # the tables others query
    "Account", "Entry", "ReversalRequest", "Transfer",
]
