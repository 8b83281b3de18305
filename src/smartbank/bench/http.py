"""``smartbank bench http``: POST /api/v1/transfers against a real server, from concurrent clients.

The server is started as it is in production (``uvicorn`` with ``workers`` processes answering HTTP only)
with a ``smartbank worker`` beside it running the journal sealer (alone: the insight refresh is measured by
``bench insight`` and close of day is a nightly batch, this measures the payment API); each client is a
separate process with one keep-alive connection, paying from its own customer's accounts to random other
bench accounts.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

from sqlalchemy import pool, select

from smartbank.bench.ledger import prepare as prepare_accounts
from smartbank.bench.ledger import seal_backlog, total_balance
from smartbank.config import get_settings, secret_key_problem
from smartbank.db import make_engine, session_scope
from smartbank.ledger.service import Account
from smartbank.risk import service as risk
from smartbank.security import service as security
from smartbank.security.service import User

USERS_PER_CLIENT = 2
PASSWORD = "bench-pass-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url: str, clients: int) -> tuple[list[tuple[str, int, str]], list[str]]:
    """Bench customers with sign-ins and funded accounts: [(username, account id, account number)], and
    the numbers of every bench account (the payees)."""
    n_users = clients * USERS_PER_CLIENT
    ids = prepare_accounts(url, max(1000, n_users))
    engine = make_engine(url, poolclass=pool.NullPool)
    users: list[tuple[str, int, str]] = []
    with session_scope(engine) as s:
        accts = {a.id: a for a in s.scalars(select(Account).where(Account.id.in_(ids)))}
        numbers = [accts[i].number for i in ids]
        for i in range(n_users):
            acct = accts[ids[i]]
            name = f"bench_http_{i}"
            if s.scalars(select(User.id).where(User.username == name)).first() is None:
                security.create_user(s, username=name, password=PASSWORD, role="customer",
                                     customer_id=acct.customer_id, check_strength=False)
            users.append((name, acct.id, acct.number))
    # the bank's default risk rules and limits, as a new installation has them (every payment is scored)
    with session_scope(engine) as s:
        risk.seed_defaults(s)
    engine.dispose()
    return users, numbers


def _client(port: int, creds: list[tuple[str, int, str]], numbers: list[str], seconds: float, start_at: float,
            seed: int, q: Any) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    tokens = []
    own: dict[int, str] = {}
    for username, acct, acct_number in creds:
        own[acct] = acct_number
        conn.request("POST", "/api/v1/auth/login", json.dumps({"username": username, "password": PASSWORD}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        tokens.append((json.loads(r.read())["token"], acct))
    run = uuid.uuid4().hex[:10]
    lat: list[float] = []
    statuses: dict[int, int] = {}
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    n = 0
    cpu0 = time.process_time()
    while time.time() < end:
        token, acct = tokens[n % len(tokens)]
        n += 1
        to = rng.choice(numbers)
        while to == own[acct]:
            to = rng.choice(numbers)
        body = json.dumps({"from_account_id": acct, "to_account_number": to,
                           "amount_minor": rng.randint(1, 5000), "currency": "CNY", "memo": "bench"})
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/transfers", body, {
            "Content-Type": "application/json", "Authorization": f"Bearer {token}",
            "Idempotency-Key": f"h{run}{n}"})
        r = conn.getresponse()
        r.read()
        lat.append(time.perf_counter() - t0)
        statuses[r.status] = statuses.get(r.status, 0) + 1
    conn.close()
    q.put((lat, statuses, time.process_time() - cpu0))


def run(url: str, *, clients: int = 16, seconds: float = 10.0, workers: int = 2) -> dict[str, Any]:
    users, numbers = prepare(url, clients)
    seal_backlog(url)  # earlier runs' transfers are not the worker's sealing during this one
    port = _free_port()
    env = {**os.environ, "SMARTBANK_DATABASE_URL": url, "SMARTBANK_LOG_JSON": "true"}
    if secret_key_problem(get_settings()):  # a local benchmark server: development mode, like the demo
        env["SMARTBANK_DEV_MODE"] = "1"
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "smartbank.api.app:serving_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sealer = subprocess.Popen([sys.executable, "-m", "smartbank.cli", "worker", "--job", "seal"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # measure the steady state: wait until the workers have loaded their models (``/readyz``; the
        # assistant's in-memory intent model alone is seconds of CPU per worker), i.e. until several
        # answers in a row, each on a new connection and so from any worker, say ready
        deadline = time.time() + 180
        in_a_row = 0
        while in_a_row < 5 * workers:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/readyz")
                in_a_row = in_a_row + 1 if c.getresponse().status == 200 else 0
                c.close()
            except OSError:
                in_a_row = 0
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2 if in_a_row == 0 else 0.02)
        all_ids = prepare_accounts(url, max(1000, len(users)))
        before, _ = total_balance(url, all_ids)
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        start_at = time.time() + 3.0  # every client signs in first
        procs = []
        for i in range(clients):
            creds = users[i * USERS_PER_CLIENT:(i + 1) * USERS_PER_CLIENT]
            p = ctx.Process(target=_client, args=(port, creds, numbers, seconds, start_at, 1000 + i, q))
            p.start()
            procs.append(p)
        results = [q.get() for _ in procs]
        for p in procs:
            p.join()
    finally:
        for proc in (server, sealer):
            proc.terminate()
        for proc in (server, sealer):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
    lat = sorted(x for r, _, _ in results for x in r)
    client_cpu = sum(c for _, _, c in results)
    statuses: dict[int, int] = {}
    for _, st, _ in results:
        for k, v in st.items():
            statuses[k] = statuses.get(k, 0) + v
    after, sound = total_balance(url, all_ids)
    n = len(lat)
    ok = statuses.get(201, 0)

    def pct(p: float) -> float:
        return round(lat[min(n - 1, int(p * n))] * 1000, 2) if n else 0.0

    return {"clients": clients, "workers": workers, "seconds": seconds, "requests": n, "transfers": ok,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}, "tps": round(ok / seconds, 1),
            "p50_ms": pct(0.5), "p99_ms": pct(0.99), "conserved": before == after and sound,
            # the load generator shares the machine: its own CPU per request, for reading the figures
            "client_cpu_ms_per_request": round(client_cpu * 1000 / n, 3) if n else 0.0}
