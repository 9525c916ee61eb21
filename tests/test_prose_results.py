"""The Results chapter's data-dependent sentences (nscore.report.prose.results) on edge cases (issue 11).

Each function is checked on the data that made the old fixed text false: transplants not collected,
nobody transplanted, nobody evaluable, MRD not collected or never assessed, one diagnosis, one
prior-transplant level, no events at all, everyone dead, estimates beyond follow-up, no published
figures, a published cutoff that is not stored. Every text is also checked for what a page must
never print ("0 of 0", "n/a", "nan", "None", a plural after 1). The analyses the chapter relies on
for these cases (no log-rank without events, clear not-estimable errors of the transplant
analyses, the band rule of the KM plot) are tested here too.
"""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nscore.analyses import efficacy

from nscore.report import figures, format as fmt, tables, trace

from nscore.statistics import survival
from nscore.errors import AnalysisInputError
from nscore.report.prose import results as prose

BAD = re.compile(r"\b0 of 0\b|\b0/0\b|\bn/a\b|\bnan\b|\bNaN\b|\bNone\b(?! of\b)|"
                 r"(?<![0-9.])\b1 (?:patients|deaths|analyses|years|groups|figures|relapses)\b")


def clean(text: str) -> str:
    """``text`` as the reader sees it ({ard} roles reduced to their text, after checking each
    traced number is the one formatter's text), after checking it holds nothing a page must never print."""
    assert isinstance(text, str) and text.strip()
    text = trace.plain(text)
    assert not BAD.search(text), f"bad wording in: {text}"
    return text


# ------------------------------------------------------------------------------ synthetic cohorts
def make_cohort(aval, os_event, *, pfs_kind=None, hct_day=None, diag=None, prior=None,
                hct_collected=True):
    """ADSL/ADTTE frames of len(aval) patients. ``pfs_kind``: per patient "C", "R" or "D" (default:
    OS); ``hct_day``: days from infusion to transplant (None: not transplanted)."""
    n = len(aval)
    ids = [f"NCT04572308-{i:04d}" for i in range(n)]
    start = pd.Timestamp("2022-01-03")
    kinds = pfs_kind or ["D" if e else "C" for e in os_event]
    desc = {"C": "", "R": survival.RELAPSE, "D": survival.DEATH}
    pfs = pd.DataFrame({"USUBJID": ids, "PARAMCD": "PFS", "AVAL": aval,
                        "CNSR": [int(k == "C") for k in kinds], "EVNTDESC": [desc[k] for k in kinds]})
    os_ = pd.DataFrame({"USUBJID": ids, "PARAMCD": "OS", "AVAL": aval,
                        "CNSR": [0 if e else 1 for e in os_event],
                        "EVNTDESC": [survival.DEATH if e else "" for e in os_event]})
    adsl = pd.DataFrame({"USUBJID": ids, "TRTSDT": start, "DIAG": diag or ["T-ALL"] * n})
    if prior is not None:
        adsl["PRIORHCT"] = prior
    if hct_collected:
        days = hct_day or [None] * n
        adsl["HCTFL"] = ["N" if d is None else "Y" for d in days]
        adsl["HCTDT"] = [pd.NaT if d is None else start + pd.Timedelta(days=d) for d in days]
    return SimpleNamespace(adsl=adsl, adtte=pd.concat([pfs, os_], ignore_index=True))


def flow(**kw):
    base = dict(n_infused=10, n_safety=10, n_evaluable=9, n_not_evaluable=1, n_responders=8,
                n_cr_cri=7, n_hct_after_cr=5, n_hct_total=6, n_hct_not_after_cr=0,
                n_hct_timing_unknown=0)
    base.update(kw)
    return SimpleNamespace(**base)


# ---------------------------------------------------------------------------------- patient flow
def test_flow_with_transplants_counts_every_step():
    text = clean(prose.flow_paragraph(flow(), "NS7CAR-T"))
    assert text.startswith("10 patients received NS7CAR-T.")
    assert "holds all 10" in text and "9 were evaluable for response and 1 was not" in text
    assert "Of the 7 patients in CR or CRi, 5 went on to a consolidative" in text
    assert "6 infused patients were transplanted during follow-up" in text
    assert text.endswith("({numref}`fig-flow`).")
    assert "on or before" not in text and "unknown" not in text


def test_flow_explains_transplants_before_the_remission_and_unknown_order():
    text = clean(prose.flow_paragraph(flow(n_hct_not_after_cr=1, n_hct_timing_unknown=2), "X"))
    assert "1 was transplanted on or before the date of the remission, which is not counted" in text
    assert "for 2 transplanted patients the order of transplant and remission is unknown" in text
    text = clean(prose.flow_paragraph(flow(n_hct_not_after_cr=3, n_hct_timing_unknown=1), "X"))
    assert "3 were transplanted on or before" in text and "for 1 transplanted patient the order" in text


def test_flow_when_transplants_not_collected_or_none():
    text = clean(prose.flow_paragraph(flow(n_hct_after_cr=None, n_hct_total=None, n_hct_not_after_cr=None,
                                           n_hct_timing_unknown=None), "X"))
    assert "Transplants were not collected, so the flow ends at CR or CRi" in text
    assert "consolidative" not in text and not re.search(r"\b0\b", text)
    text = clean(prose.flow_paragraph(flow(n_hct_after_cr=0, n_hct_total=0), "X"))
    assert "No patient was transplanted during follow-up" in text and "consolidative" not in text


def test_flow_when_nobody_is_evaluable_and_hct_not_collected():
    f = flow(n_infused=1384, n_safety=1384, n_evaluable=0, n_not_evaluable=1384, n_responders=0,
             n_cr_cri=0, n_hct_after_cr=None, n_hct_total=None)
    text = clean(prose.flow_paragraph(f, "no treatment"))
    assert "No patient was evaluable for response." in text
    assert "responded" not in text and "Transplants were not collected ({numref}`fig-flow`)." in text
    assert "flow ends at CR" not in text


def test_flow_singular_and_partial_safety():
    f = flow(n_infused=1, n_safety=1, n_evaluable=1, n_not_evaluable=0, n_responders=1, n_cr_cri=1,
             n_hct_after_cr=1, n_hct_total=1)
    text = clean(prose.flow_paragraph(f, "X"))
    assert text.startswith("1 patient received X.") and "holds that patient" in text
    assert "That patient was evaluable" in text and "1 responded, with CR or CRi" in text
    assert "1 infused patient was transplanted" in text and "Of the patient in CR or CRi, 1 went" in text
    text = clean(prose.flow_paragraph(flow(n_safety=8, n_evaluable=8, n_not_evaluable=0), "X"))
    assert "holds 8 of them" in text and "All 8 were evaluable" in text


def test_flow_responses_none_or_all_complete():
    assert "None of the evaluable patients responded." in prose.flow_paragraph(
        flow(n_responders=0, n_cr_cri=0, n_hct_after_cr=0, n_hct_total=2), "X")
    assert "8 responded, all with CR or CRi" in clean(prose.flow_paragraph(flow(n_cr_cri=8), "X"))
    assert "8 responded, none with CR or CRi" in trace.plain(prose.flow_paragraph(
        flow(n_cr_cri=0, n_hct_after_cr=0), "X"))


def test_flow_caption_and_alt_text_follow_what_is_drawn():
    assert prose.flow_caption(flow()).startswith(
        "Patient flow from infusion to consolidative transplantation, drawn from the data. ")
    assert "enrolment, apheresis and manufacturing are not recorded" in prose.flow_caption(flow())
    assert "transplants were not collected" in prose.flow_caption(flow(n_hct_total=None))
    assert "transplanted" in prose.flow_alt_text(flow())
    assert "transplanted" not in prose.flow_alt_text(flow(n_hct_total=None))


# ------------------------------------------------------------------------------------- baseline
def test_flow_caption_and_alt_text_leave_out_boxes_not_drawn():
    """A flow whose evaluable box is empty ends there: caption and alt text name no later step."""
    from nscore.analyses.cohort import flow_drawn

    table = pd.DataFrame([("infused", 5, "", "main"), ("not_safety", 0, "infused", "exclusion"),
                          ("safety", 5, "infused", "main"), ("not_evaluable", 5, "safety", "exclusion"),
                          ("evaluable", 0, "safety", "main"), ("non_responders", 0, "evaluable", "exclusion"),
                          ("responders", 0, "evaluable", "main"), ("cr_cri", 0, "responders", "main")],
                         columns=["key", "n", "parent", "kind"])
    table["drawn"] = flow_drawn(table)
    f = flow(table=table, n_evaluable=0, n_responders=0, n_cr_cri=0, n_hct_total=None)
    assert prose.flow_caption(f).startswith("Patient flow from infusion to response evaluation, drawn")
    alt = prose.flow_alt_text(f)
    assert "efficacy-evaluable patients" in alt and "responders" not in alt and "CR" not in alt


def baseline(variables, groups=("Overall", "T-ALL", "AML"), unknown=0, empty=False, doses=()):
    from nscore.analyses.baseline import _SUPERSCRIPT, _T1_FOOTNOTES

    letters = {v: _SUPERSCRIPT[i] for i, v in enumerate(x for x in _T1_FOOTNOTES if x in variables)}
    return SimpleNamespace(by_diagnosis=len(groups) > 1, variables=tuple(variables), footnotes=letters,
                           unknown=pd.DataFrame({"variable": ["SEX"], "group": ["Overall"], "n": [unknown]}),
                           empty_denominator=empty, dose_levels=tuple(doses))


def test_baseline_by_diagnosis_or_single_column():
    variables = ["AGE", "SEX", "BLAST20", "PRIORHCT"]
    many = baseline(variables)
    one = baseline(variables, groups=("Overall",))
    assert "overall and by diagnosis" in prose.baseline_sentence(many)
    assert "No p-values" in prose.baseline_sentence(many)
    text = clean(prose.baseline_sentence(one))
    assert "by diagnosis" not in text.split(".")[0] and "no column by diagnosis" in text
    # the number comes from Sphinx: no "(Table 1)" typed into the caption
    assert prose.baseline_caption(one) == "Baseline characteristics of infused patients."
    assert prose.baseline_caption(many) == "Baseline characteristics of infused patients, overall and by diagnosis."
    notes = prose.baseline_notes(many)
    assert notes.startswith("Age: median (interquartile range, 25th\u201375th percentile) on one line and "
                            "range (minimum\u2013maximum) on the next. Categorical characteristics: n (%)")
    assert "\n\n\u1d43 Number of allogeneic transplants before infusion." in notes
    assert "\n\n\u1d47 Bone-marrow blasts among patients with marrow involvement" in notes
    assert "diagnosis rows are filled in the overall column only" in notes
    assert "overall column only" not in prose.baseline_notes(one)
    assert "Unknown" not in notes and "Unknown: the value is missing" in prose.baseline_notes(
        baseline(variables, unknown=3))


def test_baseline_notes_only_name_collected_rows():
    notes = prose.baseline_notes(baseline(["SEX", "DIAG"], groups=("Overall",)))
    assert "median" not in notes.lower() and "blasts" not in notes.lower() and "allogeneic" not in notes
    assert "IQR" not in notes and "\u2013: no patient" not in notes
    both = prose.baseline_notes(baseline(["AGE", "DOSE6"], groups=("Overall",)))
    assert both.startswith("Age and dose: median (interquartile range")
    assert "Categorical" not in both
    assert "\u2013: no patient of the column" in prose.baseline_notes(baseline(["BLAST20"], empty=True))


def test_baseline_notes_define_the_dose_levels():
    notes = prose.baseline_notes(baseline(["DOSELVL"], doses=[("DL1", 5e5), ("DL2", 1e6), ("DL3", 2e6)]))
    assert ("\u1d43 Dose level of the infusion, as the study defines the levels: DL1, 0.5 \u00d7 10\u2076 "
            "cells/kg; DL2, 1.0 \u00d7 10\u2076 cells/kg; DL3, 2.0 \u00d7 10\u2076 cells/kg.") in notes
    assert "does not define" in prose.baseline_notes(baseline(["DOSELVL"]))
    assert notes.endswith("Abbreviations: DL, dose level.")


# ------------------------------------------------------------------------------------- response
def mrd(k, n, n_cr, n_unknown):
    out = SimpleNamespace(proportion=efficacy.proportion(k, n) if n else None, n_cr_cri=n_cr,
                          n_unknown=n_unknown)
    out.rows = lambda: efficacy.MRDNegativity.rows(out)  # the ARD rows the sentence cites
    return out


def test_mrd_sentence_never_calls_not_assessed_negative():
    assert prose.mrd_sentence(mrd(0, 0, 5, 5), collected=False) == "MRD status was not collected."
    assert clean(prose.mrd_sentence(mrd(0, 0, 0, 0), True)) == \
        "No patient reached CR or CRi, so MRD negativity is not reported."
    text = clean(prose.mrd_sentence(mrd(0, 0, 7, 7), True))
    assert text == "No MRD assessment was recorded for the 7 patients in CR or CRi, so MRD negativity is not reported."
    assert "for the patient in CR" in prose.mrd_sentence(mrd(0, 0, 1, 1), True)
    text = clean(prose.mrd_sentence(mrd(9, 10, 12, 2), True))
    assert text.startswith("Among patients in CR or CRi with a known MRD status, 90.0% (9/10; 95% CI")
    assert text.endswith("; 2 had no MRD assessment recorded.")
    assert "no MRD assessment" not in prose.mrd_sentence(mrd(9, 10, 10, 0), True)


def test_response_not_assessed_is_one_line():
    text = clean(prose.response_not_assessed(flow(n_safety=1384, n_evaluable=0)))
    assert text.startswith("No patient was evaluable for response") and "all 1384 patients" in text
    assert "{numref}" not in text


def subgroup_response(levels):
    rows = [{"subgroup": "Overall", "variable": "overall", "level": "All evaluable", "endpoint": e,
             "n": 10, "k": 8, "estimate": .8, "lower": .4, "upper": .9} for e in ("ORR", "CR/CRi")]
    names = {"diagnosis": "Diagnosis", "age_group": "Age, years", "prior_hct_any": "Prior allo-HCT"}
    for var, lv in levels.items():
        for level in lv:
            rows += [{"subgroup": names[var], "variable": var, "level": level, "endpoint": e, "n": 5, "k": 4,
                      "estimate": .8, "lower": .3, "upper": .99} for e in ("ORR", "CR/CRi")]
    return efficacy.SubgroupResponse(table=pd.DataFrame(rows))


def test_forest_leaves_out_single_level_subgroups():
    res = subgroup_response({"diagnosis": ["AML"], "age_group": ["<18", ">=18"],
                             "prior_hct_any": ["No", "Yes"]})
    rows = res.comparable()
    assert "diagnosis" not in set(rows["variable"]) and "overall" in set(rows["variable"])
    assert prose.subgroup_names(rows) == ["age group", "prior transplant"]
    assert prose.forest_alt_text(["age group", "prior transplant"]).endswith(
        "overall and by age group and prior transplant.")
    only = subgroup_response({"diagnosis": ["AML"]}).comparable()
    assert set(only["variable"]) == {"overall"} and prose.subgroup_names(only) == []


def test_response_paragraph_with_and_without_subgroups():
    rates = SimpleNamespace(orr=efficacy.proportion(8, 10), cr_cri=efficacy.proportion(7, 10))
    rates.rows = lambda: (rates.orr.rows("efficacy.orr") + rates.cr_cri.rows("efficacy.cr_cri"))
    text = clean(prose.response_paragraph(rates, mrd(5, 6, 7, 1), True, ["diagnosis", "age group"]))
    assert "80.0% (8/10; 95% CI 44.4\u201397.5)" in text and "70.0% (7/10; 95% CI" in text
    assert "Response by diagnosis and age group is shown in {numref}`fig-forest`" in text
    text = clean(prose.response_paragraph(rates, mrd(0, 0, 7, 7), False, []))
    assert "fig-forest" not in text and "MRD status was not collected." in text
    assert "No subgroup variable has more than one level" in text


# ------------------------------------------------------------------------------------- survival
def test_survival_paragraph_without_events_says_no_deaths():
    c = make_cohort([100, 200, 400, 800, 900], [0] * 5)
    km_os, km_pfs = survival.kaplan_meier(c.adtte, "OS"), survival.kaplan_meier(c.adtte, "PFS")
    fu = survival.median_follow_up(c.adtte, "OS")
    text = clean(prose.survival_paragraph(km_os, km_pfs, fu, (1, 2)))
    assert "No deaths were observed, so overall survival stays at 100% and its median is not reached" in text
    assert "no relapse, progression or death was observed" in text
    assert "With 0" not in text and "The estimates at 1 year and 2 years are in {numref}`tbl-survival`." in text


def test_survival_paragraph_with_events_and_estimates_beyond_follow_up():
    c = make_cohort([100, 200, 300, 500, 600], [1, 0, 1, 0, 0])
    km_os, km_pfs = survival.kaplan_meier(c.adtte, "OS"), survival.kaplan_meier(c.adtte, "PFS")
    fu = survival.median_follow_up(c.adtte, "OS")
    text = clean(prose.survival_paragraph(km_os, km_pfs, fu, (1, 2)))
    assert "With 2 deaths observed" in text and "with 2 relapses, progressions or deaths" in text
    assert "At 1 year after infusion, overall survival was estimated at 53.3%" in text
    assert "at 2 years follow-up is too short for an estimate" in text
    one = make_cohort([100, 500], [1, 0])
    text = prose.survival_paragraph(survival.kaplan_meier(one.adtte, "OS"), survival.kaplan_meier(one.adtte, "PFS"),
                                    survival.median_follow_up(one.adtte, "OS"), (1,))
    assert "With 1 death observed" in clean(text) and "with 1 relapse, progression or death" in clean(text)


def test_estimates_at_reads_the_km_curve():
    c = make_cohort([100, 200, 300, 500, 600], [1, 0, 1, 0, 0])
    km = survival.kaplan_meier(c.adtte, "OS")
    at = km.survival_at([tables.YEAR_DAYS])
    assert prose.estimates_at(km, (1, 2)) == [
        fmt.rate(100 * at["survival"][0], 100 * at["lower"][0], 100 * at["upper"][0]), prose.BEYOND_FOLLOW_UP]


def test_follow_up_not_estimable_when_everyone_died():
    c = make_cohort([100, 200, 300], [1, 1, 1])
    km = survival.kaplan_meier(c.adtte, "OS")
    text = clean(prose.survival_paragraph(km, survival.kaplan_meier(c.adtte, "PFS"),
                                          survival.median_follow_up(c.adtte, "OS"), (1,)))
    assert text.startswith("Every patient died before the cutoff, so the median follow-up")


def test_km_summary_notes_follow_the_years():
    assert "1 year and 2 years are 365.25 and 730.5 days after infusion" in prose.km_summary_notes((1, 2))
    assert "3 years is 1095.75 days after infusion" in prose.km_summary_notes((3,))
    assert survival.REPORT_YEARS == (1, 2)


def test_observed_times_called_the_abstracts_only_when_published():
    fig = SimpleNamespace(statistic="observed_time", kwargs={"paramcd": "OS"}, key="os")
    other = SimpleNamespace(statistic="orr", kwargs={}, key="orr")
    pub = SimpleNamespace(figures=(fig, other))
    text = clean(prose.observed_times_paragraph("690.5 (range, 45–1879)", "635 (range, 45–1879)", pub))
    assert text.startswith('The abstract\'s "median OS" is a different quantity: the median of')
    assert "690.5 (range, 45–1879) days for OS" in text
    both = SimpleNamespace(figures=(fig, SimpleNamespace(statistic="observed_time", kwargs={"paramcd": "PFS"})))
    assert prose.observed_times_paragraph("1", "2", both).startswith(
        'The abstract\'s "median PFS" and "median OS" are a different quantity')
    for published in (None, SimpleNamespace(figures=(other,))):
        text = prose.observed_times_paragraph("1", "2", published)
        assert "abstract" not in text and text.startswith("A median of the observed times")


def test_pfs_caption_note():
    assert prose.pfs_transplant_note(flow(n_hct_total=None)) == "Transplants were not collected."
    assert "No patient was transplanted" in prose.pfs_transplant_note(flow(n_hct_total=0))
    assert "do not censor" in prose.pfs_transplant_note(flow())


# -------------------------------------------------------------------------- KM figures and captions
def test_band_rule_is_the_plots(monkeypatch):
    c = make_cohort([100, 200, 300, 400], [1, 0, 1, 0], diag=["T-ALL", "T-ALL", "AML", "AML"])
    one = survival.kaplan_meier(c.adtte, "OS")
    two = survival.kaplan_meier_by(c.adtte, c.adsl, "OS", "DIAG")
    single = survival.kaplan_meier_by(c.adtte, c.adsl.assign(DIAG="AML"), "OS", "DIAG")
    assert figures.draws_band(one) and figures.draws_band(single) and not figures.draws_band(two)
    assert figures.draws_band(two, band=True) and not figures.draws_band(one, band=False)

    def has_area(chart):
        return "'area'" in str(chart.to_dict()) or '"area"' in str(chart.to_dict())

    assert has_area(figures.km_plot(one, title="t", alt_text="a"))
    assert not has_area(figures.km_plot(two, title="t", alt_text="a"))
    assert has_area(figures.km_plot(single, title="t", alt_text="a"))
    caption = prose.by_group_caption("Overall survival by diagnosis", two, "tbl-os-diagnosis")
    assert "Confidence bands are left out" in caption and "{numref}`tbl-os-diagnosis`" in caption
    caption = prose.by_group_caption("Overall survival by diagnosis", single, "tbl-os-diagnosis")
    assert "with the 95% confidence band" in caption and "left out" not in caption


def test_km_alt_text_reads_the_figure_constants(monkeypatch):
    c = make_cohort([100, 200, 300, 400], [1, 0, 1, 0], diag=["T-ALL", "T-ALL", "AML", "AML"])
    one = survival.kaplan_meier(c.adtte, "OS")
    two = survival.kaplan_meier_by(c.adtte, c.adsl, "OS", "DIAG")
    text = prose.km_alt_text("overall survival", one)
    assert text == ("Kaplan-Meier curve of overall survival after infusion, with a shaded 95% confidence "
                    f"band, a tick for each {figures.CENSOR_BIN_DAYS}-day interval in which patients were "
                    f"censored and the numbers at risk every {figures.RISK_EVERY_MONTHS} months below.")
    assert "band" not in prose.km_alt_text("overall survival", two, groups="for each diagnosis")
    monkeypatch.setattr(figures, "RISK_EVERY_MONTHS", 1)
    assert "every month below" in prose.km_alt_text("overall survival", one)


def test_risk_table_columns_every_risk_every_months(monkeypatch):
    c = make_cohort([30, 400], [1, 0])
    km = survival.kaplan_meier(c.adtte, "OS")
    risk = [d for d in figures.km_plot(km, title="t", alt_text="a").to_dict()["datasets"].values()
            if d and "at_risk" in d[0]][0]
    assert [r["month"] for r in risk] == [0.0, 6.0, 12.0]
    monkeypatch.setattr(figures, "RISK_EVERY_MONTHS", 4)
    risk = [d for d in figures.km_plot(km, title="t", alt_text="a").to_dict()["datasets"].values()
            if d and "at_risk" in d[0]][0]
    assert [r["month"] for r in risk] == [0.0, 4.0, 8.0, 12.0]


# ---------------------------------------------------------------------------- survival by groups
def test_logrank_is_not_tested_without_events_or_groups():
    c = make_cohort([100, 200, 300, 400], [0, 0, 0, 0], diag=["T-ALL", "T-ALL", "AML", "AML"])
    by = survival.kaplan_meier_by(c.adtte, c.adsl, "OS", "DIAG")
    assert by.logrank is None  # R survdiff: p = NA when there is no event
    assert prose.logrank_phrase(by) == "log-rank not tested: no deaths"
    single = survival.kaplan_meier_by(c.adtte, c.adsl.assign(DIAG="AML"), "OS", "DIAG")
    assert prose.logrank_phrase(single) == "log-rank not tested: fewer than two groups"
    c = make_cohort([100, 200, 300, 400], [1, 0, 1, 0], diag=["T-ALL", "T-ALL", "AML", "AML"])
    by = survival.kaplan_meier_by(c.adtte, c.adsl, "OS", "DIAG")
    assert prose.logrank_phrase(by) == fmt.logrank(by.logrank)


def test_prior_hct_labels():
    assert prose.prior_hct_labels(["0", "1", "2", "3"]) == {
        "0": "No prior allo-HCT", "1": "1 prior allo-HCT", "2": "2 prior allo-HCTs", "3": "3 prior allo-HCTs"}


def test_by_group_paragraph_edge_cases():
    c = make_cohort([100, 200, 300, 400], [1, 0, 1, 0], diag=["T-ALL", "T-ALL", "AML", "AML"],
                    prior=[0, 1, 0, 1])
    two = survival.kaplan_meier_by(c.adtte, c.adsl, "OS", "DIAG")
    prior = survival.kaplan_meier_by(c.adtte, c.adsl, "OS", "PRIORHCT")
    text = clean(prose.by_group_paragraph(two, prior))
    assert "{numref}`fig-km-diagnosis`" in text and "{numref}`fig-km-prior-hct`" in text
    assert "these comparisons are descriptive" in text and "smaller groups" in text
    single = survival.kaplan_meier_by(c.adtte, c.adsl.assign(DIAG="AML"), "OS", "DIAG")
    text = clean(prose.by_group_paragraph(single, None, prior_hct_collected=False,
                                          diagnosis_names={"AML": "acute myeloid leukemia"}))
    assert text == ("All patients had the same diagnosis (acute myeloid leukemia), so overall survival is "
                    "not compared by diagnosis. The number of transplants before infusion was not "
                    "collected, so overall survival is not shown by it.")
    one_prior = survival.kaplan_meier_by(c.adtte, c.adsl.assign(PRIORHCT=0), "OS", "PRIORHCT")
    text = clean(prose.by_group_paragraph(two, one_prior))
    assert "(no prior allo-HCT), so overall survival is not compared by it" in text
    assert "this comparison is descriptive" in text and "fig-km-prior-hct" not in text


# ---------------------------------------------------------------------------------- transplants
def test_transplant_section_when_not_collected_or_nobody_transplanted():
    c = make_cohort([100, 200], [1, 0], hct_collected=False)
    t = prose.transplant_analyses(c, flow(n_hct_total=None))
    assert t.status == "not collected" and t.n_shown == 0
    assert clean(prose.transplant_paragraphs(t)) == (
        "Transplants were not collected in these data, so survival is not analysed by transplant status.")
    t = prose.transplant_analyses(make_cohort([100, 200], [1, 0]), flow(n_hct_total=0))
    assert clean(prose.transplant_paragraphs(t)).startswith("No patient was transplanted during follow-up")


def test_transplant_analyses_say_clearly_when_not_collected_or_none():
    c = make_cohort([100, 200], [1, 0], hct_collected=False)
    for f in (survival.landmark, survival.transplant_time_dependent_cox, survival.simon_makuch):
        with pytest.raises(AnalysisInputError, match="HCTDT.*not collected"):
            f(c.adtte, c.adsl, "OS")
    c = make_cohort([100, 200, 300], [1, 0, 1])
    with pytest.raises(AnalysisInputError, match="not estimable: no patient was transplanted"):
        survival.transplant_time_dependent_cox(c.adtte, c.adsl, "OS")
    assert isinstance(survival.SurvivalInputError("x"), ValueError)


def test_transplant_all_analyses_shown():
    aval = [50, 150, 200, 260, 300, 350, 400, 500, 600, 700]
    event = [1, 0, 1, 1, 0, 1, 0, 1, 0, 1]
    hct = [None, 30, None, 60, 80, None, 120, 40, None, None]
    c = make_cohort(aval, event, hct_day=hct)
    t = prose.transplant_analyses(c, flow(n_hct_total=5), landmark_day=100)
    assert t.status == "analysed" and t.n_shown == 3 and t.reasons == {}
    text = clean(prose.transplant_paragraphs(t))
    assert "The 3 analyses below avoid this bias." in text
    assert "In the **landmark analysis**, 9 patients still alive and in follow-up on day 100" in text
    assert "(1 patient had died or been censored earlier;" in text
    assert f"fitted to all 10 patients and 6 deaths, the hazard ratio of death after transplant compared with before it was {fmt.hazard_ratio(t.cox.hr, t.cox.lower, t.cox.upper)}" in text
    assert "{numref}`fig-simon-makuch`" in text and "confounding by indication" in text


def test_transplant_without_events_nobody_at_landmark_and_deaths_before_transplant():
    aval, hct = [150, 200, 260, 300], [30, None, 60, None]
    c = make_cohort(aval, [0, 0, 0, 0], hct_day=hct)
    t = prose.transplant_analyses(c, flow(n_hct_total=2), landmark_day=100)
    assert t.cox is None and t.reasons == {"cox": "there were no events"}
    text = clean(prose.transplant_paragraphs(t))
    assert "The 2 analyses below avoid this bias." in text
    assert "The Cox model with transplant as a time-dependent covariate is not estimable, because there were no events." in text
    assert "log-rank not tested: no deaths" in text
    # landmark after everyone's follow-up: nobody at risk
    t = prose.transplant_analyses(c, flow(n_hct_total=2), landmark_day=1000)
    assert t.landmark is None and "nobody was alive and in follow-up on day 1000" in t.reasons["landmark"]
    assert "fig-landmark" not in prose.transplant_paragraphs(t)
    # every death before any transplant: the hazard ratio would be zero
    c = make_cohort([20, 30, 200, 300], [1, 1, 0, 0], hct_day=[None, None, 60, 100])
    t = prose.transplant_analyses(c, flow(n_hct_total=2), landmark_day=10)
    assert t.cox is None and "every event came before transplant" in t.reasons["cox"]
    assert t.landmark is None and "none of the patients still in follow-up on day 10" in t.reasons["landmark"]
    text = clean(prose.transplant_paragraphs(t))
    assert "The analysis below avoids this bias." in text


def test_transplant_section_when_nothing_is_estimable():
    t = prose.TransplantAnalyses("analysed", 100.0, reasons={"cox": "there were no events"})
    text = clean(prose.transplant_paragraphs(t))
    assert "None of the analyses that avoid this bias can be estimated from these data." in text
    assert "confounding" not in text and "{numref}" not in text


# -------------------------------------------------------------------------------------- relapse
def relapse_of(kinds, aval=None):
    aval = aval or [100 * (i + 1) for i in range(len(kinds))]
    c = make_cohort(aval, [k == "D" for k in kinds], pfs_kind=kinds)
    return survival.cumulative_incidence(c.adtte, "PFS")


def test_relapse_without_any_event_is_one_line():
    cif = relapse_of(["C", "C", "C"])
    assert not prose.relapse_shown(cif)
    assert clean(prose.relapse_paragraph(cif, (1, 2))) == (
        "No relapse, progression or death was recorded, so there is no cumulative incidence of relapse "
        "to estimate.")


def test_relapse_with_relapses_and_or_competing_deaths():
    cif = relapse_of(["R", "D", "C", "R", "C"], [100, 150, 200, 500, 900])
    text = clean(prose.relapse_paragraph(cif, (1, 2)))
    assert text.startswith("2 patients relapsed or progressed and 1 died without a prior relapse.")
    assert "Treating those deaths as a competing event, the cumulative incidence" in text
    assert "at 1 year and" in text and "death without relapse at 2 years was" in text
    text = clean(prose.relapse_paragraph(relapse_of(["R", "C"], [100, 900]), (1, 2)))
    assert text.startswith("1 patient relapsed or progressed and none died without a prior relapse.")
    assert "Treating" not in text and "death without relapse at" not in text
    text = clean(prose.relapse_paragraph(relapse_of(["D", "C"], [100, 900]), (1, 2)))
    assert text.startswith("No patient relapsed or progressed and 1 died")
    assert "The cumulative incidence of death without relapse was" in text
    text = prose.relapse_paragraph(relapse_of(["R", "C"], [100, 200]), (1,))
    assert prose.BEYOND_FOLLOW_UP + " at 1 year" in clean(text)


# ------------------------------------------------------------------------ published vs reproduced
def published(n=2):
    figs = tuple(SimpleNamespace(key=f"k{i}", statistic="orr", kwargs={}) for i in range(n))
    return SimpleNamespace(cutoff=date(2025, 8, 1), figures=figs, source="zhang2025ash")


def result(n, k):
    return SimpleNamespace(n_figures=n, n_match=k, table=pd.DataFrame())


def test_reproduction_nothing_to_compare():
    r = prose.Reproduction()
    text = clean(prose.reproduction_paragraph(r))
    assert text == "The study definition holds no published figures, so there is nothing to compare with the data."
    assert not r.shown and "abstract" not in prose.intro("2026-02-01", r)
    r = prose.Reproduction(published(), stored=False)
    text = clean(prose.reproduction_paragraph(r))
    assert "2025-08-01, which is not among the stored data versions" in text
    assert "simulated" not in text and "{numref}" not in text and not r.shown
    assert prose.reproduction_paragraph(prose.Reproduction(published(0), True, result(0, 0), True)).startswith(
        "The study definition holds no published figures")


def test_reproduction_counts_and_simulated_only_when_the_data_are():
    r = prose.Reproduction(published(29), True, result(29, 29), simulated=True)
    text = clean(prose.reproduction_paragraph(r))
    assert "all 29 figures match." in text and "simulated to reproduce the abstract" in text
    assert r.shown
    assert prose.intro("2026-02-01", r).endswith("which uses the abstract's own cutoff (2025-08-01).")
    assert prose.intro("2025-08-01", r) == "All results on this page are computed from the data cutoff 2025-08-01."
    text = clean(prose.reproduction_paragraph(prose.Reproduction(published(29), True, result(29, 27), False)))
    assert "27 of 29 figures match; see the rows marked 'no'" in text
    assert "simulated to" not in text and "are not simulated" in text
    text = clean(prose.reproduction_paragraph(prose.Reproduction(published(3), True, result(3, 0), False)))
    assert "none of the 3 figures match" in text
    text = clean(prose.reproduction_paragraph(prose.Reproduction(published(1), True, result(1, 1), True)))
    assert "the figure matches." in text


def test_figure_directive_names_the_figure():
    block = prose.figure("fig_cif", "Caption.", name="fig-cif")
    assert block.splitlines()[0] == "```{glue:figure} fig_cif" and ":name: fig-cif" in block


def test_every_public_function_is_listed():
    for name in prose.__all__:
        assert hasattr(prose, name), name
    assert np.isfinite(prose.tables.YEAR_DAYS)
