"""kill -9 the server while 50 clients send; every acknowledged message survives exactly once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.conftest import SERVER_ENV
from tests.fixtures.server import ServerProcess

pytestmark = pytest.mark.slow

CLIENTS = 50


async def _client(url: str, token: str, n: int, acked: dict[str, str], stop: asyncio.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        i = 0
        while not stop.is_set():
            cid = f"c{n}-{i}"
            try:
                r = await client.post("/v1/rooms/match:1/messages", headers=headers,
                                      json={"client_msg_id": cid, "text": f"client {n} says {i}"})
            except httpx.HTTPError:
                return  # the server died under us: this send was never acknowledged
            if r.status_code == 201:
                acked[cid] = r.json()["message_id"]
            i += 1


def _log_rows(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT seq, message_id, json_extract_string(payload, '$.client_msg_id') "
            "FROM events WHERE event_type = 'community_message_sent' ORDER BY seq"
        ).fetchall()
        count, max_seq = con.execute("SELECT count(*), max(seq) FROM events").fetchall()[0]
        return [*rows, ("all", count, max_seq)]
    finally:
        con.close()


def test_kill_9_loses_no_acknowledged_message(tmp_path: Path):
    data = tmp_path / "data"
    # this measures the log, not the brakes: no crowd control, no per-user rate limit
    env = {**SERVER_ENV, "SIDELINE_CROWD_CONTROL__ENABLED": "false", "SIDELINE_MODERATION__RATE__BURST_MAX": "1000000", "SIDELINE_MODERATION__RATE__RATE_MAX": "1000000"}
    node = ServerProcess(data, env=env).start()
    tokens = [node.token(f"u{n}", "match:1") for n in range(CLIENTS)]
    acked: dict[str, str] = {}

    async def load() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_client(node.url, tokens[n], n, acked, stop)) for n in range(CLIENTS)]
        deadline = time.monotonic() + 20
        while len(acked) < 1500 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        node.kill()  # kill -9 mid-load: no shutdown code runs
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(load())
    assert len(acked) >= 500, "the load did not get going before the kill"

    again = ServerProcess(data, port=node.port, env=env).start()
    # a client that never got its ack retries with the same id: no duplicate of an acked one
    # (client message ids are per user: client 0 retries one of its own)
    mine = next(cid for cid in acked if cid.startswith("c0-"))
    retry = httpx.post(f"{again.url}/v1/rooms/match:1/messages",
                       headers={"Authorization": f"Bearer {tokens[0]}"},
                       json={"client_msg_id": mine, "text": f"client 0 says {mine[3:]}"})  # the same send
    assert retry.status_code == 201 and retry.json()["message_id"] == acked[mine]
    assert again.stop() in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    assert "event log flushed and closed" in again.output()

    rows = _log_rows(data / "log-node-1.duckdb")
    (_, count, max_seq) = rows.pop()
    assert count == max_seq, "seq has gaps"
    by_client_id: dict[str, list[str]] = {}
    for _, message_id, cid in rows:
        by_client_id.setdefault(cid, []).append(message_id)
    for cid, message_id in acked.items():
        assert by_client_id.get(cid) == [message_id], f"acknowledged {cid} not in the log exactly once"
    assert all(len(v) == 1 for v in by_client_id.values())
