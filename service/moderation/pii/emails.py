"""Email addresses, including the forms people use to slip them past filters.

Plain ``name@host.tld``; spaced ``name @ host . com``; spelled ``name at host dot com``,
``name (at) host [dot] com``; full-width ``ｎａｍｅ＠ｈｏｓｔ．ｃｏｍ`` (folded to ASCII before we
get here); spaced-out letters ``n a m e @ h o s t . c o m``; a bare webmail host
``name at gmail``. The word ``at`` alone is the weak form: ``tickets at ticketmaster.com``,
``highlights at espn dot com`` or ``we are at yahoo`` are not addresses but a phrase naming a
site (a link, which the spam check judges). So with a bare ``at`` the local part must be an
address itself (``john.smith``, ``john dot smith``, ``mike_94``, ``tom88``), or the host a
webmail provider (``lukas at web dot de``), or the text say it is an email (``email me:
sarah at acmeclub dot com``); and it is never an ordinary word such as ``me`` or ``work``.
"""

from __future__ import annotations

import re


def _words(text: str) -> tuple[str, ...]:
    """Split a readable word list."""
    return tuple(text.split())


_TLDS = _words(
    "com net org edu gov mil io co uk de fr es it nl br in au ca ru jp mx ar pl se no dk fi be ch "
    "at pt ie info biz me us eu ai app dev xyz online live email mail tv cc ro gr tr za nz"
)
_WEBMAIL = _words(
    "gmail googlemail yahoo ymail hotmail outlook live msn icloud me proton protonmail pm aol gmx "
    "yandex mail zoho qq 163 web orange free libero wanadoo"
)
_STOPWORDS = frozenset(
    _words(
        "i me you he she it we they him her us them who what which that this there here is am are "
        "was were be been being works work working job live lives living stay staying staying "
        "meet met found find look looking see seen saw check email mail contact reach write ping "
        "message text call sent send and or but so then now just only also still even a an the my "
        "your his our their its one some all any not no yes"
    )
)

_AT_WORD = r"(?:at|arroba)"
_DOT_WORD = r"(?:dot|point|punto|ponto|punkt)"
_AT = (
    rf"(?:@|\(\s*(?:{_AT_WORD}|@)\s*\)|\[\s*(?:{_AT_WORD}|@)\s*\]|\{{\s*(?:{_AT_WORD}|@)\s*\}}"
    rf"|<\s*(?:{_AT_WORD}|@)\s*>|\b{_AT_WORD}\b)"
)
_DOT = (
    rf"(?:\.|\(\s*(?:{_DOT_WORD}|\.)\s*\)|\[\s*(?:{_DOT_WORD}|\.)\s*\]"
    rf"|\{{\s*(?:{_DOT_WORD}|\.)\s*\}}|<\s*{_DOT_WORD}\s*>|\b{_DOT_WORD}\b)"
)
_PART = r"[\w%+\-]{1,64}"
_LOCAL = rf"(?<![\w.%+\-]){_PART}(?:\s*{_DOT}\s*{_PART}){{0,4}}"
_DOMAIN = rf"[\w\-]{{1,63}}(?:\s*{_DOT}\s*[\w\-]{{1,63}}){{0,3}}"

_PLAIN = re.compile(
    r"(?<![\w.%+\-'])[\w.%+\-']{1,64}@[\w\-]{1,63}(?:\.[\w\-]{1,63}){0,4}\.[a-z]{2,24}\b"
)
_WORDY = re.compile(
    rf"{_LOCAL}\s*{_AT}\s*{_DOMAIN}\s*{_DOT}\s*(?:{'|'.join(_TLDS)})\b"
    rf"|{_LOCAL}\s*{_AT}\s*(?:{'|'.join(_WEBMAIL)})\b"
)
_BARE_AT = re.compile(rf"\s+{_AT_WORD}\s+")
_SPELLED_DOT = re.compile(rf"\b{_DOT_WORD}\b|[(\[{{<]\s*(?:{_DOT_WORD}|\.)\s*[)\]}}>]|\s\.|\.\s")
_SPACED = re.compile(r"(?<!\S)(?:\S ){3,}\S(?!\S)")
# An address-like local part: separators or digits inside it ("john.smith", "mike_94").
_ADDRESS_LOCAL = re.compile(r"[\d._%+\-]")
# Words before a spelled address that say it is one ("email me:", "my mail is", "contact").
_EMAIL_CUE = re.compile(r"\b(?:e-?mail|mail|contact|write|address|addy|correo|courriel)\b")
_CUE_BEFORE = 32  # characters before the address where such a word is looked for

# Tokens that show a spelled-out address may follow an "at": a webmail host, or a top-level
# domain that is not also a common word ("in", "me", "it", "us" ... are left out here; with a
# spelled "dot" they are still found).
_HOST_HINTS = frozenset(_WEBMAIL) | (
    frozenset(_TLDS)
    - frozenset(_words("in me it at us no be es co de is am so pm do go to on or an tv"))
)


_AT_WORDS = frozenset(["at", "arroba"])
_DOT_WORDS = frozenset(["dot", "point", "punto", "ponto", "punkt"])


def find_emails(folded: str, tokens: frozenset[str]) -> list[tuple[int, int, str]]:
    """Email spans in folded text."""
    has_at = "@" in folded
    if (
        not has_at
        and _DOT_WORDS.isdisjoint(tokens)
        and (_AT_WORDS.isdisjoint(tokens) or _HOST_HINTS.isdisjoint(tokens))
    ):
        return []
    spans = [(m.start(), m.end(), "email") for m in _PLAIN.finditer(folded)] if has_at else []
    for m in _WORDY.finditer(folded):
        if any(s <= m.start() < e for s, e, _ in spans):
            continue
        cue = _EMAIL_CUE.search(folded, max(0, m.start() - _CUE_BEFORE), m.start()) is not None
        if _plausible(m.group(), cue):
            spans.append((m.start(), m.end(), "email"))
    spans.extend(s for s in _spaced_out(folded) if not any(a <= s[0] < b for a, b, _ in spans))
    return spans


def _plausible(text: str, cue: bool) -> bool:
    """Reject the weak ``word at site dot com`` forms that are places, jobs and websites.

    ``cue``: the words just before say an email address follows.
    """
    if "@" in text or "(" in text or "[" in text or "{" in text or "<" in text:
        return True
    parts = _BARE_AT.split(text, maxsplit=1)
    if len(parts) != 2:
        return True
    local, domain = parts[0].strip(), parts[1].strip()
    if local in _STOPWORDS:
        return False
    if _ADDRESS_LOCAL.search(local) or _SPELLED_DOT.search(local):
        return True
    host = re.split(r"\W", domain, maxsplit=1)[0]
    return host in _WEBMAIL or cue


def _spaced_out(folded: str) -> list[tuple[int, int, str]]:
    """``j o h n @ g m a i l . c o m``: join single characters and look again."""
    if "@" not in folded:
        return []
    spans = []
    for m in _SPACED.finditer(folded):
        joined = m.group().replace(" ", "")
        if _PLAIN.fullmatch(joined):
            spans.append((m.start(), m.end(), "email"))
    return spans
