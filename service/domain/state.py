"""The community state: a projection of the event log.

:class:`CommunityState` is rebuilt at start by applying every committed event in seq order,
and kept current by applying each batch right after it commits. ``apply`` is the only code
that changes it, so "state rebuilt from the log" and "state the running service served" are
the same function of the same events (tested). It does no I/O and never awaits.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec

from service.domain.events import Event, EventType
from service.domain.records import (
    GLOBAL,
    CrowdChange,
    MessageRef,
    Poll,
    Restriction,
    history_key,
)
from service.domain.rooms import Role, RoomMode, RoomSettings, RoomState, room_kind

LONGEST_SLOW_MODE_SECONDS = 86_400
"""The longest slow mode a room may have: the APIs (``RoomConfigIn``) and the settings (room
policies, crowd control) refuse longer ones. A post older than the longest slow mode in force
can no longer hold anyone back."""

LAST_POST_MARGIN = timedelta(hours=1)
"""Kept past the longest slow mode, for nodes' clocks that run ahead of each other: the
sweep goes by the newest message time applied, slow mode by this node's clock."""

_UNPLACED_MAX = 10_000
"""The most events :attr:`CommunityState.unplaced` keeps (the newest): a start's whole fold
also meets deletes and decisions of this node's own messages older than the message index."""

_LAST_POST_SWEEP_SIZE = 4_096
"""``last_post`` is swept when it grows past twice its size after the last sweep (at least
this many), and at least every quarter of the horizon's length of message time."""


def _occurred_at(e: Event) -> datetime:
    return e.occurred_at


class CommunityState:
    """Rooms, roles, memberships, polls, reactions, restrictions and recent history."""

    def __init__(
        self,
        policies: Mapping[str, RoomSettings],
        *,
        history_size: Mapping[str, int] | None = None,
        history_budget: int = 100_000,
        message_index_size: int = 500_000,
    ) -> None:
        self._policies = policies
        self._history_size = history_size or {}
        self._history_budget = history_budget
        self._history_held = 0
        self._index_size = message_index_size
        self.rooms: dict[str, RoomState] = {}
        self.grants: dict[tuple[str, str], Role] = {}
        self.memberships: dict[str, set[str]] = defaultdict(set)
        self.polls: dict[str, Poll] = {}
        self.reactions: dict[str, dict[str, set[str]]] = {}
        """Users by emoji by message id, for every message that ever had a reaction: history
        pages read from the log show the counts of messages older than ``messages`` from here,
        and a reaction to one goes on from them (so it is not trimmed with ``messages``). A
        plain dict: a read of a message without reactions stores nothing."""
        self.restrictions: dict[tuple[str, str, str], Restriction] = {}
        self.messages: OrderedDict[str, MessageRef] = OrderedDict()
        self.client_ids: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        """Message ids by (user, room, client message id): a send's idempotency key."""
        self.history: OrderedDict[str, deque[Event]] = OrderedDict()
        """Each room's newest visible messages (up to its kind's ``history_size``), rooms in
        the order they last had one: past ``history_budget`` messages in all, the rooms idle
        the longest lose theirs (:meth:`_remember`), and their pages are read from the log."""
        self.history_truncated: set[str] = set()
        """Rooms whose older messages are no longer all in ``history``: trimmed by the window,
        dropped for the budget, or restored out of place."""
        self.last_post: dict[tuple[str, str], datetime] = {}
        """When each (room, user) last posted, for slow mode; swept of posts older than
        :attr:`last_post_horizon` (they hold nobody back)."""
        self._newest_post: datetime | None = None
        self._last_post_swept: datetime | None = None
        self._last_post_sweep_size = _LAST_POST_SWEEP_SIZE
        self._longest_slow_mode = max(
            [LONGEST_SLOW_MODE_SECONDS, *(p.slow_mode_seconds for p in policies.values())]
        )
        self.posted_as_moderator: set[tuple[str, str]] = set()
        """(room, user) whose latest message in the room was sent with the moderator role."""
        self.reporters: dict[str, set[str]] = {}
        """Who reported a message since its last review. Kept when the message leaves
        ``messages``: a second report of an older message is refused too, and history pages
        read from the log mark the reader's reports."""
        self.reported_at: dict[str, datetime] = {}
        """When a message's first report since its last review was made (the review queue's
        ``since``; the queue shows messages of ``messages`` only, so it goes with them)."""
        self.held: dict[str, Event] = {}
        self.held_for: dict[str, list[str]] = {}
        """The reason codes moderation held a message for (``threat.violence``), until a
        moderator decides on it (the review queue's ``held_for``)."""
        self.hidden: dict[str, Event] = {}
        """Messages hidden by reports, kept to be restored if a moderator approves them."""
        self.exposure: dict[str, str] = {}
        self.moderation_policies: dict[str, dict[str, Any]] = {}
        """Moderation policies set through the admin API, by room kind (raw, validated on write)."""
        self.crowd: dict[str, CrowdChange] = {}
        """Rooms whose mode and slow mode stand as crowd control set them, with what they were
        before: crowd control rebuilds what it owns from this at start."""
        self.manual: dict[str, datetime] = {}
        """When a person (a moderator, the admin API) last changed a room's mode or slow mode,
        for rooms crowd control has not changed since: it leaves such a room alone until the
        room calms."""
        self.last_seq = 0
        self.holds_remote = False
        """Another node's events were applied (many nodes): the state is no longer the fold
        of this node's log alone, so no checkpoint is taken of it (:mod:`service.eventlog.checkpoint`)."""
        self.unplaced: deque[Event] = deque(maxlen=_UNPLACED_MAX)
        """Events about a message or poll the state did not know when they were folded, while
        it starts: a node's own delete, hiding report, decision, vote or close of another
        node's message or poll, folded before the other nodes' events are applied.
        :meth:`place_unplaced` applies them again once those are in (the hub's start)."""
        self._collecting_unplaced = True

    # -- the settings the fold reads -------------------------------------------------------

    @property
    def policies(self) -> Mapping[str, RoomSettings]:
        """The settings a room starts from, by kind."""
        return self._policies

    @property
    def history_sizes(self) -> Mapping[str, int]:
        return self._history_size

    @property
    def history_budget(self) -> int:
        return self._history_budget

    @property
    def message_index_size(self) -> int:
        return self._index_size

    # -- reads -----------------------------------------------------------------------------

    def room(self, room_id: str) -> RoomState:
        """The room's state to read: the stored one of a room that had events, else a fresh
        one on its kind's policy, which is not kept (reading a room stores nothing, so reads of
        rooms nobody uses cost no memory). Only :meth:`apply` changes rooms: a change made to
        what this returns is lost for a room without events.
        """
        room = self.rooms.get(room_id)
        return room if room is not None else self._new_room(room_id)

    def _room_of_event(self, room_id: str) -> RoomState:
        """The stored room an event applies to, created from its kind's policy on its first event.

        The log may hold rooms of a kind the settings no longer have (an operator took it out):
        they are rebuilt on the default settings, so the start goes on; the API refuses the
        kind as unknown (``check_room_id``), so they are not served.
        """
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = self._new_room(room_id)
        return room

    def _new_room(self, room_id: str) -> RoomState:
        kind = room_kind(room_id) or ""
        policy = self._policies.get(kind) or RoomSettings()
        return RoomState(room_id=room_id, kind=kind, settings=msgspec.structs.replace(policy))

    @property
    def last_post_horizon(self) -> timedelta:
        """How long a post is kept in ``last_post``: the longest slow mode a room may have
        (a day, the bound of the APIs and settings, unless a log written before the settings
        were bounded set a longer one) and a margin."""
        return timedelta(seconds=self._longest_slow_mode) + LAST_POST_MARGIN

    def reported_awaiting(self) -> Iterator[tuple[str, MessageRef, set[str]]]:
        """``(message id, its ref, its reporters)`` of each message reported since its last
        review and awaiting a decision as reported: neither held (that is the queue's hold
        entry), deleted, nor out of this node's memory."""
        for message_id, reporters in self.reporters.items():
            ref = self.messages.get(message_id)
            if ref is None or ref.deleted or message_id in self.held or not reporters:
                continue
            yield message_id, ref, reporters

    def role_in(self, room_id: str, user_id: str, token_role: Role) -> Role:
        """A role granted through the admin API overrides the token's role for that room."""
        return self.grants.get((room_id, user_id), token_role)

    def recorded_role(self, room_id: str, user_id: str) -> Role | None:
        """A user's role in a room as far as the log tells it: the role granted through the admin
        API, else moderator when their latest message there was sent as one; None otherwise
        (a token's role is not recorded)."""
        granted = self.grants.get((room_id, user_id))
        if granted is not None:
            return granted
        return Role.MODERATOR if (room_id, user_id) in self.posted_as_moderator else None

    def restriction(self, kind: str, room_id: str, user_id: str, now: datetime) -> Restriction | None:
        """The active ``kind`` (mute|ban|shadow) of a user in a room, room or global scope."""
        for scope in (room_id, GLOBAL):
            found = self.restrictions.get((kind, scope, user_id))
            if found is not None and found.active(now):
                return found
        return None

    def reactions_by(self, message_id: str, user_id: str) -> list[str]:
        """The emoji ``user_id`` has on a message: what the per-user cap counts, and what a
        reader is told is theirs (only for messages shown to them; the caller filters)."""
        return [e for e, users in self.reactions.get(message_id, {}).items() if user_id in users]

    def recent(self, room_id: str) -> list[Event]:
        return list(self.history.get(room_id, ()))

    def history_complete(self, room_id: str) -> bool:
        """True while memory holds every visible message the room ever had."""
        return room_id not in self.history_truncated

    # -- the one mutator -------------------------------------------------------------------

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply_remote(self, e: Event) -> None:
        """Fold another node's committed event into the state."""
        self.holds_remote = True
        self.apply(e)

    def place_unplaced(self) -> int:
        """Apply again the events :attr:`unplaced` kept whose message or poll the state knows
        now (other nodes' events applied since); forget the rest, and keep no more from now
        on (while running, this node acts only on what it knows). Returns how many were."""
        self._collecting_unplaced = False
        events, self.unplaced = list(self.unplaced), deque(maxlen=_UNPLACED_MAX)
        placed = [e for e in events if (e.message_id in self.messages if e.message_id else
                                        e.payload.get("poll_id") in self.polls)]  # fmt: skip
        for e in placed:
            self.apply(e)
        return len(placed)

    def _unplaced(self, e: Event) -> None:
        if self._collecting_unplaced:
            self.unplaced.append(e)

    def apply(self, e: Event) -> None:
        """Fold one committed event into the state."""
        self.last_seq = max(self.last_seq, e.seq)
        room = self._room_of_event(e.room_id) if room_kind(e.room_id) in self._policies else None
        if room is not None:
            room.last_seq = max(room.last_seq, e.seq)
        handler = _HANDLERS.get(e.event_type)
        if handler is not None:
            handler(self, e, e.payload)

    def _on_message(self, e: Event, p: dict[str, Any]) -> None:
        assert e.message_id is not None
        ref = MessageRef.of(e)
        self.messages[e.message_id] = ref
        if len(self.messages) > self._index_size:
            gone, _ = self.messages.popitem(last=False)
            self.reported_at.pop(gone, None)
        if cid := p.get("client_msg_id"):
            self.client_ids[(ref.user_id, ref.room_id, cid)] = ref.message_id
            if len(self.client_ids) > self._index_size:
                self.client_ids.popitem(last=False)
        self._posted(e)
        if p.get("role") == Role.MODERATOR.value:
            self.posted_as_moderator.add((e.room_id, e.user_id))
        else:
            self.posted_as_moderator.discard((e.room_id, e.user_id))
        if ref.visibility == "held":
            self.held[e.message_id] = e
        elif ref.visibility in ("public", "shadow"):
            self._remember(e)  # shadowed messages are filtered per reader on the way out

    def _posted(self, e: Event) -> None:
        """Record the post for slow mode; now and then forget posts past the horizon, at a
        cost of one pass per doubling of ``last_post`` or per quarter horizon of message time."""
        self.last_post[(e.room_id, e.user_id)] = e.occurred_at
        newest = self._newest_post = max(self._newest_post or e.occurred_at, e.occurred_at)
        horizon = self.last_post_horizon
        swept = self._last_post_swept
        if swept is None:
            self._last_post_swept = newest
        elif len(self.last_post) > self._last_post_sweep_size or newest - swept >= horizon / 4:
            cutoff = newest - horizon
            self.last_post = {k: at for k, at in self.last_post.items() if at >= cutoff}
            self._last_post_swept = newest
            self._last_post_sweep_size = max(_LAST_POST_SWEEP_SIZE, 2 * len(self.last_post))

    @property
    def history_held(self) -> int:
        """Messages ``history`` holds in all rooms (at most ``history_budget``, but for one
        room's window when that alone is larger)."""
        return self._history_held

    def _remember(self, e: Event) -> None:
        recent = self.history.get(e.room_id)
        if recent is None:
            size = self._history_size.get(room_kind(e.room_id) or "", 100)
            recent = self.history[e.room_id] = deque(maxlen=size)
        else:
            self.history.move_to_end(e.room_id)
        at = e.occurred_at
        full = len(recent) == recent.maxlen
        if full:
            self.history_truncated.add(e.room_id)
            if recent and at < recent[0].occurred_at:
                return  # another node's message older than the whole window: memory keeps the newest
        else:
            self._history_held += 1
        if recent and at < recent[-1].occurred_at:
            # Another node's message applied after newer ones (a node that starts folds its own
            # log, then the recent stream): in its place by time, so a full window drops the
            # oldest. Messages of one time stay in the order applied (history_key sorts them).
            if full:
                recent.popleft()
            recent.insert(bisect_right(recent, at, key=_occurred_at), e)
        else:
            recent.append(e)
        while self._history_held > self._history_budget and len(self.history) > 1:
            self._drop_history(next(iter(self.history)))

    def _drop_history(self, room_id: str) -> None:
        """Let go of a room's recent messages (the room idle the longest): its history pages
        are read from the log from now on, as for a room whose window was trimmed."""
        dropped = self.history.pop(room_id)
        self._history_held -= len(dropped)
        self.history_truncated.add(room_id)

    def order_history(self, room_ids: Iterable[str]) -> None:
        """Sort these rooms' in-memory history by :func:`history_key` (after applying other
        nodes' events out of order, as a node that starts does)."""
        for room_id in room_ids:
            recent = self.history.get(room_id)
            if recent is not None:
                self.history[room_id] = deque(sorted(recent, key=history_key), maxlen=recent.maxlen)

    def _restore(self, e: Event) -> None:
        """Put an approved message back into its room's history at its place (:func:`history_key`:
        its seq position on one node; with many nodes the history holds other nodes' messages,
        whose seqs are theirs).

        One older than the whole window stays out when the window is full or the room's older
        history is in the log only: memory must hold the newest messages without a gap, and
        history pages read older ones from the log (which shows the approved message there).
        """
        recent = self.history.get(e.room_id)
        if recent and history_key(e) < history_key(recent[0]) and (
            len(recent) == recent.maxlen or e.room_id in self.history_truncated
        ):
            self.history_truncated.add(e.room_id)
            return
        self._remember(e)
        recent = self.history[e.room_id]
        if len(recent) > 1 and history_key(recent[-2]) > history_key(e):
            self.history[e.room_id] = deque(sorted(recent, key=history_key), maxlen=recent.maxlen)

    def _forget(self, room_id: str, message_id: str) -> None:
        recent = self.history.get(room_id)
        if recent is not None:
            kept = [m for m in recent if m.message_id != message_id]
            if len(kept) != len(recent):
                self.history[room_id] = deque(kept, maxlen=recent.maxlen)
                self._history_held -= len(recent) - len(kept)

    def _on_deleted(self, e: Event, p: dict[str, Any]) -> None:
        assert e.message_id is not None
        if (ref := self.messages.get(e.message_id)) is not None:
            ref.fold(e)
        else:
            self._unplaced(e)
        self.held.pop(e.message_id, None)
        self.held_for.pop(e.message_id, None)
        self.hidden.pop(e.message_id, None)
        self._forget(e.room_id, e.message_id)
        self._unpin(e)

    def _unpin(self, e: Event) -> None:
        """A pinned message that leaves the room's view is no longer pinned. The service writes
        an unpin event with the deletion or the hiding report; this also unpins what older
        logs left pinned without one."""
        room = self.rooms.get(e.room_id)
        if room is not None and room.pinned_message_id == e.message_id:
            room.pinned_message_id = None

    def _on_moderated(self, e: Event, p: dict[str, Any]) -> None:
        if p.get("action") == "hold" and e.message_id is not None:
            self.held_for[e.message_id] = [r["code"] for r in p.get("reasons", ())]

    def _on_reported(self, e: Event, p: dict[str, Any]) -> None:
        assert e.message_id is not None
        self.reporters.setdefault(e.message_id, set()).add(e.user_id)
        self.reported_at.setdefault(e.message_id, e.occurred_at)
        if not p.get("hide"):
            return
        if (ref := self.messages.get(e.message_id)) is None:
            self._unplaced(e)
            return
        ref.fold(e)
        recent = self.history.get(e.room_id, ())
        if (shown := next((m for m in recent if m.message_id == e.message_id), None)) is not None:
            self.hidden[e.message_id] = shown
        self._forget(e.room_id, e.message_id)
        self._unpin(e)

    def _on_approved(self, e: Event, p: dict[str, Any]) -> None:
        assert e.message_id is not None
        held = self.held.pop(e.message_id, None) or self.hidden.pop(e.message_id, None)
        self.held_for.pop(e.message_id, None)
        if (ref := self.messages.get(e.message_id)) is not None:
            ref.fold(e)
        elif held is None:
            self._unplaced(e)
        if p.get("decision") == "approve" and held is not None:
            self._restore(held)
        self.reporters.pop(e.message_id, None)
        self.reported_at.pop(e.message_id, None)

    def _on_reaction(self, e: Event, p: dict[str, Any]) -> None:
        assert e.message_id is not None
        emoji = sys.intern(p["emoji"])  # one string for every message's 🔥, as for user ids
        users = self.reactions.setdefault(e.message_id, {}).setdefault(emoji, set())
        if e.event_type is EventType.REACTION_ADDED:
            users.add(sys.intern(e.user_id))
        else:
            users.discard(e.user_id)

    def _on_poll(self, e: Event, p: dict[str, Any]) -> None:
        if e.event_type is EventType.POLL_CREATED:
            self.polls[p["poll_id"]] = Poll(
                poll_id=p["poll_id"], room_id=e.room_id, question=p["question"],
                options=list(p["options"]), created_by=e.user_id,
            )  # fmt: skip
            return
        poll = self.polls.get(p["poll_id"])
        if poll is None:
            self._unplaced(e)
            return
        if e.event_type is EventType.POLL_VOTED:
            option = int(p["option"])
            if 0 <= option < len(poll.options):  # the service writes no other; a log may
                poll.votes.setdefault(e.user_id, option)
        else:
            poll.closed = True

    def _on_restriction(self, e: Event, p: dict[str, Any]) -> None:
        kind = _RESTRICTION_KIND[e.event_type]
        scope = GLOBAL if p.get("scope") == "global" else e.room_id
        key = (kind, scope, e.user_id)
        if e.event_type in (EventType.USER_UNMUTED, EventType.USER_UNBANNED):
            self.restrictions.pop(key, None)
            if e.event_type is EventType.USER_UNBANNED:
                self.restrictions.pop(("shadow", scope, e.user_id), None)
            return
        until = p.get("until")
        self.restrictions[key] = Restriction(
            until=datetime.fromisoformat(until) if until else None, reason=p.get("reason", "")
        )

    def _on_room_mode(self, e: Event, p: dict[str, Any]) -> None:
        room = self._room_of_event(e.room_id)
        before = room.settings
        room.settings = RoomSettings(
            mode=RoomMode(p["mode"]),
            slow_mode_seconds=int(p["slow_mode_seconds"]),
            max_message_length=int(p["max_message_length"]),
        )
        self._longest_slow_mode = max(self._longest_slow_mode, room.settings.slow_mode_seconds)
        cause = p.get("cause", "admin")
        room.closed_by_admin = room.settings.mode is RoomMode.CLOSED and cause == "admin"
        self._crowd_or_manual(e, cause, before, room.settings)

    def _crowd_or_manual(self, e: Event, cause: str, before: RoomSettings, after: RoomSettings) -> None:
        """Who the room's mode and slow mode stand by. Crowd control owns them from its first
        change (remembering what they were) until it puts them back or a person changes
        either; a change of the max length alone leaves them as they stand."""
        now = (after.mode, after.slow_mode_seconds)
        if cause == "crowd_control":
            self.manual.pop(e.room_id, None)
            owned = self.crowd.get(e.room_id)
            if owned is None:
                self.crowd[e.room_id] = CrowdChange(
                    mode=before.mode, slow_mode_seconds=before.slow_mode_seconds, node_id=e.node_id
                )
            elif now == (owned.mode, owned.slow_mode_seconds):
                del self.crowd[e.room_id]  # restored
        elif now != (before.mode, before.slow_mode_seconds):
            self.crowd.pop(e.room_id, None)
            self.manual[e.room_id] = e.occurred_at

    def _on_pinned(self, e: Event, p: dict[str, Any]) -> None:
        self._room_of_event(e.room_id).pinned_message_id = e.message_id if p.get("pinned", True) else None

    def _on_role(self, e: Event, p: dict[str, Any]) -> None:
        if e.event_type is EventType.ROLE_GRANTED:
            self.grants[(e.room_id, e.user_id)] = Role(p["role"])
        else:
            self.grants.pop((e.room_id, e.user_id), None)

    def _on_membership(self, e: Event, p: dict[str, Any]) -> None:
        if e.event_type is EventType.ROOM_JOINED:
            # Interned: a room's id is then one string for all its members, not one per join
            # event read from the log (136 -> 88 B a membership, measured).
            self.memberships[sys.intern(e.user_id)].add(sys.intern(e.room_id))
        elif (rooms := self.memberships.get(e.user_id)) is not None:
            rooms.discard(e.room_id)
            if not rooms:  # a user in no room takes no memory (each socket's leave is one)
                del self.memberships[e.user_id]

    def _on_policy(self, e: Event, p: dict[str, Any]) -> None:
        self.moderation_policies[p["kind"]] = p["policy"]

    def _on_exposure(self, e: Event, p: dict[str, Any]) -> None:
        self.exposure[e.user_id if p.get("unit", "user") == "user" else e.context_id] = p["group"]

    # -- comparison ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A plain, comparable picture of everything the state holds (for projection tests)."""
        return {
            "rooms": {
                k: msgspec.to_builtins(v) for k, v in sorted(self.rooms.items()) if v.last_seq
            },
            "grants": {f"{r}|{u}": str(v) for (r, u), v in sorted(self.grants.items())},
            "memberships": {u: sorted(r) for u, r in sorted(self.memberships.items()) if r},
            "polls": {k: msgspec.to_builtins(v) for k, v in sorted(self.polls.items())},
            "reactions": {
                m: {em: sorted(us) for em, us in sorted(r.items()) if us}
                for m, r in sorted(self.reactions.items())
            },
            "restrictions": {
                "|".join(k): msgspec.to_builtins(v) for k, v in sorted(self.restrictions.items())
            },
            "messages": {k: msgspec.to_builtins(v) for k, v in sorted(self.messages.items())},
            "history": {r: [m.message_id for m in h] for r, h in sorted(self.history.items())},
            "held": sorted(self.held),
            "held_for": dict(sorted(self.held_for.items())),
            "reporters": {m: sorted(u) for m, u in sorted(self.reporters.items())},
            "reported_at": {m: at.isoformat() for m, at in sorted(self.reported_at.items())},
            "posted_as_moderator": sorted("|".join(k) for k in self.posted_as_moderator),
            "exposure": dict(sorted(self.exposure.items())),
            "moderation_policies": dict(sorted(self.moderation_policies.items())),
            "crowd": {r: msgspec.to_builtins(v) for r, v in sorted(self.crowd.items())},
            "manual": {r: at.isoformat() for r, at in sorted(self.manual.items())},
            "last_seq": self.last_seq,
        }


_RESTRICTION_KIND = {
    EventType.USER_MUTED: "mute",
    EventType.USER_UNMUTED: "mute",
    EventType.USER_BANNED: "ban",
    EventType.USER_UNBANNED: "ban",
    EventType.USER_SHADOW_BANNED: "shadow",
}

_HANDLERS = {
    EventType.MESSAGE_SENT: CommunityState._on_message,
    EventType.MESSAGE_MODERATED: CommunityState._on_moderated,
    EventType.MESSAGE_DELETED: CommunityState._on_deleted,
    EventType.MESSAGE_REPORTED: CommunityState._on_reported,
    EventType.MESSAGE_APPROVED: CommunityState._on_approved,
    EventType.MESSAGE_PINNED: CommunityState._on_pinned,
    EventType.REACTION_ADDED: CommunityState._on_reaction,
    EventType.REACTION_REMOVED: CommunityState._on_reaction,
    EventType.POLL_CREATED: CommunityState._on_poll,
    EventType.POLL_VOTED: CommunityState._on_poll,
    EventType.POLL_CLOSED: CommunityState._on_poll,
    EventType.USER_MUTED: CommunityState._on_restriction,
    EventType.USER_UNMUTED: CommunityState._on_restriction,
    EventType.USER_BANNED: CommunityState._on_restriction,
    EventType.USER_UNBANNED: CommunityState._on_restriction,
    EventType.USER_SHADOW_BANNED: CommunityState._on_restriction,
    EventType.ROOM_MODE_CHANGED: CommunityState._on_room_mode,
    EventType.ROLE_GRANTED: CommunityState._on_role,
    EventType.ROLE_REVOKED: CommunityState._on_role,
    EventType.ROOM_JOINED: CommunityState._on_membership,
    EventType.ROOM_LEFT: CommunityState._on_membership,
    EventType.EXPOSURE_ASSIGNED: CommunityState._on_exposure,
    EventType.MODERATION_POLICY_CHANGED: CommunityState._on_policy,
}
