"""Accessibility of the served dashboards (WCAG 2.2 AA) in headless Chromium.

One real service process and one signed-in browser context for the module. What a screen
reader gets is read from Chromium's own accessibility tree (CDP ``Accessibility``), colours
and focus from computed styles; contrast ratios are computed here (WCAG relative luminance).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards.paths import PAGES
from tests.conftest import SERVER_ENV
from tests.dashboards.pages import number
from tests.dashboards.test_browser import browser  # noqa: F401  (the module's Chromium)
from tests.fixtures.server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("a11y") / "data"
    shutil.copytree(demo_dir / "warehouse" / "reports", data / "warehouse" / "reports")
    proc = ServerProcess(data, env=SERVER_ENV).start()
    try:
        yield proc
    finally:
        proc.stop()
        proc.kill()


@pytest.fixture(scope="module")
def context(browser: Any, server: ServerProcess) -> Iterator[Any]:  # noqa: F811
    """A browser context signed in to the dashboards (the session cookie is shared)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.goto(f"{server.url}/dashboards/overview.html")
    page.fill("#key", server.settings().dashboards.access_key)
    # The first page after signing in waits for the service to render every dashboard.
    page.click("button[type=submit]", timeout=180_000)
    page.wait_for_selector("body[data-ready='1']", timeout=180_000)
    page.close()
    yield ctx
    ctx.close()


class Dash:
    """One dashboard page of the signed-in context, with its page errors recorded."""

    def __init__(self, context: Any, server: ServerProcess, slug: str, width: int = 1280,
                 height: int = 800, hash: str = "") -> None:  # fmt: skip
        self.page = context.new_page()
        self.page.set_viewport_size({"width": width, "height": height})
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.goto(f"{server.url}/dashboards/{slug}.html{hash}")
        self.ready()

    def ready(self, state: str | None = None) -> None:
        selector = "body[data-ready='1']" + (f"[data-state^='{state}']" if state else "")
        self.page.wait_for_selector(selector, timeout=20_000)

    def ax(self) -> list[dict[str, Any]]:
        """The unignored nodes of Chromium's accessibility tree, flattened."""
        session = self.page.context.new_cdp_session(self.page)
        try:
            nodes = session.send("Accessibility.getFullAXTree")["nodes"]
        finally:
            session.detach()
        out = []
        for n in nodes:
            if n.get("ignored"):
                continue
            props = {p["name"]: p["value"].get("value") for p in n.get("properties", [])}
            out.append({"role": n.get("role", {}).get("value"),
                        "name": (n.get("name", {}).get("value") or "").strip(),
                        "description": (n.get("description", {}).get("value") or "").strip(),
                        **props})  # fmt: skip
        return out

    def active(self) -> dict[str, Any]:
        return self.page.evaluate("""() => { const a = document.activeElement;
            return {tag: a.tagName, field: a.dataset.field || null, text: a.textContent,
                    key: (a.closest('tr') || {dataset: {}}).dataset.key || null,
                    inHeader: !!a.closest('thead')}; }""")  # fmt: skip

    def close(self) -> None:
        assert self.errors == []
        self.page.close()


# -- colour ----------------------------------------------------------------------------------


def rgb(text: str) -> tuple[float, float, float, float]:
    """``#rrggbb`` / ``#rgb`` / ``rgb(a)(...)`` as (r, g, b, alpha)."""
    text = text.strip().lower()
    if text.startswith("#"):
        h = text[1:]
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 1.0)
    m = re.match(r"rgba?\(([^)]+)\)", text)
    assert m, f"not a colour: {text}"
    v = [float(x) for x in m.group(1).replace("/", ",").split(",")]
    return (v[0], v[1], v[2], v[3] if len(v) > 3 else 1.0)


def over(top: tuple[float, ...], bottom: tuple[float, ...], alpha: float = 1.0) -> tuple[float, ...]:
    a = top[3] * alpha
    return (*(top[i] * a + bottom[i] * (1 - a) for i in range(3)), 1.0)


def luminance(c: tuple[float, ...]) -> float:
    def ch(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * ch(c[0]) + 0.7152 * ch(c[1]) + 0.0722 * ch(c[2])


def contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


WHITE = (255.0, 255.0, 255.0, 1.0)

TEXT_COLOURS = """(els) => els.filter(e => e.offsetParent !== null && e.textContent.trim()).map(e => {
  const chain = []; for (let n = e; n && n.nodeType === 1; n = n.parentElement)
    chain.push(getComputedStyle(n).backgroundColor);
  return {text: e.textContent.trim().slice(0, 40), color: getComputedStyle(e).color, chain};
})"""


def text_contrast(dash: Dash, selector: str) -> list[tuple[str, float]]:
    """(text, contrast) of the visible elements of ``selector`` against their backdrop."""
    out = []
    for el in dash.page.eval_on_selector_all(selector, TEXT_COLOURS):
        bg: tuple[float, ...] = WHITE
        for layer in reversed(el["chain"]):
            bg = over(rgb(layer), bg)
        out.append((el["text"], contrast(over(rgb(el["color"]), bg), bg)))
    return out


# -- 12: charts keep a text alternative, a description and a data table ----------------------


def test_charts_keep_their_name_description_and_a_data_table(context, server):
    for slug in PAGES:
        dash = Dash(context, server, slug)
        nodes = dash.ax()
        assert [n for n in nodes if n["name"] == "Vega visualization"] == [], slug
        assert [n for n in nodes if n["role"] == "graphics-document"] == [], slug
        cards = dash.page.eval_on_selector_all(
            "article.card[id^='chart-']:has(.vis svg)",
            "els => els.map(a => ({id: a.id, title: a.querySelector('h2').textContent,"
            " finding: a.querySelector('.finding').textContent}))")  # fmt: skip
        assert cards, slug
        for card in cards:
            title = " ".join(card["title"].split())
            images = [n for n in nodes if n["role"] == "image" and n["name"] == title]
            assert len(images) == 1, (slug, card["id"], title)
            assert images[0]["description"] == card["finding"].strip(), (slug, card["id"])
            # The numbers behind the chart, as a table under it.
            details = dash.page.locator(f"#{card['id']} details.data-table")
            assert details.count() == 1, (slug, card["id"])
            details.locator("summary").click()
            table = details.locator("table")
            table.locator("tbody tr").first.wait_for(timeout=5_000)
            assert table.locator("thead th").count() >= 2
            assert table.locator("tbody tr").count() >= 1
        tables = [n for n in dash.ax() if n["role"] == "table"]
        assert tables and all(n["name"] for n in tables), (slug, tables)
        dash.close()


def test_the_data_table_holds_the_numbers_the_chart_draws(context, server):
    """Messages per day: one row a day, and the days add up to the sentence's total."""
    dash = Dash(context, server, "overview", hash="#range=7d")
    dash.ready("7d|*")
    card = dash.page.locator("#chart-messages")
    card.locator("details.data-table summary").click()
    card.locator("details.data-table thead th").first.wait_for(timeout=5_000)  # built on toggle
    heads = card.locator("details.data-table thead th").all_inner_texts()
    assert heads == ["Day", "Messages"], heads
    rows = card.locator("details.data-table tbody tr")
    assert rows.count() == 7
    counts = [number(t) for t in rows.locator("td:nth-child(2)").all_inner_texts()]
    finding = card.locator(".finding").inner_text()
    assert sum(counts) == number(re.match(r"([\d,]+) messages", finding).group(1))
    # A filter redraws the open table.
    dash.page.select_option("#f-range", "all")
    dash.ready("all|*")
    rows.nth(7).wait_for(timeout=5_000)  # an eighth day: more than the 7-day range had
    assert rows.count() > 7
    dash.close()


# -- 13, 14, 15: the ranking table by keyboard -----------------------------------------------


def outline(dash: Dash) -> dict[str, Any]:
    return dash.page.evaluate("""() => { const a = document.activeElement, cs = getComputedStyle(a);
        const chain = []; for (let n = a; n && n.nodeType === 1; n = n.parentElement)
          chain.push(getComputedStyle(n).backgroundColor);
        return {style: cs.outlineStyle, width: parseFloat(cs.outlineWidth), color: cs.outlineColor,
                visible: a.matches(':focus-visible'), chain}; }""")  # fmt: skip


def backdrop(chain: list[str]) -> tuple[float, ...]:
    bg: tuple[float, ...] = WHITE
    for layer in reversed(chain):
        bg = over(rgb(layer), bg)
    return bg


def test_sort_buttons_show_where_the_keyboard_is(context, server):
    dash = Dash(context, server, "events")
    dash.page.locator("#table-ranking th button").nth(1).focus()
    dash.page.keyboard.press("Shift+Tab")
    dash.page.keyboard.press("Tab")
    ring = outline(dash)
    assert ring["visible"] and dash.active()["field"] == "kind"
    assert ring["style"] not in ("none", "") and ring["width"] >= 2, ring
    assert contrast(rgb(ring["color"]), backdrop(ring["chain"])) >= 3, ring
    dash.close()


def test_focus_stays_on_the_control_after_the_table_is_redrawn(context, server):
    dash = Dash(context, server, "events")
    button = dash.page.locator("#table-ranking th button[data-field='messages']")
    button.focus()
    dash.page.keyboard.press("Enter")
    dash.ready("all|*")
    assert dash.page.get_attribute("#table-ranking th:nth-child(7)", "aria-sort") == "descending"
    active = dash.active()
    assert active["field"] == "messages" and active["inHeader"], active
    dash.page.keyboard.press("Enter")  # again, from where focus is: ascending
    dash.ready("all|*")
    assert dash.page.get_attribute("#table-ranking th:nth-child(7)", "aria-sort") == "ascending"
    assert dash.active()["field"] == "messages"
    # The drill-down control of a row keeps focus too.
    row = dash.page.locator("#table-ranking tbody tr").nth(4)
    key = row.get_attribute("data-key")
    row.locator("button").first.focus()
    dash.page.keyboard.press("Enter")
    dash.ready(f"all|*|{key}")
    active = dash.active()
    assert active["tag"] == "BUTTON" and active["key"] == key, active
    dash.close()


def test_drill_down_rows_are_buttons_that_say_which_is_selected(context, server):
    dash = Dash(context, server, "events", height=700)
    page = dash.page
    rows = page.locator("#table-ranking tbody tr")
    first_key = rows.first.get_attribute("data-key")
    assert page.get_attribute(f"#table-ranking tr[data-key='{first_key}'] td:first-child button",
                              "aria-pressed") == "true"  # fmt: skip
    assert rows.nth(1).locator("td:first-child button").get_attribute("aria-pressed") == "false"
    assert page.eval_on_selector_all("#table-ranking tbody tr[tabindex]", "e => e.length") == 0
    # Space selects, and does not scroll the page.
    target = rows.nth(2)
    key = target.get_attribute("data-key")
    title = target.locator("td:first-child").inner_text()
    target.locator("button").focus()
    scrolled = page.evaluate("scrollY")
    page.keyboard.press("Space")
    dash.ready(f"all|*|{key}")
    assert page.evaluate("scrollY") == scrolled
    pressed = [n for n in dash.ax() if n["role"] == "button" and n.get("pressed") == "true"
               and n["name"] == title]  # fmt: skip
    assert len(pressed) == 1, title
    assert rows.first.locator("button").get_attribute("aria-pressed") == "false"
    # Enter selects as well.
    other = rows.nth(5)
    other_key = other.get_attribute("data-key")
    other.locator("button").focus()
    page.keyboard.press("Enter")
    dash.ready(f"all|*|{other_key}")
    # The selection is shown by more than a background colour: an outline with 3:1 contrast.
    cue = page.eval_on_selector("#table-ranking tr.selected", """e => { const cs = getComputedStyle(e);
        const chain = []; for (let n = e; n && n.nodeType === 1; n = n.parentElement)
          chain.push(getComputedStyle(n).backgroundColor);
        return {style: cs.outlineStyle, width: parseFloat(cs.outlineWidth), color: cs.outlineColor,
                key: e.dataset.key, chain}; }""")  # fmt: skip
    assert cue["key"] == other_key
    assert cue["style"] == "solid" and cue["width"] >= 2, cue
    row_bg = backdrop(cue["chain"])
    assert contrast(rgb(cue["color"]), row_bg) >= 3 and contrast(rgb(cue["color"]), WHITE) >= 3, cue
    dash.close()


# -- 16, 17: the sticky header ---------------------------------------------------------------


def test_the_sticky_header_never_hides_the_focused_control(context, server):
    dash = Dash(context, server, "events", height=600)
    page = dash.page
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.locator("footer").click(position={"x": 2, "y": 2})
    hidden = []
    for _ in range(80):
        page.keyboard.press("Shift+Tab")
        r = page.evaluate("""() => { const a = document.activeElement, r = a.getBoundingClientRect();
            const h = document.querySelector('header.top').getBoundingClientRect();
            return {text: a.textContent.trim().slice(0, 30), top: r.top, bottom: r.bottom,
                    header: h.bottom, inHeader: !!a.closest('header')}; }""")  # fmt: skip
        if r["inHeader"]:
            break
        if r["top"] < r["header"] - 1:
            hidden.append(r)
    assert hidden == []
    dash.close()


@pytest.mark.parametrize("width", [320, 640])
def test_the_header_and_filters_reflow_on_a_narrow_screen(context, server, width: int):
    """320 px wide (and 1280 px at 200% zoom): no horizontal scrolling for the page, every
    navigation link, "Sign out" and the filters inside the viewport."""
    for slug in ("overview", "events"):
        dash = Dash(context, server, slug, width=width, height=640)
        m = dash.page.evaluate("""() => {
            const box = (e) => { const r = e.getBoundingClientRect();
              return {text: (e.textContent || e.id).trim().slice(0, 20), left: r.left, right: r.right}; };
            const els = [...document.querySelectorAll('header.top nav a, header.top form button, .filters select')]
              .filter(e => e.offsetParent !== null);
            return {doc: document.documentElement.scrollWidth, width: innerWidth, boxes: els.map(box)}; }""")  # fmt: skip
        assert m["doc"] <= m["width"], (slug, m["doc"])
        assert len(m["boxes"]) == len(PAGES) + 3  # links, "Sign out", range and kind
        outside = [b for b in m["boxes"] if b["left"] < 0 or b["right"] > m["width"] + 0.5]
        assert outside == [], (slug, outside)
        dash.close()


# -- 18: chart colours and a second cue for series --------------------------------------------

MARK_COLOURS = """(els) => els.map(e => {
  const cs = getComputedStyle(e), op = parseFloat(e.getAttribute('opacity') ?? '1');
  const paint = (p, a) => { const v = e.getAttribute(p); return v && v !== 'none' && v !== 'transparent'
      && !v.startsWith('url') ? [v, op * parseFloat(e.getAttribute(a) ?? '1')] : null; };
  return {chart: e.closest('article').id, fill: paint('fill', 'fill-opacity'),
          stroke: paint('stroke', 'stroke-opacity')}; })"""


def test_chart_colours_stand_out_from_the_card(context, server):
    """Every data mark (3:1 against the white card, opacity included), but the symbols drawn
    on stacked bars' parts (3:1 against the part: test_stacked_parts_differ_by_more_than_colour)."""
    faint = []
    on_card = ":is(.role-mark:not(.part_shapes_marks))"
    for slug in PAGES:
        dash = Dash(context, server, slug)
        marks = dash.page.eval_on_selector_all(
            ", ".join(f".vis svg {on_card} {e}" for e in ("path", "line", "rect", "text")), MARK_COLOURS)
        assert marks
        for m in marks:
            for paint in (m["fill"], m["stroke"]):
                if paint and contrast(over(rgb(paint[0]), WHITE, paint[1]), WHITE) < 3:
                    faint.append((slug, m["chart"], tuple(paint)))
        dash.close()
    assert sorted(set(faint)) == []


SERIES = """(card) => {
  const lines = [...card.querySelectorAll('.vis svg g.mark-line.role-mark path')];
  const symbols = [...card.querySelectorAll('.vis svg g.mark-symbol.role-mark path')];
  return {lines: lines.length, strokes: [...new Set(lines.map(e => e.getAttribute('stroke')))],
          dashes: [...new Set(lines.map(e => e.getAttribute('stroke-dasharray') || 'solid'))],
          shapes: [...new Set(symbols.map(e => e.getAttribute('d')))]}; }"""


@pytest.mark.parametrize(("slug", "chart", "series"), [
    ("overview", "active", 3), ("overview", "posting", 2), ("churn", "curve", 5),
    ("moderation", "actions", 4), ("moderation", "review", 2), ("journey", "time", 2),
])  # fmt: skip
def test_series_differ_by_more_than_colour(context, server, slug: str, chart: str, series: int):
    """Each series of a multi-series chart has its own line dashes and point shapes."""
    dash = Dash(context, server, slug)
    s = dash.page.eval_on_selector(f"#chart-{chart}", SERIES)
    assert len(s["strokes"]) == series, s
    assert len(s["dashes"]) == series and len(s["shapes"]) == series, s
    dash.close()


# Which part of a stacked bar each symbol sits in (the bar segment under its centre), its fill
# and shape, and the shapes the legend shows.
PARTS = """(card) => {
  const form = (e) => e.getAttribute('d').replace(/[-\\d.,e]+/g, '');  // its commands: the shape at any size
  const bars = [...card.querySelectorAll('.vis svg g.mark-rect.role-mark path')].map((e) => ({
    fill: e.getAttribute('fill'), box: e.getBoundingClientRect()}));
  const symbols = [...card.querySelectorAll('.vis svg g.mark-symbol.role-mark path')].map((e) => {
    const r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
    const bar = bars.find((b) => b.box.left <= x && x <= b.box.right && b.box.top <= y && y <= b.box.bottom);
    return {shape: form(e), fill: e.getAttribute('fill'), on: bar ? bar.fill : null}; });
  const legend = [...card.querySelectorAll('.vis svg .role-legend-symbol path')].map(form);
  return {parts: [...new Set(bars.map((b) => b.fill))], symbols, legend: [...new Set(legend)]}; }"""


@pytest.mark.parametrize(("slug", "chart"), [("events", "top"), ("moderation", "checks")])
def test_stacked_parts_differ_by_more_than_colour(context, server, slug: str, chart: str):
    """Each part of a stacked bar carries a symbol of its own shape, the one its legend entry
    shows, drawn with 3:1 against the part's colour (WCAG 1.4.1, 1.4.11)."""
    dash = Dash(context, server, slug)
    got = dash.page.eval_on_selector(f"#chart-{chart}", PARTS)
    assert len(got["parts"]) >= 2, got["parts"]
    shapes: dict[str, set[str]] = {}
    for s in got["symbols"]:
        assert s["on"], f"a symbol outside the bars: {s}"
        shapes.setdefault(s["on"], set()).add(s["shape"])
        assert contrast(rgb(s["fill"]), rgb(s["on"])) >= 3, s
    assert set(shapes) == set(got["parts"]), f"parts without a symbol: {set(got['parts']) - set(shapes)}"
    assert_one_shape_each(shapes, got["legend"], "part")
    dash.close()


def assert_one_shape_each(shapes: dict[str, set[str]], legend: list[str], what: str) -> None:
    """Each colour's marks have one shape, no two colours share one, and the legend shows them."""
    assert all(len(v) == 1 for v in shapes.values()), shapes
    one_each = [next(iter(v)) for v in shapes.values()]
    assert len(set(one_each)) == len(one_each), f"two {what}s share a shape"
    assert set(one_each) <= set(legend), f"the legend shows each {what}'s shape"


# Each bar of a grouped bar chart, and the symbol just past its end (at its vertical centre).
ENDS = """(card) => {
  const form = (e) => e.getAttribute('d').replace(/[-\\d.,e]+/g, '');
  const symbols = [...card.querySelectorAll('.vis svg g.mark-symbol.role-mark path')].map((e) => ({
    shape: form(e), fill: e.getAttribute('fill'), box: e.getBoundingClientRect()}));
  const bars = [...card.querySelectorAll('.vis svg g.mark-rect.role-mark path')].map((e) => {
    const r = e.getBoundingClientRect(), y = r.top + r.height / 2;
    const end = symbols.find((s) => s.box.top <= y && y <= s.box.bottom
                                  && s.box.left >= r.right - 1 && s.box.left <= r.right + 12);
    return {fill: e.getAttribute('fill'), end: end ? {shape: end.shape, fill: end.fill} : null}; });
  const legend = [...card.querySelectorAll('.vis svg .role-legend-symbol path')].map(form);
  return {bars, legend: [...new Set(legend)]}; }"""


def test_grouped_bars_differ_by_more_than_colour(context, server):
    """Each bar of *Engagement by kind of context* ends in a point of its measure's shape and
    colour, the pair its legend entry shows (WCAG 1.4.1)."""
    dash = Dash(context, server, "overview")
    got = dash.page.eval_on_selector("#chart-kinds", ENDS)
    assert len({b["fill"] for b in got["bars"]}) == 3, got["bars"]
    shapes: dict[str, set[str]] = {}
    for bar in got["bars"]:
        assert bar["end"] and bar["end"]["fill"] == bar["fill"], f"a bar without its end: {bar}"
        shapes.setdefault(bar["fill"], set()).add(bar["end"]["shape"])
    assert_one_shape_each(shapes, got["legend"], "measure")
    dash.close()


# The parts of the drill-down's stacked bars by fill, with their widths, and the legend's swatches.
WIDTHS = """(card) => {
  const widths = {};
  for (const e of card.querySelectorAll('.vis svg g.mark-rect.role-mark path')) {
    const f = e.getAttribute('fill');
    (widths[f] = widths[f] || []).push(e.getBoundingClientRect().width); }
  const legend = [...card.querySelectorAll('.vis svg .role-legend-symbol path')].map((e) => {
    const r = e.getBoundingClientRect();
    return {fill: e.getAttribute('fill'), ratio: r.width / r.height}; });
  return {widths, legend}; }"""


def test_timeline_parts_differ_by_more_than_colour(context, server):
    """The drill-down's reactions are drawn half as wide as its messages, centred on them, and
    the legend's swatches have the same proportions (WCAG 1.4.1): at any bar width, where a
    symbol inside would not fit."""
    dash = Dash(context, server, "events")
    got = dash.page.eval_on_selector("#chart-timeline", WIDTHS)
    messages, reactions = (got["widths"].get(c) for c in ("#2563eb", "#c2410c"))
    assert messages and reactions, got["widths"]
    assert max(reactions) < 0.6 * min(messages), got["widths"]
    legend = {s["fill"]: s["ratio"] for s in got["legend"]}
    assert legend["#2563eb"] > 0.9 and legend["#c2410c"] < 0.6, legend
    dash.close()


# -- 19, 20: faint text, table names ---------------------------------------------------------


def test_small_grey_text_reaches_4_5_to_1(context, server):
    dash = Dash(context, server, "overview")
    low = [(sel, t, round(r, 2)) for sel in (".freshness", ".asof", "footer", ".tile .hint", ".card .meta")
           for t, r in text_contrast(dash, sel) if r < 4.5]  # fmt: skip
    assert low == []
    dash.close()


def test_tables_are_named_by_their_headings(context, server):
    for slug, table, name in (("events", "#table-ranking table", None),
                              ("overview", "#sinks table", "Event delivery to analytics tools")):  # fmt: skip
        dash = Dash(context, server, slug)
        heading = dash.page.locator(table).locator("xpath=ancestor::article//h2").inner_text()
        assert name is None or heading == name
        tables = [n for n in dash.ax() if n["role"] == "table" and n["name"] == heading]
        assert len(tables) == 1, (slug, heading)
        dash.close()
