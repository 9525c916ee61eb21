"""Site staging: one version's site per data cutoff, its files (bundle, version links), and the whole
published tree assembled from every version.

Each target cutoff's site is built by jupyter-book from a staged book of its executed notebooks
(:func:`build_version_site`), or reused from the published site when its site key is unchanged.
:func:`stage_version_files` then adds that version's own files (reviewer bundle, version link stubs,
site marker; the cutoff's analysis-results dataset belongs there too). :func:`assemble` copies every
version into ``v/<cutoff>/`` of a new tree and the newest also at its root; :mod:`nscore.build.publish`
swaps that tree in.

Copies, never hard links: the published tree can still change after it is published (a plain
``jupyter-book build .`` writes into ``_build/html`` in place), so a new tree shares no file with it,
and within a tree the root and ``v/<newest>/`` are separate copies too.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nscore.analyses import ard
from nscore.build import reproduce
from nscore.build.keys import CodeHashes, site_key
from nscore.build.project import BOOK_DIRS, BOOK_FILES, BUNDLE_NAME, Chapter, Project
from nscore.errors import BuildError
from nscore.files import write_atomic
from nscore.report import versions as versions_list

#: Set by :func:`jupyter_book_build` for the books it stages from notebooks just executed: the Sphinx
#: extension ``nscore.build.refresh`` then neither checks nor re-executes anything.
STAGED_ENV = "NSCORE_STAGED_BOOK"
#: In each version's site: the site key it was built for (so an unchanged version is reused).
SITE_MARKER = ".nscore-site.json"
#: At the root of each published tree: its newest cutoff and each version's site key (the same for
#: the same site: a build with nothing changed publishes a byte-identical tree).
PUBLISH_MARKER = ".nscore-publish.json"
#: In each version's site: the analysis-results dataset (``ard-<cutoff>.csv|.parquet|-dictionary.csv``).
RESULTS_DIR = "ard"

Progress = Callable[[str], None]


def jupyter_book_command() -> list[str]:
    """The jupyter-book CLI of this environment (next to the running Python), as an argv prefix."""
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if not found:
        raise BuildError("jupyter-book is not installed in this environment (pip install -r requirements.txt)")
    return [found]


# --------------------------------------------------------------------------------------------------
# one version's site
# --------------------------------------------------------------------------------------------------
def stage_book(project: Project, dest: Path, notebooks: dict[str, Path], chapters: list[Chapter]) -> None:
    """A book of the project's book files and the given executed notebooks, in ``dest``."""
    dest.mkdir(parents=True)
    for f in BOOK_FILES:
        if (project.root / f).exists():
            shutil.copy2(project.root / f, dest / f)
    for d in BOOK_DIRS:
        if (project.root / d).is_dir():
            shutil.copytree(project.root / d, dest / d)
    for ch in chapters:
        target = dest / f"{ch.file}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebooks[ch.name], target)


def jupyter_book_build(project: Project, book: Path, progress: Progress, label: str) -> Path:
    """``jupyter-book build <book> -W -n --keep-going``; Sphinx extensions import this project's nscore."""
    t0 = time.monotonic()
    progress(f"  site     {label}: jupyter-book build -W -n --keep-going")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(project.root), env.get("PYTHONPATH", "")) if x)
    env[STAGED_ENV] = "1"  # notebooks just executed: nscore.build.refresh must not check or re-execute them
    args = ["build", str(book), "-W", "-n", "--keep-going"]
    log = book / "jupyter-book.log"  # stdout and stderr together, as a terminal shows them
    with open(log, "w") as out:
        returncode = subprocess.run([*jupyter_book_command(), *args], stdout=out, stderr=subprocess.STDOUT,
                                    cwd=book, env=env).returncode
    output = log.read_text(encoding="utf-8", errors="replace")
    html = book / "_build" / "html"
    if returncode != 0 or not (html / "index.html").exists():
        text = re.sub(r"\x1b\[[0-9;]*m", "", output).replace(f"{book}/", "")
        warnings = [ln for ln in text.splitlines() if "WARNING" in ln or "ERROR" in ln or "Error" in ln]
        detail = "\n".join(warnings[-60:]) or text[-4000:]
        raise BuildError(f"jupyter-book build failed for {label} (exit {returncode}):\n{detail}")
    progress(f"  site     {label}: built in {time.monotonic() - t0:.1f} s")
    return html


#: Under ``_build/``, outside the site: each cutoff's FULL reviewer bundle (with the patient-level data).
FULL_BUNDLES_DIR = "bundles"


def full_bundle(project: Project, cutoff: str) -> Path:
    """Where the build writes ``cutoff``'s full reviewer bundle: ``_build/bundles/reviewer-bundle-<cutoff>.zip``,
    never inside the published site (it holds patient-level rows; for reviewers under a data-access
    agreement). The site publishes the public bundle (``project.bundle(cutoff)``) without them."""
    return project.build_dir / FULL_BUNDLES_DIR / BUNDLE_NAME.format(cutoff=cutoff)


def write_bundle(project: Project, zpath: Path, cutoff: str, notebooks: dict[str, Path], chapters: list[Chapter],
                 results: list[Path] = (), *, public: bool = False) -> None:
    """The cutoff's reviewer bundle, a deterministic zip that re-runs (:mod:`nscore.build.reproduce`):
    the executed notebooks and analysis-results dataset (``results``) as published, the data the
    chapters read, the chapter sources, the book's files, the ``nscore`` source, the requirements and
    lock, a README and MANIFEST.json (SHA-256 of every file). ``nscore reproduce BUNDLE`` checks it.

    ``public``: the same minus the patient-level data files (:func:`nscore.build.reproduce.public_members`;
    each cutoff's data manifest, study.yml and source.json stay), the only kind the site may carry;
    ``nscore reproduce BUNDLE --data DIR`` re-runs it with the data."""
    members = reproduce.bundle_members(project, cutoff, notebooks, chapters, results)
    cutoffs = reproduce.bundle_cutoffs(project, cutoff, (notebooks[ch.name] for ch in chapters))
    omitted = None
    if public:
        members, omitted = reproduce.public_members(members, project.data_dir)
    reproduce.write_zip(zpath, cutoff, chapters, members, cutoffs, project.data_dir, omitted)


def write_bundles(project: Project, html: Path, cutoff: str, notebooks: dict[str, Path], chapters: list[Chapter],
                  results: list[Path] = ()) -> tuple[Path, Path]:
    """Both bundles of ``cutoff`` (one code path, :func:`write_bundle`): the public one in the version's
    site ``html`` (``_downloads/reviewer-bundle-<cutoff>.zip``) and the full one outside it
    (:func:`full_bundle`). Returns ``(public, full)``."""
    public = html / "_downloads" / BUNDLE_NAME.format(cutoff=cutoff)
    full = full_bundle(project, cutoff)
    write_bundle(project, public, cutoff, notebooks, chapters, results, public=True)
    write_bundle(project, full, cutoff, notebooks, chapters, results)
    return public, full


def link_stubs(version_dir: Path, cutoffs: list[str]) -> None:
    """In a version's site, ``v/<c>/index.html`` redirects to the sibling version ``../../../<c>/``.

    So a chapter can link ``../v/<c>/index.html`` (and its own bundle ``../_downloads/...``) and the
    link works both at the site root (newest) and inside every ``v/<cutoff>/`` copy. An existing stub
    (or a real page) is left as it is.
    """
    for c in cutoffs:
        stub = version_dir / "v" / c / "index.html"
        if stub.exists():
            continue
        target = f"../../../{c}/index.html"
        write_atomic(stub,
                     f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Version {c}</title>'
                     f'<meta http-equiv="refresh" content="0; url={target}"></head>'
                     f'<body><p><a href="{target}">Version {c}</a></p></body></html>\n')


def write_results(project: Project, html: Path, cutoff: str, notebooks: dict[str, Path],
                  chapters: list[Chapter]) -> list[Path]:
    """The cutoff's analysis-results dataset (issue 13): the ARD rows every chapter emitted, combined
    in book order (:func:`nscore.analyses.ard.combine`), written as ``ard/ard-<cutoff>.csv``,
    ``.parquet`` and ``-dictionary.csv`` on the version's site and beside its executed notebooks
    (``_build/executed/<cutoff>/``). Returns the site's files (they go into the reviewer bundle).

    Read from the executed notebooks, so the published numbers and the dataset are the same run.
    """
    rows = ard.combine(ard.read_notebook(notebooks[ch.name]) for ch in chapters if ch.name in notebooks)
    stem = f"ard-{cutoff}"
    ard.write(rows, project.executed_dir / cutoff, stem=stem)
    return ard.write(rows, html / RESULTS_DIR, stem=stem)


def stage_version_files(project: Project, html: Path, cutoff: str, notebooks: dict[str, Path],
                        chapters: list[Chapter], cutoffs_upto: list[str], skey: str) -> None:
    """A freshly built version's own files, beside its pages in ``html`` (a staged tree, not yet published).

    Written here: the cutoff's analysis-results dataset (:func:`write_results`), the public reviewer
    bundle (``_downloads/reviewer-bundle-<cutoff>.zip``: notebooks, ARD, sources and code, no
    patient-level data; the full one goes to ``_build/bundles/``, :func:`write_bundles`), the version link
    stubs (``v/<c>/index.html`` for every cutoff up to this one) and the site marker (its site key).
    This is the one place to add any other per-cutoff file of the published site: it is called once
    per freshly built version with the cutoff's executed notebooks; a reused version keeps the files
    it was published with.
    """
    results = write_results(project, html, cutoff, notebooks, chapters)
    write_bundles(project, html, cutoff, notebooks, chapters, results)
    link_stubs(html, cutoffs_upto)
    write_atomic(html / SITE_MARKER, json.dumps({"site_key": skey, "cutoff": cutoff}))


def published_version(project: Project, cutoff: str, skey: str) -> Path | None:
    """The published site of ``cutoff`` when it was built for site key ``skey`` (else None)."""
    published = project.version_html(cutoff)
    try:
        marker = json.loads((published / SITE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return published if isinstance(marker, dict) and marker.get("site_key") == skey else None


@dataclass(frozen=True)
class VersionSites:
    """The site of each target cutoff: built afresh in staging, or the published one reused."""

    html: dict[str, Path]
    built: list[str]
    reused: list[str]


def build_version_sites(
    project: Project, *, targets: list[str], available: list[str], chapter_keys: dict[str, dict[str, str]],
    notebooks: dict[str, dict[str, Path]], chapters: list[Chapter], stage: Path, hashes: CodeHashes,
    force: bool, jobs: int | None, progress: Progress,
) -> VersionSites:
    """A site per target cutoff, in parallel; reused when its site key is unchanged (unless ``force``)."""

    def site_for(c: str) -> tuple[Path, bool]:
        upto = [x for x in available if x <= c]
        skey = site_key(project, c, chapter_keys[c], upto, hashes)
        published = None if force else published_version(project, c, skey)
        if published is not None:
            return published, False
        book = stage / f"book-{c}"
        stage_book(project, book, notebooks[c], chapters)
        html = jupyter_book_build(project, book, progress, f"cutoff {c}")
        stage_version_files(project, html, c, notebooks[c], chapters, upto, skey)
        return html, True

    html: dict[str, Path] = {}
    built, reused = [], []
    n_site = max(1, min(jobs or os.cpu_count() or 1, len(targets)))
    with cf.ThreadPoolExecutor(max_workers=n_site) as pool:
        for c, (path, fresh) in zip(targets, pool.map(site_for, targets)):
            html[c] = path
            (built if fresh else reused).append(c)
            if not fresh:
                progress(f"  site     cutoff {c}: unchanged, reusing the published version")
    return VersionSites(html=html, built=built, reused=reused)


# --------------------------------------------------------------------------------------------------
# the whole tree
# --------------------------------------------------------------------------------------------------
def assemble(project: Project, tree: Path, *, available: list[str], newest: str, version_html: dict[str, Path],
             progress: Progress) -> dict[str, Path]:
    """The whole site in ``tree`` (a new directory): ``v/<c>/`` for every stored cutoff, the newest also
    at the root; returns each cutoff's bundle as it will be published (``project.bundle``).

    A cutoff not among ``version_html`` is carried over from the published site (a ``--cutoff`` build);
    every version gets link stubs to every stored version, and the bundles of the versions before it.
    Everything is copied (see the module docstring).
    """
    (tree / "v").mkdir(parents=True)
    for c in available:
        src = version_html.get(c) or (project.version_html(c) if project.version_html(c).is_dir() else None)
        if src is None:
            progress(f"  note     cutoff {c} has no published site yet (build with --cutoff latest)")
            continue
        shutil.copytree(src, tree / "v" / c)
        link_stubs(tree / "v" / c, available)  # so a version link never breaks, even from older copies
    bundles: dict[str, Path] = {}
    for c in available:  # every version's site holds the bundles of the versions up to it
        vdir = tree / "v" / c
        if not vdir.exists():
            continue
        for x in (x for x in available if x < c):
            _copy_missing(tree / "v" / x / "_downloads" / BUNDLE_NAME.format(cutoff=x), vdir / "_downloads")
        if (vdir / "_downloads" / BUNDLE_NAME.format(cutoff=c)).exists():
            bundles[c] = project.bundle(c)
    root_src = tree / "v" / newest
    if root_src.exists():
        for item in root_src.iterdir():
            if item.name == "v":  # at the root, v/<c>/ are the real version directories
                continue
            if item.is_dir():
                shutil.copytree(item, tree / item.name)
            else:
                shutil.copy2(item, tree / item.name)
        for x in available:
            _copy_missing(tree / "v" / x / "_downloads" / BUNDLE_NAME.format(cutoff=x), tree / "_downloads")
    versions = {c: _site_key_of(tree / "v" / c) for c in available if (tree / "v" / c).exists()}
    write_atomic(tree / PUBLISH_MARKER, json.dumps({"newest": newest, "versions": versions}, sort_keys=True))
    versions_list.write_version_lists(tree, available, newest)  # nscore-versions.js: switcher + banner (H4)
    return bundles


def _site_key_of(version_dir: Path) -> str | None:
    try:
        return json.loads((version_dir / SITE_MARKER).read_text(encoding="utf-8")).get("site_key")
    except (OSError, ValueError, AttributeError):
        return None


def _copy_missing(src: Path, dest_dir: Path) -> None:
    dest = dest_dir / src.name
    if src.exists() and not dest.exists():
        dest_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
