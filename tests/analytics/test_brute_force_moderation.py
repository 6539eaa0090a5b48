"""The moderation reports (moderation_daily, moderation_checks) and the moderation side of
community health and per-event engagement, over the brute-force world of test_brute_force.py
with a review queue's worth of edge cases added, against answers computed here in plain Python
(no Polars, no code of the jobs), from docs/analytics.md.

Added, each named where planted below: held messages approved, rejected, deleted from the
queue and never reviewed; a review across midnight and one a microsecond after its hold; a
hold and a report on the same microsecond; a flag exactly ``review_lookback_days`` before its
review (timed) and ones further back (not seen: the review is timed from a later flag, or not
timed); a message reviewed twice; legacy deletes without the ``review`` marker; a report on a
deleted message; a moderator reporting a message and reviewing their own report, and
approving their own held message; masked, held-and-masked, shadowed (a verdict) and
shadow-banned (no verdict) messages; blocks, one on a day's last microsecond, one citing no
check; an allow verdict; a verdict citing one check twice with different scores; a day with
only blocked messages (no sent message: null masked share) and empty days (null rates); a room
no context covers. The world's ``review_lookback_days`` is 3, and each report is computed in
chunks of 31 days and of 2 (a review must not depend on which chunk computed it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.runner import Runner
from service.domain.events import Event, new_event
from service.domain.events import EventType as T
from tests.analytics.test_brute_force import (
    CONTEXTS,
    SENT,
    VIEWS,
    World,
    assert_rows,
    expected_engagement,
    expected_health,
    report,
    run_in_two,
    ts,
    world,
    write_world,
)
from tests.analytics.test_brute_force_journey import quantile

LOOKBACK = timedelta(days=3)
MOD_SETTINGS = {"review_lookback_days": 3}


def sent(user: str, mid: str, at: str, room: str = "team:x", **extra: Any) -> Event:
    return new_event(T.MESSAGE_SENT, user_id=user, room_id=room, occurred_at=ts(at), message_id=mid,
                     payload={"text": "t", **SENT, **extra})  # fmt: skip


def verdict(user: str, mid: str, at: str, action: str, reasons: list[tuple[str, str, float]],
            room: str = "team:x") -> Event:  # fmt: skip
    return new_event(
        T.MESSAGE_MODERATED, user_id=user, room_id=room, occurred_at=ts(at), message_id=mid,
        payload={"action": action, "score": max((r[2] for r in reasons), default=0.0),
                 "reasons": [{"check": c, "code": code, "score": s, "detail": ""}
                             for c, code, s in reasons], "checks_ms": {}},
    )  # fmt: skip


def held(user: str, mid: str, at: str, reasons: list[tuple[str, str, float]],
         room: str = "team:x", **extra: Any) -> list[Event]:  # fmt: skip
    """A held message as the service writes it: its sent event (visibility held) and the hold
    verdict, on the same microsecond."""
    return [sent(user, mid, at, room, visibility="held", **extra),
            verdict(user, mid, at, "hold", reasons, room)]  # fmt: skip


def reported(who: str, mid: str, at: str, room: str = "team:x") -> Event:
    return new_event(T.MESSAGE_REPORTED, user_id=who, room_id=room, occurred_at=ts(at),
                     message_id=mid, payload={"reason": "spam", "report_id": f"{mid}-{who}"})  # fmt: skip


def decided(author: str, mid: str, at: str, decision: str, source: str, actor: str = "mod",
            room: str = "team:x") -> Event:  # fmt: skip
    """A review queue's approve or reject (the subject is the message's author)."""
    return new_event(T.MESSAGE_APPROVED, user_id=author, room_id=room, occurred_at=ts(at),
                     message_id=mid, actor_id=actor,
                     payload={"decision": decision, "source": source})  # fmt: skip


def deleted(author: str, mid: str, at: str, reason: str, review: bool | None,
            actor: str = "mod") -> Event:  # fmt: skip
    """A delete; ``review`` None writes it as versions before the marker did."""
    payload: dict[str, Any] = {"reason": reason}
    if review is not None:
        payload["review"] = review
    return new_event(T.MESSAGE_DELETED, user_id=author, room_id="team:x", occurred_at=ts(at),
                     message_id=mid, actor_id=actor, payload=payload)  # fmt: skip


BLOCKLIST = [("blocklist", "word", 1.0)]


def moderation_events() -> list[Event]:
    return [
        # ho1: held on the 5th, approved 4 days later: its hold is beyond the 3-day lookback,
        # so the review is not timed and reviews no check's hold.
        *held("u1", "ho1", "2026-01-05T12:00:00Z", BLOCKLIST),
        decided("u1", "ho1", "2026-01-09T12:00:00Z", "approve", "hold"),
        # 14 January.
        # h1: held 10:00, approved 10:30 (overturned).
        *held("u1", "h1", "2026-01-14T10:00:00Z", BLOCKLIST),
        decided("u1", "h1", "2026-01-14T10:30:00Z", "approve", "hold"),
        # h2: held 23:50 citing spam twice (0.8 and 0.6) and the provider; rejected across
        # midnight, 00:10 on the 15th (20 minutes, counted on the 15th).
        *held("u2", "h2", "2026-01-14T23:50:00Z",
              [("spam", "spam.links", 0.8), ("spam", "spam.mentions", 0.6),
               ("provider", "provider.hate", 0.7)]),
        decided("u2", "h2", "2026-01-15T00:10:00Z", "reject", "hold"),
        # h3: held, never reviewed.
        *held("u3", "h3", "2026-01-14T12:00:00Z", BLOCKLIST),
        # h4: held 13:00, reported while held 13:05, deleted from the queue 13:45: timed from
        # the hold (45 minutes), a review of the blocklist's hold, not overturned.
        *held("u1", "h4", "2026-01-14T13:00:00Z", BLOCKLIST),
        reported("u4", "h4", "2026-01-14T13:05:00Z"),
        deleted("u1", "h4", "2026-01-14T13:45:00Z", "review", True),
        # mk1: masked (personal data) citing pii twice with one score.
        sent("u4", "mk1", "2026-01-14T09:00:00Z", masked=True),
        verdict("u4", "mk1", "2026-01-14T09:00:00Z", "mask",
                [("pii", "pii.email", 0.5), ("pii", "pii.phone", 0.5)]),
        # mh1: held and masked: a masked message (sent) and a hold; approved on the hold's
        # microsecond (0 minutes).
        *held("u5", "mh1", "2026-01-14T14:00:00Z", [("pii", "pii.email", 0.5), *BLOCKLIST],
              masked=True),
        decided("u5", "mh1", "2026-01-14T14:00:00Z", "approve", "hold"),
        # sh1: shadowed by a verdict; sb1: shadowed by a shadow-ban (no verdict).
        sent("u6", "sh1", "2026-01-14T15:00:00Z", visibility="shadow"),
        verdict("u6", "sh1", "2026-01-14T15:00:00Z", "shadow",
                [("spam", "spam.mentions", 0.5), ("spam", "spam.flood", 0.6)]),  # lower first
        sent("u7", "sb1", "2026-01-14T15:30:00Z", visibility="shadow", shadow_ban=True),
        # Blocks: no sent event. One on the day's last microsecond, one citing no check.
        verdict("u8", "bl1", "2026-01-14T16:00:00Z", "block", [("hate", "hate.racist_abuse", 0.95)]),
        verdict("u8", "bl2", "2026-01-14T23:59:59.999999Z", "block", [("rate", "rate.duplicate", 0.9)]),
        verdict("u8", "bl0", "2026-01-14T18:00:00Z", "block", []),
        # al1: an allow verdict (the service writes none; an import may): not moderated.
        sent("u9", "al1", "2026-01-14T17:00:00Z"),
        verdict("u9", "al1", "2026-01-14T17:00:00Z", "allow", [("provider", "provider.flagged", 0.2)]),
        # 15 January.
        # m3 (b's, reported by h on the 12th at 08:00): reported again at 08:00, kept at 09:00;
        # the report of the 12th is 3 days and 1 hour back, beyond the lookback: 60 minutes.
        reported("u5", "m3", "2026-01-15T08:00:00Z"),
        decided("b", "m3", "2026-01-15T09:00:00Z", "approve", "report"),
        # m4: deleted by a moderator (no review), then reported (a report on a deleted message).
        deleted("b", "m4", "2026-01-15T10:00:00Z", "moderator", False),
        reported("u6", "m4", "2026-01-15T10:05:00Z"),
        # m2: a moderator reports a message and reviews their own report: kept after 20 minutes.
        reported("mod", "m2", "2026-01-15T11:00:00Z"),
        decided("a", "m2", "2026-01-15T11:20:00Z", "approve", "report"),
        # hm: the moderator's own message, held in a room no context covers, approved by them
        # (the service leaves actor_id empty when the actor is the subject) after 5 minutes.
        *held("mod", "hm", "2026-01-15T12:00:00Z", BLOCKLIST, room="chat:lobby"),
        decided("mod", "hm", "2026-01-15T12:05:00Z", "approve", "hold", actor="mod",
                room="chat:lobby"),
        # hx: held on the 15th's last microsecond, approved on the 16th's first.
        *held("u2", "hx", "2026-01-15T23:59:59.999999Z", BLOCKLIST),
        decided("u2", "hx", "2026-01-16T00:00:00Z", "approve", "hold"),
        # 16 and 17 January.
        # rm1: reported at 23:00 and on the 16th's last microsecond, deleted from the queue on
        # the 20th at 09:00: both reports are beyond the lookback, so the review is not timed.
        sent("u1", "rm1", "2026-01-16T20:00:00Z"),
        reported("u2", "rm1", "2026-01-16T23:00:00Z"),
        reported("u3", "rm1", "2026-01-16T23:59:59.999999Z"),
        deleted("u1", "rm1", "2026-01-20T09:00:00Z", "review", True),
        # rb1: reported exactly 3 days before its reject: timed (4,320 minutes). The reject's
        # delete is no review.
        sent("u4", "rb1", "2026-01-17T05:00:00Z"),
        reported("u5", "rb1", "2026-01-17T06:00:00Z"),
        decided("u4", "rb1", "2026-01-20T06:00:00Z", "reject", "report"),
        deleted("u4", "rb1", "2026-01-20T06:00:00Z", "review rejected", False),
        # 19 January.
        # m6 (d's, sent at 00:00): reported at 01:00 and 01:30, kept at 02:00 (60 minutes);
        # reported again at 03:00, rejected at 03:30 (30 minutes, from the new report).
        reported("u1", "m6", "2026-01-19T01:00:00Z"),
        reported("u2", "m6", "2026-01-19T01:30:00Z"),
        decided("d", "m6", "2026-01-19T02:00:00Z", "approve", "report"),
        reported("u3", "m6", "2026-01-19T03:00:00Z"),
        decided("d", "m6", "2026-01-19T03:30:00Z", "reject", "report"),
        deleted("d", "m6", "2026-01-19T03:30:00Z", "review rejected", False),
        # lg1, lg2: deletes written before the marker: a review by its reason only.
        sent("u5", "lg1", "2026-01-19T04:00:00Z"),
        reported("u6", "lg1", "2026-01-19T04:10:00Z"),
        deleted("u5", "lg1", "2026-01-19T04:40:00Z", "review", None),
        sent("u5", "lg2", "2026-01-19T04:00:00Z"),
        reported("u6", "lg2", "2026-01-19T04:10:00Z"),
        deleted("u5", "lg2", "2026-01-19T04:50:00Z", "moderator", None),
        # hs1: a hold and a report on the same microsecond, deleted from the queue 10 minutes
        # later: timed from the hold, a review of the spam check's hold.
        *held("u6", "hs1", "2026-01-19T05:00:00Z", [("spam", "spam.links", 0.7)]),
        reported("u1", "hs1", "2026-01-19T05:00:00Z"),
        deleted("u6", "hs1", "2026-01-19T05:10:00Z", "review", True),
        # 21 January: only blocked attempts (no message sent: masked share null, rate 1).
        verdict("u8", "bl3", "2026-01-21T10:00:00Z", "block", [("spam", "spam.links", 0.9)]),
        verdict("u8", "bl4", "2026-01-21T11:00:00Z", "block", [("spam", "spam.links", 0.95)]),
    ]  # fmt: skip


def moderation_world() -> World:
    return world(extra=moderation_events())


# -- brute force ---------------------------------------------------------------------------------


@dataclass
class Review:
    message_id: str
    at: datetime
    decision: str  # approve, reject, delete
    source: str | None  # as written (approve, reject), else the source of the flag found
    flagged_at: datetime | None


def is_review(ev: Event) -> bool:
    """A decision in the review queue: an approve or reject, or the queue's delete (marked
    ``review: true``; before the marker existed, the reason ``review``)."""
    if ev.event_type is T.MESSAGE_APPROVED:
        return True
    if ev.event_type is T.MESSAGE_DELETED:
        marker = ev.payload.get("review")
        return marker is True if marker is not None else ev.payload.get("reason") == "review"
    return False


def reviews(w: World) -> list[Review]:
    """Every review, timed from the earliest flag of its source (the hold verdict or a report;
    a delete names none: any) since the message's previous review and no more than the
    lookback before it; a hold before a report of the same microsecond."""
    decisions = [ev for ev in w.log if is_review(ev)]
    out = []
    for ev in decisions:
        mid, at = ev.message_id, ev.occurred_at
        previous = max((d.occurred_at for d in decisions
                        if d.message_id == mid and d.occurred_at < at), default=None)  # fmt: skip
        source = ev.payload.get("source") if ev.event_type is T.MESSAGE_APPROVED else None
        flags = []
        for f in w.log:
            kind = ("hold" if f.event_type is T.MESSAGE_MODERATED and f.payload["action"] == "hold"
                    else "report" if f.event_type is T.MESSAGE_REPORTED else None)  # fmt: skip
            if (kind and f.message_id == mid and at - LOOKBACK <= f.occurred_at <= at
                    and (previous is None or f.occurred_at > previous)
                    and source in (None, kind)):  # fmt: skip
                flags.append((f.occurred_at, kind))
        first = min(flags, default=(None, None))
        decision = ev.payload["decision"] if ev.event_type is T.MESSAGE_APPROVED else "delete"
        out.append(Review(mid, at, decision, source or first[1], first[0]))  # type: ignore[arg-type]
    return out


def days(w: World) -> list[date]:
    first, last = w.log[0].occurred_at.date(), w.log[-1].occurred_at.date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def expected_daily(w: World) -> list[dict]:
    out = []
    all_reviews = reviews(w)
    for day in days(w):
        evs = [ev for ev in w.log if ev.occurred_at.date() == day]
        sent_ = [ev for ev in evs if ev.event_type is T.MESSAGE_SENT]
        actions = [ev.payload["action"] for ev in evs if ev.event_type is T.MESSAGE_MODERATED]
        verdicts = {a: actions.count(a) for a in ("mask", "shadow", "hold", "block")}
        masked = sum(ev.payload.get("masked") is True for ev in sent_)
        attempted = len(sent_) + verdicts["block"]
        actioned = sum(verdicts.values())
        of_day = [r for r in all_reviews if r.at.date() == day]
        overturned = sum(r.decision == "approve" for r in of_day)
        minutes = [(r.at - r.flagged_at) / timedelta(minutes=1) for r in of_day if r.flagged_at]
        out.append({
            "window": day.isoformat(), "day": day, "messages": len(sent_),
            "masked_messages": masked, "masked_share": masked / len(sent_) if sent_ else None,
            **{f"verdicts_{a}": n for a, n in verdicts.items()},
            "attempted": attempted, "actioned": actioned,
            "moderation_rate": actioned / attempted if attempted else None,
            "reports": sum(ev.event_type is T.MESSAGE_REPORTED for ev in evs),
            "reviews": len(of_day), "overturned": overturned,
            "overturn_rate": overturned / len(of_day) if of_day else None,
            "reviews_timed": len(minutes),
            "review_minutes_median": quantile(minutes, 0.5),
            "review_minutes_p90": quantile(minutes, 0.9),
        })  # fmt: skip
    return out


def checks_of(ev: Event) -> dict[str, float]:
    """The checks a verdict cites, each with its highest score in it."""
    out: dict[str, float] = {}
    for r in ev.payload["reasons"]:
        out[r["check"]] = max(out.get(r["check"], r["score"]), r["score"])
    return out


def expected_checks(w: World) -> dict[tuple[date, str, str], dict]:
    """Per (day, check, action): verdicts citing the check and their mean score (the check's
    highest in each), and the day's reviews of holds citing it: a review timed from a hold
    verdict reviews that verdict's checks."""
    rows: dict[tuple[date, str, str], dict] = defaultdict(
        lambda: {"verdicts": 0, "scores": [], "reviewed": 0, "overturned": 0})
    for ev in w.log:
        if ev.event_type is T.MESSAGE_MODERATED:
            for check, score in checks_of(ev).items():
                row = rows[(ev.occurred_at.date(), check, ev.payload["action"])]
                row["verdicts"] += 1
                row["scores"].append(score)
    for r in reviews(w):
        if r.source != "hold" or r.flagged_at is None:
            continue
        [hold] = [ev for ev in w.log if ev.event_type is T.MESSAGE_MODERATED
                  and ev.message_id == r.message_id and ev.occurred_at == r.flagged_at]  # fmt: skip
        for check in checks_of(hold):
            row = rows[(r.at.date(), check, "hold")]
            row["reviewed"] += 1
            row["overturned"] += r.decision == "approve"
    return {k: {"window": k[0].isoformat(), "day": k[0], "check": k[1], "action": k[2],
                "verdicts": v["verdicts"], "reviewed": v["reviewed"], "overturned": v["overturned"],
                "mean_score": sum(v["scores"]) / len(v["scores"]) if v["scores"] else None}
            for k, v in sorted(rows.items())}  # fmt: skip


# -- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[31, 2], ids=["chunks of 31 days", "chunks of 2 days"])
def ran(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Runner:
    runner = write_world(tmp_path_factory.mktemp("moderation"), extra=moderation_events(),
                         settings={**MOD_SETTINGS, "chunk_windows": request.param})  # fmt: skip
    jobs = ["moderation_daily", "moderation_checks", "community_health", "engagement",
            "engagement_daily"]
    results = runner.run(jobs)
    assert all(r.status == "ok" for r in results), [(r.job, r.error) for r in results]
    return runner


def test_the_world_plants_the_moderation_edge_cases() -> None:
    w = moderation_world()
    by_id = {(r.message_id, r.decision): r for r in reviews(w)}
    assert by_id[("ho1", "approve")].flagged_at is None  # the hold is beyond the lookback
    assert by_id[("m3", "approve")].flagged_at == ts("2026-01-15T08:00:00Z")  # not the 12th
    assert by_id[("rm1", "delete")].flagged_at is None
    assert by_id[("rb1", "reject")].flagged_at == ts("2026-01-17T06:00:00Z")  # exactly 3 days
    assert (by_id[("hs1", "delete")].source, by_id[("h4", "delete")].source) == ("hold", "hold")
    assert ("lg2", "delete") not in by_id and ("m4", "delete") not in by_id
    daily = {r["day"]: r for r in expected_daily(w)}
    assert daily[date(2026, 1, 21)]["messages"] == 0 and daily[date(2026, 1, 21)]["attempted"] == 2
    assert daily[date(2026, 1, 25)]["attempted"] == 0  # an empty day


def test_moderation_daily(ran: Runner) -> None:
    got = report(ran, "moderation_daily").sort("day").to_dicts()
    assert_rows(got, expected_daily(moderation_world()))


def test_moderation_checks(ran: Runner) -> None:
    got = report(ran, "moderation_checks").sort("day", "check", "action").to_dicts()
    assert_rows(got, list(expected_checks(moderation_world()).values()))


def test_community_health_with_moderation(ran: Runner) -> None:
    """Reporting is taking part (the moderator who reports too); a blocked attempt is not
    posting; held and shadowed messages are posts; a moderator's decisions and deletes make
    nobody active, neither the moderator nor the author they are about."""
    got = report(ran, "community_health").sort("day").to_dicts()
    assert_rows(got, expected_health(moderation_world()))


def test_engagement_moderation_per_room(ran: Runner) -> None:
    """Per context: moderated (verdicts other than allow), blocked, attempted and the rate
    over attempts; contexts without any moderation have 0 (or a null rate without attempts)."""
    got = report(ran, "engagement").sort("context_id").to_dicts()
    assert_rows(got, expected_engagement(moderation_world(), VIEWS))


def test_engagement_daily_moderation_per_room_and_day(ran: Runner) -> None:
    """Per context and UTC day of its timeline: a row for its start day and for each day with a
    room event it counts (an allow verdict too); moderated, blocked and attempted on the day of
    the verdict or message."""
    w = moderation_world()
    margin = timedelta(minutes=60)
    counted = {T.ROOM_JOINED, T.MESSAGE_SENT, T.REACTION_ADDED, T.POLL_VOTED, T.MESSAGE_MODERATED}
    want: dict[tuple[str, date], list[int]] = {}
    for cid, _kind, _title, s, e, _v in CONTEXTS:
        start, end = ts(s), ts(e)
        want[(cid, start.date())] = [0, 0, 0, 0]
        for ev in w.log:
            if (ev.room_id != cid or ev.event_type not in counted
                    or not start - margin <= ev.occurred_at < end + margin):  # fmt: skip
                continue
            row = want.setdefault((cid, ev.occurred_at.date()), [0, 0, 0, 0])
            action = ev.payload.get("action") if ev.event_type is T.MESSAGE_MODERATED else None
            row[0] += ev.event_type is T.MESSAGE_SENT
            row[1] += action not in (None, "allow")
            row[2] += action == "block"
            row[3] += ev.event_type is T.MESSAGE_SENT or action == "block"
    got = report(ran, "engagement_daily")
    assert {(r["context_id"], r["day"]): [r["messages"], r["moderated"], r["blocked"], r["attempted"]]
            for r in got.iter_rows(named=True)} == want  # fmt: skip


def test_incremental_runs_equal_the_brute_force(tmp_path: Path) -> None:
    """Run as the service runs them, the export first reaching the 15th (the 14th open: its
    last event is a block on its last microsecond), then the rest: h2, held at 23:50 on the
    14th and rejected at 00:10 on the 15th, is timed across the two runs."""
    cut = ts("2026-01-15T00:00:00Z")
    runner = write_world(tmp_path, extra=[e for e in moderation_events() if e.occurred_at < cut],
                         settings={**MOD_SETTINGS, "chunk_windows": 2})  # fmt: skip
    run_in_two(runner, cut, [e for e in moderation_events() if e.occurred_at >= cut],
               ["moderation_daily", "moderation_checks"])  # fmt: skip
    w = moderation_world()
    assert_rows(report(runner, "moderation_daily").sort("day").to_dicts(), expected_daily(w))
    got = report(runner, "moderation_checks").sort("day", "check", "action").to_dicts()
    assert_rows(got, list(expected_checks(w).values()))
