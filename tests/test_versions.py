"""The data store: a good delivery becomes a new cutoff directory with a manifest; a bad one changes
nothing at all; re-storing is idempotent; a different version is refused unless replaced; and a
stored file that no longer matches its manifest is caught on load."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import zipfile
from datetime import date
from pathlib import Path

import pytest

from conftest import PROJECT, SMALL_N, edit
from nscore.data import cache, versions
from nscore.errors import DataValidationError, NscoreError, StaleOutputError
from nscore.data.load import DATASETS, load_cohort


def tree_hash(root: Path) -> str:
    """One hash over every path, file byte and file mtime under ``root`` (or of its absence)."""
    digest = hashlib.sha256()
    if not root.exists():
        return "absent"
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
            digest.update(str(path.stat().st_mtime_ns).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def later_frames():
    from nscore.data.simulate import simulate_cohort

    return simulate_cohort(n=SMALL_N, cutoff=date(2026, 2, 1))


@pytest.fixture
def later_dir(tmp_path, later_frames) -> Path:
    from nscore.data.simulate import write_cohort

    directory = tmp_path / "later"
    write_cohort(later_frames, directory)
    return directory


@pytest.fixture
def store_root(tmp_path) -> Path:
    return tmp_path / "data"


def break_it(directory: Path) -> None:
    def grade_6(frame):
        frame.loc[0, "AETOXGR"] = "6"

    edit(directory, "adae", grade_6)


# --------------------------------------------------------------------------------------------
# storing
# --------------------------------------------------------------------------------------------
def test_store_good_delivery(valid_dir, store_root):
    target = versions.store(valid_dir, store_root)
    assert target == store_root / "cutoffs" / "2025-08-01"
    names = sorted(p.name for p in target.iterdir())
    delivered = sorted(p.name for p in valid_dir.iterdir())  # the datasets, source.json and study.yml
    assert {f"{d}.csv" for d in DATASETS} | {"source.json", "study.yml"} <= set(delivered)
    assert names == sorted(delivered + ["manifest.json"])
    for name in names:
        if name != "manifest.json":
            assert (target / name).read_bytes() == (valid_dir / name).read_bytes(), name
    cohort = load_cohort(valid_dir)
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest == {
        "cutoff": "2025-08-01",
        "version": cohort.version,
        "files": {
            f"{d}.csv": {
                "sha256": hashlib.sha256((valid_dir / f"{d}.csv").read_bytes()).hexdigest(),
                "rows": (valid_dir / f"{d}.csv").read_bytes().count(b"\n") - 1,
            }
            for d in DATASETS
        } | {"study.yml": {"sha256": hashlib.sha256((valid_dir / "study.yml").read_bytes()).hexdigest(),
                           "rows": len(cohort.study.diagnoses)}},  # a study file's "rows": its diagnoses
        "source": json.loads((valid_dir / "source.json").read_text()),
    }
    assert not [p for p in (store_root / "cutoffs").iterdir() if p.name.startswith(".")]


def test_manifest_bytes_are_deterministic(valid_dir, tmp_path):
    a = versions.store(valid_dir, tmp_path / "a")
    b = versions.store(valid_dir, tmp_path / "b")
    text = (a / "manifest.json").read_text()
    assert text == (b / "manifest.json").read_text()
    assert text.endswith("}\n") and text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert versions.manifest(a) == json.loads(text)


def test_store_bad_delivery_changes_nothing(valid_dir, later_dir, store_root):
    versions.store(valid_dir, store_root)
    before = tree_hash(store_root)
    break_it(later_dir)
    with pytest.raises(DataValidationError) as info:
        versions.store(later_dir, store_root)
    assert info.value.failures["rule"].tolist() == ["in_range"]
    assert tree_hash(store_root) == before
    assert versions.list_cutoffs(store_root) == [date(2025, 8, 1)]


def test_store_bad_delivery_creates_no_store(valid_dir, store_root):
    break_it(valid_dir)
    with pytest.raises(DataValidationError, match=r"^\S+: data validation failed: 1 problem\(s\)\n") as info:
        versions.store(valid_dir, store_root)
    assert info.value.failures[["file", "row", "column", "rule"]].values.tolist() == [["adae.csv", 1, "AETOXGR", "in_range"]]
    assert not store_root.exists()


def test_identical_restore_is_a_no_op(valid_dir, store_root):
    first = versions.store(valid_dir, store_root)
    before = tree_hash(store_root)
    assert versions.store(valid_dir, store_root) == first
    assert tree_hash(store_root) == before


def test_different_version_of_a_stored_cutoff_is_refused(valid_dir, store_root):
    target = versions.store(valid_dir, store_root)
    before = tree_hash(store_root)
    old_version = load_cohort(target).version
    (valid_dir / "adrs.csv").write_bytes((valid_dir / "adrs.csv").read_bytes().replace(b"POSITIVE", b"NEGATIVE"))
    with pytest.raises(NscoreError, match=f"already stored as version {old_version}"):
        versions.store(valid_dir, store_root)
    assert tree_hash(store_root) == before


def test_replace_swaps_the_version_whole(valid_dir, store_root):
    target = versions.store(valid_dir, store_root)
    (valid_dir / "adrs.csv").write_bytes((valid_dir / "adrs.csv").read_bytes().replace(b"POSITIVE", b"NEGATIVE"))
    new_version = load_cohort(valid_dir).version
    assert versions.store(valid_dir, store_root, replace=True) == target
    assert versions.load(store_root).version == new_version
    assert (target / "adrs.csv").read_bytes() == (valid_dir / "adrs.csv").read_bytes()
    assert sorted(p.name for p in (store_root / "cutoffs").iterdir()) == ["2025-08-01"]


def test_two_cutoffs_and_latest(valid_dir, later_dir, store_root):
    versions.store(later_dir, store_root)
    versions.store(valid_dir, store_root)
    (store_root / "cutoffs" / ".incoming-leftover").mkdir()
    (store_root / "cutoffs" / "notes").mkdir()
    assert versions.list_cutoffs(store_root) == [date(2025, 8, 1), date(2026, 2, 1)]
    assert versions.cutoff_dir(store_root) == store_root / "cutoffs" / "2026-02-01"
    assert versions.load(store_root).cutoff == date(2026, 2, 1)
    assert versions.load(store_root, "2025-08-01").cutoff == date(2025, 8, 1)
    assert versions.load(store_root, date(2025, 8, 1)).cutoff == date(2025, 8, 1)
    # a page built for a cutoff sees the history up to it, never a later delivery
    assert versions.list_cutoffs(store_root, until="2025-08-01") == [date(2025, 8, 1)]
    assert versions.list_cutoffs(store_root, until=date(2026, 1, 31)) == [date(2025, 8, 1)]
    assert versions.list_cutoffs(store_root, until="2026-02-01") == [date(2025, 8, 1), date(2026, 2, 1)]


def test_unknown_cutoff_lists_what_is_stored(valid_dir, store_root):
    with pytest.raises(NscoreError, match="no data cutoffs stored"):
        versions.cutoff_dir(store_root)
    versions.store(valid_dir, store_root)
    with pytest.raises(NscoreError, match=r"stored: 2025-08-01"):
        versions.cutoff_dir(store_root, "2024-01-01")
    with pytest.raises(NscoreError, match="'latest' or a date"):
        versions.cutoff_dir(store_root, "yesterday")


def _zip(src: Path, archive: Path, folder: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.iterdir()):
            zf.write(path, f"{folder}{path.name}")
    return archive


def test_store_from_zip_and_tar_gz(valid_dir, later_dir, tmp_path, store_root):
    versions.store(_zip(valid_dir, tmp_path / "delivery.zip", folder="export/"), store_root)
    archive = tmp_path / "later.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for path in sorted(later_dir.iterdir()):
            tf.add(path, arcname=path.name)
    target = versions.store(archive, store_root)
    assert (target / "adsl.csv").read_bytes() == (later_dir / "adsl.csv").read_bytes()
    assert versions.list_cutoffs(store_root) == [date(2025, 8, 1), date(2026, 2, 1)]


def test_bad_archive_changes_nothing(valid_dir, tmp_path, store_root):
    break_it(valid_dir)
    with pytest.raises(DataValidationError, match=r"^\S+: data validation failed: 1 problem\(s\)\n") as info:
        versions.store(_zip(valid_dir, tmp_path / "bad.zip"), store_root)
    assert info.value.failures[["file", "row", "column", "rule"]].values.tolist() == [["adae.csv", 1, "AETOXGR", "in_range"]]
    assert not store_root.exists()


def test_archive_escaping_its_folder_is_refused(tmp_path, store_root):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../evil.csv", "x\n")
    with pytest.raises(NscoreError, match="unsafe path"):
        versions.store(archive, store_root)
    assert not (tmp_path / "evil.csv").exists() and not store_root.exists()


def test_not_an_archive(tmp_path, store_root):
    (tmp_path / "data.txt").write_text("hello")
    with pytest.raises(NscoreError, match="not a directory"):
        versions.store(tmp_path / "data.txt", store_root)


# --------------------------------------------------------------------------------------------
# manifests on load
# --------------------------------------------------------------------------------------------
def test_tampered_file_is_caught(valid_dir, store_root):
    target = versions.store(valid_dir, store_root)
    path = target / "adsl.csv"
    path.write_bytes(path.read_bytes().replace(b",M,", b",F,", 1))
    with pytest.raises(StaleOutputError) as info:
        versions.load(store_root)
    assert len(info.value.problems) == 1 and str(path) in info.value.problems[0]


def test_tampered_manifest_is_caught(valid_dir, store_root):
    target = versions.store(valid_dir, store_root)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["files"]["adae.csv"]["rows"] += 1
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StaleOutputError, match="adae.csv"):
        versions.load(store_root)


def test_missing_manifest_and_extra_file_are_caught(valid_dir, store_root):
    target = versions.store(valid_dir, store_root)
    (target / "manifest.json").unlink()
    with pytest.raises(StaleOutputError, match="manifest.json: missing"):
        versions.load(store_root)
    versions.write_manifest(target)
    versions.load(store_root)
    (target / "adsl.xpt").write_bytes(b"")
    with pytest.raises(StaleOutputError, match="adsl.xpt: not listed"):
        versions.load(store_root)


def test_restore_repairs_a_missing_manifest_only(valid_dir, store_root):
    target = versions.store(valid_dir, store_root)
    data_before = {p.name: p.read_bytes() for p in target.iterdir() if p.name != "manifest.json"}
    manifest = (target / "manifest.json").read_bytes()
    (target / "manifest.json").unlink()
    versions.store(valid_dir, store_root)
    assert (target / "manifest.json").read_bytes() == manifest
    assert {p.name: p.read_bytes() for p in target.iterdir() if p.name != "manifest.json"} == data_before


# --------------------------------------------------------------------------------------------
# where the store is
# --------------------------------------------------------------------------------------------
def test_project_root_walks_up(tmp_path, monkeypatch):
    assert versions.project_root(PROJECT / "nscore") == PROJECT
    monkeypatch.chdir(PROJECT / "nscore")
    assert versions.project_root() == PROJECT
    with pytest.raises(NscoreError, match="_toc.yml"):
        versions.project_root(tmp_path)


def test_relative_data_dir_resolves_against_cwd_then_project(tmp_path, monkeypatch):
    (tmp_path / "mydata").mkdir()
    monkeypatch.chdir(tmp_path)
    assert versions.resolve_data_dir("mydata") == tmp_path / "mydata"
    assert versions.resolve_data_dir(tmp_path / "elsewhere") == tmp_path / "elsewhere"
    monkeypatch.chdir(PROJECT / "nscore" / "report")  # a project directory without a data/ of its own
    assert versions.resolve_data_dir("data") == PROJECT / "data"


def test_shipped_cutoffs_load_from_a_chapter_directory(shipped_dir, monkeypatch):
    monkeypatch.chdir(PROJECT / "chapters")
    stored = versions.list_cutoffs("data")
    assert stored[:2] == [date(2025, 8, 1), date(2026, 2, 1)]
    for cutoff in stored:
        cohort = versions.load("data", cutoff)
        assert cohort.simulated is True and cohort.cutoff == cutoff
        assert json.loads((versions.cutoff_dir("data", cutoff) / "manifest.json").read_text())["version"] == cohort.version
    assert os.getcwd() == str(PROJECT / "chapters")


def test_shipped_manifests_are_what_store_would_write(shipped_dir):
    for cutoff in versions.list_cutoffs(PROJECT / "data"):
        directory = versions.cutoff_dir(PROJECT / "data", cutoff)
        expected = json.dumps(versions.manifest(directory), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        assert (directory / "manifest.json").read_text(encoding="utf-8") == expected


def test_readme_row_counts_match_the_shipped_manifests(shipped_dir):
    """data/README.md states row counts per shipped cutoff; they must be the files' counts."""
    readme = (PROJECT / "data" / "README.md").read_text(encoding="utf-8")
    for cutoff in versions.list_cutoffs(PROJECT / "data"):
        files = versions.read_manifest(versions.cutoff_dir(PROJECT / "data", cutoff))["files"]
        rows = " | ".join(str(files[f"{d}.csv"]["rows"]) for d in DATASETS)
        assert f"| {cutoff.isoformat()} | {rows} |" in readme


# --------------------------------------------------------------------------------------------
# the build's cache of validated cohorts (nscore.data.cache)
# --------------------------------------------------------------------------------------------
def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def counted_validation(monkeypatch):
    """Each real validation of a stored cutoff (``load_cohort`` called by check_manifest)."""
    from nscore.data import load as load_module

    calls = []
    real = load_module.load_cohort
    monkeypatch.setattr(versions, "load_cohort", lambda d, **kw: calls.append(d) or real(d, **kw))
    return calls


def test_plain_load_reads_and_writes_no_cache(valid_dir, store_root, monkeypatch, counted_validation):
    """Without a cache directory (a notebook by hand, a script) a load validates and writes nothing."""
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    stored = versions.store(valid_dir, store_root)
    counted_validation.clear()  # the store's own validation
    before = files_under(store_root.parent)
    versions.load(store_root)
    versions.load(store_root)
    assert len(counted_validation) == 2
    assert files_under(store_root.parent) == before


def test_shipped_load_writes_nothing_in_the_checkout(shipped_dir, monkeypatch):
    """The old cache place, _build/cache/validated in the checkout, is never written by a read."""
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    old_place = PROJECT / "_build" / "cache" / "validated"
    before = files_under(old_place) if old_place.is_dir() else set()
    store_before = tree_hash(shipped_dir)
    versions.load(PROJECT / "data", shipped_dir.name)
    assert (files_under(old_place) if old_place.is_dir() else set()) == before
    assert tree_hash(shipped_dir) == store_before


def test_cache_hit_serves_the_same_cohort_and_writes_only_in_the_cache_dir(
        valid_dir, store_root, tmp_path, monkeypatch, counted_validation):
    import pandas.testing as pdt

    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    stored = versions.store(valid_dir, store_root)
    counted_validation.clear()  # the store's own validation
    cache_dir = tmp_path / "build-cache"
    before = files_under(tmp_path)
    first = versions.load(store_root, cache_dir=cache_dir)
    assert len(counted_validation) == 1
    new = files_under(tmp_path) - before
    assert len(new) == 1 and all(n.startswith("build-cache/validated/2025-08-01-") and n.endswith(".pickle")
                                 for n in new)
    assert files_under(tmp_path) - new == before  # nothing else written, nothing removed

    again = versions.load(store_root, cache_dir=cache_dir)
    assert len(counted_validation) == 1  # served from the cache
    for name in ("adsl", "adrs", "adtte", "adae"):
        pdt.assert_frame_equal(getattr(again, name), getattr(first, name))
    assert (again.version, again.cutoff, again.source, again.files) == (first.version, first.cutoff, stored, first.files)

    # the environment variable the build sets for its chapter kernels is the same cache
    monkeypatch.setenv(cache.ENV_VAR, str(cache_dir))
    versions.load(store_root)
    assert len(counted_validation) == 1
    assert len(files_under(cache_dir)) == 1


@pytest.mark.parametrize("component", ["pandas", "numpy", "pandera", "pyarrow", "python"])
def test_cache_misses_when_a_package_or_python_changes(component, valid_dir, store_root, tmp_path,
                                                       monkeypatch, counted_validation):
    versions.store(valid_dir, store_root)
    counted_validation.clear()  # the store's own validation
    versions.load(store_root, cache_dir=tmp_path / "c")
    real = cache._versions()
    assert component in real
    monkeypatch.setattr(cache, "_versions", lambda: {**real, component: real[component] + "-other"})
    versions.load(store_root, cache_dir=tmp_path / "c")
    assert len(counted_validation) == 2
    assert len(files_under(tmp_path / "c")) == 2


def test_cache_misses_when_the_validation_code_changes(valid_dir, store_root, tmp_path, monkeypatch,
                                                       counted_validation):
    versions.store(valid_dir, store_root)
    counted_validation.clear()  # the store's own validation
    versions.load(store_root, cache_dir=tmp_path / "c")
    code = cache._code_files()
    names = {f"{p.parent.name}/{p.name}" for p in code}
    assert {"data/schema.py", "data/load.py", "data/study.py", "data/versions.py", "nscore/errors.py"} <= names
    changed = tmp_path / "schema.py"
    changed.write_text(code[0].read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    # the same file names, one file's bytes changed
    monkeypatch.setattr(cache, "_code_files", lambda: [changed if p == code[0] else p for p in code])
    versions.load(store_root, cache_dir=tmp_path / "c")
    assert len(counted_validation) == 2


def test_cache_misses_when_the_manifest_bytes_change(valid_dir, store_root, tmp_path, counted_validation):
    stored = versions.store(valid_dir, store_root)
    counted_validation.clear()  # the store's own validation
    versions.load(store_root, cache_dir=tmp_path / "c")
    manifest = stored / versions.MANIFEST
    manifest.write_text(json.dumps(json.loads(manifest.read_text(encoding="utf-8")), indent=4), encoding="utf-8")
    versions.load(store_root, cache_dir=tmp_path / "c")  # same content, other bytes: validated again
    assert len(counted_validation) == 2


def test_edited_data_is_never_served_from_the_cache(valid_dir, store_root, tmp_path, counted_validation):
    stored = versions.store(valid_dir, store_root)
    counted_validation.clear()  # the store's own validation
    versions.load(store_root, cache_dir=tmp_path / "c")
    adsl = stored / "adsl.csv"
    adsl.write_bytes(adsl.read_bytes().replace(b",M,", b",F,", 1))
    with pytest.raises(StaleOutputError, match=r"adsl\.csv: sha256 [0-9a-f]{12}\.\.\. does not match manifest\.json"):
        versions.load(store_root, cache_dir=tmp_path / "c")


def test_damaged_cache_entry_is_validated_again_and_replaced(valid_dir, store_root, tmp_path, counted_validation):
    versions.store(valid_dir, store_root)
    counted_validation.clear()  # the store's own validation
    versions.load(store_root, cache_dir=tmp_path / "c")
    (entry,) = (tmp_path / "c" / cache.SUBDIR).iterdir()
    entry.write_bytes(b"not a pickle")
    cohort = versions.load(store_root, cache_dir=tmp_path / "c")
    assert len(counted_validation) == 2 and cohort.cutoff == date(2025, 8, 1)
    assert cache.get(entry).version == cohort.version  # overwritten with the fresh validation


def test_store_leaves_its_validation_for_the_next_load(valid_dir, store_root, tmp_path, counted_validation):
    """``nscore update`` validates a delivery once: the build's load reuses the store's validation
    (given the build's cache dir), and gets the same cohort a fresh validation of the stored files gives."""
    import pandas.testing as pdt

    from nscore.data import load as load_module

    stored = versions.store(valid_dir, store_root, cache_dir=tmp_path / "c")
    counted_validation.clear()  # the store's own validation
    from_store = versions.load(store_root, cache_dir=tmp_path / "c")
    assert counted_validation == []
    assert from_store.source == stored
    fresh = load_module.load_cohort(stored)
    for name in ("adsl", "adrs", "adtte", "adae"):
        pdt.assert_frame_equal(getattr(from_store, name), getattr(fresh, name))
    assert (from_store.version, from_store.cutoff, from_store.simulated, from_store.files) == \
        (fresh.version, fresh.cutoff, fresh.simulated, fresh.files)


def test_store_without_a_cache_dir_writes_only_the_store(valid_dir, store_root, tmp_path, monkeypatch):
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    before = files_under(tmp_path)
    stored = versions.store(valid_dir, store_root)
    assert {n for n in files_under(tmp_path) - before} == {
        str(p.relative_to(tmp_path)) for p in stored.iterdir()}
