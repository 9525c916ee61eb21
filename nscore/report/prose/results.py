"""The Results chapter's data-dependent sentences (patient flow, response, survival, transplant,
relapse, published versus reproduced).

Each function takes analysis results (never patient rows) and returns the words the chapter shows:
a fragment to glue, or a MyST paragraph for :func:`nscore.report.narrative.md`. What the words must not do,
whatever the data:

- say "0 of 0", "n/a" or "None": a count of nothing is "none" or "no ...", a value that cannot be
  computed is "not estimable" with the reason, a variable that was not delivered is "not collected";
- describe a table or figure the chapter does not show: every ``{numref}`` to a table or figure
  that exists only for some data is written here, in the sentence shown next to it, and the
  figure directives themselves come from :func:`figure` (so a dangling reference cannot reach a
  ``-W`` build);
- type a number that comes from the data, the study or an analysis constant: the years at which
  survival is reported (:data:`nscore.statistics.survival.REPORT_YEARS`), the number of analyses shown, the
  at-risk interval (:data:`nscore.report.figures.RISK_EVERY_MONTHS`) and the therapy's name are read from
  where they are defined;
- compare groups that are not there: one diagnosis, one prior-transplant level, nobody
  transplanted, nobody at risk at the landmark, no events (a log-rank test is then "not tested",
  with the reason);
- call data simulated unless the cutoff read says so (``cohort.simulated``), or call the
  published figures "the abstract" unless the study definition holds published figures.

Numbers are formatted by :mod:`nscore.report.format` (the one formatter: rates, medians, survival
estimates, hazard ratios, p-values, log-rank results); the only label built here is
:func:`prior_hct_label` (a prior-transplant count as a group label, "1 prior allo-HCT").

One module per chapter (about 830 lines): every data-dependent sentence of Results, in the chapter's
order, so the words of one page are reviewed in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from nscore.report import format as fmt, tables
from nscore.report.narrative import capitalize, count, directive, events_phrase, join, median_phrase, number, sentence
from nscore.report.trace import cite, role

__all__ = [
    "figure",
    "intro",
    "flow_paragraph",
    "flow_caption",
    "flow_alt_text",
    "baseline_sentence",
    "baseline_caption",
    "baseline_notes",
    "response_not_assessed",
    "response_paragraph",
    "mrd_sentence",
    "forest_alt_text",
    "subgroup_names",
    "survival_paragraph",
    "estimates_at",
    "observed_times_paragraph",
    "km_alt_text",
    "km_summary_notes",
    "pfs_transplant_note",
    "logrank_phrase",
    "prior_hct_label",
    "prior_hct_labels",
    "by_group_paragraph",
    "by_group_caption",
    "TransplantAnalyses",
    "transplant_analyses",
    "transplant_paragraphs",
    "relapse_shown",
    "relapse_paragraph",
    "Reproduction",
    "reproduction_paragraph",
    "response_duration_paragraph",
    "response_duration_shown",
    "response_landmark_paragraph",
    "response_landmark_shown",
    "transplant_incidence_paragraph",
    "subgroup_hazard_paragraph",
    "swimmer_paragraph",
]

NOT_ESTIMABLE = "not estimable"
#: Said after an estimate that lies beyond the longest follow-up.
BEYOND_FOLLOW_UP = "not estimable (follow-up is shorter)"


def figure(key: str, caption: str, *, name: str) -> str:
    """The ``{glue:figure}`` directive of a figure the chapter shows only for some data.

    ``name`` is keyword-only so that the chapter source reads ``name="fig-..."``, as its tables do.
    """
    return directive("glue:figure", key, caption, name=name)


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def _number(n: int, zero: str = "none") -> str:
    """A bare count in a clause ("329 were evaluable"): digits, or ``zero``."""
    return zero if n == 0 else str(int(n))


def _beyond(text: str) -> str:
    """A survival/incidence text, with the reason when it is not estimable (beyond follow-up)."""
    return BEYOND_FOLLOW_UP if text == NOT_ESTIMABLE else text


def _years(years: Sequence[int]) -> list[str]:
    return [count(y, "year") for y in years]


# ------------------------------------------------------------------------------------ intro
def intro(cutoff: str, reproduction: "Reproduction") -> str:
    """The page's first sentence: which cutoff the results come from (and the reproduction's)."""
    text = f"All results on this page are computed from the data cutoff {cutoff}"
    if reproduction.shown and reproduction.cutoff != cutoff:
        text += (", except the comparison with the published abstract in {ref}`sec-reproduction`, "
                 f"which uses the abstract's own cutoff ({reproduction.cutoff})")
    return text + "."


# ------------------------------------------------------------------------------- patient flow
def flow_paragraph(flow, therapy: str, figure_name: str = "fig-flow") -> str:
    """Patient flow in words, from :func:`nscore.analyses.cohort.patient_flow`.

    Transplant counts that are None (not collected) say so; transplants on or before the CR/CRi
    date and transplants whose order cannot be told are explained when there are any.
    """
    n_inf, n_saf, n_eff = flow.n_infused, flow.n_safety, flow.n_evaluable

    def k(box):  # the ARD key of a box of the flow diagram (flow.rows())
        return f"flow.{box}|=|n"

    parts = [f"{capitalize(count(n_inf, 'patient', key=k('infused')))} received {therapy}."]
    if getattr(flow, "n_enrolled", None) is not None:  # H7: the delivery records enrolment (ADDS)
        parts[0] = (f"Of {count(flow.n_enrolled, 'patient', key=k('enrolled'))} enrolled, "
                    f"{count(n_inf, 'patient', key=k('infused'), zero='none')} received {therapy}.")
    if n_saf == n_inf:
        parts.append("The safety population (patients with a confirmed infusion) holds "
                     + ("that patient." if n_inf == 1 else f"all {number(n_saf, k('safety'))}."))
    elif n_saf == 0:
        parts.append("None had a confirmed infusion, so the safety population is empty.")
    else:
        parts.append(f"The safety population (patients with a confirmed infusion) holds "
                     f"{number(n_saf, k('safety'))} of them.")
    if n_saf:
        if n_eff == 0:
            parts.append("No patient was evaluable for response.")
        elif n_eff == n_saf:
            parts.append("That patient was evaluable for response." if n_saf == 1
                         else f"All {number(n_eff, k('evaluable'))} were evaluable for response.")
        else:
            parts.append(f"{number(n_eff, k('evaluable'))} {_was(n_eff)} evaluable for response and "
                         f"{number(flow.n_not_evaluable, k('not_evaluable'))} {_was(flow.n_not_evaluable)} not.")
    if n_eff:
        n_resp, n_cr = flow.n_responders, flow.n_cr_cri
        resp, cr = number(n_resp, k("responders")), number(n_cr, k("cr_cri"))
        if n_resp == 0:
            parts.append("None of the evaluable patients responded.")
        elif n_cr == 0:
            parts.append(f"Of the evaluable patients, {resp} responded, none with CR or CRi.")
        elif n_cr == n_resp:
            parts.append(f"Of the evaluable patients, {resp} responded, all with CR or CRi."
                         if n_resp > 1 else f"Of the evaluable patients, {resp} responded, with CR or CRi.")
        else:
            parts.append(f"Of the evaluable patients, {resp} responded and {cr} reached CR or CRi.")
    parts.extend(_flow_transplants(flow))
    return " ".join(parts)[:-1] + f" ({{numref}}`{figure_name}`)."


def _flow_transplants(flow) -> list[str]:
    n_cr = flow.n_cr_cri
    if flow.n_hct_total is None:
        return ["Transplants were not collected" + (", so the flow ends at CR or CRi." if n_cr else ".")]
    if flow.n_hct_total == 0:
        return ["No patient was transplanted during follow-up."]
    out = []
    if n_cr:
        k = flow.n_hct_after_cr
        who = ("the patient in CR or CRi" if n_cr == 1 else
               f"the {number(n_cr, 'flow.cr_cri|=|n')} patients in CR or CRi")
        if k == 0:
            text = f"None of {who} went on to a consolidative allogeneic transplant after the date of the remission"
        else:
            text = (f"Of {who}, {number(k, 'flow.hct|=|n')} went on to a consolidative allogeneic transplant "
                    "after the date of the remission")
        before, unknown = flow.n_hct_not_after_cr or 0, flow.n_hct_timing_unknown or 0
        if before:
            text += (f"; {number(before, 'flow.hct_before_cr|=|n')} {_was(before)} transplanted on or before "
                     "the date of the remission, "
                     "which is not counted as consolidation")
        if unknown:
            text += (f"; for {count(unknown, 'transplanted patient', key='flow.hct_timing_unknown|=|n')} the "
                     "order of transplant and "
                     "remission is unknown (a date is missing), so it is not counted either")
        out.append(text + ".")
    total = flow.n_hct_total
    out.append("Counting salvage transplants of patients without a remission as well, "
               f"{count(total, 'infused patient', key='flow.hct_total|=|n')} {_was(total)} transplanted during "
               "follow-up.")
    return out


#: What each main box of the flow is called in the caption and the alt text.
_FLOW_STEPS = {"safety": "the safety population", "evaluable": "efficacy-evaluable patients",
               "responders": "responders", "cr_cri": "patients in CR or CRi",
               "hct": "patients transplanted after the CR or CRi"}
_FLOW_ENDS = {"infused": "infusion", "safety": "the safety population", "evaluable": "response evaluation",
              "responders": "response", "cr_cri": "CR or CRi", "hct": "consolidative transplantation"}


def _drawn_main(flow) -> list[str]:
    """Keys of the main boxes the flow diagram draws (all of them for a flow without a table)."""
    table = getattr(flow, "table", None)
    if table is None:
        keys = ["infused", "safety", "evaluable", "responders", "cr_cri"]
        return keys + (["hct"] if flow.n_hct_total is not None else [])
    drawn = table["drawn"] if "drawn" in table.columns else [True] * len(table)
    return [k for k, kind, d in zip(table["key"], table["kind"], drawn) if kind == "main" and d]


def flow_caption(flow) -> str:
    """The flow diagram's caption (first sentences): where the drawn flow starts and ends."""
    last = _drawn_main(flow)[-1]
    end = _FLOW_ENDS.get(last, "the last recorded step")
    if last == "cr_cri" and flow.n_hct_total is None:
        end = "CR or CRi (transplants were not collected)"
    if getattr(flow, "n_enrolled", None) is not None:  # H7: the delivery records enrolment (ADDS)
        steps = [name for key, name in (("apheresed", "apheresis"), ("manufactured", "manufacturing"))
                 if key in _drawn_main(flow)]
        return (f"Patient flow from enrolment through {join(steps + ['infusion'])} to {end}, drawn from the "
                "data; the side boxes before the infusion give the recorded reasons for not proceeding.")
    return (f"Patient flow from infusion to {end}, drawn from the data. The delivered data begin at "
            "infusion (enrolment, apheresis and manufacturing are not recorded), so the flow does too.")


def flow_alt_text(flow) -> str:
    """Alt text of the flow diagram: the boxes it draws (the transplant box only when collected)."""
    steps = [_FLOW_STEPS[k] for k in _drawn_main(flow) if k in _FLOW_STEPS]
    target = join(steps) if steps else "no further step"
    start = "enrolled patients through infusion" if getattr(flow, "n_enrolled", None) is not None else "infused patients"
    return (f"Flow diagram from {start} to {target}, with side boxes giving the number "
            "who left at each step and why.")


# --------------------------------------------------------------------------------- baseline
def _by_diagnosis(baseline) -> bool:
    """Whether Table 1 has columns by diagnosis (it has only Overall with a single diagnosis)."""
    return bool(baseline.by_diagnosis)


def baseline_sentence(baseline, table_name: str = "tbl-baseline") -> str:
    """What Table 1 describes; "by diagnosis" and the p-value remark only when it has those columns."""
    if _by_diagnosis(baseline):
        return (f"{{numref}}`{table_name}` describes the cohort at infusion, overall and by diagnosis. "
                "No p-values are given: the diagnoses are not comparison arms.")
    return (f"{{numref}}`{table_name}` describes the cohort at infusion. All patients had the same "
            "diagnosis, so the table has no column by diagnosis.")


def baseline_caption(baseline) -> str:
    """Caption of Table 1 (its number comes from Sphinx, never typed into the caption)."""
    if _by_diagnosis(baseline):
        return "Baseline characteristics of infused patients, overall and by diagnosis."
    return "Baseline characteristics of infused patients."


def _dose(cells_per_kg: float) -> str:
    value = cells_per_kg / 1e6
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def baseline_notes(baseline) -> str:
    """The notes of Table 1: its conventions, then the lettered footnotes of the rows it holds, then
    the abbreviations it uses. Only rows the table holds (collected variables) are named."""
    from nscore.analyses.baseline import _T1_CONTINUOUS

    shown = set(baseline.variables)
    continuous = [name for var, name in (("AGE", "age"), ("PRLINES", "prior lines"), ("HCTREL", "time to relapse"),
                                         ("DOSE6", "dose")) if var in shown]
    categorical = bool(shown - set(_T1_CONTINUOUS))
    notes = []
    if continuous:
        notes.append(f"{capitalize(join(continuous))}: median (interquartile range, 25th\u201375th "
                     "percentile) on one line and range (minimum\u2013maximum) on the next.")
    if categorical:
        notes.append("Categorical characteristics: n (%), the percentage of the column's patients "
                     "with a known value.")
    if not baseline.unknown.empty and (baseline.unknown["n"] > 0).any():
        notes.append("Unknown: the value is missing; these patients are counted on that line and "
                     "left out of the percentages.")
    if baseline.by_diagnosis:
        notes.append("Column headers give the number of patients in each column; the diagnosis rows "
                     "are filled in the overall column only. No p-values: the diagnoses are not "
                     "comparison arms.")
    if baseline.empty_denominator:
        notes.append("\u2013: no patient of the column in that row's denominator.")
    if "AGE" in shown:
        notes.append("Age in years at infusion.")
    if "HCTREL" in shown:
        notes.append("Time from prior allo-HCT to relapse: among patients with a prior allo-HCT, in months "
                     f"(a month being {tables.DAYS_PER_MONTH:.2f} days).")
    paragraphs = [" ".join(notes)]
    letters = baseline.footnotes or {}
    if "PRIORHCT" in letters:
        paragraphs.append(f"{letters['PRIORHCT']} Number of allogeneic transplants before infusion.")
    if "BLAST20" in letters:
        paragraphs.append(f"{letters['BLAST20']} Bone-marrow blasts among patients with marrow involvement "
                          "(the denominator); the cut-off is 20%.")
    if "DOSELVL" in letters:
        defined = "; ".join(f"{code}, {_dose(cells)} \u00d7 10\u2076 cells/kg"
                            for code, cells in baseline.dose_levels)
        text = "Dose level of the infusion" + (f", as the study defines the levels: {defined}." if defined
                                               else " (the study does not define the levels' doses).")
        paragraphs.append(f"{letters['DOSELVL']} {text}")
    abbreviations = ["IQR, interquartile range"] if continuous else []
    if "PRIORHCT" in shown:
        abbreviations.append("allo-HCT, allogeneic haematopoietic cell transplantation")
    if "DOSELVL" in shown:
        abbreviations.append("DL, dose level")
    if "DISSTAT" in shown:
        abbreviations.append("MRD, measurable residual disease; CR, complete remission")
    if "CNSFL" in shown:
        abbreviations.append("CNS, central nervous system")
    if abbreviations:
        paragraphs.append("Abbreviations: " + "; ".join(abbreviations) + ".")
    paragraphs.append(baseline_not_collected(baseline))
    return "\n\n".join(p for p in paragraphs if p)


#: What each optional Table 1 row reports, for the "not collected" note (nscore.analyses.baseline._T1_OPTIONAL).
_T1_OPTIONAL_WORDS = {"PRLINES": "prior lines of therapy", "DISSTAT": "disease status at infusion",
                      "EMDFL": "extramedullary disease", "CNSFL": "CNS involvement",
                      "HCTREL": "time from a prior allo-HCT to relapse"}


def baseline_not_collected(baseline) -> str:
    """The note naming the rows a reader expects that the delivery does not hold ("" when it holds them all)."""
    missing = [_T1_OPTIONAL_WORDS.get(v, v) for v in getattr(baseline, "not_collected", ())]
    if not missing:
        return ""
    return (f"Not collected: {join(missing)} {'is' if len(missing) == 1 else 'are'} not part of this data "
            "delivery, so the table has no row for "
            f"{'it' if len(missing) == 1 else 'them'} (not collected means absent from the data, not zero).")


# --------------------------------------------------------------------------------- response
def response_not_assessed(flow) -> str:
    """The Response section's only line when nobody is efficacy-evaluable."""
    if flow.n_safety == 0:
        return "No patient is in the safety population, so response was not assessed."
    everyone = "the patient" if flow.n_safety == 1 else f"all {flow.n_safety} patients"
    return (f"No patient was evaluable for response (EFFFL = N for {everyone} of the safety "
            "population), so response was not assessed: no response rates, best-response table "
            "or subgroup plot are shown.")


def mrd_sentence(mrd, collected: bool) -> str:
    """MRD negativity among CR/CRi patients with a known status (``nscore.analyses.efficacy.mrd_negativity``).

    ``collected`` is whether ADRS MRDSTAT was delivered. Never "not assessed were MRD-negative":
    with MRD not collected, nobody in CR/CRi, or nobody assessed, the sentence says which.
    """
    if not collected:
        return "MRD status was not collected."
    if mrd.n_cr_cri == 0:
        return "No patient reached CR or CRi, so MRD negativity is not reported."
    if mrd.proportion is None:
        who = "the patient" if mrd.n_cr_cri == 1 else f"the {mrd.n_cr_cri} patients"
        return f"No MRD assessment was recorded for {who} in CR or CRi, so MRD negativity is not reported."
    text = (f"Among patients in CR or CRi with a known MRD status, {cite(mrd, 'efficacy.mrd_negative')} "
            "were MRD-negative")
    if mrd.n_unknown:
        text += f"; {number(mrd.n_unknown, 'efficacy.mrd_unknown|=|n')} had no MRD assessment recorded"
    return text + "."


#: How each subgroup variable of :data:`nscore.analyses.cohort.SUBGROUPS` is named in a sentence.
SUBGROUP_WORDS = {"diagnosis": "diagnosis", "prior_hct_any": "prior transplant",
                  "marrow_blasts": "marrow blasts", "dose_level": "dose level", "age_group": "age group"}


def subgroup_names(by_subgroup_table) -> list[str]:
    """Subgroups of the forest plot other than the overall row, in plot order, as named in prose.

    Pass :meth:`nscore.analyses.efficacy.SubgroupResponse.comparable` (subgroups with two levels or more).
    """
    if not len(by_subgroup_table):
        return []
    rows = by_subgroup_table.loc[by_subgroup_table["variable"] != "overall", ["variable", "subgroup"]]
    return [SUBGROUP_WORDS.get(v, str(name).lower())
            for v, name in dict.fromkeys(map(tuple, rows.to_numpy().tolist()))]


def response_paragraph(rates, mrd, mrd_collected: bool, subgroups: Sequence[str],
                       forest: str = "fig-forest") -> str:
    """ORR and CR/CRi with the table references, the MRD sentence and the forest plot sentence.

    ``subgroups``: :func:`subgroup_names` (empty: no forest plot is shown, and none is referred to).
    """
    text = [f"The overall response rate among evaluable patients was {cite(rates, 'efficacy.orr')} and "
            f"the CR/CRi rate {cite(rates, 'efficacy.cr_cri')} ({{numref}}`tbl-response`, "
            "{numref}`tbl-bor`).", mrd_sentence(mrd, mrd_collected)]
    if subgroups:
        text.append(f"Response by {join(subgroups)} is shown in "
                    f"{{numref}}`{forest}`; the exact intervals are wide where subgroups are small.")
    else:
        text.append("No subgroup variable has more than one level in these data, so response is not "
                    "shown by subgroup.")
    return " ".join(text)


def forest_alt_text(subgroups: Sequence[str]) -> str:
    return ("Forest plot of overall response rate and CR/CRi rate with exact 95% confidence "
            f"intervals, overall and by {join(subgroups)}.")


# --------------------------------------------------------------------------------- survival
def estimates_at(curve, years: Sequence[int], key: str | None = None) -> list[str]:
    """Kaplan-Meier estimate (95% CI) of ``curve`` at each of ``years`` after infusion, as text.

    ``key``: the curve's ARD analysis id (``os.km``): each estimate is written with the ``{ard}``
    role and the key of its year (``os.km|YEARS=1``, as :func:`nscore.analyses.survival_rows.km_rows`
    records it).

    Printed by :func:`nscore.report.format.rate`; beyond follow-up "not estimable (follow-up is
    shorter)".
    """
    at = curve.survival_at([y * tables.YEAR_DAYS for y in years]).reset_index(drop=True)
    texts = [fmt.rate(*(100 * at.loc[i, c] for c in ("survival", "lower", "upper"))) for i in range(len(years))]
    if key is None:
        return [_beyond(t) for t in texts]
    from nscore.report.trace import role

    return [BEYOND_FOLLOW_UP if t == "not estimable" else role(t, f"{key}|YEARS={y}") for t, y in zip(texts, years)]


def _follow_up(km_os, follow_up, keys: Mapping[str, str] = {}) -> str:
    if km_os.n_ - km_os.events_ == 0:
        return ("Every patient died before the cutoff, so the median follow-up by the reverse "
                "Kaplan-Meier method is not estimable.")
    return ("The median follow-up, estimated by the reverse Kaplan-Meier method, was "
            f"{median_phrase(follow_up.median, follow_up.lower, follow_up.upper, key=keys.get('followup'))}.")


#: ARD analysis ids of the survival paragraph's numbers (as the Results chapter records them with
#: :mod:`nscore.analyses.survival_rows`).
SURVIVAL_KEYS = {"os": "os.km", "pfs": "pfs.km", "followup": "followup.os"}


def survival_paragraph(km_os, km_pfs, follow_up, years: Sequence[int],
                       os_figure: str = "fig-km-os", pfs_figure: str = "fig-km-pfs",
                       table: str = "tbl-survival", keys: Mapping[str, str] | None = None) -> str:
    """Follow-up, OS and PFS medians with their events, and the estimates at ``years``.

    ``keys``: the ARD analysis ids of the curves and the follow-up (default :data:`SURVIVAL_KEYS`;
    ``{}`` writes plain numbers); each number is then written with the ``{ard}`` role.

    No events: "no deaths were observed" and survival stays at 100% (its median not reached),
    instead of a median of "not reached" next to "0 deaths".
    """
    keys = dict(SURVIVAL_KEYS if keys is None else keys)
    out = [_follow_up(km_os, follow_up, keys)]
    os_id, pfs_id = keys.get("os"), keys.get("pfs")

    def ev(km, k):
        return None if k is None else f"{k}|=|events"

    def med(km, k):
        return median_phrase(km.median_, *km.median_ci_, key=k)

    if km_os.events_ == 0:
        os_text = (f"No deaths were observed, so overall survival stays at 100% and its median is not "
                   f"reached ({{numref}}`{os_figure}`)")
    else:
        os_text = (f"With {events_phrase(km_os.events_, 'death', key=ev(km_os, os_id))} observed, the Kaplan-Meier "
                   f"median overall survival was {med(km_os, os_id)} "
                   f"({{numref}}`{os_figure}`)")
    if km_pfs.events_ == 0:
        pfs_text = (f"no relapse, progression or death was observed, so progression-free survival "
                    f"stays at 100% as well ({{numref}}`{pfs_figure}`)")
    else:
        pfs_text = (f"with {events_phrase(km_pfs.events_, 'relapse, progression or death', 'relapses, progressions or deaths', key=ev(km_pfs, pfs_id))}, "
                    f"the median progression-free survival was "
                    f"{med(km_pfs, pfs_id)} ({{numref}}`{pfs_figure}`)")
    out.append(f"{os_text}; {pfs_text}.")
    if years and (km_os.events_ or km_pfs.events_):
        os_at, pfs_at = estimates_at(km_os, years, os_id), estimates_at(km_pfs, years, pfs_id)
        words = _years(years)
        clauses = [f"At {words[0]} after infusion, overall survival was estimated at {os_at[0]} and "
                   f"progression-free survival at {pfs_at[0]}"]
        for w, o, p in zip(words[1:], os_at[1:], pfs_at[1:]):
            if o == p == BEYOND_FOLLOW_UP:
                clauses.append(f"at {w} follow-up is too short for an estimate")
            else:
                clauses.append(f"at {w} the estimates were {o} and {p}")
        out.append("; ".join(clauses) + f" ({{numref}}`{table}`).")
    elif years:
        out.append(f"The estimates at {join(_years(years))} are in {{numref}}`{table}`.")
    return " ".join(out)


def km_summary_notes(years: Sequence[int]) -> str:
    """Notes of the survival table: what "NR" means and which days the years are."""
    days = [f"{y * tables.YEAR_DAYS:g}" for y in years]
    plural = "are" if len(years) > 1 else "is"
    return ("Medians in months with 95% confidence intervals read from the confidence band; NR: not "
            f"reached. {capitalize(join(_years(years)))} {plural} {join(days)} days after infusion; "
            "beyond the longest follow-up an estimate is not estimable.")


def observed_times_paragraph(os_observed: str, pfs_observed: str, published=None) -> str:
    """The medians of observed times (``nscore.analyses.published.observed_time``) and why they are not survival.

    They are called "the abstract's" only when the study's published figures include them
    (``published``: the study definition's :class:`nscore.data.study.Published`, or None).
    """
    endpoints = []
    if published is not None:
        for fig in published.figures:
            if fig.statistic == "observed_time":
                paramcd = fig.kwargs.get("paramcd")
                if paramcd and f'"median {paramcd}"' not in endpoints:
                    endpoints.append(f'"median {paramcd}"')
    if endpoints:
        head = (f"The abstract's {join(sorted(endpoints, reverse=True))} "
                f"{'is' if len(endpoints) == 1 else 'are'} a different quantity: the "
                f"{'median' if len(endpoints) == 1 else 'medians'} of the observed times of all "
                "patients, whether a time ended in an event or in censoring.")
    else:
        head = ("A median of the observed times of all patients, whether a time ended in an event or "
                "in censoring, is a different quantity, sometimes reported as \"median OS\" or "
                "\"median PFS\".")
    return (f"{head} Computed that way from this cutoff's data, the medians (ranges) are "
            f"{os_observed} days for OS and {pfs_observed} days for PFS. Such medians say how long "
            "patients had been followed, not how long they survive, and they are bounded by the "
            "cutoff. The Kaplan-Meier median above is the survival estimate, and it is \"not "
            "reached\" while more than half of the patients are estimated to be alive.")


def km_alt_text(what: str, curves, *, groups: str | None = None) -> str:
    """Alt text of a Kaplan-Meier figure that says what :func:`nscore.report.figures.km_plot` draws.

    ``what``: "overall survival"; ``groups``: "for each diagnosis" (several curves) or None.
    """
    from nscore.report import figures

    curve = (f"Kaplan-Meier curves of {what} {groups}, in distinct colours and line styles" if groups
             else f"Kaplan-Meier curve of {what} after infusion")
    shown = []
    if figures.draws_band(curves):
        shown.append(f"a shaded 95% confidence band{' per curve' if groups else ''}")
    shown.append(f"a tick for each {figures.CENSOR_BIN_DAYS}-day interval in which patients were censored")
    months = figures.RISK_EVERY_MONTHS
    every = "every month" if months == 1 else f"every {count(months, 'month')}"
    shown.append(f"the numbers at risk {every} below")
    return f"{curve}, with {join(shown)}."


def pfs_transplant_note(flow) -> str:
    """A sentence of the PFS figure's caption about transplants (never one that the data contradict)."""
    if flow.n_hct_total is None:
        return "Transplants were not collected."
    if flow.n_hct_total == 0:
        return "No patient was transplanted during follow-up."
    return "Transplants after infusion do not censor the curve."


# -------------------------------------------------------------------- survival by a baseline group
def logrank_phrase(result, *, event: str = "death", events: str | None = None, key: str | None = None) -> str:
    """The log-rank result of a by-group analysis, or why it was not tested.

    ``result``: a :class:`nscore.statistics.survival.KaplanMeierByResult` or
    :class:`nscore.statistics.survival.LandmarkResult` (their ``logrank`` is None with fewer than two groups
    or no event). Never "p = 1.00" for curves without a single event. ``key``: the test's ARD
    analysis id (``os.km.diag.logrank``), for the ``{ard}`` role.
    """
    groups = getattr(result, "curves", {}) or {}
    n_events = sum(int(c.events_) for c in groups.values())
    if len(groups) < 2:
        return "log-rank not tested: fewer than two groups"
    if n_events == 0 or result.logrank is None:
        return f"log-rank not tested: {events_phrase(0, event, events)}"
    text = fmt.logrank(result.logrank)
    return text if key is None else role(text, key)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def prior_hct_label(level) -> str:
    """``"0"`` -> "No prior allo-HCT", ``"1"`` -> "1 prior allo-HCT", ``"2"`` -> "2 prior allo-HCTs"."""
    n = int(float(level))
    return "No prior allo-HCT" if n == 0 else count(n, "prior allo-HCT")


def prior_hct_labels(levels) -> dict[str, str]:
    """Display labels of the prior-transplant groups (keys as the curves are keyed)."""
    return {str(level): prior_hct_label(level) for level in levels}


def by_group_paragraph(os_by_diagnosis, os_by_prior_hct, *, diagnosis_names: Mapping[str, str] | None = None,
                       prior_hct_collected: bool = True) -> str:
    """Survival by diagnosis and by prior transplants: what is shown, or in one line why not.

    ``os_by_prior_hct`` is None when PRIORHCT was not collected (``prior_hct_collected`` False).
    """
    out, shown = [], []
    dx = list(os_by_diagnosis.curves)
    if len(dx) >= 2:
        shown.append("diagnosis")
        out.append("Overall survival by diagnosis is shown in {numref}`fig-km-diagnosis` and "
                   f"{{numref}}`tbl-os-diagnosis` ({logrank_phrase(os_by_diagnosis, key='os.km.diag.logrank')}).")
    else:
        name = (diagnosis_names or {}).get(dx[0], dx[0]) if dx else "one diagnosis"
        out.append(f"All patients had the same diagnosis ({name}), so overall survival is not "
                   "compared by diagnosis.")
    if not prior_hct_collected or os_by_prior_hct is None:
        out.append("The number of transplants before infusion was not collected, so overall survival "
                   "is not shown by it.")
    elif len(os_by_prior_hct.curves) >= 2:
        shown.append("prior transplants")
        out.append("Overall survival by the number of allogeneic transplants before infusion is shown "
                   "in {numref}`fig-km-prior-hct` and {numref}`tbl-os-prior-hct` "
                   f"({logrank_phrase(os_by_prior_hct, key='os.km.priorhct.logrank')}).")
    else:
        level = next(iter(os_by_prior_hct.curves))
        out.append(f"All patients had the same number of transplants before infusion "
                   f"({_lower_first(prior_hct_label(level))}), so overall survival is not compared by it.")
    if shown:
        out.append("The smaller groups carry wide uncertainty, and the groups were not assigned at "
                   f"random, so {'this comparison is' if len(shown) == 1 else 'these comparisons are'} "
                   "descriptive.")
    return " ".join(out)


def by_group_caption(what: str, curves, table_name: str) -> str:
    """Caption of a by-group Kaplan-Meier figure; it says whether confidence bands are drawn."""
    from nscore.report import figures

    if figures.draws_band(curves):
        return f"{what} (Kaplan-Meier), with the 95% confidence band."
    return (f"{what} (Kaplan-Meier). Confidence bands are left out for legibility; the medians with "
            f"their intervals are in {{numref}}`{table_name}`.")


# ------------------------------------------------------------------------------- transplants
@dataclass(frozen=True)
class TransplantAnalyses:
    """Which transplant analyses apply to the data, their results, and why the others do not.

    ``status``: "not collected" (no HCTFL), "none" (nobody transplanted) or "analysed". Each result
    is None when it is not shown; ``reasons`` maps an analysis name to the reason ("landmark",
    "cox", "simon-makuch").
    """

    status: str
    day: float
    landmark: object = None
    cox: object = None
    simon_makuch: object = None
    reasons: dict = field(default_factory=dict)

    @property
    def n_shown(self) -> int:
        return sum(x is not None for x in (self.landmark, self.cox, self.simon_makuch))


def transplant_analyses(cohort, flow, *, landmark_day: float = 100, ci: str = "log-log",
                        paramcd: str = "OS") -> TransplantAnalyses:
    """Run the landmark analysis, the time-dependent Cox model and the Simon-Makuch curves where
    the data allow them, and record a reason for each that does not apply.

    Nothing is run when transplants were not collected or nobody was transplanted; the landmark
    comparison is shown only with patients in both groups at the landmark; the Cox model only
    when it is estimable (an :class:`nscore.analyses.cohort.AnalysisInputError` from
    :func:`nscore.statistics.survival.transplant_time_dependent_cox` gives the reason).
    """
    from nscore.statistics import survival
    from nscore.errors import AnalysisInputError

    if flow.n_hct_total is None:
        return TransplantAnalyses("not collected", float(landmark_day))
    if flow.n_hct_total == 0:
        return TransplantAnalyses("none", float(landmark_day))
    reasons = {}
    lm = survival.landmark(cohort.adtte, cohort.adsl, paramcd, day=landmark_day, ci=ci)
    day = f"{landmark_day:g}"
    if lm.n_included == 0:
        reasons["landmark"] = f"nobody was alive and in follow-up on day {day}"
        lm = None
    elif "HCT" not in lm.curves:
        reasons["landmark"] = f"none of the patients still in follow-up on day {day} had been transplanted by then"
        lm = None
    elif "No HCT" not in lm.curves:
        reasons["landmark"] = f"every patient still in follow-up on day {day} had been transplanted by then"
        lm = None
    try:
        cox = survival.transplant_time_dependent_cox(cohort.adtte, cohort.adsl, paramcd)
    except AnalysisInputError as exc:
        # the analyses say why after "not estimable: " (a clause); anything else is quoted whole
        message = str(exc)
        reasons["cox"] = message.split("not estimable: ", 1)[1] if "not estimable: " in message else message
        cox = None
    sm = survival.simon_makuch(cohort.adtte, cohort.adsl, paramcd, ci=ci)
    if set(sm.table["group"]) != set(survival.HCT_GROUPS):
        reasons["simon-makuch"] = "there is follow-up in only one transplant state"
        sm = None
    return TransplantAnalyses("analysed", float(landmark_day), lm, cox, sm, reasons)


_NAMES = {"landmark": "the landmark analysis",
          "cox": "the Cox model with transplant as a time-dependent covariate",
          "simon-makuch": "the Simon-Makuch curves"}


def transplant_paragraphs(t: TransplantAnalyses) -> str:
    """The transplant section: one line when it does not apply, else the analyses that are shown."""
    if t.status == "not collected":
        return ("Transplants were not collected in these data, so survival is not analysed by "
                "transplant status.")
    if t.status == "none":
        return ("No patient was transplanted during follow-up, so survival is not analysed by "
                "transplant status.")
    intro = ("Patients in remission could go on to an allogeneic transplant, and it is tempting to "
             "compare them with the patients who were not transplanted. That comparison is biased in "
             "favour of transplantation, because a patient had to survive in remission until the "
             "transplant to be counted in the transplanted group (see {doc}`methods`).")
    n = t.n_shown
    if n == 0:
        intro += " None of the analyses that avoid this bias can be estimated from these data."
    else:
        intro += (" The analysis below avoids this bias." if n == 1 else
                  f" The {count(n, 'analysis', 'analyses')} below avoid this bias.")
    missing = [f"{_NAMES[key]} is not estimable, because {reason}" for key, reason in t.reasons.items()]
    if missing:
        intro += " " + sentence("; ".join(missing))
    out = [intro]
    body = []
    day = f"{t.day:g}"
    if t.landmark is not None:
        lm = t.landmark
        excluded = ("no patient had died or been censored earlier" if lm.n_excluded == 0 else
                    f"{count(lm.n_excluded, 'patient', key='os.landmark.excluded|=|n')} had died or been "
                    "censored earlier")
        body.append(f"In the **landmark analysis**, {count(lm.n_included, 'patient', key='os.landmark|=|N')} "
                    f"still alive and in follow-up on day {role(fmt.number(t.day), 'os.landmark|=|time')} were "
                    f"grouped by whether they had been transplanted by then "
                    f"and followed from that day ({excluded}; {{numref}}`fig-landmark`, "
                    f"{{numref}}`tbl-landmark`; {logrank_phrase(lm, key='os.landmark.logrank')}).")
    if t.cox is not None:
        c = t.cox
        body.append("In the **Cox model with transplant as a time-dependent covariate**, fitted to "
                    f"{'the' if c.n_subjects == 1 else 'all'} {count(c.n_subjects, 'patient', key='os.hct.tdcox|=|N')} "
                    f"and {events_phrase(c.events, 'death', key='os.hct.tdcox|=|events')}, the hazard ratio of death "
                    f"after transplant compared with before it was "
                    f"{role(fmt.hazard_ratio(c.hr, c.lower, c.upper), 'os.hct.tdcox')} "
                    f"({role(fmt.p_value(c.p_value), 'os.hct.tdcox|=|p')}).")
    if t.simon_makuch is not None:
        body.append("The **Simon-Makuch plot** ({numref}`fig-simon-makuch`) shows the survival curves "
                    "by current transplant status.")
    if body:
        out.append(" ".join(body))
        out.append("These estimates still compare patients who were selected for transplant (fit "
                   "enough, with a donor, in remission) with those who were not; they remove the "
                   "immortal-time bias but not this confounding by indication.")
    return "\n\n".join(out)


# ---------------------------------------------------------------------------------- relapse
def relapse_shown(cif) -> bool:
    """Whether the cumulative incidence curves and table are shown: any relapse or competing death."""
    return (cif.events + cif.competing_events) > 0


def _incidence_at(cif, years: Sequence[int], analysis_id: str | None = None) -> tuple[list[str], list[str]]:
    at = cif.at([y * tables.YEAR_DAYS for y in years]).reset_index(drop=True)

    def texts(sfx: str, aid: str | None) -> list[str]:
        out = []
        for i, y in enumerate(years):
            t = fmt.rate(*(100 * at.loc[i, c + sfx] for c in ("cif", "lower", "upper")))
            out.append(_beyond(t) if aid is None or t == "not estimable" else role(t, f"{aid}|YEARS={y}"))
        return out

    return texts("", analysis_id), texts("_competing", analysis_id and f"{analysis_id}.competing")


def relapse_paragraph(cif, years: Sequence[int], figure_name: str = "fig-cif",
                      table_name: str = "tbl-cif", analysis_id: str = "relapse.cif") -> str:
    """Relapses and competing deaths, and the cumulative incidences at ``years``; every number
    with the ``{ard}`` role of its row (:func:`nscore.analyses.survival_rows.cif_rows` under
    ``analysis_id``)."""
    if not relapse_shown(cif):
        return ("No relapse, progression or death was recorded, so there is no cumulative incidence "
                "of relapse to estimate.")
    k, m = cif.events, cif.competing_events
    first = (f"{capitalize(count(k, 'patient', key=f'{analysis_id}|=|events'))} relapsed or progressed" if k else
             "No patient relapsed or progressed")
    second = (f"{number(m, f'{analysis_id}.competing|=|events')} died without a prior relapse" if m
              else "none died without a prior relapse")
    out = [f"{first} and {second}."]
    relapse_at, death_at = _incidence_at(cif, years, analysis_id)
    words = _years(years)
    refs = f"({{numref}}`{figure_name}`, {{numref}}`{table_name}`)"
    if k:
        lead = "Treating those deaths as a competing event, the" if m else "The"
        text = (f"{lead} cumulative incidence of relapse or progression was "
                + join(f"{v} at {w}" for v, w in zip(relapse_at, words)))
        if m:
            text += (f"; the cumulative incidence of death without relapse at {words[-1]} was "
                     f"{death_at[-1]}")
        out.append(f"{text} {refs}.")
    else:
        out.append("The cumulative incidence of death without relapse was "
                   + join(f"{v} at {w}" for v, w in zip(death_at, words)) + f" {refs}.")
    return " ".join(out)


# ------------------------------------------------------------------------ published vs reproduced
@dataclass(frozen=True)
class Reproduction:
    """What the published-versus-reproduced section can show.

    ``published``: the study definition's published block (None: no published figures);
    ``stored``: whether its cutoff is stored; ``result``: :func:`nscore.analyses.published.reproduction_table`
    on that cutoff (None when not computed); ``simulated``: whether the data of that cutoff are
    simulated (None when not read).
    """

    published: object = None
    stored: bool = False
    result: object = None
    simulated: bool | None = None

    @property
    def shown(self) -> bool:
        return self.result is not None and self.result.n_figures > 0

    @property
    def cutoff(self) -> str | None:
        return self.published.cutoff.isoformat() if self.published is not None else None


def reproduction_paragraph(r: Reproduction, table_name: str = "tbl-reproduction") -> str:
    """The section's text: the comparison and what it checks, or one line saying there is none."""
    if r.published is None or not r.published.figures:
        return ("The study definition holds no published figures, so there is nothing to compare "
                "with the data.")
    if not r.stored:
        return (f"The published figures refer to the data cutoff {r.cutoff}, which is not among the "
                "stored data versions, so there is nothing to compare.")
    res = r.result
    n, k = res.n_figures, res.n_match
    if k == n:
        matched = f"all {n} figures match." if n > 1 else "the figure matches."
    elif k == 0:
        matched = (f"none of the {n} figures match: see the rows marked 'no'." if n > 1 else
                   "the figure does not match: see the row marked 'no'.")
    else:
        matched = f"{k} of {n} figures match; see the rows marked 'no' for the others."
    text = (f"The abstract reports its figures as of {r.cutoff}. {{numref}}`{table_name}` recomputes "
            f"each of them from the stored data version of that cutoff (whatever cutoff the rest of "
            f"this page uses) and prints it the way the abstract does: {matched}")
    if r.simulated:
        text += (" Because the data of that cutoff are simulated to reproduce the abstract, this "
                 "table checks the simulation and the analysis code; with a real export it would "
                 "check the abstract.")
    else:
        text += (" The data of that cutoff are not simulated, so this table checks the published "
                 "figures against the patient-level data.")
    return text


# ------------------------------------------------------------ standard CAR-T efficacy analyses
# (issue 15) Duration of response and relapse-free survival, outcome by response/MRD at a
# landmark, relapse and non-relapse mortality by transplant at a landmark, hazard ratios by
# subgroup, the aggregated swimmer lanes. Results from nscore.analyses.outcomes; every number
# with the {ard} role of the row its rows() gives.

def _rates_after_response(res, months: Sequence[int], aid: str) -> list[str]:
    at = res.rates_at(months).reset_index(drop=True)
    out = []
    for i, m in enumerate(months):
        t = fmt.rate(*(100 * at.loc[i, c] for c in ("survival", "lower", "upper")))
        out.append(BEYOND_FOLLOW_UP if t == NOT_ESTIMABLE else role(t, f"{aid}|MONTHS={m}"))
    return out


def _duration_sentence(res, aid: str, who: str, what: str, none: str) -> str:
    if res.km is None:
        return none
    km = res.km
    left = (f" ({count(res.n_excluded, 'responder', key=f'{aid}.excluded|=|n')} without a usable response "
            "date left out)") if res.n_excluded else ""
    patients = f"{count(km.n_, 'patient', key=f'{aid}|=|N')} {who}"
    if km.events_ == 0:
        return (f"None of the {patients}{left} relapsed, progressed or died after the "
                f"response, so the median {what} is not reached.")
    return (f"Among the {patients}{left}, "
            f"{events_phrase(km.events_, 'relapse, progression or death', 'relapses, progressions or deaths', key=f'{aid}|=|events')} "
            f"followed the response; the median {what} was "
            f"{median_phrase(km.median_, *km.median_ci_, key=aid)}.")


def response_duration_paragraph(durations, figure_name: str = "fig-dor") -> str:
    """Duration of response (responders) and relapse-free survival (CR/CRi), with the rates at 6 and
    12 months after response (:func:`nscore.analyses.outcomes.response_durations`)."""
    dor, rfs, months = durations.dor, durations.rfs, durations.months
    out = ["Duration of response is counted from the best-response assessment (the only response date "
           "the data hold) to relapse, progression or death, among patients with CR, CRi or PR; "
           "relapse-free survival is the same among patients with CR or CRi."]
    out.append(_duration_sentence(dor, "dor.km", "with CR, CRi or PR", "duration of response",
                                  "No patient responded, so duration of response is not estimable."))
    out.append(_duration_sentence(rfs, "rfs.km", "with CR or CRi", "relapse-free survival",
                                  "No patient reached CR or CRi, so relapse-free survival is not estimable."))
    shown = [(name, r, aid) for name, r, aid in (("duration of response", dor, "dor.km"),
                                                  ("relapse-free survival", rfs, "rfs.km"))
             if r.km is not None and r.km.events_ > 0]  # without events the rates are 100%: said above
    if shown:
        parts = [f"{name} was " + join(f"{v} at {role(f'{m} months', f'{aid}|MONTHS={m}|time')}"
                                      for v, m in zip(_rates_after_response(r, months, aid), months))
                 for name, r, aid in shown]
        out.append(capitalize(sentence("; ".join(parts))[:-1]) + f" after response ({{numref}}`{figure_name}`).")
    return " ".join(out)


def response_duration_shown(durations) -> bool:
    return durations.dor.km is not None or durations.rfs.km is not None


def _group_medians(res, aid: str) -> str:
    parts = []
    for g, km in res.curves.items():
        parts.append(f"{g}: {count(km.n_, 'patient', key=f'{aid}|RESPONSE_AT_LANDMARK={g}|N')}, median "
                     f"{median_phrase(km.median_, *km.median_ci_, key=f'{aid}|RESPONSE_AT_LANDMARK={g}')}")
    return "; ".join(parts)


def response_landmark_paragraph(landmarks, figure_name: str = "fig-response-landmark") -> str:
    """Overall and progression-free survival from the response landmark by response (and MRD)
    status on that day (:func:`nscore.analyses.outcomes.response_landmarks`)."""
    os_, pfs = landmarks.os, landmarks.pfs
    day = role(fmt.number(os_.day), "os.landmark.response|=|time")
    grouping = ("CR or CRi with negative MRD, with positive MRD or without an MRD assessment, and no CR or CRi"
                if landmarks.by == "mrd" else
                "CR or CRi against no CR or CRi; MRD was not collected, so CR or CRi is not split by it")
    intro = ("Grouping patients by their best response would credit responders with the time they had to "
             "survive to respond. Instead, efficacy-evaluable patients alive and event-free on day "
             f"{day} after infusion (a landmark after the first response assessment) were grouped by the response "
             f"assessed by then ({grouping}) and followed from that day.")
    if os_.n_included == 0:
        return intro + f" Nobody was alive and in follow-up on day {fmt.number(os_.day)}, so this is not estimable."
    excl = ("" if os_.n_excluded == 0 else
            f" ({count(os_.n_excluded, 'patient', key='os.landmark.response.excluded|=|n')} had died or were "
            "censored earlier)")
    if not any(km.events_ for r in (os_, pfs) for km in r.curves.values()):
        sizes = "; ".join(f"{g}: {count(km.n_, 'patient', key=f'os.landmark.response|RESPONSE_AT_LANDMARK={g}|N')}"
                          for g, km in os_.curves.items())
        return " ".join([intro, f"Of the {count(os_.n_included, 'patient', key='os.landmark.response|=|N')} "
                                f"included{excl} ({sizes}), none relapsed, progressed or died after the landmark, "
                                f"so the groups are not compared ({{numref}}`{figure_name}`)."])
    out = [intro, f"For overall survival, {count(os_.n_included, 'patient', key='os.landmark.response|=|N')} "
                  f"were included{excl}: {_group_medians(os_, 'os.landmark.response')} "
                  f"({logrank_phrase(os_, key='os.landmark.response.logrank')}; {{numref}}`{figure_name}`)."]
    if pfs.n_included:
        out.append(f"For progression-free survival, {count(pfs.n_included, 'patient', key='pfs.landmark.response|=|N')} "
                   f"were alive and free of relapse or progression on that day: "
                   f"{_group_medians(pfs, 'pfs.landmark.response')} "
                   f"({logrank_phrase(pfs, event='relapse, progression or death', events='relapses, progressions or deaths', key='pfs.landmark.response.logrank')}).")
    if len(os_.curves) > 1:
        out.append("Response is not randomised: these groups differ in disease and fitness as well, so the "
                   "comparison is descriptive.")
    return " ".join(out)


def response_landmark_shown(landmarks) -> bool:
    return landmarks.os.n_included > 0 and len(landmarks.os.curves) > 0


def _gray_phrase(test, aid: str, what: str) -> str:
    if test is None:
        return f"Gray's test not done: no {what}"
    return f"Gray's test {role(fmt.p_value(test.p_value), aid)}"  # the role holds the formatted p only (parity)


def transplant_incidence_paragraph(incidence, years: Sequence[int], figure_name: str = "fig-cif-hct") -> str:
    """Relapse and non-relapse mortality from the transplant landmark by transplant by then
    (:func:`nscore.analyses.outcomes.transplant_incidence`)."""
    r = incidence.result
    day = fmt.number(r.day)
    if r.reason:
        return f"Relapse and non-relapse mortality are not compared by transplant, because {r.reason}."
    if len(r.groups) < 2:
        done = "HCT" in r.groups
        if r.n_included == 1:
            lead = (f"The only patient alive and relapse-free on day {day} had "
                    f"{'' if done else 'not '}been transplanted by then")
        else:
            lead = (f"Of the {count(r.n_included, 'patient')} alive and relapse-free on day {day}, "
                    f"{'all' if done else 'none'} had been transplanted by then")
        return f"{lead}, so relapse and non-relapse mortality are not compared by transplant."
    hct, no = r.groups["HCT"], r.groups["No HCT"]
    y = years[0]
    at = {g: c.at([y * tables.YEAR_DAYS]).iloc[0] for g, c in r.groups.items()}

    def inc(g, sfx, aid):
        t = fmt.rate(*(100 * at[g][c + sfx] for c in ("cif", "lower", "upper")))
        return BEYOND_FOLLOW_UP if t == NOT_ESTIMABLE else role(t, f"{aid}|HCT_BY_LANDMARK,YEARS={g},{y}")

    out = [("Transplant is a time-dependent state, so it is compared at a landmark: "
            f"{count(r.n_included, 'patient', key='relapse.cif.hct|=|N')} were alive, relapse-free and in "
            f"follow-up on day {role(day, 'relapse.cif.hct|=|time')}, "
            f"{number(hct.n, 'relapse.cif.hct|HCT_BY_LANDMARK=HCT|N')} of them transplanted by then and "
            f"{number(no.n, 'relapse.cif.hct|HCT_BY_LANDMARK=No HCT|N')} not; both groups were followed from "
            "the landmark, with relapse or progression and death without relapse (non-relapse mortality) "
            "as competing events.")]
    if not incidence.has_events:
        out.append("No relapse and no death without relapse followed the landmark, so there is no incidence to "
                   "compare.")
        return " ".join(out)
    out.append(f"At {count(y, 'year')} after the landmark, the cumulative incidence of relapse was "
               f"{inc('HCT', '', 'relapse.cif.hct')} in transplanted and {inc('No HCT', '', 'relapse.cif.hct')} in "
               f"untransplanted patients ({_gray_phrase(r.gray_relapse, 'relapse.cif.hct.gray', 'relapse')}); "
               f"non-relapse mortality was {inc('HCT', '_competing', 'nrm.cif.hct')} and "
               f"{inc('No HCT', '_competing', 'nrm.cif.hct')} "
               f"({_gray_phrase(r.gray_nrm, 'nrm.cif.hct.gray', 'death without relapse')}; {{numref}}`{figure_name}`).")
    out.append("Patients transplanted after the landmark stay in the untransplanted group, and transplant "
               "was offered to selected patients, so the contrast is not a randomised comparison.")
    return " ".join(out)


def _hr_levels(table, endpoint: str) -> list[str]:
    t = table[(table["endpoint"] == endpoint) & (table["status"] == "estimated")]
    t = t[(t["lower"] > 1) | (t["upper"] < 1)]
    aid = f"{endpoint.lower()}.cox.subgroup"
    return [f"{r.subgroup.lower()} {r.level} against {r.reference} "
            f"({role(fmt.hazard_ratio(r.hr, r.lower, r.upper), f'{aid}|{str(r.variable).upper()}={r.level}')})"
            for r in t.itertuples(index=False)]


def subgroup_hazard_paragraph(hazards, figure_name: str = "fig-hr-forest") -> str:
    """What the hazard-ratio forest shows and which intervals exclude 1
    (:func:`nscore.analyses.outcomes.subgroup_hazard_ratios`)."""
    if not hazards.shown:
        return ("No subgroup has two levels with events, so hazard ratios by subgroup are not "
                "estimable.")
    out = ["{numref}`" + figure_name + "` gives, for each baseline subgroup, the hazard ratio of death (overall "
           "survival) and of relapse, progression or death (progression-free survival) of each level against "
           "the factor's reference level, from one Cox model per factor (unadjusted)."]
    for ep, name in (("OS", "overall survival"), ("PFS", "progression-free survival")):
        levels = _hr_levels(hazards.table, ep)
        if levels:
            out.append(f"For {name}, the 95% confidence interval excluded a hazard ratio of one for {join(levels)}.")
        else:
            out.append(f"For {name}, no subgroup's 95% confidence interval excluded a hazard ratio of one.")
    ne = hazards.table[hazards.table["status"] == "not estimable"]
    if len(ne):
        out.append("Levels without events have no hazard ratio (" + join(sorted(
            {f"{r.subgroup.lower()} {r.level}" for r in ne.itertuples(index=False)})) + ").")
    out.append("With several factors and no correction for multiplicity, these are descriptive.")
    return " ".join(out)


def swimmer_paragraph(lanes, figure_name: str = "fig-swimmer") -> str:
    """The aggregated swimmer plot: what it shows and why it is not one bar per patient."""
    small = ""
    if lanes.combined:
        groups = join(lanes.combined)
        small = (f" Groups too small to show without showing individual courses ({groups}) "
                 + ("are left out, as even combined they would be too small." if lanes.hidden
                    else "share one lane."))
    if not lanes.shown:
        return ("No best-response group has enough patients to show its course without showing individual "
                f"patients, so the aggregated swimmer plot is not drawn.{small}")
    sizes = "; ".join(f"{lane} ({count(n, 'patient', key=f'swimmer.lanes|BOR_GROUP={lane}|N')})"
                      for lane, n in lanes.lanes.items())
    return ("A swimmer plot draws one bar per patient; to keep individual courses off this site, "
            f"{{numref}}`{figure_name}` aggregates it. Each lane is a best-response group and shows, at regular "
            "time points after infusion, the share of its patients in each state: "
            "no response yet, in response, transplanted in remission, relapsed or progressed, died, or "
            f"follow-up ended. Lane sizes: {sizes}.{small}")
