"""Pure logic of the sinks: privacy rules, backoff, status classification, vendor mappings,
file naming and recovery rules, configuration checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import msgspec
import pyarrow as pa
import pytest

from service.domain.events import EventType, Metadata, new_event
from service.eventlog.codec import to_arrow
from service.settings import ConfigError, load_settings
from service.sinks.base import BlockedError, PermanentError, TransientError
from service.sinks.erasure import ErasureIndex, ErasureKeys, key_id, pseudonym_for
from service.sinks.forwarder import new_erasure
from service.sinks.ga4_mapping import client_id, map_event
from service.sinks.http import error_for_status
from service.sinks.mixpanel import insert_id
from service.sinks.privacy import PropertyPolicy, blank_personal, strip_personal
from service.sinks.retry import Backoff, parse_retry_after
from service.sinks.segment import spec_name
from service.sinks.settings import SinksSettings, check_sinks
from service.sinks.warehouse import files

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(kind=EventType.MESSAGE_SENT, **payload):
    return new_event(kind, user_id="u1", room_id="match:1", occurred_at=NOW - timedelta(minutes=1),
                     metadata=Metadata(device="ios", language="en", session_id="s"),
                     payload=payload)  # fmt: skip


def test_free_text_is_stripped_and_moderation_details_dropped():
    payload = {"text": "hi", "visibility": "public", "reasons": [{"check": "pii", "code": "email",
               "score": 0.9, "detail": "a@b.c"}], "options": ["a", "b"], "question": "?"}  # fmt: skip
    assert strip_personal(payload) == {"visibility": "public",
                                   "reasons": [{"check": "pii", "code": "email", "score": 0.9}]}  # fmt: skip
    blanked = blank_personal(payload)
    assert (
        blanked["text"] == ""
        and blanked["options"] == ["", ""]
        and blanked["reasons"][0]["detail"] == ""
    )


def test_property_policy_allow_list_and_text():
    e = event(text="hello", visibility="public")
    assert "text" not in PropertyPolicy(include_text=False).properties(e)
    assert PropertyPolicy(include_text=True).properties(e)["text"] == "hello"
    assert PropertyPolicy(include_text=True, allow=["room_id"]).properties(e) == {
        "room_id": "match:1"
    }


def test_backoff_grows_with_jitter_and_honours_retry_after():
    b = Backoff(base=0.5, cap=8, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(8)]
    assert all(0.25 <= d <= 0.5 for d in delays[:1]) and all(4 <= d <= 8 for d in delays[5:])
    assert b.next_delay(retry_after=30) == 30
    b.reset()
    assert b.next_delay() <= 0.5


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    when = datetime.now(UTC) + timedelta(seconds=120)
    assert 110 < (parse_retry_after(format_datetime(when, usegmt=True)) or 0) <= 120


@pytest.mark.parametrize(("status", "kind"), [
    (200, None), (204, None), (400, PermanentError), (413, PermanentError), (422, PermanentError),
    (401, BlockedError), (403, BlockedError), (404, BlockedError), (408, TransientError),
    (429, TransientError), (500, TransientError), (503, TransientError), (501, BlockedError),
])  # fmt: skip
def test_status_classification(status, kind):
    error = error_for_status(status, retry_after="3")
    assert (type(error) if error else None) is kind
    if kind is TransientError:
        assert error.retry_after == 3.0


def test_vendor_names_and_keys():
    assert spec_name("community_message_sent") == "Community Message Sent"
    assert spec_name("reaction_added") == "Reaction Added"
    e = event()
    assert len(insert_id(e.event_id)) == 32 and insert_id(e.event_id).isalnum()
    assert client_id("u1", "s") == client_id("u1", "s") != client_id("u2", "s")


def test_ga4_mapping_enforces_limits_and_records_why():
    e = event(text="x" * 300, visibility="public", **{f"p{i}": i for i in range(40)},
              long="y" * 150, nested={"a": 1}, **{"bad-name": 1})  # fmt: skip
    mapped = map_event(e, PropertyPolicy(include_text=True), now=NOW, max_age=timedelta(hours=71))
    assert mapped.event is not None and mapped.reason is None
    params = mapped.event["params"]
    assert len(params) == 25 and params["event_id"] == e.event_id
    assert all(len(v) <= 100 for v in params.values() if isinstance(v, str))
    assert "param_value_truncated" in mapped.adjustments and "params_dropped" in mapped.adjustments
    assert "param_name_invalid" in mapped.adjustments and "session_id" not in params
    assert mapped.event["timestamp_micros"] == int(e.occurred_at.timestamp() * 1_000_000)
    old = event()
    old.occurred_at = NOW - timedelta(hours=73)
    too_old = map_event(
        old, PropertyPolicy(include_text=False), now=NOW, max_age=timedelta(hours=71)
    )
    assert too_old.event is None and "71 h" in (too_old.reason or "")


def test_erasure_index_rewrites_only_up_to_its_seq():
    events = [event(text=f"t{i}") for i in range(4)]
    events[3].actor_id, events[3].user_id = "u1", "mod"
    for i, e in enumerate(events, 1):
        e.seq, e.epoch, e.node_id = i, "ep", "n"
    keys = ErasureKeys("k" * 32)
    record = new_erasure("u1", 2, "ops", keys)
    assert record.pseudonym == pseudonym_for(record.subject_hash)
    table, changed = ErasureIndex([record], keys=keys).apply(to_arrow(events))
    rows = table.to_pylist()
    assert changed == 2
    assert [r["user_id"] for r in rows] == [record.pseudonym, record.pseudonym, "u1", "mod"]
    assert msgspec.json.decode(rows[0]["payload"])["text"] == "" and rows[0]["session_id"] is None
    assert rows[3]["actor_id"] == "u1"  # seq 4 is after the erasure
    assert ErasureIndex().apply(to_arrow(events))[1] == 0


def test_erasure_hashes_are_hmac_sha256_of_the_user_id_under_the_key():
    """Matching computes HMAC-SHA256 with the key's pads hashed once (it hashes every distinct
    id of every batch); it must be the standard HMAC for keys of any length."""
    for key in ("x", "k" * 32, "a" * 64, "b" * 65, "c" * 200, "clé-ключ"):
        keys = ErasureKeys(key)
        for user in ("alice", "", "u000003", "émoji ⚽"):
            expected = hmac.new(key.encode(), user.encode(), hashlib.sha256).hexdigest()
            assert keys.subject(user) == (expected, key_id(key))
            assert keys.hash_of(user, "hmac-sha256", key_id(key)) == expected
    assert ErasureKeys("k" * 32).hash_of("alice", "sha256", "") == hashlib.sha256(b"alice").hexdigest()


def test_file_recovery_rules(tmp_path: Path):
    table = pa.table({"seq": [1]})
    epoch = "0" * 32
    for first, last in [(1, 10), (11, 20), (21, 30), (1, 30)]:
        files.write_atomic(
            table,
            files.partition_dir(tmp_path, "2026-01-01", "n") / files.part_name(epoch, first, last),
        )
    files.write_atomic(
        table, files.partition_dir(tmp_path, "2026-01-02", "n") / files.part_name(epoch, 15, 40)
    )
    removed = files.remove_superseded(tmp_path, "n")
    assert sorted(p.name[33:] for p in removed) == [
        "000000000001_000000000010.parquet", "000000000011_000000000020.parquet",
        "000000000021_000000000030.parquet",
    ]  # fmt: skip
    resume, gone = files.remove_after(tmp_path, "n", epoch, 25)
    assert resume == 0 and len(gone) == 2  # (1, 30) and (15, 40) hold seqs above 25
    assert not list(tmp_path.rglob("*.parquet")) and not list(tmp_path.rglob("*.tmp"))


def test_sink_config_errors_name_their_key_path():
    cfg = msgspec.convert({"segment": [{"name": "a"}, {"name": "a", "batch_size": 0}],
                           "ga4": [{"name": "g", "max_age_hours": 80}]}, SinksSettings)  # fmt: skip
    problems = check_sinks(cfg)
    assert "Duplicate sink name 'a' - at `$.sinks.segment[1].name`" in problems
    assert "Expected >= 1 - at `$.sinks.segment[1].batch_size`" in problems
    assert "Expected a measurement id - at `$.sinks.ga4[0].measurement_id`" in problems
    assert "Expected 0 < hours <= 72 - at `$.sinks.ga4[0].max_age_hours`" in problems
    with pytest.raises(
        ConfigError, match=r"Expected `int`, got `str` - at `\$.sinks.warehouse\[0\].batch_size`"
    ):
        load_settings(environ={}, sinks={"warehouse": [{"name": "w", "batch_size": "many"}]})


@pytest.mark.parametrize(
    ("sinks", "expected"),
    [
        ({"segment": [{"name": "s", "timeout_seconds": 0}]},
         "Expected `float` > 0.0 - at `$.sinks.segment[0].timeout_seconds`"),
        ({"mixpanel": [{"name": "m", "max_backoff_seconds": -1}]},
         "Expected `float` > 0.0 - at `$.sinks.mixpanel[0].max_backoff_seconds`"),
        ({"ga4": [{"name": "g", "timeout_seconds": -0.5}]},
         "Expected `float` > 0.0 - at `$.sinks.ga4[0].timeout_seconds`"),
        ({"mixpanel": [{"name": "m", "library_retries": -1}]},
         "Expected `int` >= 0 - at `$.sinks.mixpanel[0].library_retries`"),
        ({"warehouse": [{"name": "w", "compact_min_files": 1}]},
         "Expected `int` >= 2 - at `$.sinks.warehouse[0].compact_min_files`"),
        ({"poll_interval_seconds": 0}, "Expected `float` > 0.0 - at `$.sinks.poll_interval_seconds`"),
        ({"stop_timeout_seconds": -1}, "Expected `float` >= 0.0 - at `$.sinks.stop_timeout_seconds`"),
    ],
)  # fmt: skip
def test_sink_durations_and_sizes_out_of_bounds_are_refused_with_their_path(
    sinks: dict[str, object], expected: str, tmp_path: Path
) -> None:
    # A timeout of 0 fails every request, a backoff of 0 hammers a failing vendor, a poll
    # interval of 0 spins: each stops the start instead.
    config = tmp_path / "sideline.toml"
    config.write_text("[sinks]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in sinks.items()
                                            if not isinstance(v, list)))  # fmt: skip
    lists = {k: v for k, v in sinks.items() if isinstance(v, list)}
    with pytest.raises(ConfigError) as refused:
        load_settings(config, environ={}, **({"sinks": lists} if lists else {}))
    assert str(refused.value).endswith(expected)


def test_serve_with_a_zero_poll_interval_stops_with_its_path(tmp_path: Path) -> None:
    from tests.fixtures.server import free_port

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "SIDELINE_DATA_DIR": str(tmp_path),
           "SIDELINE_SERVER__PORT": str(free_port()), "SIDELINE_SINKS__POLL_INTERVAL_SECONDS": "0"}  # fmt: skip
    try:  # a service that starts anyway never returns: the timeout is the failure
        out = subprocess.run([sys.executable, "-m", "service.cli", "serve"], cwd=root, env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("serve started with sinks.poll_interval_seconds = 0")
    assert out.returncode == 2, out.stderr
    assert out.stderr.endswith("Expected `float` > 0.0 - at `$.sinks.poll_interval_seconds`\n")
    assert "Traceback" not in out.stderr


def test_an_unknown_event_type_is_refused_with_its_path():
    # The filter would match nothing and the cursor would pass every event: a typo would
    # silently forward nothing, for good.
    cfg = msgspec.convert(
        {"mixpanel": [{"name": "m", "event_types": ["poll_voted", "community_message_send"]}]},
        SinksSettings,
    )
    assert check_sinks(cfg) == [
        "Expected a known event type, got 'community_message_send' (did you mean "
        "'community_message_sent'?) - at `$.sinks.mixpanel[0].event_types[1]`"
    ]


def test_missing_secret_names_the_variable(tmp_path: Path):
    from service.eventlog.duckdb_log import DuckDBLog
    from service.sinks.factory import build_forwarder

    settings = load_settings(environ={}, data_dir=str(tmp_path), sinks={"segment": [{"name": "s"}]})
    log = DuckDBLog(tmp_path / "l.duckdb", node_id="n")
    with pytest.raises(
        ConfigError,
        match=r"SEGMENT_WRITE_KEY is not set - at `\$.sinks.segment\[0\].write_key_env`",
    ):
        build_forwarder(settings, log, environ={})


def test_segment_message_equals_what_the_library_builds():
    from service.sinks.segment import SegmentSink, ascii_json, sent_size
    from service.sinks.settings import SegmentSinkSettings

    sink = SegmentSink(SegmentSinkSettings(name="s", include_text=True), write_key="k")
    for e in [event(text="héllo ⚽ \"quoted\"", visibility="public", reply_to=None, masked=False),
              event(EventType.POLL_CREATED, poll_id="p", question="?", options=["a", "b"])]:  # fmt: skip
        e.seq, e.node_id = 3, "n"
        ours = sink.message(e)
        assert ours == sink.library_message(e)
        assert sent_size(json.dumps(ours, separators=(",", ":"), ensure_ascii=False).encode()) >= len(ascii_json(ours))
    huge = event(text="x" * 40_000)
    assert sink.message(huge) == "segment: event over 32 KB"
    with pytest.raises(RuntimeError):
        sink.library_message(huge)


@pytest.mark.parametrize("include_text, allow", [(True, None), (False, None), (False, ["room_id", "seq"]),
                                                 (True, ["room_id", "text", "language"])])
def test_segment_messages_from_columns_equal_the_per_event_messages(include_text, allow):
    from service.sinks.batch import Batch
    from service.sinks.segment import SegmentSink, ascii_json
    from service.sinks.settings import SegmentSinkSettings

    sink = SegmentSink(SegmentSinkSettings(name="s", include_text=include_text, properties=allow),
                       write_key="k")  # fmt: skip
    events = [
        event(text="héllo ⚽ \"quoted\"", visibility="public", reply_to=None, masked=False),
        event(EventType.POLL_CREATED, poll_id="p", question="?", options=["a", "b"]),
        event(EventType.MESSAGE_MODERATED, reasons=[{"check": "pii", "code": "email", "detail": "a@b.c"}]),
        event(text="x" * 40_000),
        new_event(EventType.REACTION_ADDED, user_id="u2", room_id="match:2", payload={"emoji": "🔥"},
                  occurred_at=datetime(2026, 3, 1, 0, 0, 0, 999_999, tzinfo=UTC),
                  metadata=Metadata(device=None, language="pt-BR", app_version="9.1")),
        new_event(EventType.ROOM_MODE_CHANGED, user_id="", room_id="match:3", payload={"mode": "open"},
                  occurred_at=datetime(2026, 3, 1, tzinfo=UTC)),
    ]  # fmt: skip
    for seq, e in enumerate(events, start=1):
        e.seq, e.node_id = seq, "n"
    built = list(sink.messages(Batch(to_arrow(events))))
    assert [(seq, event_id) for seq, event_id, _, _ in built] == [(e.seq, e.event_id) for e in events]
    for (_, _, msg, size), e in zip(built, events, strict=True):
        assert msg == sink.message(e)
        if isinstance(msg, dict):  # the bytes it takes in the body the library's post sends
            assert size >= len(ascii_json(msg))
    assert (built[3][2] == "segment: event over 32 KB") == include_text  # 40 KB of text
    assert built[5][2] == "segment: event has no user id"


def test_iso_millis_equals_isoformat():
    from service.sinks.segment import iso_millis

    rng = random.Random(7)
    stamps = [datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), NOW, NOW + timedelta(microseconds=999)]
    stamps += [NOW + timedelta(microseconds=rng.randrange(10**12)) for _ in range(500)]
    column = pa.chunked_array([pa.array(stamps[:200], pa.timestamp("us", tz="UTC")),
                               pa.array(stamps[200:], pa.timestamp("us", tz="UTC"))])  # fmt: skip
    assert iso_millis(column) == [s.isoformat(timespec="milliseconds") for s in stamps]
