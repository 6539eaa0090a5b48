"""The embeddable panel's connection in headless Chromium, against a real server: a connection
that dies without closing, and what a user the room refuses sees and is told.

One browser serves the whole module; each test uses a room of its own."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    ANNOUNCED,
    PANEL_ENV,
    Room,
    line,
    passed_through,
    record_states,
    said,
    settle,
)
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
        # not live only for the moment between noticing and rejoining: steps below may outlast it
        cut_at = record_states(sam)
        hole.cut()
        room.post("ana", "said in the tunnel")
        sam.fill("#text", "typed in the tunnel")
        sam.press("#text", "Enter")
        # kept until answered, and shown so meanwhile (it vanished from the composer, and shown
        # nowhere, the user could only guess whether it went: and type it again)
        waiting = sam.locator("#sending li", has_text="typed in the tunnel")
        waiting.wait_for(timeout=2_000)
        assert "sending" in waiting.inner_text().lower(), waiting.inner_text()
        noticed = passed_through(sam, "connecting", timeout=8_000)
        assert noticed - cut_at < 8_000, f"the silence noticed {noticed - cut_at:.0f} ms after the cut"
        sam.wait_for_selector('#panel[data-state="live"]', timeout=10_000)
        assert len(hole.alive) == 2, "one new socket"
        for text in ("said in the tunnel", "typed in the tunnel"):
            sam.locator("li.msg:not(.pending)", has_text=text).wait_for(timeout=10_000)
        room.post("ana", "after the tunnel")
        sam.locator("li.msg", has_text="after the tunnel").wait_for(timeout=10_000)
        settle(sam)
        texts = sam.locator("li.msg .text").all_inner_texts()
        assert texts == ["before the tunnel", "said in the tunnel", "typed in the tunnel", "after the tunnel"], texts
        assert sam.locator("#sending li").count() == 0, "no longer waiting"
        assert room.errors == []


READONLY_AND_STATUS = """() => ({status: document.getElementById('status').textContent,
  state: document.getElementById('panel').dataset.state,
  note: document.getElementById('readonly').hidden ? null : document.getElementById('readonly').textContent,
  composer: !document.getElementById('composer').hidden, crowd: !document.getElementById('crowd').hidden,
  reactions: document.querySelectorAll('li.msg .tools button:not([disabled])').length})"""

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d"


def test_a_user_banned_while_reading_is_told_so_not_that_they_can_read_along(room):
    """A ban takes the user out of the room (no more messages reach them): the panel said "You
    can read along." under the chat, left the reactions and the flags on, and wrote the ban's
    end as the server's ISO timestamp in UTC."""
    room.post("ana", "you lot are clueless")
    sam = room.open("sam", init_script=ANNOUNCED)
    sam.locator("li.msg", has_text="clueless").wait_for(timeout=10_000)
    room.as_moderator("POST", "/bans", user_id="sam", duration_seconds=3600)
    sam.wait_for_selector('#panel[data-state="closed"]', timeout=10_000)
    settle(sam)
    got = sam.evaluate(READONLY_AND_STATUS)
    assert got["note"] and "banned" in got["note"].lower() and "read along" not in got["note"], got
    assert not got["composer"] and not got["crowd"] and got["reactions"] == 0, got
    shown = [got["note"], sam.text_content("#toast") or ""]
    assert not any(re.search(ISO, t) for t in shown), shown
    assert re.search(r"\d\d?:\d\d", got["note"]), f"the ban's end, in local time: {got}"
    heard = [s["text"] for s in said(sam) if s["region"] == "heard"]
    assert len(heard) == 1 and ("banned" in heard[0].lower() or "removed" in heard[0].lower()), heard
    assert room.errors == []


@pytest.mark.parametrize("why", ["banned", "another room's token"])
def test_a_join_the_server_refuses_is_a_final_state_not_connecting_forever(room, why):
    """A banned user reloading the panel, or a token for another room: the server refuses the
    join; the panel showed the refusal in a notice for ten seconds and then said
    "connecting…" for ever (announcing "Chat: connecting…"), with "You can read along." under
    it. It must say that it cannot join and why, and announce that once; a token that opens the
    room, given later, joins it."""
    room.post("ana", "hello")
    if why == "banned":
        room.as_moderator("POST", "/bans", user_id="sam", duration_seconds=3600)
        token = room.token("sam")
    else:
        token = room.server.token("sam", "match:elsewhere", "user", name="Sam")
    sam = room.open("sam", init_script=ANNOUNCED, token=token, live=False)
    sam.wait_for_selector('#panel[data-state="closed"]', timeout=10_000)
    settle(sam, 6_000)  # longer than a drop must last to be announced
    got = sam.evaluate(READONLY_AND_STATUS)
    assert "connecting" not in got["status"], got
    assert got["note"] and "read along" not in got["note"], got
    assert not got["composer"] and not got["crowd"], got
    heard = [s["text"] for s in said(sam) if s["region"] == "heard"]
    assert len(heard) == 1 and "connecting" not in heard[0], heard
    if why == "banned":
        assert "banned" in got["note"].lower(), got
    else:  # the host page gives the right token: the panel joins on the same connection
        good = room.token("sam")
        sam.evaluate("(token) => postMessage({type: 'sideline:token', token}, location.origin)", good)
        sam.wait_for_selector('#panel[data-state="live"]', timeout=10_000)
        sam.locator("li.msg", has_text="hello").wait_for(timeout=10_000)
        assert sam.is_visible("#composer") and sam.is_hidden("#readonly")
    assert room.errors == []


def test_a_muted_user_reads_when_the_mute_ends_in_local_time(room):
    """The mute's notice and the note under the chat give its end as a time of day in the user's
    own time zone, not the server's ISO timestamp in UTC ("2026-11-28T01:29:32.459728+00:00",
    read out digit by digit)."""
    sam = room.open("sam")
    room.as_moderator("POST", "/mutes", user_id="sam", duration_seconds=600)
    sam.locator("#composer").wait_for(state="hidden", timeout=10_000)
    note, toast = sam.text_content("#readonly") or "", sam.text_content("#toast") or ""
    assert not re.search(ISO, toast) and not re.search(ISO, note), (note, toast)
    assert re.search(r"\d\d?:\d\d", note) and re.search(r"\d\d?:\d\d", toast), (note, toast)
    assert room.errors == []


def test_a_muted_user_opening_the_panel_sees_no_composer(room):
    """A user muted before the panel opens (a reload): the join is followed by the mute's
    notice, so the panel starts without a composer and says until when, instead of showing one
    that refuses the first send."""
    room.as_moderator("POST", "/mutes", user_id="sam", duration_seconds=600)
    sam = room.open("sam")
    sam.locator("#readonly").wait_for(state="visible", timeout=10_000)
    assert sam.is_hidden("#composer")
    assert re.search(r"\d\d?:\d\d", sam.text_content("#readonly") or "")
    assert room.errors == []


def test_the_composer_comes_back_when_a_mute_runs_out(room):
    """The server tells of a mute lifted by a moderator, not of one that runs out: the panel
    kept the composer hidden ("You are muted") after the 10 minutes of its own 🔇 had passed,
    until a reload. It must give it back at the end the mute's notice names, and say so."""
    sam = room.open("sam")
    sam.fill("#text", "half a thought")
    room.as_moderator("POST", "/mutes", user_id="sam", duration_seconds=3)
    sam.locator("#composer").wait_for(state="hidden", timeout=10_000)
    sam.locator("#composer").wait_for(state="visible", timeout=8_000)
    assert sam.is_hidden("#readonly")
    assert sam.input_value("#text") == "half a thought"
    sam.locator("#toast", has_text="post again").wait_for(timeout=5_000)
    sam.press("#text", "Enter")
    sam.locator("li.msg:not(.pending)", has_text="half a thought").wait_for(timeout=10_000)
    assert room.errors == []


def test_a_token_of_another_user_signs_the_panel_in_afresh(room):
    """The host page signs another user in (a shared device, a log-out and log-in without a
    reload) and sends that user's token. The panel sent it as a refresh, which the server refuses
    for another user (4002): it dropped the token it had just been given and sat "signed out"
    asking for one; and given it again, it resumed with the first user's marks (their reactions,
    "You reported this") and draft. It must sign in afresh as the new user."""
    first = room.post("ana", "the ref is blind tonight", name="Ana")
    sam = room.open("sam", init_script="window.addEventListener('message', (e) => { (window.__got ||= []).push(e.data); });")
    msg = line(sam, first)
    msg.locator("button.add", has_text="👍").click()
    msg.locator("button.mine", has_text="👍 1").wait_for(timeout=10_000)
    msg.locator("button.report").click()
    msg.locator(".report-menu button").first.click()
    sam.locator("#toast", has_text="reported").wait_for(timeout=10_000)
    sam.fill("#text", "sam's draft")

    kim = room.token("kim", name="Kim")
    sam.evaluate("(token) => postMessage({type: 'sideline:token', token}, location.origin)", kim)
    sam.wait_for_function("() => document.getElementById('presence').title.includes('Kim')", timeout=10_000)
    sam.wait_for_selector('#panel[data-state="live"]', timeout=10_000)
    settle(sam)
    msg = line(sam, first)
    assert msg.locator("button.mine").count() == 0, "sam's reaction is not kim's"
    assert msg.locator("button.report").get_attribute("aria-label") == "Report the message from Ana"
    assert sam.input_value("#text") == "", "sam's draft is not left for kim"
    got = sam.evaluate("window.__got || []")
    assert not [m for m in got if isinstance(m, dict) and m.get("type") == "sideline:token-expired"], got
    sam.fill("#text", "kim here")
    sam.press("#text", "Enter")
    assert "Kim" in line(sam, room_message(sam, "kim here")).inner_text()
    assert room.errors == []


def room_message(page, text: str) -> str:
    """The id of the message ``text`` once ``page`` shows it (not its "sending…" line, which
    has no id: on a loaded machine that was all there was yet)."""
    loc = page.locator("li.msg:not(.pending)", has_text=text)
    loc.wait_for(timeout=10_000)
    return str(loc.get_attribute("data-id"))


def test_a_join_refused_for_a_passing_reason_is_tried_again_backing_off(room):
    """A join the server refuses for a passing reason (its log unavailable) is tried again on a
    new connection; with the backoff reset by every welcome, that was twice a second for as long
    as the refusals lasted. Here the route answers every join with that refusal for a while."""
    sockets: list[int] = []
    refusing = {"on": True}

    def route(ws: Any) -> None:
        sockets.append(1)
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if refusing["on"] and isinstance(message, str) and '"type":"join"' in message.replace(" ", ""):
                ws.send(json.dumps({"type": "error", "ref": "join", "room": room.name, "code": "log_unavailable",
                                    "message": "the log is unavailable; retry"}))  # fmt: skip
                return
            server.send(message)

        ws.on_message(to_server)

    sam = room.open("sam", route=route, live=False)
    sam.wait_for_timeout(6_000)
    tried = len(sockets)
    assert 2 <= tried <= 5, f"{tried} connections in 6 s"
    refusing["on"] = False
    sam.wait_for_selector('#panel[data-state="live"]', timeout=20_000)
    assert room.errors == []
