"""Every result type's ARD rows against known values (R, hand counts, the abstract's figures the
existing tests already assert: tests/test_efficacy.py, test_safety.py, test_headline.py, test_cohort.py)."""

from __future__ import annotations

import math

import pytest

from cohorts import shipped_cohort, tiny_cohort
from nscore.analyses import ard, efficacy as ef, headline as hl, published as pub, safety as sf
from nscore.analyses import baseline as bl
from nscore.analyses import cohort as ca
from nscore.analyses import survival_rows as sr
from nscore.statistics import survival

TOL = 1e-9


def keyed(rows) -> dict:
    """row_key -> value of validated rows."""
    f = ard.validate(ard.rows_of(rows) if not isinstance(rows, list) else ard.frame(rows))
    return dict(zip(ard.row_key(f), f["value"]))


@pytest.fixture(scope="module")
def tiny():
    return tiny_cohort()


@pytest.fixture(scope="module")
def shipped():
    return shipped_cohort()


# ----------------------------------------------------------------------------------- efficacy
def test_response_rates_rows_tiny(tiny):
    v = keyed(ef.response_rates(tiny))
    # evaluable 7, responders 5, CR/CRi 4 (tests/test_efficacy.py)
    assert (v["efficacy.orr|=|n"], v["efficacy.orr|=|N"]) == (5, 7)
    assert v["efficacy.orr|=|percent"] == pytest.approx(100 * 5 / 7, abs=TOL)
    assert (v["efficacy.cr_cri|=|n"], v["efficacy.cr_cri|=|N"]) == (4, 7)
    assert {lv: v[f"efficacy.best_response|AVALC={lv}|n"] for lv in ("CR", "CRi", "PR", "NR", "NE")} == \
        {"CR": 3, "CRi": 1, "PR": 1, "NR": 1, "NE": 1}


def test_response_rates_rows_shipped_match_abstract_and_r(shipped):
    rows = ard.rows_of(ef.response_rates(shipped))
    v = dict(zip(ard.row_key(rows), rows["value"]))
    assert (v["efficacy.orr|=|n"], v["efficacy.orr|=|N"]) == (284, 329)
    assert (v["efficacy.cr_cri|=|n"], v["efficacy.cr_cri|=|N"]) == (278, 329)
    # > binom.test(284, 329)$conf.int[1]  0.821291459863861
    assert v["efficacy.orr|=|lower"] == pytest.approx(82.1291459863861, abs=1e-7)
    orr = rows[rows["analysis_id"] == "efficacy.orr"].set_index("stat")
    assert orr.loc["percent", "method"] == "Clopper-Pearson exact" and orr.loc["percent", "unit"] == "%"
    assert orr.loc["n", "population"] == "efficacy-evaluable (EFFFL)" and orr.loc["n", "unit"] == "patients"


def test_subgroup_rows_tiny(tiny):
    v = keyed(ef.response_by_subgroup(tiny))
    assert (v["efficacy.orr.subgroup|=|n"], v["efficacy.orr.subgroup|=|N"]) == (5, 7)
    # age < 18 evaluable: 3, responders 2 (tests/test_efficacy.py)
    assert (v["efficacy.orr.subgroup|AGE_GROUP=<18|N"], v["efficacy.orr.subgroup|AGE_GROUP=<18|n"]) == (3, 2)
    assert "efficacy.orr.subgroup|DIAGNOSIS=AML|n" not in v  # the AML patient is not evaluable


def test_mrd_rows_tiny_and_none_known(tiny):
    v = keyed(ef.mrd_negativity(tiny))
    assert (v["efficacy.mrd_negative|=|n"], v["efficacy.mrd_negative|=|N"]) == (2, 3)
    assert (v["efficacy.mrd_unknown|=|n"], v["efficacy.mrd_unknown|=|N"]) == (1, 4)
    none = ef.MRDNegativity(table=None, proportion=None, n_cr_cri=4, n_unknown=4)
    w = keyed(none)
    assert w["efficacy.mrd_negative|=|N"] == 0 and math.isnan(w["efficacy.mrd_negative|=|percent"])


# ------------------------------------------------------------------------------------- safety
def test_incidence_rows_tiny(tiny):
    v = keyed(sf.incidence(tiny, "CRS"))
    assert (v["safety.crs.any|=|n"], v["safety.crs.g1_2|=|n"], v["safety.crs.g3|=|n"], v["safety.crs.any|=|N"]) \
        == (7, 4, 3, 8)
    # > binom.test(7, 8)$conf.int  0.473490329124793 0.996840276468748
    assert v["safety.crs.any|=|lower"] == pytest.approx(47.3490329124793, abs=1e-4)
    assert v["safety.crs.any|=|upper"] == pytest.approx(99.6840276468748, abs=1e-4)


def test_incidence_rows_shipped(shipped):
    v = keyed(sf.incidence(shipped, "CRS"))
    assert (v["safety.crs.any|=|n"], v["safety.crs.any|=|N"], v["safety.crs.g3|=|n"]) == (320, 334, 34)
    w = keyed(sf.incidence(shipped, "ICANS"))
    assert (w["safety.icans.any|=|n"], w["safety.icans.g1_2|=|n"], w["safety.icans.g3|=|n"]) == (11, 3, 8)


def test_grade_onset_and_by_level_rows_tiny(tiny):
    v = keyed(sf.grade_distribution(tiny))
    assert [v[f"safety.crs.grade|GRADE={g}|n"] for g in range(6)] == [1, 2, 2, 1, 1, 1]
    assert v["safety.icans.grade|GRADE=0|percent"] == pytest.approx(62.5)
    t = keyed(sf.onset_duration(tiny))
    assert [t[f"safety.crs.onset|=|{s}"] for s in ("n", "median", "min", "max")] == [7, 1, 0, 7]
    assert [t[f"safety.crs.duration|=|{s}"] for s in ("n", "median", "min", "max")] == [6, 4.5, 2, 10]
    assert t["safety.crs.duration.unresolved|=|n"] == 1
    d = keyed(sf.grade3_by(tiny, "DOSELVL"))
    assert (d["safety.crs.g3.by_dose|DOSELVL=DL1|N"], d["safety.crs.g3.by_dose|DOSELVL=DL1|n"]) == (2, 0)
    assert (d["safety.crs.g3.by_dose|DOSELVL=DL2|N"], d["safety.crs.g3.by_dose|DOSELVL=DL2|n"]) == (4, 2)
    b = keyed(sf.grade3_by(tiny, "blasts"))
    assert [b[f"safety.crs.g3.by_blasts|BLASTS={lv}|n"] for lv in (">=20%", "<20%", "No marrow involvement")] \
        == [2, 1, 0]


# ------------------------------------------------------------------------------------- cohort
def test_flow_rows_shipped(shipped):
    v = keyed(ca.patient_flow(shipped))
    assert (v["flow.infused|=|n"], v["flow.evaluable|=|n"], v["flow.responders|=|n"], v["flow.cr_cri|=|n"]) \
        == (334, 329, 284, 278)
    assert v["flow.hct_total|=|n"] == 245


def test_baseline_rows_shipped_match_abstract(shipped):
    v = keyed(bl.baseline_table(shipped))
    # abstract: 159 T-ALL (47.6%), 255 males (76.3%), median age 24 (range 2-67), >=20% blasts 79/265
    assert v["baseline.diag|DIAG=T-ALL|n"] == 159 and round(v["baseline.diag|DIAG=T-ALL|percent"], 1) == 47.6
    assert v["baseline.sex|SEX=Male|n"] == 255 and round(v["baseline.sex|SEX=Male|percent"], 1) == 76.3
    assert (v["baseline.age|=|median"], v["baseline.age|=|min"], v["baseline.age|=|max"]) == (24, 2, 67)
    assert (v["baseline.blast20|BLAST20=\u226520%|n"], v["baseline.blast20|BLAST20=\u226520%|N"]) == (79, 265)
    assert v["baseline.priorhct|PRIORHCT=2|n"] == 4
    # by diagnosis: the T-ALL column's males
    assert "baseline.sex|DIAG,SEX=T-ALL,Male|n" in v


def test_baseline_rows_tiny_quartiles(tiny):
    v = keyed(bl.baseline_table(tiny))
    # tests/test_cohort.py style: ages 8..60 of 8 patients; R quantile(type 7)
    assert (v["baseline.age|=|median"], v["baseline.age|=|q1"], v["baseline.age|=|q3"]) == (27.5, 15.25, 41.25)
    assert v["baseline.age|DIAG=T-ALL|n"] == 3


# ----------------------------------------------------------------------------------- survival
def test_km_rows_tiny_match_r(tiny):
    # > t <- c(578,568,558,548,538,528,518,20); s <- c(0,0,0,0,0,0,0,1)
    # > summary(survfit(Surv(t, s) ~ 1), times = 365.25)$surv   0.875
    km = survival.kaplan_meier(tiny.adtte, "OS")
    rows = sr.km_rows(km, "os.km", endpoint="OS")
    v = keyed(rows)
    assert (v["os.km|=|N"], v["os.km|=|events"]) == (8, 1)
    assert math.isinf(v["os.km|=|median"]) and math.isinf(v["os.km|=|upper"])  # not reached
    assert v["os.km|=|lower"] == 20
    assert v["os.km|YEARS=1|rate"] == pytest.approx(87.5, abs=1e-6)
    assert math.isnan(v["os.km|YEARS=2|rate"])  # follow-up ends before 2 years: not estimable
    assert v["os.km|YEARS=1|time"] == 365.25
    f = ard.frame(rows).set_index(ard.row_key(ard.frame(rows)))
    assert f.loc["os.km|=|median", "method"] == "Kaplan-Meier, log-log 95% CI"
    assert sr.km_rows(survival.kaplan_meier(tiny.adtte, "OS", ci="plain"), "os.km")[2]["method"] == \
        "Kaplan-Meier, plain 95% CI"


def test_follow_up_rows_tiny_reverse_km(tiny):
    # > summary(survfit(Surv(t, 1 - s) ~ 1))$table["median"]   548
    v = keyed(sr.follow_up_rows(survival.median_follow_up(tiny.adtte, "OS")))
    assert v["followup.os|=|median"] == 548 and v["followup.os|=|N"] == 8


def test_km_by_and_logrank_rows_shipped(shipped):
    res = survival.kaplan_meier_by(shipped.adtte, shipped.adsl, "OS", "DIAG")
    v = keyed(sr.km_by_rows(res, "os.km.diag"))
    for group, km in res.curves.items():
        assert v[f"os.km.diag|DIAG={group}|N"] == km.n_ and v[f"os.km.diag|DIAG={group}|events"] == km.events_
    assert sum(v[f"os.km.diag|DIAG={g}|N"] for g in res.curves) == 334
    assert v["os.km.diag.logrank|=|df"] == len(res.curves) - 1
    assert v["os.km.diag.logrank|=|p"] == res.logrank.p_value and 0 < v["os.km.diag.logrank|=|p"] < 1
    assert sr.logrank_rows(None, "x") == []


def test_cif_rows_tiny(tiny):
    cif = survival.cumulative_incidence(tiny.adtte, "PFS")
    v = keyed(sr.cif_rows(cif))
    assert v["relapse.cif|=|N"] == 8 and v["relapse.cif|=|events"] == cif.events
    assert v["relapse.cif.competing|=|events"] == cif.competing_events
    at = cif.at([365.25])
    assert v["relapse.cif|YEARS=1|estimate"] == pytest.approx(100 * at.loc[0, "cif"])
    assert ard.frame(sr.cif_rows(cif))["method"].str.startswith("Aalen-Johansen").any()


def test_transplant_rows_shipped(shipped):
    lm = survival.landmark(shipped.adtte, shipped.adsl, "OS", day=100)
    v = keyed(sr.landmark_rows(lm))
    assert v["os.landmark|=|time"] == 100
    assert v["os.landmark|=|N"] + v["os.landmark.excluded|=|n"] == 334
    assert v["os.landmark|HCT_BY_LANDMARK=HCT|N"] + v["os.landmark|HCT_BY_LANDMARK=No HCT|N"] == v["os.landmark|=|N"]
    cox = survival.transplant_time_dependent_cox(shipped.adtte, shipped.adsl, "OS")
    w = keyed(sr.td_cox_rows(cox))
    assert w["os.hct.tdcox|=|hr"] == cox.hr and w["os.hct.tdcox|=|lower"] < cox.hr < w["os.hct.tdcox|=|upper"]
    assert w["os.hct.tdcox|=|N"] == 334


# ----------------------------------------------------------------------------- headline, published
def test_headline_rows_shipped(shipped):
    v = keyed(hl.headline_rows(hl.headline_figures(shipped)))
    assert (v["headline.n_infused|=|n"], v["headline.n_evaluable|=|n"]) == (334, 329)
    assert (v["headline.orr|=|n"], v["headline.orr|=|N"]) == (284, 329)
    assert (v["headline.hct_rate|=|n"], v["headline.hct_rate|=|N"]) == (245, 334)
    assert (v["headline.crs_g3|=|n"], v["headline.icans_g3|=|n"]) == (34, 8)
    assert math.isinf(v["headline.os_median|=|median"])  # not reached at the published cutoff


def test_headline_rows_not_collected_keep_nan_rows(tiny):
    import dataclasses
    import types

    c = types.SimpleNamespace(**{**vars(tiny), "adae": None,
                                 "study": dataclasses.replace(tiny.study, adverse_events=())})
    v = keyed(hl.headline_rows(hl.headline_figures(c)))
    assert math.isnan(v["headline.crs_g3|=|percent"]) and math.isnan(v["headline.crs_g3|=|n"])


def test_observed_time_rows_shipped(shipped):
    # abstract: median PFS 547.5 (range 45-1694), median OS 567.5 (range 45-1694): medians of observed times
    v = keyed(pub.observed_time_rows(shipped))
    assert (v["pfs.observed_time|=|median"], v["pfs.observed_time|=|min"], v["pfs.observed_time|=|max"]) == \
        (547.5, 45, 1694)
    assert v["os.observed_time|=|median"] == 567.5


def test_potential_follow_up_rows(tiny, shipped):
    # tiny: infused 2023-12-30 .. 2024-03-10 (8 patients), cutoff 2025-08-01: 508..578 days, all < 730.5
    v = keyed(ca.potential_follow_up(tiny))
    assert (v["followup.potential|=|N"], v["followup.potential|YEARS=2|n"]) == (8, 8)
    assert (v["followup.potential|=|min"], v["followup.potential|=|max"]) == (508, 578)
    assert v["followup.potential|YEARS=2|time"] == 730.5 and v["followup.potential|YEARS=2|percent"] == 100
    w = keyed(ca.potential_follow_up(shipped, years=1))
    assert w["followup.potential|=|N"] == 334 and w["cohort.trials|=|n"] == 5 and w["cohort.diagnoses|=|n"] == 5
    assert 0 <= w["followup.potential|YEARS=1|n"] <= keyed(ca.potential_follow_up(shipped))["followup.potential|YEARS=2|n"]
