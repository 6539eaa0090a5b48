"""The whole path: HTTP sends -> log -> warehouse export -> jobs -> report, while the service runs."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import duckdb
import httpx
import polars as pl
import pytest

from tests.fixtures.server import ServerProcess

pytestmark = pytest.mark.slow


def write_exports(folder, users, match_start):
    folder.mkdir(parents=True, exist_ok=True)
    signup = (match_start - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (folder / "users.csv").write_text(
        "user_id,signed_up_at,plan,country\n" + "".join(f"{u},{signup},free,GB\n" for u in users)
    )
    days = [(match_start - timedelta(days=d)).date().isoformat() for d in range(3)]
    (folder / "activity.csv").write_text(
        "user_id,date,sessions,minutes\n" + "".join(f"{u},{d},2,15.5\n" for u in users for d in days)
    )
    start = match_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (match_start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (folder / "contexts.csv").write_text(
        f"context_id,kind,title,starts_at,ends_at\nmatch:1,match,Reds v Blues,{start},{end}\n"
    )


def test_events_reach_the_reports_while_the_service_runs(tmp_path):
    data = tmp_path / "data"
    users = [f"fan{i}" for i in range(6)]
    now = datetime.now(UTC)
    # The match began half an hour ago (before midnight too: its room's events run into today,
    # so its start day is reported although the community's first event is today's).
    match_start = now - timedelta(minutes=30)
    write_exports(data / "exports", users, match_start)
    env = {"SIDELINE_SINKS__WAREHOUSE": '[{"name": "warehouse", "linger_seconds": 0.2}]'}
    node = ServerProcess(data, env=env).start()
    try:
        sent = 0
        with httpx.Client(base_url=node.url, timeout=10) as api:
            for i, user in enumerate(users):
                h = {"Authorization": f"Bearer {node.token(user, 'match:1')}"}
                api.post("/v1/rooms/match:1/join", headers=h)
                for k in range(i % 3 + 1):
                    r = api.post("/v1/rooms/match:1/messages", headers=h,
                                 json={"client_msg_id": f"{user}-{k}", "text": f"come on reds {k}"})
                    assert r.status_code == 201, r.text
                    sent += 1
            admin = {"X-Admin-Key": node.admin_key()}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                (wh,) = [s for s in api.get("/v1/admin/sinks", headers=admin).json() if s["name"] == "warehouse"]
                if wh["lag"] == 0 and wh["cursor"] > 0:
                    break
                time.sleep(0.2)
            assert wh["lag"] == 0, wh

        # a separate process reads the export while the service keeps the live log open
        counted = subprocess.run(
            [sys.executable, "-c",
             "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True);"
             "print(c.execute(\"select count(*) from events where event_type='community_message_sent'\").fetchall()[0][0])",
             str(data / "warehouse" / "warehouse.duckdb")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert int(counted.stdout) == sent

        run = subprocess.run(
            [sys.executable, "-m", "service.cli", "jobs", "run", "--all", "--no-progress", "--data-dir", str(data)],
            capture_output=True, text=True, env=node.environ(),
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
    finally:
        node.stop()
    engagement = pl.read_parquet(data / "warehouse" / "reports" / "engagement" / "**" / "*.parquet")
    row = engagement.filter(pl.col("context_id") == "match:1").to_dicts()
    assert row and row[0]["messages"] == sent and row[0]["posters"] == len(users)
    con = duckdb.connect(str(data / "warehouse" / "reports.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT messages FROM engagement WHERE context_id = 'match:1'").fetchall() == [(sent,)]
    finally:
        con.close()
