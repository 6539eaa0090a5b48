"""Reading the chat in the embeddable panel, in headless Chromium: where the log stays when
messages arrive or the frame's layout changes, and how a reader scrolled up learns that new
messages came.

One server and one browser serve the whole module; each test uses a room of its own."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import focused, line, settle

pytestmark = pytest.mark.slow

# Where the log is scrolled to, and which messages are drawn inside its visible part.
LOG = """() => { const l = document.getElementById('log'), box = l.getBoundingClientRect();
  const seen = [...document.querySelectorAll('li.msg')].filter((li) => { const r = li.getBoundingClientRect();
    return r.top >= box.top - 1 && r.bottom <= box.bottom + 1; });
  return {gap: l.scrollHeight - l.scrollTop - l.clientHeight, top: l.scrollTop,
          seen: seen.map((li) => li.querySelector('.text').textContent)}; }"""


def log_state(page) -> dict:
    return page.evaluate(LOG)


def test_a_reader_at_the_bottom_keeps_seeing_new_messages_when_the_log_shrinks(room):
    """A poll or a pinned message appears above the log, which gets shorter: the reader who was
    following the chat at its bottom must still see the messages that arrive next (the panel
    stopped following once the log had shrunk by 40 px, so new messages arrived out of sight)."""
    ids = [room.post(f"u{i}", f"history {i}") for i in range(40)]
    sam = room.open("sam")
    line(sam, ids[-1])
    settle(sam)
    assert log_state(sam)["gap"] < 2, log_state(sam)

    room.poll("Who wins tonight?", ["Home", "Away", "Draw"])
    sam.locator(".poll").wait_for(timeout=10_000)
    room.as_moderator("POST", "/pin", message_id=ids[5])
    sam.locator("#pinned .text").wait_for(timeout=10_000)
    settle(sam)
    room.post("ana", "a new one after the poll")
    sam.locator("li.msg", has_text="a new one after the poll").wait_for(timeout=10_000)
    settle(sam)
    got = log_state(sam)
    assert "a new one after the poll" in got["seen"] and got["gap"] < 2, got
    assert room.errors == []


def test_a_reader_scrolled_up_is_not_moved_and_is_told_of_new_messages(room):
    """Scrolled up to read, the reader stays where they are when messages arrive, and a cue at
    the bottom of the log says how many came; it takes them down to the latest (the focus on the
    log, not lost), and goes once they are at the bottom."""
    ids = [room.post(f"u{i}", f"history {i}") for i in range(40)]
    sam = room.open("sam")
    line(sam, ids[-1])
    sam.evaluate("document.getElementById('log').scrollTop = 0")
    settle(sam)
    before = log_state(sam)
    assert before["top"] == 0 and "history 0" in before["seen"], before
    cue = sam.locator("#unread")
    assert cue.count() == 0 or cue.is_hidden(), "no cue before anything new"

    room.post("ana", "news one")
    room.post("ben", "news two")
    sam.locator("li.msg", has_text="news two").wait_for(timeout=10_000)
    settle(sam)
    now = log_state(sam)
    assert now["top"] == 0 and now["seen"] == before["seen"], (before, now)
    cue.wait_for(state="visible", timeout=5_000)
    assert "2 new messages" in cue.inner_text(), cue.inner_text()
    box, log = cue.bounding_box(), sam.locator("#log").bounding_box()
    assert box and log and log["y"] < box["y"] < log["y"] + log["height"], "the cue is at the log's bottom"

    cue.focus()
    sam.keyboard.press("Enter")
    cue.wait_for(state="hidden", timeout=5_000)
    settle(sam)
    got = log_state(sam)
    assert "news two" in got["seen"] and got["gap"] < 2, got
    now_focus = focused(sam)
    assert now_focus and now_focus["id"] == "log", f"the focus after the cue: {now_focus}"

    sam.evaluate("document.getElementById('log').scrollTop = 0")  # up again, one more, then down by hand
    settle(sam)
    room.post("cid", "news three")
    cue.wait_for(state="visible", timeout=10_000)
    assert "1 new message" in cue.inner_text() and "messages" not in cue.inner_text(), cue.inner_text()
    sam.evaluate("const l = document.getElementById('log'); l.scrollTop = l.scrollHeight")
    cue.wait_for(state="hidden", timeout=5_000)
    assert room.errors == []
