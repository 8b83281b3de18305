"""The command line is a contract: every command and option recorded in ``command_tree.txt`` (the tree as it
was when the CLI became a package) still exists, with the same declarations, defaults and constraints. New
commands and options may be added; none may disappear or change.

To record a new command: ``python -m tests.cli.test_cli_tree > tests/cli/command_tree.txt`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from smartbank.cli import app

RECORDED = Path(__file__).with_name("command_tree.txt")


def _param_line(p: Any) -> str:
    kind = "option" if type(p).__name__.endswith("Option") else "argument"
    decl = "/".join([*p.opts, *p.secondary_opts]) if kind == "option" else p.name
    attrs = {"default": repr(p.default), "required": p.required, "envvar": p.envvar, "multiple": p.multiple,
             "nargs": p.nargs, "flag": getattr(p, "is_flag", False), "min": getattr(p, "min", None),
             "max": getattr(p, "max", None), "hidden": getattr(p, "hidden", False)}
    return f"    {kind} {decl} " + " ".join(f"{k}={v}" for k, v in attrs.items())


def tree_lines() -> list[str]:
    """Every group and command (path, kind) followed by its parameters, in help order."""
    lines: list[str] = []

    def walk(cmd: Any, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        lines.append(f"{' '.join(path)} [{'group' if subs is not None else 'command'}]")
        lines.extend(_param_line(p) for p in cmd.params)
        for name, sub in (subs or {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), ["smartbank"])
    return lines


def _blocks(lines: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    head = ""
    for line in lines:
        if line.startswith("    "):
            out[head].add(line.strip())
        elif line.strip():
            head = line
            out[head] = set()
    return out


def test_every_recorded_command_and_option_still_exists() -> None:
    recorded = _blocks(RECORDED.read_text(encoding="utf-8").splitlines())
    now = _blocks(tree_lines())
    assert len(recorded) >= 85  # the recording is the whole tree, not a stub
    missing = sorted(set(recorded) - set(now))
    assert not missing, f"commands gone or changed kind: {missing}"
    changed = {cmd: sorted(params - now[cmd]) for cmd, params in recorded.items() if params - now[cmd]}
    assert not changed, f"options gone or changed: {changed}"


def test_commands_keep_their_recorded_order() -> None:
    """``smartbank --help`` lists the groups and commands in the recorded order (new ones may be added)."""
    recorded = [line for line in RECORDED.read_text(encoding="utf-8").splitlines() if not line.startswith(" ")]
    now = [line for line in tree_lines() if not line.startswith(" ")]
    assert [line for line in now if line in recorded] == recorded


if __name__ == "__main__":  # pragma: no cover
    print("\n".join(tree_lines()))
