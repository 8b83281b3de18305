"""``smartbank worker`` runs the background jobs (``--once``: each once, a JSON line), stops on SIGTERM releasing
its lock; ``smartbank serve`` answers HTTP only and shares its metrics when several processes serve;
``smartbank demo`` runs the worker beside its server and stops it with the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from smartbank.cli import app
from smartbank.metrics import ENV as MULTIPROC_ENV
from smartbank.ops.worker import guard_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.commits  # the worker holds its lock on a connection of its own
def test_worker_once_runs_every_job_and_prints_how_each_went(database_url, bank, engine):
    alice = bank.customer("王芳")
    bank.account(alice, balance=10_000)
    r = CliRunner().invoke(app, ["worker", "--once", "--database-url", database_url])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1]) == {
        "jobs": {"seal": "ok", "insight": "ok", "close-of-day": "ok", "marketing": "ok"}, "ok": True}
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM ledger_unsealed")).scalar() == 0
        assert c.execute(text("SELECT count(*) FROM customer_profiles")).scalar() == 1


@pytest.mark.commits  # the worker holds its lock on a connection of its own
def test_worker_refuses_an_unknown_job_and_a_busy_lock(database_url):
    r = CliRunner().invoke(app, ["worker", "--job", "coffee", "--database-url", database_url])
    assert r.exit_code == 2 and "unknown job" in r.output
    other = guard_for(database_url)
    assert other.acquire()
    try:  # another worker runs: --once does nothing and says so
        r = CliRunner().invoke(app, ["worker", "--once", "--job", "seal", "--database-url", database_url])
        assert r.exit_code == 1 and json.loads(r.output.strip().splitlines()[-1]) == {"jobs": {}, "ok": False}
    finally:
        other.release()


@pytest.mark.commits  # the worker runs in another process
def test_the_worker_process_stops_on_sigterm_and_frees_its_lock(database_url):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "smartbank.cli", "worker", "--job", "seal",
                             "--database-url", database_url], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    probe = guard_for(database_url)
    try:
        deadline = time.monotonic() + 60
        while probe.acquire():  # free until the worker has started and taken it
            probe.release()
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "SIGTERM" in err
    assert probe.acquire()  # released
    probe.release()


@pytest.fixture
def fake_uvicorn(monkeypatch):
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append({"target": target, **kw}))
    return calls


def test_serve_runs_http_only_and_shares_metrics_between_several_processes(database_url, fake_uvicorn, tmp_path,
                                                                           monkeypatch):
    from smartbank import config

    monkeypatch.setenv("SMARTBANK_VAR_DIR", str(tmp_path))
    monkeypatch.setenv(MULTIPROC_ENV, "set-by-this-test")
    monkeypatch.delenv(MULTIPROC_ENV)  # unset now, and again after the test
    config.reset_settings()
    before = set(threading.enumerate())
    assert CliRunner().invoke(app, ["serve"]).exit_code == 0
    assert MULTIPROC_ENV not in os.environ  # one process: its own registry
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / "counter_1.db").write_bytes(b"an earlier run")
    assert CliRunner().invoke(app, ["serve", "--workers", "3"]).exit_code == 0
    assert os.environ[MULTIPROC_ENV] == str(tmp_path / "prometheus")  # inherited by the serving processes
    assert list((tmp_path / "prometheus").iterdir()) == []  # and emptied of the last run's counts
    assert [(c["target"], c["workers"]) for c in fake_uvicorn] == [("smartbank.api.app:serving_app", 1),
                                                                    ("smartbank.api.app:serving_app", 3)]
    assert set(threading.enumerate()) == before  # no background thread in the serving command


@pytest.mark.commits  # the demo migrates, and the worker holds its lock, on connections of their own
def test_demo_runs_the_worker_beside_the_server_and_stops_it_with_the_server(database_url, bank, fake_uvicorn,
                                                                            monkeypatch):
    bank.user("someone", role="admin")  # a seeded bank: the demo only serves
    seen: dict = {}

    def served(target, **kw):
        deadline = time.monotonic() + 30
        while not seen.get("sealed") and time.monotonic() < deadline:
            seen["threads"] = {t.name for t in threading.enumerate()}
            seen["sealed"] = any(n.startswith("worker-seal") for n in seen["threads"])
            time.sleep(0.02)

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", served)
    r = CliRunner().invoke(app, ["demo", "--database-url", database_url])
    assert r.exit_code == 0, r.output
    assert {"smartbank-worker", "worker-seal"} <= seen["threads"]  # running while the server served
    still = {t.name for t in threading.enumerate()}
    assert not {"smartbank-worker", "worker-seal", "worker-insight"} & still  # stopped with the server
