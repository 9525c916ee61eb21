"""ARD rows of the survival results (the result types live in :mod:`nscore.statistics.survival`).

The statistics layer computes; these builders give each result's rows in the shape of
:mod:`nscore.analyses.ard` (no stamps), with the analysis id the caller names. Medians and their CI
limits keep the statistics' conventions: ``inf`` = not reached, NaN = not estimable. Rates at
``years`` after infusion are percentages (group_var ``YEARS``, level ``"1"``, ``"2"``) read at
``years * YEAR_DAYS`` days; NaN beyond the follow-up.
"""

from __future__ import annotations

from nscore.analyses import ard
from nscore.statistics.survival import REPORT_YEARS, YEAR_DAYS

__all__ = ["INFUSED", "km_method", "km_rows", "km_by_rows", "logrank_rows", "follow_up_rows", "cif_rows",
           "landmark_rows", "td_cox_rows", "cox_rows"]

#: ARD population of the time-to-event analyses (every infused patient has an ADTTE row).
INFUSED = "infused (SAFFL)"
_NAMES = {"OS": "overall survival", "PFS": "progression-free survival"}


def _level(alpha: float) -> int:
    return round(100 * (1 - alpha))


def km_method(ci: str, alpha: float = 0.05, what: str = "Kaplan-Meier") -> str:
    """``"Kaplan-Meier, log-log 95% CI"``."""
    return f"{what}, {ci} {_level(alpha)}% CI"


def _median_rows(analysis_id, n, events, median, lower, upper, *, method, endpoint, population, group_var="",
                 group_level="", what="") -> list[dict]:
    common = dict(population=population, endpoint=endpoint, group_var=group_var, group_level=group_level)
    out = [ard.row(analysis_id, "N", n, unit="patients", label=f"{what}: patients", **common)]
    if events is not None:
        out.append(ard.row(analysis_id, "events", events, unit="patients", label=f"{what}: events", **common))
    out += [ard.row(analysis_id, "median", median, unit="days", method=method,
                    label=f"Median {what} (inf: not reached)", **common),
            ard.row(analysis_id, "lower", lower, unit="days", method=method,
                    label=f"Median {what}: lower confidence limit", **common),
            ard.row(analysis_id, "upper", upper, unit="days", method=method,
                    label=f"Median {what}: upper confidence limit", **common)]
    return out


def km_rows(km, analysis_id: str, *, endpoint: str | None = None, population: str = INFUSED,
            years=REPORT_YEARS, group_var: str = "", group_level: str = "") -> list[dict]:
    """A Kaplan-Meier curve: N, events, median with CI limits; with ``years`` (overall curves)
    also rate, lower, upper (percent) and time (days) per year (group_var ``YEARS``)."""
    endpoint = endpoint or getattr(km, "paramcd_", "") or ""
    what = _NAMES.get(endpoint, endpoint or "survival")
    method = km_method(km.ci, km.alpha)
    lo, hi = km.median_ci_
    out = _median_rows(analysis_id, km.n_, km.events_, km.median_, lo, hi, method=method, endpoint=endpoint,
                       population=population, group_var=group_var, group_level=group_level, what=what)
    if years:
        at = km.survival_at([y * YEAR_DAYS for y in years]).reset_index(drop=True)
        for i, y in enumerate(years):
            common = dict(population=population, endpoint=endpoint, group_var="YEARS", group_level=str(y))
            out += [ard.row(analysis_id, "time", y * YEAR_DAYS, unit="days", label=f"{y} year(s) after infusion",
                            **common),
                    ard.row(analysis_id, "rate", 100 * float(at.loc[i, "survival"]), unit="%", method=method,
                            label=f"{y}-year {what}", **common),
                    ard.row(analysis_id, "lower", 100 * float(at.loc[i, "lower"]), unit="%", method=method,
                            label=f"{y}-year {what}: lower confidence limit", **common),
                    ard.row(analysis_id, "upper", 100 * float(at.loc[i, "upper"]), unit="%", method=method,
                            label=f"{y}-year {what}: upper confidence limit", **common)]
    return out


def logrank_rows(test, analysis_id: str, *, endpoint: str = "", population: str = INFUSED,
                 what: str = "") -> list[dict]:
    """A log-rank test: statistic (chi-square), df, p. No rows when ``test`` is None (one group,
    or no event: nothing to test)."""
    if test is None:
        return []
    common = dict(population=population, endpoint=endpoint, method="log-rank")
    return [ard.row(analysis_id, "statistic", test.test_statistic, label=f"Log-rank chi-square{what}", **common),
            ard.row(analysis_id, "df", test.df, label=f"Log-rank degrees of freedom{what}", **common),
            ard.row(analysis_id, "p", test.p_value, label=f"Log-rank p-value{what}", **common)]


def km_by_rows(result, analysis_id: str, *, endpoint: str | None = None, population: str = INFUSED) -> list[dict]:
    """Curves by group (:func:`~nscore.statistics.survival.kaplan_meier_by`): per group (group_var =
    the ADSL variable) N, events, median, CI limits; the log-rank test as ``<analysis_id>.logrank``."""
    curves = result.curves
    first = next(iter(curves.values()), None)
    endpoint = endpoint or (getattr(first, "paramcd_", "") if first is not None else "")
    what = _NAMES.get(endpoint, endpoint)
    out = []
    for group, km in curves.items():
        out += km_rows(km, analysis_id, endpoint=endpoint, population=population, years=(),
                       group_var=result.by, group_level=str(group))
    out += logrank_rows(result.logrank, f"{analysis_id}.logrank", endpoint=endpoint, population=population,
                        what=f", {what} by {result.by}")
    return out


def follow_up_rows(fu, analysis_id: str = "followup.os", *, population: str = INFUSED) -> list[dict]:
    """Median follow-up (reverse Kaplan-Meier): N, median, CI limits."""
    method = km_method(fu.ci, 0.05, "reverse Kaplan-Meier")
    if fu.table is not None and "conf_level" in fu.table.columns:
        method = km_method(fu.ci, 1 - float(fu.table["conf_level"].iloc[0]), "reverse Kaplan-Meier")
    return _median_rows(analysis_id, fu.n, None, fu.median, fu.lower, fu.upper, method=method,
                        endpoint="Follow-up", population=population, what="follow-up")


def cif_rows(cif, analysis_id: str = "relapse.cif", *, population: str = INFUSED, years=REPORT_YEARS,
             endpoint: str = "Relapse or progression") -> list[dict]:
    """Cumulative incidence (Aalen-Johansen): N and events of ``analysis_id``, competing events of
    ``<analysis_id>.competing``, and per year (group_var ``YEARS``) estimate, lower, upper (percent)
    of both."""
    method = f"Aalen-Johansen, {cif.ci} {_level(cif.alpha)}% CI"
    comp = f"{analysis_id}.competing"
    out = [ard.row(analysis_id, "N", cif.n, population=population, endpoint=endpoint, unit="patients",
                   label="Patients"),
           ard.row(analysis_id, "events", cif.events, population=population, endpoint=endpoint, unit="patients",
                   label=f"{endpoint} events"),
           ard.row(comp, "events", cif.competing_events, population=population, endpoint="Death without relapse",
                   unit="patients", label="Competing events (death without relapse or progression)")]
    if years:
        at = cif.at([y * YEAR_DAYS for y in years]).reset_index(drop=True)
        for i, y in enumerate(years):
            for aid, suffix, ep in ((analysis_id, "", endpoint), (comp, "_competing", "Death without relapse")):
                common = dict(population=population, endpoint=ep, group_var="YEARS", group_level=str(y),
                              method=method, unit="%")
                out += [ard.row(aid, "estimate", 100 * float(at.loc[i, f"cif{suffix}"]),
                                label=f"{y}-year cumulative incidence, {ep.lower()}", **common),
                        ard.row(aid, "lower", 100 * float(at.loc[i, f"lower{suffix}"]),
                                label=f"{y}-year cumulative incidence: lower confidence limit", **common),
                        ard.row(aid, "upper", 100 * float(at.loc[i, f"upper{suffix}"]),
                                label=f"{y}-year cumulative incidence: upper confidence limit", **common)]
    return out


def landmark_rows(lm, analysis_id: str = "os.landmark", *, endpoint: str = "OS",
                  population: str = "alive and in follow-up at the landmark") -> list[dict]:
    """Landmark analysis: the landmark day (stat time), patients included/excluded, per group
    (group_var ``HCT_BY_LANDMARK``: "HCT", "No HCT") N, events, median, CI limits (days from the
    landmark), and ``<analysis_id>.logrank``."""
    out = [ard.row(analysis_id, "time", lm.day, population=population, endpoint=endpoint, unit="days",
                   label="Landmark day after infusion"),
           ard.row(analysis_id, "N", lm.n_included, population=population, endpoint=endpoint, unit="patients",
                   label="Patients alive and in follow-up at the landmark"),
           ard.row(f"{analysis_id}.excluded", "n", lm.n_excluded, population=INFUSED, endpoint=endpoint,
                   unit="patients", label="Patients with the event or censored before the landmark")]
    for group, km in lm.curves.items():
        out += km_rows(km, analysis_id, endpoint=endpoint, population=population, years=(),
                       group_var="HCT_BY_LANDMARK", group_level=str(group))
    out += logrank_rows(lm.logrank, f"{analysis_id}.logrank", endpoint=endpoint, population=population,
                        what=", landmark")
    return out


def td_cox_rows(res, analysis_id: str = "os.hct.tdcox", *, endpoint: str = "OS",
                population: str = INFUSED) -> list[dict]:
    """Cox model with transplant as a time-dependent covariate: hr, lower, upper, p, N, events."""
    common = dict(population=population, endpoint=endpoint)
    method = "Cox, time-dependent transplant covariate, Efron ties, Wald 95% CI"
    return [ard.row(analysis_id, "hr", res.hr, method=method, label="Hazard ratio of transplant", **common),
            ard.row(analysis_id, "lower", res.lower, method=method, label="Hazard ratio: lower confidence limit",
                    **common),
            ard.row(analysis_id, "upper", res.upper, method=method, label="Hazard ratio: upper confidence limit",
                    **common),
            ard.row(analysis_id, "p", res.p_value, method=method, label="Wald p-value", **common),
            ard.row(analysis_id, "N", res.n_subjects, unit="patients", label="Patients", **common),
            ard.row(analysis_id, "events", res.events, unit="patients", label="Events", **common)]


def cox_rows(res, analysis_id: str, *, endpoint: str = "", population: str = INFUSED) -> list[dict]:
    """A Cox model: per term (group_var ``TERM``) hr, lower, upper, p; N and events overall."""
    out = [ard.row(analysis_id, "N", res.n, population=population, endpoint=endpoint, unit="patients",
                   label="Patients in the model"),
           ard.row(analysis_id, "events", res.events, population=population, endpoint=endpoint, unit="patients",
                   label="Events")]
    for r in res.table.itertuples(index=False):
        common = dict(population=population, endpoint=endpoint, group_var="TERM", group_level=str(r.term),
                      method="Cox proportional hazards")
        out += [ard.row(analysis_id, "hr", r.hr, label=f"Hazard ratio, {r.term}", **common),
                ard.row(analysis_id, "lower", r.lower, label=f"Hazard ratio, {r.term}: lower limit", **common),
                ard.row(analysis_id, "upper", r.upper, label=f"Hazard ratio, {r.term}: upper limit", **common),
                ard.row(analysis_id, "p", r.p, label=f"p-value, {r.term}", **common)]
    return out

