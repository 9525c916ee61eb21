"""Charts of the standard CAR-T efficacy analyses (issue 15): the aggregated swimmer lanes, the
hazard-ratio forest and cumulative incidence by transplant at a landmark.

Same contract and privacy rules as :mod:`nscore.report.figures` (its :class:`~nscore.report.figures.Figure`
wrapper, palette, time grid and the refusal of patient identifiers): every chart is given aggregates.
The swimmer plot in particular is *not* one bar per patient: each lane is a best-response group and
each bar the share of that group in each state at a time point (counts per lane, time point and
state), so the embedded rows depend on the follow-up and the number of lanes, never on the number
of patients, and no patient's course can be read back.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from nscore.report.figures import (
    DAYS_PER_MONTH,
    GRID_DAYS,
    OKABE_ITO,
    WIDTH,
    _check,
    _figure,
    _grid,
    _month_ticks,
    _rounded,
    _scale,
    step_on_grid,
)

__all__ = ["STATE_COLOURS", "lane_plot", "hazard_forest", "cif_by_group_plot"]

#: One colour per swimmer state (Okabe-Ito), in the order of
#: :data:`nscore.analyses.outcomes.LANE_STATES`.
STATE_COLOURS = {
    "No response (yet)": "#DDDDDD",
    "In response": OKABE_ITO["sky_blue"],
    "Transplanted in remission": OKABE_ITO["blue"],
    "Relapsed or progressed": OKABE_ITO["orange"],
    "Died": OKABE_ITO["black"],
    "Follow-up ended": "#FFFFFF",
}


@_figure
def lane_plot(table: pd.DataFrame, *, title: str, alt_text: str) -> alt.FacetChart:
    """Swimmer-style lanes: per best-response lane, the share of patients in each state at each
    time point (stacked bars).

    ``table``: lane, month, state, n, N, percent (:func:`nscore.analyses.outcomes.response_lanes`).
    """
    _check(table, ["lane", "month", "state", "n", "N", "percent"], "swimmer lanes")
    # states nobody is in draw nothing: left out of the embedded data (the page stays light)
    d = _rounded(table.loc[table["n"] > 0, ["lane", "month", "state", "n", "N", "percent"]].assign(
        percent=lambda f: f["percent"].astype(float) / 100))
    d["lane_label"] = d["lane"].astype(str) + " (n=" + d["N"].astype(int).astype(str) + ")"
    lanes = list(dict.fromkeys(d["lane_label"]))
    states = [s for s in STATE_COLOURS if s in set(d["state"])]
    colour = alt.Color("state:N", title=None, sort=states,
                       scale=alt.Scale(domain=states, range=[STATE_COLOURS[s] for s in states]),
                       legend=alt.Legend(orient="top", columns=3, labelLimit=220, symbolStrokeColor="#666666"))
    # one SVG label per bar would weigh more than the chart: the bars are aria-hidden and the
    # figure's alt text and caption describe them (the tooltip keeps the counts)
    bars = alt.Chart().mark_bar(stroke="#999999", strokeWidth=0.3, aria=False).encode(
        x=alt.X("month:O", title="Months since infusion", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("percent:Q", stack="zero", title="Patients", axis=alt.Axis(format="%", values=[0, 0.5, 1]),
                scale=alt.Scale(domain=[0, 1])),
        color=colour, order=alt.Order("state_order:Q"),
        tooltip=["lane:N", "month:O", "state:N", "n:Q", "N:Q", alt.Tooltip("percent:Q", format=".1%")])
    d["state_order"] = d["state"].map({s: i for i, s in enumerate(states)})
    return (bars.properties(width=WIDTH, height=70)
            .facet(row=alt.Row("lane_label:N", sort=lanes, title=None,
                               header=alt.Header(labelAngle=0, labelAlign="left", labelOrient="top")), data=d)
            .properties(title=title, description=alt_text))


@_figure
def hazard_forest(table: pd.DataFrame, *, title: str, alt_text: str,
                  endpoints: tuple[str, ...] = ("OS", "PFS")) -> alt.FacetChart:
    """Hazard ratios with 95% CIs per subgroup level, one panel per endpoint, log scale, a line at 1.

    ``table``: endpoint, subgroup, level, n, events, hr, lower, upper, status (reference rows are
    drawn at 1 as hollow marks; "not estimable" rows are left out).
    (:func:`nscore.analyses.outcomes.subgroup_hazard_ratios`). Same style as
    :func:`nscore.report.figures.forest_plot`.
    """
    _check(table, ["endpoint", "subgroup", "level", "n", "events", "hr", "lower", "upper", "status"], "hazard rows")
    d = table[table["endpoint"].isin(endpoints) & table["status"].isin(["estimated", "reference"])].copy()
    d["label"] = (d["subgroup"] + ": " + d["level"].astype(str) + " (n=" + d["n"].astype(int).astype(str)
                  + np.where(d["status"] == "reference", ", reference)", ")"))
    order = list(dict.fromkeys(d["label"]))
    d = _rounded(d[["label", "subgroup", "endpoint", "n", "events", "hr", "lower", "upper", "status"]])
    finite = d[["lower", "upper"]].replace([np.inf, -np.inf], np.nan).stack()
    lo = float(min(finite.min(), 0.5)) if len(finite) else 0.25
    hi = float(max(finite.max(), 2.0)) if len(finite) else 4.0
    d["lower"], d["upper"] = d["lower"].clip(lower=lo), d["upper"].clip(upper=hi)
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    x = alt.X("hr:Q", title="Hazard ratio (95% CI, log scale)", scale=alt.Scale(type="log", domain=[lo, hi]))
    colour = alt.Color("subgroup:N", legend=None, scale=_scale(list(dict.fromkeys(d["subgroup"]))))
    base = alt.Chart()
    # the rules are decorative for assistive technology (the points carry the tooltip, the figure its alt text)
    ci = base.mark_rule(strokeWidth=1.5, aria=False).encode(y=y, x="lower:Q", x2="upper:Q", color=colour)
    pt = base.mark_point(size=50, shape="square").encode(
        y=y, x=x, color=colour, fill=alt.condition("datum.status == 'reference'", alt.value("white"), colour),
        tooltip=["label:N", "endpoint:N", "n:Q", "events:Q", alt.Tooltip("hr:Q", format=".2f"),
                 alt.Tooltip("lower:Q", format=".2f"), alt.Tooltip("upper:Q", format=".2f")])
    ref = base.mark_rule(strokeDash=[4, 3], color=OKABE_ITO["black"], aria=False).encode(x=alt.datum(1))
    return (alt.layer(ref, ci, pt).properties(width=200, height=alt.Step(16))
            .facet(column=alt.Column("endpoint:N", sort=list(endpoints), title=None), data=d)
            .properties(title=title, description=alt_text))


@_figure
def cif_by_group_plot(groups, *, title: str, alt_text: str, labels=None,
                      causes=("Relapse or progression", "Non-relapse mortality"),
                      x_title: str = "Months since the landmark") -> alt.FacetChart:
    """Aalen-Johansen curves per group, one panel per cause (the event and its competing death).

    ``groups``: {group: :class:`~nscore.statistics.survival.CumulativeIncidence`}; curves are
    resampled on the 7-day grid like every curve of the book.
    """
    labels = dict(labels or {})
    parts = []
    top = max(float(c.table["time"].max()) for c in groups.values())
    grid = _grid(top)
    for g, cif in groups.items():
        tab = cif.table
        for cause, sfx in zip(causes, ("", "_competing")):
            f = pd.DataFrame({"time": tab["time"], "estimate": tab["cif" + sfx], "lower": tab["lower" + sfx],
                              "upper": tab["upper" + sfx]})
            s = step_on_grid(f, grid, ["estimate", "lower", "upper"], start={"estimate": 0.0, "lower": 0.0,
                                                                              "upper": 0.0})
            s = s[s["day"] <= float(tab["time"].max()) + GRID_DAYS]
            s.insert(0, "cause", cause)
            s.insert(0, "group", labels.get(g, g))
            parts.append(s)
    d = pd.concat(parts, ignore_index=True)
    d["month"] = d["day"] / DAYS_PER_MONTH
    d = _rounded(d.drop(columns="day"))
    names = list(dict.fromkeys(d["group"]))
    colour = alt.Color("group:N", scale=_scale(names), title=None, legend=alt.Legend(orient="top"))
    x = alt.X("month:Q", title=x_title, scale=alt.Scale(domain=[0, top / DAYS_PER_MONTH], nice=False),
              axis=alt.Axis(values=_month_ticks(top)))
    base = alt.Chart()
    band = base.mark_area(interpolate="step-after", opacity=0.15, aria=False).encode(x=x, y="lower:Q", y2="upper:Q", color=colour)
    line = base.mark_line(interpolate="step-after", strokeWidth=2).encode(
        x=x, y=alt.Y("estimate:Q", title="Cumulative incidence", axis=alt.Axis(format="%"),
                     scale=alt.Scale(domain=[0, 1])),
        color=colour, strokeDash=alt.StrokeDash("group:N", legend=None, sort=names),
        tooltip=["group:N", "cause:N", alt.Tooltip("month:Q", format=".1f"), alt.Tooltip("estimate:Q", format=".1%")])
    return (alt.layer(band, line).properties(width=WIDTH // 2 - 20, height=260)
            .facet(column=alt.Column("cause:N", sort=list(causes), title=None), data=d)
            .properties(title=title, description=alt_text))
