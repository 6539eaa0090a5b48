"""Headless Chromium (Debian's, driven by Playwright) for the browser tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (a test without either skips, or
    fails under ``SIDELINE_REQUIRE_ALL=1``)."""
    from tests.conftest import require_tool

    chromium = require_tool("chromium", "apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        from tests.conftest import REQUIRE_ALL

        if REQUIRE_ALL:
            pytest.fail("SIDELINE_REQUIRE_ALL=1 but the playwright package is not installed")
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# -- one server, one browser and a room of its own per test: the panel's audit modules ---------

# One server serves a whole module, and its tests share user names ("ana" posts in most of
# them): per-user limits, which count across rooms, would refuse a test for what the tests
# before it sent (a 429 in CI). They are tested on servers of their own.
PANEL_ENV = {
    "SIDELINE_MODERATION__ENABLED": "true",
    "SIDELINE_CROWD_CONTROL__ENABLED": "false",
    "SIDELINE_MODERATION__RATE__BURST_MAX": "1000",
    "SIDELINE_MODERATION__RATE__RATE_MAX": "1000",
    "SIDELINE_MODERATION__RATE__DUPLICATE_MAX": "1000",
}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One browser for a whole module (each test opens contexts of its own)."""
    with launched_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def panel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real server for a whole module, moderation on (each test uses a room of its own)."""
    from tests.fixtures.server import ServerProcess

    proc = ServerProcess(Path(tmp_path_factory.mktemp("panel")) / "data", env=PANEL_ENV).start()
    try:
        yield proc
    finally:
        proc.kill()


class Room:
    """A room of its own for one test, its panels, and the page errors they report."""

    def __init__(self, browser: Any, server: Any) -> None:
        import uuid

        self.browser, self.server = browser, server
        self.name = f"match:a11y{uuid.uuid4().hex[:10]}"
        self.errors: list[str] = []
        self.contexts: list[Any] = []

    def token(self, user: str, role: str = "user", name: str | None = None) -> str:
        return str(self.server.token(user, self.name, role, name=name or user.title()))

    def headers(self, user: str, role: str = "user", name: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, role, name)}"}

    def open(self, user: str, role: str = "user", name: str | None = None, width: int = 420,
             height: int = 640, color_scheme: str = "light", init_script: str | None = None,
             token: str | None = None, live: bool = True, route: Any = None):  # fmt: skip
        """The panel signed in as ``user`` (or with ``token``) once it is live (at once if not
        ``live``); ``route`` handles its WebSockets (``page.route_web_socket``)."""
        import re

        context = self.browser.new_context(viewport={"width": width, "height": height}, color_scheme=color_scheme)
        self.contexts.append(context)
        page = context.new_page()
        if init_script:
            page.add_init_script(init_script)
        if route is not None:
            page.route_web_socket(re.compile(r"/v1/ws"), route)
        page.on("pageerror", lambda exc: self.errors.append(f"{user}: {exc}"))
        page.on("console", lambda m: self.errors.append(f"{user}: {m.text}") if m.type == "error" else None)
        page.goto(f"{self.server.url}/embed?room={self.name}#token={token or self.token(user, role, name)}")
        if live:
            page.wait_for_selector('#panel[data-state="live"]', timeout=10_000)
        return page

    def post(self, user: str, text: str, name: str | None = None, **extra: Any) -> str:
        """``user`` posts ``text`` over HTTP; its message id."""
        import uuid

        import httpx

        r = httpx.post(f"{self.server.url}/v1/rooms/{self.name}/messages", headers=self.headers(user, name=name),
                       json={"client_msg_id": uuid.uuid4().hex, "text": text, **extra})  # fmt: skip
        assert r.status_code == 201, r.text
        return str(r.json()["message_id"])

    def react(self, user: str, message_id: str, emoji: str) -> None:
        import httpx

        r = httpx.post(f"{self.server.url}/v1/rooms/{self.name}/messages/{message_id}/reactions",
                       headers=self.headers(user), json={"emoji": emoji})  # fmt: skip
        assert r.status_code == 200, r.text

    def as_moderator(self, method: str, path: str, **body: Any) -> Any:
        import httpx

        r = httpx.request(method, f"{self.server.url}/v1/rooms/{self.name}{path}",
                          headers=self.headers("boss", "moderator", "Boss"), json=body or None)  # fmt: skip
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    def poll(self, question: str, options: list[str]) -> str:
        return str(self.as_moderator("POST", "/polls", question=question, options=options)["poll_id"])

    def settings(self, **body: Any) -> None:
        self.as_moderator("PATCH", "/settings", **body)

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()


@pytest.fixture
def room(chromium: Any, panel_server: Any) -> Iterator[Room]:
    r = Room(chromium, panel_server)
    try:
        yield r
    finally:
        r.close()


def line(page: Any, message_id: str) -> Any:
    """The line of message ``message_id`` once ``page`` shows it."""
    loc = page.locator(f'li.msg[data-id="{message_id}"]')
    loc.wait_for(timeout=10_000)
    return loc


FOCUSED = """() => { const a = document.activeElement; if (!a || a === document.body) return null;
  const li = a.closest('li.msg');
  return {tag: a.tagName, id: a.id || null, key: a.dataset.key || null, cls: a.className, label: a.getAttribute('aria-label'),
          text: a.textContent, message: li ? li.dataset.id : null, poll: a.closest('.poll') ? a.closest('.poll').dataset.id : null,
          menu: !!a.closest('.report-menu'), shown: !!a.offsetParent || a === document.getElementById('log')}; }"""


def focused(page: Any) -> dict[str, Any] | None:
    """What has the keyboard focus in ``page`` (None: the page itself)."""
    got: dict[str, Any] | None = page.evaluate(FOCUSED)
    return got


def settle(page: Any, ms: int = 400) -> None:
    """Let frames that change the page arrive and be drawn."""
    page.wait_for_timeout(ms)


# The panel is in some states only for a moment (connecting between a drop and the rejoin lasts
# about half a second): a test waiting for one after a slow step would miss it. The page records
# each state it passes through, with the time on its own clock, from the call on.
RECORD_STATES = """() => { const panel = document.getElementById('panel'); window.__states = [];
  new MutationObserver(() => window.__states.push([panel.dataset.state, performance.now()]))
    .observe(panel, {attributes: true, attributeFilter: ['data-state']});
  return performance.now(); }"""


def record_states(page: Any) -> float:
    """Start recording the panel's states; the page's clock now, in ms."""
    now: float = page.evaluate(RECORD_STATES)
    return now


def passed_through(page: Any, state: str, timeout: int) -> float:
    """Wait until the panel has been in ``state`` since :func:`record_states` (even if it has
    left it since); the page's clock when it first entered it, in ms."""
    page.wait_for_function(f"() => window.__states.some(([s]) => s === {json.dumps(state)})", timeout=timeout)
    at: float = page.evaluate(f"() => window.__states.find(([s]) => s === {json.dumps(state)})[1]")
    return at


# Records, from before the panel's script runs, every change to the content of a live region (an
# element with aria-live other than "off", or role log/status/alert without aria-live="off").
ANNOUNCED = """
window.__said = [];
const live = (n) => {
  for (let e = n && (n.nodeType === 1 ? n : n.parentElement); e; e = e.parentElement) {
    const l = e.getAttribute('aria-live');
    if (l === 'off') return null;
    if (l === 'polite' || l === 'assertive') return e;
    if (['log', 'status', 'alert'].includes(e.getAttribute('role'))) return e;
  }
  return null;
};
new MutationObserver((ms) => {
  for (const m of ms) {
    const region = live(m.target);
    if (!region || region.id === 'typing') continue;
    const added = m.type === 'characterData' ? [m.target.data]
      : Array.from(m.addedNodes, (n) => n.textContent || '');
    if (added.join('').trim()) window.__said.push({region: region.id, text: added.join(' ').trim()});
  }
}).observe(document, {childList: true, characterData: true, subtree: true});
"""


def said(page: Any) -> list[dict[str, Any]]:
    """What the live regions of ``page`` announced since the last call."""
    got: list[dict[str, Any]] = page.evaluate("window.__said.splice(0)")
    return got
