"""Online fraud features: an incremental per-customer / per-terminal state that scores ONE payment fast.

:func:`smartbank.risk.features.features_for_payment` recomputes the features of a payment from a history
frame with Polars (tens of milliseconds). :class:`OnlineState` keeps what the features need in memory and
gives the SAME names and values as :func:`~smartbank.risk.features.build_features` for the payment (tested
equal on a generated stream), in tens of microseconds:

- per customer, its payments of the last ``delay + 30`` days in time order (amount, hour, the
  "unusually high" flag computed when the payment was observed, its label once known), the time of its last
  payment and its known frauds (all history, for the days-since feature);
- per terminal, its payments of the last ``delay + 30`` days and its known frauds;
- per (customer, terminal), the number of payments (all history).

The windows are exact time windows (``[t - w, t)``, label windows ``[t - delay - w, t - delay)``), not
buckets. A customer's windows are binary searches over its payments' times with prefix sums, a monotonic
stack for the maxima and a sorted 30-day window moved along for the median (:class:`_CustHist`), so a busy
account with thousands of payments a month costs what a quiet one does; one backward scan over the
terminal's recent payments gives the terminal windows.

Order: :meth:`OnlineState.features` reads the state BEFORE the payment is added; :meth:`OnlineState.observe`
adds it afterwards (payments are observed in time order). Labels: :meth:`OnlineState.label` records a fraud
label that arrives at ``at`` (default: now); it counts for a payment at ``t`` only once ``at <= t`` and, as in
the batch features, only if the labelled payment is older than the delay (``s < t - delay``).
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from smartbank.risk.features import HIGH_RATIO, HISTORY_DAYS, build_features
from smartbank.risk.fraud_model import FraudModel

__all__ = ["OnlineScorer", "OnlineState"]

_EPOCH = datetime(1970, 1, 1)
_US = 1_000_000
_H = 3600 * _US
_D = 86400 * _US
_NAN = float("nan")
# the "unusually high" flag of a payment matters for 14 days; it needs the 30 days before the payment
_HIGH_DAYS = 14


def _us(ts: datetime) -> int:
    """Microseconds since 1970 of a naive datetime (the frame's Datetime("us") physical value)."""
    return (ts - _EPOCH) // timedelta(microseconds=1)


def _div(a: float, b: float) -> float:
    """a / b as IEEE floats do it (Polars): x / 0 is +-inf, 0 / 0 is NaN."""
    if b == 0.0:
        return _NAN if a == 0.0 or math.isnan(a) else math.copysign(math.inf, a)
    return a / b


class _Tx:
    """One observed payment in the state (shared by its customer's and its terminal's queue)."""

    __slots__ = ("ts", "amount", "hour", "high", "label", "customer", "terminal", "tx_id")

    def __init__(self, ts: int, amount: int, hour: int, high: bool, label: int | None, customer: int,
                 terminal: int, tx_id: int | None) -> None:
        self.ts = ts
        self.amount = amount  # integer fen
        self.hour = hour
        self.high = high
        self.label = label  # None unknown, 0 genuine, 1 fraud
        self.customer = customer
        self.terminal = terminal
        self.tx_id = tx_id


class _CustHist:
    """One customer's recent payments in time order, indexed so every window is a few binary searches.

    Parallel lists (``ts``, ``amt``) plus prefix sums of amount, amount squared, hour and the "unusually
    high" flag give counts, sums and the standard deviation of any window ``[i, j)`` as differences; a
    monotonic stack of indices (amounts strictly decreasing) gives the maximum of a window that runs to the
    end; a sorted copy of the last 30-day window's amounts, moved along as time advances, gives the median;
    ``frauds`` holds the times of its payments labelled fraud. Expired entries are dropped by moving ``lo``;
    the lists are compacted now and then. A customer with 1,000 payments in the window costs the same
    microseconds as one with ten.
    """

    __slots__ = ("txs", "ts", "amt", "ps", "psq", "ph", "phigh", "stack", "lo", "win", "wlo", "whi", "frauds")

    def __init__(self) -> None:
        self.txs: list[_Tx] = []
        self.ts: list[int] = []
        self.amt: list[int] = []
        self.ps = [0]
        self.psq = [0]
        self.ph = [0]
        self.phigh = [0]
        self.stack: list[int] = []
        self.lo = 0
        self.win: list[int] = []  # sorted amounts of [wlo, whi)
        self.wlo = 0
        self.whi = 0
        self.frauds: list[int] = []

    def append(self, r: _Tx) -> None:
        n = len(self.ts)
        x = r.amount
        self.txs.append(r)
        self.ts.append(r.ts)
        self.amt.append(x)
        self.ps.append(self.ps[-1] + x)
        self.psq.append(self.psq[-1] + x * x)
        self.ph.append(self.ph[-1] + r.hour)
        self.phigh.append(self.phigh[-1] + (1 if r.high else 0))
        st = self.stack
        amt = self.amt
        while st and amt[st[-1]] <= x:
            st.pop()
        st.append(n)
        if r.label == 1:
            insort(self.frauds, r.ts)

    def __len__(self) -> int:
        return len(self.ts) - self.lo

    def expire(self, old: int, by_id: dict[int, _Tx]) -> None:
        """Drop the entries older than ``old``."""
        ts, lo, n = self.ts, self.lo, len(self.ts)
        while lo < n and ts[lo] < old:
            gone = self.txs[lo]
            if gone.tx_id is not None:
                by_id.pop(gone.tx_id, None)
            lo += 1
        self.lo = lo
        fr = self.frauds
        k = bisect_left(fr, old)
        if k:
            del fr[:k]
        if lo >= 8 and lo * 2 > n:  # amortised O(1) per expired entry; stale entries never outnumber live ones
            self._compact()

    def _compact(self) -> None:
        lo = self.lo
        for name in ("txs", "ts", "amt"):
            setattr(self, name, getattr(self, name)[lo:])
        for name in ("ps", "psq", "ph", "phigh"):  # window sums are differences: no need to rebase
            setattr(self, name, getattr(self, name)[lo:])
        st = self.stack
        self.stack = [i - lo for i in st[bisect_left(st, lo):]]
        if self.wlo >= lo:
            self.wlo -= lo
            self.whi -= lo
        else:
            self.win, self.wlo, self.whi = [], 0, 0
        self.lo = 0

    def bounds(self, t: int, w: int) -> int:
        """Index of the first live entry at or after ``t - w``."""
        return max(self.lo, bisect_left(self.ts, t - w))

    def max(self, i: int, j: int) -> int:
        if j == len(self.ts):
            st = self.stack
            return self.amt[st[bisect_left(st, i)]]
        return max(self.amt[i:j])

    def median(self, i: int, j: int) -> float:
        """Median amount (yuan) of ``[i, j)`` (non-empty), moving the sorted window along."""
        win, amt = self.win, self.amt
        if i < self.wlo or j < self.whi or i >= self.whi:
            win = self.win = sorted(amt[i:j])
        else:
            for k in range(self.whi, j):
                insort(win, amt[k])
            for k in range(self.wlo, i):
                del win[bisect_left(win, amt[k])]
        self.wlo, self.whi = i, j
        n = j - i
        mid = n // 2
        return win[mid] / 100.0 if n % 2 else (win[mid - 1] / 100.0 + win[mid] / 100.0) / 2.0

    def label(self, ts: int, was: int | None, now: int | None) -> None:
        """An entry at ``ts`` changed its label from ``was`` to ``now``."""
        if now == 1 and was != 1:
            insort(self.frauds, ts)
        elif was == 1 and now != 1:
            self.frauds.pop(bisect_left(self.frauds, ts))


class OnlineState:
    """Incremental feature state; ``features(payment)`` equals the batch features of that payment.

    A payment is a mapping with ``ts`` (naive datetime), ``customer_id``, ``terminal_id``, ``amount_minor``
    (integer fen) and optionally ``tx_id`` (needed to label it later by id).
    """

    def __init__(self, *, delay_days: int) -> None:
        if delay_days < 0:
            raise ValueError("delay_days must be >= 0")
        self.delay_days = delay_days
        self._delay = delay_days * _D
        self._horizon = max(HISTORY_DAYS, _HIGH_DAYS) * _D + self._delay  # oldest age any window reaches
        self._cust: dict[int, _CustHist] = {}
        self._term: dict[int, deque[_Tx]] = {}
        self._cust_last: dict[int, int] = {}
        self._cust_term: dict[tuple[int, int], int] = {}
        self._cust_frauds: dict[int, list[int]] = {}
        self._term_frauds: dict[int, list[int]] = {}
        self._by_id: dict[int, _Tx] = {}
        self._pending: list[tuple[int, int, int | Mapping[str, Any], bool]] = []
        self._seq = 0
        self.clock = -(2**62)  # microseconds; the latest time seen
        self._last_observed = -(2**62)

    # ------------------------------------------------------------------------------------------- warm start

    @classmethod
    def from_history(cls, tx: pl.DataFrame, now: datetime | None = None, *, delay_days: int) -> OnlineState:
        """A state holding every payment of ``tx`` (TX_SCHEMA) before ``now`` (default: after the last one).

        The frame's labels count as in the batch features: a label of a payment at ``s`` from ``s + delay``.
        Aggregates over all history (last payment, customer x terminal counts, known frauds) are computed
        with Polars; only the last ``delay + 30`` days become per-payment entries.
        """
        st = cls(delay_days=delay_days)
        hist = tx.filter(pl.col("ts") < now) if now is not None else tx
        hist = hist.sort("ts", "tx_id")
        if hist.height == 0:
            if now is not None:
                st.clock = _us(now)
            return st
        last_us = int(hist["ts"].to_physical()[-1])
        now_us = _us(now) if now is not None else last_us + 1
        st.clock = now_us
        st._last_observed = last_us
        st._cust_last = dict(hist.group_by("customer_id").agg(pl.col("ts").max().to_physical())
                             .iter_rows())
        st._cust_term = {(c, t): n for c, t, n in hist.group_by("customer_id", "terminal_id").len().iter_rows()}
        frauds = hist.filter(pl.col("fraud") == 1).select("customer_id", "terminal_id",
                                                            pl.col("ts").to_physical().alias("us"))
        for key, target in (("customer_id", st._cust_frauds), ("terminal_id", st._term_frauds)):
            for k, lst in frauds.group_by(key).agg(pl.col("us").sort()).iter_rows():
                target[k] = list(lst)
        # the per-payment entries, with the "unusually high" flag of each payment at its own time
        since = now_us - st._horizon
        flag_since = now_us - (_HIGH_DAYS + HISTORY_DAYS + 1) * _D
        base = hist.filter(pl.col("ts").to_physical() >= min(since, flag_since))
        flags = build_features(base, delay_days=0).select(
            "tx_id", (pl.col("amount_ratio_median_30d") > HIGH_RATIO).fill_null(False).alias("_high"))
        recent = (base.filter(pl.col("ts").to_physical() >= since).join(flags, on="tx_id", how="left")
                  .sort("ts", "tx_id"))
        cols = [recent[c].to_list() for c in ("tx_id", "customer_id", "terminal_id", "amount_minor", "fraud",
                                              "_high")]
        us = recent["ts"].to_physical().to_list()
        hours = recent["ts"].dt.hour().to_list()
        for tx_id, c, t, amt, fraud, high, ts, hour in zip(*cols, us, hours, strict=True):
            r = _Tx(ts, amt, hour, bool(high), fraud, c, t, tx_id)
            st._append(r)
        return st

    # ------------------------------------------------------------------------------------------- labels

    def label(self, tx: int | Mapping[str, Any], fraud: bool, *, at: datetime | None = None) -> None:
        """Record a label of an observed payment (by ``tx_id``, or the payment mapping), known from ``at``.

        ``at`` defaults to now (the latest time the state has seen). A payment already outside the
        state's window can still be labelled through its mapping (then only the days-since features see it).
        """
        at_us = self.clock if at is None else _us(at)
        if at_us <= self.clock:
            self._apply_label(tx, bool(fraud))
        else:
            self._seq += 1
            heapq.heappush(self._pending, (at_us, self._seq, tx, bool(fraud)))

    add_label = label

    def _apply_label(self, tx: int | Mapping[str, Any], fraud: bool) -> None:
        if isinstance(tx, Mapping):
            tx_id = tx.get("tx_id")
            r = self._by_id.get(tx_id) if tx_id is not None else None
            ts, cust, term = _us(tx["ts"]), int(tx["customer_id"]), int(tx["terminal_id"])
        else:
            r = self._by_id.get(int(tx))
            if r is None:
                raise KeyError(f"payment {tx} is not in the state (label it with its mapping)")
            ts, cust, term = r.ts, r.customer, r.terminal
        was = r.label if r is not None else None
        if r is not None:
            r.label = int(fraud)
            h = self._cust.get(cust)
            if h is not None and h.lo < len(h.txs) and h.ts[h.lo] <= ts:
                h.label(ts, was, r.label)
        if fraud and was != 1:
            insort(self._cust_frauds.setdefault(cust, []), ts)
            insort(self._term_frauds.setdefault(term, []), ts)
        elif not fraud and was == 1:
            self._cust_frauds[cust].remove(ts)
            self._term_frauds[term].remove(ts)

    def _advance(self, t: int) -> None:
        if t > self.clock:
            self.clock = t
        p = self._pending
        while p and p[0][0] <= t:
            _, _, tx, fraud = heapq.heappop(p)
            self._apply_label(tx, fraud)

    # ------------------------------------------------------------------------------------------- observe

    def _append(self, r: _Tx) -> None:
        h = self._cust.get(r.customer)
        if h is None:
            h = self._cust[r.customer] = _CustHist()
        h.append(r)
        tq = self._term.get(r.terminal)
        if tq is None:
            tq = self._term[r.terminal] = deque()
        tq.append(r)
        if r.tx_id is not None:
            self._by_id[r.tx_id] = r

    def seen(self, tx_id: int) -> bool:
        """Whether the payment with this ledger id is in the state's recent entries."""
        return tx_id in self._by_id

    def observe(self, payment: Mapping[str, Any], features: Mapping[str, float] | None = None, *,
                clamp: bool = False) -> None:
        """Add a payment (after its features were read). ``features``: its features, if already computed.
        Payments come in time order; ``clamp``: one a little older than the last (posted by another process and
        read late) counts as made at the last one's time, off by at most that delay."""
        ts: datetime = payment["ts"]
        t = _us(ts)
        if t < self._last_observed:
            if not clamp:
                raise ValueError("payments must be observed in time order")
            t = self._last_observed
        self._advance(t)
        self._last_observed = t
        cust, term, amount = int(payment["customer_id"]), int(payment["terminal_id"]), int(payment["amount_minor"])
        if features is not None:
            ratio = features["amount_ratio_median_30d"]
        else:
            med = self._median_30d(cust, t)
            ratio = _div(amount / 100.0, med) if med is not None else _NAN
        tx_id = payment.get("tx_id")
        r = _Tx(t, amount, ts.hour, ratio > HIGH_RATIO, None, cust, term, None if tx_id is None else int(tx_id))
        self._append(r)
        self._cust_last[cust] = t
        self._cust_term[(cust, term)] = self._cust_term.get((cust, term), 0) + 1
        # forget entries no window reaches any more
        old = t - self._horizon
        self._cust[cust].expire(old, self._by_id)
        tq = self._term[term]
        while tq and tq[0].ts < old:
            tq.popleft()

    def _median_30d(self, cust: int, t: int) -> float | None:
        h = self._cust.get(cust)
        if h is None:
            return None
        i, j = h.bounds(t, 30 * _D), h.bounds(t, 0)
        return h.median(i, j) if j > i else None

    # ------------------------------------------------------------------------------------------- features

    def features(self, payment: Mapping[str, Any]) -> dict[str, float]:
        """The features of ``payment`` from the state as it is (the payment itself not added); NaN = null."""
        ts: datetime = payment["ts"]
        t = _us(ts)
        self._advance(t)
        cust, term = int(payment["customer_id"]), int(payment["terminal_id"])
        a = int(payment["amount_minor"]) / 100.0
        hour = ts.hour
        delay = self._delay
        horizon = self._horizon
        h1, d1, d7, d14, d30 = _H, _D, 7 * _D, 14 * _D, 30 * _D
        # -- customer: window bounds by binary search, sums from prefix sums
        h = self._cust.get(cust)
        n1 = n24 = n7 = n30 = 0
        s1 = s24 = s7 = s30 = 0
        m1 = m24 = m7 = m30 = -1
        sq30 = hours30 = high14 = kf7 = kf14 = kf30 = 0
        median = mean30 = max30 = hour_mean = _NAN
        if h is not None and len(h):
            j = h.bounds(t, 0)
            i30 = h.bounds(t, d30)
            n30 = j - i30
            if n30:
                ps = h.ps
                i7, i14 = h.bounds(t, d7), h.bounds(t, d14)
                i24, i1 = h.bounds(t, d1), h.bounds(t, h1)
                n7, n24, n1 = j - i7, j - i24, j - i1
                s30, s7, s24, s1 = ps[j] - ps[i30], ps[j] - ps[i7], ps[j] - ps[i24], ps[j] - ps[i1]
                sq30 = h.psq[j] - h.psq[i30]
                hours30 = h.ph[j] - h.ph[i30]
                high14 = h.phigh[j] - h.phigh[i14]
                m30 = h.max(i30, j)
                m7 = h.max(i7, j) if n7 else -1
                m24 = h.max(i24, j) if n24 else -1
                m1 = h.max(i1, j) if n1 else -1
                median = h.median(i30, j)
                mean30 = s30 / 100.0 / n30
                max30 = m30 / 100.0
                hour_mean = hours30 / n30
            fr = h.frauds
            if fr:
                known = bisect_left(fr, t - delay)  # labelled payments older than the delay
                kf30 = known - bisect_left(fr, t - delay - d30)
                kf14 = known - bisect_left(fr, t - delay - d14)
                kf7 = known - bisect_left(fr, t - delay - d7)
        std = _NAN
        if n30 >= 2:
            var_num = n30 * sq30 - s30 * s30  # exact (integers): n * (n - 1) * variance * 100^2
            std = math.sqrt(var_num / (n30 * (n30 - 1))) / 100.0
        last = self._cust_last.get(cust)
        ct = self._cust_term.get((cust, term), 0)
        # -- terminal: one backward scan
        tn1 = tn7 = tn30 = 0
        kn1 = kn7 = kn30 = 0
        f1 = f7 = f30 = 0
        for r in reversed(self._term.get(term, ())):
            age = t - r.ts
            if age <= 0:
                continue
            if age > horizon:
                break
            if age <= d30:
                tn30 += 1
                if age <= d7:
                    tn7 += 1
                    if age <= d1:
                        tn1 += 1
            lab = r.label
            if lab is not None and age > delay:
                k = age - delay
                if k <= d30:
                    kn30 += 1
                    f30 += lab
                    if k <= d7:
                        kn7 += 1
                        f7 += lab
                        if k <= d1:
                            kn1 += 1
                            f1 += lab
        known_until = t - delay
        tf = self._term_frauds.get(term)
        term_days = _NAN
        if tf:
            i = bisect_left(tf, known_until)
            if i:
                term_days = ((t - tf[i - 1]) // _US) / 86400.0
        cf = self._cust_frauds.get(cust)
        cust_days = _NAN
        if cf:
            i = bisect_left(cf, known_until)
            if i:
                cust_days = ((t - cf[i - 1]) // _US) / 86400.0
        return {
            "amount": a,
            "hour": float(hour),
            "is_weekend": 1.0 if ts.weekday() >= 5 else 0.0,
            "is_night": 1.0 if hour <= 6 else 0.0,
            "secs_since_prev": float((t - last) // _US) if last is not None else _NAN,
            "cust_n_1h": float(n1),
            "cust_sum_1h": s1 / 100.0,
            "cust_mean_1h": s1 / 100.0 / n1 if n1 else _NAN,
            "cust_max_1h": m1 / 100.0 if n1 else _NAN,
            "cust_n_1d": float(n24),
            "cust_sum_1d": s24 / 100.0,
            "cust_mean_1d": s24 / 100.0 / n24 if n24 else _NAN,
            "cust_max_1d": m24 / 100.0 if n24 else _NAN,
            "cust_n_7d": float(n7),
            "cust_sum_7d": s7 / 100.0,
            "cust_mean_7d": s7 / 100.0 / n7 if n7 else _NAN,
            "cust_max_7d": m7 / 100.0 if n7 else _NAN,
            "cust_n_30d": float(n30),
            "cust_sum_30d": s30 / 100.0,
            "cust_mean_30d": mean30,
            "cust_max_30d": max30,
            "cust_median_30d": median,
            "amount_ratio_mean_30d": _div(a, mean30),
            "amount_ratio_median_30d": _div(a, median),
            "amount_ratio_max_30d": _div(a, max30),
            "amount_z_30d": (a - mean30) / std if std > 0 else _NAN,
            "cust_n_high_14d": float(high14),
            "cust_hour_mean_30d": hour_mean,
            "hour_dev_30d": abs(hour - hour_mean),
            "cust_term_n_prev": float(ct),
            "new_terminal": 0.0 if ct else 1.0,
            "term_n_1d": float(tn1),
            "term_n_7d": float(tn7),
            "term_n_30d": float(tn30),
            "term_known_n_1d": float(kn1),
            "term_risk_1d": f1 / kn1 if kn1 else 0.0,
            "term_known_n_7d": float(kn7),
            "term_risk_7d": f7 / kn7 if kn7 else 0.0,
            "term_known_n_30d": float(kn30),
            "term_risk_30d": f30 / kn30 if kn30 else 0.0,
            "cust_known_fraud_7d": float(kf7),
            "cust_known_fraud_14d": float(kf14),
            "cust_known_fraud_30d": float(kf30),
            "term_days_since_known_fraud": term_days,
            "cust_days_since_known_fraud": cust_days,
        }



class OnlineScorer:
    """An :class:`OnlineState` plus a loaded :class:`FraudModel`: ``score(payment) -> (probability, features)``.

    The single-row prediction goes through LightGBM's C API for one row (``LGBM_BoosterPredictForMatSingleRow
    FastInit`` once, then one call per payment: no per-call Python predictor set-up); if that is unavailable
    it falls back to ``Booster.predict`` on one row with one thread. Both give the model's probability.
    """

    def __init__(self, state: OnlineState, model: FraudModel) -> None:
        self.state = state
        self.model = model
        self.order = list(model.features)
        self._row = np.zeros(len(self.order), dtype=np.float64)
        self._fast = _FastSingleRow.create(model)

    def predict(self, feats: Mapping[str, float]) -> float:
        row = self._row
        for i, name in enumerate(self.order):
            row[i] = feats[name]
        if self._fast is not None:
            return self._fast.predict(row)
        p = self.model.booster_.predict(row.reshape(1, -1), num_iteration=self.model.best_iteration_,
                                        num_threads=1)
        return float(p[0])

    def score(self, payment: Mapping[str, Any]) -> tuple[float, dict[str, float]]:
        """Fraud probability of ``payment`` and its features (the state is not changed)."""
        feats = self.state.features(payment)
        return self.predict(feats), feats

    def process(self, payment: Mapping[str, Any]) -> tuple[float, dict[str, float]]:
        """Score the payment, then add it to the state (the whole per-payment path of a decision)."""
        p, feats = self.score(payment)
        self.state.observe(payment, feats)
        return p, feats


class _FastSingleRow:
    """LightGBM's one-row fast prediction (C API through the ``lightgbm`` package's loaded library)."""

    def __init__(self, lib: Any, handle: Any, booster: Any) -> None:
        self._lib = lib
        self._handle = handle
        self._out = np.zeros(1, dtype=np.float64)
        self._out_len = ctypes.c_int64(0)
        self._out_len_ref = ctypes.byref(self._out_len)
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._booster = booster  # keep the booster alive as long as the handle

    @classmethod
    def create(cls, model: FraudModel) -> _FastSingleRow | None:
        try:
            from lightgbm.basic import _LIB, _safe_call
        except ImportError:  # pragma: no cover - layout of another lightgbm version
            return None
        booster = model.booster_
        n = booster.num_feature()
        handle = ctypes.c_void_p()
        params = b"num_threads=1"
        try:
            _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle, ctypes.c_int(0),  # C_API_PREDICT_NORMAL
                ctypes.c_int(0), ctypes.c_int(int(model.best_iteration_)),  # start iteration, iterations
                ctypes.c_int(1),  # C_API_DTYPE_FLOAT64
                ctypes.c_int32(n), ctypes.c_char_p(params), ctypes.byref(handle)))
        except Exception:  # pragma: no cover - older library without the fast API
            return None
        return cls(_LIB, handle, booster)

    def predict(self, row: np.ndarray) -> float:
        """``row``: float64, C-contiguous, the model's features in order."""
        rc = self._lib.LGBM_BoosterPredictForMatSingleRowFast(
            self._handle, ctypes.c_void_p(row.ctypes.data), self._out_len_ref, self._out_ptr)
        if rc != 0:
            raise RuntimeError(self._lib.LGBM_GetLastError().decode())
        return float(self._out[0])

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._lib.LGBM_FastConfigFree(self._handle)
