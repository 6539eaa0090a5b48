"""The API reference at ``/schema`` in headless Chromium: Swagger UI renders the document from
this service's own files, and the page asks nothing of any other host."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fixtures.server import ServerProcess

pytestmark = pytest.mark.slow


def test_the_reference_renders_from_this_service_alone(browser, tmp_path: Path, artifacts):
    server = ServerProcess(tmp_path / "data").start()
    try:
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        errors: list[str] = []
        hosts: set[str] = set()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
        page.goto(server.url + "/schema")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert "Sideline" in page.inner_text(".swagger-ui .info .title")
        # the operations of the document are listed, e.g. sending a message
        page.wait_for_selector("#operations-Chat-send_message, .opblock-summary-path", timeout=20_000)
        paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.dataset.path)")
        assert "/v1/rooms/{room_id}/messages" in paths
        page.screenshot(path=str(artifacts / "schema-page.png"))
        assert hosts == {urlsplit(server.url).netloc}, hosts
        assert errors == [], errors  # a policy violation would be reported here
    finally:
        server.kill()
