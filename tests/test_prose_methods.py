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


# ----------------------------------------------------------------- round 6: new analyses, time unit
ROLE = re.compile(r"\{ard\}`([^`<]*) <([^>]+)>`")


def _settings_keys(cohort) -> set[str]:
    from nscore.analyses import ard, settings

    rows = ard.frame(settings.settings_rows(cohort, landmark_day=100, grid_days=7, censor_bin_days=28))
    return {f"{r.analysis_id}|{r.group_var}={r.group_level}|{r.stat}" if r.group_var else f"{r.analysis_id}|=|{r.stat}"
            for r in rows.itertuples()}


def _untraced_digits(text: str) -> list[str]:
    """Digits outside the {ard} role, code and citations, and not a grade or CTCAE version."""
    plain = ROLE.sub("", text)
    plain = re.sub(r"`[^`]*`", "", plain)
    plain = re.sub(r"(?i)grades?\s+[0-9]", "", plain).replace("v5.0", "")
    return re.findall(r"(?<![A-Za-z0-9.])[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9])", plain)


@pytest.mark.parametrize("make", [tiny_cohort, bare, no_adverse_events, nobody_evaluable])
def test_new_analyses_trace_every_number_to_a_settings_row(make):
    c = make()
    keys = _settings_keys(c)
    texts = [methods.time_units(traced=True), methods.efficacy_analyses(c, landmark_day=100, traced=True),
             methods.safety_analyses(c, traced=True), methods.patient_flow(c)]
    for text in texts:
        assert {k for _, k in ROLE.findall(text)} <= keys, text
        assert _untraced_digits(text) == [], text
    # the traced text is the setting as printed untraced
    from nscore.report import trace
    assert trace.plain(methods.efficacy_analyses(c, landmark_day=100, traced=True)) == \
        methods.efficacy_analyses(c, landmark_day=100)


def test_time_units_is_the_tables_convention_with_its_days_per_month():
    from nscore.report import format as fmt, tables, trace

    text = methods.time_units(traced=True)
    assert trace.plain(text) == tables.time_convention() == methods.time_units()
    assert "months from infusion" in text and "30.44" in text and fmt.DAYS_PER_MONTH == 30.4375
    assert "{ard}`30.44 <methods.settings|parameter=days_per_month|time>`" in text


def test_efficacy_analyses_say_what_the_data_lack():
    full = methods.efficacy_analyses(tiny_cohort(), landmark_day=100)
    assert "Duration of response\n: " in full and "rates are read at 6 and 12 months" in full
    assert "from day 42 after infusion" in full and "measurable residual disease (MRD)" in full
    assert "from the day-100 landmark" in full and "Gray's test {cite:p}`gray1988`" in full
    assert "Efron" in full and "fewer than 5 patients" in full and "not reported" not in full
    text = methods.efficacy_analyses(bare(), landmark_day=100)
    assert "MRD was not collected" in text
    assert "Transplant dates were not collected in this cutoff's data" in text
    assert text.count("No patient of this cutoff is efficacy-evaluable") == 2


def test_safety_analyses_name_what_was_not_collected():
    full = methods.safety_analyses(tiny_cohort())
    assert "Adverse events by term\n: " in full and "read on days 0, 7, 14, 21, 28, 60 and 90" in full
    assert "read on days 100, 365 and 730 after infusion" in full
    none = methods.safety_analyses(no_adverse_events())
    assert "Adverse events were not collected in this cutoff's data." in none
    assert "Cytopenias over time" not in none and "Treatment of CRS" not in none
    assert "Non-relapse mortality and causes of death" in none  # needs only ADSL and ADTTE


def test_patient_flow_from_enrolment_only_with_adds():
    import pandas as pd

    c = tiny_cohort()
    assert "starts at infusion" in methods.patient_flow(c)
    c.adds = pd.DataFrame({"USUBJID": ["x"]})
    text = methods.patient_flow(c)
    assert text.startswith("The patient-flow diagram follows the CONSORT layout from enrolment")
    assert "not drawn as zero" in text
