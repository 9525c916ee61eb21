"""Published figures as data (the study definition's ``published`` block), recomputed from a cohort.

A publication's figures live in ``study.yml``: each names, besides the printed value, one of the
:data:`STATISTICS` below and its arguments. :func:`reproduction_table` recomputes each from the
data of the cutoff the publication reports and compares them as printed, so a new publication's
figures are checked by adding rows to ``study.yml``, not code. NS7CAR's are those of the ASH 2025
abstract (Zhang X, Lu P, et al.; data cutoff August 1, 2025; the project copy of the abstract is
``shared/seed/000_a34d2ef30ea8f0ef.txt`` beside the checkout).

Each figure is compared on its *formatted* value, printed the way the abstract prints it (one decimal
for percentages, rounded half-up; "547.5" for a median of an even number of times), so a match means
the abstract's own rounding of the recomputed number gives the published text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Callable

import pandas as pd

from nscore.errors import AnalysisInputError
from nscore.analyses.cohort import _flag, _require
from nscore.analyses.efficacy import ResponseRates, format_percent, response_rates
from nscore.analyses.safety import max_grades

__all__ = ["STATISTICS", "SharedCohort", "Reproduction", "reproduction_table", "observed_time"]

DASH = "\u2013"  # the abstract's en dash in ranges


class SharedCohort:
    """A cohort as the figures read it: its frames, and the derived tables several figures share.

    Six figures read the per-patient maximum grades and two the response rates; each is computed
    once per reproduction (a second of work at a million patients) instead of once per figure.
    Anything else is the wrapped cohort's own attribute.
    """

    def __init__(self, cohort):
        self._cohort = cohort

    def __getattr__(self, name: str):
        if name.startswith("_"):  # never look up the wrapper's own state in the cohort
            raise AttributeError(name)
        return getattr(self._cohort, name)

    @cached_property
    def max_grades(self) -> pd.DataFrame:
        return max_grades(self._cohort)

    @cached_property
    def response_rates(self) -> ResponseRates:
        return response_rates(self._cohort)


# ---------------------------------------------------------------- formatting as the abstract prints


def _n_pct(k: int, n: int) -> str:
    return f"{k} ({format_percent(k, n)})"


def _pct_frac(k: int, n: int) -> str:
    return f"{format_percent(k, n)} ({k}/{n})"


def _num(x: float) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:.1f}"


def _median_range(values: pd.Series) -> str:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        raise AnalysisInputError("median (range) of an empty series")
    return f"{_num(v.median())} (range, {_num(v.min())}{DASH}{_num(v.max())})"


def _long_date(d) -> str:
    d = pd.Timestamp(d)
    return f"{d.strftime('%B')} {d.day}, {d.year}"


_SUPERSCRIPT = str.maketrans("0123456789-", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b")
_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def _sci(x: float) -> str:
    """1e6 -> "1×10⁶" (mantissa to 3 significant digits, trailing zeros dropped)."""
    mant, exp = f"{float(x):.2e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}\u00d710{str(int(exp)).translate(_SUPERSCRIPT)}"


# ---------------------------------------------------------------- recomputation from the frames


def _n(c) -> int:
    return len(c.adsl)


def _count(c, column: str, value: str) -> int:
    return int(c.adsl[column].isin([value]).sum())


def _count_pct(c, column: str, value: str) -> str:
    _require(c.adsl, [column], "ADSL")
    return _n_pct(_count(c, column, value), _n(c))


def _median_range_of(c, column: str) -> str:
    _require(c.adsl, [column], "ADSL")
    return _median_range(c.adsl[column])


def _prior(c, minimum: int, exact: bool = False) -> int:
    _require(c.adsl, ["PRIORHCT"], "ADSL")
    p = pd.to_numeric(c.adsl["PRIORHCT"], errors="coerce")
    return int((p == minimum).sum() if exact else (p >= minimum).sum())


def _blasts(c, percent: float) -> str:
    _require(c.adsl, ["BMINV", "BMBLAST"], "ADSL")
    inv = _flag(c.adsl["BMINV"])
    bl = pd.to_numeric(c.adsl["BMBLAST"], errors="coerce")
    return _pct_frac(int((inv & (bl >= percent)).sum()), int(inv.sum()))


def _dose_levels(c) -> str:
    _require(c.adsl, ["DOSELVL"], "ADSL")
    k = c.adsl["DOSELVL"].dropna().nunique()
    return _WORDS.get(k, str(k))


def _median_dose(c) -> str:
    _require(c.adsl, ["DOSEKG"], "ADSL")
    return f"{_sci(pd.to_numeric(c.adsl['DOSEKG']).median())} cells/kg"


def _hct(c) -> str:
    _require(c.adsl, ["HCTFL"], "ADSL")
    return _n_pct(int(_flag(c.adsl["HCTFL"]).sum()), _n(c))


def _hct_interval(c) -> str:
    _require(c.adsl, ["HCTFL", "HCTDT"], "ADSL")
    a = c.adsl.loc[_flag(c.adsl["HCTFL"]), ["TRTSDT", "HCTDT"]]
    days = (pd.to_datetime(a["HCTDT"]) - pd.to_datetime(a["TRTSDT"])).dt.days
    return _median_range(days)


def observed_time(cohort, paramcd: str) -> str:
    """Median (range) of the observed OS or PFS times, events and censored alike, as the abstract
    prints its "median OS/PFS": a summary of follow-up, not a survival estimate."""
    _require(cohort.adtte, ["PARAMCD", "AVAL"], "ADTTE")
    return _median_range(cohort.adtte.loc[cohort.adtte["PARAMCD"] == paramcd, "AVAL"])


def _ae(c, category: str, low: int, high: int) -> tuple[int, int]:
    if getattr(c, "adae", None) is None:
        raise AnalysisInputError("adverse events were not collected")
    g = c.max_grades[category]
    return int(g.between(low, high).sum()), len(g)


def _cutoff(c) -> str:
    return _long_date(pd.to_datetime(c.adsl["DCUTDT"]).max())


def _window(c) -> str:
    t = pd.to_datetime(c.adsl["TRTSDT"])
    return f"{_long_date(t.min())}, to {_long_date(t.max())}"


#: The statistics a published figure can name in ``study.yml``: name -> f(cohort, **args) -> text.
STATISTICS: dict[str, Callable[..., str]] = {
    "infusion_window": _window,
    "n_patients": lambda c: str(_n(c)),
    "count_pct": _count_pct,
    "median_range": _median_range_of,
    "prior_hct_at_least": lambda c, minimum: _n_pct(_prior(c, minimum), _n(c)),
    "prior_hct_exactly": lambda c, count: str(_prior(c, count, exact=True)),
    "marrow_blasts_at_least": _blasts,
    "n_dose_levels": _dose_levels,
    "median_dose": _median_dose,
    "cutoff": _cutoff,
    "n_evaluable": lambda c: str(int(_flag(c.adsl["EFFFL"]).sum())),
    "orr": lambda c: c.response_rates.orr.format(),
    "cr_cri": lambda c: c.response_rates.cr_cri.format(),
    "hct_after_cart": _hct,
    "hct_interval": _hct_interval,
    "observed_time": observed_time,
    "ae_percent_fraction": lambda c, category, low, high: _pct_frac(*_ae(c, category, low, high)),
    "ae_percent": lambda c, category, low, high: format_percent(*_ae(c, category, low, high)),
}


@dataclass(frozen=True)
class Reproduction:
    """The abstract's figures beside the values recomputed from the data.

    Attributes
    ----------
    table : DataFrame
        ``key``, ``figure`` (the abstract's wording), ``published``, ``reproduced`` (same format),
        ``match`` (bool).
    n_figures, n_match : int
    all_match : bool
    cutoff : date
        The cohort's data cutoff (ADSL DCUTDT).
    is_published_cutoff : bool
        True when ``cutoff`` is the publication's; at a later cutoff the follow-up-dependent
        figures (cutoff, transplants, PFS/OS times) are expected to differ.
    source : str
        The publication's bibliography key.
    """

    table: pd.DataFrame
    n_figures: int
    n_match: int
    all_match: bool
    cutoff: date
    is_published_cutoff: bool
    source: str = ""


def reproduction_table(cohort, published=None) -> Reproduction | None:
    """Recompute every published figure from ``cohort`` and compare them as printed.

    ``published`` is a :class:`nscore.data.study.Published` (default: the cohort's study's); None when
    there is nothing to compare (the study definition holds no published figures).

    A figure whose computation fails (e.g. an empty population) is reported as reproduced "error:
    ..." and not matched, so one bad figure does not hide the rest of the table.

    Notes
    -----
    The abstract's "median PFS/OS" are medians of the observed times of all patients (censored or
    not), not Kaplan-Meier medians; they are reproduced as such here and the KM estimates are in
    ``nscore.analyses.headline``.
    """
    if published is None:
        study = getattr(cohort, "study", None)
        published = study.published if study is not None else None
    if published is None:
        return None
    shared = SharedCohort(cohort)
    rows = []
    for fig in published.figures:
        statistic = STATISTICS.get(fig.statistic)
        if statistic is None:
            value = f"error: unknown statistic {fig.statistic!r}"
        else:
            try:
                value = statistic(shared, **fig.kwargs)
            except (AnalysisInputError, KeyError, ValueError, TypeError) as exc:
                value = f"error: {type(exc).__name__}: {exc}"
        rows.append({"key": fig.key, "figure": fig.label, "published": fig.value, "reproduced": value,
                     "match": value == fig.value})
    table = pd.DataFrame(rows, columns=["key", "figure", "published", "reproduced", "match"])
    n_match = int(table["match"].sum())
    cutoff = pd.Timestamp(pd.to_datetime(cohort.adsl["DCUTDT"]).max()).date()
    return Reproduction(table=table, n_figures=len(table), n_match=n_match,
                        all_match=n_match == len(table) and len(table) > 0,
                        cutoff=cutoff, is_published_cutoff=cutoff == published.cutoff,
                        source=published.source)
