"""A staff member's CSV download of a customer's history is an export in the masking policy's sense: memos and
references with personal information redacted, the counterparty's name and account number masked. The account
holder's own download is their data, in full."""

from __future__ import annotations

import csv
import io

from tests.api.support import API
from tests.conftest import login

CARD = "4111111111111111"
MOBILE = "13912345678"


def _rows(r) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8")[1:])))


def test_staff_csv_redacts_free_text_and_masks_the_counterparty(client, bank, engine):
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1, b1 = bank.account(alice, balance=100_000), bank.account(bob)
    bank.user("alice", customer_id=alice)
    bank.user("agent1", role="service_agent")
    h = login(client, "alice")
    with engine.connect() as c:
        bob_number = c.exec_driver_sql(f"SELECT number FROM accounts WHERE id = {b1}").scalar()
    r = client.post(f"{API}/transfers", headers=h, json={
        "from_account_id": a1, "to_account_number": bob_number, "amount_minor": 1_000,
        "memo": f"还 卡{CARD} 电话{MOBILE}", "idempotency_key": "export-1"})
    assert r.status_code in (200, 201), r.text

    own = _rows(client.get(f"{API}/accounts/{a1}/transactions.csv", headers=h))
    paid = next(x for x in own if x["direction"] == "out")
    assert paid["memo"] == f"还 卡{CARD} 电话{MOBILE}" and paid["counterparty_account"] == bob_number

    staff = client.get(f"{API}/accounts/{a1}/transactions.csv", headers=login(client, "agent1"))
    paid = next(x for x in _rows(staff) if x["direction"] == "out")
    assert paid["memo"] == "还 卡<BANK_CARD> 电话<CN_MOBILE>"
    assert paid["counterparty_account"] == "****" + bob_number[-4:]
    assert CARD not in staff.text and MOBILE not in staff.text and bob_number not in staff.text
    assert "李娜" not in staff.text
