"""docs/embed.md's integration, as written, in headless Chromium: its host page snippet served
from another origin (a page of the integrator's own site) frames the panel, gives it a token when
it is ready, and a new one when the first expires; the URL-fragment way signs in and leaves no
token in the address."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.server import ServerProcess, free_port

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs" / "embed.md"


def doc_snippet() -> str:
    """The host page of "1. postMessage from the embedding page", as the doc has it."""
    found = re.search(r"### 1\. postMessage.*?```html\n(.*?)```", DOC.read_text(), re.S)
    assert found, "docs/embed.md has a host page snippet"
    return found.group(1)


class HostSite:
    """The integrator's site on an origin of its own (``localhost``, not the ``127.0.0.1`` of
    Sideline): ``html`` at ``/`` and its backend's ``/api/sideline-token``, which mints with
    ``mint(ttl)`` a token that lives ``ttls[n]`` seconds for the n-th request (the last one
    for any later request)."""

    def __init__(self, ttls: list[int]) -> None:
        self.html = ""
        self.mint: Any = None
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/api/sideline-token"):
                    site.requests.append(self.path)
                    ttl = ttls[min(len(site.requests), len(ttls)) - 1]
                    body, kind = json.dumps({"token": site.mint(ttl)}).encode(), "application/json"
                else:
                    body, kind = site.html.encode(), "text/html"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    def __enter__(self) -> HostSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def host_and_sideline(tmp_path: Path) -> Iterator[tuple[HostSite, ServerProcess]]:
    """The host site serving the doc's snippet, and Sideline allowing the site's origin (with no
    token leeway, so a 6-second token expires in 6 seconds: with 3, a token handed over 2.5 s
    late, as on a loaded machine, had expired before the test saw the panel live on it)."""
    with HostSite(ttls=[6, 3600]) as site:
        env = {"SIDELINE_SERVER__ALLOWED_ORIGINS": json.dumps([site.origin]), "SIDELINE_AUTH__LEEWAY_SECONDS": "0"}
        server = ServerProcess(tmp_path / "data", env=env).start()
        try:
            site.html = "<!doctype html><title>Match 123</title>" + doc_snippet().replace("https://SIDELINE", server.url)
            site.mint = lambda ttl: server.token("sam", "match:123", "user", name="Sam", ttl_seconds=ttl)
            yield site, server
        finally:
            server.kill()


def test_the_documented_host_page_signs_the_panel_in_and_refreshes_its_token(browser, host_and_sideline):
    site, _ = host_and_sideline
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.origin + "/")
    panel = page.frame_locator("#chat")
    panel.locator('#panel[data-state="live"]').wait_for(timeout=10_000)
    assert len(site.requests) == 1, "the token is asked for once the panel is ready"
    assert panel.locator("#room-title").inner_text() == "match:123"
    # the first token expires: the server closes, the panel asks again and goes on
    deadline = time.monotonic() + 15
    while len(site.requests) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert len(site.requests) == 2, "asked again when the first token expired"
    panel.locator('#panel[data-state="live"]').wait_for(timeout=10_000)
    panel.locator("#text").fill("hello from the host page")
    panel.locator("#text").press("Enter")
    panel.locator("li.msg:not(.pending)", has_text="hello from the host page").wait_for(timeout=10_000)
    assert errors == []


def test_the_documented_fragment_signs_in_and_leaves_no_token_in_the_address(browser, host_and_sideline):
    _, server = host_and_sideline
    token = server.token("sam", "match:123", "user", name="Sam")
    page = browser.new_page()
    page.goto(f"{server.url}/embed?room=match:123#token={token}")
    page.wait_for_selector('#panel[data-state="live"]', timeout=10_000)
    assert page.url == f"{server.url}/embed?room=match:123", "the fragment is gone from the address"


def test_a_host_whose_tokens_are_refused_is_not_asked_in_a_tight_loop(browser, host_and_sideline):
    """A host backend that signs with the wrong secret (or whose clock makes every token expired
    on arrival): each refused token made the panel ask for another at once, and the doc's host page
    gives one at once, so the two hammered the host's backend and Sideline with some 70 token
    requests and handshakes a second, for as long as the page stayed open. The asks must back off
    (and the refusal be on the console for the integrator)."""
    from service.identity import mint_token

    site, _ = host_and_sideline
    site.mint = lambda ttl: mint_token("not-the-secret-" * 3, user_id="sam", context_id="match:123", role="user")
    page = browser.new_page()
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(site.origin + "/")
    page.wait_for_timeout(6_000)
    assert len(site.requests) <= 5, f"{len(site.requests)} token requests in 6 s"
    panel = page.frame_locator("#chat")
    assert "signed out" in (panel.locator("#status").text_content() or "")
    assert any("token" in w and "4002" in w for w in warnings), warnings
