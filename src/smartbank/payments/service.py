"""Customer payments: transfers by account number, payees, scheduled/recurring transfers, bill payment.

Every function takes the acting :class:`Principal` and enforces object-level authorisation: a
customer acts only on their own accounts (another customer's account is reported as not found,
so its existence is not revealed); staff read any customer's accounts, payees and standing orders with
``customer.read`` and their history with ``account.history.read`` (the permission table), and each such
read is audited. Payments (transfers, bills, top-ups,
scheduled transfers) are initiated only by the customer who owns the paying account: staff move
money through the role-checked, audited back-office operations instead.

This module is the payments domain's front door (:data:`__all__`): entry points and other domains use
nothing else of it, and reach a transfer, an account or a receipt through the functions here that check
that the actor may see it (:func:`get_transfer`, :func:`owned_account`, :func:`transfer_receipt`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock, db
from smartbank.customers import service as customers
from smartbank.errors import (
    Conflict,
    DailyLimitExceeded,
    Forbidden,
    IdempotencyConflict,
    NotFound,
    SmartbankError,
    ValidationFailed,
)
from smartbank.ledger import service as ledger
from smartbank.ledger.service import Account
from smartbank.money import check_currency, format_minor
from smartbank.payments.models import BILL_CATEGORIES, FREQUENCIES, Bill, Biller, Payee, ScheduledTransfer
from smartbank.payments.postings import CUSTOMER_MEMO_KINDS
from smartbank.payments.postings import describe as describe_posting
from smartbank.payments.postings import describe_all as describe_postings
from smartbank.risk import service as risk
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = [
    # the models outsiders read, and their vocabularies
    "BILL_CATEGORIES", "FREQUENCIES", "Bill", "Biller", "Payee", "ScheduledTransfer",
    # accounts and transfers as the actor may see them
    "Receipt", "customer_scope", "get_transfer", "list_accounts", "owned_account", "paying_account",
    "require_customer", "transfer_receipt", "view_transfer",
    # payments
    "DailyAllowance", "PaymentRequest", "check_payment", "daily_allowance", "idem_key", "limit_applies", "pay",
    "precheck",
    # payees
    "add_payee", "delete_payee", "erase_payees", "get_payee", "list_payees",
    # scheduled transfers
    "PaymentWarning", "add_months", "cancel_scheduled", "list_scheduled", "next_run_after", "run_due_scheduled",
    "schedule_transfer", "scheduling_warnings",
    # billers and bills
    "add_biller", "get_biller", "issue_bill", "list_billers", "lookup_bills", "mark_overdue_bills", "pay_bill",
    "reopen_bill_paid_by", "top_up",
    # what a posting is, for people (a system posting's kind and facts, for the catalogue)
    "CUSTOMER_MEMO_KINDS", "describe_posting", "describe_postings",
]


def owned_account(session: Session, actor: Principal, account_id: int, *,
                  permission: str = "customer.read") -> Account:
    """An account the actor may see: a customer's own; for staff, any account when their role holds
    ``permission`` (``customer.read`` for the account itself, ``account.history.read`` for its history),
    the read audited."""
    if actor.is_staff:
        actor.require(permission)
    acct = ledger.find_account(session, account_id)
    if acct is None or acct.kind == "internal" and not actor.is_staff:
        raise NotFound("account not found", details={"account_id": account_id})
    if not actor.is_staff and acct.customer_id != actor.customer_id:
        raise NotFound("account not found", details={"account_id": account_id})
    security.audit_reads(session, actor, action="account.history.read" if permission == "account.history.read"
                         else "account.read", customer_ids=[acct.customer_id], shown={"account_id": acct.id})
    return acct


def paying_account(session: Session, actor: Principal, account_id: int) -> Account:
    """An account of the actor's that may pay: never a loan account (a loan is drawn and repaid only
    through lending), reported as not found like any account that cannot pay."""
    acct = owned_account(session, actor, account_id)
    if acct.kind in ledger.NON_PAYMENT_KINDS:
        raise NotFound("account not found", details={"account_id": account_id})
    return acct


def require_customer(actor: Principal) -> None:
    """Customer payments, and the payees and scheduled transfers behind them, are the customer's
    own. Staff move money only through the role-checked, audited back-office operations (cash,
    holds, reversals)."""
    if actor.customer_id is None or actor.is_staff:
        raise Forbidden("payments are made by the customer who owns the account",
                        details={"role": actor.role})


def customer_scope(actor: Principal, customer_id: int, *, permission: str = "customer.read") -> None:
    """A customer reaches only their own data (another's is "not found"); staff need ``permission``."""
    if actor.is_staff:
        actor.require(permission)
    elif actor.customer_id != customer_id:
        raise NotFound("customer not found", details={"customer_id": customer_id})


def list_accounts(session: Session, actor: Principal, customer_id: int | None = None) -> list[Account]:
    cid = customer_id if customer_id is not None else actor.customer_id
    if cid is None:
        raise ValidationFailed("which customer?")
    customer_scope(actor, cid)
    security.audit_reads(session, actor, action="accounts.read", customer_ids=[cid])
    return ledger.customer_accounts(session, cid)


def get_transfer(session: Session, actor: Principal, transfer_id: int) -> dict:
    """A transfer as its customers see it (either side; anyone else: "not found") or, with
    ``account.history.read``, as staff see any transfer (the read audited for both sides' customers)."""
    if actor.is_staff:
        actor.require("account.history.read")
    t = ledger.get_transfer(session, transfer_id)
    owners = {a.customer_id for a in (ledger.find_account(session, t["debit_account_id"]),
                                      ledger.find_account(session, t["credit_account_id"]))
              if a is not None and a.customer_id is not None}
    if not actor.is_staff and actor.customer_id not in owners:
        raise NotFound("transfer not found", details={"transfer_id": transfer_id})
    security.audit_reads(session, actor, action="transfer.read", customer_ids=sorted(owners),
                         shown={"transfer_id": transfer_id})
    return t


view_transfer = get_transfer  # the earlier name


@dataclass(frozen=True)
class Receipt:
    """A transfer as a receipt for one of its customers: the transfer, the customer's own side (``mine``, an
    account they own), whether it went out of that account, the other side (its number, and whether it is
    the bank's) and, for a bill payment or a top-up, the biller."""

    transfer: dict[str, Any]
    mine: Account
    outgoing: bool
    other_number: str
    other_internal: bool
    biller: Biller | None = None


def transfer_receipt(session: Session, actor: Principal, transfer_id: int) -> Receipt:
    """The receipt of a transfer for the actor, who owns the paying or the receiving account (the paying one
    when both); anyone else: "not found", as for a transfer that does not exist. Each side read is audited
    as an account read."""
    t = ledger.get_transfer(session, transfer_id)
    sides: dict[str, Account | None] = {}
    for side in ("debit_account_id", "credit_account_id"):
        try:
            sides[side] = owned_account(session, actor, t[side])
        except NotFound:
            sides[side] = None
    mine = sides["debit_account_id"] or sides["credit_account_id"]
    if mine is None:
        raise NotFound("transfer not found", details={"transfer_id": transfer_id})
    outgoing = sides["debit_account_id"] is not None
    other = ledger.get_account(session, t["credit_account_id" if outgoing else "debit_account_id"])
    meta = t.get("meta") or {}
    biller = get_biller(session, meta["biller"]) if meta.get("biller") else None
    return Receipt(transfer=t, mine=mine, outgoing=outgoing, other_number=other.number,
                   other_internal=other.kind == "internal", biller=biller)


def idem_key(actor: Principal, key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > 128:
        raise ValidationFailed("an idempotency key of 1-128 characters is required", details={"idempotency_key": key})
    return f"u{actor.user_id}:{key}"


@dataclass(frozen=True)
class PaymentRequest:
    from_account_id: int
    to_account_number: str
    amount_minor: int
    currency: str
    idempotency_key: str
    memo: str = ""
    channel: str = "api"  # web | api | assistant
    challenge_id: int | None = None  # the answer to a risk challenge: the challenge and its one-time code
    otp: str | None = None


def _answer(challenge_id: int | None, otp: str | None) -> risk.ChallengeAnswer | None:
    if challenge_id is None and not otp:
        return None
    if challenge_id is None or not otp:
        raise ValidationFailed("a one-time code needs its challenge_id, and a challenge_id its otp")
    return risk.ChallengeAnswer(challenge_id=challenge_id, otp=otp)


def _channel(channel: str) -> str:
    if channel not in ("web", "api", "assistant"):
        raise ValidationFailed("channel must be web, api or assistant", details={"channel": channel})
    return channel


def _saved_payee(session: Session, customer_id: int, number: str) -> tuple[bool, datetime | None]:
    """Whether the receiving account is one of the customer's saved payees, and when it was saved."""
    row = session.execute(_SAVED_PAYEE, {"c": customer_id, "n": number}).first()
    return (False, None) if row is None else (True, db.aware(row.created_at))


_SAVED_PAYEE = text("SELECT created_at FROM payees WHERE customer_id = :c AND account_number = :n").columns(
    created_at=DateTime(timezone=True))


def precheck(session: Session, cmd: ledger.TransferCommand) -> None:
    """Raise what would refuse the payment ``cmd`` if it were made now, without posting anything: the amount
    and currency, both accounts' status, the paying account's balance and overdraft, the customer's daily
    limit (the ledger's rules, :func:`~smartbank.ledger.service.check_transfer`). Run before the customer is
    asked for a one-time code, so that no code is sent for a payment that would then be refused. The account
    ownership is checked before (``pay``, ``pay_bill``, ``top_up``), the risk rules and risk limits are part of
    the risk decision that asks for the code."""
    ledger.check_transfer(session, cmd)


def _payment_command(session: Session, actor: Principal, req: PaymentRequest, *, kind: str,
                     reference: str | None) -> tuple[Any, Any, ledger.TransferCommand]:
    require_customer(actor)
    src, dst = ledger.payment_accounts(session, req.from_account_id, req.to_account_number)
    if src is None or src.kind in ledger.NON_PAYMENT_KINDS or (not actor.is_staff
                                                               and src.customer_id != actor.customer_id):
        raise NotFound("account not found", details={"account_id": req.from_account_id})
    if dst is None or dst.kind == "loan" or (dst.kind == "internal" and kind == "transfer"):
        raise NotFound("no account with that number", details={"account_number": req.to_account_number})
    cmd = ledger.TransferCommand(
        key=idem_key(actor, req.idempotency_key), debit_account_id=src.id, credit_account_id=dst.id,
        amount_minor=req.amount_minor, currency=check_currency(req.currency), kind=kind, memo=req.memo or "",
        reference=reference, initiated_by=actor.user_id, enforce_daily_limit=True,
    )
    ledger.validate_command(cmd)
    return src, dst, cmd


def check_payment(session: Session, actor: Principal, req: PaymentRequest, *, kind: str = "transfer") -> None:
    """Raise what would refuse ``req`` if it were paid now, before the customer confirms it: the same account
    lookups as :func:`pay`, then what is left of today's limit (``payments.over_daily_limit`` with
    ``remaining_minor``), then the ledger's rules (:func:`precheck`: status, balance, currency). The risk
    decision is not taken here: it is taken once, when the payment is made."""
    src, dst, cmd = _payment_command(session, actor, req, kind=kind, reference=None)
    if limit_applies(src, dst):
        allowance = daily_allowance(session, actor, currency=cmd.currency)
        if cmd.amount_minor > allowance.remaining_minor:
            raise DailyLimitExceeded(
                "this payment is more than is left of today's transfer limit", reason="payments.over_daily_limit",
                details={"remaining_minor": allowance.remaining_minor, "daily_limit_minor": allowance.limit_minor,
                         "amount_minor": cmd.amount_minor})
    precheck(session, cmd)


def pay(session: Session, actor: Principal, req: PaymentRequest, *, kind: str = "transfer",
        reference: str | None = None) -> ledger.TransferResult:
    """A customer-initiated payment to any customer account of the bank, by account number. The risk module
    decides before it posts (allow, challenge, hold for review or block: see :mod:`smartbank.risk.service`)."""
    src, dst, cmd = _payment_command(session, actor, req, kind=kind, reference=reference)
    if src.currency != cmd.currency or dst.currency != cmd.currency:
        return ledger.transfer(session, cmd)  # refused by the ledger's own rules, with its clear error
    saved, saved_at = _saved_payee(session, src.customer_id, dst.number)
    pc = risk.PaymentContext(
        customer_id=src.customer_id, account_id=src.id, counterparty_account_id=dst.id,
        amount_minor=req.amount_minor, currency=cmd.currency, kind=kind, channel=_channel(req.channel),
        product=src.kind, saved_payee=saved, own_account=dst.customer_id == src.customer_id,
        counterparty_opened_at=dst.created_at, payee_saved_at=saved_at)
    return risk.guarded_transfer(session, cmd, pc, user_id=actor.user_id,
                                 answer=_answer(req.challenge_id, req.otp), precheck=lambda: precheck(session, cmd))


# ----------------------------------------------------------------------------------------------
# the daily limit, ahead of a payment


@dataclass(frozen=True)
class DailyAllowance:
    """The customer's daily limit on payments to other customers, and what is left of it on ``day``."""

    limit_minor: int
    used_minor: int
    currency: str
    day: date

    @property
    def remaining_minor(self) -> int:
        return max(0, self.limit_minor - self.used_minor)


def daily_allowance(session: Session, actor: Principal, *, currency: str = "CNY",
                    day: date | None = None) -> DailyAllowance:
    """The actor's own daily limit and its use (``day``: default the day a payment made now counts on)."""
    require_customer(actor)
    assert actor.customer_id is not None
    day = day or clock.today()  # the value date the ledger gives a payment posted now
    limit, used = ledger.daily_limit_status(session, actor.customer_id, currency=currency, day=day)
    return DailyAllowance(limit, used, currency, day)


def limit_applies(src: Any, dst: Any) -> bool:
    """Whether a payment from ``src`` to ``dst`` counts against the payer's daily limit: to another customer."""
    return src.customer_id is not None and src.customer_id != dst.customer_id


# ----------------------------------------------------------------------------------------------
# payees


def list_payees(session: Session, actor: Principal, customer_id: int) -> list[Payee]:
    customer_scope(actor, customer_id)
    security.audit_reads(session, actor, action="payees.read", customer_ids=[customer_id])
    return list(session.scalars(select(Payee).where(Payee.customer_id == customer_id).order_by(Payee.name)))


def add_payee(session: Session, actor: Principal, customer_id: int, *, name: str, account_number: str,
              nickname: str | None = None) -> Payee:
    customer_scope(actor, customer_id)
    number = (account_number or "").replace(" ", "")
    if not ledger.valid_account_number(number):
        raise ValidationFailed("not a valid account number (check digit)", details={"account_number": account_number})
    acct = ledger.find_customer_account(session, number)
    if acct is None:
        raise NotFound("no account with that number", details={"account_number": account_number})
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise ValidationFailed("a payee needs a name")
    dup = select(Payee.id).where(Payee.customer_id == customer_id, Payee.account_number == number)
    if session.scalars(dup).first():
        raise Conflict("this payee is already saved", details={"account_number": number})
    p = Payee(customer_id=customer_id, name=name, account_number=number, nickname=nickname)
    session.add(p)
    try:
        session.flush()
    except IntegrityError as exc:  # the same payee saved concurrently, after the check above
        raise Conflict("this payee is already saved", details={"account_number": number}) from exc
    security.audit(session, actor, action="payee.add", object_type="payee", object_id=p.id, after=_payee_record(p))
    return p


def _payee_record(p: Payee) -> dict[str, Any]:
    return {"customer_id": p.customer_id, "name": p.name, "account_number": p.account_number,
            "nickname": p.nickname}


def get_payee(session: Session, actor: Principal, payee_id: int) -> Payee:
    """One of the actor's payees (staff: anyone's). Another customer's payee is reported exactly as a payee
    that does not exist: the answer names only the id asked for, never its owner."""
    p = session.get(Payee, payee_id)
    if p is None or (not actor.is_staff and actor.customer_id != p.customer_id):
        raise NotFound("payee not found", details={"payee_id": payee_id})
    return p


def delete_payee(session: Session, actor: Principal, payee_id: int) -> None:
    require_customer(actor)
    p = get_payee(session, actor, payee_id)
    before = _payee_record(p)
    session.delete(p)
    session.flush()
    security.audit(session, actor, action="payee.remove", object_type="payee", object_id=payee_id, before=before)


# ----------------------------------------------------------------------------------------------
# scheduled and recurring transfers


def add_months(d: date, months: int, anchor_day: int | None = None) -> date:
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    day = min(anchor_day or d.day, calendar.monthrange(y, m)[1])
    return date(y, m, day)


def next_run_after(s: ScheduledTransfer, run: date) -> date | None:
    if s.frequency == "once":
        return None
    nxt = {"daily": lambda: run + timedelta(days=1), "weekly": lambda: run + timedelta(days=7),
           "monthly": lambda: add_months(run, 1, s.start_date.day)}[s.frequency]()
    if s.end_date is not None and nxt > s.end_date:
        return None
    return nxt


def schedule_transfer(session: Session, actor: Principal, *, from_account_id: int, to_account_number: str,
                      amount_minor: int, currency: str, frequency: str, start_date: date,
                      end_date: date | None = None, memo: str = "", today: date | None = None) -> ScheduledTransfer:
    require_customer(actor)
    src = paying_account(session, actor, from_account_id)
    dst = ledger.find_customer_account(session, to_account_number)
    if dst is None:
        raise NotFound("no account with that number", details={"account_number": to_account_number})
    if dst.id == src.id:
        raise ValidationFailed("the two accounts must differ")
    if frequency not in FREQUENCIES:
        raise ValidationFailed(f"frequency must be one of {', '.join(FREQUENCIES)}", reason="payments.bad_frequency",
                               details={"frequency": frequency})
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
        raise ValidationFailed("amount must be positive")
    today = today or clock.today()
    if start_date < today:
        raise ValidationFailed("the first run cannot be in the past", details={"start_date": str(start_date)})
    if end_date is not None and end_date < start_date:
        raise ValidationFailed("the end date is before the start date")
    currency = check_currency(currency)
    if src.currency != currency or dst.currency != currency:
        raise ValidationFailed("both accounts must be in the transfer currency")
    # every run is a payment: the same bounds an immediate transfer has (amount, memo) ...
    ledger.validate_command(ledger.TransferCommand(
        key="scheduled", debit_account_id=src.id, credit_account_id=dst.id, amount_minor=amount_minor,
        currency=currency, kind="scheduled", memo=memo or ""))
    # ... and the daily limit: a run above it could never post
    if src.customer_id is not None and limit_applies(src, dst):
        limit, _ = ledger.daily_limit_status(session, src.customer_id, currency=currency, day=start_date)
        if amount_minor > limit:
            raise DailyLimitExceeded(
                "a scheduled transfer above the daily transfer limit could never run",
                details={"daily_limit_minor": limit, "amount_minor": amount_minor})
    s = ScheduledTransfer(customer_id=src.customer_id, created_by=actor.user_id, from_account_id=src.id,
                          to_account_id=dst.id, amount_minor=amount_minor, currency=currency, memo=memo or "",
                          frequency=frequency, start_date=start_date, end_date=end_date, next_run=start_date,
                          runs=0, failures=0, status="active")
    session.add(s)
    session.flush()
    security.audit(session, actor, action="scheduled_transfer.create", object_type="scheduled_transfer",
                   object_id=s.id, after=_scheduled_record(s))
    return s


def _scheduled_record(s: ScheduledTransfer) -> dict[str, Any]:
    return {"customer_id": s.customer_id, "from_account_id": s.from_account_id, "to_account_id": s.to_account_id,
            "amount_minor": s.amount_minor, "currency": s.currency, "memo": s.memo, "frequency": s.frequency,
            "start_date": s.start_date.isoformat(), "end_date": s.end_date.isoformat() if s.end_date else None,
            "status": s.status, "next_run": s.next_run.isoformat() if s.next_run else None}


@dataclass(frozen=True)
class PaymentWarning:
    """Something the customer should know about a payment that is accepted anyway: ``code``, plain words
    (``message``, English; the web pages translate the code) and the figures behind it."""

    code: str  # insufficient_funds | daily_limit
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def scheduling_warnings(session: Session, s: ScheduledTransfer, *, today: date | None = None
                        ) -> list[PaymentWarning]:
    """What stands in the way of the next run of an active scheduled transfer, as things are now: the paying
    account does not hold enough (money may still arrive before the date, so this is a warning, not a
    refusal), or - for a run due today - what is left of today's limit is less than the amount."""
    if s.status != "active" or s.next_run is None:
        return []
    out: list[PaymentWarning] = []
    src = ledger.get_account(session, s.from_account_id)
    dst = ledger.get_account(session, s.to_account_id)
    run = s.next_run.isoformat()

    def amount(minor: int) -> str:
        return f"{format_minor(minor, s.currency, grouping=True)} {s.currency}"

    if src.overdraft_limit_minor is not None:
        available = src.available_minor + src.overdraft_limit_minor
        if available < s.amount_minor:
            out.append(PaymentWarning(
                "insufficient_funds",
                f"the paying account has {amount(available)} available now, less than the "
                f"{amount(s.amount_minor)} of the run on {run}: it will fail unless money arrives first",
                {"available_minor": available, "amount_minor": s.amount_minor, "next_run": run}))
    today = today or clock.today()
    if s.next_run <= today and limit_applies(src, dst):
        limit, used = ledger.daily_limit_status(session, s.customer_id, currency=s.currency, day=s.next_run)
        if used + s.amount_minor > limit:
            left = max(0, limit - used)
            out.append(PaymentWarning(
                "daily_limit",
                f"only {amount(left)} of today's transfer limit is left: the run today may be refused",
                {"remaining_minor": left, "daily_limit_minor": limit, "amount_minor": s.amount_minor,
                 "next_run": run}))
    return out


def list_scheduled(session: Session, actor: Principal, customer_id: int) -> list[ScheduledTransfer]:
    customer_scope(actor, customer_id)
    security.audit_reads(session, actor, action="scheduled_transfers.read", customer_ids=[customer_id])
    return list(session.scalars(select(ScheduledTransfer).where(ScheduledTransfer.customer_id == customer_id)
                                .order_by(ScheduledTransfer.id)))


def cancel_scheduled(session: Session, actor: Principal, scheduled_id: int) -> ScheduledTransfer:
    require_customer(actor)
    s = session.get(ScheduledTransfer, scheduled_id)
    if s is None or actor.customer_id != s.customer_id:  # another customer's: as if there were none
        raise NotFound("scheduled transfer not found", details={"scheduled_id": scheduled_id})
    if s.status != "active":
        raise Conflict(f"this scheduled transfer is already {s.status}", reason="payments.scheduled_not_active",
                       details={"scheduled_id": s.id, "status": s.status})
    before = _scheduled_record(s)
    s.status = "cancelled"
    s.next_run = None
    session.flush()
    security.audit(session, actor, action="scheduled_transfer.cancel", object_type="scheduled_transfer",
                   object_id=s.id, before=before, after=_scheduled_record(s))
    return s


def _scheduled_run(session: Session, s: ScheduledTransfer, cmd: ledger.TransferCommand) -> ledger.TransferResult:
    """One run of a scheduled transfer, decided by the risk checks like any customer payment (channel
    ``schedule``; no one is there to answer a one-time code, so a challenge holds it for review instead)."""
    src = ledger.find_account(session, s.from_account_id)
    dst = ledger.find_account(session, s.to_account_id)
    if src is None or dst is None or src.customer_id is None:
        return ledger.transfer(session, cmd)  # refused by the ledger with its clear error
    pc = risk.PaymentContext(
        customer_id=src.customer_id, account_id=src.id, counterparty_account_id=dst.id,
        amount_minor=cmd.amount_minor, currency=cmd.currency, kind="transfer", channel="schedule", product=src.kind,
        saved_payee=_saved_payee(session, src.customer_id, dst.number)[0],
        own_account=dst.customer_id == src.customer_id, counterparty_opened_at=dst.created_at)
    return risk.guarded_transfer(session, cmd, pc, user_id=s.created_by, interactive=False)


def run_due_scheduled(session: Session, day: date) -> dict[str, int]:
    """Execute every scheduled transfer due on or before ``day`` (close-of-day). Rerunnable:
    each run's idempotency key is the schedule id and its run date."""
    done = failed = 0
    due = list(session.scalars(select(ScheduledTransfer).where(
        ScheduledTransfer.status == "active", ScheduledTransfer.next_run <= day).order_by(ScheduledTransfer.id)))
    for s in due:
        while s.next_run is not None and s.next_run <= day:
            run = s.next_run
            cmd = ledger.TransferCommand(
                key=f"sched:{s.id}:{run.isoformat()}", debit_account_id=s.from_account_id,
                credit_account_id=s.to_account_id, amount_minor=s.amount_minor, currency=s.currency,
                kind="scheduled", memo=s.memo, reference=f"schedule:{s.id}", initiated_by=s.created_by,
                enforce_daily_limit=True, value_date=run,
            )
            savepoint = session.begin_nested()
            try:
                _scheduled_run(session, s, cmd)
                savepoint.commit()
                s.runs += 1
                s.last_error = None
                done += 1
            except SmartbankError as exc:
                # a refusal that is a record (a run stopped by the risk checks) keeps its decision and alert
                if exc.persist:
                    savepoint.commit()
                else:
                    savepoint.rollback()
                s.failures += 1
                s.last_error = f"{run}: {exc.message}"[:200]
                failed += 1
            s.next_run = next_run_after(s, run)
        if s.next_run is None:
            s.status = "completed"
    session.flush()
    return {"executed": done, "failed": failed}


# ----------------------------------------------------------------------------------------------
# billers and bills


def list_billers(session: Session, category: str | None = None) -> list[Biller]:
    stmt = select(Biller).order_by(Biller.category, Biller.code)
    if category:
        if category not in BILL_CATEGORIES:
            raise ValidationFailed(f"category must be one of {', '.join(BILL_CATEGORIES)}",
                               reason="payments.bad_bill_category", details={"category": category})
        stmt = stmt.where(Biller.category == category)
    return list(session.scalars(stmt))


def get_biller(session: Session, code: str) -> Biller:
    b = session.scalars(select(Biller).where(Biller.code == code)).first()
    if b is None:
        raise NotFound("biller not found", details={"biller": code})
    return b


def lookup_bills(session: Session, biller_code: str, reference: str) -> list[Bill]:
    b = get_biller(session, biller_code)
    ref = (reference or "").strip()
    if not ref or len(ref) > 40:
        raise ValidationFailed("enter the customer reference number printed on the bill")
    return list(session.scalars(select(Bill).where(Bill.biller_id == b.id, Bill.reference == ref,
                                                   Bill.status != "paid").order_by(Bill.due_date)))


def _guarded(session: Session, actor: Principal, cmd: ledger.TransferCommand, src: Account, dst: Account, *,
             kind: str, channel: str, answer: risk.ChallengeAnswer | None) -> ledger.TransferResult:
    ledger.validate_command(cmd)
    if src.currency != cmd.currency or dst.currency != cmd.currency or src.customer_id is None:
        return ledger.transfer(session, cmd)  # refused by the ledger's own rules, with its clear error
    pc = risk.PaymentContext(
        customer_id=src.customer_id, account_id=src.id, counterparty_account_id=dst.id,
        amount_minor=cmd.amount_minor, currency=cmd.currency, kind=kind, channel=_channel(channel),
        product=src.kind, saved_payee=False, own_account=False, counterparty_opened_at=dst.created_at)
    return risk.guarded_transfer(session, cmd, pc, user_id=actor.user_id, answer=answer,
                                 precheck=lambda: precheck(session, cmd))


def pay_bill(session: Session, actor: Principal, *, from_account_id: int, bill_id: int,
             idempotency_key: str, channel: str = "api", challenge_id: int | None = None,
             otp: str | None = None) -> tuple[Bill, ledger.TransferResult]:
    require_customer(actor)
    # FOR UPDATE: two payments of one bill take turns, so the second sees it paid (otherwise both
    # read "unpaid" and the bill is paid twice)
    bill = session.get(Bill, bill_id, with_for_update=True)
    if bill is None:
        raise NotFound("bill not found", details={"bill_id": bill_id})
    biller = session.get(Biller, bill.biller_id)
    assert biller is not None
    key = idem_key(actor, idempotency_key)
    if bill.status == "paid":
        # a replay of the same payment returns the original; anything else is a double payment
        prior = ledger.find_transfer_by_key(session, key)
        if prior is not None and prior["id"] == bill.paid_transfer_id:
            if prior["debit_account_id"] != from_account_id:
                raise IdempotencyConflict("this idempotency key was already used for a different request",
                                          details={"transfer_id": prior["id"]})
            return bill, ledger.TransferResult(transfer=prior, replayed=True)
        raise Conflict("this bill is already paid", details={"bill_id": bill_id})
    src = paying_account(session, actor, from_account_id)
    settle = ledger.find_account(session, biller.settlement_account_id)
    assert settle is not None
    cmd = ledger.TransferCommand(
        key=key, debit_account_id=src.id, credit_account_id=settle.id, amount_minor=bill.amount_minor,
        currency=bill.currency, kind="bill_payment", memo=f"{biller.name_en} {bill.period}",
        reference=f"bill:{bill.id}", initiated_by=actor.user_id, enforce_daily_limit=True,
        meta={"biller": biller.code, "category": biller.category, "bill_reference": bill.reference,
              "period": bill.period},
    )
    res = _guarded(session, actor, cmd, src, settle, kind="bill_payment", channel=channel,
                   answer=_answer(challenge_id, otp))
    if not res.replayed:
        bill.status = "paid"
        bill.paid_transfer_id = res.id
        bill.paid_at = ledger.utcnow()
        session.flush()
    return bill, res


def top_up(session: Session, actor: Principal, *, from_account_id: int, biller_code: str, phone: str,
           amount_minor: int, idempotency_key: str, channel: str = "api", challenge_id: int | None = None,
           otp: str | None = None) -> ledger.TransferResult:
    """Mobile top-up: no bill, the customer chooses the amount for a phone number."""
    require_customer(actor)
    biller = get_biller(session, biller_code)
    if biller.requires_bill:
        raise ValidationFailed("this biller takes bill payments, not top-ups")
    number = customers.normalise_phone(phone)
    if not re.fullmatch(r"\+861[3-9][0-9]{9}", number):  # a landline is a phone, but cannot be topped up
        raise ValidationFailed("a top-up needs a mobile phone number", details={"phone": phone})
    if amount_minor not in (10_00, 20_00, 30_00, 50_00, 100_00, 200_00, 300_00, 500_00):
        raise ValidationFailed("choose a top-up amount of 10, 20, 30, 50, 100, 200, 300 or 500 yuan")
    masked = security.mask_phone(number)
    src = paying_account(session, actor, from_account_id)
    cmd = ledger.TransferCommand(
        key=idem_key(actor, idempotency_key), debit_account_id=src.id,
        credit_account_id=biller.settlement_account_id, amount_minor=amount_minor, currency="CNY",
        # the transfer keeps the number masked: the journal is no place for a full phone number (the operator
        # gets the whole number in the instruction, not from our records)
        kind="bill_payment", memo=f"{biller.name_en} top-up {masked}", reference=f"topup:{masked}",
        initiated_by=actor.user_id, enforce_daily_limit=True,
        meta={"biller": biller.code, "category": biller.category, "phone": masked},
    )
    settle = ledger.find_account(session, biller.settlement_account_id)
    assert settle is not None
    return _guarded(session, actor, cmd, src, settle, kind="top_up", channel=channel,
                    answer=_answer(challenge_id, otp))


def add_biller(session: Session, *, code: str, name_zh: str, name_en: str, category: str,
               city: str | None = None, requires_bill: bool = True) -> Biller:
    if category not in BILL_CATEGORIES:
        raise ValidationFailed(f"category must be one of {', '.join(BILL_CATEGORIES)}",
                               reason="payments.bad_bill_category", details={"category": category})
    if session.scalars(select(Biller.id).where(Biller.code == code)).first():
        raise Conflict("biller code exists", details={"code": code})
    settle = ledger.open_account(session, customer_id=None, kind="internal", purpose="biller_settlement",
                                 currency="CNY", name=f"{name_en} settlement", overdraft_limit_minor=0)
    b = Biller(code=code, name_zh=name_zh, name_en=name_en, category=category, city=city,
               settlement_account_id=settle.id, requires_bill=1 if requires_bill else 0)
    session.add(b)
    session.flush()
    return b


def issue_bill(session: Session, *, biller_code: str, reference: str, period: str, amount_minor: int,
               due_date: date) -> Bill:
    b = get_biller(session, biller_code)
    if amount_minor <= 0:
        raise ValidationFailed("a bill amount is positive")
    bill = Bill(biller_id=b.id, reference=reference, period=period, amount_minor=amount_minor, currency="CNY",
                due_date=due_date, status="unpaid")
    session.add(bill)
    session.flush()
    return bill


def mark_overdue_bills(session: Session, day: date) -> int:
    """Unpaid bills whose due date has passed by ``day`` become overdue (close of day). Returns how many."""
    res = session.execute(update(Bill).where(Bill.status == "unpaid", Bill.due_date < day).values(status="overdue"))
    return int(getattr(res, "rowcount", 0) or 0)


def reopen_bill_paid_by(session: Session, transfer_id: int) -> int:
    """A bill payment that was stopped (a held payment voided, or a payment reversed as fraud) no longer pays
    its bill: the bill is unpaid again (close of day marks it overdue if its date has passed). Returns how many."""
    res = session.execute(update(Bill).where(Bill.paid_transfer_id == transfer_id, Bill.status == "paid")
                          .values(status="unpaid", paid_transfer_id=None, paid_at=None))
    return int(getattr(res, "rowcount", 0) or 0)


# a bill payment a risk officer stopped (its hold voided) no longer pays its bill (risk sits below payments)
risk.on_payment_voided(reopen_bill_paid_by)


def erase_payees(session: Session, customer_id: int) -> dict[str, int]:
    """A deletion request: the customer's saved payees (names other people gave, nicknames) are deleted and the
    memos of their standing orders cleared (each is cancelled first if still active). The transfers themselves
    are transaction records the bank keeps. Returns the counts."""
    orders = session.execute(update(ScheduledTransfer).where(ScheduledTransfer.customer_id == customer_id).values(
        memo="", status=text("CASE WHEN status = 'active' THEN 'cancelled' ELSE status END"), next_run=None))
    memo = getattr(orders, "rowcount", 0)
    payees = getattr(session.execute(delete(Payee).where(Payee.customer_id == customer_id)), "rowcount", 0)
    session.flush()
    return {"payees": int(payees or 0), "scheduled_transfers": int(memo or 0)}
