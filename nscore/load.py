"""Reading the four datasets of one data cutoff, typed and validated: the door every datum passes.

:func:`read_dataset` reads one file (CSV, Parquet or SAS transport) into a frame typed per
:mod:`nscore.schema`. :func:`load_cohort` reads a directory holding the four datasets, checks every
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

from nscore import schema
from nscore.errors import DataValidationError, NscoreError
from nscore.study import STUDY_FILE, Study, read_study

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
#: SAS dates count days from 1960-01-01.
_SAS_EPOCH = pd.Timestamp("1960-01-01")
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
    parts = [r if isinstance(r, pd.DataFrame) else pd.DataFrame([r], columns=_COLUMNS) for r in records]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=_COLUMNS)
    out = pd.concat([p.astype(object) for p in parts], ignore_index=True)
    out["row"] = pd.array([None if pd.isna(r) else int(r) for r in out["row"]], dtype="Int64")
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
    for i, record in enumerate(body, start=1):
        if len(record) != width:
            failures.append(
                _failure(label, row=i, rule="wrong_field_count", value=f"{len(record)} fields, header has {width}")
            )
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


def _read_parquet(path: Path, label: str) -> tuple[pd.DataFrame | None, list[dict]]:
    if path.stat().st_size == 0:
        return None, [_failure(label, rule="empty_file")]
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        return None, [_failure(label, rule="unreadable_file", value=f"{type(exc).__name__}: {exc}"[:300])]
    return frame.reset_index(drop=True), []


def _read_xpt(path: Path, label: str) -> tuple[pd.DataFrame | None, list[dict]]:
    import pyreadstat

    if path.stat().st_size == 0:
        return None, [_failure(label, rule="empty_file")]
    try:
        frame, _meta = pyreadstat.read_xport(str(path))
    except Exception as exc:  # pyreadstat.ReadstatError and friends
        return None, [_failure(label, rule="unreadable_file", value=f"{type(exc).__name__}: {exc}"[:300])]
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
    return series.map(schema._fmt)


def _all_text(raw: pd.Series) -> bool:
    """Every non-missing value is a str (the CSV case): the vectorised paths apply."""
    return raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty")


def _to_str(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    if _all_text(raw):
        return raw.astype(object), pd.Series(False, index=raw.index)

    def one(v):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return np.nan
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    out = raw.map(one).astype(object)
    return out, pd.Series(False, index=raw.index)


def _to_date(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        values = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
        out = values.astype("datetime64[ns]")
        bad = out.notna() & (out != out.dt.normalize())
        return out.where(~bad), bad
    if pd.api.types.is_numeric_dtype(raw.dtype):  # SAS date: days since 1960-01-01
        days = pd.to_numeric(raw, errors="coerce").astype(float)
        ok = np.isfinite(days) & (days == np.floor(days)) & (days.abs() < 3e6)
        out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
        out[ok] = _SAS_EPOCH + pd.to_timedelta(days[ok], unit="D")
        return out, raw.notna() & ~ok
    if _all_text(raw):
        iso = raw.str.fullmatch(_ISO_DATE, na=False).astype(bool)
        out = pd.to_datetime(raw.where(iso), format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
        return out, raw.notna() & out.isna()

    def one(v):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return pd.NaT
        if isinstance(v, str):
            if not re.fullmatch(_ISO_DATE, v):
                return None
            try:
                return pd.Timestamp(date.fromisoformat(v))
            except ValueError:
                return None
        if isinstance(v, (date, pd.Timestamp, np.datetime64)):
            ts = pd.Timestamp(v)
            return ts if ts == ts.normalize() else None
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
        if v is None or (not isinstance(v, str) and pd.isna(v)):
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
            if v is None or (not isinstance(v, str) and pd.isna(v)):
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


def _typed(dataset: str, raw: pd.DataFrame, label: str) -> tuple[pd.DataFrame, list[dict]]:
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
            text = _as_text(raw[column][bad])
            failures.append(
                pd.DataFrame(
                    {
                        "file": label,
                        "row": [int(i) + 1 for i in np.flatnonzero(bad.to_numpy())],
                        "column": column,
                        "rule": _TYPE_RULES[kind],
                        "value": text.tolist(),
                    },
                    columns=_COLUMNS,
                )
            )
        typed[column] = values
    frame = pd.DataFrame(typed, index=raw.index)
    return frame.reset_index(drop=True), failures


# --------------------------------------------------------------------------------------------
# schema validation
# --------------------------------------------------------------------------------------------
def _schema_failures(
    dataset: str, typed: pd.DataFrame, raw: pd.DataFrame, label: str, unparsed: set[tuple[int, str]],
    study: Study | None = None,
) -> list[pd.DataFrame]:
    """Run the dataset's pandera schema lazily; return its failures in the report format.

    ``unparsed`` holds the (row, column) cells already reported as unparseable: a row rule reading
    one of them is not reported again (its verdict would rest on a value the file does not hold).
    """
    validator = schema.validation_schema(dataset, columns=typed.columns, study=study)
    try:
        validator.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
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
            if row is not None and any((row, c) in unparsed for c in rules[rule][1]):
                continue
        else:
            column = getattr(case, "column")
            column = None if column is None or pd.isna(column) else str(column)
            if (row, column) in unparsed:
                continue  # already reported as unparseable
        if column is not None and column not in raw.columns:
            column_value = schema._fmt(getattr(case, "failure_case"))
        elif row is not None and column is not None:
            column_value = schema._fmt(raw[column].iat[row - 1])
        else:
            column_value = schema._fmt(getattr(case, "failure_case"))
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
    typed, type_failures = _typed(dataset, raw, label)
    failures = failures + type_failures
    unparsed = {
        (int(r), c)
        for part in type_failures
        if isinstance(part, pd.DataFrame)
        for r, c in zip(part["row"], part["column"])
    }
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


def load_cohort(directory, default_study=None) -> Cohort:
    """Read, type and validate the datasets in ``directory``; return them as a :class:`Cohort`.

    The study definition is the directory's own ``study.yml``, else ``default_study`` (a path or a
    :class:`~nscore.study.Study`; the project's ``data/study.yml`` for a new delivery). Every problem
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
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NscoreError(f"{directory}: no such data directory")
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
    failures.append(schema.run_cross_rules(typed, files={labels[d]: None for d in typed}))

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
