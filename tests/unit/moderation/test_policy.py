"""Policies: the ladder, per-check actions, run-time changes and validated configuration."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from service.moderation import Action, ModerationSettings, Pipeline, Policy
from service.moderation.policy import CompiledPolicy, Tally
from service.moderation.verdict import Finding, Reason
from service.settings import ConfigError, load_settings

from .conftest import ctx


def _decide(policy: Policy, *reasons: tuple[str, str, float]) -> Action:
    tally = Tally(CompiledPolicy("t", policy))
    tally.add([Finding(Reason(check, code, score)) for check, code, score in reasons])
    return tally.action


def test_the_ladder_maps_the_combined_score() -> None:
    policy = Policy(actions={})
    assert _decide(policy, ("provider", "provider.hate", 0.4)) is Action.ALLOW
    assert _decide(policy, ("provider", "provider.hate", 0.5)) is Action.SHADOW
    assert _decide(policy, ("provider", "provider.hate", 0.75)) is Action.HOLD
    assert _decide(policy, ("provider", "provider.hate", 0.95)) is Action.BLOCK
    # independent evidence adds up: 1 - 0.6 * 0.6 = 0.64
    assert (
        _decide(policy, ("provider", "provider.hate", 0.4), ("spam", "spam.lure", 0.4))
        is Action.SHADOW
    )


def test_per_check_actions_replace_the_ladder_and_codes_beat_checks() -> None:
    policy = Policy(actions={"spam": Action.SHADOW, "spam.crypto": Action.BLOCK})
    assert _decide(policy, ("spam", "spam.lure", 0.45)) is Action.ALLOW  # below act_at
    assert (
        _decide(policy, ("spam", "spam.lure", 0.45), ("spam", "spam.contact", 0.45))
        is Action.SHADOW
    )
    assert _decide(policy, ("spam", "spam.crypto", 0.6)) is Action.BLOCK
    assert _decide(policy, ("spam", "spam.lure", 0.95)) is Action.SHADOW  # never climbs the ladder


def test_the_most_severe_action_wins() -> None:
    policy = Policy()
    assert (
        _decide(policy, ("pii", "pii.phone", 0.9), ("blocklist", "blocklist.word", 1.0))
        is Action.BLOCK
    )
    assert _decide(policy, ("pii", "pii.phone", 0.9), ("spam", "spam.crypto", 0.6)) is Action.SHADOW


def test_set_policy_changes_decisions_at_run_time() -> None:
    pipeline = Pipeline(ModerationSettings())
    assert pipeline.check_local("Double your bitcoin today", ctx("match")).action is Action.SHADOW
    strict = Policy(actions={"spam": Action.BLOCK, "pii": Action.MASK})
    pipeline.set_policy("match", strict)
    assert pipeline.policy_for("match") is strict
    assert pipeline.check_local("Double your bitcoin today", ctx("match")).action is Action.BLOCK
    assert pipeline.check_local("Double your bitcoin today", ctx("team")).action is Action.HOLD


def test_unknown_kinds_use_the_default_policy_and_it_can_be_replaced() -> None:
    pipeline = Pipeline(ModerationSettings())
    assert pipeline.policy_for("podcast") is pipeline.policy_for("default")
    pipeline.set_policy("default", Policy(blocklist=["offside"]))
    assert pipeline.check_local("offside again", ctx("podcast")).action is Action.BLOCK
    assert pipeline.check_local("offside again", ctx("match")).action is Action.ALLOW


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            Policy(hold_at=0.3),
            "Expected shadow_at <= hold_at <= block_at, got 0.5 / 0.3 / 0.9 in `policies.match`",
        ),
        (Policy(block_at=1.5), "Expected a score in (0, 1], got 1.5 in `policies.match.block_at`"),
        (
            Policy(actions={"spma": Action.BLOCK}),
            "Unknown check or code 'spma' in `policies.match.actions`",
        ),
        (Policy(blocklist=[" "]), "Expected non-empty words in `policies.match.blocklist`"),
    ],
)
def test_bad_policies_are_refused_with_the_offending_key(policy: Policy, message: str) -> None:
    pipeline = Pipeline(ModerationSettings())
    with pytest.raises(ValueError) as err:
        pipeline.set_policy("match", policy)
    assert str(err.value) == message


def test_policies_come_from_toml(tmp_path: Path) -> None:
    config = tmp_path / "sideline.toml"
    config.write_text(
        """
[moderation.policies.match]
shadow_at = 0.4
blocklist = ["scab"]
allowlist = ["bastard"]
[moderation.policies.match.actions]
pii = "hold"
"rate.duplicate" = "block"
"""
    )
    settings = load_settings(config, environ={})
    policy = settings.moderation.policies["match"]
    assert policy.shadow_at == 0.4 and policy.actions == {
        "pii": Action.HOLD,
        "rate.duplicate": Action.BLOCK,
    }
    pipeline = Pipeline(settings.moderation)
    assert pipeline.check_local("call 07700 900123", ctx("match")).action is Action.HOLD
    assert pipeline.check_local("what a scab", ctx("match")).action is Action.BLOCK
    assert pipeline.check_local("lucky bastard", ctx("match")).action is Action.ALLOW


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[moderation.policies.match]\nhold_at = 0.2", "got 0.5 / 0.2 / 0.9 - at `$.moderation.policies.match`"),
        (
            '[moderation.policies.match.actions]\nspma = "block"',
            "Unknown check or code 'spma' - at `$.moderation.policies.match.actions`",
        ),
        ('[moderation.policies.match.actions]\nspam = "shadw"', "Invalid enum value 'shadw'"),
        ("[moderation.policies.match]\nholdat = 0.2", "Object contains unknown field `holdat`"),
        (
            '[moderation]\nphone_regions = ["XX"]',
            "Unknown phone region(s) ['XX'] - at `$.moderation.phone_regions`",
        ),
        ("[moderation.rate]\nburst_max = 0", "Expected `int` >= 1 - at `$.moderation.rate.burst_max`"),
        (
            '[moderation.provider]\nenabled = true\nbase_url = "ftp://x"',
            "Expected an http(s) URL, got 'ftp://x' - at `$.moderation.provider.base_url`",
        ),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_settings(config, environ={})
    assert message in str(err.value)


def test_policies_round_trip_as_builtins_for_the_admin_api() -> None:
    policy = Policy(actions={"spam": Action.HOLD}, blocklist=["scab"])
    raw = msgspec.to_builtins(policy)
    assert raw["actions"] == {"spam": "hold"}
    assert msgspec.convert(raw, Policy) == policy
