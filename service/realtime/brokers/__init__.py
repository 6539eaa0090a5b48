"""Fan-out brokers: how committed events and ephemeral signals reach every node."""

from service.realtime.brokers.base import Broker, OnLoss, OnMessage

__all__ = ["Broker", "OnLoss", "OnMessage"]
