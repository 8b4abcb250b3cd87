"""The figures that judge a model on held-out leads: ranking, calibration and lift."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


@dataclass(frozen=True, slots=True)
class Metrics:
    """How well probabilities rank and how well they are calibrated, on held-out leads."""

    rows: int
    positives: int
    roc_auc: float
    pr_auc: float
    brier: float
    ece: float
    calibration: tuple[tuple[float, float, float, int], ...]
    lift: tuple[tuple[int, float, float], ...]

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-ready values."""
        return {
            "rows": self.rows,
            "positives": self.positives,
            "roc_auc": self.roc_auc,
            "pr_auc": self.pr_auc,
            "brier": self.brier,
            "ece": self.ece,
            "calibration": [list(row) for row in self.calibration],
            "lift": [list(row) for row in self.lift],
        }


def evaluate(y_true: Any, probability: Any, *, bins: int = 10) -> Metrics:
    """ROC AUC, PR AUC, Brier score, expected calibration error, calibration table, lift.

    Args:
        y_true: outcomes, 1 converted and 0 not.
        probability: predicted probabilities of conversion.
        bins: bins of the calibration table (equal width) and of the lift table (deciles).

    Returns:
        The figures. The calibration table rows are (bin low, mean predicted, observed
        rate, leads); lift rows are (decile from the top, conversion rate, lift over the
        base rate). ECE is the lead-weighted mean gap between predicted and observed.
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(probability, dtype=float)
    both = len(np.unique(y)) == 2
    edges = np.linspace(0.0, 1.0, bins + 1)
    slot = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table = []
    ece = 0.0
    for index in range(bins):
        chosen = slot == index
        count = int(chosen.sum())
        if not count:
            continue
        predicted, observed = float(p[chosen].mean()), float(y[chosen].mean())
        ece += count / len(y) * abs(predicted - observed)
        table.append((float(edges[index]), predicted, observed, count))
    base = float(y.mean()) if len(y) else 0.0
    order = np.argsort(-p, kind="stable")
    lift = []
    for decile, part in enumerate(np.array_split(order, bins), start=1):
        if len(part):
            rate = float(y[part].mean())
            lift.append((decile, rate, rate / base if base else 0.0))
    return Metrics(
        rows=len(y),
        positives=int(y.sum()),
        roc_auc=float(roc_auc_score(y, p)) if both else float("nan"),
        pr_auc=float(average_precision_score(y, p)) if both else float("nan"),
        brier=float(brier_score_loss(y, p)) if len(y) else float("nan"),
        ece=ece,
        calibration=tuple(table),
        lift=tuple(lift),
    )
