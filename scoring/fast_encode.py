"""One lead blended with the model, without pandas: plain values to the model's numbers.

A webhook rescores one lead at a time. Building a one-row frame and running the model's
column-by-column pandas transform costs several milliseconds, far more than the trees. Here
the lead's values (read once, as :class:`scoring.features.LeadValues` reads them) are encoded
straight into the model's numeric row with the fitted lookups (categories, target encodings,
frequencies, vocabularies), and the probability and every field's contribution come from
one stacked prediction. The figures equal :meth:`scoring.model.LeadModel.contributions`'s on
the frame path (tests/scoring/test_fast_encode.py holds them side by side); a model with a
field this does not encode (a date) is left to the frame path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from scoring.fast_predict import target_encode
from scoring.features import LeadValues, as_utc, crm_ids_of, wanted_columns
from scoring.model import _MISSING, Contribution, LeadModel, _shown

_HANDLED = frozenset({"number", "category", "high_cardinality", "text"})


def few_values(
    records: Sequence[Mapping[str, Any]], *, now: datetime, columns: Sequence[str]
) -> list[dict[str, Any]]:
    """Each lead's model columns as plain values (as :func:`few_leads_frame` reads them)."""
    moment = as_utc(now)
    wanted = wanted_columns(columns, with_events=True)
    return [
        LeadValues(record, crm_id, wanted, moment, with_events=True).values
        for record, crm_id in zip(records, crm_ids_of(records), strict=True)
    ]


def few_contributions(
    model: LeadModel, rows: Sequence[Mapping[str, Any]], *, top: int = 3
) -> tuple[np.ndarray, list[list[Contribution]]] | None:
    """``model.contributions`` of a few leads given as plain values; None when the model
    needs what only the frame path reads (then call ``contributions`` on a frame)."""
    numeric = encode(model, rows)
    if numeric is None:
        return None
    probability, deltas = model._deltas(numeric)
    names = list(model.features_.roles_)
    order = np.argsort(-np.abs(deltas), axis=1)[:, :top]
    explained: list[list[Contribution]] = []
    for row, values in enumerate(rows):
        kept = []
        for index in order[row].tolist():
            delta = float(deltas[row, index])
            if abs(delta) >= 1e-9:
                name = names[index]
                kept.append(Contribution(name, _shown_one(values[name]), delta))
        explained.append(kept)
    return probability, explained


def encode(model: LeadModel, rows: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
    """``model.features_.transform`` of a frame of ``rows``, from the plain values."""
    features = model.features_
    roles = features.roles_
    if not set(roles.values()) <= _HANDLED or any(
        name not in row for row in rows for name in roles
    ):
        return None
    extras = features._with_extras()
    high = features.high_fields_
    encoded = None
    if high:
        texts = np.array([[_text(row[name]) or _MISSING for name in high] for row in rows],
                         dtype=object).reshape(len(rows), len(high))
        encoded = target_encode(features.encoder_, texts)
    parts: list[np.ndarray] = []
    high_index = 0
    for name, role in roles.items():
        values = [row[name] for row in rows]
        if role == "number":
            parts.append(np.array([_number(v) for v in values], dtype=float)[:, None])
        elif role == "category":
            lookup = _category_lookup(features, name)
            parts.append(np.array([lookup.get(_text(v), math.nan) for v in values],
                                  dtype=float)[:, None])
        elif role == "high_cardinality":
            assert encoded is not None
            parts.append(encoded[:, high_index : high_index + 1].astype(float))
            high_index += 1
            if extras:
                shares = features.frequencies_[name]
                parts.append(np.array([shares.get(_text(v) or _MISSING, 0.0) for v in values],
                                      dtype=float)[:, None])
        else:
            words = [_text(v) or "" for v in values]
            parts.append(features.words_[name].transform(words).toarray().astype(float))
    if not parts:
        return np.zeros((len(rows), 0))
    return np.hstack(parts)


_LOOKUPS: dict[int, tuple[Any, dict[str, dict[str | None, float]]]] = {}


def _category_lookup(features: Any, name: str) -> dict[str | None, float]:
    # Keyed by the fitted object, kept beside it (never saved with it).
    cached = _LOOKUPS.get(id(features))
    if cached is None or cached[0] is not features:
        cached = (features, {})
        _LOOKUPS.clear()  # one champion at a time; a new one replaces the old tables
        _LOOKUPS[id(features)] = cached
    tables = cached[1]
    if name not in tables:
        tables[name] = {value: float(code)
                        for code, value in enumerate(features.categories_[name])}
    return tables[name]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        type(value).__name__ == "NAType")


def _text(value: Any) -> str | None:
    """As the frame path's text: stripped, None when missing or empty."""
    if _missing(value):
        return None
    return str(value).strip() or None


def _number(value: Any) -> float:
    """As the frame path's number: true/false as 1/0, unreadable as missing."""
    if _missing(value):
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _shown_one(value: Any) -> str:
    # True/false reach the model as numbers (1/0), and are shown as the frame path shows them.
    plain = float(value) if isinstance(value, bool) else value
    return _shown(np.array([plain], dtype=object))[0]
