"""nscore.report.prose.methods: the methods chapter's sentences on odd cohorts (one trial, one diagnosis,
leukemia only, lymphoma only, AML only, nothing optional collected, nobody evaluable or transplanted)."""

from __future__ import annotations

import re

import pytest

from cohorts import tiny_cohort
from nscore.report.prose import methods
from nscore.data.study import Diagnosis, Trial
from test_prose_front import no_adverse_events, nobody_evaluable, one_trial_one_diagnosis, variant

AML = Diagnosis("AML", "acute myeloid leukemia", "leukemia")
TALL = Diagnosis("T-ALL", "T-cell acute lymphoblastic leukemia", "leukemia")
PTCL = Diagnosis("PTCL", "peripheral T-cell lymphoma", "lymphoma")


def with_diagnoses(*diags):
    c = tiny_cohort()
    adsl = c.adsl[c.adsl["DIAG"].isin([d.code for d in diags])]
    return variant(c, adsl=adsl, study={"diagnoses": tuple(diags)})


def bare():
    """Nothing optional collected: no ADAE, no transplant, prior HCT, marrow, dose, MRD; an extra column."""
    c = nobody_evaluable()
    adsl = c.adsl.drop(columns=[v for v in ("SUBJID", "AGE", "SEX", "PRIORHCT", "BMINV", "BMBLAST", "DOSELVL",
                                            "DOSEKG", "HCTFL", "HCTDT") if v in c.adsl.columns])
    c = no_adverse_events(variant(c, adsl=adsl, adrs=c.adrs.drop(columns=["MRDSTAT"], errors="ignore")))
    c.notes = ("adsl.csv: not used: hgb, creat",)
    return c


def test_design_counts_trials_and_diagnoses():
    text = methods.design(tiny_cohort(), "2025-08-01")
    assert text.startswith("The analysis pools the patients of 5 trials (registrations NCT04572308, NCT05626400,")
    assert "{cite:p}`zhang2025ash`" in text and "T-ALL, T-LBL, MPAL, AML or PTCL (5 diagnoses" in text
    assert "who received NS7CAR-T" in text and text.endswith("data cutoff 2025-08-01.")
    one = methods.design(variant(one_trial_one_diagnosis(), study={"published": None}), "x")
    assert one.startswith("The analysis covers the patients of 1 trial (registration NCT04572308).")
    assert "(1 diagnosis in the study definition)" in one and "cite" not in one
    assert not re.search(r"\b1 (trials|diagnoses)\b", one)


def test_populations_count_what_applies():
    full = methods.populations(tiny_cohort())
    assert full.startswith("The analyses use 3 populations:")
    assert "Transplanted patients\n: " in full and "the denominator of the CRS and ICANS rates" in full
    text = methods.populations(bare())
    assert text.startswith("The analyses use 2 populations:")
    assert "Transplanted" not in text and "CRS" not in text
    assert "No patient of this cutoff is efficacy-evaluable, so no response rate is reported." in text


def test_endpoints_response_and_adverse_events():
    assert methods.response_endpoint(tiny_cohort()).startswith("The overall response rate (ORR) is")
    assert "not reported" in methods.response_endpoint(nobody_evaluable())
    assert methods.ae_endpoint(tiny_cohort()).startswith("Cytokine release syndrome (CRS) and immune effector")
    assert methods.ae_endpoint(no_adverse_events()) == "Adverse events were not collected in this cutoff's data."
    only_crs = variant(study={"adverse_events": ("CRS",)})
    assert methods.ae_endpoint(only_crs) == "Cytokine release syndrome (CRS) is counted once per patient at the maximum grade."


def test_criteria_list_only_the_families_present():
    full = methods.criteria(tiny_cohort())
    assert "**T-ALL and MPAL**" in full and "**AML**" in full and "**T-LBL and PTCL**" in full
    assert "Measurable residual disease" in full
    leuk = methods.criteria(with_diagnoses(TALL))
    assert "Lugano" not in leuk and "LeukemiaNet" not in leuk and "**T-ALL**" in leuk
    aml = methods.criteria(with_diagnoses(AML))
    assert "LeukemiaNet 2022" in aml and "{cite:p}`dohner2022eln`" in aml
    assert "fewer than 5% blasts" not in aml and "Lugano" not in aml
    lymph = methods.criteria(with_diagnoses(PTCL))
    assert "Lugano" in lymph and "blasts" not in lymph and "LeukemiaNet" not in lymph
    none = methods.criteria(bare())
    assert none.startswith("No response was assessed in this cutoff's data") and "Measurable residual" not in none


def test_ae_grading():
    assert methods.ae_grading(tiny_cohort()).startswith("This cutoff's data grade CRS and ICANS from 1 to 5")
    assert "ICANS" not in methods.ae_grading(variant(study={"adverse_events": ("CRS",)}))
    assert "not collected" in methods.ae_grading(no_adverse_events())


def test_constants_are_the_ones_the_analyses_use():
    from nscore.analyses import headline
    from nscore.report import tables

    assert methods.rate_years_text() == "1 and 2 years"
    assert methods.year_days_text() == "365.25"
    assert headline.YEAR_DAYS == tables.YEAR_DAYS == 365.25 and headline.RATE_YEARS == tables.RATE_YEARS


def test_applicability():
    assert methods.applicability(tiny_cohort()) == ""
    text = methods.applicability(bare())
    assert "no group comparison applies: the data hold a single diagnosis and prior transplants were not collected" \
        in methods.applicability(variant(bare(), adsl=bare().adsl[bare().adsl["DIAG"] == "T-ALL"]))
    assert "Transplants after infusion were not collected" in text
    c = tiny_cohort()
    nobody = variant(c, adsl=c.adsl.assign(HCTFL="N", HCTDT=None))
    assert methods.applicability(nobody) == ("No patient of this cutoff was transplanted after infusion, so the "
                                              "transplant analyses are not reported.")
    same_prior = variant(c, adsl=c.adsl[c.adsl["DIAG"] == "T-ALL"].assign(PRIORHCT=0))
    assert "every patient has the same number of prior transplants" in methods.applicability(same_prior)


def test_data_model():
    full = methods.data_model(tiny_cohort())
    assert full.startswith("{numref}`tbl-datasets` lists the 4 datasets of this cutoff (ADSL, ADRS, ADTTE and ADAE).")
    # the tiny cohort predates round 6's optional variables (prior lines, cause of death, CRS/ICANS
    # treatment...): only those are named, none it has
    assert "`PRLINES`" in full and "`DTHCAUS`" in full and "`TOCIFL`" in full
    assert "`HCTFL`" not in full and "`MRDSTAT`" not in full and "`PRIORHCT`" not in full
    text = methods.data_model(bare())
    assert "the 3 datasets of this cutoff (ADSL, ADRS and ADTTE). ADAE was not collected." in text
    assert "`HCTFL`" in text and "`MRDSTAT` (ADRS)" in text and "`SUBJID`" in text
    assert "Delivered but not used by any analysis: `hgb` and `creat` (adsl.csv)." in text
