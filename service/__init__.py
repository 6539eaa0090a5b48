"""Sideline: a community layer (chat, reactions, polls, moderation) with an analytics-first event log."""

__version__ = "0.1.0"
