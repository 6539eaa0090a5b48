"""`sideline demo seed`, `jobs run|status` and `events import`, through the real CLI and log
(and, for the import, the real service that writes the events and starts from them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq
import pytest
from litestar.testing import TestClient

from analytics.demo import DemoConfig, default_start, generate, write_warehouse
from service.app import build_community, create_app
from service.cli import main
from service.domain.events import EventType
from service.domain.state import CommunityState
from service.eventlog.codec import SELECT_COLUMNS, from_row, to_arrow
from service.settings import ensure_dev_secrets, load_settings
from tests.fixtures.server import ServerProcess


def log_rows(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT event_id, event_type, seq FROM events ORDER BY seq").fetchall()
    finally:
        con.close()


def test_demo_seed_appends_through_the_log(tmp_path: Path, capsys) -> None:
    assert main(["demo", "seed", "--users", "300", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    n = generate(DemoConfig(users=300)).events
    assert f"{len(n)} events appended to {tmp_path}/log-node-1.duckdb (last seq {len(n)})" in out
    rows = log_rows(tmp_path / "log-node-1.duckdb")
    assert [r[2] for r in rows] == list(range(1, len(n) + 1))
    assert [r[0] for r in rows] == [e.event_id for e in n]  # the demo's ids are reproducible
    for name in ("users", "activity", "contexts", "context_views"):
        assert (tmp_path / "exports" / f"{name}.csv").is_file()


def test_demo_seed_refused_by_a_running_service_leaves_its_exports_alone(tmp_path: Path, capsys) -> None:
    # The service holds the log, so the seed cannot append its history (exit 2): the product
    # exports the service's reports read must not be swapped for ones of another history.
    args = ["--data-dir", str(tmp_path)]
    assert main(["demo", "seed", "--users", "200", *args]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in (tmp_path / "exports").iterdir()}
    served = ServerProcess(tmp_path).start()
    try:
        with pytest.raises(SystemExit) as info:
            main(["demo", "seed", "--users", "100", "--format", "parquet", *args])
    finally:
        served.stop()
        served.kill()
    assert info.value.code == 2
    assert "(is the service running? stop it, or use --target warehouse)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "exports").iterdir()} == before


def test_jobs_run_and_status(tmp_path: Path, capsys) -> None:
    args = ["--data-dir", str(tmp_path)]
    assert main(["demo", "seed", "--users", "400", "--target", "warehouse", "--format",
                 "parquet", *args]) == 0  # fmt: skip
    assert main(["jobs", "run", "--all", "--no-progress", *args]) == 0
    out = capsys.readouterr().out
    assert "churn_posting      ok             2        10" in out
    assert "note: window" in out and "the period is not over" in out
    assert main(["jobs", "run", "community_health", *args]) == 0
    # Only the last day again: the export reaches no further than it, so it is not final.
    assert "community_health   ok             1         1" in capsys.readouterr().out
    assert main(["jobs", "status", *args]) == 0
    status = capsys.readouterr().out
    days = (datetime.now(UTC).date() - default_start(DemoConfig(users=400))).days  # to yesterday
    assert f"community_health      {days - 1:>2}     1       0        {days:>2}" in status
    with pytest.raises(SystemExit) as info:
        main(["jobs", "run", *args])
    assert info.value.code == 2
    assert "name the jobs to run, or pass --all" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["jobs", "run", "churn", *args])
    assert "unknown job churn; jobs are:" in capsys.readouterr().err


def test_jobs_status_shows_the_notes_of_each_jobs_last_run(tmp_path: Path, capsys) -> None:
    # The notes of a run (windows skipped, rows left out of the exports) are what an analyst
    # reads `jobs status` for later; the docs promise them there, as `jobs run` prints them.
    args = ["--data-dir", str(tmp_path)]
    assert main(["demo", "seed", "--users", "300", "--target", "warehouse", *args]) == 0
    assert main(["jobs", "run", "churn_posting", "--no-progress", *args]) == 0
    run_notes = [line for line in capsys.readouterr().out.splitlines() if "note: " in line]
    assert any("the period is not over" in line for line in run_notes)
    assert main(["jobs", "status", *args]) == 0
    status = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(status) if line.startswith("churn_posting "))
    assert status[at + 1 : at + 1 + len(run_notes)] == run_notes
    assert status[at + 1 + len(run_notes)].startswith("churn_strata ")  # never run: no notes


def test_events_import(tmp_path: Path, capsys) -> None:
    good = {"event_type": "reaction_added", "occurred_at": "2026-01-06T12:00:00+00:00",
            "user_id": "u1", "room_id": "match:1", "message_id": "m1",
            "payload": {"emoji": "🔥"}}  # fmt: skip
    lines = [
        good,
        {**good, "payload": {"emoji": 3}},
        {**good, "occurred_at": "2026-01-06T12:00:00"},
        {**good, "event_type": "community_message_sent", "message_id": None,
         "payload": {"text": "hi"}},
        {**good, "room_id": "no-kind"},
        {**good, "event_type": "community_exposure_assigned", "payload": {"group": "maybe"}},
        {**good, "colour": "red"},
    ]
    path = tmp_path / "backfill.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{oops\n")
    args = ["--data-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as info:
        main(["events", "import", str(path), *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert_named(err, [
        "backfill.jsonl line 2: reaction_added: Expected `str`, got `int` - at `$.payload.emoji`",
        "backfill.jsonl line 3: occurred_at has no time zone - at `$.occurred_at`",
        "backfill.jsonl line 4: community_message_sent needs a message_id - at `$.message_id`",
        "backfill.jsonl line 5: room id 'no-kind' is not kind:key (a key of A-Z a-z 0-9 . _ ~ @ + -, "
        "1 to 128) - at `$.room_id`",
        "backfill.jsonl line 6: community_exposure_assigned: Invalid enum value 'maybe' "
        "- at `$.payload.group`",
        "backfill.jsonl line 7: Object contains unknown field `colour`",
        "backfill.jsonl line 8: not valid JSON",
        "nothing was imported",
    ])  # fmt: skip
    assert not (tmp_path / "log-node-1.duckdb").exists()
    assert main(["events", "import", str(path), "--skip-invalid", *args]) == 0
    assert "8 records read, 1 valid, 0 already imported, 1 appended" in capsys.readouterr().out
    # A Parquet export of another log (with its seq/epoch/node columns) imports too, once.
    events = generate(DemoConfig(users=50)).events
    [*_, _last] = write_warehouse(events[:200], tmp_path / "other", node_id="old")
    files = sorted((tmp_path / "other").rglob("*.parquet"))
    for f in files:
        assert main(["events", "import", str(f), *args]) == 0
    assert main(["events", "import", str(files[0]), *args]) == 0
    assert "0 appended" in capsys.readouterr().out.splitlines()[-1]
    rows = log_rows(tmp_path / "log-node-1.duckdb")
    assert len(rows) == 201 and len({r[0] for r in rows}) == 201


def test_events_import_checks_the_review_marker_of_a_delete(tmp_path: Path, capsys) -> None:
    """The payload's ``review`` makes a delete a review in the moderation reports, so a backfill
    must give it as a boolean; a delete without it (as written before it existed) imports."""
    delete = {"event_type": "community_message_deleted", "occurred_at": "2026-01-06T12:00:00+00:00",
              "user_id": "u1", "room_id": "match:1", "message_id": "m1", "actor_id": "mod"}  # fmt: skip
    lines = [
        {**delete, "payload": {"reason": "review", "review": "true"}},
        {**delete, "payload": {"reason": "review", "review": True}},
        {**delete, "payload": {"reason": "review"}},
    ]
    err, out = import_lines(tmp_path, capsys, "deletes.jsonl", lines)
    assert_named(err, ["deletes.jsonl line 1: community_message_deleted: Expected `bool`, got `str` "
                  "- at `$.payload.review`"])  # fmt: skip
    assert "3 records read, 2 valid, 0 already imported, 2 appended" in out


def assert_named(err: str, expected: list[str]) -> None:
    """Each of ``expected`` is among the import's errors ``err``."""
    for line in expected:
        assert line in err, (line, err)


def import_lines(tmp_path: Path, capsys, name: str, lines: list[dict]) -> tuple[str, str]:
    """Import ``lines`` (refused as a whole when one is invalid), then with --skip-invalid;
    returns the first run's errors and the second run's summary."""
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    args = ["--data-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as info:
        main(["events", "import", str(path), *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert main(["events", "import", str(path), "--skip-invalid", *args]) == 0
    return err, capsys.readouterr().out


def test_events_import_checks_where_a_leave_came_from(tmp_path: Path, capsys) -> None:
    """A leave's ``via: http`` takes the user's sockets out of the room, so a backfill must say
    ``http`` or ``socket``; a leave without it (as written before it existed) imports."""
    leave = {"event_type": "community_room_left", "occurred_at": "2026-01-06T12:00:00+00:00",
             "user_id": "u1", "room_id": "match:1"}  # fmt: skip
    lines = [
        {**leave, "payload": {"via": "carrier-pigeon"}},
        {**leave, "payload": {"via": None}},
        {**leave, "payload": {"via": "http"}},
        {**leave, "payload": {"via": "socket"}},
        leave,
    ]
    err, out = import_lines(tmp_path, capsys, "leaves.jsonl", lines)
    assert_named(err, [
        "leaves.jsonl line 1: community_room_left: Invalid enum value 'carrier-pigeon' "
        "- at `$.payload.via`",
        "leaves.jsonl line 2: community_room_left: Expected `str`, got `null` - at `$.payload.via`",
    ])  # fmt: skip
    assert "5 records read, 3 valid, 0 already imported, 3 appended" in out


def test_events_import_checks_the_pinned_flag_of_a_pin(tmp_path: Path, capsys) -> None:
    """The state reads ``pinned`` as true or false (a string ``"false"`` pinned the message);
    a pin without it pins, as the state reads it."""
    pin = {"event_type": "community_message_pinned", "occurred_at": "2026-01-06T12:00:00+00:00",
           "user_id": "mod", "room_id": "match:1", "message_id": "m1"}  # fmt: skip
    lines = [
        {**pin, "payload": {"pinned": "false"}},
        {**pin, "payload": {"pinned": False}},
        {**pin, "payload": {"pinned": True}},
        pin,
    ]
    err, out = import_lines(tmp_path, capsys, "pins.jsonl", lines)
    assert_named(err, ["pins.jsonl line 1: community_message_pinned: Expected `bool`, got `str` "
                  "- at `$.payload.pinned`"])  # fmt: skip
    assert "4 records read, 3 valid, 0 already imported, 3 appended" in out


def test_events_import_names_the_missing_payload_field(tmp_path: Path, capsys) -> None:
    """A payload without a field its type needs is refused at that field, as a wrong one is."""
    sent = {"event_type": "community_message_sent", "occurred_at": "2026-01-06T12:00:00+00:00",
            "user_id": "u1", "room_id": "match:1", "message_id": "m1"}  # fmt: skip
    lines = [{**sent, "payload": {"client_msg_id": "c1"}}, {**sent, "payload": {"text": "hi"}}]
    err, out = import_lines(tmp_path, capsys, "sent.jsonl", lines)
    assert_named(err, ["sent.jsonl line 1: community_message_sent: Object missing required field `text` "
                  "- at `$.payload.text`"])  # fmt: skip
    assert "2 records read, 1 valid, 0 already imported, 1 appended" in out


def test_events_import_checks_a_moderation_policy_as_the_service_restores_it(tmp_path: Path, capsys) -> None:
    """The service re-applies logged policies at start and stops on one it refuses (or one
    without its kind), so a backfill's policy is checked as the admin API checks it."""
    change = {"event_type": "moderation_policy_changed", "occurred_at": "2026-01-06T12:00:00+00:00",
              "user_id": "system:admin", "room_id": "match:*"}  # fmt: skip
    lines = [
        {**change, "payload": {"policy": {}}},
        {**change, "payload": {"kind": "match", "policy": {"shadow_at": 2.0}}},
        {**change, "payload": {"kind": "match", "policy": {"colour": "red"}}},
        {**change, "payload": {"kind": "match", "policy": {"actions": {"nonsense": "block"}}}},
        {**change, "payload": {"kind": "match", "policy": {"hold_at": 0.8, "blocklist": ["scab"]}}},
    ]
    err, out = import_lines(tmp_path, capsys, "policies.jsonl", lines)
    assert_named(err, [
        "policies.jsonl line 1: moderation_policy_changed: Object missing required field `kind` "
        "- at `$.payload.kind`",
        "policies.jsonl line 2: moderation_policy_changed: Expected a score in (0, 1], got 2.0 "
        "in `$.payload.policy.shadow_at`",
        "policies.jsonl line 3: moderation_policy_changed: Object contains unknown field `colour` "
        "- at `$.payload.policy`",
        "policies.jsonl line 4: moderation_policy_changed: Unknown check or code 'nonsense' "
        "in `$.payload.policy.actions`",
    ])  # fmt: skip
    assert "5 records read, 1 valid, 0 already imported, 1 appended" in out


def started(data_dir: Path) -> CommunityState:
    """The state the service starts with from the log in ``data_dir``: its real start (the
    app's lifespan replays the log and re-applies the policies), moderation on."""
    s = load_settings(environ={"SIDELINE_DATA_DIR": str(data_dir),
                               "SIDELINE_ANALYTICS__SCHEDULE_ENABLED": "false"})  # fmt: skip
    ensure_dev_secrets(s)
    community = build_community(s)
    with TestClient(create_app(s, community=community)) as client:
        assert client.get("/ready").status_code == 200
    return community.state


def test_events_import_checks_room_settings_as_the_state_applies_them(tmp_path: Path, capsys) -> None:
    """The state rebuilds a room's settings from each ``room_mode_changed`` and needs all three
    (one without slow_mode_seconds stopped the start with KeyError); the mode is one it knows,
    slow mode is not negative and a max length of 0 would refuse every message. It builds the
    room from its kind's settings, so the room is one the service serves."""
    change = {"event_type": "room_mode_changed", "occurred_at": "2026-01-06T12:00:00+00:00",
              "user_id": "system:admin", "room_id": "match:1"}  # fmt: skip
    settings = {"mode": "reactions-only", "slow_mode_seconds": 10, "max_message_length": 120}
    lines = [
        {**change, "payload": {"mode": "open", "max_message_length": 100}},
        {**change, "payload": {**settings, "mode": "loud"}},
        {**change, "payload": {**settings, "max_message_length": 0}},
        {**change, "payload": {**settings, "slow_mode_seconds": -5}},
        {**change, "payload": {**settings, "slow_mode_seconds": "5"}},
        {**change, "room_id": "moon:1", "payload": settings},
        {**change, "room_id": "match:a/b", "payload": settings},
        {**change, "payload": {**settings, "cause": "crowd_control"}},
    ]
    err, out = import_lines(tmp_path, capsys, "modes.jsonl", lines)
    assert_named(err, [
        "modes.jsonl line 1: room_mode_changed: Object missing required field `slow_mode_seconds` "
        "- at `$.payload.slow_mode_seconds`",
        "modes.jsonl line 2: room_mode_changed: Invalid enum value 'loud' - at `$.payload.mode`",
        "modes.jsonl line 3: room_mode_changed: Expected `int` >= 1 "
        "- at `$.payload.max_message_length`",
        "modes.jsonl line 4: room_mode_changed: Expected `int` >= 0 - at `$.payload.slow_mode_seconds`",
        "modes.jsonl line 5: room_mode_changed: Expected `int`, got `str` "
        "- at `$.payload.slow_mode_seconds`",
        "modes.jsonl line 6: room_mode_changed: room kind 'moon' is not configured "
        "(rooms: dashboard, match, team, video) - at `$.room_id`",
        "modes.jsonl line 7: room id 'match:a/b' is not kind:key (a key of A-Z a-z 0-9 . _ ~ @ + -, "
        "1 to 128) - at `$.room_id`",
    ])  # fmt: skip
    assert "8 records read, 1 valid, 0 already imported, 1 appended" in out
    room = started(tmp_path).rooms["match:1"]
    assert (room.settings.mode, room.settings.slow_mode_seconds, room.settings.max_message_length) == (
        "reactions-only", 10, 120)  # fmt: skip


def test_events_import_checks_the_role_of_a_grant(tmp_path: Path, capsys) -> None:
    """The state reads a grant's role as one of its roles (``overlord`` stopped the start with
    ValueError)."""
    grant = {"event_type": "role_granted", "occurred_at": "2026-01-06T12:00:00+00:00",
             "user_id": "u1", "room_id": "match:1", "actor_id": "system:admin"}  # fmt: skip
    lines = [
        {**grant, "payload": {"role": "overlord"}},
        {**grant, "payload": {}},
        {**grant, "payload": {"role": "speaker"}},
    ]
    err, out = import_lines(tmp_path, capsys, "grants.jsonl", lines)
    assert_named(err, [
        "grants.jsonl line 1: role_granted: Invalid enum value 'overlord' - at `$.payload.role`",
        "grants.jsonl line 2: role_granted: Object missing required field `role` - at `$.payload.role`",
    ])  # fmt: skip
    assert "3 records read, 1 valid, 0 already imported, 1 appended" in out
    assert started(tmp_path).grants == {("match:1", "u1"): "speaker"}


def test_events_import_checks_poll_votes_against_the_poll(tmp_path: Path, capsys) -> None:
    """A vote counts for its option in the poll's results: a negative option counted for the
    last one, and one past the options broke the poll's results. The option is checked against
    the poll created earlier in the file or already in the log."""
    at = {"occurred_at": "2026-01-06T12:00:00+00:00", "room_id": "match:1"}
    created = {**at, "event_type": "poll_created", "user_id": "mod"}
    vote = {**at, "event_type": "poll_voted"}
    first = tmp_path / "polls.jsonl"
    first.write_text(json.dumps({**created, "payload": {
        "poll_id": "p1", "question": "Who wins?", "options": ["home", "draw", "away"]}}) + "\n")
    assert main(["events", "import", str(first), "--data-dir", str(tmp_path)]) == 0
    lines = [
        {**vote, "user_id": "u1", "payload": {"poll_id": "p1", "option": 3}},
        {**vote, "user_id": "u2", "payload": {"poll_id": "p1", "option": -1}},
        {**created, "payload": {"poll_id": "p2", "question": "Best goal?", "options": ["a", "b"]}},
        {**vote, "user_id": "u3", "payload": {"poll_id": "p2", "option": 2}},
        {**vote, "user_id": "u4", "payload": {"poll_id": "p2", "option": 1}},
        {**vote, "user_id": "u5", "payload": {"poll_id": "p1", "option": 2}},
        # a poll the log does not have: the state counts no vote for it
        {**vote, "user_id": "u6", "payload": {"poll_id": "p9", "option": 7}},
    ]
    err, out = import_lines(tmp_path, capsys, "votes.jsonl", lines)
    assert_named(err, [
        "votes.jsonl line 1: poll_voted: option 3 does not exist (poll 'p1' has 3 options) "
        "- at `$.payload.option`",
        "votes.jsonl line 2: poll_voted: Expected `int` >= 0 - at `$.payload.option`",
        "votes.jsonl line 4: poll_voted: option 2 does not exist (poll 'p2' has 2 options) "
        "- at `$.payload.option`",
    ])  # fmt: skip
    assert "7 records read, 4 valid, 0 already imported, 4 appended" in out
    polls = started(tmp_path).polls
    assert (polls["p1"].results(), polls["p2"].results()) == ([0, 0, 1], [0, 1])
    assert "p9" not in polls


def test_events_import_checks_a_poll_as_the_service_creates_it(tmp_path: Path, capsys) -> None:
    """The service creates a poll of 2 to 10 options of 1 to 80 characters, none blank or
    repeated, with a question of 1 to 200 (the HTTP API's bounds): a backfill's poll of 500
    options or of a 10 KB option was served as it came. A close records its poll's results,
    one count per option, checked against the poll created earlier in the file or in the log."""
    at = {"occurred_at": "2026-01-06T12:00:00+00:00", "room_id": "match:1", "user_id": "mod"}
    created = {**at, "event_type": "poll_created"}
    closed = {**at, "event_type": "poll_closed"}
    first = tmp_path / "polls.jsonl"
    first.write_text(json.dumps({**created, "payload": {
        "poll_id": "p1", "question": "Who wins?", "options": ["home", "draw", "away"]}}) + "\n")
    assert main(["events", "import", str(first), "--data-dir", str(tmp_path)]) == 0
    poll = {"poll_id": "p2", "question": "Best goal?", "options": ["a", "b"]}
    ten = [f"{i}".rjust(80, "x") for i in range(10)]
    lines = [
        {**created, "payload": {**poll, "options": ["a"]}},
        {**created, "payload": {**poll, "options": [f"o{i}" for i in range(500)]}},
        {**created, "payload": {**poll, "options": ["a", "b" * 10_000]}},
        {**created, "payload": {**poll, "question": "q" * 201}},
        {**created, "payload": {**poll, "question": ""}},
        {**created, "payload": {**poll, "question": "  "}},
        {**created, "payload": {**poll, "options": ["a", " "]}},
        {**created, "payload": {**poll, "options": ["a", "b", "a"]}},
        {**created, "payload": poll},
        {**closed, "payload": {"poll_id": "p2", "results": [1, 0, 0]}},
        {**closed, "payload": {"poll_id": "p1", "results": [1, 2]}},
        {**closed, "payload": {"poll_id": "p2", "results": [1, -1]}},
        {**created, "payload": {"poll_id": "p3", "question": "q" * 200, "options": ten}},
        {**closed, "payload": {"poll_id": "p3", "results": [0] * 10}},
        # a poll the log does not have: the state closes nothing
        {**closed, "payload": {"poll_id": "p9", "results": [4, 0]}},
    ]
    err, out = import_lines(tmp_path, capsys, "created.jsonl", lines)
    assert_named(err, [
        "created.jsonl line 1: poll_created: Expected `array` of length >= 2 - at `$.payload.options`",
        "created.jsonl line 2: poll_created: Expected `array` of length <= 10 - at `$.payload.options`",
        "created.jsonl line 3: poll_created: Expected `str` of length <= 80 "
        "- at `$.payload.options[1]`",
        "created.jsonl line 4: poll_created: Expected `str` of length <= 200 - at `$.payload.question`",
        "created.jsonl line 5: poll_created: Expected `str` of length >= 1 - at `$.payload.question`",
        "created.jsonl line 6: poll_created: poll question is blank - at `$.payload.question`",
        "created.jsonl line 7: poll_created: poll option is blank - at `$.payload.options[1]`",
        "created.jsonl line 8: poll_created: poll option 2 ('a') repeats option 0 "
        "- at `$.payload.options[2]`",
        "created.jsonl line 10: poll_closed: 3 results for poll 'p2' of 2 options "
        "- at `$.payload.results`",
        "created.jsonl line 11: poll_closed: 2 results for poll 'p1' of 3 options "
        "- at `$.payload.results`",
        "created.jsonl line 12: poll_closed: Expected `int` >= 0 - at `$.payload.results[1]`",
    ])  # fmt: skip
    assert "15 records read, 4 valid, 0 already imported, 4 appended" in out
    polls = started(tmp_path).polls
    assert (polls["p2"].options, polls["p3"].options, polls["p3"].closed) == (["a", "b"], ten, True)
    assert not polls["p1"].closed and "p9" not in polls


def test_events_import_takes_message_text_the_service_could_have_written(tmp_path: Path, capsys) -> None:
    """The service drops control characters (newline and tab stay) and bidi overrides from
    every message's text and refuses blank text; a file's message with them was served as it
    came: a right-to-left override reversing what the panel shows after it."""
    sent = {"event_type": "community_message_sent", "occurred_at": "2026-01-06T12:00:00+00:00",
            "user_id": "u1", "room_id": "match:1"}  # fmt: skip
    lines = [
        {**sent, "message_id": "m1", "payload": {"text": "gg \u202eez"}},
        {**sent, "message_id": "m2", "payload": {"text": "bell\u0007"}},
        {**sent, "message_id": "m3", "payload": {"text": "  "}},
        {**sent, "message_id": "m4", "payload": {"text": "two\nlines\tand \u200fmark"}},
    ]
    err, out = import_lines(tmp_path, capsys, "text.jsonl", lines)
    assert_named(err, [
        "text.jsonl line 1: community_message_sent: message text has U+202E, which the service "
        "drops from every message - at `$.payload.text`",
        "text.jsonl line 2: community_message_sent: message text has U+0007, which the service "
        "drops from every message - at `$.payload.text`",
        "text.jsonl line 3: community_message_sent: message text is blank - at `$.payload.text`",
    ])  # fmt: skip
    assert "4 records read, 1 valid, 0 already imported, 1 appended" in out


def test_events_import_takes_poll_text_the_service_could_have_written(tmp_path: Path, capsys) -> None:
    """A poll's question and options lose what a message's text loses when the service creates
    the poll; a file's poll with such a character (a right-to-left override reversing what the
    panel shows after it) is refused as a message's text with one is, not served as it came."""
    created = {"event_type": "poll_created", "occurred_at": "2026-01-06T12:00:00+00:00",
               "user_id": "u1", "room_id": "match:1"}  # fmt: skip
    lines = [
        {**created, "payload": {"poll_id": "p1", "question": "Who \u202ewins?", "options": ["a", "b"]}},
        {**created, "payload": {"poll_id": "p2", "question": "q?", "options": ["a", "b\u009b"]}},
        {**created, "payload": {"poll_id": "p3", "question": "two\nlines", "options": ["a\tb", "\u200fok"]}},
    ]
    err, out = import_lines(tmp_path, capsys, "polls.jsonl", lines)
    assert_named(err, [
        "polls.jsonl line 1: poll_created: poll question has U+202E, which the service drops from "
        "every poll - at `$.payload.question`",
        "polls.jsonl line 2: poll_created: poll option has U+009B, which the service drops from "
        "every poll - at `$.payload.options[1]`",
    ])  # fmt: skip
    assert "3 records read, 1 valid, 0 already imported, 1 appended" in out


def test_events_import_checks_the_role_a_message_was_sent_with(tmp_path: Path, capsys) -> None:
    """A message carries its sender's role as the service writes it (``user``, ``speaker`` or
    ``moderator``: a viewer cannot post), which the panel shows as its badge and class; one the
    service never wrote (``admin``, ``viewer``) was served as it came."""
    sent = {"event_type": "community_message_sent", "occurred_at": "2026-01-06T12:00:00+00:00",
            "user_id": "u1", "room_id": "match:1"}  # fmt: skip
    lines = [
        {**sent, "message_id": "m1", "payload": {"text": "hi", "role": "admin"}},
        {**sent, "message_id": "m2", "payload": {"text": "hi", "role": "viewer"}},
        {**sent, "message_id": "m3", "payload": {"text": "hi", "role": "moderator badge"}},
        {**sent, "message_id": "m4", "payload": {"text": "hi", "role": "speaker"}},
        {**sent, "message_id": "m5", "payload": {"text": "hi"}},
    ]
    err, out = import_lines(tmp_path, capsys, "roles.jsonl", lines)
    assert_named(err, [
        "roles.jsonl line 1: community_message_sent: Invalid enum value 'admin' - at `$.payload.role`",
        "roles.jsonl line 2: community_message_sent: a message's role is the sender's, and a viewer "
        "cannot post - at `$.payload.role`",
        "roles.jsonl line 3: community_message_sent: Invalid enum value 'moderator badge' "
        "- at `$.payload.role`",
    ])  # fmt: skip
    assert "5 records read, 2 valid, 0 already imported, 2 appended" in out
    assert [m.message_id for m in started(tmp_path).recent("match:1")] == ["m4", "m5"]


def test_events_import_checks_room_ids_as_the_service_does(tmp_path: Path, capsys) -> None:
    """Every room id the service writes is ``kind:key`` as its API checks it (a key of 1 to 128
    of A-Z a-z 0-9 . _ ~ @ + -), but a policy change's, which is ``kind:*``. A backfill's room
    id with a slash, markup or a trailing newline was written, and the room's events were read
    from the log under an id no client can ask for."""
    react = {"event_type": "reaction_added", "occurred_at": "2026-01-06T12:00:00+00:00",
             "user_id": "u1", "message_id": "m1", "payload": {"emoji": "⚽"}}  # fmt: skip
    change = {"event_type": "moderation_policy_changed", "occurred_at": "2026-01-06T12:00:00+00:00",
              "user_id": "system:admin", "payload": {"kind": "match", "policy": {"hold_at": 0.8}}}  # fmt: skip
    lines = [
        {**react, "room_id": "match:a/b"},
        {**react, "room_id": "match:<b>"},
        {**react, "room_id": "match:1\n"},
        {**react, "room_id": "match:" + "x" * 129},
        {**react, "room_id": "Match:1"},
        {**react, "room_id": "match:*"},
        {**change, "room_id": "match:1"},
        {**change, "room_id": "match:**"},
        {**react, "room_id": "match:1"},
        {**react, "room_id": "moon:a.b~c@d+e_f-" + "x" * 111},
        {**change, "room_id": "match:*"},
    ]
    err, out = import_lines(tmp_path, capsys, "rooms.jsonl", lines)
    rule = "is not kind:key (a key of A-Z a-z 0-9 . _ ~ @ + -, 1 to 128) - at `$.room_id`"
    assert_named(err, [
        f"rooms.jsonl line 1: room id 'match:a/b' {rule}",
        f"rooms.jsonl line 2: room id 'match:<b>' {rule}",
        f"rooms.jsonl line 3: room id 'match:1\\n' {rule}",
        f"rooms.jsonl line 4: room id 'match:{'x' * 74}' {rule}",
        f"rooms.jsonl line 5: room id 'Match:1' {rule}",
        f"rooms.jsonl line 6: room id 'match:*' {rule}",
        "rooms.jsonl line 7: room id 'match:1' of a moderation_policy_changed is not kind:* "
        "- at `$.room_id`",
        "rooms.jsonl line 8: room id 'match:**' of a moderation_policy_changed is not kind:* "
        "- at `$.room_id`",
    ])  # fmt: skip
    assert "11 records read, 3 valid, 0 already imported, 3 appended" in out
    assert started(tmp_path).moderation_policies["match"]["hold_at"] == 0.8


def test_events_import_checks_the_room_and_message_of_a_pin(tmp_path: Path, capsys) -> None:
    """The service writes every pin and unpin with the message's id, and the state reads a pin
    without one as an unpin; it builds the room from its kind's settings."""
    pin = {"event_type": "community_message_pinned", "occurred_at": "2026-01-06T12:00:00+00:00",
           "user_id": "mod", "room_id": "match:1", "payload": {"pinned": True}}  # fmt: skip
    lines = [
        pin,
        {**pin, "room_id": "moon:1", "message_id": "m1"},
        {**pin, "message_id": "m1"},
    ]
    err, out = import_lines(tmp_path, capsys, "pins.jsonl", lines)
    assert_named(err, [
        "pins.jsonl line 1: community_message_pinned needs a message_id - at `$.message_id`",
        "pins.jsonl line 2: community_message_pinned: room kind 'moon' is not configured "
        "(rooms: dashboard, match, team, video) - at `$.room_id`",
    ])  # fmt: skip
    assert "3 records read, 1 valid, 0 already imported, 1 appended" in out
    assert started(tmp_path).rooms["match:1"].pinned_message_id == "m1"


def test_events_import_checks_the_end_of_a_restriction(tmp_path: Path, capsys) -> None:
    """The state reads ``until`` as an ISO time (``tomorrow`` stopped the start with ValueError)
    and compares it with the current time (one without a zone cannot be)."""
    mute = {"event_type": "user_muted", "occurred_at": "2026-01-06T12:00:00+00:00",
            "user_id": "u1", "room_id": "match:1", "actor_id": "mod"}  # fmt: skip
    lines = [
        {**mute, "payload": {"scope": "room", "until": "tomorrow"}},
        {**mute, "payload": {"scope": "room", "until": "2026-01-07T12:00:00"}},
        {**mute, "payload": {"scope": "room", "until": "2026-01-07T12:00:00+00:00"}},
        {**mute, "event_type": "user_banned", "payload": {"scope": "global", "until": None}},
    ]
    err, out = import_lines(tmp_path, capsys, "mutes.jsonl", lines)
    assert_named(err, [
        "mutes.jsonl line 1: user_muted: Invalid RFC3339 encoded datetime - at `$.payload.until`",
        "mutes.jsonl line 2: user_muted: Expected `datetime` with a timezone component "
        "- at `$.payload.until`",
    ])  # fmt: skip
    assert "4 records read, 2 valid, 0 already imported, 2 appended" in out
    restrictions = started(tmp_path).restrictions
    assert restrictions[("mute", "match:1", "u1")].until == datetime(2026, 1, 7, 12, tzinfo=UTC)
    assert restrictions[("ban", "*", "u1")].until is None


def test_events_import_checks_the_flags_a_reader_sees_by(tmp_path: Path, capsys) -> None:
    """A report's ``hide`` hides its message in the state, and a message's ``shadow_ban`` tells
    its author it is public: both are read as true or false (a string ``"false"`` would hide)."""
    at = {"occurred_at": "2026-01-06T12:00:00+00:00", "room_id": "match:1", "message_id": "m1"}
    report = {**at, "event_type": "community_message_reported", "user_id": "u2"}
    sent = {**at, "event_type": "community_message_sent", "user_id": "u1"}
    lines = [
        {**sent, "payload": {"text": "hi", "visibility": "shadow", "shadow_ban": "false"}},
        {**sent, "payload": {"text": "hi"}},
        {**report, "payload": {"reason": "spam", "report_id": "r1", "hide": "false"}},
        {**report, "user_id": "u3", "payload": {"reason": "spam", "report_id": "r2", "hide": False}},
    ]
    err, out = import_lines(tmp_path, capsys, "flags.jsonl", lines)
    assert_named(err, [
        "flags.jsonl line 1: community_message_sent: Expected `bool`, got `str` "
        "- at `$.payload.shadow_ban`",
        "flags.jsonl line 3: community_message_reported: Expected `bool`, got `str` "
        "- at `$.payload.hide`",
    ])  # fmt: skip
    assert "4 records read, 2 valid, 0 already imported, 2 appended" in out
    state = started(tmp_path)
    assert not state.messages["m1"].hidden_by_reports and state.reporters["m1"] == {"u3"}


def drive_every_write(server: ServerProcess) -> None:
    """Through the real service: an event of every type it writes (holdout on, moderation on)."""
    admin = {"X-Admin-Key": server.admin_key()}
    mod = {"Authorization": f"Bearer {server.token('mod', 'match:1', 'moderator')}"}
    users = [{"Authorization": f"Bearer {server.token(f'u{i}', 'match:1')}"} for i in range(1, 5)]

    def ok(r: httpx.Response) -> dict:
        assert r.status_code < 300, r.text
        return r.json() if r.content else {}

    with httpx.Client(base_url=server.url + "/v1", timeout=10) as api:
        for h in users:
            ok(api.post("/rooms/match:1/join", headers=h))
        ok(api.post("/rooms/match:1/leave", headers=users[3]))
        sent = [ok(api.post("/rooms/match:1/messages", headers=users[i], json={
            "client_msg_id": f"c{i}", "text": text})) for i, text in enumerate(
            ["what a goal", "call me on +44 7911 123456", "third"])]  # fmt: skip
        first, masked, third = (m["message_id"] for m in sent)
        ok(api.post(f"/rooms/match:1/messages/{first}/reactions", headers=users[1], json={"emoji": "⚽"}))
        ok(api.delete(f"/rooms/match:1/messages/{first}/reactions/⚽", headers=users[1]))
        poll = ok(api.post("/rooms/match:1/polls", headers=mod, json={
            "question": "Who wins?", "options": ["home", "draw", "away"]}))["poll_id"]  # fmt: skip
        ok(api.post(f"/rooms/match:1/polls/{poll}/votes", headers=users[0], json={"option": 2}))
        ok(api.post(f"/rooms/match:1/polls/{poll}/close", headers=mod))
        ok(api.post(f"/rooms/match:1/messages/{third}/reports", headers=users[0], json={"reason": "spam"}))
        ok(api.post(f"/rooms/match:1/review/{third}", headers=mod, json={"decision": "approve"}))
        ok(api.post("/rooms/match:1/pin", headers=mod, json={"message_id": first}))
        ok(api.post("/rooms/match:1/pin", headers=mod, json={"message_id": None}))
        ok(api.post("/rooms/match:1/pin", headers=mod, json={"message_id": third}))
        ok(api.delete(f"/rooms/match:1/messages/{masked}?reason=doxxing", headers=mod))
        for kind in ("mutes", "bans"):
            ok(api.post(f"/rooms/match:1/{kind}", headers=mod, json={"user_id": "u4", "duration_seconds": 600}))
            ok(api.delete(f"/rooms/match:1/{kind}/u4", headers=mod))
        ok(api.post("/admin/rooms/match:1/bans", headers=admin, json={"user_id": "u5", "scope": "global"}))
        ok(api.post("/rooms/match:1/shadow-bans", headers=mod, json={"user_id": "u3", "reason": "spam"}))
        ok(api.put("/admin/rooms/match:1", headers=admin, json={"slow_mode_seconds": 3, "max_message_length": 250}))
        ok(api.patch("/rooms/match:1/settings", headers=mod, json={"mode": "reactions-only"}))
        ok(api.post("/admin/rooms/team:ars/roles", headers=admin, json={"user_id": "u2", "role": "speaker"}))
        ok(api.post("/admin/rooms/match:1/roles", headers=admin, json={"user_id": "u1", "role": "moderator"}))
        ok(api.delete("/admin/rooms/team:ars/roles/u2", headers=admin))
        policy = ok(api.get("/admin/moderation/policies/match", headers=admin))
        ok(api.put("/admin/moderation/policies/match", headers=admin, json={**policy, "hold_at": 0.8}))


def test_events_import_takes_every_event_type_the_service_writes(tmp_path: Path, capsys) -> None:
    """The log of a real service, exported and imported into another: every record passes the
    schemas, and the service starts from the imported log with the state it started with."""
    served = ServerProcess(tmp_path / "served", env={"SIDELINE_HOLDOUT__SHARE": "0.005"}).start()
    try:
        drive_every_write(served)
    finally:
        served.stop()
        served.kill()
    con = duckdb.connect(str(served.data_dir / "log-node-1.duckdb"), read_only=True)
    try:
        events = [from_row(r) for r in con.execute(f"SELECT {SELECT_COLUMNS} FROM events ORDER BY seq").fetchall()]
    finally:
        con.close()
    written = {e.event_type for e in events}
    assert written == set(EventType) - {EventType.REPORT_REVIEWED}, set(EventType) - written
    export = tmp_path / "export.parquet"
    pq.write_table(to_arrow(events), export)
    imported = tmp_path / "imported"
    assert main(["events", "import", str(export), "--data-dir", str(imported)]) == 0
    n = len(events)
    assert f"{n} records read, {n} valid, 0 already imported, {n} appended" in capsys.readouterr().out
    assert started(imported).snapshot() == started(served.data_dir).snapshot()


def test_events_import_checks_a_policy_change_is_of_its_rooms_kind(tmp_path: Path, capsys) -> None:
    """The service writes a policy change for kind K with room id ``K:*`` and ``kind: K`` in
    its payload; the state files the policy under the payload's kind. One whose room id names
    another kind (``match:*`` with ``kind: team``) changed team's policy from match's room."""
    change = {"event_type": "moderation_policy_changed", "occurred_at": "2026-01-06T12:00:00+00:00",
              "user_id": "system:admin", "room_id": "match:*"}  # fmt: skip
    lines = [
        {**change, "payload": {"kind": "team", "policy": {"hold_at": 0.7}}},
        {**change, "payload": {"kind": "match", "policy": {"hold_at": 0.8}}},
        {**change, "room_id": "default:*", "payload": {"kind": "default", "policy": {"hold_at": 0.9}}},
    ]
    err, out = import_lines(tmp_path, capsys, "kinds.jsonl", lines)
    assert_named(err, [
        "kinds.jsonl line 1: moderation_policy_changed: kind 'team' is not the kind of room id "
        "'match:*' - at `$.payload.kind`",
    ])  # fmt: skip
    assert "3 records read, 2 valid, 0 already imported, 2 appended" in out
    policies = started(tmp_path).moderation_policies
    assert sorted(policies) == ["default", "match"] and policies["match"]["hold_at"] == 0.8


def test_events_import_bounds_user_ids_as_the_service_does(tmp_path: Path, capsys) -> None:
    """The service's user ids are a token's ``sub`` or a body's ``user_id``, both 1 to 128
    characters (service.identity, the HTTP API's UserId), and its actors are such a user or
    ``system:*``: a backfill's 10 KB user id was written and served with every message."""
    react = {"event_type": "reaction_added", "occurred_at": "2026-01-06T12:00:00+00:00",
             "room_id": "match:1", "message_id": "m1", "payload": {"emoji": "⚽"}}  # fmt: skip
    mute = {"event_type": "user_muted", "occurred_at": "2026-01-06T12:00:00+00:00",
            "room_id": "match:1", "user_id": "u1", "payload": {"scope": "room"}}  # fmt: skip
    lines = [
        {**react, "user_id": "u" * 129},
        {**react, "user_id": "x" * 10_000},
        {**mute, "actor_id": "m" * 129},
        {**react, "user_id": "u" * 128},
        {**mute, "actor_id": "m" * 128},
    ]
    err, out = import_lines(tmp_path, capsys, "users.jsonl", lines)
    assert_named(err, [
        "users.jsonl line 1: Expected `str` of length <= 128 - at `$.user_id`",
        "users.jsonl line 2: Expected `str` of length <= 128 - at `$.user_id`",
        "users.jsonl line 3: Expected `str` of length <= 128 - at `$.actor_id`",
    ])  # fmt: skip
    assert "5 records read, 2 valid, 0 already imported, 2 appended" in out


def test_events_import_bounds_context_ids_as_the_service_does(tmp_path: Path, capsys) -> None:
    """A context id is a token's ``ctx``: at most 256 characters and not only white space
    (service.identity); every event of the user carries it."""
    react = {"event_type": "reaction_added", "occurred_at": "2026-01-06T12:00:00+00:00",
             "room_id": "match:1", "user_id": "u1", "message_id": "m1", "payload": {"emoji": "⚽"}}  # fmt: skip
    lines = [
        {**react, "context_id": "c" * 257},
        {**react, "context_id": "   "},
        {**react, "context_id": "c" * 256},
        {**react, "user_id": "u2"},  # none: the room's id
    ]
    err, out = import_lines(tmp_path, capsys, "contexts.jsonl", lines)
    assert_named(err, [
        "contexts.jsonl line 1: Expected `str` of length <= 256 - at `$.context_id`",
        "contexts.jsonl line 2: context_id is empty - at `$.context_id`",
    ])  # fmt: skip
    assert "4 records read, 2 valid, 0 already imported, 2 appended" in out


def test_events_import_bounds_votes_and_closes_of_polls_it_has_not_seen(tmp_path: Path, capsys) -> None:
    """A vote or close for a poll created outside the file and the log (a log imported in
    parts, or trimmed) is still bounded as every poll is: the service's polls have 2 to 10
    options, so a vote's option is 0 to 9 and a close has 2 to 10 results."""
    at = {"occurred_at": "2026-01-06T12:00:00+00:00", "room_id": "match:1"}
    vote = {**at, "event_type": "poll_voted", "user_id": "u1"}
    closed = {**at, "event_type": "poll_closed", "user_id": "mod"}
    lines = [
        {**vote, "payload": {"poll_id": "p9", "option": 10}},
        {**vote, "payload": {"poll_id": "p9", "option": 1_000_000}},
        {**closed, "payload": {"poll_id": "p9", "results": [0] * 11}},
        {**closed, "payload": {"poll_id": "p8", "results": [4]}},
        {**vote, "user_id": "u2", "payload": {"poll_id": "p9", "option": 9}},
        {**closed, "payload": {"poll_id": "p9", "results": [0] * 10}},
    ]
    err, out = import_lines(tmp_path, capsys, "unseen.jsonl", lines)
    assert_named(err, [
        "unseen.jsonl line 1: poll_voted: Expected `int` <= 9 - at `$.payload.option`",
        "unseen.jsonl line 2: poll_voted: Expected `int` <= 9 - at `$.payload.option`",
        "unseen.jsonl line 3: poll_closed: Expected `array` of length <= 10 - at `$.payload.results`",
        "unseen.jsonl line 4: poll_closed: Expected `array` of length >= 2 - at `$.payload.results`",
    ])  # fmt: skip
    assert "6 records read, 2 valid, 0 already imported, 2 appended" in out


def test_events_import_takes_a_poll_as_the_service_stores_it(tmp_path: Path, capsys) -> None:
    """The service strips a poll's question and options before it writes them, so its log has
    none with leading or trailing white space; the import does not rewrite payloads, so one
    with it is refused rather than served as no poll the service creates would be."""
    created = {"event_type": "poll_created", "occurred_at": "2026-01-06T12:00:00+00:00",
               "room_id": "match:1", "user_id": "mod"}  # fmt: skip
    poll = {"question": "Who wins?", "options": ["home", "away"]}
    lines = [
        {**created, "payload": {**poll, "poll_id": "p1", "question": " Who wins?"}},
        {**created, "payload": {**poll, "poll_id": "p2", "question": "Who wins?\n"}},
        {**created, "payload": {**poll, "poll_id": "p3", "options": ["home", "away "]}},
        {**created, "payload": {**poll, "poll_id": "p4", "options": ["\thome", "away"]}},
        {**created, "payload": {**poll, "poll_id": "p5", "options": ["home", "home "]}},
        {**created, "payload": {**poll, "poll_id": "p6", "question": "Who  wins?"}},
    ]
    err, out = import_lines(tmp_path, capsys, "stripped.jsonl", lines)
    assert_named(err, [
        "stripped.jsonl line 1: poll_created: poll question ' Who wins?' has white space at its "
        "ends (the service strips it) - at `$.payload.question`",
        "stripped.jsonl line 2: poll_created: poll question 'Who wins?\\n' has white space at its "
        "ends (the service strips it) - at `$.payload.question`",
        "stripped.jsonl line 3: poll_created: poll option 1 ('away ') has white space at its ends "
        "(the service strips it) - at `$.payload.options[1]`",
        "stripped.jsonl line 4: poll_created: poll option 0 ('\\thome') has white space at its ends "
        "(the service strips it) - at `$.payload.options[0]`",
        "stripped.jsonl line 5: poll_created: poll option 1 ('home ') has white space at its ends "
        "(the service strips it) - at `$.payload.options[1]`",
    ])  # fmt: skip
    assert "6 records read, 1 valid, 0 already imported, 1 appended" in out
    assert started(tmp_path).polls["p6"].question == "Who  wins?"
