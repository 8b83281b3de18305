"""Caps under concurrency: campaigns sending to the same customer at once never exceed a cap. On PostgreSQL each
send takes the customer's advisory lock before counting; on SQLite the writer's lock serialises them."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from smartbank import db
from smartbank.marketing import service as marketing
from tests.marketing.test_contact import CONTENT, consent


def _race(engine, cid: int, channels: list[str]) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(channels))

    def one(i: int, channel: str) -> None:
        out = marketing.Outgoing(customer_id=cid, channel=channel, content=CONTENT, campaign_id=1 + i % 2)
        barrier.wait()
        try:
            m = db.run_in_transaction(lambda s: marketing.send(s, out), engine=engine)
            key = m.suppressed_reason or m.status
        except Exception as exc:  # noqa: BLE001 - anything else is a failure of the test
            key = f"error:{type(exc).__name__}:{exc}"
        with lock:
            outcomes[key] += 1

    threads = [threading.Thread(target=one, args=(i, ch)) for i, ch in enumerate(channels)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.commits
@pytest.mark.parametrize("round_", range(3))
def test_two_campaigns_at_once_send_exactly_the_channel_cap(bank, engine, bank_clock, round_):
    cid = bank.customer("王芳")
    consent(engine, cid, "sms")
    assert _race(engine, cid, ["sms"] * 10) == {"sent": 2, "frequency_cap": 8}


@pytest.mark.commits
def test_many_channels_at_once_send_exactly_the_cap_across_channels(bank, engine, bank_clock):
    cid = bank.customer("王芳")
    consent(engine, cid, "push")
    # inapp (cap 5) and banner (cap 3) together: the all-channel cap of 6 binds first
    out = _race(engine, cid, ["inapp", "banner"] * 6)
    assert out == {"delivered": 6, "frequency_cap": 6}
