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

from smartbank import clock, pii
from smartbank.customers.consent import (
    CONSENT_GIVEN_VIA,
    CONSENT_PURPOSES,
    MARKETING_CHANNELS,
    PRIVACY_NOTICE_VERSION,
    ConsentRecord,
    ConsentState,
    consent_history,
    consent_state,
    has_consent,
    list_consents,
    set_consent,
)
from smartbank.customers.models import ENCRYPTED as ENCRYPTED_FIELDS
from smartbank.customers.models import INDEXED as INDEXED_FIELDS
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
from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.text import clean_text

__all__ = [
    "Customer", "CustomerCreate", "KYC_METHODS", "KYC_STATUSES",
    # one customer
    "REVEAL_REASON_LIMIT", "birth_date_of", "create_customer", "customer_record", "get_customer", "masked_for",
    "purpose_of", "record_rejection", "record_verification", "reveal_field", "set_daily_limit", "view_customer",
    # the customer's own high-risk changes, behind a step-up
    "SELF_MAX_DAILY_LIMIT_MINOR", "change_own_phone", "set_own_daily_limit",
    # many customers
    "count", "find_customers", "ids_by_document", "pending_identities", "recent_customers",
    "insert_many", "matching_records", "names_of", "search_customers",
    # storage: which fields are encrypted and blind-indexed, the stored form of rows for COPY
    "ENCRYPTED_FIELDS", "INDEXED_FIELDS", "stored_form",
    # identity documents and phone numbers
    "BUSINESS_ID_TYPES", "ID_TYPES", "INDIVIDUAL_ID_TYPES", "IdDocument", "ResidentId", "make_resident_id",
    "normalise_phone", "parse_id_document", "parse_resident_id",
    # consent (PIPL): the registry, the check at use time, and the anonymisation of a deleted customer
    "CONSENT_GIVEN_VIA", "CONSENT_PURPOSES", "ConsentRecord", "ConsentState", "MARKETING_CHANNELS",
    "PRIVACY_NOTICE_VERSION", "ANONYMISED_FIELDS", "CORRECTABLE_FIELDS", "anonymise_customer", "check_correction",
    "correct_field", "customer_by_number", "purge_identity", "consent_history", "consent_state",
    "has_consent", "list_consents", "set_consent",
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
    if session.scalars(select(Customer.id).where(
            Customer.id_type == id_type,
            Customer.id_number_bidx == security.blind_index(id_number, kind="id_number"))).first():
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
                       reason="customers.kyc_not_pending",
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


_RECORD_KINDS = {"annual_income_minor": "income"}  # the customer number is the bank's, not a personal field


def purpose_of(actor: Principal, purpose: str = "service") -> str:
    """The masking purpose of ``actor``'s read: ``self`` for a customer, else ``purpose``."""
    return "self" if actor.role == "customer" else purpose


def customer_record(c: Customer, *, role: str, purpose: str) -> dict[str, Any]:
    """A customer's record as ``role`` may see it for ``purpose`` (the masking policy,
    :func:`smartbank.security.service.present`); ``masked`` says whether any personal field is masked or left
    out."""
    raw = {f: getattr(c, f) for f in _RECORD_FIELDS}
    out = security.present_record(role, purpose, raw, _RECORD_KINDS)
    out["masked"] = any(out[k] != raw[k] for k in raw)
    return out


def masked_for(actor: Principal, purpose: str = "service") -> bool:
    """Whether ``actor`` sees customers' identity numbers masked for ``purpose`` (every staff role: the full
    value is a break-glass reveal, :func:`reveal_field`)."""
    return security.masking_rule(actor.role, purpose_of(actor, purpose), "id_number") != "full"


def view_customer(session: Session, actor: Principal, customer_id: int) -> dict[str, Any]:
    """One customer's record as ``actor`` may see it: a customer their own (another customer's is "not
    found"); staff with ``customer.read``, as the masking policy shows it to their role. A staff read is
    audited."""
    if actor.is_staff:
        actor.require("customer.read")
    elif actor.customer_id != customer_id:
        raise NotFound("customer not found", details={"customer_id": customer_id})
    c = get_customer(session, customer_id)
    out = customer_record(c, role=actor.role, purpose=purpose_of(actor))
    security.audit_reads(session, actor, action="customer.read", customer_ids=[c.id], shown={"masked": out["masked"]})
    return out


def find_customers(session: Session, actor: Principal, q: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """Staff search (``customer.search``): the matching records as the masking policy shows a list to the role;
    each customer shown is audited."""
    actor.require("customer.search")
    found = search_customers(session, q, limit=limit)
    security.audit_reads(session, actor, action="customer.search", customer_ids=[c.id for c in found],
                         shown={"masked": masked_for(actor, "search"), "q": pii.redact((q or "").strip()[:64])})
    return [customer_record(c, role=actor.role, purpose="search") for c in found]


def recent_customers(session: Session, actor: Principal, *, limit: int = 8) -> list[dict[str, Any]]:
    """The customers ``actor`` opened most recently (from their own audited reads), as a list shows them to
    the role, each with ``opened_at``; shown to staff only and audited as a list read."""
    actor.require("customer.search")
    opened = security.recently_opened(session, actor, action="customer.read", object_type="customer", limit=limit)
    ids = [int(i) for i, _ in opened if i.isdigit()]
    found = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))} if ids else {}
    out = []
    for oid, at in opened:
        c = found.get(int(oid)) if oid.isdigit() else None
        if c is not None:
            out.append({**customer_record(c, role=actor.role, purpose="search"), "opened_at": at})
    security.audit_reads(session, actor, action="customer.recent", customer_ids=[r["id"] for r in out],
                         shown={"masked": masked_for(actor, "search")})
    return out


def pending_identities(session: Session, actor: Principal, *, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
    """Customers whose identity waits for its check at the counter (``kyc_status`` pending), oldest first, for
    staff who verify identities (``customer.kyc.verify``): how many, and the first ``limit`` (audited reads)."""
    actor.require("customer.kyc.verify")
    pending = Customer.kyc_status == "pending"
    total = int(session.scalar(select(func.count()).select_from(Customer).where(pending)) or 0)
    rows = list(session.scalars(select(Customer).where(pending).order_by(Customer.id).limit(max(1, min(limit, 100)))))
    security.audit_reads(session, actor, action="customer.kyc.queue", customer_ids=[c.id for c in rows],
                         shown={"masked": masked_for(actor, "search")})
    return total, [customer_record(c, role=actor.role, purpose="search") for c in rows]


REVEAL_REASON_LIMIT = 200


def reveal_field(session: Session, actor: Principal, customer_id: int, *, field: str, reason: object) -> dict[str, Any]:
    """Break-glass: one personal field of one customer in full, for a teller at the counter or an officer on a
    case (:data:`smartbank.security.service.REVEAL_ROLES`), with a stated reason. Writes an audit record (who,
    which customer, which field, the reason, the request id) in the caller's transaction; any other role is
    refused and nothing is written."""
    if not actor.is_staff or actor.role not in security.REVEAL_ROLES:
        raise Forbidden("your role may not reveal personal data",
                        details={"role": actor.role, "needs": list(security.REVEAL_ROLES)})
    if field not in security.REVEAL_FIELDS:
        raise ValidationFailed("this field cannot be revealed",
                               details={"field": str(field)[:32], "fields": list(security.REVEAL_FIELDS)})
    why = clean_text(reason, "reason", REVEAL_REASON_LIMIT, empty="a reason is required to reveal personal data")
    c = get_customer(session, customer_id)
    value = birth_date_of(c) if field == "birth_date" else getattr(c, field)
    security.audit(session, actor, action="customer.pii.reveal", object_type="customer", object_id=c.id,
                   after={"field": field, "reason": pii.redact(why)})
    return {"customer_id": c.id, "field": field, "value": None if value is None else str(value)}


def search_customers(session: Session, q: str, *, limit: int = 50) -> list[Customer]:
    """The search itself, for entry points that have checked the caller (see :func:`find_customers`)."""
    q = (q or "").strip()
    stmt = select(Customer).order_by(Customer.id).limit(limit)
    if q:
        like = f"%{q}%"
        # the ID number and the phone are encrypted: a whole number is found by its blind index (no partial match)
        conds = [Customer.name.like(like), Customer.number == q,
                 Customer.id_number_bidx == security.blind_index(q, kind="id_number")]
        digits = "".join(ch for ch in q if ch.isdigit())
        if len(digits) >= 7:
            conds.append(Customer.phone_bidx == security.blind_index(q, kind="phone"))
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
    wanted = set(docs)
    by_index = {security.blind_index(n, kind="id_number"): n for n in {n for _, n in docs}}
    indexes = sorted(by_index)
    for i in range(0, len(indexes), 1000):
        part = indexes[i:i + 1000]
        for cid, t, bidx in session.execute(select(Customer.id, Customer.id_type, Customer.id_number_bidx)
                                            .where(Customer.id_number_bidx.in_(part))):
            if (t, by_index[bidx]) in wanted:
                out[(t, by_index[bidx])] = cid
    return out


def insert_many(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert validated customer rows in one statement; their ids in the order given."""
    if not rows:
        return []
    stmt = insert(Customer).returning(Customer.id, sort_by_parameter_order=True)
    return [r[0] for r in session.execute(stmt, rows)]


def stored_form(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Customer rows as the table stores them, for bulk paths that bypass SQLAlchemy's column types (PostgreSQL
    ``COPY``): the identity fields encrypted, their blind indexes added. (``insert_many`` and the ORM do this
    through the column types themselves.)"""
    out = []
    for r in rows:
        r = dict(r)
        for source, target in INDEXED_FIELDS.items():
            if source in r:
                r[target] = None if r[source] is None else security.blind_index(r[source], kind=source)
        for f in ENCRYPTED_FIELDS:
            if f in r:
                r[f] = security.encrypt_text(r[f], context=f"customers.{f}")
        out.append(r)
    return out
# ----------------------------------------------------------------------------------------------
# anonymisation after a deletion request (the privacy domain decides whether it may happen)

# what anonymisation clears now; the identity data anti-money-laundering rules require (name, identity document,
# birth date, gender) stays until its retention period ends (see docs/DATA_PROTECTION.md)
ANONYMISED_FIELDS = ("phone", "email", "address", "city", "occupation", "annual_income_minor")


def anonymise_customer(session: Session, customer: Customer) -> list[str]:
    """Clear the customer's contact details, address, occupation and income and mark the relationship closed;
    returns the fields cleared. The caller has checked that nothing is open and audits the request."""
    cleared = [f for f in ANONYMISED_FIELDS if getattr(customer, f) is not None]
    for f in ANONYMISED_FIELDS:
        setattr(customer, f, None)
    customer.status = "closed"
    session.flush()
    return cleared


# what a customer may ask to have corrected (PIPL Art. 46); the identity document is corrected only by a teller
# re-examining the document (KYC), not through a request
CORRECTABLE_FIELDS = ("name", "phone", "email", "address", "city", "occupation")
_FIELD_LIMITS = {"name": 200, "phone": 20, "email": 200, "address": 300, "city": 64, "occupation": 64}


def check_correction(field: str, value: object) -> str:
    """The corrected value of ``field`` in the record's form, or a 422 naming what is wrong."""
    if field not in CORRECTABLE_FIELDS:
        raise ValidationFailed("this field cannot be corrected by request",
                               details={"field": field, "fields": list(CORRECTABLE_FIELDS)})
    v = " ".join(value.split()) if isinstance(value, str) else ""
    if not v or len(v) > _FIELD_LIMITS[field] or "\x00" in v:
        raise ValidationFailed(f"the new {field} needs 1-{_FIELD_LIMITS[field]} characters",
                               reason="customers.correction_length",
                               details={"field": field, "limit": _FIELD_LIMITS[field]})
    if field == "phone":
        v = normalise_phone(v)
    if field == "email" and ("@" not in v or " " in v):
        raise ValidationFailed("not an e-mail address", details={"field": field})
    return v


def correct_field(session: Session, customer: Customer, field: str, value: str) -> None:
    """Set a corrected field (the privacy domain checks who may and audits it)."""
    setattr(customer, field, check_correction(field, value))
    session.flush()


def customer_by_number(session: Session, number: str) -> Customer:
    """The customer with this customer number (the command line names customers by it)."""
    c = session.scalars(select(Customer).where(Customer.number == (number or "").strip())).first()
    if c is None:
        raise NotFound("customer not found", details={"customer_number": number})
    return c


PURGED_NAME = "已注销客户"


def purge_identity(session: Session, customer: Customer) -> None:
    """The end of the retention period of a closed customer's identity data: the name, identity document, birth
    date and gender are replaced (the document by a unique placeholder, the column being part of a unique key);
    the customer number stays as the key of the records that remain."""
    if customer.status != "closed":
        raise Conflict("only a closed customer's identity can be purged", details={"customer_id": customer.id})
    customer.name = PURGED_NAME
    customer.id_number = f"PURGED-{customer.id}"
    customer.birth_date = None
    customer.gender = None
    session.flush()
