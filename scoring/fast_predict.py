"""Cached preprocessing for predicting a few leads at a time with a fitted model.

scikit-learn validates and re-encodes its input on every call: the target encoder checks
and ordinal-encodes its text, each of the calibration's boosted models runs a column
transformer to encode its category codes. For a webhook's one lead that overhead is most of
the time. Here the fitted encodings are read once into lookup tables (held beside the fitted
objects, never saved with them) and the trees are called directly on pre-encoded input.
The results equal scikit-learn's own ``transform`` and ``predict_proba`` (a test holds them
side by side); anything this does not recognise falls back to scikit-learn's path.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

_TARGET_CACHE: weakref.WeakKeyDictionary[Any, list[tuple[dict[Any, float], float]]] = (
    weakref.WeakKeyDictionary()
)
_PREDICT_CACHE: weakref.WeakKeyDictionary[Any, _Calibrated | None] = weakref.WeakKeyDictionary()


def target_encode(encoder: Any, values: np.ndarray) -> np.ndarray:
    """``encoder.transform(values)`` for a fitted binary ``TargetEncoder``, by lookup."""
    tables = _TARGET_CACHE.get(encoder)
    if tables is None:
        if getattr(encoder, "target_type_", None) != "binary":
            result: np.ndarray = encoder.transform(values)
            return result
        tables = [
            (dict(zip(categories.tolist(), encoding.tolist(), strict=True)),
             float(encoder.target_mean_))
            for categories, encoding in zip(encoder.categories_, encoder.encodings_, strict=True)
        ]
        _TARGET_CACHE[encoder] = tables
    out = np.empty(values.shape, dtype=np.float64)
    for column, (table, unknown) in enumerate(tables):
        out[:, column] = [table.get(value, unknown) for value in values[:, column].tolist()]
    return out


@dataclass(frozen=True, slots=True)
class _Fold:
    categorical: np.ndarray  # input columns the boosting encodes, in its order
    numerical: np.ndarray
    categories: list[np.ndarray]  # per categorical column, the known codes (sorted)
    baseline: float
    predictors: list[Any]
    bitsets: Any
    feature_map: Any
    calibrator: Any


@dataclass(frozen=True, slots=True)
class _Calibrated:
    folds: list[_Fold]


def calibrated_positive(calibrated: Any, numeric: np.ndarray) -> np.ndarray:
    """``calibrated.predict_proba(numeric)[:, 1]`` for a fitted ``CalibratedClassifierCV``
    over ``HistGradientBoostingClassifier`` (binary), with the input encoding cached."""
    if calibrated not in _PREDICT_CACHE:
        _PREDICT_CACHE[calibrated] = _compile(calibrated)
    compiled = _PREDICT_CACHE[calibrated]
    if compiled is None:
        result: np.ndarray = calibrated.predict_proba(numeric)[:, 1]
        return result
    numeric = np.ascontiguousarray(numeric, dtype=np.float64)
    total = np.zeros(len(numeric))
    for fold in compiled.folds:
        encoded = np.empty_like(numeric)
        for slot, (column, known) in enumerate(
            zip(fold.categorical.tolist(), fold.categories, strict=True)
        ):
            values = numeric[:, column]
            index = np.searchsorted(known, values)
            clipped = np.minimum(index, max(len(known) - 1, 0))
            hit = (index < len(known)) & (known[clipped] == values) if len(known) else (
                np.zeros(len(values), dtype=bool))
            encoded[:, slot] = np.where(hit, clipped, np.nan)
        encoded[:, len(fold.categorical):] = numeric[:, fold.numerical]
        raw = np.full(len(numeric), fold.baseline)
        for predictor in fold.predictors:
            raw += predictor.predict(encoded, fold.bitsets, fold.feature_map, 1)
        chance = _calibrate(fold.calibrator, raw)
        chance[(chance > 1.0) & (chance <= 1.0 + 1e-5)] = 1.0
        total += chance
    positive: np.ndarray = total / len(compiled.folds)
    return positive


def _calibrate(calibrator: Any, raw: np.ndarray) -> np.ndarray:
    """``calibrator.predict(raw)``; an isotonic one by interpolating its thresholds directly
    (its own predict re-validates the input, which costs more than the interpolation)."""
    thresholds = getattr(calibrator, "X_thresholds_", None)
    if (thresholds is not None and getattr(calibrator, "out_of_bounds", None) == "clip"
            and len(thresholds) > 1):
        clipped = np.clip(raw, calibrator.X_min_, calibrator.X_max_)
        chance: np.ndarray = np.interp(clipped, thresholds, calibrator.y_thresholds_)
        return chance.astype(np.float64)
    return np.asarray(calibrator.predict(raw), dtype=np.float64)


def _compile(calibrated: Any) -> _Calibrated | None:
    """Lookup tables for ``calibrated``, or None where its shape is not the expected one."""
    try:
        folds = []
        for fitted in calibrated.calibrated_classifiers_:
            boosting = fitted.estimator
            if (
                fitted.method not in ("sigmoid", "isotonic")
                or len(fitted.classes) != 2
                or list(boosting.classes_) != list(fitted.classes)
                or boosting.n_trees_per_iteration_ != 1
                or len(fitted.calibrators) != 1
            ):
                return None
            width = int(boosting.n_features_in_)
            if boosting._preprocessor is None:
                mask = np.zeros(width, dtype=bool)
                categories: list[np.ndarray] = []
            else:
                mask = np.asarray(boosting.is_categorical_, dtype=bool)
                encoder = boosting._preprocessor.named_transformers_["encoder"]
                categories = [
                    np.asarray(known, dtype=np.float64)[~np.isnan(np.asarray(known, float))]
                    for known in encoder.categories_
                ]
            bitsets, feature_map = boosting._bin_mapper.make_known_categories_bitsets()
            folds.append(_Fold(
                categorical=np.flatnonzero(mask),
                numerical=np.flatnonzero(~mask),
                categories=categories,
                baseline=float(np.asarray(boosting._baseline_prediction).ravel()[0]),
                predictors=[step[0] for step in boosting._predictors],
                bitsets=bitsets,
                feature_map=feature_map,
                calibrator=fitted.calibrators[0],
            ))
        return _Calibrated(folds)
    except (AttributeError, KeyError, TypeError, IndexError):
        return None
