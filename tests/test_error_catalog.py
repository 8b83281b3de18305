"""Every refusal a service can raise has words in both languages: the translation boundary, checked statically.

For each ``raise SomeError(...)`` of a :class:`smartbank.errors.SmartbankError` class in the domains, the web must
find a catalogue entry in zh and in en (:func:`smartbank.web.i18n.error_text`): ``errors.<reason>`` when the raise
names its ``reason=``; else the older exact-message entry; else the entry of a class with its own code. A raise of
a generic class (``ValidationFailed``, ``NotFound``...) with a computed message and no reason fails here: on a page
it could only be shown as a vague sentence. When the raise passes its parameters as a dict literal, the entries'
``{placeholders}`` must be among them.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import string
from pathlib import Path

import pytest

import smartbank
from smartbank import errors
from smartbank.web import i18n

SRC = Path(smartbank.__file__).parent
# entry points and tools that speak to operators in English (terminals, benchmarks), not to a page
SKIP = {"cli", "bench", "synth", "ops", "migrations"}
GENERIC = {"bad_request", "validation_error", "not_found", "conflict", "forbidden", "unavailable",
           "not_authenticated", "ledger_rejected"}


def _error_classes() -> dict[str, str]:
    """Name -> code of every SmartbankError class in the package (found in the source, to a fixed point)."""
    classes = {n: getattr(errors, n).code for n in dir(errors)
               if isinstance(getattr(errors, n), type) and issubclass(getattr(errors, n), errors.SmartbankError)}
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in SRC.rglob("*.py")]
    changed = True
    while changed:
        changed = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in classes:
                    bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                    parent = next((b for b in bases if b in classes), None)
                    if parent is not None:
                        code = classes[parent]
                        for st in node.body:
                            if (isinstance(st, ast.Assign) and any(getattr(t, "id", "") == "code" for t in st.targets)
                                    and isinstance(st.value, ast.Constant)):
                                code = st.value.value
                        classes[node.name] = code
                        changed = True
    return classes


CLASSES = _error_classes()


def _catalogs() -> dict[str, dict[str, str]]:
    for mod in pkgutil.walk_packages(smartbank.web.__path__, "smartbank.web."):  # their register_messages calls
        importlib.import_module(mod.name)
    return {lang: i18n.catalog(lang) for lang in i18n.LANGS}


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


# the expression language (smartbank.expr) builds its refusals through helpers: ``self.fail(msg, node, reason=...,
# details=...)`` (adds the ``column``), ``lang.error(msg, reason=...)`` (the language's error class) and the name
# resolvers' ``NameRefused(msg, reason=..., details=...)`` (``fail`` adds the ``name`` and the ``column``)
_HELPERS = {("self", "fail"): {"column"}, ("lang", "error"): set(), ("expr", "NameRefused"): {"name", "column"},
            ("", "NameRefused"): {"name", "column"}}


def _helper(call: ast.Call) -> set[str] | None:
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return _HELPERS.get((f.value.id, f.attr))
    return _HELPERS.get(("", f.id)) if isinstance(f, ast.Name) else None


def _helper_problems(call: ast.Call, where: str, cats: dict[str, dict[str, str]], added: set[str]) -> list[str]:
    reason = _kw(call, "reason")
    if reason is None:
        return [f"{where}: an expression refusal needs reason="]
    if not isinstance(reason, ast.Constant):
        return []  # passed on from a NameRefused, checked where it is raised
    out = []
    for lang, cat in cats.items():
        key = f"errors.{reason.value}"
        if key not in cat:
            out.append(f"{where}: no {lang} entry for {key}")
            continue
        details = _kw(call, "details")
        have = set(added)
        if isinstance(details, ast.Dict) and all(isinstance(k, ast.Constant) for k in details.keys):
            have |= {k.value for k in details.keys if isinstance(k, ast.Constant)}
        elif details is not None:
            continue
        wanted = {f[1] for f in string.Formatter().parse(cat[key]) if f[1]}
        if wanted - have:
            out.append(f"{where}: {lang} {key} uses {sorted(wanted - have)} the refusal does not pass")
    return out


def _problems(path: Path, cats: dict[str, dict[str, str]]) -> list[str]:
    out = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (added := _helper(node)) is not None:
            out += _helper_problems(node, f"{path.relative_to(SRC)}:{node.lineno}", cats, added)
            continue
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
            continue
        call = node.exc
        fn = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
        if fn not in CLASSES:
            continue
        where = f"{path.relative_to(SRC)}:{node.lineno}"
        reason = _kw(call, "reason")
        code = _kw(call, "code")
        code_v = code.value if isinstance(code, ast.Constant) else (None if code is not None else CLASSES[fn])
        message = call.args[0] if call.args else None
        keys: list[str] = []
        if fn == "FormError":  # the web's own refusals name their catalogue key
            if not (isinstance(message, ast.Constant) and isinstance(message.value, str)):
                continue  # a key chosen at run time (a parameter of a form helper)
            keys = [message.value]
        elif isinstance(reason, ast.Constant):
            keys = [f"errors.{reason.value}"]
        elif reason is not None:
            continue  # a reason chosen at run time: checked where its values are listed
        elif isinstance(message, ast.Constant) and isinstance(message.value, str):
            keys = [f"error_message.{message.value}"]
            if code_v and code_v not in GENERIC:
                keys += [f"errors.{code_v}", f"error_code.{code_v}"]
        elif code_v and code_v not in GENERIC:
            keys = [f"errors.{code_v}", f"error_code.{code_v}"]
        else:
            out.append(f"{where}: {fn} with a computed message needs reason=")
            continue
        for lang, cat in cats.items():
            found = next((k for k in keys if k in cat), None)
            if found is None:
                out.append(f"{where}: no {lang} entry for {keys[0]}")
                continue
            details = _kw(call, "details")
            if isinstance(details, ast.Dict) and all(isinstance(k, ast.Constant) for k in details.keys):
                have = {k.value for k in details.keys if isinstance(k, ast.Constant)}
                wanted = {f[1] for f in string.Formatter().parse(cat[found]) if f[1]}
                if wanted - have:
                    out.append(f"{where}: {lang} {found} uses {sorted(wanted - have)} the raise does not pass")
            elif "{" in cat[found] and details is None:
                out.append(f"{where}: {lang} {found} has parameters but the raise passes no details")
    return out


def _areas() -> list[str]:
    names = sorted({p.relative_to(SRC).parts[0].removesuffix(".py") for p in SRC.rglob("*.py")})
    return [n for n in names if n not in SKIP and n != "__init__"]


@pytest.mark.parametrize("area", _areas())
def test_every_refusal_has_words_in_both_languages(area):
    cats = _catalogs()
    base = SRC / area
    files = sorted(base.rglob("*.py")) if base.is_dir() else [SRC / f"{area}.py"]
    problems = [p for f in files for p in _problems(f, cats)]
    assert not problems, f"{len(problems)} refusals without words:\n" + "\n".join(problems)


def test_the_check_catches_a_raise_without_words(tmp_path, monkeypatch):
    bad = SRC / "_tmp_check_example.py"
    try:
        bad.write_text('from smartbank.errors import ValidationFailed\n'
                       'def f(x):\n    raise ValidationFailed(f"bad {x}")\n'
                       'def g():\n    raise ValidationFailed("x", reason="no.such.reason")\n', encoding="utf-8")
        problems = _problems(bad, _catalogs())
    finally:
        bad.unlink()
    assert len(problems) == 3 and "needs reason=" in problems[0]
