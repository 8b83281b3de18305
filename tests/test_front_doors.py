"""Every domain's front door: ``<domain>/service.py`` lists its public surface in ``__all__``, and every name
listed there exists (a renamed or removed function cannot linger in the list)."""

from __future__ import annotations

import importlib

import pytest

DOMAINS = ("customers", "security", "notifications", "ledger", "payments", "statements", "risk", "ml", "insight",
           "lending", "wealth", "recommend", "assistant", "backoffice", "ops", "synth", "privacy",
           "marketing", "loyalty", "opinion")


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_front_door_lists_names_that_exist(domain: str) -> None:
    door = importlib.import_module(f"smartbank.{domain}.service")
    names = getattr(door, "__all__", None)
    assert names, f"smartbank.{domain}.service has no __all__"
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    assert [n for n in names if not hasattr(door, n)] == []
