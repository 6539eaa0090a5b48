"""Mapping of events to GA4 Measurement Protocol events, within GA4's documented limits.

GA4 answers 2xx to everything in production, so nothing it would silently drop may be sent:
names are checked (letters, digits, underscores, a letter first, at most 40 characters, not
reserved), at most 25 parameters per event with names up to 40 characters and string values
up to 100 characters, and ``timestamp_micros`` no more than 72 hours back. What the mapping
truncates or drops is counted by reason; events it cannot send at all are rejected with one.
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

import msgspec

from service.domain.events import Event
from service.sinks.privacy import PropertyPolicy

MAX_EVENTS_PER_REQUEST = 25
MAX_PARAMS = 25
MAX_NAME = 40
MAX_VALUE = 100
MAX_BODY_BYTES = 130_000
MAX_USER_ID = 256
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_EVENT_NAMES = frozenset({
    "ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward",
    "adunit_exposure", "app_background", "app_clear_data", "app_exception", "app_install",
    "app_remove", "app_store_refund", "app_store_subscription_cancel",
    "app_store_subscription_convert", "app_store_subscription_renew", "app_update",
    "app_upgrade", "dynamic_link_app_open", "dynamic_link_app_update",
    "dynamic_link_first_open", "error", "first_open", "first_visit", "in_app_purchase",
    "notification_dismiss", "notification_foreground", "notification_open",
    "notification_receive", "os_update", "session_start", "session_start_with_rollout",
    "user_engagement",
})  # fmt: skip
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")


class Mapped(msgspec.Struct):
    """One event ready for GA4, or the reason it cannot be sent."""

    event: dict[str, Any] | None
    reason: str | None = None
    adjustments: list[str] = msgspec.field(default_factory=list)


def client_id(user_id: str, salt: str) -> str:
    """A stable pseudonymous ``client_id`` in GA's ``<number>.<number>`` form."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return f"{int.from_bytes(digest[:4], 'big')}.{int.from_bytes(digest[4:8], 'big')}"


@functools.lru_cache(maxsize=4096)
def _valid_name(name: str) -> bool:
    return bool(_NAME_RE.match(name)) and not name.startswith(RESERVED_PREFIXES)


def _value(value: Any, notes: list[str]) -> str | int | float | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    if len(text) > MAX_VALUE:
        notes.append("param_value_truncated")
        return text[:MAX_VALUE]
    return text


def map_event(event: Event, policy: PropertyPolicy, *, now: datetime, max_age: timedelta) -> Mapped:
    """The GA4 form of ``event``: ``{"name", "params", "timestamp_micros"}``."""
    if now - event.occurred_at > max_age:
        return Mapped(None, f"ga4: older than the {max_age.total_seconds() / 3600:g} h "
                            "backdating window of timestamp_micros")  # fmt: skip
    notes: list[str] = []
    name = event.event_type.value
    if len(name) > MAX_NAME:
        name = name[:MAX_NAME]
        notes.append("event_name_truncated")
    if not _valid_name(name) or name in RESERVED_EVENT_NAMES:
        return Mapped(None, f"ga4: event name {name!r} is reserved or invalid")
    m = event.metadata
    props = policy.properties(event)
    props.update(policy.allowed({
        k: v for k, v in {"device": m.device, "language": m.language,
                          "app_version": m.app_version}.items() if v is not None
    }))  # fmt: skip
    if "session_id" in props:  # GA4 reads a numeric session_id param as its own session key
        props["client_session_id"] = props.pop("session_id")
    # GA4 has no dedup key of its own; the event id lets BigQuery exports deduplicate.
    params: dict[str, Any] = {"event_id": event.event_id}
    for key, raw in props.items():
        if not _valid_name(key) or len(key) > MAX_NAME:
            notes.append("param_name_invalid")
            continue
        if len(params) == MAX_PARAMS:
            notes.append("params_dropped")
            continue
        value = _value(raw, notes)
        if value is not None:
            params[key] = value
    micros = int(min(event.occurred_at, now).timestamp() * 1_000_000)
    return Mapped({"name": name, "params": params, "timestamp_micros": micros}, None, notes)
