"""The date ranges a dashboard's filter offers, derived from the dates its reports cover."""

from __future__ import annotations

from datetime import date, timedelta

from dashboards import fmt
from dashboards.model import Range

PRESET_DAYS = (7, 14, 28, 90, 365)


def day_ranges(dates: list[str], *, noun: str = "days") -> list[Range]:
    """``All`` plus the last 7/14/28/90/365 days ending on the latest date, where shorter than
    the span covered. The first range is the default."""
    days = sorted({d[:10] for d in dates if d})
    if not days:
        return [Range("all", "All dates (no data yet)", "0000-01-01", "9999-12-31")]
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    total = (last - first).days + 1
    out = [Range("all", f"All {_n(total, noun)} ({fmt.span(first, last)})", first.isoformat(),
                 last.isoformat())]  # fmt: skip
    for n in PRESET_DAYS:
        if n < total:
            start = last - timedelta(days=n - 1)
            out.append(Range(f"{n}d", f"Last {n} days ({fmt.span(start, last)})",
                             start.isoformat(), last.isoformat()))  # fmt: skip
    return out


PRESET_WEEKS = (1, 4, 13, 52)


def week_ranges(mondays: list[str], *, noun: str = "signup weeks") -> list[Range]:
    """Ranges of whole weeks over rows keyed by their week's Monday (``signup_week``): ``All``,
    then the latest 1/4/13/52 weeks where fewer than the weeks covered. Each range runs from a
    Monday to a Sunday and its label names exactly those days; the keys (``all``, ``1w`` ...)
    are not the day ranges' (``7d`` ...), so a range carried from a page of days is not read
    as the weeks nearest to it."""
    weeks = sorted({d[:10] for d in mondays if d})
    if not weeks:
        return [Range("all", f"All {noun} (no data yet)", "0000-01-01", "9999-12-31")]
    first, last = date.fromisoformat(weeks[0]), date.fromisoformat(weeks[-1])
    end = last + timedelta(days=6)
    total = (last - first).days // 7 + 1
    out = [Range("all", f"All {_n(total, noun)} ({fmt.span(first, end)})", first.isoformat(),
                 end.isoformat())]  # fmt: skip
    for n in PRESET_WEEKS:
        if n < total:
            start = last - timedelta(weeks=n - 1)
            what = f"Latest {noun[:-1]}" if n == 1 else f"Last {n} {noun}"
            out.append(Range(f"{n}w", f"{what} ({fmt.span(start, end)})", start.isoformat(),
                             end.isoformat()))  # fmt: skip
    return out


def cohort_ranges(starts: list[str], ends: dict[str, str]) -> list[Range]:
    """The latest cohort (the default), every earlier cohort, and all cohorts together."""
    cohorts = sorted({s for s in starts if s}, reverse=True)
    if not cohorts:
        return [Range("all", "All cohorts (none computed yet)", "0000-01-01", "9999-12-31")]
    out = [
        Range(f"c{c}", f"{'Latest cohort' if i == 0 else 'Cohort'}: {fmt.span(c, _last(ends[c]))}",
              c, c)
        for i, c in enumerate(cohorts)
    ]  # fmt: skip
    if len(cohorts) > 1:
        out.append(Range("all", f"All {len(cohorts)} cohorts ({fmt.span(cohorts[-1], _last(ends[cohorts[0]]))})",
                         cohorts[-1], cohorts[0]))  # fmt: skip
    return out


def _n(n: int, noun: str) -> str:
    """``3 days``; ``1 day`` (``noun`` is a plural ending in s)."""
    return fmt.plural(n, noun[:-1], noun)


def _last(end_exclusive: str) -> str:
    return (date.fromisoformat(end_exclusive) - timedelta(days=1)).isoformat()
