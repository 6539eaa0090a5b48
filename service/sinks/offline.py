"""Sink operations on the log file itself, for when no service is running.

DuckDB lets one process hold the file; when the service runs, these fail with
:class:`LogBusy` and the CLI talks to the service's admin API instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from service import duck
from service.eventlog.duckdb_log import DuckDBLog
from service.settings import Settings
from service.sinks import store
from service.sinks.erasure import ErasureKeys, rekeyed
from service.sinks.factory import erasure_keys, warehouse_root
from service.sinks.forwarder import new_erasure
from service.sinks.settings import WarehouseSinkSettings
from service.sinks.status import SinkStatus, past_the_end
from service.sinks.store import ErasureRecord
from service.sinks.warehouse import files
from service.sinks.warehouse.erase import (
    append_audit,
    audited,
    ducklake_gap,
    erase_files,
    rekey_files,
)
from service.sinks.warehouse.views import write_views


class LogBusy(Exception):
    """Another process (a running service) holds the log file."""


@contextmanager
def open_log(path: Path, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """The log file, opened directly; raises :class:`LogBusy` or FileNotFoundError.

    Opened to write, it first gets the schema files a newer version added, as the service's
    start would apply them (a log written before erasures had a ``scheme``, say)."""
    if not path.exists():
        raise FileNotFoundError(f"no event log at {path}")
    try:
        con = duck.connect(path, read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise LogBusy(f"{path} is held by another process (is the service running?)") from exc
        raise
    try:
        if not read_only:
            DuckDBLog.migrate(con)
        yield con
    finally:
        con.close()


def status(settings: Settings) -> list[SinkStatus]:
    """Cursor, lag and dead letters of every configured sink, read from the file."""
    with open_log(settings.log_path, read_only=True) as con:
        cursors, dead, last, pending = (
            store.load_cursors(con),
            store.dead_letter_counts(con),
            store.last_seq(con),
            len(store.load_erasures(con, pending_only=True)),
        )
    out = []
    for sink in settings.sinks.all():
        cursor = cursors.get(sink.name, 0)
        out.append(SinkStatus(
            name=sink.name, kind=sink.KIND,
            state="offline" if settings.sinks.runs(sink) else "disabled",
            cursor=cursor, last_seq=last, lag=last - cursor,
            dead_letters=dead.get(sink.name, 0), last_error=past_the_end(cursor, last),
            pending_erasures=pending if sink.KIND == "warehouse" else 0,
        ))  # fmt: skip
    return out


def replay(settings: Settings, name: str, from_seq: int) -> SinkStatus:
    """Set sink ``name``'s cursor so it forwards again from ``from_seq`` at the next start (for
    a disabled sink, once it is enabled: its destination, files included, is left alone).

    Raises:
        KeyError: no sink of that name is configured.
        store.ReplayOutOfRange: ``from_seq`` is not between 1 and the log's last seq + 1.
    """
    sink = settings.sinks.find(name)
    if sink is None:
        raise KeyError(name)
    with open_log(settings.log_path, read_only=False) as con:
        cursor = store.replay_cursor(from_seq, store.last_seq(con))
        if isinstance(sink, WarehouseSinkSettings) and settings.sinks.runs(sink):
            epoch = con.execute("SELECT value FROM log_meta WHERE key = 'epoch'").fetchall()[0][0]
            # Cursor first: if this stops half-way, the next start deletes the rest itself.
            store.advance(con, name, cursor)
            root = warehouse_root(settings, sink)
            cursor, _ = files.remove_after(root, settings.node_id, epoch, cursor)
        store.advance(con, name, cursor)
    return next(s for s in status(settings) if s.name == name)


def erase(settings: Settings, user_id: str, requested_by: str) -> ErasureRecord:
    """Erase ``user_id`` from this node's files in every configured warehouse folder (enabled
    or not) and record it in the log.

    The record is saved pending before the files are rewritten and marked done after; any
    erasure left pending (a crash in between), or done but never applied to a folder that
    holds this node's files (see :func:`_unapplied`), is completed here as well. Earlier
    erasures of the user made before keyed pseudonyms, or under a retired key, are moved to
    the current pseudonym first (files and audit lines, then the log's records).
    """
    keys = erasure_keys(settings)
    with open_log(settings.log_path, read_only=False) as con:
        records = store.load_erasures(con)
        for earlier in records:
            keys.check(earlier)  # as at the service's start: each must still find its user
        record = new_erasure(user_id, store.last_seq(con), requested_by, keys)
        store.save_erasure(con, record)
        moved = [(old, rekeyed(old, record)) for old in keys.earlier(user_id, records)]
        if moved:
            for root in _folders(settings):
                if root.is_dir():
                    rekey_files(root, settings.node_id, moved)
                    write_views(root)
            store.rekey_erasures(con, [new for _, new in moved])
        epoch = con.execute("SELECT value FROM log_meta WHERE key = 'epoch'").fetchall()[0][0]
        final = record
        for pending in _unapplied(settings, store.load_erasures(con)):
            done = _complete(con, settings, pending, epoch, keys)
            final = done if pending.erasure_id == record.erasure_id else final
    return final


def _unapplied(settings: Settings, records: list[ErasureRecord]) -> list[ErasureRecord]:
    """The pending erasures, and the done ones missing from the audit file of a folder that
    holds this node's files (as the service finds them at start)."""
    roots = [warehouse_root(settings, w) for w in settings.sinks.warehouse]
    node = settings.node_id
    applied = [audited(root) for root in roots if files.holds_files(root, node)]
    return [
        r for r in records
        if r.done_at is None or any(r.erasure_id not in ids for ids in applied)
    ]  # fmt: skip


def _folders(settings: Settings) -> list[Path]:
    """Every configured warehouse folder, once."""
    roots = [warehouse_root(settings, w) for w in settings.sinks.warehouse]
    return list({root.resolve(): root for root in roots}.values())


def _complete(
    con: duckdb.DuckDBPyConnection, settings: Settings, record: ErasureRecord, epoch: str,
    keys: ErasureKeys,
) -> ErasureRecord:
    rows, written = 0, list[str]()
    sinks = [(w, warehouse_root(settings, w)) for w in settings.sinks.warehouse]
    roots = _folders(settings)
    after = store.erased_before(con, record)
    for root in roots:
        n, changed = erase_files(
            root, settings.node_id, record, keys=keys, epoch=epoch, after_seq=after
        )
        rows, written = rows + n, written + changed
    gaps = [ducklake_gap(w.name, root) for w, root in sinks if w.ducklake]
    final = store.finished(record, rows, written, gaps)
    for root in roots:
        if root.is_dir():  # not created: a path on a volume not mounted now would hide it
            append_audit(root, final)
            write_views(root)
    store.finish_erasure(con, final)
    return final
