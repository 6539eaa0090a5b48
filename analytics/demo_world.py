"""The simulation behind :func:`analytics.demo.generate` (see there for what is planted).

Day by day over the community history: who uses the product, which matches they watch, who of
the community-inclined viewers joins the match room, reacts at goals, votes, posts, gets
moderated, reported and reviewed. At the end of each cohort period, established users churn
with a probability set by their tier, lowered by the posting effect if they posted.
"""

from __future__ import annotations

import random
import zlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from analytics import demo as d
from service.domain.events import Event, EventType, Metadata, new_event

TEAMS = ("Arsenal", "Aston Villa", "Bournemouth", "Brentford", "Brighton", "Chelsea",
         "Crystal Palace", "Everton", "Fulham", "Ipswich", "Leicester", "Liverpool",
         "Man City", "Man United", "Newcastle", "Forest", "Southampton", "Tottenham",
         "West Ham", "Wolves")  # fmt: skip
COUNTRIES = ("GB", "GB", "GB", "IE", "US", "DE", "NG", "IN")
EMOJI = ("⚽", "🔥", "👏", "😱", "😡")
CHEERS = ("What a goal!", "Come on {t}!", "Unreal finish", "Ref, are you serious?",
          "{t} all day", "That defending...", "Get in!!", "VAR again?")  # fmt: skip
JOIN_P = {"weekly": 0.9, "occasional": 0.7, "reactor": 0.7, "lurker": 0.5}
GOAL_REACT_P = {"weekly": 0.6, "occasional": 0.5, "reactor": 0.7, "lurker": 0.0}
POST_PER_MATCH = {"weekly": 1.8, "occasional": 0.2, "reactor": 0.0, "lurker": 0.0}
MOD = "staff-1"


def _utc(day: date, minutes: float = 0.0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes)


class World:
    """Mutable simulation state; :meth:`simulate` once, then read the frames."""

    def __init__(self, config: d.DemoConfig, start: date) -> None:
        self.c = config
        self.start = start
        self.np = d.rng(config)
        self.r = random.Random(config.seed)
        # Ids draw from their own stream, so they never shift the simulation's decisions.
        self.id_rand = random.Random(f"ids-{config.seed}")
        self.n = config.users
        self.day0 = start - timedelta(days=config.pre_days)
        self.span = config.pre_days + config.days + config.post_days
        self.events: list[Event] = []
        self.views: list[tuple[str, str, datetime, float]] = []
        self.contexts: list[dict[str, Any]] = []
        self.match_no = 0
        self._uplift_parts: dict[str, list[float]] = {}

    # -- users and product activity -------------------------------------------------------------

    def _users(self) -> None:
        c, n, g = self.c, self.n, self.np
        self.ids = [f"u{i:06d}" for i in range(n)]
        self.tier = g.integers(0, d.TIERS, n)
        new = g.random(n) < c.new_user_share
        first_new = min(c.period_days, c.days - 1)
        signup_day = np.where(
            new,
            c.pre_days + g.integers(first_new, c.days, n),
            -g.integers(1, 400, n),
        )
        self.signup_index = signup_day  # index into the activity span (negative: before it)
        self.signed_up_at = [
            _utc(self.day0, int(s) * 1440 + float(m))
            for s, m in zip(signup_day, g.uniform(0, 1440, n), strict=True)
        ]
        self.established = ~new
        self.fav = [g.choice(c.teams, size=1 + int(g.random() < 0.3), replace=False).tolist()
                    for _ in range(n)]  # fmt: skip
        self.inclined = g.random(n) < np.take(d.TRIES_COMMUNITY, self.tier)
        self.style = [d.STYLES[g.choice(4, p=d.STYLE_P[t])] for t in self.tier]
        self.responsive = g.random(n) < c.responsive_share
        self.group: list[str | None] = [None] * n
        self.alive_until = np.full(n, self.span)
        self.active = g.random((n, self.span)) < np.take(d.ACTIVE_P, self.tier)[:, None]
        idx = np.arange(self.span)[None, :]
        self.active &= idx >= np.maximum(self.signup_index, 0)[:, None]
        self.sessions = 1 + g.poisson(np.take(d.EXTRA_SESSIONS, self.tier)[:, None],
                                      (n, self.span))  # fmt: skip
        self.fans: dict[int, list[int]] = {t: [] for t in range(c.teams)}
        for u, teams in enumerate(self.fav):
            for t in teams:
                self.fans[t].append(u)

    def is_active(self, u: int, index: int) -> bool:
        return bool(self.active[u, index]) and index < self.alive_until[u]

    # -- simulation -------------------------------------------------------------------------------

    def simulate(self) -> None:
        self._users()
        c = self.c
        for t, name in enumerate(TEAMS[: c.teams]):
            self.contexts.append({
                "context_id": f"team:{t}", "kind": "team", "title": name,
                "starts_at": _utc(self.start), "ends_at": _utc(self.start, (c.days + c.post_days) * 1440),
            })  # fmt: skip
        periods = c.days // c.period_days
        posted = np.zeros((self.n, max(periods, 1)), dtype=bool)
        for day in range(c.days + c.post_days):  # the community runs on after the cohorts
            p = day // c.period_days
            self._day(day, posted[:, p] if p < periods else np.zeros(self.n, dtype=bool))
            if p < periods and day == (p + 1) * c.period_days - 1:
                self._churn(p, posted[:, p])

    def _day(self, day: int, posted: np.ndarray) -> None:
        today = self.start + timedelta(days=day)
        index = self.c.pre_days + day
        weekend = today.weekday() >= 5
        for _ in range(int(self.np.integers(3, 7) if weekend else self.np.integers(1, 4))):
            self._match(today, index, posted)
        for u in range(self.n):
            if self.inclined[u] and self.is_active(u, index) and self.r.random() < 0.12:
                team = self.fav[u][0]
                at = _utc(today, self.r.uniform(6 * 60, 23 * 60))
                self._visit(u, f"team:{team}", at, at + timedelta(hours=1), [], posted, 0.5)

    def _match(self, today: date, index: int, posted: np.ndarray) -> None:
        home, away = (int(x) for x in self.np.choice(self.c.teams, 2, replace=False))
        self.match_no += 1
        cid = f"match:{self.match_no:05d}"
        kickoff = _utc(today, self.r.choice(range(12 * 60, 20 * 60 + 1, 30)))
        goals = sorted(self.r.uniform(1, 94) for _ in range(int(self.np.poisson(2.7))))
        timeline = [g + (15 if g > 45 else 0) for g in goals]  # half-time on the clock
        end = kickoff + timedelta(minutes=110)
        candidates = set(self.fans[home]) | set(self.fans[away])
        candidates |= set(self.r.sample(range(self.n), k=max(1, self.n // 50)))
        viewers = []
        for u in sorted(candidates):
            fan = u in self.fans[home] or u in self.fans[away]
            if self.is_active(u, index) and self.r.random() < (0.7 if fan else 0.2):
                viewers.append(u)
                seen = kickoff - timedelta(minutes=self.r.uniform(0, 10))
                self.views.append((self.ids[u], cid, seen, round(self.r.uniform(20, 110), 1)))
        self.contexts.append({
            "context_id": cid, "kind": "match", "title": f"{TEAMS[home]} v {TEAMS[away]}",
            "starts_at": kickoff, "ends_at": end, "viewers": len(viewers),
        })  # fmt: skip
        poll = f"poll-{cid}"
        self._emit(EventType.POLL_CREATED, MOD, cid, kickoff, payload={
            "poll_id": poll, "question": "Who wins?", "options": [TEAMS[home], "Draw", TEAMS[away]]})
        votes = [0, 0, 0]
        for u in viewers:
            if self.inclined[u]:
                self._visit(u, cid, kickoff, end, timeline, posted, 1.0, poll=poll, votes=votes)
        self._emit(EventType.POLL_CLOSED, MOD, cid, end, payload={"poll_id": poll, "results": votes})

    def _visit(
        self, u: int, cid: str, start: datetime, end: datetime, goals: list[float],
        posted: np.ndarray, scale: float, poll: str | None = None, votes: list[int] | None = None,
    ) -> None:  # fmt: skip
        style, r, uid = self.style[u], self.r, self.ids[u]
        if r.random() >= JOIN_P[style] * scale:
            return
        at = start + timedelta(minutes=r.uniform(-5, 20))
        if not self._exposed(u, cid, at):
            return
        self._emit(EventType.ROOM_JOINED, uid, cid, at)
        for g in goals:
            if r.random() < GOAL_REACT_P[style]:
                self._emit(EventType.REACTION_ADDED, uid, cid,
                           start + timedelta(minutes=g + r.uniform(0, 1.5)),
                           message_id=f"goal-{cid}-{int(g)}", payload={"emoji": r.choice(EMOJI)})
        if poll and votes is not None and style != "lurker" and r.random() < 0.5:
            option = r.randrange(3)
            votes[option] += 1
            self._emit(EventType.POLL_VOTED, uid, cid, start + timedelta(minutes=r.uniform(0, 30)),
                       payload={"poll_id": poll, "option": option})
        for _ in range(int(self.np.poisson(POST_PER_MATCH[style] * scale))):
            if goals and r.random() < 0.5:
                minute = r.choice(goals) + r.uniform(0, 3)
            else:
                minute = r.uniform(-10, (end - start).total_seconds() / 60)
            self._message(u, cid, start + timedelta(minutes=minute))
            posted[u] = True

    def _exposed(self, u: int, cid: str, at: datetime) -> bool:
        if self.group[u] is None and self.c.holdout_share > 0:
            group = d.holdout_group(self.ids[u], self.c.holdout_share, self.c.holdout_salt)
            self.group[u] = group
            self._emit(EventType.EXPOSURE_ASSIGNED, self.ids[u], cid, at,
                       payload={"group": group, "unit": "user"})
        return self.group[u] != "holdout"

    def _message(self, u: int, cid: str, at: datetime) -> None:
        from analytics.demo_moderation import moderate_message

        moderate_message(self, u, cid, at)

    def _churn(self, p: int, posted: np.ndarray) -> None:
        c = self.c
        lo, hi = c.pre_days + p * c.period_days, c.pre_days + (p + 1) * c.period_days
        in_cohort = self.established & (self.alive_until == self.span)
        in_cohort &= self.active[:, lo:hi].any(axis=1)
        effect = c.effect * self.responsive * posted
        churn_p = np.take(d.BASE_CHURN, self.tier) - effect
        churned = in_cohort & (self.np.random(self.n) < churn_p)
        self.alive_until[churned] = hi
        # The holdout report's population: assigned exposed and using the product in the period.
        alive = np.arange(lo, hi)[None, :] < self.alive_until[:, None]
        used = (self.active[:, lo:hi] & alive).any(axis=1)
        exposed = used & np.array([g == "exposed" for g in self.group])
        planted = np.where(in_cohort, effect, 0.0)
        key = (self.start + timedelta(days=p * c.period_days)).isoformat()
        self._uplift_parts[key] = [float(planted[exposed].mean()) if exposed.any() else 0.0]

    # -- output -----------------------------------------------------------------------------------

    def _emit(self, kind: EventType, user: str, cid: str, at: datetime, **kw: Any) -> Event:
        meta = Metadata(device=("ios", "android", "web")[zlib.crc32(user.encode()) % 3],
                        app_version="5.2.0")  # fmt: skip
        event = new_event(kind, user_id=user, room_id=cid, context_id=cid, occurred_at=at,
                          metadata=meta, **kw)  # fmt: skip
        event.event_id = self.new_id(at)
        self.events.append(event)
        return event

    def new_id(self, at: datetime) -> str:
        """A UUIDv7 drawn from the world's generator (reproducible ids)."""
        return d.seeded_uuid7(at, self.id_rand)

    def truth(self) -> d.DemoTruth:
        return d.DemoTruth(
            posting_effect=-self.c.effect * self.c.responsive_share,
            holdout_uplift={k: v[0] for k, v in self._uplift_parts.items()},
        )

    def users_frame(self) -> pl.DataFrame:
        plans = [("free", "free", "plus", "pro")[min(3, int(t) + self.r.randrange(2))]
                 for t in self.tier]  # fmt: skip
        return pl.DataFrame({
            "user_id": self.ids,
            "signed_up_at": self.signed_up_at,
            "plan": plans,
            "country": [COUNTRIES[i % len(COUNTRIES)] for i in range(self.n)],
        }).with_columns(pl.col("signed_up_at").dt.cast_time_unit("us"))  # fmt: skip

    def activity_frame(self) -> pl.DataFrame:
        alive = np.arange(self.span)[None, :] < self.alive_until[:, None]
        users, days = np.nonzero(self.active & alive)
        sessions = self.sessions[users, days]
        minutes = np.round(sessions * self.np.gamma(2.0, 6.0, len(sessions)), 1)
        return pl.DataFrame({
            "user_id": np.array(self.ids)[users],
            "date": [self.day0 + timedelta(days=int(x)) for x in days],
            "sessions": sessions.astype(np.int64),
            "minutes": minutes,
        }).sort("user_id", "date")  # fmt: skip

    def contexts_frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.contexts).with_columns(
            pl.col("starts_at", "ends_at").dt.cast_time_unit("us"),
            pl.col("viewers").cast(pl.Int64),
        )

    def views_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            self.views, schema=["user_id", "context_id", "viewed_at", "minutes"], orient="row"
        ).with_columns(pl.col("viewed_at").dt.cast_time_unit("us"))
