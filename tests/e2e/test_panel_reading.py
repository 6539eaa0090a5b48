"""Reading the chat in the embeddable panel, in headless Chromium: where the log stays when
messages arrive or the frame's layout changes, and how a reader scrolled up learns that new
messages came.

One server and one browser serve the whole module; each test uses a room of its own."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import ANNOUNCED, focused, line, settle

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


def test_who_said_what_is_told_apart_by_assistive_technology(room):
    """The name and the text of a message were apart on screen only (a margin): a screen reader
    read "Anaanyone watching?" as one word, "MODERATORBoss", and "tonight(masked)". The same in
    the pinned bar."""
    first = room.post("ana", "anyone watching?", name="Ana")
    room.as_moderator("POST", "/messages", client_msg_id="boss-1", text="Keep it friendly")
    room.post("ben", "call me on 07700 900123 tonight", name="Ben")
    room.as_moderator("POST", "/pin", message_id=first)
    sam = room.open("sam")
    sam.locator("li.msg", has_text="tonight").wait_for(timeout=10_000)
    sam.locator("#pinned .text").wait_for(timeout=10_000)
    tree = sam.locator("#messages").aria_snapshot() + "\n" + sam.locator("#pinned").aria_snapshot()
    for joined in ("Anaanyone", "MODERATORBoss", "moderatorBoss", "tonight(masked)", "Benc"):
        assert joined not in tree, (joined, tree)
    for read in ("Ana: anyone watching?", "Boss: Keep it friendly", "Ben: call me on", "tonight (masked)"):
        assert read in tree, (read, tree)
    assert room.errors == []


def test_a_long_name_typing_stays_inside_a_narrow_frame(room):
    """At 320 px "<a 64-character name> is typing…" ran past the frame's edge and the whole
    panel scrolled sideways (WCAG 1.4.10 Reflow); "is typing…" must stay in view."""
    sam = room.open("sam", width=320)
    eve = room.open("eve", name="N" * 64)
    eve.fill("#text", "hel")
    eve.keyboard.type("lo")
    sam.locator("#typing", has_text="typing").wait_for(timeout=10_000)
    got = sam.evaluate("""() => { const t = document.getElementById('typing'), r = document.createRange();
        const node = [...t.querySelectorAll('*'), t].flatMap((e) => [...e.childNodes]).find((n) => n.nodeType === 3 && n.data.includes('typing'));
        r.selectNodeContents(node);
        return {doc: document.documentElement.scrollWidth, right: r.getBoundingClientRect().right}; }""")
    assert got["doc"] <= 320 and got["right"] <= 320, got
    assert room.errors == []


# Every button the user can see, with its size (one out of sight until focused, as it is focused).
BUTTONS = """() => [...document.querySelectorAll('button')].filter((b) => b.offsetParent && getComputedStyle(b).visibility !== 'hidden')
  .map((b) => { const unseen = getComputedStyle(b).clipPath !== 'none', was = document.activeElement;
    if (unseen) b.focus();
    const r = b.getBoundingClientRect();
    if (unseen) { b.blur(); if (was && was !== document.body) was.focus(); }
    return {what: b.getAttribute('aria-label') || b.textContent.trim().slice(0, 30) || b.className, w: r.width, h: r.height}; })"""


@pytest.mark.parametrize("role", ["user", "moderator"])
def test_every_button_is_at_least_24_px_square(room, role):
    """WCAG 2.2 2.5.8 Target Size (Minimum), AA: reactions, ↩, ⚑, 🗑, 🔇, 📌 and the ✕s were 16 px
    high, rows of them 3 px apart when they wrap at 320 px: hard to hit for a tremor, on a
    phone."""
    first = room.post("ana", "Kick-off in five", name="Ana")
    room.post("ben", "ready", reply_to=first)
    room.react("ben", first, "🔥")
    room.poll("Who wins?", ["Home", "Away"])
    room.as_moderator("POST", "/pin", message_id=first)
    page = room.open("mo" if role == "moderator" else "sam", role, width=320)
    msg = line(page, first)
    page.locator("#pinned .text").wait_for(timeout=10_000)
    msg.locator("button.reply").click()  # the "Replying to …" bar and its ✕
    page.evaluate("""() => { const t = document.getElementById('toast'); t.textContent = 'a notice';
        document.getElementById('toast-close').hidden = false; }""")
    if role == "moderator":
        page.locator("#review-toggle").click()
        page.locator("#poll-new").click()
    else:
        line(page, first).locator("button.report").click()  # the reasons
        page.locator(".report-menu").wait_for(timeout=10_000)
    settle(page)
    small = [b for b in page.evaluate(BUTTONS) if b["w"] < 24 or b["h"] < 24]
    assert small == [], "\n".join(f"{b['what']}: {b['w']:.0f} x {b['h']:.0f}" for b in small)
    assert room.errors == []


def test_an_announcement_cut_short_never_splits_a_character(room):
    """A new message is announced cut at 200 characters (UTF-16 units, before): an emoji or a
    family across the cut left half a surrogate pair or a broken sequence, read as garbage."""
    family = "👨\u200d👩\u200d👧\u200d👦"
    sam = room.open("sam", init_script=ANNOUNCED)
    words = ("the keeper was brilliant tonight and our midfield pressed high while the striker kept "
             "running at their defence until the final whistle blew at last, what a game it was for "
             "everyone who watched it here with us")  # fmt: skip
    for text in (words[:198] + "😀 yes", words[:195] + family + " all of us"):
        room.post("ana", text, name="Ana")
        sam.locator("li.msg", has_text=text[-8:]).wait_for(timeout=10_000)
        settle(sam, 2_200)
    got = sam.evaluate("""(family) => window.__said.filter((s) => s.region === 'heard').map((s) => {
        const cut = s.text.replace(/^Ana: /, '').replace(/…$/, '');
        return {cut, lone: /[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]/.test(cut),
                broken: cut.includes('\\u200d') && !cut.includes(family) || cut.endsWith('\\u200d')}; })""", "👨\u200d👩\u200d👧\u200d👦")
    assert len(got) == 2 and not any(g["lone"] or g["broken"] for g in got), got
    assert room.errors == []


def test_a_poll_with_long_unbroken_words_wraps_at_320_px(room):
    """A question or an option without spaces (a link, a long name) ran past the poll's edge: the
    polls scrolled sideways and the options were cut off unreadable (WCAG 1.4.10 Reflow)."""
    room.poll("Who wins? " + "Q" * 150, ["https://example.com/" + "a" * 60, "B" * 80])
    sam = room.open("sam", width=320)
    sam.locator(".poll").wait_for(timeout=10_000)
    got = sam.evaluate("""() => { const polls = document.getElementById('polls');
        return {polls: polls.scrollWidth - polls.clientWidth,
                parts: [...document.querySelectorAll('.poll h4, .poll button')].map((e) => {
                  const b = e.getBoundingClientRect(), inner = e.querySelector('.label, bdi') || e, r = inner.getBoundingClientRect();
                  return {text: inner.textContent.slice(0, 20), over: Math.round(r.right - b.right)}; })}; }""")
    assert got["polls"] <= 0 and all(p["over"] <= 0 for p in got["parts"]), got
    assert room.errors == []


def test_the_new_messages_cue_never_hides_the_focused_control(room):
    """The cue lies over the bottom of the log; tabbing down through the messages scrolled each
    control just into the log's view, up to half of it under the cue (WCAG 2.4.12, AAA: none of
    it; 2.4.11 asks only that it is not hidden entirely)."""
    ids = [room.post(f"u{i}", f"history {i}") for i in range(30)]
    sam = room.open("sam", width=360, height=520)
    line(sam, ids[-1])
    sam.evaluate("document.getElementById('log').scrollTop = 0")
    settle(sam)
    room.post("ana", "news one")
    sam.locator("#unread").wait_for(state="visible", timeout=10_000)
    sam.focus("#log")
    hidden = []
    for _ in range(60):
        sam.keyboard.press("Tab")
        got = sam.evaluate("""() => { const a = document.activeElement, cue = document.getElementById('unread');
            if (!a.closest('#log') || cue.hidden) return null;
            const r = a.getBoundingClientRect(), c = cue.getBoundingClientRect();
            const covered = Math.max(0, Math.min(r.right, c.right) - Math.max(r.left, c.left))
                          * Math.max(0, Math.min(r.bottom, c.bottom) - Math.max(r.top, c.top));
            return {what: a.getAttribute('aria-label'), covered: covered / (r.width * r.height)}; }""")
        if got and got["covered"] > 0:
            hidden.append(got)
    assert hidden == [], hidden
    assert room.errors == []


def test_a_resync_takes_the_new_messages_cue_with_the_messages(room):
    """A resync drops the room's messages (a full join follows): the cue kept counting messages
    no longer shown. The route here passes everything and lets the test speak for the server."""
    pages: list = []

    def route(ws) -> None:
        pages.append(ws)
        ws.connect_to_server()

    ids = [room.post(f"u{i}", f"history {i}") for i in range(30)]
    sam = room.open("sam", route=route)
    line(sam, ids[-1])
    sam.evaluate("document.getElementById('log').scrollTop = 0")
    settle(sam)
    room.post("ana", "news one")
    sam.locator("#unread").wait_for(state="visible", timeout=10_000)
    pages[-1].send(json.dumps({"type": "resync", "room": room.name, "reason": "test"}))
    sam.locator("li.msg").first.wait_for(state="detached", timeout=10_000)
    assert sam.locator("#unread").is_hidden(), sam.locator("#unread").inner_text()
    assert room.errors == []
