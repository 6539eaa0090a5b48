"""User erasure applied to Arrow batches: pseudonymous ids and blanked text.

An erasure covers a user's events up to the log's last seq at the time it was requested. The
same rewrite serves two places: the warehouse files already written (rewritten by the erase
job) and every batch the forwarder reads afterwards (so a replay never brings the data back,
to the warehouse or to a vendor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from service.sinks.privacy import blank_text
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


def rewrite(table: pa.Table, hits: dict[str, tuple[str, int]]) -> tuple[pa.Table, int]:
    """Replace the erased ids in ``table`` and blank the subjects' text; count changed rows.

    A row changes when its ``user_id`` is erased (id replaced, text blanked, session id
    dropped) or its ``actor_id`` is (the moderator's id replaced), within ``up_to_seq``.
    """
    seqs = table.column("seq").to_pylist()
    users = table.column("user_id").to_pylist()
    actors = table.column("actor_id").to_pylist()
    payloads = table.column("payload").to_pylist()
    sessions = table.column("session_id").to_pylist()
    changed = 0
    for i, seq in enumerate(seqs):
        user_hit = hits.get(users[i])
        actor_hit = hits.get(actors[i]) if actors[i] is not None else None
        touched = False
        if user_hit is not None and seq <= user_hit[1]:
            users[i] = user_hit[0]
            payloads[i] = _encode(blank_text(_decode(payloads[i]))).decode()
            sessions[i] = None
            touched = True
        if actor_hit is not None and seq <= actor_hit[1]:
            actors[i] = actor_hit[0]
            touched = True
        changed += touched
    if not changed:
        return table, 0
    for name, values in (
        ("user_id", users), ("actor_id", actors), ("payload", payloads), ("session_id", sessions)
    ):  # fmt: skip
        index = table.schema.get_field_index(name)
        table = table.set_column(index, table.schema.field(index), pa.array(values, pa.string()))
    return table, changed
