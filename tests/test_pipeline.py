"""The build pipeline on a toy project (tests/toy copied to tmp_path): keys, skips, failures, publishing.

The toy has the real layout (``_toc.yml``, ``chapters/src/*.md`` jupytext sources, ``data/cutoffs/``)
with two tiny chapters that read a small CSV, and ``toystore.ToyStore`` standing in for
``nscore.data.versions``; so these tests exercise papermill, real kernels and jupyter-book, but no analysis.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from nscore.build import keys, pipeline
from nscore.errors import BuildError, ChapterExecutionError, DataValidationError, NscoreError

TOY = Path(__file__).parent / "toy"
sys.path.insert(0, str(TOY))
import toystore  # noqa: E402

CUTOFF = "2025-01-01"


def make_project(root: Path) -> pipeline.Project:
    return pipeline.Project(root, store=toystore.ToyStore(root / "data"))


def tree_digest(*dirs: Path) -> dict[str, str]:
    """sha256 of every file under ``dirs`` (by relative path): a byte-level snapshot."""
    out = {}
    for d in dirs:
        if not d.exists():
            out[str(d)] = "absent"
            continue
        for p in sorted(d.rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def built_toy(tmp_path_factory) -> Path:
    """The toy after one cold build with two parallel kernels (the barrier proves they overlapped)."""
    root = tmp_path_factory.mktemp("built") / "toy"
    shutil.copytree(TOY, root, ignore=shutil.ignore_patterns("__pycache__", "_build"))
    barrier = tmp_path_factory.mktemp("barrier")
    mp = pytest.MonkeyPatch()
    # each toy chapter waits (up to 90 s, then raises) until the other one has started
    mp.setenv("TOY_BARRIER", str(barrier))
    try:
        report = pipeline.build(make_project(root), jobs=2, progress=lambda m: None)
    finally:
        mp.undo()
    assert sorted(report.executed) == [(CUTOFF, "index"), (CUTOFF, "second")]
    assert sorted(p.name for p in barrier.iterdir()) == ["index", "second"]
    return root


@pytest.fixture
def toy(built_toy, tmp_path) -> Path:
    """A private copy of the built toy, for tests that change it."""
    root = tmp_path / "toy"
    shutil.copytree(built_toy, root, symlinks=True)
    return root


def test_cold_build_executes_in_parallel_and_publishes_every_version(built_toy):
    html = built_toy / "_build" / "html"
    for page in ("index.html", "chapters/second.html"):
        assert (html / page).is_file()
        assert (html / "v" / CUTOFF / page).is_file()
    assert not list((built_toy / "_build").glob(".stage-*")), "staging directory left behind"
    assert not list((built_toy / "_build").glob(".old-html-*"))
    # executed notebooks: newest cutoff in chapters/, every cutoff cached under _build/executed
    for name in ("index", "second"):
        assert (built_toy / "chapters" / f"{name}.ipynb").is_file()
        assert (built_toy / "_build" / "executed" / CUTOFF / f"{name}.ipynb").is_file()


def test_executed_notebook_records_provenance_and_page_shows_box(built_toy):
    nb = json.loads((built_toy / "chapters" / "second.ipynb").read_text())
    meta = nb["metadata"]["nscore"]
    assert meta["cutoff"] == CUTOFF and meta["simulated"] is True
    assert meta["parameters"] == {"data_dir": "data", "cutoff": CUTOFF}
    assert meta["commit"] == "unknown"  # the toy copy is not a git repository
    assert set(meta["packages"]) == {"pandas", "lifelines", "altair", "papermill", "jupyter-book", "myst-nb", "nscore"}
    assert set(meta["key_components"]) == {"scheme", "source", "data", "reads", "depends", "code", "environment", "parameters"}
    assert meta["reads"] == {} and meta["key_components"]["reads"] == {}  # the toy reads no cutoff through nscore
    assert "build_time" not in meta["key_components"] and "commit" not in meta["key_components"]
    assert nb["metadata"]["papermill"]["parameters"] == {"data_dir": "data", "cutoff": CUTOFF}
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1
    # the kernel ran this environment's python
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])
    assert f"kernel prefix: {sys.prefix}" in text
    page = (built_toy / "_build" / "html" / "chapters" / "second.html").read_text()
    assert "Provenance of this page" in page
    assert meta["data_version"] in page
    assert "The patient-level data in this publication are simulated" in page


def test_reviewer_bundle_holds_notebooks_manifest(built_toy):
    bundle = built_toy / "_build" / "html" / "v" / CUTOFF / "_downloads" / f"reviewer-bundle-{CUTOFF}.zip"
    names = zipfile.ZipFile(bundle).namelist()
    assert {"notebooks/index.ipynb", "notebooks/second.ipynb", f"data/cutoffs/{CUTOFF}/manifest.json"} <= set(names)
    assert {f"ard/ard-{CUTOFF}.csv", f"ard/ard-{CUTOFF}.parquet", f"ard/ard-{CUTOFF}-dictionary.csv"} <= set(names)
    assert (built_toy / "_build" / "html" / "_downloads" / bundle.name).is_file()  # newest also at the root


def test_each_version_publishes_the_results_its_chapters_emitted(built_toy):
    """The ARD of a cutoff is what its executed notebooks emitted: on the version's site, beside the
    executed notebooks, and inside the bundle, the same bytes; the row carries its chapter and cell."""
    import pandas as pd

    from nscore.analyses import ard

    for cutoff in (CUTOFF,):
        site = built_toy / "_build" / "html" / "v" / cutoff / "ard" / f"ard-{cutoff}.csv"
        kept = built_toy / "_build" / "executed" / cutoff / f"ard-{cutoff}.csv"
        assert site.read_bytes() == kept.read_bytes()
        table = pd.read_csv(site)
        assert list(table.columns) == ard.COLUMNS
        row = table.set_index("analysis_id").loc["toy.total"]
        counts = list(csv.DictReader(open(built_toy / "data" / "cutoffs" / cutoff / "counts.csv")))
        assert row["value"] == sum(int(r["n"]) for r in counts) and row["chapter"] == "second"
        assert row["cutoff"] == cutoff and row["cell"] > 0
        assert pd.read_parquet(site.with_suffix(".parquet"))["value"].tolist() == table["value"].tolist()
        bundle = zipfile.ZipFile(site.parents[1] / "_downloads" / f"reviewer-bundle-{cutoff}.zip")
        assert bundle.read(f"ard/{site.name}") == site.read_bytes()


def test_rebuild_with_nothing_changed_executes_nothing(toy):
    before = tree_digest(toy / "chapters", toy / "_build" / "html")
    messages: list[str] = []
    report = pipeline.build(make_project(toy), progress=messages.append)
    assert report.executed == []
    assert sorted(report.skipped) == [(CUTOFF, "index"), (CUTOFF, "second")]
    assert all(r.reason.startswith("unchanged") for r in report.runs)
    assert report.sites_reused == [CUTOFF] and report.sites_built == []
    assert any("skipped  second" in m and "unchanged" in m for m in messages)
    after = tree_digest(toy / "chapters", toy / "_build" / "html")
    assert {k.replace(str(toy), ""): v for k, v in before.items()} == {k.replace(str(toy), ""): v for k, v in after.items()}


def test_editing_one_chapter_reexecutes_only_that_chapter(toy):
    src = toy / "chapters" / "src" / "second.md"
    src.write_text(src.read_text() + "\nOne more sentence of prose.\n")
    report = pipeline.build(make_project(toy), progress=lambda m: None)
    assert report.executed == [(CUTOFF, "second")]
    run = next(r for r in report.runs if r.chapter == "second")
    assert run.reason == "changed: source"
    assert report.sites_built == [CUTOFF]
    assert "One more sentence of prose." in (toy / "_build" / "html" / "chapters" / "second.html").read_text()


def test_force_reexecutes_everything_and_kernel_start_failures_are_retried(toy, monkeypatch):
    import papermill

    real = papermill.execute_notebook
    failed_once: set[str] = set()

    def flaky(input_path, *args, **kwargs):
        # the first start of each chapter's kernel fails as a port collision does
        if input_path not in failed_once:
            failed_once.add(input_path)
            raise RuntimeError("Kernel died before replying to kernel_info (Address already in use)")
        return real(input_path, *args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    messages: list[str] = []
    report = pipeline.build(make_project(toy), force=True, jobs=1, progress=messages.append)
    assert sorted(report.executed) == [(CUTOFF, "index"), (CUTOFF, "second")]
    assert {r.reason for r in report.runs} == {"forced"}
    assert sum("kernel start failed" in m for m in messages) == 2


def test_raising_chapter_names_chapter_and_cell_and_leaves_everything_untouched(toy):
    src = toy / "chapters" / "src" / "second.md"
    src.write_text(src.read_text() + '\n```{code-cell} ipython3\nraise ValueError("toy failure")\n```\n')
    before = tree_digest(toy / "chapters", toy / "_build" / "html", toy / "_build" / "executed")
    with pytest.raises(ChapterExecutionError) as info:
        pipeline.build(make_project(toy), progress=lambda m: None)
    err = info.value
    assert err.chapter == "second"
    assert err.ename == "ValueError" and "toy failure" in err.evalue
    assert 'raise ValueError("toy failure")' in err.source
    # source cells: 0 title markdown, 1 parameters, 2 imports, 3 barrier, 4 counts, 5 ARD rows,
    # 6 ARD emit, 7 prefix, 8 raising
    assert err.cell_index == 8
    assert "chapter 'second' failed in cell 8" in str(err)
    after = tree_digest(toy / "chapters", toy / "_build" / "html", toy / "_build" / "executed")
    assert before == after
    assert not list((toy / "_build").glob(".stage-*"))
    assert (toy / "_build" / "failed" / CUTOFF / "second.ipynb").is_file()  # kept for debugging


def test_sphinx_warning_fails_the_build_and_keeps_the_previous_site(toy):
    src = toy / "chapters" / "src" / "second.md"
    src.write_text(src.read_text() + "\nSee {doc}`no-such-page`.\n")
    before = tree_digest(toy / "chapters", toy / "_build" / "html")
    with pytest.raises(BuildError, match="no-such-page"):
        pipeline.build(make_project(toy), progress=lambda m: None)
    assert tree_digest(toy / "chapters", toy / "_build" / "html") == before
    # the chapter did execute: it is cached (not published), so the next build only rebuilds the site
    cached = json.loads((toy / "_build" / "executed" / CUTOFF / "second.ipynb").read_text())
    committed = json.loads((toy / "chapters" / "second.ipynb").read_text())
    assert cached["metadata"]["nscore"]["key"] != committed["metadata"]["nscore"]["key"]


def test_check_passes_after_build_and_catches_stale_outputs(toy):
    project = make_project(toy)
    assert pipeline.check(project) == []
    src = toy / "chapters" / "src" / "index.md"
    src.write_text(src.read_text().replace("Counts at every", "Group counts at every"))
    problems = pipeline.check(project)
    assert problems == [f"chapters/index.ipynb: stale for cutoff {CUTOFF} (changed: source); run `nscore build`"]
    (toy / "chapters" / "second.ipynb").unlink()
    (toy / "data" / "cutoffs" / CUTOFF / "counts.csv").write_text("group,n\nA,3\nB,5\n")
    problems = pipeline.check(project)
    assert any("counts.csv: sha256 differs from manifest.json" in p for p in problems)
    assert any(p.startswith("chapters/second.ipynb: missing") for p in problems)


def test_key_follows_declared_dependencies_and_data_scope(toy):
    project = make_project(toy)
    chapters = {c.name: c for c in project.chapters()}
    versions = {CUTOFF: "aaaa", "2026-01-01": "bbbb"}
    k_index, comps = pipeline.chapter_key(project, chapters["index"], "2026-01-01", versions)
    assert comps["data"] == versions  # nscore: {data: all} -> every cutoff up to the selected one
    _, comps2 = pipeline.chapter_key(project, chapters["second"], "2026-01-01", versions)
    assert comps2["data"] == {"2026-01-01": "bbbb"}
    src = toy / "chapters" / "src" / "second.md"
    src.write_text(src.read_text().replace("---\n\n# Second", "nscore:\n  depends: [extra.yml]\n---\n\n# Second"))
    _, c_missing = pipeline.chapter_key(project, chapters["second"], CUTOFF, versions)
    (toy / "extra.yml").write_text("a: 1\n")
    k1, c1 = pipeline.chapter_key(project, chapters["second"], CUTOFF, versions)
    (toy / "extra.yml").write_text("a: 2\n")
    k2, _ = pipeline.chapter_key(project, chapters["second"], CUTOFF, versions)
    assert c_missing["depends"] == {"extra.yml": "missing"} and c1["depends"]["extra.yml"] != "missing"
    assert k1 != k2
    assert pipeline.chapter_key(project, chapters["second"], CUTOFF, versions)[0] == k2  # deterministic


OTHER = "2024-06-01"
READ_OTHER_CELL = f'''
```{{code-cell}} ipython3
import toystore
from nscore.data import reads

if (Path(data_dir) / "cutoffs" / "{OTHER}").is_dir():  # as results reads the published cutoff
    reads.record("{OTHER}", toystore.ToyStore(Path(data_dir)).load("{OTHER}").version)
    print("{OTHER} present")
else:
    reads.record("{OTHER}", reads.ABSENT)
    print("{OTHER} absent")
```
'''


def _add_other_cutoff(root: Path) -> None:
    d = root / "data" / "cutoffs" / OTHER
    d.mkdir()
    (d / "counts.csv").write_text("group,n\nA,1\nB,1\n")
    toystore.write_manifest(d)


def test_every_cutoff_a_chapter_reads_is_in_its_key(toy):
    """A chapter reading a cutoff other than its own is stale once that cutoff is deleted (or comes
    back), `check` says so, and the next build re-executes it."""
    project = make_project(toy)
    src = toy / "chapters" / "src" / "second.md"
    src.write_text(src.read_text() + READ_OTHER_CELL)
    _add_other_cutoff(toy)
    pipeline.build(project, progress=lambda m: None)
    meta = json.loads((toy / "chapters" / "second.ipynb").read_text())["metadata"]["nscore"]
    other_version = toystore.ToyStore(toy / "data").load(OTHER).version
    assert meta["cutoff"] == CUTOFF
    assert meta["reads"] == {OTHER: other_version} == meta["key_components"]["reads"]
    assert pipeline.check(project) == []

    shutil.rmtree(toy / "data" / "cutoffs" / OTHER)
    problems = pipeline.check(project)
    assert f"chapters/second.ipynb: stale for cutoff {CUTOFF} (changed: reads); run `nscore build`" in problems
    report = pipeline.build(project, progress=lambda m: None)
    run = next(r for r in report.runs if (r.cutoff, r.chapter) == (CUTOFF, "second"))
    assert run.action == "executed" and run.reason == "changed: reads"
    nb = json.loads((toy / "chapters" / "second.ipynb").read_text())
    assert nb["metadata"]["nscore"]["reads"] == {OTHER: "absent"}
    assert f"{OTHER} absent" in json.dumps(nb["cells"])
    assert pipeline.check(project) == []
    again = pipeline.build(project, progress=lambda m: None)
    assert again.executed == []  # a recorded absence is a stable key

    _add_other_cutoff(toy)  # the cutoff comes back: the absence it recorded is stale too
    assert f"chapters/second.ipynb: stale for cutoff {CUTOFF} (changed: reads); run `nscore build`" in pipeline.check(project)


def test_good_update_stores_cutoff_and_publishes_both_versions(toy, tmp_path):
    new = tmp_path / "incoming"
    new.mkdir()
    (new / "counts.csv").write_text("group,n\nA,5\nB,6\nC,1\n")
    (new / "cutoff.txt").write_text("2025-06-01\n")
    report = pipeline.update(make_project(toy), new, progress=lambda m: None)
    assert (toy / "data" / "cutoffs" / "2025-06-01" / "manifest.json").is_file()
    # the old cutoff's notebooks and site come from the cache; both chapters run for the new one
    assert sorted(report.executed) == [("2025-06-01", "index"), ("2025-06-01", "second")]
    assert report.sites_reused == [CUTOFF] and report.sites_built == ["2025-06-01"]
    html = toy / "_build" / "html"
    for c in (CUTOFF, "2025-06-01"):
        assert (html / "v" / c / "chapters" / "second.html").is_file()
        assert (html / "_downloads" / f"reviewer-bundle-{c}.zip").is_file()
    # the newer version's site carries the older bundle; links ../v/<c>/ work inside versions too
    assert (html / "v" / "2025-06-01" / "_downloads" / f"reviewer-bundle-{CUTOFF}.zip").is_file()
    assert (html / "v" / "2025-06-01" / "v" / CUTOFF / "index.html").is_file()
    assert (html / "v" / CUTOFF / "v" / "2025-06-01" / "index.html").is_file()  # no broken version link
    assert json.loads((toy / "chapters" / "index.ipynb").read_text())["metadata"]["nscore"]["cutoff"] == "2025-06-01"
    landing = (html / "chapters" / "index.html").read_text()
    assert "2025-06-01 total 12" in landing and f"{CUTOFF} total 7" in landing  # data: all sees both
    assert pipeline.check(make_project(toy)) == []


def test_bad_update_changes_nothing(toy, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "counts.csv").write_text("group,n\nA,five\n")
    (bad / "cutoff.txt").write_text("2025-06-01\n")
    before = tree_digest(toy / "data", toy / "chapters", toy / "_build" / "html")
    with pytest.raises(DataValidationError) as info:
        pipeline.update(make_project(toy), bad, progress=lambda m: None)
    assert info.value.failures.to_dict("records")[0]["rule"] == "n is a non-negative integer"
    assert tree_digest(toy / "data", toy / "chapters", toy / "_build" / "html") == before


def test_chapters_follow_toc_order(toy):
    assert [(c.file, c.name) for c in make_project(toy).chapters()] == [
        ("chapters/index", "index"), ("chapters/second", "second")]


def test_a_second_concurrent_build_is_refused(toy, tmp_path, monkeypatch):
    """The lock comes first: a refused build or update validates no data."""
    import fcntl

    loaded = []

    class CountingStore(toystore.ToyStore):
        def load(self, cutoff):
            loaded.append(cutoff)
            return super().load(cutoff)

    project = pipeline.Project(toy, store=CountingStore(toy / "data"))
    new = tmp_path / "incoming"
    new.mkdir()
    (new / "counts.csv").write_text("group,n\nA,2\n")
    (new / "cutoff.txt").write_text("2025-06-01\n")
    with open(toy / "_build" / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(NscoreError, match="another nscore build is running"):
            pipeline.build(project, progress=lambda m: None)
        with pytest.raises(NscoreError, match="another nscore build is running"):
            pipeline.update(project, new, progress=lambda m: None)
        with pytest.raises(NscoreError, match="another nscore build is running"):
            pipeline.refresh(project, progress=lambda m: None)
    assert loaded == []
    assert not (toy / "data" / "cutoffs" / "2025-06-01").exists()


def test_front_matter_is_what_jupytext_reads(tmp_path):
    """chapter_meta reads the front matter itself (no jupytext import on every build): it must see
    the metadata jupytext gives the notebook, for every real chapter."""
    import jupytext

    project = pipeline.Project(Path(__file__).resolve().parents[1])
    for ch in project.chapters():
        nb = jupytext.read(project.source(ch), fmt="md:myst")
        ours = keys.front_matter(project.source(ch))
        assert ours.get("nscore") == nb.metadata.get("nscore"), ch.name
        assert ours["kernelspec"] == nb.metadata["kernelspec"], ch.name
    (tmp_path / "none.md").write_text("# No front matter\n")
    assert keys.front_matter(tmp_path / "none.md") == {}
    (tmp_path / "open.md").write_text("---\nnscore:\n  data: all\n# never closed\n")
    with pytest.raises(NscoreError, match="never closed"):
        keys.front_matter(tmp_path / "open.md")


# --------------------------------------------------------------------------------------------------
# issue 14: a delivery is stored only once the book builds on it
# --------------------------------------------------------------------------------------------------
def _fail_on_group(toy: Path, group: str) -> None:
    """Make the toy's second chapter raise on data holding ``group`` (a valid delivery it cannot handle)."""
    src = toy / "chapters" / "src" / "second.md"
    src.write_text(src.read_text() + (
        "\n```{code-cell} ipython3\n"
        f"if any(r['group'] == {group!r} for r in rows):\n"
        "    raise ValueError('the analysis cannot handle this delivery')\n"
        "```\n"))


def test_update_that_a_chapter_cannot_handle_is_not_stored(toy, tmp_path):
    _fail_on_group(toy, "Z")
    pipeline.build(make_project(toy), progress=lambda m: None)  # the edited chapter, on the old data
    new = tmp_path / "incoming"
    new.mkdir()
    (new / "counts.csv").write_text("group,n\nA,5\nZ,1\n")  # valid data
    (new / "cutoff.txt").write_text("2025-06-01\n")
    before = tree_digest(toy / "data", toy / "chapters", toy / "_build" / "html")
    messages: list[str] = []
    with pytest.raises(ChapterExecutionError) as info:
        pipeline.update(make_project(toy), new, progress=messages.append)
    assert info.value.chapter == "second" and "cannot handle this delivery" in str(info.value)
    assert any("NOT stored" in m for m in messages)
    assert tree_digest(toy / "data", toy / "chapters", toy / "_build" / "html") == before
    assert not (toy / "data" / "cutoffs" / "2025-06-01").exists()
    assert (toy / "_build" / "failed" / "2025-06-01" / "second.ipynb").is_file()  # kept for inspection
    assert not list((toy / "_build").glob(".update-*")), "staging left behind"
    assert not (toy / "_build" / "executed" / "2025-06-01").exists()
    # the store still builds: nothing was left half-stored
    assert pipeline.build(make_project(toy), progress=lambda m: None).executed == []


def test_update_executes_each_chapter_once_staged_then_reused(toy, tmp_path):
    new = tmp_path / "incoming"
    new.mkdir()
    (new / "counts.csv").write_text("group,n\nA,2\n")
    (new / "cutoff.txt").write_text("2025-06-01\n")
    messages: list[str] = []
    report = pipeline.update(make_project(toy), new, progress=messages.append)
    # executed once, in staging: the real build found the same keys in the cache
    assert sorted(report.executed) == [("2025-06-01", "index"), ("2025-06-01", "second")]
    assert sum("finished" in m and "[2025-06-01]" in m for m in messages) == 2
    assert any("skipped  index [2025-06-01]" in m for m in messages)
    assert (toy / "data" / "cutoffs" / "2025-06-01" / "manifest.json").is_file()
    assert "2025-06-01 total 2" in (toy / "_build" / "html" / "chapters" / "index.html").read_text()
    assert not list((toy / "_build").glob(".update-*"))
    assert pipeline.check(make_project(toy)) == []


def test_the_build_alone_names_the_validation_cache(tmp_path, monkeypatch):
    """The project's store validates through the build's cache (``_build/cache``) and chapter
    kernels get the same place; the suite's NSCORE_CACHE_DIR (tests/conftest.py) moves it out of
    the checkout."""
    from nscore.build.store import VersionsStore
    from nscore.data import cache

    root = tmp_path / "book"
    root.mkdir()
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapters/index\n")
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    project = pipeline.Project(root)
    store = project.data_store()
    assert isinstance(store, VersionsStore) and store.cache_dir == root / "_build" / "cache"
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "elsewhere"))
    assert pipeline.Project(root).data_store().cache_dir == tmp_path / "elsewhere"
