"""The forwarder: one worker per sink, started and stopped with the service.

The service wires it like this (``service/app.py``)::

    forwarder = build_forwarder(settings, log, registry=registry)
    await forwarder.start()              # after log.start()
    ...
    forwarder.notify(log.last_seq)       # after each commit; a hint, never required
    ...
    await forwarder.stop()               # before log.close()

Delivery is at least once: a sink's cursor moves only after the destination accepted the
batch, and every event carries a stable dedup key (its event id) for the destination.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import duckdb

from service.domain.events import utcnow, uuid7
from service.eventlog.duckdb_log import DuckDBLog
from service.sinks import store
from service.sinks.base import Sink
from service.sinks.disabled import DisabledSinks
from service.sinks.erasure import ErasureIndex, ErasureKeys, pseudonym_for, rekeyed
from service.sinks.metrics import SinkMetrics
from service.sinks.retry import Backoff
from service.sinks.settings import SinkCommon, WarehouseSinkSettings
from service.sinks.status import SinkStatus
from service.sinks.store import KEYED_SCHEME, DeadLetter, ErasureRecord
from service.sinks.warehouse.erase import audited, ducklake_gap
from service.sinks.warehouse.files import holds_files
from service.sinks.warehouse.idle import IdleWarehouse
from service.sinks.warehouse.sink import WarehouseSink
from service.sinks.worker import SinkWorker

log = logging.getLogger(__name__)


class UnknownSink(KeyError):
    """No sink of that name is configured."""


class ErasureTarget(Protocol):
    """A warehouse folder an erasure rewrites: a running sink's, or an idle one's."""

    @property
    def name(self) -> str: ...

    @property
    def ducklake(self) -> bool: ...

    root: Path

    async def erase(
        self, record: ErasureRecord, *, after_seq: int = 0
    ) -> tuple[int, list[str]]: ...

    async def rekey(self, moved: list[tuple[ErasureRecord, ErasureRecord]]) -> int: ...

    async def record_erasure(self, record: ErasureRecord) -> None: ...


class Forwarder:
    """Forwards the committed log to every configured sink, each at its own pace."""

    def __init__(
        self,
        log_: DuckDBLog,
        sinks: Sequence[tuple[Sink, SinkCommon]],
        *,
        poll_interval: float = 2.0,
        stop_timeout: float = 10.0,
        metrics: SinkMetrics | None = None,
        erasures: ErasureIndex | None = None,
        warehouses: Sequence[tuple[WarehouseSinkSettings, Path]] = (),
        disabled: Sequence[SinkCommon] = (),
    ) -> None:
        """``warehouses`` are every configured warehouse sink with its folder, running or
        not: an erasure rewrites them all (the running ones through their sink). ``disabled``
        are the configured sinks that do not run: listed, and replayed, by their stored
        cursor (:class:`DisabledSinks`)."""
        self._log = log_
        self._disabled = DisabledSinks(log_, disabled)
        self._warehouses = list(warehouses)
        self._targets: list[ErasureTarget] = []
        self._stop_timeout = stop_timeout
        self.metrics = metrics or SinkMetrics()
        self.erasures = erasures if erasures is not None else ErasureIndex()
        self._erasing = asyncio.Lock()  # one erasure rewrite at a time
        self._pending: dict[str, ErasureRecord] = {}
        self._resume: asyncio.Task[None] | None = None
        self.erasure_error: str | None = None
        self._workers = {
            sink.name: SinkWorker(
                sink, settings, log_=log_, metrics=self.metrics, erasures=self.erasures,
                poll_interval=poll_interval,
            )
            for sink, settings in sinks
        }  # fmt: skip
        if len(self._workers) != len(sinks):
            raise ValueError("sink names must be unique")

    @property
    def sinks(self) -> list[Sink]:
        return [w.sink for w in self._workers.values()]

    async def start(self) -> None:
        """Load cursors and erasures from the log and start every sink's worker."""

        def load(
            con: duckdb.DuckDBPyConnection,
        ) -> tuple[dict[str, int], dict[str, int], list[ErasureRecord]]:
            return store.load_cursors(con), store.dead_letter_counts(con), store.load_erasures(con)

        cursors, dead, erasures = await self._log.run_read(load)
        self._disabled.load(cursors, dead)
        for record in erasures:
            self.erasures.add(record)
            if record.done_at is None:
                self._pending[record.erasure_id] = record
        for name, worker in self._workers.items():
            await worker.start(cursors.get(name, 0), dead.get(name, 0))
            log.info("sink %s (%s) started at seq %d", name, worker.sink.kind, worker.cursor)
        self._targets = self._erasure_targets()
        for record in await self._unapplied([r for r in erasures if r.done_at is not None]):
            self._pending[record.erasure_id] = record
        if self._pending:
            # An erasure whose file rewrite was interrupted (a crash after its record was
            # saved) is done again now, in the background: it is a privacy obligation.
            log.warning("%d erasure(s) pending since the last run: completing them",
                        len(self._pending))  # fmt: skip
            self._resume = asyncio.create_task(self._complete_pending(), name="erasures")

    def _erasure_targets(self) -> list[ErasureTarget]:
        """Every configured warehouse folder once: a running sink's through the sink (its
        file thread serialises the rewrite with its writes), the others directly."""
        running = [s for s in self.sinks if isinstance(s, WarehouseSink)]
        targets: list[ErasureTarget] = list(running)
        seen = {s.root.resolve() for s in running}
        for settings, root in self._warehouses:
            if root.resolve() not in seen:
                seen.add(root.resolve())
                targets.append(IdleWarehouse(settings, root, node=self._log.node_id,
                                             epoch=self._log.epoch, keys=self.erasures.keys))  # fmt: skip
        return targets

    async def _unapplied(self, done: list[ErasureRecord]) -> list[ErasureRecord]:
        """Of the ``done`` erasures, those a warehouse folder holding this node's files never
        got (missing from its audit file): done again, so a folder not running when an older
        version erased, or one configured since, is erased too. A folder without such files
        has nothing to erase: the erasures are recorded in its audit file as they stand."""
        redo: dict[str, ErasureRecord] = {}
        node = self._log.node_id
        for target in self._targets if done else []:
            ids = await asyncio.to_thread(audited, target.root)
            missing = [r for r in done if r.erasure_id not in ids]
            if not missing:
                continue
            if await asyncio.to_thread(holds_files, target.root, node):
                log.warning("warehouse %s: %d erasure(s) never applied to %s: applying them",
                            target.name, len(missing), target.root)  # fmt: skip
                redo.update((r.erasure_id, r) for r in missing)
            else:
                for record in missing:
                    await target.record_erasure(record)
        return list(redo.values())

    def notify(self, last_seq: int) -> None:
        """Wake idle sinks: events up to ``last_seq`` were committed. Cheap; call per commit."""
        for worker in self._workers.values():
            if worker.cursor < last_seq:
                worker.wake()

    async def stop(self) -> None:
        """Let healthy sinks deliver what is committed (bounded by the stop timeout), then stop."""
        if self._resume is not None:
            self._resume.cancel()  # still pending in the log: the next start completes it
            with contextlib.suppress(asyncio.CancelledError):
                await self._resume
            self._resume = None
        await asyncio.gather(*(w.stop(self._stop_timeout) for w in self._workers.values()))

    def status(self) -> list[SinkStatus]:
        """Where every sink stands; warehouse rows count the erasures not yet applied to files."""
        rows = [w.status() for w in self._workers.values()] + self._disabled.status()
        for row in rows:
            if row.kind == "warehouse":
                row.pending_erasures = len(self._pending)
                if self._pending and self.erasure_error:
                    row.last_error = self.erasure_error
        return rows

    def _worker(self, name: str) -> SinkWorker:
        try:
            return self._workers[name]
        except KeyError:
            raise UnknownSink(name) from None

    async def replay(self, name: str, from_seq: int) -> SinkStatus:
        """Forward again to sink ``name`` from ``from_seq`` (inclusive); a disabled sink does
        once it is enabled.

        Raises:
            UnknownSink: no sink has that name.
            store.ReplayOutOfRange: ``from_seq`` is not between 1 and the last seq + 1.
        """
        if name in self._disabled:
            return await self._disabled.replay(name, from_seq)
        worker = self._worker(name)
        await worker.replay(from_seq)
        return worker.status()

    async def dead_letters(self, name: str, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters of sink ``name``."""
        if name not in self._disabled:
            self._worker(name)
        return await self._log.run_read(lambda con: store.dead_letters(con, name, limit))

    async def erase(self, user_id: str, requested_by: str) -> ErasureRecord:
        """Erase ``user_id`` from the warehouse export and from everything forwarded later.

        The record is stored first, pending, so the erasure is in force for replays even if
        the file rewrite is interrupted; it is marked done only once the files are rewritten.
        Erasures left pending (a crash, a failed rewrite) are completed here too, and at start.
        Earlier erasures of the user made before keyed pseudonyms, or under a retired key, are
        moved to the current pseudonym first (:meth:`_rekey`).
        """
        async with self._erasing:
            record = new_erasure(user_id, self._log.last_seq, requested_by, self.erasures.keys)
            earlier = self.erasures.keys.earlier(
                user_id, await self._log.run_read(store.load_erasures)
            )
            await self._log.run_write(lambda con: store.save_erasure(con, record))
            self.erasures.add(record)
            self._pending[record.erasure_id] = record
            try:
                if earlier:
                    await self._rekey([(old, rekeyed(old, record)) for old in earlier])
                final = await self._complete(record)
                for other in list(self._pending.values()):
                    await self._complete(other)
            except Exception as exc:
                self.erasure_error = f"erasure not completed: {type(exc).__name__}: {exc}"
                if self._resume is None or self._resume.done():
                    self._resume = asyncio.create_task(self._complete_pending(), name="erasures")
                if record.erasure_id in self._pending:
                    raise
                log.error("%s (a pending erasure; retried in the background)", self.erasure_error)
            return final

    async def _rekey(self, moved: list[tuple[ErasureRecord, ErasureRecord]]) -> None:
        """Move earlier erasures of a user to their rekeyed form: in force first (what is
        forwarded from now on carries the current pseudonym), then every folder's rows and
        audit lines, then the log's records. Interrupted, the log keeps the earlier records,
        and erasing the user again completes it."""
        for old, new in moved:
            self.erasures.add(new)
            self.erasures.discard(old)
            if old.erasure_id in self._pending:
                self._pending[old.erasure_id] = new
        rows = 0
        for target in self._targets:
            rows += await target.rekey(moved)
        await self._log.run_write(lambda con: store.rekey_erasures(con, [new for _, new in moved]))
        log.info("moved %d earlier erasure(s) of user %s to the current pseudonym: %d rows",
                 len(moved), moved[0][1].pseudonym, rows)  # fmt: skip

    async def _complete_pending(self) -> None:
        """Complete the erasures pending at start, retrying with backoff until they are done."""
        backoff = Backoff(cap=60.0)
        while self._pending:
            try:
                async with self._erasing:
                    for record in list(self._pending.values()):
                        await self._complete(record)
            except Exception as exc:  # shown in the status, retried: never given up
                self.erasure_error = f"erasure not completed: {type(exc).__name__}: {exc}"
                delay = backoff.next_delay()
                log.error("%s; retrying in %.1f s", self.erasure_error, delay)
                await asyncio.sleep(delay)

    async def _complete(self, record: ErasureRecord) -> ErasureRecord:
        """Rewrite every configured warehouse folder for ``record``, running or not, then mark
        it done (idempotent)."""
        rows, files = 0, list[str]()
        after = await self._log.run_read(lambda con: store.erased_before(con, record))
        for target in self._targets:
            n, written = await target.erase(record, after_seq=after)
            rows, files = rows + n, files + written
        gaps = [ducklake_gap(t.name, t.root) for t in self._targets if t.ducklake]
        final = store.finished(record, rows, files, gaps)
        for gap in gaps:
            log.warning("erasure %s: %s", record.erasure_id, gap)
        for target in self._targets:
            await target.record_erasure(final)
        await self._log.run_write(lambda con: store.finish_erasure(con, final))
        self._pending.pop(record.erasure_id, None)
        self.erasure_error = None
        log.info("erased user %s: %d rows in %d files", record.pseudonym, rows, len(files))
        return final


def new_erasure(
    user_id: str, up_to_seq: int, requested_by: str, keys: ErasureKeys
) -> ErasureRecord:
    """A fresh erasure record (no rows rewritten yet), its pseudonym keyed with ``keys``.

    Raises:
        ErasureKeyError: no erasure key is configured.
    """
    digest, made_with = keys.subject(user_id)
    return ErasureRecord(
        erasure_id=uuid7(),
        subject_hash=digest,
        pseudonym=pseudonym_for(digest),
        up_to_seq=up_to_seq,
        requested_by=requested_by,
        requested_at=utcnow(),
        rows_rewritten=0,
        files=[],
        scheme=KEYED_SCHEME,
        key_id=made_with,
    )
