"""Every notebook runs top to bottom on a fresh demo store, and is committed clean."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from review_api.labels import LABEL_COLUMNS
from tests.notebooks.running import NOTEBOOKS, leadloop, run_notebook, stream_text

ALL = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"


def test_the_three_analyst_notebooks_exist() -> None:
    assert ALL == ["01_feedback_overview.ipynb", "02_retrain_scoring.ipynb",
                   "03_draft_edits.ipynb"]


@pytest.mark.parametrize("name", ALL)
def test_notebook_is_committed_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    dirty = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{name}: cells {dirty} hold outputs; clear them before committing"


@pytest.mark.parametrize("name", ALL)
def test_notebook_opens_with_its_purpose_then_parameters(name: str) -> None:
    cells = nbformat.read(NOTEBOOKS / name, as_version=4).cells
    assert cells[0].cell_type == "markdown"
    assert "What it is for" in cells[0].source and "What it needs" in cells[0].source
    assert cells[1].cell_type == "code" and cells[1].metadata.get("tags") == ["parameters"]
    assert "DATA_DIR" in cells[1].source and "DATABASE_URL" in cells[1].source


def test_notebooks_import_no_model_code_of_their_own() -> None:
    for name in ALL:
        for cell in nbformat.read(NOTEBOOKS / name, as_version=4).cells:
            if cell.cell_type == "code":
                assert not re.search(r"^\s*class |sklearn\.(ensemble|linear_model)|\.fit\(",
                                     cell.source, re.MULTILINE), name


def test_every_label_column_is_documented_for_analysts() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text("utf-8"), re.MULTILINE))
    assert set(LABEL_COLUMNS) <= documented, set(LABEL_COLUMNS) - documented


@pytest.fixture(scope="module")
def demo_with_champion(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo store whose registry already has a champion, so 02 compares two models."""
    import shutil

    data_dir = tmp_path_factory.mktemp("champion") / "data"
    shutil.copytree(demo_store, data_dir)
    version = leadloop(data_dir, "train").split("saved model version ")[1].split()[0]
    leadloop(data_dir, "model", "promote", version)
    return data_dir


@pytest.mark.parametrize("name", ALL)
def test_notebook_runs_top_to_bottom_on_a_demo_store(
    name: str, demo_with_champion: Path, tmp_path: Path
) -> None:
    before = sorted(p.name for p in (demo_with_champion / "models").iterdir())
    notebook = run_notebook(name, workdir=tmp_path, DATA_DIR=str(demo_with_champion))
    printed = "".join(stream_text(cell) for cell in notebook.cells)
    if name.startswith("02"):
        assert "champion m-" in printed  # compared against the live model
        assert "PROMOTE is False: nothing saved" in printed
    assert sorted(p.name for p in (demo_with_champion / "models").iterdir()) == before
