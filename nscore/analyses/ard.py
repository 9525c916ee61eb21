"""The analysis-results dataset (ARD): one long table per cutoff, one row per statistic (issue 13).

In the spirit of CDISC ARS and R's ``cards``: every number the book shows is a row with a stable
``analysis_id`` (the same analysis has the same id at every cutoff), its population, endpoint,
group and level, the statistic, the value as a float, the method, and where it was computed
(cutoff, data version, chapter, cell). This module holds the row model and its checks, the
per-kernel :class:`Recorder` the chapters record into and emit from, the JSON payload of the
notebook output (MIME :data:`MIME`), the reader that gets the rows back from an executed notebook,
and the writer of a cutoff's ARD (CSV, Parquet and a data dictionary).

Value conventions: ``value`` is a float; NaN = not estimable or not applicable; ``inf`` = not
reached (a Kaplan-Meier median or CI limit). Percentages are 0-100 with ``unit`` "%". In JSON, NaN
and infinities are written as the strings "NaN", "Infinity" and "-Infinity" (JSON has no such
numbers), and read back as floats.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from nscore.errors import AnalysisInputError
from nscore.files import write_atomic

__all__ = [
    "COLUMNS", "RESULT_COLUMNS", "STAMPS", "STATS", "UNITS", "MIME", "ID_RULE", "DICTIONARY",
    "EPOCH", "date_value", "row", "frame", "row_key", "validate", "rows_of", "Recorder", "recorder", "start", "record", "emit",
    "to_payload", "from_payload", "read_notebook", "write", "combine",
]

#: The ARD columns, in order (exact names of the shared contract).
COLUMNS = ["cutoff", "data_version", "analysis_id", "population", "endpoint", "group_var", "group_level",
           "stat", "value", "unit", "method", "label", "chapter", "cell"]
#: What a result's ``rows()`` gives: the columns without the stamps of where and on what it ran.
RESULT_COLUMNS = ["analysis_id", "population", "endpoint", "group_var", "group_level", "stat", "value",
                  "unit", "method", "label"]
STAMPS = ("cutoff", "data_version", "chapter", "cell")
#: The statistics a row may name.
STATS = frozenset({"n", "N", "percent", "estimate", "lower", "upper", "p", "median", "q1", "q3", "min", "max",
                   "events", "hr", "rate", "time", "statistic", "df", "mean", "sd", "count"})
UNITS = frozenset({"%", "days", "months", "patients", "years", "lines", "10^6 cells/kg", "date", ""})
#: Day 0 of a ``date`` value: a calendar date is stored as days since 1970-01-01 (a number, so it
#: compares and subtracts like any value; :func:`nscore.report.format.date` prints it).
EPOCH = pd.Timestamp("1970-01-01")
MIME = "application/vnd.nscore.ard+json"
#: A valid analysis id: ASCII lower-case letters, digits, ``_``, ``.`` and ``-``.
ID_RULE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

#: The data dictionary written beside every ARD.
DICTIONARY = pd.DataFrame([
    ("cutoff", "date (ISO)", "Data cutoff of the data the statistic was computed on."),
    ("data_version", "text", "Version id of the stored data (first 12 hex digits of a SHA-256 over its files)."),
    ("analysis_id", "text", "Stable id of the analysis (same analysis, same id at every cutoff); ASCII [a-z0-9_.-]."),
    ("population", "text", "Analysis population, e.g. 'infused (SAFFL)', 'efficacy-evaluable (EFFFL)'."),
    ("endpoint", "text", "Endpoint or characteristic, e.g. 'ORR', 'OS', 'CRS'."),
    ("group_var", "text", "Grouping variable(s), comma-separated; empty for the whole population."),
    ("group_level", "text", "Level(s) of group_var, comma-separated in the same order; empty overall."),
    ("stat", "text", "Statistic: n, N, percent, estimate, lower, upper, p, median, q1, q3, min, max, events, "
                     "hr, rate, statistic, df, ..."),
    ("value", "float", "The value. Empty/NaN: not estimable or not applicable; inf: not reached (a median "
                       "or confidence limit the curve never reaches)."),
    ("unit", "text", "'%' (percent, 0-100), 'days', 'months', 'years', 'lines' (of prior therapy), 'patients', 'date' (a calendar date as days "
                     "since 1970-01-01), or empty (ratios, p-values, counts of degrees of freedom)."),
    ("method", "text", "Method, e.g. 'Clopper-Pearson exact', 'Kaplan-Meier, log-log 95% CI', 'Aalen-Johansen'."),
    ("label", "text", "What the statistic is, in words."),
    ("chapter", "text", "Chapter (page) that shows the statistic."),
    ("cell", "integer", "Execution count of the notebook cell that recorded it (empty outside a kernel)."),
], columns=["column", "type", "description"])


# ------------------------------------------------------------------------------------------- rows
def _float(value) -> float:
    if value is None or value is pd.NA:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise AnalysisInputError(f"ARD value must be a number, got {value!r}") from exc


def row(analysis_id: str, stat: str, value, *, population: str = "", endpoint: str = "", group_var: str = "",
        group_level: str = "", unit: str = "", method: str = "", label: str = "") -> dict:
    """One ARD result row (no stamps). ``value`` becomes a float (None -> NaN)."""
    return {"analysis_id": analysis_id, "population": population, "endpoint": endpoint,
            "group_var": group_var, "group_level": "" if group_level is None else str(group_level),
            "stat": stat, "value": _float(value), "unit": unit, "method": method, "label": label}


def date_value(d) -> float:
    """A calendar date (date, Timestamp or ISO string) as a ``date`` value: days since 1970-01-01;
    NaN for a missing date."""
    t = pd.to_datetime(d, errors="coerce")
    if t is None or t is pd.NaT or pd.isna(t):
        return math.nan
    return float((pd.Timestamp(t).normalize() - EPOCH).days)


def frame(rows: Iterable[Mapping] | pd.DataFrame = ()) -> pd.DataFrame:
    """Rows (dicts or frames) as one frame with :data:`RESULT_COLUMNS` first, plus any stamps."""
    if isinstance(rows, pd.DataFrame):
        parts = [rows]
    else:
        parts, dicts = [], []
        for r in rows:
            if isinstance(r, pd.DataFrame):
                if dicts:
                    parts.append(pd.DataFrame(dicts))
                    dicts = []
                parts.append(r)
            else:
                dicts.append(dict(r))
        if dicts:
            parts.append(pd.DataFrame(dicts))
    parts = [p for p in parts if len(p.columns)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=RESULT_COLUMNS)
    stamps = [c for c in COLUMNS if c in STAMPS and c in out.columns]
    columns = RESULT_COLUMNS if not stamps else [c for c in COLUMNS if c in RESULT_COLUMNS or c in stamps]
    for c in columns:
        if c not in out.columns:
            out[c] = math.nan if c == "value" else ""
    out = out[columns].copy()
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    for c in ("analysis_id", "population", "endpoint", "group_var", "group_level", "stat", "unit", "method",
              "label"):
        out[c] = out[c].fillna("").astype(str)
    return out.reset_index(drop=True)


def row_key(rows) -> pd.Series | str:
    """``analysis_id|group_var=group_level|stat``: unique within a cutoff."""
    if isinstance(rows, pd.DataFrame):
        return (rows["analysis_id"].astype(str) + "|" + rows["group_var"].astype(str) + "="
                + rows["group_level"].astype(str) + "|" + rows["stat"].astype(str))
    return f"{rows['analysis_id']}|{rows['group_var']}={rows['group_level']}|{rows['stat']}"


def validate(rows: pd.DataFrame) -> pd.DataFrame:
    """Check an ARD (or result rows): ids, statistics, units, float values, unique row keys.

    Returns the frame; raises :class:`nscore.errors.AnalysisInputError` naming the first problems.
    """
    problems = []
    missing = [c for c in RESULT_COLUMNS if c not in rows.columns]
    if missing:
        raise AnalysisInputError(f"ARD lacks columns {missing}")
    bad_ids = sorted({a for a in rows["analysis_id"] if not ID_RULE.match(str(a))})
    if bad_ids:
        problems.append(f"analysis ids not ASCII [a-z0-9_.-]: {bad_ids[:5]}")
    bad_stats = sorted(set(rows["stat"]) - STATS)
    if bad_stats:
        problems.append(f"unknown statistics: {bad_stats[:5]}")
    bad_units = sorted(set(rows["unit"]) - UNITS)
    if bad_units:
        problems.append(f"unknown units: {bad_units[:5]}")
    if not pd.api.types.is_float_dtype(rows["value"]):
        problems.append(f"value column is {rows['value'].dtype}, not float")
    keys = row_key(rows)
    if "cutoff" in rows.columns:
        keys = rows["cutoff"].astype(str) + "#" + keys
    dup = keys[keys.duplicated()]
    if len(dup):
        problems.append(f"duplicate row keys: {sorted(set(dup))[:5]}")
    if problems:
        raise AnalysisInputError("invalid ARD: " + "; ".join(problems))
    return rows


def rows_of(result, **kw) -> pd.DataFrame:
    """The ARD rows of ``result``: its ``rows(**kw)``, or a frame / list of row dicts as given."""
    if hasattr(result, "rows") and callable(result.rows):
        return frame(result.rows(**kw))
    if isinstance(result, pd.DataFrame):
        return frame(result)
    if isinstance(result, (list, tuple)):
        return frame(result)
    raise AnalysisInputError(f"{type(result).__name__} has no ARD rows (no rows() method)")


# -------------------------------------------------------------------------------------- recording
def _execution_count():
    """The execution count of the running IPython cell, or None outside a kernel."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the book's tools
        return None
    shell = get_ipython()
    if shell is None:
        return None
    # IPython counts the running cell before it runs it (execution_count is already the next one);
    # the displayhook's prompt_count is the running cell's number, as Out[n] shows it.
    hook = getattr(shell, "displayhook", None)
    count = getattr(hook, "prompt_count", None)
    if count is None:
        count = getattr(shell, "execution_count", None)
        count = count - 1 if isinstance(count, (int, np.integer)) else None
    return int(count) if isinstance(count, (int, np.integer)) and count > 0 else None


class Recorder:
    """Collects the ARD rows of one chapter, stamped with cutoff, data version, chapter and cell.

    ``cohort``: the loaded data (its ``cutoff`` and ``version``); ``chapter``: the page name
    (e.g. "results"). :meth:`record` returns what it was given, so a chapter reads
    ``rates = ard.record(efficacy.response_rates(cohort))`` and stays a plain account of the
    analysis.
    """

    def __init__(self, cohort=None, chapter: str | None = None):
        self.chapter = chapter or ""
        self.cutoff = ""
        self.data_version = ""
        if cohort is not None:
            self.use(cohort)
        self._parts: list[pd.DataFrame] = []

    def use(self, cohort) -> "Recorder":
        """Stamp later rows with ``cohort``'s cutoff and data version."""
        cutoff = getattr(cohort, "cutoff", None)
        self.cutoff = cutoff.isoformat() if hasattr(cutoff, "isoformat") else str(cutoff or "")
        self.data_version = str(getattr(cohort, "version", "") or "")
        return self

    def record(self, result, *, cell: int | None = None, **kw):
        """Add the rows of ``result`` (see :func:`rows_of`); returns ``result``. ``cell`` defaults to
        the running cell's execution count. A result without rows (None) records nothing."""
        if result is None:
            return result
        rows = rows_of(result, **kw)
        if len(rows):
            rows = rows.copy()
            rows["cutoff"] = self.cutoff
            rows["data_version"] = self.data_version
            rows["chapter"] = self.chapter
            rows["cell"] = _execution_count() if cell is None else cell
            self._parts.append(rows)
        return result

    def frame(self) -> pd.DataFrame:
        """Every recorded row (:data:`COLUMNS`), in recording order; a row recorded twice (the same
        key: a cell run again) keeps its last value."""
        if not self._parts:
            return pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object) for c in COLUMNS})
        out = pd.concat(self._parts, ignore_index=True)
        out["cell"] = out["cell"].astype(object)
        out = out[COLUMNS]
        keep = ~row_key(out).duplicated(keep="last")
        return out.loc[keep].reset_index(drop=True)

    def clear(self) -> None:
        self._parts = []

    def payload(self) -> dict:
        return to_payload(validate(self.frame()))

    def emit(self):
        """Display the chapter's rows as one output of MIME type :data:`MIME` (and a short
        text/plain line); the build reads it back with :func:`read_notebook`."""
        from IPython.display import display

        payload = self.payload()
        n = len(payload["rows"])
        display({MIME: payload, "text/plain": f"ARD: {n} rows ({self.chapter or 'chapter'})"}, raw=True)
        return None


_DEFAULT: Recorder | None = None


def recorder() -> Recorder:
    """This kernel's recorder (created empty on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Recorder()
    return _DEFAULT


def start(cohort=None, chapter: str | None = None) -> Recorder:
    """A fresh default recorder for ``chapter`` on ``cohort`` (call once, at the chapter's top)."""
    global _DEFAULT
    _DEFAULT = Recorder(cohort, chapter)
    return _DEFAULT


def record(result, **kw):
    """Record ``result`` into the default recorder; returns ``result``."""
    return recorder().record(result, **kw)


def emit():
    """Emit the default recorder's rows (the chapter's last cell, tags remove-cell, nscore-ard)."""
    return recorder().emit()


# ------------------------------------------------------------------------------------------ JSON
def _json_value(v):
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(v, (np.integer,)):
        return int(v)
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def to_payload(rows: pd.DataFrame) -> dict:
    """``{"rows": [...]}``: JSON-safe (NaN/inf as strings; :func:`from_payload` reads them back)."""
    out = []
    for rec in rows.to_dict(orient="records"):
        d = {}
        for k, v in rec.items():
            if k == "value":
                d[k] = _json_value(_float(v))
            elif k == "cell":
                d[k] = None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v)
            else:
                d[k] = _json_value(v)
        out.append(d)
    json.dumps(out, allow_nan=False)  # proves it is strict JSON
    return {"rows": out}


def from_payload(payload: Mapping) -> pd.DataFrame:
    """The rows of a payload of :func:`to_payload` (a dict or its JSON text) as a frame."""
    if isinstance(payload, (str, bytes)):
        payload = json.loads(payload)
    rows = []
    for r in payload.get("rows", []):
        r = dict(r)
        v = r.get("value")
        r["value"] = _SPECIAL[v] if isinstance(v, str) and v in _SPECIAL else _float(v)
        rows.append(r)
    out = frame(rows)
    if "cell" in out.columns:
        out["cell"] = [None if c is None or (isinstance(c, float) and math.isnan(c)) else int(c)
                       for c in out["cell"]]
    return out


def read_notebook(notebook) -> pd.DataFrame:
    """Every ARD row an executed notebook emitted (outputs of MIME :data:`MIME`), in cell order.

    ``notebook``: a path to an ``.ipynb`` or an nbformat NotebookNode. A notebook with no ARD
    output gives an empty frame with :data:`COLUMNS`.
    """
    import nbformat

    nb = notebook if hasattr(notebook, "cells") else nbformat.read(str(notebook), as_version=4)
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data") or {}
            if MIME in data:
                payload = data[MIME]
                parts.append(from_payload(json.loads(payload) if isinstance(payload, str) else payload))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object) for c in COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    return out[[c for c in COLUMNS if c in out.columns]]


def combine(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One cutoff's ARD from the chapters' ARDs (in book order): a row key recorded by several
    chapters (the landing page and the Discussion both show the headline figures) keeps the first
    chapter's row, so every row key is unique within the cutoff."""
    parts = [f for f in frames if f is not None and len(f)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object) for c in COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out = out[[c for c in COLUMNS if c in out.columns]]
    keys = row_key(out)
    if "cutoff" in out.columns:
        keys = out["cutoff"].astype(str) + "#" + keys
    return validate(out.loc[~keys.duplicated()].reset_index(drop=True))


# ---------------------------------------------------------------------------------------- writing
def write(rows: pd.DataFrame, directory, stem: str = "ard") -> list[Path]:
    """Write ``rows`` as ``<stem>.csv``, ``<stem>.parquet`` and ``<stem>-dictionary.csv`` in
    ``directory`` (each atomically). CSV: NaN as an empty cell, inf as "inf"."""
    directory = Path(directory)
    rows = validate(frame(rows))
    csv = rows.to_csv(index=False, lineterminator="\n")
    table = rows.copy()
    if "cell" in table.columns:
        table["cell"] = pd.array([None if c is None or (isinstance(c, float) and math.isnan(c)) else int(c)
                                  for c in table["cell"]], dtype="Int64")
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    paths = [write_atomic(directory / f"{stem}.csv", csv),
             write_atomic(directory / f"{stem}.parquet", buf.getvalue()),
             write_atomic(directory / f"{stem}-dictionary.csv", DICTIONARY.to_csv(index=False, lineterminator="\n"))]
    return paths
