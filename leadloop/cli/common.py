"""What every command shares: the console, settings read once, progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from leadloop.settings import Settings, load_settings

# Lead text and error text are data: a string prints as written, never read as rich markup
# (an email "bad[/x]@b" would crash it) nor coloured by rich's highlighter. Styling goes
# on `Text` spans, as in `fail_line`.
console = Console(markup=False, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


def fail_line(message: str) -> Text:
    """The one line the CLI prints for an error: a red "error:" and the message as written."""
    return Text.assemble(("error:", "red"), " ", message)


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
