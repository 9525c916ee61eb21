"""The one way a statistic becomes text: every number the book prints goes through this module.

Each function formats one kind of quantity and takes either plain numbers or the ARD rows of one
analysis (a DataFrame with the ARD columns ``group_var``, ``group_level``, ``stat``, ``value``, as
:mod:`nscore.analyses.ard` records them; pass ``group=(var, level)`` to pick a subgroup's rows).
The same quantity therefore reads the same on every page, in every table and in the PDF.

Journal conventions (written here once; the tests in ``tests/test_format.py`` pin each of them)
---------------------------------------------------------------------------------------------
- **Counts**: digits, no thousands separator (``329``). ``n/N`` is ``284/329``.
- **Percentages**: one decimal and a percent sign (``86.3%``), rounded half-up on the exact value:
  ``k/N`` as an exact fraction when the count and denominator are known (278/329 = 84.4984...%
  prints ``84.5%``), otherwise the decimal value as stored (its shortest repr), never binary float
  noise. ARD percentages are on the 0-100 scale (``unit == "%"``), and so are the plain-number
  arguments here.
- **Confidence intervals**: ``95% CI 82.1–89.8`` (en dash, no spaces, same decimals as the
  estimate, no percent sign on the limits). A limit not reached reads ``NR``, a limit not
  estimable ``NE`` (``95% CI NE–NR``); an interval with both limits not estimable reads
  ``95% CI not estimable``.
- **A proportion (a rate with counts)**: ``86.3% (284/329; 95% CI 82.1–89.8)``; without its
  interval ``86.3% (284/329)``. This is the form of the ORR on every page (landing page, Results,
  Discussion, tables).
- **A rate without counts** (a Kaplan-Meier or cumulative-incidence estimate at a time):
  ``64.7% (95% CI 58.9–69.9)``; beyond follow-up (NaN) ``not estimable``.
- **Medians of time** (Kaplan-Meier; time to event, follow-up, DOR/RFS): in MONTHS, the book's unit of
  times (:data:`TIME_UNIT`, stated in Methods): ``18.0 months (95% CI 15.8–NR)``; ``not reached (95% CI
  29.6–NR)``; just ``not reached`` when even the lower limit is not reached; ``not estimable`` (NaN).
  ARD values stay in days (unit ``days``); months are days / :data:`DAYS_PER_MONTH` with one decimal.
  ``unit="days"`` prints whole days (``547 days (95% CI 480–NR)``) where a time is short and protocol-
  defined. In ARD values ``inf`` means not reached and NaN not estimable.
- **Summaries of a distribution**: ``57 (range 28–227)`` and ``57 (IQR 40–80)``; at zero places
  a value between two integers keeps one decimal (27.5), otherwise the places asked for. In a
  table row named "Median (IQR)" or "Range" the label is left out: ``57 (40–80)``, ``28–227``.
- **Counts with a percentage in a table** ("n (%)" header): ``219 (66.6)``; an empty column: ``–``.
- **p-values**: ``p = 0.17`` (p >= 0.1, two decimals), ``p = 0.012`` (three decimals below 0.1),
  ``p < 0.001``; a p that was not computed reads ``p not computed``.
- **Hazard ratios**: two decimals with their interval, ``0.34 (95% CI 0.23–0.49)``.
- **Dates**: an ARD value with unit ``date`` is a calendar date as days since 1970-01-01 (so it
  stays a number, comparable and subtractable); it prints in the long form ``November 9, 2020``.
- **Times**: early-toxicity onset/duration and landmark days in days, ``4 days`` (a median of observed
  days between two integers keeps one decimal, ``4.5 days``); other times in months, days /
  :data:`DAYS_PER_MONTH` (365.25 / 12) with one decimal, ``18.0 months``.
- **Changes between cutoffs** (What changed): ``+3.1 percentage points``, ``+6.0 months``,
  ``not reached → 20.1 months``, ``no change``; a change that rounds to zero ``+<0.1 percentage points``.
- **A value alone** (a cell of What changed, :func:`value`): as its unit says: a count, a
  percentage, a time, a p-value (``0.012``, ``<0.001``), else two decimals.

Nothing here computes a statistic: values come in computed; the exact rounding of ``k/N`` is the
only arithmetic. A value that is missing where the quantity needs it raises :class:`FormatError`
(never "nan%" or "n/a" on a page).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Mapping

import pandas as pd

from nscore.errors import TableError
from nscore.statistics.outcomes import MONTH_DAYS as DAYS_PER_MONTH
from nscore.statistics.survival import YEAR_DAYS

__all__ = [
    "FormatError",
    "DASH",
    "YEAR_DAYS",
    "DAYS_PER_MONTH",
    "MONTH_DAYS",
    "TIME_UNIT",
    "stats",
    "number",
    "count",
    "n_of_N",
    "percent",
    "ci",
    "proportion",
    "rate",
    "median",
    "range_",
    "iqr",
    "n_percent",
    "p_value",
    "hazard_ratio",
    "logrank",
    "days",
    "months",
    "date",
    "ci_transform",
    "CI_TRANSFORM_TEXT",
    "headline",
    "short",
    "change",
    "value",
]

#: The dash between two limits (en dash, U+2013).
DASH = "\u2013"
#: Days per month: :data:`nscore.statistics.outcomes.MONTH_DAYS` (= YEAR_DAYS / 12), its one home;
#: ``MONTH_DAYS`` is the same object under its older name here.
MONTH_DAYS = DAYS_PER_MONTH
#: The unit times to event, follow-up and DOR/RFS print in (:func:`median`, :func:`months`); ARD
#: values stay in days. Early-toxicity onset/duration and landmark days print in days (:func:`days`).
TIME_UNIT = "months"


class FormatError(TableError):
    """A value cannot be printed as the quantity asked for (missing where it is needed, wrong rows)."""


# ------------------------------------------------------------------------------------ ARD rows
def _is_rows(x) -> bool:
    return isinstance(x, pd.DataFrame)


def stats(rows: pd.DataFrame, group: tuple[str, str] | None = None) -> dict[str, float]:
    """``{stat: value}`` of one analysis's ARD rows (overall rows, or ``group=(var, level)``).

    Raises :class:`FormatError` when the rows hold more than one analysis or a stat twice.
    """
    if not _is_rows(rows):
        raise FormatError(f"expected ARD rows (a DataFrame), got {type(rows).__name__}")
    missing = {"stat", "value"} - set(rows.columns)
    if missing:
        raise FormatError(f"ARD rows lack column(s) {sorted(missing)}")
    sel = rows
    if "group_var" in rows.columns:
        var, level = group if group is not None else ("", "")
        sel = rows[(rows["group_var"].fillna("").astype(str) == str(var))
                   & (rows["group_level"].fillna("").astype(str) == str(level))]
    if "analysis_id" in sel.columns and sel["analysis_id"].nunique() > 1:
        raise FormatError(f"rows of several analyses: {sorted(sel['analysis_id'].unique())}")
    if sel["stat"].duplicated().any():
        raise FormatError(f"a statistic appears twice: {sorted(sel.loc[sel['stat'].duplicated(), 'stat'])}")
    if sel.empty:
        raise FormatError(f"no ARD rows for group {group!r}")
    return {str(s): float(v) for s, v in zip(sel["stat"], sel["value"])}


def _get(s: Mapping[str, float], *names: str, default=None):
    for name in names:
        if name in s:
            return s[name]
    if default is not None:
        return default
    raise FormatError(f"ARD rows lack the statistic {' or '.join(names)} (have {sorted(s)})")


# ------------------------------------------------------------------------------------ numbers
def _float(v) -> float:
    if v is None or v is pd.NA:
        return math.nan
    return float(v)


def _half_up(value, digits: int) -> str:
    """``value`` rounded half-up to ``digits`` decimals: an exact Fraction/int, or a float by its repr."""
    if isinstance(value, Fraction):
        q = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        q = Decimal(repr(float(value)))
    out = q.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    if out == 0:
        out = abs(out)  # never "-0.0"
    return f"{out:f}"


def number(value, digits: int = 0) -> str:
    """A finite value rounded half-up to ``digits`` decimals (``NR`` for inf, ``NE`` for NaN)."""
    v = _float(value)
    if math.isnan(v):
        return "NE"
    if math.isinf(v):
        return "NR"
    return _half_up(v, digits)


def _whole(v, what: str) -> int:
    v = _float(v)
    if not math.isfinite(v) or not v.is_integer() or v < 0:
        raise FormatError(f"{what} must be a whole number >= 0, got {v!r}")
    return int(v)


def count(n, group: tuple[str, str] | None = None) -> str:
    """A count as digits: ``329``. From rows: the ``n`` statistic."""
    if _is_rows(n):
        n = _get(stats(n, group), "n", "N")
    return str(_whole(n, "a count"))


def n_of_N(k, n=None, group: tuple[str, str] | None = None) -> str:
    """``284/329``."""
    if _is_rows(k):
        s = stats(k, group)
        k, n = _get(s, "n"), _get(s, "N")
    return f"{_whole(k, 'n')}/{_whole(n, 'N')}"


def percent(value, n=None, *, digits: int = 1, group: tuple[str, str] | None = None) -> str:
    """``86.3%``: ``percent(284, 329)`` (exact k/N), ``percent(86.32)`` (a 0-100 value) or rows.

    From rows, ``n`` and ``N`` are used when present (exact), else ``percent``/``estimate``.
    NaN reads ``not estimable``.
    """
    if _is_rows(value):
        s = stats(value, group)
        if "n" in s and "N" in s and s["N"] > 0:
            value, n = s["n"], s["N"]
        else:
            value, n = _get(s, "percent", "estimate", "rate"), None
    if n is not None:
        k, n = _whole(value, "k"), _whole(n, "N")
        if n == 0:
            raise FormatError("a percentage needs a positive denominator (N = 0)")
        if k > n:
            raise FormatError(f"k > N ({k}/{n})")
        return _half_up(Fraction(100 * k, n), digits) + "%"
    v = _float(value)
    if math.isnan(v):
        return "not estimable"
    if math.isinf(v):
        raise FormatError("a percentage cannot be infinite")
    return _half_up(v, digits) + "%"


def ci(lower, upper=None, *, digits: int = 1, level: int = 95, group: tuple[str, str] | None = None) -> str:
    """``95% CI 82.1–89.8``; limits as stored (percent 0-100 or days). ``NR``/``NE`` limits;
    both limits not estimable: ``95% CI not estimable``."""
    if _is_rows(lower):
        s = stats(lower, group)
        lower, upper = _get(s, "lower"), _get(s, "upper")
    lo, hi = number(lower, digits), number(upper, digits)
    if lo == hi == "NE":
        return f"{level}% CI not estimable"
    return f"{level}% CI {lo}{DASH}{hi}"


def proportion(k, n=None, lower=None, upper=None, *, with_ci: bool = True, digits: int = 1,
               group: tuple[str, str] | None = None) -> str:
    """The one form of a rate with counts: ``86.3% (284/329; 95% CI 82.1–89.8)``.

    Plain numbers: ``k``, ``n`` and the exact limits on the 0-100 scale. ``with_ci=False`` gives
    ``86.3% (284/329)``.
    """
    if _is_rows(k):
        s = stats(k, group)
        k, n = _get(s, "n"), _get(s, "N")
        if with_ci:
            lower, upper = _get(s, "lower"), _get(s, "upper")
    text = f"{percent(k, n, digits=digits)} ({n_of_N(k, n)}"
    if with_ci:
        if math.isnan(_float(lower)) or math.isnan(_float(upper)):
            raise FormatError(f"a proportion's interval needs both limits, got {lower!r}, {upper!r}")
        text += f"; {ci(lower, upper, digits=digits)}"
    return text + ")"


def rate(estimate, lower=None, upper=None, *, digits: int = 1, group: tuple[str, str] | None = None) -> str:
    """A rate without counts (KM or cumulative incidence at a time, 0-100): ``64.7% (95% CI 58.9–69.9)``;
    NaN: ``not estimable``."""
    if _is_rows(estimate):
        s = stats(estimate, group)
        estimate = _get(s, "estimate", "rate", "percent")
        lower, upper = s.get("lower", math.nan), s.get("upper", math.nan)
    if not math.isfinite(_float(estimate)):
        return "not estimable"
    return f"{percent(estimate, digits=digits)} ({ci(lower, upper, digits=digits)})"


def median(value, lower=None, upper=None, *, unit: str = TIME_UNIT, label: bool = True,
           group: tuple[str, str] | None = None) -> str:
    """A Kaplan-Meier median of time, its value and limits in days: ``18.0 months (95% CI 15.8–NR)``
    (``unit="months"``, the default: days / :data:`DAYS_PER_MONTH`, one decimal), ``547 days (95% CI
    480–NR)`` (``unit="days"``, whole days), ``not reached (95% CI 29.6–NR)``, ``not reached`` (the
    lower limit not reached either, or not estimable), ``not estimable``.

    ``inf`` = not reached, NaN = not estimable (as :mod:`nscore.statistics.survival` returns them).
    ``label=False`` prints the bare number (a table column that names the unit); ``unit=""`` is
    the bare number in months (the older spelling of ``label=False``).
    """
    if _is_rows(value):
        s = stats(value, group)
        value = _get(s, "median", "estimate")
        lower, upper = s.get("lower", math.nan), s.get("upper", math.nan)
    if unit == "":
        unit, label = TIME_UNIT, False
    if unit not in ("months", "days"):
        raise FormatError(f"a median of time prints in months or days, not {unit!r}")
    v = _float(value)
    if math.isnan(v):
        return "not estimable"
    scale, digits = (DAYS_PER_MONTH, 1) if unit == "months" else (1.0, 0)
    interval = ci(_float(lower) / scale, _float(upper) / scale, digits=digits)
    if math.isinf(v):
        return "not reached" if number(lower) in ("NR", "NE") else f"not reached ({interval})"
    return number(v / scale, digits) + (f" {unit}" if label else "") + f" ({interval})"


def _summary_number(v, digits: int) -> str:
    """A summary of observed values at ``digits`` places; with ``digits=0`` a value between two
    integers (a median age of 27.5) keeps one decimal instead of being rounded."""
    v = _float(v)
    if not math.isfinite(v):
        raise FormatError(f"a summary of observed values must be finite, got {v!r}")
    if digits == 0:
        return number(v, 0 if v.is_integer() else 1)
    return number(v, digits)


def range_(center, low=None, high=None, *, digits: int = 0, label: bool = True, median: bool = True,
           group: tuple[str, str] | None = None) -> str:
    """``57 (range 28–227)``: the median and the range of observed values. ``label=False``:
    ``57 (28–227)`` (a "Median (range)" column); ``median=False``: the range alone, ``28–227``
    (a table row named "Range")."""
    if _is_rows(center):
        s = stats(center, group)
        center, low, high = s.get("median", math.nan), _get(s, "min"), _get(s, "max")
    span = f"{_summary_number(low, digits)}{DASH}{_summary_number(high, digits)}"
    if not median:
        return span
    return f"{_summary_number(center, digits)} ({'range ' if label else ''}{span})"


def iqr(center, q1=None, q3=None, *, digits: int = 0, label: bool = True,
        group: tuple[str, str] | None = None) -> str:
    """``57 (IQR 40–80)``: the median and the interquartile range; ``label=False`` gives
    ``57 (40–80)`` (a table row named "Median (IQR)")."""
    if _is_rows(center):
        s = stats(center, group)
        center, q1, q3 = _get(s, "median"), _get(s, "q1"), _get(s, "q3")
    span = f"{_summary_number(q1, digits)}{DASH}{_summary_number(q3, digits)}"
    return f"{_summary_number(center, digits)} ({'IQR ' if label else ''}{span})"


def n_percent(n, N=None, *, digits: int = 1, group: tuple[str, str] | None = None) -> str:
    """A cell under an "n (%)" header: ``219 (66.6)`` (the percentage as :func:`percent`, its sign
    in the header); no patient with a known value (N = 0): an en dash."""
    if _is_rows(n):
        s = stats(n, group)
        n, N = _get(s, "n"), _get(s, "N")
    if _whole(N, "N") == 0:
        return DASH
    return f"{_whole(n, 'n')} ({percent(n, N, digits=digits)[:-1]})"


def p_value(p, group: tuple[str, str] | None = None) -> str:
    """``p = 0.17`` (p >= 0.1), ``p = 0.012`` (0.001 <= p < 0.1), ``p < 0.001``; NaN: ``p not computed``."""
    if _is_rows(p):
        p = _get(stats(p, group), "p")
    p = _float(p)
    if not math.isfinite(p):
        return "p not computed"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {_half_up(p, 3)}" if p < 0.1 else f"p = {_half_up(p, 2)}"


def hazard_ratio(hr, lower=None, upper=None, *, group: tuple[str, str] | None = None) -> str:
    """``0.34 (95% CI 0.23–0.49)``."""
    if _is_rows(hr):
        s = stats(hr, group)
        hr, lower, upper = _get(s, "hr", "estimate"), _get(s, "lower"), _get(s, "upper")
    if not math.isfinite(_float(hr)):
        return "not estimable"
    return f"{number(hr, 2)} ({ci(lower, upper, digits=2)})"


def logrank(statistic, df=None, p=None, *, group: tuple[str, str] | None = None) -> str:
    """``log-rank chi-square 3.55 on 2 df, p = 0.17``; ``None`` -> not tested.

    Takes the chi-square statistic, degrees of freedom and p; a ``LogRankResult``-like object
    (``test_statistic``, ``df``, ``p_value``); or rows (stats ``chisq``/``estimate``, ``df``, ``p``).
    """
    if statistic is None:
        return "not tested (fewer than two groups)"
    if _is_rows(statistic):
        s = stats(statistic, group)
        statistic, df, p = _get(s, "chisq", "statistic", "estimate"), _get(s, "df"), _get(s, "p")
    elif hasattr(statistic, "test_statistic"):
        statistic, df, p = statistic.test_statistic, statistic.df, statistic.p_value
    return f"log-rank chi-square {number(statistic, 2)} on {_whole(df, 'df')} df, {p_value(p)}"


def days(value, *, digits: int = 0, group: tuple[str, str] | None = None) -> str:
    """``547 days`` (``1 day``); at zero places a value between two integers keeps one decimal
    (``4.5 days``, a median of observed days); inf ``not reached``, NaN ``not estimable``."""
    if _is_rows(value):
        value = _get(stats(value, group), "median", "estimate", "time")
    v = _float(value)
    if math.isnan(v):
        return "not estimable"
    if math.isinf(v):
        return "not reached"
    text = _summary_number(v, digits)
    return f"{text} day" if text == "1" else f"{text} days"


def months(value_days, *, digits: int = 1, group: tuple[str, str] | None = None) -> str:
    """A time in days as months (days / :data:`DAYS_PER_MONTH`, 30.4375): ``18.0 months``
    (``1.0 month`` reads ``1.0 months``, as journals print a decimal)."""
    if _is_rows(value_days):
        value_days = _get(stats(value_days, group), "median", "estimate", "time")
    v = _float(value_days)
    if math.isnan(v):
        return "not estimable"
    if math.isinf(v):
        return "not reached"
    return f"{number(v / MONTH_DAYS, digits)} months"


#: Day 0 of ARD date values (unit ``date``; :func:`nscore.analyses.ard.date_value` makes them).
EPOCH = pd.Timestamp("1970-01-01")


def date(value, group: tuple[str, str] | None = None) -> str:
    """An ARD date value (days since 1970-01-01, unit ``date``) in the long form ``November 9, 2020``.
    From rows: the ``time``, ``min``, ``max`` or ``estimate`` statistic. A missing date raises
    :class:`FormatError`."""
    if _is_rows(value):
        value = _get(stats(value, group), "time", "max", "min", "estimate")
    v = _float(value)
    if not math.isfinite(v) or not v.is_integer():
        raise FormatError(f"a date needs a whole number of days since 1970-01-01, got {v!r}")
    d = EPOCH + pd.Timedelta(days=int(v))
    return f"{d.strftime('%B')} {d.day}, {d.year}"


#: How each Kaplan-Meier confidence-interval transform is described in the methods chapter.
CI_TRANSFORM_TEXT = {
    "log-log": "the log-log transform (an interval for log(-log S(t)), mapped back; the default of "
               "lifelines, and R's survfit with conf.type = \"log-log\")",
    "log": "the log transform (an interval for log S(t), mapped back; the default of R's survfit, "
           "conf.type = \"log\")",
    "plain": "no transform (S(t) plus or minus z standard errors, truncated to [0, 1]; R's "
             "conf.type = \"plain\")",
}


def ci_transform(name: str) -> str:
    """The words naming a Kaplan-Meier CI transform (Methods)."""
    if name not in CI_TRANSFORM_TEXT:
        raise FormatError(f"unknown confidence-interval transform {name!r}; one of {sorted(CI_TRANSFORM_TEXT)}")
    return CI_TRANSFORM_TEXT[name]


# ------------------------------------------------------------------ headline figures and changes
#: Text of a headline figure that has no value, by its ``status`` (nscore.analyses.headline.STATUSES).
MISSING_TEXT = {"not evaluable": "no patient evaluable for response", "not collected": "not collected",
                "not estimable": "not estimable", "not reached": "not reached"}


def headline(row: Mapping) -> str:
    """One headline figure (a row of :func:`nscore.analyses.headline.headline_figures`) as printed:
    ``334``, ``86.3% (284/329; 95% CI 82.1–89.8)``, ``18.0 months (95% CI 15.8–NR)``,
    ``64.7% (95% CI 58.9–69.9)``, or why there is no value (its ``status``)."""
    unit, status = row.get("unit"), row.get("status")
    value, lower, upper = _float(_num(row.get("value"))), _float(_num(row.get("lower"))), _float(_num(row.get("upper")))
    if unit == "patients":
        return "not collected" if math.isnan(value) else count(value)
    if unit == "days":  # a median of time: stored in days, printed in months (TIME_UNIT)
        return median(math.inf if status == "not reached" else value, lower, upper)
    if status != "estimated" or math.isnan(value):
        return MISSING_TEXT.get(status, "not estimable")
    k, n = _num(row.get("k")), _num(row.get("n"))
    if not (math.isnan(k) or math.isnan(n)):
        return proportion(k, n, lower, upper)
    return rate(value, lower, upper)


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def short(value, unit: str, status: str | None = None) -> str:
    """A value without its interval (What changed): ``86.3%``, ``18.0 months`` (a time stored in days),
    ``334``; a missing
    value reads its status (``not reached``, ``not collected``...)."""
    x = _num(value)
    if math.isnan(x) or math.isinf(x):
        if status and status != "estimated":
            return status
        return "not reached" if math.isinf(x) or unit == "days" else "not estimable"
    if unit == "date":
        return date(x)
    if unit == "days":  # a headline time (a median, follow-up): in months, the book's unit of times
        return months(x)
    return {"%": percent(x)}.get(unit, number(x))


def change(diff, unit: str, prev, last, prev_status: str | None = None, last_status: str | None = None) -> str:
    """The change of a figure between two cutoffs: ``+3.1 percentage points``, ``+6.0 months`` (a time
    stored in days), ``not reached → 20.1 months`` (a figure becomes estimable), ``not collected → 10.2%``,
    ``no change``; a change that rounds to zero reads ``+<0.1 percentage points``."""
    prev, last, diff = _num(prev), _num(last), _num(diff)
    if not (math.isfinite(prev) and math.isfinite(last)):
        a, b = short(prev, unit, prev_status), short(last, unit, last_status)
        if not math.isfinite(prev) and not math.isfinite(last) and a == b:
            return f"{a} at both cutoffs"
        return f"{a} \u2192 {b}"
    if diff == 0:
        return "no change"
    if unit == "days":  # a headline time changes in months, the unit it prints in (:func:`short`)
        diff = diff / DAYS_PER_MONTH
    suffix = {"%": " percentage points", "days": " months", "date": " days"}.get(unit, "")
    digits = 1 if unit in ("%", "days") else 0
    step = 10 ** -digits
    if abs(diff) < step / 2:  # would print as "+0.0" or "-0.0"
        return f"{'+' if diff > 0 else '-'}<{step:g}{suffix}"
    sign = "+" if diff > 0 else "-"
    return f"{sign}{number(abs(diff), digits)}{suffix}"


def value(v, unit: str = "", stat: str = "") -> str:
    """One ARD value alone, by its unit and statistic (a cell of What changed): a count ``125``, a
    percentage ``86.3%``, a median of time ``18.0 months`` / ``not reached`` (other times ``28 days``), a date ``August 1, 2025``, a p-value ``0.012`` / ``<0.001``,
    anything else to two decimals; NaN reads ``not estimable``."""
    x = _num(v)
    if math.isnan(x):
        return "not estimable"
    if stat in ("n", "N", "events") or unit == "patients":
        return count(x)
    if unit == "%":
        return percent(x)
    if unit == "days":  # a median of time and its limits in months; other times (a day, a setting) in days
        return months(x) if stat in ("median", "lower", "upper") else days(x)
    if unit == "date":
        return date(x)
    if stat == "p":
        return p_value(x).removeprefix("p ").removeprefix("= ").replace("< ", "<")
    return number(x, 2)
