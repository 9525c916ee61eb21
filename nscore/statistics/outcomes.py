"""Time-to-event analyses of response and transplant outcomes (the standard CAR-T efficacy analyses),
checked against R ``survival`` and ``cmprsk``.

* :func:`duration_of_response`: Kaplan-Meier of the time from response to relapse/progression or
  death among responders (duration of response, DOR) or among CR/CRi patients (relapse-free
  survival, RFS), R ``survfit(Surv(time, status) ~ 1, conf.type = "log-log")``.
* :func:`response_landmark`: OS or PFS from a landmark day by response (and MRD) status reached by
  that day, among patients alive and event-free at the landmark; R ``survfit``/``survdiff`` on
  ``subset(time >= day)``.
* :func:`gray_test`, :func:`transplant_landmark_cif`: cumulative incidence of relapse and of
  non-relapse mortality from a landmark by consolidative transplant done by that day, with Gray's
  test, R ``cmprsk::cuminc(ftime, fstatus, group)``.
* :func:`subgroup_cox`: hazard ratios of each level of a baseline factor against its reference
  level, one univariable Cox model per factor, R ``coxph(Surv(time, status) ~ factor)``.

Inputs are ADaM frames (ADTTE, ADRS with ADT and AVALC, ADSL with TRTSDT/HCTDT); outputs are
aggregated estimators and tables, never patient rows.  An analysis that does not apply returns a
result with ``reason`` set (and no estimate), never raises for odd but valid data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from nscore.data.schema import DEATH, RELAPSE
from nscore.errors import NscoreError, SurvivalInputError
from nscore.statistics.estimators import _aalen_johansen
from nscore.statistics.inputs import _check_alpha, _check_ci, _endpoint, _require_columns, _times
from nscore.statistics.survival import (
    HCT_GROUPS,
    CumulativeIncidence,
    KaplanMeier,
    YEAR_DAYS,
    LogRankResult,
    _logrank_arrays,
)

__all__ = [
    "RESPONDERS",
    "CR_CRI",
    "MONTH_DAYS",
    "ResponseDuration",
    "duration_of_response",
    "ResponseLandmark",
    "response_landmark",
    "GrayTest",
    "gray_test",
    "TransplantCIF",
    "transplant_landmark_cif",
    "SubgroupHazards",
    "subgroup_cox",
]

RESPONDERS = ("CR", "CRi", "PR")
CR_CRI = ("CR", "CRi")
#: Days per month (Julian year / 12): rates "n months after response" are read at n * MONTH_DAYS.
#: The book's one home of the constant (nscore.report.format.DAYS_PER_MONTH imports it).
MONTH_DAYS = YEAR_DAYS / 12


def _response_days(adrs: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """Best overall response per ADRS patient: USUBJID, AVALC, MRDSTAT (NA when not collected) and
    RDAY, days from infusion (ADSL TRTSDT) to the assessment (ADRS ADT; NaN when not delivered)."""
    _require_columns(adrs, ["USUBJID", "AVALC"], "adrs")
    _require_columns(adsl, ["USUBJID", "TRTSDT"], "adsl")
    r = adrs
    if "PARAMCD" in r.columns:
        r = r.loc[r["PARAMCD"].eq("BOR")]
    r = r.drop_duplicates("USUBJID")
    trt = pd.to_datetime(adsl.set_index("USUBJID")["TRTSDT"], errors="coerce")
    adt = (pd.to_datetime(r["ADT"], errors="coerce") if "ADT" in r.columns
           else pd.Series(pd.NaT, index=r.index))
    out = pd.DataFrame({"USUBJID": r["USUBJID"].to_numpy(),
                        "AVALC": r["AVALC"].astype("string").to_numpy(),
                        "MRDSTAT": (r["MRDSTAT"].astype("string").str.upper().to_numpy()
                                    if "MRDSTAT" in r.columns else pd.NA)})
    out["RDAY"] = (adt.to_numpy() - trt.reindex(out["USUBJID"]).to_numpy()) / np.timedelta64(1, "D")
    return out


def _join_endpoint(adtte: pd.DataFrame, paramcd: str, resp: pd.DataFrame, extra=()) -> pd.DataFrame:
    d = _endpoint(adtte, paramcd, extra)
    return resp.merge(d, on="USUBJID", how="inner")


# ------------------------------------------------------------------------------------------------
# duration of response / relapse-free survival
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResponseDuration:
    """Kaplan-Meier from response to relapse/progression or death.

    ``km`` is None when no patient qualifies (``reason`` says why); ``n_responders`` patients had a
    qualifying best response, ``n_excluded`` of them no usable response date (not delivered, or the
    PFS event dated before the response).
    """

    responses: tuple
    km: KaplanMeier | None
    n_responders: int
    n_excluded: int
    reason: str = ""

    def rates_at(self, months: Sequence[float]) -> pd.DataFrame:
        """Survival (free of relapse/progression and death) and CI at ``months`` after response."""
        if self.km is None:
            return pd.DataFrame({"months": list(months), "survival": math.nan, "lower": math.nan,
                                 "upper": math.nan})
        at = self.km.survival_at([m * MONTH_DAYS for m in months])
        return at.assign(months=list(months))


def duration_of_response(adtte: pd.DataFrame, adrs: pd.DataFrame, adsl: pd.DataFrame,
                         responses: Sequence[str] = RESPONDERS, paramcd: str = "PFS", *,
                         alpha: float = 0.05, ci: str = "log-log", label: str = "DOR") -> ResponseDuration:
    """Duration of response (``responses`` = CR, CRi, PR) or relapse-free survival (CR, CRi).

    Time from the best-response assessment (ADRS ADT, the only response date the data model holds:
    the onset of response is taken as that assessment) to the ``paramcd`` (PFS) event, relapse or
    progression or death, censored where PFS is censored: ``AVAL - (ADT - TRTSDT)``.

    Notes
    -----
    R: ``survfit(Surv(pfs_days - response_day, pfs_event) ~ 1, conf.type = "log-log")`` on the
    responders.  Responders with no assessment date, or whose PFS ends before the assessment
    (inconsistent data), are left out and counted in ``n_excluded``.
    """
    km = KaplanMeier(alpha=alpha, ci=ci)
    resp = _response_days(adrs, adsl)
    resp = resp.loc[resp["AVALC"].isin(list(responses)).fillna(False).to_numpy(dtype=bool)]
    d = _join_endpoint(adtte, paramcd, resp)
    n = len(d)
    t = (d["AVAL"] - d["RDAY"]).to_numpy(dtype=float)
    ok = np.isfinite(t) & (t >= 0)
    if n == 0:
        return ResponseDuration(tuple(responses), None, 0, 0, "no patient had a response of this kind")
    if not ok.any():
        return ResponseDuration(tuple(responses), None, n, n, "no responder has a response date")
    km._fit_arrays(t[ok], d["EVENT"].to_numpy()[ok], label)
    km.paramcd_ = label
    return ResponseDuration(tuple(responses), km, n, int((~ok).sum()))


# ------------------------------------------------------------------------------------------------
# landmark by response / MRD
# ------------------------------------------------------------------------------------------------
MRD_GROUPS = ("CR/CRi, MRD-negative", "CR/CRi, MRD-positive", "CR/CRi, MRD not assessed", "No CR/CRi")
RESPONSE_GROUPS = ("CR/CRi", "No CR/CRi")


@dataclass(frozen=True)
class ResponseLandmark:
    """OS/PFS from a landmark day by response status reached by then.

    ``by`` is "mrd" (groups :data:`MRD_GROUPS`) or "response" (:data:`RESPONSE_GROUPS`); ``curves``
    holds the groups with patients, in that order; ``table`` one row per group (group, n, events,
    median, lower, upper, ci, conf_level; times from the landmark); ``logrank`` None unless two or
    more groups and an event.  ``n_included`` efficacy-evaluable patients alive and event-free at
    the landmark, ``n_excluded`` evaluable patients with the event or censored before it.
    """

    paramcd: str
    day: float
    by: str
    curves: dict
    logrank: LogRankResult | None
    table: pd.DataFrame = field(repr=False)
    n_included: int = 0
    n_excluded: int = 0


def response_landmark(adtte: pd.DataFrame, adrs: pd.DataFrame, adsl: pd.DataFrame, paramcd: str = "OS",
                      day: float = 42, by: str = "mrd", *, alpha: float = 0.05,
                      ci: str = "log-log") -> ResponseLandmark:
    """Landmark analysis of ``paramcd`` at ``day`` by response (and MRD) status at the landmark.

    Efficacy-evaluable patients (those with an ADRS row) still alive, event-free and in follow-up
    at ``day`` (``AVAL >= day``) are grouped by the best response assessed on or before ``day``
    (a response assessed later counts as "No CR/CRi" at the landmark: the groups use only what was
    known on that day, which avoids the guarantee-time bias of grouping by best response) and
    followed from the landmark (``AVAL - day``).  With ``by = "mrd"`` CR/CRi is split by MRD status
    at that assessment: negative, positive, or not assessed (MRD does not apply, e.g. lymphoma without
    marrow involvement, or was not done); groups without patients are left out.

    Notes
    -----
    R: ``d <- subset(d, time >= day); survfit(Surv(time - day, status) ~ group, conf.type =
    "log-log"); survdiff(Surv(time - day, status) ~ group)``.
    """
    if not isinstance(day, (int, float)) or isinstance(day, bool) or not day > 0:
        raise SurvivalInputError(f"landmark day must be a number > 0 (got {day!r})")
    if by not in ("mrd", "response"):
        raise SurvivalInputError(f"by must be 'mrd' or 'response' (got {by!r})")
    km0 = KaplanMeier(alpha=alpha, ci=ci)
    d = _join_endpoint(adtte, paramcd, _response_days(adrs, adsl))
    at = (d["AVAL"] >= day).to_numpy()
    d = d.loc[at]
    cr = (d["AVALC"].isin(list(CR_CRI)).fillna(False).to_numpy(dtype=bool)
          & (d["RDAY"] <= day).to_numpy())
    if by == "mrd":
        neg = d["MRDSTAT"].eq("NEGATIVE").fillna(False).to_numpy(dtype=bool)
        pos = d["MRDSTAT"].eq("POSITIVE").fillna(False).to_numpy(dtype=bool)
        grp = np.select([cr & neg, cr & pos, cr], MRD_GROUPS[:3], MRD_GROUPS[3])
        order = MRD_GROUPS
    else:
        grp = np.where(cr, *RESPONSE_GROUPS)
        order = RESPONSE_GROUPS
    t = d["AVAL"].to_numpy(dtype=float) - day
    ev = d["EVENT"].to_numpy()
    curves = {}
    for g in order:
        m = grp == g
        if m.any():
            curves[g] = KaplanMeier(alpha=km0.alpha, ci=km0.ci)._fit_arrays(t[m], ev[m], g)
            curves[g].paramcd_ = paramcd
    test = (_logrank_arrays(t, ev, grp, f"response at day {day:g}")
            if len(curves) > 1 and int(ev.sum()) > 0 else None)
    table = (pd.concat([c.summary_table() for c in curves.values()], ignore_index=True)
             .rename(columns={"label": "group"}) if curves else pd.DataFrame())
    return ResponseLandmark(paramcd, float(day), by, curves, test, table, int(at.sum()), int((~at).sum()))


# ------------------------------------------------------------------------------------------------
# competing risks by group: Gray's test
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GrayTest:
    """Gray's (1988) k-sample test of cumulative incidence curves of one cause (R ``cuminc``'s
    ``Tests``: stat, pv, df)."""

    statistic: float
    df: int
    p_value: float
    cause: int = 1


def gray_test(time, cause, group, target: int = 1, rho: float = 0.0) -> GrayTest:
    """Gray's test that the cumulative incidence of cause ``target`` is the same in every group.

    ``cause``: 0 censored, any other code an event of that cause (every code other than ``target``
    competes).  Returns the chi-square score statistic with k - 1 degrees of freedom (k groups),
    rho-weighted as R ``cmprsk::cuminc(..., rho = 0)``.

    Notes
    -----
    Gray RJ (1988), Ann Stat 16:1141-54, equations (2.3)-(2.5).  At each distinct event time,
    per group k with risk set n_k, left-continuous all-cause KM S_k(t-) and cumulative incidence
    F_k(t-): the weights R_k = n_k (1 - F_k(t-)) / S_k(t-) give the score
    sum_t (d_k1 - d_1 R_k / sum_j R_j) over the first k - 1 groups; the variance is the
    asymptotic one of the paper (the estimator R's Fortran ``crstm`` computes), accumulated over
    the target-cause and competing-cause jumps.  Written from the paper's formulas and checked
    against R (tests/test_outcomes.py).
    """
    y = np.asarray(time, dtype=float)
    m = np.asarray(cause, dtype=int)
    m = np.where(m == 0, 0, np.where(m == target, 1, 2))
    g_raw = np.asarray(group, dtype=object).astype(str)
    levels = sorted(set(g_raw))
    k = len(levels)
    if k < 2:
        raise SurvivalInputError("Gray's test needs at least two groups")
    g = np.searchsorted(np.array(levels), g_raw)
    order = np.argsort(y, kind="stable")
    y, m, g = y[order], m[order], g[order]
    k1 = k - 1
    rs = np.bincount(g, minlength=k).astype(float)       # risk set per group
    f1m = np.zeros(k)      # CIF of target, left-continuous
    skmm = np.ones(k)      # all-cause KM, left-continuous
    fm = 0.0               # pooled CIF (Gray's F^0) left-continuous
    score = np.zeros(k1)
    c = np.zeros((k, k))
    v = np.zeros((k1, k1))
    v2 = np.zeros((k1, k))
    v3 = np.zeros(k)
    times, starts = np.unique(y, return_index=True)
    ends = np.r_[starts[1:], y.size]
    for s0, e0 in zip(starts, ends):
        d = np.zeros((3, k))
        np.add.at(d, (m[s0:e0], g[s0:e0]), 1.0)
        nd1, nd2 = d[1].sum(), d[2].sum()
        live = rs > 0
        if nd1 or nd2:
            td = d[1] + d[2]
            with np.errstate(divide="ignore", invalid="ignore"):
                skm = np.where(live, skmm * (rs - td) / np.where(live, rs, 1), skmm)
                f1 = np.where(live, f1m + skmm * d[1] / np.where(live, rs, 1), f1m)
            with np.errstate(divide="ignore", invalid="ignore"):
                w = np.where(live, rs / skmm, 0.0)
                tq = np.where(live, rs * (1 - f1m) / skmm, 0.0).sum()
            tr = w.sum()
            f = fm + nd1 / tr
            fb = (1 - fm) ** rho
            a = np.zeros((k, k))
            for i in np.flatnonzero(live):
                a[i, i] = fb * w[i] * (1 - w[i] / tr)
                for j in np.flatnonzero(live):
                    if j > i:
                        a[i, j] = a[j, i] = -fb * w[i] * w[j] / tr
            c += a * nd1 / (tr * (1 - fm))
            for i in range(k1):
                if live[i]:
                    score[i] += fb * (d[1, i] - nd1 * rs[i] * (1 - f1m[i]) / (skmm[i] * tq))
            if nd1 > 0:
                for kk in np.flatnonzero(live):
                    t4 = 1 - (1 - f) / skm[kk] if skm[kk] > 0 else 1.0
                    t5 = 1 - (nd1 - 1) / (tr * skmm[kk] - 1) if nd1 > 1 else 1.0
                    t3 = t5 * skmm[kk] * nd1 / (tr * rs[kk])
                    v3[kk] += t4 * t4 * t3
                    t1 = a[:k1, kk] - t4 * c[:k1, kk]
                    v2[:, kk] += t1 * t4 * t3
                    v += np.outer(t1, t1) * t3
            if nd2 > 0:
                for kk in np.flatnonzero((skm > 0) & (d[2] > 0) & live):
                    t4 = (1 - f) / skm[kk]
                    t5 = 1 - (d[2, kk] - 1) / (rs[kk] - 1) if d[2, kk] > 1 else 1.0
                    t3 = t5 * skmm[kk] ** 2 * d[2, kk] / rs[kk] ** 2
                    v3[kk] += t4 * t4 * t3
                    t1 = t4 * c[:k1, kk]
                    v2[:, kk] -= t1 * t4 * t3
                    v += np.outer(t1, t1) * t3
            fm, f1m, skmm = f, f1, skm
        rs -= np.bincount(g[s0:e0], minlength=k)
    cc = c[:k1, :]
    v = v + (cc * v3) @ cc.T + cc @ v2.T + v2 @ cc.T
    try:
        stat = float(score @ np.linalg.solve(v, score))
    except np.linalg.LinAlgError as exc:
        raise SurvivalInputError("Gray's test: singular variance (no information)") from exc
    return GrayTest(statistic=stat, df=k1, p_value=float(stats.chi2.sf(stat, k1)), cause=target)


@dataclass(frozen=True)
class TransplantCIF:
    """Cumulative incidence of relapse and non-relapse mortality from a landmark by transplant.

    ``groups``: {"No HCT"/"HCT": :class:`CumulativeIncidence`} (times from the landmark) for the
    groups with patients; ``gray_relapse``/``gray_nrm``: Gray's test of each cause (None when it
    does not apply: one group, or no event of that cause); ``reason`` when nothing is estimated.
    """

    day: float
    groups: dict
    gray_relapse: GrayTest | None
    gray_nrm: GrayTest | None
    n_included: int
    n_excluded: int
    reason: str = ""


def transplant_landmark_cif(adtte: pd.DataFrame, adsl: pd.DataFrame, day: float = 100, *,
                            paramcd: str = "PFS", alpha: float = 0.05, ci: str = "log") -> TransplantCIF:
    """Relapse and non-relapse mortality (NRM) incidence from ``day`` by transplant by ``day``.

    Patients alive, relapse-free and in follow-up at the landmark (PFS ``AVAL >= day``) are grouped
    by an allogeneic transplant on or before the landmark (ADSL HCTDT - TRTSDT <= day) and followed
    from it: relapse or progression (EVNTDESC) is the event of interest, death without relapse the
    competing event (NRM), and each has its Aalen-Johansen curve per group and Gray's test.

    Notes
    -----
    Groups are fixed at the landmark, so no immortal time is credited to transplant; transplants
    after the landmark stay in "No HCT" (intention-to-treat at the landmark).  R:
    ``cmprsk::cuminc(time - day, status, group)`` on ``subset(time >= day)``; curves as
    ``survfit(Surv(time, factor(status)) ~ 1)`` per group (:func:`~nscore.statistics.survival.
    cumulative_incidence`).
    """
    alpha, ci = _check_alpha(alpha), _check_ci(ci)
    if not isinstance(day, (int, float)) or isinstance(day, bool) or not day > 0:
        raise SurvivalInputError(f"landmark day must be a number > 0 (got {day!r})")
    _require_columns(adsl, ["USUBJID", "TRTSDT"], "adsl")
    if "HCTDT" not in adsl.columns:
        return TransplantCIF(float(day), {}, None, None, 0, 0, "transplants were not collected")
    d = _endpoint(adtte, paramcd, ["EVNTDESC"])
    a = adsl.set_index("USUBJID")
    hday = ((pd.to_datetime(a["HCTDT"], errors="coerce") - pd.to_datetime(a["TRTSDT"], errors="coerce"))
            .dt.days.reindex(d["USUBJID"]).to_numpy(dtype=float))
    at = (d["AVAL"] >= day).to_numpy()
    desc = d["EVNTDESC"].where(d["EVENT"] == 1)
    cause = np.select([desc.eq(RELAPSE), desc.eq(DEATH)], [1, 2], 0)[at]
    t = d["AVAL"].to_numpy(dtype=float)[at] - day
    grp = np.where(hday[at] <= day, "HCT", "No HCT")
    n_in, n_out = int(at.sum()), int((~at).sum())
    if n_in == 0:
        return TransplantCIF(float(day), {}, None, None, 0, n_out,
                             f"nobody was alive, relapse-free and in follow-up on day {day:g}")
    groups = {}
    for g in HCT_GROUPS:
        sel = grp == g
        if sel.any():
            tab = _aalen_johansen(t[sel], cause[sel], alpha, ci)
            groups[g] = CumulativeIncidence(event=RELAPSE, competing=DEATH, n=int(sel.sum()),
                                            events=int((cause[sel] == 1).sum()),
                                            competing_events=int((cause[sel] == 2).sum()),
                                            ci=ci, alpha=alpha, table=tab)
    tests = []
    for target in (1, 2):
        ok = len(groups) == 2 and (cause == target).any()
        try:
            tests.append(gray_test(t, cause, grp, target) if ok else None)
        except NscoreError:
            tests.append(None)
    return TransplantCIF(float(day), groups, tests[0], tests[1], n_in, n_out)


# ------------------------------------------------------------------------------------------------
# subgroup hazard ratios
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubgroupHazards:
    """Hazard ratios by subgroup for one endpoint.

    ``table``: one row per factor level (variable, level, reference, n, events, hr, lower, upper,
    p, status) where status is "reference", "estimated" or "not estimable" (a level without events:
    its hazard ratio is zero and its interval unbounded, so it is left out of the model);
    ``skipped``: {variable: reason} for factors that give no hazard ratio.
    """

    paramcd: str
    table: pd.DataFrame = field(repr=False)
    skipped: dict = field(default_factory=dict)


def subgroup_cox(adtte: pd.DataFrame, factors: pd.DataFrame, paramcd: str = "OS",
                 orders: Mapping[str, Sequence[str]] | None = None, *, alpha: float = 0.05) -> SubgroupHazards:
    """Univariable Cox model per factor: the hazard ratio of each level against the reference level.

    ``factors``: USUBJID and one text column per factor (baseline subgroups; missing = unknown,
    left out of that factor's model).  The reference is the first level in ``orders[factor]`` (else
    sorted order) that has an event; levels without events are "not estimable" and left out.  A
    factor needs two levels with events.

    Notes
    -----
    R: ``coxph(Surv(time, status) ~ relevel(factor(x), ref), ties = "efron")``, Wald 95% CIs and
    p-values (:func:`nscore.statistics.regression.cox`).  Each factor is modelled alone: the hazard
    ratios are unadjusted, and the p-values are not corrected for the number of factors.
    """
    from nscore.statistics.regression import cox

    alpha = _check_alpha(alpha)
    orders = dict(orders or {})
    d = _endpoint(adtte, paramcd)
    f = factors.set_index("USUBJID")
    rows, skipped = [], {}
    for var in [c for c in factors.columns if c != "USUBJID"]:
        x = f[var].reindex(d["USUBJID"]).astype("string").to_numpy()
        known = ~pd.isna(x)
        levels_present = list(dict.fromkeys(v for v in x[known]))
        pref = [str(v) for v in orders.get(var, ())]
        levels = [v for v in pref if v in levels_present] + sorted(v for v in levels_present if v not in pref)
        if len(levels) < 2:
            skipped[var] = "one level only"
            continue
        n = {lv: int((x == lv).sum()) for lv in levels}
        ev = {lv: int(d["EVENT"].to_numpy()[x == lv].sum()) for lv in levels}
        with_events = [lv for lv in levels if ev[lv] > 0]
        if len(with_events) < 2:
            skipped[var] = "fewer than two levels with an event"
            continue
        ref = with_events[0]
        keep = known & np.isin(x.astype(object), with_events)
        sub = pd.DataFrame({"USUBJID": d["USUBJID"].to_numpy()[keep], "PARAMCD": paramcd,
                            "AVAL": d["AVAL"].to_numpy()[keep], "CNSR": d["CNSR"].to_numpy()[keep]})
        cov = pd.DataFrame({"USUBJID": sub["USUBJID"], "x": x[keep].astype(object)})
        try:
            res = cox(sub, cov, paramcd, ["x"], alpha=alpha, reference={"x": ref})
        except (NscoreError, ValueError, ArithmeticError) as exc:
            skipped[var] = f"the model could not be fitted ({type(exc).__name__})"
            continue
        terms = res.table.set_index("term")
        for lv in levels:
            base = {"variable": var, "level": lv, "reference": ref, "n": n[lv], "events": ev[lv]}
            if lv == ref:
                rows.append({**base, "hr": 1.0, "lower": math.nan, "upper": math.nan, "p": math.nan,
                             "status": "reference"})
            elif ev[lv] == 0:
                rows.append({**base, "hr": math.nan, "lower": math.nan, "upper": math.nan, "p": math.nan,
                             "status": "not estimable"})
            else:
                r = terms.loc[f"x[{lv}]"]
                rows.append({**base, "hr": float(r["hr"]), "lower": float(r["lower"]),
                             "upper": float(r["upper"]), "p": float(r["p"]), "status": "estimated"})
    cols = ["variable", "level", "reference", "n", "events", "hr", "lower", "upper", "p", "status"]
    return SubgroupHazards(paramcd, pd.DataFrame(rows, columns=cols), skipped)
