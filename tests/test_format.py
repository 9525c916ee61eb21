"""nscore.report.format: the one formatter (journal conventions, ARD rows or plain numbers)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from nscore.report import format as fmt

INF, NAN = math.inf, math.nan


def _rows(analysis_id: str, values: dict, group=("", "")) -> pd.DataFrame:
    return pd.DataFrame([{"analysis_id": analysis_id, "group_var": group[0], "group_level": group[1],
                          "stat": s, "value": v} for s, v in values.items()])


ORR = _rows("efficacy.orr", {"n": 284, "N": 329, "percent": 100 * 284 / 329, "lower": 82.1439, "upper": 89.8277})


def test_percent_rounds_half_up_on_the_exact_fraction():
    # 278/329 = 84.4984...% -> 84.5; 1/8 = 12.5% -> 12.5; 1/16 = 6.25% -> 6.3 (half-up, not to even)
    assert fmt.percent(278, 329) == "84.5%"
    assert fmt.percent(1, 16) == "6.3%"
    assert fmt.percent(3, 16) == "18.8%"
    assert fmt.percent(0, 5) == "0.0%"
    assert fmt.percent(5, 5) == "100.0%"
    # a stored decimal value rounds half-up on its shortest repr (0.125 -> 0.13 with 2 digits)
    assert fmt.percent(12.25) == "12.3%"
    assert fmt.percent(NAN) == "not estimable"


def test_percent_refuses_what_is_not_a_rate():
    for k, n in ((1, 0), (4, 3), (-1, 3), (1.5, 3)):
        with pytest.raises(fmt.FormatError):
            fmt.percent(k, n)


def test_proportion_is_one_form_from_rows_and_numbers():
    text = "86.3% (284/329; 95% CI 82.1\u201389.8)"
    assert fmt.proportion(ORR) == text
    assert fmt.proportion(284, 329, 82.1439, 89.8277) == text
    assert fmt.proportion(ORR, with_ci=False) == "86.3% (284/329)"
    with pytest.raises(fmt.FormatError):
        fmt.proportion(284, 329, NAN, 89.8)


def test_rows_of_a_group_and_wrong_rows():
    rows = pd.concat([ORR, _rows("efficacy.orr", {"n": 10, "N": 20, "lower": 27.2, "upper": 72.8},
                                 ("DIAGNOSIS", "T-ALL"))])
    assert fmt.proportion(rows, group=("DIAGNOSIS", "T-ALL")) == "50.0% (10/20; 95% CI 27.2\u201372.8)"
    assert fmt.proportion(rows) == "86.3% (284/329; 95% CI 82.1\u201389.8)"
    with pytest.raises(fmt.FormatError):
        fmt.proportion(rows, group=("DIAGNOSIS", "absent"))
    with pytest.raises(fmt.FormatError):
        fmt.proportion(pd.concat([ORR, _rows("efficacy.cr", {"n": 1})]))
    with pytest.raises(fmt.FormatError):
        fmt.median(ORR)  # no median statistic


def test_ci_limits_nr_ne():
    assert fmt.ci(82.14, 89.83) == "95% CI 82.1\u201389.8"
    assert fmt.ci(480, INF, digits=0) == "95% CI 480\u2013NR"
    assert fmt.ci(NAN, INF) == "95% CI NE\u2013NR"
    assert fmt.ci(NAN, NAN) == "95% CI not estimable"
    assert fmt.ci(NAN, 12.0) == "95% CI NE\u201312.0"


def test_median_forms():
    # time to event prints in months (tables.TIME_UNIT), from days: 547 / 30.4375 = 17.97 -> 18.0
    assert fmt.median(547, 480, INF) == "18.0 months (95% CI 15.8\u2013NR)"
    assert fmt.median(INF, 900, INF) == "not reached (95% CI 29.6\u2013NR)"
    assert fmt.median(INF, INF, INF) == "not reached"
    assert fmt.median(INF, NAN, NAN) == "not reached"
    assert fmt.median(NAN, NAN, NAN) == "not estimable"
    assert fmt.median(547.5, 480, 600, label=False) == "18.0 (95% CI 15.8\u201319.7)"
    assert fmt.median(547.5, 480, 600, unit="") == "18.0 (95% CI 15.8\u201319.7)"
    # a short, protocol-defined time keeps whole days
    assert fmt.median(547, 480, INF, unit="days") == "547 days (95% CI 480\u2013NR)"
    assert fmt.median(547.5, 480, 600, unit="days", label=False) == "548 (95% CI 480\u2013600)"
    rows = _rows("os.km", {"median": 547.0, "lower": 480.0, "upper": INF, "events": 120, "N": 334})
    assert fmt.median(rows) == "18.0 months (95% CI 15.8\u2013NR)"
    with pytest.raises(fmt.FormatError):
        fmt.median(547, 480, 600, unit="weeks")


def test_one_home_of_days_per_month():
    from nscore.report import tables
    from nscore.statistics import outcomes, survival

    assert fmt.DAYS_PER_MONTH is outcomes.MONTH_DAYS
    assert fmt.DAYS_PER_MONTH == survival.YEAR_DAYS / 12 == tables.DAYS_PER_MONTH
    assert fmt.MONTH_DAYS is fmt.DAYS_PER_MONTH
    assert fmt.TIME_UNIT == tables.TIME_UNIT == "months"


def test_rate_range_iqr():
    assert fmt.rate(64.72, 58.91, 69.94) == "64.7% (95% CI 58.9\u201369.9)"
    assert fmt.rate(NAN, NAN, NAN) == "not estimable"
    assert fmt.range_(57, 28, 227) == "57 (range 28\u2013227)"
    assert fmt.range_(57.5, 28, 227) == "57.5 (range 28\u2013227)"
    assert fmt.iqr(40, 30.25, 55) == "40 (IQR 30.3\u201355)"
    rows = _rows("baseline.age", {"median": 34.0, "q1": 22.0, "q3": 48.5, "min": 3.0, "max": 71.0})
    assert fmt.iqr(rows) == "34 (IQR 22\u201348.5)"
    assert fmt.range_(rows) == "34 (range 3\u201371)"


def test_p_value_hr_logrank():
    assert fmt.p_value(0.1749) == "p = 0.17"
    assert fmt.p_value(0.1) == "p = 0.10"
    assert fmt.p_value(0.0995) == "p = 0.100"  # three decimals below 0.1, as printed (half-up)
    assert fmt.p_value(0.0123) == "p = 0.012"
    assert fmt.p_value(0.00099) == "p < 0.001"
    assert fmt.p_value(NAN) == "p not computed"
    assert fmt.hazard_ratio(0.344, 0.2251, 0.49) == "0.34 (95% CI 0.23\u20130.49)"

    class LR:
        test_statistic, df, p_value = 3.554, 2, 0.169

    assert fmt.logrank(LR()) == "log-rank chi-square 3.55 on 2 df, p = 0.17"
    assert fmt.logrank(None).startswith("not tested")


def test_counts_days_months():
    assert fmt.count(329) == "329"
    assert fmt.count(ORR) == "284"
    assert fmt.n_of_N(ORR) == "284/329"
    assert fmt.days(1) == "1 day"
    assert fmt.days(547.0) == "547 days"
    assert fmt.days(4.5) == "4.5 days"
    assert fmt.days(INF) == "not reached"
    assert fmt.months(547) == "18.0 months"
    with pytest.raises(fmt.FormatError):
        fmt.count(2.5)


def test_no_negative_zero_and_ci_transform():
    assert fmt.number(-0.04, 1) == "0.0"
    assert "log-log" in fmt.ci_transform("log-log")
    with pytest.raises(fmt.FormatError):
        fmt.ci_transform("logit")


def test_headline_times_and_their_changes_print_in_months():
    # a headline time (median, follow-up; unit "days") reads in months in What changed, like on the pages
    assert fmt.short(547, "days") == "18.0 months"
    assert fmt.short(float("inf"), "days", "not reached") == "not reached"
    assert fmt.change(184, "days", 943, 1127) == "+6.0 months"
    assert fmt.change(0.5, "days", 1, 1.5) == "+<0.1 months"
    assert fmt.change(float("nan"), "days", INF, 612, "not reached", "estimated") == "not reached \u2192 20.1 months"
    # an ARD median and its limits in months; any other time (a landmark day, a setting) in days
    assert fmt.value(547, "days", "median") == "18.0 months" and fmt.value(480, "days", "lower") == "15.8 months"
    assert fmt.value(100, "days", "time") == "100 days"
    assert fmt.headline({"unit": "days", "status": "estimated", "value": 547, "lower": 480, "upper": NAN}) \
        == "18.0 months (95% CI 15.8\u2013NE)"
