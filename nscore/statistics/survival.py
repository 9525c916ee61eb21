"""Time-to-event analyses of the cohort, checked against R's ``survival`` package: the chapters' API.

Every function takes ADaM frames (ADTTE, and ADSL where a patient attribute is needed) and returns
an estimator or a frozen result whose ``.table`` holds aggregated rows only (never one row per
patient), so chapters can plot and record them directly.

What lives where (one cohesive thing per module)
------------------------------------------------
* here: what the chapters call -- Kaplan-Meier (overall, by group, log-rank), median follow-up,
  the transplant analyses (landmark, counting process, time-dependent Cox, Simon-Makuch),
  cumulative incidence with a competing risk -- and the constants they share (endpoints' event
  descriptions, ``REPORT_YEARS``, ``YEAR_DAYS``). About 730 lines: one API, kept whole so that a
  chapter reads ``survival.<function>`` for every time-to-event result.
* :mod:`nscore.statistics.inputs`: argument checks and one endpoint's ADTTE rows (+ ADSL).
* :mod:`nscore.statistics.estimators`: the array-level estimators, each reproducing an R function.
* :mod:`nscore.statistics.regression`: Cox regression on baseline covariates.
* :mod:`nscore.statistics.proportions`: exact binomial proportions.

Conventions shared by the whole module
--------------------------------------
* ADTTE ``CNSR`` is 0 for an event and 1 for censoring; lifelines' ``event_observed = 1 - CNSR``.
* Times are ``AVAL`` in days.  An event and a censoring at the same day: the event comes first, the
  censored patient is still at risk at that day (the usual product-limit convention, as in R).
* Pointwise confidence intervals follow R's ``survfit`` (``survfit_confint``): ``"plain"``
  S +/- z se(S); ``"log"`` S exp(+/- z se(H)); ``"log-log"``
  S^exp(+/- z se(H) / log S), with se(H) from Greenwood's formula.  lifelines uses log-log, R
  uses log by default: the transform is a parameter and the default here is ``"log-log"``.
* Where the estimate is 1 (before the first event) or 0 the interval is the point itself; R reports
  NA there for the transforms that are undefined.
* "Not reached" (a curve, or a confidence limit, that never drops to 0.5) is ``math.inf``; the
  report layer prints it (``nscore.report.format``).  A lower median limit R reports as NA while
  the median is reached (the lower curve is undefined where S = 0, e.g. all remaining patients
  fail at once) is NaN, "not estimable".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from nscore.data.schema import DEATH, RELAPSE  # ADTTE's event descriptions, the causes of cumulative_incidence
from nscore.errors import ImmortalTimeBiasError, SurvivalInputError
from nscore.statistics.estimators import _aalen_johansen, _binary_efron_cox, _confint, _product_limit_cp, _r_median
from nscore.statistics.inputs import (
    _check_alpha,
    _check_ci,
    _endpoint,
    _group_values,
    _guard_hct,
    _hct_day,
    _require_transplants,
    _times,
    _with_adsl,
)
from nscore.statistics.regression import _cox_table

__all__ = [
    "SurvivalInputError",
    "ImmortalTimeBiasError",
    "KaplanMeier",
    "kaplan_meier",
    "kaplan_meier_by",
    "KaplanMeierByResult",
    "logrank",
    "LogRankResult",
    "median_follow_up",
    "FollowUp",
    "landmark",
    "LandmarkResult",
    "counting_process",
    "transplant_time_dependent_cox",
    "TimeDependentCoxResult",
    "simon_makuch",
    "SimonMakuchResult",
    "cumulative_incidence",
    "CumulativeIncidence",
    "REPORT_YEARS",
    "YEAR_DAYS",
    "RELAPSE",
    "DEATH",
    "HCT_GROUPS",
]

HCT_GROUPS = ("No HCT", "HCT")
#: Years after infusion at which the book reports survival and cumulative incidence estimates
#: (the Results chapter's tables and sentences read them from here).
REPORT_YEARS = (1, 2)
#: Days per year (Julian year), to read a rate "n years after infusion" at day n * YEAR_DAYS: the
#: one home of this constant (tables, prose and headline figures import it from here).
YEAR_DAYS = 365.25


# --------------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------------

class KaplanMeier:
    """Kaplan-Meier estimate of one ADTTE endpoint, with R-compatible CIs and median.

    Parameters
    ----------
    alpha : float
        1 - confidence level of every interval (0.05 gives 95% intervals).
    ci : {"log-log", "log", "plain"}
        Transform of the pointwise interval (R ``conf.type``).  The median CI uses the same curves.

    Attributes
    ----------
    table_ : DataFrame
        One row per distinct AVAL: time, at_risk, events, censored, survival, std_err (Greenwood
        se of S), lower, upper.
    median_, median_ci_ : float, (float, float)
        KM median and its CI; ``inf`` = not reached.
    n_, events_ : int
    label_, paramcd_ : str

    Notes
    -----
    The estimate and the risk sets come from lifelines ``KaplanMeierFitter``; the Greenwood
    variance and the intervals are computed here so that all three transforms match R's
    ``survfit``.  Right censoring only (no left truncation).  Ties: events before censorings at
    the same time.  The median CI is the interval R reports (``quantile.survfit``): the times
    at which the lower and upper confidence curves cross 0.5; where a curve is exactly 0.5 over a
    flat stretch the midpoint of that stretch is taken (R ``quantile.survfit``).
    """

    def __init__(self, alpha: float = 0.05, ci: str = "log-log"):
        self.alpha = _check_alpha(alpha)
        self.ci = _check_ci(ci)

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, adtte: pd.DataFrame, paramcd: str, label: str | None = None) -> "KaplanMeier":
        """Fit the curve of ``paramcd`` (e.g. "OS") from an ADTTE frame; returns ``self``."""
        d = _endpoint(adtte, paramcd)
        self.paramcd_ = paramcd
        return self._fit_arrays(d["AVAL"].to_numpy(), d["EVENT"].to_numpy(), label or paramcd)

    def _fit_arrays(self, durations, events, label: str) -> "KaplanMeier":
        from lifelines import KaplanMeierFitter

        durations = np.asarray(durations, dtype=float)
        events = np.asarray(events, dtype=int)
        if durations.size == 0:
            raise SurvivalInputError("Kaplan-Meier needs at least one patient")
        kmf = KaplanMeierFitter(alpha=self.alpha, label=label)
        kmf.fit(durations, event_observed=events)
        et = kmf.event_table
        et = et.loc[et["removed"] > 0]
        n = et["at_risk"].to_numpy(dtype=float)
        d = et["observed"].to_numpy(dtype=float)
        surv = kmf.survival_function_.loc[et.index].iloc[:, 0].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(d > 0, d / (n * (n - d)), 0.0)
        se_log = np.sqrt(np.cumsum(term))
        z = stats.norm.ppf(1 - self.alpha / 2)
        lower, upper = _confint(surv, se_log, z, self.ci)
        r_lower, r_upper = _confint(surv, se_log, z, self.ci, fill=False)
        with np.errstate(invalid="ignore"):
            se_s = np.where(np.isfinite(se_log), surv * se_log, np.nan)
        self.table_ = pd.DataFrame({
            "time": et.index.to_numpy(dtype=float),
            "at_risk": n.astype(int),
            "events": d.astype(int),
            "censored": et["censored"].to_numpy(dtype=int),
            "survival": surv,
            "std_err": se_s,
            "lower": lower,
            "upper": upper,
        })
        self.median_, lo, hi = _r_median(self.table_["time"], surv, r_lower, r_upper)
        self.median_ci_ = (lo, hi)
        self.n_ = int(durations.size)
        self.events_ = int(events.sum())
        self.label_ = label
        self._durations, self._events = durations, events
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "table_"):
            raise SurvivalInputError("KaplanMeier must be fitted (call fit) before use")

    # -- read-outs ------------------------------------------------------------------------------
    @property
    def median_reached_(self) -> bool:
        """False when the curve never drops to 0.5 within follow-up."""
        self._check_fitted()
        return math.isfinite(self.median_)

    def survival_at(self, times) -> pd.DataFrame:
        """Survival and CI at ``times`` (right-continuous step function, R ``summary(fit, times)``).

        Times after the last follow-up give NaN: the curve is not defined there (R omits them).
        """
        self._check_fitted()
        t = _times(times)
        tab = self.table_
        idx = np.searchsorted(tab["time"].to_numpy(), t, side="right") - 1
        beyond = t > tab["time"].iloc[-1]
        out = pd.DataFrame({"time": t})
        for col in ("survival", "lower", "upper"):
            v = np.where(idx >= 0, tab[col].to_numpy()[np.maximum(idx, 0)], 1.0)
            out[col] = np.where(beyond, np.nan, v)
        return out

    def numbers_at_risk(self, times) -> pd.DataFrame:
        """At risk (AVAL >= t), cumulative events and censorings (AVAL <= t) at ``times``."""
        self._check_fitted()
        t = _times(times)
        dur, ev = self._durations, self._events
        return pd.DataFrame({
            "time": t,
            "at_risk": [int((dur >= x).sum()) for x in t],
            "events_cum": [int(((dur <= x) & (ev == 1)).sum()) for x in t],
            "censored_cum": [int(((dur <= x) & (ev == 0)).sum()) for x in t],
        })

    @property
    def curve_(self) -> pd.DataFrame:
        """``table_`` with a leading (time 0, survival 1) row, ready to draw as a step line."""
        self._check_fitted()
        tab = self.table_
        if tab["time"].iloc[0] == 0:
            return tab.copy()
        first = pd.DataFrame([{"time": 0.0, "at_risk": self.n_, "events": 0, "censored": 0,
                               "survival": 1.0, "std_err": 0.0, "lower": 1.0, "upper": 1.0}])
        return pd.concat([first, tab], ignore_index=True)

    def summary_table(self) -> pd.DataFrame:
        """One row: label, n, events, median, lower, upper, ci, conf_level."""
        self._check_fitted()
        return pd.DataFrame([{
            "label": self.label_, "n": self.n_, "events": self.events_, "median": self.median_,
            "lower": self.median_ci_[0], "upper": self.median_ci_[1], "ci": self.ci,
            "conf_level": 1 - self.alpha,
        }])

    def __repr__(self) -> str:
        state = f", median={self.median_:g}" if hasattr(self, "median_") else ""
        return f"KaplanMeier(alpha={self.alpha}, ci={self.ci!r}{state})"


def kaplan_meier(adtte: pd.DataFrame, paramcd: str, *, alpha: float = 0.05, ci: str = "log-log",
                 label: str | None = None) -> KaplanMeier:
    """``KaplanMeier(alpha, ci).fit(adtte, paramcd, label)`` in one call."""
    return KaplanMeier(alpha=alpha, ci=ci).fit(adtte, paramcd, label=label)


# --------------------------------------------------------------------------------------------------
# log-rank and curves by group
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogRankResult:
    """Log-rank test (R ``survdiff``, rho = 0); ``table``: group, n, observed, expected, o_minus_e."""

    test_statistic: float
    df: int
    p_value: float
    table: pd.DataFrame = field(repr=False)
    by: str = ""


def _logrank_arrays(durations, events, groups, by: str) -> LogRankResult:
    from lifelines.statistics import multivariate_logrank_test

    durations = np.asarray(durations, dtype=float)
    events = np.asarray(events, dtype=int)
    groups = np.asarray(groups, dtype=object)
    levels = sorted(pd.unique(groups))
    if len(levels) < 2:
        raise SurvivalInputError(f"log-rank needs at least two groups of {by!r} (got {levels})")
    res = multivariate_logrank_test(durations, groups, events)
    # expected events per group, sum over event times of d(t) n_g(t) / n(t), from sorted counts
    event_times, d_all = np.unique(durations[events == 1], return_counts=True)

    def at_risk(values):  # #(values >= t) at each event time
        return values.size - np.searchsorted(np.sort(values), event_times, side="left")

    n_all = at_risk(durations)
    rows = []
    for g in levels:
        in_g = groups == g
        expected = float((d_all * at_risk(durations[in_g]) / n_all).sum())
        observed = int(events[in_g].sum())
        rows.append({"group": g, "n": int(in_g.sum()), "observed": observed,
                     "expected": expected, "o_minus_e": observed - expected})
    return LogRankResult(test_statistic=float(res.test_statistic),
                         df=int(res.degrees_of_freedom), p_value=float(res.p_value),
                         table=pd.DataFrame(rows), by=by)


def logrank(adtte: pd.DataFrame, adsl: pd.DataFrame, paramcd: str, by: str) -> LogRankResult:
    """Log-rank test of ``paramcd`` across the levels of ADSL column ``by``.

    Notes
    -----
    lifelines ``multivariate_logrank_test`` (chi-square with k - 1 df); identical to R's
    ``survdiff``.  Expected counts are summed over distinct event times with the hypergeometric
    share n_g / n.  Do not use with ``by="HCTFL"``: transplant happens after time zero (see
    :func:`landmark`).
    """
    _guard_hct(by)
    d = _with_adsl(_endpoint(adtte, paramcd), adsl, [by])
    return _logrank_arrays(d["AVAL"], d["EVENT"], _group_values(d, by), by)


@dataclass(frozen=True)
class KaplanMeierByResult:
    """KM curves per group plus the log-rank test.

    ``table``: one row per group (group, n, events, median, lower, upper, ci, conf_level);
    ``steps``: every curve's ``curve_`` (steps from time 0) with a ``group`` column, for plotting.
    """

    by: str
    curves: dict
    logrank: LogRankResult
    table: pd.DataFrame = field(repr=False)
    steps: pd.DataFrame = field(repr=False)


def kaplan_meier_by(adtte: pd.DataFrame, adsl: pd.DataFrame, paramcd: str, by: str = "DIAG", *,
                    alpha: float = 0.05, ci: str = "log-log") -> KaplanMeierByResult:
    """Kaplan-Meier curve per level of ADSL column ``by`` (sorted), with the log-rank test.

    ``logrank`` is None when the data hold a single group or no event (there is nothing to test:
    R's ``survdiff`` then reports p = NA).  ``by`` must be a baseline ADSL variable (HCTFL is
    refused: see :func:`landmark`).
    """
    _guard_hct(by)
    km = KaplanMeier(alpha=alpha, ci=ci)  # checks the arguments before any work
    d = _with_adsl(_endpoint(adtte, paramcd), adsl, [by])
    groups = _group_values(d, by)
    code, levels = pd.factorize(groups, sort=True)  # each patient's group, numbered once
    aval, event = d["AVAL"].to_numpy(), d["EVENT"].to_numpy()
    curves = {}
    for j, g in enumerate(levels):
        curves[g] = KaplanMeier(alpha=km.alpha, ci=km.ci)._fit_arrays(aval[code == j], event[code == j], g)
        curves[g].paramcd_ = paramcd
    test = (_logrank_arrays(d["AVAL"], d["EVENT"], groups, by)
            if len(curves) > 1 and int(event.sum()) > 0 else None)
    table = pd.concat([c.summary_table() for c in curves.values()], ignore_index=True) \
        .rename(columns={"label": "group"})
    steps = pd.concat([c.curve_.assign(group=g) for g, c in curves.items()], ignore_index=True)
    return KaplanMeierByResult(by=by, curves=curves, logrank=test, table=table, steps=steps)


# --------------------------------------------------------------------------------------------------
# follow-up
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FollowUp:
    """Median follow-up with CI; ``inf`` = not reached.  ``table`` is the same as one row."""

    median: float
    lower: float
    upper: float
    method: str = "reverse Kaplan-Meier"
    n: int = 0
    ci: str = "log-log"
    table: pd.DataFrame = field(default=None, repr=False)


def median_follow_up(adtte: pd.DataFrame, paramcd: str = "OS", *, alpha: float = 0.05,
                     ci: str = "log-log") -> FollowUp:
    """Median potential follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996).

    Notes
    -----
    Censoring is the "event" and death censors follow-up: ``survfit(Surv(AVAL, CNSR) ~ 1)``.
    At a time with both, deaths come first, so a patient censored that day is still "at risk of
    being censored".  Median and CI as for :class:`KaplanMeier`.
    """
    km = KaplanMeier(alpha=alpha, ci=ci)
    d = _endpoint(adtte, paramcd)
    km._fit_arrays(d["AVAL"].to_numpy(), d["CNSR"].to_numpy(), f"{paramcd} follow-up")
    lo, hi = km.median_ci_
    table = pd.DataFrame([{"paramcd": paramcd, "n": km.n_, "median": km.median_, "lower": lo,
                           "upper": hi, "method": "reverse Kaplan-Meier", "ci": ci,
                           "conf_level": 1 - km.alpha}])
    return FollowUp(median=km.median_, lower=lo, upper=hi, n=km.n_, ci=ci, table=table)


# --------------------------------------------------------------------------------------------------
# transplant: landmark, time-dependent Cox, Simon-Makuch
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LandmarkResult:
    """Landmark comparison of patients transplanted by ``day`` against the others.

    ``table``: per group (group, n, events, median, lower, upper, ci, conf_level), times counted
    from the landmark; ``steps`` the re-based KM curves (from time 0) with ``group``; ``n_excluded``
    patients whose event or censoring came before the landmark.  ``curves`` holds only the groups
    with patients (none when nobody is in follow-up at the landmark); ``logrank`` is None unless
    both groups have patients and there is at least one event after the landmark.
    """

    day: float
    curves: dict
    logrank: LogRankResult | None
    table: pd.DataFrame = field(repr=False)
    steps: pd.DataFrame = field(repr=False)
    n_included: int = 0
    n_excluded: int = 0


def landmark(adtte: pd.DataFrame, adsl: pd.DataFrame, paramcd: str = "OS", day: float = 100, *,
             alpha: float = 0.05, ci: str = "log-log") -> LandmarkResult:
    """Landmark analysis of consolidative transplant at ``day`` days after infusion.

    Patients still in follow-up at the landmark (AVAL >= day: neither the event nor censoring
    before it) are grouped by transplant on or before the landmark (HCT day <= day) and followed
    from the landmark (time AVAL - day).  A KM curve per group and the log-rank test.

    Notes
    -----
    Avoids immortal-time bias by fixing the groups at the landmark; transplants after the
    landmark stay in the "No HCT" group (intention-to-treat at the landmark), which dilutes
    the contrast.  A patient with the event exactly on the landmark day is included with time 0
    (R ``subset(time >= day)``).  The result depends on the chosen day: state it.
    """
    if not isinstance(day, (int, float)) or isinstance(day, bool) or not day > 0:
        raise SurvivalInputError(f"landmark day must be a number > 0 (got {day!r})")
    km = KaplanMeier(alpha=alpha, ci=ci)
    d = _with_adsl(_endpoint(adtte, paramcd), adsl, _require_transplants(adsl, "the landmark analysis"))
    hct = _hct_day(d)
    at = d["AVAL"] >= day
    sub = d.loc[at]
    grp = np.where(hct.loc[at] <= day, "HCT", "No HCT")
    t = sub["AVAL"].to_numpy() - day
    ev = sub["EVENT"].to_numpy()
    curves = {}
    for g in HCT_GROUPS:
        m = grp == g
        if m.any():
            curves[g] = KaplanMeier(alpha=km.alpha, ci=km.ci)._fit_arrays(t[m], ev[m], g)
    test = (_logrank_arrays(t, ev, grp, f"HCT by day {day:g}")
            if len(curves) == 2 and int(ev.sum()) > 0 else None)
    table = pd.concat([c.summary_table() for c in curves.values()], ignore_index=True) \
        .rename(columns={"label": "group"}) if curves else pd.DataFrame()
    steps = pd.concat([c.curve_.assign(group=g) for g, c in curves.items()], ignore_index=True) \
        if curves else pd.DataFrame()
    return LandmarkResult(day=float(day), curves=curves, logrank=test, table=table, steps=steps,
                          n_included=int(at.sum()), n_excluded=int((~at).sum()))


def counting_process(adtte: pd.DataFrame, adsl: pd.DataFrame, paramcd: str = "OS",
                     covariates: Sequence[str] = ()) -> pd.DataFrame:
    """Split each patient's follow-up at transplant: (start, stop] rows with ``hct`` 0/1.

    This is patient-level working data for the models, not for display.

    Notes
    -----
    Conventions of the R ``survival`` "timedep" vignette (Stanford heart data): a follow-up of
    0 days becomes 0.5 day; a transplant on the last day of follow-up (day of the event or of
    censoring) is placed half a day earlier, so it counts as exposure.  A transplant after the
    end of this endpoint's follow-up (e.g. salvage HCT after relapse, for PFS) leaves ``hct`` 0.
    """
    d = _with_adsl(_endpoint(adtte, paramcd), adsl,
                   [*_require_transplants(adsl, "the split of follow-up at transplant"), *covariates])
    hday = _hct_day(d).to_numpy()
    aval = d["AVAL"].to_numpy()
    stop = np.maximum(aval, 0.5)
    split = np.where(hday == aval, hday - 0.5, hday)
    event = d["EVENT"].to_numpy(dtype=np.int64)
    never = np.isnan(split) | (split >= stop)      # no transplant within follow-up: one row, hct 0
    from_start = ~never & (split <= 0)             # transplanted at infusion: one row, hct 1
    two = ~never & ~from_start                     # (0, split] untransplanted, then (split, stop]
    patient = np.repeat(np.arange(len(d)), np.where(two, 2, 1))
    second = np.zeros(patient.size, dtype=bool)    # the post-transplant row of a split patient
    second[1:] = patient[1:] == patient[:-1]
    first_of_two = two[patient] & ~second
    out = pd.DataFrame({
        "USUBJID": d["USUBJID"].to_numpy()[patient],
        "start": np.where(second, split[patient], 0.0),
        "stop": np.where(first_of_two, split[patient], stop[patient]),
        "event": np.where(first_of_two, 0, event[patient]),
        "hct": np.where(never[patient] | first_of_two, 0, 1),
    })
    for c in covariates:
        out[c] = d[c].to_numpy()[patient]
    return out


@dataclass(frozen=True)
class TimeDependentCoxResult:
    """Cox model with transplant as a time-dependent covariate.

    ``table``: term, coef, se, hr, lower, upper, z, p; ``hr``/``lower``/``upper``/``p_value``
    repeat the ``hct`` row for glue.
    """

    table: pd.DataFrame = field(repr=False)
    hr: float
    lower: float
    upper: float
    p_value: float
    n_subjects: int
    n_intervals: int
    events: int


def transplant_time_dependent_cox(adtte: pd.DataFrame, adsl: pd.DataFrame, paramcd: str = "OS",
                                  covariates: Sequence[str] = (), *,
                                  alpha: float = 0.05) -> TimeDependentCoxResult:
    """Hazard ratio of transplant, modelled as a covariate that switches from 0 to 1 at HCT.

    Notes
    -----
    Efron ties on :func:`counting_process` rows, equal to R ``coxph(Surv(tstart, tstop, event) ~
    hct)`` on ``tmerge`` data: fitted exactly from risk-set counts when ``hct`` is the only term
    (fast at any cohort size), with lifelines ``CoxTimeVaryingFitter`` when ``covariates`` are added.  Each patient counts as
    untransplanted until the transplant day, so no immortal time is credited to the HCT group.
    Assumes proportional hazards and an immediate, constant effect of transplant.  Extra
    ``covariates`` must be numeric ADSL columns (baseline values).
    """
    from lifelines import CoxTimeVaryingFitter

    alpha = _check_alpha(alpha)
    for c in covariates:
        _guard_hct(c)
    cp = counting_process(adtte, adsl, paramcd, covariates)
    if not (cp["hct"] == 1).any():
        raise SurvivalInputError("time-dependent Cox: the hazard ratio of transplant is not "
                                 "estimable: no patient was transplanted during follow-up")
    if cp["hct"].nunique() < 2:
        raise SurvivalInputError("time-dependent Cox needs follow-up both before and after HCT")
    deaths = cp.loc[cp["event"] == 1, "hct"]
    if deaths.empty:
        raise SurvivalInputError("time-dependent Cox: the hazard ratio of transplant is not "
                                 "estimable: there were no events")
    if not covariates and deaths.nunique() < 2:
        state = "after" if deaths.iloc[0] == 1 else "before"
        raise SurvivalInputError(
            "time-dependent Cox: the hazard ratio of transplant is not estimable: every event came "
            f"{state} transplant (the estimate would be {'infinite' if state == 'after' else 'zero'})")
    cols = ["USUBJID", "start", "stop", "event", *covariates, "hct"]
    frame = cp[cols].dropna()
    if covariates:
        ctv = CoxTimeVaryingFitter(alpha=alpha)
        ctv.fit(frame, id_col="USUBJID", event_col="event", start_col="start", stop_col="stop",
                fit_options={"precision": 1e-10})
        table = _cox_table(ctv.summary, alpha)
    else:
        table = _binary_efron_cox(frame["start"], frame["stop"], frame["event"], frame["hct"], alpha)
    row = table.loc[table["term"] == "hct"].iloc[0]
    return TimeDependentCoxResult(table=table, hr=float(row["hr"]), lower=float(row["lower"]),
                                  upper=float(row["upper"]), p_value=float(row["p"]),
                                  n_subjects=int(frame["USUBJID"].nunique()),
                                  n_intervals=int(len(frame)), events=int(frame["event"].sum()))


@dataclass(frozen=True)
class SimonMakuchResult:
    """Simon-Makuch curves by current transplant status.

    ``table``: step table per group (group, time, at_risk, events, exits, survival, lower,
    upper); in the HCT group ``exits`` are censorings, in the No-HCT group they include the
    moves to HCT.  The HCT curve starts at its first entry (survival 1 before it).
    ``at_risk(times)`` gives numbers at risk for the plot.  The private ``_intervals`` hold the
    (start, stop, hct) rows, without identifiers, for ``at_risk``; never display them.
    """

    table: pd.DataFrame = field(repr=False)
    _intervals: pd.DataFrame = field(repr=False, compare=False)

    def at_risk(self, times) -> pd.DataFrame:
        """Numbers at risk per group at ``times``: in that state at t (start < t <= stop).

        R's ``summary(fit, times)`` instead reports the risk set of the first curve time >= t,
        which for the HCT curve (late entries) can be larger; the risk sets on the curve's own
        times (``table.at_risk``) are the same as R's.  At time 0 every patient starting
        follow-up in the group counts (all patients start in "No HCT").
        """
        t = _times(times)
        cp = self._intervals
        rows = []
        for g, flag in zip(HCT_GROUPS, (0, 1)):
            sub = cp.loc[cp["hct"] == flag]
            for x in t:
                entered = (sub["start"] < x) | ((x == 0) & (sub["start"] == 0))
                rows.append({"group": g, "time": x,
                             "at_risk": int((entered & (sub["stop"] >= x)).sum())})
        return pd.DataFrame(rows)

    def survival_at(self, times) -> pd.DataFrame:
        """Survival and CI per group at ``times`` (NaN before entry to or after the last row)."""
        t = _times(times)
        rows = []
        for g in HCT_GROUPS:
            tab = self.table.loc[self.table["group"] == g]
            if tab.empty:
                continue
            idx = np.searchsorted(tab["time"].to_numpy(), t, side="right") - 1
            for x, i in zip(t, idx):
                beyond = x > tab["time"].iloc[-1]
                vals = (1.0, 1.0, 1.0) if i < 0 else tuple(tab[c].iloc[i] for c in
                                                           ("survival", "lower", "upper"))
                if beyond:
                    vals = (math.nan,) * 3
                rows.append({"group": g, "time": x, "survival": vals[0], "lower": vals[1],
                             "upper": vals[2]})
        return pd.DataFrame(rows)


def simon_makuch(adtte: pd.DataFrame, adsl: pd.DataFrame, paramcd: str = "OS", *,
                 alpha: float = 0.05, ci: str = "log-log") -> SimonMakuchResult:
    """Simon-Makuch (1984) product-limit curves with transplant as a time-dependent state.

    Every patient starts in "No HCT" and moves to "HCT" on the transplant day; each curve's risk
    set at time t holds the patients in that state at t.  Equal to R
    ``survfit(Surv(tstart, tstop, event) ~ hct)`` on :func:`counting_process` rows.

    Notes
    -----
    The HCT curve is a conditional, descriptive estimate (it has late entries), not the survival
    of a fixed group; its early part rests on few patients.  Greenwood variance on the
    counting-process risk sets; transform ``ci`` as for :class:`KaplanMeier`.
    """
    alpha, ci = _check_alpha(alpha), _check_ci(ci)
    cp = counting_process(adtte, adsl, paramcd)
    parts = []
    for g, flag in zip(HCT_GROUPS, (0, 1)):
        sub = cp.loc[cp["hct"] == flag]
        if len(sub):
            parts.append(_product_limit_cp(sub["start"], sub["stop"], sub["event"], alpha, ci)
                         .assign(group=g))
    table = pd.concat(parts, ignore_index=True)
    table = table[["group", *[c for c in table.columns if c != "group"]]]
    return SimonMakuchResult(table=table, _intervals=cp[["start", "stop", "hct"]].copy())


# --------------------------------------------------------------------------------------------------
# cumulative incidence with a competing risk
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CumulativeIncidence:
    """Aalen-Johansen cumulative incidence of ``event`` with ``competing`` as competing risk.

    ``table``: one row per distinct time: time, at_risk, events, competing_events, censored,
    cif, std_err, lower, upper, cif_competing, std_err_competing, lower_competing,
    upper_competing, event_free.  ``at(times)`` reads the step functions.
    """

    event: str
    competing: str
    n: int
    events: int
    competing_events: int
    ci: str
    alpha: float
    table: pd.DataFrame = field(repr=False)

    @property
    def curve(self) -> pd.DataFrame:
        """``table`` with a leading time-0 row (both CIFs 0), ready to draw as step lines."""
        tab = self.table
        if tab["time"].iloc[0] == 0:
            return tab.copy()
        first = {c: 0.0 for c in tab.columns}
        first.update(at_risk=self.n, event_free=1.0)
        return pd.concat([pd.DataFrame([first]).astype(tab.dtypes.to_dict()), tab],
                         ignore_index=True)

    def at(self, times) -> pd.DataFrame:
        """CIFs and CIs at ``times`` (0 before the first time, NaN after the last)."""
        t = _times(times)
        tab = self.table
        idx = np.searchsorted(tab["time"].to_numpy(), t, side="right") - 1
        beyond = t > tab["time"].iloc[-1]
        out = pd.DataFrame({"time": t})
        cols = ["cif", "lower", "upper", "cif_competing", "lower_competing", "upper_competing",
                "event_free"]
        for c in cols:
            before = 1.0 if c == "event_free" else 0.0
            v = np.where(idx >= 0, tab[c].to_numpy()[np.maximum(idx, 0)], before)
            out[c] = np.where(beyond, np.nan, v)
        return out


def cumulative_incidence(adtte: pd.DataFrame, paramcd: str = "PFS", event: str = RELAPSE,
                         competing: str = DEATH, *, alpha: float = 0.05,
                         ci: str = "log") -> CumulativeIncidence:
    """Cumulative incidence of ``event`` (e.g. relapse) with ``competing`` (death) competing.

    Parameters
    ----------
    paramcd : endpoint whose events are split by EVNTDESC (PFS: relapse or death first).
    event, competing : the two EVNTDESC values; every event row must carry one of them.
    ci : interval transform on the probability scale; ``"log"`` is R's default for multi-state
        ``survfit`` and matches it.

    Notes
    -----
    Aalen-Johansen estimator, implemented here (exact, no jitter):
    CIF_k(t) = sum over event times s <= t of S(s-) d_k(s) / n(s), S = all-cause KM, so
    cif + cif_competing + event_free = 1 at every time.  Ties: relapses and deaths on the same
    day enter that day's step together, which gives exactly the estimate of the fixed ordering
    relapse, then death, then censoring (the product-limit is invariant to the order of events
    within a day); censorings on an event day are still at risk.  Nothing is random, results are
    identical run to run.  Standard errors are the infinitesimal jackknife (derivative of the
    estimate with respect to each patient's case weight), R ``survfit``'s multi-state default.
    Assumes censoring independent of both causes.
    """
    alpha, ci = _check_alpha(alpha), _check_ci(ci)
    if event == competing:
        raise SurvivalInputError("event and competing must be different EVNTDESC values")
    d = _endpoint(adtte, paramcd, ["EVNTDESC"])
    desc = d["EVNTDESC"].where(d["EVENT"] == 1)
    bad = (d["EVENT"] == 1) & ~desc.isin([event, competing])
    if bad.any():
        found = sorted(map(str, desc[bad].unique()))
        raise SurvivalInputError(
            f"every {paramcd} event must have EVNTDESC {event!r} or {competing!r} (found {found})")
    cause = np.select([desc.eq(event), desc.eq(competing)], [1, 2], 0)
    tab = _aalen_johansen(d["AVAL"].to_numpy(), cause, alpha, ci)
    return CumulativeIncidence(event=event, competing=competing, n=len(d),
                               events=int((cause == 1).sum()),
                               competing_events=int((cause == 2).sum()), ci=ci, alpha=alpha,
                               table=tab)
