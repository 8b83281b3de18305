"""Risk rules as data: a small, safe expression language over the decision context, versioned rows a risk
officer edits, tested against history and shadow-run before they act.

==================  =====================================================================================
module              what it holds
==================  =====================================================================================
``language``        the rule language (:mod:`smartbank.expr`, strict dialect, over ``risk.context.CONTEXT``)
``ruleset``         the rules in force, compiled once (:class:`RuleSet`), and their fingerprint
``defaults``        the bank's starting rules (:data:`DEFAULT_RULES`)
``manage``          list, read, create, edit, switch modes: every change a new version, audited
``history``         the history frame rules are tested on (an analytics read model over several tables)
``backtest``        a rule's figures over a history frame; :func:`test_rule` for a draft
``stats``           live figures per rule from the stored decisions and labels
==================  =====================================================================================

Code outside the risk domain uses these through :mod:`smartbank.risk.service`. See docs/RISK_RULES.md.
"""

from smartbank.risk.rules.backtest import MAX_SAMPLE, MAX_TEST_DAYS, STOPPING, backtest, dataset_path, test_rule
from smartbank.risk.rules.defaults import DEFAULT_RULES, DefaultRule, seed_defaults
from smartbank.risk.rules.history import (
    CUSTOMER_KINDS,
    DELAY_DAYS,
    HISTORY_SCHEMA,
    LOCAL_TZ,
    file_frame,
    history_frame,
    local_range,
)
from smartbank.risk.rules.language import (
    MAX_LENGTH,
    MAX_NODES,
    TEXT_FIELDS,
    Compiled,
    RuleExpressionError,
    compile_expression,
)
from smartbank.risk.rules.manage import (
    CODE,
    RULE_MANAGERS,
    as_dict,
    create,
    edit,
    get_rule,
    list_rules,
    set_mode,
    versions,
)
from smartbank.risk.rules.ruleset import SEVERITY, RuleHit, RuleSet, fingerprint, load_ruleset
from smartbank.risk.rules.stats import rule_stats

__all__ = [
    "CODE",
    "CUSTOMER_KINDS",
    "DEFAULT_RULES",
    "DELAY_DAYS",
    "HISTORY_SCHEMA",
    "LOCAL_TZ",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_SAMPLE",
    "MAX_TEST_DAYS",
    "RULE_MANAGERS",
    "SEVERITY",
    "STOPPING",
    "TEXT_FIELDS",
    "Compiled",
    "DefaultRule",
    "RuleExpressionError",
    "RuleHit",
    "RuleSet",
    "as_dict",
    "backtest",
    "compile_expression",
    "create",
    "dataset_path",
    "edit",
    "file_frame",
    "fingerprint",
    "get_rule",
    "history_frame",
    "list_rules",
    "load_ruleset",
    "local_range",
    "rule_stats",
    "seed_defaults",
    "set_mode",
    "test_rule",
    "versions",
]
