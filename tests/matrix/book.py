"""The whole book built on one matrix cohort, and the rendered text of its pages (issue 11).

``book_for(name)`` makes a throw-away copy of the project (``sitecheck.copy_book``: the same
``BOOK_ITEMS`` the session's ``repo_build`` copies) whose ``data/cutoffs/`` holds only that cohort,
stored with ``nscore.data.versions.store(delivery_dir, data_dir)`` like any delivery (for ``shipped``
the two shipped cutoffs are kept as they are), runs ``pipeline.build(project, force=True)`` (every
chapter executed, jupyter-book with ``-W -n``) and reads the text of every HTML page of the root
site (``_build/html/``, not the ``v/<cutoff>/`` copies) with BeautifulSoup. Each cohort is built at
most once per process (module-level cache); the build time is printed and kept.

A chapter that raises or a Sphinx warning stops the pipeline before anything is published; that is
kept as ``BookBuild.error`` (the tests report it) instead of raised, so one broken cohort does not
hide what the others say.

    from matrix.book import book_for, find
    b = book_for("mgus2")                  # BookBuild: pages {rel: text}, simulated, seconds, error
    find(b.pages, r"\\b0 of 0\\b")         # [(page, sentence), ...]
"""

from __future__ import annotations

import json
import re
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup

import sitecheck
from nscore.build import pipeline
from nscore.data import versions

from .cohorts import COHORTS

__all__ = ["BookBuild", "book_for", "make_project", "page_texts", "find", "sentences"]

#: Elements whose content is not text a reader sees (chart specs, styles, theme scripts).
_NOT_TEXT = ("script", "style", "noscript", "template", "svg")

_CACHE: dict[str, "BookBuild"] = {}


@dataclass
class BookBuild:
    """One cohort's book: where it was built and what its root site says."""

    cohort: str
    project: pipeline.Project
    #: stored cutoff -> its source.json "simulated" flag (False without source.json)
    simulated: dict[str, bool]
    seconds: float
    report: object | None = None
    #: the build's exception (chapter failure, Sphinx warning, invalid data), formatted; None if it built
    error: str | None = None
    #: page path relative to the root site ("index.html", "chapters/results.html") -> visible text
    pages: dict[str, str] = field(default_factory=dict)

    @property
    def newest_simulated(self) -> bool:
        """Whether the cutoff at the site root (the newest) is simulated."""
        return self.simulated[max(self.simulated)]


def make_project(name: str, work: Path) -> pipeline.Project:
    """A copy of the project under ``work/repo`` whose data/cutoffs/ holds only cohort ``name``.

    ``shipped``: the copied shipped cutoffs, untouched. Any other cohort is built into
    ``work/delivery/<name>`` by its builder and stored with ``versions.store`` (validation, manifest,
    the delivery's study.yml) into the copy's emptied ``data/cutoffs/``.
    """
    root = sitecheck.copy_book(Path(work) / "repo")
    if name != "shipped":
        delivery = COHORTS[name](Path(work) / "delivery" / name)
        cutoffs = root / "data" / "cutoffs"
        shutil.rmtree(cutoffs)
        cutoffs.mkdir()
        versions.store(delivery, root / "data")
    return pipeline.Project(root)


def _stored_flags(project: pipeline.Project) -> dict[str, bool]:
    flags = {}
    for cutoff in project.data_store().cutoffs():
        source = versions.cutoff_dir(project.data_path, cutoff) / "source.json"
        flags[cutoff] = bool(json.loads(source.read_text(encoding="utf-8")).get("simulated", False)) \
            if source.is_file() else False
    return flags


def page_texts(site: Path) -> dict[str, str]:
    """Visible text of every page of the root site: {relative path: text}, one line per block.

    Every ``*.html`` under ``site`` except the versioned copies (``v/``), the theme's files
    (``_static``, ``_sources``), Sphinx's genindex/search pages and the notebook views
    (``<chapter>.notebook.html``: code and outputs, not prose); scripts, styles and SVG removed.
    """
    out = {}
    for page in sitecheck.site_pages(site):
        rel = page.relative_to(site)
        if rel.parts[0] == "v" or not sitecheck.is_chapter(rel.as_posix()) or rel.name.endswith(".notebook.html"):
            continue  # notebook views show code, not the publication's sentences
        soup = BeautifulSoup(page.read_text(encoding="utf-8", errors="replace"), "html.parser")
        for tag in soup(_NOT_TEXT):
            tag.decompose()
        for note in soup.select("span.nscore-ard-note"):  # a number's hover note, not page text
            note.decompose()
        for number in soup.select("span.nscore-ard"):  # the number itself reads inline
            number.unwrap()
        soup.smooth()
        text = soup.get_text("\n")
        lines = (re.sub(r"\s+", " ", line).strip() for line in text.splitlines())
        out[rel.as_posix()] = "\n".join(line for line in lines if line)
    return out


def book_for(name: str, progress=None) -> BookBuild:
    """The book built on cohort ``name`` (once per process); prints and records the build time."""
    if name in _CACHE:
        return _CACHE[name]
    work = sitecheck._workdir(f"nscore-matrix-{name}-")
    t0 = time.monotonic()
    project, report, error = None, None, None
    try:
        project = make_project(name, work)
        report = pipeline.build(project, force=True, progress=progress or (lambda message: None))
    except Exception as exc:  # noqa: BLE001 - kept and reported by the tests, see module docstring
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if project is None:
            raise
    seconds = time.monotonic() - t0
    built = BookBuild(cohort=name, project=project, simulated=_stored_flags(project), seconds=seconds,
                      report=report, error=error)
    if error is None:
        built.pages = page_texts(project.html_dir)
    print(f"matrix book {name}: {'built' if error is None else 'FAILED'} in {seconds:.1f} s "
          f"({len(built.pages)} pages, cutoffs {', '.join(built.simulated)})"
          + ("" if error is None else f": {error.splitlines()[0][:300]}"))
    _CACHE[name] = built
    return built


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")


def sentences(text: str) -> list[str]:
    """The text split into blocks (lines) and those into sentences."""
    return [s for line in text.splitlines() for s in _SENTENCE_END.split(line) if s]


def find(pages: dict[str, str], pattern: str | re.Pattern, flags: int = 0) -> list[tuple[str, str]]:
    """Every (page, sentence) in which ``pattern`` occurs, in page order."""
    rx = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
    return [(page, s) for page, text in pages.items() for s in sentences(text) if rx.search(s)]
