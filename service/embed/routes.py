"""Routes of the chat panel: the page at ``/embed`` and its JS/CSS under ``/embed/static``."""

from __future__ import annotations

from typing import Any


def embed_routes() -> list[Any]:
    return []
