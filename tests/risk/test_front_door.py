"""``smartbank.risk.service`` is the risk domain's only way in for the rest of the code."""

from __future__ import annotations

import ast
from pathlib import Path

from smartbank.risk import service as risk

SRC = Path(__file__).resolve().parents[2] / "src" / "smartbank"
# table registration may name the models (smartbank.models, the migrations)
MODELS_ALLOWED = {SRC / "models.py"}


def test_every_public_name_exists_once():
    assert len(risk.__all__) == len(set(risk.__all__))
    assert [n for n in risk.__all__ if not hasattr(risk, n)] == []


def _risk_imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("smartbank.risk")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "smartbank.risk":
                out += [f"smartbank.risk.{a.name}" for a in node.names]
            elif node.module.startswith("smartbank.risk."):
                out.append(node.module)
    return out


def test_code_outside_risk_imports_only_its_service():
    for path in sorted(SRC.rglob("*.py")):
        if (SRC / "risk") in path.parents:
            continue
        for module in _risk_imports(path):
            if module == "smartbank.risk.models" and (path in MODELS_ALLOWED or "migrations" in path.parts):
                continue
            assert module == "smartbank.risk.service", (str(path.relative_to(SRC)), module)
