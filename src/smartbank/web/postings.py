"""A posting's description on a page: a system posting from its kind and facts through the catalogue
(:func:`smartbank.payments.service.describe_posting`), a customer's own memo as typed."""

from __future__ import annotations

from typing import Any

from smartbank.web.i18n import translate


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
    if "part" in params:
        params["part"] = translate(lang, f"posting.loan_part.{str(params['part']).replace(' ', '_')}")
    return translate(lang, d["key"], **params) if params else translate(lang, d["key"])


def add_text(items: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    for i in items:
        i["text"] = text(i, lang)
    return items
