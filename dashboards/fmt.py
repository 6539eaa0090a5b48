"""Numbers and dates as a product manager reads them in a finding sentence.

Conventions (tests parse sentences back with them): counts with thousands separators
(``4,378``); shares as whole percents from 10 % up and one decimal below (``43%``, ``4.3%``);
differences of shares in percentage points with one decimal (``8.5 points``); dates as
``3 Oct 2026``; the en dash for ranges and the minus sign for negative numbers.
"""

from __future__ import annotations

from datetime import date, datetime

MINUS = "\u2212"
DASH = "\u2013"


def count(n: float | None) -> str:
    """``4,378``; one decimal when ``n`` is fractional and below 100 (``2.5``)."""
    if n is None:
        return "n/a"
    if float(n).is_integer() or abs(n) >= 100:
        return f"{round(n):,}".replace("-", MINUS)
    return f"{n:,.1f}".replace("-", MINUS)


def plural(n: float, word: str, words: str | None = None) -> str:
    """A count with its noun, in the singular for one: ``1 day``, ``2 days``, ``3 matches``."""
    return f"{count(n)} {word if n == 1 else words or word + 's'}"


def pct(x: float | None) -> str:
    """A share as a percent: ``43%``, ``4.3%``, ``0%``."""
    if x is None:
        return "n/a"
    v = x * 100
    if abs(v) < 0.05:  # rounding noise of an interval bound (-5e-17) reads as 0, not −0.0
        return "0%"
    text = f"{v:.0f}%" if abs(v) >= 9.95 else f"{v:.1f}%"
    return text.replace("-", MINUS)


def points(x: float | None) -> str:
    """The size of a difference of shares in percentage points, unsigned: ``8.5``."""
    return "n/a" if x is None else f"{abs(x) * 100:.1f}"


def signed_points(x: float | None) -> str:
    """A difference of shares in points with its sign: ``+2.1``, ``−4.4``, ``0.0``."""
    if x is None:
        return "n/a"
    v = round(x * 100, 1)
    if v == 0:
        return "0.0"
    return f"+{v:.1f}" if v > 0 else f"{MINUS}{abs(v):.1f}"


def interval(low: float | None, high: float | None, *, direction: int = 1) -> str:
    """A difference's interval in points as read next to its phrasing.

    With ``direction=-1`` the sentence speaks of a decrease ("churned 8.5 points less"), so an
    interval wholly below zero reads as positive magnitudes (``3.2–13.7``); an interval that
    straddles zero keeps its signs (``−1.4 to +9.4``) in the direction of the phrasing.
    """
    if low is None or high is None:
        return "n/a"
    a, b = sorted((low * direction, high * direction))
    if a >= 0:
        return f"{points(a)}{DASH}{points(b)}"
    return f"{signed_points(a)} to {signed_points(b)}"


def day(d: str | date | datetime | None) -> str:
    """``3 Oct 2026`` from an ISO date string, a date or a datetime."""
    if d is None:
        return "n/a"
    if isinstance(d, str):
        d = date.fromisoformat(d[:10])
    return f"{d.day} {d.strftime('%b %Y')}"


def span(start: str | date, end: str | date) -> str:
    """``28 Sep – 11 Oct 2026`` (the year once when both ends share it)."""
    a, b = day(start), day(end)
    if a == b:
        return a
    if a.split(" ", 1)[1] == b.split(" ", 1)[1]:  # same month and year: 12–25 Oct 2026
        return f"{a.split(' ')[0]}{DASH}{b}"
    if a[-4:] == b[-4:]:
        a = a[:-5]
    return f"{a} {DASH} {b}"


def ratio(x: float | None) -> str:
    """A multiple: ``6.2×``."""
    if x is None:
        return "n/a"
    return f"{x:.0f}×" if x >= 10 else f"{x:.1f}×"


def minutes(m: float | None) -> str:
    """A duration in minutes, as hours when long: ``95 minutes``, ``5.2 hours``."""
    if m is None:
        return "n/a"
    if m >= 120:
        return f"{m / 60:.1f} hours"
    return f"{m:.0f} minutes"


_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


def period(days: int) -> str:
    """A period as it is said: ``two weeks``, ``one week``, ``10 days``."""
    if days % 7:
        return f"{days} days"
    weeks = days // 7
    return f"{_WORDS.get(weeks, str(weeks))} week{'s' if weeks != 1 else ''}"


def margin(minutes: int) -> str:
    """A timeline margin: ``an hour``, ``2 hours``, ``15 minutes``, ``90 minutes``."""
    if minutes == 60:
        return "an hour"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60} hours"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def level(confidence: float) -> str:
    """A confidence level: ``95%``, ``90%``, ``97.5%``."""
    return f"{round(confidence * 100, 2):g}%"


def join(items: list[str]) -> str:
    """``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def pct_interval(low: float | None, high: float | None) -> str:
    """An interval of shares: ``12–21%``."""
    if low is None or high is None:
        return "n/a"
    return f"{pct(low).rstrip('%')}{DASH}{pct(high)}"
