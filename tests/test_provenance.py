"""nscore.report.provenance: the box says simulated or real from the cutoff the page is built for."""

from __future__ import annotations

import json
import types

from nscore.report import provenance


def _prov(simulated: bool) -> provenance.Provenance:
    return provenance.Provenance(cutoff="2026-02-01", data_version="abc", simulated=simulated,
                                 parameters={"cutoff": "latest"}, build_time="t", commit="0123456789abcdef")


def test_box_says_simulated_or_real():
    sim, real = _prov(True), _prov(False)
    assert provenance.SIMULATED_SENTENCE in sim.markdown() and provenance.SIMULATED_SENTENCE in sim.html()
    for text in (real.markdown(), real.html()):
        assert "simulated" not in text.lower()
    assert provenance.REAL_SENTENCE in real.markdown()


def test_the_loaded_cohort_decides_over_the_recorded_context(monkeypatch):
    monkeypatch.setenv(provenance.ENV_VAR, json.dumps({**_prov(True).__dict__}))
    real_cohort = types.SimpleNamespace(simulated=False, cutoff="2026-02-01", version="abc")
    assert provenance.current(real_cohort).simulated is False
    assert provenance.current().simulated is True  # no cohort: the recorded context
    monkeypatch.delenv(provenance.ENV_VAR)
    assert provenance.current(real_cohort).simulated is False
    assert "simulated" not in provenance.box(real_cohort)._repr_markdown_().lower()


# --- the commit is the one whose sources made the page, flagged when the tree differed ---------

import shutil
import subprocess
from pathlib import Path

import pytest

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "chapters" / "src").mkdir(parents=True)
    (tmp_path / "chapters" / "src" / "results.md").write_text("each 28-day interval\n")
    (tmp_path / "chapters" / "results.ipynb").write_text("{}\n")
    (tmp_path / ".gitignore").write_text("_build/\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "one")
    return tmp_path


@needs_git
def test_clean_tree_records_head(repo):
    head = _git(repo, "rev-parse", "HEAD")
    assert provenance.code_commit(repo) == head
    # outputs of a build are not sources: executed notebooks and _build/ do not make it "modified"
    (repo / "chapters" / "results.ipynb").write_text('{"new": 1}\n')
    (repo / "_build").mkdir()
    (repo / "_build" / "x").write_text("x")
    assert provenance.code_commit(repo) == head


@needs_git
@pytest.mark.parametrize("change", ["edit", "untracked", "staged", "deleted"])
def test_dirty_tree_is_flagged_modified(repo, change):
    head = _git(repo, "rev-parse", "HEAD")
    src = repo / "chapters" / "src" / "results.md"
    if change == "edit":
        src.write_text("each 4-week interval\n")
    elif change == "untracked":
        (repo / "chapters" / "src" / "new.md").write_text("new\n")
    elif change == "staged":
        src.write_text("staged\n")
        _git(repo, "add", str(src))
    else:
        src.unlink()
    commit = provenance.code_commit(repo)
    assert commit == head + provenance.MODIFIED_SUFFIX
    assert provenance.split_commit(commit) == (head, True)
    prov = provenance.Provenance(cutoff="2026-02-01", data_version="abc", simulated=True, parameters={},
                                 build_time="2026-02-03T10:00:00Z", commit=commit)
    for text in (prov.markdown(), prov.html()):
        assert head[:12] in text and "modified" in text and head[:13] not in text
    # committing the change makes the recorded commit the new HEAD, unflagged
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "two")
    assert provenance.code_commit(repo) == _git(repo, "rev-parse", "HEAD")


def test_no_repository_is_unknown(tmp_path):
    assert provenance.code_commit(tmp_path) == "unknown"
    assert provenance.commit_label("unknown") == "unknown"


def test_clean_box_has_no_modified_flag_and_names_the_execution_time():
    prov = _prov(True)
    for text in (prov.markdown(), prov.html()):
        assert "modified" not in text and "0123456789ab" in text and "executed" in text


# --- one site, one code version, or the reason why not ------------------------------------------


def _notebook(path: Path, commit: str, executed: str, cutoff="2026-02-01"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"metadata": {"nscore": {
        "commit": commit, "build_time": executed, "cutoff": cutoff, "data_version": "v" + cutoff,
        "simulated": True}}, "cells": [], "nbformat": 4, "nbformat_minor": 5}))


def test_site_with_one_code_version(tmp_path):
    for doc in ("index", "results", "appendix"):
        _notebook(tmp_path / f"{doc}.ipynb", "a" * 40, "2026-02-03T10:00:00Z")
    record = provenance.site_record(tmp_path, ["index", "results", "appendix", "missing"])
    assert len(record.pages) == 3
    assert record.statement() == ("Code version: all 3 pages of this site were executed with code commit "
                                  "aaaaaaaaaaaa.")
    assert record.newest() == {"cutoff": "2026-02-01", "data_version": "v2026-02-01", "simulated": True}


def test_site_with_reused_pages_lists_every_commit(tmp_path):
    _notebook(tmp_path / "index.ipynb", "a" * 40, "2026-01-01T09:00:00Z")
    _notebook(tmp_path / "methods.ipynb", "a" * 40, "2026-01-01T09:00:05Z")
    _notebook(tmp_path / "results.ipynb", "b" * 40 + provenance.MODIFIED_SUFFIX, "2026-02-03T10:00:00Z")
    text = provenance.site_record(tmp_path, ["index", "methods", "results"]).statement()
    assert "2 different code commits" in text and "reuses the others" in text
    assert "aaaaaaaaaaaa (executed 2026-01-01T09:00:00Z to 2026-01-01T09:00:05Z: index, methods)" in text
    assert "bbbbbbbbbbbb (modified: uncommitted changes) (executed 2026-02-03T10:00:00Z: results)" in text


# --- the Sphinx extension: site build time in every box, code versions on the appendix ---------


def test_sphinx_extension_adds_site_build_time_and_code_versions(tmp_path):
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["nscore.report.provenance"]\nnscore_site_built = "2026-02-04T08:00:00Z"\n')
    box = ".. admonition:: Provenance of this page\n   :class: note nscore-provenance\n\n   executed here\n"
    (src / "index.rst").write_text("Index\n=====\n\n" + box + "\n.. toctree::\n\n   appendix\n")
    (src / "appendix.rst").write_text("Appendix\n========\n\n" + box)
    _notebook(src / "index.ipynb", "a" * 40, "2026-01-01T09:00:00Z")
    _notebook(src / "appendix.ipynb", "b" * 40, "2026-02-03T10:00:00Z")
    app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"), "html",
                 status=None, warning=None, freshenv=True)
    app.build()
    index = (tmp_path / "out" / "index.html").read_text()
    appendix = (tmp_path / "out" / "appendix.html").read_text()
    for page in (index, appendix):
        assert "Site built" in page and "2026-02-04T08:00:00Z" in page
    assert "2 different code commits" in appendix and "aaaaaaaaaaaa" in appendix
    assert "different code commits" not in index
