"""Exact binomial intervals and response rates.

Clopper-Pearson references: R 4.2.2 ``binom.test`` (stats), and the textbook table of Newcombe RG,
"Two-sided confidence intervals for the single proportion: comparison of seven methods",
Stat Med 1998;17:857-872, Table II, method 5 ("exact", Clopper-Pearson), printed to 4 decimals.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nscore.analyses import efficacy as ef
from nscore.errors import NscoreError
from cohorts import shipped_cohort, tiny_cohort  # shared builders (tests/ is on sys.path)

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
    p = ef.proportion(k, n)
    assert p.method == "Clopper-Pearson"
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
    p = ef.proportion(k, n)
    # the table prints 4 decimals: half a unit of the last digit
    assert p.lower == pytest.approx(lower, abs=5e-5)
    assert p.upper == pytest.approx(upper, abs=5e-5)


def test_zero_successes_closed_form():
    # Clopper-Pearson with k = 0: upper = 1 - (alpha/2)^(1/n) (Clopper & Pearson 1934)
    p = ef.proportion(0, 20, alpha=0.05)
    assert p.upper == pytest.approx(1 - 0.025 ** (1 / 20), abs=1e-12)


def test_alpha_sets_confidence_level():
    # > options(digits=15); binom.test(284, 329, conf.level = 0.90)$conf.int
    # [1] 0.828090680875266 0.893364991018264
    p90 = ef.proportion(284, 329, alpha=0.10)
    assert p90.lower == pytest.approx(0.828090680875266, abs=TOL)
    assert p90.upper == pytest.approx(0.893364991018264, abs=TOL)


@pytest.mark.parametrize("k, n", [(-1, 10), (11, 10), (0, 0), (1, -3), (1.5, 10), (True, 2), ("a", 3)])
def test_proportion_rejects_bad_counts(k, n):
    with pytest.raises(NscoreError):
        ef.proportion(k, n)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, float("nan")])
def test_proportion_rejects_bad_alpha(alpha):
    with pytest.raises(NscoreError, match="alpha"):
        ef.proportion(5, 10, alpha=alpha)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_proportion_properties(kn):
    k, n = kn
    p = ef.proportion(k, n)
    assert 0.0 <= p.lower <= p.estimate <= p.upper <= 1.0


def test_format_like_the_abstract():
    assert ef.proportion(284, 329).format() == "86.3% (284/329)"
    assert ef.proportion(278, 329).format() == "84.5% (278/329)"  # 84.498...% rounds to 84.5
    assert ef.format_percent(1, 8) == "12.5%"
    assert ef.format_percent(1, 16) == "6.3%"  # 6.25 exactly: half-up, not banker's rounding


# --------------------------------------------------------------------------- cohort-level


def test_response_rates_tiny():
    rr = ef.response_rates(tiny_cohort())
    # evaluable: 7 (0005 EFFFL = N); responders CR,CRi,PR,CR,CR = 5; CR/CRi = 4
    assert (rr.orr.k, rr.orr.n, rr.cr_cri.k, rr.cr_cri.n) == (5, 7, 4, 7)
    t = rr.table.set_index("endpoint")
    assert t.loc["ORR", "k"] == 5 and t.loc["CR/CRi", "k"] == 4
    assert dict(zip(rr.counts["response"], rr.counts["n"])) == {"CR": 3, "CRi": 1, "PR": 1, "NR": 1, "NE": 1}


def test_response_by_subgroup_tiny():
    t = ef.response_by_subgroup(tiny_cohort()).table
    assert list(t.iloc[0][["subgroup", "endpoint", "n", "k"]]) == ["Overall", "ORR", 7, 5]
    assert set(t["variable"]) == {"overall", "diagnosis", "prior_hct_any", "marrow_blasts", "dose_level",
                                  "age_group"}
    orr = t[t["endpoint"] == "ORR"].set_index(["variable", "level"])
    # age < 18 evaluable: 0001 (CR), 0004 (NR), 0008 (CR)
    assert tuple(orr.loc[("age_group", "<18"), ["n", "k"]]) == (3, 2)
    # AML patient 0005 is not evaluable: AML level absent
    assert ("diagnosis", "AML") not in orr.index
    # every subgroup variable partitions the evaluable patients
    for var, part in orr.drop(index="overall", level=0).groupby(level=0):
        assert part["n"].sum() == 7, var
    assert ((t["lower"] <= t["estimate"]) & (t["estimate"] <= t["upper"])).all()


def test_mrd_negativity_tiny():
    m = ef.mrd_negativity(tiny_cohort())
    # CR/CRi: 0001 NEG, 0002 POS, 0006 not assessed, 0008 NEG
    assert (m.proportion.k, m.proportion.n, m.n_cr_cri, m.n_unknown) == (2, 3, 4, 1)


def test_response_rates_shipped():
    rr = ef.response_rates(shipped_cohort())
    # abstract: "ORR was 86.3% (284/329) ... CR/CRi rate was 84.5% (278/329)"
    assert rr.orr.format() == "86.3% (284/329)"
    assert rr.cr_cri.format() == "84.5% (278/329)"
    assert rr.orr.lower == pytest.approx(0.821291459863861, abs=TOL)  # R binom.test(284, 329), above


_BOR = st.sampled_from(["CR", "CRi", "PR", "NR", "NE"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _BOR), min_size=8, max_size=8).filter(lambda r: any(e for e, _ in r)))
def test_random_responses_properties(assignment):
    """Random evaluability and best response on the 8 hand-built patients: every rate and CI lies in
    [0, 1], the CI contains the estimate, and each subgroup variable partitions the evaluable."""
    import types

    import pandas as pd

    c = tiny_cohort()
    adsl = c.adsl.copy()
    adsl["EFFFL"] = ["Y" if e else "N" for e, _ in assignment]
    adrs = pd.DataFrame([{"USUBJID": u, "PARAMCD": "BOR", "AVALC": b, "MRDSTAT": None}
                         for u, (e, b) in zip(adsl["USUBJID"], assignment) if e])
    c = types.SimpleNamespace(**{**vars(c), "adsl": adsl, "adrs": adrs})
    t = ef.response_by_subgroup(c).table
    assert ((0 <= t["lower"]) & (t["lower"] <= t["estimate"]) & (t["estimate"] <= t["upper"])
            & (t["upper"] <= 1)).all()
    n_eval = sum(e for e, _ in assignment)
    orr = t[t["endpoint"] == "ORR"]
    assert orr.groupby("variable")["n"].sum().eq(n_eval).all()
    rr = ef.response_rates(c)
    assert rr.orr.k == sum(e and b in ("CR", "CRi", "PR") for e, b in assignment)
    assert rr.cr_cri.k <= rr.orr.k
