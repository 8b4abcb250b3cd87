"""A score blended with a model explains itself: its reasons add up to the score."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import default_weights_path, load_weights
from scoring.blend import ScoringModel, score_leads_blended
from scoring.train import labelled_leads, train

from .conftest import NOW, event, lead_record


def _leads(n: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(8)
    leads = []
    for i in range(n):
        hot = rng.random() < 0.4
        events = [event("page_view", "/pricing", days_ago=float(rng.integers(0, 10)))
                  for _ in range(int(rng.integers(2, 6)) if hot else 0)]
        converted = rng.random() < (0.7 if hot else 0.1)
        leads.append(lead_record(f"L{i}", employees=int(rng.integers(5, 2000)),
                                 title=("VP Sales", "analyst", "")[i % 3],
                                 company=f"Company {i % 60}",
                                 status="converted" if converted else "disqualified",
                                 events=events))
    return leads


@pytest.fixture(scope="module")
def model_and_leads() -> tuple[ScoringModel, list[dict[str, object]]]:
    leads = _leads(400)
    labelled = labelled_leads(leads, now=NOW)
    result = train(labelled.frame.reset_index(drop=True), labelled.target)
    return ScoringModel(result.model, "m-test", labels=400), leads


@pytest.mark.parametrize("blend", [0.3, 0.5, 1.0])
def test_blended_reasons_add_up_to_the_score(
    model_and_leads: tuple[ScoringModel, list[dict[str, object]]], blend: float
) -> None:
    model, leads = model_and_leads
    weights = load_weights(default_weights_path())
    batch = score_leads_blended(leads[:60], weights, now=NOW, model=model, blend=blend)
    single = [score_leads_blended([lead], weights, now=NOW, model=model, blend=blend)[0]
              for lead in leads[:10]]
    for result in [*batch, *single]:
        assert sum(factor.points for factor in result.factors) == result.score
    pulls = [f for r in batch for f in r.factors if f.label.startswith("blended with")]
    assert pulls and all(f.group == "blend" for f in pulls)
    assert f"{blend:.0%} of the score" in pulls[0].label


def test_points_only_reasons_are_unchanged_without_a_model() -> None:
    weights = load_weights(default_weights_path())
    hot = lead_record(employees=450, events=[event("page_view", "/pricing")])
    [result] = score_leads_blended([hot], weights, now=NOW, model=None)
    assert [str(f) for f in result.factors] == [
        "visited the pricing page once in the last 14 days: +25",
        "mid-size company (450 employees): +15",
    ]


def test_cached_preprocessing_predicts_as_scikit_learn_does(
    model_and_leads: tuple[ScoringModel, list[dict[str, object]]],
) -> None:
    from scoring.fast_predict import calibrated_positive, target_encode
    from scoring.train import model_frame

    model, leads = model_and_leads
    frame = model_frame(leads[:80], now=NOW)
    frame.loc[frame.index[:5], "title"] = "a title never seen in training"
    frame.loc[frame.index[5:10], "employees"] = np.nan
    frame["email_opt_out"] = frame["email_opt_out"].astype("Float64")
    features = model.model.features_
    chosen = frame[features.feature_names_in_.tolist()]
    numeric = features.transform(chosen)
    assert features.encoder_ is not None and features.roles_["title"] == "category"
    high = features._high_input(chosen, features.high_fields_)
    np.testing.assert_array_equal(target_encode(features.encoder_, high),
                                  features.encoder_.transform(high))
    calibrated = model.model.classifier_.calibrated_
    np.testing.assert_allclose(calibrated_positive(calibrated, numeric),
                               calibrated.predict_proba(numeric)[:, 1], rtol=0, atol=1e-12)


def test_one_lead_without_pandas_explains_as_the_frame_path_does(
    model_and_leads: tuple[ScoringModel, list[dict[str, object]]],
) -> None:
    from scoring.fast_encode import encode, few_contributions, few_values
    from scoring.features import few_leads_frame
    from scoring.train import MODEL_FIELDS_FROM_LEADS

    model, leads = model_and_leads
    odd = [dict(lead) for lead in leads[:60]]
    for lead in odd[:5]:
        lead["title"] = "  a title never seen in training "
    for lead in odd[5:10]:
        lead["employees"] = None
        lead["company"] = ""
    for lead in odd[10:15]:
        lead["email_opt_out"] = True
    for start in range(0, len(odd), 4):
        batch = odd[start : start + 4]
        frame = few_leads_frame(batch, now=NOW, columns=MODEL_FIELDS_FROM_LEADS)
        frame["email_opt_out"] = frame["email_opt_out"].astype("Float64")
        rows = few_values(batch, now=NOW, columns=MODEL_FIELDS_FROM_LEADS)
        features = model.model.features_
        expected = features.transform(frame[features.feature_names_in_.tolist()])
        np.testing.assert_array_equal(encode(model.model, rows), expected)
        fast = few_contributions(model.model, rows, top=3)
        assert fast is not None
        probability, explained = model.model.contributions(frame, top=3)
        np.testing.assert_allclose(fast[0], probability, rtol=0, atol=1e-12)
        assert [[(c.field, c.value) for c in row] for row in fast[1]] == [
            [(c.field, c.value) for c in row] for row in explained]
        for got, want in zip(fast[1], explained, strict=True):
            np.testing.assert_allclose([c.delta for c in got], [c.delta for c in want],
                                       rtol=0, atol=1e-12)
