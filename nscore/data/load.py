"""Reading the four datasets of one data cutoff, typed and validated: the door every datum passes.

:func:`read_dataset` reads one file (CSV, Parquet or SAS transport) into a frame typed per
:mod:`nscore.data.schema`. :func:`load_cohort` reads a directory holding the four datasets, checks every
rule (file-level, column, row and cross-dataset) and either returns a frozen :class:`Cohort` or
raises one :class:`~nscore.errors.DataValidationError` listing *every* problem, so a data manager
fixes a delivery in one round rather than one error at a time.

Failures are reported as (file, row, column, rule, value): ``row`` is the 1-based data row of the
file (the header is not counted; empty for file-level problems), ``value`` the offending cell as it
reads in the file.

The steps below it have their own modules: reading a file's raw cells (:mod:`nscore.data.readers`),
typing them (:mod:`nscore.data.cells`), the single-file rules (:mod:`nscore.data.schema`) and the
rules across files (:mod:`nscore.data.crossrules`). This module runs them and assembles the cohort;
it stays one module (about 540 lines) because it is the one door: every datum reaches an analysis
through :func:`load_cohort`, and a reviewer of what is checked, in which order, reads one file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from nscore.data import crossrules, schema
from nscore.data.cells import _typed, extra_columns
from nscore.data.readers import FORMATS, _cap, _failure, _read_raw, _table
from nscore.errors import DataValidationError, NscoreError
from nscore.data.study import STUDY_FILE, Study, read_study

__all__ = [
    "Cohort",
    "DATASETS",
    "read_dataset",
    "load_cohort",
    "find_datasets",
    "sha256_file",
    "data_version",
]

DATASETS = schema.DATASETS
SOURCE_FILE = "source.json"
#: Largest delivery read, in bytes: its dataset files, study.yml and source.json together (a
#: directory), or everything an archive unpacks to (:mod:`nscore.data.archive`). 100,000 patients are
#: about 50 MiB of CSV; 1 GiB holds about 2,000,000. ``load_cohort(..., max_bytes=...)`` changes it.
MAX_DELIVERY_BYTES = 2**30


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
    #: ADDS (disposition of every enrolled patient, for the CONSORT flow): None when not delivered.
    adds: pd.DataFrame | None = None

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
# schema validation
# --------------------------------------------------------------------------------------------


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
    paths, found_failures = find_datasets(directory, optional=("adds",) if collects_ae else ("adae", "adds"))
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
