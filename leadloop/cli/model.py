"""`leadloop model`: list model versions, promote a challenger, roll back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from leadloop.cli.common import console, settings
from leadloop.cli.suggest import unknown_id
from leadloop.errors import NotReadyError

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
    records = registry.versions()
    table = Table("")
    # The full id, never cut short: it is what `model promote` takes.
    table.add_column("version", no_wrap=True,
                     min_width=max((len(r.version) for r in records), default=7))
    for heading in ("trained", "labels", "ROC AUC", "PR AUC", "Brier", "source"):
        table.add_column(heading)
    for record in records:
        m = record.metrics
        table.add_row("*" if record.version == champion else "", record.version,
                      record.created_at, str(record.labels), f"{m['roc_auc']:.3f}",
                      f"{m['pr_auc']:.3f}", f"{m['brier']:.4f}", record.source)
    console.print(table)


@app.command("promote")
def promote(
    version: str = typer.Argument(..., help="the challenger"),
    force: bool = typer.Option(False, help="promote without beating the champion, and "
                               "although the store's leads lack some of its fields"),
) -> None:
    """Make a version the champion if it beats the current one on the same recent holdout."""
    from scoring.train import MODEL_FIELDS_FROM_LEADS

    registry = _registry()
    known = [record.version for record in registry.versions()]
    if version not in known:
        raise unknown_id("model version", version, known, listing="leadloop model list")
    result = registry.promote(version, force=force, lead_fields=MODEL_FIELDS_FROM_LEADS)
    if not result.promoted:
        raise NotReadyError(f"{version} not promoted: {result.reason}")
    console.print(f"{version} is the champion: {result.reason}")
    if lacking := registry.missing_fields(version, MODEL_FIELDS_FROM_LEADS):
        console.print(f"warning: the store's leads lack {len(lacking)} of its fields "
                      f"({', '.join(lacking[:3])}): scoring stays on the points score alone "
                      "until a model trained from the store's labels is promoted")


@app.command("rollback")
def rollback() -> None:
    """Give the champion role back to the previous champion."""
    previous = _registry().rollback()
    console.print(f"champion is now {previous}" if previous else
                  "no champion now: scores are the points score alone")
