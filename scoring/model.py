"""The learned model: a calibrated probability of conversion from a frame of lead fields.

Two estimators, both following scikit-learn's conventions (``__init__`` stores parameters
only, fitted attributes end in ``_``, ``fit`` returns ``self``):

- :class:`BoostedClassifier` works on numeric arrays: gradient boosting
  (``HistGradientBoostingClassifier``, with the admin's monotone hints as
  ``monotonic_cst``) wrapped in ``CalibratedClassifierCV``. It is the part checked with
  ``sklearn.utils.estimator_checks.parametrize_with_checks``.
- :class:`LeadModel` takes a pandas frame of lead fields (numbers, true/false, categories of
  any cardinality, dates, free text such as a job title), turns it into numbers with
  :class:`LeadFeatures` and fits a :class:`BoostedClassifier` on them. It explains each
  prediction field by field (:meth:`LeadModel.contributions`).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import TargetEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from scoring.fast_predict import calibrated_positive, target_encode

FieldRole = Literal["number", "category", "high_cardinality", "date", "text"]
Monotone = Literal["increasing", "decreasing"]

LOW_CARDINALITY = 32
"""Text fields with at most this many distinct values are categories the trees split on."""

_MISSING = "(missing)"
_SECONDS_PER_DAY = 86_400.0
_WORD = re.compile(r"[a-z][a-z0-9+#]+")


def _as_text(values: pd.Series) -> np.ndarray:
    """Values as stripped text, NaN where missing or empty."""
    out = np.empty(len(values), dtype=object)
    raw = values.to_numpy(dtype=object)
    missing = pd.isna(values).to_numpy()
    out[:] = [None if gone else str(value).strip() or None for value, gone in zip(raw, missing,
                                                                                  strict=True)]
    return out


def looks_like_dates(values: pd.Series) -> bool:
    """Whether a text or datetime column holds dates (at least 95 % of present values parse)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(
        values
    ):
        return True
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return False
    present = values.dropna()
    if present.empty:
        return False
    sample = present.astype(str).head(200)
    if not sample.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True).mean() >= 0.95:
        return False
    return bool(_parse_dates(sample).notna().mean() >= 0.95)


def _parse_dates(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    else:
        text = values.astype("string")
        day_first = text.str.match(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}").fillna(False).mean() > 0.5
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="mixed",
                                dayfirst=bool(day_first))
    return pd.Series(parsed, index=values.index)


def infer_roles(frame: pd.DataFrame, *, text_fields: Sequence[str] = ()) -> dict[str, FieldRole]:
    """How each column of a lead frame becomes model input.

    Args:
        frame: the lead fields, one row per lead.
        text_fields: columns to read as free text (words), e.g. a job title.

    Returns:
        For each column: ``number`` (numbers and true/false), ``date`` (days before the
        latest training date), ``category`` (few distinct values), ``high_cardinality``
        (target-encoded) or ``text``.
    """
    roles: dict[str, FieldRole] = {}
    for name in frame.columns:
        column = frame[name]
        if name in text_fields:
            roles[name] = "text"
        elif pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            roles[name] = "number"
        elif looks_like_dates(column):
            roles[name] = "date"
        elif column.nunique(dropna=True) <= LOW_CARDINALITY:
            roles[name] = "category"
        else:
            roles[name] = "high_cardinality"
    return roles


class LeadFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Lead fields (a DataFrame) to a numeric array for gradient boosting.

    Numbers and true/false pass through (NaN stays missing), dates become days before the
    latest date seen in training and the day of the week, categories become codes the trees
    split on natively, high-cardinality text is target-encoded (cross-fitted while training)
    and also counted (how common the value was in training: a landing page thousands of
    leads came through is not one a handful did), and free text is a bag of its most
    frequent words.

    Args:
        roles: the role of each column (see :func:`infer_roles`); None to infer them.
        text_fields: columns to read as free text when roles are inferred.
        max_words: the most words kept per text field.
        random_state: seed of the target encoder's cross-fitting.
    """

    def __init__(
        self,
        roles: Mapping[str, FieldRole] | None = None,
        text_fields: Sequence[str] = (),
        max_words: int = 30,
        random_state: int | None = 0,
    ) -> None:
        self.roles = roles
        self.text_fields = text_fields
        self.max_words = max_words
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any = None) -> LeadFeatures:
        """Learn categories, encodings and vocabularies from a training frame."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: pd.DataFrame, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit, and transform the training frame (target encoding cross-fitted)."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError("LeadFeatures takes a pandas DataFrame of lead fields")
        roles = dict(self.roles) if self.roles is not None else infer_roles(
            X, text_fields=self.text_fields
        )
        self.roles_: dict[str, FieldRole] = {name: roles[name] for name in X.columns}
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.categories_: dict[str, list[str]] = {}
        self.words_: dict[str, CountVectorizer] = {}
        self.date_reference_: dict[str, float] = {}
        self.frequencies_: dict[str, dict[str, float]] = {}
        self.encoder_: TargetEncoder | None = None
        high = [name for name, role in self.roles_.items() if role == "high_cardinality"]
        for name, role in self.roles_.items():
            if role == "category":
                present = pd.Series(_as_text(X[name])).dropna()
                self.categories_[name] = sorted(present.unique().tolist())
            elif role == "date":
                stamps = _parse_dates(X[name])
                latest = stamps.max()
                self.date_reference_[name] = (
                    0.0 if pd.isna(latest) else float(latest.timestamp())
                )
            elif role == "text":
                vectorizer = CountVectorizer(
                    max_features=self.max_words, binary=True, token_pattern=_WORD.pattern,
                    min_df=5, lowercase=True,
                )
                texts = [value or "" for value in _as_text(X[name])]
                try:
                    vectorizer.fit(texts)
                except ValueError:  # no word occurs often enough: nothing to learn
                    vectorizer = CountVectorizer(vocabulary=["(none)"])
                    vectorizer.fit(texts)
                self.words_[name] = vectorizer
        encoded: np.ndarray | None = None
        if high:
            if y is None:
                raise ValueError("high-cardinality fields need the target to be encoded")
            self.encoder_ = TargetEncoder(
                target_type="binary",
                cv=StratifiedKFold(5, shuffle=True, random_state=self.random_state),
            )
            encoded = self.encoder_.fit_transform(self._high_input(X, high), np.asarray(y))
            for name in high:
                shares = pd.Series(self._high_input(X, [name])[:, 0]).value_counts(
                    normalize=True)
                self.frequencies_[name] = {str(k): float(v) for k, v in shares.items()}
        self.high_fields_ = high
        return self._assemble(X, encoded)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The numeric array for a frame with the training columns."""
        check_is_fitted(self, "roles_")
        missing = [name for name in self.feature_names_in_ if name not in X.columns]
        if missing:
            raise ValueError(f"the frame lacks the model's fields {missing}")
        encoded = None
        if self.encoder_ is not None:
            # Cached lookup tables: the encoder's own transform re-validates on every call.
            encoded = target_encode(self.encoder_, self._high_input(X, self.high_fields_))
        return self._assemble(X, encoded)

    def _high_input(self, X: pd.DataFrame, names: list[str]) -> np.ndarray:
        columns = []
        for name in names:
            text = _as_text(X[name])
            text[pd.isna(text)] = _MISSING
            columns.append(text)
        return np.stack(columns, axis=1)

    def _assemble(self, X: pd.DataFrame, encoded: np.ndarray | None) -> np.ndarray:
        parts: list[np.ndarray] = []
        high_index = 0
        for name, role in self.roles_.items():
            column = X[name]
            if role == "number":
                parts.append(
                    pd.to_numeric(column.astype("Float64") if pd.api.types.is_bool_dtype(column)
                                  else column, errors="coerce")
                    .to_numpy(dtype=float, na_value=np.nan)[:, None]
                )
            elif role == "date":
                stamps = _parse_dates(column)
                seconds = stamps.map(
                    lambda stamp: np.nan if pd.isna(stamp) else stamp.timestamp()
                ).to_numpy(dtype=float)
                parts.append(((self.date_reference_[name] - seconds) / _SECONDS_PER_DAY)[:, None])
                if self._with_extras():
                    weekday = stamps.dt.day_of_week.to_numpy(dtype=float, na_value=np.nan)
                    parts.append(weekday[:, None])
            elif role == "category":
                lookup = {value: code for code, value in enumerate(self.categories_[name])}
                codes = np.array(
                    [np.nan if value is None else lookup.get(value, np.nan)
                     for value in _as_text(column)],
                    dtype=float,
                )
                parts.append(codes[:, None])
            elif role == "high_cardinality":
                assert encoded is not None
                parts.append(encoded[:, high_index : high_index + 1].astype(float))
                high_index += 1
                if self._with_extras():
                    shares = self.frequencies_[name]
                    values = self._high_input(X, [name])[:, 0]
                    parts.append(np.array([shares.get(v, 0.0) for v in values])[:, None])
            else:
                texts = [value or "" for value in _as_text(column)]
                parts.append(self.words_[name].transform(texts).toarray().astype(float))
        if not parts:
            return np.zeros((len(X), 0))
        return np.hstack(parts)

    def _with_extras(self) -> bool:
        # Models saved before dates had a weekday and high-cardinality fields a frequency.
        return hasattr(self, "frequencies_")

    def output_fields(self) -> list[str]:
        """For each output column, the lead field it comes from."""
        return [name for name, _ in self.output_parts()]

    def output_parts(self) -> list[tuple[str, str]]:
        """For each output column, its lead field and what it holds: ``value`` (the
        number, age, code or encoding), ``weekday``, ``frequency`` or ``word``."""
        check_is_fitted(self, "roles_")
        parts: list[tuple[str, str]] = []
        extras = self._with_extras()
        for name, role in self.roles_.items():
            if role == "text":
                parts.extend([(name, "word")] * len(self.words_[name].vocabulary_))
                continue
            parts.append((name, "value"))
            if extras and role == "date":
                parts.append((name, "weekday"))
            elif extras and role == "high_cardinality":
                parts.append((name, "frequency"))
        return parts

    def categorical_mask(self) -> np.ndarray:
        """True for output columns that are category codes."""
        return np.array(
            [self.roles_[name] == "category" for name in self.output_fields()], dtype=bool
        )


class BoostedClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Calibrated gradient boosting on numeric input, honouring monotone hints.

    Args:
        monotonic_cst: per input column, 1 (the probability never falls as the value
            rises), -1 (never rises) or 0; None for no constraints. Binary targets only.
        categorical_features: a boolean mask of input columns holding category codes.
        max_iter: boosting rounds.
        learning_rate: shrinkage of each round.
        max_leaf_nodes: leaves per tree.
        l2_regularization: L2 penalty on leaf values.
        calibration: ``isotonic``, ``sigmoid`` or ``auto`` (isotonic from 1,000 rows on).
        cv: folds of the calibration's cross-fitting.
        random_state: seed.
    """

    def __init__(
        self,
        monotonic_cst: Sequence[int] | None = None,
        categorical_features: Sequence[bool] | None = None,
        max_iter: int = 200,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        l2_regularization: float = 1.0,
        calibration: Literal["auto", "isotonic", "sigmoid"] = "auto",
        cv: int = 3,
        random_state: int | None = 0,
    ) -> None:
        self.monotonic_cst = monotonic_cst
        self.categorical_features = categorical_features
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state

    def fit(
        self, X: Any, y: Any, sample_weight: np.ndarray | None = None
    ) -> BoostedClassifier:
        """Fit the boosted trees and their calibration."""
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError("needs at least two classes in y, got 1 class")
        constraints = None
        if self.monotonic_cst is not None:
            if len(self.classes_) != 2:
                raise ValueError("monotone hints need a binary target")
            constraints = list(self.monotonic_cst)
        categorical = (
            np.asarray(self.categorical_features, dtype=bool)
            if self.categorical_features is not None and np.any(self.categorical_features)
            else None
        )
        boosting = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            l2_regularization=self.l2_regularization,
            min_samples_leaf=20,
            monotonic_cst=constraints,
            categorical_features=categorical,
            early_stopping=False,
            random_state=self.random_state,
        )
        _, counts = np.unique(y, return_counts=True)
        folds = max(2, min(self.cv, int(counts.min())))
        method = self.calibration
        if method == "auto":
            method = "isotonic" if len(y) >= 1000 else "sigmoid"
        self.calibrated_ = CalibratedClassifierCV(
            boosting,
            method=method,
            cv=StratifiedKFold(folds, shuffle=True, random_state=self.random_state),
        )
        self.calibrated_.fit(X, y, sample_weight=sample_weight)
        self.n_iter_ = max(
            int(fitted.estimator.n_iter_) for fitted in self.calibrated_.calibrated_classifiers_
        )
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated class probabilities, one column per class in ``classes_``."""
        check_is_fitted(self, "calibrated_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        probabilities: np.ndarray = self.calibrated_.predict_proba(X)
        return probabilities

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class."""
        probabilities = self.predict_proba(X)
        labels: np.ndarray = self.classes_[np.argmax(probabilities, axis=1)]
        return labels

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


@dataclass(frozen=True, slots=True)
class Contribution:
    """How much one lead field moved one lead's probability, and the value it had."""

    field: str
    value: str
    delta: float


class LeadModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A calibrated probability of conversion from a frame of lead fields.

    Args:
        fields: the admin's chosen fields (columns); None for every column of the frame.
        monotone: admin hints, e.g. ``{"events_last_30d": "increasing"}``: more of that
            field never lowers the probability. Only number and date fields take hints.
        text_fields: columns to read as free text (e.g. ``("title",)``).
        roles: the role of each field (see :func:`infer_roles`); None to infer them.
        max_iter: boosting rounds.
        random_state: seed.
    """

    def __init__(
        self,
        fields: Sequence[str] | None = None,
        monotone: Mapping[str, Monotone] | None = None,
        text_fields: Sequence[str] = (),
        roles: Mapping[str, FieldRole] | None = None,
        max_iter: int = 200,
        random_state: int | None = 0,
    ) -> None:
        self.fields = fields
        self.monotone = monotone
        self.text_fields = text_fields
        self.roles = roles
        self.max_iter = max_iter
        self.random_state = random_state

    def _chosen(self, X: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("LeadModel takes a pandas DataFrame of lead fields")
        fields = list(self.fields) if self.fields is not None else list(X.columns)
        missing = [name for name in fields if name not in X.columns]
        if missing:
            raise ValueError(f"the frame lacks the chosen fields {missing}")
        return X[fields]

    def fit(
        self, X: pd.DataFrame, y: Any, sample_weight: np.ndarray | None = None
    ) -> LeadModel:
        """Learn from lead fields ``X`` and outcomes ``y`` (1 converted, 0 not)."""
        chosen = self._chosen(X)
        target = np.asarray(y)
        check_classification_targets(target)
        self.classes_ = np.unique(target)
        if len(self.classes_) != 2:
            raise ValueError(f"needs a binary outcome, got classes {self.classes_.tolist()}")
        encoded_target = (target == self.classes_[1]).astype(int)
        self.features_ = LeadFeatures(
            roles=self.roles, text_fields=self.text_fields, random_state=self.random_state
        )
        numeric = self.features_.fit_transform(chosen, encoded_target)
        self.feature_names_in_ = np.asarray(list(chosen.columns), dtype=object)
        self.n_features_in_ = len(chosen.columns)
        outputs = self.features_.output_fields()
        hints = dict(self.monotone or {})
        for name, direction in hints.items():
            if name not in self.features_.roles_:
                raise ValueError(f"monotone hint for '{name}', which is not a chosen field")
            if self.features_.roles_[name] not in ("number", "date"):
                raise ValueError(f"monotone hint for '{name}': only number and date fields")
            if direction not in ("increasing", "decreasing"):
                raise ValueError(f"monotone hint for '{name}': increasing or decreasing")
        constraint = {"increasing": 1, "decreasing": -1}
        cst = [
            constraint[hints[name]] if name in hints and part == "value" else 0
            for name, part in self.features_.output_parts()
        ]
        # A date is stored as an age: "more recent" (increasing date) means a smaller age.
        cst = [
            -value if self.features_.roles_[name] == "date" else value
            for value, name in zip(cst, outputs, strict=True)
        ]
        self.classifier_ = BoostedClassifier(
            monotonic_cst=cst if any(cst) else None,
            categorical_features=self.features_.categorical_mask().tolist(),
            max_iter=self.max_iter,
            random_state=self.random_state,
        )
        self.classifier_.fit(numeric, encoded_target, sample_weight=sample_weight)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: NaN
            numeric_baseline = np.nanmedian(numeric, axis=0)
        mask = self.features_.categorical_mask()
        for column in np.flatnonzero(mask):
            values = numeric[:, column]
            present = values[~np.isnan(values)]
            if len(present):
                counts = np.bincount(present.astype(int))
                numeric_baseline[column] = float(np.argmax(counts))
        self.baseline_ = np.nan_to_num(numeric_baseline, nan=0.0)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities: column 0 not converted, column 1 converted."""
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict_proba(self.features_.transform(self._chosen_fitted(X)))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The more probable outcome."""
        converted = self.predict_proba(X)[:, 1] >= 0.5
        labels: np.ndarray = self.classes_[converted.astype(int)]
        return labels

    def _chosen_fitted(self, X: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("LeadModel takes a pandas DataFrame of lead fields")
        names = self.feature_names_in_.tolist()
        missing = [name for name in names if name not in X.columns]
        if missing:
            raise ValueError(f"the frame lacks the model's fields {missing}")
        return X[names]

    def contributions(
        self, X: pd.DataFrame, *, top: int = 3
    ) -> tuple[np.ndarray, list[list[Contribution]]]:
        """Each lead's probability and the fields that moved it most, with sign.

        A field's contribution is how far the probability falls (or rises) when that field
        alone is set to a typical training value (median, most frequent category, no words);
        fields are compared by the size of that change.

        Args:
            X: lead fields, with the model's columns.
            top: how many contributions to keep per lead.

        Returns:
            The probabilities of conversion, and per lead up to ``top`` contributions,
            largest first (zero contributions are left out).
        """
        check_is_fitted(self, "classifier_")
        chosen = self._chosen_fitted(X)
        numeric = self.features_.transform(chosen)
        probability, deltas = self._deltas(numeric)
        names = list(self.features_.roles_)
        order = np.argsort(-np.abs(deltas), axis=1)[:, :top]
        texts = {name: _shown(chosen[name]) for name in names}
        explained: list[list[Contribution]] = []
        for row in range(len(chosen)):
            kept = []
            for index in order[row].tolist():
                delta = float(deltas[row, index])
                if abs(delta) < 1e-9:
                    continue
                name = names[index]
                kept.append(Contribution(name, texts[name][row], delta))
            explained.append(kept)
        return probability, explained


    def _deltas(self, numeric: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each lead's probability, and per field how far it falls with that field set to
        its baseline.

        The leads and every perturbed copy of them go through the classifier in one call
        per chunk: one call per field pays the classifier's fixed overhead once per field,
        which is most of the time for a single lead. Predictions are made row by row, so
        the figures equal those of separate calls.
        """
        outputs = np.array(self.features_.output_fields(), dtype=object)
        names = list(self.features_.roles_)
        rows, width = numeric.shape
        probability = np.zeros(rows)
        deltas = np.zeros((rows, len(names)))
        if not rows:
            return probability, deltas
        copies = len(names) + 1
        step = max(1, _PERTURBED_ROWS // copies)
        for start in range(0, rows, step):
            part = numeric[start : start + step]
            stacked = np.repeat(part[None, :, :], copies, axis=0)
            for index, name in enumerate(names, start=1):
                columns = np.flatnonzero(outputs == name)
                stacked[index][:, columns] = self.baseline_[columns]
            flat = stacked.reshape(-1, width)
            if len(flat) <= _CACHED_ROWS:
                predicted = calibrated_positive(self.classifier_.calibrated_, flat)
            else:
                predicted = self.classifier_.predict_proba(flat)[:, 1]
            predicted = predicted.reshape(copies, len(part))
            probability[start : start + len(part)] = predicted[0]
            deltas[start : start + len(part)] = (predicted[0][None, :] - predicted[1:]).T
        return probability, deltas


_CACHED_ROWS = 5_000
"""Up to this many rows (a webhook's few leads) skip scikit-learn's input checks, through
cached encodings (:mod:`scoring.fast_predict`); larger batches use its threaded path."""

_PERTURBED_ROWS = 200_000
"""The most perturbed rows predicted in one call (bounds the memory of an explanation)."""


def _shown(values: pd.Series) -> list[str]:
    shown: list[str] = []
    for value in values.tolist():
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            shown.append("missing")
        elif isinstance(value, float):
            shown.append(f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}")
        else:
            text = " ".join(str(value).split())
            shown.append(text if len(text) <= 40 else text[:39] + "…")
    return shown
