"""``join``: enter a room, get its history (or what was missed), then live frames, gap-free.

Order matters. The socket is attached to the room first, in a joining state where live
frames wait in a list. Then the position is taken, and the history snapshot after it (from
memory, and from the log for a room whose older or whole history memory no longer holds, so
it may yield to the event loop meanwhile); a resume replay reads the log, which may already
hold events the loop has not applied and published yet. Both stop at the events whose frames
the hub had handed out when the position was taken (``Hub.delivered_seq``): later ones still
reach the socket as frames (resume.plan). Either way every event is in the snapshot or replay, or
arrives later as a live frame. ``joined`` and the replay are sent, then the waiting frames,
minus those the snapshot or replay already covered (by epoch and seq).
"""

from __future__ import annotations

from service.actions import history, rooms
from service.actions.access import restriction_end
from service.actions.context import Community
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol import frames as f
from service.protocol.http import HistoryOut, RoomOut
from service.realtime.coalesce import poll_frame
from service.realtime.connection import Connection
from service.realtime.hub import Hub
from service.realtime.resume import Plan, plan
from service.realtime.roster import full


async def join(hub: Hub, conn: Connection, frame: f.Join) -> None:
    """Handle one ``join`` frame for ``conn`` (see the module docstring for the ordering)."""
    c, who, room = hub.c, conn.identity, frame.room
    # The reply may pass the queue limit: it waits for the replies before it to drain below it
    # (a client reading them on a slow link), and a client that reads nothing is closed as a
    # slow consumer after as long as a silent one would be.
    if not await conn.outbox.wait_for_room(hub.settings.idle_timeout_seconds):
        return
    again = room in conn.rooms
    if not again and len(conn.rooms) >= hub.settings.max_rooms_per_socket:
        raise SidelineError(
            ErrorCode.TOO_MANY_ROOMS,
            f"a connection may be in {hub.settings.max_rooms_per_socket} rooms at most; leave one",
            at="$.room",
        )
    info = await rooms.join(c, who, room)  # authorises READ, records the membership once
    hub.begin_join(conn, room)
    hub.rejoined(room, who.user_id)
    try:
        if not again:
            await hub.roster.add(room, who.user_id, who.name)
        resumed: Plan | None = None
        if frame.after_seq is not None:
            resumed = await plan(
                c, hub.remote, who, frame, hub.settings.resume_max_events,
                lambda: hub.delivered_seq,
            )  # fmt: skip
            if resumed.resync is not None:
                conn.send_unbounded(f.Resync(room=room, reason=resumed.resync))
                resumed = None
        if resumed is not None:
            positions = {c.log.epoch: resumed.seq, **_remote_positions(hub, room, frame)}
            await _answer(hub, conn, info, frame, positions, None, resumed)
        else:
            await _answer(hub, conn, info, frame, *await _snapshot(hub, who, room), None)
    except BaseException:
        await hub.leave_room(conn, room)
        raise


async def reload(hub: Hub, conn: Connection, room: str) -> None:
    """A fresh ``joined`` of ``room`` for ``conn``, which is in it and was told ``resync``:
    frames of the room may have been lost between nodes (recovery.py, ``Recovery._lost``).

    The snapshot part of :func:`join`, in the same order. The socket is in the room already,
    so nothing is recorded (no membership event), presence is unchanged, and a leave waiting
    for this socket (the user left through another of theirs) still waits for it. A join of
    the room being served on the socket meanwhile answers for both (hub.begin_join). If the
    room cannot be served, the socket leaves it, as after a failed join.

    Like a join's, the reply waits for the frames before it to drain below the queue limit
    (a resume replay may have pushed past it; a client reading it is not slow), and a client
    that reads nothing is closed as a slow consumer after as long as a silent one would be.
    """
    c, who = hub.c, conn.identity
    if room not in conn.rooms or hub.is_joining(conn, room):
        return
    if not await conn.outbox.wait_for_room(hub.settings.idle_timeout_seconds):
        return
    if room not in conn.rooms or hub.is_joining(conn, room):
        return  # left, or joined again, while the reply waited
    hub.begin_join(conn, room)
    try:
        info = rooms.get_room(c, who, room)  # authorises READ, as a join does
        await _answer(hub, conn, info, f.Join(room=room), *await _snapshot(hub, who, room), None)
    except BaseException:
        await hub.leave_room(conn, room)
        raise


async def _snapshot(hub: Hub, who: Identity, room: str) -> tuple[dict[str, int], HistoryOut]:
    """The positions the history covers, then the history page a join starts with.

    The state already holds this node's events the broker has not brought back yet: their
    frames are still to reach the joining socket, so the page leaves them out and the position
    stops before them (``Hub.delivered_seq``); taking them in would send them twice.
    """
    c = hub.c
    local, delivered = c.log.epoch, hub.delivered_seq
    positions = {local: delivered, **hub.remote.latest(room)}
    page = await history.page(c, who, room, before_seq=None, limit=hub.settings.history_on_join)
    if any(m.epoch == local and m.seq > delivered for m in page.messages):
        page.messages = [m for m in page.messages if m.epoch != local or m.seq <= delivered]
    return positions, page


async def _answer(
    hub: Hub, conn: Connection, info: RoomOut, frame: f.Join, positions: dict[str, int],
    page: HistoryOut | None, resumed: Plan | None,
) -> None:  # fmt: skip
    """``joined`` (with ``page``, or the ``resumed`` replay after it), then the live frames
    that waited, unless ``conn`` was removed from the room while the join was served."""
    room, who = info.room_id, conn.identity
    presence = full(room, await hub.roster.current(room), (who.user_id, who.name))
    if not hub.is_joining(conn, room):
        return  # removed while the join was served (banned: told by left; or dropped)
    conn.send_unbounded(_joined(hub, who, info, frame, positions, page, presence))
    if resumed is not None:
        for out in resumed.frames:
            conn.outbox.push({"type": "websocket.send", "text": out.text}, bounded=False)
        conn.send_unbounded(_reaction_counts(hub.c, room, who.user_id))
    if (muted := mute_notice(hub.c, room, who.user_id)) is not None:
        conn.send_unbounded(muted)
    hub.finish_join(conn, room, positions)


def mute_notice(c: Community, room: str, user_id: str) -> f.Notice | None:
    """The ``user_muted`` notice a muted user's join ends with (the room's mute or a global
    one, the later end of both; none for one until lifted): a client that reloaded learns it
    before its first send is refused, as it would have live."""
    now = c.now()
    muted, end = restriction_end(c, "mute", room, user_id, now)
    if not muted:
        return None
    until = "until lifted" if end is None else f"until {end.isoformat()}"
    left = None if end is None else round((end - now).total_seconds(), 3)
    return f.Notice(room=room, code="user_muted", message=f"you are muted {until}", retry_after=left)


def _remote_positions(hub: Hub, room: str, frame: f.Join) -> dict[str, int]:
    """After a replay the client holds every remote frame the ring had: its newest seqs."""
    known = dict(frame.remote or {})
    for epoch, seq in hub.remote.latest(room).items():
        known[epoch] = max(known.get(epoch, 0), seq)
    return known


def _joined(
    hub: Hub, who: Identity, info: RoomOut, frame: f.Join, positions: dict[str, int],
    page: HistoryOut | None, presence: f.Presence,
) -> f.Joined:  # fmt: skip
    c = hub.c
    local = c.log.epoch
    own = (page.mine, page.reported) if page is not None else _own_recent(c, info.room_id, who)
    return f.Joined(
        ref=frame.ref, room=info.room_id, mode=info.mode, slow_mode_seconds=info.slow_mode_seconds,
        max_message_length=info.max_message_length,
        max_reactions_per_message=c.settings.reactions.max_per_user_per_message,
        role=info.role or "viewer",
        pinned_message_id=info.pinned_message_id, epoch=local, seq=positions[local],
        boot=hub.remote.boot(info.room_id), remote={e: s for e, s in positions.items() if e != local},
        resumed=page is None, typing=hub.typing.enabled(hub.roster.size(info.room_id)),
        history=_history(c, info.room_id, page) if page is not None else [],
        next_before=page.next_before if page is not None else None,
        mine=own[0], reported=own[1],
        polls=[
            poll_frame(info.room_id, p, p.votes.get(who.user_id))
            for p in c.state.polls.values() if p.room_id == info.room_id
        ],
        presence=presence,
    )  # fmt: skip


def _history(c: Community, room: str, page: HistoryOut) -> list[f.Message]:
    epochs = {e.message_id: e.epoch for e in c.state.recent(room)}
    return [
        f.Message(
            room=room, message_id=m.message_id, seq=m.seq,
            epoch=epochs.get(m.message_id) or c.log.epoch, user_id=m.user_id, name=m.name,
            role=m.role, text=m.text, masked=m.masked, reply_to=m.reply_to,
            client_msg_id=m.client_msg_id, at=m.occurred_at, reactions=m.reactions,
        )
        for m in page.messages
    ]  # fmt: skip


def _own_recent(
    c: Community, room: str, who: Identity
) -> tuple[dict[str, list[str]], list[str]]:
    """On a resume: the user's own reactions on the recent messages they see, taken in the same
    turn of the event loop as the counts that follow the replay (:func:`_reaction_counts`), and
    those of the messages they have reported."""
    shown = history.shown_recent(c, room, who.user_id)
    return history.own_reactions(c, who.user_id, shown), history.own_reports(c, who.user_id, shown)


def _reaction_counts(c: Community, room: str, reader: str) -> f.Reaction:
    """Current counts of the room's recent messages ``reader``'s history shows: reactions are
    state, not replayed. A hidden message (held, hidden by reports, a shadow-banned author's)
    may carry reactions (a moderator's, or from before it was hidden); naming it would tell
    that it exists."""
    counts = {
        e.message_id: {emoji: len(users) for emoji, users in c.state.reactions[e.message_id].items()}
        for e in history.shown_recent(c, room, reader) if e.message_id in c.state.reactions
    }  # fmt: skip
    return f.Reaction(room=room, messages=counts)
