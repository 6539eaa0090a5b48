"""Interval estimates used by the reports, as Polars expressions (and scalar twins for tests).

- A proportion gets a Wilson score interval: unlike the Wald interval it stays inside [0, 1]
  and keeps its coverage for small groups and rates near 0 or 1.
- A difference of two independent proportions gets Newcombe's hybrid score interval (his
  method 10), built from the two Wilson intervals.
- A stratified (adjusted) difference is the weighted mean of per-stratum differences, weighted
  by the compared segment's own size per stratum (the effect on that segment's users), with a
  normal interval from the summed per-stratum variances.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import polars as pl


def z_value(confidence: float) -> float:
    """Two-sided standard normal quantile for ``confidence`` (1.959964 for 0.95)."""
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson(k: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` trials; (nan, nan) when ``n`` is 0."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return center - half, center + half


def newcombe(k1: float, n1: float, k0: float, n0: float, z: float) -> tuple[float, float, float]:
    """Difference ``p1 - p0`` with Newcombe's hybrid score interval, as (diff, low, high)."""
    if n1 <= 0 or n0 <= 0:
        return math.nan, math.nan, math.nan
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = wilson(k1, n1, z)
    l0, u0 = wilson(k0, n0, z)
    d = p1 - p0
    return d, d - math.hypot(p1 - l1, u0 - p0), d + math.hypot(u1 - p1, p0 - l0)


def wilson_exprs(k: str, n: str, z: float, prefix: str) -> list[pl.Expr]:
    """Columns ``<prefix>``, ``<prefix>_low``, ``<prefix>_high`` for ``k`` of ``n``."""
    kk, nn = pl.col(k).cast(pl.Float64), pl.col(n).cast(pl.Float64)
    p = kk / nn
    denom = 1 + z * z / nn
    center = (p + z * z / (2 * nn)) / denom
    half = z / denom * (p * (1 - p) / nn + z * z / (4 * nn * nn)).sqrt()
    valid = nn > 0
    return [
        pl.when(valid).then(p).alias(prefix),
        pl.when(valid).then(center - half).alias(f"{prefix}_low"),
        pl.when(valid).then(center + half).alias(f"{prefix}_high"),
    ]


def newcombe_exprs(
    k1: str, n1: str, k0: str, n0: str, z: float, prefix: str
) -> list[pl.Expr]:
    """Columns ``<prefix>``, ``<prefix>_low``, ``<prefix>_high``: ``k1/n1 - k0/n0``, Newcombe."""

    def parts(k: str, n: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
        kk, nn = pl.col(k).cast(pl.Float64), pl.col(n).cast(pl.Float64)
        p = kk / nn
        denom = 1 + z * z / nn
        center = (p + z * z / (2 * nn)) / denom
        half = z / denom * (p * (1 - p) / nn + z * z / (4 * nn * nn)).sqrt()
        return p, center - half, center + half

    p1, l1, u1 = parts(k1, n1)
    p0, l0, u0 = parts(k0, n0)
    d = p1 - p0
    valid = (pl.col(n1) > 0) & (pl.col(n0) > 0)
    return [
        pl.when(valid).then(d).alias(prefix),
        pl.when(valid).then(d - ((p1 - l1) ** 2 + (u0 - p0) ** 2).sqrt()).alias(f"{prefix}_low"),
        pl.when(valid).then(d + ((u1 - p1) ** 2 + (p0 - l0) ** 2).sqrt()).alias(f"{prefix}_high"),
    ]


def stratified(
    strata: list[tuple[float, float, float, float]], z: float
) -> tuple[float, float, float]:
    """Adjusted difference over strata of (k1, n1, k0, n0), as (diff, low, high).

    Strata where either side is empty carry no comparison and are left out.
    """
    used = [(k1, n1, k0, n0) for k1, n1, k0, n0 in strata if n1 > 0 and n0 > 0]
    total = sum(n1 for _, n1, _, _ in used)
    if total == 0:
        return math.nan, math.nan, math.nan
    d = var = 0.0
    for k1, n1, k0, n0 in used:
        w = n1 / total
        p1, p0 = k1 / n1, k0 / n0
        d += w * (p1 - p0)
        var += w * w * (p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    half = z * math.sqrt(var)
    return d, d - half, d + half


def stratified_aggs(k1: str, n1: str, k0: str, n0: str, z: float, prefix: str) -> list[pl.Expr]:
    """Aggregations (inside ``group_by``) of per-stratum rows into an adjusted difference.

    Each row is one stratum with the compared segment's ``k1`` of ``n1`` and the reference's
    ``k0`` of ``n0``; rows where either side is empty are ignored.
    """
    valid = (pl.col(n1) > 0) & (pl.col(n0) > 0)
    nn1, nn0 = pl.col(n1).cast(pl.Float64), pl.col(n0).cast(pl.Float64)
    p1, p0 = pl.col(k1) / nn1, pl.col(k0) / nn0
    w = pl.when(valid).then(nn1) / pl.when(valid).then(nn1).sum()
    d = (w * (p1 - p0)).sum()
    se = (w * w * (p1 * (1 - p1) / nn1 + p0 * (1 - p0) / nn0)).sum().sqrt()
    has = valid.any()
    return [
        pl.when(has).then(d).alias(prefix),
        pl.when(has).then(d - z * se).alias(f"{prefix}_low"),
        pl.when(has).then(d + z * se).alias(f"{prefix}_high"),
        valid.sum().cast(pl.Int32).alias(f"{prefix}_strata"),
    ]
