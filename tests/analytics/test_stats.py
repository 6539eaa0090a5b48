"""Interval formulas against published values, and the Polars expressions against the scalars."""

from __future__ import annotations

import polars as pl
import pytest

from analytics.stats import (
    newcombe,
    newcombe_exprs,
    stratified,
    stratified_aggs,
    wilson,
    wilson_exprs,
    z_value,
)  # fmt: skip

Z = z_value(0.95)


def test_z() -> None:
    assert pytest.approx(1.959964, abs=1e-6) == Z


def test_wilson_matches_newcombe_1998() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 -> 0.2553 to 0.3662.
    assert wilson(81, 263, Z) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson(0, 10, Z) == pytest.approx((0.0, 0.2775), abs=1e-4)


def test_newcombe_matches_newcombe_1998() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, method 10: 56/70 - 48/80 -> 0.0524, 0.3339.
    d, lo, hi = newcombe(56, 70, 48, 80, Z)
    assert (d, lo, hi) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)


def test_stratified_by_hand() -> None:
    # Stratum A: 2/10 vs 5/10 (weight 10/30); stratum B: 4/20 vs 1/5 (weight 20/30).
    d, _lo, hi = stratified([(2, 10, 5, 10), (4, 20, 1, 5), (1, 0, 3, 3)], Z)
    assert d == pytest.approx(10 / 30 * -0.3 + 20 / 30 * 0.0)
    # The interval is Agresti-Caffo's: rates (k+1)/(n+2), variances p(1-p)/(n+2) (see stats.py).
    def ac(k: int, n: int) -> tuple[float, float]:
        p = (k + 1) / (n + 2)
        return p, p * (1 - p) / (n + 2)

    (a1, va1), (a0, va0), (b1, vb1), (b0, vb0) = ac(2, 10), ac(5, 10), ac(4, 20), ac(1, 5)
    center = 1 / 3 * (a1 - a0) + 2 / 3 * (b1 - b0)
    var = (1 / 3) ** 2 * (va1 + va0) + (2 / 3) ** 2 * (vb1 + vb0)
    assert (_lo, hi) == pytest.approx((center - Z * var**0.5, center + Z * var**0.5))


def test_expressions_match_scalars() -> None:
    df = pl.DataFrame({"k1": [81, 56, 0], "n1": [263, 70, 0], "k0": [10, 48, 3], "n0": [40, 80, 9]})
    out = df.with_columns(*wilson_exprs("k1", "n1", Z, "r"),
                          *newcombe_exprs("k1", "n1", "k0", "n0", Z, "d"))  # fmt: skip
    for row in out.iter_rows(named=True):
        if row["n1"] == 0:
            assert row["r"] is None and row["d"] is None
            continue
        assert (row["r_low"], row["r_high"]) == pytest.approx(wilson(row["k1"], row["n1"], Z))
        assert (row["d"], row["d_low"], row["d_high"]) == pytest.approx(
            newcombe(row["k1"], row["n1"], row["k0"], row["n0"], Z))
    strata = pl.DataFrame({"g": [1, 1, 1], "k1": [2, 4, 1], "n1": [10, 20, 0],
                           "k0": [5, 1, 3], "n0": [10, 5, 3]})  # fmt: skip
    agg = strata.group_by("g").agg(stratified_aggs("k1", "n1", "k0", "n0", Z, "adj")).row(0, named=True)
    expect = stratified([(2, 10, 5, 10), (4, 20, 1, 5), (1, 0, 3, 3)], Z)
    assert (agg["adj"], agg["adj_low"], agg["adj_high"]) == pytest.approx(expect)
    assert agg["adj_strata"] == 2


def test_bounds_stay_in_range() -> None:
    # 0 of 2 gives a lower Wilson bound of -5.55e-17 and 9 of 9 an upper one of 1.0000000000000002
    # before clipping: a dashboard then prints "-0.0%" or "100.0000%" and range checks fail.
    ns = list(range(1, 60))
    df = pl.DataFrame({"k1": [0] * len(ns) + ns, "n1": ns * 2,
                       "k0": ns + [0] * len(ns), "n0": ns * 2})  # fmt: skip
    out = df.with_columns(*wilson_exprs("k1", "n1", Z, "r"),
                          *wilson_exprs("k0", "n0", Z, "r0"),
                          *newcombe_exprs("k1", "n1", "k0", "n0", Z, "d"))  # fmt: skip
    assert out["r_low"].min() == 0.0 and out["r_high"].max() == 1.0
    assert out["r0_low"].min() == 0.0 and out["r0_high"].max() == 1.0
    assert out["d_low"].min() >= -1.0 and out["d_high"].max() <= 1.0
    for k1, n1, k0, n0 in df.iter_rows():
        lo, hi = wilson(k1, n1, Z)
        assert 0.0 <= lo <= hi <= 1.0
        _d, lo, hi = newcombe(k1, n1, k0, n0, Z)
        assert -1.0 <= lo <= hi <= 1.0


def test_small_strata_cannot_claim_certainty() -> None:
    # One user against one in each stratum: every per-stratum rate is 0 or 1, so the plain
    # variance p(1-p)/n is 0 and the interval had no width (-0.5 [-0.5, -0.5]).
    strata = [(0, 1, 1, 1), (1, 1, 1, 1)]
    d, lo, hi = stratified(strata, Z)
    assert d == pytest.approx(-0.5)
    assert lo < -0.6 and hi > 0.3  # wide: four people say next to nothing
    # Agresti-Caffo: centered on 0.5 * (1/3 - 2/3) + 0.5 * 0, variances (2/9) / 3 a side.
    assert (lo, hi) == pytest.approx((-1 / 6 - Z * (2 / 27) ** 0.5, -1 / 6 + Z * (2 / 27) ** 0.5))
    # One stratum of 0 of 1 vs 1 of 1: Agresti-Caffo's [-0.87, 0.20], widened to hold -1.
    assert stratified([(0, 1, 1, 1)], Z) == pytest.approx((-1.0, -1.0, -1 / 3 + Z * (4 / 27) ** 0.5))
    frame = pl.DataFrame({"g": [1, 1], "k1": [0, 1], "n1": [1, 1], "k0": [1, 1], "n0": [1, 1]})
    agg = frame.group_by("g").agg(stratified_aggs("k1", "n1", "k0", "n0", Z, "adj")).row(0, named=True)
    assert (agg["adj"], agg["adj_low"], agg["adj_high"]) == pytest.approx((d, lo, hi))
