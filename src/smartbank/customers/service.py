"""Customers: onboarding with KYC validation, search, limits.

The front door of the customers domain (:data:`__all__`): other domains, the tools and the entry points
import only this module, which also re-exports the identity-document and phone rules
(:mod:`.validation`) and the ``Customer`` model."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers.models import Customer
from smartbank.customers.self_service import SELF_MAX_DAILY_LIMIT_MINOR, change_own_phone, set_own_daily_limit
from smartbank.customers.validation import (
    BUSINESS_ID_TYPES,
    ID_TYPES,
    INDIVIDUAL_ID_TYPES,
    IdDocument,
    ResidentId,
    make_resident_id,
    normalise_phone,
    parse_id_document,
    parse_resident_id,
)
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.security import service as security
from smartbank.security.service import Principal, mask_email, mask_id_number, mask_phone

__all__ = [
    "Customer", "CustomerCreate", "KYC_METHODS", "KYC_STATUSES",
    # one customer
    "birth_date_of", "create_customer", "customer_record", "get_customer", "masked_for", "record_rejection",
    "record_verification", "set_daily_limit", "view_customer",
    # the customer's own high-risk changes, behind a step-up
    "SELF_MAX_DAILY_LIMIT_MINOR", "change_own_phone", "set_own_daily_limit",
    # many customers
    "count", "find_customers", "ids_by_document", "insert_many", "matching_records", "names_of", "search_customers",
    # identity documents and phone numbers
    "BUSINESS_ID_TYPES", "ID_TYPES", "INDIVIDUAL_ID_TYPES", "IdDocument", "ResidentId", "make_resident_id",
    "normalise_phone", "parse_id_document", "parse_resident_id",
]


@dataclass(frozen=True)
class CustomerCreate:
    kind: str
    name: str
    id_number: str
    phone: str | None = None
    email: str | None = None
    city: str | None = None
    address: str | None = None
    occupation: str | None = None
    annual_income_minor: int | None = None
    id_type: str | None = None
    birth_date: date | None = None
    daily_limit_minor: int | None = None


def create_customer(session: Session, cmd: CustomerCreate, *, number: str | None = None) -> Customer:
    """A new customer, its identity document validated by its type's rule. The customer starts with KYC
    ``pending``: only :func:`record_verification` (a teller who saw the original document) verifies it."""
    name = " ".join((cmd.name or "").split())
    if not name or len(name) > 200:
        raise ValidationFailed("a name of 1-200 characters is required", details={"name": cmd.name})
    if cmd.kind not in ("individual", "business"):
        raise ValidationFailed("kind must be individual or business", details={"kind": cmd.kind})
    today = clock.today()
    doc = parse_id_document(cmd.kind, cmd.id_type, cmd.id_number, today=today)
    id_type, id_number = doc.id_type, doc.number
    birth, gender = doc.birth_date or cmd.birth_date, doc.gender
    if cmd.kind == "individual" and doc.birth_date is None:
        # a passport or travel permit number does not carry the holder's birth date: it is read off the document
        if birth is None:
            raise ValidationFailed("the birth date on the identity document is required",
                                   details={"id_type": id_type, "birth_date": None})
        if birth > today or birth.year < 1900:
            raise ValidationFailed("the birth date is out of range", details={"birth_date": birth.isoformat()})
    phone = normalise_phone(cmd.phone) if cmd.phone else None
    if cmd.email and "@" not in cmd.email:
        raise ValidationFailed("not an e-mail address", details={"email": cmd.email})
    if cmd.annual_income_minor is not None and cmd.annual_income_minor < 0:
        raise ValidationFailed("income cannot be negative")
    if cmd.daily_limit_minor is not None and cmd.daily_limit_minor < 0:
        raise ValidationFailed("daily limit cannot be negative")
    if session.scalars(select(Customer.id).where(Customer.id_type == id_type, Customer.id_number == id_number)).first():
        raise Conflict("a customer with this identity document already exists", details={"id_number": id_number})
    c = Customer(
        number=number or f"C{secrets.randbelow(10**10):010d}", kind=cmd.kind, name=name, id_type=id_type,
        id_number=id_number, birth_date=birth, gender=gender, phone=phone, email=cmd.email, city=cmd.city,
        address=cmd.address, occupation=cmd.occupation, annual_income_minor=cmd.annual_income_minor,
        kyc_status="pending", risk_level="low", daily_limit_minor=cmd.daily_limit_minor, status="active",
    )
    session.add(c)
    try:
        session.flush()
    except IntegrityError as exc:  # the same document registered concurrently, after the check above
        raise Conflict("a customer with this identity document already exists",
                       details={"id_number": id_number}) from exc
    return c


# ----------------------------------------------------------------------------------------------
# identity verification (KYC)

KYC_STATUSES = ("pending", "verified", "rejected")
# how an identity was verified: a teller examined the original document with its holder at a branch; or
# the synthetic bank's history (customers it generates were verified before the window it simulates); or a
# migration from the bank's previous core system, which had verified them (the import option kyc_status: verified)
KYC_METHODS = ("branch_document_check", "synthetic", "legacy_import")


def record_verification(session: Session, customer: Customer, *, method: str, verified_by: int | None,
                        at: datetime | None = None) -> Customer:
    """Mark the customer's identity verified: who verified it (a staff user id), how and when."""
    if method not in KYC_METHODS:
        raise ValidationFailed("unknown verification method", details={"method": method, "methods": list(KYC_METHODS)})
    if customer.kyc_status == "verified":
        raise Conflict("this customer's identity is already verified", details={"customer_id": customer.id})
    customer.kyc_status = "verified"
    customer.kyc_method = method
    customer.kyc_verified_by = verified_by
    customer.kyc_verified_at = at or clock.now()
    session.flush()
    return customer


def record_rejection(session: Session, customer: Customer, *, rejected_by: int | None,
                     at: datetime | None = None) -> Customer:
    """The identity could not be verified (the document did not match its holder, or was not valid)."""
    if customer.kyc_status != "pending":
        raise Conflict(f"only a pending identity can be rejected; this one is {customer.kyc_status}",
                       details={"customer_id": customer.id, "kyc_status": customer.kyc_status})
    customer.kyc_status = "rejected"
    customer.kyc_method = "branch_document_check"
    customer.kyc_verified_by = rejected_by
    customer.kyc_verified_at = at or clock.now()
    session.flush()
    return customer


def get_customer(session: Session, customer_id: int, *, lock: bool = False) -> Customer:
    """The customer; with ``lock``, their row is locked (FOR UPDATE on PostgreSQL) until the transaction ends,
    which serialises one customer's concurrent requests that must not interleave."""
    if lock:
        stmt = select(Customer).where(Customer.id == customer_id)
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        c = session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    else:
        c = session.get(Customer, customer_id)
    if c is None:
        raise NotFound("customer not found", details={"customer_id": customer_id})
    return c


def birth_date_of(customer: Customer) -> date | None:
    """The birth date the bank knows: the one recorded, else the one in a PRC resident ID number."""
    if customer.birth_date is not None:
        return customer.birth_date
    if customer.id_type == "resident_id":
        try:
            return parse_resident_id(customer.id_number).birth_date
        except ValidationFailed:
            return None
    return None


# ----------------------------------------------------------------------------------------------
# reading customers' records: who may, what they see, and the audit record of every staff read

_RECORD_FIELDS = ("id", "number", "kind", "name", "id_type", "id_number", "birth_date", "gender", "phone", "email",
                  "city", "address", "occupation", "annual_income_minor", "kyc_status", "kyc_method", "kyc_verified_at",
                  "risk_level", "daily_limit_minor", "status", "created_at")


def customer_record(c: Customer, *, masked: bool) -> dict[str, Any]:
    """A customer's record; ``masked``: the identity number, phone and e-mail masked, birth date, address and
    income left out (for staff without ``customer.pii.read``)."""
    out = {f: getattr(c, f) for f in _RECORD_FIELDS}
    if masked:
        out.update(id_number=mask_id_number(c.id_number), phone=mask_phone(c.phone), email=mask_email(c.email),
                   birth_date=None, address=None, annual_income_minor=None)
    out["masked"] = masked
    return out


def masked_for(actor: Principal) -> bool:
    """Whether ``actor`` sees customers' records masked: staff without ``customer.pii.read``."""
    return actor.is_staff and not actor.can("customer.pii.read")


def view_customer(session: Session, actor: Principal, customer_id: int) -> dict[str, Any]:
    """One customer's record as ``actor`` may see it: a customer their own (another customer's is "not
    found"); staff with ``customer.read``, masked unless they hold ``customer.pii.read``. A staff read is
    audited."""
    if actor.is_staff:
        actor.require("customer.read")
    elif actor.customer_id != customer_id:
        raise NotFound("customer not found", details={"customer_id": customer_id})
    c = get_customer(session, customer_id)
    masked = masked_for(actor)
    security.audit_reads(session, actor, action="customer.read", customer_ids=[c.id], shown={"masked": masked})
    return customer_record(c, masked=masked)


def find_customers(session: Session, actor: Principal, q: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """Staff search (``customer.search``): the matching records, masked unless the role holds
    ``customer.pii.read``; each customer shown is audited."""
    actor.require("customer.search")
    found = search_customers(session, q, limit=limit)
    masked = masked_for(actor)
    security.audit_reads(session, actor, action="customer.search", customer_ids=[c.id for c in found],
                         shown={"masked": masked, "q": (q or "").strip()[:64]})
    return [customer_record(c, masked=masked) for c in found]


def search_customers(session: Session, q: str, *, limit: int = 50) -> list[Customer]:
    """The search itself, for entry points that have checked the caller (see :func:`find_customers`)."""
    q = (q or "").strip()
    stmt = select(Customer).order_by(Customer.id).limit(limit)
    if q:
        like = f"%{q}%"
        conds = [Customer.name.like(like), Customer.number == q, Customer.id_number == q.upper()]
        digits = "".join(ch for ch in q if ch.isdigit())
        if len(digits) >= 4:
            conds.append(Customer.phone.like(f"%{digits}%"))
        stmt = stmt.where(or_(*conds))
    return list(session.scalars(stmt))


def set_daily_limit(session: Session, customer: Customer, limit_minor: int | None) -> Customer:
    if limit_minor is not None and limit_minor < 0:
        raise ValidationFailed("daily limit cannot be negative")
    customer.daily_limit_minor = limit_minor
    session.flush()
    return customer


def names_of(session: Session, customer_ids: list[int]) -> dict[int, str]:
    """Each customer's name, for a list a staff page shows (the caller decides who may see it)."""
    if not customer_ids:
        return {}
    return {int(i): n for i, n in session.execute(select(Customer.id, Customer.name)
                                                  .where(Customer.id.in_(customer_ids)))}


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Customer)) or 0


# ----------------------------------------------------------------------------------------------
# bulk access for imports (rows already validated by the import rules with this module's validators)


def matching_records(session: Session) -> list[Any]:
    """Every customer's identifying fields (id, name, phone, birth date, e-mail, document), for matching
    incoming records against the customers the bank already has."""
    return list(session.execute(select(Customer.id, Customer.name, Customer.phone, Customer.birth_date,
                                       Customer.email, Customer.id_type, Customer.id_number).order_by(Customer.id)))


def ids_by_document(session: Session, docs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Customer id per (id type, id number) among ``docs`` that exist."""
    out: dict[tuple[str, str], int] = {}
    numbers = sorted({n for _, n in docs})
    for i in range(0, len(numbers), 1000):
        part = numbers[i:i + 1000]
        for cid, t, n in session.execute(select(Customer.id, Customer.id_type, Customer.id_number)
                                         .where(Customer.id_number.in_(part))):
            out[(t, n)] = cid
    return out


def insert_many(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert validated customer rows in one statement; their ids in the order given."""
    if not rows:
        return []
    stmt = insert(Customer).returning(Customer.id, sort_by_parameter_order=True)
    return [r[0] for r in session.execute(stmt, rows)]
