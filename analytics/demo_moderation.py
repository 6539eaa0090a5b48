"""How the demo's messages fare with moderation: masks, holds, blocks, shadows, reports and
reviews, at rates of the order seen in sports chat, each written as the service writes it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from service.domain.events import EventType

if TYPE_CHECKING:
    from analytics.demo_world import World

VERDICTS = (  # (cumulative chance, action, check, code, shown text): as the pipeline decides
    (0.030, "mask", "pii", "pii.phone", "call me on [phone]"),
    (0.045, "hold", "threat", "threat.death_wish", "hope their keeper gets hit by a bus"),
    (0.055, "block", "blocklist", "blocklist.word", ""),  # refused: no message is sent
    (0.060, "shadow", "spam", "spam.shortener", "free tickets at bit.ly/xyz"),
    (0.065, "shadow", "rate", "rate.duplicate", "GOAL GOAL GOAL"),
)


def moderate_message(w: World, u: int, cid: str, at: datetime) -> None:
    """Emit the events of one message of user ``u`` in room ``cid`` at ``at``."""
    from analytics.demo_world import CHEERS, MOD, TEAMS

    r, uid, mid = w.r, w.ids[u], w.new_id(at)
    roll = r.random()
    verdict = next((v for v in VERDICTS if roll < v[0]), None)
    action = verdict[1] if verdict else "allow"
    text = verdict[4] if verdict else r.choice(CHEERS).format(t=TEAMS[w.fav[u][0]])
    if action != "block":
        visibility = {"hold": "held", "shadow": "shadow"}.get(action, "public")
        w._emit(EventType.MESSAGE_SENT, uid, cid, at, message_id=mid, payload={
            "text": text, "client_msg_id": w.new_id(at), "visibility": visibility,
            "masked": action == "mask", "reply_to": None, "role": "user"})  # fmt: skip
    if verdict:
        score = round(r.uniform(0.6, 1.0), 2)
        w._emit(EventType.MESSAGE_MODERATED, uid, cid, at, message_id=mid, payload={
            "action": action, "score": score,
            "reasons": [{"check": verdict[2], "code": verdict[3], "score": score, "detail": ""}],
            "checks_ms": {verdict[2]: round(r.uniform(0.05, 2.0), 3)}})  # fmt: skip
    if action == "hold" and r.random() < 0.9:
        _review(w, uid, cid, mid, at + timedelta(minutes=r.uniform(5, 240)), "hold", 0.4, MOD)
    if action in ("allow", "mask") and r.random() < 0.006:
        reporter = w.ids[r.randrange(w.n)]
        reported = at + timedelta(minutes=r.uniform(1, 30))
        w._emit(EventType.MESSAGE_REPORTED, reporter, cid, reported, message_id=mid,
                payload={"reason": "abuse", "report_id": w.new_id(reported)})  # fmt: skip
        if r.random() < 0.6:
            _review(w, uid, cid, mid, reported + timedelta(minutes=r.uniform(10, 600)),
                    "report", 0.5, MOD)  # fmt: skip


def _review(w: World, uid: str, cid: str, mid: str, at: datetime, source: str,
            approve_p: float, moderator: str) -> None:  # fmt: skip
    decision = "approve" if w.r.random() < approve_p else "reject"
    w._emit(EventType.MESSAGE_APPROVED, uid, cid, at, message_id=mid, actor_id=moderator,
            payload={"decision": decision, "source": source})  # fmt: skip
