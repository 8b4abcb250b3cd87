"""The learned model: scikit-learn conventions, roles, monotone hints, contributions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from scoring.model import BoostedClassifier, LeadModel, infer_roles


def _known_failures(estimator: BoostedClassifier) -> dict[str, str]:
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "HistGradientBoostingClassifier bins features, so weights and repeated rows differ "
            "(scikit-learn marks the same check as expected to fail for it)"
        ),
    }


@parametrize_with_checks(
    [BoostedClassifier(max_iter=10, cv=2)], expected_failed_checks=_known_failures
)
def test_boosted_classifier_follows_sklearn_conventions(
    estimator: BoostedClassifier, check: Callable[[Any], None]
) -> None:
    check(estimator)


def synthetic_frame(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3, n).astype(float)
    industry = rng.choice(["software", "retail", "mining", None], n)
    company = np.array([f"company {i}" for i in rng.integers(0, 300, n)], dtype=object)
    created = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 365, n), unit="D")
    title = rng.choice(["vp sales", "head of ops", "intern", "analyst", "sales director"], n)
    logit = -2 + 0.5 * visits + 1.2 * (industry == "software") + 1.0 * np.char.find(
        title.astype(str), "vp").__ge__(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({
        "visits": visits, "industry": industry, "company": company,
        "created": created.astype(str), "title": title, "opted_out": rng.random(n) < 0.1,
    })
    frame.loc[rng.random(n) < 0.1, "visits"] = np.nan
    return frame, y


def test_roles_cover_numbers_categories_high_cardinality_dates_and_text() -> None:
    frame, _ = synthetic_frame()
    roles = infer_roles(frame, text_fields=("title",))
    assert roles == {"visits": "number", "industry": "category",
                     "company": "high_cardinality", "created": "date", "title": "text",
                     "opted_out": "number"}


def test_model_learns_and_is_calibrated_on_held_out_leads() -> None:
    frame, y = synthetic_frame(3000)
    model = LeadModel(text_fields=("title",), max_iter=80).fit(frame[:2000], y[:2000])
    probability = model.predict_proba(frame[2000:])[:, 1]
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y[2000:], probability) > 0.7
    assert abs(probability.mean() - y[2000:].mean()) < 0.05
    assert set(model.predict(frame[2000:2010]).tolist()) <= {0, 1}


def test_model_uses_only_the_chosen_fields() -> None:
    frame, y = synthetic_frame()
    model = LeadModel(fields=["visits", "industry"], max_iter=30).fit(frame, y)
    assert model.feature_names_in_.tolist() == ["visits", "industry"]
    assert model.predict_proba(frame[["visits", "industry"]]).shape == (len(frame), 2)
    with pytest.raises(ValueError, match="lacks"):
        model.predict_proba(frame[["visits"]])


def test_monotone_hint_is_honoured() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    visits = rng.integers(0, 20, n).astype(float)
    # The truth goes down at high counts; the admin says more visits never lower the score.
    y = (rng.random(n) < np.where(visits > 12, 0.2, 0.1 + visits * 0.04)).astype(int)
    frame = pd.DataFrame({"visits": visits, "noise": rng.normal(size=n)})
    grid = pd.DataFrame({"visits": np.arange(0, 20, dtype=float), "noise": 0.0})
    free = LeadModel(max_iter=60).fit(frame, y).predict_proba(grid)[:, 1]
    hinted = LeadModel(monotone={"visits": "increasing"}, max_iter=60).fit(frame, y)
    constrained = hinted.predict_proba(grid)[:, 1]
    assert np.any(np.diff(free) < -1e-6)
    assert np.all(np.diff(constrained) >= -1e-9)


def test_monotone_hint_on_a_category_is_refused() -> None:
    frame, y = synthetic_frame(300)
    with pytest.raises(ValueError, match="only number and date"):
        LeadModel(monotone={"industry": "increasing"}, max_iter=5).fit(frame, y)


def test_contributions_have_sign_and_name_the_value() -> None:
    frame, y = synthetic_frame(2000)
    model = LeadModel(fields=["visits", "industry"], max_iter=60).fit(frame, y)
    rows = pd.DataFrame({"visits": [12.0, 0.0], "industry": ["software", "mining"]})
    probability, explained = model.contributions(rows, top=2)
    assert probability[0] > probability[1]
    high, low = explained
    assert {c.field for c in high} == {"visits", "industry"}
    assert all(c.delta > 0 for c in high)
    assert any(c.delta < 0 for c in low)
    assert next(c.value for c in high if c.field == "visits") == "12"


def test_contributions_in_one_call_equal_field_by_field_predictions() -> None:
    frame, y = synthetic_frame(1200)
    model = LeadModel(text_fields=("title",), max_iter=30).fit(frame, y)
    rows = frame.iloc[:40]
    probability, explained = model.contributions(rows, top=10)
    numeric = model.features_.transform(rows)
    expected = model.classifier_.predict_proba(numeric)[:, 1]
    assert np.array_equal(probability, expected)
    outputs = np.array(model.features_.output_fields(), dtype=object)
    for row, kept in enumerate(explained):
        for contribution in kept:
            columns = np.flatnonzero(outputs == contribution.field)
            replaced = numeric[row : row + 1].copy()
            replaced[:, columns] = model.baseline_[columns]
            alone = expected[row] - model.classifier_.predict_proba(replaced)[0, 1]
            assert contribution.delta == alone
    single, single_explained = model.contributions(rows.iloc[[7]], top=10)
    assert single[0] == probability[7] and single_explained[0] == explained[7]
