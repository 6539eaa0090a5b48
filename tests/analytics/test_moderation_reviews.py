"""Reviews: each decision counts once, and its time to review runs from the flag that put the
message back in the queue, not from a flag an earlier review already resolved; a delete
decided in the review queue is a review like an approve or a reject. Answers worked out by
hand."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from analytics.demo import write_warehouse
from analytics.runner import Runner
from analytics.settings import AnalyticsSettings
from service.domain.events import Event, new_event
from service.domain.events import EventType as T
from tests.analytics.conftest import NOW, SENT, at


def sent(mid: str, when: datetime, **extra: object) -> Event:
    return new_event(T.MESSAGE_SENT, user_id="a", room_id="team:x", occurred_at=when,
                     message_id=mid, payload={"text": "t", **SENT, **extra})  # fmt: skip


def reported(mid: str, who: str, when: datetime) -> Event:
    return new_event(T.MESSAGE_REPORTED, user_id=who, room_id="team:x", occurred_at=when,
                     message_id=mid, payload={"reason": "spam", "report_id": f"{mid}-{who}"})  # fmt: skip


def events() -> list:
    e = new_event
    reviewed = lambda mid, when, decision, source: e(  # noqa: E731
        T.MESSAGE_APPROVED, user_id="a", room_id="team:x", occurred_at=when, message_id=mid,
        actor_id="mod", payload={"decision": decision, "source": source})  # fmt: skip
    return [
        # m1: reported, kept (30 min); reported again the next day by someone else, rejected
        # (10 min after that second report). The reject also deletes it (not a review).
        sent("m1", at(1, 6, 12)),
        reported("m1", "b", at(1, 6, 13)),
        reviewed("m1", at(1, 6, 13, 30), "approve", "report"),
        reported("m1", "c", at(1, 7, 9)),
        reviewed("m1", at(1, 7, 9, 10), "reject", "report"),
        e(T.MESSAGE_DELETED, user_id="a", room_id="team:x", occurred_at=at(1, 7, 9, 10),
          message_id="m1", actor_id="mod", payload={"reason": "review rejected"}),
        # m2: held by the blocklist and reported while held; released 20 min after the hold;
        # reported again once public and rejected 40 min after that report.
        sent("m2", at(1, 8, 10), visibility="held"),
        e(T.MESSAGE_MODERATED, user_id="a", room_id="team:x", occurred_at=at(1, 8, 10),
          message_id="m2", payload={"action": "hold", "score": 1.0, "reasons": [
              {"check": "blocklist", "code": "word", "score": 1.0, "detail": ""}],
              "checks_ms": {}}),
        reported("m2", "b", at(1, 8, 10, 5)),
        reviewed("m2", at(1, 8, 10, 20), "approve", "hold"),
        reported("m2", "c", at(1, 9, 11)),
        reviewed("m2", at(1, 9, 11, 40), "reject", "report"),
    ]  # fmt: skip


def run_over(tmp_path: Path, history: list) -> Runner:
    """The two moderation reports over ``history``, with empty product exports."""
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "users.csv").write_text("user_id,signed_up_at,plan,country\n")
    (exports / "activity.csv").write_text("user_id,date,sessions,minutes\n")
    (exports / "contexts.csv").write_text("context_id,kind,title,starts_at,ends_at\n")
    write_warehouse(history, tmp_path / "warehouse")
    runner = Runner(tmp_path / "warehouse", exports, AnalyticsSettings(), clock=lambda: NOW,
                    progress=False)  # fmt: skip
    results = runner.run(["moderation_daily", "moderation_checks"])
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    return runner


def test_a_message_reviewed_twice(tmp_path: Path) -> None:
    runner = run_over(tmp_path, events())
    daily = pl.read_parquet(runner.reports_root / "moderation_daily" / "*.parquet")
    got = {
        r[0].day: r[1:]
        for r in daily.sort("day").select("day", "messages", "verdicts_hold", "reports",
                                          "reviews", "overturned", "reviews_timed",
                                          "review_minutes_median").rows()
    }  # fmt: skip
    assert got == {
        # day: messages, holds, reports, reviews, overturned, timed, minutes to review
        6: (1, 0, 1, 1, 1, 1, 30.0),  # m1 reported 13:00, kept 13:30
        7: (0, 0, 1, 1, 0, 1, 10.0),  # m1 reported again 09:00, rejected 09:10 (not 20 h 10)
        8: (1, 1, 1, 1, 1, 1, 20.0),  # m2 held 10:00, released 10:20 (the report is not
        #                               another review, nor timed on its own)
        9: (0, 0, 1, 1, 0, 1, 40.0),  # m2 reported 11:00, rejected 11:40 (not from 10:05
        #                               the day before, which the release resolved)
    }
    # Two reviews per message over the four days, two of four overturned.
    assert (daily["reviews"].sum(), daily["overturned"].sum()) == (4, 2)

    checks = pl.read_parquet(runner.reports_root / "moderation_checks" / "*.parquet")
    assert checks.select("day", "check", "action", "verdicts", "reviewed", "overturned").rows() == [
        # m2's hold cited the blocklist; only its release reviews the hold (the later reject
        # reviews reports), so it counts once.
        (date(2026, 1, 8), "blocklist", "hold", 1, 1, 1),
    ]


def deleted_events() -> list:
    """Review-queue deletes (the service writes only ``community_message_deleted`` with reason
    ``review``) beside an ordinary moderator delete (reason ``moderator``)."""
    e = new_event
    deleted = lambda mid, when, reason: e(  # noqa: E731
        T.MESSAGE_DELETED, user_id="a", room_id="team:x", occurred_at=when, message_id=mid,
        actor_id="mod", payload={"reason": reason})  # fmt: skip
    return [
        # d1: held by the blocklist at 10:00 on the 6th, deleted from the queue at 10:25.
        sent("d1", at(1, 6, 10), visibility="held"),
        e(T.MESSAGE_MODERATED, user_id="a", room_id="team:x", occurred_at=at(1, 6, 10),
          message_id="d1", payload={"action": "hold", "score": 1.0, "reasons": [
              {"check": "blocklist", "code": "word", "score": 1.0, "detail": ""}],
              "checks_ms": {}}),
        deleted("d1", at(1, 6, 10, 25), "review"),
        # d2: reported 09:10 on the 7th, deleted from the queue at 09:50.
        sent("d2", at(1, 7, 9)),
        reported("d2", "b", at(1, 7, 9, 10)),
        deleted("d2", at(1, 7, 9, 50), "review"),
        # d3: deleted by a moderator outside the queue: not a review.
        sent("d3", at(1, 7, 11)),
        deleted("d3", at(1, 7, 11, 5), "moderator"),
        # d4: reported 12:00, kept 12:30; reported again 13:00, deleted from the queue 14:00.
        sent("d4", at(1, 7, 11, 30)),
        reported("d4", "b", at(1, 7, 12)),
        e(T.MESSAGE_APPROVED, user_id="a", room_id="team:x", occurred_at=at(1, 7, 12, 30),
          message_id="d4", actor_id="mod", payload={"decision": "approve", "source": "report"}),
        reported("d4", "c", at(1, 7, 13)),
        deleted("d4", at(1, 7, 14), "review"),
    ]  # fmt: skip


def test_a_delete_from_the_review_queue_is_a_review(tmp_path: Path) -> None:
    runner = run_over(tmp_path, deleted_events())
    daily = pl.read_parquet(runner.reports_root / "moderation_daily" / "*.parquet")
    got = {
        r[0].day: r[1:]
        for r in daily.sort("day").select("day", "messages", "reports", "reviews", "overturned",
                                          "reviews_timed", "review_minutes_median",
                                          "review_minutes_p90").rows()
    }  # fmt: skip
    assert got == {
        # day: messages, reports, reviews, overturned, timed, median and p90 minutes
        6: (1, 0, 1, 0, 1, 25.0, 25.0),  # d1 held 10:00, deleted from the queue 10:25
        # d2 (40 min), d4 kept (30 min) and d4 deleted (60 min, from the second report at
        # 13:00); d3's delete is no review. Median of 30, 40, 60 is 40; p90 (linear) sits at
        # 0.9 * 2 = 1.8 places: 40 + 0.8 * (60 - 40) = 56. One of three overturned.
        7: (3, 3, 3, 1, 3, 40.0, 56.0),
    }
    assert daily.sort("day")["overturn_rate"].to_list() == pytest.approx([0.0, 1 / 3])

    checks = pl.read_parquet(runner.reports_root / "moderation_checks" / "*.parquet")
    assert checks.select("day", "check", "action", "verdicts", "reviewed", "overturned").rows() == [
        # d1's hold cited the blocklist; deleting it reviews the hold without overturning it.
        (date(2026, 1, 6), "blocklist", "hold", 1, 1, 0),
    ]
