"""The consent registry (PIPL Arts. 13-16, 24): what each customer has agreed to, when, how and on which notice.

Every grant or withdrawal is a row of ``customer_consents`` (append-only; nothing updates or deletes one), with
the time (:mod:`smartbank.clock`), the version of the privacy notice the customer was shown, the channel it was
given on (:data:`GIVEN_VIA`) and who recorded it. A purpose's current state is its newest row, or its default
(:data:`PURPOSES`) when the customer never said anything about it.

Defaults (documented in docs/DATA_PROTECTION.md):

- marketing, on every channel (SMS, e-mail, in-app/push, phone call): **off** until the customer grants it;
- personalised recommendation: **on**, stated in the privacy notice the customer accepts at sign-up, and the
  customer can switch it off at any time (PIPL Art. 24 asks for an easy way to refuse it, not for an opt-in);
- sharing with partners: **off** (separate consent, PIPL Art. 23);
- analytics (the bank's own statistics about how its services are used): **on** with the notice, can be
  switched off.

:func:`has_consent` is what a sender asks at send time (marketing by channel) and what the recommender asks for
every list: it reads the table each time, so a withdrawal takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers.models import ConsentRecord, Customer
from smartbank.errors import NotFound, ValidationFailed
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = ["CONSENT_GIVEN_VIA", "CONSENT_PURPOSES", "MARKETING_CHANNELS", "PRIVACY_NOTICE_VERSION", "ConsentRecord",
           "ConsentState", "consent_history", "consent_state", "has_consent", "list_consents", "set_consent"]

PRIVACY_NOTICE_VERSION = "2026-12"

# purpose -> its default when the customer never said anything
PURPOSES: dict[str, bool] = {
    "marketing_sms": False,
    "marketing_email": False,
    "marketing_push": False,  # in-app messages and push notifications
    "marketing_phone": False,
    "personalised_recommendation": True,
    "partner_sharing": False,
    "analytics": True,
}
CONSENT_PURPOSES = tuple(PURPOSES)
MARKETING_CHANNELS = ("sms", "email", "push", "phone")
# where the customer gave or withdrew it; a customer acts on the first four, a teller records "branch"
CONSENT_GIVEN_VIA = ("web", "app", "assistant", "api", "branch")
_CUSTOMER_VIA = ("web", "app", "assistant", "api")


@dataclass(frozen=True)
class ConsentState:
    purpose: str
    granted: bool
    source: str  # "default" | "recorded"
    notice_version: str
    given_via: str | None
    at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"purpose": self.purpose, "granted": self.granted, "source": self.source,
                "notice_version": self.notice_version, "given_via": self.given_via,
                "at": self.at.isoformat() if self.at else None}


def _purpose(purpose: str, channel: str | None = None) -> str:
    """The registry's purpose for ``purpose`` (and, for marketing, the channel): ``("marketing", "sms")`` ->
    ``marketing_sms``."""
    if purpose == "marketing":
        if channel not in MARKETING_CHANNELS:
            raise ValidationFailed("marketing consent is per channel: sms, email, push or phone",
                                   details={"channel": channel, "channels": list(MARKETING_CHANNELS)})
        return f"marketing_{channel}"
    if purpose not in PURPOSES:
        raise ValidationFailed("unknown consent purpose", details={"purpose": purpose,
                                                                   "purposes": list(CONSENT_PURPOSES)})
    if channel is not None and purpose != f"marketing_{channel}":
        raise ValidationFailed("a channel goes with the purpose marketing", details={"purpose": purpose,
                                                                                    "channel": channel})
    return purpose


def consent_state(session: Session, customer_id: int) -> dict[str, ConsentState]:
    """Every purpose's current state for the customer (newest row, else the default). No permission check:
    for the services that enforce consent; people read through :func:`list_consents`."""
    newest = (select(func.max(ConsentRecord.id)).where(ConsentRecord.customer_id == customer_id)
              .group_by(ConsentRecord.purpose))
    rows = {r.purpose: r for r in session.scalars(select(ConsentRecord).where(ConsentRecord.id.in_(newest)))}
    out: dict[str, ConsentState] = {}
    for p, default in PURPOSES.items():
        r = rows.get(p)
        out[p] = (ConsentState(p, default, "default", PRIVACY_NOTICE_VERSION, None, None) if r is None else
                  ConsentState(p, bool(r.granted), "recorded", r.notice_version, r.given_via, r.at))
    return out


def has_consent(session: Session, customer_id: int, purpose: str, channel: str | None = None) -> bool:
    """Whether the customer consents now to ``purpose`` (marketing: on ``channel``). Read from the table on every
    call (no cache), so a withdrawal counts from the moment it is committed."""
    key = _purpose(purpose, channel)
    row = session.execute(select(ConsentRecord.granted).where(ConsentRecord.customer_id == customer_id,
                                                              ConsentRecord.purpose == key)
                          .order_by(ConsentRecord.id.desc()).limit(1)).first()
    return PURPOSES[key] if row is None else bool(row.granted)


def _scope(session: Session, actor: Principal, customer_id: int) -> Customer:
    if actor.is_staff:
        actor.require("customer.read")
    elif actor.customer_id != customer_id:
        raise NotFound("customer not found", details={"customer_id": customer_id})
    c = session.get(Customer, customer_id)
    if c is None:
        raise NotFound("customer not found", details={"customer_id": customer_id})
    return c


def list_consents(session: Session, actor: Principal, customer_id: int) -> list[dict[str, Any]]:
    """The customer's consents now, one per purpose (the customer's own; staff with ``customer.read``, read-only
    and audited)."""
    _scope(session, actor, customer_id)
    security.audit_reads(session, actor, action="consents.read", customer_ids=[customer_id])
    return [s.as_dict() for s in consent_state(session, customer_id).values()]


def consent_history(session: Session, actor: Principal, customer_id: int) -> list[dict[str, Any]]:
    """Every grant and withdrawal, newest first."""
    _scope(session, actor, customer_id)
    security.audit_reads(session, actor, action="consents.read", customer_ids=[customer_id],
                         shown={"history": True})
    rows = session.scalars(select(ConsentRecord).where(ConsentRecord.customer_id == customer_id)
                           .order_by(ConsentRecord.id.desc()))
    return [{"id": r.id, "purpose": r.purpose, "granted": r.granted, "notice_version": r.notice_version,
             "given_via": r.given_via, "recorded_by": r.recorded_by, "recorded_role": r.recorded_role,
             "at": r.at.isoformat() if r.at else None} for r in rows]


def set_consent(session: Session, actor: Principal, customer_id: int, *, purpose: str, granted: bool,
                given_via: str, notice_version: str | None = None) -> dict[str, Any]:
    """Grant or withdraw one purpose. The customer acts for themselves (``given_via`` web, app, assistant or
    api); a teller (``customer.consent.record``) records what the customer signed at a branch (``branch``).
    A change is a new row and an audit record in the same transaction; asking for the state already in force
    writes nothing and answers the current state."""
    if not isinstance(granted, bool):
        raise ValidationFailed("granted must be true or false", details={"granted": granted})
    key = _purpose(purpose)
    if given_via not in CONSENT_GIVEN_VIA:
        raise ValidationFailed("unknown channel", details={"given_via": given_via,
                                                           "channels": list(CONSENT_GIVEN_VIA)})
    if actor.is_staff:
        actor.require("customer.consent.record")
        if given_via != "branch":
            raise ValidationFailed("staff record consent given at a branch", details={"given_via": given_via})
    elif actor.customer_id != customer_id:
        raise NotFound("customer not found", details={"customer_id": customer_id})
    elif given_via not in _CUSTOMER_VIA:
        raise ValidationFailed("a customer gives consent on the web, the app, the assistant or the API",
                               details={"given_via": given_via})
    version = (notice_version or PRIVACY_NOTICE_VERSION).strip()
    if not version or len(version) > 32:
        raise ValidationFailed("a notice version has 1-32 characters")
    c = session.get(Customer, customer_id)
    if c is None:
        raise NotFound("customer not found", details={"customer_id": customer_id})
    if c.status == "closed":
        raise ValidationFailed("this customer relationship has ended", details={"customer_id": customer_id})
    before = consent_state(session, customer_id)[key]
    if before.granted == granted and before.source == "recorded":
        return before.as_dict()
    row = ConsentRecord(customer_id=customer_id, purpose=key, granted=granted, notice_version=version,
                        given_via=given_via, recorded_by=actor.user_id or None, recorded_role=actor.role,
                        at=clock.now())
    session.add(row)
    session.flush()
    security.audit(session, actor, action="consent.grant" if granted else "consent.withdraw",
                   object_type="customer", object_id=customer_id,
                   before={"purpose": key, "granted": before.granted, "source": before.source},
                   after={"purpose": key, "granted": granted, "notice_version": version, "given_via": given_via,
                          "consent_id": row.id})
    return ConsentState(key, granted, "recorded", version, given_via, row.at).as_dict()
