"""Repayment schedules: exact sums, the hand-checked example, due dates, recalculation."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartbank.errors import ValidationFailed
from smartbank.lending import schedule as S

principals = st.integers(1, 10**10)
rates = st.integers(0, 3600)
terms = st.integers(1, 360)
methods = st.sampled_from(S.METHODS)
starts = st.dates(date(2020, 1, 1), date(2035, 12, 31))


def _bound(rate_bps: int, n: int) -> int:
    """How far rounding can carry the last equal instalment away from the others: one fen of error a
    month, compounded at the loan's own rate."""
    r = rate_bps / 120_000
    return int(n if r == 0 else ((1 + r) ** n - 1) / r) + 2


@settings(max_examples=300, deadline=None)
@given(principals, rates, terms, methods, starts)
def test_schedules_repay_exactly_the_principal(p, rate, n, method, start):
    rows = S.build(p, rate, n, method, start)
    assert len(rows) == n
    assert sum(r.principal_minor for r in rows) == p
    assert rows[-1].balance_after_minor == 0
    assert all(r.principal_minor >= 0 and r.interest_minor >= 0 and r.balance_after_minor >= 0 for r in rows)
    assert [r.seq for r in rows] == list(range(1, n + 1))
    assert all(a.due_date < b.due_date for a, b in zip(rows, rows[1:], strict=False))
    balance = p
    for r in rows:  # interest is on the balance before the instalment, half-even
        balance -= r.principal_minor
        assert r.balance_after_minor == balance
    if method == "equal_installment":
        a = S.payment(p, rate, n)
        clamped = [r for r in rows[:-1] if r.payment_minor != a]
        # only where the fixed payment rounds to less than a month's interest (tiny loans) can a row differ
        assert all(r.principal_minor == 0 or r.balance_after_minor == 0 for r in clamped)
        if not clamped:
            assert abs(rows[-1].payment_minor - a) <= _bound(rate, n)
    else:
        per = p // n
        assert all(r.principal_minor == per for r in rows[:-1])
        assert rows[-1].principal_minor == p - per * (n - 1)


def test_hand_checked_equal_installment():
    rows = S.build(10_000_000, 435, 12, "equal_installment", date(2024, 1, 15))
    assert S.payment(10_000_000, 435, 12) == 853_099  # 8,530.99 CNY a month
    assert {r.payment_minor for r in rows[:-1]} == {853_099}
    assert rows[0].interest_minor == 36_250  # 100,000.00 x 4.35% / 12
    assert rows[-1].principal_minor == 850_020 and rows[-1].payment_minor == 853_101
    assert sum(r.interest_minor for r in rows) == 237_190


def test_hand_checked_equal_principal():
    rows = S.build(1_200_000, 600, 12, "equal_principal", date(2024, 3, 1))
    assert [r.principal_minor for r in rows] == [100_000] * 12
    assert rows[0].interest_minor == 6_000 and rows[1].interest_minor == 5_500 and rows[-1].interest_minor == 500


def test_zero_rate():
    rows = S.build(1_000, 0, 3, "equal_installment", date(2024, 1, 1))
    assert [r.principal_minor for r in rows] == [333, 333, 334]
    assert all(r.interest_minor == 0 for r in rows)


def test_due_dates_clamp_to_month_end_and_come_back():
    rows = S.build(100_000, 500, 4, "equal_principal", date(2024, 1, 31))
    assert [r.due_date for r in rows] == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30),
                                          date(2024, 5, 31)]
    assert S.due_date(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert S.due_date(date(2023, 11, 30), 3) == date(2024, 2, 29)


@pytest.mark.parametrize("args", [(0, 435, 12, "equal_installment"), (100, -1, 12, "equal_installment"),
                                  (100, 435, 0, "equal_installment"), (100, 435, 12, "balloon"),
                                  (100.0, 435, 12, "equal_principal")])
def test_bad_input(args):
    with pytest.raises(ValidationFailed):
        S.build(*args, date(2024, 1, 1))


@settings(max_examples=200, deadline=None)
@given(principals, rates, st.integers(2, 360), methods, starts, st.data())
def test_recalculation_keeps_sums_exact(p, rate, n, method, start, data):
    rows = S.build(p, rate, n, method, start)
    k = data.draw(st.integers(0, n - 2), label="instalments paid")
    left = rows[k - 1].balance_after_minor if k else p
    if left < 2:
        return
    prepaid = data.draw(st.integers(1, left - 1), label="prepaid")
    owed = left - prepaid
    for mode in S.RECALC_MODES:
        new = S.recalculate(owed, rate, n - k, method, start, first_seq=k + 1, mode=mode,
                            payment_minor=S.payment(p, rate, n), principal_per_month_minor=p // n)
        assert sum(r.principal_minor for r in new) == owed
        assert new[0].seq == k + 1 and new[-1].balance_after_minor == 0
        assert 1 <= len(new) <= n - k
        assert all(r.principal_minor >= 0 and r.interest_minor >= 0 for r in new)
        assert [r.due_date for r in new] == [S.due_date(start, r.seq) for r in new]


def test_recalculation_modes():
    start = date(2024, 1, 10)
    rows = S.build(12_000_000, 480, 24, "equal_installment", start)
    a = rows[0].payment_minor
    owed = rows[5].balance_after_minor - 5_000_000  # after 6 instalments, 50,000.00 prepaid
    lower = S.recalculate(owed, 480, 18, "equal_installment", start, first_seq=7)
    assert len(lower) == 18 and lower[0].payment_minor < a
    shorter = S.recalculate(owed, 480, 18, "equal_installment", start, first_seq=7, mode="shorten_term",
                            payment_minor=a)
    assert len(shorter) < 18 and shorter[0].payment_minor == a and shorter[-1].payment_minor <= a
    ep = S.recalculate(600_000, 480, 10, "equal_principal", start, first_seq=3, mode="shorten_term",
                       principal_per_month_minor=100_000)
    assert [r.principal_minor for r in ep] == [100_000] * 6
    with pytest.raises(ValidationFailed):
        S.recalculate(owed, 480, 18, "equal_installment", start, first_seq=7, mode="skip")
