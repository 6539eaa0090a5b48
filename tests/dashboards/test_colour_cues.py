"""Series are told apart by more than colour (WCAG 1.4.1), read from the rendered Vega specs.

A data mark coloured by a field must name its categories another way: its legend shows a
shape or dashes per entry as well as the colour (the marks draw them: the browser tests in
``test_browser_a11y.py`` check that), or it has no legend and each of its categories is a row
or column of its own, named by the axis (one colour per band, none offset within it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dashboards.paths import PAGES
from tests.dashboards.pages import Page


def _data_marks(marks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in marks:
        if m.get("type") == "group":
            out += _data_marks(m.get("marks", []))
        else:
            out.append(m)
    return out


def _second_cue(legend: dict[str, Any], colour: dict[str, Any], scales: dict[str, Any]) -> bool:
    """The legend shows a shape or dash pattern of its own for every colour it shows."""
    for channel in ("shape", "strokeDash"):
        cue = scales.get(legend.get(channel, ""))
        if cue is None or cue["domain"] != colour["domain"]:
            continue
        values = [json.dumps(v) for v in cue["range"]]
        if isinstance(cue["range"], list) and len(set(values)) == len(values):
            return True
    return False


def colour_only(spec: dict[str, Any]) -> list[str]:
    """What in one chart is told apart by colour only, as ``mark: why``."""
    scales = {s["name"]: s for s in spec.get("scales", [])}
    legends = spec.get("legends", [])
    found = []
    for mark in _data_marks(spec.get("marks", [])):
        update = mark.get("encode", {}).get("update", {})
        for channel in ("fill", "stroke"):
            name = update.get(channel, {}).get("scale")
            if name is None or scales[name]["type"] != "ordinal":
                continue
            shown = [lg for lg in legends if name in (lg.get("fill"), lg.get("stroke"))]
            if shown:
                if not all(_second_cue(lg, scales[name], scales) for lg in shown):
                    found.append(f"{mark['name']}: its legend shows only colour")
                continue
            bands = [update.get(p, {}) for p in ("x", "y")]
            on_axis = any(scales.get(b.get("scale", ""), {}).get("type") == "band" for b in bands)
            offset = any(isinstance(b.get("offset"), dict) and "scale" in b["offset"] for b in bands)
            if not on_axis or offset:
                found.append(f"{mark['name']}: coloured by {update[channel].get('field')} "
                             "with no legend and no band of its own")  # fmt: skip
    return found


def test_no_chart_tells_series_apart_by_colour_only(demo_dir: Path):
    found = {}
    for slug in PAGES:
        page = Page(demo_dir / "dashboards" / f"{slug}.html")
        for chart in page.config["charts"]:
            if problems := colour_only(chart["spec"]):
                found[f"{slug}/{chart['id']}"] = problems
    assert found == {}


def test_a_legend_of_colour_swatches_only_is_found():
    """The check itself: a legend by colour alone, and colours offset within a band, fail."""
    colour = {"name": "color", "type": "ordinal", "domain": ["a", "b"], "range": ["#000", "#fff"]}
    bars = {"name": "bars", "type": "rect",
            "encode": {"update": {"fill": {"scale": "color", "field": "m"},
                                  "y": {"scale": "y", "field": "k",
                                        "offset": {"scale": "yOffset", "field": "m"}}}}}  # fmt: skip
    spec = {"scales": [colour, {"name": "y", "type": "band"}],
            "legends": [{"fill": "color"}], "marks": [bars]}  # fmt: skip
    assert colour_only(spec) == ["bars: its legend shows only colour"]
    shape = {"name": "shape", "type": "ordinal", "domain": ["a", "b"], "range": ["circle", "square"]}
    spec["scales"].append(shape)
    spec["legends"] = [{"fill": "color", "shape": "shape"}]
    assert colour_only(spec) == []
    spec["legends"] = []
    assert colour_only(spec) == ["bars: coloured by m with no legend and no band of its own"]
