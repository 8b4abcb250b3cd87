"""`leadloop model`: list model versions, promote a challenger, roll back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from leadloop.cli.common import console, settings
from leadloop.errors import LeadloopError

if TYPE_CHECKING:
    from scoring.registry import ModelRegistry


def _registry() -> ModelRegistry:
    # Imported on use: scikit-learn would add seconds to every other command's start-up.
    from scoring.registry import ModelRegistry

    return ModelRegistry(settings().data_dir)


app = typer.Typer(help="Model versions: list, promote, rollback.", no_args_is_help=True)


@app.command("list")
def list_versions() -> None:
    """Every model version with its holdout figures; the champion is starred."""
    registry = _registry()
    champion = registry.champion()
    table = Table("", "version", "trained", "labels", "ROC AUC", "PR AUC", "Brier", "source")
    for record in registry.versions():
        m = record.metrics
        table.add_row("*" if record.version == champion else "", record.version,
                      record.created_at, str(record.labels), f"{m['roc_auc']:.3f}",
                      f"{m['pr_auc']:.3f}", f"{m['brier']:.4f}", record.source)
    console.print(table)


@app.command("promote")
def promote(
    version: str = typer.Argument(..., help="the challenger"),
    force: bool = typer.Option(False, help="promote without beating the champion"),
) -> None:
    """Make a version the champion if it beats the current one on the same recent holdout."""
    result = _registry().promote(version, force=force)
    if not result.promoted:
        raise LeadloopError(f"{version} not promoted: {result.reason}")
    console.print(f"{version} is the champion: {result.reason}")


@app.command("rollback")
def rollback() -> None:
    """Give the champion role back to the previous champion."""
    previous = _registry().rollback()
    console.print(f"champion is now {previous}" if previous else
                  "no champion now: scores are the points score alone")
