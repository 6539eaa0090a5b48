"""``sideline moderate``: the offline dry run, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run(stdin: str, *moderate_args: str, cwd: Path, config: Path | None = None):
    pre = ["--config", str(config)] if config else []
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", *pre, "moderate", *moderate_args],
        input=stdin.encode(),
        capture_output=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    return proc.returncode, lines, proc.stderr.decode()


def test_one_json_line_out_per_message_in(tmp_path: Path) -> None:
    stdin = "\n".join(
        json.dumps(m)
        for m in [
            {"id": 1, "text": "what a goal, 2-1 at 19:45"},
            {"id": "b", "text": "call me on 07700 900123"},
            {"id": 3, "text": "ѕһіт ref"},
            {"id": 4, "text": "Double your bitcoin, DM me"},
        ]
    )
    code, lines, stderr = run(stdin + "\n", cwd=tmp_path)
    assert code == 0, stderr
    assert [(x["id"], x["action"], x["masked_text"]) for x in lines] == [
        (1, "allow", "what a goal, 2-1 at 19:45"),
        ("b", "mask", "call me on [phone]"),
        (3, "block", "**** ref"),
        (4, "shadow", "Double your bitcoin, DM me"),
    ]
    assert lines[1]["reasons"] == [
        {"check": "pii", "code": "pii.phone", "score": 0.9, "detail": "masked a phone number"}
    ]
    assert set(lines[0]) == {"id", "action", "score", "reasons", "masked_text", "altered"}
    assert "allow 1, block 1, mask 1, shadow 1" in stderr


def test_bad_lines_get_an_error_line_and_the_run_continues(tmp_path: Path) -> None:
    stdin = (
        b'{"id": 1, "text": "fine"}\n'
        b"not json\n"
        b"\n"
        b'{"id": 2}\n'
        b'{"id": 3, "text": 5}\n'
        b'{"id": 4, "text": "bad \xff utf8"}\n'
        b'{"id": 5, "text": "still running"}\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "moderate"],
        input=stdin,
        capture_output=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert proc.returncode == 1
    assert lines[0]["id"] == 1 and lines[-1]["id"] == 5
    errors = [x for x in lines if "error" in x]
    assert [e["line"] for e in errors] == [2, 4, 5, 6]
    assert errors[0]["error"].startswith("line 2: JSON is malformed")
    assert errors[1]["error"] == "line 4: Object missing required field `text`"
    assert errors[2]["error"] == "line 5: Expected `str`, got `int` - at `$.text`"
    assert "not valid UTF-8" in errors[3]["error"]


def test_users_and_timestamps_drive_rate_limits(tmp_path: Path) -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
    stdin = "".join(
        json.dumps({"id": i, "text": f"{w} is great", "user_id": "fan", "ts": i * 0.5}) + "\n"
        for i, w in enumerate(words)
    )
    code, lines, _ = run(stdin, "--timings", cwd=tmp_path)
    assert code == 0
    assert [x["action"] for x in lines] == ["allow"] * 5 + ["block"] * 2
    assert lines[5]["retry_after"] == 2.5
    assert "rate" in lines[0]["checks_ms"]
    # Without user ids every line is its own user: no limits apply.
    anonymous = "".join(
        json.dumps({"id": i, "text": f"{w} is great"}) + "\n" for i, w in enumerate(words)
    )
    assert {x["action"] for x in run(anonymous, cwd=tmp_path)[1]} == {"allow"}


def test_policy_option_and_config_file(tmp_path: Path) -> None:
    stdin = json.dumps({"id": 1, "text": "that was shit"}) + "\n"
    assert run(stdin, "--policy", "video", cwd=tmp_path)[1][0]["action"] == "mask"
    config = tmp_path / "sideline.toml"
    config.write_text('[moderation.policies.default]\nallowlist = ["shit"]\n')
    assert run(stdin, cwd=tmp_path, config=config)[1][0]["action"] == "allow"
    config.write_text("[moderation.policies.default]\nhold_at = 0.1\n")
    code, lines, stderr = run(stdin, cwd=tmp_path, config=config)
    assert code == 2 and lines == []
    assert "at `$.moderation.policies.default`" in stderr


def test_input_file_option(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_text(json.dumps({"id": "x", "text": "email john at gmail dot com"}) + "\n")
    code, lines, _ = run("", "--input", str(path), cwd=tmp_path)
    assert code == 0 and lines[0]["masked_text"] == "email [email]"


def test_a_room_kind_is_dry_run_with_the_policy_its_rooms_take(tmp_path: Path) -> None:
    config = tmp_path / "sideline.toml"
    config.write_text(
        '[rooms.match]\nmoderation_policy = "strict"\n'
        "[moderation.policies.default]\n"
        '[moderation.policies.strict.actions]\npii = "hold"\n'
    )
    stdin = json.dumps({"id": 1, "text": "call me on 07700 900123"}) + "\n"
    code, lines, stderr = run(stdin, "--policy", "match", cwd=tmp_path, config=config)
    assert code == 0, stderr
    assert [(x["action"], x["masked_text"]) for x in lines] == [("hold", "call me on [phone]")]


def test_an_unknown_policy_is_a_configuration_error(tmp_path: Path) -> None:
    """``--policy nope`` quietly used ``default`` and exited 0; the admin API says 400
    unknown_room_kind. It is a configuration error (exit 2) naming what is known, and nothing
    is judged."""
    code, lines, stderr = run('{"id": 1, "text": "you scab"}\n', "--policy", "nope", cwd=tmp_path)
    assert (code, lines) == (2, [])
    assert stderr == (
        "sideline moderate: --policy 'nope' is neither a room kind (kinds: dashboard, match, team, "
        "video) nor a moderation policy (policies: dashboard, default, match, team, video)\n"
    )


def test_it_says_which_policy_it_applies(tmp_path: Path) -> None:
    code, _, stderr = run('{"id": 1, "text": "hi"}\n', "--policy", "match", cwd=tmp_path)
    assert code == 0, stderr
    first = stderr.splitlines()[0]
    assert first.startswith("sideline moderate: policy 'match' for room kind 'match' from the "
                            "configuration (no event log at "), first  # fmt: skip
