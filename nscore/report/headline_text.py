"""The text of the headline figures and of their changes between cutoffs (report layer).

:mod:`nscore.analyses.headline` gives numbers and a ``status`` per figure; this module turns them
into the words the landing page, What changed and the Discussion print (the ``display`` columns
the analysis frames used to carry). Interim home: the one formatter of issue 13
(``nscore.report.format``) replaces it.
"""

from __future__ import annotations

import math

import pandas as pd

from nscore.analyses.efficacy import format_percent
from nscore.analyses.headline import COLUMNS as FIGURE_COLUMNS
from nscore.report.tables import median_ci_text

__all__ = ["COLUMNS", "figure_text", "with_display", "comparison_text"]

#: The headline figures' columns with their text (``display``) after ``upper``.
COLUMNS = FIGURE_COLUMNS[:5] + ["display"] + FIGURE_COLUMNS[5:]

#: Text of a figure that has no value, by its ``status``.
MISSING_TEXT = {"not evaluable": "no patient evaluable for response", "not collected": "not collected",
                "not estimable": "not estimable", "not reached": "not reached"}


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def figure_text(row) -> str:
    """One headline figure as printed: ``'334'``, ``'86.3% (284/329; 95% CI 82.1–89.8)'``,
    ``'547 days (95% CI 480–NR)'``, ``'64.7% (95% CI 58.9–69.9)'``, or why there is no value."""
    unit, status = row.get("unit"), row.get("status")
    value, lower, upper = _num(row.get("value")), _num(row.get("lower")), _num(row.get("upper"))
    if unit == "patients":
        return "not collected" if math.isnan(value) else str(int(value))
    if unit == "days":
        median = math.inf if status == "not reached" else value
        return median_ci_text(median, lower, upper)
    if status != "estimated" or math.isnan(value):
        return MISSING_TEXT.get(status, "not estimable")
    k, n = row.get("k"), row.get("n")
    if k is not None and n is not None and not (math.isnan(_num(k)) or math.isnan(_num(n))):
        k, n = int(k), int(n)
        return f"{format_percent(k, n)} ({k}/{n}; 95% CI {lower:.1f}\u2013{upper:.1f})"
    return f"{value:.1f}% (95% CI {lower:.1f}\u2013{upper:.1f})"


def with_display(figures: pd.DataFrame) -> pd.DataFrame:
    """``figures`` (:func:`nscore.analyses.headline.headline_figures`) with a ``display`` column
    (text of each figure). Rows that already carry a text keep it."""
    out = figures.copy()
    texts = [figure_text(row) for _, row in out.iterrows()]
    if "display" in out.columns:
        have = out["display"].notna()
        out["display"] = [d if h else t for d, h, t in zip(out["display"], have, texts)]
    else:
        out["display"] = texts
    if "key" in out.columns:
        out = out[[c for c in COLUMNS if c in out.columns] + [c for c in out.columns if c not in COLUMNS]]
    return out


def _short(x: float, unit: str, status: str | None = None) -> str:
    if math.isnan(x):
        if status and status != "estimated":
            return status
        return "not reached" if unit == "days" else "not estimable"
    return {"%": f"{x:.1f}%", "days": f"{x:.0f} days"}.get(unit, f"{x:.0f}")


def _change_text(diff: float, unit: str, prev: float, last: float, prev_status: str | None = None,
                 last_status: str | None = None) -> str:
    """The change between two cutoffs in words: "+3.1 percentage points", "+184 days",
    "not reached \u2192 612 days" when a figure becomes estimable, "not collected \u2192 10.2%",
    "no change". ``*_status`` (a headline row's ``status``) names why a value is missing."""
    if math.isnan(prev) or math.isnan(last):
        a, b = _short(prev, unit, prev_status), _short(last, unit, last_status)
        if math.isnan(prev) and math.isnan(last) and a == b:
            return f"{a} at both cutoffs"
        return f"{a} \u2192 {b}"
    if diff == 0:
        return "no change"
    suffix = {"%": " percentage points", "days": " days"}.get(unit, "")
    step = 0.1 if unit == "%" else 1
    if abs(diff) < step / 2:  # would print as "+0.0" or "-0.0"
        return f"{'+' if diff > 0 else '-'}<{step:g}{suffix}"
    if unit == "%":
        return f"{diff:+.1f} percentage points"
    if unit == "days":
        return f"{diff:+.0f} days"
    return f"{diff:+.0f}"


def comparison_text(comparison: pd.DataFrame) -> pd.DataFrame:
    """``comparison`` (:func:`nscore.analyses.headline.compare_cutoffs`) with a text column
    ``"<date> display"`` after each cutoff's value and ``change_display`` after ``change``.

    A cell is the figure as on the landing page (with its CI) when the comparison carries each
    cutoff's figures (``comparison.attrs["figures"]``, as ``compare_cutoffs`` returns it), else
    the short value ("86.3%", "547 days", "not reached").
    """
    figures = comparison.attrs.get("figures") or {}
    if "change_display" in comparison.columns:
        return comparison
    dates = [c.removesuffix(" status") for c in comparison.columns
             if isinstance(c, str) and c.endswith(" status")]
    out = pd.DataFrame({c: comparison[c] for c in ("key", "label", "unit")})
    for d in dates:
        out[d] = comparison[d]
        if d in figures:
            out[f"{d} display"] = with_display(figures[d])["display"].to_numpy()
        else:
            out[f"{d} display"] = [_short(v, u, s) for v, u, s in
                                   zip(comparison[d], comparison["unit"], comparison[f"{d} status"])]
    out["change"] = comparison["change"]
    if len(dates) >= 2:
        prev, last = dates[-2], dates[-1]
        out["change_display"] = [
            _change_text(dv, u, p, l, ps, ls) for dv, u, p, l, ps, ls in
            zip(comparison["change"], comparison["unit"], comparison[prev], comparison[last],
                comparison[f"{prev} status"], comparison[f"{last} status"])]
    else:
        out["change_display"] = "only one cutoff"
    return out
