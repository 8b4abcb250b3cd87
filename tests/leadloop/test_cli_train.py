"""`leadloop train` and `leadloop model promote` as an analyst meets them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadloop.cli.train import read_training_csv
from scoring.leakage import check_leakage

from .test_cli import data_dir, leadloop, leadloop_process  # noqa: F401

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def export(path: Path, *, n: int = 400, seed: int = 0, sep: str = ";") -> Path:
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3, n)
    converted = rng.random(n) < 1 / (1 + np.exp(-(-2 + 0.6 * visits)))
    pd.DataFrame({
        "Visits": visits,
        "Source": rng.choice(["web", "referral", "Select"], n),
        "Won": np.where(converted, "Yes", "no"),
    }).to_csv(path, sep=sep, index=False, encoding="cp1252")
    return path


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "no such file"), (b"", "is empty"), (b"Visits;Won\n", "no leads below"),
     (b"\x00\x01PK\x03\x04" * 50, "not readable text"),
     (b"Visits,Won\n1,maybe\n2,yes\n", "--positive VALUE")],
)
def test_bad_training_csv_is_one_line_naming_the_file(
    tmp_path: Path, content: bytes | None, fragment: str
) -> None:
    path = tmp_path / "leads.csv"
    if content is not None:
        path.write_bytes(content)
    done = leadloop_process(tmp_path, "train", "--csv", str(path), "--target", "Won")
    assert done.returncode == 2, done.stdout
    assert fragment in done.stderr and "leads.csv" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_semicolon_cp1252_export_with_yes_no_outcomes_trains(tmp_path: Path) -> None:
    out = leadloop("train", "--csv", str(export(tmp_path / "leads.csv")), "--target", "Won",
                   "--split", "order")
    assert "trained on 400 rows of leads.csv; validation: file order" in out
    assert "saved model version" in out


def test_positive_names_the_converted_value(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    frame = pd.read_csv(export(path), sep=";", encoding="cp1252")
    frame["Won"] = frame["Won"].map({"Yes": "Signed", "no": "Pending"})
    frame.to_csv(path, index=False)
    _, y, _ = read_training_csv(path, target="Won", positive="signed")
    assert y.tolist() == (frame["Won"] == "Signed").astype(int).tolist()


def test_tiny_store_train_is_one_line(tmp_path: Path) -> None:
    for args in (("sandbox", "seed", "--leads", "20", "--seed", "3"), ("sync",)):
        assert leadloop_process(tmp_path, *args).returncode == 0
    done = leadloop_process(tmp_path, "train")
    assert done.returncode == 1
    assert "more labelled lead(s) needed" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_csv_model_is_refused_and_forced_in_scoring_falls_back_to_points(
    tmp_path: Path,
) -> None:
    trained = leadloop("train", "--csv", str(export(tmp_path / "leads.csv")), "--target", "Won")
    version = trained.split("saved model version ")[1].split()[0]
    refused = leadloop_process(tmp_path, "model", "promote", version)
    assert refused.returncode == 1
    assert "fields the store's leads lack ('Visits'" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    forced = leadloop("model", "promote", version, "--force")
    assert f"{version} is the champion" in forced and "points score alone" in forced
    leadloop("sandbox", "seed", "--leads", "30", "--seed", "4")
    leadloop("sync")
    done = leadloop_process(tmp_path, "score")
    assert done.returncode == 0, done.stderr
    assert f"champion model {version} reads fields the leads lack" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.shared_data
def test_xeducation_select_is_missing_in_the_cli_path(tmp_path: Path) -> None:
    path = SHARED_DATA / "leads_xeducation.csv"
    if not path.exists():
        pytest.skip(f"real lead data absent: {path} (see ../shared/data/SOURCES.md)")
    frame, y, _ = read_training_csv(path, target="Converted", positive=None)
    assert "Select" not in set(frame["Lead Profile"].dropna())
    rules = {e.field: e.rule for e in check_leakage(frame, y)}
    assert rules["Lead Profile"] == "staff_assigned"
