from pathlib import Path

import pytest

from service.settings import ConfigError, ensure_dev_secrets, load_settings


def test_defaults_need_no_configuration():
    s = load_settings(environ={})
    assert s.server.port == 8000
    assert s.log_path == Path("data/log-node-1.duckdb")
    assert set(s.rooms) >= {"match", "team"}


def test_env_overrides_nested_keys():
    s = load_settings(environ={"SIDELINE_SERVER__PORT": "9001", "SIDELINE_ROOMS__MATCH__SLOW_MODE_SECONDS": "5"})
    assert s.server.port == 9001
    assert s.rooms["match"].slow_mode_seconds == 5
    assert s.rooms["team"].slow_mode_seconds == 0  # other kinds keep their defaults


@pytest.mark.parametrize(
    "env", [{"SIDELINE_ROOMS__MATCH__SLOW_MODE_SECONDS": "5"}, {"SIDELINE_ROOMS__QUIZ__SLOW_MODE_SECONDS": "5"}]
)
def test_configuring_a_room_kind_keeps_every_built_in_kinds_own_defaults(env):
    """A kind configured (or a new one) leaves the built-in kinds' own limits as they were: match
    rooms keep 300 characters and 200 messages of history, not the generic 500 and 100."""
    built_in = load_settings(environ={}).rooms
    s = load_settings(environ=env)
    for kind, policy in built_in.items():
        assert (s.rooms[kind].max_message_length, s.rooms[kind].history_size) == (
            policy.max_message_length, policy.history_size,
        ), kind  # fmt: skip
    assert (built_in["match"].max_message_length, built_in["match"].history_size) == (300, 200)


def test_bad_value_names_the_key_path():
    with pytest.raises(ConfigError, match=r"Expected `int`, got `str` - at `\$.server.port`"):
        load_settings(environ={"SIDELINE_SERVER__PORT": "eighty"})


def test_unknown_key_is_refused():
    with pytest.raises(ConfigError, match="unknown field `prot`"):
        load_settings(environ={"SIDELINE_SERVER__PROT": "1"})


def test_toml_file_and_its_errors(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('node_id = "n7"\n[rooms.quiz]\nmode = "reactions-only"\n')
    s = load_settings(good, environ={})
    assert s.node_id == "n7" and s.rooms["quiz"].mode == "reactions-only"
    bad = tmp_path / "bad.toml"
    bad.write_text('[rooms.match]\nmode = "loud"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml.*Invalid enum value 'loud'"):
        load_settings(bad, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_range_checks():
    with pytest.raises(ConfigError, match=r"\$.holdout.share"):
        load_settings(environ={"SIDELINE_HOLDOUT__SHARE": "1.5"})


def test_the_redis_timeout_must_outlast_a_heartbeat():
    """A subscription whose own heartbeat (every presence interval) has not come back in the
    timeout is dropped as silent: one shorter than the interval would drop a healthy one."""
    with pytest.raises(ConfigError, match=r"presence_interval_seconds \(1\.0\).*at `\$\.realtime\.redis_timeout_seconds`"):
        load_settings(environ={"SIDELINE_REALTIME__REDIS_TIMEOUT_SECONDS": "1"})
    s = load_settings(environ={"SIDELINE_REALTIME__REDIS_TIMEOUT_SECONDS": "1.5"})
    assert s.realtime.redis_timeout_seconds == 1.5


def test_production_refuses_generated_secrets():
    with pytest.raises(ConfigError, match="production needs a token key"):
        load_settings(environ={"SIDELINE_ENV": "production"})
    s = load_settings(environ={
        "SIDELINE_ENV": "production", "SIDELINE_AUTH__HS256_SECRET": "x" * 32,
        "SIDELINE_ADMIN__API_KEY": "k" * 24, "SIDELINE_SINKS__ERASURE_SECRET": "e" * 32,
    })
    assert ensure_dev_secrets(s) == []


def test_dev_secret_generated_once_and_printed_once(tmp_path):
    s = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path)})
    printed = ensure_dev_secrets(s)
    assert printed and "admin API key" in printed[1]
    again = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path)})
    assert ensure_dev_secrets(again) == []
    assert again.auth.hs256_secret == s.auth.hs256_secret
    assert (tmp_path / "dev-secrets.toml").stat().st_mode & 0o077 == 0


def test_a_moderation_policy_name_must_name_a_policy():
    env = {"SIDELINE_ROOMS__MATCH__MODERATION_POLICY": "stritc"}
    with pytest.raises(ConfigError, match=r"no moderation policy 'stritc' \(policies: dashboard, default, "
                       r"match, team, video\) - at `\$.rooms.match.moderation_policy`"):
        load_settings(environ=env)
    assert load_settings(environ={"SIDELINE_ROOMS__MATCH__MODERATION_POLICY": "team"}).rooms["match"].moderation_policy == "team"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SIDELINE_MODERATION__POLICIES": '{"match": {"hold_at": 2}}'},
         "Expected a score in (0, 1], got 2.0 - at `$.moderation.policies.match.hold_at`"),
        ({"SIDELINE_MODERATION__POLICIES": '{"match": {"actions": {"spma": "block"}}}'},
         "Unknown check or code 'spma' - at `$.moderation.policies.match.actions`"),
        ({"SIDELINE_MODERATION__RATE__BURST_MAX": "0"}, "Expected `int` >= 1 - at `$.moderation.rate.burst_max`"),
        ({"SIDELINE_MODERATION__RATE__DUPLICATE_WINDOW_SECONDS": "0"},
         "Expected `float` > 0.0 - at `$.moderation.rate.duplicate_window_seconds`"),
        ({"SIDELINE_MODERATION__REPORT_HIDE_THRESHOLD": "0"},
         "Expected `int` >= 1 - at `$.moderation.report_hide_threshold`"),
        ({"SIDELINE_MODERATION__PROVIDER__TIMEOUT_SECONDS": "0"},
         "Expected `float` > 0.0 - at `$.moderation.provider.timeout_seconds`"),
        ({"SIDELINE_MODERATION__PROVIDER__ENABLED": "true", "SIDELINE_MODERATION__PROVIDER__BASE_URL": "ftp://x"},
         "Expected an http(s) URL, got 'ftp://x' - at `$.moderation.provider.base_url`"),
        ({"SIDELINE_MODERATION__PHONE_REGIONS": '["XX"]'},
         "Unknown phone region(s) ['XX'] - at `$.moderation.phone_regions`"),
    ],
)  # fmt: skip
def test_a_bad_moderation_setting_is_named_by_its_own_path(env, message):
    """Not ``at `$.moderation``` for a key deep inside it: the operator is pointed at the key."""
    with pytest.raises(ConfigError) as err:
        load_settings(environ=env)
    assert str(err.value) == f"invalid configuration: {message}"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # each of these started the service and then broke every socket or request
        ({"SIDELINE_REALTIME__MAX_FRAME_BYTES": "0"}, "Expected `int` >= 4096 - at `$.realtime.max_frame_bytes`"),
        ({"SIDELINE_REALTIME__SEND_QUEUE_SIZE": "0"}, "Expected `int` >= 1 - at `$.realtime.send_queue_size`"),
        ({"SIDELINE_REALTIME__FRAMES_PER_SECOND": "0"}, "Expected `float` > 0.0 - at `$.realtime.frames_per_second`"),
        ({"SIDELINE_REALTIME__AUTH_TIMEOUT_SECONDS": "0"}, "Expected `float` > 0.0 - at `$.realtime.auth_timeout_seconds`"),
        ({"SIDELINE_REALTIME__MAX_ROOMS_PER_SOCKET": "0"}, "Expected `int` >= 1 - at `$.realtime.max_rooms_per_socket`"),
        ({"SIDELINE_SERVER__PORT": "70000"}, "Expected `int` <= 65535 - at `$.server.port`"),
        ({"SIDELINE_SERVER__PORT": "-1"}, "Expected `int` >= 1 - at `$.server.port`"),
        ({"SIDELINE_AUTH__LEEWAY_SECONDS": "-5"}, "Expected `int` >= 0 - at `$.auth.leeway_seconds`"),
        ({"SIDELINE_SERVER__GRACEFUL_TIMEOUT_SECONDS": "-1"},
         "Expected `float` >= 0.0 - at `$.server.graceful_timeout_seconds`"),
        ({"SIDELINE_CROWD_CONTROL__WINDOW_SECONDS": "0"}, "Expected `float` > 0.0 - at `$.crowd_control.window_seconds`"),
        ({"SIDELINE_NODE_ID": "node 1"}, "at `$.node_id`"),
        # a key of a table of kinds is named, not `$.rooms[...]`
        ({"SIDELINE_ROOMS__MATCH__MODE": "weird"}, "Invalid enum value 'weird' - at `$.rooms.match.mode`"),
        ({"SIDELINE_ROOMS__QUIZ__MAX_MESSAGE_LENGTH": "0"}, "Expected `int` >= 1 - at `$.rooms.quiz.max_message_length`"),
        ({"SIDELINE_ROOMS__QUIZ": "5"}, "Expected `object`, got `str` - at `$.rooms.quiz`"),
        # a key of a table inside a section is named too, not `$.moderation.policies[...]`
        ({"SIDELINE_MODERATION__POLICIES": '{"strict": {"actions": {"spam": "nuke"}}}'},
         "Invalid enum value 'nuke' - at `$.moderation.policies.strict.actions.spam`"),
        # slow modes are bounded like the APIs bound them: last_post keeps a day of posts
        ({"SIDELINE_ROOMS__MATCH__SLOW_MODE_SECONDS": "86401"},
         "Expected `int` <= 86400 - at `$.rooms.match.slow_mode_seconds`"),
        ({"SIDELINE_CROWD_CONTROL__SLOW_MODE_SECONDS": "90000"},
         "Expected `int` <= 86400 - at `$.crowd_control.slow_mode_seconds`"),
        ({"SIDELINE_CROWD_CONTROL__SLOW_MODE_SECONDS": "0"},
         "Expected `int` >= 1 - at `$.crowd_control.slow_mode_seconds`"),
    ],
)
def test_values_the_service_cannot_work_with_stop_the_start(env, message):
    with pytest.raises(ConfigError) as refused:
        load_settings(environ=env)
    assert message in str(refused.value)


def test_a_public_key_that_cannot_be_read_names_its_place(tmp_path):
    from service.identity import TokenVerifier

    settings = load_settings(environ={"SIDELINE_AUTH__PUBLIC_KEYS": f'["{tmp_path / "gone.pem"}"]'})
    with pytest.raises(ConfigError, match=r"public key file .*gone\.pem' cannot be read \(No such file or directory\) - at `\$\.auth\.public_keys\[0\]`"):
        TokenVerifier(settings.auth)
    (tmp_path / "junk.pem").write_text("not a key")
    settings = load_settings(environ={"SIDELINE_AUTH__PUBLIC_KEYS": f'["{tmp_path / "junk.pem"}"]'})
    with pytest.raises(ConfigError, match=r"neither an RSA nor an Ed25519 PEM key - at `\$\.auth\.public_keys\[0\]`"):
        TokenVerifier(settings.auth)


def test_production_refuses_short_or_development_secrets(tmp_path):
    good = {
        "SIDELINE_ENV": "production", "SIDELINE_DATA_DIR": str(tmp_path),
        "SIDELINE_AUTH__HS256_SECRET": "s" * 32, "SIDELINE_ADMIN__API_KEY": "k" * 24,
        "SIDELINE_SINKS__ERASURE_SECRET": "e" * 32,
    }  # fmt: skip
    assert load_settings(environ=good)
    for key, short in [("SIDELINE_AUTH__HS256_SECRET", "x"), ("SIDELINE_ADMIN__API_KEY", "k" * 23),
                       ("SIDELINE_DASHBOARDS__ACCESS_KEY", "d" * 15),
                       ("SIDELINE_SINKS__ERASURE_SECRET", "e" * 31)]:  # fmt: skip
        with pytest.raises(ConfigError, match=r"production needs at least \d+ characters, got \d+ - at `\$\.") as refused:
            load_settings(environ={**good, key: short})
        assert key.split("__")[1].lower() in str(refused.value)
    dev = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path)})
    ensure_dev_secrets(dev)  # a laptop's secrets, in the same data folder
    with pytest.raises(ConfigError, match=r"refuses the development secret .* - at `\$\.auth\.hs256_secret`"):
        load_settings(environ={**good, "SIDELINE_AUTH__HS256_SECRET": dev.auth.hs256_secret})
    with pytest.raises(ConfigError, match=r"refuses the development secret .* - at `\$\.sinks\.erasure_secret`"):
        load_settings(environ={**good, "SIDELINE_SINKS__ERASURE_SECRET": dev.sinks.erasure_secret})


def test_production_needs_an_erasure_key_and_development_gets_one_never_printed(tmp_path):
    """Erased users' pseudonyms are keyed with ``sinks.erasure_secret``: production refuses to
    start without one (the admin API can erase whatever else is configured), naming the key
    path; development generates one into ``dev-secrets.toml`` once, as the other secrets, and
    adds it to a file an older version wrote, without printing it."""
    env = {"SIDELINE_ENV": "production", "SIDELINE_AUTH__HS256_SECRET": "s" * 32,
           "SIDELINE_ADMIN__API_KEY": "k" * 24}  # fmt: skip
    with pytest.raises(ConfigError, match=r"production needs SIDELINE_SINKS__ERASURE_SECRET, .* - at `\$\.sinks\.erasure_secret`"):
        load_settings(environ=env)
    older = tmp_path / "older"
    older.mkdir()
    (older / "dev-secrets.toml").write_text('hs256_secret = "h"\nadmin_api_key = "a"\ndashboard_access_key = "d"\n')
    for data in (tmp_path / "fresh", older):
        dev = load_settings(environ={"SIDELINE_DATA_DIR": str(data)})
        printed = "\n".join(ensure_dev_secrets(dev))
        assert len(dev.sinks.erasure_secret) >= 32 and dev.sinks.erasure_secret not in printed
        again = load_settings(environ={"SIDELINE_DATA_DIR": str(data)})
        assert ensure_dev_secrets(again) == [] and again.sinks.erasure_secret == dev.sinks.erasure_secret
    given = load_settings(environ={"SIDELINE_DATA_DIR": str(older), "SIDELINE_SINKS__ERASURE_SECRET": "mine"})
    ensure_dev_secrets(given)
    assert given.sinks.erasure_secret == "mine"
