from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from smartbank import db
from smartbank.ledger import service as ledger
from smartbank.security.service import Principal

_keys = itertools.count(1)


@dataclass
class Member:
    customer_id: int
    account_id: int
    actor: Principal


def post(engine, kind: str, *, customer_account: int, amount: int = 1000, inbound: bool = False) -> int:
    """A posted transfer of ``kind`` paid by (or, ``inbound``, into) the customer's account."""
    with db.session_scope(engine) as s:
        settle = ledger.internal_account(s, "settlement", "CNY").id
        d, c = (settle, customer_account) if inbound else (customer_account, settle)
        return ledger.transfer(s, ledger.TransferCommand(
            key=f"test-{kind}-{next(_keys)}", debit_account_id=d, credit_account_id=c, amount_minor=amount,
            currency="CNY", kind=kind)).id


@pytest.fixture
def member(bank):
    def make(name: str = "张伟", balance: int = 100_000) -> Member:
        cid = bank.customer(name)
        acct = bank.account(cid, balance=balance)
        uid = bank.user(f"cust{cid}", customer_id=cid)
        return Member(cid, acct, Principal(user_id=uid, username=f"cust{cid}", role="customer", customer_id=cid))
    return make


@pytest.fixture
def staff(bank):
    def make(role: str) -> Principal:
        name = f"{role}{next(_keys)}"
        return Principal(user_id=bank.user(name, role=role), username=name, role=role, customer_id=None)
    return make
