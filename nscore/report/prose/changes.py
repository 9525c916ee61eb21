"""Data-dependent sentences of What changed whose numbers are traced (issue 13).

The number-by-number comparison paragraph (how many statistics were compared and listed, and the
thresholds of ``data/what-changed.yml`` they were listed by) and the intake threshold. Every
number carries the key of its ARD row: the counts of :func:`nscore.analyses.changes.comparison_rows`,
the thresholds of :func:`nscore.analyses.changes.threshold_rows` and the store rows of
:mod:`nscore.analyses.store`, all recorded by the page.
"""

from __future__ import annotations

from nscore.analyses.changes import threshold_key
from nscore.report import format as fmt
from nscore.report.narrative import count, join
from nscore.report.trace import role

__all__ = ["changes_paragraph", "thresholds_sentence", "cohort_change_text", "COHORT_CHANGE_KEY"]

#: The store row of the intake threshold on the change of cohort size.
COHORT_CHANGE_KEY = "store.intake|setting=cohort_change|percent"


def thresholds_sentence(thresholds: dict) -> str:
    """When a statistic is listed, with the values of the config (:func:`nscore.analyses.changes.load_thresholds`)."""
    t = thresholds
    moved = [f"a count changes by more than {role(fmt.count(t['count']), threshold_key('count'))} patients",
             f"a percentage moves more than {role(fmt.number(t['percent_points']), threshold_key('percent_points'))} "
             "percentage points",
             f"a median moves more than {role(fmt.days(t['days']), threshold_key('days'))}",
             f"a hazard ratio moves more than "
             f"{role(fmt.percent(100 * t['hazard_ratio_relative'], digits=0), threshold_key('hazard_ratio_relative'))} "
             "of its earlier value",
             f"a p-value crosses {role(fmt.number(t['p_value_level'], 2), threshold_key('p_value_level'))}"]
    also = []
    if t.get("reached"):
        also.append("a median or confidence limit becomes reached or no longer reached")
    if t.get("estimable"):
        also.append("a value becomes estimable or not estimable")
    if t.get("ci_excludes_previous"):
        also.append("the later confidence interval no longer holds the earlier estimate")
    text = f"A statistic is listed when {join(moved, 'or')}"
    if also:
        text += f"; also when {join(also, 'or')}"
    return text + ". Analyses and rows added or dropped are always listed."


def changes_paragraph(comparison, thresholds: dict | None = None, *,
                      thresholds_file: str = "data/what-changed.yml", table: str = "tbl-changed") -> str:
    """What the number-by-number comparison of the latest two cutoffs lists, in words, its counts
    traced (``changes.compared|=|n``, ``changes.listed|=|n``); with ``thresholds``, the rules and
    their values follow (:func:`thresholds_sentence`).

    ``comparison``: :func:`nscore.analyses.changes.compare` of the two cutoffs' ARDs (None or empty:
    only one cutoff). Analyses added or dropped are named.
    """
    if comparison is None or len(comparison) == 0:
        return ("Only one data cutoff is stored up to this one, so there is no earlier value of any "
                "statistic to compare with.")
    prev, cur = comparison["previous_cutoff"].iloc[0], comparison["current_cutoff"].iloc[0]
    listed = comparison[comparison["changed"]]
    added = sorted(set(comparison.loc[comparison["rule"] == "analysis added", "analysis_id"]))
    dropped = sorted(set(comparison.loc[comparison["rule"] == "analysis dropped", "analysis_id"]))
    text = (f"Beyond the headline figures, every statistic of the analysis-results dataset of cutoff {prev} "
            f"was compared with its value at cutoff {cur}: "
            f"{count(len(comparison), 'statistic', key='changes.compared|=|n')}, of which "
            f"{count(len(listed), 'statistic', zero='none of the', key='changes.listed|=|n')} moved beyond the "
            f"thresholds set in `{thresholds_file}` (documented in the data README)")
    text += f" and {'is' if len(listed) == 1 else 'are'} listed in {{numref}}`{table}`." if len(listed) else "."
    if thresholds is not None:
        text += " " + thresholds_sentence(thresholds)
    if added:
        text += f" Analyses added: {join(f'`{a}`' for a in added)}."
    if dropped:
        text += f" Analyses dropped: {join(f'`{a}`' for a in dropped)}."
    return text + " The full comparison, every statistic with both values, is downloadable below the table."


def cohort_change_text(fraction: float) -> str:
    """The intake threshold on the change of cohort size (``nscore.data.intake.COHORT_CHANGE``, a
    fraction) as a traced percentage: ``25%``."""
    return role(fmt.percent(100 * fraction, digits=0), COHORT_CHANGE_KEY)
