"""The dominance check: one field that carries most of the model's skill was likely recorded
after contact (a sales call's duration, a meeting's length).

A form field or a web visit helps a model; it rarely *is* the model. When a model is strong
(validation ROC AUC at least :data:`STRONG_MODEL_AUC`), leaving one field out costs a large
share of its skill (ROC AUC above chance, on a validation split), and that field alone is
nearly as strong as all the others together, the field is
suspected of being known only once the lead has been worked, and is left out by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from scoring.leakage import Exclusion, _single_field_auc
from scoring.model import LeadFeatures

DOMINANT_SHARE = 0.25
"""Leaving the field out costs at least this share of the model's skill (AUC - 0.5)."""

ALONE_RATIO = 0.75
"""The field alone has at least this share of the skill of all the other fields together."""

STRONG_MODEL_AUC = 0.85
"""Only a model at least this strong with the field is suspect: a lone honest signal (web
visits in a small CRM) carries a modest model; a post-contact field makes it look superb."""

MIN_EACH_OUTCOME = 40
"""Fewer converted (or not converted) leads than this: the check is skipped, and says so."""

CANDIDATES = 3
"""Only the fields strongest on their own can dominate; this many are put to the test."""


@dataclass(frozen=True, slots=True)
class Dominance:
    """The figures of one candidate: validation ROC AUC with all fields, without it, alone."""

    field: str
    with_all: float
    without: float
    alone: float

    @property
    def share_lost(self) -> float:
        """The share of the model's skill lost when the field is left out."""
        skill = self.with_all - 0.5
        return (self.with_all - self.without) / skill if skill > 0 else 0.0

    @property
    def alone_ratio(self) -> float:
        """The field's skill alone over the skill of all the other fields together."""
        others = self.without - 0.5
        return (self.alone - 0.5) / others if others > 0 else float("inf")

    @property
    def dominant(self) -> bool:
        """Whether the field is suspected of being recorded after contact."""
        return (self.with_all >= STRONG_MODEL_AUC and self.share_lost >= DOMINANT_SHARE
                and self.alone_ratio >= ALONE_RATIO)

    def reason(self) -> str:
        """The figures in words."""
        return (
            f"without it the model's validation ROC AUC falls from {self.with_all:.3f} to "
            f"{self.without:.3f} ({self.share_lost:.0%} of its skill), and alone it reaches "
            f"{self.alone:.3f}, as strong as all the other fields together: a field that "
            "dominates like this is usually recorded after contact (--keep it if it is not)"
        )


def _validation_auc(
    frame: pd.DataFrame, y: np.ndarray, fit_rows: np.ndarray, check_rows: np.ndarray,
    columns: Sequence[str], seed: int,
) -> float:
    features = LeadFeatures(random_state=seed)
    fitted = features.fit_transform(frame.iloc[fit_rows][list(columns)], y[fit_rows])
    mask = features.categorical_mask()
    model = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20,
        categorical_features=mask if mask.any() else None, early_stopping=False,
        random_state=seed,
    )
    model.fit(fitted, y[fit_rows])
    checked = features.transform(frame.iloc[check_rows][list(columns)])
    return float(roc_auc_score(y[check_rows], model.predict_proba(checked)[:, 1]))


def dominance_check(
    frame: pd.DataFrame, y: np.ndarray, *, protected: Sequence[str] = (), seed: int = 0,
) -> tuple[tuple[Exclusion, ...], tuple[Dominance, ...], str]:
    """Fields that dominate the model, with the figures of every candidate tested.

    Args:
        frame: the fields left after the other leakage rules (without the outcome).
        y: outcomes, 1 converted and 0 not.
        protected: fields never excluded (the lead's creation date).
        seed: seed of the validation split and the models.

    Returns:
        The exclusions (rule ``dominant``), the figures of each candidate, and why the
        check was skipped ("" when it ran).
    """
    target = np.asarray(y).astype(int)
    rarer = int(min(target.sum(), len(target) - target.sum()))
    if rarer < MIN_EACH_OUTCOME:
        return (), (), (f"dominance check skipped: {rarer} leads of the rarer outcome, "
                         f"fewer than {MIN_EACH_OUTCOME}")
    columns = [str(name) for name in frame.columns]
    if len(columns) < 2:
        return (), (), "dominance check skipped: fewer than two fields"
    rows = np.arange(len(frame))
    fit_rows, check_rows = train_test_split(
        rows, test_size=0.3, stratify=target, random_state=seed
    )
    strength = {name: _single_field_auc(frame[name], target) for name in columns
                if name not in protected}
    candidates = sorted(strength, key=lambda name: -strength[name])[:CANDIDATES]
    with_all = _validation_auc(frame, target, fit_rows, check_rows, columns, seed)
    figures = []
    for name in candidates:
        others = [column for column in columns if column != name]
        figures.append(Dominance(
            field=name, with_all=with_all,
            without=_validation_auc(frame, target, fit_rows, check_rows, others, seed),
            alone=_validation_auc(frame, target, fit_rows, check_rows, [name], seed),
        ))
    excluded = tuple(Exclusion(f.field, "dominant", f.reason()) for f in figures if f.dominant)
    return excluded, tuple(figures), ""
