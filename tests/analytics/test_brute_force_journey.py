"""The journey (signup → first room open) and the funnel over the brute-force world of
test_brute_force.py with the journey's own edge cases added, against answers computed here in
plain Python (no Polars, no code of the jobs).

Added users, each named where planted below: a first open on the signup's very microsecond,
one 0.3 s before the signup (a clock problem: left out of the medians), one exactly 7 days
after it (not within 7 days) and one a microsecond earlier (within), a signup on a day's last
microsecond opening on the next day's first, a signup with a UTC offset that moves it into the
next week, steps done out of order (posted and reacted before opening) and on the same
microsecond, a user who never opens, the product user behind the base world's erased
pseudonym (their opens are under the pseudonym), a signup on the warehouse's latest event's
microsecond (counted) and one a microsecond later (not), signups on the last microsecond
before the launch week and the first of it, activity rows before the signup day, with 0
sessions, or repeated.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import msgspec
import polars as pl
import pytest

from analytics.io import write_parquet_atomic
from analytics.runner import Runner
from service.domain.events import EventType as T
from tests.analytics.test_brute_force import (
    ACTIVITY,
    USERS,
    VIEWS,
    World,
    assert_rows,
    expected_funnel,
    join,
    post,
    react,
    report,
    run_in_two,
    ts,
    world,
    write_world,
)

JOURNEY_USERS = {
    **USERS,
    "ja": "2026-01-12T10:00:00Z",  # opens on the signup's microsecond, twice
    "jb": "2026-01-13T12:00:00.500000Z",  # opened 0.3 s before signing up
    "jc": "2026-01-14T08:00:00Z",  # opens exactly 7 days later: not within 7 days
    "jc2": "2026-01-14T08:00:00Z",  # a microsecond earlier: within
    "jd": "2026-01-15T23:59:59.999999Z",  # opens a microsecond later, on the next day
    "je": "2026-01-19T09:00:00+09:00",  # 00:00 UTC on Monday the 19th; steps out of order
    "jf": "2026-01-25T12:00:00Z",  # never opens
    "jg": "2025-12-29T00:00:00Z",  # the product user behind the erased pseudonym
    "jh": "2026-02-01T00:00:00Z",  # on the latest event's microsecond: counted
    "ji": "2026-02-01T00:00:00.000001Z",  # a microsecond after it: not
    "jk": "2026-01-20T00:00:00Z",  # opened 10 days before signing up
    "jl": "2026-01-04T23:59:59.999999Z",  # the last microsecond before the launch week
    "jm": "2026-01-05T00:00:00Z",  # the launch week's first microsecond
}
JOURNEY_ACTIVITY = [
    *ACTIVITY,
    ("ja", "2026-01-11", 5), ("ja", "2026-01-12", 2), ("ja", "2026-01-13", 1),  # 2 (11th: before)
    ("jb", "2026-01-13", 1),
    ("jc", "2026-01-14", 1), ("jc", "2026-01-21", 1), ("jc", "2026-01-22", 4),  # 2
    ("jd", "2026-01-15", 3), ("jd", "2026-01-16", 2), ("jd", "2026-01-16", 0),  # 5 (repeat: first)
    ("jd", "2026-01-17", 9),
    ("je", "2026-01-18", 4), ("je", "2026-01-19", 0), ("je", "2026-01-20", 1),  # 1
    ("jf", "2026-01-25", 1),
    ("jg", "2026-01-07", 2),
    ("jl", "2026-01-04", 1), ("jl", "2026-01-05", 1),  # 2
    ("jm", "2026-01-11", 3),  # 3
]  # fmt: skip
JOURNEY_VIEWS = [
    *VIEWS,
    ("jh", "team:x", "2026-02-01T00:00:00Z"),  # on the latest event's microsecond: counts
    ("je", "match:1", "2026-02-01T00:00:00.000001Z"),  # a microsecond after it: does not
]


def journey_events() -> list:
    return [
        join("ja", "team:x", "2026-01-12T10:00:00Z"),
        join("ja", "match:4", "2026-01-12T10:00:00Z"),  # the same microsecond, another room
        join("jb", "team:x", "2026-01-13T12:00:00.200000Z"),
        join("jc", "team:x", "2026-01-21T08:00:00Z"),
        join("jc2", "team:x", "2026-01-21T07:59:59.999999Z"),
        join("jd", "team:x", "2026-01-16T00:00:00Z"),
        # je reacts and posts before opening a room (steps out of order), posts on the last
        # microsecond of the 19th and the first of the 20th (two days), and opens at the
        # microsecond of that second post.
        react("je", "team:x", "2026-01-19T09:00:00Z", "m3"),
        post("je", "team:x", "2026-01-19T10:00:00Z", "je1"),
        post("je", "team:x", "2026-01-19T23:59:59.999999Z", "je2"),
        post("je", "team:x", "2026-01-20T00:00:00Z", "je3"),
        join("je", "team:x", "2026-01-20T00:00:00Z"),
        join("jh", "team:x", "2026-02-01T00:00:00Z"),
        join("jk", "team:x", "2026-01-10T00:00:00Z"),
        join("jl", "match:1", "2026-01-05T00:00:00Z"),
        join("jm", "team:x", "2026-01-11T23:59:59.999999Z"),
    ]


def journey_world() -> World:
    return world(JOURNEY_ACTIVITY, users=JOURNEY_USERS, extra=journey_events())


# -- brute force ---------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default, Polars' ``linear``)."""
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def expected_journey(w: World) -> list[dict]:
    horizon = max(e[3] for e in w.events)
    launch_week = monday(min(e[3] for e in w.events).date())
    first_open: dict[str, datetime] = {}
    for kind, who, _room, at, _p in w.events:
        if kind == T.ROOM_JOINED.value and (who not in first_open or at < first_open[who]):
            first_open[who] = at
    people = []
    for u, signed in w.signups.items():
        if signed > horizon:
            continue
        opened = first_open.get(u)
        days = (opened - signed) / timedelta(days=1) if opened else None
        sessions = None
        if opened:
            sessions = sum(s for (v, d), s in w.sessions.items()
                           if v == u and signed.date() <= d <= opened.date())  # fmt: skip
        people.append({"week": monday(signed.date()), "opened": opened is not None,
                       "days": days, "sessions": sessions})  # fmt: skip

    def row(scope: str, week: date | None, group: list[dict]) -> dict:
        valid = [p for p in group if p["days"] is not None and p["days"] >= 0]
        days = [p["days"] for p in valid]
        sessions = [p["sessions"] for p in valid]
        opened = sum(p["opened"] for p in group)
        return {
            "scope": scope, "signup_week": week, "window": "all", "launch_week": launch_week,
            "signups": len(group), "opened": opened,
            "opened_share": opened / len(group) if group else None,
            "opened_before_signup": sum(p["days"] is not None and p["days"] < 0 for p in group),
            "opened_within_7_days": sum(d < 7 for d in days),
            "days_to_open_median": quantile(days, 0.5), "days_to_open_p75": quantile(days, 0.75),
            "sessions_to_open_median": quantile(sessions, 0.5),
            "sessions_to_open_p75": quantile(sessions, 0.75),
        }  # fmt: skip

    weeks = [p["week"] for p in people]
    out, week = [], min(weeks)
    while week <= max(weeks):
        out.append(row("week", week, [p for p in people if p["week"] == week]))
        week += timedelta(days=7)
    out.append(row("all", None, people))
    out.append(row("since_launch", None, [p for p in people if p["week"] >= launch_week]))
    return out


# -- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    runner = write_world(tmp_path_factory.mktemp("journey"), JOURNEY_ACTIVITY,
                         users=JOURNEY_USERS, extra=journey_events(), views=JOURNEY_VIEWS)  # fmt: skip
    results = runner.run(["journey", "funnel"])
    assert all(r.status == "ok" for r in results), [(r.job, r.error) for r in results]
    return runner


def journey_rows(runner: Runner) -> list[dict]:
    return report(runner, "journey").to_dicts()  # the job's own order: weeks, then the totals


def test_the_world_plants_the_journey_edge_cases() -> None:
    w = journey_world()
    signups = w.signups
    assert max(e[3] for e in w.events) == ts("2026-02-01T00:00:00Z") == signups["jh"] < signups["ji"]
    want = {r["scope"]: r for r in expected_journey(w) if r["scope"] != "week"}
    # zz and ji signed up after the latest event; since the launch week (5 January): k, l,
    # ja, jb, jc, jc2, jd, je, jf, jh, jk, jm (jl by a microsecond not).
    assert (want["all"]["signups"], want["since_launch"]["signups"]) == (len(signups) - 2, 12)
    assert want["all"]["opened_before_signup"] == 2  # jb (0.3 s) and jk (10 days)
    assert want["all"]["opened_within_7_days"] == 7  # ja, jc2, jd, je, jh, jl, jm; not jc


def test_journey(ran: Runner) -> None:
    assert_rows(journey_rows(ran), expected_journey(journey_world()))


def test_funnel(ran: Runner) -> None:
    got = report(ran, "funnel").sort("step_order").to_dicts()
    assert_rows(got, expected_funnel(journey_world(), JOURNEY_VIEWS))


def test_funnel_without_a_views_export(tmp_path: Path) -> None:
    """No views export: the first step is "used the product" (an activity row with sessions),
    through the latest event's day."""
    runner = write_world(tmp_path, JOURNEY_ACTIVITY, users=JOURNEY_USERS, extra=journey_events(),
                         views=[])  # fmt: skip
    [result] = runner.run(["funnel"])
    assert result.status == "ok", result.error
    got = report(runner, "funnel").sort("step_order")
    assert_rows(got.to_dicts(), expected_funnel(journey_world(), None))
    assert got["step_definition"][0] == "used the product"


def test_funnel_with_every_view_after_the_latest_event(tmp_path: Path) -> None:
    """A views export whose views all come after the latest event: nobody viewed yet, so no
    step is reached and every conversion and share is null (0 of 0), not NaN."""
    views = [("a", "match:1", "2026-02-01T00:00:00.000001Z"), ("ja", "team:x", "2026-02-02T00:00:00Z")]
    runner = write_world(tmp_path, JOURNEY_ACTIVITY, users=JOURNEY_USERS, extra=journey_events(),
                         views=views)  # fmt: skip
    [result] = runner.run(["funnel"])
    assert result.status == "ok", result.error
    got = report(runner, "funnel").sort("step_order")
    want = expected_funnel(journey_world(), views)
    assert [r["reached"] for r in want] == [0] * 6 and want[1]["users"] > 0
    assert_rows(got.to_dicts(), want)
    assert got["conversion"].null_count() == got["share_of_first"].null_count() == 6


def test_incremental_runs_equal_the_brute_force(tmp_path: Path) -> None:
    """The journey kept up to date run after run (the per-user summary and the sessions to
    the first open kept in ``_derived``) equals the full answer: a first run over the events
    before 16 January, then the rest, with a late join of jm that moves its first open from the
    11th (counted by the first run, 3 sessions) to the 8th (a day the first run had read; 0
    sessions)."""
    cut = ts("2026-01-16T00:00:00Z")
    late = join("jm", "match:2", "2026-01-08T06:00:00Z")
    runner = write_world(tmp_path, JOURNEY_ACTIVITY, users=JOURNEY_USERS,
                         extra=[e for e in journey_events() if e.occurred_at < cut],
                         views=JOURNEY_VIEWS)  # fmt: skip
    rest = [e for e in journey_events() if e.occurred_at >= cut]
    run_in_two(runner, cut, [*rest, late], ["journey", "funnel"])
    w = world(JOURNEY_ACTIVITY, users=JOURNEY_USERS, extra=[*journey_events(), late])
    assert_rows(journey_rows(runner), expected_journey(w))
    assert_rows(report(runner, "funnel").sort("step_order").to_dicts(),
                expected_funnel(w, JOURNEY_VIEWS))  # fmt: skip


def test_a_user_erased_between_runs(tmp_path: Path) -> None:
    """jg opens and posts under their own id; a first run counts them. Then they are erased
    (``sideline erase`` rewrites the warehouse files, their id replaced by a pseudonym) while
    the product's exports still hold them: the next run, whose kept per-user summary had
    their opens, counts jg as a signup who never opened (docs/product-exports.md)."""
    own = [join("jg", "team:x", "2026-01-08T10:00:00Z"), post("jg", "team:x", "2026-01-08T10:05:00Z", "jg1"),
           post("jg", "team:x", "2026-01-09T10:05:00Z", "jg2")]  # fmt: skip
    runner = write_world(tmp_path, JOURNEY_ACTIVITY, users=JOURNEY_USERS,
                         extra=[*journey_events(), *own], views=JOURNEY_VIEWS)  # fmt: skip
    assert all(r.status == "ok" for r in runner.run(["journey", "funnel"]))
    before = world(JOURNEY_ACTIVITY, users=JOURNEY_USERS, extra=[*journey_events(), *own])
    assert_rows(journey_rows(runner), expected_journey(before))
    pseudonym = "erased-00000000000000aa"
    for path in runner.warehouse.files():
        frame = pl.read_parquet(path)
        if (frame["user_id"] == "jg").any():
            frame = frame.with_columns(pl.col("user_id").replace("jg", pseudonym))
            write_parquet_atomic(frame, path)
    assert all(r.status == "ok" for r in runner.run(["journey", "funnel"]))
    erased = [msgspec.structs.replace(e, user_id=pseudonym) for e in own]
    after = world(JOURNEY_ACTIVITY, users=JOURNEY_USERS, extra=[*journey_events(), *erased])
    assert_rows(journey_rows(runner), expected_journey(after))
    assert_rows(report(runner, "funnel").sort("step_order").to_dicts(),
                expected_funnel(after, JOURNEY_VIEWS))  # fmt: skip
    assert expected_journey(after)[-2]["opened"] == expected_journey(before)[-2]["opened"] - 1


def test_weeks_without_signups_have_null_shares(ran: Runner) -> None:
    """Spelled out from the brute force: a week without signups has 0 signups and null
    shares and medians, and the weeks run from the first signup week to the last."""
    rows = {r["signup_week"]: r for r in journey_rows(ran) if r["scope"] == "week"}
    empty = rows[date(2025, 11, 3)]
    assert (empty["signups"], empty["opened"], empty["opened_share"],
            empty["days_to_open_median"]) == (0, 0, None, None)  # fmt: skip
    assert min(rows) == date(2025, 10, 27) and max(rows) == date(2026, 1, 26)
    assert pl.Series(list(rows)).diff().drop_nulls().unique().to_list() == [timedelta(days=7)]
