"""``analytics.notebook.connect`` answers in UTC days, as the reports and partitions count them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from analytics.demo import DemoConfig, generate, write_warehouse
from service.sinks.warehouse.views import write_views

ROOT = Path(__file__).resolve().parents[2]

# Run in a kernel-like process of an analyst far from UTC: DuckDB takes its session time zone
# from the machine, and `CAST(occurred_at AS DATE)` follows it.
DAYS_BY_SQL = """
import json, sys
from analytics.notebook import connect
con = connect(sys.argv[1])
rows = con.sql("SELECT CAST(occurred_at AS DATE)::VARCHAR AS day, count(*) AS n FROM events "
               "GROUP BY day ORDER BY day").fetchall()
print(json.dumps({day: n for day, n in rows}))
"""


@pytest.mark.parametrize("views", [True, False], ids=["warehouse.duckdb", "parquet only"])
def test_connect_counts_days_in_utc_whatever_the_machines_zone(tmp_path: Path, views: bool) -> None:
    events = generate(DemoConfig(users=60, days=14)).events
    write_warehouse(events, tmp_path / "warehouse", node_id="node-1")
    if views:
        write_views(tmp_path / "warehouse")
    frame = pl.read_parquet(tmp_path / "warehouse" / "events" / "*" / "*" / "*.parquet")
    # Events after 15:00 UTC fall on the next day in Tokyo: the test can tell the zones apart.
    assert frame.filter(pl.col("occurred_at").dt.hour() >= 15).height > 0
    utc_days = {str(d): n for d, n in frame.group_by(pl.col("occurred_at").dt.date()).len().rows()}
    env = {**os.environ, "TZ": "Asia/Tokyo", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", DAYS_BY_SQL, str(tmp_path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(done.stdout) == utc_days
