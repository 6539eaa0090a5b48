"""A bug in a WebSocket session closes that socket with 4500 and is logged with its
traceback; before, the socket closed and the operator read nothing. In-process app."""

from __future__ import annotations

import logging

import pytest
from litestar.exceptions import WebSocketDisconnect

from service.realtime.session import Session
from tests.integration.test_participation import bearer


def test_a_failing_session_is_logged(start, monkeypatch, caplog):
    s, _, client = start()

    def broken(self, ref=None):
        raise RuntimeError("a bug in the welcome")

    monkeypatch.setattr(Session, "_welcome", broken)
    caplog.set_level(logging.ERROR)
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/v1/ws", headers=bearer(s, "u1")) as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 4500
    [record] = [r for r in caplog.records if r.getMessage() == "WebSocket session failed"]
    assert record.exc_info is not None and "a bug in the welcome" in str(record.exc_info[1])
