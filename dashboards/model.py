"""What a dashboard is made of, and the one filter rule both Python and the page apply.

A dashboard has datasets (report rows embedded in the page), date ranges and context kinds
to filter by, and parts: charts (a Vega-Lite spec over one dataset), tiles, tables. Every part
carries text generated from the data for *every* filter state, keyed ``"<range>|<kind>"``
(``*`` for all kinds), so the page only switches between sentences the Python code computed
from exactly the rows the chart then draws (:func:`select` here, ``select`` in
``static/dashboard.js``). A part may fold the selected rows into one row per item
(:class:`Rollup`): per-day rows of a context summed over the days in the range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dashboards.sources import Row

ALL_KINDS = "*"


@dataclass(frozen=True, slots=True)
class Range:
    """A date range offered by the filter: ``start <= date <= end`` on ISO dates."""

    key: str
    label: str
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class State:
    """One filter state: a range and a kind (``*`` = all kinds)."""

    range: Range
    kind: str = ALL_KINDS

    @property
    def key(self) -> str:
        return f"{self.range.key}|{self.kind}"


@dataclass(frozen=True, slots=True)
class Rollup:
    """Fold the selected rows into one row per ``key``: the row of ``attrs`` (a dataset with one
    row per key) with each of ``sums`` replaced by its sum over the selected rows, and each of
    ``ratios`` (name -> numerator, denominator) computed from those sums (null unless the
    denominator is positive). Rows whose key ``attrs`` lacks are left out."""

    key: str
    attrs: str
    sums: tuple[str, ...]
    ratios: dict[str, tuple[str, str]] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        return {"key": self.key, "attrs": self.attrs, "sums": list(self.sums),
                "ratios": {k: list(v) for k, v in self.ratios.items()}}  # fmt: skip


@dataclass(slots=True)
class Part:
    """What every chart, tile and table shares: which rows it shows under a filter state."""

    id: str
    dataset: str
    date_field: str | None = None
    """Field compared with the date range (ISO date or datetime); None: range not applied."""
    kind_field: str | None = None
    """Field compared with the kind filter; None: kind not applied."""
    pick: str | None = None
    """``latest``: keep only the rows of the latest ``date_field`` value left after filtering."""
    where: dict[str, Any] = field(default_factory=dict)
    """Fixed equality filters (e.g. ``{"signup_week": None}`` drops the total row)."""
    rollup: Rollup | None = None
    """Fold the selected rows into one row per item (see :class:`Rollup`)."""
    text: Callable[[list[Row], State], str] | None = None
    """Sentence (chart), value (tile) or caption (table) for the rows of a state."""
    texts: dict[str, str] = field(default_factory=dict)
    """``text`` evaluated for every state; filled by :func:`evaluate`."""

    def config(self) -> dict[str, Any]:
        return {
            "id": self.id, "dataset": self.dataset, "date_field": self.date_field,
            "kind_field": self.kind_field, "pick": self.pick, "where": self.where,
            "rollup": self.rollup.config() if self.rollup else None, "texts": self.texts,
        }  # fmt: skip


@dataclass(slots=True)
class Chart(Part):
    """A chart card: title, unit line, one finding sentence per state, a Vega-Lite spec."""

    title: str = ""
    unit: str = ""
    """What the axes measure, e.g. "people per day (UTC)"."""
    source: str = ""
    """Reports the chart is computed from, shown under it."""
    spec: dict[str, Any] = field(default_factory=dict)
    wide: bool = False
    note: str = ""
    """A line for the reader, e.g. that the date filter does not apply."""
    detail: str | None = None
    """Name of a keyed detail dataset: rows come from the selected item (drill-down)."""
    missing: str | None = None
    """Set when a report the chart needs has not been computed: the card says this instead."""

    def config(self) -> dict[str, Any]:
        return {**Part.config(self), "spec": self.spec, "detail": self.detail,
                "missing": self.missing}  # fmt: skip


@dataclass(slots=True)
class Tile(Part):
    """A headline number; ``text`` gives its value for each state."""

    label: str = ""
    hint: str = ""
    source: str = ""
    """The report its value is computed from."""


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: field, header, format (``int``, ``pct``, ``dec1``, ``dec2``, ``text``,
    ``datetime``)."""

    field: str
    label: str
    format: str = "int"


@dataclass(slots=True)
class Table(Part):
    """A sortable table; ``text`` is its caption for each state."""

    title: str = ""
    source: str = ""
    """Reports the table is computed from (``engagement_daily, engagement``)."""
    columns: list[Column] = field(default_factory=list)
    sort: str = ""
    key_field: str = ""
    """Field identifying a row, used to select it for a drill-down."""
    page_size: int = 100

    def config(self) -> dict[str, Any]:
        return {
            **Part.config(self),
            "columns": [{"field": c.field, "label": c.label, "format": c.format}
                        for c in self.columns],
            "sort": self.sort, "key_field": self.key_field, "page_size": self.page_size,
        }  # fmt: skip


@dataclass(slots=True)
class Dashboard:
    """One page."""

    slug: str
    title: str
    intro: str
    ranges: list[Range]
    kinds: list[str] | None
    """Context kinds offered by the kind filter; None hides the filter."""
    datasets: dict[str, list[Row]] = field(default_factory=dict)
    details: dict[str, dict[str, list[Row]]] = field(default_factory=dict)
    """Keyed datasets for drill-downs (e.g. a timeline per context id)."""
    detail_texts: dict[str, dict[str, str]] = field(default_factory=dict)
    """Sentence per item of a keyed dataset, by chart id."""
    detail_signals: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Vega signal values per item, by chart id, set when the item is drawn (the drill-down's
    ``unit``, which its axis title and labels read)."""
    tiles: list[Tile] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def states(self) -> Iterator[State]:
        kinds = [ALL_KINDS, *(self.kinds or [])]
        for r in self.ranges:
            for k in kinds:
                yield State(r, k)


def select(
    rows: list[Row], part: Part, state: State, datasets: dict[str, list[Row]] | None = None
) -> list[Row]:
    """The rows ``part`` shows under ``state`` (mirrored by ``select`` in dashboard.js);
    ``datasets`` holds the ``attrs`` dataset of a part with a :class:`Rollup`."""
    out = [r for r in rows if all(r.get(k) == v for k, v in part.where.items())]
    if part.date_field is not None:
        lo, hi = state.range.start, state.range.end
        out = [r for r in out if r.get(part.date_field) is not None
               and lo <= str(r[part.date_field])[:10] <= hi]  # fmt: skip
    if part.kind_field is not None and state.kind != ALL_KINDS:
        out = [r for r in out if r.get(part.kind_field) == state.kind]
    if part.pick == "latest" and part.date_field is not None and out:
        latest = max(str(r[part.date_field]) for r in out)
        out = [r for r in out if str(r[part.date_field]) == latest]
    if part.rollup is not None:
        out = fold(out, part.rollup, (datasets or {}).get(part.rollup.attrs, []))
    return out


def fold(rows: list[Row], rollup: Rollup, attrs: list[Row]) -> list[Row]:
    """``rows`` folded into one row per ``rollup.key``, in order of first appearance."""
    index: dict[Any, Row] = {}
    for r in attrs:
        index.setdefault(r.get(rollup.key), r)
    out: dict[Any, Row] = {}
    for r in rows:
        key = r.get(rollup.key)
        if key not in index:
            continue
        if key not in out:
            out[key] = {**index[key], **dict.fromkeys(rollup.sums, 0)}
        for f in rollup.sums:
            out[key][f] += r.get(f) or 0
    for o in out.values():
        for name, (num, den) in rollup.ratios.items():
            o[name] = o[num] / o[den] if (o.get(den) or 0) > 0 else None
    return list(out.values())


def evaluate(board: Dashboard) -> None:
    """Fill every part's ``texts`` for every filter state of ``board``."""
    for part in [*board.tiles, *board.charts, *board.tables]:
        if part.text is None or getattr(part, "missing", None):
            continue
        rows = board.datasets.get(part.dataset, [])
        for state in board.states():
            if state.kind != ALL_KINDS and part.kind_field is None:
                continue  # the page looks such parts up under "*"
            part.texts[state.key] = part.text(select(rows, part, state, board.datasets), state)
