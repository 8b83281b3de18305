"""Rich progress bars for the long steps, or nothing at all (``progress=False``)."""

from __future__ import annotations

from typing import Any


class Progress:
    def __init__(self, enabled: bool):
        self._p: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._p = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                TextColumn("{task.fields[note]}"), transient=False, console=Console(stderr=True),
            )

    def __enter__(self) -> Progress:
        if self._p is not None:
            self._p.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._p is not None:
            self._p.stop()

    def add(self, description: str, *, total: int, unit: str = "") -> int:
        if self._p is None:
            return 0
        return self._p.add_task(description, total=total, unit=unit, note="")

    def advance(self, task: int, n: int = 1, *, note: str | None = None) -> None:
        if self._p is None:
            return
        if note is None:
            self._p.advance(task, n)
        else:
            self._p.update(task, advance=n, note=note)

    def print(self, *args) -> None:
        if self._p is not None:
            self._p.console.print(*args)

