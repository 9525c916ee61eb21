"""A plain ``jupyter-book build .`` never renders stale results (issue 16, item 8).

In a temporary copy of the project (``sitecheck.copy_book``), a new data cutoff is stored without
building (``nscore update --no-build``), so every committed ``chapters/<name>.ipynb`` is stale.
Then, with the commands a reader of the README types:

* ``NSCORE_STALE=fail jupyter-book build .`` (and ``nscore_stale: "fail"`` in ``_config.yml``)
  exits non-zero naming every stale chapter and renders nothing;
* ``jupyter-book build .`` re-executes the stale chapters through the Sphinx extension
  ``nscore.build.refresh`` (``pipeline.refresh``: papermill, as ``nscore build``) before Sphinx reads them:
  the notebooks and the pages are those of the new cutoff, ``nscore check`` passes, and a second
  plain build executes nothing;
* after a chapter source is edited, the fail mode names that chapter only, and the plain build
  re-executes it alone and shows the edit.

Every command runs in a subprocess with the copy first on ``PYTHONPATH`` (its own ``nscore``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

sys.path.insert(0, str(Path(__file__).parent))
import sitecheck  # noqa: E402

from nscore.build import pipeline

from nscore.build import refresh  # noqa: E402

pytestmark = pytest.mark.slow

#: The new cutoff: the shipped simulated cohort (same patients, same seed) followed longer.
NEW = "2026-06-01"
EDIT = "A sentence added to check that a plain build shows an edited chapter source (7f3a)."
BIN = Path(sys.executable).parent


def _run(root: Path, argv: list[str], **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (refresh.STALE_ENV, pipeline.STAGED_ENV)}
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(root), os.environ.get("PYTHONPATH", "")) if x)
    env.update(env_extra)
    proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
    proc.output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    return proc


def plain_build(root: Path, **env_extra: str) -> subprocess.CompletedProcess:
    """``jupyter-book build .`` in ``root``, exactly as the README says."""
    return _run(root, [*pipeline.jupyter_book_command(), "build", "."], **env_extra)


def nscore(root: Path, *args: str) -> subprocess.CompletedProcess:
    return _run(root, [str(BIN / "nscore"), *args])


def notebooks(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "chapters").glob("*.ipynb"))}


def page_text(root: Path, name: str) -> str:
    soup = BeautifulSoup((root / "_build" / "html" / "chapters" / f"{name}.html").read_text(), "html.parser")
    for tag in soup(["script", "style", "svg"]):
        tag.decompose()
    return re.sub(r"\s+", " ", soup.get_text(" "))


def stale_named(output: str) -> set[str]:
    """Chapters the fail mode names as stale (``chapters/<name>.ipynb: stale for cutoff ...``)."""
    return set(re.findall(r"chapters/([a-z0-9_-]+)\.ipynb: stale for cutoff", output))


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """A copy of the project in which a new cutoff was stored with ``nscore update --no-build``."""
    work = tmp_path_factory.mktemp("plain-build")
    root = sitecheck.copy_book(work / "repo")
    delivery = work / "delivery"
    proc = nscore(root, "simulate", "--cutoff", NEW, "--out", str(delivery))
    assert proc.returncode == 0, proc.output
    before = notebooks(root)
    proc = nscore(root, "update", str(delivery), "--no-build")
    assert proc.returncode == 0, proc.output
    assert (root / "data" / "cutoffs" / NEW / "manifest.json").is_file()
    assert notebooks(root) == before, "--no-build executed something"
    assert not (root / "_build" / "html").exists(), "--no-build built a site"
    chapters = [ch.name for ch in pipeline.Project(root).chapters()]
    return {"root": root, "chapters": chapters, "before": before}


def test_update_no_build_leaves_the_chapters_stale(book):
    proc = nscore(book["root"], "check")
    assert proc.returncode == 1, proc.output
    for name in book["chapters"]:  # a chapter added to _toc.yml without a notebook yet is "missing"
        assert re.search(rf"chapters/{name}\.ipynb: (stale for cutoff {NEW}|missing)", proc.output), proc.output


def test_fail_mode_names_every_stale_chapter_and_renders_nothing(book):
    root = book["root"]
    proc = plain_build(root, **{refresh.STALE_ENV: "fail"})
    assert proc.returncode != 0, proc.output[-3000:]
    assert stale_named(proc.output) == set(book["chapters"]), proc.output[-3000:]
    assert "nscore: stale chapters" in proc.output
    assert not list((root / "_build" / "html").glob("chapters/*.html")), "stale pages were rendered"
    assert notebooks(root) == book["before"]

    # the same from _config.yml (the option the book's configuration documents)
    config = root / "_config.yml"
    original = config.read_text()
    assert f'{refresh.STALE_CONFIG}: "execute"' in original
    config.write_text(original.replace(f'{refresh.STALE_CONFIG}: "execute"', f'{refresh.STALE_CONFIG}: "fail"'))
    try:
        proc = plain_build(root)
    finally:
        config.write_text(original)
    assert proc.returncode != 0, proc.output[-3000:]
    assert stale_named(proc.output) == set(book["chapters"]), proc.output[-3000:]
    assert notebooks(root) == book["before"]


def test_plain_build_executes_the_stale_chapters_for_the_new_cutoff(book):
    root = book["root"]
    proc = plain_build(root)
    assert proc.returncode == 0, proc.output[-4000:]
    assert f"executing {len(book['chapters'])} stale chapter(s) for cutoff {NEW}" in proc.output
    for name in book["chapters"]:
        assert re.search(rf"finished {name} \[{NEW}\]", proc.output), name

    # the notebooks are the new cutoff's, with the metadata `nscore build` writes, and current
    version = json.loads((root / "data" / "cutoffs" / NEW / "manifest.json").read_text()).get("version")
    for name in book["chapters"]:
        nb = json.loads((root / "chapters" / f"{name}.ipynb").read_text())
        meta = nb["metadata"]["nscore"]
        assert meta["cutoff"] == NEW and meta["parameters"] == {"data_dir": "data", "cutoff": NEW}, name
        assert meta["key"] and meta["key_components"]["parameters"] == meta["parameters"]
        assert nb["metadata"]["papermill"]["parameters"] == meta["parameters"]
        assert nb["metadata"]["kernelspec"]["name"] == pipeline.KERNEL_NAME
        if version:
            assert meta["data_version"] == version
    check = nscore(root, "check")
    assert check.returncode == 0, check.output
    assert (root / "_build" / "executed" / NEW / "results.ipynb").is_file()  # cached as `nscore build` does
    assert not list((root / "_build").glob(".stage-*"))

    # the pages show the new cutoff's data
    for name in ("results", "methods", "safety"):
        text = page_text(root, name)
        assert re.search(rf"Data cutoff {NEW}\b", text), (name, text[:600])
        assert "Data cutoff 2026-02-01" not in text, name
    data_version = json.loads((root / "chapters" / "results.ipynb").read_text())["metadata"]["nscore"]["data_version"]
    assert data_version in page_text(root, "results")
    assert NEW in page_text(root, "changes")

    # nothing stale any more: a second plain build executes nothing and rewrites no notebook
    after = notebooks(root)
    proc = plain_build(root)
    assert proc.returncode == 0, proc.output[-3000:]
    assert "executing" not in proc.output and f"is current for cutoff {NEW}" in proc.output
    assert notebooks(root) == after


def test_edited_chapter_source_is_reexecuted_and_shown(book):
    root = book["root"]
    if nscore(root, "check").returncode != 0:  # this test's own start state, should the previous one fail
        assert plain_build(root).returncode == 0
    src = root / "chapters" / "src" / "background.md"
    src.write_text(src.read_text().rstrip("\n") + f"\n\n{EDIT}\n")
    before = notebooks(root)

    proc = plain_build(root, **{refresh.STALE_ENV: "fail"})
    assert proc.returncode != 0, proc.output[-3000:]
    assert stale_named(proc.output) == {"background"}, proc.output[-3000:]
    assert "changed: source" in proc.output
    assert notebooks(root) == before

    proc = plain_build(root)
    assert proc.returncode == 0, proc.output[-4000:]
    assert f"executing 1 stale chapter(s) for cutoff {NEW}" in proc.output
    assert "finished background" in proc.output and "finished results" not in proc.output
    after = notebooks(root)
    assert {n for n in after if after[n] != before[n]} == {"background.ipynb"}
    assert EDIT in page_text(root, "background")
    assert nscore(root, "check").returncode == 0


def test_current_notebook_in_the_cache_is_reused_not_reexecuted(book):
    """A chapter whose notebook in chapters/ is missing or stale while ``_build/executed/<cutoff>/``
    holds a current one (as after ``nscore build``) is copied from the cache, not re-executed."""
    root = book["root"]
    if nscore(root, "check").returncode != 0:
        assert plain_build(root).returncode == 0
    cached = root / "_build" / "executed" / NEW / "results.ipynb"
    assert cached.is_file()
    (root / "chapters" / "results.ipynb").unlink()

    proc = plain_build(root, **{refresh.STALE_ENV: "fail"})  # check only: names it, writes nothing
    assert proc.returncode != 0 and stale_named(proc.output) == {"results"}, proc.output[-3000:]
    assert not (root / "chapters" / "results.ipynb").exists()

    proc = plain_build(root)
    assert proc.returncode == 0, proc.output[-4000:]
    assert "copied   results" in proc.output and "executing" not in proc.output
    assert (root / "chapters" / "results.ipynb").read_bytes() == cached.read_bytes()
    assert nscore(root, "check").returncode == 0
