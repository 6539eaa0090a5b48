"""One sink's forwarding loop: read by seq, send, advance the cursor only after acceptance.

Each worker is its own asyncio task with its own DuckDB cursor and its own reader thread, so
a slow or failing sink never delays another sink, and never the chat: the log writer only
sees one short cursor update per delivered batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from service.eventlog.codec import ARROW_SCHEMA, SELECT_COLUMNS
from service.eventlog.duckdb_log import DuckDBLog
from service.logs import Verbatim
from service.sinks import store
from service.sinks.base import BlockedError, PermanentError, Rejected, Sink, SinkError
from service.sinks.batch import Batch
from service.sinks.erasure import ErasureIndex
from service.sinks.metrics import SinkMetrics
from service.sinks.retry import Backoff
from service.sinks.settings import SinkCommon
from service.sinks.status import SinkStatus

log = logging.getLogger(__name__)

_READ_SQL = f"SELECT {SELECT_COLUMNS} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq"


class _Stopped(Exception):
    """The worker was asked to stop while a batch waited for a retry."""


class SinkWorker:
    """Forwards the log to one sink."""

    def __init__(
        self,
        sink: Sink,
        settings: SinkCommon,
        *,
        log_: DuckDBLog,
        metrics: SinkMetrics,
        erasures: ErasureIndex,
        poll_interval: float,
    ) -> None:
        self.sink = sink
        self._settings = settings
        self._log = log_
        self._metrics = metrics
        self._erasures = erasures
        self._poll = poll_interval
        self._backoff = Backoff(cap=settings.max_backoff_seconds)
        self._types = pa.array(settings.event_types, pa.string()) if settings.event_types else None
        self._wake = asyncio.Event()
        self._control = asyncio.Lock()
        self._reader = ThreadPoolExecutor(1, thread_name_prefix=f"sink-{sink.name}")
        self._cur: duckdb.DuckDBPyConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._resync = False
        self._drain_to = 0
        self._last_send = 0.0
        self._recent: deque[tuple[float, int]] = deque(maxlen=64)
        self.cursor = 0
        self.state = "stopped"
        self.delivered = 0
        self.dead_letters = 0
        self.errors = 0
        self.last_error: str | None = None
        self.retry_at: float | None = None
        self.adjustments: dict[str, int] = {}
        # Read at scrape time: set per cycle, it froze while a failing batch was retried (for
        # the whole outage), so an alert on lag could not fire when it mattered.
        metrics.lag.labels(sink.name).set_function(lambda: self._log.last_seq - self.cursor)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, cursor: int, dead_letters: int) -> None:
        """Resume from ``cursor`` (after the sink repaired what a crash left behind)."""
        self._cur = await self._log.run_read(lambda con: con.cursor())
        await self.sink.start()
        self.dead_letters = dead_letters
        recovered = await self.sink.recover(self._within_log(cursor))
        if recovered != cursor:
            await self._store_cursor(recovered)
        self._note_cursor(recovered)
        self._launch()

    def _within_log(self, cursor: int) -> int:
        """``cursor``, or the log's last seq when the stored cursor lies past it.

        Cursors live in the log's own file, so this takes events removed from it, or a
        replay past the end accepted by an older version. The cursor is rewound so that the
        events committed from now on are forwarded instead of skipped until the log catches
        up with it; the status shows it as an error.
        """
        last = self._log.last_seq
        if cursor <= last:
            return cursor
        self._record_error(
            "unexpected", f"stored cursor {cursor} was past the log's last seq {last}; rewound"
        )
        log.error("sink %s: %s", self.sink.name, self.last_error)
        return last

    def _launch(self) -> None:
        self._stopping = False
        self.state = "idle"
        self._task = asyncio.create_task(self._run(), name=f"sink-{self.sink.name}")

    def wake(self) -> None:
        """New events were committed."""
        self._wake.set()

    async def stop(self, timeout: float) -> None:
        """Deliver what is committed while the sink is healthy (up to ``timeout``), then stop."""
        await self._halt(drain=True, timeout=timeout)
        await self.sink.close()
        if self._cur is not None:
            cur, self._cur = self._cur, None
            await asyncio.get_running_loop().run_in_executor(self._reader, cur.close)
        self._reader.shutdown(wait=False)
        self.state = "stopped"

    async def _halt(self, *, drain: bool, timeout: float) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._drain_to = self._log.last_seq if drain else 0
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=timeout if drain else 0)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif task.exception() is not None:
            log.error("sink %s stopped with an error: %s", self.sink.name, task.exception())

    async def replay(self, from_seq: int) -> int:
        """Forward again from ``from_seq`` (inclusive); returns the cursor actually set.

        Raises:
            store.ReplayOutOfRange: ``from_seq`` is not between 1 and the last seq + 1.
        """
        async with self._control:  # one replay at a time
            cursor = store.replay_cursor(from_seq, self._log.last_seq)  # refused: nothing changes
            await self._halt(drain=False, timeout=0)
            cursor = await self.sink.recover(cursor)
            await self._store_cursor(cursor)
            self._note_cursor(cursor)
            log.info("sink %s replays from seq %d (cursor %d)", self.sink.name, from_seq, cursor)
            self._launch()
            return cursor

    async def _store_cursor(self, cursor: int) -> None:
        name = self.sink.name
        await self._log.run_write(lambda con: store.advance(con, name, cursor))

    def _note_cursor(self, cursor: int) -> None:
        self.cursor = cursor
        self._metrics.cursor.labels(self.sink.name).set(cursor)

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        with contextlib.suppress(_Stopped):
            while not await self._attempt():
                pass

    async def _attempt(self) -> bool:
        """One cycle; True when the worker is done.

        Any failure (reading the log, the sink, saving the cursor) is counted, shown in the
        status and retried after the sink's backoff: the task never ends on an error.
        """
        try:
            if self._resync:
                await self._resync_cursor()
            return await self._cycle()
        except _Stopped:
            raise
        except Exception as exc:
            self._resync = True
            await self._retry_later(exc)
            return False

    async def _resync_cursor(self) -> None:
        """Repair as a restart would before retrying a failed cycle.

        When the cursor could not be saved after the destination accepted a batch, the retry
        sends that batch again (at least once); ``recover`` first removes what the warehouse
        wrote past the cursor, so the resend replaces its file instead of adding rows.
        """
        cursor = await self.sink.recover(self.cursor)
        if cursor != self.cursor:
            await self._store_cursor(cursor)
            self._note_cursor(cursor)
        self._resync = False

    async def _cycle(self) -> bool:
        self._wake.clear()  # before reading last_seq, so no notification is missed
        last = self._log.last_seq
        if self._stopping and self.cursor >= min(last, self._drain_to):
            return True
        if last <= self.cursor:
            self.state = "idle"
            await self._wait(self._poll)
        elif self._stopping or not await self._linger(last):
            await self._one_batch(min(last, self.cursor + self._settings.batch_size))
        return False

    async def _linger(self, last: int) -> bool:
        """Wait for a fuller batch when few events are pending; True if it waited."""
        remaining = self._last_send + self._settings.linger_seconds - time.monotonic()
        if last - self.cursor >= self._settings.batch_size or remaining <= 0:
            return False
        await self._wait(remaining)
        return True

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _one_batch(self, upto: int) -> None:
        self.state = "sending"
        batch = await self._read(self.cursor, upto)
        rejected = await self._deliver(batch) if len(batch) else []
        # A refusal's reason may quote the request it refused (an endpoint echoing its URL or
        # headers): what is stored and logged goes through the sink's redaction, as errors do.
        redact = self.sink.redact
        rejected = [Rejected(r.seq, r.event_id, redact(r.reason)) for r in rejected]
        name = self.sink.name
        added = await self._log.run_write(lambda con: store.advance(con, name, upto, rejected))
        self._last_send = time.monotonic()
        self.dead_letters += added  # a replayed event keeps its one dead letter
        if added:
            self._metrics.dead_letters.labels(name).inc(added)
        if rejected:
            log.warning("sink %s dead-lettered %d events, %d of them new (first: %s)", name,
                        len(rejected), added, rejected[0].reason)  # fmt: skip
        self._note_cursor(upto)
        self._backoff.reset()  # only now: a batch whose cursor failed to save is no success
        self.retry_at = None

    async def _read(self, after: int, upto: int) -> Batch:
        cur = self._cur
        assert cur is not None, "worker not started"
        table = await asyncio.get_running_loop().run_in_executor(
            self._reader, lambda: cur.sql(_READ_SQL, params=[after, upto]).to_arrow_table()
        )
        # DuckDB labels TIMESTAMPTZ with the session's zone; the values are UTC either way.
        table, _ = self._erasures.apply(table.cast(ARROW_SCHEMA))
        if self._types is not None:
            table = table.filter(pc.is_in(table.column("event_type"), value_set=self._types))
        return Batch(table)

    async def _deliver(self, batch: Batch) -> list[Rejected]:
        """Send until accepted; split refused batches down to the refused events."""
        while True:
            started = time.monotonic()
            try:
                delivery = await self.sink.send(batch)
            except PermanentError as exc:
                self._failed("permanent", exc)
                if len(batch) == 1:
                    e = batch.events[0]
                    return [Rejected(e.seq, e.event_id, exc.reason)]
                first, second = batch.split()
                return [*await self._deliver(first), *await self._deliver(second)]
            except Exception as exc:  # transient, blocked, or a bug: the cursor waits
                await self._retry_later(exc)
                continue
            self._accepted(batch, delivery.adjustments, time.monotonic() - started)
            return list(delivery.rejected)

    def _accepted(self, batch: Batch, adjustments: dict[str, int], seconds: float) -> None:
        name = self.sink.name
        self.delivered += len(batch)
        self._recent.append((time.monotonic(), len(batch)))
        self._metrics.delivered.labels(name).inc(len(batch))
        self._metrics.send_seconds.labels(name).observe(seconds)
        for reason, n in adjustments.items():
            self.adjustments[reason] = self.adjustments.get(reason, 0) + n
            self._metrics.adjustments.labels(name, reason).inc(n)

    def _failed(self, kind: str, exc: Exception) -> None:
        self._record_error(
            kind, exc.reason if isinstance(exc, SinkError) else f"{type(exc).__name__}: {exc}"
        )

    def _record_error(self, kind: str, text: str) -> None:
        self.errors += 1
        self.last_error = self.sink.redact(text)
        self._metrics.errors.labels(self.sink.name, kind).inc()

    async def _retry_later(self, exc: Exception) -> None:
        blocked = isinstance(exc, BlockedError)
        kind = "blocked" if blocked else "transient" if isinstance(exc, SinkError) else "unexpected"
        self._failed(kind, exc)
        if self._stopping:
            raise _Stopped
        retry_after = exc.retry_after if isinstance(exc, SinkError) else None
        delay = self._backoff.next_delay(retry_after)
        self.state = "blocked" if blocked else "backing_off"
        self.retry_at = time.monotonic() + delay
        if kind == "unexpected" and self._backoff.failures == 1:  # a bug: its trace, once
            trace = Verbatim(self.sink.redact("".join(traceback.format_exception(exc))))
            log.error("sink %s: %s; retrying in %.1f s\n%s", self.sink.name, self.last_error,
                      delay, trace)  # fmt: skip
        else:
            logger = log.error if kind != "transient" else log.warning
            logger("sink %s: %s; retrying in %.1f s", self.sink.name, self.last_error, delay)
        deadline = self.retry_at
        while (left := deadline - time.monotonic()) > 0:
            self._wake.clear()
            await self._wait(left)
            if self._stopping:
                raise _Stopped
        self.state = "sending"

    # -- reporting ---------------------------------------------------------------------------

    def status(self) -> SinkStatus:
        """A snapshot for the admin API, the CLI and tests."""
        last = self._log.last_seq
        now = time.monotonic()
        window = [(t, n) for t, n in self._recent if now - t <= 10.0]
        rate = sum(n for _, n in window) / 10.0 if window else 0.0
        return SinkStatus(
            name=self.sink.name,
            kind=self.sink.kind,
            state=self.state,
            cursor=self.cursor,
            last_seq=last,
            lag=last - self.cursor,
            delivered=self.delivered,
            dead_letters=self.dead_letters,
            errors=self.errors,
            last_error=self.last_error,
            retry_in_seconds=round(max(0.0, self.retry_at - now), 3) if self.retry_at else None,
            events_per_second=round(rate, 1),
            adjustments=dict(self.adjustments),
        )
