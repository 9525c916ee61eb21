"""Exact binomial proportions (nscore.statistics.proportions), checked against R and a textbook.

Clopper-Pearson references: R 4.2.2 ``binom.test`` (stats), and the table of Newcombe RG, "Two-sided
confidence intervals for the single proportion: comparison of seven methods", Stat Med
1998;17:857-872, Table II, method 5 ("exact", Clopper-Pearson), printed to 4 decimals.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nscore.errors import AnalysisInputError
from nscore.statistics import proportions as pr

TOL = 1e-6


@pytest.mark.parametrize(
    "k, n, lower, upper",
    [
        # > options(digits=15); binom.test(284, 329)$conf.int
        # [1] 0.821291459863861 0.898453148546670
        (284, 329, 0.821291459863861, 0.898453148546670),
        # > binom.test(278, 329)$conf.int
        # [1] 0.801271172392991 0.882351299761698
        (278, 329, 0.801271172392991, 0.882351299761698),
        # > binom.test(320, 334)$conf.int
        # [1] 0.930671245006347 0.976897589484098
        (320, 334, 0.930671245006347, 0.976897589484098),
        # > binom.test(7, 20)$conf.int
        # [1] 0.153909204784541 0.592188534532828
        (7, 20, 0.153909204784541, 0.592188534532828),
        # > binom.test(0, 10)$conf.int
        # [1] 0.000000000000000 0.308497107818761
        (0, 10, 0.0, 0.308497107818761),
        # > binom.test(10, 10)$conf.int
        # [1] 0.691502892181239 1.000000000000000
        (10, 10, 0.691502892181239, 1.0),
    ],
)
def test_clopper_pearson_matches_r_binom_test(k, n, lower, upper):
    p = pr.proportion(k, n)
    assert p.method == pr.METHOD == "Clopper-Pearson"
    assert p.estimate == pytest.approx(k / n, abs=1e-15)
    assert p.lower == pytest.approx(lower, abs=TOL)
    assert p.upper == pytest.approx(upper, abs=TOL)


@pytest.mark.parametrize(
    "k, n, lower, upper",
    [  # Newcombe 1998, Table II, method 5 (exact)
        (81, 263, 0.2527, 0.3676),
        (15, 148, 0.0578, 0.1617),
        (0, 20, 0.0000, 0.1684),
        (1, 29, 0.0009, 0.1776),
    ],
)
def test_clopper_pearson_matches_newcombe_1998(k, n, lower, upper):
    p = pr.proportion(k, n)
    # the table prints 4 decimals: half a unit of the last digit
    assert p.lower == pytest.approx(lower, abs=5e-5)
    assert p.upper == pytest.approx(upper, abs=5e-5)


def test_zero_successes_closed_form():
    # Clopper-Pearson with k = 0: upper = 1 - (alpha/2)^(1/n) (Clopper & Pearson 1934)
    p = pr.proportion(0, 20, alpha=0.05)
    assert p.upper == pytest.approx(1 - 0.025 ** (1 / 20), abs=1e-12)


def test_alpha_sets_confidence_level():
    # > options(digits=15); binom.test(284, 329, conf.level = 0.90)$conf.int
    # [1] 0.828090680875266 0.893364991018264
    p90 = pr.proportion(284, 329, alpha=0.10)
    assert p90.lower == pytest.approx(0.828090680875266, abs=TOL)
    assert p90.upper == pytest.approx(0.893364991018264, abs=TOL)


@pytest.mark.parametrize("k, n, message", [
    (-1, 10, "k must satisfy 0 <= k <= n, got k=-1, n=10"),
    (11, 10, "k must satisfy 0 <= k <= n, got k=11, n=10"),
    (0, 0, "n must be > 0, got n=0"),
    (1, -3, "n must be > 0, got n=-3"),
    (1.5, 10, "k and n must be whole numbers, got k=1.5, n=10"),
    (True, 2, "k and n must be integers, not booleans"),
    ("a", 3, "k and n must be integers, got k='a', n=3"),
])
def test_proportion_rejects_bad_counts(k, n, message):
    with pytest.raises(AnalysisInputError) as info:
        pr.proportion(k, n)
    assert str(info.value) == message


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, float("nan"), True, "0.05"])
def test_proportion_rejects_bad_alpha(alpha):
    with pytest.raises(AnalysisInputError) as info:
        pr.proportion(5, 10, alpha=alpha)
    assert str(info.value) == f"alpha must be between 0 and 1, got {alpha!r}"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_proportion_properties(kn):
    k, n = kn
    p = pr.proportion(k, n)
    assert 0.0 <= p.lower <= p.estimate <= p.upper <= 1.0


def test_as_row_has_the_table_columns():
    p = pr.proportion(284, 329)
    assert list(p.as_row()) == pr.PROPORTION_COLUMNS
    assert p.as_row() == {"k": 284, "n": 329, "estimate": 284 / 329, "lower": p.lower, "upper": p.upper}
