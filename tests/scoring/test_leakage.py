"""The leakage check's newer rules: dominance, dates after the outcome, zero when lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.dominance import ALONE_RATIO, DOMINANT_SHARE, STRONG_MODEL_AUC, dominance_check
from scoring.leakage import check_leakage
from scoring.train import prepare, train

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def bank_calls(n: int = 3000, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """A bank-marketing-like frame: honest client fields, and the call's length (post-contact)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 70, n).astype(float)
    job = rng.choice(["admin", "student", "retired", "technician", "manager"], n)
    balance = rng.lognormal(7, 1.2, n)
    campaign = rng.poisson(2, n).astype(float) + 1
    previous = rng.choice(["success", "failure", "nonexistent"], n, p=[0.08, 0.2, 0.72])
    logit = (-1.6 + 0.02 * (age - 45) + np.where(job == "student", 0.7, 0.0)
             + np.where(job == "retired", 0.6, 0.0) + 0.25 * np.log(balance / 1000)
             - 0.15 * campaign + np.where(previous == "success", 1.6, 0.0))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    duration = rng.lognormal(5.3 + 0.9 * y, 0.6)  # seconds on the call: known only after it
    frame = pd.DataFrame({"age": age, "job": job, "balance": balance, "campaign": campaign,
                          "previous_campaign": previous, "call_duration": duration})
    return frame, y


def demo_meetings(n: int = 2500, seed: int = 11) -> tuple[pd.DataFrame, np.ndarray]:
    """A case the thresholds were not set on: B2B leads and the demo meeting's minutes."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(4, n).astype(float)
    industry = rng.choice(["software", "retail", "health", "finance"], n)
    employees = rng.lognormal(4, 1.5, n).round()
    logit = -1.2 + 0.18 * visits + np.where(industry == "software", 0.5, 0.0) \
        + 0.1 * np.log1p(employees)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    minutes = rng.gamma(2.0, 12.0 + 20.0 * y)
    frame = pd.DataFrame({"web_visits": visits, "industry": industry, "employees": employees,
                          "demo_minutes": minutes})
    return frame, y


def test_a_post_contact_call_duration_is_excluded_with_its_figures() -> None:
    frame, y = bank_calls()
    assert not {e.field for e in check_leakage(frame, y)}  # the older rules miss it
    excluded, figures, skipped = dominance_check(frame, y)
    assert skipped == ""
    assert [e.field for e in excluded] == ["call_duration"]
    duration = next(f for f in figures if f.field == "call_duration")
    assert duration.with_all > 0.85 and duration.with_all - duration.without > 0.08
    assert f"{duration.without:.3f}" in excluded[0].reason
    assert not any(f.dominant for f in figures if f.field != "call_duration")


def test_train_keeps_a_dominant_field_only_when_asked_and_shows_what_it_adds() -> None:
    frame, y = bank_calls()
    result = train(frame, y)
    assert "call_duration" not in result.fields and {"age", "job"} <= set(result.fields)
    added = dict(result.with_suspects)["call_duration"]
    assert added > result.metrics.roc_auc + 0.05
    kept = train(frame, y, keep=["call_duration"], measure_suspects=False)
    assert "call_duration" in kept.fields


def test_dominance_check_on_a_case_it_was_not_tuned_on() -> None:
    # Held out: written after the thresholds were set, and not used to change them. The
    # drop-column figures single out the meeting's minutes, but the model is modest (AUC
    # below STRONG_MODEL_AUC), so the gate that spares a lone honest signal lets it through:
    # a known miss, reported rather than tuned away.
    frame, y = demo_meetings()
    excluded, figures, _ = dominance_check(frame, y)
    minutes = next(f for f in figures if f.field == "demo_minutes")
    assert minutes.share_lost >= DOMINANT_SHARE and minutes.alone_ratio >= ALONE_RATIO
    assert [e.field for e in excluded] == (
        ["demo_minutes"] if minutes.with_all >= STRONG_MODEL_AUC else [])
    assert not any(f.dominant for f in figures if f.field != "demo_minutes")
    honest = frame.drop(columns="demo_minutes")
    assert dominance_check(honest, y)[0] == ()  # the honest strongest field stays


def test_a_lone_honest_signal_in_a_modest_model_is_not_dominant() -> None:
    rng = np.random.default_rng(3)
    visits = rng.poisson(3, 2000).astype(float)
    y = (rng.random(2000) < 1 / (1 + np.exp(-(-2 + 0.6 * visits)))).astype(int)
    frame = pd.DataFrame({"visits": visits, "source": rng.choice(["web", "ads"], 2000)})
    assert dominance_check(frame, y)[0] == ()


def test_a_number_zero_exactly_when_lost_is_excluded() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(500) < 0.3).astype(int)
    frame = pd.DataFrame({
        "deal_amount": np.where(y == 1, rng.integers(500, 5000, 500), 0).astype(float),
        "visits": rng.poisson(2, 500).astype(float),  # zero often, on both outcomes
    })
    rules = {e.field: e.rule for e in check_leakage(frame, y)}
    assert rules == {"deal_amount": "zero_when_lost"}


def test_dates_after_the_outcome_date_are_excluded() -> None:
    rng = np.random.default_rng(6)
    n = 300
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
    closed = created + pd.to_timedelta(rng.integers(10, 60, n), unit="D")
    frame = pd.DataFrame({
        "created": created.astype(str),
        "closed": closed.astype(str),
        "last_modified": (closed + pd.to_timedelta(rng.integers(1, 30, n), unit="D")).astype(str),
        "form_sent": (created + pd.to_timedelta(rng.integers(0, 3, n), unit="D")).astype(str),
    })
    y = (rng.random(n) < 0.4).astype(int)
    rules = {e.field: e.rule for e in check_leakage(frame, y, date_column="created",
                                                      outcome_date="closed")}
    assert rules == {"closed": "outcome_date", "last_modified": "after_outcome_date"}


def test_the_leakage_check_copes_with_a_tiny_store() -> None:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"visits": rng.poisson(3, 20).astype(float),
                          "source": rng.choice(["web", "ads"], 20)})
    y = np.array([1, 1, 1] + [0] * 17)
    used, _, notes = prepare(frame, y)
    assert used == ["visits", "source"]
    assert notes and "dominance check skipped" in notes[0]
    with pytest.raises(ValueError, match="more labelled lead"):
        train(frame, y)


@pytest.mark.shared_data
def test_xeducation_honest_strong_fields_are_not_dominant() -> None:
    from connectors.csvfile import read_csv_frame

    path = SHARED_DATA / "leads_xeducation.csv"
    if not path.exists():
        pytest.skip(f"real lead data absent: {path} (see ../shared/data/SOURCES.md)")
    frame = read_csv_frame(path, expected="")
    y = frame.pop("Converted").to_numpy(dtype=int)
    gone = {e.field for e in check_leakage(frame, y)}
    excluded, figures, _ = dominance_check(frame.drop(columns=sorted(gone)), y)
    assert excluded == ()
    assert {"Total Time Spent on Website"} <= {f.field for f in figures}  # it was tested
