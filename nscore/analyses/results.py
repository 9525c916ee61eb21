"""The analysis plan of the book: every analysis the chapters show, as ARD rows, for any cutoff.

:func:`book_results` runs, on one cohort, each analysis the chapters call, with the parameters the
chapters use (``km_ci = "log-log"``, ``landmark_day = 100``, ``survival.REPORT_YEARS``), under the
same conditions the chapters show it (a response analysis only with evaluable patients, curves by
diagnosis only with two or more diagnoses, adverse-event tables only when collected, ...). So the
build can write any stored cutoff's ARD and What changed can compare cutoffs without executing the
notebooks. The chapters record the same rows as they run (:mod:`nscore.analyses.ard`); a test holds
the two to the same analysis ids.

An analysis that does not apply to a cohort gives no rows and its reason is listed in the frame's
``attrs["skipped"]`` (``{analysis: reason}``); odd cohorts (no adverse events, one diagnosis, no
response assessment, everyone censored) never raise.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from nscore.analyses import ard, baseline
from nscore.analyses import cohort as cohort_analyses
from nscore.analyses import efficacy, headline, published, safety
from nscore.analyses import toxicity
from nscore.analyses import outcomes
from nscore.analyses import survival_rows as sr
from nscore.errors import NscoreError
from nscore.statistics import survival

__all__ = ["KM_CI", "LANDMARK_DAY", "CHAPTERS", "book_results", "plan"]

#: The chapters' parameters (chapters/src/results.md, methods.md).
KM_CI = "log-log"
LANDMARK_DAY = 100
#: Which chapter shows which group of analyses (the chapter that records them first).
CHAPTERS = {"headline": "index", "flow": "results", "baseline": "results", "efficacy": "results",
            "survival": "results", "transplant": "results", "relapse": "results", "safety": "safety",
            "discussion": "discussion", "abstract": "results",
            "outcomes": "results",
            "deaths": "safety"}  # H7


def _headline(c, ci, day):
    return headline.headline_rows(headline.headline_figures(c, ci=ci), ci=ci)


def _flow(c, ci, day):
    return cohort_analyses.patient_flow(c).rows()


def _baseline(c, ci, day):
    return baseline.baseline_table(c).rows()


def _efficacy(c, ci, day):
    if cohort_analyses.patient_flow(c).n_evaluable == 0:
        raise _Skip("no patient evaluable for response")
    return (efficacy.response_rates(c).rows() + efficacy.mrd_negativity(c).rows()
            + efficacy.response_by_subgroup(c).rows())


def _survival(c, ci, day):
    rows = (sr.km_rows(survival.kaplan_meier(c.adtte, "OS", ci=ci), "os.km", endpoint="OS")
            + sr.km_rows(survival.kaplan_meier(c.adtte, "PFS", ci=ci), "pfs.km", endpoint="PFS")
            + sr.follow_up_rows(survival.median_follow_up(c.adtte, "OS", ci=ci), "followup.os")
            + published.observed_time_rows(c))
    # as the chapter records them: by diagnosis always (one curve when there is one diagnosis, and
    # then no log-rank test), by prior transplants when PRIORHCT was collected
    rows += sr.km_by_rows(survival.kaplan_meier_by(c.adtte, c.adsl, "OS", "DIAG", ci=ci), "os.km.diag",
                          endpoint="OS")
    if _collected(c, "adsl", "PRIORHCT"):
        rows += sr.km_by_rows(survival.kaplan_meier_by(c.adtte, c.adsl, "OS", "PRIORHCT", ci=ci),
                              "os.km.priorhct", endpoint="OS")
    return rows


def _transplant(c, ci, day):
    """The chapter's transplant analyses (report.prose.results.transplant_analyses), same rules."""
    flow = cohort_analyses.patient_flow(c)
    if flow.n_hct_total is None:
        raise _Skip("transplants not collected")
    if flow.n_hct_total == 0:
        raise _Skip("nobody transplanted")
    rows = []
    lm = survival.landmark(c.adtte, c.adsl, "OS", day=day, ci=ci)
    if lm.n_included and set(lm.curves) >= set(survival.HCT_GROUPS):
        rows += sr.landmark_rows(lm, "os.landmark")
    try:
        rows += sr.td_cox_rows(survival.transplant_time_dependent_cox(c.adtte, c.adsl, "OS"), "os.hct.tdcox")
    except NscoreError:
        pass  # not estimable: the chapter says why, and there is no number
    return rows


def _relapse(c, ci, day):
    return sr.cif_rows(survival.cumulative_incidence(c.adtte, "PFS"), "relapse.cif")


def _safety(c, ci, day):
    collected = safety.syndromes(c)
    if not collected:
        raise _Skip("adverse events not collected")
    rows = []
    for s in collected:
        rows += safety.incidence(c, s).rows()
    rows += safety.grade_distribution(c).rows()
    rows += safety.onset_duration(c).rows()
    for by in ("DOSELVL", "blasts"):
        try:
            rows += safety.grade3_by(c, by).rows()
        except safety.NotCollectedError:
            pass
    # H7: the other adverse-event categories, cytopenia course, CRS/ICANS treatment (when collected)
    for more in (toxicity.term_table, toxicity.cytopenia_course, toxicity.treatments):
        try:
            rows += more(c).rows()
        except safety.NotCollectedError:
            pass
    return rows


def _deaths(c, ci, day):
    """Deaths, their causes and non-relapse mortality (Safety page; needs ADSL and ADTTE only)."""
    rows = toxicity.deaths(c).rows()
    try:
        rows += toxicity.non_relapse_mortality(c).rows()
    except safety.NotCollectedError:
        pass
    return rows


def _outcomes(c, ci, day):
    """The standard CAR-T efficacy analyses (issue 15), as the Results chapter records them."""
    rows = []
    if cohort_analyses.patient_flow(c).n_evaluable > 0:
        rows += (outcomes.response_durations(c, ci=ci).rows() + outcomes.response_lanes(c).rows()
                 + outcomes.response_landmarks(c, ci=ci).rows())
    return (rows + outcomes.transplant_incidence(c, day=day).rows()
            + outcomes.subgroup_hazard_ratios(c).rows())


def _discussion(c, ci, day):
    from nscore.analyses.literature import literature_rows
    from nscore.data.literature import read_literature

    # the figures of other studies the chapter quotes (data/literature.yml of the project)
    return cohort_analyses.potential_follow_up(c).rows() + literature_rows(read_literature())


def _abstract(c, ci, day):
    """The published abstract's figures no other analysis gives (Results' reproduction table)."""
    return published.abstract_rows(c)


class _Skip(Exception):
    """An analysis that does not apply to this cohort (the reason is its message)."""


def _collected(c, dataset: str, column: str) -> bool:
    check = getattr(c, "collected", None)
    if callable(check):
        return bool(check(dataset, column))
    frame = getattr(c, dataset, None)
    return frame is not None and column in frame.columns


#: name -> rows(cohort, ci, landmark_day); names are the keys of :data:`CHAPTERS`.
PLAN: dict[str, Callable] = {"headline": _headline, "flow": _flow, "baseline": _baseline, "efficacy": _efficacy,
                             "survival": _survival, "transplant": _transplant, "relapse": _relapse,
                             "safety": _safety, "discussion": _discussion, "abstract": _abstract,
                             "outcomes": _outcomes,
                             "deaths": _deaths}  # H7


def plan() -> list[tuple[str, str]]:
    """The analysis groups of the book and the chapter that shows each: ``[(name, chapter), ...]``."""
    return [(name, CHAPTERS[name]) for name in PLAN]


def book_results(cohort, *, ci: str = KM_CI, landmark_day: float = LANDMARK_DAY) -> pd.DataFrame:
    """Every analysis the chapters show, on ``cohort``, as one ARD (:data:`nscore.analyses.ard.COLUMNS`).

    Rows are stamped with the cohort's cutoff and data version and the chapter that shows them;
    ``cell`` is None (not executed in a notebook). ``attrs["skipped"]``: ``{group: reason}`` for
    the analysis groups that do not apply (or failed on these data: the error's message).
    """
    cutoff = headline.cohort_cutoff(cohort).isoformat()
    version = str(getattr(cohort, "version", "") or "")
    parts, skipped = [], {}
    for name, run in PLAN.items():
        try:
            rows = run(cohort, ci, landmark_day)
        except _Skip as exc:
            skipped[name] = str(exc)
            continue
        except (NscoreError, ValueError, KeyError, ZeroDivisionError) as exc:
            skipped[name] = f"{type(exc).__name__}: {exc}"
            continue
        part = ard.frame(rows)
        if len(part):
            part["cutoff"], part["data_version"], part["chapter"], part["cell"] = cutoff, version, CHAPTERS[name], None
            parts.append(part)
    if parts:
        out = pd.concat(parts, ignore_index=True)[ard.COLUMNS]
    else:
        out = pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object) for c in ard.COLUMNS})
    out["cell"] = out["cell"].astype(object)
    ard.validate(out)
    out.attrs["skipped"] = skipped
    return out
