"""The front-door contract type catches an outsider importing a domain's private module (and only that)."""

from __future__ import annotations

import grimp
import pytest
from tools.importlinter_contracts import FrontDoorContract

MODULES = ("shop", "shop.models", "shop.web", "shop.web.pages", "shop.orders", "shop.orders.service",
           "shop.orders.models", "shop.orders.pricing", "shop.orders.pricing.rules", "shop.stock",
           "shop.stock.service", "shop.stock.levels")


def graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    g = grimp.ImportGraph()
    for m in MODULES:
        g.add_module(m)
    for n, (importer, imported) in enumerate(imports, 1):
        g.add_import(importer=importer, imported=imported, line_number=n, line_contents=f"import {imported}")
    return g


def check(g: grimp.ImportGraph, **options: object):
    contract = FrontDoorContract(name="front doors", session_options={"root_packages": ["shop"]},
                                 contract_options={"domains": ["shop.orders", "shop.stock"], **options})
    return contract, contract.check(g, verbose=False)


def links(result) -> list[tuple[str, str, tuple[int | None, ...]]]:
    return [(v["importer"], v["imported"], v["line_numbers"]) for v in result.metadata["violations"]]


def test_importing_only_the_front_door_keeps_the_contract():
    _, res = check(graph(("shop.web.pages", "shop.orders.service"), ("shop.orders.service", "shop.stock.service")))
    assert res.kept and links(res) == []


def test_a_domain_imports_its_own_modules_freely():
    _, res = check(graph(("shop.orders.service", "shop.orders.pricing"), ("shop.orders.pricing", "shop.orders.models"),
                         ("shop.orders.pricing.rules", "shop.orders.service")))
    assert res.kept


def test_an_outsider_importing_a_private_module_breaks_it_with_the_line():
    _, res = check(graph(("shop.web.pages", "shop.orders.service"), ("shop.web.pages", "shop.orders.pricing.rules"),
                         ("shop.orders.pricing", "shop.stock.levels")))
    assert not res.kept
    assert links(res) == [("shop.web.pages", "shop.orders.pricing.rules", (2,)),
                          ("shop.orders.pricing", "shop.stock.levels", (3,))]


def test_the_package_itself_and_its_models_are_private_too():
    _, res = check(graph(("shop.web", "shop.orders"), ("shop.web.pages", "shop.stock.levels"),
                         ("shop.models", "shop.orders.models")))
    assert [(a, b) for a, b, _ in links(res)] == [("shop.models", "shop.orders.models"), ("shop.web", "shop.orders"),
                                                  ("shop.web.pages", "shop.stock.levels")]


def test_ignored_imports_are_allowed_exceptions():
    g = graph(("shop.models", "shop.orders.models"), ("shop.web.pages", "shop.orders.service"))
    _, res = check(g, ignore_imports=["shop.models -> shop.*.models"])
    assert res.kept and res.ignored_import_count == 1


def test_an_unmatched_ignored_import_is_an_error_by_default():
    from importlinter.domain.helpers import MissingImport

    with pytest.raises(MissingImport):
        check(graph(), ignore_imports=["shop.models -> shop.*.models"])


def test_the_front_door_may_have_another_name():
    g = graph(("shop.web.pages", "shop.orders.service"))
    _, res = check(g, front_door="api")
    assert links(res) == [("shop.web.pages", "shop.orders.service", (1,))]


def test_the_broken_contract_names_each_illegal_import(capsys):
    contract, res = check(graph(("shop.web.pages", "shop.orders.pricing")))
    contract.render_broken_contract(res)
    out = capsys.readouterr().out
    assert "shop.orders is entered only through shop.orders.service" in out
    assert "shop.web.pages -> shop.orders.pricing (l.1)" in out
