"""The reports a product manager reads first, over a hand-built world full of the edge cases a
real product has, against answers computed here by brute force in plain Python (no Polars, no
code of the jobs): churn vs posting (and its strata), the retention curve, the holdout uplift,
community health (DAU/WAU/MAU) and per-event engagement.

The world: two cohort periods, P1 = [2026-01-05, 2026-01-19) and P2 = [2026-01-19, 2026-02-02)
(two-week periods on the Monday grid). Edge cases, each named where it is planted below:
events at 00:00:00 and 23:59:59.999999 UTC on a period's first and last day, users active only
on a period's first or last day, signups and contexts given with UTC offsets that move them
across a day or period boundary, users who never post, a user in both cohorts, a next product
use on the last day inside the churn and retention horizons and on the first day after them,
activity rows with 0 sessions, a repeated activity row, users of the events missing from the
users export, an erased user's pseudonym, a held-out user, a context with no events, one with
no duration, views outside a context's timeline or after the warehouse's latest event, events
on a context's timeline bounds and a fraction of a second before its kick-off.

test_brute_force_journey.py (journey, funnel) and test_brute_force_moderation.py (moderation
reports, and the moderation side of community health and engagement) add their own users and
events to this world through :func:`write_world` and :func:`world`.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import polars as pl
import pytest

from analytics.demo import write_warehouse
from analytics.runner import Runner
from analytics.settings import AnalyticsSettings
from service.domain.events import EventType as T
from service.domain.events import new_event

NOW = datetime(2026, 4, 1, tzinfo=UTC)
P1, P2 = date(2026, 1, 5), date(2026, 1, 19)
PERIOD_DAYS = 14
SETTINGS = dict(strata=2, churn_days=28, retention_days=7, pre_period_days=28, segment_weeks=2)
ERASED = "erased-0123456789abcdef"
Z = NormalDist().inv_cdf(0.975)


def ts(text: str) -> datetime:
    """A UTC instant from ISO text with a zone (as the exports and events give it)."""
    return datetime.fromisoformat(text).astimezone(UTC)


# -- the world ---------------------------------------------------------------------------------

# user: signed_up_at as the export writes it (offsets included)
USERS = {
    "a": "2025-11-01T00:00:00Z",
    "b": "2025-11-01T00:00:00Z",
    "c": "2025-11-01T10:00:00+05:00",
    "d": "2025-11-01T00:00:00Z",
    "e": "2025-11-01T00:00:00Z",
    "f": "2025-11-01T00:00:00Z",
    "g": "2025-11-01T00:00:00Z",
    "h": "2025-11-01T00:00:00Z",
    "i": "2025-11-01T00:00:00Z",  # held out
    "j": "2025-11-01T00:00:00Z",  # exposed
    "k": "2026-01-19T00:30:00+01:00",  # 01-18 23:30 UTC: signed up inside P1
    "l": "2026-01-18T23:30:00-01:00",  # 01-19 00:30 UTC: signed up after P1 (inside P2)
    "m": "2025-11-01T00:00:00Z",  # only rows with 0 sessions in P1
    "n": "2025-11-01 00:00:00",  # no zone: read as UTC
    "zz": "2026-02-20T00:00:00Z",  # signed up after both periods; carries the export's end
}
# (user, day, sessions): product use; ("a", 2025-12-20) is written twice (a repeated row)
ACTIVITY = [
    ("a", "2025-12-20", 5), ("a", "2025-12-20", 5),
    ("a", "2026-01-05", 1), ("a", "2026-01-25", 2),  # P1's first day only; back on d1 + 6
    ("b", "2025-12-10", 1), ("b", "2026-01-18", 1), ("b", "2026-01-26", 1),  # P1's last day; d1 + 7
    ("c", "2025-12-30", 3), ("c", "2026-01-10", 1), ("c", "2026-02-15", 1),  # back on d1 + 27
    ("d", "2025-12-31", 2), ("d", "2026-01-06", 1), ("d", "2026-02-16", 4),  # back on d1 + 28
    ("e", "2025-12-15", 7), ("e", "2026-01-08", 1), ("e", "2026-01-20", 1), ("e", "2026-02-10", 1),
    ("f", "2026-01-09", 2),
    ("g", "2026-01-01", 1), ("g", "2026-01-10", 1), ("g", "2026-01-19", 1), ("g", "2026-02-03", 1),
    ("h", "2025-12-21", 4), ("h", "2026-01-12", 1), ("h", "2026-01-12", 0),  # repeated key
    ("i", "2026-01-06", 1), ("i", "2026-01-20", 1),
    ("j", "2026-01-06", 1), ("j", "2026-01-20", 1), ("j", "2026-02-20", 1),
    ("k", "2026-01-18", 1),
    ("l", "2026-01-18", 1), ("l", "2026-01-20", 1),
    ("m", "2026-01-10", 0), ("m", "2026-01-20", 0), ("m", "2026-01-21", 1),
    ("n", "2026-01-04", 9), ("n", "2026-01-11", 1), ("n", "2026-02-01", 1),
    ("zz", "2026-03-01", 1),
    ("ghost", "2026-01-06", 1),  # not in the users export: left out
]
# contexts: id, kind, title, starts_at, ends_at, viewers (export column; "" for none)
CONTEXTS = [
    ("match:1", "match", "Opener", "2026-01-05T00:00:00Z", "2026-01-05T01:50:00Z", ""),
    ("match:2", "match", "Late", "2026-01-06T23:59:59Z", "2026-01-07T01:49:59Z", "40"),
    ("match:3", "match", "Offset", "2026-01-08T00:30:00+02:00", "2026-01-08T02:20:00+02:00", ""),
    ("match:4", "match", "Empty", "2026-01-09T18:00:00Z", "2026-01-09T19:50:00Z", "12"),
    ("dash:1", "dashboard", "Instant", "2026-01-09T12:00:00Z", "2026-01-09T12:00:00Z", ""),
    ("team:x", "team", "Team X", "2026-01-05T00:00:00Z", "2026-02-01T00:00:00Z", ""),
]
# user, context, viewed_at
VIEWS = [
    ("a", "match:1", "2026-01-04T23:00:00Z"),  # exactly the margin before the start: counts
    ("b", "match:1", "2026-01-05T02:50:00Z"),  # exactly the margin after the end: does not
    ("ghost", "match:1", "2026-01-05T00:10:00Z"),  # a user missing from the users export: counts
    ("c", "match:1", "2026-01-05T00:20:00Z"), ("c", "match:1", "2026-01-05T00:40:00Z"),  # once
    ("d", "match:3", "2026-01-12T00:00:00Z"),  # a replay days later: not on the timeline
    ("e", "team:x", "2026-01-20T10:00:00Z"),
    ("f", "team:x", "2026-02-01T00:30:00Z"),  # on the timeline but after the latest event
]

E = new_event
SENT = {"client_msg_id": "c", "visibility": "public", "masked": False, "reply_to": None,
        "role": "user"}  # fmt: skip


def post(user: str, room: str, at: str, mid: str) -> object:
    return E(T.MESSAGE_SENT, user_id=user, room_id=room, occurred_at=ts(at), message_id=mid,
             payload={"text": "hi", **SENT})  # fmt: skip


def react(user: str, room: str, at: str, mid: str = "m0") -> object:
    return E(T.REACTION_ADDED, user_id=user, room_id=room, occurred_at=ts(at), message_id=mid,
             payload={"emoji": "⚽"})  # fmt: skip


def join(user: str, room: str, at: str) -> object:
    return E(T.ROOM_JOINED, user_id=user, room_id=room, occurred_at=ts(at))


def vote(user: str, room: str, at: str) -> object:
    return E(T.POLL_VOTED, user_id=user, room_id=room, occurred_at=ts(at),
             payload={"poll_id": "p1", "option": 0})  # fmt: skip


def verdict(user: str, room: str, at: str, mid: str, action: str) -> object:
    return E(T.MESSAGE_MODERATED, user_id=user, room_id=room, occurred_at=ts(at), message_id=mid,
             payload={"action": action, "score": 0.9, "reasons": [], "checks_ms": {}})  # fmt: skip


def exposure(user: str, at: str, group: str) -> object:
    return E(T.EXPOSURE_ASSIGNED, user_id=user, room_id="team:x", occurred_at=ts(at),
             payload={"group": group, "unit": "user"})  # fmt: skip


def events() -> list:
    return [
        # The first event: a posts at 00:00:00 of P1's first day (week 1), in match:1's room at
        # its kick-off (minute 0), and again at 00:00:00 of P1's second week: a weekly poster.
        post("a", "match:1", "2026-01-05T00:00:00Z", "m1"),
        post("a", "team:x", "2026-01-12T00:00:00Z", "m2"),
        # b posts twice in week 1, the second at its last second: an occasional poster.
        post("b", "team:x", "2026-01-11T10:00:00Z", "m3"),
        post("b", "team:x", "2026-01-11T23:59:59Z", "m4"),
        # c posts at the last microsecond of P1 (week 2): occasional.
        post("c", "team:x", "2026-01-18T23:59:59.999999Z", "m5"),
        # d opens a room in P1 and posts at 00:00:00 of P2's first day: a lurker in P1.
        join("d", "match:2", "2026-01-07T00:10:00Z"),
        post("d", "team:x", "2026-01-19T00:00:00Z", "m6"),
        # e reacts, f votes (reactors only), g opens and takes a reaction back (a lurker).
        react("e", "match:3", "2026-01-07T22:45:00Z"),
        vote("f", "team:x", "2026-01-09T09:00:00Z"),
        join("g", "team:x", "2026-01-10T09:00:00Z"),
        E(T.REACTION_REMOVED, user_id="g", room_id="team:x", occurred_at=ts("2026-01-11T09:00:00Z"),
          message_id="m3", payload={"emoji": "⚽"}),
        # g posts in P2's second week: occasional in P2.
        post("g", "team:x", "2026-01-30T12:00:00Z", "m7"),
        # h only reports a message: taking part for DAU, not a churn segment (never_opened).
        E(T.MESSAGE_REPORTED, user_id="h", room_id="team:x", occurred_at=ts("2026-01-12T08:00:00Z"),
          message_id="m3", payload={"reason": "spam", "report_id": "r1"}),
        # i is held out (assigned before P1's end) and posts every week anyway.
        exposure("i", "2026-01-05T08:00:00Z", "holdout"),
        post("i", "team:x", "2026-01-06T08:00:00Z", "m8"),
        post("i", "team:x", "2026-01-13T08:00:00Z", "m9"),
        exposure("j", "2026-01-06T07:00:00Z", "exposed"),
        post("j", "match:2", "2026-01-06T23:00:00Z", "m10"),  # the margin before match:2
        # n (signup without a zone) reacts on the day it used the product.
        react("n", "team:x", "2026-01-11T12:00:00Z"),
        # x is no product user; the erased user's pseudonym neither.
        post("x", "match:3", "2026-01-07T22:30:00Z", "m11"),  # match:3's kick-off (offset)
        post(ERASED, "team:x", "2026-01-08T12:00:00Z", "m12"),
        join(ERASED, "match:3", "2026-01-07T22:31:00Z"),
        # match:3's timeline (22:30 to 00:20 UTC): half a second before the kick-off (minute
        # -1), its last microsecond inside the margin, and the first one after it.
        react("x", "match:3", "2026-01-07T22:29:59.500000Z"),
        react("e", "match:3", "2026-01-08T01:19:59.999999Z"),
        react("x", "match:3", "2026-01-08T01:20:00Z"),
        # match:2: a message blocked at the end of the margin after it; a masked one.
        post("j", "match:2", "2026-01-07T00:30:00Z", "m13"),
        verdict("j", "match:2", "2026-01-07T00:30:00Z", "m13", "mask"),
        verdict("j", "match:2", "2026-01-07T02:49:58Z", "m14", "block"),
        verdict("j", "match:2", "2026-01-07T00:31:00Z", "m15", "allow"),
        post("j", "match:2", "2026-01-07T00:31:00Z", "m15"),
        # dash:1 has no duration: its rates are null, its events count around its instant.
        join("a", "dash:1", "2026-01-09T11:30:00Z"),
        react("a", "dash:1", "2026-01-09T12:00:00Z"),
        vote("a", "dash:1", "2026-01-09T12:30:00Z"),
        # P2: the warehouse's latest event, on P2's last day.
        join("e", "team:x", "2026-02-01T00:00:00Z"),
    ]  # fmt: skip


def write_world(
    root: Path,
    activity: list[tuple[str, str, int]] = ACTIVITY,
    *,
    users: dict[str, str] | None = None,
    extra: list | tuple = (),
    views: list[tuple[str, str, str]] | None = None,
    settings: dict | None = None,
) -> Runner:
    """The world's exports and warehouse under ``root``, and a runner over them (not yet run).
    Other brute-force modules add ``users``, ``extra`` events, ``views`` and ``settings`` to it."""
    users = USERS if users is None else users
    views = VIEWS if views is None else views
    exports = root / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    (exports / "users.csv").write_text(
        "user_id,signed_up_at,plan,country\n"
        + "".join(f"{u},{t},free,GB\n" for u, t in users.items())
    )
    (exports / "activity.csv").write_text(
        "user_id,date,sessions,minutes\n" + "".join(f"{u},{d},{s},{s * 2}\n" for u, d, s in activity)
    )
    (exports / "contexts.csv").write_text(
        "context_id,kind,title,starts_at,ends_at,viewers\n" + "".join(",".join(c) + "\n" for c in CONTEXTS)
    )
    (exports / "context_views.csv").write_text(
        "user_id,context_id,viewed_at,minutes\n" + "".join(f"{u},{c},{t},5\n" for u, c, t in views)
    )
    write_warehouse([*events(), *extra], root / "warehouse", node_id="n1")
    return Runner(root / "warehouse", exports, AnalyticsSettings(**{**SETTINGS, **(settings or {})}),
                  clock=lambda: NOW, progress=False)  # fmt: skip


def run_in_two(runner: Runner, cut: datetime, rest: list, jobs: list[str]) -> None:
    """Run ``jobs`` over the warehouse's days before ``cut``'s (a midnight), then over all of
    it with ``rest`` (the extra events from ``cut`` on, left out of :func:`write_world`) added:
    the incremental runs of a service whose export reached ``cut``, then caught up."""
    events_root = runner.warehouse.events_root
    aside = events_root.parent / "held_back"
    aside.mkdir()
    for folder in list(events_root.iterdir()):
        if folder.name >= f"event_date={cut.date().isoformat()}":
            folder.rename(aside / folder.name)
    results = runner.run(jobs)
    assert all(r.status == "ok" for r in results), [(r.job, r.error) for r in results]
    for folder in aside.iterdir():
        folder.rename(events_root / folder.name)
    write_warehouse(rest, runner.warehouse.root, node_id="n2")
    results = runner.run(jobs)
    assert all(r.status == "ok" for r in results), [(r.job, r.error) for r in results]


def report(runner: Runner, name: str) -> pl.DataFrame:
    return pl.read_parquet(runner.reports_root / name / "*.parquet")


# -- brute force ---------------------------------------------------------------------------------


@dataclass
class World:
    """The world as plain Python values, every time in UTC."""

    signups: dict[str, datetime]
    active: dict[str, set[date]]  # days with sessions > 0 (first row of a repeated key kept)
    sessions: dict[tuple[str, date], int]
    events: list[tuple[str, str, str, datetime, dict]] = field(default_factory=list)
    log: list = field(default_factory=list)
    """The same events as written (message ids, actors), in time order."""


def utc_signup(text: str) -> datetime:
    """``signed_up_at`` as the export reads it: with its zone, or as UTC without one."""
    return ts(text if text[-1] == "Z" or "+" in text[10:] or "-" in text[10:] else text + "+00:00")


def world(
    activity: list[tuple[str, str, int]] = ACTIVITY,
    *,
    users: dict[str, str] | None = None,
    extra: list | tuple = (),
) -> World:
    signups = {u: utc_signup(t) for u, t in (USERS if users is None else users).items()}
    sessions: dict[tuple[str, date], int] = {}
    for u, d, s in activity:
        if u in signups:
            sessions.setdefault((u, date.fromisoformat(d)), s)  # the first row of a key is kept
    active: dict[str, set[date]] = defaultdict(set)
    for (u, d), s in sessions.items():
        if s > 0:
            active[u].add(d)
    log = sorted([*events(), *extra], key=lambda ev: ev.occurred_at)
    evs = [(ev.event_type.value, ev.user_id, ev.room_id, ev.occurred_at, ev.payload)
           for ev in log]  # fmt: skip
    return World(signups, active, sessions, evs, log)


def wilson(k: int, n: int) -> tuple[float | None, float | None, float | None]:
    if n == 0:
        return None, None, None
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return p, max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k0: int, n0: int) -> tuple[float | None, ...]:
    if n1 == 0 or n0 == 0:
        return None, None, None
    p1, l1, u1 = wilson(k1, n1)
    p0, l0, u0 = wilson(k0, n0)
    d = p1 - p0
    return (d, max(-1.0, d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)),
            min(1.0, d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)))  # fmt: skip


def period_bounds(start: date) -> tuple[datetime, datetime]:
    t0 = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return t0, t0 + timedelta(days=PERIOD_DAYS)


def cohort(w: World, start: date) -> dict[str, dict]:
    """Per user of the cohort of the period starting on ``start``: segment, outcomes, group,
    pre-period sessions and stratum."""
    t0, t1 = period_bounds(start)
    d0, d1 = t0.date(), t1.date()
    out: dict[str, dict] = {}
    for u, signed in w.signups.items():
        if signed >= t1 or not any(d0 <= d < d1 for d in w.active.get(u, ())):
            continue
        weeks, reacted, opened, group = set(), False, False, None
        for kind, who, _room, at, payload in sorted(w.events, key=lambda e: e[3]):
            if who != u:
                continue
            if kind == T.EXPOSURE_ASSIGNED.value and at < t1:
                group = payload["group"]
            if not t0 <= at < t1:
                continue
            if kind == T.MESSAGE_SENT.value:
                weeks.add((at - t0).days // 7)
            reacted |= kind in (T.REACTION_ADDED.value, T.POLL_VOTED.value)
            opened |= kind == T.ROOM_JOINED.value
        segment = ("weekly_posters" if len(weeks) == PERIOD_DAYS // 7 else
                   "occasional_posters" if weeks else "reactors_only" if reacted else
                   "lurkers" if opened else "never_opened")  # fmt: skip
        later = sorted(d for d in w.active.get(u, ()) if d >= d1)
        pre = sum(s for (v, d), s in w.sessions.items()
                  if v == u and d0 - timedelta(days=28) <= d < d0 and s > 0)  # fmt: skip
        out[u] = {
            "segment": segment,
            "churned": not any(d < d1 + timedelta(days=28) for d in later),
            "retained": any(d < d1 + timedelta(days=7) for d in later),
            "group": group,
            "pre": pre,
        }
    compared = [u for u, r in out.items() if r["group"] != "holdout"]
    for u in compared:
        rank = 1 + sum(out[v]["pre"] < out[u]["pre"] for v in compared)
        out[u]["stratum"] = (rank - 1) * 2 // len(compared) + 1
    return out


SEGMENTS = ["weekly_posters", "occasional_posters", "reactors_only", "lurkers", "never_opened"]


def adjusted(rows: dict[str, dict], segment: str, outcome: str) -> tuple[float | None, ...]:
    """Stratified difference weighted by the segment's users per stratum, with the
    Agresti-Caffo interval widened to contain it (docs/analytics.md)."""
    used = []
    for s in (1, 2):
        seg = [r[outcome] for r in rows.values() if r["segment"] == segment and r.get("stratum") == s]
        ref = [r[outcome] for r in rows.values()
               if r["segment"] == "never_opened" and r.get("stratum") == s]  # fmt: skip
        if seg and ref:
            used.append((sum(seg), len(seg), sum(ref), len(ref)))
    if not used:
        return None, None, None, 0
    total = sum(n1 for _, n1, _, _ in used)
    d = sum(n1 / total * (k1 / n1 - k0 / n0) for k1, n1, k0, n0 in used)
    centre = var = 0.0
    for k1, n1, k0, n0 in used:
        w = n1 / total
        t1, t0 = (k1 + 1) / (n1 + 2), (k0 + 1) / (n0 + 2)
        centre += w * (t1 - t0)
        var += w * w * (t1 * (1 - t1) / (n1 + 2) + t0 * (1 - t0) / (n0 + 2))
    low, high = min(centre - Z * math.sqrt(var), d), max(centre + Z * math.sqrt(var), d)
    return d, max(-1.0, low), min(1.0, high), len(used)


def expected_churn(w: World, start: date) -> list[dict]:
    users = {u: r for u, r in cohort(w, start).items() if r["group"] != "holdout"}
    ref = [r for r in users.values() if r["segment"] == "never_opened"]
    out = []
    for order, seg in enumerate(SEGMENTS, 1):
        rows = [r for r in users.values() if r["segment"] == seg]
        n, churned, retained = len(rows), sum(r["churned"] for r in rows), sum(r["retained"] for r in rows)
        row = {"window": start.isoformat(), "segment": seg, "segment_order": order, "users": n,
               "churned": churned, "retained": retained}  # fmt: skip
        for name, k in (("churn", churned), ("retention", retained)):
            outcome = "churned" if name == "churn" else "retained"
            rate = wilson(k, n)
            row |= {f"{name}_rate": rate[0], f"{name}_rate_low": rate[1], f"{name}_rate_high": rate[2]}
            naive = (newcombe(k, n, sum(r[outcome] for r in ref), len(ref))
                     if seg != "never_opened" else (None, None, None))  # fmt: skip
            adj = adjusted(users, seg, outcome) if seg != "never_opened" else (None, None, None, None)
            for suffix, value in zip(("", "_low", "_high"), naive, strict=True):
                row[f"{name}_diff_naive{suffix}"] = value
            for suffix, value in zip(("", "_low", "_high", "_strata"), adj, strict=True):
                row[f"{name}_diff_adjusted{suffix}"] = value
        out.append(row)
    return out


def close(got: object, want: object) -> bool:
    if want is None or got is None:
        return got is want
    if isinstance(want, float):
        return math.isclose(got, want, abs_tol=1e-12)  # type: ignore[arg-type]
    return got == want


def assert_rows(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want, strict=True):
        bad = {k: (g.get(k), v) for k, v in w.items() if not close(g.get(k), v)}
        which = [w.get(k) for k in ("window", "segment", "context_id", "day", "scope", "signup_week",
                                    "step", "check", "action") if w.get(k) is not None]  # fmt: skip
        assert not bad, f"{' '.join(map(str, which))}: {bad}"


# -- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    runner = write_world(tmp_path_factory.mktemp("brute"))
    results = runner.run()
    assert all(r.status == "ok" for r in results), [(r.job, r.error) for r in results]
    return runner


def test_the_world_has_both_periods(ran: Runner) -> None:
    w = world()
    assert set(cohort(w, P1)) == {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "n"}
    assert set(cohort(w, P2)) == {"a", "b", "e", "g", "i", "j", "l", "m", "n"}
    assert sorted(report(ran, "churn_posting")["window"].unique()) == [P1.isoformat(), P2.isoformat()]


@pytest.mark.parametrize("start", [P1, P2], ids=str)
def test_churn_posting(ran: Runner, start: date) -> None:
    got = report(ran, "churn_posting").filter(pl.col("window") == start.isoformat())
    assert_rows(got.sort("segment_order").to_dicts(), expected_churn(world(), start))


@pytest.mark.parametrize("start", [P1, P2], ids=str)
def test_churn_strata(ran: Runner, start: date) -> None:
    users = [r for r in cohort(world(), start).values() if r["group"] != "holdout"]
    want = defaultdict(lambda: [0, 0, 0, math.inf, -math.inf])
    for r in users:
        row = want[(r["stratum"], SEGMENTS.index(r["segment"]) + 1)]
        row[0] += 1
        row[1] += r["churned"]
        row[2] += r["retained"]
        row[3], row[4] = min(row[3], r["pre"]), max(row[4], r["pre"])
    got = report(ran, "churn_strata").filter(pl.col("window") == start.isoformat())
    assert {(r["stratum"], r["segment_order"]): [r["users"], r["churned"], r["retained"],
                                                  r["pre_sessions_min"], r["pre_sessions_max"]]
            for r in got.iter_rows(named=True)} == dict(want)  # fmt: skip


@pytest.mark.parametrize("start", [P1, P2], ids=str)
def test_retention_curve(ran: Runner, start: date) -> None:
    w = world()
    users = {u: r for u, r in cohort(w, start).items() if r["group"] != "holdout"}
    d1 = start + timedelta(days=PERIOD_DAYS)
    want = []
    for order, seg in enumerate(SEGMENTS, 1):
        members = [u for u, r in users.items() if r["segment"] == seg]
        if not members:
            continue
        for week in range(1, 5):
            lo, hi = d1 + timedelta(days=7 * (week - 1)), d1 + timedelta(days=7 * week)
            active = sum(any(lo <= d < hi for d in w.active.get(u, ())) for u in members)
            p, low, high = wilson(active, len(members))
            want.append({"segment": seg, "segment_order": order, "week": week,
                         "users": len(members), "active": active, "active_share": p,
                         "active_share_low": low, "active_share_high": high})  # fmt: skip
    got = report(ran, "retention_curve").filter(pl.col("window") == start.isoformat())
    assert_rows(got.sort("segment_order", "week").to_dicts(), want)


@pytest.mark.parametrize("start", [P1, P2], ids=str)
def test_holdout_uplift(ran: Runner, start: date) -> None:
    users = cohort(world(), start)
    counts = {g: [sum(1 for r in users.values() if r["group"] == g),
                  sum(1 for r in users.values() if r["group"] == g and not r["churned"]),
                  sum(1 for r in users.values() if r["group"] == g and r["retained"])]
              for g in ("exposed", "holdout")}  # fmt: skip
    (en, es, er), (hn, hs, hr) = counts["exposed"], counts["holdout"]
    row = report(ran, "holdout_uplift").filter(pl.col("window") == start.isoformat()).row(0, named=True)
    want = {"exposed_users": en, "exposed_stayed": es, "exposed_retained": er,
            "holdout_users": hn, "holdout_stayed": hs, "holdout_retained": hr,
            "holdout_share": hn / (en + hn)}  # fmt: skip
    for name, value in zip(("uplift", "uplift_low", "uplift_high"), newcombe(es, en, hs, hn), strict=True):
        want[name] = value
    assert_rows([row], [want])


def active_days(w: World) -> dict[date, set[str]]:
    taking_part = {T.ROOM_JOINED.value, T.MESSAGE_SENT.value, T.REACTION_ADDED.value,
                   T.POLL_VOTED.value, T.MESSAGE_REPORTED.value}  # fmt: skip
    out: dict[date, set[str]] = defaultdict(set)
    for kind, who, _room, at, _p in w.events:
        if kind in taking_part:
            out[at.date()].add(who)
    return out


def expected_health(w: World) -> list[dict]:
    """DAU/WAU/MAU and posters per day from the first event day to the last: users who took
    part (opened, posted, reacted, voted, reported) in the 1, 7 and 30 days ending that day."""
    by_day = active_days(w)
    posting: dict[date, set[str]] = defaultdict(set)
    for kind, who, _room, at, _p in w.events:
        if kind == T.MESSAGE_SENT.value:
            posting[at.date()].add(who)
    first = min(e[3] for e in w.events).date()
    last = max(e[3] for e in w.events).date()
    want = []
    day = first
    while day <= last:
        def over(days: dict[date, set[str]], span: int, day: date = day) -> set[str]:
            return set().union(*(days.get(day - timedelta(days=i), set()) for i in range(span)))

        dau, wau, mau = len(over(by_day, 1)), len(over(by_day, 7)), len(over(by_day, 30))
        posters, monthly = len(over(posting, 1)), len(over(posting, 30))
        want.append({"window": day.isoformat(), "day": day, "dau": dau, "wau": wau, "mau": mau,
                     "posters": posters, "monthly_posters": monthly,
                     "stickiness": dau / mau if mau else None,
                     "wau_mau": wau / mau if mau else None,
                     "poster_share": posters / dau if dau else None,
                     "monthly_poster_share": monthly / mau if mau else None,
                     "history_days": min((day - first).days + 1, 30)})  # fmt: skip
        day += timedelta(days=1)
    return want


def test_community_health(ran: Runner) -> None:
    assert_rows(report(ran, "community_health").sort("day").to_dicts(), expected_health(world()))


def expected_engagement(w: World | None = None, views: list | None = None) -> list[dict]:
    w = world() if w is None else w
    views = VIEWS if views is None else views
    margin = timedelta(minutes=60)
    horizon = max(e[3] for e in w.events)
    out = []
    for cid, kind, title, s, e, viewers in CONTEXTS:
        start, end = ts(s), ts(e)
        evs = [x for x in w.events if x[2] == cid and start - margin <= x[3] < end + margin]

        def of(t: T, evs: list = evs) -> list:
            return [x for x in evs if x[0] == t.value]

        seen = {u for u, c, v in views
                if c == cid and start - margin <= ts(v) < end + margin and ts(v) <= horizon}  # fmt: skip
        has_views = any(c == cid for _u, c, _v in views)
        n_viewers = int(viewers) if viewers else (len(seen) if has_views else None)
        minutes: dict[int, int] = defaultdict(int)
        for x in of(T.MESSAGE_SENT) + of(T.REACTION_ADDED):
            minutes[math.floor((x[3] - start).total_seconds() / 60)] += 1
        peak = min(minutes.items(), key=lambda kv: (-kv[1], kv[0])) if minutes else (None, None)
        verdicts = [x[4]["action"] for x in of(T.MESSAGE_MODERATED)]
        messages, reactions, votes = len(of(T.MESSAGE_SENT)), len(of(T.REACTION_ADDED)), len(of(T.POLL_VOTED))
        moderated, blocked = sum(v != "allow" for v in verdicts), sum(v == "block" for v in verdicts)
        openers = len({x[1] for x in of(T.ROOM_JOINED)})
        duration = (end - start).total_seconds() / 60
        interactions = messages + reactions + votes
        out.append({
            "window": start.date().isoformat(), "context_id": cid, "kind": kind, "title": title,
            "starts_at": start, "ends_at": end, "duration_minutes": duration,
            "viewers": n_viewers,
            "viewers_source": "export" if viewers else ("views" if has_views else None),
            "openers": openers, "posters": len({x[1] for x in of(T.MESSAGE_SENT)}),
            "messages": messages, "reactions": reactions, "poll_votes": votes,
            "interactions": interactions,
            "opened_share": openers / n_viewers if n_viewers else None,
            "interactions_per_viewer": interactions / n_viewers if n_viewers else None,
            "peak_minute": peak[0], "peak_interactions": peak[1],
            "messages_per_minute": messages / duration if duration else None,
            "reactions_per_minute": reactions / duration if duration else None,
            "moderated": moderated, "blocked": blocked, "attempted": messages + blocked,
            "moderation_rate": moderated / (messages + blocked) if messages + blocked else None,
        })
    for row in out:  # rank by interactions within the day and kind, ties share the best rank
        row["rank_in_kind"] = 1 + sum(o["interactions"] > row["interactions"] for o in out
                                      if (o["window"], o["kind"]) == (row["window"], row["kind"]))
    return sorted(out, key=lambda r: r["context_id"])


def test_engagement(ran: Runner) -> None:
    assert_rows(report(ran, "engagement").sort("context_id").to_dicts(), expected_engagement())


def test_engagement_timeline(ran: Runner) -> None:
    w = world()
    margin = timedelta(minutes=60)
    want: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for cid, _kind, _title, s, e, _v in CONTEXTS:
        start, end = ts(s), ts(e)
        for kind, _who, room, at, _p in w.events:
            types = [T.MESSAGE_SENT.value, T.REACTION_ADDED.value, T.POLL_VOTED.value]
            if room == cid and kind in types and start - margin <= at < end + margin:
                want[(cid, math.floor((at - start).total_seconds() / 60))][types.index(kind)] += 1
    got = report(ran, "engagement_timeline")
    assert {(r["context_id"], r["minute"]): [r["messages"], r["reactions"], r["poll_votes"]]
            for r in got.iter_rows(named=True)} == dict(want)  # fmt: skip


def test_engagement_daily(ran: Runner) -> None:
    w = world()
    margin = timedelta(minutes=60)
    counted = {T.ROOM_JOINED.value, T.MESSAGE_SENT.value, T.REACTION_ADDED.value,
               T.POLL_VOTED.value, T.MESSAGE_MODERATED.value}  # a day of its own when present
    want: dict[tuple[str, date], list[int]] = {}
    for cid, _kind, _title, s, e, _v in CONTEXTS:
        start, end = ts(s), ts(e)
        want[(cid, start.date())] = [0, 0, 0]
        for kind, _who, room, at, p in w.events:
            if room != cid or not start - margin <= at < end + margin or kind not in counted:
                continue
            row = want.setdefault((cid, at.date()), [0, 0, 0])
            row[0] += kind == T.MESSAGE_SENT.value
            row[1] += kind == T.REACTION_ADDED.value
            row[2] += kind == T.MESSAGE_MODERATED.value and p["action"] == "block"
    got = report(ran, "engagement_daily")
    assert {(r["context_id"], r["day"]): [r["messages"], r["reactions"], r["blocked"]]
            for r in got.iter_rows(named=True)} == want  # fmt: skip


def test_late_activity_rows_reach_final_cohorts(tmp_path: Path) -> None:
    """A row of P1's horizon that arrives after P1 was computed final is counted: the
    incremental run equals the brute force over the new export, and a full recompute."""
    runner = write_world(tmp_path)
    assert all(r.status == "ok" for r in runner.run())
    late = [*ACTIVITY, ("f", "2026-01-22", 3)]  # f comes back: retained, not churned
    (tmp_path / "exports" / "activity.csv").write_text(
        "user_id,date,sessions,minutes\n" + "".join(f"{u},{d},{s},{s}\n" for u, d, s in late)
    )
    assert all(r.status == "ok" for r in runner.run(["churn_posting"]))
    got = report(runner, "churn_posting").filter(pl.col("window") == P1.isoformat())
    assert_rows(got.sort("segment_order").to_dicts(), expected_churn(world(late), P1))


def test_erased_user_is_noted_and_counted_once(ran: Runner) -> None:
    # The pseudonym is a community user of its own in DAU (one person), in no product report.
    jan8 = report(ran, "community_health").filter(pl.col("day") == date(2026, 1, 8))
    assert jan8["dau"].item() == len(active_days(world())[date(2026, 1, 8)])
    notes = ran.status()
    found = [r for r in notes if r["job"] == "churn_posting"]
    assert found and json.dumps(found[0], default=str).count("1 erased users") == 1


def test_engagement_kind(ran: Runner) -> None:
    """Per start day and kind, the contexts' rows summed; rates over the sums, null when the
    summed denominator is 0 (or no context of the group knows its viewers)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in expected_engagement():
        groups[(row["window"], row["kind"])].append(row)
    want = []
    for (window, kind), rows in sorted(groups.items()):
        known = [r for r in rows if r["viewers"] is not None]
        viewers = sum(r["viewers"] for r in known) if known else None
        sums = {c: sum(r[c] for r in rows) for c in ("openers", "posters", "messages", "reactions",
                                                     "poll_votes", "interactions", "moderated",
                                                     "blocked", "attempted")}  # fmt: skip
        minutes = sum(r["duration_minutes"] for r in rows)
        want.append({"window": window, "kind": kind, "contexts": len(rows), "viewers": viewers,
                     "contexts_without_viewers": len(rows) - len(known), **sums,
                     "minutes": minutes,
                     "opened_share": (sum(r["openers"] for r in known) / viewers
                                      if viewers else None),
                     "messages_per_context": sums["messages"] / len(rows),
                     "messages_per_minute": sums["messages"] / minutes if minutes else None,
                     "reactions_per_minute": sums["reactions"] / minutes if minutes else None,
                     "moderation_rate": (sums["moderated"] / sums["attempted"]
                                         if sums["attempted"] else None)})  # fmt: skip
    assert_rows(report(ran, "engagement_kind").sort("window", "kind").to_dicts(), want)


def expected_funnel(w: World, views: list[tuple[str, str, str]] | None = VIEWS) -> list[dict]:
    """Users of the users export: viewed (a view up to the latest event; without a views
    export, used the product up to its day) → opened → reacted → voted → posted → posted on
    two or more UTC days; reached = did every step so far."""
    horizon = max(e[3] for e in w.events)
    users = {u for u, t in w.signups.items() if t <= horizon}
    did: dict[str, set[str]] = {s: set() for s in ("viewed", "opened", "reacted", "voted",
                                                   "posted", "posted_again")}  # fmt: skip
    if views:
        did["viewed"] = {u for u, _c, v in views if ts(v) <= horizon} & users
    else:
        did["viewed"] = {u for u, days in w.active.items() if min(days) <= horizon.date()} & users
    post_days: dict[str, set[date]] = defaultdict(set)
    step = {T.ROOM_JOINED.value: "opened", T.REACTION_ADDED.value: "reacted",
            T.POLL_VOTED.value: "voted", T.MESSAGE_SENT.value: "posted"}  # fmt: skip
    for kind, who, _room, at, _p in w.events:
        if kind in step and who in users:
            did[step[kind]].add(who)
            if kind == T.MESSAGE_SENT.value:
                post_days[who].add(at.date())
    did["posted_again"] = {u for u, days in post_days.items() if len(days) > 1}
    want, reached, first = [], set(users), None
    previous = None
    for order, (name, people) in enumerate(did.items(), 1):
        reached &= people
        first = len(reached) if first is None else first
        want.append({"step_order": order, "step": name, "users": len(people),
                     "reached": len(reached),
                     "conversion": (len(reached) / previous if previous else None)
                     if order > 1 else (1.0 if reached else None),
                     "share_of_first": len(reached) / first if first else None})  # fmt: skip
        previous = len(reached)
    return want


def test_funnel(ran: Runner) -> None:
    assert_rows(report(ran, "funnel").sort("step_order").to_dicts(), expected_funnel(world()))
