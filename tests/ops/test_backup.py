"""Encrypted backups and restores (``smartbank db backup`` / ``smartbank db restore``) on both back-ends: the
round trip keeps the journal's head and every balance and verifies; a tampered, truncated, reordered, foreign
or mis-described backup is refused and writes nothing; a backup taken while transfers are written is
consistent. These tests commit (the backup reads through connections, and programs, of its own)."""

from __future__ import annotations

import contextlib
import json
import struct
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from typer.testing import CliRunner

from smartbank import db
from smartbank.cli import app
from smartbank.customers import service as customers
from smartbank.customers.validation import make_resident_id
from smartbank.errors import InsufficientFunds
from smartbank.ledger import service as ledger
from smartbank.ops import backup as bk
from smartbank.ops import service as ops
from smartbank.security import service as security

pytestmark = pytest.mark.commits

runner = CliRunner()


def xfer(engine, d, c, amount, key, **kw):
    cmd = ledger.TransferCommand(key=key, debit_account_id=d, credit_account_id=c, amount_minor=amount,
                                 currency="CNY", **kw)
    return db.run_in_transaction(lambda s: ledger.transfer(s, cmd), engine=engine)


def seal(engine) -> int:
    return db.run_in_transaction(lambda s: ledger.seal(s), engine=engine)


def verify(url: str) -> ledger.VerifyReport:
    return db.run_in_transaction(lambda s: ledger.verify(s), engine=db.get_engine(url))


def state(url: str) -> dict[str, list[tuple]]:
    """What must survive a backup and restore: balances, the journal, the transfers, the customers."""
    queries = {
        "accounts": "SELECT id, number, debits_posted, credits_posted, debits_pending, credits_pending"
                    " FROM accounts ORDER BY id",
        "seals": "SELECT seq, transfer_id, prev_hash, hash FROM ledger_seals ORDER BY seq",
        "unsealed": "SELECT transfer_id FROM ledger_unsealed ORDER BY transfer_id",
        "transfers": "SELECT id, idempotency_key, amount_minor FROM transfers ORDER BY id",
        "customers": "SELECT id, name FROM customers ORDER BY id",
    }
    e = create_engine(db.normalise_url(url))
    try:
        with e.connect() as c:
            return {k: [tuple(r) for r in c.execute(text(q))] for k, q in queries.items()}
    finally:
        e.dispose()


def rows(url: str) -> int:
    e = create_engine(db.normalise_url(url))
    try:
        with e.connect() as c:
            return sum(bk._row_counts(c).values())
    finally:
        e.dispose()


@pytest.fixture
def book(bank, engine):
    """A small bank: funded accounts, payments, a posted and a voided hold, a reversal, all sealed, and one
    payment still waiting for the sealer."""
    a = bank.account(bank.customer("王芳"), balance=100_000)
    b = bank.account(bank.customer("李娜"), balance=5_000)
    ids = [xfer(engine, a, b, 1_000 + i, f"j-{i}", memo=f"payment {i}").id for i in range(3)]
    h1 = xfer(engine, a, b, 700, "hold-1", pending=True).id
    h2 = xfer(engine, b, a, 300, "hold-2", pending=True).id
    db.run_in_transaction(lambda s: ledger.resolve_pending(s, pending_id=h1, post=True, key="post-1"), engine=engine)
    db.run_in_transaction(lambda s: ledger.resolve_pending(s, pending_id=h2, post=False, key="void-2"),
                          engine=engine)
    db.run_in_transaction(lambda s: ledger.reverse(s, transfer_id=ids[0], key="rev-0"), engine=engine)
    assert seal(engine) > 0
    xfer(engine, b, a, 55, "late")  # queued, not yet sealed
    security.create_data_key(engine)  # a data key only this database has (a rotation happened here)
    return {"a": a, "b": b}


@pytest.fixture
def made(book, database_url, tmp_path) -> Path:
    """A backup of the book, made through the command line."""
    out = tmp_path / "bank.sbbak"
    res = runner.invoke(app, ["db", "backup", str(out), "--database-url", database_url])
    assert res.exit_code == 0, res.output
    return out


# ---- the round trip ---------------------------------------------------------------------------------------

def test_backup_then_restore_into_a_fresh_database(made, database_url, fresh_url, backend):
    source = state(database_url)
    m = ops.read_manifest(made)
    assert m.backend == backend and m.schema_revision == ops.head_revision()
    assert m.ledger["seq"] == len(source["seals"]) and m.ledger["hash"] == source["seals"][-1][3]
    assert m.ledger["unsealed"] == 1 and m.ledger["checkpoint"]["seq"] == m.ledger["seq"]
    assert m.row_counts["transfers"] == len(source["transfers"]) and m.row_counts["customers"] == 2
    assert len(m.payload["sha256"]) == 64 and m.app_version

    target = fresh_url()
    res = runner.invoke(app, ["db", "restore", str(made), "--database-url", target])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["verify_ok"] and out["journal_head"]["seq"] == m.ledger["seq"]

    assert state(target) == source  # balances, journal, queue, transfers, customers: identical
    with db.get_engine(target).connect() as c:  # the restored database records its restore
        audit = c.execute(text("SELECT action, actor_role, note FROM audit_log ORDER BY id DESC LIMIT 1")).one()
    assert tuple(audit) == ("database.restored", "admin", f"restored from {made.name}")
    # personal data encrypted under the source's newest data key reads the same in the restored database
    blob = security.encrypt_bytes(b"13800001234", context="customers.phone",
                                  engine=db.get_engine(database_url))
    assert security.decrypt_bytes(blob, context="customers.phone", engine=db.get_engine(target)) == b"13800001234"
    ok = runner.invoke(app, ["ledger", "verify", "--database-url", target])
    assert ok.exit_code == 0, ok.output
    rep = json.loads(ok.stdout.strip().splitlines()[-1])
    assert rep["checkpoint"]["hash"] == m.ledger["hash"] and rep["unsealed"] == 1

    # the restored bank works on: ids continue, the queued payment and a new one are sealed, it verifies
    te = db.get_engine(target)
    a, b = source["accounts"][-2][0], source["accounts"][-1][0]
    new = xfer(te, a, b, 10, "after-restore")
    assert new.id == max(r[0] for r in source["transfers"]) + 1
    assert seal(te) == 2
    assert verify(target).ok


def test_the_backup_file_holds_no_plaintext(made, book):
    raw = made.read_bytes()
    assert raw.startswith(bk.MAGIC)
    for plain in ("王芳".encode(), b"SQLite format 3", b"PGDMP", b"ledger_seals", b"payment 1", b"row_counts"):
        assert plain not in raw


# ---- refusals: nothing is written -------------------------------------------------------------------------

def refused(path: Path, target: str, code: str, *extra: str) -> str:
    before = rows(target)
    with pytest.raises(ops.BackupError) as exc:
        ops.restore(path, url=target, force="--force" in extra)
    assert exc.value.code == code, exc.value.message
    assert rows(target) == before  # nothing written
    res = runner.invoke(app, ["db", "restore", str(path), "--database-url", target, *extra])
    assert res.exit_code == 1 and "not restored" in res.output
    assert rows(target) == before
    return exc.value.message


def frames(path: Path) -> tuple[bytes, list[bytes]]:
    raw = path.read_bytes()
    pos = len(bk.MAGIC) + bk.ID_BYTES
    for _ in range(2):  # the master key id, the wrapped key
        pos += 2 + struct.unpack(">H", raw[pos:pos + 2])[0]
    head, out = raw[:pos], []
    while pos < len(raw):
        _, size = struct.unpack(">BI", raw[pos:pos + 5])
        out.append(raw[pos:pos + 5 + size])
        pos += 5 + size
    return head, out


def test_a_non_empty_target_is_refused_unless_forced(made, database_url, fresh_url, bank):
    msg = refused(made, database_url, "backup_target_not_empty")
    assert "--force" in msg
    # another bank with a longer journal of its own, checkpointed: --force replaces it, and its old checkpoints
    # no longer count (the restore starts a new, signed history)
    other = fresh_url()
    oe = db.get_engine(other)
    with db.session_scope(oe) as s:
        cid = customers.create_customer(s, customers.CustomerCreate(
            kind="individual", name="赵六", id_number=make_resident_id("110101", date(1985, 3, 7), 7),
            phone="13900000001")).id
        acc = ledger.open_account(s, customer_id=cid, kind="demand", currency="CNY").id
        src = ledger.internal_account(s, "settlement", "CNY").id
    for i in range(30):
        xfer(oe, src, acc, 100, f"o-{i}")
    seal(oe)
    assert verify(other).ok and verify(other).sealed == 30
    res = runner.invoke(app, ["db", "restore", str(made), "--database-url", other, "--force"])
    assert res.exit_code == 0, res.output
    assert state(other) == state(database_url)
    assert verify(other).ok
    # a "restored" line is believed only when the ledger key signed it: a forged one breaks verification
    url = make_url(db.normalise_url(other))
    ledger.write_checkpoint(url, seq=0, head=ledger.JOURNAL_GENESIS, transfer_id=None, key=b"not the ledger key",
                            restored=True)
    rep = verify(other)
    assert not rep.ok and any("not signed with this ledger key" in p for p in rep.problems)


def test_an_unreachable_database_is_a_clear_refusal(made, tmp_path, backend):
    if backend == "sqlite":
        with pytest.raises(ops.BackupError):
            ops.backup(tmp_path / "x.sbbak", url=f"sqlite:///{tmp_path}/missing.db")
        return
    url = "postgresql://postgres@127.0.0.1:5432/sbtest_no_such_database"
    for call in (lambda: ops.backup(tmp_path / "x.sbbak", url=url), lambda: ops.restore(made, url=url)):
        with pytest.raises(ops.BackupError) as exc:
            call()
        assert exc.value.code == "backup_database_unavailable" and "could not be reached" in exc.value.message
    assert not (tmp_path / "x.sbbak").exists()


def test_a_tampered_backup_is_refused(made, fresh_url):
    target = fresh_url()
    before = rows(target)
    raw = bytearray(made.read_bytes())
    head, _ = frames(made)
    for where in (len(raw) - 40, len(head) + 30, len(raw) // 2):
        bad = bytearray(raw)
        bad[where] ^= 0x01
        p = made.with_name(f"tampered-{where}.sbbak")
        p.write_bytes(bytes(bad))
        with pytest.raises(ops.BackupError) as exc:
            ops.restore(p, url=target)
        assert exc.value.code == "backup_tampered", exc.value.message
    assert rows(target) == before
    p = made.with_name("tampered.sbbak")
    bad = bytearray(raw)
    bad[-1] ^= 0x80
    p.write_bytes(bytes(bad))
    refused(p, target, "backup_tampered")
    p.write_bytes(b"not a backup at all")
    refused(p, target, "backup_not_a_backup")


def test_a_truncated_or_lengthened_backup_is_refused(made, fresh_url):
    target = fresh_url()
    raw = made.read_bytes()
    head, fs = frames(made)
    cuts = {"inside the last chunk": raw[:-10], "before the last chunk": head + b"".join(fs[:-1]),
            "after the manifest": head + fs[0], "inside a header": raw[: len(head) + 3]}
    for name, data in cuts.items():
        p = made.with_name(f"cut-{name.replace(' ', '-')}.sbbak")
        p.write_bytes(data)
        msg = refused(p, target, "backup_truncated")
        assert "truncated" in msg, name
    p = made.with_name("longer.sbbak")
    p.write_bytes(raw + fs[-1])
    refused(p, target, "backup_tampered")


def test_reordered_or_foreign_chunks_are_refused(book, database_url, fresh_url, tmp_path, monkeypatch):
    monkeypatch.setattr(bk, "CHUNK", 4096)  # several payload chunks
    one, two = tmp_path / "one.sbbak", tmp_path / "two.sbbak"
    ops.backup(one, url=database_url)
    ops.backup(two, url=database_url)
    head, fs = frames(one)
    assert len(fs) > 4
    target = fresh_url()
    p = tmp_path / "swapped.sbbak"
    p.write_bytes(head + fs[0] + fs[2] + fs[1] + b"".join(fs[3:]))
    assert "chunk 0 of the payload" in refused(p, target, "backup_tampered")
    _, other = frames(two)  # the same database, backed up again: same plaintext, another backup id
    p.write_bytes(head + fs[0] + other[1] + b"".join(fs[2:]))
    refused(p, target, "backup_tampered")
    p.write_bytes(head + b"".join(fs[:2]) + fs[-1])  # the last chunk moved up: a shorter file that ends "properly"
    refused(p, target, "backup_tampered")
    monkeypatch.undo()


def test_a_backup_under_another_master_key_is_refused(made, fresh_url):
    target = fresh_url()
    other = security.LocalKeyProvider(b"\x07" * 32)
    with security.use_key_provider(other):
        msg = refused(made, target, "backup_wrong_key")
    assert other.key_id in msg and security.key_provider().key_id in msg
    assert ops.read_manifest(made).backend  # the right key still opens it


def test_the_wrapped_key_or_the_header_altered_is_refused(made, fresh_url):
    target = fresh_url()
    raw = bytearray(made.read_bytes())
    kid_at = len(bk.MAGIC) + bk.ID_BYTES + 2
    # the wrapped key, the master key's id (bound to every chunk), the backup id, the magic
    for where, code in ((kid_at + 40, "backup_tampered"), (kid_at + 3, "backup_tampered"),
                        (len(bk.MAGIC) + 2, "backup_tampered"), (2, "backup_not_a_backup")):
        bad = bytearray(raw)
        bad[where] ^= 0x01
        p = made.with_name(f"header-{where}.sbbak")
        p.write_bytes(bytes(bad))
        refused(p, target, code)


def rewrite_manifest(path: Path, out: Path, change) -> None:
    """A backup whose manifest, sealed with the right key, says something else (an insider with the key, or a
    bug): the restore must still hold it against the payload and the target."""
    with open(path, "rb") as fh:
        r = bk._Reader(fh, str(path))
        m = json.loads(b"".join(r.section("manifest", bk.MAX_MANIFEST)))
        payload = list(r.section("payload", bk.MAX_FRAME))
    change(m)
    with open(out, "wb") as fh:
        w = bk._Writer(fh, r.id, r.key)
        w.section("manifest", iter([json.dumps(m).encode()]))
        w.section("payload", iter(payload))


@pytest.mark.parametrize(("case", "code"), [
    ("counts", "backup_manifest_mismatch"),
    ("missing table", "backup_manifest_mismatch"),
    ("head", "backup_manifest_mismatch"),
    ("sha256", "backup_manifest_mismatch"),
    ("size", "backup_manifest_mismatch"),
    ("revision", "backup_unknown_revision"),
    ("older revision", "backup_manifest_mismatch"),
    ("backend", "backup_wrong_backend"),
    ("ledger key", "backup_wrong_ledger_key"),
    ("format", "backup_bad_manifest"),
    ("data keys", "backup_wrong_key"),
])
def test_a_manifest_that_does_not_match_is_refused(made, fresh_url, case, code):
    def change(m):
        if case == "counts":
            m["row_counts"]["transfers"] += 1
        elif case == "missing table":
            del m["row_counts"]["payees"]
        elif case == "head":
            m["ledger"]["hash"] = "f" * 64
        elif case == "sha256":
            m["payload"]["sha256"] = "0" * 64
        elif case == "size":
            m["payload"]["bytes"] += 1
        elif case == "revision":
            m["schema_revision"] = "9999"
        elif case == "older revision":
            m["schema_revision"] = "0013"
        elif case == "backend":
            m["backend"] = "postgresql" if m["backend"] == "sqlite" else "sqlite"
        elif case == "ledger key":
            m["ledger"]["key_id"] = "0" * 16
        elif case == "format":
            m["format"] = 2
        elif case == "data keys":
            m["data_key_masters"] = ["0123456789abcdef"]

    p = made.with_name("lying.sbbak")
    rewrite_manifest(made, p, change)
    target = fresh_url()
    refused(p, target, code)
    assert verify(target).ok and verify(target).sealed == 0


# ---- consistency while the bank writes --------------------------------------------------------------------

def test_a_backup_taken_while_transfers_are_written_is_consistent(bank, engine, database_url, fresh_url, tmp_path,
                                                                   is_pg):
    accts = [bank.account(bank.customer(f"客户{i}"), balance=50_000) for i in range(4)]
    seal(engine)
    stop = threading.Event()
    errors: list[BaseException] = []
    written = [0]

    def payer(t: int) -> None:
        i = 0
        try:
            while not stop.is_set():
                d, c = accts[(t + i) % 4], accts[(t + i + 1) % 4]
                with contextlib.suppress(InsufficientFunds):
                    xfer(engine, d, c, 1 + (i * 37 + t) % 300, f"cc-{t}-{i}", pending=(i % 9 == 4))
                    written[0] += 1
                i += 1
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def sealer() -> None:
        try:
            while not stop.is_set():
                seal(engine)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=payer, args=(t,)) for t in range(2)] + [threading.Thread(target=sealer)]
    for th in threads:
        th.start()
    outs = []
    try:
        while written[0] < 5:
            stop.wait(0.01)
        for k in range(3):
            out = tmp_path / f"live-{k}.sbbak"
            ops.backup(out, url=database_url)
            outs.append(out)
    finally:
        stop.set()
        for th in threads:
            th.join(60)
    assert not errors, errors
    heads = []
    for out in outs:
        m = ops.read_manifest(out)
        target = fresh_url()
        res = ops.restore(out, url=target)
        assert res.ok, res.verify["problems"]
        got = state(target)
        assert len(got["transfers"]) == m.row_counts["transfers"]
        assert got["seals"][-1][0] == m.ledger["seq"] if got["seals"] else m.ledger["seq"] == 0
        heads.append(m.row_counts["transfers"])
    assert heads == sorted(heads) and heads[-1] < bank.count("transfers") + 1
    bank.assert_invariants()


# ---- PostgreSQL client programs ---------------------------------------------------------------------------

def test_pg_tools_are_found_and_a_version_mismatch_is_explained(monkeypatch, tmp_path):
    import shutil

    if shutil.which("pg_dump") is None:
        pytest.skip("no PostgreSQL client programs on this machine")
    tools = bk.find_pg_tools(9)
    assert Path(tools.pg_dump).name == "pg_dump" and tools.major >= 9
    with pytest.raises(ops.BackupError) as exc:
        bk.find_pg_tools(99)
    assert exc.value.code == "backup_pg_version_mismatch" and "postgresql-client-99" in exc.value.message
    monkeypatch.setattr(bk, "_candidates", lambda: [tmp_path])
    with pytest.raises(ops.BackupError) as exc:
        bk.find_pg_tools(15)
    assert exc.value.code == "backup_no_pg_tools"
