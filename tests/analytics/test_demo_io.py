"""The demo generator is a pure function; the warehouse writer produces the sink's layout."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from analytics.demo import DemoConfig, generate, write_exports, write_warehouse
from analytics.exports import load_exports
from analytics.io import EVENT_SCHEMA, Warehouse
from analytics.views import register_report_views
from service.sinks.warehouse.files import part_name, parts


def test_generate_is_deterministic_and_realistic() -> None:
    config = DemoConfig(users=400, start=date(2026, 1, 5))
    a, b = generate(config), generate(config)
    assert [(e.event_id, e.event_type, e.user_id, e.occurred_at, e.payload) for e in a.events] == [
        (e.event_id, e.event_type, e.user_id, e.occurred_at, e.payload) for e in b.events
    ]
    assert a.users.equals(b.users) and a.activity.equals(b.activity)
    kinds = {e.event_type.value for e in a.events}
    assert {"community_room_joined", "community_message_sent", "reaction_added", "poll_voted",
            "community_message_moderated", "community_exposure_assigned"} <= kinds  # fmt: skip
    days = {e.occurred_at.date() for e in a.events}
    # 30 days of cohort periods, then the community runs on through the 28 post days
    assert min(days) >= date(2026, 1, 5) and max(days) <= date(2026, 3, 4)
    assert a.activity["date"].min() == date(2025, 12, 8)  # 28 days of pre-period


def test_exports_and_warehouse_roundtrip(tmp_path: Path) -> None:
    data = generate(DemoConfig(users=200, start=date(2026, 1, 5)))
    write_exports(data, tmp_path / "exports", "csv")
    ex = load_exports(tmp_path / "exports")
    assert ex.users.collect().height == 200 and ex.notes == []
    files = write_warehouse(data.events, tmp_path / "wh", node_id="n7")
    rel = [f.relative_to(tmp_path / "wh").parts for f in files]
    assert all(p[0] == "events" and p[1].startswith("event_date=2026-") and p[2] == "node=n7"
               for p in rel)  # fmt: skip
    first = pl.read_parquet(files[0])
    assert dict(first.schema) == EVENT_SCHEMA
    # Named as the sink names its files, so erasure, compaction and recovery see them.
    assert files[0].name == part_name(first["epoch"][0], first["seq"].min(), first["seq"].max())
    assert [p.path for p in parts(tmp_path / "wh", "n7")] == files
    wh = Warehouse(tmp_path / "wh")
    assert wh.days()[0] == date(2026, 1, 5)
    assert wh.scan().select(pl.len()).collect().item() == len(data.events)
    assert wh.horizon() == max(e.occurred_at for e in data.events)


def test_report_views_on_any_connection(golden) -> None:
    golden.run(["funnel"])
    con = duckdb.connect()
    assert register_report_views(con, golden.reports_root) == ["funnel"]
    assert con.execute("SELECT count(*) FROM funnel").fetchone() == (6,)
