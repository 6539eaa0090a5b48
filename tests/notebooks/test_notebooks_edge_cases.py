"""The notebooks over a small hand-built world (tests/analytics/test_brute_force.py) instead of
the demo: its latest cohort has segments without users, one kind of context had no message
attempted, and the top context is a long team room. The notebooks run through, and what they
print agrees with the reports."""

from __future__ import annotations

from pathlib import Path

import nbformat
import polars as pl
import pytest

from tests.analytics.test_brute_force import write_world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nb-world")
    runner = write_world(root)
    assert all(r.status == "ok" for r in runner.run())
    return root


def execute(name: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    monkeypatch.setenv("SIDELINE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("SIDELINE_ANALYTICS__WAREHOUSE_DIR", raising=False)
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()  # fmt: skip
    return nb


def printed(nb: nbformat.NotebookNode, marker: str) -> str:
    """What the code cell whose source holds ``marker`` printed or showed."""
    [cell] = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                   for o in cell.outputs)  # fmt: skip


def report(data_dir: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(data_dir / "warehouse" / "reports" / name / "*.parquet")


@pytest.mark.slow
def test_churn_deep_dive_prints_the_reports_rates(world_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    nb = execute("churn_deep_dive", world_dir, monkeypatch)
    lines = printed(nb, "wilson(").splitlines()
    churn = report(world_dir, "churn_posting")
    latest = churn.filter(pl.col("cohort_start") == churn["cohort_start"].max()).sort("segment_order")
    assert len(lines) == latest.height == 5
    for line, row in zip(lines, latest.iter_rows(named=True), strict=True):
        assert line.split()[0] == row["segment"]
        if row["users"]:
            assert f"{row['churn_rate']:.1%}" in line and f"n={row['users']}" in line
        else:  # a segment of the latest cohort without users has no rate to recompute
            assert line.split()[1:] == ["no", "users"]


@pytest.mark.slow
def test_event_deep_dive_rates_are_null_without_attempts(world_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    nb = execute("event_deep_dive", world_dir, monkeypatch)
    shown = printed(nb, 'scan("engagement_kind")')
    by_kind = report(world_dir, "engagement_kind").group_by("kind").agg(pl.col("attempted").sum())
    assert dict(by_kind.rows())["dashboard"] == 0
    [dashboard] = [line for line in shown.splitlines() if "dashboard" in line]
    assert "NaN" not in dashboard and dashboard.rstrip(" │").endswith("null")


@pytest.mark.slow
def test_event_deep_dive_follows_the_reports_margin(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The raw-event check counts the room's events on the timeline the report was computed
    with (its ``timeline_margin_minutes``), not on a margin of its own."""
    from analytics.runner import Runner
    from analytics.settings import AnalyticsSettings
    from tests.analytics.test_brute_force import NOW, SETTINGS

    write_world(tmp_path)
    # Without the long team room, the top context is match:3, with a reaction 59:59 after its
    # end: on a 60-minute margin, not on this one.
    contexts = tmp_path / "exports" / "contexts.csv"
    contexts.write_text("".join(line for line in contexts.read_text().splitlines(keepends=True)
                                if not line.startswith("team:x")))  # fmt: skip
    runner = Runner(tmp_path / "warehouse", tmp_path / "exports",
                    AnalyticsSettings(**SETTINGS, timeline_margin_minutes=20), clock=lambda: NOW,
                    progress=False)  # fmt: skip
    assert all(r.status == "ok" for r in runner.run())
    top = report(tmp_path, "engagement").sort(["interactions", "context_id"],
                                              descending=[True, False]).row(0, named=True)  # fmt: skip
    assert (top["context_id"], top["interactions"]) == ("match:3", 3)
    execute("event_deep_dive", tmp_path, monkeypatch)


@pytest.mark.slow
def test_quickstart_runs_over_the_world(world_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = execute("quickstart", world_dir, monkeypatch)
    assert "2026-01-30" in printed(nb, "moderation_daily")
