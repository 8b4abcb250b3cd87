"""Training: the leakage check, a validation split that respects time, the model, its figures.

The default training path (:func:`train`) takes any frame of historical leads with an
outcome: it splits first (by time when a date is there, the most recent leads held out),
runs the leakage check on the training part only, names and drops identifiers and
suspected leaks, fits a :class:`~scoring.model.LeadModel`, and reports ROC AUC, PR AUC,
Brier score, a calibration table and lift by decile on the held-out leads, with what each
suspected leak would have added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from scoring.dominance import dominance_check
from scoring.labels import (
    MODEL_FIELDS_FROM_LEADS,
    NEGATIVE_STATUSES,
    POSITIVE_STATUSES,
    LabelledLeads,
    labelled_leads,
    model_frame,
    outcome_of,
    read_outcomes,
)
from scoring.leakage import (
    AFTER_OUTCOME_WORDS,
    DECISIVE_AUC,
    NEAR_PERFECT_AUC,
    NOT_SUSPECTS,
    SPARSE_FILLED,
    Exclusion,
    _name_words,
    check_leakage,
)
from scoring.metrics import Metrics, evaluate
from scoring.model import LeadModel, Monotone, _parse_dates, looks_like_dates

Split = Literal["auto", "time", "order", "random"]

MIN_LABELS = 200
"""Below this many labelled leads the score is the points score alone."""

MIN_TO_TRAIN = 40
"""Fewer labelled leads than this are too few to train and judge a model at all."""

MIN_EACH_OUTCOME = 10
"""Each outcome needs at least this many leads to train and judge a model."""

MAX_SUSPECTS_MEASURED = 8
"""At most this many suspected leaks are each refitted to show what they would add."""


@dataclass(frozen=True, slots=True)
class TrainingResult:
    """A fitted model and everything a registry keeps beside it."""

    model: LeadModel
    metrics: Metrics
    excluded: tuple[Exclusion, ...]
    fields: tuple[str, ...]
    split: str
    summary: dict[str, Any] = field(default_factory=dict)
    holdout: pd.DataFrame | None = None
    holdout_target: np.ndarray | None = None
    with_suspects: tuple[tuple[str, float], ...] = ()
    notes: tuple[str, ...] = ()


def labels_needed(y: Any) -> str:
    """Why there are too few labels to train, with how many more are needed ("" if enough)."""
    target = np.asarray(y).astype(int)
    positives, negatives = int(target.sum()), int(len(target) - target.sum())
    more = max(MIN_TO_TRAIN - len(target), MIN_EACH_OUTCOME - positives, 0)
    more = max(more, MIN_EACH_OUTCOME - negatives)
    if not more:
        return ""
    return (f"{len(target)} labelled leads ({positives} converted, {negatives} not); training "
            f"needs at least {MIN_TO_TRAIN} with {MIN_EACH_OUTCOME} of each outcome: "
            f"{more} more labelled lead(s) needed")


def find_date_column(frame: pd.DataFrame) -> str | None:
    """The column that says when each lead came in: the first date column with few gaps."""
    preferred = [name for name in frame.columns if _name_words(str(name)) & {"created", "first"}]
    for name in [*preferred, *frame.columns]:
        values = frame[name]
        if values.notna().mean() >= 0.95 and looks_like_dates(values):
            return str(name)
    return None


def prepare(
    frame: pd.DataFrame,
    y: Any,
    *,
    fields: Sequence[str] | None = None,
    keep: Iterable[str] = (),
    keep_leaky: bool = False,
    date_column: str | None = None,
    outcome_date: str | None = None,
    dominance: bool = True,
) -> tuple[list[str], tuple[Exclusion, ...], tuple[str, ...]]:
    """The fields to train on after the leakage check, what it excluded, and notes.

    Args:
        frame: candidate fields (without the outcome).
        y: outcomes.
        fields: the admin's chosen fields; None for every column.
        keep: fields to keep although the check would exclude them.
        keep_leaky: keep every suspected leak (identifiers and constants still go).
        date_column: when each lead came in, if known.
        outcome_date: the column holding the outcome's date, if any.
        dominance: also run the dominance check (see :mod:`scoring.dominance`).

    Returns:
        The fields to use, the exclusions (those kept on request are not listed), and
        notes on checks that could not run.
    """
    chosen = list(fields) if fields is not None else list(frame.columns)
    missing = [name for name in chosen if name not in frame.columns]
    if missing:
        raise ValueError(f"chosen fields not in the data: {missing}")
    kept = set(keep)
    exclusions = list(check_leakage(frame[chosen], y, date_column=date_column,
                                    outcome_date=outcome_date))
    notes: tuple[str, ...] = ()
    if dominance and not keep_leaky:
        gone = {e.field for e in exclusions if e.field not in kept}
        left = [name for name in chosen if name not in gone]
        dominant, _, skipped = dominance_check(
            frame[left], np.asarray(y), protected=[*kept, *([date_column] if date_column else [])]
        )
        exclusions.extend(dominant)
        notes = (skipped,) if skipped else ()
    final = []
    for exclusion in exclusions:
        if exclusion.field in kept:
            continue
        if keep_leaky and exclusion.rule not in NOT_SUSPECTS:
            continue
        final.append(exclusion)
    gone = {exclusion.field for exclusion in final}
    order = {name: i for i, name in enumerate(chosen)}
    final.sort(key=lambda e: order.get(e.field, len(order)))
    return [name for name in chosen if name not in gone], tuple(final), notes


def split_rows(
    frame: pd.DataFrame, y: np.ndarray, *, how: Split = "auto", date_column: str | None,
    holdout: float = 0.2, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Training and held-out rows, and the split in words.

    ``time`` holds out the latest leads by ``date_column``; ``order`` the last rows of the
    file (exports usually come in creation order); ``random`` a random share; ``auto`` is
    ``time`` when there is a date, else ``random``.

    Raises:
        ValueError: ``time`` without a date, or a held-out part with a single outcome.
    """
    n = len(frame)
    size = max(1, int(round(n * holdout)))
    if how == "time" and date_column is None:
        raise ValueError("--split time needs a date column and none was found (use --date)")
    if how in ("time", "auto") and date_column is not None:
        stamps = _parse_dates(frame[date_column]).to_numpy(dtype="datetime64[ns]")
        order = np.argsort(stamps.astype("int64"), kind="stable")
        words = f"time-ordered: the latest {size} leads by {date_column}"
    elif how == "order":
        order, words = np.arange(n), f"file order: the last {size} rows held out"
    else:
        rng = np.random.default_rng(seed)
        order = rng.permutation(n)
        words = f"random: {size} leads held out"
    train_rows, test_rows = np.sort(order[: n - size]), np.sort(order[n - size :])
    if len(np.unique(y[test_rows])) < 2 or len(np.unique(y[train_rows])) < 2:
        if how == "auto" and not words.startswith("random"):
            return split_rows(frame, y, how="random", date_column=None, holdout=holdout,
                              seed=seed)
        raise ValueError(f"the {words.split(':')[0]} split leaves a part with one outcome only")
    return train_rows, test_rows, words


def train(
    frame: pd.DataFrame,
    y: Any,
    *,
    fields: Sequence[str] | None = None,
    keep: Iterable[str] = (),
    keep_leaky: bool = False,
    date_column: str | None = "auto",
    outcome_date: str | None = None,
    split: Split = "auto",
    monotone: Mapping[str, Monotone] | None = None,
    text_fields: Sequence[str] = (),
    sample_weight: Any = None,
    holdout: float = 0.2,
    measure_suspects: bool = True,
    random_state: int = 0,
) -> TrainingResult:
    """The default training path: split, check for leaks, fit, evaluate on the holdout.

    Args:
        frame: historical leads, one row per lead (without the outcome column).
        y: outcomes, 1 converted and 0 not.
        fields: the admin's chosen fields; None for every column.
        keep: fields to keep although the leakage check would exclude them.
        keep_leaky: keep every suspected leak.
        date_column: when each lead came in: ``"auto"`` to find it, None for none. With a
            date the holdout is the most recent leads; the date enters the model as an age.
        outcome_date: the column holding the outcome's date, if any (see the leakage check).
        split: ``auto``, ``time``, ``order`` or ``random`` (see :func:`split_rows`).
        monotone: the admin's monotone hints (see :class:`~scoring.model.LeadModel`).
        text_fields: fields to read as free text.
        sample_weight: per-lead weights (e.g. lower for rep overrides than for outcomes).
        holdout: the share of leads held out for the figures.
        measure_suspects: refit with each suspected leak to report the held-out ROC AUC
            it would give (``with_suspects``).
        random_state: seed.

    Returns:
        The model (fitted on the training part), its holdout figures, the exclusions, the
        fields used, how the split was made, a summary, and what the suspects would add.

    Raises:
        ValueError: the outcome is not binary, too few labels, a chosen field is not in the
            data, or the split is impossible.
    """
    target = np.asarray(y).astype(int)
    if set(np.unique(target).tolist()) != {0, 1}:
        raise ValueError("the outcome needs both converted (1) and not converted (0) leads")
    if short := labels_needed(target):
        raise ValueError(f"cannot train: {short}")
    date = find_date_column(frame) if date_column == "auto" else date_column
    train_rows, test_rows, how = split_rows(
        frame, target, how=split, date_column=date, holdout=holdout, seed=random_state
    )
    part = frame.iloc[train_rows]
    used, excluded, notes = prepare(
        part, target[train_rows], fields=fields, keep=keep, keep_leaky=keep_leaky,
        date_column=date, outcome_date=outcome_date,
    )
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)

    def fit(names: list[str]) -> LeadModel:
        model = LeadModel(
            fields=names,
            monotone={k: v for k, v in (monotone or {}).items() if k in names},
            text_fields=tuple(name for name in text_fields if name in names),
            random_state=random_state,
        )
        return model.fit(part, target[train_rows],
                         sample_weight=None if weights is None else weights[train_rows])

    model = fit(used)
    held = frame.iloc[test_rows]
    metrics = evaluate(target[test_rows], model.predict_proba(held)[:, 1])
    suspects = [e.field for e in excluded if e.rule not in NOT_SUSPECTS]
    with_suspects: list[tuple[str, float]] = []
    if measure_suspects and suspects:
        trials = [[name] for name in suspects[:MAX_SUSPECTS_MEASURED]]
        if len(suspects) > 1:
            trials.append(suspects)
        for extra in trials:
            names = [name for name in frame.columns if name in {*used, *extra}]
            auc = evaluate(target[test_rows], fit(names).predict_proba(held)[:, 1]).roc_auc
            with_suspects.append((", ".join(extra) if len(extra) == 1 else "all of them", auc))
    summary = {
        "rows": len(frame),
        "positives": int(target.sum()),
        "train_rows": len(train_rows),
        "holdout_rows": len(test_rows),
        "date_column": date,
        "fields": used,
        "roles": dict(model.features_.roles_),
    }
    return TrainingResult(
        model=model, metrics=metrics, excluded=excluded, fields=tuple(used), split=how,
        summary=summary, holdout=held, holdout_target=target[test_rows],
        with_suspects=tuple(with_suspects), notes=notes,
    )


def cross_validate(
    frame: pd.DataFrame, y: Any, *, folds: int = 5, random_state: int = 0
) -> tuple[Metrics, tuple[Exclusion, ...]]:
    """Out-of-fold figures of the default path (leakage check and fit inside every fold).

    Args:
        frame: historical leads without the outcome.
        y: outcomes.
        folds: stratified folds.
        random_state: seed.

    Returns:
        Figures over all out-of-fold predictions, and the exclusions of the whole data.
    """
    target = np.asarray(y).astype(int)
    date = find_date_column(frame)
    _, excluded, _ = prepare(frame, target, date_column=date)
    out_of_fold = np.zeros(len(frame))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    for train_rows, test_rows in splitter.split(np.zeros(len(target)), target):
        part = frame.iloc[train_rows]
        used, _, _ = prepare(part, target[train_rows], date_column=date)
        model = LeadModel(fields=used, random_state=random_state)
        model.fit(part, target[train_rows])
        out_of_fold[test_rows] = model.predict_proba(frame.iloc[test_rows])[:, 1]
    return evaluate(target, out_of_fold), excluded


CREATED = "created_at"


def train_labelled(labelled: LabelledLeads, **options: Any) -> TrainingResult:
    """:func:`train` on leads from the store, holding out the most recent leads.

    The model frame carries ages, not dates; the leads' creation dates ride along only to
    order the split (they are not a model field). Without dates the holdout is random.

    Args:
        labelled: what :func:`labelled_leads` returned.
        options: passed to :func:`train` (keep, keep_leaky, holdout, ...).

    Returns:
        The training result.
    """
    frame = labelled.frame.reset_index(drop=True)
    fields = options.pop("fields", None) or list(frame.columns)
    date: str | None = None
    if labelled.created and sum(c is not None for c in labelled.created) >= 0.95 * len(frame):
        frame = frame.assign(**{CREATED: pd.to_datetime(
            pd.Series(labelled.created, dtype=object), utc=True, errors="coerce",
            format="ISO8601")})
        date = CREATED
    return train(frame, labelled.target, fields=fields, date_column=date,
                 sample_weight=labelled.weight, **options)


__all__ = [
    "AFTER_OUTCOME_WORDS", "DECISIVE_AUC", "MIN_LABELS", "MODEL_FIELDS_FROM_LEADS",
    "NEAR_PERFECT_AUC", "NEGATIVE_STATUSES", "POSITIVE_STATUSES", "SPARSE_FILLED", "Exclusion",
    "LabelledLeads", "Metrics", "TrainingResult", "check_leakage", "cross_validate", "evaluate",
    "find_date_column", "labelled_leads", "labels_needed", "model_frame", "outcome_of",
    "prepare", "read_outcomes", "split_rows", "train", "train_labelled",
]
