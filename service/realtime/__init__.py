"""Real time: the hub (fan-out of committed events), brokers (memory, Redis), presence
(memory, Redis), typing, coalesced reactions and polls, resume, and per-socket outboxes.

The wire protocol is ``service.protocol.frames`` and docs/protocol.md; the endpoint is
``service.api.websocket``; ``service.app.create_app`` picks the broker and presence store.
"""
