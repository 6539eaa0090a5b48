"""The default blocklist: better-profanity's word list, minus words that are not abuse in chat.

better-profanity ships 916 entries, many of which are ordinary in live sports, video and
trading chat ("kill", "stroke", "snatch", "hooker", "penetration", "spac", "massa", "strip",
"niggle") or mild enough that blocking them would block half a stadium ("damn", "hell",
"crap", "wtf"). The exclusions below are grouped by why; a room kind can add words back with
its own ``blocklist`` or remove more with its ``allowlist``.
"""

from __future__ import annotations

import functools
from importlib import resources

_EXCLUDED_GROUPS: dict[str, str] = {
    "mild or everyday": """
        crap damn hell he11 god god-dam god-damned godamn godamnit goddam goddammit goddamn
        goddamned omg lmao lmfao wtf fubar foobar jerk jerked dummy doofus dopey stupid ugly
        fat drunk weirdo nimrod ninny moron prude sissy tramp trashy vulgar racy steamy lust
        lusting lusty seduce kinky suck sucked sucking screw screwed screwing fart poop pee
        peepee potty tinkle whiz wazoo wedgie undies weewee toots tush pissed drunk boner
        sleaze sleazy souse soused thug leper scantily tawdry raunch pms maxi quicky fanny
        """,
    "sports, trading and media terms": """
        kill murder sniper napalm uzi thrust stroke strip snatch hooker penetrate penetration
        slave niggle dink dinks hump humped humping muff flange spac pawn slope sandbar revue
        organ fisting fisty fingering facial erect erection enlargement rump knob nob nad nads
        pot rum vodka weed hemp heroin meth opium opiate pcp peyote valium reefer ganja hooch
        hootch hookah junkie junky stoned toke viagra extacy extasy kinbaku shibari shibary
        dogging doggin vomit snuff wad
        """,
    "names and places": """
        massa guido yury len asanchez arian aryan paddy pollock wang willy willies woody
        weiner hoare hoar titi gai gae hebe dong gringo gaylord
        """,
    # Slurs that are also ordinary words or names ("a chink in the armour", Greg Dyke, Dyke
    # Road): the hate check judges them by how they are used (hate.slur), a word list cannot.
    "slurs with an ordinary sense": "chink dyke dykes",
    "anatomy, health and identity": """
        anus anal breasts uterus ovary ovum ovums womb menses menstruate menstruation tampon
        urine urinal hymen labia vagina vag vulva penis penile penial pubic pubis pube rectal
        rectum rectus scrotum testes teste testee testis testical testicle glans gonad gonads
        nipple nipples loin loins phallic phalli teat crotch areole herpes herp herpy hiv
        virgin unwed nude naked sex sexual transsexual gay gays homo homoerotic lesbians
        lezbian lezbians queer queers sperm semen seaman seamen oral orally boob boobs breast
        busty cowgirl cowgirls perversion sadism sadist masochist negro
        """,
    "history and politics": "hitler nazi nazism reich",
    "food, objects and other false friends": """
        pasty pastie nutbutter panty pantie panties hooter hooters bimbo bimbos gigolo
        prostitute wench vixen playboy spunk pinko punky puss pecker lube fondle freex frigg
        frigga floozy erotic erotism homey hoer hore tit xx xxx yaoi sodom ruski nig pimp
        """,
}
EXCLUDED: frozenset[str] = frozenset(
    w for group in _EXCLUDED_GROUPS.values() for w in group.split()
)

# Multi-word entries in the list that are ordinary phrases.
EXCLUDED_PHRASES = frozenset(
    {
        "three some",
        "cow girl",
        "cow girls",
        "booty call",
        "strip club",
        "dog style",
        "auto erotic",
        "jack off",
    }
)

EXTRA_ENTRIES = (
    "cvnt", "fck", "fckn", "fckin", "fcking", "fkin", "fking", "kys", "biatch", "nonce",
    "scumbag", "cuck", "kunt", "fuq", "fuxk", "fuxking", "niqqer", "niqqa", "spastic",
)  # fmt: skip
"""Common evasive spellings, slurs and insults missing from better-profanity's list."""

DEFAULT_ALLOW = ("scunthorpe", "shitake", "penistone", "cummings")
"""Place names, surnames and words that contain a strong stem or a plural of a blocked word
(Cummings, the surname, is not "cumming" plus s); never blocked by stem or spacing."""

STRONG_PREFIXES = (
    "fuck", "fuk", "fck", "fvck", "phuck", "shit", "cunt", "bitch", "twat", "nigger", "nigga",
    "faggot", "whore", "slut", "asshole", "motherfuck", "dickhead", "cocksuck",
)  # fmt: skip
"""Stems blocked at the start of any word too (``fuckoff``, ``shitshow``). Never stems that
start ordinary words (``cock``: cocktail, ``wank``: Wankel, ``dick``: Dickens)."""

STRONG_SUFFIXES = (
    "fuck", "fucker", "fucking", "shit", "cunt", "bitch", "whore", "slut", "asshole",
    "nigger", "nigga", "faggot",
)  # fmt: skip
"""Stems blocked at the end of any word too (``bullshit``, ``sonofabitch``). ``cunt`` is a
suffix and prefix stem but never a substring: Scunthorpe United must stay playable."""


_LEET = str.maketrans("0134567890@$!|+", "oieasgtbgoasiit")


def _canonical(entry: str) -> str:
    return "".join(ch for ch in entry.translate(_LEET) if ch.isalpha())


@functools.cache
def default_entries() -> tuple[str, ...]:
    """better-profanity's entries (as shipped in its package) minus the exclusions."""
    ref = resources.files("better_profanity").joinpath("profanity_wordlist.txt")
    entries = []
    for line in ref.read_text(encoding="utf-8").splitlines():
        entry = line.strip().lower()
        if not entry or "*" in entry or entry in EXCLUDED or entry in EXCLUDED_PHRASES:
            continue
        if _canonical(entry) in EXCLUDED:  # "n1g" is "nig", which is excluded
            continue
        entries.append(entry)
    return (*entries, *EXTRA_ENTRIES)
