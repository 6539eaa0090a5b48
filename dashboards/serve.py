"""Pages as the service serves them: read from the static folder (rendered on demand when
missing, and ahead of it while the sign-in form is shown), the overview's sink status swapped
for the forwarder's live status, gzip cached."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dashboards import sinks
from dashboards.page import SINKS_MARK, json_block
from dashboards.paths import PAGES, paths_for

log = logging.getLogger(__name__)

SERVED = frozenset({"index", *PAGES})


class UnknownPage(KeyError):
    """Not a dashboard page."""


class PageStore:
    """The static pages of one service, with what serving adds to them."""

    def __init__(self, settings: Any, status: Callable[[], Sequence[Any]] | None = None) -> None:
        self.settings = settings
        self.paths = paths_for(settings)
        self.status = status
        """The forwarder's ``status`` when the service forwards, for live sink health."""
        self._lock = asyncio.Lock()
        self._gzip: dict[Path, tuple[int, bytes]] = {}
        self.last_render_pid: int | None = None
        """The process that rendered the pages on demand (for tests and logs)."""
        self._warming: asyncio.Task[None] | None = None

    async def page(self, slug: str, gzip_ok: bool) -> tuple[bytes, bool]:
        """The HTML of ``slug`` and whether it is gzip-compressed.

        Raises:
            UnknownPage: ``slug`` is not a dashboard.
        """
        if slug not in SERVED:
            raise UnknownPage(slug)
        path = self.paths.page(slug)
        if not path.exists():
            await self._render()
        if slug == "overview" and self.status is not None:
            body = self._live(path.read_text(encoding="utf-8")).encode()
            return (gzip.compress(body, 5), True) if gzip_ok else (body, False)
        if not gzip_ok:
            return path.read_bytes(), False
        mtime = path.stat().st_mtime_ns
        cached = self._gzip.get(path)
        if cached is None or cached[0] != mtime:
            cached = (mtime, gzip.compress(path.read_bytes(), 6))
            self._gzip[path] = cached
        return cached[1], True

    def warm(self) -> None:
        """Start rendering the pages no run wrote yet, in the background, once per service
        start (the sign-in form calls it): the first page after signing in then need not wait
        for the whole render. Once only, so a visitor cannot make the node render again and
        again; a page asked for meanwhile waits for the same render (``_render``'s lock)."""
        if self._warming is not None or self._all_written():
            return
        self._warming = asyncio.create_task(self._warm(), name="dashboards-warm")

    async def _warm(self) -> None:
        try:
            await self._render()
        except Exception:  # a page asked for later renders (and fails) on its own
            log.warning("dashboards could not be rendered ahead of the first page", exc_info=True)

    async def _render(self) -> None:
        async with self._lock:
            if self._all_written():
                return
            log.info("no dashboards in %s yet: rendering them from the reports", self.paths.out_dir)
            # In a child process: rendering is Python work that held the event loop for about
            # a second on large reports when it ran on a worker thread (see analytics.child).
            from analytics.child import render_in_child

            self.last_render_pid = await render_in_child(self.settings)

    def _all_written(self) -> bool:
        return all(self.paths.page(s).exists() for s in SERVED)

    def _live(self, html: str) -> str:
        start = html.find(SINKS_MARK)
        if start < 0 or self.status is None:
            return html
        end = html.index("</script>", start)
        block = sinks.summary(list(self.status()), datetime.now(UTC), "running service")
        return html[: start + len(SINKS_MARK)] + json_block(block) + html[end:]
