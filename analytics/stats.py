"""Interval estimates used by the reports, as Polars expressions (and scalar twins for tests).

- A proportion gets a Wilson score interval: unlike the Wald interval it stays inside [0, 1]
  and keeps its coverage for small groups and rates near 0 or 1.
- A difference of two independent proportions gets Newcombe's hybrid score interval (his
  method 10), built from the two Wilson intervals.
- A stratified (adjusted) difference is the weighted mean of per-stratum differences, weighted
  by the compared segment's own size per stratum (the effect on that segment's users), with a
  Agresti-Caffo interval: one success and one failure added to each side of each stratum
  (``p~ = (k+1)/(n+2)``) give the interval's center and variance, and the interval is widened
  where needed to hold the plain difference it is reported with; see :func:`_ac`.

Every bound is clipped to the range of what it bounds ([0, 1] for a rate, [-1, 1] for a
difference): the formulas can land a rounding error outside it (-5.55e-17 for 0 of 2), and
the adjusted interval, being normal, can reach past it for small strata.
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
    return max(center - half, 0.0), min(center + half, 1.0)


def newcombe(k1: float, n1: float, k0: float, n0: float, z: float) -> tuple[float, float, float]:
    """Difference ``p1 - p0`` with Newcombe's hybrid score interval, as (diff, low, high)."""
    if n1 <= 0 or n0 <= 0:
        return math.nan, math.nan, math.nan
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = wilson(k1, n1, z)
    l0, u0 = wilson(k0, n0, z)
    d = p1 - p0
    low, high = d - math.hypot(p1 - l1, u0 - p0), d + math.hypot(u1 - p1, p0 - l0)
    return d, max(low, -1.0), min(high, 1.0)


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
        pl.when(valid).then((center - half).clip(0.0, 1.0)).alias(f"{prefix}_low"),
        pl.when(valid).then((center + half).clip(0.0, 1.0)).alias(f"{prefix}_high"),
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
        pl.when(valid)
        .then((d - ((p1 - l1) ** 2 + (u0 - p0) ** 2).sqrt()).clip(-1.0, 1.0))
        .alias(f"{prefix}_low"),
        pl.when(valid)
        .then((d + ((u1 - p1) ** 2 + (p0 - l0) ** 2).sqrt()).clip(-1.0, 1.0))
        .alias(f"{prefix}_high"),
    ]


def _ac(k: float, n: float) -> tuple[float, float]:
    """One side of one stratum for the adjusted difference's interval: the Agresti-Caffo rate
    ``p~ = (k+1)/(n+2)`` and its variance ``p~(1-p~)/(n+2)``.

    Why: the plain Wald variance ``p(1-p)/n`` is 0 whenever a stratum's rate is 0 or 1, which
    small strata (one or two users a side) nearly always are; every stratum then claimed
    certainty, and strata of one user against one gave a zero-width interval (-0.5 [-0.5,
    -0.5]). Adding one success and one failure to each side (Agresti & Caffo 2000, The American
    Statistician 54:280; the standard fix that gives the simple interval of a difference close
    to nominal coverage even for tiny groups, here per stratum) keeps every variance above 0
    and pulls a small stratum's difference toward 0 by as much as it is uncertain: 0 of 1 vs 1
    of 1 alone gives [-0.87, 0.20], not a certain -1. For strata of dozens of users the center
    and variance move by a few percent at most. Only the interval is adjusted: the reported
    difference stays the plain weighted one (what ``churn_strata`` shows), and the interval is
    widened, never narrowed, to contain it.
    """
    p = (k + 1) / (n + 2)
    return p, p * (1 - p) / (n + 2)


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
    d = center = var = 0.0
    for k1, n1, k0, n0 in used:
        w = n1 / total
        d += w * (k1 / n1 - k0 / n0)
        (t1, v1), (t0, v0) = _ac(k1, n1), _ac(k0, n0)
        center += w * (t1 - t0)
        var += w * w * (v1 + v0)
    half = z * math.sqrt(var)
    low, high = min(center - half, d), max(center + half, d)
    return d, max(low, -1.0), min(high, 1.0)


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

    def ac(k: str, n: pl.Expr) -> tuple[pl.Expr, pl.Expr]:  # :func:`_ac`
        p = (pl.col(k) + 1) / (n + 2)
        return p, p * (1 - p) / (n + 2)

    (t1, v1), (t0, v0) = ac(k1, nn1), ac(k0, nn0)
    center = (w * (t1 - t0)).sum()
    half = z * (w * w * (v1 + v0)).sum().sqrt()
    low = pl.min_horizontal(center - half, d).clip(-1.0, 1.0)
    high = pl.max_horizontal(center + half, d).clip(-1.0, 1.0)
    has = valid.any()
    return [
        pl.when(has).then(d).alias(prefix),
        pl.when(has).then(low).alias(f"{prefix}_low"),
        pl.when(has).then(high).alias(f"{prefix}_high"),
        valid.sum().cast(pl.Int32).alias(f"{prefix}_strata"),
    ]
