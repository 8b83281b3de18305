"""Concurrency on PostgreSQL, where row locks exist (SQLite serialises every writer, so these
races cannot happen there). Many threads, each through ``db.run_in_transaction`` exactly as an
API request would: no deadlock or serialization failure may reach the caller, money is conserved,
every idempotency key posts at most once, and a pending transfer or a reversal happens once."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.errors import (
    DailyLimitExceeded,
    IdempotencyConflict,
    InsufficientFunds,
    PendingAlreadyResolved,
)
from smartbank.ledger import journal
from smartbank.ledger import service as ledger

pytestmark = pytest.mark.commits  # threads racing on their own connections

EXPECTED_REJECTIONS = (InsufficientFunds, IdempotencyConflict, DailyLimitExceeded)


@pytest.fixture(autouse=True)
def _postgres_only(is_pg):
    if not is_pg:
        pytest.skip("row-lock races need PostgreSQL; SQLite serialises writers")


@dataclass(frozen=True)
class Attempt:
    key: str
    cmd: ledger.TransferCommand
    outcome: str  # ok | replay | InsufficientFunds | IdempotencyConflict | DailyLimitExceeded
    transfer_id: int | None = None


def _balances(engine, ids):
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT id, credits_posted - debits_posted, debits_pending, credits_pending FROM accounts"
            " WHERE id = ANY(:ids)"), {"ids": list(ids)}).all()
    return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def test_sixteen_threads_of_random_transfers(bank, engine):
    n_accounts, n_threads, per_thread = 50, 16, 150
    rng = random.Random(20260302)
    customers = [bank.customer(f"客户{i}", daily_limit_minor=40_000) for i in range(n_accounts // 2)]
    accts = [bank.account(customers[i // 2], balance=rng.choice([0, 500, 5_000, 20_000, 60_000]))
             for i in range(n_accounts)]
    owner = {a: customers[i // 2] for i, a in enumerate(accts)}
    start = _balances(engine, accts)
    total_before = sum(b for b, _, _ in start.values())
    transfers_before = bank.count("transfers")

    # keys that several threads submit concurrently: mostly the same body, sometimes a different one
    shared = []
    for j in range(24):
        d, c = rng.sample(accts, 2)
        shared.append(ledger.TransferCommand(key=f"shared-{j}", debit_account_id=d, credit_account_id=c,
                                             amount_minor=rng.randint(1, 3_000), currency="CNY",
                                             enforce_daily_limit=j % 3 == 0))
    attempts: list[Attempt] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_threads)

    def submit(cmd: ledger.TransferCommand) -> Attempt:
        try:
            res = db.run_in_transaction(lambda s: ledger.transfer(s, cmd), engine=engine)
        except EXPECTED_REJECTIONS as exc:
            return Attempt(cmd.key, cmd, type(exc).__name__)
        return Attempt(cmd.key, cmd, "replay" if res.replayed else "ok", res.id)

    def worker(t: int) -> None:
        r = random.Random(t)
        mine: list[Attempt] = []
        try:
            barrier.wait()
            for i in range(per_thread):
                roll = r.random()
                if i < 6 or roll < 0.2:  # a shared key (every thread starts with a burst of them)
                    base = shared[(t + i) % 6] if i < 6 else r.choice(shared)
                    if r.random() < 0.25:  # ... with a different body: another amount or other accounts
                        change = ({"amount_minor": base.amount_minor + 1} if r.random() < 0.5 else
                                  dict(zip(("debit_account_id", "credit_account_id"), r.sample(accts, 2),
                                           strict=True)))
                        base = ledger.TransferCommand(**{**_fields(base), **change})
                    mine.append(submit(base))
                    continue
                d, c = r.sample(accts, 2)
                amount = r.randint(1_000_000, 5_000_000) if roll < 0.3 else r.randint(1, 4_000)
                cmd = ledger.TransferCommand(key=f"t{t}-{i}", debit_account_id=d, credit_account_id=c,
                                             amount_minor=amount, currency="CNY", pending=r.random() < 0.1,
                                             enforce_daily_limit=r.random() < 0.5)
                mine.append(submit(cmd))
                if r.random() < 0.1:  # a client retrying the same request
                    mine.append(submit(cmd))
        except BaseException as exc:  # noqa: BLE001 - anything else is a failure of the test
            with lock:
                unexpected.append(exc)
        with lock:
            attempts.extend(mine)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not any(th.is_alive() for th in threads)
    assert not unexpected, f"{len(unexpected)} errors reached the caller, first: {unexpected[0]!r}"

    outcomes = Counter(a.outcome for a in attempts)
    assert outcomes["ok"] > 300 and outcomes["InsufficientFunds"] > 50 and outcomes["replay"] > 50, outcomes

    # every key posted at most once; replays and conflicts are judged against the row that won
    with engine.connect() as c:
        rows = {r.idempotency_key: r for r in c.execute(text(
            "SELECT id, idempotency_key, debit_account_id, credit_account_id, amount_minor, flags FROM transfers"
            " WHERE id > 0 AND idempotency_key NOT LIKE 'fund-%'"))}
    posted_by_key = Counter(a.key for a in attempts if a.outcome == "ok")
    assert max(posted_by_key.values()) == 1
    assert set(posted_by_key) == set(rows)
    assert bank.count("transfers") - transfers_before == len(rows)
    for a in attempts:
        row = rows.get(a.key)
        same = row is not None and (row.debit_account_id, row.credit_account_id, row.amount_minor) == (
            a.cmd.debit_account_id, a.cmd.credit_account_id, a.cmd.amount_minor)
        if a.outcome in ("ok", "replay"):
            assert same and row.id == a.transfer_id, a
        elif a.outcome == "IdempotencyConflict":
            assert row is not None and not same, a

    # money is conserved and every balance is what the successful transfers say it is
    end = _balances(engine, accts)
    assert sum(b for b, _, _ in end.values()) == total_before
    expected = {a: list(v) for a, v in start.items()}
    for a in attempts:
        if a.outcome != "ok":
            continue
        d, c, amt = a.cmd.debit_account_id, a.cmd.credit_account_id, a.cmd.amount_minor
        if a.cmd.pending:
            expected[d][1] += amt
            expected[c][2] += amt
        else:
            expected[d][0] -= amt
            expected[c][0] += amt
    assert {a: tuple(v) for a, v in expected.items()} == end
    for bal, dp, _ in end.values():
        assert bal >= 0 and bal - dp >= 0

    # the daily-limit counters match the successful limited payments to other customers, none over
    used: dict[int, int] = defaultdict(int)
    for a in attempts:
        d, c = a.cmd.debit_account_id, a.cmd.credit_account_id
        if a.outcome == "ok" and a.cmd.enforce_daily_limit and owner[d] != owner[c]:
            used[owner[d]] += a.cmd.amount_minor
    with engine.connect() as c:
        counters = {int(r[0]): int(r[1]) for r in c.execute(text(
            "SELECT customer_id, amount_minor FROM customer_daily_usage"))}
    assert counters == {k: v for k, v in used.items() if v}
    assert max(counters.values()) <= 40_000

    bank.assert_invariants()
    db.run_in_transaction(lambda s: journal.seal(s), engine=engine)
    rep = db.run_in_transaction(lambda s: journal.verify(s), engine=engine)
    assert rep.ok, rep.problems
    assert rep.sealed == bank.count("transfers")


def _fields(cmd: ledger.TransferCommand) -> dict:
    return {f: getattr(cmd, f) for f in cmd.__dataclass_fields__}


def test_one_key_on_different_accounts_from_many_threads(bank, engine):
    """Threads that lock disjoint accounts all pass the key check and race on the unique key: the
    losers' serialization failure is retried inside run_in_transaction and comes back as a conflict."""
    n = 8
    accts = [bank.account(bank.customer(f"客户{i}"), balance=100_000) for i in range(2 * n)]
    for r in range(12):
        barrier = threading.Barrier(n)
        out: list = [None] * n

        def go(t: int, r: int = r, barrier: threading.Barrier = barrier, out: list = out) -> None:
            cmd = ledger.TransferCommand(key=f"same-{r}", debit_account_id=accts[2 * t],
                                         credit_account_id=accts[2 * t + 1], amount_minor=100 + t, currency="CNY")
            barrier.wait()
            try:
                out[t] = db.run_in_transaction(lambda s: ledger.transfer(s, cmd), engine=engine)
            except BaseException as exc:  # noqa: BLE001
                out[t] = exc

        threads = [threading.Thread(target=go, args=(t,)) for t in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        wins = [o for o in out if isinstance(o, ledger.TransferResult)]
        assert len(wins) == 1 and not wins[0].replayed, out
        assert all(isinstance(o, IdempotencyConflict) for o in out if o is not wins[0]), out
    assert bank.count("transfers") == 2 * n + 12
    assert sum(bank.balance(a) for a in accts) == 2 * n * 100_000
    bank.assert_invariants()


# ---- two-thread races ------------------------------------------------------------------------------

def _race(engine, *fns):
    """Start every fn at the same moment, each in its own transaction; return outcomes in order."""
    barrier = threading.Barrier(len(fns))
    out: list = [None] * len(fns)

    def go(i, fn):
        barrier.wait()
        try:
            out[i] = db.run_in_transaction(fn, engine=engine)
        except BaseException as exc:  # noqa: BLE001
            out[i] = exc

    threads = [threading.Thread(target=go, args=(i, fn)) for i, fn in enumerate(fns)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    return out


def _pair(bank):
    a = bank.account(bank.customer("王芳"), balance=1_000_000)
    b = bank.account(bank.customer("李娜"), balance=1_000_000)
    return a, b


def _hold(engine, a, b, amount, key):
    cmd = ledger.TransferCommand(key=key, debit_account_id=a, credit_account_id=b, amount_minor=amount,
                                 currency="CNY", pending=True)
    return db.run_in_transaction(lambda s: ledger.transfer(s, cmd), engine=engine).id


@pytest.mark.parametrize("first_post,second_post", [(True, False), (True, True), (False, False)])
def test_pending_is_resolved_exactly_once_under_a_race(bank, engine, first_post, second_post):
    a, b = _pair(bank)
    rounds = 15
    for r in range(rounds):
        pid = _hold(engine, a, b, 100 + r, f"hold-{r}")
        out = _race(
            engine,
            lambda s, pid=pid, r=r: ledger.resolve_pending(s, pending_id=pid, post=first_post, key=f"x-{r}"),
            lambda s, pid=pid, r=r: ledger.resolve_pending(s, pending_id=pid, post=second_post, key=f"y-{r}"),
        )
        wins = [o for o in out if isinstance(o, ledger.TransferResult)]
        losses = [o for o in out if not isinstance(o, ledger.TransferResult)]
        assert len(wins) == 1, out
        assert len(losses) == 1 and isinstance(losses[0], PendingAlreadyResolved), out
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM transfers WHERE pending_id = :p"), {"p": pid}).scalar() == 1
    posted = sum(100 + r for r in range(rounds)) if first_post and second_post else None
    bal = _balances(engine, [a, b])
    assert bal[a][1] == 0 and bal[b][2] == 0  # every hold released exactly once
    if posted is not None:
        assert bal[a][0] == 1_000_000 - posted and bal[b][0] == 1_000_000 + posted
    if not first_post and not second_post:
        assert bal[a][0] == bal[b][0] == 1_000_000
    bank.assert_invariants()


def test_same_resolution_key_racing_posts_once_and_replays(bank, engine):
    a, b = _pair(bank)
    for r in range(10):
        pid = _hold(engine, a, b, 250, f"hold-{r}")
        out = _race(engine, *[lambda s, pid=pid, r=r: ledger.resolve_pending(s, pending_id=pid, post=True,
                                                                                 key=f"post-{r}")] * 2)
        assert all(isinstance(o, ledger.TransferResult) for o in out), out
        assert out[0].id == out[1].id and sorted(o.replayed for o in out) == [False, True]
    assert _balances(engine, [a])[a] == (1_000_000 - 2_500, 0, 0)
    bank.assert_invariants()


def test_reversal_happens_exactly_once_under_a_race(bank, engine):
    a, b = _pair(bank)
    for r in range(15):
        cmd = ledger.TransferCommand(key=f"orig-{r}", debit_account_id=a, credit_account_id=b, amount_minor=1_000,
                                     currency="CNY")
        tid = db.run_in_transaction(lambda s, cmd=cmd: ledger.transfer(s, cmd), engine=engine).id
        out = _race(engine,
                    lambda s, tid=tid, r=r: ledger.reverse(s, transfer_id=tid, key=f"rev-a-{r}"),
                    lambda s, tid=tid, r=r: ledger.reverse(s, transfer_id=tid, key=f"rev-b-{r}"))
        wins = [o for o in out if isinstance(o, ledger.TransferResult)]
        assert len(wins) == 1, out
        other = next(o for o in out if o is not wins[0])
        assert isinstance(other, PendingAlreadyResolved), f"round {r}: {other!r}"
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM transfers WHERE reverses_id = :t"), {"t": tid}).scalar() == 1
    assert _balances(engine, [a, b]) == {a: (1_000_000, 0, 0), b: (1_000_000, 0, 0)}
    bank.assert_invariants()


def test_reversal_with_the_same_key_racing_replays(bank, engine):
    a, b = _pair(bank)
    for r in range(10):
        cmd = ledger.TransferCommand(key=f"orig-{r}", debit_account_id=a, credit_account_id=b, amount_minor=700,
                                     currency="CNY")
        tid = db.run_in_transaction(lambda s, cmd=cmd: ledger.transfer(s, cmd), engine=engine).id
        out = _race(engine, *[lambda s, tid=tid, r=r: ledger.reverse(s, transfer_id=tid, key=f"rev-{r}")] * 2)
        assert all(isinstance(o, ledger.TransferResult) for o in out), out
        assert out[0].id == out[1].id and sorted(o.replayed for o in out) == [False, True]
    assert _balances(engine, [a, b]) == {a: (1_000_000, 0, 0), b: (1_000_000, 0, 0)}
    bank.assert_invariants()

