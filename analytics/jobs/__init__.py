"""Report jobs: each builds one Polars LazyFrame; :data:`JOBS` lists them by name."""

from __future__ import annotations

from analytics.jobs import (
    churn_posting,
    churn_strata,
    community_health,
    engagement,
    engagement_daily,
    engagement_kind,
    engagement_timeline,
    funnel,
    holdout_uplift,
    journey,
    moderation_checks,
    moderation_daily,
    retention_curve,
)
from analytics.jobs.base import Job

JOBS: dict[str, Job] = {
    m.JOB.name: m.JOB
    for m in (
        churn_posting, churn_strata, holdout_uplift, engagement, engagement_kind, journey,
        funnel, community_health, moderation_daily, moderation_checks,
        engagement_timeline, engagement_daily, retention_curve,
    )
}  # fmt: skip
