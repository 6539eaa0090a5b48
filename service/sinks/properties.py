"""The property names a sink's ``properties`` allow-list may name.

An allow-list keeps only the names it lists, so a typo (``roomid``) would drop that field from
every event, silently and for good; the configuration is checked against these names instead.
"""

from __future__ import annotations

import functools

from analytics.import_payloads import PAYLOADS
from service.domain.events import Event, EventType, Metadata, utcnow
from service.sinks.privacy import PropertyPolicy

CLIENT_FIELDS = ("device", "language", "app_version")
"""Client metadata each vendor places itself (Segment's ``context``, Mixpanel and GA4
properties), under the same allow-list and by these names."""


@functools.cache
def known_properties() -> frozenset[str]:
    """Every property name a sink can send: the envelope fields the property policy builds,
    the client fields, and the payload fields of every event type the service writes (the
    importer's schemas, which it holds to what the actions write)."""
    envelope = PropertyPolicy(include_text=True).properties(_every_envelope_field())
    payload = {name for schema in PAYLOADS.values() for name in schema.__struct_fields__}
    return frozenset(envelope) | frozenset(CLIENT_FIELDS) | frozenset(payload)


def _every_envelope_field() -> Event:
    """An event with every envelope field set (the policy leaves out those that are None)."""
    metadata = Metadata(device="d", language="l", message_type="t", app_version="v",
                        session_id="s")  # fmt: skip
    return Event(
        event_id="e", event_type=EventType.MESSAGE_SENT, occurred_at=utcnow(), user_id="u",
        room_id="r", context_id="c", actor_id="a", message_id="m", metadata=metadata, seq=1,
        node_id="n",
    )  # fmt: skip
