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
from leadloop.errors import LeadloopError, NotReadyError

if TYPE_CHECKING:
    from scoring.train import LabelledLeads, TrainingResult


CSV_EXPECTED = ("expected a CSV export with a header row, one lead per row, and the outcome "
                "column named by --target")
SPLITS = ("auto", "time", "order", "random")


def train_command(
    csv: Path | None = typer.Option(None, "--csv", help="a CSV export of historical leads"),
    target: str | None = typer.Option(None, "--target", help="the CSV's outcome column"),
    positive: str | None = typer.Option(
        None, "--positive", help="the outcome value that means converted (others: not)"),
    split: str = typer.Option(
        "auto", "--split", help="time (by date), order (file order), random; auto: time "
        "when there is a date, else random"),
    date: str | None = typer.Option(None, "--date", help="the CSV's lead creation date"),
    outcome_date: str | None = typer.Option(
        None, "--outcome-date", help="the CSV's column holding the outcome's date"),
    keep: list[str] = typer.Option([], "--keep", help="keep a field the leakage check excludes"),
    keep_leaky: bool = typer.Option(False, "--keep-leaky", help="keep every suspected leak"),
    note: str = typer.Option("", help="free text kept with the version"),
) -> None:
    """Train a model version from outcomes and rep overrides (or a CSV) and save it."""
    # scikit-learn is imported here, not at start-up, so other commands stay quick.
    from scoring.registry import ModelRegistry
    from scoring.train import MIN_LABELS, labelled_leads, labels_needed, train, train_labelled

    if split not in SPLITS:
        raise LeadloopError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    registry = ModelRegistry(settings().data_dir)
    labelled: LabelledLeads | None = None
    if csv is not None:
        frame, y, detail = read_training_csv(csv, target=target, positive=positive)
        for option, column in (("--date", date), ("--outcome-date", outcome_date)):
            if column is not None and column not in frame.columns:
                raise LeadloopError(f"{option} {column!r}: not a column of {csv}")
        weight = None
        source, labels = str(csv), len(frame)
    else:
        from leadloop.store_reads import training_payloads

        leads, overrides = training_payloads(settings())
        labelled = labelled_leads(leads, now=datetime.now(UTC), overrides=overrides)
        frame, y, weight = labelled.frame.reset_index(drop=True), labelled.target, labelled.weight
        source, labels = "store", len(y)
        detail = (f"{labelled.from_outcomes} outcome(s) and {labelled.from_overrides} rep "
                  "override(s) from the store")
    if short := labels_needed(y):
        raise NotReadyError(f"cannot train yet: {detail}: {short}")
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    # One OpenMP thread: boosting threads spin-wait badly on a small shared machine.
    threads = threadpool_limits(limits=1)
    try:
        if labelled is not None:
            result = train_labelled(labelled, keep=keep, keep_leaky=keep_leaky, split=split)
        else:
            result = train(frame, y, sample_weight=weight, outcome_date=outcome_date,
                           date_column=date or "auto", keep=keep, keep_leaky=keep_leaky,
                           split=split)  # type: ignore[arg-type]
    except ValueError as exc:
        raise LeadloopError(f"cannot train on {detail}: {exc}") from None
    finally:
        threads.restore_original_limits()
    from leadloop.wiring import load_admin_weights

    record = registry.save(result, labels=labels, source=source, note=note,
                           weights_version=load_admin_weights(settings()).version)
    print_training(result, detail=detail)
    console.print(f"saved model version {record.version} (not yet the champion: "
                  f"leadloop model promote {record.version})")
    if labels < MIN_LABELS:
        console.print(Text.assemble(
            ("note:", "yellow"), f" {labels} labels, fewer than {MIN_LABELS}: "
            f"{MIN_LABELS - labels} more before the model takes part in scores; until then "
            "the score stays the points score alone"))


def read_training_csv(
    csv: Path, *, target: str | None, positive: str | None
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """A CSV export as ``train --csv`` reads it: fields, outcomes, and what was read."""
    from connectors.csvfile import read_csv_frame
    from scoring.train import read_outcomes

    if target is None:
        raise LeadloopError("--csv needs --target COLUMN: the outcome column")
    frame = read_csv_frame(csv, expected=CSV_EXPECTED)
    if target not in frame.columns:
        shown = ", ".join(repr(str(c)) for c in list(frame.columns)[:12])
        raise LeadloopError(f"--target {target!r}: not a column of {csv} (read as "
                            f"{frame.attrs['delimiter']}-separated; columns: {shown})")
    try:
        outcomes = read_outcomes(frame.pop(target), name=target, positive=positive)
    except ValueError as exc:
        raise LeadloopError(f"{csv}: {exc}") from None
    frame = frame[outcomes.labelled].reset_index(drop=True)
    dropped = len(outcomes.labelled) - int(outcomes.labelled.sum())
    detail = f"{len(frame)} rows of {csv.name}"
    if dropped:
        detail += f" ({dropped} without an outcome left out)"
    return frame, outcomes.target, detail


def print_training(result: TrainingResult, *, detail: str) -> None:
    """The figures a training run reports."""
    m = result.metrics
    console.print(f"trained on {detail}; validation: {result.split}")
    console.print(f"ROC AUC {m.roc_auc:.3f}  PR AUC {m.pr_auc:.3f}  Brier {m.brier:.4f}  "
                  f"ECE {m.ece:.4f}  ({m.rows} held-out leads, {m.positives} converted)")
    for exclusion in result.excluded:
        console.print(f"left out {exclusion.field!r} ({exclusion.rule}): {exclusion.reason}")
    for line in result.notes:
        console.print(line)
    if result.with_suspects:
        console.print(f"held-out ROC AUC without the suspected leaks: {m.roc_auc:.3f}; with "
                      "them (--keep FIELD to keep one):")
        for names, auc in result.with_suspects:
            console.print(f"  with {names}: {auc:.3f} ({auc - m.roc_auc:+.3f})")
    calibration = Table("predicted", "observed", "leads", title="calibration")
    for _, predicted, observed, count in m.calibration:
        calibration.add_row(f"{predicted:.2f}", f"{observed:.2f}", str(count))
    console.print(calibration)
    console.print("lift by decile: " + " ".join(f"{lift:.2f}" for _, _, lift in m.lift))
