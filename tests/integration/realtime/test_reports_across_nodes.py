"""One report per user and message, and the hiding threshold, across nodes: two ``sideline
serve`` processes on a real Redis.

Each node judged a report from its own state, which holds the other node's reports only once
their envelopes arrived, and after a restart only what the recent stream still holds. So a
user's report through the other node was written again, and reports through two nodes that
together reached the threshold each counted only their own node's: the message stayed shown.
The reporters of a message are also claimed in Redis.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.fixtures.server import ServerProcess, logged_rows
from tests.fixtures.tcp_proxy import proxied
from tests.integration.realtime.test_reactions_across_nodes import arrived, post
from tests.integration.realtime.test_two_nodes import start_two
from tests.integration.realtime.test_votes_across_nodes import NO_STREAM, ROOM, auth

pytestmark = pytest.mark.slow

THRESHOLD_2 = {"SIDELINE_MODERATION__REPORT_HIDE_THRESHOLD": "2"}


async def report(http: httpx.AsyncClient, node: ServerProcess, message_id: str, user: str = "ann") -> httpx.Response:
    return await http.post(f"{node.url}/v1/rooms/{ROOM}/messages/{message_id}/reports",
                           headers=auth(node, user), json={"reason": "abuse"})  # fmt: skip


async def shown(http: httpx.AsyncClient, node: ServerProcess) -> list[str]:
    r = await http.get(f"{node.url}/v1/rooms/{ROOM}/messages", headers=auth(node, "cat"))
    assert r.status_code == 200, r.text
    return [m["message_id"] for m in r.json()["messages"]]


def reports_in_logs(nodes: tuple[ServerProcess, ...]) -> list[tuple[str, str, Any]]:
    """(message, reporter, hide) of every report in the nodes' log shards (once they stopped)."""
    return sorted(logged_rows(nodes,
        "SELECT message_id, user_id, json_extract(payload, '$.hide')::BOOLEAN FROM events "
        "WHERE event_type = 'community_message_reported'"
    ))  # fmt: skip


async def test_a_user_who_reported_through_a_cannot_report_again_through_b_after_b_restarted(
    start_server, redis_url
):
    a, b = start_two(start_server, redis_url, **NO_STREAM)
    async with httpx.AsyncClient(timeout=30) as http:
        mid = await post(http, b, "c1")
        await arrived(http, a, [mid])
        first = await report(http, a, mid)
        assert first.status_code == 201, first.text
        assert b.stop() in (0, -15)
        b.start()
        again = await report(http, b, mid)
        assert again.status_code == 409, again.text
        assert again.json()["error"]["message"].startswith("you have already reported this message")
        other = await report(http, b, mid, user="bob")  # everyone else still reports
        assert other.status_code == 201, other.text
    assert [(m, u) for m, u, _ in reports_in_logs((a, b))] == [(mid, "ann"), (mid, "bob")]


async def test_reports_through_two_nodes_that_reach_the_threshold_hide_the_message(
    start_server, redis_url
):
    """Threshold 2: ann reports through A, bob through B, which restarted and lacks ann's report.
    Bob's report is the second: it hides the message on both nodes."""
    a, b = start_two(start_server, redis_url, **NO_STREAM, **THRESHOLD_2)
    async with httpx.AsyncClient(timeout=30) as http:
        mid = await post(http, b, "c1")
        await arrived(http, a, [mid])
        assert (await report(http, a, mid)).status_code == 201
        assert mid in await shown(http, a)
        assert b.stop() in (0, -15)
        b.start()
        second = await report(http, b, mid, user="bob")
        assert second.status_code == 201, second.text
        assert mid not in await shown(http, b)
        for _ in range(100):  # bob's report reaches A
            if mid not in await shown(http, a):
                break
            await asyncio.sleep(0.05)
        assert mid not in await shown(http, a)
    assert reports_in_logs((a, b)) == [(mid, "ann", False), (mid, "bob", True)]


async def test_an_approval_through_a_lets_reporters_report_again_through_b(start_server, redis_url):
    """An approval starts the count again, on every node: the reporters' claims go with it."""
    a, b = start_two(start_server, redis_url, **NO_STREAM, **THRESHOLD_2)
    async with httpx.AsyncClient(timeout=30) as http:
        mid = await post(http, b, "c1")
        await arrived(http, a, [mid])
        for user in ("ann", "bob"):
            assert (await report(http, a, mid, user=user)).status_code == 201
        decided = await http.post(f"{a.url}/v1/rooms/{ROOM}/review/{mid}", headers=auth(a, "mia", "moderator"),
                                  json={"decision": "approve"})  # fmt: skip
        assert decided.status_code == 200, decided.text
        assert b.stop() in (0, -15)
        b.start()
        again = await report(http, b, mid)
        assert again.status_code == 201, again.text
        assert mid in await shown(http, b), "one report after the approval hid it"
    assert reports_in_logs((a, b)) == [(mid, "ann", False), (mid, "ann", False), (mid, "bob", True)]


async def test_reports_of_one_user_through_both_nodes_at_once_write_one(start_server, redis_url):
    a, b = start_two(start_server, redis_url)
    async with httpx.AsyncClient(timeout=30) as http:
        mids = [await post(http, a, f"c{i}") for i in range(5)]
        for mid in mids:
            await arrived(http, b, [mid])
        for mid in mids:
            answers = await asyncio.gather(report(http, a, mid), report(http, b, mid))
            assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    assert len(reports_in_logs((a, b))) == len(mids)


async def test_reports_go_on_when_redis_is_unreachable(start_server, redis_url, proxy):
    a, _ = start_two(start_server, proxied(redis_url, proxy))
    async with httpx.AsyncClient(timeout=30) as http:
        mid = await post(http, a, "c1")
        proxy.stop()  # every connection to Redis closed, and no new one taken
        first = await report(http, a, mid)
        again = await report(http, a, mid)
        assert [first.status_code, again.status_code] == [201, 409], again.text
        counters = (await http.get(f"{a.url}/metrics")).text
    assert "sideline_report_claims_skipped_total 1.0" in counters, counters
