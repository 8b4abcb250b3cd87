"""`leadloop train`: train a model version from the store's labels or from a CSV export."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import typer
from rich.table import Table
from rich.text import Text

from leadloop.cli.common import console, settings
from leadloop.errors import LeadloopError

if TYPE_CHECKING:
    from scoring.train import LabelledLeads, TrainingResult


def train_command(
    csv: Path | None = typer.Option(None, "--csv", help="a CSV export of historical leads"),
    target: str | None = typer.Option(None, "--target", help="the CSV's outcome column"),
    keep: list[str] = typer.Option([], "--keep", help="keep a field the leakage check excludes"),
    keep_leaky: bool = typer.Option(False, "--keep-leaky", help="keep every suspected leak"),
    note: str = typer.Option("", help="free text kept with the version"),
) -> None:
    """Train a model version from outcomes and rep overrides (or a CSV) and save it."""
    # scikit-learn is imported here, not at start-up, so other commands stay quick.
    from scoring.registry import ModelRegistry
    from scoring.train import MIN_LABELS, labelled_leads, train, train_labelled

    registry = ModelRegistry(settings().data_dir)
    labelled: LabelledLeads | None = None
    if csv is not None:
        if target is None:
            raise LeadloopError("--csv needs --target COLUMN: the outcome column")
        frame = pd.read_csv(csv)
        if target not in frame.columns:
            raise LeadloopError(f"--target {target!r}: not a column of {csv}")
        outcome = frame.pop(target)
        y = _binary(outcome, target)
        weight = None
        source, labels, detail = str(csv), len(frame), f"{len(frame)} rows of {csv.name}"
    else:
        from leadloop.store_reads import training_payloads

        leads, overrides = training_payloads(settings())
        labelled = labelled_leads(leads, now=datetime.now(UTC), overrides=overrides)
        frame, y, weight = labelled.frame.reset_index(drop=True), labelled.target, labelled.weight
        source, labels = "store", len(y)
        detail = (f"{labelled.from_outcomes} outcome(s) and {labelled.from_overrides} rep "
                  "override(s) from the store")
    if labels == 0 or len(np.unique(y)) < 2:
        raise LeadloopError(f"cannot train: {detail}, and both outcomes are needed")
    if labelled is not None:
        result = train_labelled(labelled, keep=keep, keep_leaky=keep_leaky)
    else:
        result = train(frame, y, keep=keep, keep_leaky=keep_leaky, sample_weight=weight)
    from leadloop.wiring import load_admin_weights

    record = registry.save(result, labels=labels, source=source, note=note,
                           weights_version=load_admin_weights(settings()).version)
    print_training(result, detail=detail)
    console.print(f"saved model version {record.version} (not yet the champion: "
                  f"leadloop model promote {record.version})")
    if labels < MIN_LABELS:
        console.print(Text.assemble(
            ("note:", "yellow"), f" {labels} labels, fewer than {MIN_LABELS}: "
            "while this is so, the score stays the points score alone"))


def _binary(outcome: pd.Series, name: str) -> np.ndarray:
    from scoring.train import outcome_of

    if pd.api.types.is_bool_dtype(outcome) or pd.api.types.is_numeric_dtype(outcome):
        values = pd.to_numeric(outcome, errors="coerce")
        if set(values.dropna().unique().tolist()) <= {0, 1} and not values.isna().any():
            numbers: np.ndarray = values.to_numpy(dtype=int)
            return numbers
    mapped = outcome.map(lambda value: outcome_of(value))
    if mapped.isna().any():
        raise LeadloopError(f"--target {name!r}: expected 0/1 or converted/lost values")
    labels: np.ndarray = mapped.to_numpy(dtype=int)
    return labels


def print_training(result: TrainingResult, *, detail: str) -> None:
    """The figures a training run reports."""
    m = result.metrics
    console.print(f"trained on {detail}; validation: {result.split}")
    console.print(f"ROC AUC {m.roc_auc:.3f}  PR AUC {m.pr_auc:.3f}  Brier {m.brier:.4f}  "
                  f"ECE {m.ece:.4f}  ({m.rows} held-out leads, {m.positives} converted)")
    if result.excluded:
        table = Table("field", "rule", "why", title="left out by the leakage check (--keep)")
        for exclusion in result.excluded:
            table.add_row(exclusion.field, exclusion.rule, exclusion.reason)
        console.print(table)
    calibration = Table("predicted", "observed", "leads", title="calibration")
    for _, predicted, observed, count in m.calibration:
        calibration.add_row(f"{predicted:.2f}", f"{observed:.2f}", str(count))
    console.print(calibration)
    console.print("lift by decile: " + " ".join(f"{lift:.2f}" for _, _, lift in m.lift))
