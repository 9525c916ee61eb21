"""Published figures as data (the study definition's ``published`` block), reproduced as a join.

A publication's figures live in ``study.yml``: each gives the printed value, the sentence of the
source it is quoted from, and one of the statistics of :data:`ARD_MAP`, which names the analysis-
results dataset (ARD) row(s) the figure is. :func:`published_rows` turns the figures into rows in
the ARD's shape (one row per printed number), :func:`reproduction_join` joins them with the ARD of
the publication's cutoff, and :func:`reproduction_summary` counts the figures whose every number
matches. So a new publication's figures are checked by adding rows to ``study.yml``, not code, and
this module never makes text: the Results table prints both sides through ``nscore.report.format``.
NS7CAR's figures are those of the ASH 2025 abstract (Zhang X, Lu P, et al.; data cutoff August 1,
2025; the project copy of the abstract is ``shared/seed/000_a34d2ef30ea8f0ef.txt`` beside the
checkout).

A published number is compared at the precision it was printed with (one decimal for percentages,
rounded half-up; "547.5" for a median of an even number of times). Dates are numbers too: an ARD
value with unit ``date`` is days since 1970-01-01 (:func:`nscore.analyses.ard.date_value`), and a
date printed in the source ("August 1, 2025") is read as the same number; a number printed as a
word ("three dose levels") is read as its numeral.

The abstract's figures that no other analysis of the book gives have their rows here,
:func:`abstract_rows` (in the analysis plan, :mod:`nscore.analyses.results`): the infusion window,
prior transplant, the number of dose levels, the data cutoff and the interval from infusion to
transplant; and :func:`observed_time_rows`, the abstract's "median OS/PFS".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Callable

import pandas as pd

from nscore.analyses import ard
from nscore.analyses.cohort import _flag, _require

__all__ = ["abstract_rows", "observed_time_rows", "ARD_MAP", "published_rows", "reproduction_join",
           "reproduction_summary", "Reproduction", "PUBLISHED_COLUMNS", "JOIN_COLUMNS", "INFUSED",
           "TRANSPLANTED"]

#: ARD populations of the rows below.
INFUSED = "infused (SAFFL)"
TRANSPLANTED = "transplanted after infusion (HCTFL)"


# --------------------------------------------------------------------------------------------
# The abstract's figures no other analysis gives, as ARD rows
# --------------------------------------------------------------------------------------------
def _has(frame, *columns: str) -> bool:
    return frame is not None and all(c in frame.columns for c in columns)


def abstract_rows(cohort) -> list[dict]:
    """ARD rows of the abstract's figures that no other analysis of the book gives:

    - ``flow.infusion_dates``: ``min``/``max`` (unit ``date``) and ``n`` of the infusion dates (ADSL
      TRTSDT), the abstract's observation period;
    - ``flow.cutoff``: ``max`` (unit ``date``), the data cutoff (ADSL DCUTDT, the cohort's cutoff);
    - ``baseline.priorhct_any``: ``n``, ``N``, ``percent`` of patients with at least one transplant
      before infusion (ADSL PRIORHCT >= 1; patients with PRIORHCT missing are in ``N``);
    - ``baseline.dose_levels``: ``n``, the number of distinct dose levels given (ADSL DOSELVL);
    - ``transplant.interval``: ``n``, ``median``, ``min``, ``max`` of the days from infusion to
      transplant (HCTDT - TRTSDT) of the patients transplanted after infusion (HCTFL).

    A variable that was not collected gives no rows of its analysis; an empty population gives its
    counts and NaN (not estimable) summaries, so the rows never raise on odd data.
    """
    adsl = cohort.adsl
    out: list[dict] = []
    infused = dict(population=INFUSED)
    if _has(adsl, "TRTSDT"):
        t = pd.to_datetime(adsl["TRTSDT"], errors="coerce").dropna()
        common = dict(endpoint="infusion date (TRTSDT)", method="earliest and latest date", **infused)
        out.append(ard.row("flow.infusion_dates", "n", len(t), unit="patients",
                           label="Infusion dates: patients with a recorded date", **common))
        out.append(ard.row("flow.infusion_dates", "min", ard.date_value(t.min()) if len(t) else None,
                           unit="date", label="First infusion", **common))
        out.append(ard.row("flow.infusion_dates", "max", ard.date_value(t.max()) if len(t) else None,
                           unit="date", label="Last infusion", **common))
    cutoff = getattr(cohort, "cutoff", None)
    if cutoff is None and _has(adsl, "DCUTDT"):
        cutoff = pd.to_datetime(adsl["DCUTDT"], errors="coerce").max()
    if cutoff is not None and not pd.isna(cutoff):
        out.append(ard.row("flow.cutoff", "max", ard.date_value(cutoff), unit="date", endpoint="data cutoff (DCUTDT)",
                           method="latest data cutoff date of the delivery", label="Data cutoff", **infused))
    if _has(adsl, "PRIORHCT"):
        prior = pd.to_numeric(adsl["PRIORHCT"], errors="coerce")
        k, n = int((prior >= 1).sum()), len(adsl)
        common = dict(endpoint="prior transplant (PRIORHCT ≥ 1)", method="count and percent of infused patients",
                      **infused)
        what = "At least one transplant before infusion"
        out.append(ard.row("baseline.priorhct_any", "n", k, unit="patients", label=f"{what}: patients", **common))
        out.append(ard.row("baseline.priorhct_any", "N", n, unit="patients", label=f"{what}: infused patients",
                           **common))
        out.append(ard.row("baseline.priorhct_any", "percent", 100 * k / n if n else None, unit="%", label=what,
                           **common))
    if _has(adsl, "DOSELVL"):
        out.append(ard.row("baseline.dose_levels", "n", int(adsl["DOSELVL"].dropna().nunique()),
                           endpoint="dose level (DOSELVL)", method="number of distinct dose levels given",
                           label="Dose levels given", **infused))
    if _has(adsl, "HCTFL", "HCTDT", "TRTSDT"):
        a = adsl.loc[_flag(adsl["HCTFL"])]
        days = (pd.to_datetime(a["HCTDT"], errors="coerce") - pd.to_datetime(a["TRTSDT"], errors="coerce")).dt.days
        days = days.dropna().astype(float)
        common = dict(population=TRANSPLANTED, endpoint="days from infusion to transplant",
                      method="median (range) of HCTDT - TRTSDT")
        what = "Interval from infusion to transplant"
        out.append(ard.row("transplant.interval", "n", len(days), unit="patients", label=f"{what}: patients", **common))
        for stat in ("median", "min", "max"):
            value = getattr(days, stat)() if len(days) else None
            out.append(ard.row("transplant.interval", stat, value, unit="days", label=f"{what}: {stat}", **common))
    return out


# --------------------------------------------------------------------------------------------
# Published versus reproduced as a join with the ARD (issue 13)
# --------------------------------------------------------------------------------------------
def observed_time_rows(cohort) -> list[dict]:
    """ARD rows ``os.observed_time`` and ``pfs.observed_time``: n, median, min, max of the observed
    times (events and censored alike, days), the abstract's "median OS/PFS": a summary of follow-up,
    not a survival estimate (the Kaplan-Meier medians are in ``nscore.analyses.headline``)."""
    _require(cohort.adtte, ["PARAMCD", "AVAL"], "ADTTE")
    out = []
    for paramcd in ("OS", "PFS"):
        v = pd.to_numeric(cohort.adtte.loc[cohort.adtte["PARAMCD"] == paramcd, "AVAL"], errors="coerce").dropna()
        aid = f"{paramcd.lower()}.observed_time"
        common = dict(population=INFUSED, endpoint=paramcd, method="median of observed times")
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


def _grades(low: int, high: int) -> str:
    return {(1, 5): "any", (1, 2): "g1_2", (3, 5): "g3"}.get((int(low), int(high)), f"g{low}_{high}")


#: Published statistic (the ``statistic`` of a figure in ``study.yml``) -> f(**args) ->
#: ``(analysis_id, group_var, group_level, stats)``: the ARD row(s) the figure is, and which
#: statistic each number of its printed value is, in order. Every statistic a figure may name is
#: here; a figure naming another is reported as having no ARD row (status "no ARD row").
ARD_MAP: dict[str, Callable[..., tuple]] = {
    "infusion_window": lambda **_: ("flow.infusion_dates", "", "", ("min", "max")),
    "n_patients": lambda **_: ("flow.infused", "", "", ("n",)),
    "count_pct": _count_pct_map,
    "median_range": lambda column, **_: (f"baseline.{column.lower()}", "", "", ("median", "min", "max")),
    "prior_hct_at_least": lambda minimum, **_: (
        ("baseline.priorhct_any", "", "", ("n", "percent")) if int(minimum) == 1 else
        ("baseline.priorhct", "PRIORHCT", f"\u2265{int(minimum)}", ("n", "percent"))),
    "prior_hct_exactly": lambda count, **_: ("baseline.priorhct", "PRIORHCT", str(count), ("n",)),
    "marrow_blasts_at_least": lambda percent, **_: ("baseline.blast20", "BLAST20", f"\u2265{percent:g}%",
                                                    ("percent", "n", "N")),
    "n_dose_levels": lambda **_: ("baseline.dose_levels", "", "", ("n",)),
    "median_dose": lambda **_: ("baseline.dose6", "", "", ("median",)),
    "cutoff": lambda **_: ("flow.cutoff", "", "", ("max",)),
    "n_evaluable": lambda **_: ("flow.evaluable", "", "", ("n",)),
    "orr": lambda **_: ("efficacy.orr", "", "", ("percent", "n", "N")),
    "cr_cri": lambda **_: ("efficacy.cr_cri", "", "", ("percent", "n", "N")),
    "hct_after_cart": lambda **_: ("headline.hct_rate", "", "", ("n", "percent")),
    "hct_interval": lambda **_: ("transplant.interval", "", "", ("median", "min", "max")),
    "observed_time": lambda paramcd, **_: (f"{paramcd.lower()}.observed_time", "", "", ("median", "min", "max")),
    "ae_percent_fraction": lambda category, low, high, **_: (
        f"safety.{category.lower()}.{_grades(low, high)}", "", "", ("percent", "n", "N")),
    "ae_percent": lambda category, low, high, **_: (
        f"safety.{category.lower()}.{_grades(low, high)}", "", "", ("percent",)),
}

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
          "ten": 10}
#: The numbers of a printed value, in order: a long date ("May 21, 2025"), a number word ("three")
#: or digits ("86.3").
_PRINTED = re.compile(r"(?P<date>(?:" + "|".join(_MONTHS) + r") [0-9]{1,2}, [0-9]{4})"
                      r"|(?P<word>\b(?:" + "|".join(_WORDS) + r")\b)"
                      r"|(?P<number>[0-9]+(?:\.[0-9]+)?)", re.I)


def printed_numbers(text: str) -> list[tuple[float, int, str]]:
    """``(value, decimals, unit)`` of each number printed in ``text``, in order: a long date is a
    ``date`` value (days since 1970-01-01), a number word its numeral, digits their value with the
    decimals they were printed with."""
    out = []
    for m in _PRINTED.finditer(text):
        if m.group("date"):
            out.append((ard.date_value(pd.to_datetime(m.group("date"), format="%B %d, %Y")), 0, "date"))
        elif m.group("word"):
            out.append((float(_WORDS[m.group("word").lower()]), 0, ""))
        else:
            t = m.group("number")
            out.append((float(t), len(t.split(".", 1)[1]) if "." in t else 0, ""))
    return out


PUBLISHED_COLUMNS = ["key", "figure", "analysis_id", "group_var", "group_level", "stat", "unit",
                     "published_value", "decimals", "published_text", "sentence", "source"]
JOIN_COLUMNS = PUBLISHED_COLUMNS + ["row_key", "reproduced_value", "reproduced_rounded", "status", "match"]


def published_rows(published) -> pd.DataFrame:
    """The published figures as rows in the ARD shape: one row per number of each figure.

    ``published``: :class:`nscore.data.study.Published`. Columns :data:`PUBLISHED_COLUMNS`:
    ``analysis_id``/``group_var``/``group_level``/``stat`` name the ARD row (``analysis_id`` ""
    when the figure's statistic is not in :data:`ARD_MAP`), ``unit`` "date" for a printed date,
    ``published_value`` the number as printed (:func:`printed_numbers`) and ``decimals`` its
    decimals (the precision of the comparison), ``published_text`` the figure as printed,
    ``sentence`` the source sentence when the study definition gives one.
    """
    rows = []
    for fig in published.figures:
        sentence = getattr(fig, "sentence", None) or ""
        base = {"key": fig.key, "figure": fig.label, "published_text": fig.value, "sentence": sentence,
                "source": published.source}
        mapper = ARD_MAP.get(fig.statistic)
        numbers = printed_numbers(fig.value)
        if mapper is None or not numbers:
            rows.append({**base, "analysis_id": "", "group_var": "", "group_level": "", "stat": "", "unit": "",
                         "published_value": float("nan"), "decimals": 0})
            continue
        aid, gv, gl, stats = mapper(**fig.kwargs)
        for stat, (value, decimals, unit) in zip(stats, numbers):
            rows.append({**base, "analysis_id": aid, "group_var": gv, "group_level": gl, "stat": stat,
                         "unit": unit, "published_value": value, "decimals": decimals})
    return pd.DataFrame(rows, columns=PUBLISHED_COLUMNS)


def _round_half_up(x: float, decimals: int) -> float:
    from decimal import ROUND_HALF_UP, Decimal

    if x != x or x in (float("inf"), float("-inf")):
        return x
    return float(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def reproduction_join(published: pd.DataFrame, ard_rows: pd.DataFrame) -> pd.DataFrame:
    """The reproduction table as a join: each published number (:func:`published_rows`) beside the
    ARD row it names (left join on analysis_id, group_var, group_level, stat).

    Columns :data:`JOIN_COLUMNS`: ``unit`` (the ARD row's, else the published number's),
    ``reproduced_value`` (the ARD value, NaN without a row), ``reproduced_rounded`` (rounded half-up
    to the published decimals), ``status`` ("match", "differs", "no ARD row": the analysis does not
    give this number, or the figure's statistic is not in :data:`ARD_MAP`) and ``match`` (bool).
    """
    rows = ard.frame(ard_rows)
    rows = rows.assign(row_key=ard.row_key(rows))
    keys = ["analysis_id", "group_var", "group_level", "stat"]
    out = published.merge(rows[keys + ["row_key", "value", "unit"]].rename(columns={"unit": "ard_unit"}),
                          on=keys, how="left", validate="many_to_one")
    out = out.rename(columns={"value": "reproduced_value"})
    out["unit"] = [u if isinstance(u, str) and u else p for u, p in zip(out["ard_unit"], out["unit"])]
    out["reproduced_value"] = out["reproduced_value"].astype(float)
    out["reproduced_rounded"] = [_round_half_up(v, int(d)) for v, d in zip(out["reproduced_value"], out["decimals"])]
    has = out["row_key"].notna() & (out["analysis_id"] != "")
    out["match"] = has & (out["reproduced_rounded"] == out["published_value"])
    out["status"] = ["match" if m else "differs" if h else "no ARD row" for m, h in zip(out["match"], has)]
    out["row_key"] = out["row_key"].fillna("")
    return out[JOIN_COLUMNS]


@dataclass(frozen=True)
class Reproduction:
    """The published figures beside the ARD of their cutoff (:func:`reproduction_summary`).

    Attributes
    ----------
    table : DataFrame
        The join (:func:`reproduction_join`), one row per published number.
    n_figures, n_match : int
        Published figures, and those whose every number matches its ARD row.
    all_match : bool
    cutoff : date
        The data cutoff of the ARD joined.
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


def reproduction_summary(join: pd.DataFrame, published, cutoff) -> Reproduction:
    """Count the figures of :func:`reproduction_join` that match: a figure matches when each of its
    numbers has its ARD row and equals it at the published precision. ``published``: the
    :class:`nscore.data.study.Published` joined; ``cutoff``: the cutoff of the ARD joined."""
    by_figure = join.groupby("key", sort=False)["match"].all() if len(join) else pd.Series(dtype=bool)
    n, k = int(len(by_figure)), int(by_figure.sum())
    cutoff = pd.Timestamp(cutoff).date()
    return Reproduction(table=join, n_figures=n, n_match=k, all_match=n > 0 and k == n, cutoff=cutoff,
                        is_published_cutoff=cutoff == published.cutoff, source=published.source)
