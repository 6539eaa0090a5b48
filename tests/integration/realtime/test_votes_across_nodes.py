"""One vote per user in a poll across nodes: two ``sideline serve`` processes on a real Redis.

Each node refuses a second vote from its own state, which holds the other node's votes only
once their envelopes arrived, and after a restart only what the recent stream still holds.
So the place a user takes in a poll is also claimed in Redis, and a poll's close is standing.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.fixtures.server import ServerProcess, logged_rows
from tests.fixtures.tcp_proxy import proxied
from tests.integration.realtime.test_two_nodes import start_two

pytestmark = pytest.mark.slow

ROOM = "match:1"
NO_STREAM = {"SIDELINE_REALTIME__REDIS_RECENT_EVENTS": "0"}
"""Nodes that keep no recent events in Redis: a restarted node has its own shard only."""


def auth(node: ServerProcess, user: str, role: str = "user") -> dict[str, str]:
    return {"Authorization": f"Bearer {node.token(user, ROOM, role=role)}"}


async def create_poll(http: httpx.AsyncClient, node: ServerProcess) -> str:
    r = await http.post(f"{node.url}/v1/rooms/{ROOM}/polls", headers=auth(node, "sam", "speaker"),
                        json={"question": "Who wins?", "options": ["home", "away"]})  # fmt: skip
    assert r.status_code == 201, r.text
    poll_id: str = r.json()["poll_id"]
    return poll_id


async def vote(http: httpx.AsyncClient, node: ServerProcess, poll_id: str, option: int, user: str = "ann") -> httpx.Response:
    return await http.post(f"{node.url}/v1/rooms/{ROOM}/polls/{poll_id}/votes", headers=auth(node, user),
                           json={"option": option})  # fmt: skip


def votes_in_logs(nodes: tuple[ServerProcess, ...]) -> list[tuple[str, str, int]]:
    """(poll, user, option) of every vote in the nodes' log shards (read once they stopped)."""
    return sorted((str(r[0]), str(r[1]), int(str(r[2]))) for r in logged_rows(nodes,
        "SELECT json_extract_string(payload, '$.poll_id'), user_id, "
        "json_extract_string(payload, '$.option') FROM events WHERE event_type = 'poll_voted'"
    ))  # fmt: skip


async def arrived(http: httpx.AsyncClient, node: ServerProcess, poll_id: str) -> None:
    """Wait until ``node`` knows the poll (its creation's envelope reached it)."""
    for _ in range(100):
        r = await http.get(f"{node.url}/v1/rooms/{ROOM}/polls/{poll_id}", headers=auth(node, "ann"))
        if r.status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"poll {poll_id} never reached {node.url}")


async def test_a_user_who_voted_through_a_cannot_vote_again_through_b_after_b_restarted(
    start_server, redis_url
):
    """B restarts: its shard has the poll (created through B) but not ann's vote through A,
    and no recent stream holds it. The claim in Redis still does."""
    a, b = start_two(start_server, redis_url, **NO_STREAM)
    async with httpx.AsyncClient(timeout=30) as http:
        poll_id = await create_poll(http, b)
        await arrived(http, a, poll_id)
        first = await vote(http, a, poll_id, 0)
        assert first.status_code == 200, first.text
        assert b.stop() in (0, -15)
        b.start()
        again = await vote(http, b, poll_id, 1)
        assert again.status_code == 409, again.text
        assert again.json()["error"]["message"] == "you have already voted in this poll"
        other = await vote(http, b, poll_id, 1, user="bob")  # everyone else still votes
        assert other.status_code == 200, other.text
    assert votes_in_logs((a, b)) == sorted([(poll_id, "ann", 0), (poll_id, "bob", 1)])


async def test_a_poll_closed_through_a_stays_closed_on_b_after_b_restarted(start_server, redis_url):
    a, b = start_two(start_server, redis_url, **NO_STREAM)
    async with httpx.AsyncClient(timeout=30) as http:
        poll_id = await create_poll(http, b)
        await arrived(http, a, poll_id)
        closed = await http.post(f"{a.url}/v1/rooms/{ROOM}/polls/{poll_id}/close", headers=auth(a, "sam", "speaker"))
        assert closed.status_code == 200 and closed.json()["closed"], closed.text
        assert b.stop() in (0, -15)
        b.start()
        seen = await http.get(f"{b.url}/v1/rooms/{ROOM}/polls/{poll_id}", headers=auth(b, "ann"))
        assert seen.status_code == 200 and seen.json()["closed"], seen.text
        late = await vote(http, b, poll_id, 0)
        assert late.status_code == 409 and late.json()["error"]["message"] == "this poll is closed", late.text
    assert votes_in_logs((a, b)) == []


async def test_votes_of_one_user_through_both_nodes_at_once_write_one(start_server, redis_url):
    """Sent at the same instant, each node's state lacks the other's vote: one is refused."""
    a, b = start_two(start_server, redis_url)
    async with httpx.AsyncClient(timeout=30) as http:
        polls = [await create_poll(http, a) for _ in range(5)]
        for poll_id in polls:
            await arrived(http, b, poll_id)
        for poll_id in polls:
            answers = await asyncio.gather(vote(http, a, poll_id, 0), vote(http, b, poll_id, 1))
            assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
        await asyncio.sleep(0.3)  # the envelopes cross
        for node in (a, b):  # and both nodes count the vote that was written, once
            for poll_id in polls:
                r = await http.get(f"{node.url}/v1/rooms/{ROOM}/polls/{poll_id}", headers=auth(node, "cat"))
                assert sum(r.json()["results"]) == 1, r.text
    assert len(votes_in_logs((a, b))) == len(polls)


async def test_votes_go_on_when_redis_is_unreachable(start_server, redis_url, proxy):
    """Voting must not stop because Redis is down: the vote is written unclaimed (counted),
    and the node's own state still refuses a second one."""
    a, b = start_two(start_server, proxied(redis_url, proxy))
    async with httpx.AsyncClient(timeout=30) as http:
        poll_id = await create_poll(http, a)
        await arrived(http, b, poll_id)
        proxy.stop()  # every connection to Redis closed, and no new one taken
        first = await vote(http, a, poll_id, 0)
        again = await vote(http, a, poll_id, 1)
        assert [first.status_code, again.status_code] == [200, 409], again.text
        counters = (await http.get(f"{a.url}/metrics")).text
    assert "sideline_vote_claims_skipped_total 1.0" in counters, counters


async def test_a_close_through_a_counts_the_votes_b_was_writing_and_no_later_ones(start_server, redis_url):
    """Votes stream in through B while a moderator closes the poll through A: the results the
    close records are the votes written, on both nodes, and no vote is written after it."""
    a, b = start_two(start_server, redis_url)
    async with httpx.AsyncClient(timeout=30) as http:
        for round_ in range(3):
            poll_id = await create_poll(http, a)
            await arrived(http, b, poll_id)
            voting = [asyncio.create_task(vote(http, b, poll_id, i % 2, user=f"v{round_}-{i}")) for i in range(40)]
            await asyncio.sleep(0.02)
            closed = await http.post(f"{a.url}/v1/rooms/{ROOM}/polls/{poll_id}/close", headers=auth(a, "sam", "speaker"))
            assert closed.status_code == 200, closed.text
            answers = await asyncio.gather(*voting)
            accepted = [r for r in answers if r.status_code == 200]
            assert all(r.status_code in (200, 409) for r in answers), [r.text for r in answers]
            recorded = closed.json()["results"]
            assert sum(recorded) == len(accepted), (recorded, len(accepted))
            await asyncio.sleep(0.3)
            for node in (a, b):
                r = await http.get(f"{node.url}/v1/rooms/{ROOM}/polls/{poll_id}", headers=auth(node, "cat"))
                assert r.json()["results"] == recorded, (node.node_id, r.json(), recorded)
