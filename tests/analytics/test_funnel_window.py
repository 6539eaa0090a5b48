"""The funnel is a snapshot up to the warehouse horizon (the latest event): every step, the
first ("viewed", from the context_views export) included, counts only what happened before it.
Answers worked out by hand over the golden world of conftest.py."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.analytics.conftest import golden_runner


def test_views_after_the_horizon_are_not_counted(tmp_path: Path) -> None:
    runner = golden_runner(tmp_path)
    views = tmp_path / "exports" / "context_views.csv"
    # The golden world's last event is x opening team:x on 2026-01-18 12:00. The views export
    # runs ahead of the warehouse: a views match:1 on the 25th, after the funnel's end, and
    # opens nothing; counted, "viewed" would be d, h, e, a = 4 and "opened" 2 of 4 (0.5).
    views.write_text(views.read_text() + "a,match:1,2026-01-25T10:00:00Z,15\n")
    [result] = runner.run(["funnel"])
    assert result.status == "ok", result.error

    df = pl.read_parquet(runner.reports_root / "funnel" / "*.parquet").sort("step_order")
    # viewed before the end: d, h, e; opened: d, h (x is no known user); reacted: c; voted:
    # nobody; posted: a, b; posted again (two days): a. Reached: 3, then d and h, then none.
    assert df["users"].to_list() == [3, 2, 1, 0, 2, 1]
    assert df["reached"].to_list() == [3, 2, 0, 0, 0, 0]
    assert df["conversion"].to_list()[:3] == pytest.approx([1.0, 2 / 3, 0.0])
    assert df["share_of_first"].to_list()[:2] == pytest.approx([1.0, 2 / 3])
    assert df["step_definition"][0] == "viewed a context"
