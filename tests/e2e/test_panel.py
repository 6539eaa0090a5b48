"""The embeddable panel in headless Chromium: two users, a message, a moderator's delete,
reactions up to the per-user cap, the user's own reactions after a reload or a lost answer,
a moderator's review queue of held messages."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import passed_through, record_states, settle
from tests.fixtures.server import ServerProcess, free_port

pytestmark = pytest.mark.slow

ENV = {"SIDELINE_MODERATION__ENABLED": "true", "SIDELINE_CROWD_CONTROL__ENABLED": "false"}


@contextlib.contextmanager
def own_server(tmp_path: Path, **env: str) -> Iterator[ServerProcess]:
    """A server for one test, with ``env`` over the panel tests' settings."""
    proc = ServerProcess(tmp_path / "data", env={**ENV, **env}).start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with own_server(tmp_path) as proc:
        yield proc


def open_panel(
    browser, server: ServerProcess, user: str, role: str, errors: list[str], sent=None, clock=False,
    ws_route=None,
):  # fmt: skip
    """The panel signed in as ``user``; the frames it sends are appended to ``sent`` if given.
    With ``clock`` the page's timers run on Playwright's clock (``page.clock.fast_forward``);
    ``ws_route`` handles the page's WebSockets (``page.route_web_socket``)."""
    context = browser.new_context(viewport={"width": 420, "height": 640})
    page = context.new_page()
    if clock:
        page.clock.install()
    if ws_route is not None:
        page.route_web_socket(re.compile(r"/v1/ws"), ws_route)
    page.on("pageerror", lambda exc: errors.append(f"{user}: {exc}"))
    page.on("console", lambda m: errors.append(f"{user}: {m.text}") if m.type == "error" else None)
    if sent is not None:
        page.on("websocket", lambda ws: ws.on("framesent", lambda d: sent.append(json.loads(d))))
    token = server.token(user, "match:1", role, name=user.title())
    page.goto(f"{server.url}/embed?room=match:1#token={token}")
    page.wait_for_selector('#panel[data-state="live"]', timeout=10_000)
    assert "token=" not in page.url, "the panel drops the token from its URL"
    return page


def shown(page, text: str):
    """The line of the message ``text`` once ``page`` shows it (not the "sending…" line of a
    send of its own, ``li.msg.pending``, there before the server has even answered)."""
    line = page.locator("li.msg:not(.pending)", has_text=text)
    line.wait_for(timeout=10_000)
    return line


def test_message_appears_for_the_other_user_and_a_moderator_deletes_it(browser, server, artifacts):
    errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", errors)
    mod = open_panel(browser, server, "mo", "moderator", errors)
    fan.fill("#text", "What a strike! <b>not bold</b>")
    fan.press("#text", "Enter")
    line = shown(mod, "What a strike!")
    assert line.locator(".text").inner_text() == "What a strike! <b>not bold</b>"  # text, not HTML
    assert fan.locator("li.msg", has_text="What a strike!").count() == 1
    assert fan.locator("li.msg .delete").count() == 0, "no moderator tools for a fan"
    mod.locator("#presence", has_text="👥 2").wait_for(timeout=10_000)
    fan.screenshot(path=str(artifacts / "panel-fan-message.png"))
    mod.screenshot(path=str(artifacts / "panel-moderator-before-delete.png"))
    line.locator("button.delete").click()
    for page in (mod, fan):
        page.locator("li.msg", has_text="What a strike!").wait_for(state="detached", timeout=10_000)
    fan.screenshot(path=str(artifacts / "panel-fan-after-delete.png"))
    assert errors == []


def test_reactions_only_mode_hides_the_composer(browser, server, artifacts):
    errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", errors)
    assert fan.locator("#composer").is_visible()
    r = httpx.put(f"{server.url}/v1/admin/rooms/match:1", json={"mode": "reactions-only"},
                  headers={"X-Admin-Key": server.admin_key()})  # fmt: skip
    assert r.status_code == 200, r.text
    fan.locator("#composer").wait_for(state="hidden", timeout=10_000)
    assert "Reactions only" in fan.locator("#readonly").inner_text()
    assert fan.locator("#crowd").is_visible()
    fan.screenshot(path=str(artifacts / "panel-reactions-only.png"))
    assert errors == []


def post(server: ServerProcess, user: str, text: str) -> str:
    """``user`` posts ``text`` to match:1 over HTTP; its message id."""
    r = httpx.post(f"{server.url}/v1/rooms/match:1/messages", headers=bearer(server, user),
                   json={"client_msg_id": uuid.uuid4().hex, "text": text})  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["message_id"])


def react(server: ServerProcess, user: str, message_id: str, emoji: str) -> None:
    """``user`` reacts over HTTP, as from another device: the panel is not told whose it is."""
    r = httpx.post(f"{server.url}/v1/rooms/match:1/messages/{message_id}/reactions",
                   headers=bearer(server, user), json={"emoji": emoji})  # fmt: skip
    assert r.status_code == 200, r.text


def bearer(server: ServerProcess, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token(user, 'match:1', 'user', name=user.title())}"}


def button(line, cls: str, emoji: str):
    """The reaction button of ``emoji`` on a message line: ``add`` (no count yet) or ``chip``."""
    return line.locator(f"button.{cls}", has_text=emoji)


def marked_mine(btn) -> bool:
    """Does the panel show the reaction button as the user's own?"""
    return "mine" in (btn.get_attribute("class") or "")


def taps(sent: list[dict], message_id: str) -> list[tuple[str, bool | None]]:
    """(emoji, remove) of every ``react`` the panel sent for ``message_id``."""
    return [(f["emoji"], f.get("remove")) for f in sent if f.get("message_id") == message_id]


def test_three_reactions_disable_the_fourth_until_one_is_removed(browser, server, artifacts):
    errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", errors)
    post(server, "ann", "first")
    line = shown(fan, "first")
    for emoji in ("👍", "🔥", "😂"):
        button(line, "add", emoji).click()
        line.locator("button.chip.mine", has_text=f"{emoji} 1").wait_for(timeout=10_000)
    line.locator('button.add[aria-disabled="true"]', has_text="😮").wait_for(timeout=10_000)
    assert button(line, "add", "😮").is_disabled(), "a fourth reaction is past the cap of 3"
    mine = line.locator("button.chip.mine").all()
    assert len(mine) == 3 and not any(b.is_disabled() for b in mine), "removing one stays possible"
    fan.screenshot(path=str(artifacts / "panel-reaction-cap.png"))
    button(line, "chip", "😂").click()  # remove one: the others may be added again
    line.locator('button.add:not([aria-disabled="true"])', has_text="😮").wait_for(timeout=10_000)
    assert not button(line, "add", "😂").is_disabled()
    assert errors == []


def test_a_refused_reaction_is_not_shown_as_mine(browser, server, artifacts):
    """Three reactions from another device while the panel is open: it cannot know they are
    sam's (live frames carry counts, not whose; only the next ``joined`` says), so it offers a
    fourth; the server refuses it, and the panel must neither show it as sam's nor send a
    "remove" on the next tap."""
    errors: list[str] = []
    sent: list[dict] = []
    fan = open_panel(browser, server, "sam", "user", errors, sent)
    message_id = post(server, "ann", "second")
    line = shown(fan, "second")
    for emoji in ("👍", "🔥", "😂"):
        react(server, "sam", message_id, emoji)
    button(line, "chip", "😂 1").wait_for(timeout=10_000)
    button(line, "add", "😮").click()
    fan.locator("#toast", has_text="reactions on this message already").wait_for(timeout=10_000)
    assert not marked_mine(button(line, "add", "😮"))
    react(server, "bo", message_id, "😮")  # a count arrives and the message is drawn again
    chip = button(line, "chip", "😮 1")
    chip.wait_for(timeout=10_000)
    assert not marked_mine(chip), "the refused reaction is not sam's"
    fan.evaluate("document.getElementById('toast').textContent = ''")
    chip.click()  # sam has no 😮 here: the tap must add (and be refused again), not remove
    fan.locator("#toast", has_text="reactions on this message already").wait_for(timeout=10_000)
    assert taps(sent, message_id) == [("😮", False), ("😮", False)], sent
    button(line, "chip", "👍 1").click()  # sam's from the other device: the add changes nothing
    line.locator("button.chip.mine", has_text="👍 1").wait_for(timeout=10_000)  # and marks it
    fan.screenshot(path=str(artifacts / "panel-reaction-refused.png"))
    assert errors == []


def reload(page, server: ServerProcess, user: str) -> None:
    """Load the panel afresh, as a reload with a new token does (the first one left its URL)."""
    page.goto("about:blank")
    token = server.token(user, "match:1", "user", name=user.title())
    page.goto(f"{server.url}/embed?room=match:1#token={token}")
    page.wait_for_selector('#panel[data-state="live"]', timeout=10_000)


def test_the_users_own_reactions_are_marked_after_a_reload(browser, server, artifacts):
    """After a reload the panel knows which reactions are sam's (the server's ``joined`` says),
    also one added on another device: they are marked, count towards the cap (the other
    emoji cannot be added), and a tap on one removes it."""
    errors: list[str] = []
    sent: list[dict] = []
    fan = open_panel(browser, server, "sam", "user", errors, sent)
    message_id = post(server, "ann", "react before the reload")
    line = shown(fan, "react before the reload")
    button(line, "add", "👍").click()
    line.locator("button.chip.mine", has_text="👍 1").wait_for(timeout=10_000)
    react(server, "sam", message_id, "🔥")  # another device
    react(server, "sam", message_id, "😂")
    react(server, "bo", message_id, "👍")
    react(server, "bo", message_id, "😮")
    button(line, "chip", "😮 1").wait_for(timeout=10_000)

    reload(fan, server, "sam")
    line = shown(fan, "react before the reload")
    button(line, "chip", "😮 1").wait_for(timeout=10_000)
    mine = sorted(b.inner_text() for b in line.locator("button.chip.mine").all())
    assert mine == sorted(["👍 2", "🔥 1", "😂 1"]), mine
    assert not marked_mine(button(line, "chip", "😮")), "bo's only"
    assert button(line, "chip", "😮").is_disabled(), "three of sam's: a fourth is past the cap"
    assert not any(b.is_disabled() for b in line.locator("button.chip.mine").all())
    fan.screenshot(path=str(artifacts / "panel-reactions-after-reload.png"))
    sent.clear()
    button(line, "chip", "🔥").click()  # sam's, from the other device: the tap removes it
    line.locator("button.add:not(.mine)", has_text="🔥").wait_for(timeout=10_000)  # count 0
    assert button(line, "chip", "😮").is_enabled(), "two of sam's left: under the cap"
    assert taps(sent, message_id) == [("🔥", True)], sent
    r = httpx.get(f"{server.url}/v1/rooms/match:1/messages", headers=bearer(server, "sam"))
    assert r.json()["mine"] == {message_id: ["👍", "😂"]}
    assert errors == []


def test_taps_lost_with_their_socket_are_corrected_by_the_next_joined(browser, server, artifacts):
    """A tap marks the reaction at once; when the socket closes before the server answers, the
    reaction may never have been recorded. Here two were not (the server was frozen, then killed
    with the frames unread), one on a message where sam has a recorded reaction and one on a
    message without any of sam's (``joined.mine`` does not name it): after the panel reconnects,
    both marks go and the recorded reaction stays marked."""
    errors: list[str] = []
    sent: list[dict] = []
    fan = open_panel(browser, server, "sam", "user", errors, sent)
    kept = post(server, "ann", "recorded before")
    lost = post(server, "ann", "tap while the server is away")
    first = fan.locator("li.msg", has_text="recorded before")
    line = shown(fan, "tap while the server is away")
    button(first, "add", "🔥").click()
    first.locator("button.chip.mine", has_text="🔥 1").wait_for(timeout=10_000)  # recorded
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        button(first, "add", "😂").click()  # the frames reach a process that never reads them
        button(line, "add", "👍").click()
        first.locator("button.add.mine", has_text="😂").wait_for(timeout=10_000)
        line.locator("button.add.mine", has_text="👍").wait_for(timeout=10_000)
    finally:
        server.kill()  # SIGKILL: the unread frames die with the process
    fan.wait_for_selector('#panel[data-state="connecting"]', timeout=10_000)
    server.start()  # same data and port: the panel reconnects and resumes
    fan.wait_for_selector('#panel[data-state="live"]', timeout=20_000)
    first.locator("button.chip.mine", has_text="🔥 1").wait_for(timeout=10_000)
    first.locator("button.add:not(.mine)", has_text="😂").wait_for(timeout=10_000)
    line.locator("button.add:not(.mine)", has_text="👍").wait_for(timeout=10_000)
    r = httpx.get(f"{server.url}/v1/rooms/match:1/messages", headers=bearer(server, "sam"))
    assert r.json()["mine"] == {kept: ["🔥"]}, "the lost taps were not recorded"
    fan.screenshot(path=str(artifacts / "panel-lost-taps-corrected.png"))
    sent.clear()
    button(line, "add", "👍").click()  # not sam's: the tap adds it (not a remove)
    line.locator("button.chip.mine", has_text="👍 1").wait_for(timeout=10_000)
    reacts = [(f["message_id"], f["emoji"], f.get("remove")) for f in sent if f["type"] == "react"]
    assert reacts == [(lost, "👍", False)], reacts
    refused = "WebSocket connection to"  # Chromium logs the reconnects the stopped server refused
    assert [e for e in errors if refused not in e] == []


def test_the_reaction_cap_is_the_servers(browser, tmp_path):
    with own_server(tmp_path, SIDELINE_REACTIONS__MAX_PER_USER_PER_MESSAGE="1") as server:
        errors: list[str] = []
        fan = open_panel(browser, server, "sam", "user", errors)
        post(server, "ann", "only one each")
        line = shown(fan, "only one each")
        button(line, "add", "🔥").click()
        line.locator("button.chip.mine", has_text="🔥 1").wait_for(timeout=10_000)
        line.locator('button.add[aria-disabled="true"]').nth(2).wait_for(timeout=10_000)
        assert [b.is_disabled() for b in line.locator("button.add").all()] == [True, True, True]
        assert not button(line, "chip", "🔥").is_disabled()
        assert errors == []


def test_demo_page_hands_the_token_over_postmessage(browser, tmp_path, artifacts):
    """The demo page hands a token to the panel, which goes live among the bots; and the demo's
    output is in one log format (the demo page's app once put Litestar's own on the service's
    lines once it started)."""
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "demo", "--port", str(port), "--data-dir",
         str(tmp_path / "demo"), "--seconds-per-minute", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = None
        output: list[str] = []
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = demo.stdout.readline()
            output.append(line)
            if m := re.search(r"open (http://\S+)", line):
                url = m.group(1)
        assert url, "sideline demo printed no URL"
        page = browser.new_page(viewport={"width": 1200, "height": 760})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        panel = page.frame_locator("#panel")
        panel.locator('#panel[data-state="live"]').wait_for(timeout=15_000)
        panel.locator("li.msg").first.wait_for(timeout=15_000)  # the bots are chatting
        panel.locator("#text").fill("Hello from the demo page")
        panel.locator("#text").press("Enter")
        shown(panel, "Hello from the demo page")
        assert panel.locator(".poll").count() >= 1
        page.screenshot(path=str(artifacts / "demo-page.png"))
        assert errors == []
    finally:
        demo.terminate()
        demo.wait(20)
    output.append(demo.stdout.read())
    litestar_format = re.compile(r"^[A-Z]+ - \d{4}-\d\d-\d\d ", re.M)
    assert not litestar_format.findall("".join(output)), "".join(output)[-3000:]


def queue_requests(page) -> list[str]:
    """The methods of the review-queue requests ``page`` makes from now on (GETs, and POSTs of
    decisions), appended as they go out."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.method) if "/review" in r.url else None)
    return seen


def review_item(page, text: str):
    """The review-queue entry of the held or reported message ``text`` once ``page`` lists it."""
    item = page.locator("#review li.review-item", has_text=text)
    item.wait_for(timeout=10_000)
    return item


def send(page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def boss(server: ServerProcess) -> dict[str, str]:
    """The headers of another moderator, who uses the HTTP API."""
    return {"Authorization": f"Bearer {server.token('boss', 'match:1', 'moderator', name='Boss')}"}


def queued(server: ServerProcess) -> list[dict]:
    """The room's review queue as the HTTP API has it."""
    r = httpx.get(f"{server.url}/v1/rooms/match:1/review-queue", headers=boss(server))
    assert r.status_code == 200, r.text
    return list(r.json())


def test_a_moderator_approves_a_held_message_from_the_review_queue(browser, server, artifacts):
    """A threat is held: its sender is told so and no one sees it; the moderator's panel lists
    it at once (the server's ``review`` frame: the page clock is frozen, so no poll did it), with
    its author and why it is held; the 60-second poll still runs; Approve takes it off the list
    and the server's live frame shows it to everyone."""
    errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", errors)
    bystander = open_panel(browser, server, "ann", "user", errors)
    mod = open_panel(browser, server, "mo", "moderator", errors, clock=True)
    requests = queue_requests(mod)
    toggle = mod.locator("#review-toggle")
    toggle.filter(has_text="Review (0)").wait_for(timeout=10_000)  # fetched when it joined
    assert toggle.get_attribute("aria-expanded") == "false"
    requests.clear()  # that fetch may have gone out before the listener was added
    send(fan, "I know where you live")
    fan.locator("#toast", has_text="held for review").wait_for(timeout=10_000)
    toggle.filter(has_text="Review (1)").wait_for(timeout=10_000)  # the signal, without a click
    assert requests == ["GET"], "one GET per signal"
    with mod.expect_request(lambda r: "/review-queue" in r.url, timeout=10_000):
        mod.clock.fast_forward("01:01")  # the fallback poll
    assert requests == ["GET", "GET"], "one GET per tick"
    toggle.click()  # opening fetches again
    item = review_item(mod, "I know where you live")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert item.locator(".who").inner_text() == "Sam"  # the name it was sent with
    assert item.locator(".who").get_attribute("title") == "sam"  # the user id on hover
    assert item.locator(".text").inner_text() == "I know where you live"
    assert "threat.doxxing" in item.locator(".why").inner_text()
    for b in ("approve", "reject", "delete"):
        assert item.locator(f"button.{b}").get_attribute("title")
        assert "Sam" in (item.locator(f"button.{b}").get_attribute("aria-label") or "")
    for page in (fan, bystander, mod):
        assert page.locator("li.msg", has_text="I know where you live").count() == 0, "held: unseen"
    mod.screenshot(path=str(artifacts / "panel-review-queue.png"))
    requests.clear()
    item.locator("button.approve").click()
    item.wait_for(state="detached", timeout=10_000)
    toggle.filter(has_text="Review (0)").wait_for(timeout=10_000)
    for page in (fan, bystander, mod):  # the server's message frame, once each
        shown(page, "I know where you live")
        assert page.locator("li.msg", has_text="I know where you live").count() == 1
    assert requests[:2] == ["POST", "GET"], requests  # the decision, then the list again
    assert "No messages to review" in mod.locator("#review").inner_text()
    mod.screenshot(path=str(artifacts / "panel-review-approved.png"))
    assert queued(server) == []
    assert errors == []


@pytest.mark.parametrize("decision", ["reject", "delete"])
def test_a_review_reject_or_delete_keeps_the_message_unseen(browser, server, artifacts, decision):
    errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", errors)
    send(fan, "I will kill you")
    fan.locator("#toast", has_text="held for review").wait_for(timeout=10_000)
    mod = open_panel(browser, server, "mo", "moderator", errors)  # joins after: fetched then
    mod.locator("#review-toggle", has_text="Review (1)").wait_for(timeout=10_000)
    mod.locator("#review-toggle").click()
    item = review_item(mod, "I will kill you")
    assert "threat.violence" in item.locator(".why").inner_text()
    item.locator(f"button.{decision}").click()
    item.wait_for(state="detached", timeout=10_000)
    mod.locator("#review-toggle", has_text="Review (0)").wait_for(timeout=10_000)
    send(fan, "after the decision")  # frames arrive in commit order: it follows any approval
    for page in (fan, mod):
        shown(page, "after the decision")
        assert page.locator("li.msg", has_text="I will kill you").count() == 0
    mod.screenshot(path=str(artifacts / f"panel-review-{decision}.png"))
    assert queued(server) == []
    assert errors == []


def test_a_review_decided_elsewhere_leaves_the_list_at_once(browser, server, artifacts):
    """Two moderators list the same held message; the other one approves it: this panel's list
    drops it at once (the server's ``review`` frame), with no click."""
    errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", errors)
    send(fan, "I know where you live")
    fan.locator("#toast", has_text="held for review").wait_for(timeout=10_000)
    mod = open_panel(browser, server, "mo", "moderator", errors, clock=True)
    mod.locator("#review-toggle").click()
    item = review_item(mod, "I know where you live")
    [held] = queued(server)
    r = httpx.post(f"{server.url}/v1/rooms/match:1/review/{held['message_id']}",
                   headers=boss(server), json={"decision": "approve"})  # fmt: skip
    assert r.status_code == 200, r.text
    shown(mod, "I know where you live")  # approved: the live frame
    item.wait_for(state="detached", timeout=10_000)
    mod.locator("#review-toggle", has_text="Review (0)").wait_for(timeout=10_000)
    mod.screenshot(path=str(artifacts / "panel-review-decided-elsewhere.png"))
    assert errors == []


def test_a_decision_crossing_another_shows_the_servers_error(browser, server, artifacts):
    """The decision and the other moderator's crossed: this panel still lists the message (its
    fetch is answered with the list from before, as when the click beats the signal), so its
    Reject is answered 404; the panel shows the server's message and the list drops it."""
    errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", errors)
    send(fan, "I know where you live")
    fan.locator("#toast", has_text="held for review").wait_for(timeout=10_000)
    mod = open_panel(browser, server, "mo", "moderator", errors)
    mod.locator("#review-toggle").click()
    item = review_item(mod, "I know where you live")
    before = queued(server)
    served: list[str] = []

    def stale(route: Any) -> None:
        served.append(route.request.url)
        route.fulfill(json=before)

    mod.route("**/review-queue", stale)
    r = httpx.post(f"{server.url}/v1/rooms/match:1/review/{before[0]['message_id']}",
                   headers=boss(server), json={"decision": "approve"})  # fmt: skip
    assert r.status_code == 200, r.text
    shown(mod, "I know where you live")  # approved: the live frame
    # The queue's change comes in a frame of its own, maybe after the message: the fetch it
    # causes must have had the stale list before the route goes (else the real one, empty).
    for _ in range(200):
        if served:
            break
        mod.wait_for_timeout(50)
    assert served, "the decision made the panel fetch the queue again"
    settle(mod)
    assert item.is_visible(), "the list from before the decision"
    mod.unroute("**/review-queue")
    item.locator("button.reject").click()
    mod.locator("#toast", has_text="is not awaiting review").wait_for(timeout=10_000)
    item.wait_for(state="detached", timeout=10_000)
    mod.locator("#review-toggle", has_text="Review (0)").wait_for(timeout=10_000)
    refused = "status of 404"  # Chromium logs the refused request as a console error
    assert [e for e in errors if refused not in e] == []


def test_a_fans_panel_has_no_review_control(browser, server, artifacts):
    errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", errors, clock=True)
    requests = queue_requests(fan)
    send(fan, "I will kill you")
    fan.locator("#toast", has_text="held for review").wait_for(timeout=10_000)
    fan.clock.fast_forward("01:01")
    send(fan, "still here")
    shown(fan, "still here")
    assert fan.locator("#review-toggle").count() == 0, "not in the page at all, not just hidden"
    assert fan.locator("#review").count() == 0
    assert fan.get_by_role("button", name=re.compile("review", re.I)).count() == 0
    assert requests == [], "a fan's panel never asks for the queue"
    fan.screenshot(path=str(artifacts / "panel-fan-no-review.png"))
    assert errors == []


@pytest.mark.parametrize("hides", [True, False], ids=["hidden", "still-shown"])
def test_a_reported_message_enters_the_review_list_at_once(browser, tmp_path, artifacts, hides):
    """A report reaches the moderator's panel as the server's ``review`` frame, and the panel
    fetches the queue at once, whether the report hid the message (threshold 1) or left it shown
    (threshold 2): the page clock is frozen here, so no poll can have fetched it."""
    with own_server(tmp_path, SIDELINE_MODERATION__REPORT_HIDE_THRESHOLD="1" if hides else "2") as server:
        errors: list[str] = []
        fan = open_panel(browser, server, "sam", "user", errors)
        mod = open_panel(browser, server, "mo", "moderator", errors, clock=True)
        toggle = mod.locator("#review-toggle")
        toggle.filter(has_text="Review (0)").wait_for(timeout=10_000)
        send(fan, "the ref is blind tonight")
        line = shown(mod, "the ref is blind tonight")
        message_id = line.get_attribute("data-id")
        reporter = {"Authorization": f"Bearer {server.token('ann', 'match:1', 'user')}"}
        r = httpx.post(f"{server.url}/v1/rooms/match:1/messages/{message_id}/reports",
                       headers=reporter, json={"reason": "rude"})  # fmt: skip
        assert r.status_code == 201, r.text
        toggle.filter(has_text="Review (1)").wait_for(timeout=10_000)
        if hides:
            line.wait_for(state="detached", timeout=10_000)  # hidden pending review
        else:
            assert line.is_visible(), "one report of two: still in the chat"
        toggle.click()
        assert "reported 1×" in review_item(mod, "the ref is blind tonight").inner_text()
        mod.screenshot(path=str(artifacts / f"panel-review-reported-{'hidden' if hides else 'shown'}.png"))
        assert errors == []


def test_a_fan_reports_a_message_from_the_panel(browser, tmp_path, artifacts):
    """A fan's ⚑ under someone else's message opens the reasons; one tap files the report (the
    moderator's review list has it at once, with the reason's count), the flag then says it is
    reported, also after a reload, and a second fan's report hides the message (threshold 2). A
    fan's own messages and a viewer's panel have no flag."""
    with own_server(tmp_path, SIDELINE_MODERATION__REPORT_HIDE_THRESHOLD="2") as server:
        errors: list[str] = []
        sam = open_panel(browser, server, "sam", "user", errors)
        ann = open_panel(browser, server, "ann", "user", errors)
        viewer = open_panel(browser, server, "vic", "viewer", errors)
        mod = open_panel(browser, server, "mo", "moderator", errors, clock=True)
        send(sam, "you lot are all clueless")
        line = shown(ann, "you lot are all clueless")
        assert shown(sam, "you lot are all clueless").locator("button.report").count() == 0, "not your own"
        assert shown(viewer, "you lot are all clueless").locator("button.report").count() == 0, "a viewer cannot report"
        assert shown(mod, "you lot are all clueless").locator("button.report").count() == 0, "a moderator deletes"

        flag = line.locator("button.report")
        assert flag.get_attribute("aria-label") == "Report the message from Sam"
        flag.click()
        assert flag.get_attribute("aria-expanded") == "true"
        line.locator(".report-menu button.cancel").click()
        assert line.locator(".report-menu").count() == 0, "cancel closes the reasons"
        flag.click()
        ann.screenshot(path=str(artifacts / "panel-report-reasons.png"))
        line.locator(".report-menu button.reason", has_text="Spam").click()
        ann.locator("#toast", has_text="reported").wait_for(timeout=10_000)
        line.locator('button.report[aria-disabled="true"]').wait_for(timeout=10_000)
        assert line.locator("button.report").get_attribute("title") == "You reported this message"
        assert line.is_visible(), "one report of two: still shown"
        reload(ann, server, "ann")  # the server tells the panel which messages ann reported
        line = shown(ann, "you lot are all clueless")
        line.locator('button.report[aria-disabled="true"]').wait_for(timeout=10_000)
        assert line.locator("button.report").get_attribute("title") == "You reported this message"

        mod.locator("#review-toggle", has_text="Review (1)").wait_for(timeout=10_000)  # at once
        [item] = queued(server)
        assert (item["source"], item["reports"], item["user_id"]) == ("report", 1, "sam")

        bob = open_panel(browser, server, "bob", "user", errors)
        other = shown(bob, "you lot are all clueless")
        other.locator("button.report").click()
        other.locator(".report-menu button.reason", has_text="Abuse").click()
        for page in (ann, bob, sam, viewer):
            page.locator("li.msg", has_text="you lot are all clueless").wait_for(state="detached", timeout=10_000)
        mod.locator("#review-toggle").click()
        assert "reported 2×" in review_item(mod, "you lot are all clueless").inner_text()
        assert errors == []


def test_a_pinned_message_shows_above_the_chat_for_everyone(browser, tmp_path, artifacts):
    """A moderator pins a message with its 📌: every panel shows it above the chat, also one that
    joins when the message is older than the history it is sent (it reads the message from the
    server); the bar's ✕ unpins it; deleting the pinned message takes it off the bar."""
    with own_server(tmp_path, SIDELINE_REALTIME__HISTORY_ON_JOIN="2") as server:
        errors: list[str] = []
        fan = open_panel(browser, server, "sam", "user", errors)
        mod = open_panel(browser, server, "mo", "moderator", errors)
        send(fan, "kick-off moved to 20:45")
        line = shown(mod, "kick-off moved to 20:45")
        assert shown(fan, "kick-off moved to 20:45").locator("button.pin").count() == 0, "fans do not pin"
        assert fan.locator("#pinned").is_hidden()
        line.locator("button.pin").click()
        for page in (fan, mod):
            page.locator("#pinned", has_text="kick-off moved to 20:45").wait_for(timeout=10_000)
        assert "Sam" in fan.locator("#pinned .who").inner_text()
        assert fan.locator("#pinned .unpin").count() == 0, "fans do not unpin"
        line.locator("button.pin").wait_for(state="detached", timeout=10_000)  # pinned already

        for i in range(3):  # the pinned message leaves the two-message history
            send(fan, f"later {i}")
        shown(mod, "later 2")
        late = open_panel(browser, server, "ann", "user", errors)
        shown(late, "later 2")
        assert late.locator("li.msg", has_text="kick-off moved").count() == 0
        late.locator("#pinned", has_text="kick-off moved to 20:45").wait_for(timeout=10_000)
        late.screenshot(path=str(artifacts / "panel-pinned.png"))

        mod.locator("#pinned .unpin").click()
        for page in (fan, mod, late):
            page.locator("#pinned").wait_for(state="hidden", timeout=10_000)
        line.locator("button.pin").click()
        late.locator("#pinned", has_text="kick-off moved to 20:45").wait_for(timeout=10_000)
        line.locator("button.delete").click()
        for page in (fan, mod, late):
            page.locator("#pinned").wait_for(state="hidden", timeout=10_000)
        assert errors == []


def test_a_reply_quotes_the_message_it_answers(browser, tmp_path, artifacts):
    """↩ under a message starts a reply (the composer says to whom; ✕ or Escape drops it); the
    reply goes out with ``reply_to`` and every panel shows it under a quote of the message it
    answers, or "an earlier message" where that one is older than the history it was sent."""
    with own_server(tmp_path, SIDELINE_REALTIME__HISTORY_ON_JOIN="2") as server:
        errors: list[str] = []
        sent: list[dict] = []
        sam = open_panel(browser, server, "sam", "user", errors)
        ann = open_panel(browser, server, "ann", "user", errors, sent=sent)
        viewer = open_panel(browser, server, "vic", "viewer", errors)
        send(sam, "who scored?")
        question = shown(ann, "who scored?")
        question_id = question.get_attribute("data-id")
        question = ann.locator(f'li.msg[data-id="{question_id}"]')
        assert shown(viewer, "who scored?").locator("button.reply").count() == 0, "a viewer cannot post"
        question.locator("button.reply").click()
        assert ann.locator("#replying").inner_text().startswith("Replying to Sam: who scored?")
        ann.locator("#replying button.cancel").click()
        assert ann.locator("#replying").is_hidden()
        question.locator("button.reply").click()
        ann.press("#text", "Escape")
        assert ann.locator("#replying").is_hidden()
        question.locator("button.reply").click()
        send(ann, "Kane, 23'")
        assert ann.locator("#replying").is_hidden(), "sent: the reply is done"
        for page in (sam, ann, viewer):
            reply = shown(page, "Kane, 23'")
            assert reply.locator(".reply-to").inner_text() == "↪ Sam: who scored?"
        [frame] = [f for f in sent if f.get("type") == "send"]
        assert frame["reply_to"] == question_id
        ann.screenshot(path=str(artifacts / "panel-reply.png"))

        send(sam, "thanks")  # the question is now older than the two-message history
        late = open_panel(browser, server, "bob", "user", errors)
        shown(late, "thanks")
        assert shown(late, "Kane, 23'").locator(".reply-to").inner_text() == "↪ an earlier message"
        assert errors == []


def test_a_send_lost_with_its_socket_goes_again_once(browser, server, artifacts):
    """The socket drops with a send on its way (the server never got it): the panel sends it
    again after the reconnect, with the same client id, and it is shown once; a message typed
    right after the drop goes out too (once the room is joined again, if the socket is not
    back yet)."""
    dropped: list[str] = []

    def route(ws) -> None:
        to_server = ws.connect_to_server()

        def from_page(message) -> None:
            if not dropped and '"type":"send"' in str(message):
                dropped.append(str(message))
                ws.close(code=1012, reason="dropped by the test")
                return
            to_server.send(message)

        ws.on_message(from_page)

    errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", errors, ws_route=route)
    other = open_panel(browser, server, "ann", "user", errors)
    record_states(fan)
    send(fan, "lost on the way?")
    passed_through(fan, "connecting", timeout=10_000)
    send(fan, "typed while reconnecting")  # most likely still reconnecting: 0.4-0.6 s back-off
    for page in (fan, other):
        shown(page, "lost on the way?")
        shown(page, "typed while reconnecting")
        assert page.locator("li.msg", has_text="lost on the way?").count() == 1
    [lost] = [json.loads(m) for m in dropped]  # the first send never reached the server
    r = httpx.get(f"{server.url}/v1/rooms/match:1/messages", headers=bearer(server, "ann"))
    messages = r.json()["messages"]
    assert [m["text"] for m in messages] == ["lost on the way?", "typed while reconnecting"]
    assert messages[0]["client_msg_id"] == lost["client_msg_id"], "sent again under the same id"
    assert errors == []


def test_a_refused_send_gives_its_text_back(browser, server, artifacts):
    """In slow mode the second post is refused (a slow_mode notice instead of an ack): its text
    goes back into the composer, to send when the wait is over."""
    fan_errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", fan_errors)
    r = httpx.patch(f"{server.url}/v1/rooms/match:1/settings", headers=boss(server),
                    json={"slow_mode_seconds": 60})  # fmt: skip
    assert r.status_code == 200, r.text
    send(fan, "first")
    shown(fan, "first")
    send(fan, "second, too soon")
    fan.locator("#toast", has_text="slow mode").wait_for(timeout=10_000)
    assert fan.input_value("#text") == "second, too soon"
    assert fan.locator("li.msg", has_text="second, too soon").count() == 0


def test_earlier_messages_load_above_the_others(browser, tmp_path, artifacts):
    """The join brings the latest messages (two here); "Earlier messages" puts the rest above
    them, oldest first, and goes once nothing is left. It is not offered in a room whose every
    message the join brought: an empty one, or one of two messages."""
    with own_server(tmp_path, SIDELINE_REALTIME__HISTORY_ON_JOIN="2") as server:
        errors: list[str] = []
        empty = open_panel(browser, server, "vic", "user", errors)
        assert empty.locator("#older").is_hidden(), "an empty room has nothing earlier"
        texts = [f"minute {m}" for m in (5, 12, 23, 34, 45)]
        for text in texts[:2]:
            post(server, "sam", text)
        small = open_panel(browser, server, "bea", "user", errors)
        shown(small, "minute 12")
        assert small.locator("li.msg .text").all_inner_texts() == texts[:2]
        assert small.locator("#older").is_hidden(), "the join brought the room's first message"
        for text in texts[2:]:
            post(server, "sam", text)
        fan = open_panel(browser, server, "ann", "user", errors)
        shown(fan, "minute 45")
        assert fan.locator("li.msg .text").all_inner_texts() == texts[-2:]
        fan.locator("#older").click()
        shown(fan, "minute 5")
        assert fan.locator("li.msg .text").all_inner_texts() == texts
        fan.locator("#older").wait_for(state="hidden", timeout=10_000)  # nothing earlier is left
        fan.screenshot(path=str(artifacts / "panel-earlier-messages.png"))
        assert errors == []


def test_earlier_messages_come_back_when_live_ones_push_the_first_out(browser, tmp_path):
    """The panel keeps the latest 300 messages: live ones past that push the first out, and
    "Earlier messages" is offered again and loads them back above the others."""
    with own_server(tmp_path, SIDELINE_MODERATION__ENABLED="false") as server:  # no rate limits
        errors: list[str] = []
        post(server, "sam", "the opening whistle")
        fan = open_panel(browser, server, "ann", "user", errors)
        shown(fan, "the opening whistle")
        assert fan.locator("#older").is_hidden(), "the join brought the room's first message"
        with httpx.Client(base_url=server.url, headers=bearer(server, "sam"), timeout=10) as sam:
            for i in range(300):
                body = {"client_msg_id": f"live-{i}", "text": f"live {i}"}
                r = sam.post("/v1/rooms/match:1/messages", json=body)
                assert r.status_code == 201, r.text
        shown(fan, "live 299")
        fan.locator("li.msg", has_text="the opening whistle").wait_for(state="detached", timeout=10_000)
        assert fan.locator("li.msg").count() == 300
        assert fan.locator("li.msg .text").first.inner_text() == "live 0"
        fan.locator("#older").click()
        shown(fan, "the opening whistle")
        assert fan.locator("li.msg .text").first.inner_text() == "the opening whistle"
        fan.locator("#older").wait_for(state="hidden", timeout=10_000)
        assert errors == []


def test_a_moderator_starts_and_closes_a_poll_from_the_panel(browser, server, artifacts):
    """"+ Poll" (speakers and moderators only) opens a form: a question and two options, more
    with "+ Option"; the poll reaches every panel as the server's poll frame, fans vote, and the
    moderator's "Close poll" ends it for everyone."""
    errors: list[str] = []
    fan = open_panel(browser, server, "sam", "user", errors)
    speaker = open_panel(browser, server, "sid", "speaker", errors)
    mod = open_panel(browser, server, "mo", "moderator", errors)
    assert fan.locator("#poll-new").is_hidden(), "fans do not start polls"
    assert speaker.locator("#poll-new").is_visible()
    mod.locator("#poll-new").click()
    mod.fill("#poll-question", "Player of the match?")
    options = mod.locator("#poll-options input")
    assert options.count() == 2
    options.nth(0).fill("Kane")
    options.nth(1).fill("Saka")
    mod.locator("#poll-add-option").click()
    options.nth(2).fill("Rice")
    mod.screenshot(path=str(artifacts / "panel-poll-form.png"))
    mod.locator("#poll-create").click()
    mod.locator("#poll-form").wait_for(state="hidden", timeout=10_000)
    poll = fan.locator(".poll", has_text="Player of the match?")
    poll.wait_for(timeout=10_000)
    assert poll.locator("button .label").all_inner_texts() == ["Kane", "Saka", "Rice"]
    assert poll.locator(".poll-close").count() == 0, "fans do not close polls"
    poll.locator("button", has_text="Saka").click()
    mod_poll = mod.locator(".poll", has_text="Player of the match?")
    mod_poll.locator("button", has_text="Saka").locator(".count", has_text="1").wait_for(timeout=10_000)
    mod_poll.locator(".poll-close").click()
    poll.locator("h4", has_text="(closed)").wait_for(timeout=10_000)
    assert all(b.is_disabled() for b in poll.locator("button").all())
    assert errors == []
