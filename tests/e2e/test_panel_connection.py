"""The embeddable panel's connection in headless Chromium, against a real server: a connection
that dies without closing, and what a user the room refuses sees and is told.

One browser serves the whole module; each test uses a room of its own."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PANEL_ENV, Room, settle
from tests.fixtures.server import ServerProcess

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def room_on_own_server(chromium: Any, tmp_path: Path, **env: str) -> Iterator[Room]:
    """A room on a server of its own, started with ``env`` over the panel tests' settings."""
    server = ServerProcess(tmp_path / "data", env={**PANEL_ENV, **env}).start()
    room = Room(chromium, server)
    try:
        yield room
    finally:
        room.close()
        server.kill()


class Blackhole:
    """Routes the page's sockets to the server; ``cut()`` silences the ones open now in both
    directions without closing them, as a network that drops packets does (a phone leaving its
    Wi-Fi, a NAT entry forgotten): no close ever reaches the browser. Later sockets pass."""

    def __init__(self) -> None:
        self.alive: list[bool] = []

    def __call__(self, ws: Any) -> None:
        n = len(self.alive)
        self.alive.append(True)
        server = ws.connect_to_server()
        ws.on_message(lambda m: server.send(m) if self.alive[n] else None)
        server.on_message(lambda m: ws.send(m) if self.alive[n] else None)
        # The server closes a silent socket after its idle timeout: that close is lost too.
        server.on_close(lambda code, reason: ws.close(code=code, reason=reason) if self.alive[n] else None)

    def cut(self) -> None:
        self.alive = [False] * len(self.alive)


def test_a_connection_that_goes_silent_is_noticed_and_resumed(chromium, tmp_path):
    """The panel pings, but never checked that anything came back: a socket silenced without a
    close stayed "live" for as long as the browser's TCP took to give up (many minutes), the
    chat frozen and sends kept unanswered. It must notice the silence within about a heartbeat
    and a few seconds, reconnect and resume: what came meanwhile once, and a send typed into the
    dead socket sent again and shown once."""
    # heartbeat_seconds is a third of the idle timeout: a ping every second
    with room_on_own_server(chromium, tmp_path, SIDELINE_REALTIME__IDLE_TIMEOUT_SECONDS="3") as room:
        hole = Blackhole()
        room.post("ana", "before the tunnel")
        sam = room.open("sam", route=hole)
        sam.locator("li.msg", has_text="before the tunnel").wait_for(timeout=10_000)
        hole.cut()
        room.post("ana", "said in the tunnel")
        sam.fill("#text", "typed in the tunnel")
        sam.press("#text", "Enter")
        sam.wait_for_selector('#panel:not([data-state="live"])', timeout=8_000)
        sam.wait_for_selector('#panel[data-state="live"]', timeout=10_000)
        assert len(hole.alive) == 2, "one new socket"
        for text in ("said in the tunnel", "typed in the tunnel"):
            sam.locator("li.msg", has_text=text).wait_for(timeout=10_000)
        room.post("ana", "after the tunnel")
        sam.locator("li.msg", has_text="after the tunnel").wait_for(timeout=10_000)
        settle(sam)
        texts = sam.locator("li.msg .text").all_inner_texts()
        assert texts == ["before the tunnel", "said in the tunnel", "typed in the tunnel", "after the tunnel"], texts
        assert room.errors == []
