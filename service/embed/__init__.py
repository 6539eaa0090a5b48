"""The embeddable chat panel: ``/embed`` and its static files (see docs/embed.md)."""

from service.embed.routes import embed_routes

__all__ = ["embed_routes"]
