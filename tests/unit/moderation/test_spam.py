"""Content spam: single weak signals pass, combinations and strong lures are shadowed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.moderation import Action, ModerationSettings, Pipeline, Verdict
from service.moderation.settings import SpamSettings, host_domains
from service.settings import ServerSettings, Settings

from .conftest import ctx


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("DM me for signals bit.ly/xyz", "spam.shortener"),
        ("join t.me/cryptokings for guaranteed profit", "spam.invite"),
        ("free stream: cutt(.)ly/matchhd click here", "spam.obfuscated_link"),
        ("watch at www dot sportz-live dot xyz now", "spam.obfuscated_link"),
        ("Double your bitcoin in 24h", "spam.crypto"),
        ("send me 50 usdt and I'll send back 100", "spam.crypto"),
        ("FIXED MATCHES, 100% guaranteed", "spam.tipster"),
        ("congratulations you won an iPhone, claim your prize", "spam.prize"),
        ("Selling tickets cheap, contact me on telegram @ticketguy", "spam.tout"),
        ("@jake @mia @tom @ellie @sam check this", "spam.mentions"),
        ("visit w w w . scam . com", "spam.obfuscated_link"),
        ("hxxp://evil.example/", "spam.obfuscated_link"),
        ("login at wallet-sync[.]com", "spam.obfuscated_link"),
        ("invest with me, guaranteed 20% weekly returns", "spam.crypto"),
        ("watch live free at crackstreams dot com", "spam.stream"),
        ("you have won a free iPhone, DM us", "spam.prize"),
    ],
)
def test_spam_is_shadowed(check: Callable[..., Verdict], text: str, code: str) -> None:
    verdict = check(text)
    assert verdict.action is Action.SHADOW, verdict
    assert code in {r.code for r in verdict.reasons}


@pytest.mark.parametrize(
    "text",
    [
        "check out the highlights on youtube.com",
        "stats here: https://fbref.com/en/matches/123",
        "dm me if you want my spare ticket",
        "text me if it breaks again",
        "guaranteed to dump after earnings lol",
        "I doubled my position at 38",
        "sure win for city today? no chance",
        "@mike @sara you watching?",
        "free kick! what a chance",
        "highlights at espn dot com",  # a spelled-out domain is a plain link
        "congrats you won the bet mate",  # "you won" without a prize
        "congratulations you won the league!",
        "message me on whatsapp lads for the away trip",  # one phrase, counted once
        "is crackstreams down for anyone?",
    ],
)
def test_one_weak_signal_is_not_spam(check: Callable[..., Verdict], text: str) -> None:
    assert check(text).action is Action.ALLOW


def test_a_defanged_email_is_personal_data_not_a_link(check: Callable[..., Verdict]) -> None:
    verdict = check("john@gmail(.)com")
    assert (verdict.action, verdict.text) == (Action.MASK, "[email]")
    assert [r.code for r in verdict.reasons] == ["pii.email"]


def test_text_floods_are_spam(check: Callable[..., Verdict]) -> None:
    assert check("a" * 300).action is Action.SHADOW
    assert check("GOAL " * 40).action is Action.SHADOW
    assert check("GOOOOOOOOOOOOOOOOOOOOOOOOAAAAAAAAAAAL!!!").action is Action.ALLOW


def test_allowed_domains_and_extra_shorteners() -> None:
    settings = ModerationSettings(
        spam=SpamSettings(allowed_domains=["bit.ly"], extra_shorteners=["sdln.io"])
    )
    pipeline = Pipeline(settings)
    own = pipeline.check_local("DM me, bit.ly/club-news", ctx())
    assert own.action is Action.ALLOW
    other = pipeline.check_local("DM me, sdln.io/x", ctx())
    assert other.action is Action.SHADOW
    assert "spam.shortener" in {r.code for r in other.reasons}


def test_team_rooms_hold_spam_for_review(check: Callable[..., Verdict]) -> None:
    assert check("Double your bitcoin in 24h, DM me", kind="team").action is Action.HOLD


def test_the_hosts_own_links_are_not_spam() -> None:
    text = "spare ticket for tonight, dm me, face value, see https://ourapp.com/tickets/123"
    host = Pipeline(ModerationSettings(), host_domains=["ourapp.com"])
    assert host.check_local(text, ctx()).action is Action.ALLOW
    assert host.check_local("dm me, see https://app.ourapp.com/x", ctx()).action is Action.ALLOW
    assert host.check_local("dm me, see https://other.com/x", ctx()).action is Action.SHADOW
    unknown = Pipeline(ModerationSettings())
    assert unknown.check_local(text, ctx()).action is Action.SHADOW
    strict = ModerationSettings(spam=SpamSettings(allow_host_links=False))
    assert Pipeline(strict, host_domains=["ourapp.com"]).check_local(text, ctx()).action is (
        Action.SHADOW
    )


def test_the_hosts_domains_come_from_its_public_url_and_allowed_origins() -> None:
    server = ServerSettings(
        public_url="https://chat.ourapp.com/community",
        allowed_origins=["https://www.ourapp.com", "http://localhost:8000", "*", "http://10.0.0.5"],
    )
    assert Settings(server=server).host_domains == ["chat.ourapp.com", "ourapp.com"]
    assert Settings().host_domains == []  # 127.0.0.1 and localhost are not the host's domains
    assert host_domains(["ourapp.com", "https://OurApp.com:8443"]) == ["ourapp.com"]
