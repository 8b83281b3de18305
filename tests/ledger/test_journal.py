"""The tamper-evident journal: seal, then edit the database directly in SQL the way an insider
could, and check that verify() (and ``smartbank ledger verify``) report the FIRST broken place."""

from __future__ import annotations

import contextlib
import json
import threading

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from smartbank import db
from smartbank.cli import app
from smartbank.errors import InsufficientFunds
from smartbank.ledger import journal
from smartbank.ledger import service as ledger


def xfer(engine, d, c, amount, key, **kw):
    cmd = ledger.TransferCommand(key=key, debit_account_id=d, credit_account_id=c, amount_minor=amount,
                                 currency="CNY", **kw)
    return db.run_in_transaction(lambda s: ledger.transfer(s, cmd), engine=engine)


def seal(engine, **kw) -> int:
    return db.run_in_transaction(lambda s: journal.seal(s, **kw), engine=engine)


def verify(engine, **kw) -> journal.VerifyReport:
    return db.run_in_transaction(lambda s: journal.verify(s, **kw), engine=engine)


def sql(engine, stmt: str, **params) -> int:
    with engine.begin() as c:
        return c.execute(text(stmt), params).rowcount


def seq_of(engine, transfer_id: int) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT seq FROM ledger_seals WHERE transfer_id = :t"), {"t": transfer_id}).scalar())


@pytest.fixture
def book(bank, engine):
    """Eight sealed transfers of every shape: funding, payments, a hold posted, a hold voided, a reversal."""
    a = bank.account(bank.customer("王芳"), balance=100_000)
    b = bank.account(bank.customer("李娜"), balance=5_000)
    ids = [xfer(engine, a, b, 1_000 + i, f"j-{i}", memo=f"payment {i}").id for i in range(3)]
    h1 = xfer(engine, a, b, 700, "hold-1", pending=True).id
    h2 = xfer(engine, b, a, 300, "hold-2", pending=True).id
    p1 = db.run_in_transaction(lambda s: ledger.resolve_pending(s, pending_id=h1, post=True, key="post-1"),
                               engine=engine).id
    v2 = db.run_in_transaction(lambda s: ledger.resolve_pending(s, pending_id=h2, post=False, key="void-2"),
                               engine=engine).id
    r0 = db.run_in_transaction(lambda s: ledger.reverse(s, transfer_id=ids[0], key="rev-0"), engine=engine).id
    assert seal(engine, batch=3) == bank.count("transfers")  # small batches: the loop runs several times
    rep = verify(engine)
    assert rep.ok, rep.problems
    assert rep.sealed == bank.count("transfers") and rep.unsealed == 0
    return {"a": a, "b": b, "pay": ids, "holds": (h1, h2), "post": p1, "void": v2, "rev": r0}


@pytest.mark.parametrize("chunk", [20_000, 3])
def test_untouched_ledger_verifies(book, engine, chunk):
    rep = verify(engine, chunk=chunk)
    assert rep.ok and rep.first_broken is None and rep.problems == []
    assert rep.totals_by_currency == {"CNY": 0}


@pytest.mark.parametrize("chunk", [20_000, 3])
def test_changed_entry_amount(book, engine, chunk):
    t = book["pay"][1]
    sql(engine, "UPDATE entries SET amount_minor = amount_minor - 1 WHERE transfer_id = :t AND amount_minor < 0", t=t)
    rep = verify(engine, chunk=chunk)
    assert not rep.ok
    assert rep.first_broken["transfer_id"] == t and rep.first_broken["seal_seq"] == seq_of(engine, t)
    assert "altered" in rep.first_broken["problem"]
    # the entries no longer sum to zero and the balance no longer matches: reported too
    assert any("sum to -1" in p for p in rep.problems)
    assert any("differs from the sum of its entries" in p for p in rep.problems)


def test_consistent_forgery_is_caught_by_the_chain_alone(book, engine, bank):
    """Raise a payment by 50 everywhere (transfer, both entries, both account totals, balance_after):
    every arithmetic check passes, only the hash chain notices."""
    t, a, b = book["pay"][2], book["a"], book["b"]
    sql(engine, "UPDATE transfers SET amount_minor = amount_minor + 50 WHERE id = :t", t=t)
    sql(engine, "UPDATE entries SET amount_minor = amount_minor - 50, balance_after = balance_after - 50"
                " WHERE transfer_id = :t AND amount_minor < 0", t=t)
    sql(engine, "UPDATE entries SET amount_minor = amount_minor + 50, balance_after = balance_after + 50"
                " WHERE transfer_id = :t AND amount_minor > 0", t=t)
    sql(engine, "UPDATE accounts SET debits_posted = debits_posted + 50 WHERE id = :a", a=a)
    sql(engine, "UPDATE accounts SET credits_posted = credits_posted + 50 WHERE id = :b", b=b)
    bank.assert_invariants()  # the books still balance
    rep = verify(engine)
    assert not rep.ok
    assert rep.first_broken["transfer_id"] == t
    assert len(rep.problems) == 1, rep.problems


def test_changed_memo(book, engine):
    t = book["pay"][0]
    sql(engine, "UPDATE transfers SET memo = 'rent' WHERE id = :t", t=t)
    rep = verify(engine)
    assert not rep.ok and rep.first_broken["transfer_id"] == t
    assert rep.first_broken["seal_seq"] == seq_of(engine, t)
    assert rep.problems == [rep.first_broken["problem"]]


@pytest.mark.parametrize("column,value", [("value_date", "2020-01-01"), ("idempotency_key", "other"),
                                          ("reference", "x"), ("initiated_by", 7)])
def test_changed_transfer_fields(book, engine, column, value):
    t = book["post"]
    sql(engine, f"UPDATE transfers SET {column} = :v WHERE id = :t", v=value, t=t)
    rep = verify(engine)
    assert not rep.ok and rep.first_broken["transfer_id"] == t


@pytest.mark.parametrize("column,value", [("value_date", "2020-01-01"), ("created_at", "2020-01-01 00:00:00+00:00")])
def test_changed_entry_dates(book, engine, column, value):
    """Statements select and open their balances by the entries' value dates: moving one entry to
    another day must not pass unnoticed."""
    t = book["pay"][0]
    sql(engine, f"UPDATE entries SET {column} = :v WHERE transfer_id = :t AND amount_minor > 0", v=value, t=t)
    rep = verify(engine)
    assert not rep.ok and rep.first_broken["transfer_id"] == t


def test_first_of_several_breaks_is_named(book, engine):
    later, earlier = book["rev"], book["pay"][1]
    sql(engine, "UPDATE transfers SET memo = 'x' WHERE id = :t", t=later)
    sql(engine, "UPDATE entries SET balance_after = balance_after + 1 WHERE transfer_id = :t", t=earlier)
    rep = verify(engine, chunk=2)
    assert rep.first_broken["transfer_id"] == earlier
    assert rep.first_broken["seal_seq"] < seq_of(engine, later)
    assert sum("altered" in p for p in rep.problems) == 2


def test_deleted_transfer(book, engine):
    t = book["pay"][1]
    sql(engine, "DELETE FROM entries WHERE transfer_id = :t", t=t)
    sql(engine, "DELETE FROM transfers WHERE id = :t", t=t)
    rep = verify(engine)
    assert not rep.ok
    assert rep.first_broken["transfer_id"] == t and "deleted" in rep.first_broken["problem"]
    assert rep.first_broken["seal_seq"] == seq_of(engine, t)


@pytest.mark.parametrize("requeue", [False, True])
def test_deleted_seal(book, engine, requeue):
    t = book["pay"][2]
    seq = seq_of(engine, t)
    sql(engine, "DELETE FROM ledger_seals WHERE seq = :s", s=seq)
    if requeue:  # pretend it was never sealed
        sql(engine, "INSERT INTO ledger_unsealed (transfer_id) VALUES (:t)", t=t)
    rep = verify(engine)
    assert not rep.ok
    assert rep.first_broken["seal_seq"] == seq and "missing" in rep.first_broken["problem"]
    assert any(f"seal #{seq + 1} does not link" in p for p in rep.problems)
    if not requeue:
        assert any(f"transfer {t} is neither sealed nor queued" in p for p in rep.problems)


def test_deleted_last_seal(book, engine, bank):
    with engine.connect() as c:
        seq, t = c.execute(text("SELECT seq, transfer_id FROM ledger_seals ORDER BY seq DESC LIMIT 1")).one()
    sql(engine, "DELETE FROM ledger_seals WHERE seq = :s", s=seq)
    rep = verify(engine)
    assert not rep.ok and rep.first_broken["transfer_id"] == t


def test_changed_seal_hash(book, engine):
    t = book["void"]
    seq = seq_of(engine, t)
    sql(engine, "UPDATE ledger_seals SET hash = :h WHERE seq = :s", h="f" * 64, s=seq)
    rep = verify(engine)
    assert rep.first_broken["seal_seq"] == seq and rep.first_broken["transfer_id"] == t


@pytest.mark.parametrize("column", ["credits_posted", "debits_posted"])
def test_edited_account_balance(book, engine, column):
    b = book["b"]
    sql(engine, f"UPDATE accounts SET {column} = {column} + 100 WHERE id = :b", b=b)
    rep = verify(engine)
    assert not rep.ok
    assert rep.first_broken["account_id"] == b
    assert "differs from the sum of its entries" in rep.first_broken["problem"]
    assert rep.totals_by_currency["CNY"] == (100 if column == "credits_posted" else -100)
    assert any("money was created or lost" in p for p in rep.problems)


@pytest.mark.parametrize("column,delta", [("debits_pending", -100), ("credits_pending", 100)])
def test_edited_pending_totals(book, bank, engine, column, delta):
    """Lowering debits_pending releases a hold (more money available to spend): it must not verify."""
    a = book["a"]
    xfer(engine, a, book["b"], 300, "open-hold", pending=True)  # one hold still open
    rep = verify(engine)
    assert rep.ok, rep.problems
    sql(engine, f"UPDATE accounts SET {column} = {column} + :d WHERE id = :a", d=delta, a=a)
    rep = verify(engine)
    assert not rep.ok
    assert rep.first_broken["account_id"] == a and "pending" in rep.first_broken["problem"]


def test_transfers_after_a_seal_are_queued_then_sealed(book, engine, bank):
    xfer(engine, book["a"], book["b"], 10, "late-1")
    xfer(engine, book["a"], book["b"], 10, "late-2", pending=True)
    rep = verify(engine)
    assert rep.ok and rep.unsealed == 2
    assert seal(engine) == 2
    rep = verify(engine)
    assert rep.ok and rep.unsealed == 0 and rep.sealed == bank.count("transfers")
    assert seal(engine) == 0


# ---- the command line ----------------------------------------------------------------------------

def test_cli_verify_ok(book, database_url):
    res = CliRunner().invoke(app, ["ledger", "verify", "--database-url", database_url])
    assert res.exit_code == 0, res.output
    assert "ledger OK" in res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["ok"] is True


def test_cli_verify_names_the_first_broken_entry(book, database_url, engine):
    t = book["pay"][1]
    sql(engine, "UPDATE entries SET amount_minor = amount_minor + 1 WHERE transfer_id = :t AND amount_minor > 0",
        t=t)
    sql(engine, "UPDATE transfers SET memo = 'x' WHERE id = :t", t=book["rev"])
    res = CliRunner().invoke(app, ["ledger", "verify", "--database-url", database_url])
    assert res.exit_code == 1, res.output
    shown = " ".join(res.output.split())  # the console may wrap long lines
    assert f"first broken: transfer {t} (seal #{seq_of(engine, t)})" in shown
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["ok"] is False and out["first_broken"]["transfer_id"] == t


def test_cli_seal_then_verify(bank, database_url, engine):
    a = bank.account(bank.customer(), balance=1_000)
    b = bank.account(bank.customer("李娜"))
    xfer(engine, a, b, 1, "cli-1")
    res = CliRunner().invoke(app, ["ledger", "seal", "--database-url", database_url])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1]) == {"sealed": bank.count("transfers")}
    assert CliRunner().invoke(app, ["ledger", "verify", "--database-url", database_url]).exit_code == 0


# ---- sealing while transfers run ------------------------------------------------------------------

@pytest.mark.commits
def test_concurrent_transfers_interleaved_with_sealing(bank, engine, is_pg):
    n_threads, per_thread = 4, 40 if is_pg else 15
    accts = [bank.account(bank.customer(f"客户{i}"), balance=50_000) for i in range(6)]
    stop = threading.Event()
    errors: list[BaseException] = []
    sealed = [0]
    count_lock = threading.Lock()

    def payer(t: int) -> None:
        try:
            for i in range(per_thread):
                d, c = accts[(t + i) % 6], accts[(t + 2 * i + 1) % 6]
                if d == c:
                    continue
                with contextlib.suppress(InsufficientFunds):
                    xfer(engine, d, c, 1 + (i * 37 + t) % 900, f"cc-{t}-{i}", pending=(i % 7 == 3))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def sealer() -> None:
        try:
            while not stop.is_set():
                n = seal(engine, batch=7)
                with count_lock:
                    sealed[0] += n
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    sealers = [threading.Thread(target=sealer) for _ in range(2 if is_pg else 1)]
    payers = [threading.Thread(target=payer, args=(t,)) for t in range(n_threads)]
    for th in sealers + payers:
        th.start()
    for th in payers:
        th.join(60)
    stop.set()
    for th in sealers:
        th.join(60)
    assert not errors, errors
    sealed[0] += seal(engine)
    rep = verify(engine, chunk=50)
    assert rep.ok, rep.problems
    assert rep.unsealed == 0 and rep.sealed == bank.count("transfers") == sealed[0]
    with engine.connect() as c:
        seqs = [r[0] for r in c.execute(text("SELECT seq FROM ledger_seals ORDER BY seq"))]
    assert seqs == list(range(1, len(seqs) + 1))
    bank.assert_invariants()


@pytest.mark.parametrize("column,value", [("account_id", 999_999), ("transfer_id", 999_999)])
def test_entry_pointing_elsewhere(book, engine, column, value):
    """Entries carry no constraint triggers: a dangling reference is what verify reports."""
    t = book["pay"][1]
    sql(engine, f"UPDATE entries SET {column} = :v WHERE transfer_id = :t AND amount_minor > 0", v=value, t=t)
    rep = verify(engine)
    assert not rep.ok
    assert rep.first_broken["transfer_id"] == t  # the chain covers the entries too
    assert any("do not match" in p for p in rep.problems)
    if column == "transfer_id":
        assert any(f"transfer {t} has 1 entries, not two" in p for p in rep.problems)


def test_deleted_entry(book, engine):
    t = book["pay"][2]
    sql(engine, "DELETE FROM entries WHERE transfer_id = :t AND amount_minor < 0", t=t)
    rep = verify(engine)
    assert not rep.ok and rep.first_broken["transfer_id"] == t
    assert any(f"transfer {t} has 1 entries, not two" in p for p in rep.problems)


# ---- a keyed chain and checkpoints outside the database -----------------------------------------------


def _plain_sha256(prev: str, t: dict, entries: list) -> str:
    """The chain's old link: SHA-256 with no key, which anyone with write access to the database can compute."""
    import hashlib

    return hashlib.sha256(prev.encode() + journal.canonical(t, entries)).hexdigest()


def _rehash_from(engine, seq: int, link) -> None:
    """Recompute every link from seal ``seq`` on, as an insider covering an edit would."""
    with engine.begin() as c:
        rows = c.execute(text("SELECT seq, transfer_id FROM ledger_seals WHERE seq >= :s ORDER BY seq"),
                         {"s": seq}).all()
        prev = c.execute(text("SELECT prev_hash FROM ledger_seals WHERE seq = :s"), {"s": seq}).scalar()
        for sq, tid in rows:
            t = dict(c.execute(text(f"SELECT {journal._T_COLS} FROM transfers WHERE id = :t"), {"t": tid}).one()
                     ._mapping)
            es = [dict(r._mapping) for r in c.execute(text(
                "SELECT id, transfer_id, account_id, amount_minor, currency, balance_after FROM entries"
                " WHERE transfer_id = :t"), {"t": tid})]
            h = link(prev, t, es)
            c.execute(text("UPDATE ledger_seals SET prev_hash = :p, hash = :h WHERE seq = :s"),
                      {"p": prev, "h": h, "s": sq})
            prev = h


def _truncate_newest(engine, n: int) -> list[int]:
    """Remove the newest ``n`` sealed transfers with their entries and seals, and take their amounts out of
    the accounts' totals: every balance still equals the sum of its entries."""
    with engine.begin() as c:
        gone = [r[0] for r in c.execute(text(
            "SELECT transfer_id FROM ledger_seals ORDER BY seq DESC LIMIT :n"), {"n": n})]
        for tid in gone:
            d, cr, amt = c.execute(text("SELECT debit_account_id, credit_account_id, amount_minor FROM transfers"
                                        " WHERE id = :t"), {"t": tid}).one()
            c.execute(text("UPDATE accounts SET debits_posted = debits_posted - :a WHERE id = :d"), {"a": amt, "d": d})
            c.execute(text("UPDATE accounts SET credits_posted = credits_posted - :a WHERE id = :c"),
                      {"a": amt, "c": cr})
            for table, col in (("ledger_seals", "transfer_id"), ("entries", "transfer_id"), ("transfers", "id")):
                c.execute(text(f"DELETE FROM {table} WHERE {col} = :t"), {"t": tid})
    return gone


@pytest.fixture
def payments(bank, engine):
    """Six plain payments, sealed in three commits (three checkpoints)."""
    a = bank.account(bank.customer("王芳"), balance=100_000)
    b = bank.account(bank.customer("李娜"), balance=5_000)
    ids = []
    for i in range(6):
        ids.append(xfer(engine, a, b, 100 + i, f"p-{i}", memo=f"payment {i}").id)
        if i % 2:
            seal(engine)
    rep = verify(engine)
    assert rep.ok, rep.problems
    return {"a": a, "b": b, "ids": ids}


def test_removing_the_newest_transfers_is_detected(payments, engine, bank, client):
    """Deleting the newest transfers with their entries and seals, balances adjusted, leaves a whole chain
    and consistent books: only the checkpoint outside the database shows the journal is shorter."""
    gone = _truncate_newest(engine, 2)
    assert gone == payments["ids"][-2:][::-1]
    bank.assert_invariants()  # the books still balance
    rep = verify(engine)
    assert not rep.ok
    assert "truncation" in rep.first_broken["problem"] and rep.first_broken["seal_seq"] == 7  # 2 deposits + 6
    assert rep.checkpoint["seq"] == 8 and len(rep.problems) == 1, rep.problems
    # the same through the API and the command line
    bank.user("admin1", role="admin")
    from tests.conftest import login

    out = client.get("/api/v1/ledger/verify", headers=login(client, "admin1")).json()
    assert out["ok"] is False and "truncation" in out["first_broken"]["problem"]
    res = CliRunner().invoke(app, ["ledger", "verify", "--database-url", str(engine.url)])
    assert res.exit_code == 1 and "truncation" in " ".join(res.output.split())


def test_an_edit_covered_by_plain_sha256_links_is_detected(payments, engine):
    """Edit a memo and recompute every later link with the old unkeyed SHA-256: without the key it does not
    verify (and the head differs from its checkpoint)."""
    t = payments["ids"][2]
    sql(engine, "UPDATE transfers SET memo = 'rent' WHERE id = :t", t=t)
    _rehash_from(engine, seq_of(engine, t), _plain_sha256)
    rep = verify(engine)
    assert not rep.ok
    assert rep.first_broken["transfer_id"] == t and rep.first_broken["seal_seq"] == seq_of(engine, t)
    assert "not made with the ledger key" in rep.first_broken["problem"]
    assert any("differs from its checkpoint" in p for p in rep.problems)


def test_an_edit_relinked_with_another_key_or_even_the_right_one_is_detected(payments, engine):
    t = payments["ids"][3]
    sql(engine, "UPDATE transfers SET memo = 'rent' WHERE id = :t", t=t)
    _rehash_from(engine, seq_of(engine, t), lambda p, tr, es: journal.link(b"a guessed key", p,
                                                                            journal.canonical(tr, es)))
    rep = verify(engine)
    assert not rep.ok and rep.first_broken["transfer_id"] == t and "altered" in rep.first_broken["problem"]
    # an insider who also stole the key: the chain verifies, but the checkpoints written outside the database
    # record the old head
    _rehash_from(engine, seq_of(engine, t), lambda p, tr, es: journal.chain_hash(p, tr, es))
    rep = verify(engine)
    assert not rep.ok and len(rep.problems) >= 1
    assert all("differs from its checkpoint" in p and "rewritten" in p for p in rep.problems), rep.problems


def test_the_checkpoint_file_is_signed(payments, engine, ledger_files, monkeypatch):
    lines = ledger_files.read_text().splitlines()
    assert len(lines) == 3  # one a seal: the payments were sealed in three commits
    last = json.loads(lines[-1])
    assert set(last) == {"db", "seq", "hash", "transfer_id", "at", "key_id", "sig"} and last["seq"] == 8
    # a forged line (a lower head, to hide a truncation) is not signed with the key
    ledger_files.write_text("\n".join(lines[:-1] + [json.dumps({**last, "seq": 1})]) + "\n")
    rep = verify(engine)
    assert not rep.ok and any("not signed with this ledger key" in p for p in rep.problems)
    # under another key the genuine lines do not check either
    ledger_files.write_text("\n".join(lines) + "\n")
    assert verify(engine).ok
    from smartbank import config

    monkeypatch.setenv("SMARTBANK_LEDGER_KEY", "another key")
    config.reset_settings()
    rep = verify(engine)
    assert not rep.ok and any("not signed with this ledger key" in p for p in rep.problems)


def test_a_journal_without_checkpoints_does_not_verify_and_a_rolled_back_seal_writes_none(bank, engine,
                                                                                       ledger_files):
    a = bank.account(bank.customer("王芳"), balance=1_000)
    with db.session_scope(engine) as s:
        assert journal.seal(s) == 1
        s.rollback()
    assert not ledger_files.exists()
    assert seal(engine) == 1
    assert len(ledger_files.read_text().splitlines()) == 1 and verify(engine).ok
    ledger_files.unlink()
    rep = verify(engine)
    assert not rep.ok and "no checkpoint" in rep.problems[0]
    assert a


def test_rekey_keys_an_unkeyed_journal_once(payments, engine, ledger_files, database_url):
    """A journal sealed before the chain was keyed (plain SHA-256, no checkpoints) does not verify; `ledger
    rekey` checks its old links, keys them and checkpoints the head, once."""
    _rehash_from(engine, 1, _plain_sha256)
    ledger_files.unlink()
    rep = verify(engine)
    assert not rep.ok and "not made with the ledger key" in rep.first_broken["problem"]
    res = CliRunner().invoke(app, ["ledger", "rekey", "--database-url", database_url])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1]) == {"rekeyed": 8}
    rep = verify(engine)
    assert rep.ok, rep.problems
    assert CliRunner().invoke(app, ["ledger", "rekey", "--database-url", database_url]).exit_code == 1
    # an unkeyed journal that was tampered with is not rekeyed
    ledger_files.unlink()
    _rehash_from(engine, 1, _plain_sha256)
    sql(engine, "UPDATE transfers SET memo = 'x' WHERE id = :t", t=payments["ids"][0])
    assert CliRunner().invoke(app, ["ledger", "rekey", "--database-url", database_url]).exit_code == 1
