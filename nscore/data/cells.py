"""Typing raw cells per the data model: text, ISO dates, integers and decimals, strictly.

:func:`_typed` turns the raw cells of one dataset (:mod:`nscore.data.readers`) into the typed frame
the pandera models of :mod:`nscore.data.schema` describe, and reports each cell it cannot read
(``invalid_date``, ``invalid_integer``, ``invalid_number``, ``type``) with its row and value as
written. ASCII digits only: a full-width "２５" is not 25.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

from nscore.data import schema
from nscore.data.readers import MAX_DATE, MIN_DATE, _SAS_DAYS, _SAS_EPOCH, _cap, _failure

# ASCII digits only: \d would also take full-width or Arabic-Indic digits ("２５" as 25)
_ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_INTEGER = r"[+-]?[0-9]+"
_DECIMAL = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"


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
