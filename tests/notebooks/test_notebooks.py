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


@pytest.mark.slow
def test_quickstart_runs_while_the_service_exports_after_the_reports(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docs send analysts to a running service's data: its events of today keep arriving
    after the last job run, so the report's last, open day has fewer messages than the events."""
    import shutil

    import polars as pl
    from nbclient import NotebookClient

    from analytics.io import write_events
    from service.sinks.warehouse.views import write_views

    live = tmp_path / "live"
    shutil.copytree(demo_dir, live)
    write_views(live / "warehouse")  # its views name the folder they were written for
    events = pl.read_parquet(live / "warehouse" / "events" / "*" / "*" / "*.parquet")
    last_day = events["occurred_at"].dt.date().max()
    later = events.filter((pl.col("occurred_at").dt.date() == last_day)
                          & (pl.col("event_type") == "community_message_sent")).head(3)  # fmt: skip
    assert later.height == 3
    later = later.with_columns(
        (pl.col("event_id") + "-later").alias("event_id"),
        (events["seq"].max() + pl.int_range(1, 4)).alias("seq"),
    )
    write_events(later, live / "warehouse")
    monkeypatch.setenv("SIDELINE_DATA_DIR", str(live))
    monkeypatch.delenv("SIDELINE_ANALYTICS__WAREHOUSE_DIR", raising=False)
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()  # fmt: skip
