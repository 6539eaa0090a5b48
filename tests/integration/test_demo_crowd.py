"""The demo's bots act through the real actions on a real log: a poll at the start, the
commentator's lines, and on a goal the score line pinned and a fan's reply to it."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from service.embed.demo_host import REPLIES, Crowd, Match
from tests.integration.test_send_path import make_settings, running


class GoalAtTwo(Match):
    """Kick-off, then a goal for the home side in the second minute."""

    def tick(self) -> dict[str, Any] | None:
        self.minute += 1
        if self.minute == 1:
            return self._event("whistle", "Kick-off!")
        if self.minute == 2:
            self.score[0] += 1
            return self._event("goal", f"GOAL! {self.home}! 1–0")
        return None


async def test_a_goal_is_pinned_and_answered(tmp_path):
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED="true")
    async with running(s) as c:
        crowd = Crowd(c, "match:1", GoalAtTwo(rng=random.Random(1)), seconds_per_minute=0.2,
                      tap=lambda room, emoji: None)  # fmt: skip
        bots = asyncio.create_task(crowd.run())
        for _ in range(500):
            if c.state.room("match:1").pinned_message_id:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the fan's reply follows the pin
        bots.cancel()
        recent = c.state.recent("match:1")
    goal = next(e for e in recent if e.payload.get("text") == "GOAL! Reds! 1–0")
    assert c.state.room("match:1").pinned_message_id == goal.message_id
    replies = [e for e in recent if e.payload.get("reply_to") == goal.message_id]
    assert [e.payload["text"] in REPLIES for e in replies] == [True]
    assert replies[0].user_id.startswith("fan")
