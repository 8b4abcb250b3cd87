"""Running the notebooks and the `leadloop` command against a data folder, for the tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from typer.testing import CliRunner

from leadloop.cli import app
from leadloop.cli.common import settings

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
DEMO_LEADS = "700"


def leadloop(data_dir: Path, *args: str) -> str:
    """Run a `leadloop` command in this process against ``data_dir``; what it printed."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("LEADLOOP_")}
    for name in saved:
        del os.environ[name]
    os.environ["LEADLOOP_DATA_DIR"] = str(data_dir)
    settings.cache_clear()
    try:
        # A wide terminal keeps rich tables (model versions) unabridged.
        result = CliRunner().invoke(app, list(args), catch_exceptions=False,
                                    env={"COLUMNS": "200"})
    finally:
        settings.cache_clear()
        del os.environ["LEADLOOP_DATA_DIR"]
        os.environ.update(saved)
    assert result.exit_code == 0, result.output
    return result.output


def run_notebook(name: str, *, workdir: Path, **parameters: Any) -> nbformat.NotebookNode:
    """Execute a notebook top to bottom with ``parameters`` set in its parameters cell.

    The parameters are appended to the tagged cell's source, as papermill would inject them;
    a last cell reports the kernel's interpreter, so a test can tell which Python ran it.
    Raises nbclient's CellExecutionError on the first cell that fails.
    """
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    cell.source += "\n# injected by the test\n" + "".join(
        f"{key} = {value!r}\n" for key, value in parameters.items())
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint('PREFIX', sys.prefix)"))
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    prefix = stream_text(notebook.cells[-1]).split("PREFIX", 1)[1].strip()
    assert Path(prefix).resolve() == Path(sys.prefix).resolve(), (
        f"the kernel ran {prefix}, not this environment {sys.prefix}")
    return notebook


def stream_text(cell: nbformat.NotebookNode) -> str:
    """What a cell printed."""
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")
