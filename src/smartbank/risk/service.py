"""The risk domain's front door: everything code outside ``smartbank.risk`` may use, and nothing else.

Import it as ``from smartbank.risk import service as risk``. The modules behind it are private to the domain:

=======================  ==========================================================================
area                     names
=======================  ==========================================================================
payment decision         :class:`PaymentContext`, :func:`assess`, :func:`guarded_transfer` (allow /
                         challenge / review / block before a payment posts; :mod:`.decision`)
set-up                   :func:`seed_defaults`, :func:`warm_up`
hooks for higher         :func:`on_payment_voided` (payments), :func:`provide_metric` (lending); risk sits
domains                  below them and never imports them (:mod:`.hooks`)
alert queue and cases    :func:`alert_queue`, :func:`get_case`, :func:`resolve_alert`, ... (:mod:`.cases`)
rules                    :func:`list_rules`, :func:`create_rule`, :func:`test_rule`, ... (:mod:`.rules`)
limits                   :func:`list_limits`, :func:`create_limit`, ... (:mod:`.limits`)
monitoring and KRIs      :func:`run_monitor`, :func:`dashboard`, :func:`raise_warning`, ... (:mod:`.monitor`)
risk register            :func:`list_register_entries`, :func:`register_matrix`, ... (:mod:`.register`)
fraud model and          :func:`load_transactions`, :func:`build_features`, :class:`FraudModel`,
features                 :func:`evaluate_fraud`, :func:`install_engine`, ... (the CLI's train, eval and
                         bench commands; :mod:`.features`, :mod:`.fraud_model`, :mod:`.online`)
=======================  ==========================================================================

Names keep the meaning they have in their module; a module's generic name gets the area in front
(``rules.create`` is :func:`create_rule`, ``cases.queue`` is :func:`alert_queue`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from smartbank.risk import engine as _engine
from smartbank.risk import limits as _limits
from smartbank.risk import monitor as _monitor
from smartbank.risk import register as _register
from smartbank.risk import rules as _rules
from smartbank.risk.cases import MAX_NOTE as MAX_CASE_NOTE
from smartbank.risk.cases import OFFICER_ROLES as ALERT_OFFICER_ROLES
from smartbank.risk.cases import add_note as add_case_note
from smartbank.risk.cases import assign as assign_alert
from smartbank.risk.cases import counts as alert_counts
from smartbank.risk.cases import customer_flags, get_case, reversal_decided
from smartbank.risk.cases import queue as alert_queue
from smartbank.risk.cases import resolve as resolve_alert
from smartbank.risk.context import CONTEXT as RULE_CONTEXT
from smartbank.risk.decision import (
    DECISION_ANNOTATION,
    SEVERITY,
    Assessment,
    ChallengeAnswer,
    PaymentContext,
    assess,
    guarded_transfer,
)
from smartbank.risk.engine import install as install_engine
from smartbank.risk.evaluate import evaluate_fraud
from smartbank.risk.features import FEATURE_NAMES, TX_SCHEMA, build_features, load_transactions, transactions_hash
from smartbank.risk.fraud_model import MODEL_NAME as FRAUD_MODEL_NAME
from smartbank.risk.fraud_model import FraudModel, RegistrationBar, load_fraud_model
from smartbank.risk.fraud_model import check_labels as check_fraud_labels
from smartbank.risk.fraud_model import judge as judge_fraud_model
from smartbank.risk.fraud_model import label_counts as fraud_label_counts
from smartbank.risk.fraud_model import select_and_fit as select_and_fit_fraud_model
from smartbank.risk.hooks import on_payment_voided, provide_metric
from smartbank.risk.limits import ACTIONS as LIMIT_ACTIONS
from smartbank.risk.limits import MAX_AMOUNT as MAX_LIMIT_AMOUNT
from smartbank.risk.limits import MAX_COUNT as MAX_LIMIT_COUNT
from smartbank.risk.limits import PRODUCTS as LIMIT_PRODUCTS
from smartbank.risk.limits import create_limit, deactivate_limit, edit_limit, get_limit, list_breaches, list_limits
from smartbank.risk.models import CHANNELS as LIMIT_CHANNELS
from smartbank.risk.models import RISK_CATEGORIES
from smartbank.risk.monitor import (
    PSI_DRIFT,
    PSI_WARNING,
    SCORE_BINS,
    dashboard,
    list_kris,
    list_model_monitor,
    list_warnings,
    raise_warning,
)
from smartbank.risk.monitor import acknowledge as acknowledge_warning
from smartbank.risk.monitor import run as run_monitor
from smartbank.risk.online import OnlineScorer, OnlineState
from smartbank.risk.register import STATUSES as REGISTER_STATUSES
from smartbank.risk.register import create_entry as create_register_entry
from smartbank.risk.register import edit_entry as edit_register_entry
from smartbank.risk.register import get_entry as get_register_entry
from smartbank.risk.register import list_entries as list_register_entries
from smartbank.risk.register import matrix as register_matrix
from smartbank.risk.rules import (
    DEFAULT_RULES,
    RULE_MANAGERS,
    RuleExpressionError,
    backtest,
    file_frame,
    get_rule,
    history_frame,
    list_rules,
    rule_stats,
    test_rule,
)
from smartbank.risk.rules import create as create_rule
from smartbank.risk.rules import edit as edit_rule
from smartbank.risk.rules import set_mode as set_rule_mode
from smartbank.risk.rules import versions as rule_versions

__all__ = [
    # the payment decision
    "DECISION_ANNOTATION", "SEVERITY", "Assessment", "ChallengeAnswer", "PaymentContext", "assess", "guarded_transfer",
    # set-up
    "seed_defaults", "warm_up",
    # hooks the domains above risk register with
    "on_payment_voided", "provide_metric",
    # alerts and cases
    "ALERT_OFFICER_ROLES", "MAX_CASE_NOTE", "add_case_note", "alert_counts", "alert_queue", "assign_alert",
    "customer_flags", "get_case", "resolve_alert", "reversal_decided",
    # rules
    "DEFAULT_RULES", "RULE_CONTEXT", "RULE_MANAGERS", "RuleExpressionError", "backtest", "create_rule", "edit_rule",
    "file_frame", "get_rule", "history_frame", "list_rules", "rule_stats", "rule_versions", "set_rule_mode",
    "test_rule",
    # limits
    "LIMIT_ACTIONS", "LIMIT_CHANNELS", "LIMIT_PRODUCTS", "MAX_LIMIT_AMOUNT", "MAX_LIMIT_COUNT", "create_limit",
    "deactivate_limit", "edit_limit", "get_limit", "list_breaches", "list_limits",
    # monitoring, KRIs and early warnings
    "PSI_DRIFT", "PSI_WARNING", "acknowledge_warning", "dashboard", "list_kris", "list_model_monitor",
    "list_warnings", "raise_warning", "run_monitor",
    # the risk register
    "REGISTER_STATUSES", "RISK_CATEGORIES", "create_register_entry", "edit_register_entry", "get_register_entry",
    "list_register_entries", "register_matrix",
    # the fraud model and its features (training, evaluation, benchmarks)
    "FEATURE_NAMES", "FRAUD_MODEL_NAME", "SCORE_BINS", "TX_SCHEMA", "FraudModel", "OnlineScorer", "OnlineState",
    "RegistrationBar", "build_features", "check_fraud_labels", "evaluate_fraud", "fraud_label_counts",
    "install_engine", "judge_fraud_model", "load_fraud_model", "load_transactions", "select_and_fit_fraud_model",
    "transactions_hash",
]


def seed_defaults(session: Session) -> dict[str, int]:
    """The bank's starting risk set-up (idempotent): rules, limits, the risk register and its KRIs."""
    return {"rules": _rules.seed_defaults(session), "limits": _limits.seed_defaults(session),
            "register": _register.seed_defaults(session), "kris": _monitor.seed_defaults(session)}


def warm_up(session: Session) -> None:
    """Load this process's risk engine for the session's database (the fraud model, the online features from
    the ledger's recent payments, the rules in force) before the first payment needs it."""
    _engine.get(session)
