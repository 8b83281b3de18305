"""Self-service sign-up, from the API and the portal: a verified customer, a user and a first demand
account, in one unit of work.

It composes three domains (customers, security, the ledger), so it lives with the entry points that offer
it rather than in the customers domain, which sits below the ledger and must not open accounts itself."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from smartbank.customers import service as customers
from smartbank.ledger import service as ledger
from smartbank.security import service as security

__all__ = ["Signup", "sign_up"]


@dataclass(frozen=True)
class Signup:
    name: str
    id_number: str
    phone: str
    username: str
    password: str
    email: str | None = None


def sign_up(session: Session, cmd: Signup):
    security.check_password_policy(cmd.password, username=cmd.username)
    c = customers.create_customer(session, customers.CustomerCreate(
        kind="individual", name=cmd.name, id_number=cmd.id_number, phone=cmd.phone, email=cmd.email))
    u = security.create_user(session, username=cmd.username, password=cmd.password, role="customer",
                             customer_id=c.id, display_name=c.name)
    acct = ledger.open_account(session, customer_id=c.id, kind="demand", name="活期 Current")
    # the person now has a sign-in and an account: on record as their own act
    security.audit(session, security.principal_of(u), action="customer.sign_up", object_type="user",
                   object_id=u.id, after={"username": u.username, "role": u.role, "customer_id": c.id,
                                          "account_id": acct.id,
                                          # the privacy notice shown with the form: what the default consents rest on
                                          "privacy_notice": customers.PRIVACY_NOTICE_VERSION})
    return c, u, acct
