"""The erasure side of a warehouse folder, shared by the running sink and an idle folder.

Both :class:`~service.sinks.warehouse.sink.WarehouseSink` and
:class:`~service.sinks.warehouse.idle.IdleWarehouse` erase users from the Parquet files of
this node in their folder, move earlier erasures to rekeyed pseudonyms, and keep the folder's
erasure audit file; they differ only in where the file work runs (the sink's own file thread,
so it is serialised with its writes; any worker thread for an idle folder) and in what a
missing folder means.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from service.sinks.erasure import ErasureKeys
from service.sinks.settings import WarehouseSinkSettings
from service.sinks.store import ErasureRecord
from service.sinks.warehouse.erase import append_audit, erase_files, rekey_files
from service.sinks.warehouse.views import write_views

T = TypeVar("T")


class WarehouseFolder:
    """Erasure of this node's rows in the folder ``root`` of a configured warehouse sink."""

    root: Path
    _settings: WarehouseSinkSettings
    _node: str
    _epoch: str

    @property
    def name(self) -> str:
        return self._settings.name

    @property
    def erasure_keys(self) -> ErasureKeys:
        raise NotImplementedError

    async def _run(self, fn: Callable[[], T]) -> T:
        """Run file work off the event loop."""
        return await asyncio.to_thread(fn)

    def _present(self) -> bool:
        """Whether the folder is there to be rewritten (an idle one may not be)."""
        return True

    def _views_changed(self) -> None:
        write_views(self.root)

    async def erase(self, record: ErasureRecord, *, after_seq: int = 0) -> tuple[int, list[str]]:
        """Rewrite this node's files that hold ``record``'s user; returns the (rows, files)
        erased by it (see :func:`~service.sinks.warehouse.erase.erase_files`)."""
        node, epoch, keys = self._node, self._epoch, self.erasure_keys
        compression = self._settings.compression
        return await self._run(
            lambda: erase_files(
                self.root, node, record, keys=keys, epoch=epoch, after_seq=after_seq,
                compression=compression,
            )
        )  # fmt: skip

    async def rekey(self, moved: list[tuple[ErasureRecord, ErasureRecord]]) -> int:
        """Move earlier erasures' rows and audit lines to their rekeyed form (rekey_files)."""

        def rekey_them() -> int:
            if not self._present():
                return 0
            rows = rekey_files(self.root, self._node, moved, compression=self._settings.compression)
            self._views_changed()
            return rows

        return await self._run(rekey_them)

    async def record_erasure(self, record: ErasureRecord) -> None:
        """Add ``record`` to the folder's erasure audit file, and rewrite its views."""

        def record_it() -> None:
            if self._present():
                append_audit(self.root, record)
                self._views_changed()

        await self._run(record_it)
