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
import logging
from collections.abc import Sequence

import duckdb
import msgspec

from service.domain.events import utcnow, uuid7
from service.eventlog.duckdb_log import DuckDBLog
from service.sinks import store
from service.sinks.base import Sink
from service.sinks.erasure import ErasureIndex, pseudonym_for, subject_hash
from service.sinks.metrics import SinkMetrics
from service.sinks.settings import SinkCommon
from service.sinks.status import SinkStatus
from service.sinks.store import DeadLetter, ErasureRecord
from service.sinks.warehouse.sink import WarehouseSink
from service.sinks.worker import SinkWorker

log = logging.getLogger(__name__)


class UnknownSink(KeyError):
    """No sink of that name is running."""


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
    ) -> None:
        self._log = log_
        self._stop_timeout = stop_timeout
        self.metrics = metrics or SinkMetrics()
        self.erasures = erasures if erasures is not None else ErasureIndex()
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
        for record in erasures:
            self.erasures.add(record)
        for name, worker in self._workers.items():
            await worker.start(cursors.get(name, 0), dead.get(name, 0))
            log.info("sink %s (%s) started at seq %d", name, worker.sink.kind, worker.cursor)

    def notify(self, last_seq: int) -> None:
        """Wake idle sinks: events up to ``last_seq`` were committed. Cheap; call per commit."""
        for worker in self._workers.values():
            if worker.cursor < last_seq:
                worker.wake()

    async def stop(self) -> None:
        """Let healthy sinks deliver what is committed (bounded by the stop timeout), then stop."""
        await asyncio.gather(*(w.stop(self._stop_timeout) for w in self._workers.values()))

    def status(self) -> list[SinkStatus]:
        """Where every sink stands."""
        return [w.status() for w in self._workers.values()]

    def _worker(self, name: str) -> SinkWorker:
        try:
            return self._workers[name]
        except KeyError:
            raise UnknownSink(name) from None

    async def replay(self, name: str, from_seq: int) -> SinkStatus:
        """Forward again to sink ``name`` from ``from_seq`` (inclusive).

        Raises:
            UnknownSink: no sink has that name.
            store.ReplayOutOfRange: ``from_seq`` is not between 1 and the last seq + 1.
        """
        worker = self._worker(name)
        await worker.replay(from_seq)
        return worker.status()

    async def dead_letters(self, name: str, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters of sink ``name``."""
        self._worker(name)
        return await self._log.run_read(lambda con: store.dead_letters(con, name, limit))

    async def erase(self, user_id: str, requested_by: str) -> ErasureRecord:
        """Erase ``user_id`` from the warehouse export and from everything forwarded later.

        The record is stored first, so the erasure is in force for replays even if the file
        rewrite is interrupted; running it again is harmless.
        """
        record = new_erasure(user_id, self._log.last_seq, requested_by)
        await self._log.run_write(lambda con: store.save_erasure(con, record))
        self.erasures.add(record)
        hits = {user_id: (record.pseudonym, record.up_to_seq)}
        rows, files = 0, list[str]()
        warehouses = [s for s in self.sinks if isinstance(s, WarehouseSink)]
        for sink in warehouses:
            n, written = await sink.erase(hits)
            rows, files = rows + n, files + written
        final = msgspec.structs.replace(record, rows_rewritten=rows, files=files)
        await self._log.run_write(lambda con: store.update_erasure(con, final))
        for sink in warehouses:
            await sink.record_erasure(final)
        log.info("erased user %s: %d rows in %d files", record.pseudonym, rows, len(files))
        return final


def new_erasure(user_id: str, up_to_seq: int, requested_by: str) -> ErasureRecord:
    """A fresh erasure record (no rows rewritten yet)."""
    digest = subject_hash(user_id)
    return ErasureRecord(
        erasure_id=uuid7(),
        subject_hash=digest,
        pseudonym=pseudonym_for(digest),
        up_to_seq=up_to_seq,
        requested_by=requested_by,
        requested_at=utcnow(),
        rows_rewritten=0,
        files=[],
    )
