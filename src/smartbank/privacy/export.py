"""A customer's data, collected through each domain's front door (PIPL Art. 45: the right to a copy, and to have
it in a form another processor can read): one JSON document, or a zip with one CSV file per kind."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.assistant import service as assistant
from smartbank.customers import service as customers
from smartbank.ledger import service as ledger
from smartbank.lending import service as lending
from smartbank.notifications import service as notifications
from smartbank.payments import service as payments
from smartbank.privacy.models import PrivacyRequest
from smartbank.security.service import Principal
from smartbank.statements import service as statements
from smartbank.wealth import service as wealth

FORMAT_VERSION = 1
EXPORT_FORMATS = ("json", "csv")
# the kinds of data in an export, in the order the files are written
KINDS = ("profile", "consents", "consent_history", "accounts", "transactions", "payees", "scheduled_transfers",
         "loans", "loan_applications", "wealth_assessments", "wealth_holdings", "wealth_orders",
         "assistant_conversations", "assistant_messages", "notifications", "privacy_requests")


def _account(a: Any) -> dict[str, Any]:
    return {"id": a.id, "number": a.number, "kind": a.kind, "currency": a.currency, "status": a.status,
            "name": a.name, "balance_minor": a.balance_minor, "opened_at": getattr(a, "created_at", None)}


def collect(session: Session, actor: Principal, customer_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every kind of :data:`KINDS` for the customer, read as ``actor`` (the customer themselves)."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    out["profile"] = [customers.view_customer(session, actor, customer_id)]
    out["consents"] = customers.list_consents(session, actor, customer_id)
    out["consent_history"] = customers.consent_history(session, actor, customer_id)
    accounts = ledger.customer_accounts(session, customer_id, include_loans=True)
    out["accounts"] = [_account(a) for a in accounts]
    for a in accounts:
        for it in statements.iter_all(session, a, statements.HistoryFilter()):
            out["transactions"].append({"account_number": a.number, **it})
    out["payees"] = [{"id": p.id, "name": p.name, "account_number": p.account_number, "nickname": p.nickname,
                      "created_at": p.created_at} for p in payments.list_payees(session, actor, customer_id)]
    out["scheduled_transfers"] = [
        {"id": s.id, "from_account_id": s.from_account_id, "to_account_id": s.to_account_id,
         "amount_minor": s.amount_minor, "currency": s.currency, "memo": s.memo, "frequency": s.frequency,
         "start_date": s.start_date, "end_date": s.end_date, "status": s.status, "created_at": s.created_at}
        for s in payments.list_scheduled(session, actor, customer_id)]
    out["loans"] = lending.list_loans(session, actor, customer_id)
    out["loan_applications"] = [lending.application_view(session, a)
                                for a in lending.list_applications(session, actor, limit=500)]
    out["wealth_assessments"] = wealth.assessment_history(session, customer_id, limit=500)
    out["wealth_holdings"] = wealth.customer_holdings(session, customer_id, with_analytics=False)["holdings"]
    out["wealth_orders"] = wealth.list_orders(session, actor, customer_id, limit=500)
    for c in assistant.list_conversations(session, actor, limit=1000):
        out["assistant_conversations"].append(c)
        for m in assistant.history(session, actor, c["id"])["messages"]:
            out["assistant_messages"].append({"conversation_id": c["id"], **m})
    out["notifications"] = [notifications.as_dict(n, "zh") | {"title_en": n.title_en, "body_en": n.body_en}
                            for n in notifications.list_for(session, actor, customer_id, limit=200)]
    out["privacy_requests"] = [
        {"id": r.id, "kind": r.kind, "status": r.status, "field": r.field, "requested_value": r.requested_value,
         "customer_note": r.customer_note, "created_at": r.created_at, "resolved_at": r.resolved_at,
         "resolution_note": r.resolution_note}
        for r in session.scalars(select(PrivacyRequest).where(PrivacyRequest.customer_id == customer_id)
                                 .order_by(PrivacyRequest.id))]
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, set | tuple):
        return list(v)
    return str(v)


def as_json(customer_number: str, data: dict[str, list[dict[str, Any]]]) -> bytes:
    doc = {"format_version": FORMAT_VERSION, "customer_number": customer_number,
           "generated_at": clock.now().isoformat(), "amounts": "integer minor units (fen for CNY)", "data": data}
    return json.dumps(doc, ensure_ascii=False, indent=2, default=_plain).encode("utf-8")


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, default=_plain)
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def as_zip(customer_number: str, data: dict[str, list[dict[str, Any]]]) -> bytes:
    """A zip of ``<kind>.csv`` (UTF-8 with a byte-order mark, which spreadsheet programs need for Chinese), one
    per kind (an empty kind has its file with no rows), and a README."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for kind in KINDS:
            rows = data.get(kind, [])
            cols: list[str] = []
            for r in rows:
                cols += [k for k in r if k not in cols]
            text = io.StringIO()
            w = csv.writer(text)
            if cols:
                w.writerow(cols)
                for r in rows:
                    w.writerow([_cell(r.get(c)) for c in cols])
            z.writestr(f"{kind}.csv", "\ufeff" + text.getvalue())
        z.writestr("README.txt", f"smartbank data export, customer {customer_number}, generated "
                                 f"{clock.now().isoformat()}\nOne CSV file per kind of data; amounts in integer "
                                 "minor units (fen for CNY).\n")
    return buf.getvalue()
