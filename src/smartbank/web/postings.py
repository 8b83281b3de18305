"""A posting's description on a page: a system posting from its kind and facts through the catalogue
(:func:`smartbank.payments.service.describe_posting`), a customer's own memo as typed."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from smartbank.web.i18n import translate

_PERIOD = re.compile(r"\b(\d{4}-\d{2}(?:-\d{2})?)\b")


def _param(value: Any, lang: str) -> Any:
    return value.get(lang, value.get("zh", "")) if isinstance(value, dict) else value


def text(item: dict[str, Any], lang: str) -> str:
    """What a person reads for one history item or transfer (``kind``, ``memo``, ``describe``)."""
    d = item.get("describe")
    if d is None:
        return item.get("memo") or translate(lang, f"txkind.{item.get('kind', '')}")
    params = {k: _param(v, lang) for k, v in (d.get("params") or {}).items()}
    if "category" in params:
        params["category"] = translate(lang, f"category.{params['category']}")
        if params["category"].lower() in str(params.get("biller", "")).lower():  # "China Telecom Broadband"
            params["category"] = ""
    if "part" in params:
        params["part"] = translate(lang, f"posting.loan_part.{str(params['part']).replace(' ', '_')}")
    out = translate(lang, d["key"], **params) if params else translate(lang, d["key"])
    return " ".join(out.split())


def html(value: str) -> Markup:
    """The description for a table cell: a period or a date inside it never breaks across lines."""
    return Markup(_PERIOD.sub(r'<span class="nowrap">\1</span>', str(escape(value))))


def add_text(items: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    for i in items:
        i["text"] = text(i, lang)
        i["text_html"] = html(i["text"])
    return items
