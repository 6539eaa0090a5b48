"""Pure pieces of the real-time layer: frames, limits, typing, presence diffs, remote log."""

from __future__ import annotations

import asyncio

import pytest

from service.errors import ErrorCode, SidelineError
from service.protocol import frames as f
from service.realtime.coalesce import Throttle
from service.realtime.dispatch import decode, refs_of
from service.realtime.envelope import Out
from service.realtime.limits import FloodGuard, TokenBucket
from service.realtime.presence.base import RoomPresence
from service.realtime.resume import RemoteLog
from service.realtime.roster import diff
from service.realtime.typing_gate import TypingGate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_decode_dispatches_on_type():
    frame = decode('{"type":"send","room":"match:1","client_msg_id":"c1","text":"hi","ref":"r"}')
    assert isinstance(frame, f.Send) and frame.text == "hi" and frame.ref == "r"
    assert isinstance(decode('{"type":"react","room":"match:1","emoji":"x"}'), f.React)


@pytest.mark.parametrize(
    ("raw", "code", "at"),
    [
        ('{"type":"dance"}', ErrorCode.UNKNOWN_FRAME, "$.type"),
        ('{"room":"match:1"}', ErrorCode.UNKNOWN_FRAME, "$.type"),
        ("{oops", ErrorCode.INVALID_BODY, "$"),
        ('{"type":"vote","room":"m:1","poll_id":"p","option":-1}', ErrorCode.INVALID_BODY, "$.option"),
        ('{"type":"join","room":""}', ErrorCode.INVALID_BODY, "$.room"),
        # an unknown or missing field is named itself, as in an HTTP body
        ('{"type":"ping","x":1}', ErrorCode.INVALID_BODY, "$.x"),
        ('{"type":"send","room":"m:1","text":"hi"}', ErrorCode.INVALID_BODY, "$.client_msg_id"),
        ('{"type":"send","room":"m:1","client_msg_id":"c","text":"hi","metadata":{"os":1}}',
         ErrorCode.INVALID_BODY, "$.metadata.os"),
        ('{"type":"ping","x":' + "[" * 5000 + "]" * 5000 + "}", ErrorCode.INVALID_BODY, "$.x"),
        ('{"x":' + "[" * 5000 + "]" * 5000 + ',"type":"ping"}', ErrorCode.INVALID_BODY, "$"),
        (b'{"type":"ping"}', ErrorCode.INVALID_BODY, "$"),  # a binary frame
    ],
)
def test_decode_errors_name_what_and_where(raw, code, at):
    with pytest.raises(SidelineError) as err:
        decode(raw)
    assert err.value.code is code and err.value.at == at


def test_refs_of_a_bad_frame():
    assert refs_of('{"type":"send","ref":"r9","room":"match:1","text":5}') == ("r9", "match:1")
    assert refs_of("[]") == (None, None)
    assert refs_of('{"ref":"r9","x":' + "[" * 5000 + "]" * 5000 + "}") == (None, None)


def test_server_frames_round_trip_and_omit_defaults():
    text = f.encode(f.Error(code="x", message="y"))
    assert text == '{"type":"error","code":"x","message":"y"}'
    assert f.server_decoder.decode(text) == f.Error(code="x", message="y")


def test_token_bucket_and_flood_guard():
    clock = Clock()
    guard = FloodGuard(TokenBucket(rate=2, burst=3, clock=clock), max_strikes=2)
    assert [guard.admit() for _ in range(4)] == [True, True, True, False]
    assert guard.retry_after() == pytest.approx(0.5)
    assert not guard.admit() and guard.exhausted
    clock.now += 0.5
    assert guard.admit() and guard.strikes == 0


def test_typing_throttled_per_user_and_off_in_big_rooms():
    clock = Clock()
    gate = TypingGate(throttle_seconds=2, max_room_size=10, clock=clock)
    assert gate.allow("r", "u1", 5)
    assert not gate.allow("r", "u1", 5)
    assert gate.allow("r", "u2", 5)
    clock.now += 2
    assert gate.allow("r", "u1", 5)
    assert not gate.allow("r", "u3", 11) and not gate.enabled(11)


def test_presence_diff():
    small = RoomPresence(count=2, members={"a": "A", "b": "B"})
    assert diff("r", None, small) == f.Presence(
        room="r", count=2, full=True, members=[f.Member(user_id="a", name="A"), f.Member(user_id="b", name="B")]
    )
    after = RoomPresence(count=2, members={"a": "A", "c": "C"})
    assert diff("r", small, after) == f.Presence(
        room="r", count=2, joined=[f.Member(user_id="c", name="C")], left=["b"]
    )
    assert diff("r", after, after) is None
    big = RoomPresence(count=500)
    assert diff("r", after, big) == f.Presence(room="r", count=500)
    assert diff("r", big, RoomPresence(count=500)) is None


def out(seq: int, epoch: str = "E", to: str | None = None) -> Out:
    return Out(room="r", to=to, text=str(seq), seq=seq, epoch=epoch)


def test_remote_log_replays_what_a_client_missed():
    log = RemoteLog(size=3)
    log.add(out(1))
    assert log.since("r", {}, "u") is None and not log.known("r"), "not held here: not kept"
    log.track("r")
    boot = log.boot("r")
    for seq in (5, 7, 9):
        log.add(out(seq))
    assert [o.seq for o in log.since("r", {"E": 5}, "u")] == [7, 9]
    assert log.latest("r") == {"E": 9}
    log.add(out(11, to="someone-else"))  # evicts 5
    assert [o.seq for o in log.since("r", {"E": 7}, "u")] == [9]
    assert log.since("r", {"E": 4}, "u") is None, "5 was evicted: cannot prove completeness"
    log.forget("r")
    assert log.since("r", {"E": 11}, "u") is None and log.boot("r") == ""
    log.track("r")
    assert log.boot("r") not in ("", boot), "a new record: old positions resync"


def test_remote_log_forgets_idle_rooms_after_the_linger_or_beyond_the_cap():
    log = RemoteLog(size=3, linger=60.0, max_idle=2)
    for room in ("a", "b", "c", "d"):
        log.track(room)
    log.release("a", now=0.0)
    log.release("b", now=10.0)
    log.sweep(now=59.0)
    assert len(log) == 4
    log.sweep(now=60.0)
    assert (log.boot("a"), len(log)) == ("", 3), "idle for the linger: forgotten"
    log.release("c", now=20.0)
    log.track("b")  # a socket came back: no longer idle
    log.release("d", now=30.0)
    log.sweep(now=75.0)
    assert len(log) == 3, "c and d idle for less than the linger; b held"
    log.release("b", now=80.0)  # a third idle room: the longest idle one goes
    assert (log.boot("c"), len(log)) == ("", 2)
    log.sweep(now=10_000.0)
    assert len(log) == 0


async def test_throttle_leading_edge_then_at_most_once_per_interval():
    fired: list[float] = []
    loop = asyncio.get_running_loop()
    throttle: Throttle[str] = Throttle(0.1, lambda key: fired.append(loop.time()))

    async def until(n: int) -> None:  # waits, not timings: a loaded machine only makes it later
        async with asyncio.timeout(5):
            while len(fired) < n:
                await asyncio.sleep(0.005)

    throttle.mark("r")
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # two turns of the loop, not a time (a process stalled for 0.1 s failed that)
    assert len(fired) == 1, "quiet room: at once, not after the interval"
    for _ in range(5):
        throttle.mark("r")
    await until(2)
    assert fired[1] - fired[0] >= 0.099, "then at most once per interval"
    await asyncio.sleep(0.2)
    assert len(fired) == 2, "the five marks fire once"


def test_origins_compare_by_scheme_host_and_port():
    from service.api.websocket import origin_allowed, origin_key

    assert origin_key("HTTPS://App.Example") == ("https", "app.example", 443)
    assert origin_key("http://[::1]:8000/") == ("http", "::1", 8000)
    for bad in ("null", "", "file://", "ws://a.example", "http://u@a.example", "http://a.example/x",
                "http://a.example:99999"):  # fmt: skip
        assert origin_key(bad) is None, bad
    own = "http://127.0.0.1:8000"
    assert origin_allowed(None, [], own), "no Origin: not a browser"
    assert origin_allowed("https://any.example", ["*"], own)
    assert origin_allowed("http://127.0.0.1:8000", ["https://app.example"], own)
    assert not origin_allowed("http://localhost:8000", ["https://app.example"], own)
    assert not origin_allowed("null", ["null"], own), "an opaque origin is never listed"
