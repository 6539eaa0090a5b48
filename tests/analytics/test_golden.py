"""Every report over the hand-built world of conftest.py, against answers worked out by hand."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from analytics.runner import Runner
from analytics.stats import newcombe, wilson, z_value
from tests.analytics.conftest import golden_runner

Z = z_value(0.95)


def report(runner: Runner, name: str) -> pl.DataFrame:
    return pl.read_parquet(runner.reports_root / name / "*.parquet")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    runner = golden_runner(tmp_path_factory.mktemp("golden"))
    results = {r.job: r for r in runner.run()}
    assert all(r.status == "ok" for r in results.values()), results
    return runner


def test_churn_posting(ran: Runner) -> None:
    df = report(ran, "churn_posting").filter(pl.col("window") == "2026-01-05")
    rows = {r["segment"]: r for r in df.iter_rows(named=True)}
    assert [(s, rows[s]["users"], rows[s]["churned"], rows[s]["retained"]) for s in rows] == [
        ("weekly_posters", 1, 0, 1),
        ("occasional_posters", 1, 0, 0),
        ("reactors_only", 1, 1, 0),
        ("lurkers", 2, 1, 1),
        ("never_opened", 2, 1, 0),
    ]
    lo, hi = wilson(1, 2, Z)
    assert rows["lurkers"]["churn_rate"] == 0.5
    assert rows["lurkers"]["churn_rate_low"] == pytest.approx(lo)
    assert rows["lurkers"]["churn_rate_high"] == pytest.approx(hi)
    _d, dlo, dhi = newcombe(0, 1, 1, 2, Z)
    assert rows["weekly_posters"]["churn_diff_naive"] == pytest.approx(-0.5)
    assert (rows["weekly_posters"]["churn_diff_naive_low"],
            rows["weekly_posters"]["churn_diff_naive_high"]) == pytest.approx((dlo, dhi))  # fmt: skip
    # Within stratum 2 the weekly poster (a) and the reference (f) both stayed: no difference.
    assert rows["weekly_posters"]["churn_diff_adjusted"] == pytest.approx(0.0)
    # Lurkers d, h sit in stratum 1 with reference e (churned): 0.5 - 1.0.
    assert rows["lurkers"]["churn_diff_naive"] == pytest.approx(0.0)
    assert rows["lurkers"]["churn_diff_adjusted"] == pytest.approx(-0.5)
    assert rows["lurkers"]["churn_diff_adjusted_strata"] == 1
    assert rows["never_opened"]["churn_diff_naive"] is None
    assert df["reference_segment"].unique().to_list() == ["never_opened"]
    # The settings the rows were computed with travel with them (the dashboards state them).
    assert df.select("churn_days", "retention_days", "confidence").unique().rows() == [(28, 7, 0.95)]


def test_churn_strata(ran: Runner) -> None:
    df = report(ran, "churn_strata").sort("stratum", "segment_order")
    got = [(r["stratum"], r["segment"], r["users"], r["pre_sessions_min"], r["pre_sessions_max"],
            r["churned"]) for r in df.iter_rows(named=True)]  # fmt: skip
    assert got == [
        (1, "reactors_only", 1, 3, 3, 1),
        (1, "lurkers", 2, 1, 2, 1),
        (1, "never_opened", 1, 0, 0, 1),
        (2, "weekly_posters", 1, 10, 10, 0),
        (2, "occasional_posters", 1, 8, 8, 0),
        (2, "never_opened", 1, 5, 5, 0),
    ]


def test_holdout_uplift(ran: Runner) -> None:
    row = report(ran, "holdout_uplift").row(0, named=True)
    assert (row["exposed_users"], row["exposed_stayed"], row["holdout_users"],
            row["holdout_stayed"]) == (2, 1, 1, 1)  # fmt: skip
    d, lo, hi = newcombe(1, 2, 1, 1, Z)
    assert (row["uplift"], row["uplift_low"], row["uplift_high"]) == pytest.approx((d, lo, hi))
    assert row["retention_uplift"] == pytest.approx(-0.5)
    assert row["holdout_share"] == pytest.approx(1 / 3)
    assert (row["churn_days"], row["retention_days"], row["confidence"]) == (28, 7, 0.95)


def test_community_health(ran: Runner) -> None:
    df = report(ran, "community_health").sort("day")
    by_day = {r["day"]: r for r in df.iter_rows(named=True)}
    assert df["day"].min() == date(2026, 1, 5) and df["day"].max() == date(2026, 1, 18)
    assert (by_day[date(2026, 1, 5)]["dau"], by_day[date(2026, 1, 5)]["stickiness"]) == (0, None)
    jan6 = by_day[date(2026, 1, 6)]
    assert (jan6["dau"], jan6["wau"], jan6["mau"], jan6["posters"]) == (2, 2, 2, 1)
    assert jan6["poster_share"] == 0.5
    jan9 = by_day[date(2026, 1, 9)]
    assert (jan9["dau"], jan9["wau"], jan9["mau"], jan9["posters"]) == (3, 6, 6, 0)
    jan13 = by_day[date(2026, 1, 13)]
    # a on the 13th; the week 7th..13th: b, c, d, h, x, a; the month adds nobody.
    assert (jan13["dau"], jan13["wau"], jan13["mau"], jan13["monthly_posters"]) == (1, 6, 6, 2)
    assert jan13["stickiness"] == pytest.approx(1 / 6)
    jan14 = by_day[date(2026, 1, 14)]
    assert (jan14["dau"], jan14["wau"]) == (0, 5)  # the 8th..14th: c, d, h, x, a
    assert by_day[date(2026, 1, 18)]["history_days"] == 14


def test_moderation_daily(ran: Runner) -> None:
    by_day = {r["day"]: r for r in report(ran, "moderation_daily").iter_rows(named=True)}
    jan6, jan7, jan8, jan13 = (by_day[date(2026, 1, d)] for d in (6, 7, 8, 13))
    assert (jan6["messages"], jan6["reports"], jan6["reviews"]) == (1, 1, 0)
    assert (jan7["reviews"], jan7["overturned"], jan7["review_minutes_median"]) == (1, 0, 1440.0)
    assert (jan8["verdicts_block"], jan8["messages"], jan8["masked_share"]) == (1, 0, None)
    # The blocked message was never sent: it is attempted, and its verdict counts over it.
    assert (jan8["attempted"], jan8["actioned"], jan8["moderation_rate"]) == (1, 1, 1.0)
    assert (by_day[date(2026, 1, 6)]["attempted"], by_day[date(2026, 1, 6)]["moderation_rate"]) == (
        1, 0.0)
    assert (jan13["messages"], jan13["masked_messages"], jan13["verdicts_mask"],
            jan13["verdicts_hold"]) == (2, 1, 1, 1)  # fmt: skip
    assert (jan13["reviews"], jan13["overturned"], jan13["overturn_rate"]) == (1, 1, 1.0)
    assert jan13["review_minutes_median"] == 30.0 and jan13["masked_share"] == 0.5


def test_moderation_checks(ran: Runner) -> None:
    rows = report(ran, "moderation_checks").sort("day", "check", "action")
    got = [(r["day"].day, r["check"], r["action"], r["verdicts"], r["reviewed"], r["overturned"])
           for r in rows.iter_rows(named=True)]  # fmt: skip
    assert got == [
        (8, "links", "block", 1, 0, 0),
        (13, "blocklist", "hold", 1, 1, 1),
        (13, "pii", "hold", 1, 1, 1),
        (13, "pii", "mask", 1, 0, 0),
    ]


def test_engagement(ran: Runner) -> None:
    by_id = {r["context_id"]: r for r in report(ran, "engagement").iter_rows(named=True)}
    m1, m2, team = by_id["match:1"], by_id["match:2"], by_id["team:x"]
    assert (m1["viewers"], m1["viewers_source"], m1["openers"], m1["opened_share"]) == (
        10, "export", 0, 0.0)
    assert (m1["posters"], m1["messages"], m1["peak_minute"], m1["peak_interactions"]) == (
        1, 1, 5, 1)
    assert m1["messages_per_minute"] == pytest.approx(1 / 110)
    assert m1["moderation_rate"] == 0.0
    assert (m2["viewers"], m2["viewers_source"], m2["openers"], m2["opened_share"]) == (
        3, "views", 3, 1.0)
    assert (m2["reactions"], m2["peak_minute"], m2["peak_interactions"]) == (3, 30, 2)
    assert m2["moderation_rate"] is None  # no messages
    assert (team["viewers"], team["openers"], team["posters"], team["messages"],
            team["reactions"], team["moderated"]) == (None, 1, 2, 3, 1, 3)  # fmt: skip
    # m2, m3, m4 sent and m5 blocked (never sent): 3 actions over 4 attempted messages.
    assert (team["blocked"], team["attempted"], team["moderation_rate"]) == (1, 4, 0.75)
    assert m1["window"] == "2026-01-06" and team["window"] == "2026-01-05"
    assert {r["timeline_margin_minutes"] for r in by_id.values()} == {60}
    kinds = report(ran, "engagement_kind").filter(pl.col("window") == "2026-01-09").row(0, named=True)
    assert (kinds["kind"], kinds["contexts"], kinds["openers"], kinds["opened_share"]) == (
        "match", 1, 3, 1.0)


def test_engagement_daily(ran: Runner) -> None:
    """Each context's room activity on the UTC day it happened: team:x (5 to 20 January) is
    active on four days besides its start day, and its days sum to its engagement row."""
    df = report(ran, "engagement_daily").sort("context_id", "day")
    got = [(r["window"], r["context_id"], r["day"].day, r["openers"], r["posters"], r["messages"],
            r["reactions"], r["poll_votes"], r["interactions"], r["moderated"])
           for r in df.iter_rows(named=True)]  # fmt: skip
    assert got == [
        ("2026-01-06", "match:1", 6, 0, 1, 1, 0, 0, 1, 0),
        ("2026-01-09", "match:2", 9, 3, 0, 0, 3, 0, 3, 0),
        ("2026-01-05", "team:x", 5, 0, 0, 0, 0, 0, 0, 0),  # its start day, no event
        ("2026-01-05", "team:x", 7, 0, 1, 1, 0, 0, 1, 0),  # b's message
        ("2026-01-05", "team:x", 8, 0, 0, 0, 1, 0, 1, 1),  # c's reaction and blocked message
        ("2026-01-05", "team:x", 13, 0, 1, 2, 0, 0, 2, 2),  # a's masked and held messages
        ("2026-01-05", "team:x", 18, 1, 0, 0, 0, 0, 0, 0),  # x opens the room
    ]
    assert df.filter(pl.col("blocked") > 0).select("day", "blocked", "attempted").rows() == [
        (date(2026, 1, 8), 1, 1)]
    columns = ["messages", "reactions", "moderated", "blocked", "attempted"]
    sums = df.group_by("context_id").agg(pl.col(columns).sum())
    whole = report(ran, "engagement").select("context_id", *columns)
    assert sums.sort("context_id").rows() == whole.sort("context_id").rows()


def test_journey(ran: Runner) -> None:
    df = report(ran, "journey")
    total = df.filter(pl.col("scope") == "all").row(0, named=True)
    assert (total["signups"], total["opened"], total["opened_before_signup"]) == (8, 2, 0)
    d_days = (39 * 1440 + 18 * 60 + 1) / 1440
    h_days = (39 * 1440 + 18 * 60 + 2) / 1440
    assert total["days_to_open_median"] == pytest.approx((d_days + h_days) / 2)
    assert total["sessions_to_open_median"] == 2.5  # d: 1 + 1, h: 2 + 1
    weeks = df.filter(pl.col("scope") == "week").select("signup_week", "signups", "opened_share")
    # Every week from the first signup week to the last, those without signups with no share.
    assert weeks.rows() == [(date(2025, 12, 1), 7, 2 / 7), (date(2025, 12, 8), 0, None),
                            (date(2025, 12, 15), 0, None), (date(2025, 12, 22), 0, None),
                            (date(2025, 12, 29), 1, 0.0)]
    # The community's first event is on Monday 5 January: every user signed up before it.
    since = df.filter(pl.col("scope") == "since_launch").row(0, named=True)
    assert (since["signups"], since["opened"], since["opened_share"]) == (0, 0, None)
    assert set(df["launch_week"]) == {date(2026, 1, 5)}


def test_funnel(ran: Runner) -> None:
    df = report(ran, "funnel").sort("step_order")
    assert df["step"].to_list() == ["viewed", "opened", "reacted", "voted", "posted", "posted_again"]
    assert df["users"].to_list() == [3, 2, 1, 0, 2, 1]  # x reacted too, but is no known user
    assert df["reached"].to_list() == [3, 2, 0, 0, 0, 0]
    assert df["conversion"].to_list()[:3] == pytest.approx([1.0, 2 / 3, 0.0])
    assert df["conversion"].to_list()[3:] == [None, None, None]
    assert df["step_definition"][0] == "viewed a context"
