"""The AI moderation provider's URL may carry a gateway's credentials
(``https://user:pass@gateway/v1``): they reach the provider, and nowhere else."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.fixtures.server import ServerProcess

PASSWORD = "gw-Pa55-d0-not-log"


class _Broken(BaseHTTPRequestHandler):
    """A provider that is down: every call answers 500; the Authorization headers are kept."""

    seen: list[str | None] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(500)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_provider_url_credentials_are_sent_but_never_logged_or_recorded(
    tmp_path: Path, provider: ThreadingHTTPServer
) -> None:
    """The URL, password and all, was logged at start and in every failure's warning, and
    written into the held message's ``community_message_moderated`` event (append-only, and
    forwarded to every sink). Now the provider still gets them (Basic auth, as httpx sent
    them from the URL), the message is held (failing closed), and the password is in
    neither the server's output nor the event log."""
    _Broken.seen = []
    port = provider.server_address[1]
    node = ServerProcess(tmp_path / "data", env={
        "SIDELINE_MODERATION__PROVIDER__ENABLED": "true",
        "SIDELINE_MODERATION__PROVIDER__BASE_URL": f"http://gateway:{PASSWORD}@127.0.0.1:{port}/v1",
        "SIDELINE_MODERATION__PROVIDER__ON_FAILURE": "closed",
        "SIDELINE_MODERATION__PROVIDER__TIMEOUT_SECONDS": "10",
    }).start()  # fmt: skip
    try:
        auth = {"Authorization": f"Bearer {node.token('ann', 'match:1')}"}
        r = httpx.post(f"{node.url}/v1/rooms/match:1/messages", headers=auth, timeout=30,
                       json={"client_msg_id": "c1", "text": "what a save"})  # fmt: skip
        assert r.status_code == 201 and r.json()["visibility"] == "held", r.text
    finally:
        node.stop()
    basic = "Basic " + base64.b64encode(f"gateway:{PASSWORD}".encode()).decode()
    assert _Broken.seen == [basic]
    output = node.output()
    assert "moderation provider openai failed" in output and f"127.0.0.1:{port}/v1" in output
    assert PASSWORD not in output
    con = duckdb.connect(str(node.settings().log_path), read_only=True)
    try:
        rows = con.execute("SELECT event_type, CAST(payload AS VARCHAR) FROM events").fetchall()
    finally:
        con.close()
    moderated = [p for t, p in rows if t == "community_message_moderated"]
    assert moderated and "provider.unavailable" in moderated[0] and "HTTP 500" in moderated[0]
    assert not [p for _, p in rows if PASSWORD in p]
