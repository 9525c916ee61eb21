"""Derived subgroups, patient flow and Table 1.

Two inputs: a hand-built 8-patient cohort whose every count is worked out by hand below (exact
checks), and the shipped 2025-08-01 cutoff whose aggregates are the abstract's (ASH 2025 abstract,
Zhang X, Lu P et al., /work/shared/seed/000_a34d2ef30ea8f0ef.txt, Results). The helpers
``tiny_cohort`` and ``shipped_cohort`` live in tests/cohorts.py.
"""

from __future__ import annotations

import types
from datetime import date

import pandas as pd
import pytest

from nscore import cohort as ch
from nscore.errors import NscoreError

from cohorts import PATIENTS, shipped_cohort, tiny_cohort


@pytest.fixture(scope="module")
def tiny():
    return tiny_cohort()


@pytest.fixture(scope="module")
def shipped():
    return shipped_cohort()


# --------------------------------------------------------------------------- subgroups


def test_derive_subgroups_definitions(tiny):
    sub = ch.derive_subgroups(tiny.adsl).set_index("USUBJID")
    uid = "NCT04572308-"
    assert list(sub["age_group"]) == ["<18", ">=18", ">=18", "<18", ">=18", ">=18", ">=18", "<18"]
    assert list(sub["prior_hct"]) == ["0", "1", "0", "2", "1", "0", "0", "0"]
    assert list(sub["prior_hct_any"]) == ["No", "Yes", "No", "Yes", "Yes", "No", "No", "No"]
    assert sub.loc[uid + "0001", "marrow_blasts"] == ">=20%"      # 50%
    assert sub.loc[uid + "0004", "marrow_blasts"] == ">=20%"      # 25%
    assert sub.loc[uid + "0002", "marrow_blasts"] == "<20%"       # 10%
    assert sub.loc[uid + "0003", "marrow_blasts"] == "No marrow involvement"
    assert list(sub["dose_level"]) == [p[7] for p in PATIENTS]
    assert list(sub["diagnosis"]) == [p[1] for p in PATIENTS]


def test_derive_subgroups_blast_cut_is_inclusive_at_20():
    adsl = pd.DataFrame({"USUBJID": ["a", "b"], "AGE": [18, 17], "PRIORHCT": [0, 0], "BMINV": ["Y", "Y"],
                         "BMBLAST": [20.0, 19.9], "DOSELVL": ["DL1", "DL1"], "DIAG": ["AML", "AML"]})
    sub = ch.derive_subgroups(adsl)
    assert list(sub["marrow_blasts"]) == [">=20%", "<20%"]
    assert list(sub["age_group"]) == [">=18", "<18"]


def test_derive_subgroups_leaves_out_what_was_not_collected():
    """An optional variable absent from ADSL drops its subgroup; DIAG is required."""
    sub = ch.derive_subgroups(pd.DataFrame({"USUBJID": ["a"], "AGE": [1], "PRIORHCT": [0], "BMINV": ["N"],
                                            "DOSELVL": ["DL1"], "DIAG": ["AML"]}))
    assert "marrow_blasts" not in sub.columns  # BMBLAST not collected: no blast subgroup, not "none"
    assert list(sub["age_group"]) == ["<18"] and list(sub["dose_level"]) == ["DL1"]
    with pytest.raises(NscoreError, match="DIAG"):
        ch.derive_subgroups(pd.DataFrame({"USUBJID": ["a"], "AGE": [1]}))


def test_derive_subgroups_unknown_marrow_involvement_is_not_no_involvement():
    adsl = pd.DataFrame({"USUBJID": ["a", "b", "c"], "BMINV": ["Y", None, "N"], "BMBLAST": [30.0, None, None],
                         "DIAG": ["AML"] * 3})
    sub = ch.derive_subgroups(adsl)
    assert list(sub["marrow_blasts"].astype(object).fillna("unknown")) == [">=20%", "unknown", "No marrow involvement"]


def test_nullable_dtypes_and_missing_values_give_same_results(tiny):
    """The loader types columns as Int64/string/datetime64: results must not depend on dtypes."""
    from nscore import efficacy, published, safety

    typed = types.SimpleNamespace(**{**vars(tiny), **{k: getattr(tiny, k).convert_dtypes()
                                                      for k in ("adsl", "adrs", "adtte", "adae")}})
    for f in (ch.patient_flow, ch.baseline_table, efficacy.response_rates, efficacy.response_by_subgroup,
              safety.grade_distribution, safety.onset_duration, published.reproduction_table):
        pd.testing.assert_frame_equal(f(tiny).table.astype(str), f(typed).table.astype(str))
    adsl = typed.adsl.copy()
    adsl.loc[0, "AGE"] = pd.NA
    sub = ch.derive_subgroups(adsl)
    assert pd.isna(sub.loc[0, "age_group"]) and sub.loc[1, "age_group"] == ">=18"


def test_level_counts_order_missing_and_flags():
    values = pd.Series(["b", None, "a", "c", "b", "a", pd.NA], dtype="string")
    flag = [True, True, False, True, True, True, True]
    t = ch.level_counts(values, ("c",), flagged=flag)
    assert t["level"].tolist() == ["c", "a", "b"]  # preferred first, then sorted; missing left out
    assert t["n"].tolist() == [1, 2, 2]
    assert t["flagged"].tolist() == [1, 1, 2]


def test_best_response_first_bor_row_and_missing_rows(tiny):
    """Each evaluable patient once, in ADSL order and index: the first BOR row if ADRS repeats a
    patient, other parameters ignored, "NE" without a row."""
    adrs = tiny.adrs
    extra = adrs.iloc[[0]].assign(AVALC="NR")                       # a second BOR row for 0001
    other = adrs.iloc[[1]].assign(PARAMCD="OVR", AVALC="NR")         # not a best response
    adrs = pd.concat([adrs[adrs["USUBJID"] != "NCT04572308-0003"], extra, other], ignore_index=True)
    br = ch.best_response(types.SimpleNamespace(adsl=tiny.adsl, adrs=adrs))
    assert list(br.index) == [0, 1, 2, 3, 5, 6, 7]
    assert br["AVALC"].tolist() == ["CR", "CRi", "NE", "NR", "CR", "NE", "CR"]
    assert br["MRDSTAT"].tolist()[:2] == ["NEGATIVE", "POSITIVE"] and pd.isna(br["MRDSTAT"].iloc[2])


# --------------------------------------------------------------------------- flow


def test_patient_flow_tiny_counts(tiny):
    f = ch.patient_flow(tiny)
    # by hand: 8 infused, all safety, 0005 not evaluable; responders 0001,0002,0003,0006,0008;
    # CR/CRi 0001,0002,0006,0008 (all transplanted); 0003 (PR) also transplanted -> 5 in total
    assert (f.n_infused, f.n_safety, f.n_evaluable, f.n_not_evaluable) == (8, 8, 7, 1)
    assert (f.n_responders, f.n_cr_cri, f.n_hct_after_cr, f.n_hct_total) == (5, 4, 4, 5)
    t = f.table.set_index("key")
    assert t.loc["not_evaluable", "reason"] == "not evaluable for response"
    assert t.loc["not_evaluable", "n"] == 1


def _assert_flow_consistent(f):
    t = f.table.set_index("key")
    for key, row in t.iterrows():
        if row["parent"]:
            assert row["n"] <= t.loc[row["parent"], "n"], key
    # every parent splits exactly into its main child and its exclusion box
    for parent, kids in t[t["parent"] != ""].groupby("parent"):
        assert kids["n"].sum() == t.loc[parent, "n"], parent
    assert len(f.edges) == len(t) - 1
    assert set(f.edges["target"]) == set(t.index[t["parent"] != ""])


def test_patient_flow_tiny_consistent(tiny):
    _assert_flow_consistent(ch.patient_flow(tiny))


def test_patient_flow_shipped(shipped):
    f = ch.patient_flow(shipped)
    _assert_flow_consistent(f)
    # abstract: 334 infused, 329 evaluable, ORR 284/329, CR/CRi 278/329, 245 transplanted
    assert (f.n_infused, f.n_evaluable, f.n_responders, f.n_cr_cri, f.n_hct_total) == (334, 329, 284, 278, 245)
    assert f.n_not_evaluable == f.n_safety - 329


def _with_dates(tiny, hct_offsets: dict, adt_missing=(), hctdt_missing=()):
    """``tiny`` with each listed patient's HCTDT set to their response date (ADRS ADT) + offset days;
    ``adt_missing``/``hctdt_missing``: patients whose ADT/HCTDT is emptied."""
    adsl, adrs = tiny.adsl.copy(), tiny.adrs.copy()
    adt = adrs.set_index("USUBJID")["ADT"]
    for sid, days in hct_offsets.items():
        uid = f"NCT04572308-{sid}"
        adsl.loc[adsl["USUBJID"] == uid, "HCTDT"] = adt[uid] + pd.Timedelta(days=days)
    for sid in adt_missing:
        adrs.loc[adrs["USUBJID"] == f"NCT04572308-{sid}", "ADT"] = pd.NaT
    for sid in hctdt_missing:
        adsl.loc[adsl["USUBJID"] == f"NCT04572308-{sid}", "HCTDT"] = pd.NaT
    return types.SimpleNamespace(**{**vars(tiny), "adsl": adsl, "adrs": adrs})


def test_patient_flow_tiny_transplants_all_after_cr(tiny):
    # tiny: response assessed on day 28, transplants on day 40 + 10 i: every one after the CR
    f = ch.patient_flow(tiny)
    assert (f.n_hct_after_cr, f.n_hct_not_after_cr, f.n_hct_timing_unknown) == (4, 0, 0)
    t = f.table.set_index("key")
    assert t.loc["no_hct", "label"] == "No allo-HCT after CR/CRi"
    assert t.loc["no_hct", "reason"] == "no allo-HCT after the CR/CRi date by the cutoff"


def test_patient_flow_transplant_must_follow_the_cr_date(tiny):
    """CR/CRi patients 0001, 0002, 0006, 0008 (all transplanted): before, on, after the CR date, and
    a CR without a date. Only the transplant strictly after the CR date is consolidation."""
    c = _with_dates(tiny, {"0001": -1, "0002": 0, "0006": 1, "0008": 30}, adt_missing=["0008"])
    f = ch.patient_flow(c)
    assert f.n_cr_cri == 4
    assert f.n_hct_after_cr == 1                 # 0006
    assert f.n_hct_not_after_cr == 2             # 0001 (day before), 0002 (same day)
    assert f.n_hct_timing_unknown == 1           # 0008: CR date unknown
    assert f.n_hct_total == 5                    # unchanged: every transplant after CAR-T
    _assert_flow_consistent(f)
    t = f.table.set_index("key")
    assert t.loc["hct", "n"] == 1
    assert t.loc["no_hct", "n"] == 3
    assert t.loc["no_hct", "label"] == "No allo-HCT after CR/CRi, or timing unknown"
    assert t.loc["no_hct", "reason"] == ("no allo-HCT after the CR/CRi date by the cutoff; 2 transplanted "
                                        "on or before it; 1 transplanted, timing relative to the CR/CRi "
                                        "unknown")


def test_patient_flow_unknown_transplant_date(tiny):
    c = _with_dates(tiny, {}, hctdt_missing=["0001", "0003"])  # 0003 is a PR: not in the CR split
    f = ch.patient_flow(c)
    assert (f.n_hct_after_cr, f.n_hct_not_after_cr, f.n_hct_timing_unknown, f.n_hct_total) == (3, 0, 1, 5)
    _assert_flow_consistent(f)


def test_patient_flow_transplant_dates_not_collected(tiny):
    """HCTFL without HCTDT: transplants are counted, their timing is unknown for every CR patient."""
    c = types.SimpleNamespace(**{**vars(tiny), "adsl": tiny.adsl.drop(columns=["HCTDT"])})
    f = ch.patient_flow(c)
    assert (f.n_hct_after_cr, f.n_hct_not_after_cr, f.n_hct_timing_unknown, f.n_hct_total) == (0, 0, 4, 5)
    _assert_flow_consistent(f)


def test_patient_flow_response_dates_not_delivered(tiny):
    c = types.SimpleNamespace(**{**vars(tiny), "adrs": tiny.adrs.drop(columns=["ADT"])})
    f = ch.patient_flow(c)
    assert (f.n_hct_after_cr, f.n_hct_timing_unknown) == (0, 4)


def test_patient_flow_transplants_not_collected(tiny):
    """No HCTFL/HCTDT in ADSL: transplant counts are None (not collected), not 0; the flow ends at
    CR/CRi and stays consistent (it can still be drawn)."""
    c = types.SimpleNamespace(**{**vars(tiny), "adsl": tiny.adsl.drop(columns=["HCTFL", "HCTDT"])})
    f = ch.patient_flow(c)
    assert (f.n_hct_after_cr, f.n_hct_total, f.n_hct_not_after_cr, f.n_hct_timing_unknown) == (None,) * 4
    assert (f.n_infused, f.n_cr_cri) == (8, 4)
    assert f.table["key"].iloc[-1] == "cr_cri"
    assert not {"hct", "no_hct"} & set(f.table["key"])
    _assert_flow_consistent(f)


def test_patient_flow_nobody_transplanted(tiny):
    adsl = tiny.adsl.assign(HCTFL="N", HCTDT=pd.NaT)
    f = ch.patient_flow(types.SimpleNamespace(**{**vars(tiny), "adsl": adsl}))
    assert (f.n_hct_after_cr, f.n_hct_total, f.n_hct_not_after_cr, f.n_hct_timing_unknown) == (0, 0, 0, 0)
    _assert_flow_consistent(f)


def test_patient_flow_infused_label_names_the_study_therapy(tiny):
    no_study = types.SimpleNamespace(**{k: v for k, v in vars(tiny).items() if k != "study"})
    assert ch.patient_flow(no_study).table["label"].iloc[0] == "Infused"
    c = types.SimpleNamespace(**{**vars(tiny), "study": types.SimpleNamespace(therapy="XYZ-CAR")})
    assert ch.patient_flow(c).table["label"].iloc[0] == "Infused with XYZ-CAR"


def test_patient_flow_shipped_consolidation_dates(shipped):
    """The shipped cutoff, counted independently with a merge: CR/CRi patients transplanted strictly
    after the date of their response."""
    f = ch.patient_flow(shipped)
    m = shipped.adsl.merge(shipped.adrs[["USUBJID", "AVALC", "ADT"]], on="USUBJID")
    m = m[(m["EFFFL"] == "Y") & (m["SAFFL"] == "Y") & m["AVALC"].isin(["CR", "CRi"]) & (m["HCTFL"] == "Y")]
    after = int((m["HCTDT"] > m["ADT"]).sum())
    assert f.n_hct_after_cr == after
    assert f.n_hct_not_after_cr == int((m["HCTDT"] <= m["ADT"]).sum())
    assert f.n_hct_timing_unknown == int((m["HCTDT"].isna() | m["ADT"].isna()).sum())
    assert f.n_hct_after_cr + f.n_hct_not_after_cr + f.n_hct_timing_unknown == len(m)


# --------------------------------------------------------------------------- Table 1


def _count(bt, variable, level, group="Overall"):
    c = bt.counts
    row = c[(c["variable"] == variable) & (c["level"] == level) & (c["group"] == group)]
    assert len(row) == 1, (variable, level, group)
    return int(row["n"].iloc[0]), int(row["denominator"].iloc[0])


def test_baseline_table_tiny(tiny):
    bt = ch.baseline_table(tiny)
    assert bt.n == 8
    assert list(bt.table.columns) == ["Overall", "T-ALL", "T-LBL", "MPAL", "AML", "PTCL"]
    assert _count(bt, "Sex", "Male") == (5, 8)
    assert _count(bt, "Sex", "Female", "T-ALL") == (2, 3)
    # blasts >= 20% among involved: 0001, 0004, 0008 of 5 involved
    assert _count(bt, "Marrow blasts >=20% (among involved)", "Yes") == (3, 5)
    assert _count(bt, "Prior allo-HCT", "2") == (1, 8)
    # ages 8, 10, 17, 25, 30, 40, 45, 60: median 27.5 -> tableone prints 28 at 0 decimals
    age = bt.table.loc[("Age, years, median [min,max]", ""), "Overall"]
    assert age.replace(" ", "") in {"28[8,60]", "27[8,60]"}
    assert "p-value" not in " ".join(map(str, bt.table.columns)).lower()


def test_baseline_table_shipped_matches_abstract(shipped):
    """Expected counts from the abstract's Results (ASH 2025, Zhang X, Lu P et al.)."""
    bt = ch.baseline_table(shipped)
    assert bt.n == 334
    for diag, k in {"T-ALL": 159, "T-LBL": 121, "MPAL": 24, "AML": 21, "PTCL": 9}.items():
        assert _count(bt, "Diagnosis", diag) == (k, 334)
    assert _count(bt, "Sex", "Male") == (255, 334)
    assert _count(bt, "Sex", "Female") == (79, 334)
    # "Eighty-eight patients ... relapse after prior transplantation, including four ... second"
    n0, _ = _count(bt, "Prior allo-HCT", "0")
    n2, _ = _count(bt, "Prior allo-HCT", "2")
    assert (334 - n0, n2) == (88, 4)
    assert _count(bt, "Bone-marrow involvement", "Yes") == (265, 334)
    assert _count(bt, "Marrow blasts >=20% (among involved)", "Yes") == (79, 265)
    levels = bt.counts[bt.counts["variable"] == "Dose level"]["level"].unique()
    assert len(levels) == 3  # "three different dose levels"
    overall = bt.table["Overall"]
    assert overall.loc[("Age, years, median [min,max]", "")].replace(" ", "") == "24[2,67]"
    assert overall.loc[("Dose, x10^6 cells/kg, median [min,max]", "")].startswith("1.00")
    assert overall.loc[("Diagnosis, n (%)", "T-ALL")].replace(" ", "") == "159(47.6)"
    # per-diagnosis columns add up to the overall column
    for var in ("Sex", "Prior allo-HCT", "Dose level"):
        c = bt.counts[bt.counts["variable"] == var]
        by = c[c["group"] != "Overall"].groupby("level")["n"].sum()
        ov = c[c["group"] == "Overall"].set_index("level")["n"]
        pd.testing.assert_series_equal(by.sort_index(), ov.sort_index(), check_names=False)


def _tableone_table(cohort, decimals: int = 1) -> pd.DataFrame:
    """Table 1 built by ``tableone.TableOne`` from the same variables, as baseline_table once did."""
    import tableone

    df, order = ch._table1_variables(cohort.adsl, cohort)
    categorical = list(ch._T1_CATEGORICAL)
    t1 = tableone.TableOne(
        df, columns=list(ch._T1_LABELS), categorical=categorical, nonnormal=list(ch._T1_CONTINUOUS),
        min_max=list(ch._T1_CONTINUOUS), groupby="DIAG", pval=False, overall=True, missing=False,
        include_null=False, order=order, rename=ch._T1_LABELS,
        decimals={**ch._T1_CONTINUOUS, **{c: decimals for c in categorical}},
    )
    table = t1.tableone.copy()
    table.columns = [c[1] if isinstance(c, tuple) else c for c in table.columns]
    table = table[["Overall"] + order["DIAG"]]
    table.index.names = ["Characteristic", "Level"]
    return table.replace(to_replace=r"\(nan\)", value="(\u2013)", regex=True)


def _awkward_cohort():
    """A simulated cohort with missing sex, marrow involvement, blasts and dose level, levels that
    sort differently as text and as numbers (DL10, 11 prior transplants), lower-case flags, and a
    diagnosis without any involved marrow (its blasts row has no denominator)."""
    import numpy as np

    from nscore.simulate import simulate_cohort

    adsl = simulate_cohort(n=3000, cutoff=date(2025, 8, 1), seed=11)["adsl"].copy()
    rng = np.random.default_rng(5)
    for col in ("SEX", "BMINV", "DOSELVL"):
        adsl.loc[rng.random(len(adsl)) < 0.05, col] = None
    adsl.loc[rng.random(len(adsl)) < 0.05, "BMBLAST"] = np.nan
    adsl.loc[rng.random(len(adsl)) < 0.05, "BMINV"] = "y"
    adsl.loc[rng.random(len(adsl)) < 0.01, "DOSELVL"] = "DL10"
    adsl.loc[rng.random(len(adsl)) < 0.01, "PRIORHCT"] = 11
    adsl.loc[adsl["DIAG"] == "PTCL", "BMINV"] = "N"
    return types.SimpleNamespace(adsl=adsl)


@pytest.mark.parametrize("name", ["tiny", "shipped", "awkward"])
def test_baseline_table_equals_tableone(name, tiny, shipped):
    """The vectorised Table 1 is exactly the table tableone builds from the same variables."""
    import warnings

    cohort = {"tiny": tiny, "shipped": shipped}.get(name) or _awkward_cohort()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tableone warns about order levels absent from the data
        expected = _tableone_table(cohort)
    got = ch.baseline_table(cohort).table
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    if name == "awkward":
        assert got.loc[("Marrow blasts >=20% (among involved), n (%)", "Yes"), "PTCL"] == "0 (\u2013)"
        assert list(got.loc["Dose level, n (%)"].index) == ["DL1", "DL10", "DL2", "DL3"]
        assert list(got.loc["Prior allo-HCT, n (%)"].index) == ["0", "1", "2", "11"]


def test_baseline_table_counts_agree_with_table():
    """The tidy counts and the printed cells are the same numbers."""
    bt = ch.baseline_table(_awkward_cohort())
    for row in bt.counts.itertuples(index=False):
        key = (f"{row.variable}, n (%)", row.level)
        if key in bt.table.index:
            assert bt.table.loc[key, row.group].startswith(f"{row.n} ("), (key, row.group)
        else:
            assert row.n == 0
