"""Crowd control switches a hot room to slow mode / reactions-only and back, as events."""

from __future__ import annotations

import pytest

from service.actions.crowd import CrowdControl
from service.app import build_community
from service.domain.events import EventType, new_event
from service.domain.rooms import RoomMode
from service.protocol.http import RoomConfigIn
from service.settings import ensure_dev_secrets, load_settings


@pytest.fixture
async def setup(tmp_path):
    s = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path), "SIDELINE_MODERATION__ENABLED": "false"})
    ensure_dev_secrets(s)
    c = build_community(s)
    await c.log.start()
    clock = [1000.0]
    crowd = CrowdControl(c, s.crowd_control, clock=lambda: clock[0])
    c.notifiers.append(crowd)
    yield c, crowd, clock
    await c.log.close()


async def burst(c, n, room="match:1", risky=0):
    events = []
    for i in range(n):
        events.append(new_event(EventType.MESSAGE_SENT, user_id=f"u{i}", room_id=room, message_id=f"m{i}",
                                payload={"text": "goal", "visibility": "public"}))
        if i < risky:
            events.append(new_event(EventType.MESSAGE_MODERATED, user_id=f"u{i}", room_id=room,
                                    message_id=f"m{i}", payload={"action": "mask"}))
    await c.commit(events)



async def switches(c):
    return [(e.payload["mode"], e.payload["slow_mode_seconds"], e.user_id)
            for e in await c.log.read(0, 100_000) if e.event_type is EventType.ROOM_MODE_CHANGED]


async def test_fast_room_goes_slow_then_reactions_only_then_back(setup):
    c, crowd, clock = setup
    await burst(c, 200)  # 20 msg/s over the 10 s window
    await crowd.tick()
    assert c.state.room("match:1").settings.slow_mode_seconds == 5
    await burst(c, 400)  # 60 msg/s: escalate
    await crowd.tick()
    assert c.state.room("match:1").settings.mode.value == "reactions-only"
    clock[0] += 11  # the window empties
    await crowd.tick()
    clock[0] += 31
    await crowd.tick()
    room = c.state.room("match:1").settings
    assert (room.mode.value, room.slow_mode_seconds) == ("open", 0)
    assert await switches(c) == [
        ("open", 5, "system:crowd_control"),
        ("reactions-only", 5, "system:crowd_control"),
        ("open", 0, "system:crowd_control"),
    ]


async def test_risky_room_goes_slow(setup):
    c, crowd, _ = setup
    await burst(c, 40, risky=20)  # 4 msg/s, but half the messages were moderated
    await crowd.tick()
    assert c.state.room("match:1").settings.slow_mode_seconds == 5


async def test_a_moderators_choice_is_not_undone(setup):
    c, crowd, clock = setup
    await burst(c, 200)
    await crowd.tick()
    from service.actions.rooms import configure
    await configure(c, "match:1", RoomConfigIn(mode=RoomMode.SPEAKERS_ONLY), actor="mod")
    clock[0] += 60
    await crowd.tick()
    await crowd.tick(clock[0] + 60)
    assert c.state.room("match:1").settings.mode.value == "speakers-only"


async def test_quiet_rooms_are_left_alone(setup):
    c, crowd, _ = setup
    await burst(c, 30)
    await crowd.tick()
    assert await switches(c) == []
