"""Viewers from the context_views export count over the same time as the rest of a context's
engagement row: on its timeline (``timeline_margin_minutes`` before its start to as long after
its end, like the events of its room) and up to the warehouse export's latest event (like the
funnel). So a final window says the same after a full recompute. Answers worked out by hand
over the golden world of conftest.py."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from analytics.runner import Runner
from tests.analytics.conftest import golden_runner
from tests.analytics.test_runner import export_more


def viewers(runner: Runner) -> dict[str, tuple[object, ...]]:
    df = pl.read_parquet(runner.reports_root / "engagement" / "*.parquet")
    rows = df.select("context_id", "viewers", "viewers_source", "opened_share",
                     "interactions_per_viewer").rows()  # fmt: skip
    return {r[0]: r[1:] for r in rows}


def test_views_count_on_the_timeline_and_up_to_the_horizon(tmp_path) -> None:
    runner = golden_runner(tmp_path)
    views = runner.exports_dir / "context_views.csv"
    # The golden views: d, h and e watch match:2 (18:00-19:50 UTC on the 9th; with the 60
    # minute margin its timeline is 17:00-20:50). The export's last event is at noon on the 18th.
    views.write_text(views.read_text()
                     + "c,match:2,2026-01-09T12:00:00Z,5\n"  # before the timeline
                     + "a,match:2,2026-01-20T10:00:00Z,5\n"  # after it (and the horizon)
                     + "a,team:x,2026-01-10T08:00:00Z,5\n"  # team:x runs the 5th to the 20th
                     + "b,team:x,2026-01-19T09:00:00Z,5\n")  # after the horizon  # fmt: skip
    [first, kinds] = runner.run(["engagement", "engagement_kind"])
    assert (first.status, kinds.status) == ("ok", "ok"), (first.error, kinds.error)
    assert viewers(runner) == {
        # The export's viewers column: 0 openers / 10; a's message m1 / 10.
        "match:1": (10, "export", 0.0, 0.1),
        # d, h, e (not c, nor a): 3 openers (d, h, x) / 3; 3 reactions / 3.
        "match:2": (3, "views", 1.0, 1.0),
        # a only: 1 opener (x, at noon on the 18th) / 1; m2, m3, m4 and c's reaction: 4 / 1.
        "team:x": (1, "views", 1.0, 4.0),
    }
    kind = pl.read_parquet(runner.reports_root / "engagement_kind" / "*.parquet")
    assert dict(kind.select("window", "viewers").rows()) == {
        "2026-01-05": 1, "2026-01-06": 10, "2026-01-09": 3}  # fmt: skip

    # The export moves on to the 21st: b's view of team:x is now before the horizon (team:x,
    # open until now, is computed again); a's view of match:2 is too, but off its timeline.
    export_more(runner, datetime(2026, 1, 21, 2, tzinfo=UTC), "n2")
    runner.run(["engagement"])
    incremental = viewers(runner)
    # team:x: a, b; 1 opener / 2, 4 interactions / 2 (x's open on the 21st is off its timeline).
    assert incremental["team:x"] == (2, "views", 0.5, 2.0)
    assert incremental["match:2"] == (3, "views", 1.0, 1.0)
    runner.run(["engagement"], full=True)
    assert viewers(runner) == incremental  # the final 9th was right as computed


def test_viewers_missing_from_the_users_export_still_count(tmp_path) -> None:
    # x is in no users export but opened match:2 and reacted there (the golden events): its
    # view counts as its open does, so the opened share cannot go above 1.
    runner = golden_runner(tmp_path)
    views = runner.exports_dir / "context_views.csv"
    views.write_text(views.read_text() + "x,match:2,2026-01-09T18:02:00Z,5\n")
    results = runner.run(["engagement", "funnel"])
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    # d, h, e and x viewed; d, h and x opened: 3 / 4; 3 reactions / 4.
    assert viewers(runner)["match:2"] == (4, "views", 0.75, 0.75)
    assert ("context_views: 1 rows of 1 users missing from the users export count as viewers "
            "in per-event engagement, not in the funnel") in results[0].notes
    # The funnel counts users of the users export: d, h and e viewed, x does not count.
    funnel = pl.read_parquet(runner.reports_root / "funnel" / "*.parquet")
    assert funnel.filter(pl.col("step") == "viewed")["users"].to_list() == [3]
