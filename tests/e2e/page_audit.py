"""Look at every page the way its users meet it: sign in as each person, follow the links from the navigation
(and the detail pages they link to), and check each page in zh and in en.

Checks per page (issue 17):

- **language**: a zh page shows no English words and no ``snake_case`` tokens (visible text, the title,
  ``placeholder``, ``aria-label``, ``alt``, ``title`` and button values); an en page no Chinese. Text inside an
  element whose ``lang`` is another language (the 中文/English switch) is that language's by declaration and
  exempt, and so is text marked ``translate="no"`` (a key, recovery codes). The few words allowed anyway are
  in ``language_allow.txt`` beside this file, each with its reason; the data a test arranged (people's names,
  memos) is allowed by the caller;
- **scroll**: no horizontal scroll at a phone's width (``scrollWidth <= innerWidth + 1``), with the elements that
  stick out named;
- **axe**: axe-core finds no serious or critical violation;
- **format**: no amount of a thousand or more without its thousands separators (it skipped the formatter);
- **status**: a link from a page leads to a page that answers (no 4xx/5xx).

Used by ``tests/e2e/test_every_page.py`` and, on a running server, from the command line::

    python -m tests.e2e.page_audit --base-url http://127.0.0.1:8000 --customer demo --staff teller \\
        --staff loan --staff risk --staff marketer --staff agent --staff admin --password demo1234

A staff member's second factor: the code printed by ``--totp-command`` (default ``smartbank user totp {user}``,
the demo's helper; it reads the same SMARTBANK_DATABASE_URL as the server).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ALLOW_FILE = Path(__file__).with_name("language_allow.txt")

PHONE_WIDTH = 360
SIBLINGS = 2  # detail pages of one list visited (beyond the navigation's own pages)
SIZES = {"phone": {"width": PHONE_WIDTH, "height": 780}, "desktop": {"width": 1440, "height": 900}}

# links a crawl never follows: they sign out, flip a preference, download a file, or leave the pages
SKIP_PATHS = re.compile(r"^/(logout|console/logout|prefs/|static/|docs|redoc|openapi|api/|metrics|healthz)")
SKIP_SUFFIX = re.compile(r"\.(csv|pdf|json|xlsx|zip|png|jpg|svg)$|/(download|export)(/|$)", re.I)

# an English word (letters, maybe joined by _ - . or ') and a run of Chinese characters or full-width punctuation
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_\-.'’][A-Za-z0-9]+)*")
SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")
# codes and acronyms, all in capitals (a word in a sentence has small letters): product codes of the catalogue
# (F-BOND, TD1Y, PERSONAL), a share class or a score band (汇通货币A, A 级), file formats (PDF), LPR, PSI
PRODUCT_CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*$")
# risk grades as the regulator writes them (products R1-R5, customers C1-C5) and reference numbers (capitals
# and at least six digits: LN2026120800000001, LA..., a payment's reference)
GRADE_OR_REFERENCE = re.compile(r"^(?:[RC][1-5]|[A-Z]{1,4}\d{6,})$")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff5e]+")
SERIOUS = ("serious", "critical")
# an amount of a thousand or more written without its thousands separators (50000.00 CNY, not ¥50,000.00): not
# through the formatter
RAW_AMOUNT = re.compile(r"(?<![\d.,])\d{4,}\.\d{2}(?![\d%])")
# what a person meets before signing in
PUBLIC_PAGES = ("/login", "/console/login", "/signup", "/password-reset")

# the visible text of the page, the labels read aloud and the button words; text declared in another language
# (an ancestor's lang attribute) is left out
_TEXT_JS = r"""
(pageLang) => {
  const primary = (l) => (l || '').toLowerCase().split('-')[0];
  const want = primary(pageLang || document.documentElement.lang);
  // text declared in another language, or declared not to be translated (keys, recovery codes: translate="no")
  const foreign = (el) => {
    if (el && el.closest('[translate="no"]')) return true;
    const l = el && el.closest('[lang]');
    return !!l && primary(l.lang) !== want;
  };
  const shown = (el) => el.checkVisibility ? el.checkVisibility({checkVisibilityCSS: true}) : true;
  const out = [{where: 'title', text: document.title}];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || ['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE'].includes(el.tagName)) continue;
    const inSelect = !!el.closest('select');
    if (!inSelect && !shown(el)) continue;
    if (foreign(el)) continue;
    const t = n.textContent.trim();
    if (t) parts.push(t);
  }
  out.push({where: 'text', text: parts.join(' \n ')});
  const labelled = '[placeholder],[aria-label],[alt],[title],input[type=submit],input[type=button],input[type=reset]';
  for (const el of document.querySelectorAll(labelled)) {
    if (foreign(el)) continue;
    for (const a of ['placeholder', 'aria-label', 'alt', 'title']) {
      const v = el.getAttribute(a);
      if (v && v.trim()) out.push({where: a, text: v});
    }
    const button = el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type);
    if (button && el.value) out.push({where: 'value', text: el.value});
  }
  return out;
}
"""

# the page's width against the window's, and the deepest elements that stick out on the right
_SCROLL_JS = r"""
() => {
  const w = window.innerWidth, sw = document.documentElement.scrollWidth;
  const out = [];
  if (sw > w + 1) {
    const all = Array.from(document.body.querySelectorAll('*'));
    let over = all.filter(el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > w + 1; });
    if (!over.length) over = all.filter(el => el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0);
    const deepest = over.filter(el => !over.some(o => o !== el && el.contains(o)));
    for (const el of deepest.slice(0, 5)) {
      const r = el.getBoundingClientRect();
      const cls = typeof el.className === 'string' ? el.className.trim() : '';
      const name = el.localName + (el.id ? '#' + el.id : '') + (cls ? '.' + cls.split(/\s+/).join('.') : '');
      out.push(name + ' right=' + Math.round(r.right) + ' "' + (el.innerText || '').trim().slice(0, 40) + '"');
    }
  }
  return {width: w, scrollWidth: sw, culprits: out};
}
"""

# "primary actions" of a page: the links and buttons a person sees in the content and in the navigation
# (the header's preferences, the sign-out and the skip link are not actions of the page)
_ACTIONS_JS = r"""
() => {
  const shown = (el) => el.checkVisibility ? el.checkVisibility({checkVisibilityCSS: true}) : true;
  const els = document.querySelectorAll('main a[href], main button, main input[type=submit], nav a[href], nav button');
  const out = [];
  for (const el of els) {
    if (!shown(el) || el.closest('.prefs, .who, .skip')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    out.push((el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 30));
  }
  return out;
}
"""


@dataclass(frozen=True)
class Finding:
    """One problem on one page: ``kind`` is language, format, scroll, axe or status."""

    kind: str
    who: str
    lang: str
    size: str
    url: str
    detail: str

    def line(self) -> str:
        return f"[{self.kind}] {self.url} ({self.who}, {self.lang}, {self.size}): {self.detail}"


@dataclass
class Allow:
    """Words a page may show in a language other than its own (see ``language_allow.txt``)."""

    zh: set[str] = field(default_factory=set)  # English words allowed in zh pages (exact, case-sensitive)
    en: set[str] = field(default_factory=set)  # Chinese runs allowed in en pages (names from the data...)

    @classmethod
    def load(cls, path: Path = ALLOW_FILE, *, zh: Iterable[str] = (), en: Iterable[str] = ()) -> Allow:
        a = cls(set(zh), set(en))
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            lang, _, words = line.partition(":")
            target = a.zh if lang.strip() == "zh" else a.en
            target.update(w for w in words.split() if w)
        return a

    def add_data(self, *texts: str) -> None:
        """Data the test arranged (names, memos, nicknames) may show as it is in either language."""
        for t in texts:
            self.zh.update(WORD.findall(t))
            self.en.update(CJK.findall(t))


def language_problems(segments: list[dict], lang: str, allow: Allow) -> list[str]:
    """The offending tokens of a page's text segments, each with where it was and a little context."""
    seen: dict[str, str] = {}
    for seg in segments:
        text = seg["text"] or ""
        if lang == "zh":
            for m in WORD.finditer(text):
                tok = m.group(0)
                if tok in allow.zh or PRODUCT_CODE.match(tok) or GRADE_OR_REFERENCE.match(tok) or tok in seen:
                    continue
                kind = "snake_case" if SNAKE.match(tok) else "English"
                seen[tok] = f"{kind} {tok!r} in {seg['where']}: …{_around(text, m.start(), m.end())}…"
        else:
            for m in CJK.finditer(text):
                tok = m.group(0)
                if tok in allow.en or tok in seen:
                    continue
                seen[tok] = f"Chinese {tok!r} in {seg['where']}: …{_around(text, m.start(), m.end())}…"
    return list(seen.values())


def format_problems(segments: list[dict]) -> list[str]:
    """Amounts on the page that did not go through the formatter."""
    out: dict[str, str] = {}
    for seg in segments:
        text = seg["text"] or ""
        for m in RAW_AMOUNT.finditer(text):
            out.setdefault(m.group(0), f"unformatted amount {m.group(0)!r} in {seg['where']}: "
                                       f"…{_around(text, m.start(), m.end())}…")
    return list(out.values())


def _around(text: str, start: int, end: int, n: int = 24) -> str:
    return " ".join(text[max(0, start - n):end + n].split())


def page_language(page, lang: str, allow: Allow) -> list[str]:
    return language_problems(page.evaluate(_TEXT_JS, lang), lang, allow)


def page_text_checks(page, lang: str, allow: Allow) -> tuple[list[str], list[str]]:
    """The language problems and the unformatted amounts of the page, from one reading of its text."""
    segments = page.evaluate(_TEXT_JS, lang)
    return language_problems(segments, lang, allow), format_problems(segments)


def page_scroll(page) -> list[str]:
    r = page.evaluate(_SCROLL_JS)
    if r["scrollWidth"] <= r["width"] + 1:
        return []
    return [f"scrollWidth {r['scrollWidth']} > {r['width']}; sticking out: " + "; ".join(r["culprits"])]


_axe = None


def page_axe(page) -> list[str]:
    """axe-core's serious and critical violations, each with a few of its elements."""
    global _axe
    if _axe is None:
        from axe_playwright_python.sync_playwright import Axe

        _axe = Axe()
    res = _axe.run(page)
    out = []
    for v in res.response.get("violations", []):
        if v.get("impact") in SERIOUS:
            targets = ", ".join(" ".join(map(str, n.get("target", []))) for n in v.get("nodes", [])[:4])
            out.append(f"{v['impact']} {v['id']} ({v.get('help', '')}) x{len(v.get('nodes', []))}: {targets}")
    return out


def primary_actions(page) -> list[str]:
    return page.evaluate(_ACTIONS_JS)


def set_lang(context, base_url: str, lang: str, *, elder: bool = False) -> None:
    context.add_cookies([{"name": "sb_lang", "value": lang, "url": base_url},
                         {"name": "sb_elder", "value": "1" if elder else "0", "url": base_url}])


def sign_in(page, username: str, password: str, *, console: bool = False,
            totp: Callable[[str, str | None], str] | None = None, on_step: Callable[[], None] | None = None) -> None:
    """Sign in through the forms. A staff member types the code of a second factor; ``totp(username, secret)``
    makes it (``secret`` is the key shown when the sign-in asks to enrol one). ``on_step`` looks at each page of
    the second step (the code, the enrolment, the recovery codes) while it is open."""
    page.goto("/console/login" if console else "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state("load")
    path = urlsplit(page.url).path
    if path.endswith("/login/enrol"):
        assert totp is not None, f"{username} must enrol a second factor"
        secret = page.inner_text("#mfa-secret").strip()
        if on_step:
            on_step()
        page.fill("#mfa-code", totp(username, secret))
        page.click("#mfa-submit")
        page.wait_for_load_state("load")
        if on_step:
            on_step()
        page.click("#codes-continue")
    elif path.endswith("/login/mfa"):
        assert totp is not None, f"{username} needs a second factor's code"
        if on_step:
            on_step()
        page.fill("#mfa-code", totp(username, None))
        page.click("#mfa-submit")
    page.wait_for_load_state("load")
    if urlsplit(page.url).path.endswith(("/login", "/login/mfa", "/login/enrol")):
        raise RuntimeError(f"{username} could not sign in (still on {page.url})")


def pattern(url: str) -> str:
    """A page's kind: its path with the ids replaced, without the query."""
    parts = urlsplit(url)
    # numbers, hex ids, and codes from the data (F-BOND, ELEC-BJ, a rule's or a tag's snake_case name)
    path = re.sub(r"/(\d+|[0-9a-f]{8,}|[0-9a-f-]{36}|[A-Z0-9]+(?:-[A-Z0-9]+)+|[a-z0-9]+(?:_[a-z0-9]+)+)(?=/|$)",
                  "/{id}", parts.path)
    return path  # a filter, a tab or a page of a list (the query) shows the same page


def _links(page, base_url: str) -> list[str]:
    hrefs = page.evaluate("""() => Array.from(document.querySelectorAll('a[href]'))
        .filter(a => !a.hasAttribute('download') && !(a.target && a.target !== '_self'))
        .map(a => a.href)""")
    origin = urlsplit(base_url).netloc
    out = []
    for h in hrefs:
        p = urlsplit(h)
        if p.scheme not in ("http", "https") or p.netloc != origin:
            continue
        if SKIP_PATHS.match(p.path) or SKIP_SUFFIX.search(p.path):
            continue
        out.append(p.path + ("?" + p.query if p.query else ""))
    return out


@dataclass
class Visit:
    url: str
    status: int
    depth: int


def crawl(page, base_url: str, start: str, *, depth: int = 2, max_pages: int = 60,
          seen_patterns: set[str] | None = None, on_page: Callable[[Visit], None] | None = None) -> list[Visit]:
    """Breadth-first from ``start`` over same-origin GET links up to ``depth`` clicks away; one page per
    :func:`pattern` (``seen_patterns`` shared across people skips kinds of detail page another person's crawl
    saw; the start page is always visited). ``on_page`` runs on each page while it is open."""
    seen_patterns = set() if seen_patterns is None else seen_patterns
    queue: list[tuple[str, int]] = [(start, 0)]
    mine: set[str] = {pattern(start)}
    siblings: dict[str, int] = {}  # detail pages per parent path: two of a list's items stand for the rest
    out: list[Visit] = []
    while queue and len(out) < max_pages:
        url, d = queue.pop(0)
        resp = page.goto(url)
        page.wait_for_load_state("load")
        v = Visit(url=url, status=resp.status if resp else 0, depth=d)
        out.append(v)
        if on_page is not None:
            on_page(v)
        if d >= depth or v.status >= 400:
            continue
        for link in _links(page, base_url):
            k = pattern(link)
            if k in mine or k in seen_patterns:
                continue
            parent = k.rsplit("/", 1)[0]
            if d >= 1 and k not in seen_patterns:
                siblings[parent] = siblings.get(parent, 0) + 1
                if siblings[parent] > SIBLINGS:
                    continue
            mine.add(k)
            queue.append((link, d + 1))
    seen_patterns.update(mine)
    return out


@dataclass
class Person:
    who: str  # a label for the report: the username and role
    username: str | None  # None: nobody signed in (the sign-in, sign-up and reset pages)
    password: str
    console: bool
    start: tuple[str, ...] = ()  # where the crawl starts: the home page when empty


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    pages: list[tuple[str, str]] = field(default_factory=list)  # (who, url)
    seconds: float = 0.0

    def by_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def text(self) -> str:
        lines = [f"{len(self.pages)} pages looked at in {self.seconds:.0f} s; {len(self.findings)} findings"]
        lines += [f.line() for f in self.findings]
        lines += ["", "pages:"] + [f"  {who}: {url}" for who, url in self.pages]
        return "\n".join(lines)


def audit(browser, base_url: str, people: list[Person], allow: Allow, *,
          totp: Callable[[str, str | None], str] | None = None, depth: int = 2, max_pages: int = 60,
          langs: tuple[str, ...] = ("zh", "en"), axe: bool = True, desktop: bool = False,
          log: Callable[[str], None] | None = None) -> Report:
    """Each person's crawl in the first language at phone width (language, scroll, axe once per kind of page),
    then the same pages in the other languages (language, scroll), and with ``desktop`` at 1440 px too
    (scroll, language)."""
    rep = Report()
    t0 = time.monotonic()
    patterns: set[str] = set()
    axed: set[str] = set()
    for person in people:
        ctx = browser.new_context(base_url=base_url, viewport=SIZES["phone"], locale="zh-CN")
        ctx.set_default_timeout(15_000)
        try:
            page = ctx.new_page()
            set_lang(ctx, base_url, langs[0])
            mine = Allow(set(allow.zh), set(allow.en))
            mine.add_data(person.username or "")

            def check(v: Visit, lang: str, size: str, with_axe: bool, person=person, page=page, mine=mine) -> None:
                rep.pages.append((person.who, v.url))
                if log:
                    log(f"{person.who} {lang} {size} {v.url}")
                if v.status >= 400:
                    rep.findings.append(Finding("status", person.who, lang, size, v.url, f"HTTP {v.status}"))
                    return
                words, amounts = page_text_checks(page, lang, mine)
                for p in words:
                    rep.findings.append(Finding("language", person.who, lang, size, v.url, p))
                for p in amounts:
                    rep.findings.append(Finding("format", person.who, lang, size, v.url, p))
                if size == "phone":
                    for p in page_scroll(page):
                        rep.findings.append(Finding("scroll", person.who, lang, size, v.url, p))
                if with_axe:
                    k = pattern(v.url)
                    if k not in axed:
                        axed.add(k)
                        for p in page_axe(page):
                            rep.findings.append(Finding("axe", person.who, lang, size, v.url, p))

            if person.username is not None:
                def step(first=langs[0], page=page, check=check) -> None:
                    u = urlsplit(page.url)
                    check(Visit(u.path + ("?" + u.query if u.query else ""), 200, 0), first, "phone", axe)

                sign_in(page, person.username, person.password, console=person.console, totp=totp, on_step=step)
                # the signed-in person's own name in the header is data, shown as it is in either language
                mine.add_data(*page.locator("header .user").all_inner_texts())

            starts = person.start or (("/console",) if person.console else ("/",))
            visits = []
            for home in starts:
                visits += crawl(page, base_url, home, depth=depth if not person.start else 0, max_pages=max_pages,
                                seen_patterns=patterns,
                                on_page=lambda v, first=langs[0]: check(v, first, "phone", axe))
            for lang in langs[1:]:
                set_lang(ctx, base_url, lang)
                for v in visits:
                    resp = page.goto(v.url)
                    check(Visit(v.url, resp.status if resp else 0, v.depth), lang, "phone", False)
            if desktop:
                page.set_viewport_size(SIZES["desktop"])
                for lang in langs:
                    set_lang(ctx, base_url, lang)
                    for v in visits:
                        resp = page.goto(v.url)
                        check(Visit(v.url, resp.status if resp else 0, v.depth), lang, "desktop", False)
        finally:
            ctx.close()
    rep.seconds = time.monotonic() - t0
    return rep


def elder_home(browser, base_url: str, person: Person, *, totp=None, lang: str = "zh") -> dict[str, list[str]]:
    """The elderly-mode home page of ``person`` at 360 px: its primary actions (``actions``) and what sticks out
    sideways (``scroll``)."""
    ctx = browser.new_context(base_url=base_url, viewport=SIZES["phone"], locale="zh-CN")
    try:
        page = ctx.new_page()
        set_lang(ctx, base_url, lang, elder=True)
        sign_in(page, person.username, person.password, console=person.console, totp=totp)
        page.goto("/")
        page.wait_for_load_state("load")
        return {"actions": primary_actions(page), "scroll": page_scroll(page)}
    finally:
        ctx.close()


def _totp_command(template: str) -> Callable[[str, str | None], str]:
    def code(username: str, secret: str | None) -> str:
        if secret:
            import pyotp

            return pyotp.TOTP(secret).now()
        out = subprocess.run(template.format(user=username), shell=True, check=True, capture_output=True,
                             text=True).stdout
        m = re.findall(r"\b\d{6}\b", out)
        if not m:
            raise RuntimeError(f"no code in the output of {template!r}: {out!r}")
        return m[-1]
    return code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.e2e.page_audit", description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--customer", action="append", default=[], help="a customer's username (repeatable)")
    ap.add_argument("--staff", action="append", default=[], help="a staff member's username (repeatable)")
    ap.add_argument("--password", default="demo1234")
    ap.add_argument("--totp-command", default="smartbank user totp {user}",
                    help="prints a staff member's current code ({user} is replaced)")
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--max-pages", type=int, default=60, help="per person")
    ap.add_argument("--lang", action="append", choices=["zh", "en"], help="default: zh then en")
    ap.add_argument("--no-axe", action="store_true")
    ap.add_argument("--desktop", action="store_true", help="also look at 1440 px")
    ap.add_argument("--elder", action="store_true", help="also count the elderly-mode home's primary actions")
    ap.add_argument("--allow", action="append", default=[], help="a word (either language) the data may show")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    allow = Allow.load()
    allow.add_data(*a.allow)
    people = ([Person("nobody signed in", None, "", False, start=PUBLIC_PAGES)]
              + [Person(f"{u} (customer)", u, a.password, False) for u in a.customer]
              + [Person(f"{u} (staff)", u, a.password, True) for u in a.staff])
    if len(people) == 1:
        ap.error("name at least one --customer or --staff")
    totp = _totp_command(a.totp_command)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=a.chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            rep = audit(b, a.base_url, people, allow, totp=totp, depth=a.depth, max_pages=a.max_pages,
                        langs=tuple(a.lang or ("zh", "en")), axe=not a.no_axe, desktop=a.desktop,
                        log=None if a.quiet else (lambda s: print("  " + s, file=sys.stderr)))
            print(rep.text())
            if a.elder and a.customer:
                home = elder_home(b, a.base_url, people[1], totp=totp)
                print(f"elderly-mode home: {len(home['actions'])} primary actions: {home['actions']}; "
                      f"sideways scroll: {home['scroll'] or 'none'}")
        finally:
            b.close()
    return 1 if rep.findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
