"""Pure logic of the dashboards: number formats, the filter rule, ranges, sentences, and what a
page says about the freshness of its reports (on hand-made facts)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from dashboards import fmt, freshness, page, render, sinks
from dashboards.auth import LoginThrottle
from dashboards.boards import churn, events, moderation, overview, timeline
from dashboards.model import Chart, Dashboard, Part, Range, Rollup, State, Tile, evaluate, select
from dashboards.ranges import cohort_ranges, day_ranges, week_ranges
from service.sinks.status import SinkStatus

ALL = Range("all", "All", "2026-10-01", "2026-10-31")
WEEK = Range("7d", "Last 7 days", "2026-10-25", "2026-10-31")


def test_formats():
    assert fmt.count(4378) == "4,378"
    assert fmt.count(2.5) == "2.5"
    assert fmt.count(-1200) == "\u22121,200"
    assert fmt.pct(0.4294) == "43%"
    assert fmt.pct(0.043) == "4.3%"
    assert fmt.pct(0.0996) == "10%"
    assert fmt.pct(-5.5e-17) == "0%"
    assert fmt.points(-0.0854) == "8.5"
    assert fmt.signed_points(0.0205) == "+2.1"
    assert fmt.signed_points(-0.0441) == "\u22124.4"
    assert fmt.day("2026-10-03") == "3 Oct 2026"
    assert fmt.span("2026-10-12", "2026-10-25") == "12\u201325 Oct 2026"
    assert fmt.span("2026-09-28", "2026-10-11") == "28 Sep \u2013 11 Oct 2026"
    assert fmt.span("2025-12-29", "2026-01-04") == "29 Dec 2025 \u2013 4 Jan 2026"
    assert fmt.ratio(63.0) == "63×" and fmt.ratio(2.25) == "2.2×"
    assert fmt.minutes(95) == "95 minutes" and fmt.minutes(330) == "5.5 hours"
    assert fmt.join(["a", "b", "c"]) == "a, b and c"
    assert [fmt.period(d) for d in (7, 14, 35, 10)] == ["one week", "two weeks", "5 weeks", "10 days"]
    assert [fmt.margin(m) for m in (60, 15, 120, 90, 1)] == ["an hour", "15 minutes", "2 hours",
                                                             "90 minutes", "1 minute"]
    assert [fmt.level(c) for c in (0.95, 0.9, 0.975)] == ["95%", "90%", "97.5%"]


def test_interval_reads_in_the_direction_of_the_sentence():
    # "churned 8.5 points less, 95% interval 3.2–13.7": a decrease reads as magnitudes
    assert fmt.interval(-0.137, -0.032, direction=-1) == "3.2\u201313.7"
    # an interval straddling zero keeps its signs, in the direction of the phrasing
    assert fmt.interval(-0.094, 0.014, direction=-1) == "\u22121.4 to +9.4"
    assert fmt.interval(-0.077, 0.052) == "\u22127.7 to +5.2"
    assert fmt.pct_interval(0.062, 0.152) == "6.2\u201315%"


def test_select_applies_range_kind_where_and_latest():
    rows = [
        {"day": "2026-10-24", "kind": "match", "total": None, "n": 1},
        {"day": "2026-10-25T13:30:00Z", "kind": "team", "total": None, "n": 2},
        {"day": "2026-10-31", "kind": "match", "total": None, "n": 3},
        {"day": "2026-10-31", "kind": "match", "total": 1, "n": 4},
        {"day": None, "kind": "match", "total": None, "n": 5},
    ]
    part = Part("p", "d", "day", "kind", where={"total": None})
    assert [r["n"] for r in select(rows, part, State(ALL))] == [1, 2, 3]
    assert [r["n"] for r in select(rows, part, State(WEEK))] == [2, 3]
    assert [r["n"] for r in select(rows, part, State(WEEK, "match"))] == [3]
    latest = Part("p", "d", "day", pick="latest")
    assert [r["n"] for r in select(rows, latest, State(ALL))] == [3, 4]
    no_filters = Part("p", "d")
    assert len(select(rows, no_filters, State(WEEK, "team"))) == 5


def test_a_rollup_sums_the_days_in_the_range_per_item():
    """A team room active across the month counts only its days in the range; its other fields
    are its whole row's, and ratios are taken over the range's sums."""
    contexts = [{"id": "team:1", "title": "Team", "messages": 9, "moderated": 3, "viewers": 40},
                {"id": "match:1", "title": "Match", "messages": 4, "moderated": 0, "viewers": 10}]
    days = [{"id": "team:1", "day": "2026-10-02", "messages": 5, "moderated": 2},
            {"id": "match:1", "day": "2026-10-26", "messages": 4, "moderated": 0},
            {"id": "team:1", "day": "2026-10-27", "messages": 3, "moderated": 1},
            {"id": "team:1", "day": "2026-10-30", "messages": 1, "moderated": None},
            {"id": "gone:1", "day": "2026-10-30", "messages": 7, "moderated": 0}]
    rollup = Rollup("id", "contexts", ("messages", "moderated"),
                    ratios={"rate": ("moderated", "messages")})
    part = Part("p", "days", "day", rollup=rollup)
    week = select(days, part, State(WEEK), {"contexts": contexts})
    assert week == [{"id": "match:1", "title": "Match", "messages": 4, "moderated": 0,
                     "viewers": 10, "rate": 0.0},
                    {"id": "team:1", "title": "Team", "messages": 4, "moderated": 1,
                     "viewers": 40, "rate": 0.25}]
    whole = select(days, part, State(ALL), {"contexts": contexts})
    assert [(r["id"], r["messages"], r["rate"]) for r in whole] == [("team:1", 9, 3 / 9),
                                                                    ("match:1", 4, 0.0)]
    assert select(days, part, State(WEEK)) == []  # no attrs dataset: no item to show


def test_evaluate_fills_every_state_and_kind_only_where_it_applies():
    board = Dashboard("x", "X", "", [ALL, WEEK], ["match", "team"],
                      datasets={"d": [{"day": "2026-10-26", "kind": "team", "n": 2},
                                      {"day": "2026-10-02", "kind": "match", "n": 5}]})
    count = lambda rows, state: f"{sum(r['n'] for r in rows)} in {state.key}"  # noqa: E731
    board.charts = [Chart("k", "d", "day", "kind", text=count), Chart("g", "d", "day", text=count)]
    evaluate(board)
    assert board.charts[0].texts == {
        "all|*": "7 in all|*", "all|match": "5 in all|match", "all|team": "2 in all|team",
        "7d|*": "2 in 7d|*", "7d|match": "0 in 7d|match", "7d|team": "2 in 7d|team",
    }
    assert board.charts[1].texts == {"all|*": "7 in all|*", "7d|*": "2 in 7d|*"}


def test_day_ranges_offer_presets_shorter_than_the_span():
    days = [date(2026, 10, 1).replace(day=d).isoformat() for d in range(1, 31)]
    ranges = day_ranges(days)
    assert [r.key for r in ranges] == ["all", "7d", "14d", "28d"]
    assert ranges[0].label == "All 30 days (1\u201330 Oct 2026)"
    assert (ranges[1].start, ranges[1].end) == ("2026-10-24", "2026-10-30")
    assert day_ranges([])[0].key == "all"


def test_week_ranges_are_whole_weeks_named_by_their_days():
    mondays = ["2026-08-24", "2026-10-12", "2026-10-19", "2026-10-26", "2026-10-19"]
    ranges = week_ranges(mondays)
    assert [(r.key, r.label, r.start, r.end) for r in ranges] == [
        ("all", "All 10 signup weeks (24 Aug \u2013 1 Nov 2026)", "2026-08-24", "2026-11-01"),
        ("1w", "Latest signup week (26 Oct \u2013 1 Nov 2026)", "2026-10-26", "2026-11-01"),
        ("4w", "Last 4 signup weeks (5 Oct \u2013 1 Nov 2026)", "2026-10-05", "2026-11-01"),
    ]
    assert not {r.key for r in ranges} - {"all"} & {r.key for r in day_ranges(mondays)}
    assert week_ranges([])[0].key == "all"


def test_cohort_ranges_default_to_the_latest_cohort():
    ranges = cohort_ranges(["2026-09-28", "2026-10-12", "2026-09-28"],
                           {"2026-09-28": "2026-10-12", "2026-10-12": "2026-10-26"})
    assert [(r.key, r.start, r.end) for r in ranges] == [
        ("c2026-10-12", "2026-10-12", "2026-10-12"), ("c2026-09-28", "2026-09-28", "2026-09-28"),
        ("all", "2026-09-28", "2026-10-12")]
    assert ranges[0].label == "Latest cohort: 12\u201325 Oct 2026"


def _diff_rows(adjusted: tuple[float, float, float], naive: float) -> list[dict]:
    d, lo, hi = adjusted
    common = {"cohort_start": "2026-10-12", "segment": "weekly_posters", "segment_order": 1,
              "reference_segment": "never_opened", "confidence": 0.95}
    return [{**common, "estimate": "adjusted", "diff": d, "low": lo, "high": hi},
            {**common, "estimate": "naive", "diff": naive, "low": naive - 4, "high": naive + 4}]


def test_churn_sentence_states_direction_interval_and_the_naive_gap():
    state = State(ALL)
    text = churn._diffs_text(_diff_rows((-8.54, -13.7, -3.21), -17.5), state)
    assert text == ("Weekly posters churned 8.5 points less than comparable users who never opened "
                    "a room (adjusted for prior product activity, 95% interval 3.2\u201313.7); the "
                    "naive gap of 17.5 points is larger because heavier product users both post "
                    "and stay.")
    straddles = churn._diffs_text(_diff_rows((-4.1, -9.4, 1.4), -16.1), state)
    assert "4.1 points less" in straddles and "\u22121.4 to +9.4" in straddles
    assert "does not rule out no difference" in straddles
    more = churn._diffs_text(_diff_rows((3.0, 1.0, 5.0), 2.0), state)
    assert "churned 3.0 points more" in more and "1.0\u20135.0" in more
    assert "naive gap was +2.0 points" in more
    assert churn._diffs_text([], state).startswith("No data for this selection")


def test_holdout_sentence_says_when_the_interval_includes_zero():
    row = {"cohort_start": "2026-10-12", "cohort_end": "2026-10-26", "exposed_users": 1517,
           "holdout_users": 147, "exposed_stay_rate": 0.8029, "holdout_stay_rate": 0.8231,
           "uplift": -0.0202, "uplift_low": -0.0773, "uplift_high": 0.0520, "confidence": 0.95}
    text = churn._holdout_text([row], State(ALL))
    assert text == ("In the cohort of 12\u201325 Oct 2026, 80% of users offered the community stayed "
                    "against 82% of the 147 randomly held-out users: 2.0 points fewer stayed (95% "
                    "interval \u22127.7 to +5.2); the interval includes zero, so this holdout cannot "
                    "yet tell an effect from chance.")
    clear = churn._holdout_text([{**row, "uplift": 0.05, "uplift_low": 0.02, "uplift_high": 0.08}],
                                State(ALL))
    assert "5.0 points more stayed (95% interval 2.0\u20138.0); the interval excludes zero" in clear
    # The level is the row's own; a row that does not record it gets no level made up.
    assert "(90% interval " in churn._holdout_text([{**row, "confidence": 0.9}], State(ALL))
    assert "(confidence interval " in churn._holdout_text([{**row, "confidence": None}], State(ALL))


def test_overview_and_moderation_sentences_count_the_rows_they_get():
    rows = [moderation.with_rate({"day": "2026-10-30", "messages": 100, "verdicts_mask": 3,
                                  "verdicts_shadow": 1, "verdicts_hold": 2, "verdicts_block": 4,
                                  "reports": 2}),
            moderation.with_rate({"day": "2026-10-31", "messages": 50, "verdicts_mask": 0,
                                  "verdicts_shadow": 0, "verdicts_hold": 0, "verdicts_block": 5,
                                  "reports": 0})]
    # The 9 blocked messages were never sent: 15 actions over 159 attempted messages.
    assert [r["attempted"] for r in rows] == [104, 55]
    assert overview._moderation_text(rows, State(ALL)) == (
        "15 of 159 attempted messages (sent + blocked; 9.4%) got a moderation action other than "
        "allow; the highest daily rate was 9.6% on 30 Oct 2026.")
    assert moderation._actions_text(rows, State(ALL)) == (
        "15 of 159 attempted messages (9.4%: 150 sent and 9 blocked) got an action: 3 masked, 1 "
        "shadowed, 2 held for review and 9 blocked; users reported 2 messages.")
    assert overview._messages_text([], State(WEEK, "match")).startswith(
        "No data for this selection: nothing in the chosen date range for match contexts")


def test_the_overview_reads_the_last_day_that_is_over_and_says_todays_apart():
    """The last day of a live service is today, still in progress: its few actives so far must
    not stand as the last day's DAU."""
    def day(d: str, dau: int, wau: int, mau: int, posters: int) -> dict:
        return {"day": d, "dau": dau, "wau": wau, "mau": mau, "posters": posters,
                "monthly_poster_share": 0.4, "history_days": 60}  # fmt: skip

    rows = [day("2026-10-30", 250, 900, 1300, 80), day("2026-10-31", 240, 880, 1310, 70),
            day("2026-11-01", 3, 860, 1305, 3)]  # fmt: skip

    class NoReports:
        def rows(self, name: str, columns: list[str] | None = None) -> None:
            return None

        def frame(self, name: str) -> None:
            return None

    board = overview.build(NoReports(), today=date(2026, 11, 1))  # type: ignore[arg-type]
    tiles = {t.id: t for t in board.tiles}
    assert [tiles[t].text(rows, State(ALL)) for t in ("t-dau", "t-wau", "t-mau")] == ["240", "880", "1,310"]
    assert tiles["t-dau"].label == "Active on the last full day"
    active = next(c for c in board.charts if c.id == "active")
    assert active.text(rows, State(ALL)) == (
        "On 31 Oct 2026, 240 people took part, 880 in the last 7 days and 1,310 in the last 30; "
        "daily actives averaged 164 over 3 days. So far today (1 Nov 2026), 3.")
    posting = next(c for c in board.charts if c.id == "posting")
    assert "in the 30 days to 31 Oct 2026," in posting.text(rows, State(ALL))
    # a range that ends before today reads its own last day, and nothing of today
    later = overview.build(NoReports(), today=date(2026, 11, 20))  # type: ignore[arg-type]
    assert next(t for t in later.tiles if t.id == "t-dau").text(rows, State(ALL)) == "3"
    assert "So far today" not in next(c for c in later.charts if c.id == "active").text(rows, State(ALL))


def _status(name: str, state: str, lag: int, dead: int = 0, error: str | None = None) -> SinkStatus:
    return SinkStatus(name=name, kind="segment", state=state, cursor=10, last_seq=10 + lag, lag=lag,
                      dead_letters=dead, last_error=error)


@pytest.mark.parametrize(("statuses", "expected"), [
    ([_status("warehouse", "idle", 0)], "The warehouse sink is delivering; 0 events are waiting for it."),
    ([_status("a", "idle", 3), _status("b", "sending", 12)],
     "All 2 sinks are delivering; the largest lag is 12 events (b)."),
    ([_status("a", "idle", 0), _status("mixpanel", "backing_off", 1204, 2, "HTTP 503")],
     "1 of 2 sinks need attention: mixpanel is backing off with 1,204 events waiting and 2 dead "
     "letters (last error: HTTP 503)."),
    ([_status("a", "disabled", 0)], "No sink is enabled on this node: events stay in the log and "
                                    "nothing is forwarded."),
])  # fmt: skip
def test_sink_sentences(statuses, expected):
    from datetime import UTC, datetime

    block = sinks.summary(statuses, datetime(2026, 11, 1, tzinfo=UTC), "running service")
    assert block["sentence"] == expected
    assert block["available"] and len(block["rows"]) == len(statuses)
    missing = sinks.summary(None, datetime(2026, 11, 1, tzinfo=UTC), "")
    assert not missing["available"] and "not available" in missing["sentence"]


def test_the_throttle_bounds_memory_without_unblocking_a_blocked_address():
    throttle = LoginThrottle(attempts=3, window=300.0, max_clients=100)
    for _ in range(3):
        throttle.failed("blocked", now=0.0)
    assert throttle.blocked("blocked", now=1.0) == pytest.approx(299.0)
    for i in range(1_000):  # a spray of single failures from other addresses
        throttle.failed(f"spray-{i}", now=1.0 + i / 1_000)
    assert throttle.blocked("blocked", now=2.0) == pytest.approx(298.0)
    assert len(throttle._failures) <= 100
    assert throttle.blocked("spray-999", now=2.0) == 0.0  # one failure blocks nothing
    # Once its failures have expired, a blocked address is the first to be forgotten.
    throttle.failed("late", now=400.0)
    assert "blocked" not in throttle._failures and throttle.blocked("blocked", now=400.0) == 0.0


def test_a_timeline_is_told_in_the_unit_its_length_fits():
    """A two-day context is drawn and told per hour: buckets, peaks, the ranking's peak and the
    sentence; a match per minute."""
    day = {"context_id": "final:1", "title": "Final weekend", "starts_at": "2026-10-03T10:00:00Z",
           "duration_minutes": 2 * 24 * 60, "messages": 9, "reactions": 3}
    minutes = [{"context_id": "final:1", "minute": m, "messages": n, "reactions": r}
               for m, n, r in ((-30, 1, 0), (70, 2, 1), (75, 3, 2), (600, 1, 0), (1500, 2, 0))]
    rows, texts, signals = timeline.timelines([day], minutes)
    got = [(b["minute"], b["size"], b["messages"], b["reactions"], b["peak"]) for b in rows["final:1"]]
    assert got == [(-60, 60, 1, 0, 0), (60, 60, 5, 3, 1), (600, 60, 1, 0, 3), (1500, 60, 2, 0, 2)]
    assert signals == {"final:1": {"unit": "hour"}}
    assert (day["timeline_unit"], day["peak"], day["peak_count"]) == ("hour", "hour 1", 8)
    assert texts["final:1"] == (
        "Final weekend (3 Oct 2026): the busiest hour was hour 1 (from 3 Oct 2026 11:00 UTC) with "
        "8 messages and reactions; the next peaks came at hour 25 and hour 10; its busiest single "
        "minute, 3 Oct 2026 11:15 UTC, had 5. It drew 9 messages and 3 reactions over 48 hours.")
    assert [timeline.unit_of(m)[0] for m in (110, 360, 361, 5760, 5761)] == [
        "minute", "minute", "hour", "hour", "day"]


def test_one_of_a_thing_is_said_in_the_singular():
    """The first day of data, a single report or review: "1 day", not "1 days"."""
    assert fmt.plural(1, "day") == "1 day" and fmt.plural(2, "day") == "2 days"
    assert fmt.plural(1, "poll vote") == "1 poll vote" and fmt.plural(1_200, "match", "matches") == "1,200 matches"
    assert day_ranges(["2026-11-27"])[0].label == "All 1 day (27 Nov 2026)"
    assert week_ranges(["2026-10-26"])[0].label == "All 1 signup week (26 Oct \u2013 1 Nov 2026)"
    day = {"day": "2026-11-27", "dau": 99, "wau": 367, "mau": 541, "history_days": 61,
           "posters": 28, "messages": 55}  # fmt: skip
    assert overview._active_text([day], State(ALL), today="2026-11-28").endswith(
        "daily actives averaged 99 over 1 day.")
    assert overview._messages_text([day], State(ALL)).startswith("55 messages were sent over 1 day,")
    mod = moderation.with_rate({"day": "2026-11-27", "messages": 55, "verdicts_mask": 1,
                                "verdicts_shadow": 2, "verdicts_hold": 1, "verdicts_block": 1,
                                "reports": 1, "reviews_timed": 1, "review_minutes_median": 234,
                                "review_minutes_p90": 234})  # fmt: skip
    assert moderation._actions_text([mod], State(ALL)).endswith("; users reported 1 message.")
    assert moderation._review_text([mod], State(ALL)) == (
        "1 review was timed; on 27 Nov 2026 the median wait was 3.9 hours (90th percentile "
        "3.9 hours).")
    check = {"day": "2026-11-27", "check": "threat", "reviewed": 1, "overturned": 0}
    assert moderation._overturn_text([check], State(ALL)).startswith(
        "Reviewers released 0 of 1 reviewed hold (0%)")
    context = {"context_id": "match:1", "kind": "match", "title": "A v B", "starts_at":
               "2026-11-27T12:00:00Z", "viewers": 10, "openers": 4, "opened_share": 0.4,
               "messages": 1, "reactions": 1, "poll_votes": 1}  # fmt: skip
    assert events._opened_text([context], State(ALL)).startswith("Across 1 context with known viewers,")
    assert events._caption([context], State(ALL)).startswith(
        "1 context was active in the range (started in it, or had activity in its room in it) and "
        "drew 1 message, 1 reaction and 1 poll vote in it;")


# -- freshness: the period a page covers, when its reports were computed, which are stale ----

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
"""When the newest report of these facts was computed."""


def _rep(name: str, windowing: str = "day", *, through: date | None = date(2026, 11, 19),
         final: date | None = date(2026, 11, 18), computed: datetime | None = T0,
         status: str | None = "ok", started: datetime | None = None, error: str | None = None,
         output: bool = True, horizon: datetime | None = None) -> freshness.Report:  # fmt: skip
    return freshness.Report(name, windowing, output, computed, status, started or computed, error,
                            through, final, horizon)  # fmt: skip


def _facts(*reports: freshness.Report, warehouse: date | None = date(2026, 11, 19),
           records: str = "read") -> freshness.Facts:  # fmt: skip
    return freshness.Facts({r.name: r for r in reports}, warehouse, records)


def _board(**sources: str) -> Dashboard:
    """A page whose tiles read ``tiles`` and one chart per other keyword (id: its source)."""
    board = Dashboard("x", "X", "", [ALL], None)
    tiles = sources.pop("tiles", "")
    board.tiles = [Tile("t", "d", source=tiles)] if tiles else []
    board.charts = [Chart(cid, "d", title=f"Chart {cid}", source=src) for cid, src in sources.items()]
    return board


def test_fresh_reports_state_their_period_and_when_they_were_computed():
    facts = _facts(_rep("community_health"), _rep("moderation_daily"),
                   _rep("engagement_daily", "context_day", through=date(2026, 11, 17),
                        final=date(2026, 11, 17)))  # fmt: skip
    assert freshness.assess(facts) == {}
    fresh = freshness.for_page(facts, _board(tiles="community_health", a="moderation_daily",
                                             b="engagement_daily"))  # fmt: skip
    assert fresh.stale == [] and fresh.caveat == ""
    # Told from the daily reports (the first windowing of ORDER the page has).
    assert fresh.period == ("Data through 19 Nov 2026 (UTC); days up to 18 Nov 2026 are final, "
                            "19 Nov 2026 can still change as late events arrive.")
    assert fresh.computed == "The reports were last computed on 20 Nov 2026 at 03:00 UTC."
    later = _facts(_rep("community_health"), _rep("moderation_daily", computed=T0 + timedelta(hours=5)))
    assert freshness.for_page(later, _board(a="community_health", b="moderation_daily")).computed == (
        "The reports were last computed on 20 Nov 2026 between 03:00 and 08:00 UTC.")


def test_a_report_whose_last_run_failed_or_did_not_finish_is_stale():
    error = 'ExportError: users.csv row 1: column "signed_up_at": expected a timestamp\nrow 9: ...'
    facts = _facts(_rep("community_health"),
                   _rep("moderation_checks", status="failed", started=T0 + timedelta(hours=1),
                        error=error),
                   _rep("moderation_daily", status="running", started=T0 + timedelta(minutes=5),
                        computed=T0 - timedelta(hours=1)),
                   _rep("funnel", "snapshot", status="failed", computed=None, output=False,
                        through=None, final=None))  # fmt: skip
    stale = freshness.assess(facts)
    assert sorted(stale) == ["funnel", "moderation_checks", "moderation_daily"]
    assert stale["moderation_checks"] == ([
        'Its last run, started 20 Nov 2026 04:00 UTC, failed: ExportError: users.csv row 1: column '
        '"signed_up_at": expected a timestamp. The numbers shown are from its last successful '
        "run, which ended 20 Nov 2026 03:00 UTC."], "failed on its last run")
    assert stale["moderation_daily"][0] == [
        "Its last run, started 20 Nov 2026 03:05 UTC, never finished: it was stopped or crashed "
        "before the end. The numbers shown are from its last successful run, which ended "
        "20 Nov 2026 02:00 UTC."]
    assert stale["funnel"][0][0].endswith("failed: no error was recorded. No run of it has "
                                          "succeeded yet.")


def test_a_report_computed_more_than_a_day_before_the_newest_is_stale():
    """Any windowing: a context-day report left out of the runs is found by its run time. A
    daily report is normally almost a day older than the hourly ones, and its run may start an
    hour late behind them: that is not yet stale."""
    day = timedelta(days=1)
    facts = _facts(_rep("community_health"),
                   _rep("funnel", "snapshot", computed=T0 - day - freshness.RUN_GRACE),  # not yet
                   _rep("engagement", "context_day", computed=T0 - day - timedelta(hours=2)),
                   _rep("churn_posting", "cohort", computed=T0 - 3 * day))  # fmt: skip
    stale = freshness.assess(facts)
    assert sorted(stale) == ["churn_posting", "engagement"]
    assert stale["engagement"] == ([
        "It was last computed 19 Nov 2026 01:00 UTC, 26 hours before the newest report "
        "(community_health, 20 Nov 2026 03:00 UTC)."],
        "was last computed 26 hours before the newest report")  # fmt: skip
    assert "3 days before the newest report" in stale["churn_posting"][0][0]


def test_a_report_whose_data_end_more_than_a_day_before_the_latest_is_stale():
    """Day and snapshot reports say which warehouse day they saw; context-day and cohort
    reports do not, so their data days are not judged (their run times are)."""
    facts = _facts(_rep("community_health", through=date(2026, 11, 18)),  # a day behind: not yet
                   _rep("moderation_checks", through=date(2026, 11, 17)),
                   _rep("engagement", "context_day", through=date(2026, 11, 2)),
                   _rep("churn_posting", "cohort", through=date(2026, 10, 25)),
                   warehouse=date(2026, 11, 19))  # fmt: skip
    stale = freshness.assess(facts)
    assert list(stale) == ["moderation_checks"]
    assert stale["moderation_checks"] == ([
        "Its data end on 17 Nov 2026, 2 days before the latest data (19 Nov 2026, in the "
        "warehouse)."], "ends 2 days before the latest data")  # fmt: skip
    # Without the warehouse beside the reports (a copy of them), the other reports tell.
    copy = _facts(_rep("community_health"), _rep("moderation_checks", through=date(2026, 11, 17)),
                  _rep("funnel", "snapshot", through=date(2026, 11, 19), final=None),
                  warehouse=None)  # fmt: skip
    assert freshness.assess(copy)["moderation_checks"][0] == [
        "Its data end on 17 Nov 2026, 2 days before the latest data (19 Nov 2026, in the "
        "community_health report)."]


def test_the_period_is_told_in_the_terms_of_the_page_reports():
    horizon = datetime(2026, 11, 19, 22, 11, 30, tzinfo=UTC)
    snapshot = _facts(_rep("funnel", "snapshot", horizon=horizon, final=None),
                      _rep("journey", "snapshot", horizon=horizon - timedelta(hours=3), final=None))
    assert freshness.period(snapshot, list(snapshot.reports.values())) == (
        "Data through 19 Nov 2026 22:11 UTC, the latest event in the warehouse when the reports "
        "were computed. journey only reaches 19 Nov 2026 19:11 UTC.")
    contexts = _facts(_rep("engagement", "context_day", through=date(2026, 11, 19)),
                      _rep("engagement_daily", "context_day", through=date(2026, 11, 19),
                           final=date(2026, 11, 16)))  # fmt: skip
    assert freshness.period(contexts, list(contexts.reports.values())) == (
        "Contexts that started through 19 Nov 2026 (UTC); those that started up to 16 Nov 2026 "
        "have ended and their numbers are final, later ones can still change.")
    cohorts = _facts(_rep("churn_posting", "cohort", through=date(2026, 10, 25),
                          final=date(2026, 10, 25)))  # fmt: skip
    assert freshness.period(cohorts, list(cohorts.reports.values())) == (
        "Cohort periods through 25 Oct 2026 (UTC): a period is computed once the product's "
        "activity export covers the days after it in which churn is measured.")
    days = _facts(_rep("moderation_daily", final=date(2026, 11, 19)),
                  _rep("moderation_checks", through=date(2026, 11, 16), final=date(2026, 11, 16)))
    assert freshness.period(days, list(days.reports.values())) == (
        "Data through 19 Nov 2026 (UTC), every day final. moderation_checks only reaches "
        "16 Nov 2026.")
    nothing = _facts(_rep("funnel", "snapshot", output=False, computed=None, through=None))
    assert freshness.period(nothing, list(nothing.reports.values())) == (
        "None of the reports of this page has been computed yet.")


@pytest.mark.parametrize(("records", "says"), [
    ("missing", "The analytics runner's records were not found beside the reports, so this page "
                "cannot tell whether a report's last run failed, nor which days are final."),
    ("busy", "The analytics runner's records were in use by a run when this page was rendered, so "
             "this page cannot tell whether a report's last run failed, nor which days are final. "
             "The run renders the pages again when it ends."),
])  # fmt: skip
def test_without_the_run_records_a_page_says_what_it_cannot_tell(records: str, says: str):
    facts = _facts(_rep("community_health", status="failed", through=date(2026, 11, 1)),
                   records=records)  # fmt: skip
    assert freshness.assess(facts) == {}  # nothing to judge a report by
    fresh = freshness.for_page(facts, _board(a="community_health"))
    assert fresh.caveat == says and fresh.period == ""
    assert fresh.computed == "The report files were last written on 20 Nov 2026 at 03:00 UTC."


def test_the_stale_notice_names_each_report_why_and_the_parts_it_feeds():
    facts = _facts(_rep("community_health", status="failed", error="boom"),
                   _rep("moderation_daily", status="failed", error="boom"),
                   _rep("engagement_daily", "context_day", computed=T0 - timedelta(days=3)),
                   _rep("engagement"))  # fmt: skip
    board = _board(tiles="community_health", a="moderation_daily",
                   b="engagement_daily, engagement", c="community_health")  # fmt: skip
    fresh = freshness.for_page(facts, board)
    assert [(n.report, n.parts) for n in fresh.stale] == [
        ("community_health", ["the tiles", "“Chart c”"]), ("moderation_daily", ["“Chart a”"]),
        ("engagement_daily", ["“Chart b”"])]
    notice = page.stale_html(fresh.stale)
    assert notice.startswith('<section class="stale" id="stale" aria-labelledby="stale-title">')
    assert ('<h2 id="stale-title"><span aria-hidden="true">\u26a0 </span>Out of date: the '
            "community_health, moderation_daily and engagement_daily reports</h2>") in notice
    # The two that failed alike share an item; the laggard has its own.
    items = re.findall(r"<li>(.*?)</li>", notice)
    assert len(items) == 2
    assert items[0].startswith("<strong>community_health</strong> and <strong>moderation_daily"
                               "</strong>, each: its last run, started 20 Nov 2026 03:00 UTC, "
                               "failed: boom.")
    assert items[0].endswith("Used on this page by the tiles, “Chart c” and “Chart a”.")
    assert "was last computed 17 Nov 2026 03:00 UTC, 3 days before the newest report" in items[1]
    # A card names its stale reports in words, not by colour alone.
    assert page.stale_note(fresh.notice_for(["engagement_daily", "engagement"])) == (
        '<p class="stale-note"><strong>Out of date:</strong> the engagement_daily report was last '
        "computed 3 days before the newest report (see the notice under the page title).</p>")
    assert page.stale_note(fresh.notice_for(["engagement"])) == ""


def test_the_overview_today_is_the_render_time():
    """``render_all(now=...)`` pins the render time; the overview's day in progress follows it
    rather than the machine's clock."""
    rows = [{"day": d, "dau": n, "wau": 900, "mau": 1300, "posters": 1} for d, n in
            (("2026-10-31", 240), ("2026-11-01", 3))]  # fmt: skip

    class NoReports:
        root = None

        def rows(self, name: str, columns: list[str] | None = None) -> None:
            return None

        def frame(self, name: str) -> None:
            return None

    def dau(now: datetime) -> str:
        board = render.build("overview", NoReports(), now)  # type: ignore[arg-type]
        return next(t for t in board.tiles if t.id == "t-dau").text(rows, State(ALL))  # type: ignore[misc]

    assert dau(datetime(2026, 11, 1, 9, 30, tzinfo=UTC)) == "240"  # 1 Nov is still in progress
    assert dau(datetime(2026, 11, 2, 0, 5, tzinfo=UTC)) == "3"  # 1 Nov is over
