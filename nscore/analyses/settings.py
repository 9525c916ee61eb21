"""The settings the Methods page states, as ARD rows (issue 13: every number on a page is traced).

Not statistics of the data: the day of the landmark analysis (a chapter parameter), the times at
which survival rates are read and the length of a year (:mod:`nscore.statistics.survival`), the
grid of the Kaplan-Meier figures (passed in by the chapter: drawing constants of the report layer),
the marrow-blast criterion of complete remission, the grades of the ASTCT scale the data model
accepts (:mod:`nscore.data.schema`), and how many analysis populations and datasets apply to this
cutoff. Each row names where the number comes from in ``method``, so the note of a traced setting
says "chapter parameter", "nscore.statistics.survival.YEAR_DAYS" or "study definition".

Round 6 adds the settings of the efficacy and safety analyses of issue 15 (:mod:`nscore.analyses.outcomes`,
:mod:`nscore.analyses.toxicity`) and the days per month of the book's unit convention for times.

Row keys (analysis ``methods.settings``, ``group_var`` ``parameter``): ``landmark_day``,
``rate_year_<i>``, ``year_days``, ``grid_days``, ``censor_bin_days``, ``days_per_month``,
``response_landmark_day``, ``response_rate_month_<i>``, ``lane_months``, ``nrm_day_<i>``,
``cytopenia_day_<i>`` (stat ``time``), ``min_lane_patients`` (stat ``n``), ``cr_marrow_blasts`` (stat ``percent``); ``methods.ae_grading`` (stats ``min``/``max``);
``methods.populations`` (stat ``n``); :func:`datasets_row` ``data.datasets`` (stat ``n``).
"""

from __future__ import annotations

from nscore.analyses import ard

__all__ = ["SETTINGS", "CR_MARROW_BLASTS", "populations", "grade_range", "datasets_held", "settings_rows",
           "setting_key", "datasets_row"]

#: Analysis id of the settings rows.
SETTINGS = "methods.settings"
#: Marrow blasts below which a marrow counts as in complete remission (percent; the marrow criterion
#: of acute-leukemia response, the Methods' "fewer than 5% blasts").
CR_MARROW_BLASTS = 5
_POP = "study definition"


#: Settings whose statistic is not ``time``.
_STATS = {"cr_marrow_blasts": "percent", "min_lane_patients": "n"}


def setting_key(parameter: str) -> str:
    """The row key of one setting (its statistic: ``percent`` for the blast criterion, ``n`` for the
    smallest swimmer lane, else ``time``)."""
    return f"{SETTINGS}|parameter={parameter}|{_STATS.get(parameter, 'time')}"


def _collected(cohort, dataset: str, variable: str) -> bool:
    if hasattr(cohort, "collected"):
        return bool(cohort.collected(dataset, variable))
    frame = getattr(cohort, dataset, None)
    return frame is not None and variable in frame.columns


def populations(cohort) -> list[str]:
    """The analysis populations that apply: safety and efficacy-evaluable always, transplanted
    patients when the data record transplants after infusion (ADSL ``HCTFL`` collected)."""
    out = ["safety", "efficacy-evaluable"]
    if _collected(cohort, "adsl", "HCTFL"):
        out.append("transplanted")
    return out


def grade_range() -> tuple[int, int]:
    """Lowest and highest grade ADAE ``AETOXGR`` accepts (the data model's check, ASTCT 1-5)."""
    from nscore.data.schema import MODELS

    checks = MODELS["adae"].to_schema().columns["AETOXGR"].checks
    stats = next(c.statistics for c in checks if c.name == "in_range")
    return int(stats["min_value"]), int(stats["max_value"])


def datasets_held(cohort) -> list[str]:
    """The ADaM datasets this cutoff holds (in the data model's order)."""
    from nscore.data.schema import DATASETS

    return [name for name in DATASETS if getattr(cohort, name, None) is not None]


def settings_rows(cohort, *, landmark_day: float, grid_days: float, censor_bin_days: float) -> list[dict]:
    """The Methods page's settings and counts of what applies, as ARD rows (see the module docstring)."""
    from nscore.statistics.survival import REPORT_YEARS, YEAR_DAYS

    def setting(parameter, value, unit, method, label):
        stat = _STATS.get(parameter, "time")
        return ard.row(SETTINGS, stat, value, population=_POP, group_var="parameter", group_level=parameter,
                       unit=unit, method=method, label=label)

    rows = [setting("landmark_day", landmark_day, "days", "chapter parameter landmark_day",
                    "Day after infusion of the transplant landmark analysis (setting)")]
    rows += [setting(f"rate_year_{i}", y, "years", "nscore.statistics.survival.REPORT_YEARS",
                     "Time after infusion at which survival rates are read (setting)")
             for i, y in enumerate(REPORT_YEARS, start=1)]
    rows += [setting("year_days", YEAR_DAYS, "days", "nscore.statistics.survival.YEAR_DAYS",
                     "Days per year (setting)"),
             setting("grid_days", grid_days, "days", "nscore.report.figures.GRID_DAYS",
                     "Grid of the Kaplan-Meier figures (drawing setting)"),
             setting("censor_bin_days", censor_bin_days, "days", "nscore.report.figures.CENSOR_BIN_DAYS",
                     "Interval in which censoring is marked once on the figures (drawing setting)"),
             setting("cr_marrow_blasts", CR_MARROW_BLASTS, "%", "acute-leukemia response criteria (marrow CR)",
                     "Marrow blasts below which the marrow is in complete remission (criterion)")]
    rows += _analysis_settings(setting)
    low, high = grade_range()
    rows += [ard.row("methods.ae_grading", "min", low, population=_POP, endpoint="CRS, ICANS",
                     method="ASTCT consensus grading; data model nscore.data.schema (ADAE AETOXGR)",
                     label="Lowest grade of the ASTCT scale"),
             ard.row("methods.ae_grading", "max", high, population=_POP, endpoint="CRS, ICANS",
                     method="ASTCT consensus grading; data model nscore.data.schema (ADAE AETOXGR)",
                     label="Highest grade of the ASTCT scale")]
    rows.append(ard.row("methods.populations", "n", len(populations(cohort)), population=_POP,
                        method="safety and efficacy-evaluable always; transplanted when ADSL HCTFL is collected",
                        label="Analysis populations that apply to this cutoff's data"))
    return rows


def _analysis_settings(setting) -> list[dict]:
    """The settings of the round-6 analyses (issue 15), each from its one home."""
    from nscore.analyses import outcomes, toxicity
    from nscore.statistics.outcomes import MONTH_DAYS

    rows = [setting("days_per_month", MONTH_DAYS, "days", "nscore.statistics.outcomes.MONTH_DAYS (YEAR_DAYS / 12)",
                    "Days per month: times in months are days divided by this (setting)"),
            setting("response_landmark_day", outcomes.RESPONSE_LANDMARK_DAY, "days",
                    "nscore.analyses.outcomes.RESPONSE_LANDMARK_DAY",
                    "Day after infusion of the landmark analysis by response and MRD (setting)")]
    rows += [setting(f"response_rate_month_{i}", m, "months", "nscore.analyses.outcomes.RATE_MONTHS",
                     "Time after response at which DOR and RFS rates are read (setting)")
             for i, m in enumerate(outcomes.RATE_MONTHS, start=1)]
    rows += [setting("lane_months", outcomes.LANE_MONTHS, "months", "nscore.analyses.outcomes.LANE_MONTHS",
                     "Spacing of the time points of the swimmer lanes (setting)"),
             setting("min_lane_patients", outcomes.MIN_LANE_PATIENTS, "patients",
                     "nscore.analyses.outcomes.MIN_LANE_PATIENTS",
                     "Fewest patients a swimmer lane shows; smaller groups are combined (setting)")]
    rows += [setting(f"nrm_day_{i}", d, "days", "nscore.analyses.toxicity.NRM_DAYS",
                     "Day after infusion at which non-relapse mortality is read (setting)")
             for i, d in enumerate(toxicity.NRM_DAYS, start=1)]
    rows += [setting(f"cytopenia_day_{i}", d, "days", "nscore.analyses.toxicity.COURSE_DAYS",
                     "Day after infusion at which ongoing cytopenias of grade 3 or higher are counted (setting)")
             for i, d in enumerate(toxicity.COURSE_DAYS, start=1)]
    return rows


def datasets_row(n_datasets: int) -> dict:
    """``data.datasets|=|n``: how many ADaM datasets of this cutoff the page describes (the rows of
    its dataset table: the datasets held, :func:`datasets_held`, that the book documents)."""
    return ard.row("data.datasets", "n", int(n_datasets), population="delivered data",
                   method="datasets of the stored data version (nscore.data.schema.DATASETS)",
                   label="ADaM datasets of this data cutoff")
