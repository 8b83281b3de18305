"""Privacy: the customer's rights over their personal information (PIPL Arts. 44-47).

The front door of the privacy domain (:data:`__all__`). A small high-level domain: it owns only
``privacy_requests`` and reaches every other domain through its front door.

- **Copy** (:func:`export_own`, :func:`export_for_customer`): profile, consents, accounts, transactions, payees,
  standing orders, loans and applications, wealth assessments, holdings and orders, assistant conversations,
  notifications and earlier privacy requests; JSON, or a zip with one CSV file per kind.
- **Correction** (:func:`request_correction`, :func:`resolve_correction`): the customer names the field and the
  correct value; a teller (``privacy.requests.resolve``) accepts it (the record is changed) or rejects it with a
  reason. Both steps are audited.
- **Deletion** (:func:`deletion_check`, :func:`request_deletion`): refused with the reasons while the customer
  holds money, loans or open products. Otherwise the personal data no rule requires is erased at once (contact
  details, address, occupation, income, payees, standing-order memos, assistant conversations, in-app messages,
  recommendation behaviour), sign-in is disabled, and what anti-money-laundering rules require is kept for its
  period: identity data and transaction records until five years after the relationship ends
  (《金融机构客户身份识别和客户身份资料及交易记录保存管理办法》 Art. 29; 反洗钱法 Art. 19). The customer is told
  which categories are kept and until which date.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.assistant import service as assistant
from smartbank.customers import service as customers
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.lending import service as lending
from smartbank.notifications import service as notifications
from smartbank.payments import service as payments
from smartbank.privacy import export as _export
from smartbank.privacy.export import EXPORT_FORMATS
from smartbank.privacy.export import KINDS as EXPORT_KINDS
from smartbank.privacy.models import PrivacyRequest
from smartbank.recommend import service as recommend
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.text import clean_text
from smartbank.wealth import service as wealth

__all__ = [
    "CORRECTABLE_FIELDS", "DeletionRefused", "EXPORT_FORMATS", "EXPORT_KINDS", "MAX_NOTE", "PrivacyRequest",
    "RETENTION_YEARS",
    "correction_queue", "deletion_check", "export_for_customer", "export_own", "list_requests", "purge_expired",
    "request_as_dict", "request_correction", "request_deletion", "resolve_correction",
]

CORRECTABLE_FIELDS = customers.CORRECTABLE_FIELDS
RETENTION_YEARS = 5
MAX_NOTE = 500
_OPEN_APPLICATION = ("submitted", "scoring", "manual_review", "approved", "accepted")


class DeletionRefused(Conflict):
    code = "deletion_refused"


def _customer_id(actor: Principal) -> int:
    if actor.is_staff or actor.customer_id is None:
        raise NotFound("privacy requests are a customer's own", details={"role": actor.role})
    return actor.customer_id


def request_as_dict(r: PrivacyRequest) -> dict[str, Any]:
    return {"id": r.id, "customer_id": r.customer_id, "kind": r.kind, "status": r.status, "field": r.field,
            "requested_value": r.requested_value, "customer_note": r.customer_note,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "resolved_by": r.resolved_by, "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None,
            "resolution_note": r.resolution_note, "outcome": r.outcome}


# ----------------------------------------------------------------------------------------------
# a copy of the data


def _make_export(session: Session, reader: Principal, customer: customers.Customer, fmt: str) -> tuple[bytes, str, str]:
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed("format must be json or csv", details={"format": fmt})
    data = _export.collect(session, reader, customer.id)
    stamp = clock.today().strftime("%Y%m%d")
    if fmt == "json":
        return _export.as_json(customer.number, data), f"smartbank-{customer.number}-{stamp}.json", "application/json"
    return _export.as_zip(customer.number, data), f"smartbank-{customer.number}-{stamp}.zip", "application/zip"


def export_own(session: Session, actor: Principal, *, fmt: str) -> tuple[bytes, str, str]:
    """The signed-in customer's data: ``(content, file name, media type)``; audited."""
    cid = _customer_id(actor)
    c = customers.get_customer(session, cid)
    out = _make_export(session, actor, c, fmt)
    security.audit(session, actor, action="privacy.export", object_type="customer", object_id=cid,
                   after={"format": fmt, "bytes": len(out[0])})
    return out


def export_for_customer(session: Session, customer_number: str, *, fmt: str,
                        operator: Principal = security.SYSTEM) -> tuple[bytes, str, str]:
    """The command line's export, made on the customer's behalf by an operator of the server (audited as the
    operator's): the data is read as the customer would read it."""
    c = customers.customer_by_number(session, customer_number)
    user = security.user_of_customer(session, c.id)
    reader = Principal(user_id=user.id if user else 0, username=user.username if user else c.number,
                       role="customer", customer_id=c.id)
    out = _make_export(session, reader, c, fmt)
    security.audit(session, operator, action="privacy.export", object_type="customer", object_id=c.id,
                   after={"format": fmt, "bytes": len(out[0]), "by": "operator"})
    return out


# ----------------------------------------------------------------------------------------------
# corrections


def request_correction(session: Session, actor: Principal, *, field: str, value: str,
                       note: str | None = None) -> dict[str, Any]:
    """The customer asks for ``field`` to be corrected to ``value`` (checked now as the record would check it)."""
    cid = _customer_id(actor)
    v = customers.check_correction(field, value)
    note = clean_text(note, "note", MAX_NOTE, required=False) or None
    open_same = session.scalars(select(PrivacyRequest.id).where(
        PrivacyRequest.customer_id == cid, PrivacyRequest.kind == "correction", PrivacyRequest.status == "open",
        PrivacyRequest.field == field)).first()
    if open_same is not None:
        raise Conflict("a correction of this field is already waiting", details={"request_id": open_same})
    r = PrivacyRequest(customer_id=cid, kind="correction", status="open", field=field, requested_value=v,
                       customer_note=note, created_at=clock.now())
    session.add(r)
    session.flush()
    security.audit(session, actor, action="privacy.correction.request", object_type="customer", object_id=cid,
                   after={"request_id": r.id, "field": field})
    return request_as_dict(r)


def list_requests(session: Session, actor: Principal) -> list[dict[str, Any]]:
    """The customer's own privacy requests, newest first."""
    cid = _customer_id(actor)
    rows = session.scalars(select(PrivacyRequest).where(PrivacyRequest.customer_id == cid)
                           .order_by(PrivacyRequest.id.desc()))
    return [request_as_dict(r) for r in rows]


def correction_queue(session: Session, actor: Principal, *, status: str = "open",
                     limit: int = 100) -> list[dict[str, Any]]:
    """Correction requests for staff who resolve them (``privacy.requests.resolve``), oldest first; each
    customer shown is an audited read. Each row carries the customer's number and name and the current value."""
    actor.require("privacy.requests.resolve")
    if status not in ("open", "accepted", "rejected"):
        raise ValidationFailed("status must be open, accepted or rejected", details={"status": status})
    rows = list(session.scalars(select(PrivacyRequest).where(PrivacyRequest.kind == "correction",
                                                             PrivacyRequest.status == status)
                                .order_by(PrivacyRequest.id).limit(max(1, min(limit, 500)))))
    security.audit_reads(session, actor, action="privacy.corrections.read", customer_ids=[r.customer_id for r in rows])
    out = []
    for r in rows:
        c = customers.get_customer(session, r.customer_id)

        def shown(value: Any, field: str | None = r.field) -> Any:
            # the masking policy as for serving one customer: a phone or e-mail masked (a teller reveals it on
            # the customer's page, break-glass, when the check needs it); city and occupation are not identity
            return security.present(actor.role, "service", field, value) if field in security.PII_FIELDS else value

        out.append(request_as_dict(r) | {"customer_number": c.number,
                                         "customer_name": shown(c.name, "name"),
                                         "current_value": shown(getattr(c, r.field or "", None)),
                                         "requested_value": shown(r.requested_value)})
    return out


def resolve_correction(session: Session, actor: Principal, request_id: int, *, accept: bool,
                       note: str | None = None) -> dict[str, Any]:
    """Accept (the record takes the value) or reject (a reason is required) an open correction; audited."""
    actor.require("privacy.requests.resolve")
    if not isinstance(accept, bool):
        raise ValidationFailed("accept must be true or false")
    note = clean_text(note, "reason", MAX_NOTE, required=not accept,
                      empty="a rejection needs a reason the customer will read") or None
    r = session.get(PrivacyRequest, request_id)
    if r is None or r.kind != "correction":
        raise NotFound("correction request not found", details={"request_id": request_id})
    if r.status != "open":
        raise Conflict(f"this request is already {r.status}", reason="privacy.request_not_open",
                       details={"request_id": r.id, "status": r.status})
    c = customers.get_customer(session, r.customer_id, lock=True)
    if c.status == "closed":
        raise Conflict("this customer relationship has ended", details={"request_id": r.id})
    if accept:
        assert r.field is not None and r.requested_value is not None
        customers.correct_field(session, c, r.field, r.requested_value)
    r.status = "accepted" if accept else "rejected"
    r.resolved_by, r.resolved_at, r.resolution_note = actor.user_id or None, clock.now(), note
    session.flush()
    security.audit(session, actor, action=f"privacy.correction.{r.status}", object_type="customer",
                   object_id=c.id, before={"request_id": r.id, "status": "open"},
                   after={"request_id": r.id, "status": r.status, "field": r.field}, note=note)
    return request_as_dict(r)


# ----------------------------------------------------------------------------------------------
# deletion


def _plus_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _blockers(session: Session, actor: Principal, cid: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    accounts = ledger.customer_accounts(session, cid)
    money = [a for a in accounts if a.balance_minor != 0 or a.debits_pending or a.credits_pending]
    if money:
        out.append({"code": "money", "count": len(money),
                    "en": "You still hold money in your accounts: withdraw or transfer it first.",
                    "zh": "您的账户中仍有资金，请先转出或取出。"})
    open_accounts = [a for a in accounts if a.status != "closed"]
    if open_accounts:
        out.append({"code": "open_accounts", "count": len(open_accounts),
                    "en": "You still have open accounts: close them at a branch or with customer service first.",
                    "zh": "您仍有未销户的账户，请先到网点或通过客服办理销户。"})
    loans = [x for x in lending.list_loans(session, actor, cid) if x.get("status") != "closed"]
    if loans:
        out.append({"code": "loans", "count": len(loans),
                    "en": "You have a loan that is not settled.", "zh": "您有尚未结清的贷款。"})
    apps = [a for a in lending.list_applications(session, actor, limit=500) if a.status in _OPEN_APPLICATION]
    if apps:
        out.append({"code": "loan_applications", "count": len(apps),
                    "en": "You have a loan application in progress: withdraw it first.",
                    "zh": "您有正在办理的贷款申请，请先撤回。"})
    held = wealth.held_products(session, cid)
    if held:
        out.append({"code": "wealth", "count": len(held),
                    "en": "You hold investment products or have an order pending: redeem or cancel them first.",
                    "zh": "您持有理财产品或有未完成的订单，请先赎回或撤单。"})
    return out


def _retention(today: date) -> list[dict[str, Any]]:
    until = _plus_years(today, RETENTION_YEARS).isoformat()
    basis_en = "anti-money-laundering rules: five years after the relationship ends"
    basis_zh = "反洗钱规定：业务关系结束后至少保存五年"
    return [
        {"category": "identity", "until": until, "basis_en": basis_en, "basis_zh": basis_zh,
         "en": "Identity data: name, identity document, birth date, gender",
         "zh": "身份资料：姓名、身份证件、出生日期、性别"},
        {"category": "transactions", "until": until, "basis_en": basis_en, "basis_zh": basis_zh,
         "en": "Accounts and transaction records, loans and investment orders",
         "zh": "账户与交易记录、贷款及理财交易记录"},
        {"category": "consents_and_audit", "until": until,
         "basis_en": "proof of what you agreed to and of this request, kept as long as the records above",
         "basis_zh": "证明您的授权及本次申请的记录，与上述资料保存期限相同",
         "en": "Consent history and the record of this request", "zh": "授权记录及本次申请的记录"},
    ]


_ERASED = [
    {"category": "contact", "en": "Phone number and e-mail address", "zh": "手机号码和电子邮箱"},
    {"category": "address", "en": "Address, city, occupation and income", "zh": "地址、城市、职业和收入"},
    {"category": "payees", "en": "Saved payees and standing-order memos", "zh": "常用收款人和定期转账附言"},
    {"category": "conversations", "en": "Assistant conversations", "zh": "智能助手对话内容"},
    {"category": "messages", "en": "In-app messages", "zh": "站内消息"},
    {"category": "behaviour", "en": "Recommendation clicks and views", "zh": "推荐浏览与点击记录"},
]


def deletion_check(session: Session, actor: Principal) -> dict[str, Any]:
    """What a deletion request would do now: ``allowed``, the ``blockers`` (each with its reason in zh and en),
    what would be ``erased`` and what ``kept`` until when."""
    cid = _customer_id(actor)
    blockers = _blockers(session, actor, cid)
    return {"allowed": not blockers, "blockers": blockers, "erased": _ERASED, "kept": _retention(clock.today())}


def request_deletion(session: Session, actor: Principal, *, confirm: bool) -> dict[str, Any]:
    """Delete the customer's personal data as far as the retention rules allow (see the module docstring), or
    refuse (409 ``deletion_refused``, nothing written) naming what is still open. Returns the request with its
    outcome: what was erased and which categories are kept until which date."""
    cid = _customer_id(actor)
    if confirm is not True:
        raise ValidationFailed("confirm the deletion request", details={"confirm": confirm})
    c = customers.get_customer(session, cid, lock=True)
    if c.status == "closed":
        raise Conflict("this customer relationship has already ended", details={"customer_id": cid})
    blockers = _blockers(session, actor, cid)
    if blockers:
        raise DeletionRefused("we cannot delete your data while you hold money, loans or open products",
                              details={"blockers": blockers})
    today = clock.today()
    cleared = customers.anonymise_customer(session, c)
    counts = {
        "payments": payments.erase_payees(session, cid),
        "assistant_messages": assistant.erase_customer_texts(session, cid),
        "notifications": notifications.erase_for(session, cid),
        "recommendation_events": recommend.erase_customer_events(session, cid),
        "users_disabled": security.disable_customer_users(session, cid),
    }
    kept = _retention(today)
    outcome: dict[str, Any] = {"relationship_ended": today.isoformat(), "cleared_fields": cleared, "counts": counts,
                               "erased": _ERASED, "kept": kept}
    r = PrivacyRequest(customer_id=cid, kind="deletion", status="done", created_at=clock.now(),
                       resolved_by=actor.user_id or None, resolved_at=clock.now(), outcome=outcome)
    session.add(r)
    session.flush()
    security.audit(session, actor, action="privacy.deletion", object_type="customer", object_id=cid,
                   after={"request_id": r.id, "cleared_fields": cleared, "counts": counts,
                          "kept_until": kept[0]["until"]})
    return request_as_dict(r)


def purge_expired(session: Session, *, today: date | None = None,
                  operator: Principal = security.SYSTEM) -> dict[str, Any]:
    """Purge the identity data whose retention period has ended: for each deletion request whose kept categories
    are due (their date on or before ``today``, the bank's date by default), the customer's name, identity
    document, birth date and gender are replaced and the request is marked ``purged``; audited. Transaction
    records stay: the ledger is immutable and hash-chained, and with the identity gone they no longer name a
    person. Run it daily (``smartbank privacy purge``)."""
    day = today or clock.today()
    purged: list[int] = []
    for r in session.scalars(select(PrivacyRequest).where(PrivacyRequest.kind == "deletion",
                                                          PrivacyRequest.status == "done").order_by(PrivacyRequest.id)):
        kept = (r.outcome or {}).get("kept") or []
        until = min((date.fromisoformat(k["until"]) for k in kept), default=None)
        if until is None or until > day:
            continue
        c = customers.get_customer(session, r.customer_id, lock=True)
        customers.purge_identity(session, c)
        r.status = "purged"
        r.outcome = {**(r.outcome or {}), "purged_on": day.isoformat()}
        session.flush()
        security.audit(session, operator, action="privacy.purge", object_type="customer", object_id=c.id,
                       after={"request_id": r.id, "retention_until": until.isoformat(), "purged_on": day.isoformat()})
        purged.append(c.id)
    return {"day": day.isoformat(), "purged": len(purged), "customer_ids": purged}
