"""Import-linter contract types of our own (registered in ``[tool.importlinter]`` of pyproject.toml).

``front_door``: each listed domain package is entered only through its front door, the module
``<domain>.service``. Any import of another module of the domain (its models, its internals, or the package
itself) by a module outside the domain breaks the contract. Modules inside a domain import each other
freely. Allowed exceptions (the table registry importing ``<domain>.models``) are listed as
``ignore_imports``, as for the built-in contract types.

Options:

- ``domains``: the domain packages (e.g. ``smartbank.lending``).
- ``front_door``: the name of the front-door module in each domain (default ``service``).
- ``ignore_imports``: import expressions to ignore (wildcards allowed, as in the built-in contracts).
- ``unmatched_ignore_imports_alerting``: ``none``, ``warn`` or ``error`` (default) when an ignored import
  expression matches nothing.
- ``broken_contract_guidance``: text shown after the violations.
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils

__all__ = ["FrontDoorContract"]


class FrontDoorContract(Contract):
    type_name = "front_door"

    domains = fields.ListField(subfield=fields.ModuleField())
    front_door = fields.StringField(required=False, default="service")
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)
    unmatched_ignore_imports_alerting = fields.EnumField(
        contract_utils.AlertLevel, default=contract_utils.AlertLevel.ERROR)
    broken_contract_guidance = fields.TextField(required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph, ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=self.unmatched_ignore_imports_alerting)  # type: ignore[arg-type]
        warnings = list(removal.warnings)
        violations: list[dict[str, Any]] = []
        for domain in self.domains:  # type: ignore[attr-defined]
            name = domain.name
            if name not in graph.modules:
                warnings.append(f"{name} is not a module of the graph")
                continue
            inside = {name} | graph.find_descendants(name)
            door = f"{name}.{self.front_door}"
            private = inside - {door}
            outsiders = graph.find_modules_that_directly_import(name, as_package=True) - inside
            for importer in sorted(outsiders):
                for imported in sorted(graph.find_modules_directly_imported_by(importer) & private):
                    lines = tuple(d["line_number"] for d in graph.get_import_details(importer=importer,
                                                                                     imported=imported))
                    violations.append({"domain": name, "door": door, "importer": importer, "imported": imported,
                                       "line_numbers": lines})
        return ContractCheck(kept=not violations, warnings=warnings, metadata={"violations": violations},
                             ignored_import_count=removal.ignored_import_count)

    def render_broken_contract(self, check: ContractCheck) -> None:
        by_domain: dict[str, list[dict[str, Any]]] = {}
        for v in check.metadata["violations"]:
            by_domain.setdefault(v["domain"], []).append(v)
        for domain, items in by_domain.items():
            output.print_error(f"{domain} is entered only through {items[0]['door']}:", bold=False)
            output.new_line()
            for v in items:
                where = ", ".join(str(n) for n in v["line_numbers"] if n is not None)
                output.print_error(f"- {v['importer']} -> {v['imported']}" + (f" (l.{where})" if where else ""),
                                   bold=False)
                output.new_line()
        output.new_line()
        contract_utils.render_broken_contract_guidance(self.broken_contract_guidance)  # type: ignore[arg-type]
