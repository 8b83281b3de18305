"""The hooks risk offers the domains above it (payments, lending), and the layering they keep."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smartbank.risk import hooks, monitor

RISK = Path(__file__).resolve().parents[2] / "src" / "smartbank" / "risk"
# what risk may not import: the domains above it, the tools and the entry points
ABOVE = ("payments", "lending", "wealth", "insight", "recommend", "assistant", "backoffice", "ops", "synth", "bench",
         "api", "web", "cli")
NOW = datetime(2025, 3, 1, tzinfo=UTC)


def test_payment_voided_tells_every_listener_once(monkeypatch):
    monkeypatch.setattr(hooks, "_voided", [])
    seen: list[tuple[str, int]] = []

    def first(session, transfer_id):
        seen.append(("first", transfer_id))

    def second(session, transfer_id):
        seen.append(("second", transfer_id))

    assert hooks.on_payment_voided(first) is first
    hooks.on_payment_voided(second)
    hooks.on_payment_voided(first)  # registering again changes nothing
    hooks.payment_voided(None, 42)  # type: ignore[arg-type]
    assert seen == [("first", 42), ("second", 42)]


def test_payments_reopens_the_bill_of_a_voided_payment():
    from smartbank.payments import service as payments

    assert payments.reopen_bill_paid_by in hooks._voided


@pytest.mark.any_backend
def test_provided_metric_has_no_data_without_its_provider(monkeypatch, session):
    monkeypatch.setattr(hooks, "_metrics", {})
    assert monitor.METRICS["delinquency_rate"](session, NOW, NOW) is None
    calls = []
    hooks.provide_metric("delinquency_rate", lambda s, start, end: calls.append((start, end)) or 0.25)
    assert monitor.METRICS["delinquency_rate"](session, NOW, NOW) == 0.25 and calls == [(NOW, NOW)]


def test_only_declared_metrics_can_be_provided():
    with pytest.raises(ValueError, match="not a metric"):
        hooks.provide_metric("fraud_rate", lambda s, a, b: 0.0)
    assert set(monitor.METRICS) >= hooks.PROVIDED_METRICS


def test_lending_provides_the_delinquency_rate(session):
    from smartbank.lending import servicing

    provider = hooks.metric_provider("delinquency_rate")
    assert provider is not None
    assert provider(session, NOW, NOW) == servicing.delinquency_rate(session)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, whether inside a function) for every import of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, bool]] = []

    def walk(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                out.extend((a.name, nested) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                out.extend((f"{child.module}.{a.name}", nested) for a in child.names)
            walk(child, nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    walk(tree, False)
    return out


def test_risk_imports_nothing_above_it_and_no_project_module_inside_a_function():
    for path in sorted(RISK.rglob("*.py")):
        for module, nested in _imports(path):
            assert not any(module.startswith(f"smartbank.{d}.") or module == f"smartbank.{d}" for d in ABOVE), \
                (path.name, module)
            assert not (nested and module.startswith("smartbank.")), (path.name, module)
