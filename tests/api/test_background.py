"""The served app answers HTTP and runs no background work; its request log lines are written by the log
thread; ``/metrics`` sums the counters of every serving process in multiprocess mode."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smartbank import logs
from smartbank.api import app as app_module
from smartbank.metrics import ENV as MULTIPROC_ENV
from tests.conftest import login

ROOT = Path(__file__).resolve().parents[2]


def _names(threads) -> set[str]:
    """Thread names without the per-instance suffix anyio gives its portal threads."""
    return {t.name.split("-7f")[0] if t.name.startswith("asyncio-portal") else t.name for t in threads}


def test_the_served_app_starts_no_background_job(database_url, monkeypatch):
    # the assistant's models are loaded in a thread that ends when they are; not what this test is about
    monkeypatch.setattr(app_module, "_warm_assistant", app_module._ready.set)
    before = set(threading.enumerate())
    with TestClient(FastAPI()):  # what the test client itself starts (its event-loop thread)
        client_threads = _names(set(threading.enumerate()) - before)
    with TestClient(app_module.serving_app()) as client:
        assert app_module._ready.wait(30)
        for t in threading.enumerate():
            if t.name == "assistant-warm-up":
                t.join(30)
        started = _names(set(threading.enumerate()) - before)  # once the app has started
        assert client.get("/healthz").status_code == 200
    assert started - client_threads <= {logs.LISTENER_THREAD}, started  # the log writer, nothing else
    assert not {n for n in started if "seal" in n or "refresh" in n or n.startswith("worker")}
    # nothing of the app's outlives it (the test client's idle request threads end on their own)
    assert {t.name for t in set(threading.enumerate()) - before} <= {"AnyIO worker thread"}


class _Lines(io.StringIO):
    """A stream that remembers which thread wrote each line."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: list[str] = []
        self.written = threading.Event()

    def write(self, s: str) -> int:
        self.writers.append(threading.current_thread().name)
        n = super().write(s)
        if "request" in s:
            self.written.set()
        return n


def test_a_request_log_line_is_written_by_the_log_thread(client):
    assert logs.is_listening()  # the app's lifespan started the log thread
    out = _Lines()
    with logs.writing_to(out, logs.JsonFormatter()):
        r = client.get("/healthz", headers={"X-Request-ID": "queued-line-1"})
        assert r.status_code == 200
        assert out.written.wait(10)
    lines = [json.loads(x) for x in out.getvalue().splitlines() if x.strip()]
    line = next(x for x in lines if x.get("request_id") == "queued-line-1")
    assert line["msg"] == "request" and line["path"] == "/healthz" and line["status"] == 200
    assert set(out.writers) == {logs.LISTENER_THREAD}  # formatted and written off the request's thread


def test_a_queued_record_keeps_its_request_id_message_and_traceback():
    """What only the emitting thread knows is read before the record is queued."""
    import logging

    handler = logs._Handoff(__import__("queue").SimpleQueue(), logging.StreamHandler(io.StringIO()))
    token = logs.request_id_var.set("rid-7")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            rec = logging.getLogger("smartbank.t").makeRecord("smartbank.t", logging.ERROR, __file__, 1,
                                                              "paid %s", ("42",), sys.exc_info())
        prepared = handler.prepare(rec)
    finally:
        logs.request_id_var.reset(token)
    line = json.loads(logs.JsonFormatter().format(prepared))  # formatted later, in another context
    assert line["request_id"] == "rid-7" and line["msg"] == "paid 42"
    assert "ValueError: boom" in line["exc"]


_COUNT = """
from smartbank.api import observability as o
from smartbank.metrics import mark_process_dead
o.REQUESTS.labels("GET", "/api/v1/probe", "200").inc({n})
mark_process_dead()
"""


@pytest.fixture
def admin_headers(client, bank):
    bank.user("root", role="admin")
    return login(client, "root")


def test_metrics_sum_the_counters_of_every_serving_process(client, admin_headers, tmp_path, monkeypatch):
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    for n in (3, 4):  # two processes serving requests
        subprocess.run([sys.executable, "-c", _COUNT.format(n=n)], env=env, check=True, timeout=120)
    assert list(tmp_path.glob("counter_*.db"))
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))  # this process answers /metrics for all of them
    r = client.get("/metrics", headers=admin_headers)
    assert r.status_code == 200, r.text
    assert 'smartbank_http_requests_total{method="GET",route="/api/v1/probe",status="200"} 7.0' in r.text
    monkeypatch.delenv(MULTIPROC_ENV)
    assert "/api/v1/probe" not in client.get("/metrics", headers=admin_headers).text  # one process: its own
    assert client.get("/metrics").status_code == 401  # the access rule is the same in both modes


def test_serving_several_processes_starts_from_an_empty_metrics_directory(tmp_path, monkeypatch):
    from smartbank import metrics

    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("kept")
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    metrics.use_multiprocess_dir(tmp_path)
    assert os.environ[MULTIPROC_ENV] == str(tmp_path)
    assert not (tmp_path / "counter_123.db").exists() and (tmp_path / "notes.txt").exists()
