"""User erasure applied to Arrow batches: pseudonymous ids, blanked text and names.

An erasure covers a user's events up to the log's last seq at the time it was requested, and
every event of the export that came from elsewhere (an earlier log of the node, a seeded
history: another epoch, whose seqs say nothing about this log's). The same rewrite serves
two places: the warehouse files already written (rewritten by the erase job) and every batch
the forwarder reads afterwards (so a replay never brings the data back, to the warehouse or
to a vendor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from service.sinks.privacy import blank_personal
from service.sinks.store import ErasureRecord

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


def subject_hash(user_id: str) -> str:
    """The stored form of an erased user id."""
    return hashlib.sha256(user_id.encode()).hexdigest()


def pseudonym_for(hash_hex: str) -> str:
    """The id that replaces an erased user id (stable, so counts per user still add up)."""
    return f"erased-{hash_hex[:16]}"


class ErasureIndex:
    """The erasures in force, matched against the user ids of a batch."""

    def __init__(self, records: Iterable[ErasureRecord] = ()) -> None:
        self._by_hash: dict[str, tuple[str, int]] = {}
        for record in records:
            self.add(record)

    def __bool__(self) -> bool:
        return bool(self._by_hash)

    def add(self, record: ErasureRecord) -> None:
        """Put ``record`` in force (a later erasure of the same user extends ``up_to_seq``)."""
        known = self._by_hash.get(record.subject_hash)
        up_to = max(record.up_to_seq, known[1]) if known else record.up_to_seq
        self._by_hash[record.subject_hash] = (record.pseudonym, up_to)

    def matches(self, user_ids: Iterable[str | None]) -> dict[str, tuple[str, int]]:
        """Of ``user_ids``, those erased: user id -> (pseudonym, up_to_seq)."""
        found = {}
        for uid in user_ids:
            if uid is not None:
                hit = self._by_hash.get(subject_hash(uid))
                if hit is not None:
                    found[uid] = hit
        return found

    def apply(self, table: pa.Table) -> tuple[pa.Table, int]:
        """``table`` with erased users' rows rewritten, and how many rows changed."""
        if not self._by_hash or table.num_rows == 0:
            return table, 0
        ids = pc.unique(pa.concat_arrays([
            table.column("user_id").combine_chunks(), table.column("actor_id").combine_chunks()
        ])).to_pylist()  # fmt: skip
        hits = self.matches(ids)
        return rewrite(table, hits) if hits else (table, 0)


def rewrite(
    table: pa.Table, hits: dict[str, tuple[str, int]], *, epoch: str | None = None
) -> tuple[pa.Table, int]:
    """Replace the erased ids in ``table`` and blank the subjects' text; count changed rows.

    A row changes when its ``user_id`` or its ``actor_id`` (a moderator acting on someone) is
    erased, within the erasure: its seq is at most ``up_to_seq``, or, given the log's
    ``epoch``, the row is of another epoch. The erased id becomes the pseudonym, the free
    text and display names of the payload are blanked (a moderator's reason for a delete,
    mute or ban is their writing) and the session id is dropped.
    """
    seqs = table.column("seq").to_pylist()
    users = table.column("user_id").to_pylist()
    actors = table.column("actor_id").to_pylist()
    payloads = table.column("payload").to_pylist()
    sessions = table.column("session_id").to_pylist()
    epochs = table.column("epoch").to_pylist() if epoch is not None else None
    changed = 0
    for i, seq in enumerate(seqs):
        user_hit = hits.get(users[i])
        actor_hit = hits.get(actors[i]) if actors[i] is not None else None
        if user_hit is None and actor_hit is None:
            continue
        foreign = epochs is not None and epochs[i] != epoch
        touched = False
        if user_hit is not None and (foreign or seq <= user_hit[1]):
            users[i], touched = user_hit[0], True
        if actor_hit is not None and (foreign or seq <= actor_hit[1]):
            actors[i], touched = actor_hit[0], True
        if touched:
            payloads[i] = _encode(blank_personal(_decode(payloads[i]))).decode()
            sessions[i] = None
            changed += 1
    if not changed:
        return table, 0
    for name, values in (
        ("user_id", users), ("actor_id", actors), ("payload", payloads), ("session_id", sessions)
    ):  # fmt: skip
        index = table.schema.get_field_index(name)
        field = table.schema.field(index)  # string, or large_string in a file Polars wrote
        table = table.set_column(index, field, pa.array(values, field.type))
    return table, changed
