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
    var = (1 / 3) ** 2 * (0.2 * 0.8 / 10 + 0.5 * 0.5 / 10) + (2 / 3) ** 2 * (0.2 * 0.8 / 20 + 0.2 * 0.8 / 5)
    assert hi - d == pytest.approx(Z * var**0.5)


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
