"""Mixpanel answers that are not Mixpanel's: a 2xx page from something else at the configured
address means the sink is misconfigured, not that the events are bad."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.sinks.conftest import message, sink_config


class _WebPage(BaseHTTPRequestHandler):
    """A web server (or a proxy's error page) answering 200 with HTML to everything."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        page = b"<html><body>Welcome</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def web_page() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_a_2xx_that_is_not_json_blocks_instead_of_dead_lettering(web_page: str, make_rig):
    rig = await make_rig({"mixpanel": [sink_config("mixpanel", web_page)]})
    await rig.append([message(i) for i in range(10)])
    deadline = time.monotonic() + 5
    while rig.fw.status()[0].state != "blocked" and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    (status,) = rig.fw.status()
    assert (status.state, status.cursor, status.dead_letters) == ("blocked", 0, 0)
    assert "not a Mixpanel answer" in (status.last_error or "")
