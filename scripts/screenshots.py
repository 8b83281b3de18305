"""Render the key pages of the demo bank into docs/screenshots/ (``make screenshots``).

Builds the demo bank (``smartbank demo --no-serve``) in a temporary SQLite database, serves it on a free port,
and takes Chromium screenshots: the portal's home, transfer, wealth and loans pages in zh and en on a phone
(390x844) and on a desktop (1440x900), the elderly-mode home, and the console pages each role works on (the
teller's customer, the loan officer's case, the risk dashboard, the rules, the assistant queue). Each picture is
the first screen, saved as a PNG of at most 256 colours to keep the folder small.

    python scripts/screenshots.py [--out docs/screenshots] [--customers 40] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("SMARTBANK_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "demo1234"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1440, "height": 900}, "device_scale_factor": 1}
PORTAL = [("home", "/"), ("transfer", "/transfer"), ("wealth", "/wealth"), ("loans", "/loans"), ("me", "/me"),
          ("assistant", "/assistant"), ("history", "/accounts/"), ("loyalty", "/loyalty")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _smartbank(env: dict, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "smartbank"), *args], env=env, check=True, **kw)


def _wait(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server stopped (exit {proc.returncode})")
        try:
            with urlopen(url + "/login", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not answer in time")


def _save(page, path: Path) -> None:
    """The first screen as a PNG, reduced to 256 colours when Pillow is there (a third of the size)."""
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # fonts and charts settle
    page.screenshot(path=str(path))
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def _sign_in(page, username: str, *, console: bool, env: dict) -> None:
    page.goto("/console/login" if console else "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state("load")
    for _ in range(3):  # a code is accepted once: the same person signing in again waits for the next one
        if not page.url.split("?")[0].endswith("/login/mfa"):
            break
        if _:
            time.sleep(31 - time.time() % 30)
        out = _smartbank(env, "user", "totp", username, capture_output=True, text=True).stdout
        page.fill("#mfa-code", re.findall(r"\b\d{6}\b", out)[-1])
        page.click("#mfa-submit")
        page.wait_for_load_state("load")


def _first_link(page, prefix: str) -> str | None:
    hrefs = page.eval_on_selector_all(f"main a[href^='{prefix}']", "els => els.map(e => e.getAttribute('href'))")
    return next((h for h in hrefs if re.match(re.escape(prefix) + r"[^/?]+$", h) and not h.endswith("/new")), None)


def shoot(base: str, out: Path, env: dict) -> list[Path]:
    from playwright.sync_api import sync_playwright

    made: list[Path] = []

    def context(browser, lang: str, size: dict, *, elder: bool = False):
        ctx = browser.new_context(base_url=base, locale="zh-CN" if lang == "zh" else "en-US", **size)
        ctx.add_cookies([{"name": "sb_lang", "value": lang, "url": base},
                         {"name": "sb_elder", "value": "1" if elder else "0", "url": base}])
        ctx.set_default_timeout(20_000)
        return ctx

    def save(page, name: str) -> None:
        path = out / f"{name}.png"
        _save(page, path)
        made.append(path)
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            for lang in ("zh", "en"):
                for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
                    ctx = context(browser, lang, size)
                    page = ctx.new_page()
                    _sign_in(page, "demo", console=False, env=env)
                    for name, path in PORTAL:
                        if path.endswith("/") and path != "/":  # a detail page: the first one the home links to
                            page.goto("/")
                            path = _first_link(page, path) or "/"
                        page.goto(path)
                        save(page, f"portal-{name}-{lang}-{size_name}")
                    ctx.close()
                ctx = context(browser, lang, PHONE, elder=True)
                page = ctx.new_page()
                _sign_in(page, "demo", console=False, env=env)
                page.goto("/")
                save(page, f"elder-home-{lang}-phone")
                ctx.close()
            for lang in ("zh", "en"):
                for user, shots in (
                        ("teller", [("teller-workbench", "/console", None),
                                    ("teller-customer", "/console/customers?q=%E7%8E%8B", "/console/customers/")]),
                        ("loan", [("loan-officer-case", "/console/lending/reviews", "/console/lending/reviews/")]),
                        ("risk", [("risk-dashboard", "/console/risk", None),
                                  ("risk-rules", "/console/risk/rules", None)]),
                        ("agent", [("assistant-queue", "/console/assistant/queue", None)]),
                        ("marketer", [("marketing-home", "/console/marketing", None),
                                      ("marketing-campaign", "/console/marketing/campaigns",
                                       "/console/marketing/campaigns/"),
                                      ("marketing-experiment", "/console/marketing/experiments",
                                       "/console/marketing/experiments/"),
                                      ("marketing-uplift", "/console/marketing/uplift", None),
                                      ("marketing-journeys", "/console/marketing/journeys", None),
                                      ("loyalty", "/console/loyalty", None),
                                      ("opinion", "/console/opinion", None)])):
                    ctx = context(browser, lang, DESKTOP)
                    page = ctx.new_page()
                    _sign_in(page, user, console=True, env=env)
                    for name, path, detail in shots:
                        page.goto(path)
                        if detail:
                            link = _first_link(page, detail)
                            if link is None:
                                print(f"  (no {detail} link on {path}: the list page instead)")
                            else:
                                page.goto(link)
                        save(page, f"console-{name}-{lang}")
                    ctx.close()
        finally:
            browser.close()
    return made


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--customers", type=int, default=300)  # enough for the demo campaigns' uplift models
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the demo bank in this folder and keep it")
    a = ap.parse_args(argv)
    work = a.keep or Path(tempfile.mkdtemp(prefix="smartbank-shots-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SMARTBANK_DATABASE_URL": f"sqlite:///{work / 'demo.db'}", "SMARTBANK_VAR_DIR": str(work),
           "SMARTBANK_MODEL_DIR": str(work / "models"), "SMARTBANK_DEV_MODE": "1",
           "SMARTBANK_SMS_OUTBOX": str(work / "sms-outbox.jsonl"), "SMARTBANK_LOG_JSON": "false"}
    env.pop("SMARTBANK_SECRET_KEY", None)
    port = _free_port()
    server = None
    try:
        print(f"building the demo bank in {work} ...", flush=True)
        _smartbank(env, "demo", "--customers", str(a.customers), "--months", str(a.months), "--no-serve",
                   stdout=subprocess.DEVNULL)
        server = subprocess.Popen([str(BIN / "smartbank"), "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        _wait(base, server)
        a.out.mkdir(parents=True, exist_ok=True)
        for old in a.out.glob("*.png"):
            old.unlink()
        print(f"screenshots into {a.out} ...", flush=True)
        made = shoot(base, a.out, env)
        total = sum(p.stat().st_size for p in made)
        print(f"{len(made)} screenshots, {total / 1e6:.1f} MB")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
