"""Repayment schedules (pure: no database). Money in integer fen, rates in basis points, Decimal inside.

* ``equal_installment`` (等额本息): monthly rate ``r = annual / 12``; fixed payment
  ``A = P·r·(1+r)^n / ((1+r)^n − 1)`` rounded half-even to the fen (``P / n`` when ``r = 0``); each month
  the interest is ``round(balance · r)`` (half-even) and the principal ``A − interest``; the last
  instalment takes whatever principal is left, so the principals sum to exactly ``P``. The last payment
  differs from ``A`` by the rounding carried through the term (a few fen on ordinary loans).
* ``equal_principal`` (等额本金): principal ``P // n`` a month, the remainder in the last instalment;
  interest ``round(balance · r)`` on the declining balance.

Due dates fall monthly on the disbursement day, clamped to the month's end (Jan 31 -> Feb 28/29 -> Mar 31):
instalment ``k`` is due ``k`` months after the start, always counted from the start date.

:func:`recalculate` re-schedules what is left after an early partial repayment: ``reduce_payment`` keeps
the number of instalments and lowers the payment, ``shorten_term`` keeps the payment (or, for equal
principal, the monthly principal) and ends sooner.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from smartbank.errors import ValidationFailed

__all__ = ["METHODS", "RECALC_MODES", "Row", "build", "due_date", "monthly_rate", "payment", "recalculate"]

METHODS = ("equal_installment", "equal_principal")
RECALC_MODES = ("reduce_payment", "shorten_term")
MAX_PRINCIPAL = 10**13
MAX_RATE_BPS = 10_000
MAX_TERM = 600
_PREC = 60


@dataclass(frozen=True, slots=True)
class Row:
    seq: int
    due_date: date
    principal_minor: int
    interest_minor: int
    balance_after_minor: int

    @property
    def payment_minor(self) -> int:
        return self.principal_minor + self.interest_minor


def _round(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def monthly_rate(annual_rate_bps: int) -> Decimal:
    return Decimal(annual_rate_bps) / Decimal(120_000)


def due_date(start: date, k: int) -> date:
    """``k`` months after ``start``, on the same day of the month or the month's last day."""
    m = start.month - 1 + k
    y, m = start.year + m // 12, m % 12 + 1
    return date(y, m, min(start.day, calendar.monthrange(y, m)[1]))


def payment(principal_minor: int, annual_rate_bps: int, term_months: int) -> int:
    """The equal-instalment monthly payment, rounded half-even to the fen."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        r = monthly_rate(annual_rate_bps)
        p = Decimal(principal_minor)
        if r == 0:
            return _round(p / term_months)
        g = (1 + r) ** term_months
        return _round(p * r * g / (g - 1))


def _check(principal_minor: int, annual_rate_bps: int, term_months: int, method: str) -> None:
    for name, v in (("principal_minor", principal_minor), ("annual_rate_bps", annual_rate_bps),
                    ("term_months", term_months)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValidationFailed(f"{name} must be an integer", reason="lending.whole",
                                   details={"field": name, "value": v})
    if not 0 < principal_minor <= MAX_PRINCIPAL:
        raise ValidationFailed("the principal must be positive", details={"principal_minor": principal_minor})
    if not 0 <= annual_rate_bps <= MAX_RATE_BPS:
        raise ValidationFailed("the rate is 0-10000 basis points", details={"annual_rate_bps": annual_rate_bps})
    if not 1 <= term_months <= MAX_TERM:
        raise ValidationFailed(f"the term is 1-{MAX_TERM} months", reason="lending.term_limit",
                               details={"term_months": term_months, "max": MAX_TERM})
    if method not in METHODS:
        raise ValidationFailed("unknown repayment method", details={"method": method, "methods": list(METHODS)})


def _rows(principal: int, annual_rate_bps: int, n: int, method: str, start: date, first_seq: int, *,
          fixed_payment: int | None = None, fixed_principal: int | None = None) -> list[Row]:
    with localcontext() as ctx:
        ctx.prec = _PREC
        r = monthly_rate(annual_rate_bps)
        if method == "equal_installment":
            a = fixed_payment if fixed_payment is not None else payment(principal, annual_rate_bps, n)
        else:
            per = fixed_principal if fixed_principal is not None else principal // n
        rows: list[Row] = []
        balance = principal
        for i in range(n):
            seq = first_seq + i
            interest = _round(Decimal(balance) * r)
            if i == n - 1:
                part = balance
            elif method == "equal_installment":
                part = min(max(a - interest, 0), balance)
            else:
                part = min(per, balance)
            balance -= part
            rows.append(Row(seq, due_date(start, seq), part, interest, balance))
        return rows


def build(principal_minor: int, annual_rate_bps: int, term_months: int, method: str, start: date, *,
          first_seq: int = 1) -> list[Row]:
    """The schedule of a loan of ``principal_minor`` paid out on ``start`` (instalments ``first_seq`` ..)."""
    _check(principal_minor, annual_rate_bps, term_months, method)
    return _rows(principal_minor, annual_rate_bps, term_months, method, start, first_seq)


def _shortened_term(balance: int, annual_rate_bps: int, a: int, cap: int) -> int:
    """Instalments needed to repay ``balance`` with payment ``a`` (at most ``cap``)."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        r = monthly_rate(annual_rate_bps)
        for k in range(1, cap + 1):
            interest = _round(Decimal(balance) * r)
            if balance + interest <= a or k == cap:
                return k
            step = a - interest
            if step <= 0:
                return cap
            balance -= step
    return cap


def recalculate(outstanding_minor: int, annual_rate_bps: int, remaining_terms: int, method: str, start: date, *,
                first_seq: int, mode: str = "reduce_payment", payment_minor: int | None = None,
                principal_per_month_minor: int | None = None) -> list[Row]:
    """The rest of a schedule after an early partial repayment left ``outstanding_minor`` owed.

    ``start`` is the loan's start date (due dates stay on its day of the month), ``first_seq`` the first
    instalment not yet due, ``remaining_terms`` how many were left. ``reduce_payment`` keeps that number of
    instalments; ``shorten_term`` keeps the current payment (``payment_minor``, equal instalment) or the
    monthly principal (``principal_per_month_minor``, equal principal) and needs fewer instalments.
    """
    if mode not in RECALC_MODES:
        raise ValidationFailed("recalc is reduce_payment or shorten_term", details={"recalc": mode})
    if outstanding_minor == 0:
        return []
    _check(outstanding_minor, annual_rate_bps, remaining_terms, method)
    if mode == "reduce_payment":
        return _rows(outstanding_minor, annual_rate_bps, remaining_terms, method, start, first_seq)
    if method == "equal_installment":
        a = payment_minor if payment_minor else payment(outstanding_minor, annual_rate_bps, remaining_terms)
        n = _shortened_term(outstanding_minor, annual_rate_bps, a, remaining_terms)
        if n == remaining_terms:
            return _rows(outstanding_minor, annual_rate_bps, n, method, start, first_seq)
        return _rows(outstanding_minor, annual_rate_bps, n, method, start, first_seq, fixed_payment=a)
    per = principal_per_month_minor or outstanding_minor // remaining_terms or 1
    n = min(remaining_terms, max(1, -(-outstanding_minor // per)))
    return _rows(outstanding_minor, annual_rate_bps, n, method, start, first_seq, fixed_principal=per)
