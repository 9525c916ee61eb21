"""Reading the four datasets of one data cutoff, typed and validated: the door every datum passes.

:func:`read_dataset` reads one file (CSV, Parquet or SAS transport) into a frame typed per
:mod:`nscore.data.schema`. :func:`load_cohort` reads a directory holding the four datasets, checks every
rule (file-level, column, row and cross-dataset) and either returns a frozen :class:`Cohort` or
raises one :class:`~nscore.errors.DataValidationError` listing *every* problem, so a data manager
fixes a delivery in one round rather than one error at a time.

Failures are reported as (file, row, column, rule, value): ``row`` is the 1-based data row of the
file (the header is not counted; empty for file-level problems), ``value`` the offending cell as it
reads in the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from nscore.data import crossrules, schema
from nscore.errors import DataValidationError, NscoreError
from nscore.data.study import STUDY_FILE, Study, read_study

__all__ = [
    "Cohort",
    "DATASETS",
    "FORMATS",
    "read_dataset",
    "load_cohort",
    "find_datasets",
    "sha256_file",
    "data_version",
]

DATASETS = schema.DATASETS
#: Accepted file formats, by extension. CSV is the shipped one (reviewable in diffs).
FORMATS = (".csv", ".parquet", ".xpt")
SOURCE_FILE = "source.json"
#: Largest delivery read, in bytes: its dataset files, study.yml and source.json together (a
#: directory), or everything an archive unpacks to (:mod:`nscore.data.archive`). 100,000 patients are
#: about 50 MiB of CSV; 1 GiB holds about 2,000,000. ``load_cohort(..., max_bytes=...)`` changes it.
MAX_DELIVERY_BYTES = 2**30
#: SAS dates count days from 1960-01-01.
_SAS_EPOCH = pd.Timestamp("1960-01-01")
#: Dates are typed as datetime64[ns], which holds 1677-09-22 to 2262-04-11; a date outside that
#: range (a year 9999 in a Parquet or SAS file) cannot be a clinical date and is ``invalid_date``.
MIN_DATE = pd.Timestamp("1677-09-22")
MAX_DATE = pd.Timestamp("2262-04-11")
_SAS_DAYS = ((MIN_DATE - _SAS_EPOCH).days, (MAX_DATE - _SAS_EPOCH).days)
# ASCII digits only: \d would also take full-width or Arabic-Indic digits ("２５" as 25)
_ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_INTEGER = r"[+-]?[0-9]+"
_DECIMAL = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_COLUMNS = DataValidationError.COLUMNS


@dataclass(frozen=True, eq=False)
class Cohort:
    """One validated data cutoff: the typed datasets, the study they belong to and their origin.

    ``version`` is the first 12 hex digits of a SHA-256 over the sorted (file name, file SHA-256)
    pairs of the dataset files and ``study.yml``, so it changes exactly when a data byte changes.
    ``adae`` is None when the study collected no adverse events (``study.adverse_events`` empty);
    an optional variable that was not delivered is absent from its frame (see :meth:`collected`).
    ``notes`` lists what was delivered but is not used (extra sponsor columns).
    """

    adsl: pd.DataFrame
    adrs: pd.DataFrame
    adtte: pd.DataFrame
    adae: pd.DataFrame | None
    cutoff: date
    source: Path
    version: str
    simulated: bool
    files: dict[str, str] = field(default_factory=dict)
    study: Study | None = None
    origin: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """The datasets that were collected, by name (adsl, adrs, adtte and, if collected, adae)."""
        return {name: getattr(self, name) for name in DATASETS if getattr(self, name) is not None}

    def collected(self, dataset: str, variable: str | None = None) -> bool:
        """Whether ``dataset`` (and ``variable`` in it) was collected in this delivery."""
        frame = getattr(self, dataset, None)
        return frame is not None and (variable is None or variable in frame.columns)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(frame)}" for name, frame in self.frames.items())
        return (
            f"Cohort(cutoff={self.cutoff.isoformat()}, version={self.version}, "
            f"simulated={self.simulated}, {sizes}, source={str(self.source)!r})"
        )


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _failure(file, row=None, column=None, rule="", value="") -> dict:
    return {"file": file, "row": row, "column": column, "rule": rule, "value": value}


def _table(records: list[dict] | list[pd.DataFrame]) -> pd.DataFrame:
    # one frame for all the dict records (not one per failure: a junk file has a million)
    dicts = [r for r in records if not isinstance(r, pd.DataFrame)]
    parts = [r for r in records if isinstance(r, pd.DataFrame)]
    if dicts:
        parts.append(pd.DataFrame.from_records(dicts, columns=_COLUMNS))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=_COLUMNS)
    out = pd.concat([p.astype(object) for p in parts], ignore_index=True)
    out["row"] = pd.to_numeric(out["row"], errors="coerce").astype("Int64")
    return out


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_version(files: dict[str, str]) -> str:
    """12-hex data version from {file name: sha256}: hash of the sorted (name, sha256) pairs."""
    digest = hashlib.sha256()
    for name, sha in sorted(files.items()):
        digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()[:12]


def _dataset_of(path: Path) -> str:
    name = path.name
    for ext in FORMATS:
        if name.endswith(ext) and name[: -len(ext)] in DATASETS:
            return name[: -len(ext)]
    raise NscoreError(
        f"{path}: not a dataset file; expected <dataset><ext> with dataset in {', '.join(DATASETS)} "
        f"and ext in {', '.join(FORMATS)}"
    )


# --------------------------------------------------------------------------------------------
# reading raw cells
# --------------------------------------------------------------------------------------------
def _read_csv(path: Path, label: str) -> tuple[pd.DataFrame | None, list[dict]]:
    data = path.read_bytes()
    if not data.strip():
        return None, [_failure(label, rule="empty_file")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n")  # 0 = header line, k = k-th data row
        bad = data[exc.start : exc.end]
        return None, [
            _failure(
                label,
                row=line or None,
                rule="encoding_not_utf8",
                value=f"byte 0x{bad[0]:02X} at offset {exc.start}" if bad else f"offset {exc.start}",
            )
        ]
    if text.startswith("\ufeff"):
        text = text[1:]
        data = data[len("\ufeff".encode()) :]
    frame = _read_plain_csv(data)
    if frame is not None:
        return frame, []
    try:
        records = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    except csv.Error as exc:
        return None, [_failure(label, rule="csv_malformed", value=str(exc))]
    if not records:
        return None, [_failure(label, rule="empty_file")]
    header, body = records[0], records[1:]
    failures = []
    seen = set()
    for column in header:
        if column in seen:
            failures.append(_failure(label, column=column, rule="duplicate_column", value=column))
        seen.add(column)
    if failures:
        return None, failures
    width = len(header)
    ragged = [i for i, record in enumerate(body, start=1) if len(record) != width]
    for i in ragged[:MAX_FAILURES_PER_RULE]:
        failures.append(
            _failure(label, row=i, rule="wrong_field_count", value=f"{len(body[i - 1])} fields, header has {width}")
        )
    if len(ragged) > MAX_FAILURES_PER_RULE:
        failures.append(_failure(label, rule="wrong_field_count", value=(
            f"... and {len(ragged) - MAX_FAILURES_PER_RULE} more rows failing wrong_field_count "
            f"(not listed; {len(ragged)} in all)")))
    if failures:
        return None, failures
    frame = pd.DataFrame(body, columns=header, dtype=object)
    return frame.replace("", np.nan).astype(object), []


def _read_plain_csv(data: bytes) -> pd.DataFrame | None:
    """The cells of a plain CSV via pandas' C parser, or None when the file is not plain.

    Plain: no quote, carriage return or NUL byte, no line longer than the ``csv`` module's field
    limit, a header of two or more distinct names, at least one data row and every non-blank line
    with the header's number of fields. Such a file splits on commas and newlines alone, so the C
    parser reads exactly the cells :mod:`csv` reads, ten times faster; any other file goes through
    the strict reader, which reports what is wrong with it (ragged rows, quoting, duplicate names).
    """
    if b'"' in data or b"\r" in data or b"\0" in data:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == ord("\n"))
    starts = np.concatenate(([0], ends + 1))
    stops = np.append(ends, len(buf))
    lengths = stops - starts
    if lengths.max() > csv.field_size_limit():
        return None
    commas = np.bincount(np.searchsorted(ends, np.flatnonzero(buf == ord(","))), minlength=len(starts))
    lines = np.flatnonzero(lengths > 0)
    if len(lines) < 2:
        return None
    first = lines[0]
    header = data[starts[first] : stops[first]].decode("utf-8").split(",")
    width = len(header)
    if width < 2 or len(set(header)) != width or (commas[lines] != width - 1).any():
        return None
    frame = pd.read_csv(
        io.BytesIO(data[stops[first] + 1 :]),
        header=None,
        names=list(range(width)),
        dtype=object,
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=True,
        engine="c",
        encoding="utf-8",
    )
    frame.columns = header
    return frame.astype(object)


def _unreadable(label: str, exc: BaseException) -> list[dict]:
    return [_failure(label, rule="unreadable_file", value=f"{type(exc).__name__}: {exc}"[:300])]


def _duplicate_columns(frame: pd.DataFrame, label: str) -> list[dict]:
    counts = pd.Series([str(c) for c in frame.columns]).value_counts(sort=False)
    return [_failure(label, column=c, rule="duplicate_column", value=c) for c, n in counts.items() if n > 1]


def _is_nested(arrow_type) -> bool:
    import pyarrow as pa

    t = pa.types
    if t.is_dictionary(arrow_type):
        return _is_nested(arrow_type.value_type)
    return (t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_fixed_size_list(arrow_type)
            or t.is_struct(arrow_type) or t.is_map(arrow_type) or t.is_union(arrow_type)
            or getattr(t, "is_list_view", lambda _: False)(arrow_type)
            or getattr(t, "is_large_list_view", lambda _: False)(arrow_type))


def _read_parquet(path: Path, label: str) -> tuple[pd.DataFrame | None, list[dict]]:
    """A Parquet file's cells. A column of lists, structs or maps (no cell of the data model is one)
    is reported once as ``unsupported_column_type`` and read as all missing; its cells are then
    unknown to every other rule (see :func:`_read_typed`)."""
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        return None, [_failure(label, rule="empty_file")]
    try:
        table = pq.read_table(path)
        failures = _duplicate_columns(pd.DataFrame(columns=table.column_names), label)
        if failures:
            return None, failures
        nested = [f for f in table.schema if _is_nested(f.type)]
        for f in nested:
            failures.append(_failure(label, column=f.name, rule="unsupported_column_type", value=str(f.type)[:100]))
        if nested:
            table = table.drop_columns([f.name for f in nested])
        frame = table.to_pandas(date_as_object=True)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        return None, _unreadable(label, exc)
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):  # dictionary-encoded: its values
            frame[column] = frame[column].astype(object)
    for f in nested:  # kept as a column (it was delivered), every cell unknown
        frame[f.name] = pd.Series(None, index=frame.index, dtype=object)
    return frame[[c for c in table.schema.names] + [f.name for f in nested]] if nested else frame, failures


#: SAS formats pyreadstat reads as datetimes (seconds since 1960) and as times of day.
_SAS_DATETIME_FORMATS = ("DATETIME", "E8601DT", "DATEAMPM", "MDYAMPM", "IS8601DT", "B8601DT", "B8601DN")
_SAS_TIME_FORMATS = ("TIME", "HHMM", "TOD", "TIMEAMPM", "IS8601TM", "E8601TM", "B8601TM")


def _read_xpt(path: Path, label: str) -> tuple[pd.DataFrame | None, list[dict]]:
    import pyreadstat

    if path.stat().st_size == 0:
        return None, [_failure(label, rule="empty_file")]
    try:
        frame, _meta = pyreadstat.read_xport(str(path))
    except (OverflowError, ValueError, OSError) as first:
        # a date beyond what Python's datetime holds (year 9999+) makes pyreadstat's own date
        # conversion raise: read the numbers and type them here, cell by cell (invalid_date)
        try:
            frame, meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
        except Exception:  # noqa: BLE001 - the first error says more
            return None, _unreadable(label, first)
        for column, fmt in (meta.original_variable_types or {}).items():
            name = "".join(ch for ch in str(fmt or "").upper() if ch.isalpha())
            if column not in frame.columns or not pd.api.types.is_numeric_dtype(frame[column].dtype):
                continue
            if name.startswith(_SAS_DATETIME_FORMATS):
                frame[column] = frame[column] / 86400.0  # seconds -> days (midnight: a whole day)
            elif name.startswith(_SAS_TIME_FORMATS):
                frame[column] = frame[column].map(lambda v: None if pd.isna(v) else f"time {v:g}").astype(object)
    except Exception as exc:  # pyreadstat.ReadstatError and friends
        return None, _unreadable(label, exc)
    failures = _duplicate_columns(frame, label)
    if failures:
        return None, failures
    # SAS has no missing character value: blank means missing.
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].replace("", np.nan)
    return frame.reset_index(drop=True), []


_READERS = {".csv": _read_csv, ".parquet": _read_parquet, ".xpt": _read_xpt}


def _read_raw(path: Path, label: str | None = None) -> tuple[pd.DataFrame | None, list[dict]]:
    label = label or path.name
    ext = next(e for e in FORMATS if path.name.endswith(e))
    return _READERS[ext](path, label)


# --------------------------------------------------------------------------------------------
# typing cells per schema
# --------------------------------------------------------------------------------------------
def _as_text(series: pd.Series) -> pd.Series:
    """Cell values as the strings a reader sees (for failure reports)."""
    return series.map(schema.cell_text)


def _na(v) -> bool:
    """A missing cell: None, NaN, NaT or NA (and never a list or array, whose isna is an array)."""
    return v is None or (pd.api.types.is_scalar(v) and not isinstance(v, str) and bool(pd.isna(v)))


def _all_text(raw: pd.Series) -> bool:
    """Every non-missing value is a str (the CSV case): the vectorised paths apply."""
    return raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty")


def _to_str(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    if _all_text(raw):
        return raw.astype(object), pd.Series(False, index=raw.index)

    def one(v):
        if _na(v):
            return np.nan
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    out = raw.map(one).astype(object)
    return out, pd.Series(False, index=raw.index)


def _to_date(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        values = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
        # a non-nanosecond unit (Parquet's us/ms) can hold years the ns type cannot: check first
        in_range = (values >= MIN_DATE) & (values <= MAX_DATE)
        out = values.where(in_range).astype("datetime64[ns]")
        bad = (values.notna() & ~in_range) | (out.notna() & (out != out.dt.normalize()))
        return out.where(~bad), bad
    if pd.api.types.is_bool_dtype(raw.dtype):
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]"), raw.notna()
    if pd.api.types.is_numeric_dtype(raw.dtype):  # SAS date: days since 1960-01-01
        days = pd.to_numeric(raw, errors="coerce").astype(float)
        ok = np.isfinite(days) & (days == np.floor(days)) & (days >= _SAS_DAYS[0]) & (days <= _SAS_DAYS[1])
        out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
        out[ok] = _SAS_EPOCH + pd.to_timedelta(days[ok], unit="D")
        return out, raw.notna() & ~ok
    if _all_text(raw):
        iso = raw.str.fullmatch(_ISO_DATE, na=False).astype(bool)
        out = pd.to_datetime(raw.where(iso), format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
        return out, raw.notna() & out.isna()

    def one(v):
        if _na(v):
            return pd.NaT
        if isinstance(v, str):
            if not re.fullmatch(_ISO_DATE, v):
                return None
            try:
                return pd.Timestamp(date.fromisoformat(v))
            except ValueError:
                return None
        if isinstance(v, (date, pd.Timestamp, np.datetime64)):
            try:
                ts = pd.Timestamp(v)
            except (ValueError, OverflowError):  # out of every range pandas has
                return None
            if ts is pd.NaT:
                return None
            ts = ts.tz_localize(None) if ts.tzinfo is not None else ts
            return ts if MIN_DATE <= ts <= MAX_DATE and ts == ts.normalize() else None
        return None

    parsed = raw.map(one)
    bad = parsed.isna() & raw.notna()
    out = pd.to_datetime(parsed.where(~bad), errors="coerce").astype("datetime64[ns]")
    return out, bad


def _to_int(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return pd.Series(pd.NA, index=raw.index, dtype="Int64"), raw.notna()
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        ok = np.isfinite(values) & (values == np.floor(values)) & (values.abs() < 2**53)
        out = pd.Series(pd.NA, index=raw.index, dtype="Int64")
        out[ok] = values[ok].astype("int64")
        return out, raw.notna() & ~ok
    if _all_text(raw):
        stripped = raw.str.strip()
        ok = stripped.str.fullmatch(_INTEGER, na=False).astype(bool) & (stripped.str.len() < 16).fillna(False).astype(bool)
        out = pd.to_numeric(stripped.where(ok), errors="coerce").astype("Int64")
        return out, raw.notna() & ~ok

    def one(v):
        if _na(v):
            return pd.NA
        if isinstance(v, str):
            return int(v) if re.fullmatch(_INTEGER, v.strip()) and len(v) < 16 else None
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return int(v)
        if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
            return int(v)
        return None

    parsed = raw.map(one)
    bad = parsed.isna() & raw.notna()
    return pd.array(parsed.where(~bad, pd.NA).tolist(), dtype="Int64"), bad


def _to_float(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return pd.Series(np.nan, index=raw.index), raw.notna()
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = pd.to_numeric(raw, errors="coerce").astype(float)
    elif _all_text(raw):
        text = raw.str.strip()
        text = text.where(text.str.fullmatch(_DECIMAL, na=False).astype(bool))  # ASCII digits only
        values = pd.to_numeric(text, errors="coerce").astype(float)
    else:

        def one(v):
            if _na(v):
                return np.nan
            if isinstance(v, str) and not re.fullmatch(_DECIMAL, v.strip()):
                return None
            try:
                return float(v.strip() if isinstance(v, str) else v)
            except (TypeError, ValueError):
                return None

        values = raw.map(one)
        values = pd.to_numeric(values.where(values.notna(), np.nan), errors="coerce").astype(float)
    bad = raw.notna() & ~np.isfinite(values.fillna(0.0)) | (raw.notna() & values.isna())
    return values.where(~bad), bad


def _by_distinct(coerce, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``coerce`` run once per distinct cell of a text column, its results spread back to every row.

    A column of 100,000 dates or small integers holds a few hundred distinct cells, and each
    coercer treats cells one by one, so the result is the one a run over every row would give.
    """
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    distinct = pd.Series(np.append(uniques.astype(object), np.nan), dtype=object)
    codes = np.where(codes < 0, len(uniques), codes)  # missing cells take the appended NaN's result
    values, bad = _COERCERS[coerce](distinct)
    values = pd.Series(values).take(codes).reset_index(drop=True)
    return values, pd.Series(np.asarray(bad, dtype=bool)[codes])


_COERCERS = {"str": _to_str, "date": _to_date, "int": _to_int, "float": _to_float}
_TYPE_RULES = {"date": "invalid_date", "int": "invalid_integer", "float": "invalid_number", "str": "type"}


def extra_columns(dataset: str, columns) -> list[str]:
    """Delivered columns the data model does not define: kept in the stored file, not used."""
    kinds = schema.column_kinds(dataset)
    return [str(c) for c in columns if c not in kinds]


def _typed(dataset: str, raw: pd.DataFrame, label: str) -> tuple[pd.DataFrame, list, dict[str, np.ndarray]]:
    """Type the columns of ``raw`` per schema; report unparseable cells and missing columns.

    Optional variables (``schema.OPTIONAL``) may be absent; columns the model does not define are
    left out of the typed frame (see :func:`extra_columns`).
    """
    kinds = schema.column_kinds(dataset)
    optional = schema.OPTIONAL[dataset]
    failures = []
    for column in kinds:
        if column not in raw.columns and column not in optional:
            failures.append(_failure(label, column=column, rule="missing_column", value=column))
    for group in schema.OPTIONAL_PAIRS.get(dataset, ()):
        present = [c for c in group if c in raw.columns]
        if present and len(present) < len(group):
            for column in group:
                if column not in raw.columns:
                    failures.append(_failure(label, column=column, rule="optional_columns_together",
                                             value=" + ".join(group)))
    typed = {}
    bad_cells: dict[str, np.ndarray] = {}
    for column, kind in kinds.items():
        if column not in raw.columns:
            continue
        cells = raw[column].reset_index(drop=True)
        if kind != "str" and _all_text(cells):
            values, bad = _by_distinct(kind, cells)
        else:
            values, bad = _COERCERS[kind](cells)
        values = pd.Series(values, index=raw.index)
        bad = pd.Series(bad, index=raw.index).astype(bool)
        if bad.any():
            mask = bad.to_numpy()
            bad_cells[column] = mask
            failures.append(_cap(label, _TYPE_RULES[kind], column, np.flatnonzero(mask), cells))
        typed[column] = values
    frame = pd.DataFrame(typed, index=raw.index)
    return frame.reset_index(drop=True), failures, bad_cells


# --------------------------------------------------------------------------------------------
# schema validation
# --------------------------------------------------------------------------------------------
#: Most failures listed per (file, column, rule). A junk file fails every cell of every row; past
#: this many, one more row says how many were not listed (the counts stay exact), so a 10 MB file of
#: junk is refused in seconds with a report of bounded size. Small deliveries never reach it.
MAX_FAILURES_PER_RULE = 1000


def _outputs(check, obj, index) -> np.ndarray:
    """Where a pandera check fails on ``obj`` (a Series or the frame), as a bool array over ``index``.

    Why not ``schema.validate(lazy=True)``: pandera turns every failing row of a frame-wide check
    into one case per cell (an unstack of the whole row), which took minutes on a junk file.
    """
    output = check(obj).check_output
    if isinstance(output, pd.DataFrame):
        output = output.all(axis=1)
    if not isinstance(output, pd.Series):
        return np.full(len(index), not bool(output), dtype=bool)
    output = output.reindex(index).astype("boolean").fillna(True).astype(bool)  # NA rows were not checked
    return ~output.to_numpy()


def _schema_masks(validator, typed: pd.DataFrame) -> list[tuple[str, str | None, np.ndarray, tuple]]:
    """(rule, column, failing rows, input columns) for every column and row rule of ``validator``."""
    out = []
    for name, column in validator.columns.items():
        if name not in typed.columns:
            continue
        series = typed[name]
        if not column.nullable:
            out.append(("not_null", name, series.isna().to_numpy(), (name,)))
        if column.unique:
            out.append(("unique", name, (series.duplicated(keep=False) & series.notna()).to_numpy(), (name,)))
        for check in column.checks:
            rule = schema.check_rule_name(check.error if check.error is not None else check.name)
            out.append((rule, name, _outputs(check, series, typed.index), (name,)))
    rules = schema.ROW_RULES[validator.name] if validator.name in schema.ROW_RULES else {}
    for check in validator.checks:
        column, inputs = rules.get(check.name, (None, ()))
        out.append((check.name, column, _outputs(check, typed, typed.index), tuple(inputs)))
    return out


def _cap(label: str, rule: str, column: str | None, positions: np.ndarray, raw_column) -> pd.DataFrame:
    """The failures at ``positions`` (0-based rows), at most MAX_FAILURES_PER_RULE plus a count row."""
    shown = positions[:MAX_FAILURES_PER_RULE]
    if raw_column is not None:
        values = [schema.cell_text(v) for v in raw_column.to_numpy()[shown]]
    else:
        values = [""] * len(shown)
    part = pd.DataFrame({"file": label, "row": shown + 1, "column": column, "rule": rule, "value": values},
                        columns=_COLUMNS)
    more = len(positions) - len(shown)
    if more > 0:
        part = pd.concat([part, pd.DataFrame([_failure(label, column=column, rule=rule, value=(
            f"... and {more} more rows failing {rule} (not listed; {len(positions)} in all)"))],
            columns=_COLUMNS)], ignore_index=True)
    return part


def _schema_failures(
    dataset: str, typed: pd.DataFrame, raw: pd.DataFrame, label: str, unparsed: dict[str, np.ndarray],
    study: Study | None = None,
) -> list[pd.DataFrame]:
    """Check the dataset's rules (pandera schema: columns and row rules); failures in report format.

    ``unparsed`` maps a column to the rows (bool mask) whose cell was already reported as
    unparseable: a rule reading one of them is not reported again (its verdict would rest on a
    value the file does not hold). Each rule's failures are capped at
    :data:`MAX_FAILURES_PER_RULE` rows plus one row counting the rest.
    """
    validator = schema.validation_schema(dataset, columns=typed.columns, study=study)
    validator.name = dataset
    try:
        masks = _schema_masks(validator, typed)
    except Exception:  # noqa: BLE001 - a check that cannot run directly: let pandera run it
        return _schema_failures_pandera(dataset, typed, raw, label, unparsed, study)
    parts = []
    n = len(typed)
    for rule, column, failing, inputs in masks:
        failing = np.asarray(failing, dtype=bool)
        if len(failing) != n or not failing.any():
            continue
        for name in inputs:
            if name in unparsed:
                failing = failing & ~unparsed[name]
        positions = np.flatnonzero(failing)
        if not len(positions):
            continue
        raw_column = raw[column].reset_index(drop=True) if column is not None and column in raw.columns else None
        parts.append(_cap(label, rule, column, positions, raw_column))
    return parts


def _schema_failures_pandera(
    dataset: str, typed: pd.DataFrame, raw: pd.DataFrame, label: str, unparsed: dict[str, np.ndarray],
    study: Study | None = None,
) -> list[pd.DataFrame]:
    """Run the dataset's pandera schema lazily; return its failures in the report format (fallback)."""
    validator = schema.validation_schema(dataset, columns=typed.columns, study=study)
    try:
        validator.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []

    def is_unparsed(row, column):
        return row is not None and column in unparsed and bool(unparsed[column][row - 1])

    rules = schema.ROW_RULES[dataset]
    rows = []
    seen = set()
    for case in cases.itertuples(index=False):
        check = getattr(case, "check")
        rule = schema.check_rule_name(check)
        index = getattr(case, "index")
        row = None if index is None or pd.isna(index) else int(index) + 1
        if rule in rules:
            column = rules[rule][0]
            if any(is_unparsed(row, c) for c in rules[rule][1]):
                continue
        else:
            column = getattr(case, "column")
            column = None if column is None or pd.isna(column) else str(column)
            if is_unparsed(row, column):
                continue  # already reported as unparseable
        if column is not None and column not in raw.columns:
            column_value = schema.cell_text(getattr(case, "failure_case"))
        elif row is not None and column is not None:
            column_value = schema.cell_text(raw[column].iat[row - 1])
        else:
            column_value = schema.cell_text(getattr(case, "failure_case"))
        key = (rule, row, column)
        if key in seen:
            continue
        seen.add(key)
        rows.append(_failure(label, row=row, column=column, rule=rule, value=column_value))
    return [_table(rows)]


def _finalise(dataset: str, typed: pd.DataFrame) -> pd.DataFrame:
    """The validated frame as the model declares it: complete integer columns become int64.

    The rules already passed on ``typed``; only the integer dtypes change here, so the result is
    checked for its dtypes alone rather than validated a second time.
    """
    out = typed.copy()
    declared = {name: str(spec.dtype) for name, spec in schema.MODELS[dataset].to_schema().columns.items()
                if name in out.columns}
    for column, dtype in declared.items():
        if dtype == "int64":
            out[column] = out[column].astype("int64")
    actual = {name: str(dtype) for name, dtype in out.dtypes.items()}
    actual = {k: ("str" if v == "object" else v) for k, v in actual.items()}
    if actual != declared:
        raise NscoreError(f"{dataset}: typed frame does not match its model: {actual} != {declared}")
    return out


def _read_typed(dataset: str, path: Path, label: str, study: Study | None = None):
    raw, failures = _read_raw(path, label)
    if raw is None:
        return None, None, failures
    typed, type_failures, bad_cells = _typed(dataset, raw, label)
    failures = failures + type_failures
    unparsed = dict(bad_cells)
    # a column the reader could not read at all (unsupported_column_type): every cell is unknown
    for f in failures:
        if isinstance(f, dict) and f["rule"] == "unsupported_column_type":
            unparsed[f["column"]] = np.ones(len(raw), dtype=bool)
    failures += _schema_failures(dataset, typed, raw, label, unparsed, study)
    return raw, typed, failures


def read_dataset(path, study: Study | None = None) -> pd.DataFrame:
    """Read one dataset file (``adsl.csv``, ``adtte.parquet``, ``adae.xpt``, ...) typed and checked.

    The dataset is told by the file name. Rules within the file are checked (types, controlled
    terms, row rules, and the study definition's if ``study`` is given); rules across datasets need
    :func:`load_cohort`.

    Raises
    ------
    DataValidationError
        Listing every problem of the file.
    NscoreError
        If the file does not exist or its name is not a dataset's.
    """
    path = Path(path)
    dataset = _dataset_of(path)
    if not path.is_file():
        raise NscoreError(f"{path}: no such file")
    _raw, typed, failures = _read_typed(dataset, path, path.name, study)
    table = _table(failures)
    if len(table):
        raise DataValidationError(_sorted(table), f"{path}: data validation failed: {len(table)} problem(s)")
    return _finalise(dataset, typed)


# --------------------------------------------------------------------------------------------
# the cohort
# --------------------------------------------------------------------------------------------
def find_datasets(directory, optional: tuple[str, ...] = ()) -> tuple[dict[str, Path], list[dict]]:
    """The file of each dataset in ``directory`` (one format each) and problems finding them.

    A dataset in ``optional`` may be absent (not collected).
    """
    directory = Path(directory)
    found, failures = {}, []
    for dataset in DATASETS:
        candidates = [directory / f"{dataset}{ext}" for ext in FORMATS if (directory / f"{dataset}{ext}").is_file()]
        if not candidates:
            if dataset in optional:
                continue
            failures.append(
                _failure(
                    f"{dataset}.*",
                    rule="missing_file",
                    value=" | ".join(f"{dataset}{ext}" for ext in FORMATS),
                )
            )
        elif len(candidates) > 1:
            failures.append(
                _failure(f"{dataset}.*", rule="multiple_formats", value=", ".join(p.name for p in candidates))
            )
        else:
            found[dataset] = candidates[0]
    return found, failures


def _read_study(directory: Path, default_study) -> tuple[Study | None, Path | None, list]:
    """The delivery's own ``study.yml``, else ``default_study`` (a path or a Study), and problems."""
    own = directory / STUDY_FILE
    if own.is_file():
        path = own
    elif isinstance(default_study, Study):
        return default_study, None, []
    elif default_study is not None and Path(default_study).is_file():
        path = Path(default_study)
    else:
        return None, None, [_failure(STUDY_FILE, rule="missing_file", value=STUDY_FILE)]
    try:
        return read_study(path), path, []
    except DataValidationError as exc:
        return None, path, [exc.failures]


#: source.json is a short record; anything larger or deeper is not one.
MAX_SOURCE_BYTES = 1 << 16
MAX_SOURCE_DEPTH = 8


def _depth(value, limit: int) -> int:
    """Nesting depth of parsed JSON, counting no further than ``limit + 1``."""
    if limit < 0 or not isinstance(value, (dict, list)):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(v, limit - 1) for v in children), default=0)


def _has_lone_surrogate(value) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _read_source(directory: Path) -> tuple[dict, list[dict]]:
    path = directory / SOURCE_FILE
    if not path.is_file():
        return {"simulated": False}, []
    if path.stat().st_size > MAX_SOURCE_BYTES:
        return {"simulated": False}, [_failure(SOURCE_FILE, rule="invalid_json",
                                               value=f"larger than {MAX_SOURCE_BYTES} bytes")]
    try:
        content = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        return {"simulated": False}, [_failure(SOURCE_FILE, rule="invalid_json", value=message)]
    if _depth(content, MAX_SOURCE_DEPTH) > MAX_SOURCE_DEPTH:
        return {"simulated": False}, [_failure(SOURCE_FILE, rule="invalid_json",
                                               value=f"nested deeper than {MAX_SOURCE_DEPTH} levels")]
    if _has_lone_surrogate(content):
        # "\ud800" parses, but cannot be written back as UTF-8 (the manifest would fail to write)
        return {"simulated": False}, [_failure(SOURCE_FILE, rule="invalid_json", value="lone surrogate escape")]
    if not isinstance(content, dict):
        return {"simulated": False}, [_failure(SOURCE_FILE, rule="invalid_json", value="not a JSON object")]
    if "simulated" in content and not isinstance(content["simulated"], bool):
        return content, [
            _failure(SOURCE_FILE, column="simulated", rule="simulated_is_boolean", value=str(content["simulated"]))
        ]
    return content, []


_FILE_ORDER = {**{d: i for i, d in enumerate(DATASETS)}, "source": len(DATASETS)}


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return table
    order = table["file"].map(lambda f: _FILE_ORDER.get(str(f).split(".", 1)[0], 99))
    key = pd.DataFrame(
        {
            "f": order,
            "file": table["file"].astype(str),
            "r": table["row"].fillna(0).astype(int),
            "c": table["column"].fillna("").astype(str),
            "rule": table["rule"].astype(str),
        }
    )
    idx = key.sort_values(["f", "file", "r", "c", "rule"], kind="stable").index
    out = table.loc[idx].drop_duplicates().reset_index(drop=True)
    return out


def _expected(table: pd.DataFrame, study: Study | None) -> dict:
    """What each failing (rule, file, column) allows, for the summary of the report."""
    out = {}
    for rule, file, column in table[["rule", "file", "column"]].drop_duplicates().itertuples(index=False):
        dataset = str(file).split(".", 1)[0]
        if dataset in DATASETS and isinstance(column, str):
            text = schema.expected(dataset, column, rule, study)
            if text:
                out[(rule, file, column)] = text
    return out


def _too_large(directory: Path, paths: dict[str, Path], max_bytes: int) -> list[dict]:
    """``delivery_too_large`` on each delivered file when together they exceed ``max_bytes``."""
    files = [*paths.values(), *(directory / n for n in (STUDY_FILE, SOURCE_FILE) if (directory / n).is_file())]
    sizes = {path.name: path.stat().st_size for path in files}
    total = sum(sizes.values())
    if total <= max_bytes:
        return []
    return [_failure(name, rule="delivery_too_large", value=f"{size} of {total} bytes delivered, limit {max_bytes}")
            for name, size in sorted(sizes.items())]


def load_cohort(directory, default_study=None, max_bytes: int = MAX_DELIVERY_BYTES) -> Cohort:
    """Read, type and validate the datasets in ``directory``; return them as a :class:`Cohort`.

    The study definition is the directory's own ``study.yml``, else ``default_study`` (a path or a
    :class:`~nscore.data.study.Study`; the project's ``data/study.yml`` for a new delivery). Every problem
    is collected first (the study file, missing or doubled files, encodings, columns, types,
    controlled terms, row rules, cross-dataset rules) and raised together.

    Raises
    ------
    DataValidationError
        With one row per problem (file, row, column, rule, value).
    NscoreError
        If ``directory`` is not a directory.

    Notes
    -----
    Cross-dataset rules run on whatever each dataset yielded: a missing dataset or column skips
    the rules that need it, and an unparseable cell counts as unknown (it is reported once, by its
    type rule), so one broken value does not cascade into a page of derived failures. ADAE is
    required exactly when the study collected adverse events.

    A delivery whose files together hold more than ``max_bytes`` (:data:`MAX_DELIVERY_BYTES`) is
    refused (rule ``delivery_too_large`` on each file) before any of them is read.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NscoreError(f"{directory}: no such data directory")
    paths, found_failures = find_datasets(directory, optional=DATASETS)
    too_large = _too_large(directory, paths, max_bytes)
    if too_large:
        raise DataValidationError(_table(too_large), f"{directory}: delivery refused: larger than {max_bytes} bytes")
    study, study_path, failures = _read_study(directory, default_study)
    collects_ae = study is None or study.collects_adverse_events
    paths, found_failures = find_datasets(directory, optional=() if collects_ae else ("adae",))
    failures += found_failures
    if study is not None and not collects_ae and "adae" in paths:
        failures.append(_failure(paths["adae"].name, rule="adae_not_collected_in_study",
                                 value="study.yml lists no adverse_events"))
        del paths["adae"]
    if study is not None:
        unknown = [c for c in study.adverse_events if c not in schema.AE_TERMS]
        for category in unknown:
            failures.append(_failure(STUDY_FILE, column="adverse_events", rule="study_unknown_ae_category",
                                     value=category))
    source, source_failures = _read_source(directory)
    failures += source_failures

    typed: dict[str, pd.DataFrame] = {}
    labels: dict[str, str] = {}
    notes: list[str] = []
    for dataset, path in paths.items():
        labels[dataset] = path.name
        raw, frame, problems = _read_typed(dataset, path, path.name, study)
        failures += problems
        if frame is not None:
            typed[dataset] = frame
        if raw is not None:
            extra = extra_columns(dataset, raw.columns)
            if extra:
                notes.append(f"{path.name}: not used: {', '.join(extra)}")

    adsl = typed.get("adsl")
    if adsl is not None and len(adsl) == 0:
        failures.append(_failure(labels["adsl"], rule="no_patients", value="0 rows"))
    failures.append(crossrules.run_cross_rules(typed, files={labels[d]: None for d in typed}))

    table = _table(failures)
    if len(table):
        raise DataValidationError(_sorted(table), f"{directory}: data validation failed: {len(table)} problem(s)",
                                  expected=_expected(table, study))

    frames = {dataset: _finalise(dataset, typed[dataset]) if dataset in typed else None for dataset in DATASETS}
    files = {path.name: sha256_file(path) for path in paths.values()}
    if study_path is not None:  # the delivery's own or the default: the version covers it either way
        files[STUDY_FILE] = sha256_file(study_path)
    cutoff = pd.Timestamp(frames["adsl"]["DCUTDT"].iloc[0]).date()
    return Cohort(
        **frames,
        cutoff=cutoff,
        source=directory.resolve(),
        version=data_version(files),
        simulated=source.get("simulated") is True,
        files=files,
        study=study,
        origin=dict(source),
        notes=tuple(notes),
    )
