"""Every kind of event a real ``sideline serve`` writes about a person, forwarded and exported,
then ``sideline erase`` through the running service: what a vendor got by default and what
the warehouse keeps afterwards hold none of the person's free text, name or id."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import polars as pl
import pytest

from tests.collector import Collector
from tests.fixtures.server import ServerProcess
from tests.sinks.conftest import ENV

ROOT = Path(__file__).resolve().parents[2]
ROOM = "match:1"
NAME = "Alice Wonderland"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerProcess, Collector]]:
    with Collector() as collector:
        sinks = {
            "SIDELINE_SINKS__POLL_INTERVAL_SECONDS": "0.2",
            "SIDELINE_SINKS__WAREHOUSE": json.dumps([
                {"name": "warehouse", "linger_seconds": 0.05, "include_names": True}]),
            "SIDELINE_SINKS__SEGMENT": json.dumps([
                {"name": "segment", "host": collector.url, "linger_seconds": 0.05}]),
            "SIDELINE_ANALYTICS__SCHEDULE_ENABLED": "false",
        }  # fmt: skip
        server = ServerProcess(tmp_path / "data", env={**ENV, **sinks}).start()
        try:
            yield server, collector
        finally:
            server.stop()
            server.kill()


class Person:
    def __init__(self, server: ServerProcess, user: str, role: str = "user", name: str | None = None):
        token = server.token(user, ROOM, role, name=name)
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.http.post(f"/v1/rooms/{ROOM}{path}", json=body)
        assert r.status_code in (200, 201, 204), r.text
        return dict(r.json()) if r.content else {}

    def say(self, i: int, text: str) -> str:
        meta = {"device": "ios", "session_id": "alice-session" if "alice" in text else "s"}
        return str(self.post("/messages", {"client_msg_id": f"c{i}", "text": text, "metadata": meta})["message_id"])


def make_history(server: ServerProcess) -> None:
    """alice as author, voter, poll creator, reporter, and target of a mute and a delete."""
    alice = Person(server, "alice", name=NAME)
    bob = Person(server, "bob")  # no name claim: his name is his id
    mod = Person(server, "mod-zed", "moderator", name="Zed")
    admin = httpx.Client(base_url=server.url, headers={"X-Admin-Key": server.admin_key()})
    for who in (alice, bob, mod):
        who.post("/join")
    first = alice.say(1, "alice here, hello")
    second = alice.say(2, "alice again, mail me at alice@example.com")  # masked: a verdict
    bob_says = bob.say(3, "bob here")
    alice.post(f"/messages/{bob_says}/reactions", {"emoji": "⚽"})
    alice.post(f"/messages/{bob_says}/reports", {"reason": "alice finds this dull"})
    poll = mod.post("/polls", {"question": "Best player?", "options": ["Saka", "Rice"]})["poll_id"]
    alice.post(f"/polls/{poll}/votes", {"option": 1})
    r = admin.post(f"/v1/admin/rooms/{ROOM}/roles", json={"user_id": "alice", "role": "speaker"})
    assert r.status_code in (200, 201), r.text
    speaker = Person(server, "alice", "speaker", name=NAME)
    mine = speaker.post("/polls", {"question": "alice asks: who wins?", "options": ["alice's pick", "x"]})
    speaker.post(f"/polls/{mine['poll_id']}/close")
    mod.post("/pin", {"message_id": first})
    r = mod.http.delete(f"/v1/rooms/{ROOM}/messages/{second}", params={"reason": "alice overshared"})
    assert r.status_code == 200, r.text
    mod.post("/mutes", {"user_id": "alice", "reason": "alice, calm down", "duration_seconds": 60})
    alice.post("/leave")


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**server.environ(), **ENV, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def exported(server: ServerProcess) -> pl.DataFrame:
    root = server.data_dir / "warehouse" / "events"
    return pl.scan_parquet(str(root / "**" / "*.parquet"), hive_partitioning=True).collect()


def drained(server: ServerProcess) -> None:
    headers = {"X-Admin-Key": server.admin_key()}
    deadline = time.monotonic() + 30
    while not all(s["lag"] == 0 for s in httpx.get(f"{server.url}/v1/admin/sinks/", headers=headers).json()):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_person_is_gone_from_every_event_type_after_sideline_erase(served):
    server, collector = served
    make_history(server)
    drained(server)
    frame = exported(server)
    types = set(frame["event_type"])
    assert types >= {
        "community_room_joined", "community_message_sent", "community_message_moderated",
        "reaction_added", "community_message_reported", "poll_created", "poll_voted",
        "poll_closed", "role_granted", "community_message_pinned", "community_message_deleted",
        "user_muted", "community_room_left",
    }, types  # fmt: skip
    # A vendor by default: no text anyone wrote, no display name (ids are its user key).
    vendor = json.dumps(collector.received["segment"])
    for written in ("alice here", "mail me", "finds this dull", "who wins", "pick", "overshared",
                    "calm down", NAME, "Zed", "Saka"):  # fmt: skip
        assert written not in vendor, written
    assert not [m for m in collector.received["segment"] if "name" in m["properties"]]

    out = cli(server, "erase", "--user", "alice", "--by", "ops")
    assert out.returncode == 0 and "erased as erased-" in out.stdout, out
    assert f"via service at {server.url}" in out.stdout  # the running service did it
    drained(server)
    frame = exported(server).drop("event_date")
    cells = json.dumps(frame.rows(), default=str).lower()
    assert "alice" not in cells and "wonderland" not in cells
    # What she did not write stays: bob's message, the moderator's poll, bob's name (his id).
    kept = [json.loads(p) for p in frame["payload"]]
    assert {"text": "bob here", "name": "bob"}.items() <= next(p for p in kept if p.get("name") == "bob").items()
    assert any(p.get("question") == "Best player?" for p in kept)

    # Her pseudonym is keyed (sinks.erasure_secret, generated into dev-secrets.toml here):
    # hashing a guessed id finds it nowhere, not in the answer, the files, the audit or its view.
    guess = hashlib.sha256(b"alice").hexdigest()
    audit = (server.data_dir / "warehouse" / "erasures.jsonl").read_text()
    for place in (out.stdout, cells, audit):
        assert guess[:16] not in place
    key = server.settings().sinks.erasure_secret
    digest = hmac.new(key.encode(), b"alice", hashlib.sha256).hexdigest()
    assert f"erased as erased-{digest[:16]}:" in out.stdout
    con = duckdb.connect(str(server.data_dir / "warehouse" / "warehouse.duckdb"), read_only=True)
    try:
        view = con.execute("SELECT subject_hash, pseudonym, scheme FROM erasures").fetchall()
    finally:
        con.close()
    assert view == [(digest, f"erased-{digest[:16]}", "hmac-sha256")]
    assert key not in audit and key not in server.output()
