"""The points ledger, its rules, redemption and the reconciled liability.

Value: **one point is worth exactly 1 fen (¥0.01)** (:data:`POINT_VALUE_MINOR`), so the liability is integer money.

Every change of points is an entry of ``loy_entries`` (append-only, unique ``source_ref``) and, for its money
side, a ledger transfer of kind ``loyalty`` between the bank's internal accounts (and the customer's account
for a cash-back): one per entry, or one per run for the earning task's and expiry's batches (each entry names it):

- earn / positive adjustment: ``loyalty_expense`` -> ``loyalty_liability`` (points x value);
- redeem: ``loyalty_liability`` -> the customer's account (cash-back) or ``fees`` (a fee waiver or top-up
  coupon: the fee income the voucher stands for);
- expiry: ``loyalty_liability`` -> ``loyalty_breakage`` (income);
- negative adjustment: ``loyalty_liability`` -> ``loyalty_expense``.

Lots: each earn leaves a lot with ``expires_at`` (:data:`EXPIRY_MONTHS` after the earn); redemptions, negative
adjustments and expiry consume the oldest lots first (FIFO by expiry, then id). :func:`reconcile` checks that
outstanding points x value = the liability account's balance and that the lots' remaining points = the entries'
sum, overall and per customer.
"""

from __future__ import annotations

import calendar
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.loyalty.models import (
    BEHAVIOURS,
    ENTRY_KINDS,
    REWARD_KINDS,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyRedemption,
    LoyaltyReward,
    LoyaltyRule,
    LoyaltyWatermark,
)
from smartbank.payments import service as payments
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import service as wealth

__all__ = [
    "BEHAVIOURS", "CURRENCY", "DEFAULT_REWARDS", "DEFAULT_RULES", "ENTRY_KINDS", "EXPIRING_SOON_DAYS",
    "EXPIRY_MONTHS", "POINT_VALUE_MINOR", "REWARD_KINDS", "TRANSFER_KIND",
    "LoyaltyEntry", "LoyaltyLot", "LoyaltyRedemption", "LoyaltyReward", "LoyaltyRule",
    "adjust_points", "balance", "customer_points", "earn", "ensure_defaults", "expire_due", "list_rewards",
    "list_rules", "liability_summary", "point_holders", "points_by_number", "reconcile", "reconciliation",
    "redeem", "run_due", "set_rule", "use_voucher",
]

POINT_VALUE_MINOR = 1  # one point = 1 fen = ¥0.01, exactly
CURRENCY = "CNY"
EXPIRY_MONTHS = 12
EXPIRING_SOON_DAYS = 30
TRANSFER_KIND = "loyalty"
LIABILITY, EXPENSE, BREAKAGE, FEES = "loyalty_liability", "loyalty_expense", "loyalty_breakage", "fees"
MAX_POINTS = 10_000_000
_BATCH = 5000

# code, behaviour, points, cap per month (points), once per customer, zh, en
DEFAULT_RULES: tuple[tuple[str, str, int, int | None, bool, str, str], ...] = (
    ("BILL_PAY", "bill_payment", 50, 200, False, "缴费奖励", "Bill payment"),
    ("SALARY_FIRST", "salary_credit", 500, None, True, "首次代发工资入账", "First salary credit"),
    ("SCHEDULED_FIRST", "scheduled_transfer", 100, None, True, "首次设置定期转账", "First scheduled transfer"),
    ("WEALTH_FIRST", "first_wealth_purchase", 1000, None, True, "首次购买理财", "First wealth purchase"),
)
# code, kind, cost in points, value in fen, valid days, zh, en
DEFAULT_REWARDS: tuple[tuple[str, str, int, int, int, str, str], ...] = (
    ("FEE_WAIVER_5", "fee_waiver", 500, 500, 90, "5 元手续费减免券", "¥5 fee waiver"),
    ("TOPUP_10", "topup_coupon", 1000, 1000, 60, "10 元话费充值券", "¥10 mobile top-up coupon"),
    ("CASHBACK_20", "cashback", 2000, 2000, 0, "20 元现金返还", "¥20 cash-back"),
)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _add_months(at: datetime, months: int) -> datetime:
    m = at.month - 1 + months
    y, m = at.year + m // 12, m % 12 + 1
    return at.replace(year=y, month=m, day=min(at.day, calendar.monthrange(y, m)[1]))


def _month_start(at: datetime) -> datetime:
    local = _utc(at).astimezone(clock.BANK_TZ)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _actor_name(actor: Principal) -> str:
    return actor.username or actor.role


def _customer_only(actor: Principal) -> int:
    if actor.is_staff or actor.customer_id is None:
        raise Forbidden("points are redeemed by the customer who holds them", reason="loyalty.customer_only")
    return int(actor.customer_id)


# ------------------------------------------------------------------------------------------------
# rules and rewards


def ensure_defaults(session: Session) -> None:
    """Write the default rules and rewards the first time the programme is used (idempotent; two first uses at
    once: the second finds the first's rows, in a savepoint)."""
    if (session.scalar(select(func.count()).select_from(LoyaltyRule)) and
            session.scalar(select(func.count()).select_from(LoyaltyReward))):
        return
    try:
        with session.begin_nested():
            if session.scalar(select(func.count()).select_from(LoyaltyRule)) == 0:
                for code, behaviour, points, cap, once, zh, en in DEFAULT_RULES:
                    session.add(LoyaltyRule(code=code, version=1, behaviour=behaviour, points=points,
                                            cap_per_month=cap, once_per_customer=once, active=True, name_zh=zh,
                                            name_en=en, created_by="system", created_at=clock.now()))
            if session.scalar(select(func.count()).select_from(LoyaltyReward)) == 0:
                for code, kind, cost, value, days, zh, en in DEFAULT_REWARDS:
                    session.add(LoyaltyReward(code=code, kind=kind, cost_points=cost, value_minor=value,
                                              valid_days=days, name_zh=zh, name_en=en, active=True))
            session.flush()
    except IntegrityError:
        pass  # written by a concurrent first use


def _rule_view(r: LoyaltyRule) -> dict[str, Any]:
    return {"code": r.code, "version": r.version, "behaviour": r.behaviour, "points": r.points,
            "cap_per_month": r.cap_per_month, "once_per_customer": r.once_per_customer, "active": r.active,
            "name_zh": r.name_zh, "name_en": r.name_en, "created_by": r.created_by, "created_at": r.created_at}


def _current_rules(session: Session) -> list[LoyaltyRule]:
    """The latest version of every rule."""
    latest = (select(LoyaltyRule.code, func.max(LoyaltyRule.version).label("v")).group_by(LoyaltyRule.code)
              .subquery())
    return list(session.scalars(select(LoyaltyRule).join(
        latest, (LoyaltyRule.code == latest.c.code) & (LoyaltyRule.version == latest.c.v)).order_by(LoyaltyRule.code)))


def list_rules(session: Session, actor: Principal, *, history: bool = False) -> list[dict[str, Any]]:
    """The rules in force (every version with ``history``); staff holding ``loyalty.read``."""
    actor.require("loyalty.read")
    ensure_defaults(session)
    if history:
        rows = list(session.scalars(select(LoyaltyRule).order_by(LoyaltyRule.code, LoyaltyRule.version)))
    else:
        rows = _current_rules(session)
    return [_rule_view(r) for r in rows]


def set_rule(session: Session, actor: Principal, code: str, *, behaviour: str, points: int,
             cap_per_month: int | None = None, once_per_customer: bool = False, active: bool = True,
             name_zh: str = "", name_en: str = "") -> dict[str, Any]:
    """Create a rule or write its next version (``loyalty.manage``, audited). Entries keep the version that
    earned them."""
    actor.require("loyalty.manage")
    code = (code or "").strip().upper()
    if not code or len(code) > 40 or not code.replace("_", "").isalnum():
        raise ValidationFailed("a rule code is 1-40 letters, digits and underscores", reason="loyalty.bad_rule_code",
                               details={"code": code[:40]})
    if behaviour not in BEHAVIOURS:
        raise ValidationFailed(f"unknown behaviour {behaviour!r}", reason="loyalty.unknown_behaviour",
                               details={"behaviour": str(behaviour)[:32]})
    if not isinstance(points, int) or not 1 <= points <= 100_000:
        raise ValidationFailed("points are a whole number from 1 to 100000", reason="loyalty.bad_points",
                               details={"points": str(points)[:20]})
    if cap_per_month is not None and (not isinstance(cap_per_month, int) or cap_per_month < points):
        raise ValidationFailed("the monthly cap is at least the points of one award", reason="loyalty.bad_cap",
                               details={"cap": str(cap_per_month)[:20], "points": points})
    ensure_defaults(session)
    prior = session.scalars(select(LoyaltyRule).where(LoyaltyRule.code == code)
                            .order_by(LoyaltyRule.version.desc()).limit(1)).first()
    if prior is not None and prior.behaviour != behaviour:
        raise Conflict("a rule keeps its behaviour; create a new code instead", reason="loyalty.behaviour_changed",
                       details={"code": code, "behaviour": prior.behaviour})
    rule = LoyaltyRule(code=code, version=(prior.version + 1) if prior else 1, behaviour=behaviour, points=points,
                       cap_per_month=cap_per_month, once_per_customer=once_per_customer, active=active,
                       name_zh=(name_zh or (prior.name_zh if prior else code))[:80],
                       name_en=(name_en or (prior.name_en if prior else code))[:80],
                       created_by=_actor_name(actor), created_at=clock.now())
    session.add(rule)
    session.flush()
    security.audit(session, actor, action="loyalty.rule.set", object_type="loyalty_rule", object_id=code,
                   before=_jsonable(_rule_view(prior)) if prior else None, after=_jsonable(_rule_view(rule)))
    return _rule_view(rule)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items()}


def list_rewards(session: Session) -> list[dict[str, Any]]:
    ensure_defaults(session)
    return [{"code": r.code, "kind": r.kind, "name_zh": r.name_zh, "name_en": r.name_en, "cost_points": r.cost_points,
             "value_minor": r.value_minor, "valid_days": r.valid_days}
            for r in session.scalars(select(LoyaltyReward).where(LoyaltyReward.active.is_(True))
                                     .order_by(LoyaltyReward.cost_points, LoyaltyReward.code))]


# ------------------------------------------------------------------------------------------------
# the money side


def _post(session: Session, source_ref: str, debit_id: int, credit_id: int, amount: int, memo: str,
          by: int | None = None) -> int:
    res = ledger.transfer(session, ledger.TransferCommand(
        key=f"loyalty:{source_ref}", debit_account_id=debit_id, credit_account_id=credit_id, amount_minor=amount,
        currency=CURRENCY, kind=TRANSFER_KIND, memo=memo[:200], reference=f"loyalty:{source_ref}"[:64],
        initiated_by=by))
    return res.id


def _internal(session: Session, purpose: str) -> int:
    """The internal account's id (remembered for the session: a batch of earnings looks it up once)."""
    cache = session.info.setdefault("loyalty_internal", {})
    if purpose not in cache:
        cache[purpose] = ledger.internal_account(session, purpose, CURRENCY).id
    return int(cache[purpose])


# ------------------------------------------------------------------------------------------------
# entries and lots


def _add_entry(session: Session, *, customer_id: int, kind: str, points: int, source_ref: str,
               rule: LoyaltyRule | None = None, redemption_id: int | None = None, note: str | None = None,
               by: str = "system", at: datetime | None = None) -> LoyaltyEntry:
    e = LoyaltyEntry(customer_id=customer_id, kind=kind, points=points, source_ref=source_ref[:80],
                     rule_code=rule.code if rule else None, rule_version=rule.version if rule else None,
                     redemption_id=redemption_id, note=(note or None) and note[:200], created_by=by,
                     created_at=at or clock.now())
    session.add(e)
    session.flush()
    return e


def _credit(session: Session, customer_id: int, points: int, *, kind: str, source_ref: str,
            rule: LoyaltyRule | None, at: datetime, note: str | None, by: str = "system",
            batch: list[LoyaltyEntry] | None = None) -> LoyaltyEntry:
    """A positive entry, its lot, and expense -> liability (or, with ``batch``, left for one posting of the
    batch's sum: :func:`_post_batch`)."""
    e = _add_entry(session, customer_id=customer_id, kind=kind, points=points, source_ref=source_ref, rule=rule,
                   note=note, by=by, at=at)
    session.add(LoyaltyLot(customer_id=customer_id, entry_id=e.id, points=points, remaining=points, earned_at=at,
                           expires_at=_add_months(_utc(at), EXPIRY_MONTHS)))
    if batch is not None:
        batch.append(e)
    else:
        e.transfer_id = _post(session, source_ref, _internal(session, EXPENSE), _internal(session, LIABILITY),
                              points * POINT_VALUE_MINOR, f"loyalty {kind} customer {customer_id}")
    session.flush()
    return e


def _post_batch(session: Session, entries: list[LoyaltyEntry], kind: str, debit_id: int, credit_id: int) -> None:
    """One ledger posting for a batch of entries of the same direction (a run of the earning task, of expiry):
    the sum of their points x value; each entry names it."""
    if not entries:
        return
    total = sum(abs(e.points) for e in entries) * POINT_VALUE_MINOR
    tid = _post(session, f"{kind}-batch:{entries[0].id}-{entries[-1].id}", debit_id, credit_id, total,
                f"loyalty {kind} x{len(entries)}")
    for e in entries:
        e.transfer_id = tid
    session.flush()


def _live_lots(session: Session, customer_id: int, now: datetime) -> list[LoyaltyLot]:
    stmt = (select(LoyaltyLot).where(LoyaltyLot.customer_id == customer_id, LoyaltyLot.remaining > 0,
                                     LoyaltyLot.expires_at > now)
            .order_by(LoyaltyLot.expires_at, LoyaltyLot.id))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt))


def _consume(lots: list[LoyaltyLot], points: int) -> None:
    """Take ``points`` from the oldest lots first (the caller checked that there are enough)."""
    left = points
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        lot.remaining -= take
        left -= take
    if left:  # pragma: no cover - the callers check the balance first
        raise AssertionError("consumed more points than the lots hold")


def balance(session: Session, customer_id: int) -> int:
    """The customer's points: the sum of their entries."""
    return int(session.scalar(select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
                              .where(LoyaltyEntry.customer_id == customer_id)) or 0)


def point_holders(session: Session) -> list[tuple[int, int]]:
    """(customer id, balance) of every customer holding points, by customer id."""
    rows = session.execute(select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points))
                           .group_by(LoyaltyEntry.customer_id).having(func.sum(LoyaltyEntry.points) > 0)
                           .order_by(LoyaltyEntry.customer_id)).all()
    return [(int(c), int(b)) for c, b in rows]


def _rule_for(session: Session, behaviour: str) -> list[LoyaltyRule]:
    return [r for r in _current_rules(session) if r.behaviour == behaviour and r.active]


def earn(session: Session, customer_id: int, rule: LoyaltyRule, *, source_ref: str,
         at: datetime | None = None, batch: list[LoyaltyEntry] | None = None) -> LoyaltyEntry | None:
    """Award ``rule``'s points for one event (``source_ref``: once only). A once-per-customer rule awards once per
    customer whatever the event; a monthly cap trims the award to what is left of it this month (nothing when
    used up). Returns the entry, or None when nothing was awarded."""
    at = _utc(at or clock.now())
    if rule.once_per_customer:
        source_ref = f"{rule.code}:c{customer_id}"
    if session.scalar(select(LoyaltyEntry.id).where(LoyaltyEntry.source_ref == source_ref)) is not None:
        return None
    points, note = rule.points, None
    if rule.cap_per_month is not None:
        start = _month_start(at)
        end = _add_months(start.astimezone(clock.BANK_TZ), 1).astimezone(UTC)
        used = int(session.scalar(select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.customer_id == customer_id, LoyaltyEntry.kind == "earn",
            LoyaltyEntry.rule_code == rule.code, LoyaltyEntry.created_at >= start,
            LoyaltyEntry.created_at < end)) or 0)
        points = min(points, rule.cap_per_month - used)
        if points <= 0:
            return None
        if points < rule.points:
            note = f"capped: {points} of {rule.points} (cap {rule.cap_per_month} a month)"
    return _credit(session, customer_id, points, kind="earn", source_ref=source_ref, rule=rule, at=at, note=note,
                   batch=batch)


def _debit(session: Session, customer_id: int, points: int, *, kind: str, source_ref: str,
           lots: list[LoyaltyLot], credit_account: int, redemption_id: int | None = None,
           note: str | None = None, by: str = "system", at: datetime | None = None,
           batch: list[LoyaltyEntry] | None = None) -> LoyaltyEntry:
    _consume(lots, points)
    e = _add_entry(session, customer_id=customer_id, kind=kind, points=-points, source_ref=source_ref,
                   redemption_id=redemption_id, note=note, by=by, at=at)
    if batch is not None:
        batch.append(e)
    else:
        e.transfer_id = _post(session, source_ref, _internal(session, LIABILITY), credit_account,
                              points * POINT_VALUE_MINOR, f"loyalty {kind} customer {customer_id}")
    session.flush()
    return e


def expire_due(session: Session, *, customer_id: int | None = None) -> dict[str, int]:
    """Expire what is left of every lot whose ``expires_at`` has passed: one expire entry per lot, liability ->
    breakage."""
    now = clock.now()
    stmt = select(LoyaltyLot).where(LoyaltyLot.remaining > 0, LoyaltyLot.expires_at <= now)
    if customer_id is not None:
        stmt = stmt.where(LoyaltyLot.customer_id == customer_id)
    lots = list(session.scalars(stmt.order_by(LoyaltyLot.id)))
    points = 0
    breakage = _internal(session, BREAKAGE) if lots else 0
    batch: list[LoyaltyEntry] = []
    for lot in lots:
        n = lot.remaining
        _debit(session, lot.customer_id, n, kind="expire", source_ref=f"expire:lot{lot.id}", lots=[lot],
               credit_account=breakage, note=f"lot {lot.id} expired {_utc(lot.expires_at).date().isoformat()}",
               batch=batch)
        points += n
    if batch:
        _post_batch(session, batch, "expire", _internal(session, LIABILITY), breakage)
    return {"lots": len(lots), "points": points}


# ------------------------------------------------------------------------------------------------
# redemption


def _voucher_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "LY" + "".join(secrets.choice(alphabet) for _ in range(10))


def redeem(session: Session, actor: Principal, reward_code: str, *, account_id: int | None = None,
           idempotency_key: str | None = None) -> dict[str, Any]:
    """The customer spends points on a reward. Refused, with nothing written, when the balance is short. A
    cash-back is paid into the customer's account (``account_id``, else their first demand or savings account);
    a voucher gets a code and an expiry. With ``idempotency_key``, the same key again answers the first
    redemption (``replayed``) and spends nothing; the same key for another reward is a conflict."""
    cid = _customer_only(actor)
    key = None if idempotency_key is None else str(idempotency_key).strip()
    if key is not None and not re.fullmatch(r"[A-Za-z0-9_.:-]{8,80}", key):
        raise ValidationFailed("an idempotency key is 8-80 letters, digits or _.:-", reason="loyalty.bad_key")
    ensure_defaults(session)
    reward = session.scalars(select(LoyaltyReward).where(LoyaltyReward.code == (reward_code or "").strip().upper(),
                                                         LoyaltyReward.active.is_(True))).first()
    if reward is None:
        raise NotFound("no such reward", reason="loyalty.reward_not_found", details={"reward": str(reward_code)[:32]})
    # the account named is the customer's own before anything else is said (another's is "not found")
    named = payments.paying_account(session, actor, account_id) if account_id is not None else None
    now = clock.now()
    lots = _live_lots(session, cid, now)  # locked: a second request of the customer waits here (PostgreSQL)
    if key is not None:
        first = session.scalars(select(LoyaltyRedemption).where(LoyaltyRedemption.customer_id == cid,
                                                                LoyaltyRedemption.idempotency_key == key)).first()
        if first is not None:
            if first.reward_code != reward.code:
                raise Conflict("this key was used for another reward", reason="loyalty.key_reused",
                               details={"reward": first.reward_code})
            return {**_redemption_view(first), "balance": balance(session, cid), "replayed": True}
    available = sum(lot.remaining for lot in lots)
    if available < reward.cost_points:
        raise ValidationFailed("not enough points for this reward", reason="loyalty.insufficient_points",
                               details={"needed": reward.cost_points, "available": available})
    target: int
    acct_id: int | None = None
    acct: ledger.Account | None
    if reward.kind == "cashback":
        if named is not None:
            acct = named
        else:
            acct = next((a for a in ledger.customer_accounts(session, cid)
                         if a.kind in ("demand", "savings") and a.status == "open" and a.currency == CURRENCY), None)
            if acct is None:
                raise ValidationFailed("no account to pay the cash-back into", reason="loyalty.no_account")
        if acct.currency != CURRENCY or acct.status != "open":
            raise ValidationFailed("the cash-back is paid into an open account in yuan", reason="loyalty.no_account")
        target, acct_id = acct.id, acct.id
    else:
        target = _internal(session, FEES)
    expire_due(session, customer_id=cid)  # lots already due are breakage, not spendable
    red = LoyaltyRedemption(customer_id=cid, reward_code=reward.code, kind=reward.kind, points=reward.cost_points,
                            value_minor=reward.value_minor, status="paid" if reward.kind == "cashback" else "issued",
                            account_id=acct_id, created_at=now, idempotency_key=key,
                            voucher_code=None if reward.kind == "cashback" else _voucher_code(),
                            expires_at=None if reward.kind == "cashback" else now + timedelta(days=reward.valid_days))
    session.add(red)
    session.flush()
    entry = _debit(session, cid, reward.cost_points, kind="redeem", source_ref=f"redeem:{red.id}", lots=lots,
                   credit_account=target, redemption_id=red.id, note=reward.code, by=_actor_name(actor), at=now)
    red.transfer_id = entry.transfer_id
    session.flush()
    return {**_redemption_view(red), "balance": balance(session, cid), "replayed": False}


def _redemption_view(r: LoyaltyRedemption) -> dict[str, Any]:
    return {"id": r.id, "reward_code": r.reward_code, "kind": r.kind, "points": r.points, "value_minor": r.value_minor,
            "voucher_code": r.voucher_code, "status": r.status, "account_id": r.account_id,
            "transfer_id": r.transfer_id, "expires_at": r.expires_at, "used_at": r.used_at, "used_ref": r.used_ref,
            "created_at": r.created_at}


def use_voucher(session: Session, actor: Principal, voucher_code: str, *, used_ref: str) -> dict[str, Any]:
    """A later payment consumes a voucher of the customer's (once; not after its expiry)."""
    cid = _customer_only(actor)
    red = session.scalars(select(LoyaltyRedemption).where(
        LoyaltyRedemption.voucher_code == (voucher_code or "").strip().upper(),
        LoyaltyRedemption.customer_id == cid)).first()
    if red is None:
        raise NotFound("no such voucher", reason="loyalty.voucher_not_found", details={"code": str(voucher_code)[:24]})
    if red.status != "issued" or (red.expires_at is not None and _utc(red.expires_at) <= clock.now()):
        raise Conflict("this voucher was used or has expired", reason="loyalty.voucher_unusable",
                       details={"code": red.voucher_code})
    red.status, red.used_at, red.used_ref = "used", clock.now(), used_ref[:80]
    session.flush()
    return _redemption_view(red)


def adjust_points(session: Session, actor: Principal, customer_id: int, points: int, *, reason: str,
                  source_ref: str | None = None) -> dict[str, Any]:
    """A staff correction (``loyalty.manage``, audited): positive adds a lot, negative consumes the oldest."""
    actor.require("loyalty.manage")
    if not isinstance(points, int) or points == 0 or abs(points) > MAX_POINTS:
        raise ValidationFailed("an adjustment is a non-zero whole number of points", reason="loyalty.bad_points",
                               details={"points": str(points)[:20]})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("say why", reason="loyalty.reason_required")
    ref = source_ref or f"adjust:{customer_id}:{secrets.token_hex(6)}"
    now = clock.now()
    if points > 0:
        e = _credit(session, customer_id, points, kind="adjust", source_ref=ref, rule=None, at=now, note=reason,
                    by=_actor_name(actor))
    else:
        lots = _live_lots(session, customer_id, now)
        available = sum(lot.remaining for lot in lots)
        if available < -points:
            raise ValidationFailed("not enough points", reason="loyalty.insufficient_points",
                                   details={"needed": -points, "available": available})
        e = _debit(session, customer_id, -points, kind="adjust", source_ref=ref, lots=lots,
                   credit_account=_internal(session, EXPENSE), note=reason, by=_actor_name(actor), at=now)
    security.audit(session, actor, action="loyalty.adjust", object_type="customer", object_id=customer_id,
                   after={"points": points, "entry_id": e.id}, note=reason[:200])
    return {"entry_id": e.id, "points": points, "balance": balance(session, customer_id)}


# ------------------------------------------------------------------------------------------------
# reading


def customer_points(session: Session, actor: Principal, customer_id: int | None = None, *,
                    history: int = 50) -> dict[str, Any]:
    """A customer's points: the balance, what expires soon, the history, the vouchers and the rewards. A customer
    reads their own; staff holding ``loyalty.read`` name the customer (the read is audited)."""
    if actor.is_staff:
        actor.require("loyalty.read")
        if customer_id is None:
            raise ValidationFailed("which customer?", reason="loyalty.customer_required")
        customers.get_customer(session, customer_id)  # not found: 404
        security.audit_reads(session, actor, action="loyalty.points.read", customer_ids=[customer_id])
    else:
        customer_id = _customer_only(actor)
    now = clock.now()
    soon = now + timedelta(days=EXPIRING_SOON_DAYS)
    lots = list(session.scalars(select(LoyaltyLot).where(
        LoyaltyLot.customer_id == customer_id, LoyaltyLot.remaining > 0).order_by(LoyaltyLot.expires_at)))
    entries = list(session.scalars(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id)
                                   .order_by(LoyaltyEntry.id.desc()).limit(history)))
    reds = list(session.scalars(select(LoyaltyRedemption).where(LoyaltyRedemption.customer_id == customer_id)
                                .order_by(LoyaltyRedemption.id.desc()).limit(50)))
    bal = balance(session, customer_id)
    names = {r.code: (r.name_zh, r.name_en) for r in _current_rules(session)}
    return {
        "customer_id": customer_id, "balance": bal, "value_minor": bal * POINT_VALUE_MINOR,
        "point_value_minor": POINT_VALUE_MINOR, "currency": CURRENCY,
        "expiring_soon": sum(lot.remaining for lot in lots if _utc(lot.expires_at) <= soon),
        "expiring_soon_days": EXPIRING_SOON_DAYS,
        "lots": [{"remaining": lot.remaining, "points": lot.points, "earned_at": lot.earned_at,
                  "expires_at": lot.expires_at} for lot in lots],
        "history": [{"id": e.id, "kind": e.kind, "points": e.points, "rule_code": e.rule_code,
                     "rule_version": e.rule_version, "source_ref": e.source_ref, "note": e.note,
                     "rule_name_zh": names.get(e.rule_code or "", ("", ""))[0],
                     "rule_name_en": names.get(e.rule_code or "", ("", ""))[1],
                     "created_at": e.created_at} for e in entries],
        "redemptions": [_redemption_view(r) for r in reds],
        "rewards": list_rewards(session),
    }


def points_by_number(session: Session, actor: Principal, customer_number: str) -> dict[str, Any]:
    """Staff: a customer's points by customer number (``loyalty.read``)."""
    actor.require("loyalty.read")
    c = customers.customer_by_number(session, customer_number)
    return {**customer_points(session, actor, c.id), "customer_number": c.number}


def liability_summary(session: Session) -> dict[str, Any]:
    """The programme's figures: points outstanding, earned, redeemed and expired, and the internal accounts."""
    by_kind = {k: int(v) for k, v in session.execute(
        select(LoyaltyEntry.kind, func.coalesce(func.sum(LoyaltyEntry.points), 0)).group_by(LoyaltyEntry.kind))}
    return {
        "point_value_minor": POINT_VALUE_MINOR, "currency": CURRENCY,
        "points_by_kind": {k: by_kind.get(k, 0) for k in ENTRY_KINDS},
        "customers": int(session.scalar(select(func.count(func.distinct(LoyaltyEntry.customer_id)))) or 0),
        "liability_minor": ledger.internal_balances(session, LIABILITY).get(CURRENCY, 0),
        "expense_minor": -ledger.internal_balances(session, EXPENSE).get(CURRENCY, 0),
        "breakage_minor": ledger.internal_balances(session, BREAKAGE).get(CURRENCY, 0),
        "vouchers_issued": int(session.scalar(select(func.count()).select_from(LoyaltyRedemption)
                                              .where(LoyaltyRedemption.status == "issued")) or 0),
    }


@dataclass(frozen=True)
class _Mismatch:
    customer_id: int
    entries: int
    lots: int


def reconcile(session: Session) -> dict[str, Any]:
    """Outstanding points x value = the liability account's balance, and the lots' remaining points = the
    entries' sum, overall and for every customer; no lot negative or above its size; every entry posted."""
    entries = int(session.scalar(select(func.coalesce(func.sum(LoyaltyEntry.points), 0))) or 0)
    lots = int(session.scalar(select(func.coalesce(func.sum(LoyaltyLot.remaining), 0))) or 0)
    liability = ledger.internal_balances(session, LIABILITY).get(CURRENCY, 0)
    per_entries = dict(session.execute(select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points))
                                       .group_by(LoyaltyEntry.customer_id)).all())
    per_lots = dict(session.execute(select(LoyaltyLot.customer_id, func.sum(LoyaltyLot.remaining))
                                    .group_by(LoyaltyLot.customer_id)).all())
    mismatched = [_Mismatch(int(c), int(per_entries.get(c) or 0), int(per_lots.get(c) or 0))
                  for c in sorted(set(per_entries) | set(per_lots))
                  if int(per_entries.get(c) or 0) != int(per_lots.get(c) or 0)]
    bad_lots = int(session.scalar(select(func.count()).select_from(LoyaltyLot).where(
        (LoyaltyLot.remaining < 0) | (LoyaltyLot.remaining > LoyaltyLot.points))) or 0)
    unposted = int(session.scalar(select(func.count()).select_from(LoyaltyEntry)
                                  .where(LoyaltyEntry.transfer_id.is_(None))) or 0)
    ok = (entries * POINT_VALUE_MINOR == liability and entries == lots and not mismatched and bad_lots == 0
          and unposted == 0)
    return {"ok": ok, "outstanding_points": entries, "lot_points": lots,
            "liability_expected_minor": entries * POINT_VALUE_MINOR, "liability_minor": liability,
            "difference_minor": liability - entries * POINT_VALUE_MINOR, "customers_mismatched": len(mismatched),
            "mismatches": [m.__dict__ for m in mismatched[:20]], "bad_lots": bad_lots, "unposted_entries": unposted,
            "point_value_minor": POINT_VALUE_MINOR, "currency": CURRENCY}


def reconciliation(session: Session, actor: Principal) -> dict[str, Any]:
    """Staff (``loyalty.read``): the reconciliation and the programme's figures."""
    actor.require("loyalty.read")
    return {**reconcile(session), "summary": liability_summary(session)}


# ------------------------------------------------------------------------------------------------
# earning from the bank's records


def _mark(session: Session, name: str) -> LoyaltyWatermark:
    wm = session.get(LoyaltyWatermark, name)
    if wm is None:
        wm = LoyaltyWatermark(name=name, last_id=0)
        session.add(wm)
        session.flush()
    return wm


def _scan_transfers(session: Session, name: str, kind: str, side: str) -> list[tuple[int, int, datetime]]:
    """(transfer id, customer id, created at) of posted transfers of ``kind`` above the watermark, the customer
    being the owner of the debited (``side='debit'``) or credited account."""
    wm = _mark(session, name)
    T, A = ledger.Transfer, ledger.Account
    acct_col = T.debit_account_id if side == "debit" else T.credit_account_id
    rows = session.execute(select(T.id, A.customer_id, T.created_at).join(A, A.id == acct_col).where(
        T.id > wm.last_id, T.kind == kind, T.flags == "posted", A.customer_id.is_not(None))
        .order_by(T.id).limit(_BATCH)).all()
    if rows:
        wm.last_id = int(rows[-1][0])
    return [(int(i), int(c), at) for i, c, at in rows if c is not None]


def run_due(session: Session) -> dict[str, Any]:
    """The worker's task: award points for the records since the watermarks (bill payments, salary credits,
    scheduled transfers set up, first wealth purchases), then expire what is due. Idempotent by ``source_ref``."""
    ensure_defaults(session)
    out: dict[str, Any] = {"scanned": 0, "awarded": 0, "points": 0}

    rules = [r for r in _current_rules(session) if r.active]
    batch: list[LoyaltyEntry] = []

    def award(behaviour: str, customer_id: int, ref: str, at: datetime) -> None:
        for rule in (r for r in rules if r.behaviour == behaviour):
            e = earn(session, customer_id, rule, source_ref=f"{rule.code}:{ref}", at=at, batch=batch)
            if e is not None:
                out["awarded"] += 1
                out["points"] += e.points

    bills = _scan_transfers(session, "bill_payment", "bill_payment", "debit")
    for tid, cid, at in bills:
        award("bill_payment", cid, f"t{tid}", at)
    salaries = _scan_transfers(session, "salary", "salary", "credit")
    for tid, cid, at in salaries:
        award("salary_credit", cid, f"t{tid}", at)
    wm = _mark(session, "scheduled")
    S = payments.ScheduledTransfer
    sched = session.execute(select(S.id, S.customer_id, S.created_at).where(S.id > wm.last_id).order_by(S.id)
                            .limit(_BATCH)).all()
    for sid, cid, at in sched:
        award("scheduled_transfer", int(cid), f"s{sid}", at)
        wm.last_id = int(sid)
    out["scanned"] = len(bills) + len(salaries) + len(sched)
    seen: set[int] = set()
    for cid, _product, at, _rec in wealth.purchase_orders(session):
        if cid not in seen:
            seen.add(cid)
            award("first_wealth_purchase", cid, "first", at)
    _post_batch(session, batch, "earn", _internal(session, EXPENSE), _internal(session, LIABILITY))
    out["expired"] = expire_due(session)
    session.flush()
    return out


def on_wealth_purchase(session: Session, actor: Principal, purchase: Any) -> None:
    """wealth's ``on_purchase`` hook: a customer's first purchase earns at once."""
    ensure_defaults(session)
    for rule in _rule_for(session, "first_wealth_purchase"):
        earn(session, purchase.customer_id, rule, source_ref=f"{rule.code}:first", at=purchase.at)
