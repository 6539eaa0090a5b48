"""``sideline token`` mints only tokens the service will accept, and says why it will not."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import main
from service.identity import TokenVerifier
from service.settings import load_settings


def test_a_token_the_service_would_refuse_is_not_minted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("SIDELINE_DATA_DIR", str(tmp_path))
    base = ["token", "--user", "u1", "--context", "match:1"]
    for extra, message in [
        (["--ttl", str(8 * 86_400)], "--ttl 691200 is longer than auth.max_token_lifetime_seconds (604800)"),
        (["--ttl", "0"], "--ttl must be at least 1 second, got 0"),
        (["--name", "n" * 65], "--name must be 1 to 64 characters, got 65"),
    ]:
        assert main([*base, *extra]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and message in captured.err
    # every claim rule of the service applies: the same check, not a copy of it
    for args, message in [
        (["--user", "   ", "--context", "match:1"], "--user: token claim `sub` (the user id) is blank: '   '"),
        (["--user", "u" * 129, "--context", "match:1"], "--user: token claim `sub` must be a non-empty string of at most 128"),
        (["--user", "u1", "--context", ""], "--context: token claim `ctx` (the context id) is required"),
    ]:
        assert main(["token", *args]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and message in captured.err
    assert main([*base, "--ttl", "3600", "--name", "Ann"]) == 0
    token = capsys.readouterr().out.strip()
    settings = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path)})
    from service.settings import ensure_dev_secrets

    ensure_dev_secrets(settings)
    who = TokenVerifier(settings.auth).verify(token)
    assert (who.user_id, who.name) == ("u1", "Ann")


def test_secrets_it_generates_are_shown_once_beside_the_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Run first in a fresh folder, it generates the development secrets as `serve` would:
    the keys are shown then (on stderr: stdout is only the token), and never again."""
    monkeypatch.setenv("SIDELINE_DATA_DIR", str(tmp_path))
    assert main(["token", "--user", "u1", "--context", "match:1"]) == 0
    first = capsys.readouterr()
    stored = (tmp_path / "dev-secrets.toml").read_text()
    admin_key = stored.split('admin_api_key = "')[1].split('"')[0]
    assert f"admin API key: {admin_key}" in first.err and "dashboard access key:" in first.err
    assert first.out.count("\n") == 1 and admin_key not in first.out
    assert main(["token", "--user", "u1", "--context", "match:1"]) == 0
    assert admin_key not in capsys.readouterr().err


def test_without_a_shared_secret_it_says_where_tokens_come_from(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("SIDELINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIDELINE_ENV", "production")
    monkeypatch.setenv("SIDELINE_ADMIN__API_KEY", "k" * 32)
    monkeypatch.setenv("SIDELINE_SINKS__ERASURE_SECRET", "e" * 32)
    monkeypatch.setenv("SIDELINE_AUTH__PUBLIC_KEYS", '["/keys/host.pem"]')
    assert main(["token", "--user", "u1", "--context", "match:1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "auth.hs256_secret is not set" in captured.err
