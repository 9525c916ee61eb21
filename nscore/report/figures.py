"""Altair charts of the book, built only from aggregated tables.

Privacy by construction: altair embeds the data a chart is given into the page and the notebook,
so every chart here receives aggregates only, and curves are *resampled on a fixed time grid*
(one row per grid point and group, e.g. every 7 days) instead of one row per observed event or
censoring time. The embedded row count therefore depends on the follow-up length and the number
of groups, never on the number of patients, and no single patient's event time can be read back.

Censoring marks are aggregated too: one mark per curve for each 4-week interval
(:data:`CENSOR_BIN_DAYS`) in which at least one patient was censored, drawn on the curve at the
interval's end; the tooltip of the interactive chart gives the number censored in it. A mark per
censored patient (or per 7-day bin) stops carrying information once a cohort is large, since
nearly every bin then holds a censoring, and it makes the static SVG/PNG copies grow with the
number of patients; with a fixed interval the drawing has at most one mark per curve and 4 weeks,
whatever the cohort size. Convention for captions and alt text of such figures: say that the marks
stand for censored patients *per 4-week interval* (e.g. "a mark for each 4-week interval in which
patients were censored"), not one mark per patient.

Plotted values are rounded (:data:`PLOT_DECIMALS`) before they are embedded: far below what a
300-pixel axis or a tooltip formatted to 0.1% can show, and it keeps the pages light.

Every chart carries its alt text as the Vega-Lite top-level ``description`` (Vega writes it into
the SVG's ``aria-label``); the book's caption is given by the chapter (``{glue:figure}`` with a
``:name:`` for numbering). Colours come from :data:`OKABE_ITO` only.

One module on purpose (about 650 lines): every chart shares the privacy rules above, the time grid,
the palette and the :class:`Figure` contract with the renderer, and a reviewer checking that no
chart embeds a patient row reads one file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import functools

import altair as alt
import numpy as np
import pandas as pd

from nscore.report import format as _fmt
from nscore.report import render
from nscore.errors import FigureError


__all__ = [
    "OKABE_ITO",
    "SERIES_COLOURS",
    "GRADE_COLOURS",
    "DAYS_PER_MONTH",
    "RISK_EVERY_MONTHS",
    "draws_band",
    "FigureError",
    "step_on_grid",
    "km_plot",
    "forest_plot",
    "grade_stacked_bar",
    "flow_diagram",
    "cif_plot",
    "simon_makuch_plot",
    "embedded_rows",
    "Figure",
]

#: Okabe & Ito (2008) colour-universal-design palette: distinguishable under the common forms of
#: colour-vision deficiency (protan, deutan, tritan) and in greyscale by lightness. The one place
#: the book's colours are defined.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Order in which groups (curves, series) take colours; yellow is left out (poor contrast on white).
SERIES_COLOURS: list[str] = [OKABE_ITO[k] for k in
                             ("blue", "vermillion", "bluish_green", "reddish_purple", "orange",
                              "sky_blue", "black")]
#: ASTCT grades 0..5: light grey for no event, light-to-dark blues for grades 1-2, orange and
#: vermillion for 3-4, black for 5 (fatal); lightness alone orders them for greyscale readers.
GRADE_COLOURS: dict[int, str] = {0: "#DDDDDD", 1: OKABE_ITO["sky_blue"], 2: OKABE_ITO["blue"], 3: OKABE_ITO["orange"],
                                 4: OKABE_ITO["vermillion"], 5: OKABE_ITO["black"]}
DAYS_PER_MONTH = _fmt.DAYS_PER_MONTH  # one home: nscore.statistics.outcomes.MONTH_DAYS (YEAR_DAYS / 12)
GRID_DAYS = 7
#: Width of the intervals that censoring marks aggregate (4 grid steps; see the module notes).
CENSOR_BIN_DAYS = 4 * GRID_DAYS
#: Months between the columns of the numbers-at-risk row and the ticks of the time axis (every
#: curve plot; captions and alt text read it from here).
RISK_EVERY_MONTHS = 6
#: Decimals kept in embedded probabilities and month positions (1e-4 = 0.01 percentage points,
#: or about 4 minutes on the time axis).
PLOT_DECIMALS = 4
WIDTH = 560

# Fields that would identify a patient; charts refuse frames that carry them.
_PATIENT_FIELDS = frozenset({"USUBJID", "SUBJID"})



class Figure:
    """A chart as a chapter shows it: displayed or glued, it renders through the book's offline
    renderer (:func:`nscore.report.render.mimebundle`: interactive HTML with the site's own vega
    scripts, plus SVG and PNG for the PDF and for readers without JavaScript).

    Why a wrapper and not altair's renderer registry: switching altair's global renderer on import
    would change every chart of the process as a side effect of an import; a figure carries its
    own way of being shown instead. ``chart`` is the altair chart, ``to_dict()`` its spec.
    """

    def __init__(self, chart: alt.TopLevelMixin):
        self.chart = chart

    def to_dict(self, **kwargs) -> dict:
        return self.chart.to_dict(**kwargs)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return render.mimebundle(self.to_dict())

    def __repr__(self) -> str:
        return f"<Figure: {self.to_dict().get('description', '').strip()}>"


def _figure(build):
    """Public chart builders return a :class:`Figure`."""
    @functools.wraps(build)
    def wrapper(*args, **kwargs) -> Figure:
        return Figure(build(*args, **kwargs))
    return wrapper


def _check(frame: pd.DataFrame, columns: list[str], what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise FigureError(f"{what}: expected a DataFrame, got {type(frame).__name__}")
    bad = _PATIENT_FIELDS & {str(c).upper() for c in frame.columns}
    if bad:
        raise FigureError(f"{what}: patient-level field(s) {sorted(bad)} may not reach a chart")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FigureError(f"{what}: missing column(s) {', '.join(missing)}")
    return frame


def _scale(groups: list[str], colours: list[str] | None = None) -> alt.Scale:
    colours = colours or SERIES_COLOURS
    return alt.Scale(domain=list(groups), range=[colours[i % len(colours)] for i in range(len(groups))])


def embedded_rows(chart: alt.TopLevelMixin) -> int:
    """Number of data rows a chart embeds (all datasets); used by the privacy tests."""
    spec = chart.to_dict()
    return sum(len(v) for v in spec.get("datasets", {}).values())


# ---------------------------------------------------------------------------------------------
# step functions on a grid
# ---------------------------------------------------------------------------------------------
def _grid(max_day: float, step: int = GRID_DAYS) -> np.ndarray:
    top = int(math.ceil(max(float(max_day), 0.0) / step)) * step
    return np.arange(0, top + step, step, dtype=float)


def step_on_grid(steps: pd.DataFrame, grid: np.ndarray, value_columns: list[str],
                 start: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Right-continuous step function(s) evaluated at ``grid`` (days).

    Parameters
    ----------
    steps : DataFrame
        ``time`` (days, ascending) and the value columns; a value holds from its time until the
        next row's time (Kaplan-Meier / Aalen-Johansen convention).
    grid : array
        Evaluation times in days.
    value_columns : list of str
        Columns to carry.
    start : mapping, optional
        Values before the first step time (default: 1.0 for every column, a survival curve).

    Returns
    -------
    DataFrame
        ``day`` plus the value columns, one row per grid point.
    """
    _check(steps, ["time", *value_columns], "step table")
    s = steps.sort_values("time", kind="mergesort")
    t = s["time"].to_numpy(dtype=float)
    idx = np.searchsorted(t, grid, side="right") - 1
    out = pd.DataFrame({"day": grid})
    for col in value_columns:
        v = s[col].to_numpy(dtype=float)
        first = (start or {}).get(col, 1.0)
        out[col] = np.where(idx >= 0, v[np.clip(idx, 0, None)], first)
    return out


def _censor_bins(times: np.ndarray, counts: np.ndarray, grid: np.ndarray,
                 width: float = CENSOR_BIN_DAYS) -> np.ndarray:
    """Censored patients per interval ``(width*(k-1), width*k]``, placed on ``grid``.

    Each interval's count goes to the first grid point at or after the interval's end (the end
    itself when ``width`` is a multiple of the grid step), or to the grid's last point for a final
    interval that the grid does not reach; time 0 keeps a point of its own. Every censored patient
    is counted once, and at most one point per interval is non-zero, whatever the cohort size.
    """
    end = np.ceil(np.asarray(times, dtype=float) / width) * width
    pos = np.searchsorted(grid, end, side="left")
    pos = np.clip(pos, 0, len(grid) - 1)
    out = np.zeros(len(grid), dtype=int)
    np.add.at(out, pos, np.asarray(counts).astype(int))
    return out


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """The float columns of a plotting frame rounded to :data:`PLOT_DECIMALS` (see module notes)."""
    out = frame.copy()
    floats = [c for c in out.columns if pd.api.types.is_float_dtype(out[c])]
    out[floats] = out[floats].round(PLOT_DECIMALS)
    return out


def _km_frames(km) -> pd.DataFrame:
    """Step table (time, estimate, lower, upper, censored, at_risk) of one curve.

    Accepts a DataFrame already in that shape (``survival`` is read as ``estimate``), or a fitted
    :class:`nscore.statistics.survival.KaplanMeier` (its ``table_``).
    """
    if isinstance(km, pd.DataFrame):
        t = km.copy()
    else:
        t = getattr(km, "table_", None)
        if not isinstance(t, pd.DataFrame):
            raise FigureError(f"cannot read a Kaplan-Meier step table from {type(km).__name__}")
        t = t.copy()
    if "estimate" not in t.columns and "survival" in t.columns:
        t = t.rename(columns={"survival": "estimate"})
    return t


def _at_risk(curve, frame: pd.DataFrame, days: np.ndarray) -> list[int]:
    """Numbers at risk (time >= t) at ``days``: from the estimator when it can say, else the table."""
    if hasattr(curve, "numbers_at_risk"):
        return [int(v) for v in curve.numbers_at_risk(days)["at_risk"]]
    if "at_risk" not in frame.columns:
        raise FigureError("numbers at risk need an 'at_risk' column or an estimator")
    s = frame.sort_values("time")
    t, n = s["time"].to_numpy(float), s["at_risk"].to_numpy()
    idx = np.searchsorted(t, days, side="left")
    return [int(n[i]) if i < len(t) else 0 for i in idx]


def _month_ticks(max_day: float) -> list[float]:
    """Months 0, :data:`RISK_EVERY_MONTHS`, ... up to ``max_day`` (axis ticks and at-risk columns)."""
    return [float(m) for m in np.arange(0, max_day / DAYS_PER_MONTH + 1e-9, float(RISK_EVERY_MONTHS))]


def _curve_items(curves) -> list:
    """``(group, curve)`` pairs of what :func:`km_plot` accepts (a result, a mapping or one curve)."""
    if hasattr(curves, "curves") and isinstance(curves.curves, Mapping):
        curves = curves.curves
    return list(curves.items()) if isinstance(curves, Mapping) else [("All", curves)]


def draws_band(curves, band: bool | None = None) -> bool:
    """Whether :func:`km_plot` draws the 95% confidence band for ``curves`` (and ``band``).

    The one rule, so that a caption or alt text can say what the chart shows: an explicit
    ``band`` wins; by default the band is drawn for a single curve only (overlapping bands of
    several groups hide more than they show).
    """
    if band is not None:
        return bool(band)
    return len(_curve_items(curves)) == 1


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier
# ---------------------------------------------------------------------------------------------
@_figure
def km_plot(curves, *, title: str, alt_text: str, y_title: str = "Probability",
            x_title: str = "Months since infusion", risk_months: list[float] | None = None,
            band: bool | None = None, max_day: float | None = None,
            labels: Mapping[str, str] | None = None) -> alt.VConcatChart:
    """Kaplan-Meier curve(s) with a 95% CI band, binned censor ticks and numbers at risk below.

    Parameters
    ----------
    curves : estimator, DataFrame, mapping of group label -> estimator/DataFrame, or a result
        with a ``curves`` mapping (``kaplan_meier_by``, ``landmark``)
        A fitted :class:`nscore.statistics.survival.KaplanMeier` or its step table: ``time`` (days),
        ``survival``/``estimate``, ``lower``, ``upper``, ``censored`` and ``at_risk``. A single
        curve gets the group "All" and no legend.
    title, alt_text : str
        Chart title and the alt text (Vega-Lite ``description``; the renderer puts it on the image).
    risk_months : list of float, optional
        Times (months) of the numbers-at-risk row; default every :data:`RISK_EVERY_MONTHS` months
        across the follow-up.
    labels : mapping, optional
        Display names of the groups (e.g. {"0": "No prior allo-HCT"}).
    band : bool, optional
        Draw the 95% CI band; by default only for a single curve (overlapping bands of several
        groups hide more than they show). :func:`draws_band` tells a caption which applies.

    Notes
    -----
    Curves are resampled every 7 days (see module notes), which moves no plotted step by more than
    a week. Censoring is shown by one tick per curve at the end of each 4-week interval
    (:data:`CENSOR_BIN_DAYS`) in which at least one patient was censored, not one tick per
    patient: the number of ticks, and so the size of the static SVG/PNG, is bounded by the
    follow-up and the number of groups and does not grow with the cohort; the interactive chart's
    tooltip gives the number censored in each interval. A tick therefore stands for censorings at
    most 4 weeks before it (never after it). The estimates themselves come from
    ``nscore.statistics.survival``.
    """
    items = _curve_items(curves)
    names = dict(labels or {})
    items = [(names.get(str(g), str(g)), c) for g, c in items]
    if not items:
        raise FigureError("km_plot needs at least one curve")
    frames = []
    for g, c in items:
        f = _km_frames(c)
        _check(f, ["time", "estimate"], f"Kaplan-Meier table of {g}")
        frames.append((str(g), c, f))
    top = max_day if max_day is not None else max(float(f["time"].max()) for _, _, f in frames)
    grid = _grid(top)
    ticks = risk_months or _month_ticks(top)
    parts, risk_rows = [], []
    for group, c, f in frames:
        cols = [col for col in ("estimate", "lower", "upper") if col in f.columns]
        # a curve stops at its own last observation, not at the longest follow-up of all groups
        own = grid[grid <= float(f["time"].max()) + GRID_DAYS]
        g = step_on_grid(f, own, cols)
        cens = f["censored"].fillna(0).to_numpy() if "censored" in f.columns else np.zeros(len(f))
        g["censored"] = _censor_bins(f["time"].to_numpy(float), cens, own)
        g.insert(0, "group", group)
        parts.append(g)
        days = np.array(ticks) * DAYS_PER_MONTH
        for m, n in zip(ticks, _at_risk(c, f, days)):
            risk_rows.append({"group": group, "month": float(m), "at_risk": n})
    data = pd.concat(parts, ignore_index=True)
    data["month"] = data["day"] / DAYS_PER_MONTH
    data = _rounded(data.drop(columns="day"))
    groups = [g for g, _, _ in frames]
    band = draws_band(curves, band)
    colour = alt.Color("group:N", scale=_scale(groups), title=None,
                       legend=None if len(groups) == 1 else alt.Legend(orient="top", labelLimit=320))
    domain = [0, top / DAYS_PER_MONTH]
    x = alt.X("month:Q", title=x_title, scale=alt.Scale(domain=domain, nice=False),
              axis=alt.Axis(values=ticks))
    base = alt.Chart(data)
    layers = []
    if band and {"lower", "upper"} <= set(data.columns):
        layers.append(base.mark_area(interpolate="step-after", opacity=0.18).encode(
            x=x, y=alt.Y("lower:Q"), y2="upper:Q", color=colour))
    tips = [alt.Tooltip("group:N"), alt.Tooltip("month:Q", format=".1f"), alt.Tooltip("estimate:Q", format=".1%")]
    if {"lower", "upper"} <= set(data.columns):
        tips += [alt.Tooltip("lower:Q", format=".1%"), alt.Tooltip("upper:Q", format=".1%")]
    layers.append(base.mark_line(interpolate="step-after", strokeWidth=2).encode(
        x=x, y=alt.Y("estimate:Q", title=y_title, scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=colour, strokeDash=alt.StrokeDash("group:N", legend=None, sort=groups), tooltip=tips))
    # censoring marks: decorative for screen readers (aria=False: no label per mark in the SVG;
    # the chart's description says they are there), their count in the tooltip
    layers.append(base.transform_filter("datum.censored > 0").mark_tick(
        thickness=1.5, size=9, orient="vertical", aria=False).encode(
        x=x, y="estimate:Q", color=colour,
        tooltip=[alt.Tooltip("group:N"), alt.Tooltip("month:Q", title="4 weeks to month", format=".1f"),
                 alt.Tooltip("censored:Q", title="Censored in these 4 weeks")]))
    plot = alt.layer(*layers).properties(width=WIDTH, height=300, title=title)
    risk = pd.DataFrame(risk_rows, columns=["group", "month", "at_risk"])
    table = _risk_table(risk, groups, domain, ticks)
    return alt.vconcat(plot, table, spacing=4).properties(description=alt_text)


# ---------------------------------------------------------------------------------------------
# forest plot
# ---------------------------------------------------------------------------------------------
@_figure
def forest_plot(rows: pd.DataFrame, *, title: str, alt_text: str,
                endpoints: tuple[str, ...] = ("ORR", "CR/CRi")) -> alt.Chart:
    """Rates with exact 95% CIs per subgroup level, one panel per endpoint.

    Parameters
    ----------
    rows : DataFrame
        ``subgroup``, ``level``, ``endpoint``, ``n``, ``k``, ``estimate``, ``lower``, ``upper``
        (``nscore.analyses.efficacy.response_by_subgroup(...).table``). Row order is kept on the y axis.
    """
    _check(rows, ["subgroup", "level", "endpoint", "n", "k", "estimate", "lower", "upper"], "forest rows")
    d = rows[rows["endpoint"].isin(endpoints)].copy()
    d["label"] = np.where(d["subgroup"] == "Overall", "Overall (n=" + d["n"].astype(str) + ")",
                          d["subgroup"] + ": " + d["level"].astype(str) + " (n=" + d["n"].astype(str) + ")")
    order = list(dict.fromkeys(d["label"]))
    d = d[["label", "subgroup", "endpoint", "n", "k", "estimate", "lower", "upper"]].copy()
    overall = d[d["subgroup"] == "Overall"].set_index("endpoint")["estimate"]
    d["overall"] = d["endpoint"].map(overall)
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    x = alt.X("estimate:Q", title="Rate (exact 95% CI)",
              scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))
    colour = alt.Color("subgroup:N", legend=None,
                       scale=_scale(list(dict.fromkeys(d["subgroup"]))))
    base = alt.Chart()
    ci = base.mark_rule(strokeWidth=1.5).encode(y=y, x="lower:Q", x2="upper:Q", color=colour)
    pt = base.mark_point(filled=True, size=50, shape="square").encode(
        y=y, x=x, color=colour,
        tooltip=["label:N", "endpoint:N", "k:Q", "n:Q", alt.Tooltip("estimate:Q", format=".1%"),
                 alt.Tooltip("lower:Q", format=".1%"), alt.Tooltip("upper:Q", format=".1%")])
    ref = base.mark_rule(strokeDash=[4, 3], color=OKABE_ITO["black"]).encode(x="overall:Q")
    return (alt.layer(ref, ci, pt).properties(width=180, height=alt.Step(16))
            .facet(column=alt.Column("endpoint:N", sort=list(endpoints), title=None), data=d)
            .properties(title=title, description=alt_text))


# ---------------------------------------------------------------------------------------------
# grade distribution
# ---------------------------------------------------------------------------------------------
@_figure
def grade_stacked_bar(counts: pd.DataFrame, *, title: str, alt_text: str,
                      include_none: bool = True) -> alt.Chart:
    """Share of the safety population by maximum ASTCT grade, stacked, one bar per syndrome.

    Parameters
    ----------
    counts : DataFrame
        ``syndrome`` (CRS, ICANS), ``grade`` (0..5, 0 = no event), ``n`` and either ``percent``
        (0-100, as ``nscore.analyses.safety.grade_distribution(...).table``) or ``denominator``.
    include_none : bool
        Keep grade 0 ("No event") so each bar spans the whole safety population.
    """
    _check(counts, ["syndrome", "grade", "n"], "grade counts")
    d = counts.copy()
    if "percent" in d.columns:
        d["share"] = d["percent"] / 100.0
    elif "denominator" in d.columns:
        d["share"] = d["n"] / d["denominator"]
    else:
        raise FigureError("grade counts: need a 'percent' or a 'denominator' column")
    d["grade"] = d["grade"].astype(int)
    if not include_none:
        d = d[d["grade"] > 0]
    d["grade_label"] = np.where(d["grade"] == 0, "No event", "Grade " + d["grade"].astype(str))
    d = d[["syndrome", "grade", "grade_label", "n", "share"]]
    grades = [g for g in GRADE_COLOURS if include_none or g > 0]
    labels = ["No event" if g == 0 else f"Grade {g}" for g in grades]
    return alt.Chart(d).mark_bar(stroke="white", strokeWidth=0.5).encode(
        y=alt.Y("syndrome:N", title=None),
        x=alt.X("share:Q", stack="zero", title="Patients (% of safety population)",
                axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("grade_label:N", title="Maximum ASTCT grade",
                        scale=alt.Scale(domain=labels, range=[GRADE_COLOURS[g] for g in grades]),
                        legend=alt.Legend(orient="bottom")),
        order=alt.Order("grade:Q"),
        tooltip=["syndrome:N", "grade_label:N", "n:Q", alt.Tooltip("share:Q", format=".1%")],
    ).properties(width=WIDTH, height=110, title=title, description=alt_text)


# ---------------------------------------------------------------------------------------------
# patient flow
# ---------------------------------------------------------------------------------------------
#: Reason lines at most under a side box of the flow (the rest summed in one line).
FLOW_DETAIL_LINES = 4
#: Height of one row of the flow diagram, pixels.
FLOW_ROW_PX = 70


@_figure
def flow_diagram(nodes: pd.DataFrame, *, title: str, alt_text: str) -> alt.LayerChart:
    """CONSORT/STROBE-style flow: main boxes down the left, exclusion boxes to the right.

    Parameters
    ----------
    nodes : DataFrame
        ``key``, ``label``, ``n``, ``parent`` (empty for the root) and ``kind`` ("main" or
        "exclusion"), as ``nscore.analyses.cohort.patient_flow(...).table``. Boxes that
        :func:`nscore.analyses.cohort.flow_drawn` leaves out (an exclusion of n = 0, the steps below a main
        box of n = 0) are not drawn. An optional ``detail`` column of ``(reason, n)`` pairs (the
        reasons for not infusing enrolled patients, from ADDS) is written under the side box's
        count, one line per reason (at most :data:`FLOW_DETAIL_LINES`).
    """
    _check(nodes, ["key", "label", "n", "parent", "kind"], "flow nodes")
    from nscore.analyses.cohort import flow_drawn

    # an exclusion box of nobody, and the steps below a main box of nobody, are not drawn
    nodes = nodes[flow_drawn(nodes)].reset_index(drop=True)
    main = nodes[nodes["kind"] == "main"].reset_index(drop=True)
    row = {k: i for i, k in enumerate(main["key"])}
    boxes = []
    for _, r in nodes.iterrows():
        if r["kind"] == "main":
            y, x = float(row[r["key"]]), 0.0
        else:
            y, x = float(row.get(r["parent"], 0)) + 0.5, 1.0
        lines = [f"{r['label']} (n = {int(r['n'])})"]
        detail = list(r["detail"]) if "detail" in nodes.columns and isinstance(r["detail"], (tuple, list)) else []
        if len(detail) > FLOW_DETAIL_LINES:  # the rest in one line
            rest = sum(int(k) for _, k in detail[FLOW_DETAIL_LINES - 1:])
            detail = detail[:FLOW_DETAIL_LINES - 1] + [("other reasons", rest)]
        lines += [f"{str(reason).capitalize()}: {int(k)}" for reason, k in detail]
        boxes.append({"key": r["key"], "text": "\n".join(lines), "x": x, "y": y, "kind": r["kind"],
                      "lines": len(lines)})
    b = pd.DataFrame(boxes)
    w = 0.45
    h = np.where(b["lines"] > 1, 0.1 + 0.085 * b["lines"], 0.17)
    b["x1"], b["x2"], b["y1"], b["y2"] = b["x"] - w, b["x"] + w, b["y"] - h, b["y"] + h
    # a box of several lines: its text block centred on the box (a line is 14 px, a row FLOW_ROW_PX)
    b["ty"] = b["y"] - (b["lines"] - 1) * 7.0 / FLOW_ROW_PX
    b = b.drop(columns="lines")
    h = 0.17
    # arrows: main -> next main (vertical), and a branch from the vertical line to each side box
    lines = []
    for i in range(len(main) - 1):
        lines.append({"x": 0.0, "x2": 0.0, "y": i + h, "y2": i + 1 - h})
    for _, r in b[b["kind"] == "exclusion"].iterrows():
        lines.append({"x": 0.0, "x2": r["x1"], "y": r["y"], "y2": r["y"]})
    ln = pd.DataFrame(lines, columns=["x", "x2", "y", "y2"])
    n_rows = len(main)
    xs = alt.Scale(domain=[-0.5, 1.5])
    ys = alt.Scale(domain=[n_rows - 0.5, -0.5])
    no_axis = alt.Axis(labels=False, ticks=False, domain=False, grid=False, title=None)
    rects = alt.Chart(b).mark_rect(stroke=OKABE_ITO["black"], strokeWidth=1, cornerRadius=3).encode(
        x=alt.X("x1:Q", scale=xs, axis=no_axis), x2="x2:Q",
        y=alt.Y("y1:Q", scale=ys, axis=no_axis), y2="y2:Q",
        fill=alt.Fill("kind:N", scale=alt.Scale(domain=["main", "exclusion"],
                                                range=["#DCEBF5", "#F7F7F7"]), legend=None))
    text = alt.Chart(b).mark_text(fontSize=12, lineHeight=14, baseline="middle", lineBreak="\n").encode(
        x=alt.X("x:Q", scale=xs, axis=no_axis), y=alt.Y("ty:Q", scale=ys, axis=no_axis), text="text:N")
    rules = alt.Chart(ln).mark_rule(color=OKABE_ITO["black"], strokeWidth=1).encode(
        x=alt.X("x:Q", scale=xs, axis=no_axis), x2="x2:Q", y=alt.Y("y:Q", scale=ys, axis=no_axis), y2="y2:Q")
    return (alt.layer(rules, rects, text).properties(width=WIDTH + 80, height=FLOW_ROW_PX * n_rows, title=title,
                                                      description=alt_text)
            .configure_view(strokeWidth=0))


# ---------------------------------------------------------------------------------------------
# cumulative incidence, Simon-Makuch
# ---------------------------------------------------------------------------------------------
def _risk_table(risk: pd.DataFrame, groups: list[str], domain: list[float], ticks: list[float]) -> alt.Chart:
    """The numbers-at-risk row(s) drawn under a curve plot (shared x scale).

    The first column is centred on time 0, so the group labels keep clear of half the width of a
    seven-digit number (``labelPadding``): large cohorts do not print counts over the labels.
    """
    return alt.Chart(risk).mark_text(fontSize=11).encode(
        x=alt.X("month:Q", scale=alt.Scale(domain=domain, nice=False),
                axis=alt.Axis(values=ticks, title=None, labels=False, ticks=False, domain=False, grid=False)),
        y=alt.Y("group:N", sort=groups, title=None,
                axis=alt.Axis(domain=False, ticks=False, labels=len(groups) > 1, labelLimit=140,
                              labelPadding=26)),
        # dark text (4.5:1 and more on white): series colours at this size fail contrast; the
        # row labels name the group
        text="at_risk:Q", color=alt.value(OKABE_ITO["black"]),
    ).properties(width=WIDTH, height=max(20 * len(groups), 20),
                 title=alt.TitleParams("Number at risk", anchor="start", fontSize=11, fontWeight="normal"))


@_figure
def cif_plot(curves, *, title: str, alt_text: str, y_title: str = "Cumulative incidence",
             event_label: str = "Relapse or progression",
             competing_label: str = "Death without relapse or progression") -> alt.Chart:
    """Aalen-Johansen cumulative incidence curves (rising steps) with CI bands.

    Parameters
    ----------
    curves : CumulativeIncidence or DataFrame
        A :class:`nscore.statistics.survival.CumulativeIncidence` (both causes are drawn: ``cif`` and
        ``cif_competing`` with their intervals), or a long frame ``event``, ``time`` (days),
        ``estimate`` and optionally ``lower``/``upper``.
    """
    if not isinstance(curves, pd.DataFrame):
        tab = getattr(curves, "table", None)
        if not isinstance(tab, pd.DataFrame) or "cif" not in tab.columns:
            raise FigureError(f"cannot read cumulative incidence curves from {type(curves).__name__}")
        curves = pd.concat([
            pd.DataFrame({"event": event_label, "time": tab["time"], "estimate": tab["cif"],
                          "lower": tab["lower"], "upper": tab["upper"]}),
            pd.DataFrame({"event": competing_label, "time": tab["time"], "estimate": tab["cif_competing"],
                          "lower": tab["lower_competing"], "upper": tab["upper_competing"]}),
        ], ignore_index=True)
    _check(curves, ["event", "time", "estimate"], "cumulative incidence")
    events = list(dict.fromkeys(curves["event"].astype(str)))
    top = float(curves["time"].max())
    grid = _grid(top)
    parts = []
    for ev in events:
        f = curves[curves["event"].astype(str) == ev]
        cols = [c for c in ("estimate", "lower", "upper") if c in f.columns]
        g = step_on_grid(f, grid, cols, start={c: 0.0 for c in cols})
        g = g[g["day"] <= float(f["time"].max()) + GRID_DAYS]
        g.insert(0, "event", ev)
        parts.append(g)
    d = pd.concat(parts, ignore_index=True)
    d["month"] = d["day"] / DAYS_PER_MONTH
    d = _rounded(d.drop(columns="day"))
    colour = alt.Color("event:N", scale=_scale(events), title=None, legend=alt.Legend(orient="top", labelLimit=320))
    ticks = _month_ticks(top)
    x = alt.X("month:Q", title="Months since infusion",
              scale=alt.Scale(domain=[0, top / DAYS_PER_MONTH], nice=False), axis=alt.Axis(values=ticks))
    base = alt.Chart(d)
    layers = []
    if {"lower", "upper"} <= set(d.columns):
        layers.append(base.mark_area(interpolate="step-after", opacity=0.18).encode(
            x=x, y="lower:Q", y2="upper:Q", color=colour))
    layers.append(base.mark_line(interpolate="step-after", strokeWidth=2).encode(
        x=x, y=alt.Y("estimate:Q", title=y_title, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=colour, strokeDash=alt.StrokeDash("event:N", legend=None, sort=events),
        tooltip=["event:N", alt.Tooltip("month:Q", format=".1f"), alt.Tooltip("estimate:Q", format=".1%")]))
    return alt.layer(*layers).properties(width=WIDTH, height=300, title=title, description=alt_text)


@_figure
def simon_makuch_plot(curves, *, title: str, alt_text: str, y_title: str = "Overall survival",
                      labels: Mapping[str, str] | None = None) -> alt.VConcatChart:
    """Simon-Makuch curves: survival by *current* transplant status, numbers at risk below.

    Parameters
    ----------
    curves : SimonMakuchResult or DataFrame
        :class:`nscore.statistics.survival.SimonMakuchResult` (its ``table`` and ``at_risk``), or a frame
        ``group``, ``time`` (days) and ``survival``/``estimate``. The transplanted curve starts
        at its first transplant (late entry), so each curve is drawn from its own first time.
    labels : mapping, optional
        Display names of the groups (e.g. {"HCT": "After allo-HCT"}).
    """
    result = None
    if not isinstance(curves, pd.DataFrame):
        result = curves
        curves = getattr(curves, "table", None)
        if not isinstance(curves, pd.DataFrame):
            raise FigureError(f"cannot read Simon-Makuch curves from {type(result).__name__}")
    if "estimate" not in curves.columns and "survival" in curves.columns:
        curves = curves.rename(columns={"survival": "estimate"})
    _check(curves, ["group", "time", "estimate"], "Simon-Makuch curves")
    labels = dict(labels or {})
    raw_groups = list(dict.fromkeys(curves["group"].astype(str)))
    groups = [labels.get(g, g) for g in raw_groups]
    top = float(curves["time"].max())
    grid = _grid(top)
    parts = []
    for raw, shown in zip(raw_groups, groups):
        f = curves[curves["group"].astype(str) == raw]
        first = float(f["time"].min())
        g = step_on_grid(f, grid, ["estimate"], start={"estimate": np.nan})
        # the state's curve starts at 100% when its first patient enters; before that it is undefined
        g.loc[(g["day"] >= first - GRID_DAYS) & g["estimate"].isna(), "estimate"] = 1.0
        g = g[(g["day"] >= first - GRID_DAYS) & (g["day"] <= float(f["time"].max()) + GRID_DAYS)]
        g = g.dropna(subset=["estimate"])
        g.insert(0, "group", shown)
        parts.append(g)
    d = pd.concat(parts, ignore_index=True)
    d["month"] = d["day"] / DAYS_PER_MONTH
    d = _rounded(d.drop(columns="day"))
    ticks = _month_ticks(top)
    domain = [0, top / DAYS_PER_MONTH]
    plot = alt.Chart(d).mark_line(interpolate="step-after", strokeWidth=2).encode(
        x=alt.X("month:Q", title="Months since infusion", scale=alt.Scale(domain=domain, nice=False),
                axis=alt.Axis(values=ticks)),
        y=alt.Y("estimate:Q", title=y_title, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("group:N", scale=_scale(groups), title=None, legend=alt.Legend(orient="top", labelLimit=320)),
        strokeDash=alt.StrokeDash("group:N", legend=None, sort=groups),
        tooltip=["group:N", alt.Tooltip("month:Q", format=".1f"), alt.Tooltip("estimate:Q", format=".1%")],
    ).properties(width=WIDTH, height=300, title=title)
    if result is not None and hasattr(result, "at_risk"):
        # at risk in a state means start < t <= stop, so time 0 itself has nobody at risk: read the
        # first column just after time 0
        r = result.at_risk(np.maximum(np.array(ticks) * DAYS_PER_MONTH, 1e-6))
        risk = pd.DataFrame({"group": [labels.get(str(g), str(g)) for g in r["group"]],
                             "month": np.round(r["time"] / DAYS_PER_MONTH, 6), "at_risk": r["at_risk"].astype(int)})
        return alt.vconcat(plot, _risk_table(risk, groups, domain, ticks), spacing=4).properties(
            description=alt_text)
    return alt.vconcat(plot, spacing=4).properties(description=alt_text)
