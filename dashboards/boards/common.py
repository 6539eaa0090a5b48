"""Helpers shared by the dashboard definitions: sums over rows, empty-state sentences."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dashboards.model import ALL_KINDS, State
from dashboards.sources import Row

NO_ROWS = "No data for this selection: nothing in the chosen date range"


def total(rows: Iterable[Row], field: str) -> float:
    """Sum of ``field`` over ``rows`` (nulls count as 0)."""
    return sum(r.get(field) or 0 for r in rows)


def share(part: float, whole: float) -> float | None:
    """``part / whole``, or None when ``whole`` is 0."""
    return part / whole if whole else None


def top(rows: Iterable[Row], field: str) -> Row | None:
    """The row with the largest ``field`` (the first of ties), or None without rows."""
    best: Row | None = None
    for r in rows:
        if r.get(field) is not None and (best is None or r[field] > best[field]):
            best = r
    return best


def latest(rows: list[Row], field: str) -> Row | None:
    """The row with the latest ``field`` value."""
    dated = [r for r in rows if r.get(field) is not None]
    return max(dated, key=lambda r: str(r[field])) if dated else None


def last_full(rows: list[Row], field: str, today: str) -> tuple[Row | None, Row | None]:
    """The row of the latest day that is over (``field`` before ``today``, an ISO date), and
    today's row when there is one: a day still in progress, whose counts are only so far."""
    over = [r for r in rows if r.get(field) is not None and str(r[field])[:10] < today]
    now = [r for r in rows if r.get(field) is not None and str(r[field])[:10] == today]
    return (latest(over, field) if over else latest(now, field)), (now[0] if over and now else None)


def empty(state: State, what: str = "") -> str:
    """The sentence for a chart without rows under ``state``."""
    kind = f" for {state.kind} contexts" if state.kind != ALL_KINDS else ""
    return f"{NO_ROWS}{kind}{' ' + what if what else ''}."


def missing(report: str) -> str:
    """What a card says when the report it needs has not been computed."""
    return (f"The {report} report has not been computed yet: run `sideline jobs run {report}` "
            "(the service also runs it on its schedule).")  # fmt: skip


def kind_label(kind: str, plural: bool = True) -> str:
    """``match`` -> ``matches``; ``*`` -> ``all contexts``."""
    if kind == ALL_KINDS:
        return "all contexts"
    if not plural:
        return kind
    return kind + ("es" if kind.endswith(("ch", "sh", "s", "x")) else "s")


def settings_of(rows: Iterable[Row], field: str) -> list[Any]:
    """The distinct values of a setting column the report rows were computed with, sorted
    (rows written before the column existed have none)."""
    return sorted({r[field] for r in rows if r.get(field) is not None})


def one_of(values: list[Any], say: Callable[[Any], str], unknown: str) -> str:
    """A setting as a sentence states it: its one value, the values found when the rows were
    computed with different settings, or ``unknown`` when no row records it."""
    if not values:
        return unknown
    if len(values) == 1:
        return say(values[0])
    return f"{join([say(v) for v in values], 'or')}, depending on when each was computed"


def join(items: list[str], word: str = "and") -> str:
    """``a, b and c`` (or ``a, b or c``)."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def pick(row: Row | None, *fields: str) -> tuple[Any, ...]:
    """Several fields of ``row`` at once (Nones when the row is missing)."""
    return tuple(row.get(f) if row else None for f in fields)
