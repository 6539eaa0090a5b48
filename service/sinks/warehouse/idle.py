"""Warehouse folders that no running sink writes to, for erasure.

A warehouse sink that is disabled (``enabled = false``), or every sink when forwarding is off
(``sinks.enabled = false``), exports nothing, yet its folder still holds what it exported
before. An erasure is a promise about every configured folder, so the service erases those
folders directly, as ``sideline erase`` does without a service, instead of reporting done
while the user's rows stay there.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from service.sinks.erasure import ErasureKeys
from service.sinks.settings import WarehouseSinkSettings
from service.sinks.store import ErasureRecord
from service.sinks.warehouse.erase import append_audit, erase_files, rekey_files
from service.sinks.warehouse.views import write_views


class IdleWarehouse:
    """A configured warehouse folder without a running sink: erased in place, off the loop.

    It has the erasure side of :class:`~service.sinks.warehouse.sink.WarehouseSink` (``name``,
    ``root``, ``ducklake``, ``erase``, ``rekey``, ``record_erasure``), so the forwarder treats
    both alike.
    """

    def __init__(
        self, settings: WarehouseSinkSettings, root: Path, *, node: str, epoch: str,
        keys: ErasureKeys,
    ) -> None:
        self._settings = settings
        self.root = root
        self._node = node
        self._epoch = epoch
        self._keys = keys

    @property
    def name(self) -> str:
        return self._settings.name

    @property
    def ducklake(self) -> bool:
        """Whether the sink was configured with a DuckLake catalog (which erasure does not reach)."""
        return self._settings.ducklake

    async def erase(self, record: ErasureRecord, *, after_seq: int = 0) -> tuple[int, list[str]]:
        """Rewrite this folder's files of the node that hold ``record``'s user (erase_files)."""
        return await asyncio.to_thread(
            erase_files, self.root, self._node, record, keys=self._keys, epoch=self._epoch,
            after_seq=after_seq, compression=self._settings.compression,
        )  # fmt: skip

    async def rekey(self, moved: list[tuple[ErasureRecord, ErasureRecord]]) -> int:
        """Move earlier erasures' rows and audit lines to their rekeyed form (rekey_files)."""

        def rekey_them() -> int:
            if not self.root.is_dir():
                return 0
            rows = rekey_files(self.root, self._node, moved, compression=self._settings.compression)
            write_views(self.root)
            return rows

        return await asyncio.to_thread(rekey_them)

    async def record_erasure(self, record: ErasureRecord) -> None:
        """Add ``record`` to the folder's erasure audit file, and rewrite its views.

        A folder that does not exist holds nothing to erase and is not created (a path on a
        volume not mounted now would hide it): if it appears later with files, the start
        finds this erasure missing from its audit file and applies it there.
        """

        def record_it() -> None:
            if self.root.is_dir():
                append_audit(self.root, record)
                write_views(self.root)

        await asyncio.to_thread(record_it)
