"""On demo data with planted effects, the reports recover the truth and the naive view does not.

The demo plants a posting effect on churn (-effect * responsive_share for everyone who posts)
that is confounded by product activity, and a random holdout (see analytics/demo.py). One fixed
seed and one fixed start: the check is deterministic, and a 95 % interval may miss the truth for
1 world in 20. Without a fixed start the demo runs up to yesterday, so each day of the year
made another world, and one day's interval missed the truth by 0.00008.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from analytics.demo import DemoConfig, generate, write_exports, write_warehouse
from analytics.runner import Runner

pytestmark = pytest.mark.slow
START = date(2026, 9, 28)
"""A day on the cohort grid (14 days from 1970-01-05)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Runner, object]:
    root = tmp_path_factory.mktemp("truth")
    data = generate(DemoConfig(users=20_000, holdout_share=0.5, seed=7, start=START))
    write_exports(data, root / "exports", "parquet")
    write_warehouse(data.events, root / "warehouse")
    runner = Runner(root / "warehouse", root / "exports", progress=False)
    results = runner.run(["churn_posting", "holdout_uplift"])
    assert [r.status for r in results] == ["ok", "ok"]
    return runner, data


def test_stratified_estimate_recovers_the_planted_effect(world) -> None:
    runner, data = world
    first = data.start.isoformat()  # the cohort without sign-ups that have no pre-period
    df = pl.read_parquet(runner.reports_root / "churn_posting" / f"{first}.parquet")
    rows = {r["segment"]: r for r in df.iter_rows(named=True)}
    truth = data.truth.posting_effect
    for segment in ("weekly_posters", "occasional_posters"):
        r = rows[segment]
        assert r["churn_diff_adjusted_low"] <= truth <= r["churn_diff_adjusted_high"], r
        # The naive difference is biased beyond its own interval, by more than the effect.
        assert r["churn_diff_naive_high"] < truth, r
        assert r["churn_diff_naive"] - truth < -0.05, r
    for segment in ("reactors_only", "lurkers"):  # no effect planted on them
        r = rows[segment]
        assert r["churn_diff_adjusted_low"] <= 0 <= r["churn_diff_adjusted_high"], r
        assert r["churn_diff_naive_high"] < 0, r


def test_holdout_uplift_recovers_the_planted_uplift(world) -> None:
    runner, data = world
    df = pl.read_parquet(runner.reports_root / "holdout_uplift" / "*.parquet")
    assert df.height == len(data.truth.holdout_uplift) == 2
    for row in df.iter_rows(named=True):
        truth = data.truth.holdout_uplift[row["window"]]
        assert row["uplift_low"] <= truth <= row["uplift_high"], (row, truth)
        assert 0.4 < row["holdout_share"] < 0.6
