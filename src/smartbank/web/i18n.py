"""Message catalogs (zh default, en), the language of a request, and translated error messages.

Catalogs are JSON files ``i18n/{lang}.json`` with nested objects; keys are looked up flattened
with dots (``{"nav": {"home": "首页"}}`` -> ``nav.home``). Later modules may add their strings
with :func:`register_messages` instead of editing the shared files.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from starlette.requests import Request

from smartbank.errors import SmartbankError

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
COOKIE = "sb_lang"
HTML_LANG = {"zh": "zh-CN", "en": "en"}

_DIR = Path(__file__).parent / "i18n"
_lock = threading.Lock()
_catalogs: dict[str, dict[str, str]] = {}
_extra: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = str(v)
    return out


def load_file(lang: str) -> dict[str, str]:
    with open(_DIR / f"{lang}.json", encoding="utf-8") as fh:
        return flatten(json.load(fh))


def catalog(lang: str) -> dict[str, str]:
    lang = lang if lang in LANGS else DEFAULT_LANG
    cat = _catalogs.get(lang)
    if cat is None:
        with _lock:
            cat = _catalogs[lang] = {**load_file(lang), **_extra[lang]}
    return cat


def register_messages(lang: str, messages: dict[str, Any]) -> None:
    """Add (or override) strings for one language, e.g. from a later module's web pages."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    with _lock:
        _extra[lang].update(flatten(messages))
        _catalogs.pop(lang, None)


def has(lang: str, key: str) -> bool:
    return key in catalog(lang)


def translate(lang: str, key: str, **kw: Any) -> str:
    """The string for ``key``; falls back to the default language, then to the key itself."""
    text = catalog(lang).get(key)
    if text is None:
        text = catalog(DEFAULT_LANG).get(key, key)
    return text.format(**kw) if kw else text


def lang_of(request: Request) -> str:
    lang = request.cookies.get(COOKIE, "")
    return lang if lang in LANGS else DEFAULT_LANG


def error_text(exc: SmartbankError, lang: str) -> str:
    """A service error for people: its exact message translated, else its code, else the message."""
    cat = catalog(lang)
    for key in (f"error_message.{exc.message}", f"error_code.{exc.code}"):
        if key in cat:
            return cat[key]
    return exc.message
