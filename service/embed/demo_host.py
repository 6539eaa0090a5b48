"""The demo's host product: a live match page with the panel beside it, and a lively crowd.

Three parts, all development-only: a simulated match (a minute every ``seconds_per_minute``,
goals at random), the host page and its tiny backend (``/token`` mints a token for the demo
user the visitor picks, ``/match`` serves the scoreboard), and bots that chat, react and run
a poll through the same actions real users go through, so the demo's data is real data.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Litestar, MediaType, Response, get
from litestar.params import Parameter
from litestar.static_files import create_static_files_router

from service.actions import messages, moderators, polls
from service.actions.context import Community
from service.domain.rooms import Role
from service.embed.routes import STATIC
from service.errors import SidelineError
from service.identity import Identity
from service.protocol.http import PollIn, SendMessage

log = logging.getLogger(__name__)

DEMO_USERS = {
    "fan": ("sam", "Sam", "user"),
    "moderator": ("mo", "Mo", "moderator"),
    "rival": ("robin", "Robin", "user"),
}
"""Who a visitor of the demo page can be: choice -> (user id, name, role)."""

CHATTER = [
    "Come on you reds!", "What a save!", "That was never a foul", "Ref needs glasses 🙈",
    "Pressing high today, I like it", "Corner! Big lads forward", "Lovely one-two there",
    "Keep the ball on the ground please", "Their keeper is having a night", "Offside? Close one",
    "Substitution coming, you can feel it", "Best atmosphere in weeks 🔥",
]
REPLIES = ["What a finish!", "Get in!!", "Saw that coming", "VAR check incoming...", "Unreal 🔥"]
"""Fans' replies to a goal: the panel shows them under a quote of the commentator's line."""


@dataclass
class Match:
    """A simulated match: the host's own domain object the chat room belongs to."""

    home: str = "Reds"
    away: str = "Blues"
    minute: int = 0
    score: list[int] = field(default_factory=lambda: [0, 0])
    events: list[dict[str, Any]] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)

    @property
    def phase(self) -> str:
        if self.minute == 0:
            return "kick-off soon"
        return "full time" if self.minute >= 90 else ("first half" if self.minute <= 45 else "second half")

    def tick(self) -> dict[str, Any] | None:
        """Advance a minute; the goal scored in it, if any. A new match starts after 90'."""
        if self.minute >= 95:
            self.minute, self.score, self.events = 0, [0, 0], []
        self.minute += 1
        if self.minute == 1:
            return self._event("whistle", "Kick-off!")
        if self.minute <= 90 and self.rng.random() < 0.045:
            side = self.rng.randrange(2)
            self.score[side] += 1
            team = self.home if side == 0 else self.away
            return self._event("goal", f"GOAL! {team}! {self.score[0]}–{self.score[1]}")
        if self.minute == 90:
            return self._event("whistle", f"Full time: {self.home} {self.score[0]}–{self.score[1]} {self.away}")
        return None

    def _event(self, kind: str, text: str) -> dict[str, Any]:
        event = {"minute": self.minute, "kind": kind, "text": text}
        self.events.append(event)
        return event

    def snapshot(self) -> dict[str, Any]:
        return {
            "home": self.home, "away": self.away, "minute": self.minute, "score": self.score,
            "phase": self.phase, "events": self.events[-12:],
        }  # fmt: skip


def host_app(panel_url: str, match: Match, mint: Callable[[str, str, str], str]) -> Litestar:
    """The host product's page and backend; ``mint(user_id, name, role)`` signs a token."""
    page = (STATIC / "demo.html").read_text().replace("__PANEL_URL__", panel_url)

    @get("/", media_type=MediaType.HTML)
    async def index() -> Response[str]:
        return Response(page, media_type=MediaType.HTML, headers={"Cache-Control": "no-store"})

    @get("/token")
    async def token(as_: Annotated[str, Parameter(query="as")] = "fan") -> dict[str, str]:
        user_id, name, role = DEMO_USERS.get(as_, DEMO_USERS["fan"])
        return {"token": mint(user_id, name, role)}

    @get("/match")
    async def match_state() -> dict[str, Any]:
        return match.snapshot()

    static = create_static_files_router(path="/static", directories=[STATIC])
    # Logging is the command's (as for the service app): Litestar's default config would put a
    # second format on the process's log lines.
    return Litestar([index, token, match_state, static], debug=False, logging_config=None)


class Crowd:
    """Bots in the room: a commentator (speaker) and fans, acting through the real actions."""

    def __init__(self, community: Community, room: str, match: Match, *, seconds_per_minute: float,
                 tap: Callable[[str, str], None]) -> None:  # fmt: skip
        self.c = community
        self.room = room
        self.match = match
        self.seconds = seconds_per_minute
        self.tap = tap
        self.rng = random.Random(7)
        self._n = 0

    def _who(self, user_id: str, name: str, role: Role) -> Identity:
        return Identity(user_id=user_id, name=name, context_id=self.room, role=role)

    async def say(self, who: Identity, text: str, reply_to: str | None = None) -> str | None:
        """Post as ``who``; the message id, or None when the room refused it."""
        self._n += 1
        body = SendMessage(client_msg_id=f"demo-{self._n}", text=text, reply_to=reply_to)
        try:
            return (await messages.send_message(self.c, who, self.room, body)).message_id
        except SidelineError as err:  # slow mode, reactions-only after crowd control ...
            log.debug("demo bot %s could not post: %s", who.user_id, err.message)
            return None

    async def run(self) -> None:
        commentator = self._who("commentator", "Commentator", Role.SPEAKER)
        fans = [self._who(f"fan{i}", name, Role.USER) for i, name in enumerate(["Alex", "Jo", "Kim", "Lee"])]
        await polls.create_poll(self.c, commentator, self.room, PollIn(
            question=f"Who wins tonight, {self.match.home} or {self.match.away}?",
            options=[self.match.home, self.match.away, "Draw"],
        ))  # fmt: skip
        while True:
            await asyncio.sleep(self.seconds)
            event = self.match.tick()
            if event is not None:
                said = await self.say(commentator, event["text"])
                if event["kind"] == "goal" and said is not None:
                    for _ in range(self.rng.randrange(20, 60)):
                        self.tap(self.room, "⚽")
                    # the score line stays pinned above the chat, and a fan answers it
                    await moderators.pin_message(self.c, "host", self.room, said)
                    await self.say(self.rng.choice(fans), self.rng.choice(REPLIES), reply_to=said)
            if self.rng.random() < 0.35:
                await self.say(self.rng.choice(fans), self.rng.choice(CHATTER))
