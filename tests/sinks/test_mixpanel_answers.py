"""Mixpanel answers that are not Mixpanel's: a 2xx page from something else at the configured
address means the sink is misconfigured, not that the events are bad."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from service.domain.events import utcnow
from tests.sinks.conftest import message, sink_config


class _Canned(BaseHTTPRequestHandler):
    """Answers every POST with ``status``, ``content_type`` and ``body()``."""

    status = 200
    content_type = "text/html"

    def body(self) -> bytes:
        return b"<html><body>Welcome</body></html>"  # a web server's or a proxy's page

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        page = self.body()
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *_: Any) -> None:
        return


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` on a local port; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def blocked_status(rig: Any) -> Any:
    """The sink's status once it is blocked (or after 5 s)."""
    deadline = time.monotonic() + 5
    while rig.fw.status()[0].state != "blocked" and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    (status,) = rig.fw.status()
    return status


async def test_a_2xx_that_is_not_json_blocks_instead_of_dead_lettering(make_rig):
    with serving(_Canned) as url:
        rig = await make_rig({"mixpanel": [sink_config("mixpanel", url)]})
        await rig.append([message(i) for i in range(10)])
        status = await blocked_status(rig)
    assert (status.state, status.cursor, status.dead_letters) == ("blocked", 0, 0)
    assert "not a Mixpanel answer" in (status.last_error or "")


class _Import400(_Canned):
    """An endpoint answering every request 400 with the ``failed_records`` the test sets."""

    status = 400
    content_type = "application/json"
    failed: Any = None

    def body(self) -> bytes:
        return json.dumps({
            "code": 400, "error": "some data points in the request failed validation",
            "failed_records": self.failed, "num_records_imported": 0, "status": "Bad Request",
        }).encode()  # fmt: skip


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
    with serving(handler) as url:
        rig = await make_rig({"mixpanel": [sink_config("mixpanel", url)]})
        old = utcnow() - timedelta(days=6)  # /import, where failed_records come from
        await rig.append([message(i, occurred_at=old) for i in range(3)])
        status = await blocked_status(rig)
    # Never a crash loop, never a dead letter blamed on the wrong event: a shown error.
    assert (status.state, status.cursor, status.dead_letters) == ("blocked", 0, 0)
    assert status.last_error is not None
    assert status.last_error.startswith(
        "mixpanel: /import answered 400 with failed_records that do not match the "
        "request of 3 events"
    ), status.last_error
    assert shown in status.last_error
