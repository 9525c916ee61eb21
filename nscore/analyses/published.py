"""Published figures as data (the study definition's ``published`` block), recomputed from a cohort.

A publication's figures live in ``study.yml``: each names, besides the printed value, one of the
:data:`STATISTICS` below and its arguments. :func:`reproduction_table` recomputes each from the
data of the cutoff the publication reports and compares them as printed, so a new publication's
figures are checked by adding rows to ``study.yml``, not code. NS7CAR's are those of the ASH 2025
abstract (Zhang X, Lu P, et al.; data cutoff August 1, 2025; the project copy of the abstract is
``shared/seed/000_a34d2ef30ea8f0ef.txt`` beside the checkout).

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

from nscore.errors import AnalysisInputError
from nscore.analyses.cohort import _flag, _require
from nscore.analyses.efficacy import ResponseRates, format_percent, response_rates
from nscore.analyses.safety import max_grades

__all__ = ["STATISTICS", "SharedCohort", "Reproduction", "reproduction_table", "observed_time",
           "observed_time_rows", "ARD_MAP", "published_rows", "reproduction_join", "PUBLISHED_COLUMNS",
           "JOIN_COLUMNS"]

DASH = "\u2013"  # the abstract's en dash in ranges


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


def _count_pct(c, column: str, value: str) -> str:
    _require(c.adsl, [column], "ADSL")
    return _n_pct(_count(c, column, value), _n(c))


def _median_range_of(c, column: str) -> str:
    _require(c.adsl, [column], "ADSL")
    return _median_range(c.adsl[column])


def _prior(c, minimum: int, exact: bool = False) -> int:
    _require(c.adsl, ["PRIORHCT"], "ADSL")
    p = pd.to_numeric(c.adsl["PRIORHCT"], errors="coerce")
    return int((p == minimum).sum() if exact else (p >= minimum).sum())


def _blasts(c, percent: float) -> str:
    _require(c.adsl, ["BMINV", "BMBLAST"], "ADSL")
    inv = _flag(c.adsl["BMINV"])
    bl = pd.to_numeric(c.adsl["BMBLAST"], errors="coerce")
    return _pct_frac(int((inv & (bl >= percent)).sum()), int(inv.sum()))


def _dose_levels(c) -> str:
    _require(c.adsl, ["DOSELVL"], "ADSL")
    k = c.adsl["DOSELVL"].dropna().nunique()
    return _WORDS.get(k, str(k))


def _median_dose(c) -> str:
    _require(c.adsl, ["DOSEKG"], "ADSL")
    return f"{_sci(pd.to_numeric(c.adsl['DOSEKG']).median())} cells/kg"


def _hct(c) -> str:
    _require(c.adsl, ["HCTFL"], "ADSL")
    return _n_pct(int(_flag(c.adsl["HCTFL"]).sum()), _n(c))


def _hct_interval(c) -> str:
    _require(c.adsl, ["HCTFL", "HCTDT"], "ADSL")
    a = c.adsl.loc[_flag(c.adsl["HCTFL"]), ["TRTSDT", "HCTDT"]]
    days = (pd.to_datetime(a["HCTDT"]) - pd.to_datetime(a["TRTSDT"])).dt.days
    return _median_range(days)


def observed_time(cohort, paramcd: str) -> str:
    """Median (range) of the observed OS or PFS times, events and censored alike, as the abstract
    prints its "median OS/PFS": a summary of follow-up, not a survival estimate."""
    _require(cohort.adtte, ["PARAMCD", "AVAL"], "ADTTE")
    return _median_range(cohort.adtte.loc[cohort.adtte["PARAMCD"] == paramcd, "AVAL"])


def _ae(c, category: str, low: int, high: int) -> tuple[int, int]:
    if getattr(c, "adae", None) is None:
        raise AnalysisInputError("adverse events were not collected")
    g = c.max_grades[category]
    return int(g.between(low, high).sum()), len(g)


def _cutoff(c) -> str:
    return _long_date(pd.to_datetime(c.adsl["DCUTDT"]).max())


def _window(c) -> str:
    t = pd.to_datetime(c.adsl["TRTSDT"])
    return f"{_long_date(t.min())}, to {_long_date(t.max())}"


#: The statistics a published figure can name in ``study.yml``: name -> f(cohort, **args) -> text.
STATISTICS: dict[str, Callable[..., str]] = {
    "infusion_window": _window,
    "n_patients": lambda c: str(_n(c)),
    "count_pct": _count_pct,
    "median_range": _median_range_of,
    "prior_hct_at_least": lambda c, minimum: _n_pct(_prior(c, minimum), _n(c)),
    "prior_hct_exactly": lambda c, count: str(_prior(c, count, exact=True)),
    "marrow_blasts_at_least": _blasts,
    "n_dose_levels": _dose_levels,
    "median_dose": _median_dose,
    "cutoff": _cutoff,
    "n_evaluable": lambda c: str(int(_flag(c.adsl["EFFFL"]).sum())),
    "orr": lambda c: c.response_rates.orr.format(),
    "cr_cri": lambda c: c.response_rates.cr_cri.format(),
    "hct_after_cart": _hct,
    "hct_interval": _hct_interval,
    "observed_time": observed_time,
    "ae_percent_fraction": lambda c, category, low, high: _pct_frac(*_ae(c, category, low, high)),
    "ae_percent": lambda c, category, low, high: format_percent(*_ae(c, category, low, high)),
}


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
        True when ``cutoff`` is the publication's; at a later cutoff the follow-up-dependent
        figures (cutoff, transplants, PFS/OS times) are expected to differ.
    source : str
        The publication's bibliography key.
    """

    table: pd.DataFrame
    n_figures: int
    n_match: int
    all_match: bool
    cutoff: date
    is_published_cutoff: bool
    source: str = ""


def reproduction_table(cohort, published=None) -> Reproduction | None:
    """Recompute every published figure from ``cohort`` and compare them as printed.

    ``published`` is a :class:`nscore.data.study.Published` (default: the cohort's study's); None when
    there is nothing to compare (the study definition holds no published figures).

    A figure whose computation fails (e.g. an empty population) is reported as reproduced "error:
    ..." and not matched, so one bad figure does not hide the rest of the table.

    Notes
    -----
    The abstract's "median PFS/OS" are medians of the observed times of all patients (censored or
    not), not Kaplan-Meier medians; they are reproduced as such here and the KM estimates are in
    ``nscore.analyses.headline``.
    """
    if published is None:
        study = getattr(cohort, "study", None)
        published = study.published if study is not None else None
    if published is None:
        return None
    shared = SharedCohort(cohort)
    rows = []
    for fig in published.figures:
        statistic = STATISTICS.get(fig.statistic)
        if statistic is None:
            value = f"error: unknown statistic {fig.statistic!r}"
        else:
            try:
                value = statistic(shared, **fig.kwargs)
            except (AnalysisInputError, KeyError, ValueError, TypeError) as exc:
                value = f"error: {type(exc).__name__}: {exc}"
        rows.append({"key": fig.key, "figure": fig.label, "published": fig.value, "reproduced": value,
                     "match": value == fig.value})
    table = pd.DataFrame(rows, columns=["key", "figure", "published", "reproduced", "match"])
    n_match = int(table["match"].sum())
    cutoff = pd.Timestamp(pd.to_datetime(cohort.adsl["DCUTDT"]).max()).date()
    return Reproduction(table=table, n_figures=len(table), n_match=n_match,
                        all_match=n_match == len(table) and len(table) > 0,
                        cutoff=cutoff, is_published_cutoff=cutoff == published.cutoff,
                        source=published.source)


# --------------------------------------------------------------------------------------------
# Published versus reproduced as a join with the ARD (issue 13)
# --------------------------------------------------------------------------------------------
def observed_time_rows(cohort) -> list[dict]:
    """ARD rows ``os.observed_time`` and ``pfs.observed_time``: n, median, min, max of the observed
    times (events and censored alike, days), the abstract's "median OS/PFS" (:func:`observed_time`)."""
    from nscore.analyses import ard

    _require(cohort.adtte, ["PARAMCD", "AVAL"], "ADTTE")
    out = []
    for paramcd in ("OS", "PFS"):
        v = pd.to_numeric(cohort.adtte.loc[cohort.adtte["PARAMCD"] == paramcd, "AVAL"], errors="coerce").dropna()
        aid = f"{paramcd.lower()}.observed_time"
        common = dict(population="infused (SAFFL)", endpoint=paramcd, method="median of observed times")
        what = f"{paramcd} observed time (events and censored)"
        out.append(ard.row(aid, "n", len(v), unit="patients", label=f"{what}: patients", **common))
        for stat in ("median", "min", "max"):
            value = getattr(v, stat)() if len(v) else float("nan")
            out.append(ard.row(aid, stat, value, unit="days", label=f"{what}: {stat}", **common))
    return out


_SEX = {"M": "Male", "F": "Female"}


def _count_pct_map(column, value, **_):
    level = _SEX.get(value, value) if column == "SEX" else value
    return (f"baseline.{column.lower()}", column, str(level), ("n", "percent"))


#: Published statistic -> f(**args) -> (analysis_id, group_var, group_level, stats): the ARD row(s)
#: a published figure is, and which statistic each number of its printed value is (in order). A
#: statistic missing here (a date, a word, a sum of table rows) has no ARD row: it stays in the
#: text comparison of :func:`reproduction_table` only.
ARD_MAP: dict[str, Callable[..., tuple]] = {
    "n_patients": lambda **_: ("flow.infused", "", "", ("n",)),
    "count_pct": _count_pct_map,
    "median_range": lambda column, **_: (f"baseline.{column.lower()}", "", "", ("median", "min", "max")),
    "prior_hct_exactly": lambda count, **_: ("baseline.priorhct", "PRIORHCT", str(count), ("n",)),
    "marrow_blasts_at_least": lambda percent, **_: ("baseline.blast20", "BLAST20", f"\u2265{percent:g}%",
                                                    ("percent", "n", "N")),
    "median_dose": lambda **_: ("baseline.dose6", "", "", ("median",)),
    "n_evaluable": lambda **_: ("flow.evaluable", "", "", ("n",)),
    "orr": lambda **_: ("efficacy.orr", "", "", ("percent", "n", "N")),
    "cr_cri": lambda **_: ("efficacy.cr_cri", "", "", ("percent", "n", "N")),
    "hct_after_cart": lambda **_: ("headline.hct_rate", "", "", ("n", "percent")),
    "observed_time": lambda paramcd, **_: (f"{paramcd.lower()}.observed_time", "", "", ("median", "min", "max")),
    "ae_percent_fraction": lambda category, low, high, **_: (
        f"safety.{category.lower()}.{_grades(low, high)}", "", "", ("percent", "n", "N")),
    "ae_percent": lambda category, low, high, **_: (
        f"safety.{category.lower()}.{_grades(low, high)}", "", "", ("percent",)),
}


def _grades(low: int, high: int) -> str:
    return {(1, 5): "any", (1, 2): "g1_2", (3, 5): "g3"}.get((int(low), int(high)), f"g{low}_{high}")


_NUMBER = __import__("re").compile(r"[0-9]+(?:\.[0-9]+)?")

PUBLISHED_COLUMNS = ["key", "figure", "analysis_id", "group_var", "group_level", "stat", "published_value",
                     "decimals", "published_text", "sentence", "source"]
JOIN_COLUMNS = PUBLISHED_COLUMNS + ["row_key", "reproduced_value", "reproduced_rounded", "status", "match"]


def published_rows(published) -> pd.DataFrame:
    """The published figures as rows in the ARD shape: one row per number of each figure.

    ``published``: :class:`nscore.data.study.Published`. Columns :data:`PUBLISHED_COLUMNS`:
    ``analysis_id``/``group_var``/``group_level``/``stat`` name the ARD row (``analysis_id`` ""
    when the figure has no ARD row, see :data:`ARD_MAP`), ``published_value`` the number as
    printed and ``decimals`` its decimals (the precision of the comparison), ``published_text``
    the figure as printed, ``sentence`` the source sentence when the study definition gives one.
    """
    rows = []
    for fig in published.figures:
        sentence = getattr(fig, "sentence", None) or ""
        base = {"key": fig.key, "figure": fig.label, "published_text": fig.value, "sentence": sentence,
                "source": published.source}
        mapper = ARD_MAP.get(fig.statistic)
        numbers = _NUMBER.findall(fig.value)
        if mapper is None or not numbers:
            rows.append({**base, "analysis_id": "", "group_var": "", "group_level": "", "stat": "",
                         "published_value": float("nan"), "decimals": 0})
            continue
        aid, gv, gl, stats = mapper(**fig.kwargs)
        for stat, text in zip(stats, numbers):
            decimals = len(text.split(".", 1)[1]) if "." in text else 0
            rows.append({**base, "analysis_id": aid, "group_var": gv, "group_level": gl, "stat": stat,
                         "published_value": float(text), "decimals": decimals})
    return pd.DataFrame(rows, columns=PUBLISHED_COLUMNS)


def _round_half_up(x: float, decimals: int) -> float:
    from decimal import ROUND_HALF_UP, Decimal

    if x != x or x in (float("inf"), float("-inf")):
        return x
    return float(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def reproduction_join(published: pd.DataFrame, ard_rows: pd.DataFrame) -> pd.DataFrame:
    """The reproduction table as a join: each published number (:func:`published_rows`) beside the
    ARD row it names (left join on analysis_id, group_var, group_level, stat).

    Columns :data:`JOIN_COLUMNS`: ``reproduced_value`` (the ARD value, NaN without a row),
    ``reproduced_rounded`` (rounded half-up to the published decimals), ``status`` ("match",
    "differs", "no ARD row": the analysis does not give this number, or the figure has no ARD
    mapping) and ``match`` (bool).
    """
    from nscore.analyses import ard

    rows = ard.frame(ard_rows)
    rows = rows.assign(row_key=ard.row_key(rows))
    keys = ["analysis_id", "group_var", "group_level", "stat"]
    out = published.merge(rows[keys + ["row_key", "value"]], on=keys, how="left", validate="many_to_one")
    out = out.rename(columns={"value": "reproduced_value"})
    out["reproduced_value"] = out["reproduced_value"].astype(float)
    out["reproduced_rounded"] = [_round_half_up(v, int(d)) for v, d in zip(out["reproduced_value"], out["decimals"])]
    has = out["row_key"].notna() & (out["analysis_id"] != "")
    out["match"] = has & (out["reproduced_rounded"] == out["published_value"])
    out["status"] = ["match" if m else "differs" if h else "no ARD row" for m, h in zip(out["match"], has)]
    out["row_key"] = out["row_key"].fillna("")
    return out[JOIN_COLUMNS]
