"""Erased users: their community events carry ``erased-<hash>`` pseudonyms (``sideline
erase``), which the reports cannot map back to a product id. They are not "missing from the
users export", and a note of their own says how many were active and that the product's
exports should drop them too (their product rows would count as never opened otherwise)."""

from __future__ import annotations

from pathlib import Path

from analytics.demo import write_warehouse
from service.domain.events import EventType as T
from service.domain.events import new_event
from tests.analytics.conftest import SENT, at, golden_runner

PSEUDONYM = "erased-0123456789abcdef"


def test_erased_users_get_their_own_note(tmp_path: Path) -> None:
    runner = golden_runner(tmp_path)
    write_warehouse([
        new_event(T.MESSAGE_SENT, user_id=PSEUDONYM, room_id="team:x", occurred_at=at(1, 7, 10),
                  message_id="m9", payload={"text": "hi", **SENT}),
        new_event(T.ROOM_JOINED, user_id="erased-fedcba9876543210", room_id="team:x",
                  occurred_at=at(1, 12, 10)),
    ], runner.warehouse.root, node_id="n2")  # fmt: skip
    [result] = runner.run(["churn_posting"])
    assert result.status == "ok", result.error
    erased = [n for n in result.notes if "erased" in n]
    assert erased == [
        "2 erased users (community events under erased-… pseudonyms) were active in the "
        "community from 2026-01-07 to 2026-01-12: the reports cannot match a pseudonym to a "
        "product user, so if the product's exports still hold them, their product rows count "
        "as users who never used the community (never_opened in churn_posting, the reference "
        "segment); drop erased users from the users and activity exports too"
    ]
    # x is the one user missing from the users export; the pseudonyms are not.
    assert "1 users in events are missing from the users export (e.g. x); left out" in result.notes
