"""Every ledger rule, on both backends. A rejected transfer must write nothing: each rejection
below happens in a session that is then *committed*, so a row written before the rule fired
would survive and the row counts would change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.errors import (
    AccountNotOpen,
    CurrencyMismatch,
    DailyLimitExceeded,
    InsufficientFunds,
    NotFound,
    ValidationFailed,
)
from smartbank.ledger import service as ledger

WRITE_TABLES = ("transfers", "entries", "ledger_unsealed", "customer_daily_usage")
DAY = date(2026, 3, 2)


def cmd(d: int, c: int, amount, key: str, **kw) -> ledger.TransferCommand:
    kw.setdefault("currency", "CNY")
    return ledger.TransferCommand(key=key, debit_account_id=d, credit_account_id=c, amount_minor=amount, **kw)


def post(engine, command: ledger.TransferCommand) -> ledger.TransferResult:
    return db.run_in_transaction(lambda s: ledger.transfer(s, command), engine=engine)


def snapshot(bank, *accounts: int) -> tuple:
    return (tuple(bank.count(t) for t in WRITE_TABLES),
            tuple((bank.balance(a), bank.available(a)) for a in accounts),
            usage_rows(bank))


def usage_rows(bank) -> list:
    with bank.engine.connect() as c:
        return [tuple(r) for r in c.execute(text(
            "SELECT customer_id, day, currency, amount_minor FROM customer_daily_usage ORDER BY 1, 2, 3"))]


def rejected(bank, command: ledger.TransferCommand, exc_type: type[Exception], *accounts: int):
    """Run the transfer, expect ``exc_type``, commit whatever the session holds, check nothing changed."""
    before = snapshot(bank, *accounts)
    with db.session_scope(bank.engine) as s, pytest.raises(exc_type) as info:
        ledger.transfer(s, command)  # the error is caught inside the scope, which then commits
    assert snapshot(bank, *accounts) == before
    return info.value


@pytest.fixture
def two(bank):
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a = bank.account(alice, balance=10_000)
    b = bank.account(bob, balance=500)
    return a, b


# ---- amounts -----------------------------------------------------------------------------------

@pytest.mark.parametrize("amount", [0, -1, -10_000, 10**15 + 1, 10**18, 1.5, 100.0, Decimal("100"), "100", True,
                                    None])
def test_bad_amounts_are_rejected(bank, two, amount):
    a, b = two
    err = rejected(bank, cmd(a, b, amount, f"amt-{amount!r}"), ValidationFailed, a, b)
    assert "amount" in err.message


def test_largest_allowed_amount_passes_validation_and_hits_the_funds_rule(bank, two):
    a, b = two
    rejected(bank, cmd(a, b, 10**15, "max"), InsufficientFunds, a, b)


def test_internal_source_can_move_the_largest_allowed_amount(bank, engine):
    c = bank.customer()
    a = bank.account(c)
    with db.session_scope(engine) as s:
        src = ledger.internal_account(s, "settlement").id
    post(engine, cmd(src, a, 10**15, "huge"))
    assert bank.balance(a) == 10**15
    bank.assert_invariants()


# ---- currencies --------------------------------------------------------------------------------

@pytest.mark.parametrize("cur", ["XYZ", "cny", "", "CNYY", "RMB"])
def test_unknown_currency(bank, two, cur):
    a, b = two
    rejected(bank, cmd(a, b, 100, f"cur-{cur}", currency=cur), ValidationFailed, a, b)


def test_currency_mismatch_either_side(bank, two):
    a, b = two
    usd = bank.account(bank.customer("Smith"), currency="USD", balance=10_000)
    e = rejected(bank, cmd(a, usd, 100, "to-usd"), CurrencyMismatch, a, usd)
    assert e.details["account_id"] == usd and e.details["account_currency"] == "USD"
    e = rejected(bank, cmd(usd, a, 100, "from-usd"), CurrencyMismatch, a, usd)
    assert e.details["account_id"] == usd
    # the transfer's own currency must match too, even when both accounts agree with each other
    e = rejected(bank, cmd(a, b, 100, "usd-between-cny", currency="USD"), CurrencyMismatch, a, b)
    assert e.details["account_id"] == a and e.details["account_currency"] == "CNY"
    # a USD transfer between USD accounts is fine
    usd2 = bank.account(bank.customer("Jones"), currency="USD")
    post(engine=bank.engine, command=cmd(usd, usd2, 2_500, "usd-ok", currency="USD"))
    assert (bank.balance(usd), bank.balance(usd2)) == (7_500, 2_500)
    bank.assert_invariants()


# ---- accounts ----------------------------------------------------------------------------------

def test_unknown_accounts(bank, two):
    a, b = two
    e = rejected(bank, cmd(a, 987_654, 100, "nx-credit"), NotFound, a, b)
    assert e.details["account_id"] == 987_654
    e = rejected(bank, cmd(987_654, a, 100, "nx-debit"), NotFound, a, b)
    assert e.details["account_id"] == 987_654
    e = rejected(bank, cmd(987_654, 987_655, 100, "nx-both"), NotFound, a, b)
    assert e.details["account_id"] in (987_654, 987_655)


def test_same_debit_and_credit(bank, two):
    a, b = two
    rejected(bank, cmd(a, a, 100, "self"), ValidationFailed, a, b)


@pytest.mark.parametrize("key", ["", "k" * 161])
def test_key_is_required_and_bounded(bank, two, key):
    a, b = two
    rejected(bank, cmd(a, b, 100, key), ValidationFailed, a, b)


def test_key_of_160_characters_is_fine(bank, two, engine):
    a, b = two
    assert post(engine, cmd(a, b, 100, "k" * 160)).transfer["idempotency_key"] == "k" * 160


def test_unknown_kind_and_long_memo(bank, two):
    a, b = two
    rejected(bank, cmd(a, b, 100, "kind", kind="gift"), ValidationFailed, a, b)
    rejected(bank, cmd(a, b, 100, "memo", memo="x" * 201), ValidationFailed, a, b)


def _set_status(engine, account_id: int, status: str) -> None:
    with db.session_scope(engine) as s:
        ledger.set_account_status(s, ledger.get_account(s, account_id), status)


def test_frozen_account_rejects_debits_but_accepts_credits(bank, two, engine):
    a, b = two
    _set_status(engine, b, "frozen")
    e = rejected(bank, cmd(b, a, 100, "from-frozen"), AccountNotOpen, a, b)
    assert e.details["account_id"] == b and "frozen" in e.message
    rejected(bank, cmd(b, a, 100, "from-frozen-pending", pending=True), AccountNotOpen, a, b)
    post(engine, cmd(a, b, 1_000, "to-frozen"))
    assert (bank.balance(a), bank.balance(b)) == (9_000, 1_500)
    _set_status(engine, b, "open")
    post(engine, cmd(b, a, 1_500, "after-unfreeze"))
    assert bank.balance(b) == 0
    bank.assert_invariants()


def test_closed_account_rejects_both_directions(bank, two, engine):
    a, b = two
    c = bank.account(bank.customer("赵磊"))
    _set_status(engine, c, "closed")
    e = rejected(bank, cmd(a, c, 100, "to-closed"), AccountNotOpen, a, c)
    assert e.details["account_id"] == c
    e = rejected(bank, cmd(c, a, 100, "from-closed"), AccountNotOpen, a, c)
    assert e.details["account_id"] == c and "closed" in e.message
    with db.session_scope(engine) as s, pytest.raises(AccountNotOpen):
        ledger.set_account_status(s, ledger.get_account(s, c), "open")


def test_account_with_money_cannot_be_closed(bank, two, engine):
    a, b = two
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
        ledger.set_account_status(s, ledger.get_account(s, b), "closed")
    # nor one with a hold on it, even at zero balance
    post(engine, cmd(b, a, 500, "drain"))
    post(engine, cmd(a, b, 100, "hold", pending=True))
    assert bank.balance(b) == 0
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
        ledger.set_account_status(s, ledger.get_account(s, b), "closed")


def test_account_with_unpaid_interest_cannot_be_closed(bank, engine):
    """Closing before month end would forfeit interest already earned; half a fen or less is rounding."""
    from decimal import Decimal

    from sqlalchemy import text

    c = bank.account(bank.customer("孙丽"), kind="savings", rate=Decimal("0.015"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET accrued_interest_micro = 1500000 WHERE id = :c"), {"c": c})
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed) as err:
        ledger.set_account_status(s, ledger.get_account(s, c), "closed")
    assert err.value.details == {"accrued_interest_minor": 2} and "month end" in err.value.message
    with db.session_scope(engine) as s:
        assert ledger.get_account(s, c).status == "open"
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET accrued_interest_micro = 500000 WHERE id = :c"), {"c": c})
    with db.session_scope(engine) as s:
        assert ledger.set_account_status(s, ledger.get_account(s, c), "closed").status == "closed"


# ---- funds and overdraft -----------------------------------------------------------------------

def test_balance_boundary_without_overdraft(bank, two, engine):
    a, b = two
    rejected(bank, cmd(b, a, 501, "b-501"), InsufficientFunds, a, b)
    post(engine, cmd(b, a, 500, "b-500"))
    assert bank.balance(b) == 0
    e = rejected(bank, cmd(b, a, 1, "b-1"), InsufficientFunds, a, b)
    assert e.details["available_minor"] == 0


def test_overdraft_limit_is_honoured_exactly(bank, engine):
    c = bank.customer()
    od = bank.account(c, balance=1_000, overdraft=5_000)
    other = bank.account(bank.customer("李娜"))
    rejected(bank, cmd(od, other, 6_001, "od-too-far"), InsufficientFunds, od, other)
    post(engine, cmd(od, other, 6_000, "od-to-limit"))
    assert bank.balance(od) == -5_000 and bank.available(od) == -5_000
    e = rejected(bank, cmd(od, other, 1, "od-1-more"), InsufficientFunds, od, other)
    assert e.details["available_minor"] == -5_000
    post(engine, cmd(other, od, 1, "od-back-1"))
    post(engine, cmd(od, other, 1, "od-1-again"))
    bank.assert_invariants()


def test_pending_holds_count_against_available(bank, two, engine):
    a, b = two
    hold = post(engine, cmd(b, a, 300, "hold-300", pending=True))
    assert bank.balance(b) == 500 and bank.available(b) == 200
    rejected(bank, cmd(b, a, 201, "after-hold-201"), InsufficientFunds, a, b)
    rejected(bank, cmd(b, a, 201, "after-hold-201-pending", pending=True), InsufficientFunds, a, b)
    post(engine, cmd(b, a, 200, "after-hold-200"))
    assert bank.available(b) == 0
    # voiding the hold frees the money again
    db.run_in_transaction(lambda s: ledger.resolve_pending(s, pending_id=hold.id, post=False, key="void-300"),
                          engine=engine)
    assert bank.available(b) == 300 and bank.balance(b) == 300
    bank.assert_invariants()


def test_credits_pending_do_not_count_as_available(bank, two, engine):
    a, b = two
    post(engine, cmd(a, b, 1_000, "incoming", pending=True))
    assert bank.balance(b) == 500 and bank.available(b) == 500
    rejected(bank, cmd(b, a, 501, "spend-incoming"), InsufficientFunds, a, b)


def test_a_back_dated_debit_cannot_spend_money_that_arrived_later(bank, engine):
    """The value-date rule: ¥100 arrives on the 10th; a debit dated the 5th is refused although today's
    balance covers it; dated the 10th or later it posts. A later debit leaves less room for a back-dated one
    (the balance by value date must hold on every day from the debit's value date on)."""
    from datetime import timedelta

    from smartbank import clock

    today = clock.today()
    d = [today - timedelta(days=n) for n in range(30)]  # d[n]: n days ago
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a = bank.account(alice)  # empty, no overdraft
    b = bank.account(bob)
    src = db.run_in_transaction(lambda s: ledger.internal_account(s, "settlement", "CNY").id, engine=engine)
    post(engine, cmd(src, a, 10_000, "arrives-20", value_date=d[20]))
    assert db.run_in_transaction(lambda s: ledger.spendable(s, ledger.get_account(s, a), d[25]), engine=engine) == 0
    e = rejected(bank, cmd(a, b, 1, "dated-25", value_date=d[25]), InsufficientFunds, a, b)
    assert e.details["value_date"] == d[25].isoformat() and e.details["available_minor"] == 0
    post(engine, cmd(a, b, 6_000, "spent-10", value_date=d[10]))
    # on the 20th it had 10,000, but 6,000 of them are spent on the 10th: 4,000 are free from the 20th on
    assert db.run_in_transaction(lambda s: ledger.spendable(s, ledger.get_account(s, a), d[20]),
                                 engine=engine) == 4_000
    rejected(bank, cmd(a, b, 4_001, "dated-20-too-much", value_date=d[20]), InsufficientFunds, a, b)
    post(engine, cmd(a, b, 4_000, "dated-20", value_date=d[20]))
    assert bank.balance(a) == 0
    # today's own debits are unchanged: the balance decides
    rejected(bank, cmd(a, b, 1, "today"), InsufficientFunds, a, b)
    # the bank's internal accounts have no limit, and credits are never refused by date
    post(engine, cmd(src, b, 5, "internal-back-dated", value_date=d[29]))
    bank.assert_invariants()


def test_internal_source_has_no_limit(bank, engine):
    a = bank.account(bank.customer())
    with db.session_scope(engine) as s:
        fees = ledger.internal_account(s, "fees").id
    post(engine, cmd(fees, a, 123_456_789, "fees-out"))
    assert bank.balance(fees) == -123_456_789
    bank.assert_invariants()


# ---- daily limit -------------------------------------------------------------------------------

@pytest.fixture
def limited(bank):
    """alice (limit 1,000.00) with two accounts, bob with one."""
    alice = bank.customer("王芳", daily_limit_minor=100_000)
    bob = bank.customer("李娜")
    bank.funding_date = DAY  # the payments below are dated DAY: the money was there then
    a1 = bank.account(alice, balance=1_000_000)
    a2 = bank.account(alice)
    b1 = bank.account(bob)
    return alice, a1, a2, b1


def lim(d, c, amount, key, **kw):
    return cmd(d, c, amount, key, enforce_daily_limit=True, value_date=DAY, **kw)


def used(bank, customer_id: int, day: date = DAY) -> int:
    with bank.engine.connect() as c:
        return int(c.execute(text(
            "SELECT COALESCE(sum(amount_minor), 0) FROM customer_daily_usage WHERE customer_id = :c AND day = :d"),
            {"c": customer_id, "d": day}).scalar())


def test_daily_limit_boundary_is_exact(bank, limited, engine):
    alice, a1, _, b1 = limited
    post(engine, lim(a1, b1, 60_000, "l-1"))
    post(engine, lim(a1, b1, 40_000, "l-2"))  # exactly the limit
    assert used(bank, alice) == 100_000
    e = rejected(bank, lim(a1, b1, 1, "l-3"), DailyLimitExceeded, a1, b1)
    assert e.details == {"daily_limit_minor": 100_000, "used_minor": 100_000}
    assert used(bank, alice) == 100_000
    # another day has its own counter
    post(engine, cmd(a1, b1, 100_000, "l-next-day", enforce_daily_limit=True, value_date=date(2026, 3, 3)))
    assert used(bank, alice, date(2026, 3, 3)) == 100_000
    bank.assert_invariants()


def test_single_payment_above_the_limit(bank, limited, engine):
    alice, a1, _, b1 = limited
    e = rejected(bank, lim(a1, b1, 100_001, "too-big"), DailyLimitExceeded, a1, b1)
    assert e.details == {"daily_limit_minor": 100_000, "used_minor": 0}
    post(engine, lim(a1, b1, 100_000, "just-right"))
    assert used(bank, alice) == 100_000


def test_rejected_payment_does_not_consume_the_limit(bank, limited, engine):
    alice, a1, _, b1 = limited
    post(engine, lim(a1, b1, 70_000, "first"))
    rejected(bank, lim(a1, b1, 30_001, "over"), DailyLimitExceeded, a1, b1)
    assert used(bank, alice) == 70_000
    # a payment rejected for another reason (funds) must not count either
    poor = bank.account(alice, balance=100)
    rejected(bank, lim(poor, b1, 20_000, "poor"), InsufficientFunds, poor, b1)
    assert used(bank, alice) == 70_000
    post(engine, lim(a1, b1, 30_000, "rest"))
    assert used(bank, alice) == 100_000


def test_own_account_transfers_are_exempt(bank, limited, engine):
    alice, a1, a2, b1 = limited
    post(engine, lim(a1, a2, 500_000, "own"))
    assert used(bank, alice) == 0
    post(engine, lim(a1, b1, 100_000, "pay-full-limit"))
    post(engine, lim(a2, a1, 1_000, "own-back"))  # still fine after the limit is used up
    rejected(bank, lim(a2, b1, 1, "pay-more"), DailyLimitExceeded, a2, b1)
    bank.assert_invariants()


def test_replay_does_not_count_twice(bank, limited, engine):
    alice, a1, _, b1 = limited
    first = post(engine, lim(a1, b1, 80_000, "pay"))
    again = post(engine, lim(a1, b1, 80_000, "pay"))
    assert again.replayed and again.id == first.id
    assert used(bank, alice) == 80_000
    assert bank.balance(b1) == 80_000


def test_limit_not_enforced_unless_asked(bank, limited, engine):
    alice, a1, _, b1 = limited
    post(engine, cmd(a1, b1, 500_000, "staff-move", value_date=DAY))
    assert used(bank, alice) == 0


def test_default_limit_applies_without_a_customer_limit(bank, engine, monkeypatch):
    from smartbank import config

    monkeypatch.setenv("SMARTBANK_DEFAULT_DAILY_LIMIT_MINOR", "5000")
    config.reset_settings()
    a = bank.account(bank.customer("王芳"), balance=100_000)
    b = bank.account(bank.customer("李娜"))
    post(engine, lim(a, b, 5_000, "d-1"))
    e = rejected(bank, lim(a, b, 1, "d-2"), DailyLimitExceeded, a, b)
    assert e.details["daily_limit_minor"] == 5_000


def test_zero_daily_limit_blocks_every_payment(bank, engine):
    frozen_out = bank.customer("王芳", daily_limit_minor=0)
    a = bank.account(frozen_out, balance=100_000)
    b = bank.account(bank.customer("李娜"))
    e = rejected(bank, lim(a, b, 1, "z-1"), DailyLimitExceeded, a, b)
    assert e.details["daily_limit_minor"] == 0


@pytest.mark.parametrize("kind", ["post_pending", "void_pending"])
def test_resolution_kinds_only_through_resolve_pending(bank, two, engine, kind):
    """A hand-built transfer of kind void_pending/post_pending is not a resolution: it must not touch
    other transfers' holds (nor behave differently on the two backends)."""
    a, b = two
    hold = post(engine, cmd(a, b, 2_000, "hold-for-kind", pending=True))
    rejected(bank, cmd(a, b, 2_000, f"fake-{kind}", kind=kind), ValidationFailed, a, b)
    assert bank.available(a) == 8_000
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM transfers WHERE pending_id = :p"), {"p": hold.id}).scalar() == 0


# ---- the bank date -------------------------------------------------------------------------------

def test_a_payment_after_midnight_in_beijing_is_valued_and_counted_on_the_bank_date(bank, two, engine):
    """00:30 in Beijing is still the previous day in UTC: the value date and the daily-limit day are the bank's."""
    from datetime import UTC, datetime

    from smartbank import clock

    a, b = two
    with clock.use(clock.FixedClock(datetime(2027, 3, 1, 16, 30, tzinfo=UTC))):  # 2027-03-02 00:30 bank time
        post(engine, cmd(a, b, 100, "after-midnight", enforce_daily_limit=True))
        with db.session_scope(engine) as s:
            owner = s.execute(text("SELECT customer_id FROM accounts WHERE id=:a"), {"a": a}).scalar()
            assert ledger.daily_limit_status(s, owner)[1] == 100
    with engine.connect() as c:
        vd = c.execute(text("SELECT value_date FROM transfers WHERE idempotency_key='after-midnight'")).scalar()
        day = c.execute(text("SELECT day FROM customer_daily_usage")).scalar()
    assert str(vd) == "2027-03-02" and str(day) == "2027-03-02"
