"""Turn accepted simulation events into the transfers the ledger stores: kind, memo, reference and
``meta`` (read later by customer insight and fraud detection), value date and timestamp.

Both loaders use this, so the service path and the bulk path write byte-identical transfers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from json.encoder import encode_basestring_ascii as _js

import numpy as np

from smartbank.ledger.service import TransferCommand
from smartbank.security import service as security
from smartbank.synth.catalog import CATEGORIES, CITIES
from smartbank.synth.sim import (
    ATM,
    BILL,
    CARD,
    CLOSE_OUT,
    CLOSE_SWEEP,
    DEPOSIT,
    FEE,
    FROM_SAV,
    INCOME,
    INTEREST,
    INVEST,
    KIND,
    OPENING,
    P2P,
    P2P_520,
    P2P_ALLOWANCE,
    P2P_RED_PACKET,
    PENSION,
    RENT,
    REVENUE,
    SALARY,
    SUPPLIER,
    SWEEP,
    TO_SAV,
    TOPUP,
    Batch,
    Bills,
    Merchants,
)
from smartbank.synth.world import BILLERS, DAY_US, SLOT_BILLER0, TZ_OFFSET, World

_P2P = {
    0: ("转账", "transfer"),
    P2P_RED_PACKET: ("红包", "red_packet"),
    P2P_ALLOWANCE: ("生活费", "allowance"),
    P2P_520: ("520", "gift"),
}


@dataclass(slots=True)
class Row:
    k: int
    key: str
    kind: str
    debit: int
    credit: int
    amount: int
    memo: str
    reference: str | None
    meta: dict
    value_date: date
    enforce: bool
    slot_debit: int
    slot_credit: int
    bal_debit: int
    bal_credit: int
    et: int
    aux: int

    def command(self) -> TransferCommand:
        return TransferCommand(
            key=self.key, debit_account_id=self.debit, credit_account_id=self.credit, amount_minor=self.amount,
            currency="CNY", kind=self.kind, memo=self.memo, reference=self.reference,
            enforce_daily_limit=self.enforce, value_date=self.value_date, meta=self.meta,
        )


def meta_json(meta: dict[str, str], *, sort: bool = False) -> str:
    """``json.dumps(meta)`` (with ``sort_keys`` when asked) for a flat dict of strings, fast."""
    items = sorted(meta.items()) if sort else meta.items()
    return "{" + ", ".join(f"{_js(k)}: {_js(v)}" for k, v in items) + "}"


def request_hash(r: Row) -> str:
    """Exactly ``r.command().request_hash()`` (the JSON is built by hand: the bulk path hashes
    millions of transfers); a test and a per-batch check compare the two."""
    ref = "null" if r.reference is None else _js(r.reference)
    body = (f'{{"a": {r.amount}, "c": {r.credit}, "cur": "CNY", "d": {r.debit}, "k": {_js(r.kind)}, '
            f'"m": {_js(r.memo)}, "meta": {meta_json(r.meta, sort=True)}, "p": false, "r": {ref}}}')
    return hashlib.sha256(body.encode()).hexdigest()


def run_tag(seed: int, customers: int, months: int, end: date) -> str:
    """Part of every idempotency key: one configuration's keys never collide with another's."""
    return hashlib.sha256(f"{seed}:{customers}:{months}:{end.isoformat()}".encode()).hexdigest()[:6]


class Renderer:
    def __init__(self, w: World, merchants: Merchants, bills: Bills, slot_ids: np.ndarray, key_prefix: str):
        self.w = w
        self.merchants = merchants
        self.bills = bills
        self.slot_ids = slot_ids
        self.slot_list = [int(x) for x in slot_ids]
        self.key_prefix = key_prefix
        self.bill_ids: list[int] = []  # bill number (issue order) -> database id (service path)
        self.bill_base: int | None = None  # bulk path: bill number n has id bill_base + n + 1
        self.days = [w.start + timedelta(days=i) for i in range(w.n_days)]
        self.months = [d.strftime("%Y-%m") for d in self.days]
        self.start_utc = datetime(w.start.year, w.start.month, w.start.day) - TZ_OFFSET  # naive UTC
        self.cat_keys = [c.key for c in CATEGORIES]
        self.cat_mcc = [c.mcc for c in CATEGORIES]
        # plain lists: indexing numpy arrays one element at a time is slow
        self.m_cat = merchants.category.tolist()
        self.m_names = merchants.names
        self.city_zh = [CITIES[c].zh for c in w.city.tolist()]
        self.app_share = (w.app_share * 1000).tolist()

    def created_at(self, batch: Batch) -> list[datetime]:
        """Naive UTC timestamps (microsecond precision) of the batch's transfers."""
        base = np.datetime64(self.start_utc, "us")
        return (base + batch.t.astype("timedelta64[us]")).tolist()

    def local_time_utc(self, t_us: int) -> datetime:
        return (self.start_utc + timedelta(microseconds=t_us)).replace(tzinfo=UTC)

    def created_at_aware(self, batch: Batch) -> list[datetime]:
        return [d.replace(tzinfo=UTC) for d in self.created_at(batch)]

    def channel(self, k: int, cust: int) -> str:
        # deterministic per transfer, no random state: older customers use the counter more
        return "app" if (k * 2654435761 % 1000) < self.app_share[cust] else "counter"

    def rows(self, batch: Batch) -> list[Row]:
        w = self.w
        sid = self.slot_list
        bills = self.bills
        out: list[Row] = []
        et_l = batch.et.tolist()
        src_l = batch.src.tolist()
        dst_l = batch.dst.tolist()
        amt_l = batch.amount.tolist()
        aux_l = batch.aux.tolist()
        cust_l = batch.cust.tolist()
        day_l = (batch.t // DAY_US).tolist()
        enf_l = batch.enforce.tolist()
        bs_l = batch.bal_src.tolist()
        bd_l = batch.bal_dst.tolist()
        prefix = self.key_prefix
        m_cat, m_names, city_zh = self.m_cat, self.m_names, self.city_zh
        cat_keys, cat_mcc, months, days = self.cat_keys, self.cat_mcc, self.months, self.days
        for j in range(len(et_l)):
            k = batch.k0 + j
            e = et_l[j]
            c = cust_l[j]
            aux = aux_l[j]
            day = day_l[j]
            ym = months[day]
            ref = None
            if e == CARD:
                m = aux >> 1
                cat = m_cat[m]
                memo = m_names[m]
                if aux & 1:
                    meta = {"category": cat_keys[cat], "merchant": memo, "mcc": cat_mcc[cat], "channel": "card",
                            "city": city_zh[c]}
                else:
                    meta = {"category": cat_keys[cat], "merchant": memo, "mcc": cat_mcc[cat], "channel": "app"}
            elif e == P2P:
                memo, category = _P2P[aux]
                meta = {"category": category, "channel": self.channel(k, c)}
            elif e == BILL:
                code, name_zh, name_en, category, _city, _rb = BILLERS[bills.biller[aux]]
                memo = f"{name_en} {bills.period[aux]}"
                bid = self.bill_base + aux + 1 if self.bill_base is not None else self.bill_ids[aux]
                ref = f"bill:{bid}"
                meta = {"biller": code, "category": category, "bill_reference": bills.reference[aux],
                        "channel": self.channel(k, c)}
            elif e == TOPUP:
                code, name_zh, name_en, category, _city, _rb = BILLERS[dst_l[j] - SLOT_BILLER0]
                phone = security.mask_phone(w.phone[c])  # as payments.top_up stores it: masked
                memo = f"{name_en} top-up {phone}"
                ref = f"topup:{phone}"
                meta = {"biller": code, "category": "mobile", "phone": phone, "channel": "app"}
            elif e == SALARY:
                memo = f"year-end bonus {ym[:4]}" if aux == 1 else f"salary {ym}"
                ref = f"payroll:{ym}"
                meta = {"category": "bonus" if aux == 1 else "salary", "channel": "payroll",
                        "employer": w.employer_name[c]}
            elif e == RENT:
                memo = f"rent {ym}"
                ref = f"rent:{ym}"
                meta = {"category": "rent", "channel": self.channel(k, c)}
            elif e in (TO_SAV, SWEEP):
                memo = "to savings"
                meta = {"category": "savings", "channel": self.channel(k, c)}
            elif e == INVEST:
                memo = "银证转账 to securities account"
                meta = {"category": "investment", "channel": "app"}
            elif e == FROM_SAV:
                memo = "from savings"
                meta = {"category": "savings", "channel": self.channel(k, c)}
            elif e == INTEREST:
                memo = f"interest {ym}"
                meta = {"category": "interest", "channel": "system"}
            elif e == FEE:
                memo = f"SMS alert fee {ym}"
                meta = {"category": "fee", "channel": "system"}
            elif e == ATM:
                memo = "ATM withdrawal"
                meta = {"category": "cash", "channel": "atm"}
            elif e == PENSION:
                memo = f"pension {ym}"
                ref = f"pension:{ym}"
                meta = {"category": "pension", "channel": "payroll"}
            elif e == INCOME:
                if aux == 1:
                    memo = "生活费"
                    meta = {"category": "allowance", "channel": "interbank"}
                else:
                    memo = "incoming transfer"
                    meta = {"category": "income", "channel": "interbank", "payer": w.employer_name[c]}
            elif e == REVENUE:
                memo = "card acquiring settlement"
                meta = {"category": "revenue", "channel": "acquiring"}
            elif e == SUPPLIER:
                memo = "货款"
                if aux:
                    meta = {"category": "supplier", "channel": "interbank", "payee": w.ext_companies[aux - 1]}
                else:
                    meta = {"category": "supplier", "channel": self.channel(k, c)}
            elif e == OPENING:
                memo = "opening balance"
                meta = {"category": "opening", "channel": "migration"}
            elif e == DEPOSIT:
                memo = "cash deposit"
                meta = {"category": "deposit", "channel": "counter"}
            elif e in (CLOSE_SWEEP, CLOSE_OUT):
                memo = "account closure"
                meta = {"category": "closure", "channel": "counter"}
            else:  # pragma: no cover - every accepted event type is rendered above
                raise AssertionError(f"unrendered event type {e}")
            s, d = src_l[j], dst_l[j]
            out.append(Row(k, f"{prefix}{k:08d}", KIND[e], sid[s], sid[d], amt_l[j], memo, ref, meta,
                           days[day], enf_l[j], s, d, bs_l[j], bd_l[j], e, aux))
        return out
