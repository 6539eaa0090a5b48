"""The analyst notebooks run top to bottom against demo data, and are stored without outputs."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebooks_exist_and_are_stored_without_outputs():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "churn_deep_dive.ipynb",
                                           "event_deep_dive.ipynb"}  # fmt: skip
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
        assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_against_demo_data(path: Path, demo_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from nbclient import NotebookClient

    # The kernel inherits this environment: the notebooks find the data through it.
    monkeypatch.setenv("SIDELINE_DATA_DIR", str(demo_dir))
    monkeypatch.delenv("SIDELINE_ANALYTICS__WAREHOUSE_DIR", raising=False)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}})  # fmt: skip
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type in ("execute_result", "stream") for o in outputs)
    assert os.environ["SIDELINE_DATA_DIR"] == str(demo_dir)
