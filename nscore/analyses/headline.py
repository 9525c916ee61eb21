"""Headline figures of a data cutoff (landing page) and their comparison across cutoffs ("What changed").

One function computes the figures for one cohort, so the landing page and the "What changed" page
cannot disagree; ``compare_cutoffs`` lines the figures of several stored versions up side by side.
Survival figures are Kaplan-Meier estimates from ``nscore.statistics.survival`` (log-log CIs by default), not
the abstract's medians of observed times. Numbers only: the text of a figure and of a change is
:mod:`nscore.report.presenters` (report layer).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from nscore.errors import AnalysisInputError
from nscore.analyses.cohort import _flag
from nscore.analyses.efficacy import Proportion, proportion, response_rates
from nscore.analyses.safety import SYNDROMES, incidence, syndromes
from nscore.statistics.survival import REPORT_YEARS as RATE_YEARS, YEAR_DAYS

__all__ = ["YEAR_DAYS", "RATE_YEARS", "HEADLINE_KEYS", "STATUSES", "headline_figures", "headline_rows",
           "compare_cutoffs", "cohort_cutoff"]

# YEAR_DAYS (days per year, 365.25) and RATE_YEARS (= survival.REPORT_YEARS, 1 and 2) live in
# nscore.statistics.survival and are re-exported here: the rates below, the results tables and the
# methods text read the same numbers.

#: What a row's ``status`` says: ``"estimated"`` (a value), ``"not reached"`` (a median the curve
#: never reached), ``"not estimable"`` (e.g. a rate beyond the follow-up), ``"not evaluable"`` (no
#: patient evaluable for response: no rate), ``"not collected"`` (the variable or dataset was not
#: delivered). Only ``"estimated"`` rows have a finite value.
STATUSES = ("estimated", "not reached", "not estimable", "not evaluable", "not collected")

HEADLINE_KEYS = (
    "n_infused", "n_evaluable", "orr", "cr_cri", "os_median", "pfs_median", "os_1y", "os_2y",
    "pfs_1y", "pfs_2y", "hct_rate", "crs_g3", "icans_g3", "followup_median",
)

COLUMNS = ["key", "label", "value", "lower", "upper", "unit", "status", "k", "n"]


def cohort_cutoff(cohort) -> date:
    """The cohort's data cutoff: ``cohort.cutoff`` if present, else the ADSL DCUTDT."""
    c = getattr(cohort, "cutoff", None)
    if c is None:
        c = pd.to_datetime(cohort.adsl["DCUTDT"]).max()
    return pd.Timestamp(c).date()


def _rate_row(key: str, label: str, p: Proportion) -> dict:
    return {"key": key, "label": label, "value": 100 * p.estimate, "lower": 100 * p.lower,
            "upper": 100 * p.upper, "unit": "%", "status": "estimated", "k": p.k, "n": p.n}


def _missing_row(key: str, label: str, status: str, unit: str = "%") -> dict:
    """A figure with no value: not collected, or no patient to compute it on."""
    return {"key": key, "label": label, "value": np.nan, "lower": np.nan, "upper": np.nan,
            "unit": unit, "status": status, "k": None, "n": None}


def _count_row(key: str, label: str, n: int) -> dict:
    return {"key": key, "label": label, "value": float(n), "lower": np.nan, "upper": np.nan,
            "unit": "patients", "status": "estimated", "k": None, "n": None}


def _median_status(median) -> str:
    m = _raw(median)
    return "not estimable" if math.isnan(m) else "not reached" if math.isinf(m) else "estimated"


def _finite(x) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return x if math.isfinite(x) else float("nan")


def _ci_pair(ci) -> tuple[float, float]:
    """Lower and upper bound (raw: ``inf`` = not reached) from a tuple, Series or one-row DataFrame."""
    if ci is None:
        return float("nan"), float("nan")
    if isinstance(ci, pd.DataFrame):
        vals = ci.iloc[0].to_numpy()
    elif isinstance(ci, pd.Series):
        vals = ci.to_numpy()
    else:
        vals = list(ci)
    return _raw(vals[0]), _raw(vals[1])


def _raw(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _km_rows(adtte: pd.DataFrame, paramcd: str, name: str, ci: str) -> list[dict]:
    from nscore.statistics import survival

    km = survival.kaplan_meier(adtte, paramcd, ci=ci)
    lo, hi = _ci_pair(getattr(km, "median_ci_", None))
    rows = [{"key": f"{name.lower()}_median", "label": f"Median {name} (Kaplan-Meier)",
             "value": _finite(km.median_), "lower": lo, "upper": hi, "unit": "days",
             "status": _median_status(km.median_), "k": None, "n": None}]
    at = km.survival_at([y * YEAR_DAYS for y in RATE_YEARS]).reset_index(drop=True)
    for i, yr in enumerate(RATE_YEARS):
        s, l, u = (100 * _finite(at.loc[i, c]) for c in ("survival", "lower", "upper"))
        rows.append({"key": f"{name.lower()}_{yr}y", "label": f"{yr}-year {name} (Kaplan-Meier)",
                     "value": s, "lower": l, "upper": u, "unit": "%",
                     "status": "not estimable" if math.isnan(s) else "estimated", "k": None, "n": None})
    return rows


def headline_figures(cohort, ci: str = "log-log") -> pd.DataFrame:
    """The headline figures of one cutoff, one row per figure.

    Parameters
    ----------
    cohort : Cohort
        Any object with ADaM frames ``adsl``, ``adrs``, ``adtte``, ``adae``.
    ci : {"log-log", "log", "plain"}
        Transform of the Kaplan-Meier confidence intervals (passed to ``nscore.statistics.survival``).

    Returns
    -------
    DataFrame
        Columns ``key``, ``label``, ``value`` (float; NaN when not reached / not estimable: see
        ``status``), ``lower``, ``upper`` (95% CI where one exists; for the medians ``inf`` = limit
        not reached, NaN = not estimable, as :mod:`nscore.statistics.survival` returns them),
        ``unit`` ("patients", "%", "days"), ``status`` (:data:`STATUSES`), ``k``, ``n`` (counts of a
        rate). Keys in ``HEADLINE_KEYS`` order. The text of a figure:
        :func:`nscore.report.presenters.with_display`.

    Notes
    -----
    Rates are percentages (0-100). KM median OS/PFS is NaN and displayed "not reached" when the
    curve stays above 0.5; 1-/2-year rates are NaN if follow-up ends earlier. Median follow-up is the
    reverse Kaplan-Meier estimate (deaths censor follow-up), which does not shrink with early deaths
    as the median of observed times does. The transplant rate is over all infused patients, as in
    the abstract (245/334).
    """
    from nscore.statistics import survival

    adsl = cohort.adsl
    if len(adsl) == 0:
        raise AnalysisInputError("ADSL has no patients")
    n_eval = int(_flag(adsl["EFFFL"]).sum())
    rows = [_count_row("n_infused", "Patients infused", len(adsl)),
            _count_row("n_evaluable", "Patients evaluable for response", n_eval)]
    if n_eval:
        rr = response_rates(cohort)
        rows.append(_rate_row("orr", "Overall response rate (CR/CRi/PR)", rr.orr))
        rows.append(_rate_row("cr_cri", "CR/CRi rate", rr.cr_cri))
    else:
        for key, label in (("orr", "Overall response rate (CR/CRi/PR)"), ("cr_cri", "CR/CRi rate")):
            rows.append(_missing_row(key, label, "not evaluable"))
    os_rows = _km_rows(cohort.adtte, "OS", "OS", ci)
    pfs_rows = _km_rows(cohort.adtte, "PFS", "PFS", ci)
    rows += [os_rows[0], pfs_rows[0], os_rows[1], os_rows[2], pfs_rows[1], pfs_rows[2]]
    hct_label = "Allo-HCT after infusion (all infused)"
    if "HCTFL" in adsl.columns:
        rows.append(_rate_row("hct_rate", hct_label, proportion(int(_flag(adsl["HCTFL"]).sum()), len(adsl))))
    else:
        rows.append(_missing_row("hct_rate", hct_label, "not collected"))
    collected = syndromes(cohort)
    for syndrome in SYNDROMES:
        key, label = f"{syndrome.lower()}_g3", f"Grade >=3 {syndrome}"
        if syndrome in collected:
            rows.append(_rate_row(key, label, incidence(cohort, syndrome).grade_3_plus))
        else:
            rows.append(_missing_row(key, label, "not collected"))
    fu = survival.median_follow_up(cohort.adtte, "OS")
    if isinstance(fu, dict):
        med, lo, hi = (_raw(fu.get(k)) for k in ("median", "lower", "upper"))
    elif hasattr(fu, "median"):
        med, lo, hi = _raw(fu.median), _raw(getattr(fu, "lower", None)), _raw(getattr(fu, "upper", None))
    else:
        med, lo, hi = (_raw(v) for v in fu)
    rows.append({"key": "followup_median", "label": "Median follow-up (reverse Kaplan-Meier)",
                 "value": _finite(med), "lower": lo, "upper": hi, "unit": "days", "status": _median_status(med),
                 "k": None, "n": None})
    return pd.DataFrame(rows, columns=COLUMNS)


_POPULATIONS = {"orr": "efficacy-evaluable (EFFFL)", "cr_cri": "efficacy-evaluable (EFFFL)",
                "crs_g3": "infused (SAFFL)", "icans_g3": "infused (SAFFL)"}


def headline_rows(figures: pd.DataFrame, ci: str = "log-log") -> list[dict]:
    """The headline figures (:func:`headline_figures`) as ARD rows ``headline.<key>``.

    Counts: stat ``n``. Rates with a count (ORR, transplants, grade >= 3): ``n``, ``N``,
    ``percent``, ``lower``, ``upper``. Kaplan-Meier rates: ``rate``, ``lower``, ``upper``. Medians:
    ``median`` (``inf`` when not reached, NaN when not estimable), ``lower``, ``upper``. A figure with
    no value (not collected, not evaluable) keeps its rows with NaN values.
    """
    from nscore.analyses import ard

    out = []
    km = f"Kaplan-Meier, {ci} 95% CI"
    for r in figures.to_dict(orient="records"):
        key, unit, status = r["key"], r["unit"], r["status"]
        aid = f"headline.{key}"
        common = dict(population=_POPULATIONS.get(key, "infused (SAFFL)"), endpoint=r["label"], label=r["label"])
        if unit == "patients":
            out.append(ard.row(aid, "n", r["value"], unit="patients", **common))
        elif unit == "days":
            method = km if key != "followup_median" else f"reverse {km}"
            value = math.inf if status == "not reached" else r["value"]
            out += [ard.row(aid, "median", value, unit="days", method=method, **common),
                    ard.row(aid, "lower", r["lower"], unit="days", method=method, **common),
                    ard.row(aid, "upper", r["upper"], unit="days", method=method, **common)]
        elif key.endswith(("_1y", "_2y")):
            out += [ard.row(aid, stat, r[col], unit="%", method=km, **common)
                    for stat, col in (("rate", "value"), ("lower", "lower"), ("upper", "upper"))]
        else:
            exact = "Clopper-Pearson exact"
            out += [ard.row(aid, "n", r["k"], unit="patients", **common),
                    ard.row(aid, "N", r["n"], unit="patients", **common)]
            out += [ard.row(aid, stat, r[stat if stat != "percent" else "value"], unit="%", method=exact, **common)
                    for stat in ("percent", "lower", "upper")]
    return out


def compare_cutoffs(cohorts: list, ci: str = "log-log") -> pd.DataFrame:
    """Headline figures of several cutoffs side by side, with the change from the previous cutoff.

    Parameters
    ----------
    cohorts : list of Cohort
        At least one; sorted here by cutoff, so the order given does not matter. Cutoffs must differ.

    Returns
    -------
    DataFrame
        One row per headline figure: ``key``, ``label``, ``unit``, then for each cutoff (ISO date,
        oldest first) a float column named by the date and its row ``status`` in ``"<date> status"``,
        then ``change`` (latest - previous, NaN with a single cutoff or a figure not estimable at
        either). ``attrs["figures"]``: each cutoff's :func:`headline_figures` by ISO date. The text
        (``"<date> display"``, ``change_display``): :func:`nscore.report.presenters.comparison_text`.
    """
    if not cohorts:
        raise AnalysisInputError("compare_cutoffs needs at least one cohort")
    dated = sorted(((cohort_cutoff(c), c) for c in cohorts), key=lambda t: t[0])
    cutoffs = [d for d, _ in dated]
    if len(set(cutoffs)) != len(cutoffs):
        raise AnalysisInputError(f"cohorts share a cutoff: {[d.isoformat() for d in cutoffs]}")
    figs = [(d.isoformat(), headline_figures(c, ci=ci)) for d, c in dated]
    out = figs[0][1][["key", "label", "unit"]].copy()
    for name, f in figs:
        out[name] = f["value"].to_numpy()
        out[f"{name} status"] = f["status"].to_numpy()
    if len(figs) >= 2:
        prev, last = figs[-2][0], figs[-1][0]
        out["change"] = out[last] - out[prev]
    else:
        out["change"] = np.nan
    out.attrs["figures"] = dict(figs)
    return out
