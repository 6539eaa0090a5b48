"""A node killed while Redis refused its writes writes the stream entries it lost at start.

Node A commits a message while Redis refuses every script (ACL: its publishes and its writes
to the recent stream fail; reads still work, and Redis keeps what it held, A's mark among it),
and is killed with the entry still waiting in its memory. Its log has the message; the
stream never got it, so a node that started later did not show it. Now A, started again,
finds its log's events past its mark (``<prefix>:recent-written``) and writes them first.
"""

from __future__ import annotations

import pytest

from tests.fixtures.ws import WsClient
from tests.integration.realtime.test_lost_envelopes import plain_redis, post, texts
from tests.integration.realtime.test_standing_outage import eventually
from tests.integration.realtime.test_two_nodes import start_two

pytestmark = pytest.mark.slow


def stream_texts(url: str) -> list[str]:
    import msgspec

    with plain_redis(url) as r:
        entries = r.xrange("sideline:recent")
    return [
        msgspec.json.decode(fields[b"e"]).get("payload", {}).get("text", "")
        for _, fields in entries if b"e" in fields
    ]  # fmt: skip


async def test_a_node_writes_at_start_the_stream_entries_its_killed_process_kept(
    start_server, own_redis
):
    a, b = start_two(start_server, own_redis.url)
    ann = await WsClient.login(a, "ann")
    await post(ann, "before", "c0")
    await eventually(lambda: "before" in stream_texts(own_redis.url))
    with plain_redis(own_redis.url) as r:
        r.execute_command("ACL", "SETUSER", "default", "-evalsha", "-eval")
        try:
            await post(ann, "during", "d0")  # in A's log; its envelope and entry fail
            a.kill()
        finally:
            r.execute_command("ACL", "SETUSER", "default", "+@all")
    assert "during" not in stream_texts(own_redis.url)
    a.start()
    await eventually(lambda: stream_texts(own_redis.url).count("during") == 1)
    assert b.stop() in (0, -15)
    b.start()  # reads the stream at start: A's message of the outage is in its history, once
    eve = await WsClient.login(b, "eve")
    assert texts(eve.joined) == ["before", "during"], eve.joined
    a.kill()
    a.start()  # written already: not again
    await post(await WsClient.login(a, "ann"), "after", "c9")
    await eventually(lambda: "after" in stream_texts(own_redis.url))
    assert stream_texts(own_redis.url).count("during") == 1
