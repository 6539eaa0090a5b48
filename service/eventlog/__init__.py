"""The append-only event log: an interface, a DuckDB implementation and an in-memory one."""

from service.eventlog.base import CommitFailed, EventLog, LogUnreadable

__all__ = ["CommitFailed", "EventLog", "LogUnreadable"]
