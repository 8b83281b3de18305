"""What the assistant does for the customer, through the same services as the portal: payments (channel
``assistant``, so the risk checks decide as for any payment), the ledger and statements read services,
lending and wealth. Every function acts as the signed-in customer on their own accounts only.

A payment runs in a savepoint: a refusal that is a record (``persist``: the risk decision, the one-time-code
challenge, the alert) is kept, any other refusal rolls back what the attempt wrote; either way the refusal
comes back as an :class:`Outcome` for the dialogue to put in plain words, and the conversation's turn is
committed with it by the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.assistant.entities import Party
from smartbank.customers import service as customers
from smartbank.errors import ChallengeRequired, NotFound, OtpInvalid, PaymentBlocked, SmartbankError
from smartbank.insight.service import NON_SPENDING_KINDS, SYSTEM_KINDS
from smartbank.ledger import service as ledger
from smartbank.lending import service as lending
from smartbank.payments import service as payments
from smartbank.security.service import Principal
from smartbank.statements import service as statements
from smartbank.wealth import service as wealth


@dataclass
class Outcome:
    status: str  # done | held | challenge | otp_invalid | blocked | failed
    result: dict[str, Any] = field(default_factory=dict)
    error: SmartbankError | None = None

    def record(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = {"name": name, "status": self.status, "result": self.result}
        if self.error is not None:
            out["error"] = {"code": self.error.code, "message": self.error.message}
        return out


def parties(session: Session, actor: Principal) -> list[Party]:
    """The customer's payees and own payable accounts: the only parties the assistant may name."""
    assert actor.customer_id is not None
    out = [Party("payee", p.id, p.name, p.account_number, p.nickname)
           for p in payments.list_payees(session, actor, actor.customer_id)]
    out += [Party("account", a.id, a.name or a.kind, a.number)
            for a in payments.list_accounts(session, actor) if a.kind not in ledger.NON_PAYMENT_KINDS]
    return out


def paying_account(session: Session, actor: Principal) -> Any:
    accts = [a for a in payments.list_accounts(session, actor)
             if a.kind not in ledger.NON_PAYMENT_KINDS and a.status == "open"]
    if not accts:
        raise NotFound("you have no account that can pay", reason="assistant.no_paying_account")
    accts.sort(key=lambda a: (a.kind != "demand", a.id))
    return accts[0]


def balances(session: Session, actor: Principal) -> list[dict[str, Any]]:
    return [{"id": a.id, "kind": a.kind, "last4": a.number[-4:], "currency": a.currency,
             "balance_minor": a.credits_posted - a.debits_posted,
             "available_minor": a.credits_posted - a.debits_posted - a.debits_pending}
            for a in payments.list_accounts(session, actor)]


def recent(session: Session, actor: Principal, limit: int = 5) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for a in payments.list_accounts(session, actor):
        if a.kind in ledger.NON_PAYMENT_KINDS:
            continue
        items += statements.history(session, a, statements.HistoryFilter(limit=limit))["items"]
    items.sort(key=lambda x: (x["created_at"], x["entry_id"]), reverse=True)
    return items[:limit]


# what is not spending: the customer profile's definition (moves between own accounts are found by account)
_NOT_SPENDING = frozenset(NON_SPENDING_KINDS) | frozenset(SYSTEM_KINDS)


def period_activity(session: Session, actor: Principal, start: date, end: date) -> dict[str, Any]:
    """The customer's transactions on their deposit accounts from ``start`` to ``end`` (value dates, both
    included), newest first, with the count, money in and out (CNY), and the spending among them: payments to
    others, not moves between the customer's own accounts, wealth orders, loan flows, interest or fees."""
    accounts = payments.list_accounts(session, actor)
    own = {a.number for a in accounts}
    items: list[dict[str, Any]] = []
    for a in accounts:
        if a.kind in ledger.NON_PAYMENT_KINDS:
            continue
        items += statements.iter_all(session, a, statements.HistoryFilter(date_from=start, date_to=end))
    items.sort(key=lambda x: (x["value_date"], x["created_at"], x["entry_id"]), reverse=True)
    cny = [x for x in items if x["currency"] == "CNY"]
    spent = [x for x in cny if x["amount_minor"] < 0 and x["kind"] not in _NOT_SPENDING
             and x["counterparty_account"] not in own]
    return {"items": items, "n": len(items), "inflow": sum(x["amount_minor"] for x in cny if x["amount_minor"] > 0),
            "outflow": -sum(x["amount_minor"] for x in cny if x["amount_minor"] < 0),
            "spent": -sum(x["amount_minor"] for x in spent), "n_spent": len(spent)}


def loans(session: Session, actor: Principal) -> dict[str, Any]:
    apps = lending.list_applications(session, actor, limit=5)
    return {"applications": [{"id": a.id, "status": a.status, "amount_minor": a.amount_minor} for a in apps],
            "loans": lending.list_loans(session, actor)}


def products(session: Session, actor: Principal, limit: int = 3) -> dict[str, Any]:
    assert actor.customer_id is not None
    grade = wealth.current_grade(session, actor.customer_id)
    if grade is None:
        return {"grade": None, "products": []}
    fit = [p for p in wealth.list_products(session)
           if wealth.check_suitability(grade, p["kind"], p["risk_level"]).outcome == "pass"]
    return {"grade": grade, "products": [{"code": p["code"], "name_zh": p.get("name_zh"),
                                          "name_en": p.get("name_en"), "risk_level": p["risk_level"]}
                                         for p in fit[:limit]]}


def _guard(session: Session, fn: Any) -> Outcome:
    sp = session.begin_nested()
    try:
        res = fn()
    except ChallengeRequired as exc:
        sp.commit()
        return Outcome("challenge", {"challenge_id": exc.details.get("challenge_id"),
                                     "attempts_left": exc.details.get("attempts_left")}, exc)
    except OtpInvalid as exc:
        sp.commit()
        return Outcome("otp_invalid", {"attempts_left": exc.details.get("attempts_left")}, exc)
    except PaymentBlocked as exc:
        sp.commit()
        return Outcome("blocked", {"reasons": exc.details.get("reasons") or [],
                                   "reasons_zh": exc.details.get("reasons_zh") or []}, exc)
    except SmartbankError as exc:
        if exc.persist:
            sp.commit()
        else:
            sp.rollback()
        return Outcome("failed", {}, exc)
    sp.commit()
    transfer = res.transfer if hasattr(res, "transfer") else res[1].transfer
    held = transfer.get("risk") is not None and transfer.get("status") == "pending"
    return Outcome("held" if held else "done", {"transfer_id": transfer["id"]})


def transfer(session: Session, actor: Principal, slots: dict[str, Any], *, key: str,
             challenge_id: int | None = None, otp: str | None = None) -> Outcome:
    """Pay the customer's own payee (named in ``slots``) now, or schedule it for a later date."""
    from datetime import date

    payee = payments.get_payee(session, actor, int(slots["payee"]["id"]))
    if actor.customer_id is None or payee.customer_id != actor.customer_id:
        raise NotFound("payee not found", reason="assistant.payee_not_found")
    src = paying_account(session, actor)
    when = slots.get("date")
    if when and date.fromisoformat(when) > clock.today():
        def schedule() -> Any:
            s = payments.schedule_transfer(session, actor, from_account_id=src.id,
                                           to_account_number=payee.account_number,
                                           amount_minor=int(slots["amount_minor"]), currency=src.currency,
                                           frequency="once", start_date=date.fromisoformat(when),
                                           memo="assistant")
            return s

        sp = session.begin_nested()
        try:
            s = schedule()
        except SmartbankError as exc:
            sp.rollback()
            return Outcome("failed", {}, exc)
        sp.commit()
        return Outcome("scheduled", {"scheduled_id": s.id, "date": when})
    req = payments.PaymentRequest(from_account_id=src.id, to_account_number=payee.account_number,
                                  amount_minor=int(slots["amount_minor"]), currency=src.currency,
                                  idempotency_key=key, memo="assistant", channel="assistant",
                                  challenge_id=challenge_id, otp=otp)
    return _guard(session, lambda: payments.pay(session, actor, req))


def find_bill(session: Session, category: str, reference: str) -> Any:
    for biller in payments.list_billers(session, category):
        if biller.requires_bill:
            bills = payments.lookup_bills(session, biller.code, reference)
            if bills:
                return bills[0]
    return None


def pay_bill(session: Session, actor: Principal, slots: dict[str, Any], *, key: str,
             challenge_id: int | None = None, otp: str | None = None) -> Outcome:
    src = paying_account(session, actor)
    return _guard(session, lambda: payments.pay_bill(
        session, actor, from_account_id=src.id, bill_id=int(slots["bill_id"]), idempotency_key=key,
        channel="assistant", challenge_id=challenge_id, otp=otp))


def top_up_biller(session: Session) -> Any:
    return next((b for b in payments.list_billers(session, "mobile") if not b.requires_bill), None)


def top_up(session: Session, actor: Principal, slots: dict[str, Any], *, key: str,
           challenge_id: int | None = None, otp: str | None = None) -> Outcome:
    src = paying_account(session, actor)
    biller = top_up_biller(session)
    if biller is None:
        return Outcome("failed", {}, NotFound("mobile top-up is not available"))
    return _guard(session, lambda: payments.top_up(
        session, actor, from_account_id=src.id, biller_code=biller.code, phone=slots["phone"],
        amount_minor=int(slots["amount_minor"]), idempotency_key=key, channel="assistant",
        challenge_id=challenge_id, otp=otp))


def repayable_loan(session: Session, actor: Principal) -> dict[str, Any] | None:
    """The customer's loan to repay by chat: the one with something due now that fell due first (a loan
    written off counts with everything still owed); None when nothing is due on any loan."""
    best: tuple[Any, dict[str, Any]] | None = None
    for loan in lending.list_loans(session, actor):
        if loan["status"] == "written_off":
            due, since = int(loan.get("still_owed_minor") or 0), loan["start_date"]
        elif loan["status"] == "active" and loan["next_due"] is not None:
            due = int(lending.loan_view(session, actor, loan["id"])["due_now_minor"])
            since = loan["next_due"]["due_date"]
        else:
            continue
        if due > 0 and (best is None or since < best[0]):
            best = (since, {"id": loan["id"], "number": loan["number"], "due_minor": due,
                            "currency": loan["currency"]})
    return best[1] if best else None


def loan_repay(session: Session, actor: Principal, slots: dict[str, Any], *, key: str,
               challenge_id: int | None = None, otp: str | None = None) -> Outcome:
    """Repay what is due now on the loan in ``slots`` (or the amount asked for), through the lending service's
    ``repay`` (the loan's own repayment account, the customer's ownership checked again)."""
    loan = slots["loan"]
    amount = int(slots["amount_minor"]) if slots.get("amount_minor") else None
    sp = session.begin_nested()
    try:
        res = lending.repay(session, actor, int(loan["id"]), amount_minor=amount, key=key)
    except SmartbankError as exc:
        sp.rollback()
        return Outcome("failed", {}, exc)
    sp.commit()
    return Outcome("done", {"repayment_id": res["id"], "amount_minor": res["amount_minor"]})


PAYMENTS = {"transfer": transfer, "pay_bill": pay_bill, "top_up": top_up, "loan_repay": loan_repay}


def consents(session: Session, actor: Principal) -> list[dict[str, Any]]:
    """The customer's consents now (the same registry as the portal's privacy page)."""
    assert actor.customer_id is not None
    return customers.list_consents(session, actor, actor.customer_id)


def set_consents(session: Session, actor: Principal, purposes: list[str], *, granted: bool) -> list[str]:
    """Grant or withdraw ``purposes`` through the registry (channel ``assistant``, audited there); returns the
    purposes whose state changed."""
    assert actor.customer_id is not None
    now = {c["purpose"]: c["granted"] for c in consents(session, actor)}
    changed = []
    for p in purposes:
        if now.get(p) != granted:
            customers.set_consent(session, actor, actor.customer_id, purpose=p, granted=granted,
                                  given_via="assistant")
            changed.append(p)
    return changed
