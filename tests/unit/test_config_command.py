"""``sideline config`` prints the effective settings with every secret hidden."""

from __future__ import annotations

import json

import pytest

from service.cli import main

SECRETS = {
    "SIDELINE_AUTH__HS256_SECRET": "hs-SECRET-value-0123456789abcdef",
    "SIDELINE_ADMIN__API_KEY": "ADMIN-SECRET-key",
    "SIDELINE_DASHBOARDS__ACCESS_KEY": "DASH-SECRET-key",
    "SIDELINE_MODERATION__PROVIDER__API_KEY": "sk-PROVIDER-SECRET",
    "SIDELINE_REALTIME__REDIS_URL": "redis://sideline:REDIS-SECRET-pass@redis.internal:6379/0",
    "SIDELINE_SINKS__ERASURE_SECRET": "ERASURE-SECRET-key-0123456789abcdef",
    "SIDELINE_SINKS__ERASURE_RETIRED_SECRETS": '["RETIRED-ERASURE-SECRET-0123456789"]',
}


def test_config_hides_every_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SIDELINE_DATA_DIR", str(tmp_path))
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    for value in SECRETS.values():
        assert value not in out
    shown = json.loads(out)
    assert shown["auth"]["hs256_secret"] == "***"
    assert shown["admin"]["api_key"] == "***"
    assert shown["dashboards"]["access_key"] == "***"
    assert shown["moderation"]["provider"]["api_key"] == "***"
    assert shown["realtime"]["redis_url"] == "redis://sideline:***@redis.internal:6379/0"
    assert shown["sinks"]["erasure_secret"] == shown["sinks"]["erasure_retired_secrets"] == "***"
    # what is not secret is still shown as set
    assert shown["data_dir"] == str(tmp_path)


def test_config_shows_unset_secrets_as_empty(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    monkeypatch.setenv("SIDELINE_DATA_DIR", str(tmp_path))
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    assert main(["config"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["moderation"]["provider"]["api_key"] == ""


def test_serve_with_a_missing_sink_secret_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    """A sink whose secret is not in the environment stops the start like any bad setting:
    one ``sideline: ...`` line naming the variable and exit status 2, not a traceback."""
    monkeypatch.setenv("SIDELINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIDELINE_SINKS__SEGMENT", '[{"name": "product"}]')
    monkeypatch.delenv("SEGMENT_WRITE_KEY", raising=False)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "sideline: " in err
    assert "SEGMENT_WRITE_KEY is not set" in err
    assert "Traceback" not in err
