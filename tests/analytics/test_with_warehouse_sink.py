"""The contract between the two halves: demo events appended through the real log writer and
exported by the real warehouse sink are what the jobs read (no hand-made warehouse)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from analytics.demo import DemoConfig, batches, generate, write_exports
from analytics.runner import Runner
from service.eventlog.codec import to_arrow
from service.eventlog.duckdb_log import DuckDBLog
from service.sinks.batch import Batch
from service.sinks.erasure import ErasureIndex
from service.sinks.settings import WarehouseSinkSettings
from service.sinks.warehouse.sink import WarehouseSink


async def test_reports_over_the_real_export(tmp_path: Path) -> None:
    data = generate(DemoConfig(users=300, start=date(2026, 1, 5)))
    write_exports(data, tmp_path / "exports")
    log = DuckDBLog(tmp_path / "log-n1.duckdb", node_id="n1")
    await log.start()
    sink = WarehouseSink(WarehouseSinkSettings(name="warehouse"), root=tmp_path / "warehouse", log_=log,
                         erasures=ErasureIndex())  # fmt: skip
    await sink.start()
    try:
        for batch in batches(data.events, 2000):
            committed = await log.append(batch)
            await sink.send(Batch(to_arrow(committed)))
    finally:
        await sink.close()
        await log.close()
    runner = Runner(tmp_path / "warehouse", tmp_path / "exports", progress=False)
    results = {r.job: r for r in runner.run()}
    assert all(r.status == "ok" for r in results.values()), results
    health = pl.read_parquet(runner.reports_root / "community_health" / "*.parquet")
    assert health.height == 30 + 28 and health["dau"].sum() > 0  # cohort days, then post days
    churn = pl.read_parquet(runner.reports_root / "churn_posting" / "*.parquet")
    assert churn["users"].sum() > 0
    masked = pl.read_parquet(runner.reports_root / "moderation_daily" / "*.parquet")
    assert masked["masked_messages"].sum() == sum(
        1 for e in data.events if e.payload.get("masked") is True
    )
