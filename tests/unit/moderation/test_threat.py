"""Threats are held for a moderator; the violent words of ordinary sports chat pass untouched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.moderation import Action, ModerationSettings, Pipeline, Verdict
from service.moderation.settings import Policy

from .conftest import ctx


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("I will kill you", "threat.violence"),
        ("i'll kill u", "threat.violence"),
        ("I’ll kill you", "threat.violence"),
        ("im gonna stab you", "threat.violence"),
        ("i will literally murder you", "threat.violence"),
        ("I swear I'll find you and hurt you", "threat.violence"),
        ("I'm going to break your legs", "threat.violence"),
        ("I'll beat you up after the game", "threat.violence"),
        ("I'll hunt you down", "threat.violence"),
        ("i'd kill your family", "threat.violence"),
        ("someone should shoot the ref", "threat.violence"),
        ("I know where you live", "threat.doxxing"),
        ("i got your address mate", "threat.doxxing"),
        ("hope you die", "threat.death_wish"),
        ("I hope your kids get cancer", "threat.death_wish"),
        ("hope he gets hit by a bus", "threat.death_wish"),
        ("kill yourself", "threat.self_harm"),
        ("go hang yourself", "threat.self_harm"),
        ("you should just die", "threat.self_harm"),
        ("drink bleach", "threat.self_harm"),
        ("no one would miss you", "threat.self_harm"),
        ("Ｉ ｗｉｌｌ ｋｉｌｌ ｙｏｕ", "threat.violence"),  # folded like every text check
        # a third person is a target too, not only "you"
        ("I'll kill the linesman", "threat.violence"),
        ("i will stab that useless ref", "threat.violence"),
        ("im gonna kill them", "threat.violence"),
        ("I'm going to murder the keeper after the game", "threat.violence"),
        ("someone should stab the keeper", "threat.violence"),
        ("I'll kill the ref's family", "threat.violence"),
        ("imma stab u", "threat.violence"),
        # only verbs of sending take "a"/"the"/"at" harmlessly; these are threats
        ("I'll stab you at the ground", "threat.violence"),
        ("I'll kill you the minute I see you", "threat.violence"),
        ("i will hurt you out there", "threat.violence"),
        ("I'll knock your teeth out", "threat.violence"),
        ("I'm gonna run you over", "threat.violence"),
        # a negation or a forecast before an announced threat does not cancel it
        ("honestly not joking, I'll stab you", "threat.violence"),
        ("no lie i will kill you", "threat.violence"),
        ("you'll regret it I will kill you", "threat.violence"),
        ("I will find out where you live", "threat.doxxing"),
        ("I'll find your home", "threat.doxxing"),
        ("hope the ref's kids die", "threat.death_wish"),
        ("go rope yourself", "threat.self_harm"),
        # leetspeak, letters spelt out, words run together
        ("k1ll yourself", "threat.self_harm"),
        ("go k!ll urself", "threat.self_harm"),
        ("kiIl yourself", "threat.self_harm"),
        ("k.i.l.l yourself", "threat.self_harm"),
        ("hangyourself", "threat.self_harm"),
        ("go hang-yourself", "threat.self_harm"),
        ("i will k1ll y0u", "threat.violence"),
    ],
)
def test_threats_are_held(check: Callable[..., Verdict], text: str, code: str) -> None:
    verdict = check(text)
    assert verdict.action is Action.HOLD, verdict
    assert [r.code for r in verdict.reasons] == [code]
    assert verdict.reasons[0].check == "threat" and verdict.reasons[0].score == 0.8
    assert not verdict.altered  # held as written: the moderator reads what was sent


@pytest.mark.parametrize(
    "text",
    [
        "this ref is killing us",
        "kill the game off please",
        "someone needs to kill this game off",
        "shoot me a DM",
        "I'll shoot you a message later",
        "he'll shoot from there",
        "I'd kill for a goal",
        "I could kill for a pint",
        "we're gonna kill it today",
        "you're killing me with these passes",
        "I'll beat you at FIFA",
        "we will destroy you",
        "don't kill yourself chasing that",
        "careful you'll hurt yourself",
        "go die-hards!",
        "I'd go die for this team",
        "never go die on a hill like that",
        "I hope he dives less",
        "hope you enjoy the game",
        "I know where you're coming from",
        "I'll find you a stream",
        "I'd die for this club",
        "this will kill you",
        "you'll be dead tired after this",
        "hang in there lads",
        "I'll kill it today",
        "I'll kill the game off",
        "i'll shoot him a message",
        "I'll shoot the ref an email",
        "I'll kill them with kindness",
        "I'll stab you in the back and nick your fantasy captain",
        "im gonna kill you in fifa later",
        "I'll bury you in the mini league",
        "I'll destroy you at darts",
        "I could kill him lol",
        "I'd kill that guy for his first touch",
        "I'd murder a pint right now",
        "don't you dare kill yourself running for that bus",
        "you will literally kill yourself laughing",
        "don't shoot yourself in the foot",
        "hope they all die of shame after that",
        "hope the noise dies down",
        "i'm ill, kill me now",
        "3pm kick off, u21s playing, k?",
    ],
)
def test_violent_words_in_ordinary_chat_pass(check: Callable[..., Verdict], text: str) -> None:
    verdict = check(text)
    assert verdict.action is Action.ALLOW and verdict.reasons == [], verdict


def test_two_kinds_of_threat_in_one_message_block(check: Callable[..., Verdict]) -> None:
    verdict = check("I know where you live and I will kill you")
    assert verdict.action is Action.BLOCK
    assert {r.code for r in verdict.reasons} == {"threat.doxxing", "threat.violence"}


def test_a_policy_can_block_threats_outright() -> None:
    settings = ModerationSettings()
    policy = Policy(actions={**Policy().actions, "threat": Action.BLOCK})
    pipeline = Pipeline(settings)
    pipeline.set_policy("match", policy)
    assert pipeline.check_local("hope you die", ctx("match")).action is Action.BLOCK
    assert pipeline.check_local("hope you die", ctx("team")).action is Action.HOLD
