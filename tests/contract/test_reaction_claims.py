"""The cross-node reaction claims (``service.realtime.reaction_claims``) against a real redis-server."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from service.realtime.reaction_claims import ReactionClaim, RedisReactions


def nodes(redis_url: str, **kw: float) -> tuple[RedisReactions, RedisReactions, str]:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    a = RedisReactions(redis_url, "a", prefix=prefix, **kw)
    return a, RedisReactions(redis_url, "b", prefix=prefix, **kw), prefix


async def test_a_change_is_held_pending_then_recorded_and_released_only_by_its_node(redis_url):
    a, b, _ = nodes(redis_url)
    try:
        mine = await a.take("m1", "ann", "🔥", add=True, cap=3)
        assert mine.taken and mine.recorded is None, "nothing was recorded: the state decides"
        held = await b.take("m1", "ann", "🔥", add=True, cap=3)
        assert held == ReactionClaim(pending_on="a")
        assert (await b.take("m1", "ann", "👏", add=True, cap=3)).taken, "another emoji is free"
        assert (await b.take("m1", "bob", "🔥", add=True, cap=3)).taken, "so is another user's"
        await b.release("m1", "ann", "🔥", held)  # not taken: nothing happens
        await b.release("m1", "ann", "🔥", ReactionClaim(token="b|0123456789ab|"))  # not b's
        assert (await b.take("m1", "ann", "🔥", add=False, cap=3)).pending_on == "a"
        a.seal("m1", "ann", "🔥", mine, on=True)
        await asyncio.sleep(0.1)
        assert await b.take("m1", "ann", "🔥", add=True, cap=3) == ReactionClaim(recorded=True), (
            "a second add through any node finds the first recorded, and takes nothing"
        )
        removing = await b.take("m1", "ann", "🔥", add=False, cap=3)
        assert removing.taken and removing.recorded is True
        b.seal("m1", "ann", "🔥", removing, on=False)
        a.seal("m1", "ann", "🔥", mine, on=True)  # a's claim is no longer there: nothing happens
        await asyncio.sleep(0.1)
        assert await a.take("m1", "ann", "🔥", add=False, cap=3) == ReactionClaim(recorded=False)
    finally:
        await a.close()
        await b.close()


async def test_a_failed_write_gives_back_what_was_recorded(redis_url):
    a, b, _ = nodes(redis_url)
    try:
        first = await a.take("m1", "ann", "🔥", add=True, cap=3)
        await a.release("m1", "ann", "🔥", first)
        again = await b.take("m1", "ann", "🔥", add=True, cap=3)
        assert again.taken and again.recorded is None
        b.seal("m1", "ann", "🔥", again, on=True)
        await asyncio.sleep(0.1)
        removing = await a.take("m1", "ann", "🔥", add=False, cap=3)
        assert removing.recorded is True
        await a.release("m1", "ann", "🔥", removing)
        assert await b.take("m1", "ann", "🔥", add=True, cap=3) == ReactionClaim(recorded=True)
    finally:
        await a.close()
        await b.close()


async def test_a_pending_change_is_taken_over_past_its_deadline_and_a_leftover_of_this_node_at_once(redis_url):
    a, b, prefix = nodes(redis_url, wait_seconds=0.1, kept_seconds=60)
    again = RedisReactions(redis_url, "a", prefix=prefix, kept_seconds=60)  # node a's next process
    try:
        assert (await a.take("m1", "ann", "🔥", add=True, cap=3)).taken
        assert (await b.take("m1", "ann", "🔥", add=True, cap=3)).pending_on == "a"
        await asyncio.sleep(0.4)  # a died half-way: its claim runs out (3 x wait_seconds)
        late = await b.take("m1", "ann", "🔥", add=True, cap=3)
        assert late.taken and late.recorded is None, "whether a wrote it is not known: the state decides"
        assert (await again.take("m1", "bob", "🔥", add=True, cap=3)).taken
        left = await again.take("m1", "bob", "🔥", add=True, cap=3)
        assert left.taken, "this node's own pending claim is a leftover"
        r = aioredis.from_url(redis_url)
        try:
            keys = [k async for k in r.scan_iter(f"{prefix}:reactions:*")]
            ttls = [await r.pttl(k) for k in keys]
        finally:
            await r.aclose()
        assert len(keys) == 2, "one hash per user and message"
        assert all(50_000 < t <= 60_000 for t in ttls), "kept kept_seconds after the last change"
    finally:
        for v in (a, b, again):
            await v.close()


async def test_the_cap_counts_the_reactions_of_every_node(redis_url):
    a, b, _ = nodes(redis_url)
    try:
        fire = await a.take("m1", "ann", "🔥", add=True, cap=2)
        a.seal("m1", "ann", "🔥", fire, on=True)
        assert (await b.take("m1", "ann", "👏", add=True, cap=2)).taken  # b still writes it
        await asyncio.sleep(0.1)
        full = await a.take("m1", "ann", "😂", add=True, cap=2)
        assert full.full is not None and sorted(full.full) == ["👏", "🔥"] and not full.taken
        # what the taking node's state holds and Redis does not know counts too
        assert sorted((await a.take("m1", "ann", "😂", add=True, cap=3, mine=["🎉"])).full or ()) == ["🎉", "👏", "🔥"]
        removing = await a.take("m1", "ann", "🔥", add=False, cap=2)
        a.seal("m1", "ann", "🔥", removing, on=False)
        await asyncio.sleep(0.1)
        # removed through any node: no longer counted, also when a state still has it
        assert (await a.take("m1", "ann", "😂", add=True, cap=2, mine=["🔥"])).taken
    finally:
        await a.close()
        await b.close()
