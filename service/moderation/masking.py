"""Replace spans of a message, found in folded text, in its original text."""

from __future__ import annotations

from collections.abc import Iterable

from service.moderation.normalize import TextView


def apply_spans(view: TextView, spans: Iterable[tuple[int, int, str]]) -> str:
    """Return ``view.text`` with each folded span replaced.

    A replacement of "" means stars, one per original character. Overlapping spans merge
    into one that keeps the earlier span's replacement, so nothing of either survives.
    """
    mapped = sorted((*view.to_original(start, end), repl) for start, end, repl in spans)
    merged: list[tuple[int, int, str]] = []
    for start, end, repl in mapped:
        if merged and start < merged[-1][1]:
            first = merged[-1]
            merged[-1] = (first[0], max(first[1], end), first[2])
        else:
            merged.append((start, end, repl))
    text = view.text
    out, pos = [], 0
    for start, end, repl in merged:
        out.append(text[pos:start])
        out.append(repl or "*" * (end - start))
        pos = end
    out.append(text[pos:])
    return "".join(out)
