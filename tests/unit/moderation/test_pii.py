"""Personal data is masked in place; look-alike numbers and words are left alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.moderation import Action, ModerationSettings, Pipeline, Verdict
from service.moderation.pii.iban import mod97
from service.moderation.pii.numbers import luhn

from .conftest import ctx


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call me on +44 7911 123456 after", "call me on [phone] after"),
        ("(201) 555-0123 is my cell", "[phone] is my cell"),
        ("appelle-moi au 06 12 34 56 78", "appelle-moi au [phone]"),
        ("ruf an: 030 12345678", "ruf an: [phone]"),
        ("+55 11 91234-5678 zap", "[phone] zap"),
        ("call me 98765 43210", "call me [phone]"),
        ("0044 7700 900123 for a lift", "[phone] for a lift"),
        ("0 7 7 0 0 9 0 0 1 2 3", "[phone]"),
        ("07700.900.123 or 07700_900_456", "[phone] or [phone]"),
        ("oh seven seven double oh nine double oh one two three", "[phone]"),
        ("my number is four one five, five five five, two six seven one", "my number is [phone]"),
        ("null eins sieben eins, zwei drei vier fünf sechs sieben acht", "[phone]"),
        ("٠٧٧٠٠ ٩٠٠١٢٣ اتصل", "[phone] اتصل"),
        ("０７７００ ９００１２３", "[phone]"),
    ],
)
def test_phone_numbers_are_masked(check: Callable[..., Verdict], text: str, masked: str) -> None:
    verdict = check(text)
    assert (verdict.action, verdict.text, verdict.altered) == (Action.MASK, masked, True)
    assert {r.code for r in verdict.reasons} == {"pii.phone"}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("email me at john.smith@gmail.com.", "email me at [email]."),
        ("j.doe+tickets@company.co.uk thanks", "[email] thanks"),
        ("Email: mike.o'brien@outlook.com", "Email: [email]"),
        ("john.smith at gmail dot com", "[email]"),
        ("john.smith (at) gmail [dot] com", "[email]"),
        ("john dot smith at gmail dot com ok", "[email] ok"),
        ("j.smith @ gmail . com", "[email]"),
        ("j o h n @ g m a i l . c o m", "[email]"),
        ("ｊｏｈｎ＠ｇｍａｉｌ．ｃｏｍ", "[email]"),
        ("message john.smith at gmail", "message [email]"),
        ("pierre (at) orange (point) fr", "[email]"),
        ("ana.souza arroba gmail ponto com", "[email]"),
        ("jоhn.smith@gmаil.com", "[email]"),  # Cyrillic о and а
        ("lukas at web dot de", "[email]"),  # a webmail host
        ("mike_r at sky dot com for the tickets", "[email] for the tickets"),  # an address
        ("email me: sarah at acmeclub dot com", "email me: [email]"),  # said to be one
    ],
)
def test_emails_are_masked(check: Callable[..., Verdict], text: str, masked: str) -> None:
    verdict = check(text)
    assert (verdict.action, verdict.text) == (Action.MASK, masked), verdict


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("card 4111 1111 1111 1111 exp 12/27", "card [card] exp 12/27"),
        ("4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "[card]"),
        ("amex 3782 822463 10005", "amex [card]"),
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [iban] thanks"),
        ("gb82 west 1234 5698 7654 32", "[iban]"),
        ("NL91ABNA0417164300", "[iban]"),
    ],
)
def test_cards_and_ibans_are_masked(check: Callable[..., Verdict], text: str, masked: str) -> None:
    assert check(text).text == masked


@pytest.mark.parametrize(
    "text",
    [
        "2-1 at 19:45, kick off 20:00",
        "results 2-1 3-0 1-1 2-2",
        "1998 2002 2006 2010 2014",
        "12/03/2024 and 2024-03-12 19:45:00",
        "match:4839201 and order #48392017",
        "tickets £1,299.00, beer € 12.50, BTC 64,250.12",
        "volume 12,345,678 and 1 000 000 views",
        "192.168.0.1 is the router",
        "formation 4-2-3-1 then 4-3-3",
        "countdown 10 9 8 7 6 5 4 3 2 1",
        "lottery numbers 4 8 15 16 23 42",
        "odds 2.10 / 3.40 / 3.25",
        "gift code 4111 1111 1111 1112",  # fails the Luhn check
        "section AB12 row 4, car reg AB12 CDE, flight BA2490",
        "follow @sportsdesk, meet @ gate 4",
        "look at bbc.co.uk for the lineups",
        "we are at yahoo this week",
        "highlights at espn dot com",  # a phrase naming a site: a link, not an address
        "get tickets at ticketmaster dot com",
        "more at bbc dot co dot uk",
        "one of the two best, three points",
        "points table: 86 84 79 75 71 70 68",  # sorted lists, of any widths
        "darts: 180 140 100 60 26 on that leg",
        "season stats 23 11 7 4 31 18",  # a single digit between pairs is no phone grouping
        "stats 12 45 23 88 17 31",  # pairs without a trunk 0
        "market cap 2 345 678 901 €, revenue $ 12 450 000",  # amounts grouped by spaces
        "unix time 1712345678, team id is 4815162342",  # unbroken, no trunk 0, no calling
        "ticket ref 555 0134 000 and order no. 2291 4471 889",  # ids after an id word, whole
        "confirmation number 7731 0042 9981",
    ],
)
def test_look_alikes_are_untouched(check: Callable[..., Verdict], text: str) -> None:
    verdict = check(text)
    assert not any(r.check == "pii" for r in verdict.reasons), verdict
    assert verdict.text == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # A phone after an id word is masked whole, not from its second group on.
        ("booking 0207 946 0000 confirmed", "booking [phone] confirmed"),
        ("ticket: 020 7946 0958", "ticket: [phone]"),
        ("order +44 20 7946 0321 asap", "order [phone] asap"),
        # Lists and groupings a phone is written in.
        ("numéro: 06 98 76 54 32", "numéro: [phone]"),  # sorted pairs, but a trunk 0
        ("call 4155552671", "call [phone]"),  # unbroken, but the text talks about calling
        ("my number 555 0134", "my number [phone]"),  # a local number, said to be one
        ("card 5555 5555 5555 4444 pls", "card [card] pls"),
    ],
)
def test_phones_are_masked_whole(check: Callable[..., Verdict], text: str, masked: str) -> None:
    assert check(text).text == masked


def test_a_card_needs_a_cards_grouping(check: Callable[..., Verdict]) -> None:
    # 14 digits passing the Luhn check, written as a points table
    assert luhn("86847975717068")
    assert check("86 84 79 75 71 70 68 after 30 games").action is Action.ALLOW


def test_national_numbers_are_read_as_their_region_writes_them() -> None:
    uk_only = Pipeline(ModerationSettings(phone_regions=["GB"]))
    # phonenumbers takes 207 946 0958 for 020 7946 0958, but no one in the UK writes it so
    assert uk_only.check_local("stand 207 946 0958", ctx()).action is Action.ALLOW
    assert uk_only.check_local("stand 020 7946 0958", ctx()).text == "stand [phone]"


def test_masking_changes_nothing_but_the_personal_data(check: Callable[..., Verdict]) -> None:
    text = "🔥 2-1! email sarah@icloud.com or ring 07700 900456 — see you at 19:45 👋"
    verdict = check(text)
    assert verdict.text == "🔥 2-1! email [email] or ring [phone] — see you at 19:45 👋"
    assert [r.code for r in verdict.reasons] == ["pii.email", "pii.phone"]


def test_pii_is_masked_even_when_the_message_is_blocked(check: Callable[..., Verdict]) -> None:
    verdict = check("fuck you, call 07700 900123")
    assert verdict.action is Action.BLOCK
    assert "900123" not in verdict.text and "[phone]" in verdict.text


def test_a_policy_may_hold_messages_with_personal_data() -> None:
    from service.moderation import Policy

    settings = ModerationSettings(policies={"default": Policy(actions={"pii": Action.HOLD})})
    verdict = Pipeline(settings).check_local("call 07700 900123", ctx())
    assert verdict.action is Action.HOLD
    assert verdict.text == "call [phone]"


def test_phone_regions_decide_national_numbers() -> None:
    us_only = Pipeline(ModerationSettings(phone_regions=["US"]))
    # A German landline is not a US number, and without a +49 nothing says it is German.
    assert us_only.check_local("ruf an 030 12345678", ctx()).action is Action.ALLOW
    assert us_only.check_local("+49 30 12345678", ctx()).action is Action.MASK


def test_luhn_and_mod97() -> None:
    assert luhn("4111111111111111") and not luhn("4111111111111112")
    assert mod97("gb82west12345698765432") and not mod97("gb82west12345698765433")
