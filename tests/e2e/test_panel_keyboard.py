"""The embeddable panel with the keyboard alone, in headless Chromium: where the focus goes when
the control holding it goes away (WCAG 2.4.3 Focus Order), what a change of the room tells a
user who cannot see it (4.1.3 Status Messages), typing through an input method, and writing
right to left.

One server and one browser serve the whole module; each test uses a room of its own."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ANNOUNCED, focused, line, said, settle

pytestmark = pytest.mark.slow


def visible_focus(page) -> dict | None:
    """The focused control, provided it is one the user can see (a hidden one is focus lost)."""
    now = focused(page)
    return now if now and now["shown"] else None


def test_the_poll_form_gives_the_focus_back_to_its_button(room):
    """Escape, Cancel and "Start poll" close the form: the focus went to the page (Escape left
    it on the hidden question), so the next Tab started over from the top of the panel."""
    sid = room.open("sid", "speaker")
    for close in ("Escape", "Cancel", "Start poll"):
        sid.focus("#poll-new")
        sid.keyboard.press("Enter")
        assert (focused(sid) or {}).get("id") == "poll-question"
        if close == "Escape":
            sid.keyboard.press("Escape")
        elif close == "Cancel":
            sid.focus("#poll-cancel")
            sid.keyboard.press("Enter")
        else:
            sid.keyboard.type("Half-time score?")
            sid.keyboard.press("Tab")
            sid.keyboard.type("1-0")
            sid.keyboard.press("Tab")
            sid.keyboard.type("0-0")
            sid.keyboard.press("Enter")
            sid.locator(".poll", has_text="Half-time score?").wait_for(timeout=10_000)
        sid.locator("#poll-form").wait_for(state="hidden", timeout=10_000)
        settle(sid)
        now = visible_focus(sid)
        assert now and now["id"] == "poll-new", f"the focus after {close}: {now}"
    assert room.errors == []


def test_earlier_messages_keep_the_focus_in_the_log(room):
    """"Earlier messages" goes once nothing earlier is left: the focus on it went to the page."""
    ids = [room.post(f"u{i}", f"history {i}") for i in range(55)]  # 50 on join, 5 earlier
    sam = room.open("sam")
    line(sam, ids[-1])
    sam.focus("#older")
    sam.keyboard.press("Enter")
    line(sam, ids[0])
    sam.locator("#older").wait_for(state="hidden", timeout=10_000)
    settle(sam)
    now = visible_focus(sam)
    assert now and (now["id"] == "log" or now["message"]), f"the focus after the last page: {now}"
    assert room.errors == []


@pytest.mark.parametrize("mode", ["reactions-only", "closed"])
def test_a_room_that_stops_taking_posts_tells_the_writer(room, mode):
    """A moderator switches the room while sam is typing: the composer went away with the focus
    in it (the focus fell to the page) and nothing was said, so a screen-reader user typed on into
    nothing. The focus must go to the note that says why, and a user elsewhere in the panel hear
    it; when the room takes posts again the composer comes back with what was typed."""
    room.post("ana", "hello")
    sam = room.open("sam", init_script=ANNOUNCED)
    ann = room.open("ann", init_script=ANNOUNCED)
    sam.focus("#text")
    sam.keyboard.type("half a thou")
    still = room.post("bob", "still here")
    line(ann, still).locator("button.reply").focus()
    settle(ann, 2_500)
    said(sam), said(ann)
    room.settings(mode=mode)
    sam.locator("#composer").wait_for(state="hidden", timeout=10_000)
    settle(sam)
    now = visible_focus(sam)
    assert now and now["id"] == "readonly", f"the focus when the composer went: {now}"
    expected = "reactions only" if mode == "reactions-only" else "closed"
    assert expected in sam.text_content("#readonly").lower()
    settle(ann, 2_500)
    heard = [s["text"] for s in said(ann) if s["region"] == "heard"]
    assert len(heard) == 1 and expected in heard[0].lower(), heard
    now = visible_focus(ann)  # its ↩ went with the posts: a neighbour in the same message
    assert now and now["message"] == still, f"the focus of a user who was not writing: {now}"

    room.settings(mode="open")
    sam.locator("#composer").wait_for(state="visible", timeout=10_000)
    settle(sam)
    now = visible_focus(sam)
    assert now and now["id"] == "text", f"the focus when the composer came back: {now}"
    assert sam.input_value("#text") == "half a thou"
    assert room.errors == []


def test_enter_that_ends_an_input_method_composition_does_not_send(room):
    """Japanese, Chinese or Korean typed through an input method: Enter confirms the conversion
    (the key event says isComposing). The panel sent the half-made text instead."""
    sam = room.open("sam")
    sam.focus("#text")
    cdp = sam.context.new_cdp_session(sam)
    try:
        cdp.send("Input.imeSetComposition", {"text": "にほん", "selectionStart": 3, "selectionEnd": 3})
        for kind in ("rawKeyDown", "keyUp"):
            cdp.send("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                "windowsVirtualKeyCode": 13})  # fmt: skip
        cdp.send("Input.insertText", {"text": "日本"})  # the conversion is committed
    finally:
        cdp.detach()
    settle(sam)
    assert sam.locator("li.msg").count() == 0, "nothing was sent"
    assert sam.input_value("#text") == "日本"
    sam.keyboard.press("Enter")  # an Enter outside a composition sends
    sam.locator("li.msg:not(.pending)", has_text="日本").wait_for(timeout=10_000)
    assert room.errors == []


def test_text_being_written_right_to_left_reads_right_to_left(room):
    """The composer and the poll form's fields take the direction of what is typed (dir=auto):
    an Arabic or Hebrew sentence ending in "!" or "?" was drawn left to right, the mark on the
    wrong side, and left-aligned. A poll's question is isolated like any user text."""
    room.poll("من سيفوز الليلة!", ["الأول", "الثاني"])
    sid = room.open("sid", "speaker")
    sid.fill("#text", "مرحبا بالجميع!")
    assert sid.evaluate("document.getElementById('text').matches(':dir(rtl)')"), "the composer reads RTL"
    sid.locator("#poll-new").click()
    sid.fill("#poll-question", "من سيفوز؟")
    sid.locator("#poll-options input").first.fill("الأول!")
    for field in ("#poll-question", "#poll-options input"):
        assert sid.locator(field).first.evaluate("(e) => e.matches(':dir(rtl)')"), field
    title = sid.locator(".poll h4").first
    assert title.evaluate("(h) => !!h.querySelector('bdi, [dir=auto]') || h.dir === 'auto'"), "the question is isolated"
    # drawn right to left: the "!" ends the question on its left
    pos = title.evaluate("""(h) => { const t = h.querySelector('bdi, [dir=auto]') || h, n = t.firstChild;
        const at = (i) => { const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 1); return r.getBoundingClientRect().left; };
        return {first: at(0), bang: at(n.data.indexOf('!'))}; }""")
    assert pos["bang"] < pos["first"], pos
    assert room.errors == []


def test_the_composer_counts_characters_as_the_server_does_and_never_cuts_silently(room):
    """The room allows 40 characters (the server counts code points). The composer's maxlength
    counted UTF-16 units, so 30 emoji were cut to 20 as they were pasted, and a pasted text too
    long was cut short without a word (and sent so). The whole text must stay, the composer say
    how many characters are too many, and Enter not send it until it fits."""
    room.settings(max_message_length=40)
    sam = room.open("sam")
    sam.focus("#text")
    sam.keyboard.insert_text("😀" * 30)  # as a paste or an input method puts it (2 UTF-16 units each)
    assert sam.input_value("#text") == "😀" * 30
    sam.keyboard.press("Enter")
    sam.locator("li.msg:not(.pending)", has_text="😀" * 30).wait_for(timeout=10_000)

    long = "What a match this has been, honestly the best one all season"
    too_many = len(long) - 40
    sam.keyboard.insert_text(long)
    assert sam.input_value("#text") == long, "not cut short"
    described = sam.evaluate("""() => (document.getElementById('text').getAttribute('aria-describedby') || '').split(' ')
        .map((id) => document.getElementById(id)).filter(Boolean).map((e) => e.textContent).join(' ')""")
    assert f"{too_many} characters too many" in described, described
    sam.keyboard.press("Enter")
    settle(sam)
    assert sam.locator("li.msg", has_text="best one all season").count() == 0
    assert sam.input_value("#text") == long
    assert "too many" in (sam.text_content("#toast") or ""), sam.text_content("#toast")
    assert room.errors == []


def test_the_message_box_is_a_tab_or_two_away_not_hundreds(room):
    """Every message brings six or so controls (reactions, ↩, ⚑) into the tab order: with the 50
    messages of the join, a keyboard user entering the panel pressed Tab more than 300 times to
    reach the message box. The first Tab must offer a way past them (WCAG 2.4.1 Bypass Blocks),
    visible when focused (2.4.7)."""
    ids = [room.post(f"u{i}", f"history {i}") for i in range(50)]
    sam = room.open("sam")
    line(sam, ids[-1])
    sam.evaluate("document.activeElement && document.activeElement.blur()")
    for presses in range(1, 6):
        sam.keyboard.press("Tab")
        now = focused(sam) or {}
        if now.get("id") == "text":
            break
        if now.get("tag") == "BUTTON" and "message box" in (now.get("text") or "").lower():
            box = sam.evaluate("() => { const r = document.activeElement.getBoundingClientRect(); return [r.width, r.height]; }")
            assert box[0] > 24 and box[1] >= 20, f"the skip control is seen when focused: {box}"
            sam.keyboard.press("Enter")
            presses += 1
            break
    now = focused(sam)
    assert now and now["id"] == "text", f"after {presses} key presses the focus is on {now}"
    sam.keyboard.type("made it")
    sam.keyboard.press("Enter")
    sam.locator("li.msg:not(.pending)", has_text="made it").wait_for(timeout=10_000)
    assert room.errors == []


def test_a_poll_option_as_long_as_the_form_takes_is_accepted(room):
    """The form took options of up to 100 characters, the server 80: a longer one was refused with
    the schema's own words ("Expected `str` of length <= 80 - at `$.options[0]`")."""
    sid = room.open("sid", "speaker")
    sid.locator("#poll-new").click()
    sid.fill("#poll-question", "Best chant tonight?")
    options = sid.locator("#poll-options input")
    options.nth(0).focus()
    sid.keyboard.insert_text("We love you, we do, oh we love you, we do, we love you, we do, oh reds we love you")
    options.nth(1).fill("Another one")
    sid.locator("#poll-create").click()
    sid.locator(".poll", has_text="Best chant tonight?").wait_for(timeout=10_000)
    assert "Expected" not in (sid.text_content("#toast") or "")
    assert room.errors == []


def test_a_poll_form_closed_by_the_room_keeps_the_focus_in_the_panel(room):
    """The speaker is writing a poll when a moderator switches the room to reactions only: the
    form (and + Poll) went with the focus in them, to the page."""
    sid = room.open("sid", "speaker")
    sid.locator("#poll-new").click()
    sid.keyboard.type("Man of the match?")
    room.settings(mode="reactions-only")
    sid.locator("#poll-form").wait_for(state="hidden", timeout=10_000)
    settle(sid)
    now = visible_focus(sid)
    assert now and now["id"] in ("log", "readonly"), f"the focus when the form went: {now}"
    assert room.errors == []


def test_after_send_the_focus_is_back_in_the_message_box(room):
    """Send used with the keyboard (Tab to it, Enter) left the focus on Send, so the next message
    needed Shift+Tab first; tapped on a phone, Send took the focus from the message box and the
    on-screen keyboard closed after every message."""
    sam = room.open("sam")
    sam.focus("#text")
    sam.keyboard.type("first, sent with the button")
    sam.keyboard.press("Tab")
    assert (focused(sam) or {}).get("id") == "send"
    sam.keyboard.press("Enter")
    sam.locator("li.msg:not(.pending)", has_text="first, sent with the button").wait_for(timeout=10_000)
    assert (focused(sam) or {}).get("id") == "text", focused(sam)
    sam.keyboard.type("second")
    sam.locator("#send").click()  # a pointer: the message box keeps the focus throughout
    sam.locator("li.msg:not(.pending)", has_text="second").wait_for(timeout=10_000)
    assert (focused(sam) or {}).get("id") == "text", focused(sam)
    assert room.errors == []
