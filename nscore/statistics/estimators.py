"""Array-level estimators of the survival layer, each reproducing one R function.

* :func:`_confint`, :func:`_findq`, :func:`_r_median`: ``survfit``'s pointwise intervals and
  ``quantile.survfit``'s median with its CI (flat 0.5 segments averaged, "not reached" = inf);
* :func:`_binary_efron_cox`: ``coxph(Surv(start, stop, event) ~ x)`` with Efron ties for one binary,
  time-dependent covariate;
* :func:`_product_limit_cp`: ``survfit`` on counting-process (start, stop] data (Simon-Makuch);
* :func:`_aalen_johansen`: ``survfit`` with a multi-state (competing risks) outcome.

They take plain arrays and are called by :mod:`nscore.statistics.survival`, which checks the ADaM
frames first; tests/test_survival.py checks each against R's output.
"""

from __future__ import annotations

import math
import numpy as np
import pandas as pd
from scipy import stats

from nscore.errors import SurvivalInputError

_TOL = math.sqrt(np.finfo(float).eps)  # R's quantile.survfit tolerance


def _confint(p: np.ndarray, se_log: np.ndarray, z: float, ci: str,
             fill: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI as R's ``survfit_confint(p, se, logse=TRUE)``.

    With ``fill`` the interval is the point itself where p is 0 or 1 (or se is infinite); without
    it those places are NaN exactly where R gives NA (needed for R's median CI).
    """
    p = np.asarray(p, dtype=float)
    se = np.asarray(se_log, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if ci == "plain":
            half = z * se * p
            lower, upper = np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)
        elif ci == "log":
            lower, upper = p * np.exp(-z * se), np.minimum(p * np.exp(z * se), 1.0)
        else:  # log-log
            s2 = z * se / np.log(p)
            lower = np.exp(-np.exp(np.log(-np.log(p)) - s2))
            upper = np.exp(-np.exp(np.log(-np.log(p)) + s2))
    if not fill:
        na = (p <= 0) | ((p >= 1) & (ci == "log-log"))
        return np.where(na, np.nan, lower), np.where(na, np.nan, upper)
    point = (p <= 0) | (p >= 1) | ~np.isfinite(se)
    lower = np.where(point, p, lower)
    upper = np.where(point, p, upper)
    return lower, upper


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = _TOL) -> float:
    """R's ``survival:::findq`` for one probability: the time the cumulative curve ``y`` reaches p.

    Returns ``inf`` where R returns NA (the curve never reaches p: "not reached").
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return math.inf
    xmax = x[-1]
    keep = ~pd.Series(y).duplicated().to_numpy()
    x, y = x[keep], y[keep]
    last_is_na = bool(np.isnan(y[-1]))  # R checks y[n] before approx drops the NAs
    ok = ~np.isnan(y)
    x, y = x[ok], y[ok]

    def step_index(grid: np.ndarray) -> float:
        # approx(grid, 1:n, p, method="constant", f=1): index of the first grid point >= p
        # (exact hit on grid point i gives i); NA when p is outside the grid.
        if p < grid[0] or p > grid[-1]:
            return math.nan
        hits = np.nonzero(grid == p)[0]
        if hits.size:
            return float(hits[0])
        return float(np.searchsorted(grid, p, side="left"))

    i1, i2 = step_index(y + tol), step_index(y - tol)
    if math.isnan(i1) or math.isnan(i2):
        q = math.nan
    else:
        q = (x[int(i1)] + x[int(i2)]) / 2
    if p == 0:
        q = x[0]
    if not last_is_na and abs(p - y[-1]) < tol and not math.isnan(i1):
        q = (x[int(i1)] + xmax) / 2
    return math.inf if math.isnan(q) else float(q)


def _r_median(time, surv, lower, upper, p: float = 0.5) -> tuple[float, float, float]:
    """Median and CI as R's ``quantile.survfit`` (first time 0; flat 0.5 segments averaged)."""
    x = np.concatenate([[0.0], np.asarray(time, dtype=float)])

    def cum(s):
        return np.concatenate([[0.0], 1 - np.asarray(s, dtype=float)])

    med, lo, hi = _findq(x, cum(surv), p), _findq(x, cum(lower), p), _findq(x, cum(upper), p)
    if math.isfinite(med) and math.isinf(lo):
        # the lower curve lies below the estimate, so it cannot be "not reached" when the
        # estimate is; R's NA comes from an undefined limit (S = 0): not estimable.
        lo = math.nan
    return med, lo, hi


def _binary_efron_cox(start, stop, event, x, alpha: float, term: str = "hct",
                      tol: float = 1e-10, max_iter: int = 50) -> pd.DataFrame:
    """Cox model on (start, stop] rows with ONE binary covariate, Efron ties, fitted exactly.

    Why not lifelines here: ``CoxTimeVaryingFitter`` rebuilds every risk set with full-length
    masks, which is quadratic in the number of rows (minutes at 100,000 patients).  With a single
    0/1 covariate the Efron partial likelihood depends on the data only through, at each distinct
    event time, the numbers at risk and the events in each group, so those counts (sorted
    searches, O(n log n)) are sufficient and the fit is the same as R's
    ``coxph(Surv(start, stop, event) ~ x)`` (Newton-Raphson from 0, Wald test and interval).

    At event time j with r = exp(beta), risk-score sums A = n0 + n1 r and B = d0 + d1 r, the
    log-likelihood term is ``d1 beta - sum_{k<d} log(A - (k/d) B)``.
    """
    start, stop, event, x = (np.asarray(a, dtype=float) for a in (start, stop, event, x))
    times = np.unique(stop[event == 1])
    if times.size == 0:
        raise SurvivalInputError("time-dependent Cox needs at least one event")

    def at_risk(mask):  # rows with start < t <= stop
        return (np.searchsorted(np.sort(start[mask]), times, side="left")
                - np.searchsorted(np.sort(stop[mask]), times, side="left")).astype(float)

    def events(mask):
        t = stop[mask & (event == 1)]
        return np.searchsorted(np.sort(t), times, side="right") - np.searchsorted(np.sort(t), times, side="left")

    n0, n1 = at_risk(x == 0), at_risk(x == 1)
    d0, d1 = events(x == 0).astype(float), events(x == 1).astype(float)
    d = (d0 + d1).astype(int)
    j = np.repeat(np.arange(times.size), d)                      # one row per tied event
    frac = np.arange(d.sum()) - np.repeat(np.cumsum(d) - d, d)   # k = 0 .. d_j - 1
    frac = frac / d[j]

    def score_info(beta):
        r = math.exp(beta)
        c = (n0[j] + n1[j] * r) - frac * (d0[j] + d1[j] * r)
        dc = n1[j] * r - frac * d1[j] * r                        # dC/dbeta (= d2C/dbeta2)
        q = dc / c
        return d1.sum() - q.sum(), float((q - q * q).sum())

    beta = 0.0
    for _ in range(max_iter):
        u, info = score_info(beta)
        if info <= 0:
            raise SurvivalInputError("time-dependent Cox did not converge (no information on hct)")
        step = u / info
        beta += step
        if abs(step) < tol:
            break
    else:  # pragma: no cover - a 1-D concave likelihood converges in a few steps
        raise SurvivalInputError("time-dependent Cox did not converge")
    _, info = score_info(beta)
    se = 1.0 / math.sqrt(info)
    zq = stats.norm.ppf(1 - alpha / 2)
    z = beta / se
    return pd.DataFrame({
        "term": [term], "coef": [beta], "se": [se], "hr": [math.exp(beta)],
        "lower": [math.exp(beta - zq * se)], "upper": [math.exp(beta + zq * se)],
        "z": [z], "p": [float(2 * stats.norm.sf(abs(z)))], "conf_level": [1 - alpha],
    })


def _product_limit_cp(start, stop, event, alpha: float, ci: str) -> pd.DataFrame:
    """Product-limit on (start, stop] data, R ``survfit(Surv(start, stop, event))`` semantics.

    At risk at t: start < t <= stop.  Rows at every distinct stop time.
    """
    start, stop, event = (np.asarray(a, dtype=float) for a in (start, stop, event))
    times = np.unique(stop)
    # counts by sorted search (O(n log n)): at risk = #(start < t) - #(stop < t)
    n = (np.searchsorted(np.sort(start), times, side="left")
         - np.searchsorted(np.sort(stop), times, side="left")).astype(float)

    def ending_at(t_end):
        t_end = np.sort(t_end)
        return (np.searchsorted(t_end, times, side="right") - np.searchsorted(t_end, times, side="left")).astype(float)

    d, exits = ending_at(stop[event == 1]), ending_at(stop[event == 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(n > 0, 1 - d / n, 1.0))
        term = np.where(d > 0, d / (n * (n - d)), 0.0)
    se_log = np.sqrt(np.cumsum(term))
    lower, upper = _confint(surv, se_log, stats.norm.ppf(1 - alpha / 2), ci)
    return pd.DataFrame({"time": times, "at_risk": n.astype(int), "events": d.astype(int),
                         "exits": exits.astype(int), "survival": surv, "lower": lower,
                         "upper": upper})


def _aalen_johansen(durations, cause, alpha: float, ci: str) -> pd.DataFrame:
    """AJ estimate for two causes (1, 2; 0 = censored) with infinitesimal-jackknife SE (as R)."""
    # Patients with the same (time, cause) have identical jackknife derivatives, so the work is
    # done once per distinct pair, weighted by how many patients share it (exact, and independent
    # of cohort size: at most three pairs per distinct time). The pairs and their counts come from
    # one lexsort, in np.unique(axis=0)'s order (np.unique over rows took a second at 1M patients).
    durations, cause = np.asarray(durations, dtype=float), np.asarray(cause, dtype=int)
    order = np.lexsort((cause, durations))
    T_all, c_all = durations[order], cause[order]
    first = np.flatnonzero(np.r_[True, (T_all[1:] != T_all[:-1]) | (c_all[1:] != c_all[:-1])])
    T, c = T_all[first], c_all[first]
    w = np.diff(np.r_[first, T_all.size]).astype(float)
    n_obs = T.size
    times = np.unique(T)
    S, F1, F2 = 1.0, 0.0, 0.0
    dS, dF1, dF2 = np.zeros(n_obs), np.zeros(n_obs), np.zeros(n_obs)
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for t in times:
        at = T >= t
        now = T == t
        n = w[at].sum()
        dn1, dn2 = (now & (c == 1)), (now & (c == 2))
        d1, d2 = w[dn1].sum(), w[dn2].sum()
        h1, h2 = d1 / n, d2 / n
        if d1 + d2:
            # derivatives with respect to each patient's case weight (infinitesimal jackknife)
            dh1 = (dn1 - at * h1) / n
            dh2 = (dn2 - at * h2) / n
            dF1 = dF1 + dS * h1 + S * dh1
            dF2 = dF2 + dS * h2 + S * dh2
            F1, F2 = F1 + S * h1, F2 + S * h2
            dS = dS * (1 - h1 - h2) - S * (dh1 + dh2)
            S = S * (1 - h1 - h2)
        rows.append((t, n, d1, d2, w[now & (c == 0)].sum(), F1, np.sqrt((w * dF1 ** 2).sum()),
                     F2, np.sqrt((w * dF2 ** 2).sum()), S))
    tab = pd.DataFrame(rows, columns=["time", "at_risk", "events", "competing_events", "censored",
                                      "cif", "std_err", "cif_competing", "std_err_competing",
                                      "event_free"])
    for suffix, p, se in (("", "cif", "std_err"), ("_competing", "cif_competing",
                                                    "std_err_competing")):
        prob = tab[p].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            se_log = np.where(prob > 0, tab[se].to_numpy() / prob, 0.0)  # R: logse = FALSE
        lo, hi = _confint(prob, se_log, z, ci)
        tab["lower" + suffix], tab["upper" + suffix] = lo, hi
    order = ["time", "at_risk", "events", "competing_events", "censored", "cif", "std_err",
             "lower", "upper", "cif_competing", "std_err_competing", "lower_competing",
             "upper_competing", "event_free"]
    return tab[order].astype({"at_risk": int, "events": int, "competing_events": int,
                              "censored": int})
