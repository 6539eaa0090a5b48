"""Erased users' pseudonyms are keyed (HMAC-SHA256 under ``sinks.erasure_secret``): nobody
without the key can hash guessed ids and find whose a pseudonym is, while nodes and runs that
share the key give a user one pseudonym. Erasures made before (unkeyed SHA-256) keep theirs.

Real DuckDB logs, a real Parquet warehouse, ``sideline erase`` and ``sideline serve``."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import duckdb
import httpx
import msgspec
import polars as pl
import pyarrow.parquet as pq
import pytest

from service.cli import main
from service.domain.events import utcnow, uuid7
from service.sinks import offline, store
from service.sinks.erasure import ErasureKeyError, key_id, rewrite
from service.sinks.store import ErasureRecord
from service.sinks.warehouse.files import write_atomic
from service.sinks.warehouse.views import write_views
from tests.fixtures.server import ServerProcess, free_port
from tests.sinks.conftest import ERASURE_SECRET, Rig, message
from tests.sinks.test_erasure_reach import (
    audit_ids,
    exported_to_two,
    held_by,
    scan,
    until_erased_from,
)

KEY = "shared-erasure-key-of-the-deployment-0001"
OTHER_KEY = "another-deployment-erasure-key-000000002"


def keyed(key: str, user: str) -> str:
    return "erased-" + hmac.new(key.encode(), user.encode(), hashlib.sha256).hexdigest()[:16]


def unkeyed_hash(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()


def warehouse_settings(root: Path) -> list[dict[str, object]]:
    return [{"name": "warehouse", "linger_seconds": 0.05, "path": str(root)}]


async def export(data: Path, node: str, root: Path, users: list[str], key: str = KEY) -> None:
    """``users``' messages (one each, in turn) logged by ``node`` and exported to ``root``."""
    rig = Rig(data, {"warehouse": warehouse_settings(root), "erasure_secret": key}, node_id=node)
    await rig.start()
    try:
        await rig.append([message(i, user=u, text=f"{u} says {i}") for i, u in enumerate(users)])
        await rig.drained()
    finally:
        await rig.stop()


def erase_with_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: Path, node: str,
    root: Path, user: str, key: str,
) -> str:
    """``sideline erase --user USER`` for ``node`` (no service runs: it opens the log file)."""
    env = {
        "SIDELINE_DATA_DIR": str(data), "SIDELINE_NODE_ID": node,
        "SIDELINE_SERVER__PORT": str(free_port()), "SIDELINE_SINKS__ERASURE_SECRET": key,
        "SIDELINE_SINKS__WAREHOUSE": json.dumps(warehouse_settings(root)),
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["erase", "--user", user, "--by", "ops"]) == 0
    out = capsys.readouterr().out
    assert "via log file" in out, out
    return out


def audit_lines(root: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (root / "erasures.jsonl").read_text().splitlines()]


def erasures_view(root: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        sql = "SELECT subject_hash, pseudonym, scheme, key_id FROM erasures ORDER BY requested_at"
        return con.execute(sql).fetchall()
    finally:
        con.close()


async def test_two_nodes_with_one_key_give_a_user_one_keyed_pseudonym_that_reruns_keep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    shared = tmp_path / "warehouse"  # both nodes export here, each to its node= folders
    await export(tmp_path / "n1", "node-1", shared, ["u000003", "u000004", "u000003"])
    await export(tmp_path / "n2", "node-2", shared, ["u000003", "u000004"])
    user, pseudonym = "u000003", keyed(KEY, "u000003")
    guessed = unkeyed_hash(user)
    assert pseudonym != f"erased-{guessed[:16]}"

    for data, node in ((tmp_path / "n1", "node-1"), (tmp_path / "n2", "node-2")):
        out = erase_with_cli(monkeypatch, capsys, data, node, shared, user, KEY)
        assert f"erased as {pseudonym}:" in out, out
    frame = scan(shared)
    assert held_by(shared, user) == 0 and guessed[:16] not in json.dumps(frame.rows(), default=str)
    mine = frame.filter(pl.col("user_id") == pseudonym)
    assert sorted(mine["node"].to_list()) == ["node-1", "node-1", "node-2"]
    # The jobs count her as one user across the nodes' files.
    assert frame.filter(pl.col("event_type") == "community_message_sent")["user_id"].n_unique() == 2

    # The audit trail proves both erasures without a hash a guess can be tested on.
    text = (shared / "erasures.jsonl").read_text()
    assert guessed not in text and guessed[:16] not in text and KEY not in text
    lines = audit_lines(shared)
    full = hmac.new(KEY.encode(), user.encode(), hashlib.sha256).hexdigest()
    assert [(x["subject_hash"], x["pseudonym"], x["scheme"], x["key_id"]) for x in lines] == [
        (full, pseudonym, "hmac-sha256", key_id(KEY))
    ] * 2
    assert erasures_view(shared) == [(full, pseudonym, "hmac-sha256", key_id(KEY))] * 2

    # A re-run on node 1: the same pseudonym, nothing left to change.
    before = {p: p.read_bytes() for p in shared.rglob("*.parquet")}
    out = erase_with_cli(monkeypatch, capsys, tmp_path / "n1", "node-1", shared, user, KEY)
    assert f"erased as {pseudonym}: 0 rows" in out, out
    assert {p: p.read_bytes() for p in shared.rglob("*.parquet")} == before

    # A deployment with another key gives the same id another pseudonym.
    elsewhere = tmp_path / "elsewhere"
    await export(tmp_path / "n3", "node-1", elsewhere, [user], key=OTHER_KEY)
    out = erase_with_cli(monkeypatch, capsys, tmp_path / "n3", "node-1", elsewhere, user, OTHER_KEY)
    assert f"erased as {keyed(OTHER_KEY, user)}:" in out and keyed(OTHER_KEY, user) != pseudonym


async def left_by_the_version_before(tmp_path: Path) -> tuple[Rig, Path, Path, ErasureRecord]:
    """Alice's events in two folders, and the state the version before keyed pseudonyms left:
    its log (no ``scheme`` column) records her erasure with the unkeyed SHA-256; the main
    folder is rewritten with its pseudonym and audited by a line without ``scheme``; the
    second folder never got it (disabled then). Returns the rig (not started), the folders
    and the old record."""
    main_root, second_root, second = await exported_to_two(tmp_path)
    rig = Rig(tmp_path / "data", {"warehouse": [{"name": "warehouse", "linger_seconds": 0.05}, second]})
    digest = unkeyed_hash("alice")
    old = f"erased-{digest[:16]}"
    with offline.open_log(rig.settings.log_path, read_only=False) as con:
        con.execute("ALTER TABLE erasures DROP COLUMN scheme")
        con.execute("ALTER TABLE erasures DROP COLUMN key_id")
        con.execute("DELETE FROM schema_migrations WHERE version = 6")
        epoch = con.execute("SELECT value FROM log_meta WHERE key = 'epoch'").fetchall()[0][0]
        record = ErasureRecord(
            erasure_id=uuid7(), subject_hash=digest, pseudonym=old, up_to_seq=store.last_seq(con),
            requested_by="ticket-0", requested_at=utcnow(), rows_rewritten=0, files=[],
        )  # fmt: skip
        rows, files = 0, []
        for path in main_root.rglob("*.parquet"):  # as that version rewrote them
            table, n = rewrite(pq.read_table(path), {"alice": [(old, record.up_to_seq)]}, epoch=epoch)
            write_atomic(table, path)
            rows, files = rows + n, files + [str(path.relative_to(main_root))] * bool(n)
        done = store.finished(record, rows, files)
        line = {k: v for k, v in msgspec.to_builtins(done).items() if k not in ("scheme", "key_id")}
        (main_root / "erasures.jsonl").write_text(json.dumps(line) + "\n")
        con.execute(
            "INSERT INTO erasures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [done.erasure_id, digest, old, done.up_to_seq, "ticket-0", done.requested_at, rows,
             json.dumps(files), done.done_at],
        )  # fmt: skip
    write_views(main_root)
    assert (rows, held_by(main_root, "alice"), held_by(second_root, "alice")) == (5, 0, 5)
    return rig, main_root, second_root, done


async def test_an_erasure_made_before_keyed_pseudonyms_keeps_its_pseudonym_and_is_repaired_as_made(
    tmp_path: Path,
):
    """The start applies the old erasure to the folder that lacks it with the same old
    pseudonym (matched by the unkeyed hash, not the key), writes nothing twice, and forwarding
    keeps applying it; erasing alice again moves it to her keyed pseudonym, so no unkeyed hash
    is left."""
    rig, main_root, second_root, record = await left_by_the_version_before(tmp_path)
    digest, old = record.subject_hash, record.pseudonym
    main_before = {p: p.read_bytes() for p in main_root.rglob("*.parquet")}

    await rig.start()
    try:
        await until_erased_from(rig, second_root, "alice")
        (stored,) = await rig.log.run_read(store.load_erasures)
        assert (stored.scheme, stored.key_id, stored.pseudonym) == ("sha256", "", old)
        assert stored.rows_rewritten == 10  # 5 in each folder, counted once each
        for root in (main_root, second_root):
            assert scan(root).filter(pl.col("user_id") == old).height == 5
            assert audit_ids(root) == [record.erasure_id]
        assert {p: p.read_bytes() for p in main_root.rglob("*.parquet")} == main_before
        assert erasures_view(main_root) == [(digest, old, "sha256", "")]  # the old line reads

        # A replay reads alice's id from the log: the old erasure still covers it.
        await rig.fw.replay("warehouse", 1)
        await rig.drained()
        assert scan(main_root).filter(pl.col("user_id") == old).height == 5

        # She posts again and is erased again: that moves the old erasure to her keyed
        # pseudonym (rows in both folders, its audit lines, its record), and keys the new rows.
        await rig.append([message(20 + i, user="alice") for i in range(2)])
        await rig.drained()
        again = await rig.fw.erase("alice", "ticket-1")
        assert again.scheme == "hmac-sha256" and again.pseudonym == keyed(ERASURE_SECRET, "alice")
        assert again.rows_rewritten == 4  # her 2 new rows in each folder; the 10 are the first's
        await rig.fw.replay("warehouse", 1)
        await rig.drained()
        stored = await rig.log.run_read(store.load_erasures)
    finally:
        await rig.stop()
    assert [(r.erasure_id, r.subject_hash, r.pseudonym, r.scheme, r.rows_rewritten) for r in stored] == [
        (record.erasure_id, again.subject_hash, again.pseudonym, "hmac-sha256", 10),
        (again.erasure_id, again.subject_hash, again.pseudonym, "hmac-sha256", 4),
    ]  # fmt: skip
    for root in (main_root, second_root):
        users = scan(root)["user_id"].to_list()
        assert (users.count(old), users.count(again.pseudonym), held_by(root, "alice")) == (0, 7, 0)
        assert audit_ids(root) == [record.erasure_id, again.erasure_id]
        assert digest not in (root / "erasures.jsonl").read_text()
        assert erasures_view(root) == [(again.subject_hash, again.pseudonym, "hmac-sha256", key_id(ERASURE_SECRET))] * 2
    with duckdb.connect(str(rig.settings.log_path), read_only=True) as con:
        assert digest not in json.dumps(con.execute("SELECT * FROM erasures").fetchall(), default=str)


async def test_moving_an_old_erasure_interrupted_is_completed_by_erasing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """``sideline erase`` (no service) stopped after the folders were moved, before the log's
    record: the next erase of the user finds the old record still there and completes it."""
    rig, main_root, second_root, record = await left_by_the_version_before(tmp_path)
    # The log as the version before left it reads (status opens it read-only: no migration).
    assert [s.pending_erasures for s in offline.status(rig.settings)] == [0, 0]
    monkeypatch.setattr(store, "rekey_erasures", lambda con, records: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        offline.erase(rig.settings, "alice", "ticket-1")
    monkeypatch.undo()
    assert scan(main_root)["user_id"].to_list().count(keyed(ERASURE_SECRET, "alice")) == 5
    with offline.open_log(rig.settings.log_path, read_only=True) as con:
        assert [r.scheme for r in store.load_erasures(con)] == ["sha256", "hmac-sha256"]
    again = offline.erase(rig.settings, "alice", "ticket-2")
    with offline.open_log(rig.settings.log_path, read_only=True) as con:
        stored = store.load_erasures(con)
    assert {(r.pseudonym, r.done_at is not None) for r in stored} == {(again.pseudonym, True)}
    assert len(stored) == 3
    for root in (main_root, second_root):
        users = scan(root)["user_id"].to_list()
        assert (users.count(again.pseudonym), held_by(root, "alice")) == (5, 0)
        assert record.subject_hash not in (root / "erasures.jsonl").read_text()
        assert audit_ids(root) == [r.erasure_id for r in stored]


async def test_a_rotated_key_is_refused_until_the_old_one_is_retired_or_its_erasures_moved(
    tmp_path: Path,
):
    """Erasures keep matching their users by the key they were made with: a node given a new
    key alone refuses to start (forwarding would send an erased user's id again), naming the
    missing key's id; with the old key retired, old erasures hold and new ones use the new key,
    and erasing a user again moves their old erasure to it."""
    data, root = tmp_path / "data", tmp_path / "data" / "warehouse"
    sinks = {"warehouse": [{"name": "warehouse", "linger_seconds": 0.05}]}
    rig = await Rig(data, {**sinks, "erasure_secret": KEY}).start()
    try:
        await rig.append([message(i, user=("alice", "bob")[i % 2]) for i in range(4)])
        await rig.drained()
        first = await rig.fw.erase("alice", "ticket-1")
    finally:
        await rig.stop()

    rotated = Rig(data, {**sinks, "erasure_secret": OTHER_KEY})
    with pytest.raises(ErasureKeyError, match=(
        rf"erasure {first.erasure_id} was made under an erasure key this node does not have "
        rf"\(key id {key_id(KEY)}; the current key's is {key_id(OTHER_KEY)}\): .* list it in "
        r"sinks.erasure_retired_secrets - at `\$\.sinks\.erasure_secret`"
    )):  # fmt: skip
        await rotated.start()
    await rotated.log.close()

    retired = {**sinks, "erasure_secret": OTHER_KEY, "erasure_retired_secrets": [KEY]}
    rig = await Rig(data, retired).start()
    try:
        await rig.fw.replay("warehouse", 1)
        await rig.drained()
        assert scan(root).filter(pl.col("user_id") == first.pseudonym).height == 2
        bob = await rig.fw.erase("bob", "ticket-2")
        assert (bob.pseudonym, bob.key_id) == (keyed(OTHER_KEY, "bob"), key_id(OTHER_KEY))
        await rig.append([message(9, user="alice")])
        await rig.drained()
    finally:
        await rig.stop()
    # Erasing alice again (here with `sideline erase`'s path, no service) moves her first
    # erasure to the new key: one pseudonym for all her rows, and the old key is not needed.
    later = offline.erase(Rig(data, retired).settings, "alice", "ticket-3")
    assert later.pseudonym == keyed(OTHER_KEY, "alice") != first.pseudonym
    users = scan(root)["user_id"].to_list()
    assert (users.count(first.pseudonym), users.count(bob.pseudonym), users.count(later.pseudonym)) == (0, 2, 3)
    assert {line["key_id"] for line in audit_lines(root)} == {key_id(OTHER_KEY)}
    rig = await Rig(data, {**sinks, "erasure_secret": OTHER_KEY}).start()
    try:
        await rig.fw.replay("warehouse", 1)
        await rig.drained()
    finally:
        await rig.stop()
    assert scan(root)["user_id"].to_list().count(later.pseudonym) == 3 and held_by(root, "alice") == 0


def test_a_node_started_with_another_key_than_its_erasures_were_made_with_stops(tmp_path: Path):
    """``sideline serve`` itself: the start fails, and its output says which key is missing."""
    data = tmp_path / "data"
    env = {"SIDELINE_SINKS__ERASURE_SECRET": KEY, "SIDELINE_ANALYTICS__SCHEDULE_ENABLED": "false"}
    server = ServerProcess(data, env=env).start()
    try:
        admin = {"X-Admin-Key": server.admin_key()}
        r = httpx.post(f"{server.url}/v1/admin/sinks/erasures", headers=admin,
                       json={"user_id": "alice", "requested_by": "ops"})  # fmt: skip
        assert r.status_code == 201 and r.json()["pseudonym"] == keyed(KEY, "alice"), r.text
    finally:
        server.stop()
    assert KEY not in server.output()  # never logged
    moved = ServerProcess(data, env={**env, "SIDELINE_SINKS__ERASURE_SECRET": OTHER_KEY})
    with pytest.raises(RuntimeError, match=rf"key id {key_id(KEY)}.*sinks.erasure_retired_secrets"):
        moved.start()
    assert OTHER_KEY not in moved.output()


def test_production_will_not_start_without_an_erasure_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    for name, value in {"SIDELINE_ENV": "production", "SIDELINE_DATA_DIR": str(tmp_path),
                        "SIDELINE_AUTH__HS256_SECRET": "s" * 32,
                        "SIDELINE_ADMIN__API_KEY": "k" * 24}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SIDELINE_SINKS__ERASURE_SECRET", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["serve"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "sideline: production needs SIDELINE_SINKS__ERASURE_SECRET, the key of erased users' "
        "pseudonyms (the same on every node) - at `$.sinks.erasure_secret`\n"
    )
