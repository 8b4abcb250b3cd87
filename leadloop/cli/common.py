"""What every command shares: the console, settings read once, progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leadloop.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


@cache
def settings() -> Settings:
    """The settings, read once per process."""
    return load_settings()


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int | None], Callable[[int], None]]]:
    """A factory of rich progress bars for the pipeline's long steps."""
    bars = Progress(
        TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err_console, transient=False,
        disable=not err_console.is_terminal,
    )

    def start(label: str, total: int | None) -> Callable[[int], None]:
        task = bars.add_task(label, total=total)
        return lambda n: bars.advance(task, n)

    with bars:
        yield start
