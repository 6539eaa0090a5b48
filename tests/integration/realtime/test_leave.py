"""Leaving a room over WebSocket and HTTP: what the user's sockets are told, and what is recorded.

Through real uvicorn servers and real WebSocket clients. One test needs the log to refuse a
commit, which only a server in this process can be made to do: it runs the whole app under
uvicorn on a thread, over a real DuckDB log whose next commit transaction fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import uvicorn

from service.actions.context import Community
from service.app import build_community, create_app
from service.protocol import frames as f
from service.realtime.joining import join
from service.settings import Settings, ensure_dev_secrets, load_settings
from tests.fixtures.server import LocalServer, ServerProcess, free_port
from tests.fixtures.ws import WsClient
from tests.integration.realtime.conftest import RT_ENV
from tests.integration.realtime.test_hub import connect, start_hub, who
from tests.integration.realtime.test_membership import my_rooms, wait_rooms
from tests.integration.realtime.test_two_nodes import start_two
from tests.integration.test_send_path import failing_commits


class ThreadServer(LocalServer):
    """The whole app served by uvicorn on a thread of the test process; ``community`` is the
    one the server runs on, so a test can make its log refuse commits. Reached as a
    :class:`ServerProcess` is (:class:`LocalServer`), so :class:`WsClient` logs in to it."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self._settings: Settings = load_settings(environ={
            **RT_ENV, "SIDELINE_DATA_DIR": str(data_dir), "SIDELINE_SERVER__PORT": str(self.port),
            "SIDELINE_ANALYTICS__SCHEDULE_ENABLED": "false", "SIDELINE_REALTIME__GC_FREEZE": "false",
        })  # fmt: skip
        ensure_dev_secrets(self._settings)
        self.community: Community = build_community(self._settings)
        app = create_app(self._settings, community=self.community)
        self.server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on",
            ws_per_message_deflate=False,
        ))  # fmt: skip
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def settings(self) -> Settings:
        return self._settings

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def thread_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ThreadServer, Any]]:
    """A server in this process and ``fail(n)``: its next ``n`` commits are refused."""
    with ThreadServer(tmp_path / "data") as server:
        yield server, failing_commits(server.community, monkeypatch)


def logged_leaves(log_path: Path) -> list[tuple[str, str, str | None]]:
    """(user, room, ``via``) of every ``community_room_left`` in a closed log file."""
    con = duckdb.connect(str(log_path), read_only=True)
    try:
        return con.execute(
            "SELECT user_id, room_id, json_extract_string(payload, '$.via') FROM events "
            "WHERE event_type = 'community_room_left' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()


def http_leave(server: ServerProcess, user: str, room: str = "match:1") -> None:
    token = server.token(user, "match:1")
    r = httpx.post(
        f"{server.url}/v1/rooms/{room}/leave", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert r.status_code == 204, r.text


async def after_left(client: WsClient, room: str = "match:1", within: float = 0.5) -> list[dict[str, Any]]:
    """The room's frames ``client`` received after its last ``left`` of it (waiting ``within`` s):
    not the answers to its own frames (an ``error`` or ``ack`` names the room it was about)."""
    await client.frames(within)
    last = max(i for i, f in enumerate(client.seen) if f["type"] == "left" and f["room"] == room)
    return [
        f for f in client.seen[last + 1 :] if f.get("room") == room and f["type"] not in ("error", "ack")
    ]


# -- a leave the log refuses --------------------------------------------------------------------


async def test_a_leave_the_log_refuses_is_still_answered_left_and_names_what_was_not_recorded(thread_server):
    server, fail = thread_server
    ann = await WsClient.login(server, "ann")
    u1 = await WsClient.login(server, "u1")
    fail(1)
    await u1.send(type="leave", room="match:1", ref="l")
    left = await u1.expect("left", ref="l")
    assert left["room"] == "match:1" and left.get("reason", "left") == "left"  # the default
    error = await u1.expect("error", ref="l")
    assert error["code"] == "log_unavailable" and error["at"] == "$.room"
    assert "not recorded" in error["message"] and "match:1" in error["message"]
    # the socket is out of the room: it gets none of the room's frames any more
    await ann.send(type="send", room="match:1", client_msg_id="c1", text="still there?", ref="s")
    await ann.expect("ack", ref="s")
    assert await after_left(u1) == []
    assert my_rooms(server, "u1") == ["match:1"], "nothing was recorded"
    # asking again records it (the log takes commits again)
    await u1.send(type="leave", room="match:1", ref="l2")
    await u1.expect("left", ref="l2")
    assert [f for f in await u1.frames(0.3) if f["type"] == "error"] == []
    assert my_rooms(server, "u1") == []



async def test_a_reauth_whose_first_leave_the_log_refuses_still_leaves_every_room_it_does_not_open(thread_server):
    """The token of an ``auth`` opens neither joined room: the socket leaves both, though the
    log refuses to record the first leave, and then gets the error for that one."""
    server, fail = thread_server
    u1 = await WsClient.login(server, "u1", roles={"match:2": "user"})
    await u1.send(type="join", room="match:2", ref="j")
    await u1.expect("joined", ref="j")
    fail(1)
    await u1.send(type="auth", token=server.token("u1", "match:3", name="Una"), ref="a")
    assert (await u1.expect("welcome", ref="a"))["name"] == "Una"
    for room in ("match:1", "match:2"):
        left = await u1.expect("left", room=room)
        assert (left["reason"], left["ref"]) == ("room_not_allowed", "a")
    error = await u1.expect("error", ref="a")
    assert error["code"] == "log_unavailable" and "'match:1'" in error["message"]
    assert my_rooms(server, "u1") == ["match:1"], "match:1's end was refused, match:2's recorded"
    poster = {"Authorization": f"Bearer {server.token('u9', 'match:1', roles={'match:2': 'user'})}"}
    for room in ("match:1", "match:2"):
        r = httpx.post(f"{server.url}/v1/rooms/{room}/messages", headers=poster, timeout=10,
                       json={"client_msg_id": f"c-{room}", "text": f"news in {room}"})  # fmt: skip
        assert r.status_code == 201, r.text
    assert await after_left(u1, "match:1") == [] and await after_left(u1, "match:2") == []


# -- a leave through HTTP -----------------------------------------------------------------------


async def test_an_http_leave_takes_every_socket_of_the_user_out_of_the_room(rt_server):
    ann = await WsClient.login(rt_server, "ann")
    tab1 = await WsClient.login(rt_server, "u1")
    tab2 = await WsClient.login(rt_server, "u1")
    await ann.expect("presence", timeout=5, count=2)
    http_leave(rt_server, "u1")
    for tab in (tab1, tab2):
        left = await tab.expect("left", room="match:1")
        assert left.get("reason", "left") == "left" and "ref" not in left  # no frame of its own asked
    await ann.expect("presence", timeout=5, left=["u1"])
    await ann.send(type="send", room="match:1", client_msg_id="c1", text="anyone?", ref="s")
    await ann.expect("message", client_msg_id="c1")
    assert await after_left(tab1) == [] and await after_left(tab2) == []
    assert my_rooms(rt_server, "u1") == []
    # the sockets can still join again, and are in the room once more
    await tab1.send(type="join", room="match:1", ref="j")
    await tab1.expect("joined", ref="j")
    assert my_rooms(rt_server, "u1") == ["match:1"]
    await tab1.close()
    await tab2.close()
    rt_server.stop()
    assert logged_leaves(rt_server.settings().log_path) == [("u1", "match:1", "http")], "one leave, said to be from HTTP"


@pytest.mark.slow
async def test_an_http_leave_on_node_a_takes_the_users_socket_on_node_b_out(start_server, redis_url):
    a, b = start_two(start_server, redis_url)
    ann = await WsClient.login(b, "ann")
    tab = await WsClient.login(b, "u1")
    await ann.expect("presence", timeout=5, count=2)
    await wait_rooms(a, "u1", ["match:1"])  # node A applied node B's join
    http_leave(a, "u1")
    await tab.expect("left", room="match:1")
    await ann.expect("presence", timeout=5, left=["u1"])
    await ann.send(type="send", room="match:1", client_msg_id="c1", text="anyone?", ref="s")
    await ann.expect("message", client_msg_id="c1")
    assert await after_left(tab) == []


@pytest.mark.slow
async def test_a_leave_frame_on_node_a_keeps_the_users_socket_on_node_b_in_the_room(start_server, redis_url):
    """The socket's leave ends the membership (recorded on A), but it is not an HTTP leave:
    the user's socket on node B stays in the room, as with presence."""
    a, b = start_two(start_server, redis_url)
    ann = await WsClient.login(b, "ann")
    on_a = await WsClient.login(a, "u1")
    on_b = await WsClient.login(b, "u1")
    await on_a.send(type="leave", room="match:1", ref="l")
    await on_a.expect("left", ref="l")
    await wait_rooms(b, "u1", [])  # node B applied node A's community_room_left
    await ann.send(type="send", room="match:1", client_msg_id="c1", text="still there?", ref="s")
    await ann.expect("ack", ref="s")
    await on_b.expect("message", client_msg_id="c1")
    assert [f for f in await on_b.frames(0.5) if f["type"] == "left"] == []


# -- a leave still waiting for another socket when the node stops --------------------------------


async def test_a_graceful_stop_records_a_leave_still_waiting_for_the_users_other_socket(rt_server):
    """SIGTERM while the user's other socket is still in the room: uvicorn closes the sockets
    and waits for their handlers before the app's shutdown closes the log, so that socket's
    disconnect, the user's last socket leaving, is recorded."""
    node = rt_server
    tab1 = await WsClient.login(node, "u1")
    await WsClient.login(node, "u1")
    await tab1.send(type="leave", room="match:1", ref="l")
    await tab1.expect("left", ref="l")
    assert my_rooms(node, "u1") == ["match:1"], "the other socket is still in the room"
    assert node.stop() in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    assert "event log flushed and closed" in node.output()
    assert logged_leaves(node.settings().log_path) == [("u1", "match:1", "socket")]


async def test_stopping_the_hub_records_a_leave_waiting_for_a_socket_whose_handler_outlives_it(tmp_path):
    """A server may shut the app down while socket handlers still run (uvicorn does once
    ``server.graceful_timeout_seconds`` is over, without waiting for the handlers it cancels):
    the hub closes those sockets and the log closes right after, before their handlers take
    them out of their rooms. A leave waiting for one of them is recorded by the hub's stop.
    (In process: the real hub and DuckDB log, sockets are recorders.)"""
    hub = await start_hub(tmp_path)
    community = hub.c
    (tab1, _), (tab2, _) = connect(hub, "u1"), connect(hub, "u1")
    for tab in (tab1, tab2):
        await join(hub, tab, f.Join(room="match:1"))
    await hub.part(tab1, "match:1", who("u1"))
    assert community.state.memberships["u1"] == {"match:1"}, "waiting for the other socket"
    await hub.stop()  # the app's shutdown: the hub first, then the log
    await community.log.close()
    await hub.disconnect(tab2)  # the socket's handler ends only now
    assert logged_leaves(community.log.path) == [("u1", "match:1", "socket")]
