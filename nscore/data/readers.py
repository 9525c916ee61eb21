"""Reading one dataset file into raw cells: CSV, Parquet or SAS transport (XPT), strictly.

Each reader returns the file's cells as a frame (text for CSV; the file's own types for Parquet and
XPT, dates as the day they stand for) and the file-level problems it met (encoding, ragged rows,
duplicate columns, nested types, unreadable file) as failure records, never an exception: the
loader (:mod:`nscore.data.load`) reports every problem of a delivery at once. Typing the cells per
the data model is :mod:`nscore.data.cells`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from nscore.data import schema
from nscore.errors import DataValidationError

#: Accepted file formats, by extension. CSV is the shipped one (reviewable in diffs).
FORMATS = (".csv", ".parquet", ".xpt")
#: Most failures listed per (file, column, rule). A junk file fails every cell of every row; past
#: this many, one more row says how many were not listed (the counts stay exact), so a 10 MB file of
#: junk is refused in seconds with a report of bounded size. Small deliveries never reach it.
MAX_FAILURES_PER_RULE = 1000
_COLUMNS = DataValidationError.COLUMNS
#: SAS dates count days from 1960-01-01.
_SAS_EPOCH = pd.Timestamp("1960-01-01")
#: Dates are typed as datetime64[ns], which holds 1677-09-22 to 2262-04-11; a date outside that
#: range (a year 9999 in a Parquet or SAS file) cannot be a clinical date and is ``invalid_date``.
MIN_DATE = pd.Timestamp("1677-09-22")
MAX_DATE = pd.Timestamp("2262-04-11")
_SAS_DAYS = ((MIN_DATE - _SAS_EPOCH).days, (MAX_DATE - _SAS_EPOCH).days)


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
