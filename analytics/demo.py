"""Demo data: a sports app's product export and its community history, with known answers.

:func:`generate` is a pure function of a :class:`DemoConfig` (same config, same data). It
builds users of four product-activity tiers, 20 teams, matches with goals, who watched what,
and a community whose rooms light up at goals. Two effects are planted so the reports can be
checked against the truth:

- **Posting effect, confounded.** Heavier product users are more likely to post *and* less
  likely to churn anyway. On top of that, posting during a cohort period cuts the churn
  probability by ``effect`` for the ``responsive_share`` of users it works on. The naive
  "posters churn less" difference is therefore much larger than the real effect, which is
  ``-effect * responsive_share`` within every activity tier.
- **Holdout.** Users who try the community are assigned exposed/holdout by the same hash as
  the service; held-out users cannot post, so the retention uplift of exposure is the posting
  effect diluted by how many exposed users post (:attr:`DemoTruth.holdout_uplift`).

Timeline: product activity runs from ``pre_days`` before the community starts to
``post_days`` after its ``days`` of cohort periods, so churn (no activity for 28 days) is
observable for those cohorts; the community runs on through the ``post_days`` (without a
planted effect: their cohorts' churn is not observable yet, and the jobs leave them out), and
by default to yesterday, as a live service's history would. The community is simulated in
:mod:`analytics.demo_world`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import numpy as np
import polars as pl

from analytics.io import write_events
from analytics.windows import GRID_ORIGIN
from service.domain.events import Event, uuid7
from service.eventlog.codec import to_arrow

TIERS = 4
ACTIVE_P = (0.3, 0.55, 0.8, 0.95)
"""Chance of using the product on a given day, per activity tier."""
EXTRA_SESSIONS = (0.2, 1.0, 2.5, 5.0)
"""Mean extra sessions on an active day, per tier."""
BASE_CHURN = (0.45, 0.33, 0.24, 0.17)
"""Chance of churning at the end of each cohort period without the posting effect (each above
``effect``, so the planted effect is never cut off at a probability of 0)."""
TRIES_COMMUNITY = (0.25, 0.4, 0.55, 0.7)
"""Chance that a user of the tier opens community rooms at all."""
STYLES = ("weekly", "occasional", "reactor", "lurker")
STYLE_P = ((0.05, 0.15, 0.30, 0.50), (0.10, 0.20, 0.30, 0.40),
           (0.20, 0.25, 0.30, 0.25), (0.35, 0.25, 0.25, 0.15))  # fmt: skip
"""Community style of a community user, per tier (heavier users post more)."""


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """Size, time span and planted effects of the demo data."""

    users: int = 5000
    days: int = 30
    start: date | None = None
    """First day of community history; defaults to the latest cohort-grid day that puts the
    end of the product export before today."""
    seed: int = 7
    holdout_share: float = 0.1
    holdout_salt: str = "sideline-holdout-v1"
    teams: int = 20
    pre_days: int = 28
    post_days: int = 28
    effect: float = 0.15
    responsive_share: float = 0.5
    period_days: int = 14
    """Cohort period length the churn decisions follow (``segment_weeks * 7``)."""
    new_user_share: float = 0.1
    """Share of users who sign up during the community history (after the first period)."""


@dataclass(slots=True)
class DemoTruth:
    """The planted answers."""

    posting_effect: float
    """Change in churn probability from posting, averaged over users (negative)."""
    holdout_uplift: dict[str, float] = field(default_factory=dict)
    """Per cohort start (ISO date): expected (1 - churn) of exposed minus holdout users."""


@dataclass(slots=True)
class DemoData:
    """Everything :func:`generate` produces."""

    users: pl.DataFrame
    activity: pl.DataFrame
    contexts: pl.DataFrame
    context_views: pl.DataFrame
    events: list[Event]
    truth: DemoTruth
    start: date


def default_start(config: DemoConfig, today: date | None = None) -> date:
    """The latest grid-aligned start whose product export ends before ``today``."""
    today = today or datetime.now(UTC).date()
    latest = today - timedelta(days=config.days + config.post_days)
    offset = (latest - GRID_ORIGIN).days % config.period_days
    return latest - timedelta(days=offset)


def seeded_uuid7(at: datetime, rand: random.Random) -> str:
    """A UUIDv7 for ``at`` whose random bits come from ``rand``: the same seed, the same ids."""
    value = (int(at.timestamp() * 1000) & 0xFFFFFFFFFFFF) << 80 | rand.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def holdout_group(user_id: str, share: float, salt: str) -> str:
    """The service's deterministic assignment (``service.actions.context.holdout_group``)."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return "holdout" if int.from_bytes(digest[:8], "big") / 2**64 < share else "exposed"


def generate(config: DemoConfig = DemoConfig()) -> DemoData:
    """Build the demo product export and community history for ``config``."""
    from analytics.demo_world import World

    start = config.start or default_start(config)
    if config.start is None:  # run on to yesterday: the history a live service would have now
        reach = (datetime.now(UTC).date() - start).days - config.days
        config = dataclasses.replace(config, post_days=max(config.post_days, reach))
    world = World(config, start)
    world.simulate()
    return DemoData(
        users=world.users_frame(),
        activity=world.activity_frame(),
        contexts=world.contexts_frame(),
        context_views=world.views_frame(),
        events=sorted(world.events, key=lambda e: e.occurred_at),
        truth=world.truth(),
        start=start,
    )


def batches(events: Sequence[Event], size: int = 5000) -> Iterator[list[Event]]:
    """``events`` in lists of at most ``size`` (the unit appended to the log at once)."""
    for i in range(0, len(events), size):
        yield list(events[i : i + size])


def append_to_log(events: Sequence[Event], path: Path, node_id: str) -> int:
    """Append ``events`` to the event log at ``path`` through its writer, in :func:`batches`;
    returns the last seq. Only while no service has the log open (DuckDB allows one opener).

    Raises:
        LogUnreadable: the log cannot be opened (typically: the service is running).
    """
    from service.eventlog.duckdb_log import DuckDBLog

    async def append() -> int:
        log = DuckDBLog(path, node_id=node_id)
        await log.start()
        try:
            for batch in batches(events):
                await log.append(batch)
            return log.last_seq
        finally:
            await log.close()

    return asyncio.run(append())


def write_exports(data: DemoData, folder: Path, fmt: str = "csv") -> list[Path]:
    """Write the four product exports as ``<name>.csv`` or ``<name>.parquet`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("users", "activity", "contexts", "context_views"):
        frame: pl.DataFrame = getattr(data, name)
        other = folder / f"{name}.{'parquet' if fmt == 'csv' else 'csv'}"
        other.unlink(missing_ok=True)  # one file per export, or validation calls it ambiguous
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            frame.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")
        else:
            frame.write_parquet(path)
        written.append(path)
    return written


def write_warehouse(events: Sequence[Event], root: Path, *, node_id: str = "demo") -> list[Path]:
    """Write ``events`` straight into the warehouse layout, numbering them as a log would.

    For tests and benchmarks that need a warehouse without running the service; the events
    get ``seq`` 1..n in time order, one epoch, and ``node_id``.
    """
    epoch = uuid7()
    ordered = sorted(events, key=lambda e: e.occurred_at)
    numbered = [
        msgspec.structs.replace(e, seq=i, epoch=epoch, node_id=node_id)
        for i, e in enumerate(ordered, 1)
    ]
    if not numbered:
        return []
    return write_events(to_arrow(numbered), root)


def rng(config: DemoConfig) -> np.random.Generator:
    """The one random generator of a demo run."""
    return np.random.default_rng(config.seed)
