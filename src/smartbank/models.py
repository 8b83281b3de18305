"""Import every domain's tables so that ``Base.metadata`` is complete (Alembic, tests), and collect the
personal-information classification each domain keeps next to its tables (:func:`classification`)."""

from __future__ import annotations

import re
from types import ModuleType

import smartbank.assistant.models as _m_assistant
import smartbank.backoffice.models as _m_backoffice
import smartbank.customers.models as _m_customers
import smartbank.insight.models as _m_insight
import smartbank.ledger.models as _m_ledger
import smartbank.lending.models as _m_lending
import smartbank.loyalty.models as _m_loyalty
import smartbank.marketing.models as _m_marketing
import smartbank.notifications.models as _m_notifications
import smartbank.opinion.models as _m_opinion
import smartbank.ops.models as _m_ops
import smartbank.payments.models as _m_payments
import smartbank.recommend.models as _m_recommend
import smartbank.risk.models as _m_risk
import smartbank.security.models as _m_security
import smartbank.wealth.models as _m_wealth
from smartbank.assistant.models import AssistantConversation, AssistantHandoff, AssistantMessage, FaqEntry
from smartbank.backoffice.models import ChangeRequest
from smartbank.customers.models import ConsentRecord, Customer
from smartbank.db import Base
from smartbank.insight.models import (
    CustomerProfile,
    CustomerSourceId,
    CustomerTag,
    ExternalTransaction,
    ImportBatch,
    InsightState,
    Segment,
    TagDefinition,
)
from smartbank.ledger.models import (
    Account,
    CustomerDailyUsage,
    Entry,
    ReversalRequest,
    Seal,
    Transfer,
    Unsealed,
)
from smartbank.lending.models import (
    CreditBlacklist,
    CreditDecision,
    Loan,
    LoanApplication,
    LoanApplicationEvent,
    LoanInstallment,
    LoanProduct,
    LoanRepayment,
    LoanStatusHistory,
    LoanWarning,
    ReferenceRate,
)
from smartbank.notifications.models import Notification
from smartbank.ops.models import BusinessDay
from smartbank.payments.models import Bill, Biller, Payee, ScheduledTransfer
from smartbank.privacy.models import PrivacyRequest
from smartbank.recommend.models import RecEvent, RecItem, RecServed
from smartbank.risk.models import (
    RiskAlert,
    RiskAlertEvent,
    RiskChallenge,
    RiskDecision,
    RiskKri,
    RiskKriValue,
    RiskLabel,
    RiskLimit,
    RiskLimitBreach,
    RiskModelMonitor,
    RiskRegisterEntry,
    RiskRule,
    RiskWarning,
)
from smartbank.security.models import AuditLog, AuthSession, DataKey, User
from smartbank.wealth.models import (
    Holding,
    PortfolioPlan,
    ProductNav,
    RiskAssessment,
    RiskQuestionnaire,
    SuitabilityCheck,
    WealthOrder,
    WealthProduct,
)

__all__ = [
    "Account", "AssistantConversation", "AssistantHandoff", "AssistantMessage", "AuditLog", "AuthSession", "Bill",
    "ConsentRecord", "PrivacyRequest",
    "Biller", "BusinessDay", "ChangeRequest", "CreditBlacklist", "CreditDecision", "Customer", "CustomerDailyUsage",
    "CustomerProfile", "DataKey",
    "CustomerSourceId", "CustomerTag", "Entry", "ExternalTransaction", "FaqEntry", "Holding", "ImportBatch",
    "InsightState", "Loan", "LoanApplication", "LoanApplicationEvent", "LoanInstallment", "LoanProduct",
    "LoanRepayment", "LoanStatusHistory", "LoanWarning", "Notification", "Payee", "PortfolioPlan", "ProductNav",
    "RecEvent", "RecItem", "RecServed", "ReferenceRate", "ReversalRequest", "RiskAlert", "RiskAlertEvent",
    "RiskAssessment", "RiskChallenge", "RiskDecision", "RiskKri", "RiskKriValue", "RiskLabel", "RiskLimit",
    "RiskLimitBreach",
    "RiskModelMonitor", "RiskQuestionnaire", "RiskRegisterEntry", "RiskRule", "RiskWarning", "ScheduledTransfer",
    "Seal", "Segment", "SuitabilityCheck", "TagDefinition", "Transfer", "Unsealed", "User", "WealthOrder",
    "WealthProduct", "PI_CLASSES", "classification", "looks_personal", "person_tables", "unclassified",
]

# ----------------------------------------------------------------------------------------------
# personal-information classification (JR/T 0171-2020)


# C3 authentication information (passwords, one-time codes, session tokens, key material), C2 information that
# identifies a person or their financial situation, C1 the bank's internal information about a person, and
# "none" for what is not personal information at all
PI_CLASSES = ("C3", "C2", "C1", "none")
_MODULES: tuple[ModuleType, ...] = (_m_assistant, _m_backoffice, _m_customers, _m_insight, _m_ledger, _m_lending,
                                    _m_loyalty, _m_marketing, _m_notifications, _m_opinion, _m_ops, _m_payments,
                                    _m_recommend, _m_risk, _m_security, _m_wealth)
# column names that hold personal data wherever they appear (a catalogue's name_zh/name_en is not one)
_PERSONAL_NAME = re.compile(
    r"(^|_)(id_number|id_no|idcard|phone|mobile|email|e_mail|address|addr|name|account_number|acct_no|card_no|"
    r"memo|text|note|notes|comment|comments|remark|income|salary|employer|birth\w*|gender|password|passwd|secret|"
    r"token|otp|totp|pin|code_hash|recovery\w*|ip|device\w*|contact|nationality|occupation)($|_)")
_CATALOGUE = re.compile(r"_(zh|en)$")
# a table "belongs to a person" when it names one: these columns or a foreign key to these tables
_PERSON_COLUMNS = {"customer_id", "user_id", "actor_user_id", "account_id"}
_PERSON_TABLES = {"customers", "users", "accounts"}


def _declared() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for m in _MODULES:
        for table, cols in getattr(m, "PERSONAL_DATA", {}).items():
            out.setdefault(table, {}).update(cols)
    return out


def classification() -> dict[str, dict[str, str]]:
    """Every classified column: ``{table: {column: class}}``. A column's class is its ``info={"pi": ...}``,
    else its entry in its domain's ``PERSONAL_DATA``, else that table's ``"*"``."""
    declared = _declared()
    out: dict[str, dict[str, str]] = {}
    for t in Base.metadata.sorted_tables:
        spec = declared.get(t.name, {})
        for c in t.columns:
            cls = c.info.get("pi") or spec.get(c.name) or spec.get("*")
            if cls:
                out.setdefault(t.name, {})[c.name] = cls
    return out


def looks_personal(column: str) -> bool:
    """A column whose name says it holds personal data (identity, contact, money of a person, free text)."""
    return bool(_PERSONAL_NAME.search(column)) and not _CATALOGUE.search(column)


def person_tables() -> list[str]:
    """The tables whose rows belong to a person: the people themselves, and every table naming one."""
    out = []
    for t in Base.metadata.sorted_tables:
        refers = {fk.column.table.name for c in t.columns for fk in c.foreign_keys}
        if t.name in _PERSON_TABLES or _PERSON_COLUMNS & set(t.columns.keys()) or refers & _PERSON_TABLES:
            out.append(t.name)
    return out


def unclassified() -> list[str]:
    """What the classification misses or gets wrong, one line each: a column of a person's table without a
    class, a personal-looking column without an explicit class (or a table default above ``none``), an unknown
    class, a declared table or column that does not exist."""
    declared = _declared()
    found = classification()
    problems = []
    person = set(person_tables())
    for t in Base.metadata.sorted_tables:
        spec = declared.get(t.name, {})
        for c in t.columns:
            cls = found.get(t.name, {}).get(c.name)
            if cls is not None and cls not in PI_CLASSES:
                problems.append(f"{t.name}.{c.name}: unknown class {cls!r} (one of {', '.join(PI_CLASSES)})")
            elif cls is None and t.name in person:
                problems.append(f"{t.name}.{c.name}: a column of a table that belongs to a person has no class")
            elif looks_personal(c.name) and c.info.get("pi") is None and c.name not in spec \
                    and spec.get("*") in (None, "none"):
                problems.append(f"{t.name}.{c.name}: looks like personal data and has no class of its own")
        for name in spec:
            if name != "*" and name not in t.columns:
                problems.append(f"{t.name}.{name}: classified, but there is no such column")
    for table in declared:
        if table not in Base.metadata.tables:
            problems.append(f"{table}: classified, but there is no such table")
    return problems

