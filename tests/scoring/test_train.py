"""Training: leakage check, metrics, time-ordered split, registry, blend with the points."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring import default_weights_path, load_weights, score_leads
from scoring.blend import ScoringModel, score_leads_blended
from scoring.registry import ModelRegistry, RegistryError, WeightsRegistry
from scoring.train import check_leakage, evaluate, labelled_leads, train

from .conftest import NOW, event, lead_record

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def history(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3, n).astype(float)
    source = rng.choice(["web", "referral", "partner"], n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2 + 0.6 * visits)))).astype(int)
    frame = pd.DataFrame({
        "lead_id": [f"id-{i}" for i in range(n)],
        "created": (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), unit="h"))
        .astype(str),
        "visits": visits,
        "source": source,
        "Lead Quality": rng.choice(["high", "low"], n),
        "stage_note": np.where(y == 1, "closed by rep", "ringing"),
        "deal_size": np.where(y == 1, rng.integers(100, 1000, n), np.nan),
        "band": None,
    })
    frame["band"] = frame["Lead Quality"].map({"high": "H", "low": "L"})
    return frame, y


def test_leakage_check_names_each_kind_of_leak() -> None:
    frame, y = history()
    rules = {e.field: e.rule for e in check_leakage(frame, y, date_column="created")}
    assert rules == {
        "lead_id": "identifier",
        "Lead Quality": "after_outcome_name",
        "stage_note": "near_perfect",
        "deal_size": "after_outcome_presence",
        "band": "derived",
    }


def test_train_excludes_leaks_by_default_keeps_them_on_request_and_splits_by_time() -> None:
    frame, y = history()
    result = train(frame, y)
    assert "visits" in result.fields and "stage_note" not in result.fields
    assert result.split.startswith("time-ordered") and "created" in result.split
    assert 0.7 < result.metrics.roc_auc < 0.95
    kept = train(frame, y, keep=["stage_note"])
    assert "stage_note" in kept.fields and kept.metrics.roc_auc > 0.99


def test_evaluate_reports_calibration_and_lift() -> None:
    y = np.array([0, 0, 1, 1] * 25)
    p = np.array([0.1, 0.2, 0.8, 0.9] * 25)
    metrics = evaluate(y, p)
    assert metrics.roc_auc == 1.0 and metrics.pr_auc == 1.0
    assert metrics.ece == pytest.approx(0.15)
    assert metrics.lift[0][2] == pytest.approx(2.0) and metrics.lift[-1][1] == 0.0
    assert sum(row[3] for row in metrics.calibration) == 100


def test_registry_saves_with_skops_promotes_only_a_better_challenger_and_rolls_back(
    tmp_path: Path,
) -> None:
    frame, y = history()
    registry = ModelRegistry(tmp_path)
    weak = registry.save(train(frame, y, fields=["created", "source"]), labels=len(y))
    strong = registry.save(train(frame, y), labels=len(y), weights_version="w-1")
    assert (tmp_path / "models" / strong.version / "model.skops").exists()
    assert not list(tmp_path.rglob("*.pkl"))
    assert registry.promote(strong.version).promoted
    refused = registry.promote(weak.version)
    assert not refused.promoted and "does not beat" in refused.reason
    assert registry.promote(weak.version, force=True).promoted
    assert registry.rollback() == strong.version
    loaded = registry.load_champion()
    assert loaded is not None and loaded.version == strong.version
    assert loaded.model.predict_proba(frame).shape == (len(frame), 2)
    with pytest.raises(RegistryError):
        registry.load("m-nope")


def test_weights_registry_keeps_every_version_with_author_and_note(tmp_path: Path) -> None:
    registry = WeightsRegistry(tmp_path)
    text = default_weights_path().read_text("utf-8")
    first = registry.publish(text, author="ops", note="initial")
    again = registry.publish(text, author="someone", note="same content")
    second = registry.publish(text.replace("points = 25", "points = 20"), author="ops",
                              note="pricing counts less")
    assert again == first
    assert [v.note for v in registry.versions()] == ["initial", "pricing counts less"]
    assert registry.load(second.version).version == second.version


def _store_leads(n: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(3)
    leads = []
    for i in range(n):
        hot = rng.random() < 0.4
        events = [event("page_view", "/pricing", days_ago=float(rng.integers(0, 10)))
                  for _ in range(int(rng.integers(2, 6)) if hot else 0)]
        converted = rng.random() < (0.7 if hot else 0.1)
        leads.append(lead_record(f"L{i}", employees=int(rng.integers(5, 2000)),
                                 status="converted" if converted else "disqualified",
                                 events=events))
    return leads


def test_labels_from_outcomes_and_overrides() -> None:
    leads = [lead_record("L1", status="converted"), lead_record("L2", status="open"),
             lead_record("L3", status="Disqualified"), lead_record("L4", status="open")]
    labelled = labelled_leads(leads, now=NOW, overrides={"L2": 80, "L4": 10, "L1": 0})
    assert labelled.target.tolist() == [1, 1, 0, 0]
    assert labelled.weight.tolist() == [1.0, 0.5, 1.0, 0.5]
    assert (labelled.from_outcomes, labelled.from_overrides) == (2, 2)


def test_blend_uses_points_alone_below_the_label_threshold_and_says_why() -> None:
    leads = _store_leads(400)
    labelled = labelled_leads(leads, now=NOW)
    result = train(labelled.frame.reset_index(drop=True), labelled.target)
    weights = load_weights(default_weights_path())
    few = ScoringModel(result.model, "m-test", labels=150)
    plain = score_leads(leads[:5], weights, now=NOW)
    blended = score_leads_blended(leads[:5], weights, now=NOW, model=few, blend=0.5)
    assert [r.score for r in blended] == [r.score for r in plain]
    assert all("fewer than 200" in r.model_note and r.model_version is None for r in blended)
    enough = replace(few, labels=400)
    blended = score_leads_blended(leads[:50], weights, now=NOW, model=enough, blend=0.5)
    for result_ in blended:
        assert result_.model_version == "m-test" and result_.model_note == ""
        assert result_.probability is not None and result_.points_score is not None
        expected = round(0.5 * result_.points_score + 50 * result_.probability)
        assert abs(result_.score - expected) <= 1
        assert result_.tier == weights.tier_for(result_.score)
    learned = [f for r in blended for f in r.factors if f.group == "model"]
    assert learned and {f.points > 0 for f in learned} == {True, False}
    assert all("(learned from outcomes)" in f.label for f in learned)
    no_model = score_leads_blended(leads[:1], weights, now=NOW, model=None)
    assert no_model[0].model_note.startswith("no model promoted yet")


@pytest.mark.shared_data
def test_xeducation_leakage_check_excludes_the_staff_fields() -> None:
    path = SHARED_DATA / "leads_xeducation.csv"
    if not path.exists():
        pytest.skip(f"real lead data absent: {path} (see ../shared/data/SOURCES.md)")
    frame = pd.read_csv(path, na_values=["Select"])
    y = frame.pop("Converted").to_numpy()
    excluded = {e.field for e in check_leakage(frame, y)}
    assert {"Tags", "Lead Quality", "Lead Profile", "Asymmetrique Activity Score",
            "Asymmetrique Profile Score", "Asymmetrique Activity Index",
            "Asymmetrique Profile Index"} <= excluded
    assert not {"Total Time Spent on Website", "Lead Source", "Lead Origin"} & excluded


def test_leakage_check_catches_a_sparse_field_staff_fill_in_after_contact() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    y = (rng.random(n) < 0.35).astype(int)
    worked = rng.random(n) < np.where(y == 1, 0.45, 0.2)
    judgement = np.where(
        rng.random(n) < 0.85,
        np.where(y == 1, "promising", "not a fit"),
        np.where(y == 1, "not a fit", "promising"),
    )
    form_answer = rng.choice(["student", "employed", "other"], n)
    frame = pd.DataFrame({
        "visits": rng.poisson(3 + 2 * y).astype(float),
        "Assessment": pd.Series(judgement, dtype=object).where(worked),
        "occupation": pd.Series(form_answer, dtype=object).where(rng.random(n) < 0.5),
    })
    rules = {e.field: e.rule for e in check_leakage(frame, y)}
    assert rules == {"Assessment": "staff_assigned"}
    reason = next(e.reason for e in check_leakage(frame, y) if e.field == "Assessment")
    assert "where filled" in reason


def test_a_single_lead_blended_with_a_model_scores_as_in_a_batch() -> None:
    from scoring.features import few_leads_frame
    from scoring.train import MODEL_FIELDS_FROM_LEADS, model_frame

    leads = _store_leads(400)
    for number, lead in enumerate(leads):
        lead["title"] = ("VP Sales", "analyst", "", None)[number % 4]
        lead["industry"] = ("software", "retail", "")[number % 3]
        lead["email_opt_out"] = (True, False, None)[number % 3]
    labelled = labelled_leads(leads, now=NOW)
    result = train(labelled.frame.reset_index(drop=True), labelled.target)
    weights = load_weights(default_weights_path())
    model = ScoringModel(result.model, "m-test", labels=400)
    batch = score_leads_blended(leads[:40], weights, now=NOW, model=model, blend=0.5)
    single = [score_leads_blended([lead], weights, now=NOW, model=model, blend=0.5)[0]
              for lead in leads[:40]]
    assert single == batch
    few = few_leads_frame(leads[:5], now=NOW, columns=MODEL_FIELDS_FROM_LEADS)
    expected = model_frame(leads[:5], now=NOW)
    expected["email_opt_out"] = expected["email_opt_out"].astype("boolean")
    pd.testing.assert_frame_equal(few, expected)


def test_store_labels_hold_out_the_most_recent_leads() -> None:
    from datetime import UTC, datetime, timedelta

    from scoring.train import labelled_leads, train_labelled

    start = datetime(2026, 1, 1, tzinfo=UTC)
    leads = [{"crm_id": f"L{i}", "email": f"l{i}@x.example", "owner_id": "U1",
              "employees": 10 + i, "industry": "Retail" if i % 2 else "Software",
              "status": "converted" if i % 3 == 0 else "disqualified",
              "created_at": (start + timedelta(days=i)).isoformat(),
              "modified_at": (start + timedelta(days=i)).isoformat(), "events": []}
             for i in range(60)]
    labelled = labelled_leads(leads, now=start + timedelta(days=90))
    result = train_labelled(labelled)
    assert result.split.startswith("time-ordered")
    assert "created_at" not in result.fields  # the date orders the split; it is no field
    assert result.holdout is not None
    held = result.holdout["created_at"]
    assert held.min() > start + timedelta(days=44)  # the newest fifth
