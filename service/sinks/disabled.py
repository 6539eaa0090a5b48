"""Sinks that are configured but do not run: their stored cursor is shown, and a replay moves it.

A sink with ``enabled = false`` (every sink, with ``sinks.enabled = false``) sends nothing and
touches nothing of its destination, but its cursor stays in the log. The service lists it as
``disabled`` with that cursor, its lag and its dead letters, as the CLI does from the file
when no service runs; a replay moves the stored cursor alone, and the sink forwards from there
once it is enabled (a warehouse first removes its files past the cursor at that start, as
after a crash).
"""

from __future__ import annotations

from collections.abc import Sequence

from service.eventlog.duckdb_log import DuckDBLog
from service.sinks import store
from service.sinks.settings import SinkCommon
from service.sinks.status import SinkStatus, past_the_end


class DisabledSinks:
    """The stored state of the configured sinks the forwarder does not run."""

    def __init__(self, log_: DuckDBLog, sinks: Sequence[SinkCommon]) -> None:
        self._log = log_
        self._sinks = {sink.name: sink for sink in sinks}
        self._cursors: dict[str, int] = {}
        self._dead: dict[str, int] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._sinks

    def load(self, cursors: dict[str, int], dead_letters: dict[str, int]) -> None:
        """Take the stored cursors and dead-letter counts (read once at start)."""
        self._cursors = {name: cursors.get(name, 0) for name in self._sinks}
        self._dead = {name: dead_letters.get(name, 0) for name in self._sinks}

    def status(self) -> list[SinkStatus]:
        """A ``disabled`` row per sink, with its stored cursor and the lag behind the log."""
        last = self._log.last_seq
        return [self._row(name, last) for name in self._sinks]

    def _row(self, name: str, last: int) -> SinkStatus:
        cursor = self._cursors.get(name, 0)
        return SinkStatus(
            name=name, kind=self._sinks[name].KIND, state="disabled", cursor=cursor,
            last_seq=last, lag=last - cursor, dead_letters=self._dead.get(name, 0),
            last_error=past_the_end(cursor, last),
        )  # fmt: skip

    async def replay(self, name: str, from_seq: int) -> SinkStatus:
        """Store the cursor that makes sink ``name`` forward from ``from_seq`` once enabled.

        Raises:
            store.ReplayOutOfRange: ``from_seq`` is not between 1 and the last seq + 1.
        """
        cursor = store.replay_cursor(from_seq, self._log.last_seq)  # refused: nothing changes
        await self._log.run_write(lambda con: store.advance(con, name, cursor))
        self._cursors[name] = cursor
        return self._row(name, self._log.last_seq)
