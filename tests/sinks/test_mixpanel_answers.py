"""Mixpanel answers that are not Mixpanel's: a 2xx page from something else at the configured
address means the sink is misconfigured, not that the events are bad."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from service.domain.events import utcnow
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


class _Import400(BaseHTTPRequestHandler):
    """An endpoint answering every request 400 with the ``failed_records`` the test sets."""

    failed: Any = None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = json.dumps({
            "code": 400, "error": "some data points in the request failed validation",
            "failed_records": self.failed, "num_records_imported": 0, "status": "Bad Request",
        }).encode()  # fmt: skip
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: Any) -> None:
        return


@pytest.mark.parametrize(
    ("failed", "shown"),
    [
        ([{"index": 7, "field": "properties", "message": "bad"}], "index 7"),
        ([{"index": -1, "field": "properties", "message": "bad"}], "index -1"),
        ([{"field": "properties", "message": "bad"}], "index None"),
        ([{"index": "0", "field": "properties", "message": "bad"}], "index '0'"),
        (["index 0"], "'index 0'"),
    ],
)
async def test_failed_records_that_do_not_match_the_request_block_the_sink(
    failed: Any, shown: str, make_rig: Any
) -> None:
    handler = type("Answer", (_Import400,), {"failed": failed})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        rig = await make_rig({"mixpanel": [sink_config("mixpanel", url)]})
        old = utcnow() - timedelta(days=6)  # /import, where failed_records come from
        await rig.append([message(i, occurred_at=old) for i in range(3)])
        deadline = time.monotonic() + 5
        while rig.fw.status()[0].state != "blocked" and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        (status,) = rig.fw.status()
        # Never a crash loop, never a dead letter blamed on the wrong event: a shown error.
        assert (status.state, status.cursor, status.dead_letters) == ("blocked", 0, 0)
        assert status.last_error is not None
        assert status.last_error.startswith(
            "mixpanel: /import answered 400 with failed_records that do not match the "
            "request of 3 events"
        ), status.last_error
        assert shown in status.last_error
    finally:
        server.shutdown()
        server.server_close()
