"""Import every domain's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from smartbank.assistant.models import AssistantConversation, AssistantHandoff, AssistantMessage, FaqEntry
from smartbank.customers.models import Customer
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
    "Biller", "BusinessDay", "CreditBlacklist", "CreditDecision", "Customer", "CustomerDailyUsage", "CustomerProfile",
    "DataKey",
    "CustomerSourceId", "CustomerTag", "Entry", "ExternalTransaction", "FaqEntry", "Holding", "ImportBatch",
    "InsightState", "Loan", "LoanApplication", "LoanApplicationEvent", "LoanInstallment", "LoanProduct",
    "LoanRepayment", "LoanStatusHistory", "LoanWarning", "Notification", "Payee", "PortfolioPlan", "ProductNav",
    "RecEvent", "RecItem", "RecServed", "ReferenceRate", "ReversalRequest", "RiskAlert", "RiskAlertEvent",
    "RiskAssessment", "RiskChallenge", "RiskDecision", "RiskKri", "RiskKriValue", "RiskLabel", "RiskLimit",
    "RiskLimitBreach",
    "RiskModelMonitor", "RiskQuestionnaire", "RiskRegisterEntry", "RiskRule", "RiskWarning", "ScheduledTransfer",
    "Seal", "Segment", "SuitabilityCheck", "TagDefinition", "Transfer", "Unsealed", "User", "WealthOrder",
    "WealthProduct",
]
