"""The service path: every customer, account, bill and transfer goes through the domain services
(``customers.create_customer``, ``ledger.open_account``, ``payments.issue_bill``,
``ledger.transfer``, ``ledger.set_account_status``), so the ledger itself judges every posting. Used for
small banks and whenever ``bulk=False``; one transaction per simulated month.

The services stamp rows with the wall-clock time; history needs the simulated time, so within the
same transaction (before the sealer can see the rows) the loader sets ``created_at`` of the new
transfers and entries, and of the customers and accounts, to the simulated instants.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine

from smartbank import db
from smartbank.customers import service as customers
from smartbank.customers.service import Customer
from smartbank.ledger import service as ledger
from smartbank.ledger.service import Account
from smartbank.payments import service as payments
from smartbank.payments.service import Bill
from smartbank.synth.bulk import _check_collisions, _SqliteSink
from smartbank.synth.catalog import Catalog
from smartbank.synth.render import Renderer
from smartbank.synth.sim import BILL, BILL_ISSUE, CLOSE, FREEZE, Simulator
from smartbank.synth.world import BILLERS, World

_FIX_T = text("UPDATE transfers SET created_at = :at WHERE id = :id")
_FIX_E = text("UPDATE entries SET created_at = :at WHERE transfer_id = :id")


class _Probe(_SqliteSink):
    """Read-only helpers shared with the bulk loader (collision checks)."""

    def existing(self, column: str, table: str, values: list[str]) -> list[str]:
        found: list[str] = []
        for i in range(0, len(values), 500):
            part = values[i:i + 500]
            stmt = text(f"SELECT {column} FROM {table} WHERE {column} IN :v").bindparams(
                bindparam("v", expanding=True))
            found += [r[0] for r in self.conn.execute(stmt, {"v": part})]
        return found


def load(engine: Engine, w: World, catalog: Catalog, *, key_prefix: str, progress) -> dict[str, Any]:
    t0 = time.perf_counter()
    with engine.connect() as conn:
        _check_collisions(_Probe(conn), w, key_prefix)

    cust_ids: list[int] = []
    acct_ids: list[int] = []
    task = progress.add("opening customers and accounts", total=w.n + len(w.acct_rows), unit="rows")
    with db.session_scope(engine) as s:
        for r in w.rows:
            c = customers.create_customer(s, customers.CustomerCreate(
                kind=r["kind"], name=r["name"], id_number=r["id_number"], phone=r["phone_raw"], email=r["email"],
                city=r["city"], address=r["address"], occupation=r["occupation"],
                annual_income_minor=r["annual_income_minor"], id_type=r["id_type"],
                birth_date=r["birth_date"] if r["kind"] == "business" else None,
                daily_limit_minor=r["daily_limit_minor"]), number=r["number"])
            assert c.phone == r["phone"] and c.birth_date == r["birth_date"] and c.gender == r["gender"]
            c.risk_level = r["risk_level"]
            c.created_at = r["created_at"]
            customers.record_verification(s, c, method=r["kyc_method"], verified_by=None, at=r["kyc_verified_at"])
            cust_ids.append(c.id)
            progress.advance(task)
        for a in w.acct_rows:
            acct = ledger.open_account(
                s, customer_id=cust_ids[a["customer_index"]], kind=a["kind"], currency=a["currency"], name=a["name"],
                overdraft_limit_minor=a["overdraft_limit_minor"], interest_rate=a["interest_rate"],
                number=a["number"], opened_on=a["opened_on"])
            acct.created_at = a["created_at"]
            acct_ids.append(acct.id)
            progress.advance(task)
        s.flush()
        internal = catalog.internal_account_ids()
        state = {a.id: a for a in s.query(Account).filter(Account.id.in_(internal))}
        balances = [state[i].balance_minor for i in internal]
        statuses = [state[i].status for i in internal]

    sim = Simulator(w, balances, internal_status=statuses)
    slot_ids = np.array(internal + acct_ids, dtype=np.int64)
    rend = Renderer(w, sim.merchants, sim.bills, slot_ids, key_prefix)
    task = progress.add("posting through the ledger", total=len(sim.chunks), unit="months")
    for batch in sim.run():
        with db.session_scope(engine) as s:
            # bills of this month first (their ids follow issue order, as in the bulk path)
            for _pos, et, aux in batch.events:
                if et == BILL_ISSUE:
                    bills = sim.bills
                    b = payments.issue_bill(s, biller_code=BILLERS[bills.biller[aux]][0],
                                            reference=bills.reference[aux], period=bills.period[aux],
                                            amount_minor=bills.amount[aux], due_date=bills.due[aux])
                    rend.bill_ids.append(b.id)
            rows = rend.rows(batch)
            created = rend.created_at_aware(batch)
            others = [(pos, et, aux) for pos, et, aux in batch.events if et != BILL_ISSUE]
            oi = 0
            fixes: list[dict[str, Any]] = []
            for j, row in enumerate(rows):
                while oi < len(others) and others[oi][0] <= row.k:
                    _status_event(s, others[oi], slot_ids, cust_ids, w)
                    oi += 1
                res = ledger.transfer(s, row.command())
                if res.replayed:
                    raise RuntimeError(f"transfer key {row.key} was already used")
                fixes.append({"id": res.id, "at": created[j]})
                if row.et == BILL:
                    bill = s.get(Bill, rend.bill_ids[row.aux])
                    assert bill is not None and bill.status == "unpaid"
                    bill.status = "paid"
                    bill.paid_transfer_id = res.id
                    bill.paid_at = created[j]
            for ev in others[oi:]:
                _status_event(s, ev, slot_ids, cust_ids, w)
            if fixes:
                s.execute(_FIX_T, fixes)
                s.execute(_FIX_E, fixes)
            s.flush()
        progress.advance(task, 1, note=f"{sim.k:,} transfers")
    t_loaded = time.perf_counter()

    # bills still unpaid after their due date are overdue (as close of day would mark them)
    with db.session_scope(engine) as s:
        ids = rend.bill_ids
        for i in range(0, len(ids), 500):
            s.execute(text("UPDATE bills SET status = 'overdue' WHERE status = 'unpaid' AND due_date < :d"
                           " AND id IN :ids").bindparams(bindparam("ids", expanding=True)),
                      {"d": w.end, "ids": ids[i:i + 500]})

    seal_task = progress.add("sealing the journal", total=sim.k, unit="transfers")
    sealed = 0
    while True:
        with db.session_scope(engine) as s:
            n = ledger.seal(s, batch=5000, max_batches=1)
        if not n:
            break
        sealed += n
        progress.advance(seal_task, n)
    t_sealed = time.perf_counter()
    return {"transfers": sim.k, "entries": 2 * sim.k, "bills": len(rend.bill_ids), "sim": sim,
            "load_seconds": round(t_loaded - t0, 3), "seal_seconds": round(t_sealed - t_loaded, 3),
            "sealed": sealed}


def _status_event(s, ev: tuple[int, int, int], slot_ids: np.ndarray, cust_ids: list[int], w: World) -> None:
    _pos, et, slot = ev
    acct = ledger.get_account(s, int(slot_ids[slot]))
    if et == FREEZE:
        ledger.set_account_status(s, acct, "frozen")
    elif et == CLOSE:
        ledger.set_account_status(s, acct, "closed")
        owner = int(w.slot_owner[slot])
        if w.rows[owner]["status"] == "closed" and acct.kind == "demand":
            c = s.get(Customer, cust_ids[owner])
            c.status = "closed"
