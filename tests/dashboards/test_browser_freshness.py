"""Stale reports in headless Chromium: the pages of a run whose jobs failed and of a report left
behind, from disk (file://) and served by a real service behind the key.

A reader must see, near the title, the period the page's data cover and when its reports were
computed, and for a stale report a notice in words (not colour alone) that names it: a region
named by its heading (screen readers list it among landmarks and headings), a line on each card
the report feeds, text with 4.5:1 contrast, the page's title saying "out of date", and all of
it on a 320 px screen without scrolling sideways.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dashboards.paths import PAGES
from tests.conftest import SERVER_ENV
from tests.dashboards.pages import Page
from tests.dashboards.stale import FAILING, LEFT_BEHIND, NEW_DAYS
from tests.dashboards.test_browser import Tab, browser  # noqa: F401  (the module's Chromium)
from tests.dashboards.test_browser_a11y import TEXT_COLOURS, WHITE, contrast, over, rgb
from tests.dashboards.test_freshness import USES
from tests.fixtures.server import ServerProcess

pytestmark = pytest.mark.slow

OFFLINE = ("file://", "data:", "blob:")


def ax(page: Any) -> list[dict[str, Any]]:
    """Chromium's accessibility tree (unignored nodes): role and name."""
    session = page.context.new_cdp_session(page)
    try:
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    return [{"role": n.get("role", {}).get("value"), "name": (n.get("name", {}).get("value") or "").strip()}
            for n in nodes if not n.get("ignored")]  # fmt: skip


def low_contrast(page: Any, selector: str) -> list[tuple[str, float]]:
    """(text, ratio) of the visible texts of ``selector`` under 4.5:1 against their backdrop."""
    out = []
    for el in page.eval_on_selector_all(selector, TEXT_COLOURS):
        bg: tuple[float, ...] = WHITE
        for layer in reversed(el["chain"]):
            bg = over(rgb(layer), bg)
        ratio = contrast(over(rgb(el["color"]), bg), bg)
        if ratio < 4.5:
            out.append((el["text"], round(ratio, 2)))
    return out


def check_notice(tab: Tab, reports: list[str]) -> str:
    """The page names ``reports`` as stale in its notice, found as a region and a heading by a
    screen reader, and in its title; returns the notice's text."""
    page = tab.page
    notice = page.locator("section.stale")
    assert notice.count() == 1 and notice.is_visible()
    heading = notice.locator("h2").inner_text()
    assert heading.startswith("\u26a0 Out of date: ")  # words, after a sign screen readers skip
    name = heading.removeprefix("\u26a0 ")
    nodes = ax(page)
    assert [n for n in nodes if n["role"] == "region" and n["name"] == name], name
    assert [n for n in nodes if n["role"] == "heading" and n["name"] == name], name
    text = notice.inner_text()
    assert all(r in text for r in reports), (reports, text)
    assert page.title().endswith(" (out of date) · Sideline")
    # It sits under the title, after the freshness line and before the page's introduction.
    order = page.eval_on_selector(".bar", "b => [...b.children].map(e => e.className || e.tagName)")
    assert order[:4] == ["H1", "freshness", "stale", "intro"], order
    assert low_contrast(page, "section.stale h2, section.stale p, section.stale li, .stale-note") == []
    return text


def check_cards(tab: Tab, page: Page, reports: list[str]) -> None:
    """Every card computed from one of ``reports`` says so in a line naming it; no other does."""
    for chart in page.config["charts"]:
        stale = [r for r in reports if r in _source(tab, chart["id"])]
        note = tab.page.locator(f"#chart-{chart['id']} .stale-note")
        if stale:
            assert note.is_visible(), chart["id"]
            assert note.inner_text().startswith("Out of date: the "), chart["id"]
            assert all(r in note.inner_text() for r in stale), chart["id"]
        else:
            assert note.count() == 0, chart["id"]


def _source(tab: Tab, chart_id: str) -> list[str]:
    meta = tab.page.locator(f"#chart-{chart_id} .meta").inner_text()
    return meta.split(" · report: ")[1].split(", ")


def test_a_failed_run_is_named_on_every_page_it_leaves_stale(browser, failed_dir: Path):  # noqa: F811
    folder = failed_dir / "dashboards"
    for slug in PAGES:
        page = Page(folder / f"{slug}.html")
        tab = Tab(browser, OFFLINE)
        tab.open((folder / f"{slug}.html").as_uri())
        line = tab.page.locator("h1 + p.freshness")
        fresh = page.config["freshness"]
        assert line.is_visible() and line.inner_text() == f"{fresh['period']} {fresh['computed']}"
        stale = [r for r in USES[slug] if r in FAILING]
        if stale:
            text = check_notice(tab, stale)
            assert 'failed: ExportError: users.csv row 1: column "signed_up_at"' in text
            check_cards(tab, page, stale)
        else:  # moderation reads only reports the broken export does not fail
            assert tab.page.locator("section.stale, .stale-note").count() == 0
            assert "out of date" not in tab.page.title()
        for chart in page.config["charts"]:  # the last good run's numbers are still drawn
            assert tab.marks(chart["id"]) > 0, (slug, chart["id"])
        tab.shot(f"stale-failed-{slug}")
        tab.check_clean()
        tab.page.close()


def test_a_report_left_behind_is_named_and_the_filters_keep_the_notice(
    browser, behind_dir: tuple[Path, datetime],  # noqa: F811
):  # fmt: skip
    data, _morning = behind_dir
    folder = data / "dashboards"
    tab = Tab(browser, OFFLINE)
    tab.open((folder / "moderation.html").as_uri())
    text = check_notice(tab, [LEFT_BEHIND])
    assert f"{NEW_DAYS} days before the latest data" in text and "in the warehouse" in text
    page = Page(folder / "moderation.html")
    check_cards(tab, page, [LEFT_BEHIND])
    assert tab.page.locator(".tiles .stale-note, .stale-note + .tiles").count() == 0  # daily: fresh
    assert f"{LEFT_BEHIND} only reaches" in tab.page.locator("p.freshness").inner_text()
    tab.page.select_option("#f-range", "7d")
    tab.ready("7d|*")
    assert tab.page.locator("section.stale").is_visible()
    tab.shot("stale-behind-moderation")
    tab.check_clean()
    tab.page.click("nav a[data-page='overview.html']")
    tab.ready("7d|*")
    assert tab.page.locator("section.stale, .stale-note").count() == 0
    tab.check_clean()
    tab.page.close()


def test_the_notice_reflows_on_a_narrow_screen(browser, failed_dir: Path):  # noqa: F811
    tab = Tab(browser, OFFLINE)
    tab.page.set_viewport_size({"width": 320, "height": 640})
    tab.open((failed_dir / "dashboards" / "events.html").as_uri())
    m = tab.page.evaluate("""() => { const r = document.querySelector('section.stale').getBoundingClientRect();
        return {doc: document.documentElement.scrollWidth, width: innerWidth, left: r.left, right: r.right}; }""")  # fmt: skip
    assert m["doc"] <= m["width"] and m["left"] >= 0 and m["right"] <= m["width"], m
    tab.shot("stale-failed-events-320")
    tab.check_clean()
    tab.page.close()


def test_served_pages_name_the_stale_reports(browser, failed_dir: Path, tmp_path: Path):  # noqa: F811
    """The service renders the pages on demand (in a child process) from the reports and the
    runner's records it finds, and serves them behind the key."""
    data = tmp_path / "data"
    shutil.copytree(failed_dir / "warehouse" / "reports", data / "warehouse" / "reports")
    server = ServerProcess(data, env=SERVER_ENV).start()
    try:
        tab = Tab(browser, (server.url,))
        tab.page.goto(f"{server.url}/dashboards/overview.html")
        tab.sign_in(server.settings().dashboards.access_key)
        tab.ready()
        check_notice(tab, ["engagement_daily"])
        check_cards(tab, Page(data / "dashboards" / "overview.html"), ["engagement_daily"])
        assert "The warehouse sink is delivering" in tab.page.locator("#sinks").inner_text()
        tab.shot("stale-served-overview")
        tab.page.click("nav a[data-page='events.html']")
        tab.ready()
        check_notice(tab, ["engagement_daily", "engagement", "engagement_timeline"])
        tab.page.click("nav a[data-page='moderation.html']")
        tab.ready()
        assert tab.page.locator("section.stale, .stale-note").count() == 0
        tab.page.goto(f"{server.url}/dashboards/index.html")
        assert tab.page.locator("section.stale").is_visible()
        assert tab.page.locator(".index-list .stale-note").count() == 4
        assert tab.page.title() == "Dashboards (out of date) · Sideline"
        tab.shot("stale-served-index")
        tab.check_clean()
        tab.page.close()
    finally:
        server.stop()
        server.kill()
