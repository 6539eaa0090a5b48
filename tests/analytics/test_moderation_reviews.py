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


def held(mid: str, when: datetime) -> list[Event]:
    """A message held by the blocklist: its sent event and the hold verdict."""
    return [
        sent(mid, when, visibility="held"),
        new_event(T.MESSAGE_MODERATED, user_id="a", room_id="team:x", occurred_at=when,
                  message_id=mid, payload={"action": "hold", "score": 1.0, "reasons": [
                      {"check": "blocklist", "code": "word", "score": 1.0, "detail": ""}],
                      "checks_ms": {}}),
    ]  # fmt: skip


def deleted(mid: str, when: datetime, reason: str, *, review: bool | None) -> Event:
    """A delete as the service writes it: ``review`` is true for the review queue's delete
    decision and false for every other delete; None writes it as versions before that marker
    did, with the reason alone."""
    payload: dict[str, object] = {"reason": reason}
    if review is not None:
        payload["review"] = review
    return new_event(T.MESSAGE_DELETED, user_id="a", room_id="team:x", occurred_at=when,
                     message_id=mid, actor_id="mod", payload=payload)  # fmt: skip


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
        deleted("m1", at(1, 7, 9, 10), "review rejected", review=False),
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


def deleted_events(*, marked: bool) -> list:
    """Review-queue deletes beside an ordinary moderator delete, as the service writes them
    (``marked``: the payload's ``review`` says which delete is the queue's decision) or as
    versions before that marker wrote them (reason ``review`` for the queue, ``moderator``)."""

    def delete(mid: str, when: datetime, reason: str, queue: bool) -> Event:
        return deleted(mid, when, reason, review=queue if marked else None)

    return [
        # d1: held by the blocklist at 10:00 on the 6th, deleted from the queue at 10:25.
        *held("d1", at(1, 6, 10)),
        delete("d1", at(1, 6, 10, 25), "review", True),
        # d2: reported 09:10 on the 7th, deleted from the queue at 09:50.
        sent("d2", at(1, 7, 9)),
        reported("d2", "b", at(1, 7, 9, 10)),
        delete("d2", at(1, 7, 9, 50), "review", True),
        # d3: deleted by a moderator outside the queue: not a review.
        sent("d3", at(1, 7, 11)),
        delete("d3", at(1, 7, 11, 5), "moderator", False),
        # d4: reported 12:00, kept 12:30; reported again 13:00, deleted from the queue 14:00.
        sent("d4", at(1, 7, 11, 30)),
        reported("d4", "b", at(1, 7, 12)),
        new_event(T.MESSAGE_APPROVED, user_id="a", room_id="team:x", occurred_at=at(1, 7, 12, 30),
                  message_id="d4", actor_id="mod",
                  payload={"decision": "approve", "source": "report"}),
        reported("d4", "c", at(1, 7, 13)),
        delete("d4", at(1, 7, 14), "review", True),
    ]  # fmt: skip


@pytest.mark.parametrize("marked", [True, False], ids=["marked", "written before the marker"])
def test_a_delete_from_the_review_queue_is_a_review(tmp_path: Path, marked: bool) -> None:
    runner = run_over(tmp_path, deleted_events(marked=marked))
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


def reviews_by_day(runner: Runner) -> dict[int, tuple]:
    """Day of January: reviews, overturned, timed, median minutes to review."""
    daily = pl.read_parquet(runner.reports_root / "moderation_daily" / "*.parquet")
    return {
        r[0].day: r[1:]
        for r in daily.sort("day").select("day", "reviews", "overturned", "reviews_timed",
                                          "review_minutes_median").rows()
    }  # fmt: skip


def reviewed_checks(runner: Runner) -> list[tuple]:
    checks = pl.read_parquet(runner.reports_root / "moderation_checks" / "*.parquet")
    return checks.select("day", "check", "action", "verdicts", "reviewed", "overturned").rows()


def test_a_moderators_own_delete_is_no_review_even_with_the_reason_review(tmp_path: Path) -> None:
    runner = run_over(tmp_path, [
        # q1: reported 09:10, deleted from the queue 09:50.
        sent("q1", at(1, 7, 9)),
        reported("q1", "b", at(1, 7, 9, 10)),
        deleted("q1", at(1, 7, 9, 50), "review", review=True),
        # o1: reported 10:00, then deleted by a moderator outside the queue at 11:00 who gave
        # the reason "review"; o2: held 10:00, deleted the same way at 10:30. Neither is a
        # review (they would be of 60 and 30 minutes, and o2 would review the blocklist's hold).
        sent("o1", at(1, 7, 9, 30)),
        reported("o1", "c", at(1, 7, 10)),
        deleted("o1", at(1, 7, 11), "review", review=False),
        *held("o2", at(1, 7, 10)),
        deleted("o2", at(1, 7, 10, 30), "review", review=False),
    ])  # fmt: skip
    assert reviews_by_day(runner) == {7: (1, 0, 1, 40.0)}  # q1 only
    assert reviewed_checks(runner) == [(date(2026, 1, 7), "blocklist", "hold", 1, 0, 0)]


def test_a_queue_delete_is_a_review_whatever_its_reason_says(tmp_path: Path) -> None:
    """The marker, not the reason text, makes a delete the queue's decision: rewording the
    reason the queue writes would not stop its deletes being counted."""
    runner = run_over(tmp_path, [
        # h1: held 10:00, deleted from the queue at 10:25 with a reworded reason.
        *held("h1", at(1, 6, 10)),
        deleted("h1", at(1, 6, 10, 25), "removed in review", review=True),
    ])  # fmt: skip
    assert reviews_by_day(runner) == {6: (1, 0, 1, 25.0)}
    assert reviewed_checks(runner) == [(date(2026, 1, 6), "blocklist", "hold", 1, 1, 0)]


def test_a_legacy_delete_is_a_review_by_its_reason_only_without_the_marker(tmp_path: Path) -> None:
    """Deletes written before the marker are read by their reason (``review`` was the only
    reason the queue wrote); one that carries the marker is never read by its reason."""
    runner = run_over(tmp_path, [
        # l1: reported 09:10, deleted from the queue 09:30 by an older version.
        sent("l1", at(1, 7, 9)),
        reported("l1", "b", at(1, 7, 9, 10)),
        deleted("l1", at(1, 7, 9, 30), "review", review=None),
        # l2: reported 09:10, deleted by a moderator by an older version: not a review.
        sent("l2", at(1, 7, 9)),
        reported("l2", "c", at(1, 7, 9, 10)),
        deleted("l2", at(1, 7, 10), "moderator", review=None),
    ])  # fmt: skip
    assert reviews_by_day(runner) == {7: (1, 0, 1, 20.0)}
