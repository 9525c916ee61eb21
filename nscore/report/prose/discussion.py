"""The Discussion chapter's data-dependent sentences: discussion, limitations and conclusion.

Each function takes analysis results (headline figures, the patient flow, incidences) or a few
counts and returns the words the chapter shows, so every claim stays true at a new cutoff and on
odd data. What the words must not do, whatever the data:

- judge a result ("high", "favourable", "promising"): rates, medians and estimates are reported
  with their intervals and left to the reader; the only comparison with published series is where
  a published rate lies relative to the 95% confidence interval computed here (:func:`position`),
  which the printed numbers cannot contradict;
- type a number of this cohort: every count, rate, median and interval comes from
  :func:`nscore.analyses.headline.headline_figures`, :func:`nscore.analyses.cohort.patient_flow`,
  :func:`nscore.analyses.safety.incidence` or :func:`follow_up_maturity`; the literature's numbers are
  data too (``data/literature.yml``, ARD rows ``literature.<citation key>.<endpoint>`` of
  :func:`nscore.analyses.literature.literature_rows`), printed with their ``{ard}`` role beside
  their citation; only the words describing each publication live here (:data:`LITERATURE`);
- call the data simulated unless ``cohort.simulated`` says so, or say "0%" for something not
  collected: response not assessed, transplants or adverse-event categories not collected are said
  in words ("not collected", "not estimable").

One module per chapter (about 560 lines): every data-dependent sentence of the Discussion, in the
chapter's order, so the words of one page are reviewed in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from nscore.report import tables
from nscore.report import format as fmt
from nscore.report.presenters import headline_figure as _fig
from nscore.report.format import percent as format_percent
from nscore.report.trace import Traced, cite, role, select
from nscore.report.narrative import capitalize, count, join, number, sentence

__all__ = [
    "Series",
    "LITERATURE",
    "literature",
    "TOXICITIES",
    "FollowUpMaturity",
    "follow_up_maturity",
    "trials_seen",
    "diagnoses_seen",
    "position",
    "summary_paragraph",
    "literature_paragraph",
    "survival_context",
    "transplant_paragraph",
    "safety_paragraph",
    "limitations",
    "conclusion",
]


# ------------------------------------------------------------------------------- the literature
@dataclass(frozen=True)
class Series:
    """A published CD7 CAR-T series, in words: ``key`` (the references.bib key) and ``product``
    (what was given). Its numbers are rows of the literature ARD (:func:`literature`)."""

    key: str
    product: str


#: The published series the Discussion cites (their figures: ``data/literature.yml``).
LITERATURE: tuple[Series, ...] = (
    Series("lu2022ns7car", "autologous naturally selected CD7 CAR-T cells (NS7CAR), made without gene editing"),
    Series("pan2021jco", "donor-derived CD7 CAR-T cells, made from a previous transplant donor or a new donor"),
    Series("tan2023jho", "the same donor-derived CD7 CAR-T cells"),
    Series("chiesa2023nejm", "base-edited universal CD7 CAR-T cells from healthy donors (BE-CAR7), with CD7, CD52 "
                             "and the T-cell receptor inactivated"),
)


def literature(data_dir=None):
    """The literature's ARD rows (``data/literature.yml`` of ``data_dir``, else the project's): what
    the chapter records (``ard.record``) and passes to the paragraphs below."""
    from nscore.analyses import ard
    from nscore.analyses.literature import literature_rows
    from nscore.data.literature import read_literature

    return ard.frame(literature_rows(read_literature(data_dir)))


class _Quoted:
    """Traced text of the literature's rows: ``q.n("pan2021jco", "cr")`` -> ``{ard}`18 <...|=|n>```."""

    def __init__(self, rows):
        self.rows = literature() if rows is None else rows

    def key(self, source: str, endpoint: str, stat: str | None = None, group: tuple[str, str] = ("", "")) -> str:
        aid = f"literature.{source}.{endpoint}"
        if stat is None:
            return aid if group == ("", "") else f"{aid}|{group[0]}={group[1]}"
        return f"{aid}|{group[0]}={group[1]}|{stat}"

    def value(self, source: str, endpoint: str, stat: str, group: tuple[str, str] = ("", "")) -> float:
        return float(select(self.rows, self.key(source, endpoint, stat, group))["value"].iloc[0])

    def n(self, source: str, endpoint: str, stat: str = "n", group: tuple[str, str] = ("", "")) -> str:
        return cite(self.rows, self.key(source, endpoint, stat, group), fmt.count)

    def number(self, source: str, endpoint: str, stat: str, digits: int = 0) -> str:
        key = self.key(source, endpoint, stat)
        return role(fmt.number(self.value(source, endpoint, stat), digits), key)

    def percent(self, source: str, endpoint: str, digits: int = 0) -> str:
        """A published percentage as the publication prints it (``90%``)."""
        key = self.key(source, endpoint, "percent")
        return role(fmt.percent(self.value(source, endpoint, "percent"), digits=digits), key)

    def exact_percent(self, source: str, endpoint: str) -> str:
        """``k/N`` of a published count as a percentage (``95.0%``), by the book's convention."""
        return cite(self.rows, self.key(source, endpoint), fmt.percent)

    def rate(self, source: str, endpoint: str) -> str:
        return cite(self.rows, self.key(source, endpoint), fmt.rate)


#: Toxicities a CAR-T trial report gives, as (code in ``study.yml`` ``adverse_events``, name).
TOXICITIES: tuple[tuple[str, str], ...] = (
    ("CRS", "cytokine release syndrome"),
    ("ICANS", "neurotoxicity (ICANS)"),
    ("CYTOPENIA", "prolonged cytopenias"),
    ("INFECTION", "infections"),
    ("IEC-HS", "IEC-associated haemophagocytic syndrome (IEC-HS)"),
    ("GVHD", "graft-versus-host disease"),
)


# ----------------------------------------------------------------------------- small helpers
def _isnan(v) -> bool:
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return v is None


def _count_of(row) -> tuple[int, int] | None:
    """``(k, n)`` of a rate row of the headline figures, or None (not collected / not evaluable)."""
    if row["status"] != "estimated" or _isnan(row.get("k")) or _isnan(row.get("n")):
        return None
    return int(row["k"]), int(row["n"])


def _show(row) -> str:
    """A figure's text as the page writes it: with the ``{ard}`` role when it carries its key
    (headline figures from ``presenters.with_display(figures, traced=True)``)."""
    display = row["display"]
    return display.myst() if isinstance(display, Traced) else str(display)


def _key(row, stat: str | None = None) -> str | None:
    """The ARD key of a traced headline figure (``headline.orr``, or one statistic of it)."""
    display = row["display"]
    if not isinstance(display, Traced):
        return None
    return display.key if stat is None else f"{display.key}|=|{stat}"


def _rate(row) -> str:
    """A headline rate as printed on the landing page, "no patient (0/334; ...)" for a zero count."""
    kn = _count_of(row)
    display = row["display"]
    if kn is not None and kn[0] == 0 and isinstance(display, Traced):
        return (f"no patient ({role(fmt.n_of_N(*kn), display.key)}; "
                f"{role(fmt.ci(row['lower'], row['upper']), display.key)})")
    display = str(display)
    if kn is not None and kn[0] == 0 and "(" in display:
        return "no patient " + display[display.index("("):]
    return _show(row)


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def trials_seen(cohort) -> int:
    """The number of trials (STUDYID) that contributed patients to this cutoff."""
    return int(cohort.adsl["STUDYID"].nunique())


def diagnoses_seen(cohort) -> list[str]:
    """Codes of the diagnoses with patients in this cutoff, in the study's clinical order."""
    present = set(cohort.adsl["DIAG"].dropna().astype(str))
    study = getattr(cohort, "study", None)
    order = [d.code for d in study.diagnoses] if study is not None else []
    return [c for c in order if c in present] + sorted(present - set(order))


# ------------------------------------------------------------------------------ follow-up
@dataclass(frozen=True)
class FollowUpMaturity:
    """Potential follow-up (cutoff minus infusion date) of every infused patient.

    ``n``: patients; ``n_short``: patients infused less than ``years`` before the cutoff (their
    outcome at ``years`` cannot have been observed, whatever happened to them); ``threshold_days``:
    ``years`` in days (:data:`nscore.report.tables.YEAR_DAYS`); ``min_days``/``max_days``: the shortest and
    longest potential follow-up.
    """

    n: int
    n_short: int
    years: int
    threshold_days: float
    min_days: float
    max_days: float

    @property
    def share(self) -> str:
        return format_percent(self.n_short, self.n) if self.n else ""


def follow_up_maturity(cohort, years: int | None = None) -> FollowUpMaturity:
    """How many patients could not yet have been followed for ``years`` (default: the last of
    :data:`nscore.statistics.survival.REPORT_YEARS`), from each infusion date (ADSL TRTSDT) to the cutoff.

    This is the *potential* follow-up: it does not shrink when a patient dies (unlike observed
    follow-up), so it measures how mature the data are, not how long patients lived.
    """
    import pandas as pd

    from nscore.statistics.survival import REPORT_YEARS

    years = int(REPORT_YEARS[-1] if years is None else years)
    if years <= 0:
        raise ValueError(f"years must be positive, got {years}")
    cutoff = pd.Timestamp(cohort.cutoff)
    start = pd.to_datetime(cohort.adsl["TRTSDT"], errors="coerce")
    days = (cutoff - start).dt.days.dropna().astype(float)
    threshold = years * tables.YEAR_DAYS
    n = int(len(days))
    return FollowUpMaturity(n=n, n_short=int((days < threshold).sum()), years=years, threshold_days=threshold,
                            min_days=float(days.min()) if n else float("nan"),
                            max_days=float(days.max()) if n else float("nan"))


# ------------------------------------------------------------------------------ comparisons
def position(k: int, n: int, lower: float, upper: float) -> str:
    """Where the published rate ``k/n`` lies relative to our 95% interval ``[lower, upper]`` (in %).

    "above the upper limit of that interval", "below its lower limit" or "inside it" (limits
    included), comparing the published rate as printed (one decimal, rounded half-up).
    """
    if n <= 0 or k < 0 or k > n:
        raise ValueError(f"a published rate needs 0 <= k <= n and n > 0, got {k}/{n}")
    if _isnan(lower) or _isnan(upper):
        raise ValueError("the interval to compare with is not estimable")
    value = float(format_percent(k, n).rstrip("%"))
    if value > round(float(upper), 1):
        return "above the upper limit of that interval"
    if value < round(float(lower), 1):
        return "below its lower limit"
    return "inside it"


# ------------------------------------------------------------------------------- discussion
def summary_paragraph(figures, flow, *, therapy: str, n_trials: int, diagnoses: Sequence[str],
                      simulated: bool, trials_key: str | None = None) -> str:
    """The Discussion's opening: what was pooled and the main results, without a value judgement.

    ``figures``: :func:`nscore.analyses.headline.headline_figures`; ``flow``: :func:`nscore.analyses.cohort.patient_flow`;
    ``diagnoses``: codes with patients (:func:`diagnoses_seen`).
    """
    n = int(_fig(figures, "n_infused")["value"])
    source = (f"pooled from {count(n_trials, 'trial', key=trials_key)}" if n_trials >= 2 else
              "from a single trial" if n_trials == 1 else "")
    data = "simulated data of " if simulated else ""
    n_row = _fig(figures, "n_infused")
    who = (f"This chapter reads the {data}{count(n, 'patient', key=_key(n_row, 'n'))} who received {therapy}"
           + (f", {source}" if source else "") + f", with {join(diagnoses) or 'no recorded diagnosis'}.")
    parts = [who]
    n_eval = int(_fig(figures, "n_evaluable")["value"])
    if n_eval:
        parts.append(f"Among the {count(n_eval, 'evaluable patient', key=_key(_fig(figures, 'n_evaluable'), 'n'))}, "
                     "the overall response rate was "
                     f"{_show(_fig(figures, 'orr'))} and the CR/CRi rate {_show(_fig(figures, 'cr_cri'))}.")
    else:
        parts.append("No patient was evaluable for response, so these data say nothing about response.")
    parts.append(survival_sentence(figures))
    if flow.n_hct_total is None:
        parts.append("Whether patients were transplanted after infusion was not collected.")
    elif flow.n_hct_total == 0:
        parts.append("No patient was transplanted after infusion.")
    else:
        parts.append(f"{capitalize(_show(_fig(figures, 'hct_rate')))} of the patients "
                     f"{_was(flow.n_hct_total)} transplanted after infusion.")
    return " ".join(parts)


def survival_sentence(figures) -> str:
    """Kaplan-Meier medians of OS and PFS (or not reached / not estimable) and median follow-up."""
    def median(key: str, what: str) -> str:
        row = _fig(figures, key)
        if row["status"] == "not estimable":
            return f"the median {what} is not estimable"
        if row["status"] == "not reached":
            return f"the median {what} was not reached"
        return f"the median {what} was {_show(row)}"

    fu = _fig(figures, "followup_median")
    if fu["status"] == "estimated":
        follow = f"after a median follow-up, by the reverse Kaplan-Meier method, of {_show(fu)}"
    elif fu["status"] == "not reached":
        follow = "with the median follow-up not reached (reverse Kaplan-Meier)"
    else:
        follow = "with the median follow-up not estimable (every patient died before the cutoff)"
    return sentence(f"{follow}, {median('os_median', 'overall survival')} and "
                    f"{median('pfs_median', 'progression-free survival')}")


def _product(key: str) -> str:
    return next(s.product for s in LITERATURE if s.key == key)


def literature_paragraph(figures, diagnoses: Sequence[str], literature_rows=None) -> str:
    """The published CD7 CAR-T series (cited facts), and where their remission rates lie relative
    to the CR/CRi interval of these data (computed), or why no such comparison is possible.

    ``literature_rows``: :func:`literature` (default: the project's ``data/literature.yml``)."""
    q = _Quoted(literature_rows)
    lu, pan, base = "lu2022ns7car", "pan2021jco", "chiesa2023nejm"
    text = [
        f"In the first-in-human trial of the Natural Selection platform, {q.n(lu, 'treated')} patients with "
        f"relapsed or refractory T-ALL ({q.n(lu, 'treated', group=('DIAG', 'T-ALL'))}) or T-LBL "
        f"({q.n(lu, 'treated', group=('DIAG', 'T-LBL'))}) received {_product(lu)}; "
        f"{q.n(lu, 'mrd_negative_cr')} of the {q.n(lu, 'mrd_negative_cr', 'N')} reached MRD-negative complete "
        f"remission in the marrow by day {q.number(lu, 'mrd_negative_cr', 'time')}, and {q.n(lu, 'hct')} went on "
        f"to an allogeneic transplant ({q.n(lu, 'hct', group=('HCT', 'consolidation'))} as consolidation, "
        f"{q.n(lu, 'hct', group=('HCT', 'salvage'))} as salvage) {{cite:p}}`{lu}`. In a single-centre phase I "
        f"trial, {q.n(pan, 'treated')} patients with relapsed or refractory T-ALL received {_product(pan)}; "
        f"{q.n(pan, 'cr')} of the {q.n(pan, 'cr', 'N')} ({q.percent(pan, 'cr')}) reached complete remission and "
        f"{q.n(pan, 'hct')} proceeded to transplant {{cite:p}}`{pan}`. Gene editing removes CD7 from the CAR-T "
        "cells themselves {cite:p}`gomessilva2017`; in an interim report of a phase I trial of "
        f"{_product(base)}, the first patient reached molecular remission within "
        f"{q.number(base, 'first_patient_remission', 'time')} days and was then transplanted; of the other two, "
        f"one died of fungal complications and the other was transplanted in remission {{cite:p}}`{base}`. "
        "Protein expression blockers, which keep CD7 inside the cell, are a further route "
        "{cite:p}`liu2023cd7review`.",
    ]
    row = _fig(figures, "cr_cri")
    kn = _count_of(row)
    if kn is None or kn[1] == 0:
        text.append("Response was not assessed in these data, so no remission rate can be set beside "
                    "these series.")
        return " ".join(text)
    rates = [(lu, "mrd_negative_cr", "MRD-negative marrow complete remission by day "
              f"{q.number(lu, 'mrd_negative_cr', 'time')}", "first-in-human trial"),
             (pan, "cr", "complete remission", "donor-derived trial")]
    where = [position(int(q.value(src, ep, "n")), int(q.value(src, ep, "N")), row["lower"], row["upper"])
             for src, ep, _, _ in rates]
    described = [f"the rate of {what} in the {label} ({q.n(src, ep)} of {q.n(src, ep, 'N')}, "
                 f"{q.exact_percent(src, ep)})" for src, ep, what, label in rates]
    if where[0] == where[1]:
        both = f"{described[0]} and {described[1]} both lie {where[0]}"
    else:
        both = f"{described[0]} lies {where[0]}, and {described[1]} lies {where[1]}"
    text.append(f"Here the CR/CRi rate was {_show(row)}; {both}.")
    held = (f"{q.n(lu, 'treated')} patients each" if q.value(lu, "treated", "n") == q.value(pan, "treated", "n")
            else f"{q.n(lu, 'treated')} and {q.n(pan, 'treated')} patients")
    text.append(f"Those trials held {held}, all with T-ALL or "
                "T-LBL, and counted remission by their own definitions; the patients here have "
                f"{join(diagnoses)}. Side by side, the rates describe different patients and definitions, not a "
                "comparison of products.")
    return " ".join(text)


def survival_context(km_os, km_pfs, literature_rows=None) -> str:
    """The long-term follow-up of the donor-derived series (cited) beside the Kaplan-Meier estimates
    of these data at the series' own horizon (computed; "not estimable" when follow-up is shorter).

    ``km_os``, ``km_pfs``: :func:`nscore.statistics.survival.kaplan_meier` of OS and PFS;
    ``literature_rows``: :func:`literature`.
    """
    from nscore.report.prose.results import BEYOND_FOLLOW_UP, estimates_at
    from nscore.statistics.survival import REPORT_YEARS

    q = _Quoted(literature_rows)
    tan = "tan2023jho"
    months = q.value(tan, "pfs_24m", "time")
    text = (f"Long-term results have been published for the donor-derived trial: in the {q.n(tan, 'treated')} "
            f"patients of that trial, followed for a median of {q.number(tan, 'follow_up', 'median', 1)} months, "
            f"{q.n(tan, 'relapse')} relapsed, {q.n(tan, 'relapse_cd7_negative')} of them with CD7-negative "
            f"leukemia, and progression-free and overall survival {q.number(tan, 'pfs_24m', 'time')} months after "
            f"infusion were {q.rate(tan, 'pfs_24m')} and {q.rate(tan, 'os_24m')} {{cite:p}}`{tan}`.")
    if months % 12:  # a horizon of whole years only: these data's estimates are at years after infusion
        return text + (" Loss of CD7 at relapse is not recorded in these data, so that route of escape cannot be "
                       "examined here.")
    years = int(months // 12)
    span = count(years, "year")
    traced = years in REPORT_YEARS  # the chapter records os.km / pfs.km at REPORT_YEARS
    os_at = estimates_at(km_os, [years], "os.km" if traced else None)[0]
    pfs_at = estimates_at(km_pfs, [years], "pfs.km" if traced else None)[0]
    if os_at == pfs_at == BEYOND_FOLLOW_UP:
        text += f" Follow-up here is too short for an estimate {span} after infusion."
    else:
        text += (f" In these data the Kaplan-Meier estimates {span} after infusion were {pfs_at} for "
                 f"progression-free and {os_at} for overall survival.")
    return text + (" Loss of CD7 at relapse is not recorded in these data, so that route of escape cannot be "
                   "examined here.")


def transplant_paragraph(flow, literature_rows=None) -> str:
    """What the data say about transplantation after infusion, and what they cannot say (beside the
    published series' transplants, ``literature_rows``: :func:`literature`)."""
    if flow.n_hct_total is None:
        return ("Transplantation after infusion was not collected in these data, so its part in the outcomes "
                "cannot be discussed from them.")
    if flow.n_hct_total == 0:
        return ("No patient was transplanted after infusion, so the outcomes here are those of "
                "patients who were not transplanted.")
    text = [f"{capitalize(count(flow.n_hct_total, 'patient', key='flow.hct_total|=|n'))} "
            f"{_was(flow.n_hct_total)} transplanted after infusion"]
    if flow.n_cr_cri and flow.n_hct_after_cr is not None:
        k = flow.n_hct_after_cr
        if k == flow.n_hct_total:
            who = "as" if k == 1 else "all of them as"
        else:
            who = f"{number(k, 'flow.hct|=|n') if k else 'none'} of them as"
        text[0] += f", {who} consolidation after a CR or CRi"
    text[0] += "."
    q = _Quoted(literature_rows)
    lu, pan = "lu2022ns7car", "pan2021jco"
    text.append(f"Transplantation after CD7 CAR-T is common in the published series too: {q.n(lu, 'hct')} of "
                f"{q.n(lu, 'hct', 'N')} patients were transplanted ({q.n(lu, 'hct', group=('HCT', 'consolidation'))} "
                f"as consolidation, {q.n(lu, 'hct', group=('HCT', 'salvage'))} as salvage) in the first-in-human "
                f"NS7CAR trial {{cite:p}}`{lu}` and {q.n(pan, 'hct')} of {q.n(pan, 'hct', 'N')} in the donor-derived "
                f"series {{cite:p}}`{pan}`. Whether transplantation improves survival after "
                "CD7 CAR-T cannot be answered by this cohort: the analyses in {doc}`results` remove the immortal-time bias "
                "of a naive comparison, but patients who reach transplant differ from those who do not (see "
                "Limitations).")
    return " ".join(text)


def safety_paragraph(incidences: Mapping, collected_categories: Iterable[str], literature_rows=None) -> str:
    """Severe CRS and ICANS here (computed) beside the published series' (cited), and what is missing.

    ``incidences``: syndrome -> :func:`nscore.analyses.safety.incidence` for the collected syndromes (empty:
    adverse events not collected); ``collected_categories``: ``cohort.study.adverse_events``;
    ``literature_rows``: :func:`literature`.
    """
    q = _Quoted(literature_rows)
    lu, pan, base = "lu2022ns7car", "pan2021jco", "chiesa2023nejm"
    cited = (f"In the first-in-human NS7CAR trial, {q.n(lu, 'crs_g0_2')} of its {q.n(lu, 'treated')} patients had "
             f"CRS of grade 2 or lower, {q.n(lu, 'crs_g3')} had grade 3 CRS and {q.n(lu, 'neurotoxicity_g1')} had "
             f"grade 1 neurotoxicity {{cite:p}}`{lu}`; in the donor-derived trial, grade 3\u20134 CRS occurred in "
             f"{q.n(pan, 'crs_g3_4')} of its {q.n(pan, 'treated')} patients ({q.percent(pan, 'crs_g3_4')}), grade "
             f"3\u20134 cytopenia in all {q.n(pan, 'cytopenia_g3_4')}, and grade 1\u20132 graft-versus-host disease "
             f"in {q.n(pan, 'gvhd_g1_2')} ({q.percent(pan, 'gvhd_g1_2')}) {{cite:p}}`{pan}`; and with base-edited "
             "cells, serious adverse events included CRS, multilineage cytopenia and opportunistic infections "
             f"{{cite:p}}`{base}`.")
    if not incidences:
        return ("Adverse events were not collected in these data, so the safety of the therapy cannot be "
                "described from them. " + cited)
    ours = []
    for syndrome, inc in incidences.items():
        any_, g3 = inc.any_grade, inc.grade_3_plus
        if any_.k == 0:
            ours.append(f"no patient had {syndrome}")
        elif g3.k == 0:
            ours.append(f"{syndrome} of any grade occurred in "
                        f"{cite(inc, f'safety.{syndrome.lower()}.any', fmt.proportion, with_ci=False)} "
                        "and none was of grade 3 or higher")
        else:
            ours.append(f"{syndrome} of any grade occurred in "
                        f"{cite(inc, f'safety.{syndrome.lower()}.any', fmt.proportion, with_ci=False)} and grade 3 "
                        f"or higher {syndrome} in {cite(inc, f'safety.{syndrome.lower()}.g3', fmt.proportion)}")
    text = [sentence("in these data, " + "; ".join(ours)), cited]
    missing = missing_toxicities(collected_categories)
    if missing:
        text.append(f"The data hold no record of {join(missing, 'or')}, which these series and the "
                    "wider CAR-T literature report, so this chapter cannot set them beside the published figures.")
    return " ".join(text)


def missing_toxicities(collected_categories: Iterable[str]) -> list[str]:
    """Names of the :data:`TOXICITIES` whose category is not among those collected."""
    have = {str(c).strip().upper() for c in collected_categories}
    return [name for code, name in TOXICITIES if code not in have]


# ------------------------------------------------------------------------------ limitations
def limitations(*, n_trials: int, therapy: str, flow, maturity: FollowUpMaturity, simulated: bool,
                collected_categories: Sequence[str], n_evaluable: int, published_source: str | None = None,
                trials_key: str | None = None) -> str:
    """The Limitations as a MyST bullet list; each item only where it applies, in words that hold.

    ``published_source``: the bib key of the study's published figures (``study.published.source``),
    which a simulation of this study was built to reproduce; None when the study has none.
    """
    items = []
    if n_trials >= 2:
        items.append(f"**Pooled single-arm trials.** The patients come from "
                     f"{count(n_trials, 'trial', key=trials_key)}, each with its "
                     "own protocol: eligibility, dose levels, enrolment periods and schedules of assessment need not "
                     "be the same. Pooling them assumes these differences do not matter, which the pooled data "
                     "cannot check. No patient was assigned to a comparator, so no result here "
                     f"measures the effect of {therapy} against another treatment.")
    else:
        items.append("**No comparison group.** All patients are analysed as one group, so no result here "
                     f"measures the effect of {therapy} against another treatment.")
    if flow.n_hct_total is not None and flow.n_hct_total > 0:
        items.append("**Confounding by indication for transplantation.** Patients are selected for transplant: "
                     "typically those in remission, fit enough and with a donor. The transplant analyses of the "
                     "Results chapter (landmark, time-dependent Cox model and Simon-Makuch curves, where the data "
                     "allow them) remove the immortal-time bias of counting the time before transplant as "
                     "transplanted time, but not this selection: no analysis of these data separates "
                     "the effect of transplantation from the prognosis of the patients selected for it.")
    items.append(maturity_item(maturity, traced=trials_key is not None))
    if simulated:
        built = (f" The simulation was built to reproduce the aggregate figures of the published abstract "
                 f"{{cite:p}}`{published_source}`, but every other pattern in the data" if published_source else
                 " Every pattern in them")
        items.append(f"**Simulated data.** The patient-level data of this cutoff are simulated.{built} (by "
                     "subgroup, dose or time) follows the assumptions of the simulation, not patients.")
    if n_evaluable == 0:
        items.append("**Response not assessed.** No patient was evaluable for response, so remission rates, the "
                     "depth of remission and the comparison with published response rates are missing.")
    missing = missing_toxicities(collected_categories)
    if missing:
        if not collected_categories:
            items.append("**Safety not collected.** Adverse events were not collected, so this book describes "
                         "no toxicity of the therapy.")
        else:
            items.append(f"**Incomplete safety data.** Of the toxicities a CAR-T report gives, {join(missing)} "
                         f"{_was(len(missing))} not collected, so the safety picture is partial.")
    return "\n".join(f"- {item}" for item in items)


def maturity_item(m: FollowUpMaturity, traced: bool = False) -> str:
    """The follow-up limitation: the share of patients infused less than ``m.years`` before the cutoff
    (``traced``: its numbers with the ``{ard}`` role of the ``followup.potential`` rows)."""
    span = count(m.years, "year")
    if m.n == 0:
        return "**Follow-up.** No infusion date is recorded, so the maturity of follow-up is not known."
    if m.n_short == 0:
        return (f"**Follow-up.** Every patient was infused at least {span} before the cutoff, so every estimate "
                f"up to {span} rests on patients who could all have been followed that long; relapses and "
                "deaths after the cutoff are not in these data.")
    if m.n_short == m.n:
        who = "The only patient was" if m.n == 1 else f"All {m.n} patients were"
        return (f"**Immature follow-up.** {who} infused less than {span} before the cutoff, so no outcome "
                f"{span} after infusion has been observed yet; estimates at that time are not estimable.")
    if traced:  # the rows of nscore.analyses.cohort.potential_follow_up, recorded by the chapter
        y = f"followup.potential|YEARS={m.years}"
        short, total = count(m.n_short, "patient", key=f"{y}|n"), number(m.n, "followup.potential|=|N")
        share = role(m.share, f"{y}|percent")
    else:
        short, total, share = count(m.n_short, "patient"), str(m.n), m.share
    return (f"**Immature follow-up.** {capitalize(short)} of {total} ({share}) "
            f"{_was(m.n_short)} infused less than {span} before the cutoff, so their outcome {span} after "
            f"infusion cannot have been observed yet. Estimates at {span} rest on the patients enrolled earlier, "
            "who may differ from later enrolments, and will change as follow-up matures.")


# ------------------------------------------------------------------------------- conclusion
def conclusion(figures, flow, *, therapy: str, n_trials: int, simulated: bool, ae_collected: bool,
               maturity: FollowUpMaturity, trials_key: str | None = None) -> str:
    """The Conclusion: what these data show, stated with its uncertainty, and what they cannot show."""
    n = int(_fig(figures, "n_infused")["value"])
    data = "In these simulated data of" if simulated else "In"
    pooled = f" in {count(n_trials, 'trial', key=trials_key)}" if n_trials >= 2 else ""
    parts = [f"{data} {count(n, 'patient', key=_key(_fig(figures, 'n_infused'), 'n'))} who received {therapy}{pooled}"]
    if int(_fig(figures, "n_evaluable")["value"]):
        parts[0] += f", the CR/CRi rate was {_show(_fig(figures, 'cr_cri'))}."
    else:
        parts[0] += ", response was not assessed, so no remission rate is estimable."
    years = maturity.years
    os_y, pfs_y = _fig(figures, f"os_{years}y"), _fig(figures, f"pfs_{years}y")
    when = f"{count(years, 'year')} after infusion"
    if os_y["status"] == "estimated" and pfs_y["status"] == "estimated":
        parts.append(f"An estimated {_show(os_y)} of patients were alive {when}, and {_show(pfs_y)} alive "
                     "without relapse or progression.")
    elif os_y["status"] == "estimated":
        parts.append(f"An estimated {_show(os_y)} of patients were alive {when}; progression-free "
                     "survival at that time is not estimable.")
    else:
        parts.append(f"Survival {when} is not estimable with the follow-up of this cutoff.")
    if ae_collected:
        rows = [(code, _fig(figures, f"{code.lower()}_g3")) for code in ("CRS", "ICANS")]
        shown = [f"grade 3 or higher {code} occurred in {_rate(row)}" for code, row in rows
                 if row["status"] == "estimated"]
        if shown:
            parts.append(sentence(join(shown)))
    else:
        parts.append("Adverse events were not collected, so safety is not described.")
    parts.append("Without a control group, these results describe what happened to these patients and do not, "
                 "on their own, establish how the therapy compares with other treatments"
                 + (" or what part transplantation played" if flow.n_hct_total else "") + ".")
    if maturity.n_short:
        parts.append("The survival estimates can change as the later enrolments are followed longer.")
    return " ".join(parts)
