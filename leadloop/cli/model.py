"""`leadloop model`: list model versions, promote a challenger, roll back."""

from __future__ import annotations

import typer
from rich.table import Table

from leadloop.cli.common import console, settings
from leadloop.errors import LeadloopError
from scoring.registry import ModelRegistry

app = typer.Typer(help="Model versions: list, promote, rollback.", no_args_is_help=True)


@app.command("list")
def list_versions() -> None:
    """Every model version with its holdout figures; the champion is starred."""
    registry = ModelRegistry(settings().data_dir)
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
    result = ModelRegistry(settings().data_dir).promote(version, force=force)
    if not result.promoted:
        raise LeadloopError(f"{version} not promoted: {result.reason}")
    console.print(f"{version} is the champion: {result.reason}")


@app.command("rollback")
def rollback() -> None:
    """Give the champion role back to the previous champion."""
    previous = ModelRegistry(settings().data_dir).rollback()
    console.print(f"champion is now {previous}" if previous else
                  "no champion now: scores are the points score alone")
