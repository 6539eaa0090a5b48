"""A dashboard's numbers equal the report tables they come from.

The pages are rendered from demo data by the real jobs; each test reads a page back (its
embedded data and its sentences) and compares with the report's Parquet rows read here with
Polars, independently of the dashboards code.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from tests.dashboards.pages import Page, number, plain


@pytest.fixture(scope="module")
def pages(demo_dir: Path) -> dict[str, Page]:
    folder = demo_dir / "dashboards"
    return {slug: Page(folder / f"{slug}.html")
            for slug in ("overview", "churn", "events", "journey", "moderation")}  # fmt: skip


def assert_rows_equal(page_rows: list[dict], frame: pl.DataFrame, key: list[str]) -> None:
    """Every report row is on the page with every report column equal (floats to 1e-6); a
    page that embeds some columns only is compared on those."""
    if page_rows:
        frame = frame.select([c for c in frame.columns if c in page_rows[0]])
    by_key = {tuple(r[k] for k in key): r for r in page_rows}
    assert len(by_key) == frame.height, "the page and the report differ in rows"
    for expected in frame.iter_rows(named=True):
        got = by_key[tuple(plain(expected[k]) for k in key)]
        for column, value in expected.items():
            value = plain(value)
            if isinstance(value, float) and (math.isnan(value) or value is None):
                assert got[column] is None, column
            elif isinstance(value, float):
                assert got[column] == pytest.approx(value, abs=1e-6), column
            else:
                assert got[column] == value, column


@pytest.mark.parametrize(("slug", "dataset", "report_name", "key", "where"), [
    ("overview", "health", "community_health", ["day"], None),
    ("overview", "moderation", "moderation_daily", ["day"], None),
    ("overview", "kinds", "engagement_daily", ["context_id", "day"], None),
    ("events", "days", "engagement_daily", ["context_id", "day"], None),
    ("churn", "churn", "churn_posting", ["cohort_start", "segment"], None),
    ("churn", "curve", "retention_curve", ["cohort_start", "segment", "week"], None),
    ("churn", "holdout", "holdout_uplift", ["cohort_start"], None),
    ("events", "contexts", "engagement", ["context_id"], None),
    ("journey", "funnel", "funnel", ["step"], None),
    ("journey", "journey", "journey", ["signup_week"], pl.col("signup_week").is_not_null()),
    ("moderation", "daily", "moderation_daily", ["day"], None),
    ("moderation", "checks", "moderation_checks", ["day", "check", "action"], None),
])  # fmt: skip
def test_page_data_equals_report_rows(pages, report, slug, dataset, report_name, key, where):
    frame = report(report_name)
    if where is not None:
        frame = frame.filter(where)
    assert frame.height > 0, f"demo data gave {report_name} no rows"
    assert_rows_equal(pages[slug].rows(dataset), frame, key)


def test_timelines_add_up_to_the_engagement_rows(pages, report):
    engagement = report("engagement")
    events = pages["events"]
    for row in engagement.iter_rows(named=True):
        minutes = events.detail("timeline", row["context_id"])
        assert sum(m["messages"] for m in minutes) == row["messages"], row["context_id"]
        assert sum(m["reactions"] for m in minutes) == row["reactions"], row["context_id"]
        if row["duration_minutes"] <= 360 and row["peak_minute"] is not None:
            first = next(m for m in minutes if m["peak"] == 1)
            assert first["minute"] == row["peak_minute"], row["context_id"]
            assert first["messages"] + first["reactions"] == row["peak_interactions"]
            sentence = events.config["detail_texts"]["timeline"][row["context_id"]]
            minute = f"{row['peak_minute']:,}".replace("-", "\u2212")
            assert f"the busiest minute was minute {minute} with {row['peak_interactions']:,} " in (
                sentence.replace("1 message or reaction", "1 messages and reactions"))


def test_overview_sentences(pages, report):
    health = report("community_health").sort("day")
    last = health.row(-1, named=True)
    page = pages["overview"]
    m = re.match(r"On (.+?), ([\d,]+) people took part, ([\d,]+) in the last 7 days and ([\d,]+) "
                 r"in the last 30", page.finding("active"))  # fmt: skip
    assert m, page.finding("active")
    assert m.group(1) == f"{last['day'].day} {last['day'].strftime('%b %Y')}"
    assert [number(g) for g in m.groups()[1:]] == [last["dau"], last["wau"], last["mau"]]
    daily = report("moderation_daily")
    m = re.match(r"([\d,]+) messages were sent over (\d+) days", page.finding("messages"))
    assert m and number(m.group(1)) == daily["messages"].sum() and int(m.group(2)) == daily.height
    # The last-7-days state, computed in Python for the filter before any reader picked it.
    end = daily["day"].max()
    week = daily.filter(pl.col("day") > end - timedelta(days=7))
    m = re.match(r"([\d,]+) messages were sent over 7 days", page.text("messages", "7d|*"))
    assert m and number(m.group(1)) == week["messages"].sum()
    actions = sum(week[f"verdicts_{a}"].sum() for a in ("mask", "shadow", "hold", "block"))
    attempted = week["messages"].sum() + week["verdicts_block"].sum()
    m = re.match(r"([\d,]+) of ([\d,]+) attempted messages \(sent \+ blocked; ([\d.]+)%\)",
                 page.text("moderation", "7d|*"))  # fmt: skip
    assert m and number(m.group(1)) == actions and number(m.group(2)) == attempted
    assert number(m.group(3)) == pytest.approx(100 * actions / attempted, abs=0.05)


def test_churn_sentences(pages, report):
    churn = report("churn_posting")
    latest = churn.filter(pl.col("cohort_start") == churn["cohort_start"].max())
    weekly = latest.filter(pl.col("segment") == "weekly_posters").row(0, named=True)
    text = pages["churn"].finding("diffs")
    m = re.match(r"Weekly posters churned ([\d.]+) points (less|more) than comparable users who "
                 r"never opened a room \(adjusted for prior product activity, 95% interval "
                 r"(.+?)\).*the naive gap (?:of|was) ([+\u2212]?[\d.]+) points", text)  # fmt: skip
    assert m, text
    d = weekly["churn_diff_adjusted"]
    assert number(m.group(1)) == round(abs(d) * 100, 1)
    assert m.group(2) == ("less" if d < 0 else "more")
    bounds = sorted(abs(x) * 100 for x in (weekly["churn_diff_adjusted_low"],
                                           weekly["churn_diff_adjusted_high"]))  # fmt: skip
    got = [abs(number(x)) for x in re.split(r"\u2013| to ", m.group(3))]
    assert sorted(got) == [round(b, 1) for b in bounds]
    assert abs(number(m.group(4))) == round(abs(weekly["churn_diff_naive"]) * 100, 1)
    holdout = report("holdout_uplift").sort("cohort_start").row(-1, named=True)
    m = re.search(r"(\d+)% of users offered the community stayed against (\d+)% of the ([\d,]+) "
                  r"randomly held-out users", pages["churn"].finding("holdout"))  # fmt: skip
    assert m
    assert number(m.group(1)) == round(holdout["exposed_stay_rate"] * 100)
    assert number(m.group(2)) == round(holdout["holdout_stay_rate"] * 100)
    assert number(m.group(3)) == holdout["holdout_users"]


def test_events_sentences_for_each_kind(pages, report):
    engagement = report("engagement")
    page = pages["events"]
    for kind in [None, *sorted(engagement["kind"].unique())]:
        rows = engagement if kind is None else engagement.filter(pl.col("kind") == kind)
        best = rows.sort(["interactions", "starts_at"], descending=[True, False]).row(0, named=True)
        text = page.text("top", f"all|{kind or '*'}")
        tied = rows.filter(pl.col("interactions") == best["interactions"])["title"].to_list()
        m = re.match(r"Of the ([\d,]+) \w+ active in the range, (.+?) \((.+?)\) drew the most "
                     r"interactions: ([\d,]+) "
                     r"\(([\d,]+) messages, ([\d,]+) reactions, ([\d,]+) poll votes\)", text)  # fmt: skip
        assert m, text
        assert number(m.group(1)) == rows.height and m.group(2) in tied
        assert number(m.group(4)) == best["interactions"]
    caption = page.config["tables"][0]["texts"]["all|*"]
    assert caption.startswith(f"{engagement.height:,} contexts were active in the range (started "
                              "in it, or had activity in their rooms in it) and drew "
                              f"{engagement['messages'].sum():,} messages")  # fmt: skip


def test_journey_and_moderation_sentences(pages, report):
    funnel = report("funnel").sort("step_order")
    text = pages["journey"].finding("funnel")
    first = funnel.row(0, named=True)
    assert text.startswith(f"Of {first['reached']:,} users who {first['step_definition']}, ")
    for row in funnel.iter_rows(named=True):
        if row["step_order"] > 1:
            share = row["share_of_first"] * 100
            shown = f"{share:.0f}%" if share >= 9.95 else f"{share:.1f}%"
            also = "" if row["step_order"] == 2 else "also "
            assert f"{shown} {also}" in text
    # An ordered funnel: "posted" counts those who did every step before; the sentence says so
    # and gives everyone who posted.
    posted = funnel.filter(pl.col("step") == "posted").row(0, named=True)
    assert posted["users"] > posted["reached"]
    assert "(each share counts users who did that step and every step before it)" in text
    assert (f"; {posted['users']:,} users posted at all, {posted['reached']:,} of them after every "
            "earlier step") in text
    daily = report("moderation_daily")
    text = pages["moderation"].finding("actions")
    for action, label in (("mask", "masked"), ("shadow", "shadowed"), ("hold", "held for review"),
                          ("block", "blocked")):  # fmt: skip
        assert f"{daily[f'verdicts_{action}'].sum():,} {label}" in text
    assert f"users reported {daily['reports'].sum():,} messages" in text
    checks = report("moderation_checks")
    reviewed, overturned = checks["reviewed"].sum(), checks["overturned"].sum()
    assert pages["moderation"].finding("overturns").startswith(
        f"Reviewers released {overturned:,} of {reviewed:,} reviewed holds")


def test_the_rendered_time_and_ranges_come_from_the_data(pages, report):
    health = report("community_health")
    first, last = health["day"].min(), health["day"].max()
    ranges = pages["overview"].config["ranges"]
    assert (ranges[0]["start"], ranges[0]["end"]) == (first.isoformat(), last.isoformat())
    assert ranges[1]["start"] == (last - timedelta(days=6)).isoformat()
    assert isinstance(first, date)


def test_a_date_range_counts_the_activity_in_it(pages, demo_dir: Path):
    """Overview's messages tile, its kind split and the events ranking count the same messages
    for every range and kind: those sent in the range, counted from the raw events. A team room
    open for two months counts in every range it was active in, not only on its first day."""
    contexts = pl.read_csv(demo_dir / "exports" / "contexts.csv").select(
        pl.col("context_id").alias("room_id"), "kind")
    sent = (
        pl.read_parquet(demo_dir / "warehouse" / "events" / "*" / "*" / "*.parquet")
        .filter(pl.col("event_type") == "community_message_sent")
        .join(contexts, on="room_id", how="left")
        .select(pl.col("occurred_at").dt.date().cast(pl.String).alias("day"), "kind")
    )
    overview, events = pages["overview"], pages["events"]
    assert events.config["ranges"] == overview.config["ranges"]
    tile = next(t for t in overview.config["tiles"] if t["id"] == "t-msg")
    caption = events.config["tables"][0]["texts"]
    assert "team" in overview.config["kinds"]
    for r in overview.config["ranges"]:
        in_range = sent.filter(pl.col("day").is_between(pl.lit(r["start"]), pl.lit(r["end"])))
        assert in_range["kind"].null_count() == 0  # every message is in a context's room
        key = r["key"]
        assert number(tile["texts"][f"{key}|*"]) == in_range.height, key
        m = re.match(r"Of ([\d,]+) messages in the rooms of the ([\d,]+) contexts active",
                     overview.text("kinds", f"{key}|*"))  # fmt: skip
        assert m and number(m.group(1)) == in_range.height, key
        m = re.search(r" drew ([\d,]+) messages", caption[f"{key}|*"])
        assert m and number(m.group(1)) == in_range.height, key
        for kind in overview.config["kinds"]:
            n = in_range.filter(pl.col("kind") == kind).height
            for text in (overview.text("kinds", f"{key}|{kind}"), caption[f"{key}|{kind}"]):
                m = re.search(r" drew ([\d,]+) messages", text)
                assert (number(m.group(1)) if m else 0) == n, (key, kind, text)
    week = sent.filter(pl.col("day") >= pl.lit(overview.config["ranges"][1]["start"]))
    assert week.filter(pl.col("kind") == "team").height > 0  # the demo exercises the case


def test_journey_ranges_select_exactly_the_signups_their_labels_name(pages, demo_dir: Path):
    """Each range of the journey page is whole signup weeks, Monday to Sunday; its label names
    those days and its sentence counts the users who signed up on them (from the users export)."""
    from dashboards import fmt

    signed_up = pl.read_csv(demo_dir / "exports" / "users.csv").select(
        pl.col("signed_up_at").str.to_datetime(time_zone="UTC").dt.date().alias("day"))
    page = pages["journey"]
    for r in page.config["ranges"]:
        start, end = date.fromisoformat(r["start"]), date.fromisoformat(r["end"])
        assert start.weekday() == 0 and end.weekday() == 6 and r["key"] not in ("7d", "28d")
        assert r["label"].endswith(f"({fmt.span(start, end)})"), r["label"]
        n = signed_up.filter(pl.col("day").is_between(start, end)).height
        text = page.text("opened", f"{r['key']}|*")
        # The since-launch signups first; with earlier ones in the range, all of them after.
        m = (re.search(r"Counting the [\d,]+ who signed up before it existed too, \d+% of ([\d,]+)", text)
             or re.search(r" of the ([\d,]+) users who signed up in the range", text))  # fmt: skip
        assert m and number(m.group(1)) == n, (r["label"], n, text)
    first = page.config["ranges"][0]
    assert first["start"] <= signed_up["day"].min().isoformat()
    assert signed_up["day"].max().isoformat() <= first["end"]


def test_journey_headline_is_about_signups_since_the_launch(pages, demo_dir: Path):
    """Most demo users signed up before the community existed and waited for it; the journey's
    headline counts the signups from the launch week on (and says so), from the raw events."""
    users = pl.read_csv(demo_dir / "exports" / "users.csv").select(
        "user_id", pl.col("signed_up_at").str.to_datetime(time_zone="UTC"))
    events = pl.read_parquet(demo_dir / "warehouse" / "events" / "*" / "*" / "*.parquet")
    first_day = events["occurred_at"].dt.date().min()
    launch = first_day - timedelta(days=first_day.weekday())
    opens = (events.filter(pl.col("event_type") == "community_room_joined")
             .group_by("user_id").agg(pl.col("occurred_at").min().alias("first_open")))  # fmt: skip
    since = (
        users.filter(pl.col("signed_up_at").dt.date() >= launch)
        .join(opens, on="user_id", how="left")
        .with_columns(((pl.col("first_open") - pl.col("signed_up_at")).dt.total_seconds() / 86400)
                      .alias("days"))
    )  # fmt: skip
    assert 0 < since.height < users.height / 2  # the demo's pre-launch majority
    opened = since.filter(pl.col("first_open").is_not_null()).height
    soon = since.filter(pl.col("days").is_between(0, 7, closed="left")).height
    page = pages["journey"]
    text = page.text("opened", "all|*")
    m = re.match(r"(\d+)% of the ([\d,]+) users who signed up in the range since the community "
                 r"launched \(signup weeks from (.+?)\) have opened a room \(([\d,]+)\); "
                 r"([\d.]+)% did so within 7 days of signing up\. Counting the ([\d,]+) who "
                 r"signed up before it existed too, ", text)  # fmt: skip
    assert m, text
    assert number(m.group(2)) == since.height and number(m.group(4)) == opened
    assert m.group(3) == f"{launch.day} {launch.strftime('%b %Y')}"
    assert number(m.group(5)) == pytest.approx(100 * soon / since.height, abs=0.5)
    assert number(m.group(6)) == users.height - since.height
    median = since.filter(pl.col("days") >= 0)["days"].median()
    assert (f"over all signups since the community launched (signup weeks from {m.group(3)}) the "
            f"median is {round(median, 1)} days") in page.text("time", "all|*")
    # Weeks without signups are rows without a share, so the line breaks there.
    weeks = sorted(page.rows("journey"), key=lambda r: r["signup_week"])
    assert any(r["signups"] == 0 and r["opened_share"] is None for r in weeks[1:-1])


def test_moderation_rates_are_over_attempted_messages(pages, demo_dir: Path):
    """A blocked message has a verdict and no sent event: every moderation share counts it in
    its denominator too (attempted = sent + blocked), from the raw events, for every range."""
    events = pl.read_parquet(demo_dir / "warehouse" / "events" / "*" / "*" / "*.parquet").select(
        pl.col("occurred_at").dt.date().cast(pl.String).alias("day"), "event_type",
        pl.col("payload").str.json_path_match("$.action").alias("action"))
    sent = pl.col("event_type") == "community_message_sent"
    verdict = (pl.col("event_type") == "community_message_moderated") & (pl.col("action") != "allow")
    blocked = verdict & (pl.col("action") == "block")
    overview, moderation = pages["overview"], pages["moderation"]
    tiles = {t["id"]: t["texts"] for t in overview.config["tiles"] + moderation.config["tiles"]}
    for r in moderation.config["ranges"]:
        day = pl.col("day").is_between(pl.lit(r["start"]), pl.lit(r["end"]))
        n_sent, n_blocked, n_actions = (events.filter(day & cond).height
                                        for cond in (sent, blocked, verdict))  # fmt: skip
        assert n_blocked > 0, r["key"]
        attempted = n_sent + n_blocked
        text = moderation.text("actions", f"{r['key']}|*")
        assert text.startswith(f"{n_actions:,} of {attempted:,} attempted messages "
                               f"({fmt_pct(n_actions / attempted)}: {n_sent:,} sent and "
                               f"{n_blocked:,} blocked) got an action"), text
        assert f"{n_blocked:,} blocked;" in text
        assert overview.text("moderation", f"{r['key']}|*").startswith(
            f"{n_actions:,} of {attempted:,} attempted messages (sent + blocked; "
            f"{fmt_pct(n_actions / attempted)})")
        assert tiles["t-mod"][f"{r['key']}|*"] == fmt_pct(n_actions / attempted)
    # The events ranking's moderated share of a context is over its attempted messages too.
    engagement = pages["events"].rows("contexts")
    worst = max((c for c in engagement if c["blocked"]), key=lambda c: c["blocked"])
    assert worst["attempted"] == worst["messages"] + worst["blocked"]
    assert worst["moderation_rate"] == pytest.approx(worst["moderated"] / worst["attempted"], abs=1e-6)


def fmt_pct(x: float) -> str:
    """A share as the pages print it (``6.3%``, ``12%``)."""
    v = x * 100
    return f"{v:.0f}%" if v >= 9.95 else f"{v:.1f}%"


def test_long_contexts_are_drawn_and_told_in_hours_or_days(pages, report):
    """A team room open for two months reads in days everywhere: its buckets, its peaks, its
    ranking row and its sentence; never as "minute 12,540" or "over 86,400 minutes"."""
    events = pages["events"]
    rows = {r["context_id"]: r for r in events.rows("contexts")}
    long = report("engagement").filter(pl.col("duration_minutes") > 4 * 24 * 60)
    assert long.height > 0 and set(long["kind"]) == {"team"}
    for c in long.iter_rows(named=True):
        buckets = events.detail("timeline", c["context_id"])
        assert events.config["detail_signals"]["timeline"][c["context_id"]] == {"unit": "day"}
        assert buckets and all(b["size"] == 1440 and b["minute"] % 1440 == 0 for b in buckets)
        assert sum(b["messages"] for b in buckets) == c["messages"]
        first = next(b for b in buckets if b["peak"] == 1)
        assert first["messages"] + first["reactions"] == max(b["messages"] + b["reactions"]
                                                              for b in buckets)  # fmt: skip
        day = first["minute"] // 1440
        assert rows[c["context_id"]]["peak"] == f"day {day}"
        text = events.config["detail_texts"]["timeline"][c["context_id"]]
        days = round(c["duration_minutes"] / 1440, 1)
        assert text.endswith(f"reactions over {days:g} days."), text
        assert f"the busiest day was day {day} (from " in text
        assert not re.search(r"minute [\d,\u2212]+", text), text
    # A match keeps minutes, its busiest minute the report's peak minute.
    match = report("engagement").filter(pl.col("kind") == "match").row(0, named=True)
    assert rows[match["context_id"]]["peak"] == f"minute {match['peak_minute']:,}".replace("-", "\u2212")
    assert events.config["detail_signals"]["timeline"][match["context_id"]] == {"unit": "minute"}
