"""Property tests of nscore.statistics.survival on random small ADTTE/ADSL frames (hypothesis).

What is checked, for any cohort of 1-40 patients with integer days 0-60 (many ties) and any mix
of relapse, death and censoring:

* Kaplan-Meier (each CI transform): survival in [0, 1] and non-increasing; lower <= survival <=
  upper, all in [0, 1]; risk sets non-increasing over the step table; numbers at risk at sorted
  times non-increasing while cumulative events/censorings are non-decreasing and add up to n;
  lower <= median <= upper whenever they are numbers.
* Aalen-Johansen: both CIFs in [0, 1] and non-decreasing; each CI contains its CIF within [0, 1];
  relapse CIF + death CIF = 1 - KM(PFS) at every time (the AJ identity; it holds exactly because
  every PFS event is either relapse or death), so their sum never exceeds 1 - KM(PFS); the
  result does not depend on row order.
* Log-rank: p in [0, 1]; observed and expected events sum to the same total.
* Counting-process split at transplant: intervals positive, non-overlapping, events preserved,
  total time preserved (0-day follow-up counts as 0.5 day).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from nscore.statistics import survival as sv
from nscore.statistics.inputs import CI_TYPES

SETTINGS = settings(max_examples=60, deadline=None)
EPS = 1e-12


@st.composite
def cohorts(draw, min_size=1, max_size=40):
    n = draw(st.integers(min_size, max_size))
    aval = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    kind = draw(st.lists(st.sampled_from(["C", "R", "D"]), min_size=n, max_size=n))
    grp = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n))
    hct = draw(st.lists(st.one_of(st.none(), st.integers(1, 70)), min_size=n, max_size=n))
    ids = [f"NCT04572308-{i:04d}" for i in range(n)]
    desc = {"C": "", "R": sv.RELAPSE, "D": sv.DEATH}
    pfs = pd.DataFrame({"USUBJID": ids, "PARAMCD": "PFS", "AVAL": aval,
                        "CNSR": [int(k == "C") for k in kind],
                        "EVNTDESC": [desc[k] for k in kind]})
    os_ = pfs.assign(PARAMCD="OS", EVNTDESC=np.where(pfs["CNSR"] == 0, sv.DEATH, ""))
    trtsdt = pd.Timestamp("2022-01-01")
    adsl = pd.DataFrame({
        "USUBJID": ids, "DIAG": grp, "TRTSDT": trtsdt,
        "HCTDT": [trtsdt + pd.Timedelta(days=h) if h is not None else pd.NaT for h in hct],
        "HCTFL": ["N" if h is None else "Y" for h in hct],
    })
    return pd.concat([pfs, os_], ignore_index=True), adsl


def _le(a, b):
    return bool(np.all(np.asarray(a) <= np.asarray(b) + EPS))


@SETTINGS
@given(cohorts(), st.sampled_from(CI_TYPES))
def test_kaplan_meier_properties(data, ci):
    adtte, _ = data
    km = sv.KaplanMeier(ci=ci).fit(adtte, "PFS")
    tab = km.table_
    s = tab["survival"].to_numpy()
    assert _le(0, s) and _le(s, 1)
    assert _le(np.diff(s), 0)
    assert _le(0, tab["lower"]) and _le(tab["lower"], s) and _le(s, tab["upper"])
    assert _le(tab["upper"], 1)
    assert _le(np.diff(tab["at_risk"]), 0)
    times = np.arange(0, 70, 7)
    nar = km.numbers_at_risk(times)
    assert _le(np.diff(nar["at_risk"]), 0)
    assert _le(0, np.diff(nar["events_cum"])) and _le(0, np.diff(nar["censored_cum"]))
    assert (nar["at_risk"] + nar["events_cum"] + nar["censored_cum"]
            >= km.n_).all()  # subjects at t itself are counted twice
    assert (nar["at_risk"].iloc[-1] + nar["events_cum"].iloc[-1]
            + nar["censored_cum"].iloc[-1]) == km.n_
    at = km.survival_at(times).dropna()
    assert _le(at["lower"], at["survival"]) and _le(at["survival"], at["upper"])
    med, (lo, hi) = km.median_, km.median_ci_
    if not math.isnan(lo):
        assert lo <= med + EPS
    assert med <= hi + EPS


@SETTINGS
@given(cohorts())
def test_cumulative_incidence_properties(data):
    adtte, _ = data
    res = sv.cumulative_incidence(adtte, "PFS")
    tab = res.table
    for p, lo, hi in (("cif", "lower", "upper"),
                      ("cif_competing", "lower_competing", "upper_competing")):
        v = tab[p].to_numpy()
        assert _le(0, v) and _le(v, 1) and _le(0, np.diff(v))
        assert _le(0, tab[lo]) and _le(tab[lo], v) and _le(v, tab[hi]) and _le(tab[hi], 1)
    km = sv.kaplan_meier(adtte, "PFS")
    both = tab.merge(km.table_[["time", "survival"]], on="time", validate="one_to_one")
    np.testing.assert_allclose(both["cif"] + both["cif_competing"], 1 - both["survival"],
                               atol=1e-12)
    np.testing.assert_allclose(tab["cif"] + tab["cif_competing"] + tab["event_free"], 1,
                               atol=1e-12)
    shuffled = sv.cumulative_incidence(adtte.iloc[::-1], "PFS").table
    pd.testing.assert_frame_equal(shuffled, tab)


@SETTINGS
@given(cohorts(min_size=2))
def test_logrank_properties(data):
    adtte, adsl = data
    if adsl["DIAG"].nunique() < 2:
        return
    res = sv.logrank(adtte, adsl, "OS", "DIAG")
    assert 0 <= res.p_value <= 1
    assert math.isclose(res.table["observed"].sum(), res.table["expected"].sum(), abs_tol=1e-9)


@SETTINGS
@given(cohorts())
def test_counting_process_properties(data):
    adtte, adsl = data
    os_ = adtte.loc[adtte["PARAMCD"] == "OS"]
    cp = sv.counting_process(adtte, adsl, "OS")
    assert (cp["stop"] > cp["start"]).all()
    assert cp["event"].sum() == (os_["CNSR"] == 0).sum()
    assert math.isclose((cp["stop"] - cp["start"]).sum(), np.maximum(os_["AVAL"], 0.5).sum())
    for _, g in cp.groupby("USUBJID"):
        assert (g["start"].iloc[1:].to_numpy() == g["stop"].iloc[:-1].to_numpy()).all()
        assert g["event"].iloc[:-1].sum() == 0
        assert g["hct"].is_monotonic_increasing
