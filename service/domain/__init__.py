"""Pure domain model: events, rooms, roles, projections. No I/O lives here."""
