"""Reviewer bundles that reproduce: what one cutoff's bundle holds, and ``nscore reproduce BUNDLE``.

A reviewer bundle (written by :func:`nscore.build.site.write_bundles` with :func:`bundle_members` and
:func:`write_zip`) is a small copy of the project that re-runs. Each cutoff has two, from one code
path: the FULL bundle, ``_build/bundles/reviewer-bundle-<cutoff>.zip``, outside the site (for
reviewers under a data-access agreement), and the PUBLIC bundle on the site,
``_downloads/reviewer-bundle-<cutoff>.zip``, the same minus the patient-level data files
(:func:`patient_data`: everything in ``data/cutoffs/<c>/`` but its ``manifest.json``, ``study.yml``
and ``source.json``); its ``MANIFEST.json`` lists them under ``omitted`` and ``nscore reproduce
BUNDLE --data DIR`` copies them in from ``DIR`` and checks each against its hash (:func:`supply_data`).
Patient-level rows are never published. The full bundle holds: the executed notebooks and the analysis-results dataset (ARD) as
published, the data the chapters read (``data/cutoffs/<c>/`` of the cutoff and of every earlier
stored cutoff, because What changed, the appendix and the landing page compare them, with the
project's ``data/*.yml``), the chapter sources, the book's ``_toc.yml``/``_config.yml``/
``references.bib``, the ``nscore`` source with ``pyproject.toml``, ``requirements.txt`` and
``requirements.lock``, a README and ``MANIFEST.json`` (SHA-256 and size of every other file). The zip
is deterministic: members sorted, fixed timestamps, so the same inputs give the same bytes.

:func:`reproduce` unpacks a bundle (or copies an unpacked one) into a temporary directory, checks
every file against ``MANIFEST.json`` and each cutoff's data manifest, re-executes the chapters there
for the bundle's cutoff exactly as the pipeline does (:mod:`nscore.build.execute`: papermill, one
kernel per chapter, the published parameters), with kernels that import the bundle's own ``nscore``
(``PYTHONPATH`` is the unpacked directory; checked before anything runs), collects the statistics
the executed notebooks emitted (:func:`nscore.analyses.ard.read_notebook`, ``combine``) and compares
every row with the published ARD (:func:`compare`). A value reproduces when both are NaN, both are
the same infinity, or ``|reproduced - published| <= ABS_TOL + REL_TOL * |published|``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable

import pandas as pd

from nscore.analyses import ard
from nscore.build.execute import Job, RunContext, run_jobs, workers
from nscore.build.keys import CodeHashes, chapter_key, recorded
from nscore.build.project import BOOK_FILES, Chapter, Project
from nscore.build.store import VersionsStore
from nscore.errors import BundleError, ChapterExecutionError, NscoreError, escape
from nscore.files import write_atomic, write_atomic_with

__all__ = ["MANIFEST", "README", "REL_TOL", "ABS_TOL", "bundle_members", "bundle_manifest", "readme",
           "patient_data", "public_members", "supply_data", "write_zip", "verify", "open_bundle", "compare", "same_value", "Difference", "Reproduction",
           "reproduce"]

#: The bundle's list of files: ``{"format", "cutoff", "chapters", "ard", "files": {path: {sha256, bytes}}}``.
MANIFEST = "MANIFEST.json"
README = "README.md"
FORMAT = 1
#: Every member's timestamp (a zip cannot hold earlier than 1980): same inputs, same bytes.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)
#: Float tolerance of the comparison: relative to the published value, plus an absolute floor.
REL_TOL = 1e-6
ABS_TOL = 1e-9
#: What a bundle must hold besides its chapters, its cutoff's data and its ARD.
REQUIRED = ("_toc.yml", "pyproject.toml", "requirements.txt", "requirements.lock", "nscore/__init__.py")
#: Largest unpacked bundle accepted (a zip bomb is refused before anything is written).
MAX_BYTES = 2 * 1024 ** 3
#: What a public bundle keeps of each ``data/cutoffs/<c>/``: no patient row in any of them (the data
#: manifest holds each file's SHA-256 and row count, study.yml the study definition, source.json the
#: generator or delivery).
DATA_KEPT = ("manifest.json", "study.yml", "source.json")
#: Rows of the difference table printed; the complete table goes to a CSV file.
TABLE_ROWS = 60

Progress = Callable[[str], None]
_CUTOFF_NAME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --------------------------------------------------------------------------------------------------
# writing a bundle
# --------------------------------------------------------------------------------------------------
def _files(directory: Path, recursive: bool = True) -> list[Path]:
    """Regular files under ``directory`` (sorted), without hidden files, caches and build leftovers."""
    if not directory.is_dir():
        return []
    found = directory.rglob("*") if recursive else directory.iterdir()
    out = []
    for p in found:
        parts = p.relative_to(directory).parts
        if not p.is_file() or p.is_symlink() or any(x.startswith(".") or x == "__pycache__" for x in parts):
            continue
        if p.suffix in (".pyc", ".pyo") or any(x.endswith(".egg-info") for x in parts):
            continue
        out.append(p)
    return sorted(out)


def bundle_cutoffs(project: Project, cutoff: str, notebooks: Iterable[Path]) -> list[str]:
    """The stored cutoffs a bundle of ``cutoff`` holds: it and every earlier one (the chapters that
    compare versions list them), plus any other cutoff a notebook recorded reading."""
    root = project.data_path / "cutoffs"
    stored = sorted(p.name for p in root.iterdir() if p.is_dir() and _CUTOFF_NAME.fullmatch(p.name)) if root.is_dir() else []
    wanted = {c for c in stored if c <= cutoff}
    for nb in notebooks:
        for name in ((recorded(Path(nb)) or {}).get("reads") or {}):
            if name in stored:
                wanted.add(name)
    return sorted(wanted)


def bundle_members(project: Project, cutoff: str, notebooks: dict[str, Path], chapters: list[Chapter],
                   results: Iterable[Path] = ()) -> list[tuple[str, Path]]:
    """``(path in the bundle, file)`` for every file of ``cutoff``'s bundle except README and MANIFEST, sorted.

    The executed notebooks (``notebooks/<name>.ipynb``) and the ARD files (``ard/``) as published; the
    data (:func:`bundle_cutoffs`, and the files directly in ``data/``); the chapter sources; the book's
    files; the ``nscore`` package source, ``pyproject.toml`` and the requirements. The book's
    ``_static/`` (stylesheets and vendored scripts for the site, 4 MB) is left out: the bundle re-runs
    the numbers; rendering the site takes the repository.
    """
    root = project.root
    members: dict[str, Path] = {}

    def add(path: Path, arc: str | None = None) -> None:
        if path.is_file():
            members[arc or path.relative_to(root).as_posix()] = path

    for ch in chapters:
        add(notebooks[ch.name], f"notebooks/{ch.name}.ipynb")
    for path in results:
        add(Path(path), f"ard/{Path(path).name}")
    data_arc = PurePosixPath(project.data_dir).as_posix()
    for p in _files(project.data_path, recursive=False):
        add(p, f"{data_arc}/{p.name}")
    for c in bundle_cutoffs(project, cutoff, (notebooks[ch.name] for ch in chapters)):
        for p in _files(project.data_path / "cutoffs" / c):
            add(p, f"{data_arc}/cutoffs/{c}/{p.relative_to(project.data_path / 'cutoffs' / c).as_posix()}")
    for p in _files(project.src_dir):
        add(p)
    for name in (*BOOK_FILES, "pyproject.toml"):
        add(root / name)
    for p in _files(root / "nscore"):
        add(p)
    for req in project.requirements:
        add(req)
    return sorted(members.items())


def patient_data(arc: str, data_dir: str = "data") -> bool:
    """Whether bundle member ``arc`` is patient-level data: any file under ``<data_dir>/cutoffs/<c>/``
    except :data:`DATA_KEPT` (an allow-list: a file added to the store later is left out too)."""
    parts = PurePosixPath(arc).parts
    head = PurePosixPath(data_dir).parts + ("cutoffs",)
    if parts[:len(head)] != head or len(parts) < len(head) + 2:
        return False
    return not (len(parts) == len(head) + 2 and parts[-1] in DATA_KEPT)


def public_members(members: list[tuple[str, Path]], data_dir: str = "data"
                   ) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """``(kept, omitted)``: the members of the public bundle, and the patient-level data it leaves out."""
    kept = [(a, p) for a, p in members if not patient_data(a, data_dir)]
    omitted = [(a, p) for a, p in members if patient_data(a, data_dir)]
    return kept, omitted


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_manifest(cutoff: str, chapters: list[Chapter], contents: dict[str, bytes],
                    omitted: dict[str, bytes] | None = None) -> dict:
    """``MANIFEST.json`` of a bundle holding ``contents`` (path -> bytes); a public bundle also lists
    the patient-level files it leaves out (``omitted``: their SHA-256 and size, no content)."""
    ard_file = next((a for a in (f"ard/ard-{cutoff}.parquet", f"ard/ard-{cutoff}.csv") if a in contents), None)
    return {
        "format": FORMAT,
        "cutoff": cutoff,
        "chapters": [{"name": ch.name, "file": ch.file} for ch in chapters],
        "ard": ard_file,
        "tolerance": {"relative": REL_TOL, "absolute": ABS_TOL},
        "files": {a: {"sha256": _sha256(b), "bytes": len(b)} for a, b in sorted(contents.items())},
        "patient_data": "omitted" if omitted is not None else "included",
        **({"omitted": {a: {"sha256": _sha256(b), "bytes": len(b)} for a, b in sorted(omitted.items())}}
           if omitted is not None else {}),
    }


def readme(cutoff: str, cutoffs: list[str], data_dir: str = "data", public: bool = False) -> str:
    """The bundle's README: what it holds and how to re-run it (``public``: without the patient-level
    data, and how to re-run it with them)."""
    name = f"reviewer-bundle-{cutoff}.zip"
    if public:
        intro = f"""This is the PUBLIC bundle: it does NOT include the patient-level data. Patient-level rows are
never published; of each `{data_dir}/cutoffs/<cutoff>/` it keeps only manifest.json (the SHA-256 and
row count of each data file), study.yml and source.json, and MANIFEST.json lists the data files it
leaves out under "omitted". Everything else needed to re-run the publication's analyses for this
cutoff is here: the chapter sources, the code they call and the exact package versions. The full
bundle, with the data, is written by the project's build to `_build/bundles/{name}` (outside the
site) and is given to reviewers under the study's data-access agreement."""
        data_line = f"""    {data_dir}/cutoffs/<cutoff>/         NOT the data files: only manifest.json (SHA-256 and row count
                                   of each data file), study.yml and source.json of cutoff(s)
                                   {", ".join(cutoffs)}; earlier cutoffs are here because pages
                                   compare versions"""
        run = f"""With the data (a project's data directory, or any directory holding cutoffs/<cutoff>/... for
cutoff(s) {", ".join(cutoffs)}):

    .venv/bin/nscore reproduce . --data /path/to/data

(`.venv/bin/nscore reproduce ../{name} --data /path/to/data` works on the zip itself.) Without
`--data` it stops with an error: this bundle holds no patient data. The data files are copied in and
each is checked against its SHA-256 in MANIFEST.json and in the cutoff's manifest.json before
anything runs (a mismatch names the file: those are not the data the results were published from)."""
    else:
        intro = """Everything needed to re-run the publication's analyses for this cutoff and check that they give the
published numbers: the data, the chapter sources, the code they call and the exact package versions.
This FULL bundle holds patient-level data: it is not published on the site (the site's bundle is
the same without the data files) and is given to reviewers under the study's data-access agreement."""
        data_line = f"""    {data_dir}/cutoffs/<cutoff>/         the data of cutoff(s) {", ".join(cutoffs)} (ADaM-style CSV files, the
                                   study.yml each was validated with, source.json, and manifest.json
                                   with the SHA-256 and row count of each file); earlier cutoffs are
                                   here because pages compare versions"""
        run = f"""    .venv/bin/nscore reproduce .

(`.venv/bin/nscore reproduce ../{name}` works on the zip itself.)"""
    return f"""# Reviewer bundle of the NS7CAR living publication, data cutoff {cutoff}

{intro}

## What is in it

    README.md                      this file
    MANIFEST.json                  SHA-256 and size of every other file (checked before anything runs)
    notebooks/<chapter>.ipynb      the executed chapter notebooks as published (metadata.nscore: the
                                   provenance and rebuild key of each)
    ard/ard-<cutoff>.*             the analysis-results dataset: one row per statistic the book shows
                                   (CSV, Parquet, and a data dictionary of its columns)
{data_line}
    {data_dir}/*.yml {data_dir}/README.md      the study definition, expert panel, What-changed thresholds,
                                   data model
    chapters/src/<chapter>.md      the chapter sources (MyST Markdown notebooks run with papermill)
    _toc.yml _config.yml references.bib   the book (chapter order, configuration, bibliography)
    nscore/ pyproject.toml         the Python package the chapters call, as it was when published
    requirements.txt               the package ranges; installs this bundle's nscore (`-e .`)
    requirements.lock              the exact versions of the tested environment (used as constraints)

## Re-run it

Needs Python 3.11 and access to the Python package index (PyPI), nothing else:

    mkdir review && cd review && unzip ../{name}
    python3.11 -m venv .venv
    .venv/bin/pip install -r requirements.txt
{run}

`nscore reproduce` checks every
file against MANIFEST.json and each cutoff's data manifest, copies the bundle into a temporary
directory, re-executes every chapter there for cutoff {cutoff} with papermill and the published
parameters (each kernel imports this bundle's `nscore`), reads the statistics the notebooks emit and
compares each one with `ard/ard-{cutoff}.parquet`. It prints "N statistics reproduced, 0 differences"
and exits 0, or a table of the differences (row key, published, reproduced; rows added or dropped)
and exits 1. A value reproduces when both are NaN (not estimable), both are the same infinity (not
reached), or |reproduced - published| <= {ABS_TOL:g} + {REL_TOL:g} x |published|.
Options: `--chapters results,safety` re-executes those chapters only; `--jobs N` sets the number of
parallel kernels.

Rendering the pages takes the full repository (its `_static/` files and `jupyter-book`); this bundle
re-runs and checks the numbers.
"""


def write_zip(zpath: Path, cutoff: str, chapters: list[Chapter], members: list[tuple[str, Path]],
              cutoffs: list[str], data_dir: str = "data", omitted: list[tuple[str, Path]] | None = None) -> Path:
    """Write the bundle: README, MANIFEST.json and ``members``, deterministic bytes, atomically.

    ``omitted`` (a public bundle, :func:`public_members`): the patient-level files left out, listed in
    MANIFEST.json by hash only; the README says so."""
    contents = {arc: path.read_bytes() for arc, path in members}
    if omitted is not None and any(patient_data(a, data_dir) for a in contents):
        raise BundleError(f"{escape(str(zpath))}: a public bundle must not hold patient-level data")
    contents[README] = readme(cutoff, cutoffs, data_dir, public=omitted is not None).encode("utf-8")
    hidden = None if omitted is None else {a: p.read_bytes() for a, p in omitted}
    manifest = bundle_manifest(cutoff, chapters, contents, hidden)
    contents[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")
    order = [README, MANIFEST] + sorted(a for a in contents if a not in (README, MANIFEST))

    def write(handle) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for arc in order:
                info = zipfile.ZipInfo(arc, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                info.create_system = 3
                z.writestr(info, contents[arc])

    return write_atomic_with(zpath, write)


# --------------------------------------------------------------------------------------------------
# opening and checking a bundle
# --------------------------------------------------------------------------------------------------
def _safe_name(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name and ":" not in p.parts[0]


def _read_manifest(raw: bytes, where: str) -> dict:
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise BundleError(f"{where}: {MANIFEST} is not valid JSON ({_one_line(exc)})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not isinstance(manifest.get("cutoff"), str) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) and _safe_name(k) for k, v in files.items()):
        raise BundleError(f"{where}: {MANIFEST} does not list the bundle's files (cutoff, files: path -> sha256)")
    return manifest


def _no_manifest(where: str) -> BundleError:
    return BundleError(f"{where} is not a reviewer bundle that can be reproduced: it has no {MANIFEST} "
                       "(bundles written before nscore reproduce existed hold neither data nor code)")


def open_bundle(bundle: Path, dest: Path) -> dict:
    """Unpack ``bundle`` (a zip, or the directory of an unpacked one) into ``dest``; return its manifest.

    Only the files ``MANIFEST.json`` lists are taken (from a directory, so a ``.venv`` or ``pip -e``
    leftovers beside them do not count); a zip member it does not list, an unsafe path, a symbolic
    link or more than :data:`MAX_BYTES` unpacked is refused. Checking the hashes is :func:`verify`.
    """
    bundle = Path(bundle)
    where = escape(str(bundle))
    if bundle.is_dir():
        mpath = bundle / MANIFEST
        if not mpath.is_file():
            raise _no_manifest(where)
        manifest = _read_manifest(mpath.read_bytes(), where)
        dest.mkdir(parents=True, exist_ok=True)
        for name in [MANIFEST, *manifest["files"]]:
            src = bundle / name
            if src.is_file() and not src.is_symlink():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest / name)
        return manifest
    if not bundle.exists():
        raise BundleError(f"{where}: no such file or directory")
    if not zipfile.is_zipfile(bundle):
        raise BundleError(f"{where} is not a zip file (a reviewer bundle is reviewer-bundle-<cutoff>.zip, "
                          "or the directory it was unpacked into)")
    try:
        with zipfile.ZipFile(bundle) as z:
            infos = [i for i in z.infolist() if not i.is_dir()]
            names = {i.filename for i in infos}
            if MANIFEST not in names:
                raise _no_manifest(where)
            manifest = _read_manifest(z.read(MANIFEST), where)
            extra = sorted(names - set(manifest["files"]) - {MANIFEST})
            if extra:
                raise BundleError(f"{where}: {len(extra)} file(s) not listed in {MANIFEST}: {_first(extra)}")
            bad = [i.filename for i in infos if not _safe_name(i.filename) or (i.external_attr >> 16) & 0o170000 == 0o120000]
            if bad:
                raise BundleError(f"{where}: unsafe member path(s) or symbolic link(s): {_first(bad)}")
            if sum(i.file_size for i in infos) > MAX_BYTES:
                raise BundleError(f"{where}: unpacks to more than {MAX_BYTES // 1024 ** 3} GiB; refused")
            dest.mkdir(parents=True, exist_ok=True)
            for info in infos:
                target = dest / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(info))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise BundleError(f"{where}: cannot read the zip ({type(exc).__name__}: {_one_line(exc)})") from None
    return manifest


def _first(items: list[str], n: int = 5) -> str:
    """The first ``n`` names, escaped (a member name comes from the zip), and how many more."""
    return ", ".join(escape(x) for x in items[:n]) + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def _one_line(text: str) -> str:
    return escape(" ".join(str(text).split()))


def verify(root: Path, manifest: dict, where: str) -> list[Chapter]:
    """Check an unpacked bundle in ``root``: every listed file present with its SHA-256, what a run needs
    present, each stored cutoff's files against its data manifest. Returns the chapters (_toc.yml order).

    A public bundle's patient-level files (``omitted``) must have been copied in (:func:`supply_data`)
    and are checked the same way. Raises :class:`BundleError` with one line naming the first problems.
    """
    omitted = _omitted(manifest)
    if any(not (root / name).is_file() for name in omitted):
        raise no_patient_data(where)
    missing, changed = [], []
    for name, entry in sorted({**manifest["files"], **omitted}.items()):
        path = root / name
        if not path.is_file():
            missing.append(name)
        elif _sha256(path.read_bytes()) != entry["sha256"]:
            changed.append(name)
    if missing:
        raise BundleError(f"{where}: {len(missing)} file(s) listed in {MANIFEST} missing: {_first(missing)}")
    if changed:
        raise BundleError(f"{where}: hash mismatch, {len(changed)} file(s) differ from {MANIFEST}: {_first(changed)}")
    cutoff = manifest["cutoff"]
    project = Project(root)
    needed = [*REQUIRED, f"data/cutoffs/{cutoff}/manifest.json", manifest.get("ard") or f"ard/ard-{cutoff}.parquet"]
    absent = [n for n in needed if not (root / n).is_file()]
    if absent:
        raise BundleError(f"{where}: incomplete bundle, missing {_first(absent)}")
    try:
        chapters = project.checked_chapters()
    except NscoreError as exc:
        raise BundleError(f"{where}: {_one_line(str(exc).replace(str(root) + os.sep, ''))}") from None
    problems = VersionsStore(project.data_path).verify()
    if problems:
        shown = [p.replace(str(root) + os.sep, "") for p in problems]
        raise BundleError(f"{where}: the data do not match their manifest: {_first(shown, 3)}")
    return chapters


def _omitted(manifest: dict) -> dict[str, dict]:
    """A public bundle's patient-level files left out (path -> {sha256, bytes}); {} for a full bundle."""
    omitted = manifest.get("omitted") or {}
    if not isinstance(omitted, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) and _safe_name(k) and patient_data(k)
            and k not in manifest["files"] for k, v in omitted.items()):
        raise BundleError(f"{MANIFEST}: 'omitted' does not list the data files left out (path -> sha256)")
    return omitted


def no_patient_data(where: str) -> BundleError:
    return BundleError(f"{where} is a public reviewer bundle and holds no patient data; pass --data DIR (a project's "
                       "data directory, or one holding cutoffs/<cutoff>/...) to reproduce it with the data")


def _data_root(data: Path, cutoffs: list[str]) -> Path | None:
    """Where ``--data DIR`` keeps the cutoffs: ``DIR/cutoffs/`` (a data directory), ``DIR/data/cutoffs/``
    (a project) or ``DIR`` itself (a cutoffs directory); the first holding every cutoff needed."""
    for candidate in (data / "cutoffs", data / "data" / "cutoffs", data):
        if candidate.is_dir() and all((candidate / c).is_dir() for c in cutoffs):
            return candidate
    return None


def supply_data(root: Path, manifest: dict, data: Path, where: str, data_dir: str = "data") -> list[str]:
    """Copy a public bundle's patient-level files (``omitted`` in its MANIFEST.json) from ``data`` into
    the unpacked bundle ``root``, each checked against its SHA-256 there and in its cutoff's data
    manifest (``<data_dir>/cutoffs/<c>/manifest.json`` of the bundle) before it is used. Returns the
    files copied. A file missing or with another hash is a :class:`BundleError` naming it."""
    omitted = _omitted(manifest)
    shown = escape(str(data))
    if not omitted:
        raise BundleError(f"{where} holds its data already (a full bundle); --data is for a public bundle")
    prefix = PurePosixPath(data_dir) / "cutoffs"
    rel = {name: PurePosixPath(name).relative_to(prefix) for name in omitted}
    source = _data_root(Path(data), sorted({r.parts[0] for r in rel.values()}))
    if source is None:
        raise BundleError(f"--data {shown}: holds no cutoffs/{{{','.join(sorted({r.parts[0] for r in rel.values()}))}}}/ "
                          "(give a project's data directory, or one holding cutoffs/<cutoff>/...)")
    expected: dict[str, str] = {}
    for c in sorted({r.parts[0] for r in rel.values()}):  # the cutoffs' data manifests, checked by MANIFEST.json
        mpath = root / prefix / c / "manifest.json"
        try:
            listed = json.loads(mpath.read_bytes()).get("files") or {}
            if _sha256(mpath.read_bytes()) != manifest["files"][f"{prefix}/{c}/manifest.json"]["sha256"]:
                raise KeyError
        except (OSError, ValueError, KeyError, AttributeError):
            raise BundleError(f"{where}: {prefix}/{c}/manifest.json missing, unreadable or not the one "
                              f"{MANIFEST} lists") from None
        expected.update({f"{prefix}/{c}/{f}": e.get("sha256") for f, e in listed.items() if isinstance(e, dict)})
    copied = []
    for name, entry in sorted(omitted.items()):
        src = source.joinpath(*rel[name].parts)
        if not src.is_file():
            raise BundleError(f"--data {shown}: {escape(str(src))} missing (the bundle's {name})")
        digest = _sha256(src.read_bytes())
        if digest != entry["sha256"] or expected.get(name, digest) != digest:
            raise BundleError(f"--data {shown}: hash mismatch, {escape(str(src))} differs from the bundle's data "
                              f"manifest ({name}): not the data the results were published from")
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / name)
        copied.append(name)
    return copied


def kernel_nscore(root: Path) -> Path:
    """Where a chapter kernel started for project ``root`` imports ``nscore`` from (the same interpreter,
    working directory and ``PYTHONPATH`` as :func:`nscore.build.execute.kernel_manager_class` gives it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(root), env.get("PYTHONPATH", "")) if x)
    done = subprocess.run([sys.executable, "-c", "import nscore; print(nscore.__file__)"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BundleError(f"the bundle's nscore does not import: {_one_line(tail)}")
    return Path(done.stdout.strip()).resolve()


# --------------------------------------------------------------------------------------------------
# comparing
# --------------------------------------------------------------------------------------------------
def same_value(published: float, reproduced: float) -> bool:
    """Whether ``reproduced`` reproduces ``published`` (see the module docstring for the tolerance)."""
    if math.isnan(published) or math.isnan(reproduced):
        return math.isnan(published) and math.isnan(reproduced)
    if math.isinf(published) or math.isinf(reproduced):
        return published == reproduced
    return abs(reproduced - published) <= ABS_TOL + REL_TOL * abs(published)


@dataclass(frozen=True)
class Difference:
    """One statistic that did not reproduce: ``published`` or ``reproduced`` is None when the row is absent."""

    key: str
    published: float | None
    reproduced: float | None

    @property
    def kind(self) -> str:
        return "dropped" if self.reproduced is None else "added" if self.published is None else "changed"


def _keyed(rows: pd.DataFrame) -> pd.Series:
    return rows["cutoff"].astype(str) + "#" + ard.row_key(rows)


def compare(published: pd.DataFrame, reproduced: pd.DataFrame, chapters: Iterable[str] | None = None
            ) -> tuple[int, list[Difference]]:
    """``(statistics reproduced, differences)`` of two ARDs of one cutoff, row by row (key: cutoff and
    :func:`nscore.analyses.ard.row_key`).

    ``chapters``: only these were re-executed; the published rows of the others are not compared, and
    a reproduced row the published ARD holds under another chapter (the first chapter that records a
    statistic keeps it, :func:`~nscore.analyses.ard.combine`) is not counted as added.
    """
    pkeys = _keyed(published)
    if chapters is not None:
        chosen = set(chapters)
        elsewhere = set(pkeys[~published["chapter"].isin(chosen)])
        keep = published["chapter"].isin(chosen)
        published, pkeys = published[keep], pkeys[keep]
        rkeys = _keyed(reproduced)
        reproduced = reproduced[~rkeys.isin(elsewhere)]
    pvals = dict(zip(pkeys, published["value"].astype(float)))
    rvals = dict(zip(_keyed(reproduced), reproduced["value"].astype(float)))
    same, diffs = 0, []
    for k, p in pvals.items():
        if k not in rvals:
            diffs.append(Difference(k, p, None))
        elif same_value(p, rvals[k]):
            same += 1
        else:
            diffs.append(Difference(k, p, rvals[k]))
    diffs += [Difference(k, None, r) for k, r in rvals.items() if k not in pvals]
    return same, diffs


def _number(v: float | None) -> str:
    if v is None:
        return "(absent)"
    if math.isnan(v):
        return "NaN"
    return f"{v:.10g}"


@dataclass(frozen=True)
class Reproduction:
    """What :func:`reproduce` found: statistics reproduced, the differences, and what was run."""

    bundle: str
    cutoff: str
    chapters: tuple[str, ...]
    reproduced: int
    differences: tuple[Difference, ...]
    published_version: str
    reproduced_version: str
    seconds: float
    details: Path | None = None  # the complete difference table (CSV), when it is longer than printed
    data_from: str = ""  # a public bundle's --data directory ("": the bundle's own data)

    @property
    def ok(self) -> bool:
        return not self.differences

    def table(self, limit: int = TABLE_ROWS) -> str:
        rows = [(self._label(d.key), _number(d.published), _number(d.reproduced), d.kind)
                for d in self.differences[:limit]]
        head = ("row key", "published", "reproduced", "")
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
        lines = [f"  {r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip()
                 for r in [head, *rows]]
        more = len(self.differences) - len(rows)
        if more > 0:
            lines.append(f"  ... {more} more" + (f" (the complete table is in {self.details})" if self.details else ""))
        return "\n".join(lines)

    def _label(self, key: str) -> str:
        cutoff, _, rest = key.partition("#")
        return rest if cutoff == self.cutoff else f"[{cutoff}] {rest}"

    def summary(self) -> str:
        n_ch = len(self.chapters)
        data = f"the data from {self.data_from}" if self.data_from else "the bundle's data"
        lines = [f"reproduce: cutoff {self.cutoff}: {n_ch} chapter{'s' if n_ch != 1 else ''} "
                 f"({', '.join(self.chapters)}) re-executed with the bundle's nscore on {data} "
                 f"in {self.seconds:.1f} s"]
        if self.ok:
            lines.append(f"{self.reproduced} statistics reproduced, 0 differences")
        else:
            n = len(self.differences)
            kinds = {k: sum(d.kind == k for d in self.differences) for k in ("changed", "dropped", "added")}
            lines.append(f"{self.reproduced} statistics reproduced, {n} difference{'s' if n != 1 else ''} "
                         f"({kinds['changed']} changed, {kinds['dropped']} dropped, {kinds['added']} added; "
                         f"tolerance |reproduced - published| <= {ABS_TOL:g} + {REL_TOL:g} x |published|):")
            lines.append(self.table())
        if self.published_version and self.reproduced_version and self.published_version != self.reproduced_version:
            lines.append(f"note: the data version differs: published {self.published_version}, bundle's data "
                         f"{self.reproduced_version} (the data are not those the published results were computed on)")
        return "\n".join(lines)


def _published_ard(root: Path, manifest: dict) -> pd.DataFrame:
    name = manifest.get("ard") or f"ard/ard-{manifest['cutoff']}.parquet"
    path = root / name
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(
            path, dtype={c: str for c in ard.COLUMNS if c not in ("value", "cell")}, keep_default_na=False,
            na_values={"value": [""]})
    except Exception as exc:  # a file that passed its hash check but does not parse
        raise BundleError(f"{name}: cannot read the published results ({type(exc).__name__}: {_one_line(exc)})") from None
    missing = [c for c in ("cutoff", "chapter", "data_version", *ard.RESULT_COLUMNS) if c not in table.columns]
    if missing:
        raise BundleError(f"{name}: not an analysis-results dataset (columns {missing} missing)")
    out = ard.frame(table)
    for c in ("cutoff", "chapter", "data_version"):
        out[c] = table[c].fillna("").astype(str).values
    return out


def _parameters(root: Path, chapter: Chapter) -> dict | None:
    """The parameters the published notebook ran with (``metadata.nscore.parameters``), if recorded."""
    params = (recorded(root / "notebooks" / f"{chapter.name}.ipynb") or {}).get("parameters")
    return dict(params) if isinstance(params, dict) and params else None


def execute_chapters(project: Project, cutoff: str, chapters: list[Chapter], *, jobs: int | None = None,
                     progress: Progress = print, parameters: dict[str, dict | None] | None = None
                     ) -> tuple[dict[str, Path], dict[str, str]]:
    """Execute ``chapters`` of ``project`` for ``cutoff`` as the pipeline does (one kernel per chapter,
    papermill, the chapter's key components; ``parameters[name]`` overrides the planned parameters),
    into ``_build/reproduce/executed/<cutoff>/``. Returns ``({chapter: executed notebook}, {cutoff:
    data version})``; raises the first chapter's ChapterExecutionError."""
    store = VersionsStore(project.data_path, project.cache_dir)
    versions = {c: store.load(c) for c in store.cutoffs()}
    if cutoff not in versions:
        raise BundleError(f"the data of cutoff {cutoff} are not in {project.data_path}")
    data_versions = {c: v.version for c, v in versions.items()}
    context = RunContext.create(project, versions)
    hashes = CodeHashes.of(project)
    stage = project.build_dir / "reproduce"
    run: list[Job] = []
    for ch in chapters:
        key, comps = chapter_key(project, ch, cutoff, data_versions, hashes=hashes)
        comps = dict(comps, parameters=(parameters or {}).get(ch.name) or comps["parameters"])
        out = stage / "executed" / cutoff / f"{ch.name}.ipynb"
        out.parent.mkdir(parents=True, exist_ok=True)
        run.append(Job(cutoff, ch, key, comps, "reproduce", out))
    n = workers(jobs, len(run))
    progress(f"executing {len(run)} chapter(s) with {n} kernel(s)")
    results = run_jobs(project, run, n, context, progress, stage)
    results.raise_error()
    return {e.job.chapter.name: e.job.out for e in results.executed}, data_versions


# --------------------------------------------------------------------------------------------------
# reproduce
# --------------------------------------------------------------------------------------------------
def reproduce(bundle: str | os.PathLike, *, jobs: int | None = None, chapters: Iterable[str] | None = None,
              progress: Progress = print, keep: bool = False, data: str | os.PathLike | None = None) -> Reproduction:
    """Re-execute a reviewer bundle's chapters on its data with its code; compare every statistic.

    ``chapters``: names of the chapters to re-execute (default: every chapter); ``jobs``: parallel
    kernels; ``data``: for a public bundle (no patient-level data), the directory to take them from
    (:func:`supply_data`; without it a public bundle is refused with :func:`no_patient_data`). The work happens in a temporary directory, removed afterwards (kept when a chapter fails,
    or with ``keep``). Raises :class:`BundleError` for a bad bundle (not a zip, a file missing, a hash
    mismatch), :class:`~nscore.errors.DataValidationError` when its data break a rule and
    :class:`~nscore.errors.ChapterExecutionError` when a chapter raises.
    """
    t0 = time.monotonic()
    where = escape(str(bundle))
    work = Path(tempfile.mkdtemp(prefix="nscore-reproduce-"))
    failed = False
    try:
        root = work / "bundle"
        manifest = open_bundle(Path(bundle), root)
        data_from = ""
        if data is not None:
            copied = supply_data(root, manifest, Path(data), where)
            data_from = escape(str(data))
            progress(f"data: {len(copied)} patient-level file(s) from {data_from} match the bundle's data manifests")
        book = verify(root, manifest, where)
        cutoff = manifest["cutoff"]
        selected = _select(book, chapters, where)
        progress(f"bundle {where}: cutoff {cutoff}, {len(manifest['files'])} files match {MANIFEST}")
        used = kernel_nscore(root)
        if root.resolve() not in used.parents:
            raise BundleError(f"the chapter kernels would import nscore from {used}, not from the bundle "
                              "(PYTHONPATH cannot put the bundle's package first)")
        origin = f"from {data_from}, as " if data_from else "the bundle's "
        progress(f"code: the bundle's nscore ({used.parent.relative_to(root.resolve())}/), data: "
                 f"{origin}{project_data(root)}")
        project = Project(root)
        try:
            notebooks, data_versions = execute_chapters(
                project, cutoff, selected, jobs=jobs, progress=progress,
                parameters={ch.name: _parameters(root, ch) for ch in selected})
        except ChapterExecutionError:
            failed = True
            progress(f"a chapter failed; the unpacked bundle is kept in {root} (its notebook in _build/failed/)")
            raise
        frames = {name: ard.read_notebook(nb) for name, nb in notebooks.items()}
        reproduced = ard.combine(frames[ch.name] for ch in selected)
        published = _published_ard(root, manifest)
        names = None if chapters is None else [ch.name for ch in selected]
        same, diffs = compare(published, reproduced, names)
        pub_versions = published.loc[published["cutoff"] == cutoff, "data_version"]
        result = Reproduction(
            bundle=where, cutoff=cutoff, chapters=tuple(ch.name for ch in selected), reproduced=same,
            differences=tuple(diffs), published_version=str(pub_versions.iloc[0]) if len(pub_versions) else "",
            reproduced_version=data_versions[cutoff], seconds=time.monotonic() - t0, data_from=data_from,
        )
        if len(diffs) > TABLE_ROWS:
            result = _with_details(result)
        return result
    finally:
        if not (failed or keep):
            shutil.rmtree(work, ignore_errors=True)


def project_data(root: Path) -> str:
    cutoffs = sorted(p.name for p in (root / "data" / "cutoffs").iterdir() if p.is_dir())
    return f"data/cutoffs/{{{','.join(cutoffs)}}}" if len(cutoffs) > 1 else f"data/cutoffs/{cutoffs[0]}"


def _select(book: list[Chapter], chapters: Iterable[str] | None, where: str) -> list[Chapter]:
    if chapters is None:
        return list(book)
    wanted = [c.strip() for c in chapters if c.strip()]
    names = [ch.name for ch in book]
    unknown = [c for c in wanted if c not in names]
    if unknown or not wanted:
        raise BundleError(f"{where}: no chapter {', '.join(map(repr, unknown)) or '(none given)'}; "
                          f"the bundle's chapters: {', '.join(names)}")
    return [ch for ch in book if ch.name in wanted]


def _with_details(result: Reproduction) -> Reproduction:
    """The complete difference table in a CSV file outside the working directory; its path recorded."""
    from dataclasses import replace

    table = pd.DataFrame([(d.key.partition("#")[0], d.key.partition("#")[2], d.published, d.reproduced, d.kind)
                          for d in result.differences],
                         columns=["cutoff", "row_key", "published", "reproduced", "difference"])
    path = Path(tempfile.mkdtemp(prefix="nscore-reproduce-diff-")) / f"differences-{result.cutoff}.csv"
    write_atomic(path, table.to_csv(index=False, lineterminator="\n"))
    return replace(result, details=path)
