"""The abstract's published figures as data, each with the function that recomputes it from a cohort.

Source: Zhang X, Lu P, et al. "CD7 CAR-T Cell Therapy Based on 'Natural Selection' for the Treatment
of Relapsed or Refractory CD7-Positive Hematologic Malignancies: A Large Cohort Study." Abstract,
67th ASH Annual Meeting (2025), Lu Daopei Hospital; pooled NCT04572308, NCT05626400, NCT04916860,
NCT04928105, NCT04938115; data cutoff August 1, 2025 (project copy:
``/work/shared/seed/000_a34d2ef30ea8f0ef.txt``, Results section; the infusion window is from its
Methods section).

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

from nscore.cohort import AnalysisInputError, _flag, _require
from nscore.efficacy import ResponseRates, format_percent, response_rates
from nscore.safety import max_grades

__all__ = ["PUBLISHED_CUTOFF", "PublishedFigure", "SharedCohort", "PUBLISHED", "Reproduction",
           "reproduction_table"]

#: Data cutoff of the abstract ("As of August 1, 2025").
PUBLISHED_CUTOFF = date(2025, 8, 1)

DASH = "\u2013"  # the abstract's en dash in ranges


@dataclass(frozen=True)
class PublishedFigure:
    """One number of the abstract: its key, its wording, the printed value and how to recompute it.

    ``compute`` reads a :class:`SharedCohort` (what :func:`reproduction_table` passes it).
    """

    key: str
    label: str
    published: str
    compute: Callable[["SharedCohort"], str]


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


def _diag(value: str) -> Callable:
    return lambda c: _n_pct(_count(c, "DIAG", value), _n(c))


def _prior(c, minimum: int, exact: bool = False) -> int:
    p = pd.to_numeric(c.adsl["PRIORHCT"], errors="coerce")
    return int((p == minimum).sum() if exact else (p >= minimum).sum())


def _blasts(c) -> str:
    inv = _flag(c.adsl["BMINV"])
    bl = pd.to_numeric(c.adsl["BMBLAST"], errors="coerce")
    return _pct_frac(int((inv & (bl >= 20)).sum()), int(inv.sum()))


def _dose_levels(c) -> str:
    k = c.adsl["DOSELVL"].dropna().nunique()
    return _WORDS.get(k, str(k))


def _hct_interval(c) -> str:
    a = c.adsl.loc[_flag(c.adsl["HCTFL"]), ["TRTSDT", "HCTDT"]]
    days = (pd.to_datetime(a["HCTDT"]) - pd.to_datetime(a["TRTSDT"])).dt.days
    return _median_range(days)


def _observed(c, paramcd: str) -> str:
    _require(c.adtte, ["PARAMCD", "AVAL"], "ADTTE")
    return _median_range(c.adtte.loc[c.adtte["PARAMCD"] == paramcd, "AVAL"])


def _ae(c, syndrome: str, low: int, high: int) -> tuple[int, int]:
    g = c.max_grades[syndrome]
    return int(g.between(low, high).sum()), len(g)


def _cutoff(c) -> str:
    return _long_date(pd.to_datetime(c.adsl["DCUTDT"]).max())


def _window(c) -> str:
    t = pd.to_datetime(c.adsl["TRTSDT"])
    return f"{_long_date(t.min())}, to {_long_date(t.max())}"


PUBLISHED: tuple[PublishedFigure, ...] = (
    PublishedFigure("infusion_window", "observation period (infusions)", "November 9, 2020, to May 21, 2025",
                    _window),
    PublishedFigure("n_patients", "patients with R/R CD7-positive hematologic malignancies", "334",
                    lambda c: str(_n(c))),
    PublishedFigure("diag_tall", "cases of T-ALL", "159 (47.6%)", _diag("T-ALL")),
    PublishedFigure("diag_tlbl", "cases of T-LBL", "121 (36.2%)", _diag("T-LBL")),
    PublishedFigure("diag_mpal", "cases of mixed phenotype acute leukemia", "24 (7.2%)", _diag("MPAL")),
    PublishedFigure("diag_aml", "cases of AML", "21 (6.3%)", _diag("AML")),
    PublishedFigure("diag_ptcl", "cases of peripheral T-cell lymphoma", "9 (2.7%)", _diag("PTCL")),
    PublishedFigure("age", "median age, years", f"24 (range, 2{DASH}67)", lambda c: _median_range(c.adsl["AGE"])),
    PublishedFigure("male", "males", "255 (76.3%)", lambda c: _n_pct(_count(c, "SEX", "M"), _n(c))),
    PublishedFigure("female", "females", "79 (23.7%)", lambda c: _n_pct(_count(c, "SEX", "F"), _n(c))),
    PublishedFigure("prior_hct", "experienced relapse after prior transplantation", "88 (26.3%)",
                    lambda c: _n_pct(_prior(c, 1), _n(c))),
    PublishedFigure("prior_hct_2", "relapse after a second transplant", "4",
                    lambda c: str(_prior(c, 2, exact=True))),
    PublishedFigure("blasts_20", "with bone marrow involvement, >=20% blasts", "29.8% (79/265)", _blasts),
    PublishedFigure("dose_levels", "different dose levels", "three", _dose_levels),
    PublishedFigure("median_dose", "median dose", "1\u00d710\u2076 cells/kg",
                    lambda c: f"{_sci(pd.to_numeric(c.adsl['DOSEKG']).median())} cells/kg"),
    PublishedFigure("cutoff", "as of (data cutoff)", "August 1, 2025", _cutoff),
    PublishedFigure("n_evaluable", "evaluable patients", "329",
                    lambda c: str(int(_flag(c.adsl["EFFFL"]).sum()))),
    PublishedFigure("orr", "ORR", "86.3% (284/329)", lambda c: c.response_rates.orr.format()),
    PublishedFigure("cr_cri", "CR/CRi rate", "84.5% (278/329)", lambda c: c.response_rates.cr_cri.format()),
    PublishedFigure("hct", "underwent consolidative or salvage transplantation", "245 (73.4%)",
                    lambda c: _n_pct(int(_flag(c.adsl["HCTFL"]).sum()), _n(c))),
    PublishedFigure("hct_interval", "median interval to transplantation, days", f"57 (range, 28{DASH}227)",
                    _hct_interval),
    PublishedFigure("pfs_median_observed", "median PFS, days (median of observed times)",
                    f"547.5 (range, 45{DASH}1694)", lambda c: _observed(c, "PFS")),
    PublishedFigure("os_median_observed", "median OS, days (median of observed times)",
                    f"567.5 (range, 45{DASH}1694)", lambda c: _observed(c, "OS")),
    PublishedFigure("crs", "CRS incidence", "95.8% (320/334)", lambda c: _pct_frac(*_ae(c, "CRS", 1, 5))),
    PublishedFigure("crs_g12", "CRS grade 1\u20132", "85.6%", lambda c: format_percent(*_ae(c, "CRS", 1, 2))),
    PublishedFigure("crs_g3", "CRS grade \u22653", "10.2%", lambda c: format_percent(*_ae(c, "CRS", 3, 5))),
    PublishedFigure("icans", "ICANS occurred in", "3.3% (11/334)", lambda c: _pct_frac(*_ae(c, "ICANS", 1, 5))),
    PublishedFigure("icans_g12", "ICANS grade 1\u20132", "0.9%", lambda c: format_percent(*_ae(c, "ICANS", 1, 2))),
    PublishedFigure("icans_g3", "ICANS grade \u22653", "2.4%", lambda c: format_percent(*_ae(c, "ICANS", 3, 5))),
)


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
        True when ``cutoff`` is the abstract's (``PUBLISHED_CUTOFF``); at a later cutoff the
        follow-up-dependent figures (cutoff, transplants, PFS/OS times) are expected to differ.
    """

    table: pd.DataFrame
    n_figures: int
    n_match: int
    all_match: bool
    cutoff: date
    is_published_cutoff: bool


def reproduction_table(cohort) -> Reproduction:
    """Recompute every figure of the abstract's Results from ``cohort`` and compare as printed.

    A figure whose computation fails (e.g. an empty population) is reported as reproduced "error:
    ..." and not matched, so one bad figure does not hide the rest of the table.

    Notes
    -----
    The abstract's "median PFS/OS" are medians of the observed times of all patients (censored or
    not), not Kaplan-Meier medians; they are reproduced as such here and the KM estimates are in
    ``nscore.headline``.
    """
    shared = SharedCohort(cohort)
    rows = []
    for fig in PUBLISHED:
        try:
            value = fig.compute(shared)
        except (AnalysisInputError, KeyError, ValueError) as exc:
            value = f"error: {type(exc).__name__}: {exc}"
        rows.append({"key": fig.key, "figure": fig.label, "published": fig.published, "reproduced": value,
                     "match": value == fig.published})
    table = pd.DataFrame(rows)
    n_match = int(table["match"].sum())
    cutoff = pd.Timestamp(pd.to_datetime(cohort.adsl["DCUTDT"]).max()).date()
    return Reproduction(table=table, n_figures=len(table), n_match=n_match, all_match=n_match == len(table),
                        cutoff=cutoff, is_published_cutoff=cutoff == PUBLISHED_CUTOFF)
