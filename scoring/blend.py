"""The final score: the admin's points blended with the model's calibrated probability.

``final = round((1 - blend) * points + blend * 100 * probability)``, with ``blend`` set by
the admin. Without a model, or with one that learned from fewer than ``min_labels`` labels,
the final score is the points score alone and :attr:`LeadScore.model_note` says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from scoring.fast_encode import few_contributions, few_values
from scoring.features import build_frames, few_leads_frame
from scoring.model import Contribution, LeadModel
from scoring.points import (
    FEW_LEADS,
    Factor,
    LeadScore,
    needed_columns,
    score_few,
    score_frame,
    score_leads,
)
from scoring.train import MIN_LABELS, MODEL_FIELDS_FROM_LEADS
from scoring.weights import Weights


@dataclass(frozen=True, slots=True)
class ScoringModel:
    """A trained model as the scorer uses it: the estimator, its version, its label count."""

    model: LeadModel
    version: str
    labels: int


def model_status(
    model: ScoringModel | None, *, blend: float, min_labels: int = MIN_LABELS
) -> str:
    """Why the model takes no part in the score ("" when it does).

    Args:
        model: the champion model, if any.
        blend: the admin's blend (0 means points only).
        min_labels: the fewest labels a model must have learned from.

    Returns:
        An empty string when the model takes part, otherwise one sentence.
    """
    if model is None:
        return "no model promoted yet: the score is the points score alone"
    if blend <= 0:
        return "the blend is 0: the score is the points score alone"
    if model.labels < min_labels:
        return (
            f"model {model.version} learned from {model.labels} labels, fewer than "
            f"{min_labels}: the score is the points score alone"
        )
    return ""


def score_leads_blended(
    leads: Iterable[Mapping[str, Any]],
    weights: Weights,
    *,
    now: datetime,
    model: ScoringModel | None = None,
    blend: float = 0.5,
    min_labels: int = MIN_LABELS,
    top_model_factors: int = 3,
) -> list[LeadScore]:
    """Score leads with the admin's weights and, when there is one, the champion model.

    Args:
        leads: lead records as mappings (``Lead.model_dump()`` dicts or the same keys).
        weights: the admin's validated weights.
        now: the moment event windows and ages are measured from.
        model: the champion (see :meth:`scoring.registry.ModelRegistry.load_champion`).
        blend: the model's share of the final score, 0 to 1.
        min_labels: below this many labels the model takes no part.
        top_model_factors: how many model contributions each score carries.

    Returns:
        One score per lead, in input order. ``score`` and ``tier`` are final;
        ``points_score``, ``probability`` and ``model_version`` say what made them;
        ``factors`` holds the rules that fired (their admin points), the model's
        biggest contributions (group ``"model"``, points = effect on the final score) and
        the blend's own pull (group ``"blend"``), so the factors' points add up to ``score``.

    Raises:
        LeadDataError: a lead value cannot be read.
        ValueError: ``blend`` is outside 0-1.
    """
    if not 0.0 <= blend <= 1.0:
        raise ValueError(f"blend must be between 0 and 1, got {blend}")
    note = model_status(model, blend=blend, min_labels=min_labels)
    if note:
        return [replace(result, model_note=note) for result in score_leads(leads, weights,
                                                                             now=now)]
    assert model is not None
    records = leads if isinstance(leads, list) else list(leads)
    fast = None
    if len(records) <= FEW_LEADS:
        # A webhook's rescore: read the one lead without building frames or running pandas.
        points = score_few(records, weights, now=now)
        rows = few_values(records, now=now, columns=MODEL_FIELDS_FROM_LEADS)
        fast = few_contributions(model.model, rows, top=top_model_factors)
        if fast is None:
            model_input = few_leads_frame(records, now=now, columns=MODEL_FIELDS_FROM_LEADS)
    else:
        fields, _ = needed_columns(weights)
        frames = build_frames(
            records, now=now, columns=fields | set(MODEL_FIELDS_FROM_LEADS), with_events=True
        )
        points = score_frame(frames, weights)
        model_input = frames.leads[list(MODEL_FIELDS_FROM_LEADS)].copy()
    if fast is None:
        model_input["email_opt_out"] = model_input["email_opt_out"].astype("Float64")
        fast = model.model.contributions(model_input, top=top_model_factors)
    probability, contributions = fast
    final = np.rint((1.0 - blend) * np.array([r.score for r in points]) + blend * 100.0
                    * probability).astype(np.int64)
    final = np.clip(final, 0, 100)
    tiering = {name: weights.for_profile(name) for name in (None, *weights.profile_names())}
    results = []
    for result, score, chance, explained in zip(
        points, final.tolist(), probability.tolist(), contributions, strict=True
    ):
        learned = _model_factors(explained, blend)
        shown = (*result.factors, *learned)
        # What the blend itself moves (the rules weigh 1 - blend, the clamp to 0-100, the
        # model's estimate beyond its top fields) is a reason too, so the reasons add up.
        pull = score - sum(factor.points for factor in shown)
        if pull:
            shown = (*shown, Factor(_pull_label(chance, blend), pull, "blend"))
        factors = sorted(shown, key=lambda f: -abs(f.points))
        results.append(
            replace(
                result,
                score=score,
                tier=tiering[result.profile].tier_for(score),
                factors=tuple(factors),
                probability=round(chance, 4),
                model_version=model.version,
            )
        )
    return results


def _pull_label(probability: float, blend: float) -> str:
    return (f"blended with the learned model ({probability:.0%} likely to convert, "
            f"{blend:.0%} of the score)")


def _model_factors(explained: list[Contribution], blend: float) -> list[Factor]:
    factors = []
    for contribution in explained:
        points = int(round(100.0 * blend * contribution.delta))
        if points:
            words = contribution.field.replace("_", " ")
            label = f"{words} is {contribution.value} (learned from outcomes)"
            factors.append(Factor(label, points, "model"))
    return factors
