"""Settings of the analytics jobs (the ``analytics`` section of the service settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

DEFAULT_SCHEDULE = {
    "community_health": "20 * * * *",
    "moderation_daily": "20 * * * *",
    "moderation_checks": "20 * * * *",
    "engagement": "25 * * * *",
    "engagement_kind": "25 * * * *",
    "engagement_timeline": "25 * * * *",
    "engagement_daily": "25 * * * *",
    "journey": "40 3 * * *",
    "funnel": "40 3 * * *",
    "churn_posting": "30 3 * * *",
    "churn_strata": "30 3 * * *",
    "holdout_uplift": "30 3 * * *",
    "retention_curve": "30 3 * * *",
}


class AnalyticsSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where the jobs read and write, the definitions the reports use, and when they run."""

    exports_dir: str = ""
    """Folder of the host's product exports; defaults to ``<data_dir>/exports``."""
    warehouse_dir: str = ""
    """Root of the Parquet warehouse export; defaults to ``<data_dir>/warehouse``."""
    churn_days: int = 28
    """A user has churned after this many days without product activity."""
    retention_days: int = 7
    """Retention is product activity within this many days after a cohort period (at most
    ``churn_days``)."""
    segment_weeks: int = 2
    """Length of a churn cohort period in weeks; "weekly posters" posted in every one of them."""
    pre_period_days: int = 28
    """Days of product activity before a cohort period used to stratify users."""
    strata: int = 4
    """Number of prior-activity strata (4: quartiles of pre-period sessions)."""
    reference_segment: str = "never_opened"
    """The segment every other churn segment is compared with."""
    review_lookback_days: int = 30
    """How far back a review looks for the hold or report it resolves (time to review)."""
    timeline_margin_minutes: int = 60
    """Room events this long before a context starts and after it ends count for it."""
    late_grace_minutes: int = 60
    """A window counts as final this long after its end (late events of the export)."""
    chunk_windows: int = 31
    """Most consecutive windows computed by one query (one scan for a month of days instead
    of one per day); a crash redoes the windows of the chunk in flight, never a DONE one."""
    confidence: float = 0.95
    """Confidence level of every interval."""
    schedule_enabled: bool = True
    """Run the jobs on their cron schedule inside the service."""
    schedule: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_SCHEDULE))
    """Cron expression (UTC) per job name; a job missing here is not scheduled."""


def analytics_settings(settings: Any) -> AnalyticsSettings:
    """The analytics section of the service settings, or the defaults before it is wired in."""
    found = getattr(settings, "analytics", None)
    return found if isinstance(found, AnalyticsSettings) else AnalyticsSettings()


def exports_path(settings: Any) -> Path:
    """Folder of the product exports for these service settings."""
    a = analytics_settings(settings)
    return Path(a.exports_dir) if a.exports_dir else Path(settings.data_dir) / "exports"


def warehouse_path(settings: Any) -> Path:
    """Root of the Parquet warehouse for these service settings."""
    a = analytics_settings(settings)
    return Path(a.warehouse_dir) if a.warehouse_dir else Path(settings.data_dir) / "warehouse"


def check_settings(a: AnalyticsSettings) -> list[str]:
    """Problems of an analytics section, each naming its key path (empty when valid)."""
    problems = []
    for key in ("churn_days", "retention_days", "segment_weeks", "pre_period_days", "strata",
                "chunk_windows"):  # fmt: skip
        if getattr(a, key) < 1:
            problems.append(f"Expected >= 1 - at `$.analytics.{key}`")
    if a.churn_days >= 1 and a.retention_days > a.churn_days:
        # A user back after churn_days would be both churned and retained, and a cohort is
        # final once the export covers churn_days: retention past that would never be filled in.
        problems.append(
            f"Expected at most churn_days ({a.churn_days}), got {a.retention_days} "
            "- at `$.analytics.retention_days`"
        )
    if not 0.5 <= a.confidence < 1.0:
        problems.append("Expected a confidence in [0.5, 1) - at `$.analytics.confidence`")
    if a.reference_segment not in SEGMENTS:
        problems.append(
            f"Expected one of {', '.join(SEGMENTS)}, got {a.reference_segment!r} "
            "- at `$.analytics.reference_segment`"
        )
    return problems


SEGMENTS = ("weekly_posters", "occasional_posters", "reactors_only", "lurkers", "never_opened")
"""Churn segments, most engaged first."""
