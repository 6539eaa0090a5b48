"""``sideline events import FILE``: bring externally produced events into the log.

For backfills (a previous chat vendor's history, a replay of another system) as JSON Lines or
Parquet, one event per line or row with the log's envelope fields. Each record is validated
like live traffic: a known event type, a timezone-aware time, a ``kind:id`` room, the payload
fields of its type with their types, a message id where the type needs one, a room the service
serves where the state applies the event to the room, and a poll vote's option and a poll
close's results against its poll (see :mod:`analytics.import_payloads`: the service rebuilds
its state from the log at start, and an event it cannot apply would stop it from starting).
Nothing is appended unless every record is valid (``skip_invalid`` appends the valid ones
and reports the rest). Records whose ``event_id`` is already in the log, or earlier in the
file, are skipped, so importing the same file twice adds nothing the second time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import duckdb
import msgspec
import pyarrow.parquet as pq
from msgspec import Meta

from analytics.import_payloads import NEEDS_MESSAGE, NEEDS_ROOM, PAYLOADS
from service import duck
from service.domain.events import Event, EventType, Metadata, uuid7
from service.domain.rooms import ROOM_KIND, room_kind
from service.eventlog.base import LogUnreadable
from service.eventlog.duckdb_log import DuckDBLog
from service.identity import MAX_CONTEXT_LENGTH
from service.protocol.http import UserId

_POLICY_ROOM = re.compile(rf"{ROOM_KIND}:\*")
"""The room id of a policy change (``match:*``, actions.policies), matched whole."""
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`(?: - at `(?P<at>[^`]+)`)?$")
MAX_SHOWN = 20


class Record(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One imported event as it appears in the file (the log's columns; ids optional)."""

    event_type: EventType
    occurred_at: datetime
    user_id: UserId
    """1 to 128 characters, as the service's user ids are: a token's ``sub`` (service.identity)
    or a body's ``user_id``; a longer one was written and served with each of its messages."""
    room_id: str
    context_id: Annotated[str, Meta(max_length=MAX_CONTEXT_LENGTH)] | None = None
    """A token's ``ctx``: at most 256 characters, not only white space (service.identity);
    the room's id when absent."""
    event_id: str | None = None
    actor_id: UserId | None = None
    """Who acted on ``user_id``: a moderator's user id or ``system:*``, bounded as user ids are."""
    message_id: str | None = None
    device: str | None = None
    language: str | None = None
    message_type: str | None = None
    app_version: str | None = None
    session_id: str | None = None
    payload: dict[str, Any] | str = msgspec.field(default_factory=dict)
    # Columns a log export carries but the writer assigns anew; accepted and ignored.
    seq: int | None = None
    epoch: str | None = None
    node_id: str | None = None
    schema_version: int | None = None


@dataclass(slots=True)
class ImportReport:
    """What an import found and did."""

    read: int = 0
    valid: int = 0
    appended: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)


class ImportFailed(Exception):
    """The file cannot be imported; the message lists the bad records."""


def read_records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, raw record) for each line of a ``.jsonl`` or row of a ``.parquet`` file."""
    if path.suffix in (".jsonl", ".ndjson", ".json"):
        with path.open("rb") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield f"{path.name} line {n}", msgspec.json.decode(line)
                    except msgspec.DecodeError as exc:
                        yield f"{path.name} line {n}", exc
    elif path.suffix == ".parquet":
        row = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
            for item in batch.to_pylist():
                row += 1
                yield f"{path.name} row {row}", item
    else:
        raise ImportFailed(f"{path}: expected a .jsonl or .parquet file")


def validate(where: str, raw: Any, *, rooms: Collection[str]) -> Event:
    """The event of one raw record; ``rooms`` are the configured room kinds.

    Raises:
        ValueError: the record is invalid; the message starts with ``where`` and names the field.
    """
    if isinstance(raw, Exception):
        raise ValueError(f"{where}: not valid JSON: {raw}")
    try:
        rec = msgspec.convert(raw, Record, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if rec.occurred_at.tzinfo is None:
        raise ValueError(f"{where}: occurred_at has no time zone - at `$.occurred_at`")
    for name in ("user_id", "room_id", "context_id"):
        if (value := getattr(rec, name)) is not None and not value.strip():
            raise ValueError(f"{where}: {name} is empty - at `$.{name}`")
    _room_id(where, rec)
    if rec.event_id is not None and not _UUID.match(rec.event_id):
        raise ValueError(f"{where}: event_id {rec.event_id!r} is not a UUID - at `$.event_id`")
    if rec.event_type in NEEDS_MESSAGE and not rec.message_id:
        raise ValueError(f"{where}: {rec.event_type.value} needs a message_id - at `$.message_id`")
    if rec.event_type in NEEDS_ROOM:
        _served_room(where, rec, rooms)
    payload = _payload(where, rec)
    if rec.event_type is EventType.MODERATION_POLICY_CHANGED:
        _policy_kind(where, rec, payload)
    return Event(
        event_id=rec.event_id or uuid7(rec.occurred_at),
        event_type=rec.event_type,
        occurred_at=rec.occurred_at,
        user_id=rec.user_id,
        room_id=rec.room_id,
        context_id=rec.context_id or rec.room_id,
        actor_id=rec.actor_id,
        message_id=rec.message_id,
        metadata=Metadata(device=rec.device, language=rec.language, message_type=rec.message_type,
                          app_version=rec.app_version, session_id=rec.session_id),
        payload=payload,
    )  # fmt: skip


def _room_id(where: str, rec: Record) -> None:
    """The room id is one the service writes: one its API accepts (``check_room_id``), of any
    kind (an operator may have taken a kind out since), or a policy change's ``kind:*``. The
    log and the state key the room's events by it; one no client can name (a slash, markup, a
    trailing newline) filed them under a room nothing serves."""
    if rec.event_type is EventType.MODERATION_POLICY_CHANGED:
        if not _POLICY_ROOM.fullmatch(rec.room_id):
            raise ValueError(
                f"{where}: room id {rec.room_id[:80]!r} of a {rec.event_type.value} is not kind:* "
                "- at `$.room_id`"
            )
    elif room_kind(rec.room_id) is None:
        raise ValueError(
            f"{where}: room id {rec.room_id[:80]!r} is not kind:key (a key of A-Z a-z 0-9 . _ ~ @ "
            "+ -, 1 to 128) - at `$.room_id`"
        )


def _policy_kind(where: str, rec: Record, payload: dict[str, Any]) -> None:
    """A policy change is of its room id's kind: the service writes kind K's as ``K:*`` with
    ``kind: K`` (actions.policies), and the state files the policy under the payload's kind, so
    ``match:*`` with ``kind: team`` changed team's policy from match's room. The room id is
    ``kind:*`` (``_room_id``) and the kind a string (the payload's schema)."""
    kind = payload["kind"]
    if f"{kind}:*" != rec.room_id:
        raise ValueError(
            f"{where}: {rec.event_type.value}: kind {kind[:80]!r} is not the kind of room id "
            f"{rec.room_id!r} - at `$.payload.kind`"
        )


def _served_room(where: str, rec: Record, rooms: Collection[str]) -> None:
    """The state builds the room from its kind's settings (``CommunityState.room``): another
    kind stopped it from starting. The id is a room id (``_room_id``)."""
    kind = room_kind(rec.room_id)
    if kind not in rooms:
        raise ValueError(
            f"{where}: {rec.event_type.value}: room kind {kind!r} is not configured "
            f"(rooms: {', '.join(sorted(rooms))}) - at `$.room_id`"
        )


def _payload(where: str, rec: Record) -> dict[str, Any]:
    payload: Any = rec.payload
    if isinstance(payload, str):
        try:
            payload = msgspec.json.decode(payload)
        except msgspec.DecodeError as exc:
            raise ValueError(f"{where}: payload is not JSON: {exc} - at `$.payload`") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{where}: payload must be an object - at `$.payload`")
    schema = PAYLOADS.get(rec.event_type)
    if schema is not None:
        try:
            msgspec.convert(payload, schema)
        except msgspec.ValidationError as exc:
            raise ValueError(f"{where}: {rec.event_type.value}: {_payload_error(exc)}") from None
    return payload


def _payload_error(exc: msgspec.ValidationError) -> str:
    """msgspec's message with its path under ``$.payload``. A missing field is located at
    itself: msgspec names the object that lacks it, and no path at all at the payload's top."""
    text = str(exc)
    if missing := _MISSING.match(text):
        name, at = missing.group("name"), missing.group("at") or "$"
        text = f"Object missing required field `{name}` - at `{at}.{name}`"
    return text.replace("`$", "`$.payload")


def _known_ids(cur: duckdb.DuckDBPyConnection, *, ids: list[str]) -> set[str]:
    rows = cur.execute(
        "SELECT event_id FROM events WHERE event_id IN (SELECT unnest(?))", [ids]
    ).fetchall()
    return {r[0] for r in rows}


PollsInLog = Callable[[set[str]], dict[str, int]]
"""The number of options of each of these polls that the log holds (by poll id)."""


def check_file(
    path: Path, report: ImportReport, *, rooms: Collection[str], polls_in_log: PollsInLog
) -> list[Event]:
    """Every valid, not-yet-seen event of the file; problems go to ``report.errors``, in the
    file's order. ``rooms`` are the configured room kinds."""
    events: list[Event] = []
    seen: set[str] = set()
    errors: list[tuple[int, str]] = []
    polls: dict[str, int] = {}
    uses: list[PollUse] = []
    for n, (where, raw) in enumerate(read_records(path)):
        report.read += 1
        try:
            event = validate(where, raw, rooms=rooms)
        except ValueError as exc:
            errors.append((n, str(exc)))
            continue
        if event.event_id in seen:
            report.duplicates += 1
            continue
        seen.add(event.event_id)
        events.append(event)
        if event.event_type is EventType.POLL_CREATED:
            polls[event.payload["poll_id"]] = len(event.payload["options"])
        elif event.event_type in (EventType.POLL_VOTED, EventType.POLL_CLOSED):
            uses.append((n, where, event, polls.get(event.payload["poll_id"])))
    refused = _check_poll_uses(uses, polls_in_log, errors)
    if refused:
        events = [e for e in events if e.event_id not in refused]
    report.errors.extend(text for _, text in sorted(errors))
    report.valid = len(events)
    return events


PollUse = tuple[int, str, Event, int | None]
"""A vote or close: (its index in the file, where, the event, its poll's option count when the
file created the poll before it)."""


def _check_poll_uses(
    uses: list[PollUse], polls_in_log: PollsInLog, errors: list[tuple[int, str]]
) -> set[str]:
    """The ids of the votes and closes that do not fit their poll's options (errors go to
    ``errors``).

    The state counts a vote in its poll's results at the option's index (past the options, the
    results broke); the service closes a poll with one count per option (``Poll.results``).
    The poll is the one created earlier in the file, else the log's; one for a poll neither
    has is not checked: the state, which replays the log in order, has no poll to count it
    for or close and ignores it.
    """
    unknown = {e.payload["poll_id"] for _, _, e, options in uses if options is None}
    logged = polls_in_log(unknown) if unknown else {}
    refused: set[str] = set()
    for n, where, e, options in uses:
        if options is None:
            options = logged.get(e.payload["poll_id"])
        if options is not None and (wrong := _misfit(e, options)):
            refused.add(e.event_id)
            errors.append((n, f"{where}: {e.event_type.value}: {wrong}"))
    return refused


def _misfit(e: Event, options: int) -> str | None:
    """What of a vote or close does not fit its poll of ``options`` options, if anything."""
    poll_id = e.payload["poll_id"][:64]
    if e.event_type is EventType.POLL_VOTED:
        option = e.payload["option"]
        if option >= options:
            return (f"option {option} does not exist (poll {poll_id!r} has {options} options) "
                    "- at `$.payload.option`")  # fmt: skip
        return None
    results = len(e.payload["results"])
    if results != options:
        return (f"{results} results for poll {poll_id!r} of {options} options "
                "- at `$.payload.results`")  # fmt: skip
    return None


def polls_in_log(log_path: Path, poll_ids: set[str]) -> dict[str, int]:
    """The number of options of each of ``poll_ids`` created in the log at ``log_path`` (the
    last creation of an id, as the state keeps it); none when there is no log yet.

    Read only for votes and closes whose poll the file does not create first, and then in a
    dry run too.

    Raises:
        LogUnreadable: the log cannot be read (held by a running service).
    """
    if not log_path.exists():
        return {}
    try:
        con = duck.connect(log_path, read_only=True)
    except duckdb.Error as exc:
        raise LogUnreadable(f"event log {log_path} cannot be read ({exc})") from exc
    try:
        rows = con.execute(
            "SELECT json_extract_string(payload, '$.poll_id'), json_array_length(payload, '$.options') "
            "FROM events WHERE event_type = ? AND json_extract_string(payload, '$.poll_id') "
            "IN (SELECT unnest(?)) ORDER BY seq",
            [EventType.POLL_CREATED.value, sorted(poll_ids)],
        ).fetchall()
    finally:
        con.close()
    return {poll_id: int(options) for poll_id, options in rows if options is not None}


async def import_file(
    path: Path, log_path: Path, node_id: str, *, rooms: Collection[str],
    skip_invalid: bool = False, dry_run: bool = False, batch: int = 5000,
) -> ImportReport:  # fmt: skip
    """Validate ``path`` and append its new events to the log at ``log_path``; ``rooms`` are
    the configured room kinds.

    Raises:
        ImportFailed: a record is invalid (and ``skip_invalid`` is off), or the file is unusable.
        service.eventlog.base.LogUnreadable: the log is held by a running service.
    """
    report = ImportReport()
    events = check_file(path, report, rooms=rooms, polls_in_log=partial(polls_in_log, log_path))
    if report.errors and not skip_invalid:
        shown = report.errors[:MAX_SHOWN]
        more = len(report.errors) - len(shown)
        raise ImportFailed("\n".join(shown) + (f"\n... and {more} more" if more > 0 else "")
                           + "\nnothing was imported")  # fmt: skip
    if dry_run or not events:
        return report
    log = DuckDBLog(log_path, node_id=node_id)
    await log.start()
    try:
        for i in range(0, len(events), batch):
            chunk = events[i : i + batch]
            ids = [e.event_id for e in chunk]
            known = await log.run_read(partial(_known_ids, ids=ids))
            fresh = [e for e in chunk if e.event_id not in known]
            report.duplicates += len(chunk) - len(fresh)
            if fresh:
                await log.append(fresh)
                report.appended += len(fresh)
    finally:
        await log.close()
    return report
