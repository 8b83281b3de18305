"""Message catalogs (zh default, en), the language of a request, and translated error messages.

Catalogs are JSON files ``i18n/{lang}.json`` and ``i18n/{lang}/*.json`` (one per area, read in name order
after the first, a later file's key replacing an earlier one's) with nested objects; keys are looked up
flattened with dots (``{"nav": {"home": "首页"}}`` -> ``nav.home``). Later modules may add their strings
with :func:`register_messages` instead of editing the shared files.

This module is the translation boundary: a service refusal reaches a page only through :func:`error_text`
(``errors.<reason>`` rendered with the error's details as parameters, formatted by :mod:`smartbank.web.fmt`),
and a code from the data (a status, a kind, an intent) only through the catalogue (``tv`` in templates).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from starlette.requests import Request

from smartbank.errors import SmartbankError
from smartbank.web import fmt

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
    out: dict[str, str] = {}
    for path in [_DIR / f"{lang}.json", *sorted((_DIR / lang).glob("*.json"))]:
        with open(path, encoding="utf-8") as fh:
            out.update(flatten(json.load(fh)))
    return out


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


class _Params(dict):
    def __missing__(self, key: str) -> str:  # a parameter the error did not carry: nothing rather than a crash
        return ""


def render_message(lang: str, key: str, details: dict[str, Any] | None = None) -> str | None:
    """The catalogue's ``key`` in ``lang`` with ``details`` formatted as its parameters, or None if unknown."""
    text = catalog(lang).get(key)
    if text is None:
        return None
    return text.format_map(_Params(fmt.params(details, lang))) if "{" in text else text


def error_text(exc: SmartbankError, lang: str) -> str:
    """A service refusal for people, in ``lang``: ``errors.<reason>`` with the error's parameters; else the
    older catalogue entries (the exact message, then the class code); else a plain sentence for its kind
    (never the service's English text on a Chinese page)."""
    # (a web form's own refusal names its catalogue key as its reason: forms.FormError)
    for key in (f"errors.{exc.reason}", exc.reason, f"error_message.{exc.message}", f"error_code.{exc.code}"):
        text = render_message(lang, key, exc.details)
        if text is not None:
            return text
    if lang == "en":
        return exc.message
    return translate(lang, f"error.generic_{exc.status_code}") if has(lang, f"error.generic_{exc.status_code}") \
        else translate(lang, "error.generic")
