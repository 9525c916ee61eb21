"""CRS/ICANS incidence, grade distribution, onset/duration and grade >= 3 by subgroup.

Hand-built cohort counts are worked out in tests/test_cohort.py (table ``_PATIENTS``); shipped-data
expectations are the abstract's (ASH 2025, Zhang X, Lu P et al.: CRS 95.8% (320/334), 85.6% grade
1-2, 10.2% grade >= 3; ICANS 3.3% (11/334), 0.9% grade 1-2, 2.4% grade >= 3).
"""

from __future__ import annotations

import pandas as pd
import pytest

from nscore import safety as sf
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
