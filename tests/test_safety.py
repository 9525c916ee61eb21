"""CRS/ICANS incidence, grade distribution, onset/duration and grade >= 3 by subgroup.

Hand-built cohort counts are worked out in tests/test_cohort.py (table ``_PATIENTS``); shipped-data
expectations are the abstract's (ASH 2025, Zhang X, Lu P et al.: CRS 95.8% (320/334), 85.6% grade
1-2, 10.2% grade >= 3; ICANS 3.3% (11/334), 0.9% grade 1-2, 2.4% grade >= 3).
"""

from __future__ import annotations

import pandas as pd
import pytest

from nscore.analyses import safety as sf
from nscore.errors import NscoreError
from cohorts import shipped_cohort, tiny_cohort


@pytest.fixture(scope="module")
def tiny():
    return tiny_cohort()


def test_incidence_tiny(tiny):
    # CRS max grades 2,3,1,4,0,1,2,5 -> any 7, grade 1-2: 4, grade >= 3: 3 of 8
    crs = sf.incidence(tiny, "CRS")
    assert (crs.any_grade.k, crs.grade_1_2.k, crs.grade_3_plus.k, crs.any_grade.n) == (7, 4, 3, 8)
    # ICANS 0,3,0,1,0,0,0,4 -> any 3, grade 1-2: 1, grade >= 3: 2
    ic = sf.incidence(tiny, "ICANS")
    assert (ic.any_grade.k, ic.grade_1_2.k, ic.grade_3_plus.k) == (3, 1, 2)
    assert list(ic.table["category"]) == ["Any grade", "Grade 1-2", "Grade >=3"]
    # > options(digits=15); binom.test(7, 8)$conf.int
    # [1] 0.473490329124793 0.996840276468748
    assert crs.any_grade.lower == pytest.approx(0.473490329124793, abs=1e-6)
    assert crs.any_grade.upper == pytest.approx(0.996840276468748, abs=1e-6)


def test_incidence_uses_maximum_grade_per_patient(tiny):
    # a second, lower-grade CRS row for 0002 (grade 3) must not count twice nor lower the maximum
    extra = tiny.adae.iloc[[1]].copy()
    extra["AETOXGR"] = 1
    c = type(tiny)(**{**vars(tiny), "adae": pd.concat([tiny.adae, extra], ignore_index=True)})
    crs = sf.incidence(c, "CRS")
    assert (crs.any_grade.k, crs.grade_3_plus.k) == (7, 3)


def test_max_grades_reads_only_safety_patients_and_known_grades(tiny):
    """Rows of patients outside the safety population or of unknown patients are left out; a
    missing grade does not lower a known one; a patient without a row has grade 0."""
    adae = pd.concat([tiny.adae, pd.DataFrame([
        {"USUBJID": "NCT04572308-9999", "AECAT": "CRS", "AETOXGR": 5},   # not in ADSL
        {"USUBJID": "NCT04572308-0005", "AECAT": "ICANS", "AETOXGR": None},  # grade unknown
        {"USUBJID": "NCT04572308-0002", "AECAT": "ICANS", "AETOXGR": None},  # 0002 has a grade 3
    ])], ignore_index=True)
    adsl = tiny.adsl.assign(SAFFL=["Y"] * 6 + ["N", "Y"])  # 0007 leaves the safety population
    mg = sf.max_grades(type(tiny)(**{**vars(tiny), "adsl": adsl, "adae": adae})).set_index("USUBJID")
    assert "NCT04572308-0007" not in mg.index and "NCT04572308-9999" not in mg.index
    assert mg["CRS"].tolist() == [2, 3, 1, 4, 0, 1, 5]
    assert mg["ICANS"].tolist() == [0, 3, 0, 1, 0, 0, 4]


def test_max_grades_refuses_repeated_patients(tiny):
    adsl = pd.concat([tiny.adsl, tiny.adsl.head(1)], ignore_index=True)
    with pytest.raises(NscoreError, match="one row per USUBJID"):
        sf.max_grades(type(tiny)(**{**vars(tiny), "adsl": adsl}))


def test_incidence_denominator_is_safety_population(tiny):
    adsl = tiny.adsl.copy()
    adsl.loc[adsl["USUBJID"].str.endswith("0005"), "SAFFL"] = "N"  # the patient without CRS
    c = type(tiny)(**{**vars(tiny), "adsl": adsl})
    assert (sf.incidence(c, "CRS").any_grade.k, sf.incidence(c, "CRS").any_grade.n) == (7, 7)


def test_incidence_rejects_unknown_syndrome(tiny):
    with pytest.raises(NscoreError, match="syndrome"):
        sf.incidence(tiny, "HLH")


def test_grade_distribution_tiny_sums(tiny):
    g = sf.grade_distribution(tiny)
    t = g.table
    assert g.n_safety == 8
    assert list(t[t["syndrome"] == "CRS"]["n"]) == [1, 2, 2, 1, 1, 1]  # grades 0..5
    assert list(t[t["syndrome"] == "ICANS"]["n"]) == [5, 1, 0, 1, 1, 0]
    for _, part in t.groupby("syndrome"):
        assert part["n"].sum() == 8
        assert part["percent"].sum() == pytest.approx(100.0)


def test_onset_duration_tiny(tiny):
    t = sf.onset_duration(tiny).table.set_index(["syndrome", "measure"])
    # CRS ASTDY 2,1,4,2,8,3,1 -> days after infusion 1,0,3,1,7,2,0: median 1 (0-7)
    onset = t.loc[("CRS", "onset, days after infusion")]
    assert (onset["n"], onset["median"], onset["min"], onset["max"]) == (7, 1, 0, 7)
    assert onset["display"] == "1 (0\u20137)"
    # CRS ADURN 5,8,3,10,2,4 and one ongoing -> median 4.5 (2-10)
    dur = t.loc[("CRS", "duration, days")]
    assert (dur["n"], dur["median"], dur["min"], dur["max"], dur["n_ongoing"]) == (6, 4.5, 2, 10, 1)
    assert t.loc[("ICANS", "onset, days after infusion"), "median"] == 5  # ASTDY 6,9,5 -> 5,8,4


def test_grade3_by_dose_level_tiny(tiny):
    t = sf.grade3_by(tiny, by="DOSELVL").table
    crs = t[t["syndrome"] == "CRS"].set_index("level")
    # DL1: 0001 (2), 0005 (0) -> 0/2; DL2: 0002 (3), 0003, 0006 (1), 0008 (5) -> 2/4; DL3: 0004 (4), 0007 -> 1/2
    assert crs[["n", "k"]].to_dict("index") == {"DL1": {"n": 2, "k": 0}, "DL2": {"n": 4, "k": 2},
                                               "DL3": {"n": 2, "k": 1}}


def test_grade3_by_blasts_tiny(tiny):
    t = sf.grade3_by(tiny, by="blasts").table
    crs = t[t["syndrome"] == "CRS"]
    assert list(crs["level"]) == [">=20%", "<20%", "No marrow involvement"]
    assert list(crs["k"]) == [2, 1, 0] and list(crs["n"]) == [3, 2, 3]
    with pytest.raises(NscoreError, match="by must be"):
        sf.grade3_by(tiny, by="AGE")


def test_shipped_safety_matches_abstract():
    c = shipped_cohort()
    crs, ic = sf.incidence(c, "CRS"), sf.incidence(c, "ICANS")
    assert (crs.any_grade.k, crs.any_grade.n, crs.grade_1_2.k, crs.grade_3_plus.k) == (320, 334, 286, 34)
    assert (ic.any_grade.k, ic.grade_1_2.k, ic.grade_3_plus.k) == (11, 3, 8)
    g = sf.grade_distribution(c).table
    for _, part in g.groupby("syndrome"):
        assert part["n"].sum() == 334
    for by in ("DOSELVL", "blasts"):
        t = sf.grade3_by(c, by=by).table
        assert t[t["syndrome"] == "CRS"]["k"].sum() == 34
        assert t[t["syndrome"] == "ICANS"]["n"].sum() == 334
    od = sf.onset_duration(c).table.set_index(["syndrome", "measure"])
    assert od.loc[("CRS", "onset, days after infusion"), "n"] == 320
    assert od.loc[("ICANS", "onset, days after infusion"), "n"] == 11


# ------------------------------------------------------------------ odd data (issue 11): not collected,
# only some syndromes, nobody with an event, one patient, unresolved, subgroups absent or unknown
import dataclasses

import numpy as np


def _with(cohort, **changes):
    return type(cohort)(**{**vars(cohort), **changes})


def _study(cohort, **changes):
    return dataclasses.replace(cohort.study, **changes)


def test_not_collected_every_analysis_raises_not_collected(tiny):
    c = _with(tiny, adae=None, study=_study(tiny, adverse_events=()))
    assert sf.syndromes(c) == ()
    for f in (sf.max_grades, sf.grade_distribution, sf.onset_duration,
              lambda c: sf.incidence(c, "CRS"), lambda c: sf.incidence(c, "ICANS"),
              lambda c: sf.grade3_by(c, "DOSELVL"), lambda c: sf.grade3_by(c, "blasts")):
        with pytest.raises(sf.NotCollectedError):
            f(c)


def test_only_crs_collected(tiny):
    c = _with(tiny, adae=tiny.adae[tiny.adae["AECAT"] == "CRS"], study=_study(tiny, adverse_events=("CRS",)))
    assert sf.syndromes(c) == ("CRS",)
    with pytest.raises(sf.NotCollectedError, match="ICANS"):
        sf.incidence(c, "ICANS")
    assert set(sf.grade_distribution(c).table["syndrome"]) == {"CRS"}
    assert set(sf.onset_duration(c).table["syndrome"]) == {"CRS"}
    t = sf.grade3_by(c, "DOSELVL").table
    assert set(t["syndrome"]) == {"CRS"} and t["k"].sum() == 3


def test_collected_but_nobody_had_icans(tiny):
    c = _with(tiny, adae=tiny.adae[tiny.adae["AECAT"] == "CRS"])
    ic = sf.incidence(c, "ICANS")
    assert (ic.any_grade.k, ic.any_grade.n, ic.grade_3_plus.k) == (0, 8, 0)
    assert ic.any_grade.upper == pytest.approx(0.369416647552819, abs=1e-6)  # R: binom.test(0, 8)$conf.int
    g = sf.grade_distribution(c).table
    assert g[(g["syndrome"] == "ICANS") & (g["grade"] == 0)]["n"].item() == 8
    od = sf.onset_duration(c)
    assert od.n_events("ICANS") == 0 and od.n_events("CRS") == 7
    for measure in ("onset", "duration"):
        row = od.row("ICANS", measure)
        assert row["status"] == sf.NO_EVENTS and row["n"] == 0 and np.isnan(row["median"])
        assert row["display"] == "not applicable: no events"
    assert not od.table["display"].str.contains("n/a|nan", case=False).any()


def test_one_patient_with_an_unresolved_event(tiny):
    ae = tiny.adae.copy()
    ae = ae[(ae["AECAT"] == "CRS") | ae["USUBJID"].str.endswith("0002")]
    ae.loc[ae["AECAT"] == "ICANS", "ADURN"] = None
    od = sf.onset_duration(_with(tiny, adae=ae))
    onset, dur = od.row("ICANS", "onset"), od.row("ICANS", "duration")
    assert (onset["n_events"], onset["n"], onset["median"], onset["status"]) == (1, 1, 5, sf.SUMMARISED)
    assert onset["display"] == "5 (5\u20135)"
    assert (dur["n"], dur["n_ongoing"], dur["status"]) == (0, 1, sf.ALL_UNRESOLVED)
    assert dur["display"] == "not known: every event unresolved"
    with pytest.raises(NscoreError, match="HLH"):
        od.row("HLH", "onset")


def test_grade3_by_variable_not_collected(tiny):
    with pytest.raises(sf.NotCollectedError, match="DOSELVL"):
        sf.grade3_by(_with(tiny, adsl=tiny.adsl.drop(columns=["DOSELVL"])), "DOSELVL")
    with pytest.raises(sf.NotCollectedError, match="BMINV"):
        sf.grade3_by(_with(tiny, adsl=tiny.adsl.drop(columns=["BMBLAST"])), "blasts")


def test_grade3_by_unknown_levels_and_one_level(tiny):
    full = sf.grade3_by(tiny, "blasts")
    assert (full.levels, full.n_unknown, full.n_safety) == ((">=20%", "<20%", "No marrow involvement"), 0, 8)
    adsl = tiny.adsl.copy()
    adsl.loc[[0, 1], "BMINV"] = None           # involvement unknown
    adsl.loc[2, "BMINV"], adsl.loc[2, "BMBLAST"] = "Y", None  # involved, blast count unknown
    g = sf.grade3_by(_with(tiny, adsl=adsl), "blasts")
    assert g.n_unknown == 3
    crs = g.table[g.table["syndrome"] == "CRS"]
    assert crs["n"].sum() == 5  # the unknown are in no row
    one = sf.grade3_by(_with(tiny, adsl=tiny.adsl.assign(DOSELVL="DL2")), "DOSELVL")
    assert one.levels == ("DL2",) and one.n_unknown == 0
    assert one.table[one.table["syndrome"] == "CRS"][["n", "k"]].values.tolist() == [[8, 3]]
    missing = sf.grade3_by(_with(tiny, adsl=tiny.adsl.assign(DOSELVL=None)), "DOSELVL")
    assert missing.levels == () and missing.n_unknown == 8 and missing.table.empty


def test_grade_bar_draws_one_syndrome_and_no_events(tiny):
    """figures.grade_stacked_bar on the odd distributions the chapter hands it (unchanged function)."""
    from nscore.report import figures

    for adae, study in ((tiny.adae[tiny.adae["AECAT"] == "CRS"], _study(tiny, adverse_events=("CRS",))),
                        (tiny.adae.iloc[0:0], tiny.study)):
        table = sf.grade_distribution(_with(tiny, adae=adae, study=study)).table
        spec = figures.grade_stacked_bar(table, title="t", alt_text="a").to_dict()
        assert spec["description"] == "a"
        assert table.groupby("syndrome")["percent"].sum().round(9).eq(100).all()
