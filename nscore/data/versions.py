"""The data store: one directory per data cutoff, each with a manifest, never half-written.

Layout::

    data/cutoffs/<YYYY-MM-DD>/   adsl.csv adrs.csv adtte.csv adae.csv (or .parquet / .xpt)
                                 source.json   (optional: {"simulated": true, "generator": ..., "seed": ...})
                                 manifest.json (cutoff, version, files {name: {sha256, rows}}, source)

:func:`load` is the chapters' single entry point: it finds a cutoff, checks that the files still
match their manifest and returns the validated :class:`~nscore.data.load.Cohort`. :func:`store` takes a
new delivery (a directory or a .zip/.tar.gz archive), validates it completely before writing
anything, and moves it into place with one rename, so a reader sees either the old store or the
new one, never a mixture.

One cohesive thing, about 570 lines: the store's layout and its manifests, with the one way in
(:func:`store`) and the one way out (:func:`load`), which must agree on both; unpacking archives
is :mod:`nscore.data.archive`, the comparison with the previous delivery :mod:`nscore.data.intake`
and the build's cache of validations :mod:`nscore.data.cache`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from nscore.data import cache, intake, reads
from nscore.files import write_atomic
from nscore.errors import DataValidationError, IntakeWarningError, NscoreError, StaleOutputError
from nscore.data.load import DATASETS, SOURCE_FILE, Cohort, load_cohort, sha256_file
from nscore.data.readers import FORMATS
from nscore.data.study import STUDY_FILE, default_study_path

__all__ = [
    "MANIFEST",
    "project_root",
    "resolve_data_dir",
    "list_cutoffs",
    "cutoff_dir",
    "is_stored",
    "load",
    "manifest",
    "read_manifest",
    "write_manifest",
    "check_manifest",
    "store",
]

MANIFEST = "manifest.json"
CUTOFFS = "cutoffs"
_PROJECT_MARKER = "_toc.yml"


# --------------------------------------------------------------------------------------------
# where things are
# --------------------------------------------------------------------------------------------
def project_root(start=None) -> Path:
    """The project directory: the nearest directory holding ``_toc.yml``, walking up from ``start``.

    Raises
    ------
    NscoreError
        If no directory from ``start`` (default: the working directory) up to ``/`` holds one.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    if here.is_file():
        here = here.parent
    for candidate in (here, *here.parents):
        if (candidate / _PROJECT_MARKER).is_file():
            return candidate
    raise NscoreError(f"no {_PROJECT_MARKER} in {here} or any parent: not inside the project")


def resolve_data_dir(data_dir="data") -> Path:
    """The data store root for ``data_dir``.

    An absolute path is used as is. A relative path is taken against the working directory if it
    exists there, else against the project root, so chapters executed from ``chapters/`` and
    commands run from the project root find the same ``data/``.
    """
    path = Path(data_dir)
    if path.is_absolute():
        return path
    if path.exists():
        return path.resolve()
    return project_root() / path


def _cutoffs_root(data_dir) -> Path:
    return resolve_data_dir(data_dir) / CUTOFFS


def _parse_cutoff_name(name: str) -> date | None:
    try:
        parsed = date.fromisoformat(name)
    except ValueError:
        return None
    return parsed if parsed.isoformat() == name else None


def list_cutoffs(data_dir="data", until=None) -> list[date]:
    """Stored cutoffs, oldest first (directories named YYYY-MM-DD; work-in-progress ones ignored).

    ``until`` (a date or "YYYY-MM-DD") keeps only cutoffs on or before it: a page built for one
    cutoff shows the history up to that cutoff, never data that arrived after it. Under a build the
    list is recorded as read (:mod:`nscore.data.reads`), so the chapter re-runs when it changes.
    """
    found = _stored_cutoffs(data_dir)
    if until is not None:
        found = [d for d in found if d <= _as_cutoff(until)]
    # a chapter that lists the cutoffs depends on the list: key it (re-run when one comes or goes)
    reads.record(reads.listing(None if until is None else _as_cutoff(until).isoformat()),
                 reads.listing_value(d.isoformat() for d in found))
    return found


def _stored_cutoffs(data_dir) -> list[date]:
    """Stored cutoffs, oldest first, without recording a read (the store's own lookups)."""
    root = _cutoffs_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(d for d in (_parse_cutoff_name(p.name) for p in root.iterdir() if p.is_dir()) if d is not None)


def _as_cutoff(cutoff) -> date:
    if isinstance(cutoff, date):
        return cutoff
    parsed = _parse_cutoff_name(str(cutoff))
    if parsed is None:
        raise NscoreError(f"cutoff must be 'latest' or a date YYYY-MM-DD, not {cutoff!r}")
    return parsed


def cutoff_dir(data_dir="data", cutoff="latest") -> Path:
    """Directory of one stored cutoff (``"latest"``, ``"YYYY-MM-DD"`` or a ``date``).

    Raises
    ------
    NscoreError
        If the store holds no cutoff, or not the one asked for (the message lists those it has).
    """
    root = _cutoffs_root(data_dir)
    stored = _stored_cutoffs(data_dir)
    if not stored:
        raise NscoreError(f"no data cutoffs stored in {root}")
    wanted = stored[-1] if str(cutoff) == "latest" else _as_cutoff(cutoff)
    if wanted not in stored:
        reads.record(wanted.isoformat(), reads.ABSENT)  # a chapter may catch this: key it anyway
        have = ", ".join(d.isoformat() for d in stored)
        raise NscoreError(f"cutoff {wanted.isoformat()} is not stored in {root} (stored: {have})")
    return root / wanted.isoformat()


def is_stored(data_dir="data", cutoff="latest") -> bool:
    """Whether ``cutoff`` is stored; under a build, the answer is recorded as a read.

    Why: a chapter that shows something only when a cutoff is stored must be re-executed when that
    cutoff arrives or goes; recording its version (or its absence) puts it in the rebuild key.
    """
    wanted = _as_cutoff(cutoff) if str(cutoff) != "latest" else None
    stored = _stored_cutoffs(data_dir)
    if wanted is None:
        return bool(stored)
    if wanted not in stored:
        reads.record(wanted.isoformat(), reads.ABSENT)
        return False
    read_manifest(cutoff_dir(data_dir, wanted))  # records the cutoff at its stored version
    return True


# --------------------------------------------------------------------------------------------
# manifests
# --------------------------------------------------------------------------------------------
def _manifest_of(cohort: Cohort, directory: Path) -> dict:
    source_path = directory / SOURCE_FILE
    source = json.loads(source_path.read_text(encoding="utf-8")) if source_path.is_file() else {"simulated": False}
    rows = {}
    for dataset in DATASETS:
        frame = getattr(cohort, dataset)
        for name in cohort.files:
            if name.split(".", 1)[0] == dataset and frame is not None:
                rows[name] = len(frame)
    if STUDY_FILE in cohort.files and cohort.study is not None:
        rows[STUDY_FILE] = len(cohort.study.diagnoses)  # "rows" of a study file: its diagnoses
    content = {
        "cutoff": cohort.cutoff.isoformat(),
        "version": cohort.version,
        "files": {name: {"sha256": sha, "rows": rows[name]} for name, sha in sorted(cohort.files.items())},
        "source": source,
    }
    if (directory / intake.INTAKE_FILE).is_file():  # accepted intake warnings: listed, not in the version
        content["intake"] = sha256_file(directory / intake.INTAKE_FILE)
    return content


def _dumps(content: dict) -> str:
    return json.dumps(content, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def manifest(directory) -> dict:
    """The manifest ``directory``'s files call for (computed from the files, after validation).

    Returns ``{"cutoff", "version", "files": {name: {"sha256", "rows"}}, "source"}``; ``source`` is
    the content of source.json, or ``{"simulated": false}`` without one.

    Raises
    ------
    DataValidationError
        If the data break a rule: a manifest is never made for invalid data.
    """
    directory = Path(directory)
    return _manifest_of(load_cohort(directory), directory)


def read_manifest(directory) -> dict:
    """The manifest stored in ``directory``/manifest.json.

    Raises
    ------
    StaleOutputError
        If it is missing or not valid JSON.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise StaleOutputError([f"{path}: missing (store the data with nscore.data.versions.store or write_manifest)"])
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StaleOutputError([f"{path}: not valid JSON ({exc})"]) from exc
    if _parse_cutoff_name(path.parent.name) is not None and isinstance(content, dict):
        reads.record(path.parent.name, content.get("version", "unknown"))  # a page showing it depends on it
    return content


def write_manifest(directory) -> Path:
    """Validate ``directory`` and write its manifest.json (deterministic bytes); return its path."""
    directory = Path(directory)
    path = directory / MANIFEST
    write_atomic(path, _dumps(manifest(directory)))
    return path


def _hash_problems(directory: Path, stored: dict) -> list[str]:
    """Files that differ from, are missing from, or are absent in the stored manifest."""
    problems = []
    listed = stored.get("files") if isinstance(stored.get("files"), dict) else {}
    present = {p.name for p in directory.iterdir() if p.is_file() and p.name.endswith(FORMATS)}
    present = {n for n in present if n.split(".", 1)[0] in DATASETS}
    if (directory / STUDY_FILE).is_file():
        present.add(STUDY_FILE)
    for name in sorted(set(listed) | present):
        path = directory / name
        if name not in present:
            problems.append(f"{path}: listed in {MANIFEST} but missing")
        elif name not in listed:
            problems.append(f"{path}: not listed in {MANIFEST}")
        else:
            actual = sha256_file(path)
            expected = listed[name].get("sha256") if isinstance(listed[name], dict) else None
            if actual != expected:
                problems.append(f"{path}: sha256 {actual[:12]}... does not match {MANIFEST} ({str(expected)[:12]}...)")
    return problems


def check_manifest(directory, cohort: Cohort | None = None) -> Cohort:
    """Check that ``directory``'s files match its manifest.json; return the validated cohort.

    File hashes are compared first, so edited data is reported as stale (naming the file) before
    it is validated.

    Raises
    ------
    StaleOutputError
        Naming each file (or manifest field) that does not match.
    DataValidationError
        If the files match the manifest but break a rule.
    """
    directory = Path(directory)
    stored = read_manifest(directory)
    problems = _hash_problems(directory, stored)
    if problems:
        raise StaleOutputError(problems)
    cohort = cohort if cohort is not None else load_cohort(directory)
    expected = _manifest_of(cohort, directory)
    path = directory / MANIFEST
    for key in ("cutoff", "version", "source", "intake"):
        if stored.get(key) != expected.get(key):
            problems.append(f"{path}: {key} is {stored.get(key)!r}, the files give {expected.get(key)!r}")
    for name, entry in expected["files"].items():
        if stored["files"][name].get("rows") != entry["rows"]:
            problems.append(f"{directory / name}: {entry['rows']} rows, {MANIFEST} says {stored['files'][name].get('rows')}")
    if _parse_cutoff_name(directory.name) not in (None, cohort.cutoff):
        problems.append(f"{directory}: directory is named for cutoff {directory.name} but DCUTDT is {cohort.cutoff}")
    if problems:
        raise StaleOutputError(problems)
    return cohort


def load(data_dir="data", cutoff="latest", *, cache_dir=None) -> Cohort:
    """The validated cohort of one stored cutoff: the chapters' one entry point to the data.

    Parameters
    ----------
    data_dir : str or Path
        Data store root (holds ``cutoffs/``); relative paths resolve as in :func:`resolve_data_dir`.
    cutoff : str or date
        ``"latest"`` or ``"YYYY-MM-DD"``.
    cache_dir : str or Path, optional
        The build's cache directory (default: ``$NSCORE_CACHE_DIR``, which ``nscore build`` sets for
        its chapter kernels). Only with one is a validation reused or kept
        (:mod:`nscore.data.cache`); without one this reads and validates and writes nothing.

    Raises
    ------
    StaleOutputError
        If a file no longer matches the manifest (names the file).
    DataValidationError, NscoreError
        If the data break a rule, or the cutoff is not stored.
    """
    directory = cutoff_dir(data_dir, cutoff)
    entry = _validated_cache(directory, cache_dir)
    cohort = cache.get(entry) if entry is not None else None
    if cohort is not None:
        cohort = dataclasses.replace(cohort, source=directory)
    else:
        cohort = check_manifest(directory)
        if entry is not None:
            cache.put(entry, cohort)
    reads.record(cohort.cutoff.isoformat(), cohort.version)  # enters the chapter's rebuild key
    return cohort


def _validated_cache(directory: Path, cache_dir=None) -> Path | None:
    """Where the validated cohort of ``directory`` is kept in the build's cache, or None: no cache
    directory in force, or files that do not match their manifest (:func:`check_manifest` reports
    them; an edited file is never served from the cache)."""
    root = cache.directory(cache_dir)
    manifest_path = directory / MANIFEST
    if root is None or not manifest_path.is_file() or _hash_problems(directory, read_manifest(directory)):
        return None
    return cache.entry(root, directory)


# --------------------------------------------------------------------------------------------
# storing a delivery
# --------------------------------------------------------------------------------------------
def _extract(archive: Path, into: Path, limits=None) -> Path:
    """Unpack ``archive`` into ``into`` strictly and within ``limits`` (:mod:`nscore.data.archive`: every
    member checked first; an unsafe, duplicate, encrypted, unreadable, oversized or corrupt archive
    raises a DataValidationError naming its rule); return the folder holding the datasets."""
    from nscore.data import archive as _archive

    return _delivery_dir(_archive.unpack(archive, into, limits))


def _delivery_dir(root: Path) -> Path:
    """The directory inside an unpacked archive that holds the datasets (root or its one folder)."""
    if any((root / f"{d}{ext}").exists() for d in DATASETS for ext in FORMATS):
        return root
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))]
    return _delivery_dir(folders[0]) if len(folders) == 1 else root


def _stored_files(directory: Path) -> dict[str, str]:
    names = [p.name for p in directory.iterdir() if p.is_file() and p.name.endswith(FORMATS)]
    names = [n for n in names if n.split(".", 1)[0] in DATASETS]
    names += [STUDY_FILE] if (directory / STUDY_FILE).is_file() else []
    return {n: sha256_file(directory / n) for n in names}


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange)
    return result == 0


def _copy_exact(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    with open(dst, "rb+") as handle:
        os.fsync(handle.fileno())


def store(src, data_dir="data", replace: bool = False, *, check_intake: bool = False,
          accept_warnings: bool = False, cache_dir=None) -> Path:
    """Validate a delivery and store it as data/cutoffs/<DCUTDT>/ with a manifest; return that path.

    ``src`` is a directory or a .zip/.tar.gz archive holding adsl, adrs, adtte and adae (each as
    .csv, .parquet or .xpt) and optionally source.json. Files are stored byte for byte as delivered.

    Parameters
    ----------
    replace : bool
        Allow replacing a stored cutoff that holds different data (the old version is discarded).
    check_intake : bool
        Compare the delivery with the newest stored cutoff before it (:func:`nscore.data.intake.warnings`,
        what ``nscore update`` does) and refuse it when anything looks wrong.
    accept_warnings : bool
        Store it despite those warnings, recording them in ``intake.json`` beside the data (written
        in the same atomic store and listed in the manifest).
    cache_dir : str or Path, optional
        The build's cache directory (default: ``$NSCORE_CACHE_DIR``): with one, the delivery's
        validation is kept there for the build that follows (``nscore update``); without, nothing
        is written outside the store.

    Raises
    ------
    DataValidationError
        If the delivery breaks any rule, or its cutoff lies more than ``FUTURE_TOLERANCE`` after
        today (rule ``cutoff_not_in_future``); nothing is written anywhere.
    IntakeWarningError
        With ``check_intake``, if the delivery looks like a mistake or another study and
        ``accept_warnings`` is False; nothing is written.
    NscoreError
        If the cutoff is already stored with different data and ``replace`` is False.

    Notes
    -----
    The new version is assembled in ``cutoffs/.incoming-<random>/`` and moved into place with one
    rename (a replacement is swapped in with an atomic exchange where the OS has one), so readers
    never see a partial directory; an interrupted store leaves only a hidden ``.incoming-*``
    directory, which :func:`list_cutoffs` ignores.
    """
    src = Path(src)
    if not src.exists():
        raise NscoreError(f"{src}: no such file or directory")
    with tempfile.TemporaryDirectory(prefix="nscore-delivery-") as unpacked:
        delivery = src if src.is_dir() else _extract(src, Path(unpacked))
        # a delivery without its own study.yml is of the project's default study
        cohort = load_cohort(delivery, default_study=default_study_path(resolve_data_dir(data_dir)))
        refuse_future_cutoff(cohort)
        record = _intake_decision(cohort, delivery, data_dir, accept_warnings) if check_intake else None
        target = _store_validated(cohort, delivery, resolve_data_dir(data_dir), replace, intake_record=record)
    # the stored files are the delivery's bytes, so this validation is the stored cutoff's: keep it
    # for the build that follows a store (``nscore update``) instead of validating the data twice
    entry = _validated_cache(target, cache_dir)
    if entry is not None and not entry.is_file():
        cache.put(entry, dataclasses.replace(cohort, source=target))
    return target


#: How far past today a cutoff may lie: one day of clock skew between the sender's site and ours.
FUTURE_TOLERANCE = timedelta(days=1)


def _today() -> date:
    """Today's date (a function, so tests can move the clock)."""
    return date.today()


def refuse_future_cutoff(cohort: Cohort) -> None:
    """Raise a DataValidationError (rule ``cutoff_not_in_future``) if DCUTDT is after tomorrow.

    Why: data cannot be cut off in the future; such a date is a typo or a wrong delivery, and once
    stored it would become the "latest" version every page is built for.
    """
    if cohort.cutoff <= _today() + FUTURE_TOLERANCE:
        return
    adsl = next((n for n in sorted(cohort.files) if n.split(".", 1)[0] == "adsl"), "adsl.csv")
    failures = pd.DataFrame([{"file": adsl, "row": 1, "column": "DCUTDT", "rule": "cutoff_not_in_future",
                              "value": cohort.cutoff.isoformat()}], columns=DataValidationError.COLUMNS)
    raise DataValidationError(
        failures, f"data validation failed: the data cutoff {cohort.cutoff.isoformat()} is after today "
                  f"({_today().isoformat()}) + {FUTURE_TOLERANCE.days} day; nothing stored")


def previous_cutoff(data_dir, cutoff) -> date | None:
    """The newest stored cutoff before ``cutoff`` (the one a delivery is compared with), or None."""
    earlier = [c for c in _stored_cutoffs(data_dir) if c < _as_cutoff(cutoff)]
    return earlier[-1] if earlier else None


def _already_stored(cohort: Cohort, delivery: Path, target: Path) -> bool:
    return target.is_dir() and _stored_files(target) == cohort.files and _source_bytes(target) == _source_bytes(delivery)


def _intake_decision(cohort: Cohort, delivery: Path, data_dir, accept: bool) -> str | None:
    """The intake.json to store with ``cohort`` (None: nothing to record); raise if refused.

    Why here, before anything is written: a refused delivery must leave the store byte-identical.
    Re-storing the same bytes is a no-op, so it is not checked again.
    """
    if _already_stored(cohort, delivery, _cutoffs_root(data_dir) / cohort.cutoff.isoformat()):
        return None
    prev = previous_cutoff(data_dir, cohort.cutoff)
    previous = load(data_dir, prev) if prev is not None else None
    found = intake.warnings(cohort, previous)
    if not found:
        return None
    if not accept:
        raise IntakeWarningError(cohort.cutoff.isoformat(), prev.isoformat(), found)
    return intake.record(cohort, previous, found)


def _store_validated(cohort: Cohort, delivery: Path, data_dir: Path, replace: bool,
                     intake_record: str | None = None) -> Path:
    root = data_dir / CUTOFFS
    target = root / cohort.cutoff.isoformat()
    names = sorted(cohort.files) + ([SOURCE_FILE] if (delivery / SOURCE_FILE).is_file() else [])
    manifest_content = _manifest_of(cohort, delivery)
    manifest_content.pop("intake", None)  # a delivery's own intake.json is not stored
    if intake_record is not None:
        manifest_content["intake"] = hashlib.sha256(intake_record.encode("utf-8")).hexdigest()
    content = _dumps(manifest_content)

    if target.exists():
        if _already_stored(cohort, delivery, target):
            content = _dumps(_manifest_of(cohort, target))  # keeps the intake record stored with it
            if not (target / MANIFEST).is_file() or (target / MANIFEST).read_text(encoding="utf-8") != content:
                write_atomic(target / MANIFEST, content)
            return target
        if not replace:
            try:
                old = read_manifest(target).get("version", "unknown")
            except StaleOutputError:
                old = "unknown (no valid manifest)"
            raise NscoreError(
                f"{target}: cutoff {cohort.cutoff} is already stored as version {old}; the delivery is "
                f"version {cohort.version}; refusing to overwrite it (nscore.data.versions.store(..., replace=True) replaces it)."
            )

    root.mkdir(parents=True, exist_ok=True)
    incoming = root / f".incoming-{uuid.uuid4().hex}"
    incoming.mkdir()
    try:
        for name in names:
            origin = delivery / name
            if name == STUDY_FILE and not origin.is_file():
                origin = Path(cohort.study.path)  # the default study, kept with the cutoff
            _copy_exact(origin, incoming / name)
        copied = {n: sha256_file(incoming / n) for n in cohort.files}
        if copied != cohort.files:
            raise NscoreError(f"{delivery}: files changed while being stored; nothing stored")
        if intake_record is not None:
            write_atomic(incoming / intake.INTAKE_FILE, intake_record)
        write_atomic(incoming / MANIFEST, content)
        if not target.exists():
            os.rename(incoming, target)
        elif _exchange(incoming, target):
            shutil.rmtree(incoming)  # now holds the replaced version
        else:
            old = root / f".replaced-{uuid.uuid4().hex}"
            os.rename(target, old)
            try:
                os.rename(incoming, target)
            except OSError:
                os.rename(old, target)
                raise
            shutil.rmtree(old)
    finally:
        if incoming.exists():
            shutil.rmtree(incoming)
    return target


def _source_bytes(directory: Path) -> bytes | None:
    path = directory / SOURCE_FILE
    return path.read_bytes() if path.is_file() else None
