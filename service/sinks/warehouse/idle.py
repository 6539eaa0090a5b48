"""Warehouse folders that no running sink writes to, for erasure.

A warehouse sink that is disabled (``enabled = false``), or every sink when forwarding is off
(``sinks.enabled = false``), exports nothing, yet its folder still holds what it exported
before. An erasure is a promise about every configured folder, so the service erases those
folders directly, as ``sideline erase`` does without a service, instead of reporting done
while the user's rows stay there.
"""

from __future__ import annotations

from pathlib import Path

from service.sinks.erasure import ErasureKeys
from service.sinks.settings import WarehouseSinkSettings
from service.sinks.warehouse.folder import WarehouseFolder


class IdleWarehouse(WarehouseFolder):
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
    def erasure_keys(self) -> ErasureKeys:
        return self._keys

    @property
    def ducklake(self) -> bool:
        """Whether the sink was configured with a DuckLake catalog (which erasure does not reach)."""
        return self._settings.ducklake

    def _present(self) -> bool:
        # A folder that does not exist holds nothing to erase and is not created (a path on a
        # volume not mounted now would hide it): if it appears later with files, the start
        # finds this erasure missing from its audit file and applies it there.
        return self.root.is_dir()
