"""The cross-node report claims (``service.realtime.report_claims``) against a real redis-server."""

from __future__ import annotations

import asyncio
import uuid

from service.realtime.place_claims import PlaceClaim
from service.realtime.report_claims import REPORTED, RedisReports


def nodes(redis_url: str) -> tuple[RedisReports, RedisReports]:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    return RedisReports(redis_url, "a", prefix=prefix), RedisReports(redis_url, "b", prefix=prefix)


async def test_the_reporters_of_a_message_are_every_place_held_and_a_drop_starts_them_again(redis_url):
    a, b = nodes(redis_url)
    try:
        ann = await a.take("m1", "ann")
        assert ann == PlaceClaim(taken=True)
        a.seal("m1", "ann", ann, REPORTED)
        bob = await b.take("m1", "bob")  # b is still writing bob's report
        await asyncio.sleep(0.1)
        places = await a.places("m1")
        assert places is not None and places["ann"] == REPORTED and places["bob"].startswith("b|pending|")
        assert await b.take("m1", "ann") == PlaceClaim(holder=REPORTED), "a second report of ann"
        assert (await a.places("m2")) == {}, "another message's reporters are its own"
        await b.release("m1", "bob", bob)  # bob's report was not written
        assert set(await a.places("m1") or {}) == {"ann"}
        a.drop("m1")  # approved: the count starts again
        await asyncio.sleep(0.1)
        assert await a.places("m1") == {}
        assert (await b.take("m1", "ann")).taken
    finally:
        await a.close()
        await b.close()
