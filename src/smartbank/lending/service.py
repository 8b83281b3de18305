"""The front door of lending (:data:`__all__`): what the entry points, the tools and the other domains may
use. Everything else in the package is private to it.

- products, reference rates and quotes (:mod:`.products`), the catalogue seed (:mod:`.seed`);
- applications with the automatic decision (:mod:`.applications`), the loan officers' review queue
  (:mod:`.review`, names prefixed ``review``), the credit blacklist (:mod:`.policy`);
- servicing: repayments, the loan book, the daily run (:mod:`.servicing`), write-off and recoveries
  (:mod:`.writeoff`), classification labels (:mod:`.classification`), early-warning hit rate (:mod:`.warning`);
- the credit model: training, evaluation, the report and recent scores (:mod:`.credit`, names prefixed
  ``credit``).
"""

from __future__ import annotations

from typing import Any

from smartbank.lending.applications import (
    ApplicationIn,
    OfferExpired,
    accept,
    application_view,
    expire_offers,
    get_application,
    list_applications,
    prefill,
    submit,
    withdraw,
)
from smartbank.lending.classification import BUCKET_TABLE, CLASSIFICATION_TABLE
from smartbank.lending.classification import label as classification_label
from smartbank.lending.credit.data import TargetError
from smartbank.lending.credit.data import read_table as read_credit_table
from smartbank.lending.credit.evaluate import evaluate_credit
from smartbank.lending.credit.monitor import recent_scores as recent_credit_scores
from smartbank.lending.credit.report import build_report as build_credit_report
from smartbank.lending.credit.report import load_latest as latest_credit_model
from smartbank.lending.credit.report import report_body as credit_report_body
from smartbank.lending.credit.report import report_document as credit_report_document
from smartbank.lending.credit.scorer import default_data_path as default_credit_data_path
from smartbank.lending.credit.scorer import load_scorer as load_credit_scorer
from smartbank.lending.credit.scorer import synthetic_credit, train_production
from smartbank.lending.decision import reset_scorer
from smartbank.lending.models import EMPLOYMENT, Loan, LoanApplication, LoanProduct
from smartbank.lending.policy import add_to_blacklist, list_blacklist, remove_from_blacklist
from smartbank.lending.products import (
    MAX_RATE_BPS,
    RATE_NAMES,
    collateral_kind,
    create_product,
    edit_product,
    get_product,
    list_products,
    list_rates,
    product_dict,
    quote,
    rate_bounds,
    rate_on,
    set_rate,
)
from smartbank.lending.review import DECLINE_REASONS, OFFICER_ROLES, SameOfficer, StaleVersion
from smartbank.lending.review import MAX_NOTE as MAX_REVIEW_NOTE
from smartbank.lending.review import add_note as add_review_note
from smartbank.lending.review import claim as claim_review
from smartbank.lending.review import counts as review_counts
from smartbank.lending.review import decide as decide_review
from smartbank.lending.review import get_case as get_review_case
from smartbank.lending.review import queue as review_queue
from smartbank.lending.seed import DEFAULT_PRODUCTS
from smartbank.lending.seed import seed as seed_products
from smartbank.lending.servicing import (
    BOOK_READERS,
    delinquency_rate,
    is_delinquent,
    list_loans,
    loan_book,
    loan_schedule,
    loan_view,
    portfolio_summary,
    repay,
    repay_early,
    run_day,
)
from smartbank.lending.warning import hit_rate as warning_hit_rate
from smartbank.lending.writeoff import MAX_REFERENCE, WRITERS, record_collection, write_off

__all__ = [
    # models and constants outsiders need
    "EMPLOYMENT", "Loan", "LoanApplication", "LoanProduct",
    # products, rates, quotes
    "DEFAULT_PRODUCTS", "MAX_RATE_BPS", "RATE_NAMES", "collateral_kind", "create_product", "edit_product",
    "get_product", "list_products", "list_rates", "product_dict", "quote", "rate_bounds", "rate_on", "seed_products",
    "set_rate",
    # applications
    "ApplicationIn", "OfferExpired", "accept", "application_view", "expire_offers", "get_application",
    "list_applications", "prefill", "submit", "withdraw",
    # the loan officers' review
    "DECLINE_REASONS", "MAX_REVIEW_NOTE", "OFFICER_ROLES", "SameOfficer", "StaleVersion", "add_review_note",
    "claim_review", "decide_review", "get_review_case", "review_counts", "review_queue",
    # the credit blacklist
    "add_to_blacklist", "list_blacklist", "remove_from_blacklist",
    # servicing and the loan book
    "BOOK_READERS", "BUCKET_TABLE", "CLASSIFICATION_TABLE", "MAX_REFERENCE", "WRITERS", "classification_label",
    "delinquency_rate", "is_delinquent", "list_loans", "loan_book", "loan_schedule", "loan_view",
    "portfolio_summary", "record_collection", "repay", "repay_early", "run_day", "warning_hit_rate", "write_off",
    # the credit model
    "TargetError", "build_credit_report", "credit_report_body", "credit_report_document", "default_credit_data_path",
    "evaluate_credit", "latest_credit_model", "load_credit_scorer", "read_credit_table", "recent_credit_scores",
    "synthetic_credit", "train_credit_model",
]


def train_credit_model(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Train and register a credit model (:func:`.credit.scorer.train_production`); the decisions made in this
    process use it from the next application on, not after the scorer's once-a-minute look."""
    result = train_production(*args, **kwargs)
    reset_scorer()
    return result
