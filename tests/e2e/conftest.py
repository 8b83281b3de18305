"""Browser tests: the app served by uvicorn in a background thread, driven by Debian's Chromium.

The server lives for the whole test session; each test's ``database_url`` fixture points the
settings (read lazily, per request) at that test's database, so the server always serves the
database the test arranged. Playwright drives ``/usr/bin/chromium`` (no ``playwright install``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

CHROMIUM = os.environ.get("SMARTBANK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True,
         "has_touch": True}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The session's app served over HTTP. Its tests run with real commits (``commits`` is implied): the
    server answers from its own threads and connections."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (scripts/ensure-system.sh chromium installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _context(browser, live_server: str, **kw):
    ctx = browser.new_context(base_url=live_server, locale="zh-CN", **kw)
    ctx.set_default_timeout(10_000)
    return ctx


@pytest.fixture
def page(browser, live_server, database_url):
    ctx = _context(browser, live_server)
    yield ctx.new_page()
    ctx.close()


@pytest.fixture
def phone(browser, live_server, database_url):
    ctx = _context(browser, live_server, **PHONE)
    yield ctx.new_page()
    ctx.close()
