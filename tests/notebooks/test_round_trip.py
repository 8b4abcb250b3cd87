"""The analyst's loop: demo, export labels, notebook 02 promotes, the next scores use it."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from leadloop.settings import Settings
from leadloop.wiring import open_store
from review_api.labels import LABEL_COLUMNS
from review_api.store.models import Score
from scoring.registry import ModelRegistry
from tests.notebooks.running import leadloop, run_notebook, stream_text


def test_labels_export_to_notebook_promotion_to_the_next_scores(
    fresh_demo: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "labels.parquet"
    leadloop(fresh_demo, "labels", "export", "--format", "parquet", "--out", str(exported))
    labels = pd.read_parquet(exported)
    assert list(labels.columns) == list(LABEL_COLUMNS)
    assert set(labels["kind"]) == {"draft", "score_override"}
    assert labels["decision"].isin(["approved", "rejected"]).all()

    notebook = run_notebook("02_retrain_scoring.ipynb", workdir=tmp_path,
                            DATA_DIR=str(fresh_demo), PROMOTE=True)
    printed = "".join(stream_text(cell) for cell in notebook.cells)
    found = re.search(r"(m-\d{8}-\d{6}-[0-9a-f]{6}): promoted", printed)
    assert found, printed
    version = found.group(1)
    assert ModelRegistry(fresh_demo).champion() == version
    listed = leadloop(fresh_demo, "model", "list")
    assert re.search(rf"\*\s+│\s+{version}", listed), listed

    leadloop(fresh_demo, "sandbox", "seed", "--leads", "5", "--seed", "99")
    assert "points score alone" not in leadloop(fresh_demo, "score")
    store = open_store(Settings(data_dir=fresh_demo))
    try:
        with store.session() as session:
            newest = session.scalars(select(Score).order_by(Score.id.desc()).limit(5)).all()
            assert {score.model_version for score in newest} == {version}
    finally:
        store.close()


def test_labels_export_csv_filters_by_kind_and_since(fresh_demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "overrides.csv"
    leadloop(fresh_demo, "labels", "export", "--format", "csv", "--kind", "score_override",
             "--out", str(out))
    overrides = pd.read_csv(out)
    assert len(overrides) > 0 and set(overrides["kind"]) == {"score_override"}
    approved = overrides[overrides["decision"] == "approved"]
    assert len(approved) > 0 and approved["final_score"].notna().all()
    later = tmp_path / "later.csv"
    leadloop(fresh_demo, "labels", "export", "--format", "csv", "--since",
             "2999-01-01T00:00:00", "--out", str(later))
    assert pd.read_csv(later).empty


@pytest.mark.parametrize(("args", "message"), [
    (("--format", "xml", "--out", "x.xml"), "expected parquet or csv"),
    (("--format", "csv", "--kind", "email"), "expected draft or score_override"),
    (("--format", "csv", "--since", "last week"), "expected an ISO 8601 time"),
    (("--format", "parquet",), "needs --out FILE"),
])
def test_labels_export_refuses_bad_input_in_one_line(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    # The CLI's boundary prints the error as one line and exits 2; the helper then fails.
    with pytest.raises(AssertionError, match=re.escape(message)):
        leadloop(tmp_path / "data", "labels", "export", *args)
