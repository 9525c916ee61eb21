"""The real publication, built in full with Sphinx warnings as errors (``-W -n --keep-going``).

Runs the pipeline on a temporary copy of the repository (the working tree is never modified):
every chapter is re-executed with papermill for every stored data cutoff, every version's site is
built, and each chapter named in _toc.yml must have its page at the root and under v/<cutoff>/.
Also the repository's own committed outputs must be current (what ``nscore check`` enforces).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import sitecheck
from nscore.build import pipeline

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built():
    return sitecheck.repo_build()


def test_every_chapter_page_is_built_for_every_cutoff(built):
    project, report = built
    chapters = project.chapters()
    cutoffs = project.data_store().cutoffs()
    assert len(report.executed) == len(chapters) * len(cutoffs)
    html = project.html_dir
    for ch in chapters:
        page = html / f"{ch.file}.html"
        assert page.is_file(), f"missing page {page}"
        text = page.read_text(encoding="utf-8")
        assert "Provenance of this page" in text, f"{page}: no provenance box"
        for c in cutoffs:
            assert (html / "v" / c / f"{ch.file}.html").is_file()
    for c in cutoffs:
        bundle = project.bundle(c)
        names = zipfile.ZipFile(bundle).namelist()
        assert {f"notebooks/{ch.name}.ipynb" for ch in chapters} <= set(names)
        assert f"data/cutoffs/{c}/manifest.json" in names


def test_built_copy_passes_check(built):
    project, _ = built
    assert pipeline.check(project) == []


def test_committed_outputs_are_current():
    """The repository's chapters/*.ipynb match the current sources, data and code (``nscore check``)."""
    problems = pipeline.check(pipeline.Project(REPO))
    assert problems == [], "run `nscore build` and commit chapters/*.ipynb:\n" + "\n".join(problems)
