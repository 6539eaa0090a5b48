"""The cross-node vote claims (``service.realtime.vote_claims``) against a real redis-server."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from service.realtime.vote_claims import CLOSED, RedisVotes, VoteClaim


def nodes(redis_url: str, **kw: float) -> tuple[RedisVotes, RedisVotes, str]:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    return RedisVotes(redis_url, "a", prefix=prefix, **kw), RedisVotes(redis_url, "b", prefix=prefix, **kw), prefix


async def test_a_place_is_held_pending_then_by_its_option_and_released_only_by_its_node(redis_url):
    a, b, _ = nodes(redis_url)
    try:
        mine = await a.take("p1", "ann")
        assert mine == VoteClaim(taken=True)
        held = await b.take("p1", "ann")
        assert held.holder is not None and held.pending_on == "a"
        assert (await b.take("p1", "bob")).taken, "another user's place is free"
        await b.release("p1", "ann", held)  # not b's: nothing happens
        await b.release("p1", "ann", VoteClaim(taken=True))
        assert (await b.take("p1", "ann")).pending_on == "a"
        a.seal("p1", "ann", mine, 1)
        await asyncio.sleep(0.1)
        assert await b.take("p1", "ann") == VoteClaim(holder="1")
        assert (await a.take("p1", "ann")).holder == "1", "a sealed place is not a leftover"
        a.forget("p1")
        await asyncio.sleep(0.1)
        assert await b.take("p1", "cat") == VoteClaim(holder=CLOSED), "a closed poll takes no vote"
    finally:
        await a.close()
        await b.close()


async def test_a_refused_vote_frees_the_place(redis_url):
    a, b, _ = nodes(redis_url)
    try:
        claim = await a.take("p1", "ann")
        await a.release("p1", "ann", claim)
        assert (await b.take("p1", "ann")).taken
    finally:
        await a.close()
        await b.close()


async def test_a_pending_place_is_taken_over_past_its_deadline_and_a_leftover_of_this_node_at_once(redis_url):
    a, b, prefix = nodes(redis_url, pending_seconds=0.3, kept_seconds=60)
    again = RedisVotes(redis_url, "a", prefix=prefix, kept_seconds=60)  # node a's next process
    try:
        assert (await a.take("p1", "ann")).taken
        assert (await b.take("p1", "ann")).pending_on == "a"
        await asyncio.sleep(0.4)  # a died half-way: its claim runs out
        assert (await b.take("p1", "ann")).taken
        assert (await again.take("p1", "bob")).taken
        assert (await again.take("p1", "bob")).taken, "this node's own pending claim is a leftover"
        r = aioredis.from_url(redis_url)
        try:
            ttl = await r.pttl(f"{prefix}:votes:p1")
        finally:
            await r.aclose()
        assert 50_000 < ttl <= 60_000, "the poll's places are kept kept_seconds after its last vote"
    finally:
        for v in (a, b, again):
            await v.close()


async def test_a_close_waits_for_the_votes_other_nodes_are_writing_and_refuses_later_ones(redis_url):
    a, b, _ = nodes(redis_url, pending_seconds=5)
    try:
        sealed = await b.take("p1", "ann")
        b.seal("p1", "ann", sealed, 0)
        writing = await b.take("p1", "bob")  # b is still writing bob's vote

        async def written() -> None:
            await asyncio.sleep(0.3)
            b.seal("p1", "bob", writing, 1)

        later = asyncio.create_task(written())
        started = asyncio.get_running_loop().time()
        assert await a.closing("p1") == {"ann": 0, "bob": 1}
        assert asyncio.get_running_loop().time() - started >= 0.25, "it did not wait for bob's"
        await later
        assert await b.take("p1", "cat") == VoteClaim(holder=CLOSED)
        # a vote whose node died half-way holds the close no longer than its deadline
        c, d, _ = nodes(redis_url, pending_seconds=0.3)
        try:
            assert (await c.take("p2", "ann")).taken
            assert await d.closing("p2") == {}
        finally:
            await c.close()
            await d.close()
    finally:
        await a.close()
        await b.close()
