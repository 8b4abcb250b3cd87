"""A fresh demo store for the notebooks, and a kernel environment that is this venv's."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notebooks.running import DEMO_LEADS, leadloop


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data folder `leadloop demo --leads 700` leaves, made once; copy it before writing."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    leadloop(data_dir, "demo", "--leads", DEMO_LEADS)
    return data_dir


@pytest.fixture
def fresh_demo(demo_store: Path, tmp_path: Path) -> Path:
    """A private copy of the demo's data folder."""
    copy = tmp_path / "data"
    shutil.copytree(demo_store, copy)
    return copy


@pytest.fixture(autouse=True)
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Kernels draw with Agg, see no LEADLOOP_ settings, and find this venv's kernel first."""
    for name in [n for n in os.environ if n.startswith("LEADLOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    yield
