"""name_keys: the map key msgspec writes as ``[...]`` in an error path, named from the input."""

from __future__ import annotations

import msgspec
import pytest

from service.protocol.keypath import name_keys


class Leaf(msgspec.Struct, forbid_unknown_fields=True):
    n: int


class Tree(msgspec.Struct, forbid_unknown_fields=True):
    maps: dict[str, dict[str, Leaf]] = {}
    rows: list[dict[str, int]] = []
    after: int = 0


def refused(raw: object) -> str:
    with pytest.raises(msgspec.ValidationError) as err:
        msgspec.convert(raw, Tree, strict=True)
    at = str(err.value).rsplit(" - at `", 1)[1][:-1]
    return name_keys(at, raw, Tree)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"maps": {"a": {"x": {"n": 1}}, "b": {"y": {"n": 1}, "z": {"n": "2"}}}}, "$.maps.b.z.n"),
        ({"maps": {"a": {"odd key": {"n": 1, "m": 2}}}}, "$.maps.a['odd key']"),
        ({"rows": [{"a": 1}, {"b": 2, "c": "3"}]}, "$.rows[1].c"),
        # a value refused elsewhere (after the map) does not make a good key look refused
        ({"maps": {"a": {"ok": {"n": 1}, "bad": {"n": None}}}, "after": "x"}, "$.maps.a.bad.n"),
    ],
)
def test_the_refused_key_is_named(raw, named):
    assert refused(raw) == named


def test_a_path_without_a_map_or_not_matching_the_input_is_left_as_it_is():
    assert name_keys("$.after", {"after": "x"}, Tree) == "$.after"
    assert name_keys("$.maps[...]", {"maps": []}, Tree) == "$.maps[...]"
    assert name_keys("not a path", {}, Tree) == "not a path"
