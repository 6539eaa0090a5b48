"""Chart building blocks: the shared look, colour scales, and compiling Altair to Vega.

Every chart reads one named dataset, ``rows``, which the page fills with the filtered rows
(``view.data("rows", ...)``), so a spec never embeds data and one spec serves every filter
state. Specs are compiled from Vega-Lite to Vega here, with vl-convert (offline, no browser),
so the page only runs Vega and a bad spec fails the render, not the reader's browser.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import altair as alt

DATA = "rows"
VEGA_LITE_VERSION = "6.4"
HEIGHT = 230

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
BLUE, ORANGE, GREEN, RED, PURPLE, GREY, TEAL, YELLOW = (
    "#2563eb", "#c2410c", "#047857", "#dc2626", "#7c3aed", "#6b7280", "#0f766e", "#a16207",
)  # fmt: skip
"""Every colour a mark is drawn in has at least 3:1 contrast against the white card (WCAG 1.4.11):
from 4.8:1 (red, grey, yellow) to 5.7:1 (purple)."""
CATEGORIES = [BLUE, ORANGE, GREEN, PURPLE, RED, TEAL, GREY, YELLOW]
"""Colours for categories known only from the data (context kinds), in order."""

SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "wedge", "stroke"]
DASHES = [[1, 0], [7, 3], [2, 2], [9, 3, 2, 3], [4, 4], [12, 2], [1, 4], [6, 2, 2, 2, 2, 2]]
"""Point shapes and line dashes, by series position: series are told apart by more than their
colour (WCAG 1.4.1), and a legend entry shows all three."""

SEGMENTS = {
    "weekly_posters": ("Weekly posters", "#1e40af"),
    "occasional_posters": ("Occasional posters", "#b45309"),
    "reactors_only": ("Reactors only", TEAL),
    "lurkers": ("Lurkers (opened, no action)", PURPLE),
    "never_opened": ("Never opened a room", "#6b7280"),
}
"""Segment -> (label, colour), most engaged first; the reference segment is grey. Each series
chart also gives each segment its own point shape and line dashes (:func:`series`)."""

ACTIONS = {"mask": ("Masked", "#0369a1"), "shadow": ("Shadowed", PURPLE),
           "hold": ("Held for review", ORANGE), "block": ("Blocked", RED)}  # fmt: skip
"""Moderation action -> (label, colour), mildest first."""

CONFIG: dict[str, Any] = {
    "font": FONT,
    "background": "transparent",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 12, "titleFontSize": 12, "titleFontWeight": "normal",
             "titleColor": "#4b5563", "labelColor": "#374151", "gridColor": "#eef0f3",
             "domainColor": "#9ca3af", "tickColor": "#9ca3af", "labelLimit": 220},
    "legend": {"labelFontSize": 12, "titleFontSize": 12, "titleFontWeight": "normal",
               "orient": "bottom", "labelLimit": 260, "symbolStrokeWidth": 2},
    "line": {"strokeWidth": 2.2},
    "point": {"size": 60, "filled": True, "opacity": 1},  # Vega-Lite's 0.7 fades colours below 3:1
    "bar": {"cornerRadiusEnd": 2},
    "text": {"fontSize": 12, "color": "#374151"},
}  # fmt: skip


def base(height: int = HEIGHT) -> alt.Chart:
    """An empty chart over the page-filled dataset, as wide as its card."""
    data = alt.Data(name=DATA)  # type: ignore[no-untyped-call]
    return alt.Chart(data).properties(width="container", height=height)


def layered(*layers: alt.Chart, height: int = HEIGHT) -> alt.LayerChart:
    """Layers (built on ``alt.Chart()``, without data) over the page-filled dataset; transforms
    added to the result apply to every layer."""
    data = alt.Data(name=DATA)  # type: ignore[no-untyped-call]
    chart = alt.LayerChart(layer=list(layers), data=data)
    return chart.properties(width="container", height=height)


def day_x(field: str = "day", title: str | None = None) -> alt.X:
    """A UTC day on the x axis (ISO dates in the data)."""
    return alt.X(f"utcyearmonthdate({field}):T", title=title,
                 axis=alt.Axis(format="%d %b", labelAngle=0, labelOverlap=True))  # fmt: skip


def day_tip(field: str = "day", title: str = "Day") -> alt.Tooltip:
    return alt.Tooltip(f"utcyearmonthdate({field}):T", title=title, format="%a %d %b %Y")


def palette(mapping: dict[str, tuple[str, str]], field: str, title: str | None = None,
            legend: bool = True) -> alt.Color:  # fmt: skip
    """A colour encoding with fixed colours and readable labels for known categories."""
    keys = list(mapping)
    labels = _labels(mapping)
    return alt.Color(
        f"{field}:N", title=title, sort=keys,
        scale=alt.Scale(domain=keys, range=[v[1] for v in mapping.values()]),
        legend=alt.Legend(labelExpr=f"{labels}[datum.label] || datum.label", columns=3)
        if legend else None,
    )  # fmt: skip


def series(mapping: dict[str, tuple[str, str]], field: str, title: str | None = None,
           legend: bool = True) -> list[Any]:  # fmt: skip
    """Colour, point shape and line dashes for the series of ``mapping``: one legend shows all
    three, so a series is known by its shape and dashes as well as its colour."""
    keys = list(mapping)
    n = len(keys)
    if n > len(SHAPES):
        raise ValueError(f"{n} series, but only {len(SHAPES)} shapes and dash patterns")
    labels = _labels(mapping)
    common: dict[str, Any] = {
        "title": title, "sort": keys,
        "legend": alt.Legend(labelExpr=f"{labels}[datum.label] || datum.label", columns=3)
                  if legend else None,
    }  # fmt: skip
    return [
        palette(mapping, field, title, legend=legend),
        alt.Shape(f"{field}:N", scale=alt.Scale(domain=keys, range=SHAPES[:n]), **common),
        alt.StrokeDash(f"{field}:N", scale=alt.Scale(domain=keys, range=DASHES[:n]), **common),
    ]


def shape(mapping: dict[str, tuple[str, str]], field: str) -> alt.Shape:
    """A point shape per category of ``mapping`` (:data:`SHAPES`, in order), with the legend
    :func:`palette` gives it, so the two merge into one legend showing colour and shape."""
    keys = list(mapping)
    if len(keys) > len(SHAPES):
        raise ValueError(f"{len(keys)} categories, but only {len(SHAPES)} shapes")
    labels = _labels(mapping)
    return alt.Shape(f"{field}:N", sort=keys, scale=alt.Scale(domain=keys, range=SHAPES[:len(keys)]),
                     legend=alt.Legend(labelExpr=f"{labels}[datum.label] || datum.label", columns=3))  # fmt: skip


def grouped(mapping: dict[str, tuple[str, str]], field: str, value: str, y: alt.Y, x_title: str,
            tooltip: list[alt.Tooltip], before: Callable[[alt.LayerChart], alt.LayerChart],
            height: int = HEIGHT) -> alt.LayerChart:  # fmt: skip
    """Horizontal bars of ``value`` for the categories of ``mapping`` side by side within each
    ``y``, told apart by more than colour (WCAG 1.4.1): each bar ends in a point of its
    category's shape and colour, the pair its legend entry shows. The point sits just past the
    bar's end, on the card, so a bar too short to hold a symbol still has one."""
    offset = alt.YOffset(f"{field}:N", sort=list(mapping))
    bars = alt.Chart().mark_bar().encode(
        y, alt.X(f"{value}:Q", title=x_title), offset, palette(mapping, field), tooltip=tooltip)
    ends = alt.Chart().mark_point(filled=True, size=45, xOffset=6).encode(
        y, alt.X(f"{value}:Q"), offset, palette(mapping, field), shape(mapping, field),
        tooltip=tooltip)  # fmt: skip
    return before(layered(bars, ends, height=height))


PART_SHAPES = "part_shapes"
"""Name of the layer of :func:`stacked` drawing each part's shape on it."""


def stacked(mapping: dict[str, tuple[str, str]], field: str, value: str, y: alt.Y, x_title: str,
            tooltip: list[alt.Tooltip], before: Callable[[alt.LayerChart], alt.LayerChart],
            height: int = HEIGHT) -> alt.LayerChart:  # fmt: skip
    """Horizontal bars of ``value`` stacked by the parts of ``mapping`` (rows per ``y`` and
    ``field``, after the transforms ``before`` adds), told apart by more than colour (WCAG
    1.4.1): in every part at least 4% of the widest bar long, a white symbol of the part's shape
    (:data:`SHAPES`), the one its legend entry shows. White has at least 4.5:1 against every
    colour here. A part too short for its symbol is named by its tooltip and the data table."""
    keys = list(mapping)
    n = len(keys)
    if n > len(SHAPES):
        raise ValueError(f"{n} parts, but only {len(SHAPES)} shapes")
    bars = alt.Chart().mark_bar().encode(
        y, alt.X("part_start:Q", title=x_title), alt.X2("part_end:Q"), palette(mapping, field),
        tooltip=tooltip)  # fmt: skip
    symbols = (alt.Chart().mark_point(filled=True, color="#ffffff", size=50)
               .encode(y, alt.X("part_mid:Q"), shape(mapping, field), tooltip=tooltip)
               .transform_filter("datum.part_end - datum.part_start >= 0.04 * datum.part_widest")
               .properties(name=PART_SHAPES))  # fmt: skip
    encoded = y.to_dict()
    assert isinstance(encoded, dict), encoded  # one channel encodes as one mapping
    y_field = str(encoded["field"])
    return (before(layered(bars, symbols, height=height))
            .transform_calculate(part_order=order_expr(keys, field))
            .transform_stack(stack=value, groupby=[y_field], sort=[alt.SortField("part_order")],
                             as_=["part_start", "part_end"])
            .transform_joinaggregate(part_widest="max(part_end)")
            .transform_calculate(part_mid="(datum.part_start + datum.part_end) / 2"))  # fmt: skip


def order_expr(keys: list[str], field: str) -> str:
    """A Vega expression giving a category's position in ``keys`` (for stacking order)."""
    return f"indexof({json.dumps(keys)}, datum.{field})"


def label_expr(mapping: dict[str, tuple[str, str]], field: str) -> str:
    """A Vega expression mapping a category field to its readable label."""
    return f"{_labels(mapping)}[datum.{field}] || datum.{field}"


def _labels(mapping: dict[str, tuple[str, str]]) -> str:
    # JSON is a valid Vega expression literal, and it quotes apostrophes in labels safely.
    return json.dumps({k: v[0] for k, v in mapping.items()})


def vega_lite(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The Vega-Lite spec of ``chart`` with the shared look (validated by Altair)."""
    spec: dict[str, Any] = chart.to_dict()
    spec["config"] = {**CONFIG, **spec.get("config", {})}
    spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    return spec


def compile_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The Vega spec of ``chart`` with the shared look; raises on an invalid spec."""
    import vl_convert

    vega: dict[str, Any] = vl_convert.vegalite_to_vega(vega_lite(chart), vl_version=VEGA_LITE_VERSION)
    for legend in vega.get("legends", []):
        if isinstance(legend.get("columns"), int) and legend["columns"] > 1:
            # One entry a row where a row of them would be wider than the chart (a phone): the
            # SVG is as wide as its card and cuts off whatever lies past its edge.
            legend["columns"] = {"signal": f"width < {NARROW} ? 1 : {legend['columns']}"}
    return vega


NARROW = 480
"""Plot width in pixels below which a legend lists its entries one a row."""
