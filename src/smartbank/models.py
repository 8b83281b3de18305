"""Import every domain's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from smartbank.customers.models import Customer, CustomerDailyUsage
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
from smartbank.ledger.models import Account, BusinessDay, Entry, Seal, Transfer, Unsealed
from smartbank.payments.models import Bill, Biller, Payee, ScheduledTransfer
from smartbank.security.models import AuditLog, AuthSession, User

__all__ = [
    "Account", "AuditLog", "AuthSession", "Bill", "Biller", "BusinessDay", "Customer",
    "CustomerDailyUsage", "CustomerProfile", "CustomerSourceId", "CustomerTag", "Entry", "ExternalTransaction",
    "ImportBatch", "InsightState", "Payee", "ScheduledTransfer", "Seal", "Segment", "TagDefinition", "Transfer",
    "Unsealed", "User",
]
