"""Run by the crash test in a subprocess: a DuckDBLog and a Forwarder writing and forwarding.

``write`` appends events forever (until the test kills the process with SIGKILL); ``drain``
only forwards what the log holds, prints DRAINED and exits cleanly. ``erase`` exports 20
events (alice wrote half of them) to the warehouse alone, then erases alice and stops for
good between saving the erasure record and rewriting the files, where the test kills it.
``erase-midway`` exports the same events as four files and stops for good once the erase
pass has rewritten the first of them, where the test kills it.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

from service.sinks.warehouse import erase
from service.sinks.warehouse.sink import WarehouseSink
from tests.sinks.conftest import ENV, Rig, message, sink_config


async def erase_and_hang(data_dir: Path) -> None:
    rig = Rig(data_dir, {"warehouse": [{"name": "warehouse", "linger_seconds": 0.05}]})
    await rig.start()
    await rig.append([message(i, user="alice" if i % 2 else f"u{i}", text=f"alice says {i}")
                      for i in range(20)])  # fmt: skip
    await rig.drained()
    (sink,) = [s for s in rig.fw.sinks if isinstance(s, WarehouseSink)]

    async def hang(*_: object, **__: object) -> tuple[int, list[str]]:
        print("ERASURE RECORDED", flush=True)  # the record is committed; the files are not
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    sink.erase = hang  # type: ignore[method-assign]
    await rig.fw.erase("alice", "ticket-7")


async def erase_and_hang_midway(data_dir: Path) -> None:
    rig = Rig(data_dir, {"warehouse": [{"name": "warehouse", "linger_seconds": 0.05}]})
    await rig.start()
    for first in range(0, 20, 5):  # one file per drained batch
        await rig.append([message(i, user="alice" if i % 2 else f"u{i}", text=f"alice says {i}")
                          for i in range(first, first + 5)])  # fmt: skip
        await rig.drained()
    write = erase.write_atomic

    def write_then_hang(table: Any, path: Path, **kw: Any) -> None:
        write(table, path, **kw)
        print("FILE REWRITTEN", path.name, flush=True)  # on disk; the record is still pending
        threading.Event().wait()

    erase.write_atomic = write_then_hang  # type: ignore[assignment]
    await rig.fw.erase("alice", "ticket-8")


async def main(data_dir: Path, url: str, mode: str) -> None:
    if mode == "erase":
        await erase_and_hang(data_dir)
        return
    if mode == "erase-midway":
        await erase_and_hang_midway(data_dir)
        return
    sinks = {k: [sink_config(k, url, linger_seconds=0.01, batch_size=200)]
             for k in ("segment", "mixpanel", "ga4")}  # fmt: skip
    sinks["warehouse"] = [{"name": "warehouse", "linger_seconds": 0.05, "batch_size": 300}]
    rig = Rig(data_dir, sinks)
    await rig.start()
    print("STARTED", rig.log.last_seq, flush=True)
    if mode == "write":
        i = rig.log.last_seq
        while True:
            await rig.append([message(j) for j in range(i, i + 10)])
            i += 10
            if i % 200 == 0:
                print("COMMITTED", rig.log.last_seq, flush=True)
            await asyncio.sleep(0.005)
    await rig.drained(timeout=120)
    print("DRAINED", rig.log.last_seq, flush=True)
    await rig.stop()


if __name__ == "__main__":
    assert set(ENV)  # the worker uses the same test secrets as the collector
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
