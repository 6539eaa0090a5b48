"""Checkpoints of the community state: a start that folds only the log's newest events.

The state is a projection of the log (:mod:`service.domain.state`). Rebuilding it means
folding every event the node ever committed: ~13 s a million events on this project's
2-core machine, growing with the log for as long as the node lives. A checkpoint is the
state as it stood at one seq of the log, written when the service stops cleanly; the next
start reads it and folds only the events after that seq. It is a cache of the fold, never a
source of truth: whenever it cannot be shown to be the fold of this very log, with this very
code and these settings, the start ignores it (saying why) and folds the whole log.

It is taken of the running state, so only when that state is the fold of this node's log
alone: not once another node's events were applied to it (``CommunityState.holds_remote``,
many nodes), not when the last committed event has not reached it.

File layout: ``MAGIC``, then a msgpack :class:`Stamp` (length-prefixed), then the msgpack
:class:`Image` and its CRC-32. The stamp ties the image to

- the fold's code: a digest of the source of the modules it runs (:data:`FOLD_MODULES`), so
  any release that changes the fold, or the records it keeps, rebuilds once;
- the settings the fold reads (room policies, history sizes, the memory bounds);
- the log: its node, epoch and schema version, the seq the image was taken at, and the id of
  the event at that seq (a log restored from an older backup that then took other events has
  the same epoch and seqs, but not the same events).
"""

from __future__ import annotations

import ast
import gc
import hashlib
import importlib
import os
import struct
import sys
import time
import zlib
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

import msgspec

from service.domain.events import Event
from service.domain.records import CrowdChange, MessageRef, Poll, Restriction
from service.domain.rooms import Role, RoomState
from service.domain.state import CommunityState
from service.durable import fsync_dir

MAGIC = b"SIDELINE-STATE-CHECKPOINT\n"
FORMAT = 1
"""Bumped when the file layout changes (the fold's own changes are caught by the digest)."""

FOLD_MODULES = (
    "service.eventlog.checkpoint",
    "service.domain.events",
    "service.domain.records",
    "service.domain.rooms",
    "service.domain.state",
    "service.eventlog.codec",
)
"""The modules whose code decides what the state holds after a fold: the state, its records,
the events and how they are read from the log, and this file."""


class Stamp(msgspec.Struct, kw_only=True):
    """What an image is the fold of."""

    format: int
    code: str
    settings: str
    node_id: str
    epoch: str
    log_schema: int
    seq: int
    event_id: str


class Messages(msgspec.Struct, array_like=True):
    """The message index (:class:`MessageRef` s, oldest first) as columns: room and user ids
    and visibilities as positions in :attr:`Image.names`, the three flags as bits. A third of
    the size of the refs as maps, and each name one string when read."""

    ids: list[str]
    rooms: list[int]
    users: list[int]
    seqs: list[int]
    visibility: list[int]
    flags: list[int]


class ClientIds(msgspec.Struct, array_like=True):
    """``client_ids`` (oldest first) as columns: (user, room, client message id) -> message id."""

    users: list[int]
    rooms: list[int]
    client_msg_ids: list[str]
    message_ids: list[str]


class LastPosts(msgspec.Struct, array_like=True):
    """``last_post`` as columns: when each (room, user) last posted."""

    rooms: list[int]
    users: list[int]
    at: list[datetime]


_DELETED, _HIDDEN, _SHADOW = 1, 2, 4


class Image(msgspec.Struct, kw_only=True):
    """Every field of :class:`CommunityState` (``tests/unit/test_checkpoint.py`` fails when
    the state gains one this does not carry). Dicts keyed by tuples are lists of rows (msgpack
    maps take no tuple keys); ordered dicts keep their order; the three largest tables are
    columns over one table of names."""

    rooms: list[RoomState]
    grants: list[tuple[str, str, Role]]
    memberships: dict[str, set[str]]
    polls: list[Poll]
    reactions: dict[str, dict[str, set[str]]]
    restrictions: list[tuple[str, str, str, Restriction]]
    names: list[str]
    messages: Messages
    client_ids: ClientIds
    history: list[tuple[str, int, list[Event]]]
    history_truncated: set[str]
    history_held: int
    last_post: LastPosts
    newest_post: datetime | None
    last_post_swept: datetime | None
    last_post_sweep_size: int
    longest_slow_mode: int
    posted_as_moderator: set[tuple[str, str]]
    reporters: dict[str, set[str]]
    reported_at: dict[str, datetime]
    held: dict[str, Event]
    held_for: dict[str, list[str]]
    hidden: dict[str, Event]
    exposure: dict[str, str]
    moderation_policies: dict[str, dict[str, Any]]
    crowd: dict[str, CrowdChange]
    manual: dict[str, datetime]
    unplaced: list[Event]
    last_seq: int


CARRIED = frozenset({
    "rooms", "grants", "memberships", "polls", "reactions", "restrictions", "messages",
    "client_ids", "history", "history_truncated", "_history_held", "last_post", "_newest_post",
    "_last_post_swept", "_last_post_sweep_size", "_longest_slow_mode", "posted_as_moderator",
    "reporters", "reported_at", "held", "held_for", "hidden", "exposure",
    "moderation_policies", "crowd", "manual", "unplaced", "last_seq",
})  # fmt: skip
"""The state's attributes an image carries."""

CONFIGURED = frozenset({
    "_policies", "_history_size", "_history_budget", "_index_size", "holds_remote",
    "_collecting_unplaced",
})  # fmt: skip
"""The state's attributes its construction sets (from the settings, in the stamp's digest),
whether it holds other nodes' events (never so when an image is taken), and whether it still
keeps unplaced events (it does until its first start is over, as a restored state's start is
not)."""


class CheckpointLog(Protocol):
    """What a checkpoint needs of the event log (:class:`service.eventlog.duckdb_log.DuckDBLog`)."""

    @property
    def node_id(self) -> str: ...
    @property
    def epoch(self) -> str: ...
    @property
    def last_seq(self) -> int: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def last_event_id(self) -> str: ...
    def event_id_at(self, seq: int) -> str | None: ...
    def replay(self, *, after: int = 0) -> Iterator[Event]: ...


class Unusable(Exception):
    """The checkpoint is not the fold of this log with this code and these settings."""


def code_digest() -> str:
    """A digest of the fold's code (:data:`FOLD_MODULES`); empty when a module's source
    cannot be read or parsed (then no checkpoint is written or trusted).

    Of the code's syntax tree, not its text: a release that only reworded comments or
    docstrings, or re-wrapped lines, keeps the checkpoints of the one before (a whole fold is
    ~13 s a million events). Any change to what the code does changes the tree, and so does
    another Python version's parser, which then folds once, to be safe."""
    h = hashlib.sha256()
    for name in FOLD_MODULES:
        source = getattr(importlib.import_module(name), "__file__", None)
        if source is None or not source.endswith(".py"):
            return ""
        try:
            tree = ast.parse(Path(source).read_bytes())
        except (OSError, SyntaxError, ValueError):
            return ""
        h.update(ast.dump(_WithoutDocstrings().visit(tree)).encode())
    return h.hexdigest()


class _WithoutDocstrings(ast.NodeTransformer):
    """Leaves out every statement that is a string alone: the docstrings of modules, classes
    and functions, and those written under attributes. Such a statement does nothing."""

    def visit_Expr(self, node: ast.Expr) -> ast.Expr | None:
        value = node.value
        return None if isinstance(value, ast.Constant) and isinstance(value.value, str) else node


def settings_digest(state: CommunityState) -> str:
    """A digest of the settings the fold reads: the policy a room starts from, by kind, the
    history each kind keeps, and the memory bounds."""
    picture = {
        "policies": {k: msgspec.to_builtins(v) for k, v in sorted(state.policies.items())},
        "history_size": dict(sorted(state.history_sizes.items())),
        "history_budget": state.history_budget,
        "message_index_size": state.message_index_size,
    }
    return hashlib.sha256(msgspec.json.encode(picture)).hexdigest()


def path_for(log_path: Path) -> Path:
    """The checkpoint of the log at ``log_path``: beside it, ``log-node-1.checkpoint``."""
    return log_path.with_name(log_path.stem + ".checkpoint")


# -- taking ------------------------------------------------------------------------------------


def image_of(state: CommunityState) -> Image:
    # One pass over each table (its objects lie all over a large heap: each pass costs in
    # cache misses ~0.3 s a 500,000 entries), then columns by transposing the rows.
    m_ids, m_rooms, m_users, m_seqs, m_vis, m_flags = _columns(6, (
        (r.message_id, r.room_id, r.user_id, r.seq, r.visibility,
         (_DELETED if r.deleted else 0) | (_HIDDEN if r.hidden_by_reports else 0)
         | (_SHADOW if r.shadow_ban else 0))
        for r in state.messages.values()
    ))  # fmt: skip
    c_users, c_rooms, c_cids, c_mids = _columns(
        4, ((u, r, c, m) for (u, r, c), m in state.client_ids.items())
    )
    p_rooms, p_users, p_at = _columns(3, ((r, u, at) for (r, u), at in state.last_post.items()))
    named = (m_rooms, m_users, m_vis, c_users, c_rooms, p_rooms, p_users)
    names = list(dict.fromkeys(chain.from_iterable(named)))
    position = {n: i for i, n in enumerate(names)}.__getitem__
    m_rooms, m_users, m_vis, c_users, c_rooms, p_rooms, p_users = (list(map(position, c)) for c in named)
    messages = Messages(
        ids=m_ids, rooms=m_rooms, users=m_users, seqs=m_seqs, visibility=m_vis, flags=m_flags
    )
    client_ids = ClientIds(users=c_users, rooms=c_rooms, client_msg_ids=c_cids, message_ids=c_mids)
    last_post = LastPosts(rooms=p_rooms, users=p_users, at=p_at)
    return Image(
        rooms=list(state.rooms.values()),
        grants=[(r, u, role) for (r, u), role in state.grants.items()],
        memberships=dict(state.memberships),
        polls=list(state.polls.values()),
        reactions=state.reactions,
        restrictions=[(k, s, u, v) for (k, s, u), v in state.restrictions.items()],
        names=names,
        messages=messages,
        client_ids=client_ids,
        history=[(room, recent.maxlen or 0, list(recent)) for room, recent in state.history.items()],
        history_truncated=state.history_truncated,
        history_held=state.history_held,
        last_post=last_post,
        newest_post=state._newest_post,
        last_post_swept=state._last_post_swept,
        last_post_sweep_size=state._last_post_sweep_size,
        longest_slow_mode=state._longest_slow_mode,
        posted_as_moderator=state.posted_as_moderator,
        reporters=state.reporters,
        reported_at=state.reported_at,
        held=state.held,
        held_for=state.held_for,
        hidden=state.hidden,
        exposure=state.exposure,
        moderation_policies=state.moderation_policies,
        crowd=state.crowd,
        manual=state.manual,
        unplaced=list(state.unplaced),
        last_seq=state.last_seq,
    )


def _columns(width: int, rows: Iterable[tuple[Any, ...]]) -> list[list[Any]]:
    """``rows`` transposed: ``width`` lists (empty ones when there are no rows)."""
    return [list(c) for c in zip(*rows, strict=True)] or [[] for _ in range(width)]


def write(path: Path, state: CommunityState, event_log: CheckpointLog) -> str:
    """Write ``state`` as the checkpoint of ``event_log`` at ``path`` (atomically: a crash
    leaves the old file or the new one). Returns what was done, for the log. Writes nothing
    when the state is not the fold of this log alone; an older file is then kept, as it still
    is the fold of the log up to its seq (the log only grows)."""
    if state.holds_remote:
        return "no state checkpoint written: the state holds other nodes' events"
    seq = event_log.last_seq
    if state.last_seq != seq:
        return f"no state checkpoint written: the state is at seq {state.last_seq}, the log at {seq}"
    code = code_digest()
    if not code:
        return "no state checkpoint written: the fold's source is unreadable"
    started = time.perf_counter()
    stamp = Stamp(
        format=FORMAT, code=code, settings=settings_digest(state), node_id=event_log.node_id,
        epoch=event_log.epoch, log_schema=event_log.schema_version, seq=seq,
        event_id=event_log.last_event_id,
    )  # fmt: skip
    head = msgspec.msgpack.encode(stamp)
    with _no_gc():  # millions of rows made at once, none garbage: no passes over the heap
        body = msgspec.msgpack.encode(image_of(state))
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC + struct.pack(">I", len(head)) + head)
            out.write(body)
            out.write(struct.pack(">I", zlib.crc32(body)))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk: the older checkpoint stays, no partial file beside it
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return (
        f"state checkpoint written at seq {seq} ({(len(head) + len(body)) / 1e6:.1f} MB "
        f"in {time.perf_counter() - started:.2f}s)"
    )


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic collector paused: building a state allocates millions of objects, each
    allocation burst triggering passes over all of them, and frees no cycle."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


# -- reading -----------------------------------------------------------------------------------


def read(path: Path, state: CommunityState, event_log: CheckpointLog) -> int:
    """Fill ``state`` (fresh, nothing applied) from the checkpoint at ``path`` when it is the
    fold of ``event_log`` with this code and these settings; returns the seq it stands at.
    Raises :class:`Unusable` (saying why) and leaves ``state`` untouched otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Unusable("no checkpoint") from None
    except OSError as exc:
        raise Unusable(f"unreadable ({exc})") from None
    stamp, size = _stamp_of(data)
    _check(stamp, state, event_log)
    at = len(MAGIC)
    body = memoryview(data)[at + 4 + size : -4]
    if len(data) < at + 8 + size or struct.unpack(">I", data[-4:])[0] != zlib.crc32(body):
        raise Unusable("it is damaged (checksum)")
    try:
        image = msgspec.msgpack.decode(body, type=Image)
    except msgspec.DecodeError as exc:
        raise Unusable(f"its image is unreadable ({exc})") from None
    del body, data  # the file's bytes go before the state is built (~80 MB at 1M events)
    if image.last_seq != stamp.seq:
        raise Unusable(f"its image is at seq {image.last_seq}, its stamp at {stamp.seq}")
    restore(state, image)
    return stamp.seq


def _stamp_of(data: bytes) -> tuple[Stamp, int]:
    """The stamp at the head of a checkpoint's bytes, and its encoded size."""
    if not data.startswith(MAGIC):
        raise Unusable("not a state checkpoint")
    at = len(MAGIC)
    try:
        (size,) = struct.unpack_from(">I", data, at)
        return msgspec.msgpack.decode(data[at + 4 : at + 4 + size], type=Stamp), size
    except (struct.error, msgspec.DecodeError) as exc:
        raise Unusable(f"its stamp is unreadable ({exc})") from None


def usable_seq(path: Path, state: CommunityState, event_log: CheckpointLog) -> int:
    """The seq of the checkpoint at ``path`` when a start would use it (its stamp checked;
    the image is not read), else 0: a node killed now folds the log's events after it."""
    try:
        with path.open("rb") as f:
            head = f.read(len(MAGIC) + 4)
            if len(head) < len(MAGIC) + 4:
                return 0
            (size,) = struct.unpack_from(">I", head, len(MAGIC))
            stamp, _ = _stamp_of(head + f.read(size))
        _check(stamp, state, event_log)
    except (OSError, Unusable, struct.error):
        return 0
    return stamp.seq


def _check(stamp: Stamp, state: CommunityState, event_log: CheckpointLog) -> None:
    if stamp.format != FORMAT:
        raise Unusable(f"written in format {stamp.format}, this release reads {FORMAT}")
    code = code_digest()
    if not code or stamp.code != code:
        raise Unusable("written by another release (the fold's code differs)")
    if stamp.settings != settings_digest(state):
        raise Unusable("the room policies, history sizes or memory bounds changed since")
    if (stamp.node_id, stamp.epoch) != (event_log.node_id, event_log.epoch):
        raise Unusable(f"it is of log {stamp.node_id}/{stamp.epoch}, this is {event_log.node_id}/{event_log.epoch}")
    if stamp.log_schema != event_log.schema_version:
        raise Unusable(f"the log's schema went from version {stamp.log_schema} to {event_log.schema_version}")
    if stamp.seq > event_log.last_seq:
        raise Unusable(f"it is at seq {stamp.seq}, past the log's last ({event_log.last_seq})")
    if stamp.seq and event_log.event_id_at(stamp.seq) != stamp.event_id:
        raise Unusable(f"the log's event at seq {stamp.seq} is not the one it was taken at")


def restore(state: CommunityState, image: Image) -> None:
    """Put ``image`` into ``state``, with the same containers (ordered, default) and the same
    shared strings (room and user ids, emoji) the fold makes. Everything is built before the
    state is touched: the state is either as it was or wholly the image's."""
    intern = sys.intern
    memberships: defaultdict[str, set[str]] = defaultdict(set)
    for user, rooms in image.memberships.items():
        memberships[intern(user)] = {intern(r) for r in rooms}
    names = [intern(n) for n in image.names]
    m, c, lp = image.messages, image.client_ids, image.last_post
    messages = OrderedDict(
        (mid, MessageRef(
            message_id=mid, room_id=names[room], user_id=names[user], seq=seq,
            visibility=names[vis], deleted=bool(flags & _DELETED),
            hidden_by_reports=bool(flags & _HIDDEN), shadow_ban=bool(flags & _SHADOW),
        ))
        for mid, room, user, seq, vis, flags in zip(
            m.ids, m.rooms, m.users, m.seqs, m.visibility, m.flags, strict=True
        )
    )  # fmt: skip
    values: dict[str, Any] = {
        "rooms": {r.room_id: r for r in image.rooms},
        "grants": {(r, u): role for r, u, role in image.grants},
        "memberships": memberships,
        "polls": {p.poll_id: p for p in image.polls},
        "reactions": {
            m: {intern(emoji): {intern(u) for u in users} for emoji, users in by_emoji.items()}
            for m, by_emoji in image.reactions.items()
        },
        "restrictions": {(k, s, u): v for k, s, u, v in image.restrictions},
        "messages": messages,
        "client_ids": OrderedDict(
            ((names[u], names[r], cid), mid)
            for u, r, cid, mid in zip(c.users, c.rooms, c.client_msg_ids, c.message_ids, strict=True)
        ),
        "history": OrderedDict(
            (room, deque(events, maxlen=maxlen or None)) for room, maxlen, events in image.history
        ),
        "history_truncated": image.history_truncated,
        "_history_held": image.history_held,
        "last_post": {
            (names[r], names[u]): at for r, u, at in zip(lp.rooms, lp.users, lp.at, strict=True)
        },
        "_newest_post": image.newest_post,
        "_last_post_swept": image.last_post_swept,
        "_last_post_sweep_size": image.last_post_sweep_size,
        "_longest_slow_mode": image.longest_slow_mode,
        "posted_as_moderator": image.posted_as_moderator,
        "reporters": image.reporters,
        "reported_at": image.reported_at,
        "held": image.held,
        "held_for": image.held_for,
        "hidden": image.hidden,
        "exposure": image.exposure,
        "moderation_policies": image.moderation_policies,
        "crowd": image.crowd,
        "manual": image.manual,
        "unplaced": deque(image.unplaced, maxlen=state.unplaced.maxlen),
        "last_seq": image.last_seq,
    }
    assert values.keys() == CARRIED
    vars(state).update(values)


WRITE_AT_START_AFTER = 100_000
"""A start that folded at least this many events (~2 s here) writes a checkpoint as soon as it
has, before serving: with many nodes the state soon holds other nodes' events and no stop can
write one, and a node killed again would fold them all again."""


def rebuild(
    state: CommunityState, event_log: CheckpointLog, path: Path | None, *,
    write_after: int = WRITE_AT_START_AFTER,
) -> str:  # fmt: skip
    """Fold ``event_log`` into ``state`` (fresh): from the checkpoint at ``path`` when it is
    usable, else from the log's first event; then, when that folded ``write_after`` events or
    more, write a checkpoint of the result. Returns how, for the start's log line."""
    after, how = 0, "the whole log"
    if path is not None:
        try:
            with _no_gc():
                after = read(path, state, event_log)
            how = f"the checkpoint at seq {after} and the {event_log.last_seq - after} events after it"
        except Unusable as exc:
            if path.exists():
                how = f"the whole log (checkpoint {path.name} not used: {exc})"
    with _no_gc():  # the fold makes millions of objects and no garbage cycles: ~30% faster
        state.apply_all(event_log.replay(after=after))
    if path is not None and event_log.last_seq - after >= write_after:
        try:
            how += f"; {write(path, state, event_log)}"
        except OSError as exc:  # the state is whole: the start goes on, the next one folds more
            how += f"; no state checkpoint written to {path}: {exc}"
    return how
