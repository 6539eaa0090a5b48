"""The panel in headless Chromium when its token expires while it is connected.

The server closes the socket with 4003 at the token's ``exp`` (plus the leeway), the panel
posts ``sideline:token-expired`` to its host page, and reconnects with the token it is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.server import ServerProcess

pytestmark = pytest.mark.slow

HOST_PAGE = """<!doctype html>
<iframe id="chat" src="/embed?room=match:1" style="width: 380px; height: 600px"></iframe>
<script>
  window.got = [];
  const chat = document.getElementById("chat");
  addEventListener("message", (ev) => {
    if (ev.source !== chat.contentWindow) return;
    got.push(ev.data.type);
    const token = ev.data.type === "sideline:ready" ? "SHORT" : "FRESH";
    chat.contentWindow.postMessage({ type: "sideline:token", token }, location.origin);
  });
</script>
"""


def test_expired_token_is_reported_to_the_host_and_a_new_one_reconnects(browser, tmp_path: Path, artifacts):
    env = {"SIDELINE_AUTH__LEEWAY_SECONDS": "0", "SIDELINE_MODERATION__ENABLED": "false"}
    server = ServerProcess(tmp_path / "data", env=env).start()
    try:
        short = server.token("sam", "match:1", ttl_seconds=2)
        fresh = server.token("sam", "match:1", ttl_seconds=3600)
        html = HOST_PAGE.replace("SHORT", short).replace("FRESH", fresh)
        page = browser.new_page(viewport={"width": 420, "height": 640})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        host = f"{server.url}/host-page"  # the server's own origin, so it may frame the panel
        page.route(host, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
        page.goto(host)
        panel = page.frame_locator("#chat")
        panel.locator('#panel[data-state="live"]').wait_for(timeout=10_000)
        page.wait_for_function("window.got.includes('sideline:token-expired')", timeout=8_000)
        panel.locator('#panel[data-state="live"]').wait_for(timeout=10_000)  # reconnected
        assert page.evaluate("window.got") == ["sideline:ready", "sideline:token-expired"]
        page.screenshot(path=str(artifacts / "panel-after-token-expiry.png"))
        assert errors == []
    finally:
        server.kill()
