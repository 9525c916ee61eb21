"""The standard CAR-T efficacy analyses as ARD rows: duration of response and relapse-free
survival, outcome by response/MRD at a landmark, relapse and non-relapse mortality by consolidative
transplant at a landmark, hazard ratios by subgroup, and the aggregated swimmer lanes.

The estimators live in :mod:`nscore.statistics.outcomes` (checked against R); this module runs them
on a cohort with the book's parameters and gives each result's ``rows()``. An analysis that does
not apply to a cohort (nobody responded, MRD not collected, nobody transplanted) gives a result
whose ``reason`` says why and no rows; nothing here raises on odd but valid data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nscore.analyses import ard
from nscore.analyses import survival_rows as sr
from nscore.analyses.cohort import SUBGROUPS, derive_subgroups, subgroup_orders
from nscore.statistics import outcomes as so
from nscore.statistics.survival import REPORT_YEARS, YEAR_DAYS

__all__ = [
    "RESPONSE_LANDMARK_DAY",
    "TRANSPLANT_LANDMARK_DAY",
    "RATE_MONTHS",
    "LANE_MONTHS",
    "ResponseDurations",
    "response_durations",
    "ResponseLandmarks",
    "response_landmarks",
    "TransplantIncidence",
    "transplant_incidence",
    "SubgroupHazardRatios",
    "subgroup_hazard_ratios",
    "ResponseLanes",
    "response_lanes",
    "FACTOR_NAMES",
    "LANE_STATES",
    "MIN_LANE_PATIENTS",
    "SMALL_LANES",
]

#: Landmark of the response/MRD analysis: six weeks, after the day-28 (window 23-35) response
#: assessment, so that every patient's first assessment is known at the landmark.
RESPONSE_LANDMARK_DAY = 42
#: Landmark of the transplant analyses (the chapter's ``landmark_day``, as for overall survival).
TRANSPLANT_LANDMARK_DAY = 100
#: Months after response at which DOR and RFS rates are reported.
RATE_MONTHS = (6, 12)
#: Spacing of the swimmer lanes' time points (months).
LANE_MONTHS = 3
EVALUABLE = "efficacy-evaluable (EFFFL)"
#: Display names of the subgroup factors of the hazard-ratio forest (derived variables).
FACTOR_NAMES = {**{k: v[0] for k, v in SUBGROUPS.items()}, "sex": "Sex"}


def _collected(cohort, dataset: str, column: str) -> bool:
    """``cohort.collected(dataset, column)``, or whether the column is there (a plain namespace)."""
    check = getattr(cohort, "collected", None)
    if callable(check):
        return bool(check(dataset, column))
    frame = getattr(cohort, dataset, None)
    return frame is not None and column in frame.columns


def _method(km) -> str:
    return sr.km_method(km.ci, km.alpha)


# ------------------------------------------------------------------------------------------------
# DOR / RFS
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResponseDurations:
    """Duration of response (responders) and relapse-free survival (CR/CRi), with rates at
    :data:`RATE_MONTHS` after response. ``dor``/``rfs`` are :class:`~nscore.statistics.outcomes.
    ResponseDuration` (``km`` None and ``reason`` when not estimable)."""

    dor: so.ResponseDuration
    rfs: so.ResponseDuration
    months: tuple = RATE_MONTHS

    def rows(self) -> list[dict]:
        """``dor.km`` (responders) and ``rfs.km`` (CR/CRi): N, events, median, lower, upper (days
        from response), ``excluded`` n; per month (group_var ``MONTHS``) time (days), rate, lower,
        upper (%)."""
        out = []
        for aid, res, pop, what in (("dor.km", self.dor, "responders (CR/CRi/PR)", "duration of response"),
                                    ("rfs.km", self.rfs, "CR/CRi", "relapse-free survival")):
            if res.km is None:
                continue
            km = res.km
            out += sr._median_rows(aid, km.n_, km.events_, km.median_, *km.median_ci_, method=_method(km),
                                   endpoint=aid.split(".")[0].upper(), population=pop, what=what)
            out.append(ard.row(f"{aid}.excluded", "n", res.n_excluded, population=pop, unit="patients",
                               endpoint=aid.split(".")[0].upper(), label="Responders without a usable response date"))
            at = res.rates_at(self.months).reset_index(drop=True)
            for i, m in enumerate(self.months):
                common = dict(population=pop, endpoint=aid.split(".")[0].upper(), group_var="MONTHS",
                              group_level=str(m), unit="%", method=_method(km))
                out += [ard.row(aid, "time", m * so.MONTH_DAYS, label=f"{m} months after response",
                                **{**common, "unit": "days", "method": ""}),
                        ard.row(aid, "rate", 100 * at.loc[i, "survival"], label=f"{what} {m} months after response",
                                **common),
                        ard.row(aid, "lower", 100 * at.loc[i, "lower"], label=f"{what} at {m} months: lower limit",
                                **common),
                        ard.row(aid, "upper", 100 * at.loc[i, "upper"], label=f"{what} at {m} months: upper limit",
                                **common)]
        return out


def response_durations(cohort, *, ci: str = "log-log") -> ResponseDurations:
    """DOR among CR/CRi/PR and RFS among CR/CRi (:func:`~nscore.statistics.outcomes.duration_of_response`)."""
    dor = so.duration_of_response(cohort.adtte, cohort.adrs, cohort.adsl, so.RESPONDERS, ci=ci, label="DOR")
    rfs = so.duration_of_response(cohort.adtte, cohort.adrs, cohort.adsl, so.CR_CRI, ci=ci, label="RFS")
    return ResponseDurations(dor, rfs)


# ------------------------------------------------------------------------------------------------
# landmark by response / MRD
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResponseLandmarks:
    """OS and PFS from :data:`RESPONSE_LANDMARK_DAY` by response (and MRD) status at the landmark."""

    os: so.ResponseLandmark
    pfs: so.ResponseLandmark

    @property
    def by(self) -> str:
        return self.os.by

    def rows(self) -> list[dict]:
        """``os.landmark.response`` / ``pfs.landmark.response``: the day (time), N included,
        ``.excluded`` n, per group (group_var ``RESPONSE_AT_LANDMARK``) N, events, median and CI
        (days from the landmark), ``.logrank``."""
        out = []
        pop = "efficacy-evaluable, alive and event-free at the landmark"
        for aid, res in (("os.landmark.response", self.os), ("pfs.landmark.response", self.pfs)):
            ep = res.paramcd
            out += [ard.row(aid, "time", res.day, population=pop, endpoint=ep, unit="days", label="Landmark day"),
                    ard.row(aid, "N", res.n_included, population=pop, endpoint=ep, unit="patients",
                            label="Patients alive and event-free at the landmark"),
                    ard.row(f"{aid}.excluded", "n", res.n_excluded, population=EVALUABLE, endpoint=ep,
                            unit="patients", label="Evaluable patients with the event or censored before the landmark")]
            for g, km in res.curves.items():
                out += sr.km_rows(km, aid, endpoint=ep, population=pop, years=(),
                                  group_var="RESPONSE_AT_LANDMARK", group_level=g)
            out += sr.logrank_rows(res.logrank, f"{aid}.logrank", endpoint=ep, population=pop,
                                   what=", by response at the landmark")
        return out


def response_landmarks(cohort, *, day: float = RESPONSE_LANDMARK_DAY, ci: str = "log-log") -> ResponseLandmarks:
    """By MRD status within CR/CRi when MRD was collected, else by CR/CRi against the rest."""
    by = "mrd" if _collected(cohort, "adrs", "MRDSTAT") else "response"
    return ResponseLandmarks(*(so.response_landmark(cohort.adtte, cohort.adrs, cohort.adsl, p, day, by, ci=ci)
                               for p in ("OS", "PFS")))


# ------------------------------------------------------------------------------------------------
# relapse / NRM by transplant
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TransplantIncidence:
    """:class:`~nscore.statistics.outcomes.TransplantCIF` with its rows, at ``years`` after the landmark."""

    result: so.TransplantCIF
    years: tuple = REPORT_YEARS

    @property
    def shown(self) -> bool:
        return len(self.result.groups) == 2 and not self.result.reason

    @property
    def has_events(self) -> bool:
        """Any relapse or death without relapse after the landmark (else the curves stay at zero)."""
        return any(c.events + c.competing_events for c in self.result.groups.values())

    def rows(self) -> list[dict]:
        """``relapse.cif.hct`` and ``nrm.cif.hct``: landmark day, N included; per group
        (group_var ``HCT_BY_LANDMARK``) N, events and per year (group_var
        ``HCT_BY_LANDMARK,YEARS``) estimate, lower, upper (%); Gray's test as ``.gray``."""
        r = self.result
        if not self.shown:
            return []
        pop = "alive and relapse-free at the landmark"
        out = [ard.row("relapse.cif.hct", "time", r.day, population=pop, endpoint="Relapse or progression",
                       unit="days", label="Landmark day"),
               ard.row("relapse.cif.hct", "N", r.n_included, population=pop, endpoint="Relapse or progression",
                       unit="patients", label="Patients alive, relapse-free and in follow-up at the landmark")]
        for g, cif in r.groups.items():
            at = cif.at([y * YEAR_DAYS for y in self.years]).reset_index(drop=True)
            method = f"Aalen-Johansen, {cif.ci} {round(100 * (1 - cif.alpha))}% CI"
            for aid, ep, k, sfx in (("relapse.cif.hct", "Relapse or progression", cif.events, ""),
                                    ("nrm.cif.hct", "Non-relapse mortality", cif.competing_events, "_competing")):
                common = dict(population=pop, endpoint=ep)
                out += [ard.row(aid, "N", cif.n, group_var="HCT_BY_LANDMARK", group_level=g, unit="patients",
                                label=f"Patients, {g}", **common),
                        ard.row(aid, "events", k, group_var="HCT_BY_LANDMARK", group_level=g, unit="patients",
                                label=f"{ep} events, {g}", **common)]
                for i, y in enumerate(self.years):
                    for stat, col in (("estimate", "cif"), ("lower", "lower"), ("upper", "upper")):
                        out.append(ard.row(aid, stat, 100 * float(at.loc[i, col + sfx]), unit="%", method=method,
                                           group_var="HCT_BY_LANDMARK,YEARS", group_level=f"{g},{y}",
                                           label=f"{y}-year cumulative incidence of {ep.lower()} from the landmark, "
                                                 f"{g}" + ("" if stat == "estimate" else f": {stat} limit"),
                                           **common))
        for aid, test, ep in (("relapse.cif.hct.gray", r.gray_relapse, "Relapse or progression"),
                              ("nrm.cif.hct.gray", r.gray_nrm, "Non-relapse mortality")):
            # NaN when not tested (no event of that cause): the same rows at every cutoff
            stat, df, p = (test.statistic, test.df, test.p_value) if test is not None else (math.nan,) * 3
            common = dict(population=pop, endpoint=ep, method="Gray's test")
            out += [ard.row(aid, "statistic", stat, label=f"Gray's test chi-square, {ep.lower()}", **common),
                    ard.row(aid, "df", df, label="Gray's test degrees of freedom", **common),
                    ard.row(aid, "p", p, label=f"Gray's test p-value, {ep.lower()}", **common)]
        return out


def transplant_incidence(cohort, *, day: float = TRANSPLANT_LANDMARK_DAY) -> TransplantIncidence:
    """Relapse and NRM from the transplant landmark by transplant by then."""
    if not _collected(cohort, "adsl", "HCTDT"):
        return TransplantIncidence(so.TransplantCIF(float(day), {}, None, None, 0, 0,
                                                    "transplants were not collected"))
    return TransplantIncidence(so.transplant_landmark_cif(cohort.adtte, cohort.adsl, day))


# ------------------------------------------------------------------------------------------------
# subgroup hazard ratios
# ------------------------------------------------------------------------------------------------
def _factors(cohort) -> tuple[pd.DataFrame, dict]:
    sub = derive_subgroups(cohort.adsl)
    keep = ["USUBJID"] + [v for v in SUBGROUPS if v in sub.columns]
    out = sub[keep].copy()
    orders = dict(subgroup_orders(cohort))
    if _collected(cohort, "adsl", "SEX"):
        out["sex"] = cohort.adsl["SEX"].astype("string").to_numpy()
        orders["sex"] = ("F", "M")
    return out, orders


@dataclass(frozen=True)
class SubgroupHazardRatios:
    """Hazard ratios of OS and PFS by subgroup (one univariable Cox model per factor).

    ``table``: endpoint, subgroup (display name), variable, level, reference, n, events, hr,
    lower, upper, p, status; ``skipped``: {(endpoint, variable): reason}.
    """

    table: pd.DataFrame = field(repr=False)
    skipped: dict = field(default_factory=dict)

    @property
    def shown(self) -> bool:
        return bool((self.table["status"] == "estimated").any()) if len(self.table) else False

    def rows(self) -> list[dict]:
        """``os.cox.subgroup`` / ``pfs.cox.subgroup``: per factor level (group_var the variable
        in upper case, e.g. DIAGNOSIS) N, events and, for estimated levels, hr, lower, upper, p."""
        out = []
        method = "Cox, one factor per model, Efron ties, Wald 95% CI"
        for r in self.table.itertuples(index=False):
            aid = f"{r.endpoint.lower()}.cox.subgroup"
            common = dict(population=sr.INFUSED, endpoint=r.endpoint, group_var=str(r.variable).upper(),
                          group_level=str(r.level))
            what = f"{r.subgroup} {r.level}"
            out += [ard.row(aid, "N", r.n, unit="patients", label=f"{what}: patients", **common),
                    ard.row(aid, "events", r.events, unit="patients", label=f"{what}: events", **common)]
            # every level has the four rows (NaN: not estimable; the reference level's hazard ratio is 1
            # by definition), so that the row keys stay the same from cutoff to cutoff
            vs = f"{what} vs {r.reference}" if r.status != "reference" else f"{what} (reference level)"
            out += [ard.row(aid, "hr", r.hr, method=method, label=f"Hazard ratio, {vs}", **common),
                    ard.row(aid, "lower", r.lower, method=method, label=f"Hazard ratio, {vs}: lower limit", **common),
                    ard.row(aid, "upper", r.upper, method=method, label=f"Hazard ratio, {vs}: upper limit", **common),
                    ard.row(aid, "p", r.p, method=method, label=f"Wald p-value, {vs}", **common)]
        return out


def subgroup_hazard_ratios(cohort) -> SubgroupHazardRatios:
    """OS and PFS hazard ratios of each subgroup level against its reference level (the first level
    of the factor's clinical order with an event): diagnosis, age group, prior transplant, marrow
    blasts, dose level and sex, where collected. Unadjusted, descriptive."""
    factors, orders = _factors(cohort)
    parts, skipped = [], {}
    for ep in ("OS", "PFS"):
        res = so.subgroup_cox(cohort.adtte, factors, ep, orders)
        t = res.table.copy()
        t.insert(0, "endpoint", ep)
        t.insert(1, "subgroup", t["variable"].map(FACTOR_NAMES).fillna(t["variable"]))
        parts.append(t)
        skipped.update({(ep, k): v for k, v in res.skipped.items()})
    table = pd.concat(parts, ignore_index=True)
    return SubgroupHazardRatios(table, skipped)


# ------------------------------------------------------------------------------------------------
# swimmer lanes (aggregated)
# ------------------------------------------------------------------------------------------------
#: Smallest lane drawn: a lane of fewer patients would show individual courses.
MIN_LANE_PATIENTS = 5
SMALL_LANES = "Smaller groups combined"
LANE_STATES = ("No response (yet)", "In response", "Transplanted in remission", "Relapsed or progressed",
               "Died", "Follow-up ended")


@dataclass(frozen=True)
class ResponseLanes:
    """How many patients of each best-response lane are in each state at each time point.

    ``table``: lane, month, state, n, N (patients in the lane), percent; one row per lane, time
    point and state (counts, no patient rows: the number of rows depends on the follow-up and
    the lanes, never on the number of patients). ``lanes``: {lane: N}. Best-response groups of
    fewer than :data:`MIN_LANE_PATIENTS` patients (``combined``) share one lane,
    :data:`SMALL_LANES`; when that lane is still too small its ``hidden`` patients are left out.
    """

    table: pd.DataFrame = field(repr=False)
    lanes: dict
    hidden: int = 0
    combined: tuple = ()

    @property
    def shown(self) -> bool:
        return bool(self.lanes)

    def rows(self) -> list[dict]:
        """``swimmer.lanes``: N per lane (group_var ``BOR_GROUP``)."""
        return [ard.row("swimmer.lanes", "N", n, population=EVALUABLE, endpoint="Best overall response",
                        group_var="BOR_GROUP", group_level=lane, unit="patients", label=f"Patients, {lane}")
                for lane, n in self.lanes.items()]


def response_lanes(cohort, *, every_months: int = LANE_MONTHS, max_months: int = 60) -> ResponseLanes:
    """The aggregated swimmer plot's data: each evaluable patient's state at 0, 3, 6, ... months.

    Lanes are best-response groups (CR/CRi split by MRD when MRD was collected: negative, positive,
    not assessed; PR; no response).
    States, first that applies: died (OS event by t); follow-up ended (OS censored before t);
    relapsed or progressed (PFS relapse by t); transplanted in remission (HCT by t); in response
    (responder assessed by t); no response (yet). Time points run to the last month with anyone
    still followed (at most ``max_months``).
    """
    resp = so._response_days(cohort.adrs, cohort.adsl)
    if resp.empty:
        return ResponseLanes(pd.DataFrame(columns=["lane", "month", "state", "n", "N", "percent"]), {}, 0, ())
    mrd = _collected(cohort, "adrs", "MRDSTAT")
    cr = resp["AVALC"].isin(list(so.CR_CRI)).fillna(False).to_numpy(dtype=bool)
    neg = resp["MRDSTAT"].eq("NEGATIVE").fillna(False).to_numpy(dtype=bool) if mrd else np.zeros(len(resp), bool)
    pr = resp["AVALC"].eq("PR").fillna(False).to_numpy(dtype=bool)
    if mrd:
        pos = resp["MRDSTAT"].eq("POSITIVE").fillna(False).to_numpy(dtype=bool)
        order = [*so.MRD_GROUPS[:3], "PR", "No response (NR/NE)"]
        lane = np.select([cr & neg, cr & pos, cr, pr], order[:4], order[4])
    else:
        lane = np.select([cr, pr], ["CR/CRi", "PR"], "No response (NR/NE)")
        order = ["CR/CRi", "PR", "No response (NR/NE)"]
    ids = resp["USUBJID"]
    tte = cohort.adtte.set_index(["PARAMCD", "USUBJID"])

    def endpoint(p, col):
        s = tte.loc[p] if p in tte.index.get_level_values(0) else pd.DataFrame(columns=tte.columns)
        return s[col].reindex(ids).to_numpy()

    os_t = pd.to_numeric(pd.Series(endpoint("OS", "AVAL")), errors="coerce").to_numpy(dtype=float)
    os_e = pd.to_numeric(pd.Series(endpoint("OS", "CNSR")), errors="coerce").to_numpy(dtype=float) == 0
    pfs_t = pd.to_numeric(pd.Series(endpoint("PFS", "AVAL")), errors="coerce").to_numpy(dtype=float)
    pfs_rel = pd.Series(endpoint("PFS", "EVNTDESC")).eq(so.RELAPSE).fillna(False).to_numpy(dtype=bool) & \
        (pd.to_numeric(pd.Series(endpoint("PFS", "CNSR")), errors="coerce").to_numpy(dtype=float) == 0)
    if _collected(cohort, "adsl", "HCTDT"):
        a = cohort.adsl.set_index("USUBJID")
        hday = ((pd.to_datetime(a["HCTDT"], errors="coerce") - pd.to_datetime(a["TRTSDT"], errors="coerce"))
                .dt.days.reindex(ids).to_numpy(dtype=float))
    else:
        hday = np.full(len(ids), np.nan)
    responder = resp["AVALC"].isin(list(so.RESPONDERS)).fillna(False).to_numpy(dtype=bool)
    rday = resp["RDAY"].to_numpy(dtype=float)
    rday = np.where(np.isnan(rday), 0.0, rday)  # no assessment date: in response from the start
    last = np.nanmax(os_t) if np.isfinite(os_t).any() else 0.0
    top = min(int(last // (every_months * so.MONTH_DAYS)) * every_months, max_months)
    months = list(range(0, top + 1, every_months))
    # privacy: a lane of a few patients would show their individual courses; lanes under
    # MIN_LANE_PATIENTS are combined, and a combined lane still under it is left out
    sizes = {ln: int((lane == ln).sum()) for ln in order}
    small = [ln for ln in order if 0 < sizes[ln] < MIN_LANE_PATIENTS]
    if small:
        lane = np.where(np.isin(lane, small), SMALL_LANES, lane)
        order = [ln for ln in order if ln not in small] + [SMALL_LANES]
    hidden = int((lane == SMALL_LANES).sum()) if (lane == SMALL_LANES).sum() < MIN_LANE_PATIENTS else 0
    rows = []
    lanes = {}
    for ln in order:
        sel = lane == ln
        if not sel.any() or (ln == SMALL_LANES and hidden):
            continue
        lanes[ln] = int(sel.sum())
        for mth in months:
            t = mth * so.MONTH_DAYS
            state = np.select(
                [os_e & (os_t <= t), os_t < t, pfs_rel & (pfs_t <= t), hday <= t, responder & (rday <= t)],
                [LANE_STATES[4], LANE_STATES[5], LANE_STATES[3], LANE_STATES[2], LANE_STATES[1]],
                LANE_STATES[0])[sel]
            for st in LANE_STATES:
                k = int((state == st).sum())
                rows.append({"lane": ln, "month": mth, "state": st, "n": k, "N": lanes[ln],
                             "percent": 100.0 * k / lanes[ln]})
    return ResponseLanes(pd.DataFrame(rows, columns=["lane", "month", "state", "n", "N", "percent"]), lanes,
                         hidden, tuple(small))
