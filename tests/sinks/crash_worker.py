"""Run by the crash test in a subprocess: a DuckDBLog and a Forwarder writing and forwarding.

``write`` appends events forever (until the test kills the process with SIGKILL); ``drain``
only forwards what the log holds, prints DRAINED and exits cleanly.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.sinks.conftest import ENV, Rig, message, sink_config


async def main(data_dir: Path, url: str, mode: str) -> None:
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
