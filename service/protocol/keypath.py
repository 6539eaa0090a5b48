"""Naming the map key a refused value is under.

msgspec writes every key of a dict as ``[...]`` in the path of an error (``Invalid enum value
'nuke' - at `$.actions[...]```): it knows the path by type, not by value. A client or an
operator must be told which key (``$.actions.spam``), so :func:`name_keys` finds it again in
the input: msgspec stops at the first value it refuses, so the key is the first one of its map
whose value alone is refused there too.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

_SEGMENT = re.compile(r"\.(?P<field>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<index>\d+|\.\.\.)\]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_KEYS = 1_000
"""Maps with more keys than this are left as ``[...]``: each key tried converts the input once."""

Step = tuple[str, Any]
"""``("field", name)``, ``("index", n)`` or ``("key", key)`` (``None`` while not named)."""


def name_keys(at: str, raw: Any, target: Any, *, strict: bool = True) -> str:
    """``at`` (a msgspec error path into ``raw`` converted to ``target``) with each ``[...]``
    replaced by the key it stands for: ``.key``, or ``['key']`` for a key that is no name.
    Left as it is where the key cannot be told (the path does not match ``raw``)."""
    steps = _steps(at)
    if steps is None or not any(kind == "key" for kind, _ in steps):
        return at
    node, narrowed = raw, raw
    for i, (kind, value) in enumerate(steps):
        if kind == "key":
            if not isinstance(node, dict) or len(node) > _MAX_KEYS:
                return at
            found = _refused_key(at, narrowed, steps[:i], node, target, strict)
            if found is None:
                return at
            narrowed = _narrowed(narrowed, steps[:i], {found: node[found]})
            steps[i] = ("key", found)
            node = node[found]
        elif _holds(node, kind, value):
            node = node[value]
        else:
            return at
    return "$" + "".join(_render(step) for step in steps)


def _holds(node: Any, kind: str, value: Any) -> bool:
    if kind == "field":
        return isinstance(node, dict) and value in node
    return isinstance(node, list) and value < len(node)


def _refused_key(
    at: str, raw: Any, before: list[Step], table: dict[Any, Any], target: Any, strict: bool
) -> Any:
    """The first key of ``table`` (the map at ``before`` in ``raw``) whose value alone is
    refused at ``at`` again (a value refused elsewhere in ``raw`` does not count)."""
    for key, value in table.items():
        try:
            msgspec.convert(_narrowed(raw, before, {key: value}), target, strict=strict)
        except msgspec.ValidationError as exc:
            if str(exc).endswith(f" - at `{at}`"):
                return key
    return None


def _narrowed(raw: Any, path: list[Step], table: dict[Any, Any]) -> Any:
    """A copy of ``raw`` whose map at ``path`` holds ``table`` only (the rest shared)."""
    if not path:
        return table
    (_, step), rest = path[0], path[1:]
    if isinstance(raw, dict):
        return {**raw, step: _narrowed(raw[step], rest, table)}
    copy = list(raw)
    copy[step] = _narrowed(raw[step], rest, table)
    return copy


def _steps(at: str) -> list[Step] | None:
    if not at.startswith("$"):
        return None
    steps: list[Step] = []
    pos = 1
    while pos < len(at):
        found = _SEGMENT.match(at, pos)
        if found is None:
            return None
        if (field := found.group("field")) is not None:
            steps.append(("field", field))
        elif (index := found.group("index")) == "...":
            steps.append(("key", None))
        else:
            steps.append(("index", int(index)))
        pos = found.end()
    return steps


def _render(step: Step) -> str:
    kind, value = step
    if kind == "index":
        return f"[{value}]"
    if isinstance(value, str) and _NAME.match(value):
        return f".{value}"
    return f"[{value!r}]"
