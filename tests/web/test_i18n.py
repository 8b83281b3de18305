from __future__ import annotations

import re
from pathlib import Path

import pytest

from smartbank.errors import InsufficientFunds, NotAuthenticated, ValidationFailed
from smartbank.web import i18n, nav
from smartbank.web.forms import FormError, message

WEB = Path(i18n.__file__).parent


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for f in (WEB / "templates").rglob("*.html"):
        keys |= set(re.findall(r"\bt\('([a-z_.0-9]+)'", f.read_text()))
    for f in WEB.glob("*.py"):
        src = f.read_text()
        keys |= set(re.findall(r'FormError\(\s*"([a-z_.]+)"', src))
        keys |= set(re.findall(r'translate\([^,]+,\s*"([a-z_.]+)"', src))
        keys |= set(re.findall(r'"((?:error|form|notice)\.[a-z_]+)"', src)) - {"error.html"}
        keys |= {f"notice.{n}" for n in re.findall(r"notice=([a-z_]+)", src)}
        keys |= {f"notice.{n}" for n in re.findall(r'notice = "([a-z_]+)"', src)}
        keys |= {f"notice.{n}" for n in re.findall(r'"(account_(?:un)?frozen)"', src)}
    return keys


def test_both_catalogs_have_the_same_keys():
    zh, en = i18n.load_file("zh"), i18n.load_file("en")
    assert set(zh) - set(en) == set() and set(en) - set(zh) == set()
    assert all(v.strip() for v in [*zh.values(), *en.values()])


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_key_the_pages_use_is_translated(lang):
    """Keys come from the catalog files and from later modules' register_messages (their modules
    are imported first, as the app does)."""
    import importlib

    from smartbank import web

    for name in web.MODULES:
        importlib.import_module(name)
    known = i18n.catalog(lang)
    missing = {k for k in _used_keys() if k not in known}
    assert missing == set()
    labels = {item.label_key for item in nav.all_items()}
    assert labels - set(known) == set()


# parameters in English words (a Python construct's name, a value as written) that the Chinese text leaves out
_ZH_LEAVES_OUT = {"errors.expr.construct_not_allowed": {"construct"}, "errors.expr.value_not_allowed": {"value"}}


def test_placeholders_match_between_languages():
    zh, en = i18n.load_file("zh"), i18n.load_file("en")
    for k in zh:
        want = set(re.findall(r"{(\w+)}", en[k])) - _ZH_LEAVES_OUT.get(k, set())
        assert set(re.findall(r"{(\w+)}", zh[k])) == want, k


def test_service_errors_are_translated_by_message_then_code():
    assert message(NotAuthenticated("wrong username or password"), "zh") == "用户名或密码错误。"
    assert message(InsufficientFunds("anything at all"), "zh") == "余额不足。"
    # a refusal without words of its own: a plain sentence in Chinese, never the service's English
    assert message(ValidationFailed("something new"), "zh") == "输入有误，请检查后重试。"
    assert message(ValidationFailed("something new"), "en") == "something new"


def test_a_reason_is_rendered_with_its_parameters_in_the_pages_language():
    from smartbank.web import i18n as cat
    cat.register_messages("zh", {"errors": {"example": {"minimum": "起购金额为 {minimum_minor}，费率 {fee_rate}。"}}})
    cat.register_messages("en", {"errors": {"example": {"minimum": "The minimum is {minimum_minor} at {fee_rate}."}}})
    exc = ValidationFailed("below the minimum", reason="example.minimum",
                           details={"minimum_minor": 100000, "fee_rate": 0.0015})
    assert message(exc, "zh") == "起购金额为 ¥1,000.00，费率 0.15%。"
    assert message(exc, "en") == "The minimum is ¥1,000.00 at 0.15%."
    assert message(FormError("form.too_long", limit=5), "en") == "Too long: at most 5 characters."


def test_later_modules_can_add_strings():
    i18n.register_messages("en", {"zzprobe": {"title": "Probe"}})
    try:
        assert i18n.translate("en", "zzprobe.title") == "Probe"
        assert i18n.translate("zh", "zzprobe.title") == "zzprobe.title"  # missing: falls back to the key
    finally:  # take back only what this test added: the modules' own strings stay registered
        i18n._extra["en"].pop("zzprobe.title", None)
        i18n._catalogs.clear()
