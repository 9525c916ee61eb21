"""The Safety chapter's sentences (nscore.report.prose.safety) on odd data: adverse events not collected,
only CRS collected, nobody with an event, one patient, unresolved events, ties, subgroups absent,
with one level or unknown for some patients."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest

from nscore.analyses import safety as sf
from nscore.analyses.efficacy import proportion
from nscore.report import trace
from nscore.report.prose import safety as ps
from cohorts import tiny_cohort

class shown:
    """The prose functions as the reader sees their text: {ard} roles reduced to their numbers."""

    @staticmethod
    def incidence_paragraph(*a, **k):
        return trace.plain(ps.incidence_paragraph(*a, **k))

    @staticmethod
    def timing_paragraph(*a, **k):
        return trace.plain(ps.timing_paragraph(*a, **k))

    @staticmethod
    def introduction(*a, **k):
        return trace.plain(ps.introduction(*a, **k))


BAD = re.compile(r"(?i:n/a|\bnan\b)|\bNone\b(?! of)|0\.0% \(0/")


@pytest.fixture(scope="module")
def tiny():
    return tiny_cohort()


def _with(cohort, **changes):
    return type(cohort)(**{**vars(cohort), **changes})


def _inc(syndrome, k12, k3, n):
    """An Incidence with k12 patients at grade 1-2 and k3 at grade >= 3 of n."""
    p = lambda k: proportion(k, n)  # noqa: E731
    return sf.Incidence(syndrome=syndrome, table=pd.DataFrame(), any_grade=p(k12 + k3), grade_1_2=p(k12),
                        grade_3_plus=p(k3))


def test_not_collected_is_one_line():
    text = shown.introduction(0, ())
    assert text == ps.not_collected()
    assert "not collected" in text and text.count(".") == 1 and not BAD.search(text)


def test_introduction_counts_and_partial_collection():
    both = shown.introduction(334, ("CRS", "ICANS"))
    assert both.startswith("Toxicity is reported for the safety population of 334 infused patients.")
    assert "not collected" not in both and "{cite:p}`lee2019astct`" in both
    assert "of 1 infused patient." in shown.introduction(1, ("CRS", "ICANS"))
    crs_only = shown.introduction(334, ("CRS",))
    assert ("Only cytokine release syndrome (CRS) was collected in this delivery; neurotoxicity (ICANS) "
            "was not, so it has no results here.") in crs_only


def test_incidence_comparison_comes_from_the_numbers():
    text = shown.incidence_paragraph({"CRS": _inc("CRS", 286, 34, 334), "ICANS": _inc("ICANS", 3, 8, 334)})
    assert "Neurotoxicity (ICANS) was far less common than CRS, occurring in 3.3% (11/334; 95% CI" in text
    assert text.endswith("{numref}`tbl-incidence` lists the rates by grade group.")
    # overlapping intervals: no "far"; more common; a tie as printed
    assert "was less common than CRS" in shown.incidence_paragraph({"CRS": _inc("CRS", 5, 0, 10),
                                                                 "ICANS": _inc("ICANS", 3, 0, 10)})
    assert "was more common than CRS" in shown.incidence_paragraph({"CRS": _inc("CRS", 1, 0, 10),
                                                                 "ICANS": _inc("ICANS", 4, 0, 10)})
    assert "was as common as CRS" in shown.incidence_paragraph({"CRS": _inc("CRS", 2, 0, 10),
                                                             "ICANS": _inc("ICANS", 1, 1, 10)})


def test_incidence_nobody_one_patient_and_one_grade_group():
    none = shown.incidence_paragraph({"CRS": _inc("CRS", 286, 34, 334), "ICANS": _inc("ICANS", 0, 0, 334)})
    assert "None of the 334 patients had neurotoxicity (ICANS)." in none and "common" not in none
    both_none = shown.incidence_paragraph({"CRS": _inc("CRS", 0, 0, 7), "ICANS": _inc("ICANS", 0, 0, 7)}, ref="")
    assert both_none == ("None of the 7 patients had cytokine release syndrome (CRS). "
                         "None of the 7 patients had neurotoxicity (ICANS) either.")
    assert shown.incidence_paragraph({"CRS": _inc("CRS", 0, 0, 1)}, ref="") == \
        "The only patient in the safety population did not have cytokine release syndrome (CRS)."
    one = shown.incidence_paragraph({"CRS": _inc("CRS", 5, 0, 9), "ICANS": _inc("ICANS", 0, 1, 9)}, ref="")
    assert "occurring in 11.1% (1/9; 95% CI 0.3–48.2), at grade 3 or higher." in one
    assert "all at grade 1 or 2 (no patient had grade 3 or higher)" in one
    assert not BAD.search(none + both_none + one)
    with pytest.raises(ValueError):
        shown.incidence_paragraph({})


def test_grade_words_follow_the_number_of_syndromes():
    assert "the bar spans" in ps.grades_paragraph(("CRS",)) and "each bar" in ps.grades_paragraph(("CRS", "ICANS"))
    assert ps.grades_table_caption(("CRS",)) == "Patients by maximum ASTCT grade of CRS, n (% of the safety population)."
    assert ps.grades_alt_text(("CRS",)).startswith("One horizontal stacked bar for CRS")
    assert ps.grades_alt_text(("CRS", "ICANS")).startswith("2 horizontal stacked bars, one for each of CRS and ICANS")
    assert "ICANS" not in ps.grades_figure_caption(("CRS",)) + ps.incidence_caption(("CRS",))


def test_timing_on_the_tiny_cohort(tiny):
    od = sf.onset_duration(tiny)
    text = shown.timing_paragraph(od, ("CRS", "ICANS"))
    assert ("CRS began a median of 1 day after infusion (range 0–7 days) in the 7 patients who had it, and "
            "lasted a median of 4.5 days (range 2–10 days); 1 event unresolved at death or cutoff is left out "
            "of the duration, which describes the 6 resolved events.") in text
    assert text.endswith("{numref}`tbl-timing` gives the medians and ranges.")
    assert not BAD.search(text)


def test_timing_nobody_one_patient_unresolved(tiny):
    crs_only = _with(tiny, adae=tiny.adae[tiny.adae["AECAT"] == "CRS"])
    text = shown.timing_paragraph(sf.onset_duration(crs_only), ("CRS", "ICANS"))
    assert text.count("No patient had ICANS, so its onset and duration are not applicable.") == 1
    assert ps.show_timing_table(sf.onset_duration(crs_only))
    assert "'Not applicable: no events': nobody had that syndrome." in ps.timing_notes(sf.onset_duration(crs_only))
    assert "Not applicable" not in ps.timing_notes(sf.onset_duration(tiny))
    nobody = _with(tiny, adae=tiny.adae.iloc[0:0])
    od = sf.onset_duration(nobody)
    assert shown.timing_paragraph(od, ("CRS", "ICANS")) == \
        "No patient had CRS or ICANS, so their onset and duration are not applicable."
    assert not ps.show_timing_table(od)
    ae = tiny.adae[(tiny.adae["AECAT"] == "CRS") | tiny.adae["USUBJID"].str.endswith("0002")].copy()
    one = shown.timing_paragraph(sf.onset_duration(_with(tiny, adae=ae)), ("CRS", "ICANS"), ref="")
    assert "The only patient with ICANS had its onset 5 days after infusion, and it lasted 4 days." in one
    ae.loc[ae["AECAT"] == "ICANS", "ADURN"] = None
    open_ = shown.timing_paragraph(sf.onset_duration(_with(tiny, adae=ae)), ("CRS", "ICANS"), ref="")
    assert ("The only patient with ICANS had its onset 5 days after infusion; it was unresolved at death or "
            "cutoff, so its duration is not known.") in open_
    ae = tiny.adae.copy()
    ae["ADURN"] = None
    all_open = shown.timing_paragraph(sf.onset_duration(_with(tiny, adae=ae)), ("CRS",), ref="")
    assert all_open.endswith("every event was unresolved at death or cutoff, so the duration is not known.")
    assert not BAD.search(one + open_ + all_open)


def test_days():
    assert [ps.days(x) for x in (0, 1, 2, 4.5)] == ["0 days", "1 day", "2 days", "4.5 days"]


def test_by_dose_cases(tiny):
    text, show = ps.by_dose_paragraph(None)
    assert (text, show) == ("Dose level was not collected, so grade 3 or higher events are not broken down by "
                            "dose.", False)
    text, show = ps.by_dose_paragraph(sf.grade3_by(tiny, "DOSELVL"))
    assert show and "{numref}`tbl-g3-dose`, across 3 levels." in text and "do not estimate the effect" in text
    one = sf.grade3_by(_with(tiny, adsl=tiny.adsl.assign(DOSELVL="DL2")), "DOSELVL")
    assert ps.by_dose_paragraph(one) == ("Every patient received dose level DL2, so there is no comparison by "
                                         "dose.", False)
    adsl = tiny.adsl.assign(DOSELVL=["DL2"] * 7 + [None])
    text, show = ps.by_dose_paragraph(sf.grade3_by(_with(tiny, adsl=adsl), "DOSELVL"))
    assert not show and text == ("Each of the 7 patients with a known dose level received dose level DL2, so "
                                 "there is no comparison by dose. Dose level is unknown for 1 patient.")
    text, show = ps.by_dose_paragraph(sf.grade3_by(_with(tiny, adsl=tiny.adsl.assign(DOSELVL=None)), "DOSELVL"))
    assert not show and "unknown for every patient" in text
    assert ps.by_dose_caption(("CRS",), "XYZ-T").startswith("Grade 3 or higher CRS by XYZ-T dose level")
    assert ps.by_dose_caption(("CRS", "ICANS"), None).startswith("Grade 3 or higher CRS and ICANS by dose level")


def test_by_blasts_cases(tiny):
    assert ps.by_blasts_paragraph(None)[1] is False
    assert "were not collected" in ps.by_blasts_paragraph(None)[0]
    text, show = ps.by_blasts_paragraph(sf.grade3_by(tiny, "blasts"))
    assert show and "unknown" not in text
    adsl = tiny.adsl.copy()
    adsl.loc[[0, 1], "BMINV"] = None
    text, show = ps.by_blasts_paragraph(sf.grade3_by(_with(tiny, adsl=adsl), "blasts"))
    assert show and text.endswith("Marrow involvement or blast count before infusion is unknown for 2 patients, "
                                  "who are left out of that table.")
    adsl.loc[:, "BMINV"] = "N"
    text, show = ps.by_blasts_paragraph(sf.grade3_by(_with(tiny, adsl=adsl), "blasts"))
    assert not show and "falls in one group (No marrow involvement)" in text


def test_no_severe_events():
    assert ps.no_severe_events({"CRS": _inc("CRS", 5, 1, 9)}) == ""
    assert ps.no_severe_events({"CRS": _inc("CRS", 5, 0, 9), "ICANS": _inc("ICANS", 0, 0, 9)}) == \
        "No patient had grade 3 or higher CRS or ICANS, so there is nothing to break down by dose level or disease burden."


def test_section_not_collected_is_one_line_without_numbers():
    from nscore.report.prose.safety import section_not_collected

    line = section_not_collected()
    assert "not collected" in line.lower() and not any(ch.isdigit() for ch in line) and "\n" not in line
