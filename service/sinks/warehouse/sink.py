"""The warehouse sink: committed events to Hive-partitioned Parquet, idempotently.

All file work (writes, recovery, compaction, erasure) runs on one thread of the sink's own,
so it is serialised: an erasure submitted after a write always sees that write's file, and a
recovery never races a write still in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pyarrow as pa

from service.eventlog.duckdb_log import DuckDBLog
from service.sinks.base import Delivery, TransientError
from service.sinks.batch import Batch
from service.sinks.erasure import ErasureIndex, ErasureKeys
from service.sinks.settings import WarehouseSinkSettings
from service.sinks.warehouse import compact as compaction
from service.sinks.warehouse import files
from service.sinks.warehouse.ducklake import DuckLakeWriter
from service.sinks.warehouse.folder import WarehouseFolder
from service.sinks.warehouse.shape import ExportShape
from service.sinks.warehouse.views import has_parts, write_views

log = logging.getLogger(__name__)
T = TypeVar("T")


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


class WarehouseSink(WarehouseFolder):
    """Writes each batch as one Parquet file per event date under ``root`` (and erases from
    them: :class:`~service.sinks.warehouse.folder.WarehouseFolder`)."""

    kind = "warehouse"

    def __init__(
        self,
        settings: WarehouseSinkSettings,
        *,
        root: Path,
        log_: DuckDBLog,
        erasures: ErasureIndex,
        today: Callable[[], str] = _today,
    ) -> None:
        self._settings = settings
        self.root = root
        self._log = log_
        self._erasures = erasures
        self._today = today
        self._shape = ExportShape(settings)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"warehouse-{settings.name}")
        self._lake = (
            DuckLakeWriter(root, settings.ducklake_extension_path) if settings.ducklake else None
        )
        self._views_empty = True
        self._compacted_on = ""
        self._node = ""
        self._epoch = ""

    @property
    def erasure_keys(self) -> ErasureKeys:
        return self._erasures.keys

    @property
    def ducklake(self) -> bool:
        """Whether the sink also writes a DuckLake catalog (which erasure does not reach)."""
        return self._lake is not None

    def redact(self, text: str) -> str:
        return text  # no secrets

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def start(self) -> None:
        self._node, self._epoch = self._log.node_id, self._log.epoch
        if not files.NODE_ID.match(self._node):
            raise ValueError(f"node id {self._node!r} cannot name a partition folder")
        if self._lake is not None:
            await self._run(self._lake.open)
        await self._run(self._refresh_views)

    def _views_changed(self) -> None:
        self._refresh_views()

    def _refresh_views(self) -> None:
        write_views(self.root)
        self._views_empty = not has_parts(self.root)

    async def recover(self, cursor: int) -> int:
        return await self._run(lambda: self._recover(cursor))

    def _recover(self, cursor: int) -> int:
        superseded = files.remove_superseded(self.root, self._node)
        resume, removed = files.remove_after(self.root, self._node, self._epoch, cursor)
        if superseded or removed:
            log.warning(
                "warehouse %s: removed %d files of an interrupted compaction and %d written "
                "after cursor %d; resuming at seq %d", self.name, len(superseded), len(removed),
                cursor, resume + 1,
            )  # fmt: skip
        return resume

    async def send(self, batch: Batch) -> Delivery:
        try:
            return await self._run(lambda: self._write(batch.table))
        except OSError as exc:
            raise TransientError(f"writing the export failed: {exc}") from exc

    def _write(self, table: pa.Table) -> Delivery:
        # Applied again here, on the file thread: an erasure that started after this batch
        # was read is either seen now or rewrites this file right after it.
        table, _ = self._erasures.apply(table)
        table = self._shape.apply(table)
        files.write_batch(
            table, self.root, node=self._node, epoch=self._epoch,
            compression=self._settings.compression,
        )  # fmt: skip
        if self._lake is not None and table.num_rows:
            self._lake.write(table)
        if self._views_empty:
            self._refresh_views()
        self._compact_if_due()
        return Delivery()

    def _compact_if_due(self) -> None:
        today = self._today()
        if today == self._compacted_on:
            return
        compaction.compact(
            self.root, self._node, before=today, min_files=self._settings.compact_min_files,
            compression=self._settings.compression,
        )  # fmt: skip
        self._compacted_on = today

    async def compact(self, before: str | None = None) -> list[compaction.Compacted]:
        """Merge the small files of days before ``before`` (default: today, UTC) now."""
        day = before or self._today()
        return await self._run(
            lambda: compaction.compact(
                self.root, self._node, before=day, min_files=self._settings.compact_min_files,
                compression=self._settings.compression,
            )
        )  # fmt: skip

    async def close(self) -> None:
        if self._lake is not None:
            await self._run(self._lake.close)
        self._pool.shutdown(wait=True)
