"""Progress bars for long CLI work (rich), silent when not on a terminal unless forced."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)

#: What training reports as it goes: (steps done, steps in all, logs such as the phase).
ProgressFn = Callable[[int, int, dict], None]


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator:
    """Yields ``update(completed, total=None, info="")``; draws on stderr."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not sys.stderr.isatty(),
    )
    with bar:
        task = bar.add_task(description, total=total, info="")

        def update(completed: int, total: int | None = None, info: str = "") -> None:
            bar.update(
                task,
                completed=completed,
                info=info,
                **({"total": total} if total is not None else {}),
            )

        yield update
