"""Churn vs posting: do people who post churn less, and how much of that is the community?

Four charts, each answering one step of the argument: churn per segment (with Wilson
intervals); the difference with the reference segment, naive beside adjusted for prior product
activity; retention curves; and the random holdout, the one causal comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import altair as alt

from dashboards import fmt
from dashboards.boards.common import empty, latest, missing, one_of, settings_of, share
from dashboards.charts import (
    BLUE,
    GREY,
    SEGMENTS,
    SHAPES,
    base,
    compile_spec,
    layered,
    palette,
    series,
)
from dashboards.model import Chart, Dashboard, State
from dashboards.ranges import cohort_ranges
from dashboards.sources import Reports, Row

ESTIMATES = {"naive": ("Naive: all users of the segment", GREY),
             "adjusted": ("Adjusted for prior product activity", BLUE)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Definitions:
    """The definitions the cohort reports were computed with, as the page states them."""

    period: str
    """The cohort period: ``two weeks``."""
    churn: str
    """``churn_days``: ``28``."""
    level: str
    """The confidence level of the intervals: ``95%``."""

    @classmethod
    def of(cls, rows: list[Row]) -> Definitions:
        """From the report rows (each carries its settings; the period is its dates)."""
        days = sorted({(date.fromisoformat(r["cohort_end"]) - date.fromisoformat(r["cohort_start"])).days
                       for r in rows if r.get("cohort_start") and r.get("cohort_end")})  # fmt: skip
        return cls(
            one_of(days, fmt.period, "the configured segment_weeks"),
            one_of(settings_of(rows, "churn_days"), str, "the configured churn_days"),
            one_of(settings_of(rows, "confidence"), fmt.level, "the configured confidence"),
        )


def label(segment: str | None) -> str:
    """Readable, lower-case segment name for a sentence."""
    return SEGMENTS.get(segment or "", (segment or "n/a", ""))[0].split(" (")[0].lower()


def build(reports: Reports) -> Dashboard:
    churn = [_with_label(r) for r in reports.rows("churn_posting") or []]
    curve = [_with_label(r) for r in reports.rows("retention_curve") or []]
    holdout = reports.rows("holdout_uplift") or []
    ends = {r["cohort_start"]: r["cohort_end"] for r in churn + curve + holdout}
    ref = next((r["reference_segment"] for r in churn), "never_opened")
    defs = Definitions.of(churn + holdout)
    board = Dashboard(
        slug="churn", title="Churn vs posting",
        intro=(f"Users of each cohort period ({defs.period}) fall into segments by what they "
               "did in the community; churn means no product use in the "
               f"{defs.churn} days after the period. "
               f"Each segment is compared with users who {_verb(ref)}: first naively, then "
               "inside groups of similar prior product activity, because active users both "
               "post and stay. Only the random holdout measures cause and effect."),
        ranges=cohort_ranges([r["cohort_start"] for r in churn + curve + holdout], ends),
        kinds=None,
        datasets={"churn": churn, "diffs": _diffs(churn), "curve": curve, "holdout": holdout},
        extra={"intervals": f"Intervals are {defs.level} confidence intervals."},
    )  # fmt: skip
    board.charts = [_diffs_chart(ref, defs), _rates(defs), _holdout(defs), _curve(ref)]
    for chart, report in zip(board.charts, ("churn_posting", "churn_posting", "holdout_uplift",
                                            "retention_curve"), strict=True):  # fmt: skip
        if reports.frame(report) is None:
            chart.missing = missing(report)
    return board


def _with_label(r: Row) -> Row:
    return {**r, "segment_label": SEGMENTS.get(r["segment"], (r["segment"], ""))[0]}


def _diffs(churn: list[Row]) -> list[Row]:
    """Naive and adjusted differences as one row each, in percentage points."""
    out = []
    for r in churn:
        for est in ESTIMATES:
            value = r.get(f"churn_diff_{est}")
            if value is None:
                continue
            out.append({
                "cohort_start": r["cohort_start"], "segment": r["segment"],
                "segment_label": r["segment_label"], "segment_order": r["segment_order"],
                "estimate": est, "diff": round(value * 100, 4),
                "low": round(r[f"churn_diff_{est}_low"] * 100, 4),
                "high": round(r[f"churn_diff_{est}_high"] * 100, 4), "users": r["users"],
                "reference_segment": r["reference_segment"], "confidence": r.get("confidence"),
            })  # fmt: skip
    return out


def _segment_y() -> alt.Y:
    return alt.Y("segment_label:N", title=None, sort=alt.SortField("segment_order"))


def _rates(defs: Definitions) -> Chart:
    tip = [alt.Tooltip("segment_label:N", title="Segment"),
           alt.Tooltip("churn_rate:Q", title="Churned", format=".1%"),
           alt.Tooltip("churn_rate_low:Q", title=f"{defs.level} low", format=".1%"),
           alt.Tooltip("churn_rate_high:Q", title=f"{defs.level} high", format=".1%"),
           alt.Tooltip("users:Q", title="Users", format=",")]  # fmt: skip
    bars = alt.Chart().mark_rule(strokeWidth=3).encode(
        _segment_y(), alt.X("churn_rate_low:Q", title="share churned", axis=alt.Axis(format="%")),
        alt.X2("churn_rate_high:Q"), palette(SEGMENTS, "segment", legend=False), tooltip=tip)
    dots = alt.Chart().mark_point(size=110).encode(
        _segment_y(), alt.X("churn_rate:Q"), palette(SEGMENTS, "segment", legend=False),
        tooltip=tip)  # fmt: skip
    return Chart("rates", "churn", "cohort_start", pick="latest", text=_rates_text,
                 title="Churn by community segment", source="churn_posting",
                 unit=f"share of the segment with no product use in the {defs.churn} days after "
                      f"the period; lines are {defs.level} intervals",
                 spec=compile_spec(layered(bars, dots, height=200)))  # fmt: skip


def _rates_text(rows: list[Row], state: State) -> str:
    rows = [r for r in rows if r.get("users")]
    if not rows:
        return empty(state, "(no cohort computed)")
    ref = rows[0]["reference_segment"]
    first = min(rows, key=lambda r: r["segment_order"])
    base_row = next((r for r in rows if r["segment"] == ref), None)
    tail = (f" against {fmt.pct(base_row['churn_rate'])} of the {fmt.count(base_row['users'])} "
            f"users who {_verb(ref)}" if base_row and base_row is not first else "")  # fmt: skip
    return (f"In the cohort of {fmt.span(first['cohort_start'], _last(first))}, "
            f"{fmt.pct(first['churn_rate'])} of the {fmt.count(first['users'])} "
            f"{label(first['segment'])} churned ({_level(first)} interval "
            f"{fmt.pct_interval(first['churn_rate_low'], first['churn_rate_high'])}){tail}.")


def _level(row: Row) -> str:
    """The confidence level the row's intervals were computed with (``95%``)."""
    return fmt.level(row["confidence"]) if row.get("confidence") is not None else "confidence"


def _verb(segment: str) -> str:
    return {"never_opened": "never opened a room", "lurkers": "only opened rooms",
            "reactors_only": "only reacted"}.get(segment, f"were {label(segment)}")  # fmt: skip


def _last(row: Row) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(row["cohort_end"]) - timedelta(days=1)).isoformat()


def _diffs_chart(ref: str, defs: Definitions) -> Chart:
    tip = [alt.Tooltip("segment_label:N", title="Segment"),
           alt.Tooltip("estimate:N", title="Estimate"),
           alt.Tooltip("diff:Q", title="Difference (points)", format="+.1f"),
           alt.Tooltip("low:Q", title=f"{defs.level} low", format="+.1f"),
           alt.Tooltip("high:Q", title=f"{defs.level} high", format="+.1f")]  # fmt: skip
    y, offset = _segment_y(), alt.YOffset("estimate:N", sort=list(ESTIMATES))
    whiskers = alt.Chart().mark_rule(strokeWidth=2.5).encode(
        y, offset, alt.X("low:Q", title=f"churn difference vs {label(ref)}, percentage points",
                         axis=alt.Axis(tickCount=12)),
        alt.X2("high:Q"), palette(ESTIMATES, "estimate"), tooltip=tip)  # fmt: skip
    dots = alt.Chart().mark_point(size=90).encode(
        y, offset, alt.X("diff:Q"), palette(ESTIMATES, "estimate"),
        alt.Shape("estimate:N", sort=list(ESTIMATES), legend=None,
                  scale=alt.Scale(domain=list(ESTIMATES), range=SHAPES[:2])), tooltip=tip)
    zero = alt.Chart().mark_rule(color="#111827", strokeDash=[4, 3]).encode(x=alt.datum(0))
    return Chart("diffs", "diffs", "cohort_start", pick="latest", text=_diffs_text,
                 title=f"Churn compared with users who {_verb(ref)}: naive and adjusted",
                 source="churn_posting", wide=True,
                 unit=f"negative = the segment churned less; lines are {defs.level} intervals",
                 spec=compile_spec(layered(zero, whiskers, dots, height=220)))  # fmt: skip


def _diffs_text(rows: list[Row], state: State) -> str:
    adjusted = sorted((r for r in rows if r["estimate"] == "adjusted"),
                      key=lambda r: r["segment_order"])  # fmt: skip
    if not adjusted:
        return empty(state, "(no adjusted comparison computed)")
    a = adjusted[0]
    naive = next((r for r in rows if r["segment"] == a["segment"] and r["estimate"] == "naive"), None)
    d, lo, hi = a["diff"] / 100, a["low"] / 100, a["high"] / 100
    less = d < 0
    who = f"{label(a['segment']).capitalize()} churned {fmt.points(d)} points {'less' if less else 'more'}"
    ci = fmt.interval(lo, hi, direction=-1 if less else 1)
    reading = (f"{who} than comparable users who {_verb(a['reference_segment'])} (adjusted for "
               f"prior product activity, {_level(a)} interval {ci})")
    if lo < 0 < hi:
        reading += ", which does not rule out no difference"
    if naive is not None:
        n = naive["diff"] / 100
        if abs(n) > abs(d) and (n < 0) == less:
            reading += (f"; the naive gap of {fmt.points(n)} points is larger because heavier "
                        "product users both post and stay")
        else:
            reading += f"; the naive gap was {fmt.signed_points(n)} points"
    return reading + "."


def _curve(ref: str) -> Chart:
    spec = (
        base().transform_aggregate(active="sum(active)", users="sum(users)",
                                   groupby=["segment", "segment_order", "segment_label", "week"])
        .transform_calculate(share="datum.users > 0 ? datum.active / datum.users : null")
        .mark_line(point=True)
        .encode(alt.X("week:O", title="week after the cohort period", axis=alt.Axis(labelAngle=0)),
                # From 0, as the churn chart: a cut axis makes a few points look like a gulf.
                alt.Y("share:Q", title="share using the product", axis=alt.Axis(format="%"),
                      scale=alt.Scale(zero=True)),
                *series(SEGMENTS, "segment"),
                tooltip=[alt.Tooltip("segment_label:N", title="Segment"),
                         alt.Tooltip("week:O", title="Week"),
                         alt.Tooltip("share:Q", title="Active", format=".1%"),
                         alt.Tooltip("users:Q", title="Users", format=",")])
    )  # fmt: skip
    return Chart("curve", "curve", "cohort_start", text=_curve_text, title="Retention curves",
                 wide=True,
                 source="retention_curve",
                 unit="share of each segment using the product in each week after the period "
                      "(cohorts in the range pooled)",
                 spec=compile_spec(spec))  # fmt: skip


def _curve_text(rows: list[Row], state: State) -> str:
    if not rows:
        return empty(state, "(no cohort computed)")
    week = max(r["week"] for r in rows)
    cohorts = len({r["cohort_start"] for r in rows})
    pooled: dict[str, tuple[float, float]] = {}
    for r in rows:
        if r["week"] == week:
            a, u = pooled.get(r["segment"], (0, 0))
            pooled[r["segment"]] = (a + r["active"], u + r["users"])
    order = [s for s in SEGMENTS if pooled.get(s, (0, 0))[1]]
    if not order:
        return empty(state)
    first, last = order[0], order[-1]
    where = f"pooled over {cohorts} cohorts" if cohorts > 1 else "one cohort"
    return (f"In week {week} after the period, {fmt.pct(share(*pooled[first]))} of "
            f"{label(first)} still used the product against "
            f"{fmt.pct(share(*pooled[last]))} of users who {_verb(last)} ({where}).")


def _holdout(defs: Definitions) -> Chart:
    tip = [alt.Tooltip("utcyearmonthdate(cohort_start):T", title="Cohort from", format="%d %b %Y"),
           alt.Tooltip("uplift_points:Q", title="Uplift (points)", format="+.1f"),
           alt.Tooltip("exposed_users:Q", title="Offered", format=","),
           alt.Tooltip("holdout_users:Q", title="Held out", format=",")]  # fmt: skip
    x = alt.X("cohort_label:N", title="cohort period", sort=alt.SortField("cohort_start"),
              axis=alt.Axis(labelAngle=0))  # fmt: skip
    calc = {"uplift_points": "datum.uplift * 100", "low_points": "datum.uplift_low * 100",
            "high_points": "datum.uplift_high * 100",
            "cohort_label": "utcFormat(toDate(datum.cohort_start), '%d %b')"}  # fmt: skip
    layer = layered(
        alt.Chart().mark_rule(color="#111827", strokeDash=[4, 3]).encode(y=alt.datum(0)),
        alt.Chart().mark_rule(strokeWidth=3, color=BLUE).encode(
            x, alt.Y("low_points:Q", title="stayed: offered minus held out, points"),
            alt.Y2("high_points:Q"), tooltip=tip),
        alt.Chart().mark_point(size=120, color=BLUE).encode(x, alt.Y("uplift_points:Q"), tooltip=tip),
    ).transform_calculate(**calc)  # fmt: skip
    return Chart("holdout", "holdout", "cohort_start", text=_holdout_text,
                 title="Holdout: the causal effect of offering the community",
                 source="holdout_uplift",
                 unit="difference in the share who stayed (not churned), users offered the "
                      f"community minus randomly held-out users; lines are {defs.level} intervals",
                 spec=compile_spec(layer))  # fmt: skip


def _holdout_text(rows: list[Row], state: State) -> str:
    rows = [r for r in rows if r.get("holdout_users") and r.get("exposed_users")]
    if not rows:
        return empty(state, "(no cohort with held-out users)")
    r = latest(rows, "cohort_start")
    assert r is not None
    up, lo, hi = r["uplift"], r["uplift_low"], r["uplift_high"]
    verdict = ("the interval includes zero, so this holdout cannot yet tell an effect from chance"
               if lo <= 0 <= hi else
               "the interval excludes zero")  # fmt: skip
    more = "more" if up >= 0 else "fewer"
    return (f"In the cohort of {fmt.span(r['cohort_start'], _last(r))}, "
            f"{fmt.pct(r['exposed_stay_rate'])} of users offered the community stayed against "
            f"{fmt.pct(r['holdout_stay_rate'])} of the {fmt.count(r['holdout_users'])} randomly "
            f"held-out users: {fmt.points(up)} points {more} stayed ({_level(r)} interval "
            f"{fmt.interval(lo, hi)}); {verdict}.")  # fmt: skip

