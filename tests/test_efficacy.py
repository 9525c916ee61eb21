"""Response rates (ORR, CR/CRi, by subgroup, MRD) of nscore.analyses.efficacy.

The exact (Clopper-Pearson) interval itself is tested against R in tests/test_proportions.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nscore.analyses import efficacy as ef
from cohorts import shipped_cohort, tiny_cohort  # shared builders (tests/ is on sys.path)

TOL = 1e-6


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
    assert rr.orr.lower == pytest.approx(0.821291459863861, abs=TOL)  # R binom.test(284, 329)


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
