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

from nscore.analyses import baseline as bl
from nscore.analyses import cohort as ch
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
    from nscore.analyses import efficacy, published, safety

    typed = types.SimpleNamespace(**{**vars(tiny), **{k: getattr(tiny, k).convert_dtypes()
                                                      for k in ("adsl", "adrs", "adtte", "adae")}})
    for f in (ch.patient_flow, bl.baseline_table, efficacy.response_rates, efficacy.response_by_subgroup,
              safety.grade_distribution, safety.onset_duration):
        pd.testing.assert_frame_equal(f(tiny).table.astype(str), f(typed).table.astype(str))
    assert published.abstract_rows(tiny) == published.abstract_rows(typed)
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


def test_patient_flow_zero_boxes_are_not_drawn(tiny):
    """Everyone in the safety population: the "not in safety population" box (n = 0) is kept in the
    table with its count but not drawn; nobody evaluable: nothing below the evaluable box is drawn."""
    f = ch.patient_flow(tiny)
    t = f.table.set_index("key")
    assert t.loc["not_safety", "n"] == 0 and not t.loc["not_safety", "drawn"]
    # every exclusion box of nobody (also "no allo-HCT after CR/CRi": all four were transplanted)
    assert t["drawn"].tolist() == [kind == "main" or n > 0 for kind, n in zip(t["kind"], t["n"])]
    assert t.loc["no_hct", "n"] == 0 and not t.loc["no_hct", "drawn"]
    adsl = tiny.adsl.assign(EFFFL="N")
    t = ch.patient_flow(types.SimpleNamespace(**{**vars(tiny), "adsl": adsl})).table.set_index("key")
    drawn = t.index[t["drawn"]].tolist()
    assert drawn == ["infused", "safety", "not_evaluable", "evaluable"]
    assert t.loc["evaluable", "n"] == 0 and t.loc["not_evaluable", "n"] == 8


def test_flow_drawn_keeps_a_zero_main_box_and_drops_what_is_below_it():
    nodes = pd.DataFrame([("a", 5, "", "main"), ("x", 0, "a", "exclusion"), ("b", 5, "a", "main"),
                          ("y", 5, "b", "exclusion"), ("c", 0, "b", "main"), ("z", 0, "c", "exclusion"),
                          ("d", 0, "c", "main")], columns=["key", "n", "parent", "kind"])
    assert ch.flow_drawn(nodes).tolist() == [True, False, True, True, True, False, False]


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


def _block(bt, heading: str) -> dict[str, list[str]]:
    """The indented rows under the heading row that starts with ``heading``: label -> cells."""
    t, kinds = bt.table, bt.row_kinds
    starts = [i for i, (label, kind) in enumerate(zip(t["Characteristic"], kinds))
              if kind == "group" and label.startswith(heading)]
    assert len(starts) == 1, heading
    out, i = {}, starts[0] + 1
    assert all(v == "" for v in t.iloc[starts[0], 1:]), "a heading row has no values"
    while i < len(t) and kinds[i] == "indent":
        out[t.iloc[i, 0]] = list(t.iloc[i, 1:])
        i += 1
    return out


def test_baseline_table_tiny_layout_by_hand(tiny):
    """Every value below is worked out by hand from tests/cohorts.py PATIENTS (8 patients)."""
    bt = bl.baseline_table(tiny)
    assert bt.n == 8
    assert list(bt.table.columns) == ["Characteristic", "Overall (n = 8)", "T-ALL (n = 3)", "T-LBL (n = 2)",
                                      "MPAL (n = 1)", "AML (n = 1)", "PTCL (n = 1)"]
    assert bt.header == (("", 1), ("", 1), ("By diagnosis", 5))
    assert len(bt.row_kinds) == len(bt.table)
    headings = [label for label, kind in zip(bt.table["Characteristic"], bt.row_kinds) if kind == "group"]
    assert headings == ["Age, years", "Age group, n (%)", "Sex, n (%)", "Diagnosis, n (%)",
                        "Prior allo-HCT, n (%)\u1d43", "Bone-marrow involvement, n (%)",
                        "Marrow blasts, n (%)\u1d47", "Dose level, n (%)\u1d9c", "Dose, \u00d710\u2076 cells/kg"]
    # ages 8 10 17 25 30 40 45 60: median 27.5; quartiles (type 7) at positions 1.75 and 5.25:
    # 10 + 0.75 * 7 = 15.25 and 40 + 0.25 * 5 = 41.25, printed at one decimal (15.2, 41.2)
    age = _block(bt, "Age, years")
    assert age["Median (IQR)"] == ["27.5 (15.2\u201341.2)", "10 (9\u201320)", "21 (19\u201323)", "60 (60\u201360)",
                                   "40 (40\u201340)", "45 (45\u201345)"]
    assert age["Range"] == ["8\u201360", "8\u201330", "17\u201325", "60\u201360", "40\u201340", "45\u201345"]
    assert "Unknown" not in age  # nothing missing: no Unknown row
    assert _block(bt, "Age group")["<18 years"][0] == "3 (37.5)"
    sex = _block(bt, "Sex")
    assert sex["Male"] == ["5 (62.5)", "1 (33.3)", "2 (100.0)", "1 (100.0)", "0 (0.0)", "1 (100.0)"]
    # the diagnosis rows are in the Overall column only
    diag = _block(bt, "Diagnosis")
    assert diag["T-cell acute lymphoblastic leukemia (T-ALL)"] == ["3 (37.5)", "", "", "", "", ""]
    assert list(diag) == ["T-cell acute lymphoblastic leukemia (T-ALL)", "T-cell lymphoblastic lymphoma (T-LBL)",
                          "Mixed-phenotype acute leukemia (MPAL)", "Acute myeloid leukemia (AML)",
                          "Peripheral T-cell lymphoma (PTCL)"]
    assert _block(bt, "Prior allo-HCT") == {"No prior transplant": ["5 (62.5)", "2 (66.7)", "1 (50.0)", "1 (100.0)", "0 (0.0)", "1 (100.0)"],
                                            "1": ["2 (25.0)", "1 (33.3)", "0 (0.0)", "0 (0.0)", "1 (100.0)", "0 (0.0)"],
                                            "2": ["1 (12.5)", "0 (0.0)", "1 (50.0)", "0 (0.0)", "0 (0.0)", "0 (0.0)"]}
    # blasts among the 5 involved (0001 50%, 0002 10%, 0004 25%, 0005 5%, 0008 80%); MPAL and PTCL
    # have no involved patient: an en dash, not 0 (0.0)
    blasts = _block(bt, "Marrow blasts")
    assert blasts["\u226520%"] == ["3 (60.0)", "2 (66.7)", "1 (100.0)", "\u2013", "0 (0.0)", "\u2013"]
    assert _count(bt, "BLAST20", "\u226520%") == (3, 5)
    assert bt.empty_denominator
    dose = _block(bt, "Dose level")
    assert list(dose) == ["DL1 (0.5 \u00d7 10\u2076 cells/kg)", "DL2 (1.0 \u00d7 10\u2076 cells/kg)",
                          "DL3 (2.0 \u00d7 10\u2076 cells/kg)"]
    assert dose["DL2 (1.0 \u00d7 10\u2076 cells/kg)"][0] == "4 (50.0)"
    # doses 0.5 0.5 1 1 1 1 2 2 (x10^6): quartiles 0.5 + 0.75 * 0.5 = 0.875 and 1 + 0.25 * 1 = 1.25
    assert _block(bt, "Dose, ")["Median (IQR)"][0] == "1.00 (0.88\u20131.25)"
    assert bt.footnotes == {"PRIORHCT": "\u1d43", "BLAST20": "\u1d47", "DOSELVL": "\u1d9c"}
    assert bt.dose_levels == (("DL1", 5e5), ("DL2", 1e6), ("DL3", 2e6))
    assert "p-value" not in " ".join(map(str, bt.table.columns)).lower()


def test_baseline_table_one_diagnosis_has_no_spanning_header(tiny):
    adsl = tiny.adsl[tiny.adsl["DIAG"] == "T-ALL"].reset_index(drop=True)
    bt = bl.baseline_table(types.SimpleNamespace(**{**vars(tiny), "adsl": adsl}))
    assert bt.header is None and not bt.by_diagnosis
    assert list(bt.table.columns) == ["Characteristic", "Overall (n = 3)"]
    assert _block(bt, "Diagnosis") == {"T-cell acute lymphoblastic leukemia (T-ALL)": ["3 (100.0)"]}


def test_baseline_table_missing_values_are_unknown_rows(tiny):
    """A missing sex, age and blast count are counted on Unknown rows and left out of the percentages."""
    adsl = tiny.adsl.copy()
    adsl["SEX"] = adsl["SEX"].astype(object)
    adsl.loc[0, "SEX"] = None          # 0001, T-ALL, male
    adsl.loc[1, "AGE"] = None          # 0002, T-ALL, 30
    adsl.loc[7, "BMBLAST"] = None      # 0008, T-ALL, involved, 80%
    bt = bl.baseline_table(types.SimpleNamespace(**{**vars(tiny), "adsl": adsl}))
    sex = _block(bt, "Sex")
    assert sex["Male"][:2] == ["4 (57.1)", "0 (0.0)"]      # 4/7 known; T-ALL 0/2 known
    assert sex["Unknown"] == ["1", "1", "0", "0", "0", "0"]
    age = _block(bt, "Age, years")
    assert age["Unknown"][:2] == ["1", "1"] and age["Range"][1] == "8\u201310"
    blasts = _block(bt, "Marrow blasts")
    assert blasts["\u226520%"][:2] == ["2 (50.0)", "1 (50.0)"]  # 0001, 0004 of 4 known; 0001 of 2 in T-ALL
    assert blasts["Unknown"] == ["1", "1", "0", "0", "0", "0"]
    # not-involved patients are not "unknown" blasts: they are outside the row
    assert _count(bt, "BLAST20", "<20%", "T-LBL") == (0, 1)
    u = bt.unknown.set_index(["variable", "group"])["n"]
    assert (u["SEX", "Overall"], u["AGE", "T-ALL"], u["BLAST20", "Overall"], u["DOSELVL", "Overall"]) == (1, 1, 1, 0)


def test_baseline_table_absent_levels_keep_their_order(tiny):
    """No child: the "<18 years" row still comes first, with 0 (0.0)."""
    bt = bl.baseline_table(types.SimpleNamespace(**{**vars(tiny), "adsl": tiny.adsl.assign(AGE=40)}))
    assert _block(bt, "Age group") == {"<18 years": ["0 (0.0)"] + ["0 (0.0)"] * 5,
                                       "\u226518 years": ["8 (100.0)", "3 (100.0)", "2 (100.0)", "1 (100.0)",
                                                           "1 (100.0)", "1 (100.0)"]}


def test_baseline_table_leaves_out_what_was_not_collected(tiny):
    adsl = tiny.adsl.drop(columns=["AGE", "BMBLAST", "DOSEKG"])
    bt = bl.baseline_table(types.SimpleNamespace(**{**vars(tiny), "adsl": adsl}))
    assert bt.variables == ("SEX", "DIAG", "PRIORHCT", "BMINV", "DOSELVL")
    labels = " ".join(bt.table["Characteristic"])
    assert "Age" not in labels and "blasts" not in labels and "\u00d710\u2076 cells/kg" not in labels
    # the footnote letters follow the rows shown
    assert bt.footnotes == {"PRIORHCT": "\u1d43", "DOSELVL": "\u1d47"}


def test_baseline_table_shipped_matches_abstract(shipped):
    """Expected counts from the abstract's Results (ASH 2025, Zhang X, Lu P et al.)."""
    bt = bl.baseline_table(shipped)
    assert bt.n == 334
    assert bt.table.columns[1:].tolist() == ["Overall (n = 334)", "T-ALL (n = 159)", "T-LBL (n = 121)",
                                             "MPAL (n = 24)", "AML (n = 21)", "PTCL (n = 9)"]
    for diag, k in {"T-ALL": 159, "T-LBL": 121, "MPAL": 24, "AML": 21, "PTCL": 9}.items():
        assert _count(bt, "DIAG", diag) == (k, 334)
    assert _count(bt, "SEX", "Male") == (255, 334)
    assert _count(bt, "SEX", "Female") == (79, 334)
    # "Eighty-eight patients ... relapse after prior transplantation, including four ... second"
    n0, _ = _count(bt, "PRIORHCT", "0")
    n2, _ = _count(bt, "PRIORHCT", "2")
    assert (334 - n0, n2) == (88, 4)
    assert _count(bt, "BMINV", "Yes") == (265, 334)
    assert _count(bt, "BLAST20", "\u226520%") == (79, 265)
    assert len(bt.dose_levels) == 3  # "three different dose levels", each defined in cells/kg
    age = _block(bt, "Age, years")
    assert age["Range"][0] == "2\u201367" and age["Median (IQR)"][0].startswith("24 (")  # "24 (range, 2–67)"
    assert _block(bt, "Dose, ")["Median (IQR)"][0].startswith("1.00 (")               # "1×10⁶ cells/kg"
    assert _block(bt, "Diagnosis")["T-cell acute lymphoblastic leukemia (T-ALL)"][0] == "159 (47.6)"
    assert _block(bt, "Marrow blasts")["\u226520%"][0] == "79 (29.8)"
    # per-diagnosis columns add up to the overall column
    for var in ("SEX", "PRIORHCT", "DOSELVL"):
        c = bt.counts[bt.counts["variable"] == var]
        by = c[c["group"] != "Overall"].groupby("level")["n"].sum()
        ov = c[c["group"] == "Overall"].set_index("level")["n"]
        pd.testing.assert_series_equal(by.sort_index(), ov.sort_index(), check_names=False)


def test_baseline_quartiles_agree_with_r(shipped, tmp_path):
    """Median and quartiles of age and dose per column are R's quantile() (type 7, R's default)."""
    import shutil
    import subprocess

    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    adsl = shipped.adsl
    path = tmp_path / "x.csv"
    pd.DataFrame({"g": adsl["DIAG"].astype(str), "age": adsl["AGE"].astype(float),
                  "dose": adsl["DOSEKG"].astype(float) / 1e6}).to_csv(path, index=False)
    code = ('d <- read.csv(commandArgs(TRUE)[1]); for (v in c("age", "dose")) for (g in c("Overall", unique(d$g))) {'
            'x <- if (g == "Overall") d[[v]] else d[[v]][d$g == g]; q <- quantile(x, c(.25, .5, .75));'
            'cat(v, g, sprintf("%.10f", q), sprintf("%.10f", range(x)), "\\n")}')
    out = subprocess.run(["Rscript", "-e", code, str(path)], capture_output=True, text=True, check=True).stdout
    s = bl.baseline_table(shipped).summaries.set_index(["variable", "group"])
    for line in out.strip().splitlines():
        v, g, q1, med, q3, lo, hi = line.split()
        row = s.loc[({"age": "AGE", "dose": "DOSE6"}[v], g)]
        assert [row["q1"], row["median"], row["q3"], row["min"], row["max"]] == pytest.approx(
            [float(q1), float(med), float(q3), float(lo), float(hi)], abs=1e-9), (v, g)


def _awkward_cohort():
    """A simulated cohort with missing sex, marrow involvement, blasts and dose level, levels that
    sort differently as text and as numbers (DL10, 11 prior transplants), lower-case flags, and a
    diagnosis without any involved marrow (its blasts row has no denominator)."""
    import numpy as np

    from nscore.data.simulate import simulate_cohort

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


def test_baseline_counts_agree_with_an_independent_crosstab():
    """The counts, unknowns and printed cells of Table 1 equal pandas crosstabs of the raw ADSL,
    written here without any nscore code (an independent check of the counting)."""
    cohort = _awkward_cohort()
    adsl = cohort.adsl
    bt = bl.baseline_table(cohort)
    assert list(bt.counts[bt.counts["variable"] == "DOSELVL"]["level"].unique()) == ["DL1", "DL10", "DL2", "DL3"]
    assert list(bt.counts[bt.counts["variable"] == "PRIORHCT"]["level"].unique()) == ["0", "1", "2", "11"]
    involved = adsl["BMINV"].isin(["Y", "y"])
    blasts = pd.Series(pd.NA, index=adsl.index, dtype=object)
    blasts[involved & (adsl["BMBLAST"] >= 20)] = "\u226520%"
    blasts[involved & (adsl["BMBLAST"] < 20)] = "<20%"
    raw = {"SEX": adsl["SEX"].map({"M": "Male", "F": "Female"}),
           "BMINV": adsl["BMINV"].str.upper().map({"Y": "Yes", "N": "No"}),
           "DOSELVL": adsl["DOSELVL"], "PRIORHCT": adsl["PRIORHCT"].astype(int).astype(str),
           "BLAST20": blasts}
    applies = {"BLAST20": involved}
    for var, values in raw.items():
        mask = applies.get(var, pd.Series(True, index=adsl.index))
        table = pd.crosstab(values[mask], adsl.loc[mask, "DIAG"])
        table["Overall"] = table.sum(axis=1)
        missing = values[mask].isna().groupby(adsl.loc[mask, "DIAG"]).sum()
        missing["Overall"] = missing.sum()
        for group in table.columns:
            denominator = int(table[group].sum())
            for level, k in table[group].items():
                assert _count(bt, var, level, group) == (int(k), denominator), (var, level, group)
            u = bt.unknown
            got = u[(u["variable"] == var) & (u["group"] == group)]["n"]
            assert int(got.iloc[0]) == int(missing.get(group, 0)), (var, group)
    # every tidy count is the number printed in its cell
    for row in bt.counts.itertuples(index=False):
        if row.variable == "DIAG" and row.group != "Overall":
            continue
        block = _block(bt, bl._T1_LABELS[row.variable])
        col = list(bt.groups).index(row.group)
        cells = [cells[col] for label, cells in block.items() if label.split(" (")[0] == row.level
                 or (row.variable == "PRIORHCT" and row.level == "0" and label == "No prior transplant")]
        assert len(cells) == 1, (row.variable, row.level)
        assert cells[0] == (f"{row.n} ({row.percent:.1f})" if row.denominator else "\u2013"), (row, cells)
    # PTCL has no involved marrow: its blasts cells are en dashes
    assert _count(bt, "BLAST20", "\u226520%", "PTCL") == (0, 0)
