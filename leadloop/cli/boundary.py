"""The CLI's one error boundary: every known error becomes one line and an exit code.

2: usage, settings and bad input (a file, an option, an id the user gave);
1: failures at run time (a CRM refusing, the store out of reach, not ready yet).
Anything else is a bug: one line naming a log file that holds the traceback, or the
traceback itself with LEADLOOP_DEBUG=1.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from typer._click import exceptions as click  # typer vendors click from 0.2x; its own classes
from typer._click.core import Context
from typer.core import TyperGroup

from connectors.errors import BadRecordError, ConnectorError, CsvFileError, NotFoundError
from connectors.sandbox.errors import ImportFileError, InvalidValueError, TaskAlreadyDecidedError
from drafting.errors import DrafterConfigError, DraftingError, LLMOutputError
from leadloop.cli.common import err_console, fail_line
from leadloop.errors import EXIT_BAD_INPUT, EXIT_RUN_TIME, LeadloopError
from review_api.errors import (
    BadDecisionError,
    BadRequestError,
    InvalidTransitionError,
    ProposalNotFoundError,
    ReviewError,
)
from scoring.errors import ScoringError

# Read here, not through the settings: the boundary must work when the settings cannot load.
DEBUG_ENV = "LEADLOOP_DEBUG"

# Errors of the leaves that say the user's input is wrong; the rest of their families are
# run-time failures (a CRM refusing, a model's reply, a store out of reach).
_BAD_INPUT: tuple[type[BaseException], ...] = (
    ScoringError, CsvFileError, BadRecordError, NotFoundError, DrafterConfigError,
    ImportFileError, InvalidValueError, TaskAlreadyDecidedError,
    BadDecisionError, BadRequestError, InvalidTransitionError, ProposalNotFoundError,
)
_RUN_TIME: tuple[type[BaseException], ...] = (
    ConnectorError, DraftingError, ReviewError, LLMOutputError,
)


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code of a known error; None for an unexpected one."""
    if isinstance(exc, LeadloopError):
        return exc.exit_code
    if isinstance(exc, _BAD_INPUT) and not isinstance(exc, LLMOutputError):
        return EXIT_BAD_INPUT
    if isinstance(exc, _RUN_TIME):
        return EXIT_RUN_TIME
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return None
    if isinstance(exc, SQLAlchemyError):
        return EXIT_RUN_TIME
    return None


def one_line(text: str) -> str:
    """The first line of a message, never empty."""
    first = next((line.strip() for line in str(text).splitlines() if line.strip()), "")
    return first


def _known_message(exc: BaseException) -> str:
    message = one_line(str(exc))
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover
        return message
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        return f"the store cannot do it: {one_line(str(orig or exc))}"
    return message or type(exc).__name__


def crash_log(exc: BaseException) -> Path | None:
    """Write the traceback to a log file and return its path (None if nowhere to write)."""
    text = "".join(traceback.format_exception(exc))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folders: list[Path] = []
    try:
        from leadloop.cli.common import settings

        folders.append(settings().data_dir / "logs")
    except Exception:  # noqa: BLE001 - the settings may be what is broken
        pass
    folders.append(Path(tempfile.gettempdir()) / "leadloop")
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path.resolve()
        except OSError:
            continue
    return None


def report(exc: BaseException) -> int:
    """Print the one line for an error and return the exit code."""
    code = exit_code_for(exc)
    if code is not None:
        err_console.print(fail_line(_known_message(exc)))
        return code
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        err_console.print(fail_line(f"unexpected {type(exc).__name__}: {one_line(str(exc))}"))
        err_console.print("".join(traceback.format_exception(exc)), end="")
        return EXIT_RUN_TIME
    log = crash_log(exc)
    where = f"the traceback is in {log}" if log else "the traceback could not be saved"
    err_console.print(fail_line(
        f"unexpected {type(exc).__name__}: {one_line(str(exc))[:200]}; {where} "
        f"({DEBUG_ENV}=1 shows it here); this is a bug in leadloop"))
    return EXIT_RUN_TIME


def usage_line(exc: click.UsageError) -> str:
    """A usage error as one line that says where to find help."""
    ctx = exc.ctx
    where = ctx.command_path if ctx is not None else "leadloop"
    return f"{where}: {one_line(exc.format_message())} (see {where} --help)"


class BoundaryGroup(TyperGroup):
    """The top-level group: sub-commands, their option parsing and their errors pass
    through its ``invoke``, so CliRunner tests and the real entry point share the boundary."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                raise
            err_console.print(fail_line(usage_line(exc)))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except click.ClickException:
            raise
        except Exception as exc:  # noqa: BLE001 - this is the boundary
            raise typer.Exit(report(exc)) from None
