"""Personal data people chose (display names, free text) and what each sink lets out of it:
the vendors, the warehouse with its allow-list, and erasure of both, replays included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from analytics.io import Warehouse
from service.domain.events import Event, EventType, Metadata, new_event
from tests.collector import Collector
from tests.sinks.conftest import Rig, sink_config

KINDS = ["segment", "mixpanel", "ga4"]
WH = {"name": "warehouse", "linger_seconds": 0.05}


def sent(i: int, user: str, name: str, text: str = "hello") -> Event:
    """A message as ``do_send`` writes it: the sender's display name in the payload."""
    return new_event(
        EventType.MESSAGE_SENT, user_id=user, room_id="match:1", message_id=f"m{i}",
        metadata=Metadata(device="ios", language="en", app_version="1.2", session_id="s1"),
        payload={"text": f"{text} {i}", "client_msg_id": f"c{i}", "visibility": "public",
                 "masked": False, "reply_to": None, "role": "user", "name": name},
    )  # fmt: skip


def props(kind: str, received: dict[str, Any]) -> dict[str, Any]:
    return received["params"] if kind == "ga4" else received["properties"]


def scan(root: Path) -> pl.DataFrame:
    return pl.scan_parquet(str(root / "events" / "**" / "*.parquet"), hive_partitioning=True).collect()


def payloads(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [json.loads(p) for p in frame.sort("seq")["payload"]]


@pytest.mark.parametrize("kind", KINDS)
async def test_display_names_are_not_sent_unless_the_sink_sends_names(
    kind, collector: Collector, make_rig
):
    # A name is personal data people chose: with text allowed it still stays, unless the
    # sink sets include_names.
    rig: Rig = await make_rig({kind: [
        sink_config(kind, collector.url, name="plain"),
        sink_config(kind, collector.url, name="texty", include_text=True),
        sink_config(kind, collector.url, name="named", include_names=True),
    ]})  # fmt: skip
    await rig.append([sent(1, "alice", "Alice Wonderland")])
    await rig.drained()
    got = [(props(kind, r).get("name"), props(kind, r).get("text")) for r in collector.received[kind]]
    assert len(got) == 3 and set(got) == {(None, None), (None, "hello 1"), ("Alice Wonderland", None)}
    assert "Alice" not in json.dumps([r for r in collector.received[kind]
                                      if props(kind, r).get("name") is None])  # fmt: skip


async def test_the_warehouse_exports_names_only_when_configured(make_rig, tmp_path: Path):
    named_root = tmp_path / "named"
    rig: Rig = await make_rig({"warehouse": [
        WH, {**WH, "name": "named", "include_names": True, "path": str(named_root)},
    ]})  # fmt: skip
    await rig.append([sent(1, "alice", "Alice Wonderland")])
    await rig.drained()
    (plain,) = payloads(scan(rig.settings.data_path / "warehouse"))
    assert "name" not in plain and plain["text"] == "hello 1"  # text: first-party default
    (named,) = payloads(scan(named_root))
    assert named["name"] == "Alice Wonderland"


async def test_erasure_blanks_names_in_the_warehouse_and_in_what_a_replay_sends(
    collector: Collector, make_rig
):
    # alice's token had a name claim; bob's had none, so his name is his user id.
    rig: Rig = await make_rig({
        "warehouse": [{**WH, "include_names": True}],
        "segment": [sink_config("segment", collector.url, include_names=True)],
    })  # fmt: skip
    events = [sent(i, "alice", "Alice Wonderland") for i in range(3)]
    events += [sent(i, "bob", "bob") for i in range(3, 5)]
    events.append(sent(5, "carol", "Carol"))
    await rig.append(events)
    await rig.drained()
    alice = await rig.fw.erase("alice", "ticket-1")
    bob = await rig.fw.erase("bob", "ticket-2")
    root = rig.settings.data_path / "warehouse"
    frame = scan(root)
    assert [p["name"] for p in payloads(frame)] == ["", "", "", "", "", "Carol"]
    assert frame["user_id"].to_list()[:5] == [alice.pseudonym] * 3 + [bob.pseudonym] * 2
    cells = json.dumps(frame.drop("event_date").rows(), default=str)
    assert "Wonderland" not in cells and '"bob"' not in cells and "alice" not in cells
    # A replay reads the log, where the names still are: what it sends is erased too.
    collector.received["segment"].clear()
    await rig.fw.replay("segment", 1)
    await rig.fw.replay("warehouse", 1)
    await rig.drained()
    replayed = {m["userId"]: m["properties"].get("name") for m in collector.received["segment"]}
    assert replayed == {alice.pseudonym: "", bob.pseudonym: "", "carol": "Carol"}
    assert [p["name"] for p in payloads(scan(root))] == ["", "", "", "", "", "Carol"]


async def test_erasure_blanks_what_an_erased_moderator_wrote(make_rig):
    # A delete's, a mute's reason is the moderator's writing: erasing the moderator blanks it
    # with their id, and erasing the target blanks it too (it is about them).
    rig: Rig = await make_rig({"warehouse": [WH]})
    await rig.append([
        sent(1, "bob", "Bob"),
        new_event(EventType.MESSAGE_DELETED, user_id="bob", room_id="match:1", actor_id="mod-ann",
                  message_id="m1", payload={"reason": "Ann here: rude", "review": False}),
        new_event(EventType.USER_MUTED, user_id="carol", room_id="match:1", actor_id="mod-ann",
                  payload={"until": None, "scope": "room", "reason": "Ann: calm down carol"}),
        new_event(EventType.USER_BANNED, user_id="dave", room_id="match:1", actor_id="mod-zed",
                  payload={"until": None, "scope": "room", "reason": "dave spams"}),
    ])  # fmt: skip
    await rig.drained()
    ann = await rig.fw.erase("mod-ann", "ticket-3")
    dave = await rig.fw.erase("dave", "ticket-4")
    frame = scan(rig.settings.data_path / "warehouse").sort("seq")
    assert frame["actor_id"].to_list() == [None, ann.pseudonym, ann.pseudonym, "mod-zed"]
    assert frame["user_id"].to_list() == ["bob", "bob", "carol", dave.pseudonym]
    assert [p.get("reason") for p in payloads(frame)] == [None, "", "", ""]
    assert payloads(frame)[0]["text"] == "hello 1"  # bob's own message is not Ann's


async def test_a_warehouse_allow_list_filters_the_payload_and_optional_columns(make_rig):
    rig: Rig = await make_rig({"warehouse": [
        {**WH, "include_text": False, "properties": ["visibility", "emoji", "device"]},
    ]})  # fmt: skip
    await rig.append([
        sent(1, "alice", "Alice"),
        new_event(EventType.REACTION_ADDED, user_id="bob", room_id="match:1", message_id="m1",
                  metadata=Metadata(device="web", session_id="s2"), payload={"emoji": "⚽"}),
    ])  # fmt: skip
    await rig.drained()
    root = rig.settings.data_path / "warehouse"
    frame = scan(root).sort("seq")
    assert payloads(frame) == [{"visibility": "public"}, {"emoji": "⚽"}]
    # The columns the jobs count and join on stay; optional ones only when listed.
    assert frame.select("user_id", "room_id", "context_id", "message_id", "event_type").rows() == [
        ("alice", "match:1", "match:1", "m1", "community_message_sent"),
        ("bob", "match:1", "match:1", "m1", "reaction_added"),
    ]
    assert frame["device"].to_list() == ["ios", "web"]
    for column in ("session_id", "language", "app_version", "message_type"):
        assert frame[column].null_count() == 2, column
    # Readers still read it: the analytics scan, the views.
    assert Warehouse(root).scan().collect().height == 2
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT visibility, text FROM messages").fetchall() == [("public", None)]
        assert con.execute("SELECT emoji FROM reactions").fetchall() == [("⚽",)]
    finally:
        con.close()
