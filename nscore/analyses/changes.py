"""What changed, number by number: two cutoffs' ARDs compared row by row.

:func:`compare` lines up every ARD row (by its row key) of an earlier and a later cutoff and marks
the ones that moved beyond the thresholds of the one documented config, ``data/what-changed.yml``
(:func:`load_thresholds`; the rules are documented in ``data/README.md``, "What changed:
thresholds"), and the analyses and rows added or dropped. The full comparison is the returned
frame; ``frame[frame["changed"]]`` is what the What changed page lists.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from nscore.analyses import ard
from nscore.errors import AnalysisInputError

__all__ = ["THRESHOLDS_FILE", "THRESHOLD_KEYS", "load_thresholds", "check_thresholds", "compare", "COLUMNS",
           "KINDS", "RULES", "compare_consecutive", "summary", "threshold_rows", "threshold_key", "comparison_rows",
           "headline_change_rows", "headline_change_key"]

THRESHOLDS_FILE = "what-changed.yml"
#: The keys of the thresholds config and their types.
THRESHOLD_KEYS = {"version": int, "percent_points": float, "days": float, "count": float,
                  "hazard_ratio_relative": float, "p_value_level": float, "ci_excludes_previous": bool,
                  "reached": bool, "estimable": bool}
#: What a compared row is: same row in both, new in the later ARD, gone from it.
KINDS = ("both", "added", "dropped")
COLUMNS = ["row_key", "analysis_id", "group_var", "group_level", "stat", "unit", "label", "previous_cutoff",
           "current_cutoff", "previous", "current", "change", "kind", "rule", "changed"]
#: The rule text of each numeric threshold (what the page lists); the threshold's value is an ARD
#: row (:func:`threshold_rows`) the page states with its key, so the rule text carries no number.
RULES = {"count": "count changed beyond the count threshold",
         "percent_points": "moved beyond the percentage-point threshold",
         "days": "moved beyond the days threshold",
         "hazard_ratio_relative": "hazard ratio moved beyond its threshold",
         "p_value_level": "p crossed the p-value level"}
#: Unit and label of each numeric threshold's row (``changes.thresholds|rule=<key>|<stat>``).
_THRESHOLD_ROWS = {"count": ("n", "patients", "Count change above which a count is listed"),
                   "percent_points": ("percent", "%", "Percentage-point change above which a percentage is listed"),
                   "days": ("time", "days", "Change in days above which a median is listed"),
                   "hazard_ratio_relative": ("percent", "%", "Relative change above which a hazard ratio is listed"),
                   "p_value_level": ("p", "", "Level a p-value must cross to be listed")}
_POINT = ("percent", "rate", "estimate", "median", "hr")  # statistics a CI (lower/upper) belongs to
_COUNTS = ("n", "N", "events")


def check_thresholds(raw) -> dict:
    """The thresholds as a dict of :data:`THRESHOLD_KEYS`; every key required, no other allowed."""
    if not isinstance(raw, dict):
        raise AnalysisInputError(f"{THRESHOLDS_FILE}: expected a mapping, got {type(raw).__name__}")
    missing = sorted(set(THRESHOLD_KEYS) - set(raw))
    extra = sorted(set(raw) - set(THRESHOLD_KEYS))
    if missing or extra:
        raise AnalysisInputError(f"{THRESHOLDS_FILE}: missing keys {missing}, unknown keys {extra}")
    out = {}
    for key, kind in THRESHOLD_KEYS.items():
        v = raw[key]
        if kind is bool:
            if not isinstance(v, bool):
                raise AnalysisInputError(f"{THRESHOLDS_FILE}: {key} must be true or false, got {v!r}")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise AnalysisInputError(f"{THRESHOLDS_FILE}: {key} must be a number >= 0, got {v!r}")
        out[key] = kind(v)
    return out


def load_thresholds(path=None) -> dict:
    """Read and check the thresholds config (default: ``data/what-changed.yml`` of the project)."""
    import yaml

    if path is None:
        from nscore.data.versions import project_root

        path = project_root(Path(__file__)) / "data" / THRESHOLDS_FILE
    path = Path(path)
    if not path.is_file():
        raise AnalysisInputError(f"thresholds config {path} not found")
    with open(path, encoding="utf-8") as fh:
        return check_thresholds(yaml.safe_load(fh))


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    f = ard.frame(frame)
    f["row_key"] = ard.row_key(f)
    if f["row_key"].duplicated().any():
        dup = sorted(set(f.loc[f["row_key"].duplicated(), "row_key"]))[:3]
        raise AnalysisInputError(f"ARD has duplicate row keys: {dup}")
    return f.set_index("row_key")


def _cutoff(frame: pd.DataFrame) -> str:
    if "cutoff" in frame.columns and len(frame):
        values = sorted(set(frame["cutoff"].astype(str)))
        return values[0] if len(values) == 1 else ",".join(values)
    return ""


def _ci_of(frame: pd.DataFrame) -> dict:
    """(analysis_id, group_var, group_level) -> (lower, upper) of the later ARD."""
    lim = frame[frame["stat"].isin(("lower", "upper"))]
    out: dict = {}
    for (a, gv, gl, stat), v in zip(lim[["analysis_id", "group_var", "group_level", "stat"]].itertuples(index=False,
                                                                                                         name=None),
                                    lim["value"]):
        pair = out.setdefault((a, gv, gl), [math.nan, math.nan])
        pair[0 if stat == "lower" else 1] = v
    return out


def _rules(stat: str, unit: str, prev: float, cur: float, ci, t: dict) -> list[str]:
    rules = []
    pn, cn = math.isnan(prev), math.isnan(cur)
    if pn or cn:
        if pn != cn and t["estimable"]:
            rules.append("became estimable" if pn else "no longer estimable")
        return rules
    pi, ci_ = math.isinf(prev), math.isinf(cur)
    if pi or ci_:
        if pi != ci_ and t["reached"]:
            what = "median" if stat == "median" else "limit"
            rules.append(f"{what} became reached" if pi else f"{what} no longer reached")
        return rules
    diff = cur - prev
    # the rule names the threshold, whose value the page states traced (threshold_rows): no number here
    if stat in _COUNTS and abs(diff) > t["count"]:
        rules.append(RULES["count"])
    elif unit == "%" and stat in ("percent", "rate", "estimate") and abs(diff) > t["percent_points"]:
        rules.append(RULES["percent_points"])
    elif unit == "days" and stat == "median" and abs(diff) > t["days"]:
        rules.append(RULES["days"])
    elif stat == "hr" and prev > 0 and cur > 0 and abs(cur / prev - 1) > t["hazard_ratio_relative"]:
        rules.append(RULES["hazard_ratio_relative"])
    elif stat == "p" and (prev < t["p_value_level"]) != (cur < t["p_value_level"]):
        rules.append(RULES["p_value_level"])
    if t["ci_excludes_previous"] and stat in _POINT and ci is not None:
        lo, hi = ci
        if not (math.isnan(lo) or math.isnan(hi)) and not lo <= prev <= hi:
            rules.append("CI no longer contains the earlier estimate")
    return rules


def compare(previous: pd.DataFrame, current: pd.DataFrame, thresholds: dict | None = None) -> pd.DataFrame:
    """Every row of two cutoffs' ARDs side by side, with what changed beyond its threshold.

    Parameters
    ----------
    previous, current : DataFrame
        ARDs (:data:`nscore.analyses.ard.COLUMNS`, or result rows) of the earlier and the later cutoff.
    thresholds : dict, optional
        :func:`load_thresholds` (default: read ``data/what-changed.yml``).

    Returns
    -------
    DataFrame
        :data:`COLUMNS`, one row per row key of either ARD (later ARD's order, then the dropped
        rows): ``previous``/``current`` values (NaN when absent), ``change`` (current - previous;
        NaN unless both finite), ``kind`` (:data:`KINDS`), ``rule`` (why it is listed, rules joined
        by "; "; empty when within every threshold) and ``changed`` (listed). Rules: a median or
        limit becoming reached or no longer reached; a value becoming estimable or not; a count
        changing by more than ``count``; a percentage moving more than ``percent_points``; a median
        moving more than ``days``; a hazard ratio moving more than ``hazard_ratio_relative``; a
        p-value crossing ``p_value_level``; the later CI no longer containing the earlier estimate;
        "analysis added"/"analysis dropped" (its id is in one ARD only), else "row added"/"row
        dropped" (e.g. a new subgroup level).
    """
    t = check_thresholds(thresholds) if thresholds is not None else load_thresholds()
    p, c = _keyed(previous), _keyed(current)
    p_ids, c_ids = set(p["analysis_id"]), set(c["analysis_id"])
    ci = _ci_of(c)
    rows = []
    for key in list(c.index) + [k for k in p.index if k not in c.index]:
        in_p, in_c = key in p.index, key in c.index
        src = c.loc[key] if in_c else p.loc[key]
        prev = float(p.loc[key, "value"]) if in_p else math.nan
        cur = float(c.loc[key, "value"]) if in_c else math.nan
        if in_p and in_c:
            kind = "both"
            rules = _rules(src["stat"], src["unit"], prev, cur,
                           ci.get((src["analysis_id"], src["group_var"], src["group_level"])), t)
        elif in_c:
            kind = "added"
            rules = ["analysis added" if src["analysis_id"] not in p_ids else "row added"]
        else:
            kind = "dropped"
            rules = ["analysis dropped" if src["analysis_id"] not in c_ids else "row dropped"]
        change = cur - prev if math.isfinite(prev) and math.isfinite(cur) else math.nan
        rows.append({"row_key": key, "analysis_id": src["analysis_id"], "group_var": src["group_var"],
                     "group_level": src["group_level"], "stat": src["stat"], "unit": src["unit"],
                     "label": src["label"], "previous": prev, "current": cur, "change": change, "kind": kind,
                     "rule": "; ".join(rules), "changed": bool(rules)})
    out = pd.DataFrame(rows, columns=[c_ for c_ in COLUMNS if c_ not in ("previous_cutoff", "current_cutoff")])
    out.insert(7, "previous_cutoff", _cutoff(previous))
    out.insert(8, "current_cutoff", _cutoff(current))
    out["previous"] = out["previous"].astype(float)
    out["current"] = out["current"].astype(float)
    out["change"] = out["change"].astype(float)
    out["changed"] = out["changed"].astype(bool)
    return out



def compare_consecutive(ards, thresholds: dict | None = None) -> pd.DataFrame:
    """:func:`compare` for each pair of consecutive cutoffs, stacked (oldest pair first).

    ``ards``: one ARD per cutoff (e.g. :func:`nscore.analyses.results.book_results` of each stored
    cutoff), in any order: sorted here by their ``cutoff`` column. Fewer than two: an empty frame
    with :data:`COLUMNS`.
    """
    t = check_thresholds(thresholds) if thresholds is not None else load_thresholds()
    dated = sorted(ards, key=_cutoff)
    cutoffs = [_cutoff(a) for a in dated]
    if len(set(cutoffs)) != len(cutoffs):
        raise AnalysisInputError(f"ARDs share a cutoff: {cutoffs}")
    parts = [compare(a, b, t) for a, b in zip(dated, dated[1:])]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True)


def summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """What a comparison lists, per pair of cutoffs and analysis: ``previous_cutoff``,
    ``current_cutoff``, ``analysis_id``, ``rows`` (compared), ``changed`` (listed), ``rules``
    (the distinct rules, "; "-joined), analyses with no listed row left out."""
    listed = comparison[comparison["changed"]]
    columns = ["previous_cutoff", "current_cutoff", "analysis_id", "rows", "changed", "rules"]
    if listed.empty:
        return pd.DataFrame(columns=columns)
    keys = ["previous_cutoff", "current_cutoff", "analysis_id"]
    rows = comparison.groupby(keys, sort=False).size().rename("rows")
    out = listed.groupby(keys, sort=False).agg(
        changed=("row_key", "size"),
        rules=("rule", lambda r: "; ".join(dict.fromkeys(x for v in r for x in v.split("; ")))))
    return out.join(rows).reset_index()[columns]


# ---------------------------------------------------------------------- the page's numbers as rows
def threshold_key(name: str) -> str:
    """Row key of one numeric threshold of the config (:func:`threshold_rows`)."""
    return f"changes.thresholds|rule={name}|{_THRESHOLD_ROWS[name][0]}"


def threshold_rows(thresholds: dict | None = None) -> list[dict]:
    """The numeric thresholds of ``data/what-changed.yml`` as ARD rows ``changes.thresholds|rule=<key>``
    (settings: method names the config file). The relative hazard-ratio threshold is in percent."""
    t = check_thresholds(thresholds) if thresholds is not None else load_thresholds()
    out = []
    for name, (stat, unit, label) in _THRESHOLD_ROWS.items():
        value = 100 * t[name] if name == "hazard_ratio_relative" else t[name]
        out.append(ard.row("changes.thresholds", stat, value, population="What changed config", group_var="rule",
                           group_level=name, unit=unit, method=f"data/{THRESHOLDS_FILE}, key {name} (setting)",
                           label=label))
    return out


def comparison_rows(comparison: pd.DataFrame | None) -> list[dict]:
    """How many statistics a :func:`compare` compared (``changes.compared|=|n``) and listed as changed
    (``changes.listed|=|n``); no rows without a comparison (a single cutoff)."""
    if comparison is None or len(comparison) == 0:
        return []
    method = f"nscore.analyses.changes.compare, thresholds data/{THRESHOLDS_FILE}"
    return [ard.row("changes.compared", "n", len(comparison), population="analysis-results dataset",
                    method=method, label="Statistics compared between the last two data cutoffs"),
            ard.row("changes.listed", "n", int(comparison["changed"].sum()), population="analysis-results dataset",
                    method=method, label="Statistics that moved beyond their threshold")]


def headline_change_key(figure: str) -> str:
    """Row key of the change of one headline figure (:func:`headline_change_rows`)."""
    return f"changes.headline|figure={figure}|estimate"


def headline_change_rows(comparison: pd.DataFrame) -> list[dict]:
    """The change of each headline figure from the previous cutoff to the latest
    (:func:`nscore.analyses.headline.compare_cutoffs`), as rows ``changes.headline|figure=<key>|estimate``
    (unit of the figure: percentage points for "%"); only the finite changes (a figure not estimable
    or not reached at either cutoff has no difference)."""
    if "change" not in comparison.columns:
        return []
    out = []
    for key, label, unit, change in zip(comparison["key"], comparison["label"], comparison["unit"],
                                        comparison["change"]):
        if pd.isna(change) or not math.isfinite(float(change)):
            continue
        out.append(ard.row("changes.headline", "estimate", float(change), population="headline figures",
                           group_var="figure", group_level=str(key), unit=str(unit),
                           method="difference latest - previous data cutoff (nscore.analyses.headline.compare_cutoffs)",
                           label=f"Change from the previous cutoff: {label}"))
    return out
