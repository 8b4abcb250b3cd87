"""Lead scoring: admin weights, feature frames and the explainable points score.

This package imports nothing else of leadloop's: leads come in as plain mappings and
scores go out as plain records. The learned model lives in submodules imported on demand
(they load scikit-learn and skops): ``scoring.blend`` (points blended with the champion
model), ``scoring.model``, ``scoring.train``, ``scoring.registry`` and ``scoring.preview``.
"""

from scoring.errors import LeadDataError, ScoringError, WeightsError, WeightsProblem
from scoring.features import LeadFrames, build_frames, lead_frame
from scoring.points import Factor, LeadScore, needed_columns, score_frame, score_leads
from scoring.weights import (
    Caps,
    Condition,
    Criterion,
    Decay,
    Profile,
    Tiers,
    Weights,
    default_weights_path,
    load_weights,
    parse_weights,
    weights_from_mapping,
)

__all__ = [
    "Caps",
    "Condition",
    "Criterion",
    "Decay",
    "Profile",
    "Factor",
    "LeadDataError",
    "LeadFrames",
    "LeadScore",
    "ScoringError",
    "Tiers",
    "Weights",
    "WeightsError",
    "WeightsProblem",
    "build_frames",
    "default_weights_path",
    "lead_frame",
    "load_weights",
    "needed_columns",
    "parse_weights",
    "score_frame",
    "score_leads",
    "weights_from_mapping",
]
