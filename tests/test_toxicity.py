"""Safety beyond CRS/ICANS (nscore.analyses.toxicity), its prose and tables, the enrolment flow,
and the data-model rules of the new variables (ADAE categories, TOCIFL/STERFL, DTHCAUS, ADDS).

Fast: the shipped cohort (loaded once), the tiny hand-made cohort and small edits of a valid delivery.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pandas as pd
import pytest

from cohorts import shipped_cohort, tiny_cohort
from conftest import edit, failures_of, keys
from nscore.analyses import ard, safety, toxicity as sm
from nscore.analyses import cohort as ch
from nscore.errors import NotCollectedError
from nscore.report import safety_tables as st
from nscore.report.prose import safety as ps
from nscore.report.trace import plain, roles


@pytest.fixture(scope="module")
def shipped():
    return shipped_cohort()


def _only(cohort, categories):
    """The cohort as if its study had collected only ``categories``."""
    study = dataclasses.replace(cohort.study, adverse_events=tuple(categories))
    adae = cohort.adae[cohort.adae["AECAT"].isin(categories)].reset_index(drop=True)
    return types.SimpleNamespace(**{**{k: getattr(cohort, k) for k in ("adsl", "adrs", "adtte", "adds")},
                                    "adae": adae, "study": study})


# ------------------------------------------------------------------------------------ analyses
def test_term_table_counts_patients_once_per_term_and_category(shipped):
    tt = sm.term_table(shipped)
    t = tt.table
    assert tt.collected == ("CRS", "ICANS", "CYTOPENIA", "INFECTION", "IEC-HS", "GVHD")
    ae = shipped.adae
    for cat in tt.collected:
        row = tt.category(cat)
        assert row["n_any"] == ae.loc[ae["AECAT"] == cat, "USUBJID"].nunique()
        terms = t[(t["category"] == cat) & (t["term"] != "")]
        assert (terms["n_any"] <= row["n_any"]).all() and (terms["n_g3"] <= terms["n_any"]).all()
    # CRS agrees with the CRS/ICANS analysis (the abstract's 320 and 34)
    crs = safety.incidence(shipped, "CRS")
    assert (tt.category("CRS")["n_any"], tt.category("CRS")["n_g3"]) == (crs.any_grade.k, crs.grade_3_plus.k)
    ard.validate(ard.frame(tt.rows()))


def test_categories_not_collected_are_said_not_zero(shipped):
    c = _only(shipped, ["CRS", "ICANS"])
    assert sm.categories(c) == ("CRS", "ICANS")
    assert sm.not_collected(c) == ("CYTOPENIA", "INFECTION", "IEC-HS", "GVHD")
    with pytest.raises(NotCollectedError):
        sm.cytopenia_course(c)
    text = ps.other_events_paragraph(sm.term_table(c), sm.not_collected(c))
    assert "not collected" in text and "0%" not in text and "{ard}" not in text
    no_ae = types.SimpleNamespace(**{**vars(c), "adae": None})
    with pytest.raises(NotCollectedError):
        sm.term_table(no_ae)
    assert "were not collected" in ps.other_events_paragraph(None, sm.not_collected(no_ae))
    assert ps.cytopenia_paragraph(None) == "Cytopenias were not collected in this delivery."
    assert "not collected" in ps.treatment_paragraph(None)


def test_cytopenia_course_by_hand():
    """Two patients: one grade 4 neutropenia days 2-30 (ASTDY 3, ADURN 29), one grade 3 anaemia
    unresolved from day 5 in a patient who died on day 20."""
    adsl = pd.DataFrame({"USUBJID": ["A", "B"], "SAFFL": ["Y", "Y"],
                         "TRTSDT": pd.to_datetime(["2024-01-01", "2024-01-01"]),
                         "LSTALVDT": pd.to_datetime(["2024-06-01", "2024-01-15"]),
                         "DTHDT": pd.to_datetime([None, "2024-01-21"])})
    adae = pd.DataFrame({"USUBJID": ["A", "B"], "AECAT": ["CYTOPENIA"] * 2,
                         "AEDECOD": ["Neutrophil count decreased", "Anemia"], "AETOXGR": [4, 3],
                         "ASTDY": [3, 6], "ADURN": pd.array([29, pd.NA], dtype="Int64")})
    c = types.SimpleNamespace(adsl=adsl, adae=adae, study=None)
    c.study = types.SimpleNamespace(adverse_events=("CYTOPENIA",))
    t = sm.cytopenia_course(c, days=(0, 7, 28, 30, 31)).table.set_index(["term", "day"])
    assert (t.loc[("", 0), "n"], t.loc[("", 7), "n"]) == (0, 2)
    assert (t.loc[("", 28), "n"], t.loc[("", 28), "N"]) == (1, 1)  # B died on day 20: not followed
    assert t.loc[("Neutrophil count decreased", 30), "n"] == 1 and t.loc[("", 31), "n"] == 0


def test_treatments_and_their_absence(shipped):
    tx = sm.treatments(shipped).table.set_index(["drug", "among"])
    ae = shipped.adae
    toci = ae.loc[ae["TOCIFL"] == "Y", "USUBJID"].nunique()
    assert tx.loc[("tocilizumab", ""), "n"] == toci
    assert tx.loc[("tocilizumab", "CRS"), "N"] == 320
    without = types.SimpleNamespace(**{**vars(_only(shipped, ["CRS", "ICANS"])),
                                       "adae": shipped.adae.drop(columns=["TOCIFL", "STERFL"])})
    with pytest.raises(NotCollectedError):
        sm.treatments(without)


def test_deaths_split_by_relapse_and_causes(shipped):
    d = sm.deaths(shipped)
    assert d.n_deaths == int((shipped.adsl["DTHFL"] == "Y").sum())
    assert d.n_without_relapse + d.n_after_relapse == d.n_deaths
    pfs = shipped.adtte[(shipped.adtte["PARAMCD"] == "PFS") & (shipped.adtte["EVNTDESC"] == "DEATH")]
    assert d.n_without_relapse == len(pfs)
    causes = d.causes.set_index("cause")
    assert causes["n"].sum() == d.n_deaths
    assert causes.loc["RELAPSE OR PROGRESSION", "n"] == d.n_after_relapse
    assert causes.loc["RELAPSE OR PROGRESSION", "n_without_relapse"] == 0
    ard.validate(ard.frame(d.rows()))
    # DTHCAUS not delivered: deaths still counted, causes "not collected"
    c = types.SimpleNamespace(**{**vars(_only(shipped, ["CRS"])), "adsl": shipped.adsl.drop(columns="DTHCAUS")})
    d2 = sm.deaths(c)
    assert d2.causes is None and d2.n_deaths == d.n_deaths
    assert ps.causes_paragraph(d2) == "Causes of death were not collected in this delivery."


def test_nrm_matches_r_cmprsk(shipped):
    """R: library(cmprsk); p <- PFS rows of data/cutoffs/2025-08-01/adtte.csv;
    st <- ifelse(p$CNSR == 1, 0, ifelse(p$EVNTDESC == "DEATH", 1, 2));
    timepoints(cuminc(p$AVAL, st, cencode = 0), c(100, 365, 730))$est["1 1", ]
    -> 0.02733005 0.1259271 0.1331116."""
    n = sm.non_relapse_mortality(shipped)
    assert np.allclose(n.at["estimate"].to_numpy() / 100, [0.02733005, 0.1259271, 0.1331116], atol=5e-7)
    assert n.cif.events == sm.deaths(shipped).n_without_relapse
    ard.validate(ard.frame(n.rows()))


def test_tiny_cohort_without_new_variables():
    tiny = tiny_cohort()
    d = sm.deaths(tiny)
    assert d.causes is None  # no DTHCAUS in the tiny cohort
    assert "not collected" in ps.causes_paragraph(d) or d.n_deaths == 0
    text = ps.deaths_paragraph(d)
    assert text and "{ard}" in text or text == "No patient had died by the data cutoff."


def test_prose_and_tables_are_traced(shipped):
    tt, course, d = sm.term_table(shipped), sm.cytopenia_course(shipped), sm.deaths(shipped)
    nrm = sm.non_relapse_mortality(shipped)
    for text in (ps.other_events_paragraph(tt, ()), ps.cytopenia_paragraph(course),
                 ps.treatment_paragraph(sm.treatments(shipped)), ps.deaths_paragraph(d), ps.nrm_paragraph(nrm),
                 ps.causes_paragraph(d)):
        assert roles(text), text
        assert "nan" not in plain(text).lower()
    table = st.terms_display(tt, ps.OTHER_CATEGORIES)
    assert table.iloc[0, 0] == "Cytopenias" and all(hasattr(v, "key") for v in table.iloc[:, 1])
    assert list(st.cytopenia_display(course).columns)[1:] == [f"Day {d}" for d in sm.COURSE_DAYS]
    assert st.causes_display(d)["Cause of death"].iloc[0] == "Relapse or progression"


def test_nrm_prose_without_events():
    fake = types.SimpleNamespace(cif=types.SimpleNamespace(events=0), at=pd.DataFrame())
    assert "0 throughout" in ps.nrm_paragraph(fake)


# ------------------------------------------------------------------------------------ the flow
def test_flow_starts_at_enrolment_with_reasons(shipped):
    f = ch.patient_flow(shipped)
    t = f.table.set_index("key")
    assert list(f.table["key"][:7]) == ["enrolled", "not_apheresed", "apheresed", "not_manufactured",
                                        "manufactured", "not_infused", "infused"]
    assert t.loc["enrolled", "n"] == len(shipped.adds) == f.n_enrolled
    assert t.loc["enrolled", "n"] - t.loc["not_apheresed", "n"] == t.loc["apheresed", "n"]
    assert t.loc["manufactured", "n"] - t.loc["not_infused", "n"] == t.loc["infused", "n"] == 334
    assert f.reasons.groupby("key")["n"].sum().to_dict() == {
        k: t.loc[k, "n"] for k in ("not_apheresed", "not_manufactured", "not_infused") if t.loc[k, "n"]}
    bt = f.by_trial.pivot(index="key", columns="trial", values="n").sum(axis=1)
    assert bt["enrolled"] == t.loc["enrolled", "n"] and bt["infused"] == 334
    assert not t.loc["not_safety", "drawn"]  # no "(n = 0)" box
    ard.validate(ard.frame(f.rows()))


def test_flow_without_apheresis_and_manufacturing_flags(shipped):
    adds = shipped.adds.drop(columns=["APHFL", "MFGFL"])
    c = types.SimpleNamespace(**{**{k: getattr(shipped, k) for k in ("adsl", "adrs", "adae", "adtte", "study")},
                                 "adds": adds})
    keys_ = list(ch.patient_flow(c).table["key"][:3])
    assert keys_ == ["enrolled", "not_infused", "infused"]  # steps not recorded are left out, not 0


# ------------------------------------------------------------------------------------ the rules
def _first_row(frame, mask) -> int:
    return int(np.flatnonzero(mask.to_numpy())[0])


def test_rules_of_the_new_variables(valid_dir):
    def adsl(f):
        alive = _first_row(f, f["DTHFL"] == "N")
        f.at[alive, "DTHCAUS"] = "INFECTION"
        return alive + 1

    row_caus = edit(valid_dir, "adsl", adsl)

    def adae(f):
        other = _first_row(f, f["AECAT"] == "CYTOPENIA")
        f.at[other, "TOCIFL"] = "Y"
        return other + 1

    row_tx = edit(valid_dir, "adae", adae)

    def adds(f):
        out = _first_row(f, f["INFFL"] == "N")
        f.at[out, "DSREAS"] = ""
        return out + 1

    row_ds = edit(valid_dir, "adds", adds)
    got = keys(failures_of(valid_dir))
    assert ("adsl.csv", row_caus, "DTHCAUS", "dthcaus_only_if_dead") in got
    assert ("adae.csv", row_tx, "TOCIFL", "treatment_only_for_crs_icans") in got
    assert ("adds.csv", row_ds, "DSREAS", "dsreas_present_iff_not_infused") in got


def test_an_infused_patient_missing_from_adds_is_refused(valid_dir):
    def drop(f):
        first = _first_row(f, f["INFFL"] == "Y")
        usubjid = f.at[first, "USUBJID"]
        f.drop(index=first, inplace=True)
        return usubjid

    usubjid = edit(valid_dir, "adds", drop)
    failures = failures_of(valid_dir)
    assert set(failures["rule"]) == {"adsl_patient_in_adds"}
    assert failures["value"].tolist() == [usubjid]


def test_a_category_the_study_does_not_collect_is_refused(valid_dir):
    text = (valid_dir / "study.yml").read_text(encoding="utf-8")
    (valid_dir / "study.yml").write_text(text.replace("adverse_events: [CRS, ICANS, CYTOPENIA, INFECTION, IEC-HS, GVHD]",
                                                      "adverse_events: [CRS, ICANS]"), encoding="utf-8")
    rules = set(failures_of(valid_dir)["rule"])
    assert rules == {"isin"}


def test_flow_by_trial_table(shipped):
    from nscore.report import flow_tables as ft

    f = ch.patient_flow(shipped)
    assert ft.shows_by_trial(f)
    t = ft.flow_by_trial_display(f).set_index("Step")
    assert list(t.index[:4]) == ["Enrolled", "Apheresis", "Product manufactured", "Infused"]
    assert t.loc["Infused", "All trials"] == "334" and t.loc["Infused", "All trials"].key == "flow.infused"
    per_trial = t.drop(columns="All trials").loc["Enrolled"].astype(int).sum()
    assert per_trial == f.n_enrolled
    assert not ft.shows_by_trial(ch.patient_flow(tiny_cohort()))  # one trial: nothing to split
