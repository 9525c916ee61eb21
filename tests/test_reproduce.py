"""Reviewer bundles that reproduce (issue 16, item 5): what a bundle holds, and ``nscore reproduce``.

The bundles under test are built the way the pipeline builds them (:func:`nscore.build.site.write_bundle`,
full and public)
for the newest shipped cutoff, from a copy of the project: the chapters the reproduction tests
re-execute (:data:`SUBSET`) are taken from the committed notebooks when their keys are current, else
executed in the copy first, so the bundle is self-consistent while the sources are being edited. The
whole book is reproduced by hand (the closing check), the tests re-execute :data:`SUBSET` only.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from nscore import cli
from nscore.analyses import ard
from nscore.build import reproduce, site
from nscore.build.keys import CodeHashes, chapter_key, is_current
from nscore.build.project import BOOK_FILES, Project
from nscore.build.store import VersionsStore

PROJECT = Path(__file__).resolve().parents[1]
CUTOFF = "2026-02-01"
EARLIER = "2025-08-01"
SUBSET = ["results", "safety"]
#: The chapter the tampered bundle is reproduced with (it shows the cohort by trial and diagnosis).
TAMPER_CHAPTER = "background"
NSCORE = [sys.executable, "-m", "nscore"]


def _copy_project(dest: Path) -> Project:
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in (*BOOK_FILES, "pyproject.toml", "requirements.txt", "requirements.lock"):
        if (PROJECT / name).is_file():
            shutil.copy2(PROJECT / name, dest / name)
    for name in ("chapters", "nscore", "data"):
        shutil.copytree(PROJECT / name, dest / name, ignore=ignore)
    return Project(dest)


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Project:
    return _copy_project(tmp_path_factory.mktemp("copy") / "project")


def _write(project: Project, notebooks: dict[str, Path], zpath: Path, public: bool = False) -> Path:
    chapters = project.checked_chapters()
    rows = ard.combine(ard.read_notebook(notebooks[ch.name]) for ch in chapters)
    results = ard.write(rows, zpath.parent / f"{zpath.stem}-ard", stem=f"ard-{CUTOFF}")
    site.write_bundle(project, zpath, CUTOFF, notebooks, chapters, results, public=public)
    return zpath


@pytest.fixture(scope="module")
def raw_bundle(project_copy, tmp_path_factory) -> Path:
    """The bundle of the copy's committed notebooks as they are (its checks need no execution)."""
    notebooks = {ch.name: project_copy.notebook(ch) for ch in project_copy.checked_chapters()}
    zpath = _write(project_copy, notebooks, tmp_path_factory.mktemp("raw") / f"reviewer-bundle-{CUTOFF}.zip")
    again = _write(project_copy, notebooks, zpath.parent / "again.zip")
    assert again.read_bytes() == zpath.read_bytes()  # the same inputs give the same bytes
    return zpath


@pytest.fixture(scope="module")
def public_raw(project_copy, tmp_path_factory) -> Path:
    """The public bundle (no patient-level data) of the copy's committed notebooks as they are."""
    notebooks = {ch.name: project_copy.notebook(ch) for ch in project_copy.checked_chapters()}
    return _write(project_copy, notebooks, tmp_path_factory.mktemp("public") / f"reviewer-bundle-{CUTOFF}.zip",
                  public=True)


@pytest.fixture(scope="module")
def bundle(consistent) -> Path:
    return consistent[0]


@pytest.fixture(scope="module")
def public_bundle(consistent) -> Path:
    return consistent[1]


@pytest.fixture(scope="module")
def consistent(project_copy, tmp_path_factory) -> tuple[Path, Path]:
    """``reviewer-bundle-2026-02-01.zip`` of the copy, full and public, self-consistent for :data:`SUBSET`
    and the tamper chapter: their committed notebooks when current, else executed in the copy first."""
    project = project_copy
    chapters = project.checked_chapters()
    store = VersionsStore(project.data_path, project.cache_dir)
    data_versions = {c: store.load(c).version for c in store.cutoffs()}
    hashes = CodeHashes.of(project)
    notebooks = {ch.name: project.notebook(ch) for ch in chapters}
    stale = [ch for ch in chapters if ch.name in (*SUBSET, TAMPER_CHAPTER) and not is_current(
        project.notebook(ch), chapter_key(project, ch, CUTOFF, data_versions, hashes=hashes)[1], data_versions)]
    if stale:  # the committed notebooks are behind the sources being edited: execute them here
        executed, _ = reproduce.execute_chapters(project, CUTOFF, stale, progress=lambda _: None)
        notebooks.update(executed)
    name = f"reviewer-bundle-{CUTOFF}.zip"
    return (_write(project, notebooks, tmp_path_factory.mktemp("bundle") / name),
            _write(project, notebooks, tmp_path_factory.mktemp("public") / name, public=True))


def _contents(zpath: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zpath) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _rezip(contents: dict[str, bytes], zpath: Path) -> Path:
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in contents.items():
            z.writestr(name, data)
    return zpath


def _rehash(contents: dict[str, bytes], names) -> None:
    """Update MANIFEST.json for the changed files ``names``, as someone tampering thoroughly would."""
    import hashlib

    manifest = json.loads(contents[reproduce.MANIFEST])
    for name in names:
        manifest["files"][name] = {"sha256": hashlib.sha256(contents[name]).hexdigest(), "bytes": len(contents[name])}
    contents[reproduce.MANIFEST] = json.dumps(manifest, indent=1, sort_keys=True).encode()


def _tampered(bundle: Path, dest: Path, *, update_hashes: bool) -> Path:
    """The bundle with one value changed: the first patient's diagnosis in adsl (T-ALL -> T-LBL, in a
    trial that enrols both, so the data stay valid).

    With ``update_hashes`` the cutoff's data manifest is rewritten for the new file (a new data
    version) and MANIFEST.json updated; without, the hashes are left stale.
    """
    from nscore.data import versions

    contents = _contents(bundle)
    name = f"data/cutoffs/{CUTOFF}/adsl.csv"
    lines = contents[name].decode().split("\n")
    header = lines[0].split(",")
    cells = lines[1].split(",")
    diag = header.index("DIAG")
    assert cells[diag] == "T-ALL" and cells[header.index("STUDYID")] == "NCT04572308"
    cells[diag] = "T-LBL"
    lines[1] = ",".join(cells)
    contents[name] = "\n".join(lines).encode()
    if update_hashes:
        data = dest.parent / f"{dest.stem}-data"
        prefix = f"data/cutoffs/{CUTOFF}/"
        for member, payload in contents.items():
            if member.startswith(prefix):
                (data / member[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
                (data / member[len(prefix):]).write_bytes(payload)
        (data / "manifest.json").unlink()
        versions.write_manifest(data)
        contents[prefix + "manifest.json"] = (data / "manifest.json").read_bytes()
        _rehash(contents, [name, prefix + "manifest.json"])
    return _rezip(contents, dest)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*NSCORE, "reproduce", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


# --------------------------------------------------------------------------------------------- content
def test_bundle_holds_data_sources_code_lock_and_readme(raw_bundle):
    bundle = raw_bundle
    contents = _contents(bundle)
    names = set(contents)
    for c in (CUTOFF, EARLIER):  # pages compare versions: the earlier cutoff is read too
        assert {f"data/cutoffs/{c}/{f}" for f in ("adsl.csv", "adtte.csv", "study.yml", "source.json",
                                                 "manifest.json")} <= names
    assert {"data/study.yml", "data/experts.yml", "chapters/src/results.md", "chapters/src/index.md", "_toc.yml",
            "_config.yml", "references.bib", "nscore/__init__.py", "nscore/build/reproduce.py", "pyproject.toml",
            "requirements.txt", "requirements.lock", "README.md", "MANIFEST.json",
            f"ard/ard-{CUTOFF}.csv", f"ard/ard-{CUTOFF}.parquet", f"ard/ard-{CUTOFF}-dictionary.csv",
            "notebooks/results.ipynb"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("_static/", "tests/"))]
    manifest = json.loads(contents["MANIFEST.json"])
    assert manifest["cutoff"] == CUTOFF and set(manifest["files"]) == names - {"MANIFEST.json"}
    import hashlib

    assert all(hashlib.sha256(contents[n]).hexdigest() == e["sha256"] for n, e in manifest["files"].items())
    readme = contents["README.md"].decode()
    assert "pip install -r requirements.txt" in readme and "nscore reproduce ." in readme
    assert "-e ." in contents["requirements.txt"].decode().split("\n")  # installs the bundle's own nscore
    assert bundle.stat().st_size < 8 * 1024 ** 2
    with zipfile.ZipFile(bundle) as z:
        assert {i.date_time for i in z.infolist()} == {reproduce.ZIP_TIME}


def test_the_public_bundle_holds_no_patient_rows(public_raw, raw_bundle):
    """The site's bundle: the full one minus the patient-level files, which MANIFEST.json lists by hash
    only; each cutoff's data manifest, study.yml and source.json stay; the privacy scan finds nothing
    in it (and does find the full bundle's rows, so the scan is worth something)."""
    from test_privacy import TEXT_SUFFIXES, find_leaks, load_reference

    public, full = _contents(public_raw), _contents(raw_bundle)
    dropped = {n for n in full if n.startswith("data/cutoffs/") and n.rsplit("/", 1)[1] not in reproduce.DATA_KEPT}
    assert {f"data/cutoffs/{c}/{f}" for c in (CUTOFF, EARLIER) for f in ("adsl.csv", "adtte.csv", "adae.csv")} <= dropped
    assert not dropped & set(public) and not [n for n in public if Path(n).name.startswith("ad") and n.endswith(".csv")]
    assert set(public) == set(full) - dropped  # the same bundle otherwise (its README and MANIFEST differ)
    assert all(public[n] == full[n] for n in set(public) - {"README.md", "MANIFEST.json"})
    assert {f"data/cutoffs/{c}/{f}" for c in (CUTOFF, EARLIER) for f in reproduce.DATA_KEPT} <= set(public)
    manifest = json.loads(public["MANIFEST.json"])
    assert manifest["patient_data"] == "omitted" and set(manifest["omitted"]) == dropped
    data_manifest = json.loads(public[f"data/cutoffs/{CUTOFF}/manifest.json"])
    assert manifest["omitted"][f"data/cutoffs/{CUTOFF}/adsl.csv"]["sha256"] == data_manifest["files"]["adsl.csv"]["sha256"]
    assert json.loads(full["MANIFEST.json"])["patient_data"] == "included"
    readme = public["README.md"].decode()
    assert "does NOT include the patient-level data" in readme and "--data" in readme
    ref = load_reference(PROJECT / "data")
    leaks = [x for n, b in public.items() if Path(n).suffix in TEXT_SUFFIXES  # as test_privacy reads the site's zips
             for x in find_leaks(f"bundle!{n}", b.decode("utf-8", "replace"), ref)]
    assert leaks == []
    assert find_leaks("full!adsl", full[f"data/cutoffs/{CUTOFF}/adsl.csv"].decode(), ref)


def test_the_kernels_import_the_bundles_nscore(raw_bundle, tmp_path):
    bundle = raw_bundle
    root = tmp_path / "unpacked"
    manifest = reproduce.open_bundle(bundle, root)
    reproduce.verify(root, manifest, str(bundle))
    assert root.resolve() in reproduce.kernel_nscore(root).parents


def test_an_unpacked_directory_is_read_for_its_listed_files_only(raw_bundle, tmp_path):
    bundle = raw_bundle
    unpacked = tmp_path / "review"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(unpacked)
    (unpacked / ".venv").mkdir()
    (unpacked / ".venv" / "junk.py").write_text("x = 1\n")
    (unpacked / "nscore.egg-info").mkdir()  # what `pip install -e .` leaves
    root = tmp_path / "copy"
    manifest = reproduce.open_bundle(unpacked, root)
    reproduce.verify(root, manifest, str(unpacked))
    assert not (root / ".venv").exists() and not (root / "nscore.egg-info").exists()


# ------------------------------------------------------------------------------------------ reproduce
def test_reproduce_from_an_empty_directory_reports_no_difference(bundle, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _run([str(bundle), "--chapters", ",".join(SUBSET)], empty)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "statistics reproduced, 0 differences" in done.stdout
    n = int(done.stdout.split(" statistics reproduced")[0].split()[-1])
    published = pd.read_parquet(io.BytesIO(_contents(bundle)[f"ard/ard-{CUTOFF}.parquet"]))
    assert n == published["chapter"].isin(SUBSET).sum() > 500
    assert "the bundle's nscore" in done.stdout
    assert list(empty.iterdir()) == []  # nothing written where it ran


def test_a_tampered_value_reports_the_numbers_that_moved(bundle, tmp_path):
    bad = _tampered(bundle, tmp_path / "tampered.zip", update_hashes=True)
    done = _run([str(bad), "--chapters", TAMPER_CHAPTER], tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "0 differences" not in out and "changed" in out
    published = pd.read_parquet(io.BytesIO(_contents(bundle)[f"ard/ard-{CUTOFF}.parquet"]))
    published = published[(published["analysis_id"] == "cohort.by_trial") & (published["stat"] == "n")]
    moved = {"NCT04572308,T-ALL": -1, "NCT04572308,T-LBL": 1, "Total,T-ALL": -1, "Total,T-LBL": 1}
    for level, delta in moved.items():  # one patient moved from T-ALL to T-LBL in the first trial
        row = next(ln for ln in out.splitlines() if f"cohort.by_trial|STUDYID,DIAG={level}|n " in ln)
        was = published.loc[published["group_level"] == level, "value"].item()
        assert row.split()[-3:] == [f"{was:g}", f"{was + delta:g}", "changed"]
    assert "4 differences (4 changed, 0 dropped, 0 added" in out
    assert "note: the data version differs" in out
    assert "Traceback" not in done.stderr


def test_a_stale_hash_is_a_one_line_error(raw_bundle, tmp_path):
    bundle = raw_bundle
    bad = _tampered(bundle, tmp_path / "stale.zip", update_hashes=False)
    done = _run([str(bad)], tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "hash mismatch" in done.stderr and f"data/cutoffs/{CUTOFF}/adsl.csv" in done.stderr


def test_a_public_bundle_with_the_data_reproduces(public_bundle, project_copy, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _run([str(public_bundle), "--chapters", TAMPER_CHAPTER, "--data", str(project_copy.data_path)], empty)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "statistics reproduced, 0 differences" in done.stdout and "on the data from" in done.stdout
    assert "patient-level file(s) from" in done.stdout
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("case", ["no data", "changed value", "file missing", "no such cutoff", "full bundle"])
def test_public_bundle_data_errors_are_one_line(public_raw, raw_bundle, project_copy, tmp_path, capsys, case):
    """A public bundle without --data, or with data that are not the published ones, stops before
    anything runs with one line naming the problem."""
    data = tmp_path / "data"
    shutil.copytree(project_copy.data_path / "cutoffs", data / "cutoffs")
    target, args = public_raw, ["--data", str(data)]
    adsl = data / "cutoffs" / CUTOFF / "adsl.csv"
    if case == "no data":
        args = []
        expected = "is a public reviewer bundle and holds no patient data; pass --data DIR"
    elif case == "changed value":
        adsl.write_text(adsl.read_text().replace("T-ALL", "T-LBL", 1))
        expected = f"hash mismatch, {adsl} differs from the bundle's data manifest (data/cutoffs/{CUTOFF}/adsl.csv)"
    elif case == "file missing":
        adsl.unlink()
        expected = f"{adsl} missing"
    elif case == "no such cutoff":
        shutil.rmtree(data / "cutoffs" / EARLIER)
        expected = "holds no cutoffs/"
    else:
        target = raw_bundle
        expected = "holds its data already"
    assert cli.main(["reproduce", str(target), *args]) == 1
    err = capsys.readouterr().err
    assert expected in err, err
    assert err.startswith("nscore reproduce: error: ") and err.count("\n") == 1


@pytest.mark.parametrize("case", ["not a zip", "no file", "member missing", "listing and member missing",
                                  "unlisted member", "no manifest", "unknown chapter", "unsafe path"])
def test_a_bad_bundle_is_a_clear_one_line_error(raw_bundle, tmp_path, capsys, case):
    bundle = raw_bundle
    contents = _contents(bundle)
    target = tmp_path / "bad.zip"
    args = []
    if case == "not a zip":
        target.write_text("hello\n")
        expected = "is not a zip file"
    elif case == "no file":
        expected = "no such file"
    elif case == "member missing":
        del contents[f"data/cutoffs/{CUTOFF}/adtte.csv"]
        _rezip(contents, target)
        expected = f"missing: data/cutoffs/{CUTOFF}/adtte.csv"
    elif case == "listing and member missing":
        del contents["nscore/__init__.py"]
        manifest = json.loads(contents[reproduce.MANIFEST])
        del manifest["files"]["nscore/__init__.py"]
        contents[reproduce.MANIFEST] = json.dumps(manifest).encode()
        _rezip(contents, target)
        expected = "incomplete bundle, missing nscore/__init__.py"
    elif case == "unlisted member":
        contents["nscore/sitecustomize.py"] = b"print('hi')\n"
        _rezip(contents, target)
        expected = "not listed in MANIFEST.json: nscore/sitecustomize.py"
    elif case == "no manifest":
        del contents[reproduce.MANIFEST]
        _rezip(contents, target)
        expected = "has no MANIFEST.json"
    elif case == "unknown chapter":
        target = bundle
        args = ["--chapters", "results,nonesuch"]
        expected = "no chapter 'nonesuch'"
    else:
        contents["../evil.txt"] = b"x"
        _rehash(contents, ["../evil.txt"])
        _rezip(contents, target)
        expected = "MANIFEST.json does not list"
    assert cli.main(["reproduce", str(target), *args]) == 1
    err = capsys.readouterr().err
    assert expected in err, err
    assert err.startswith("nscore reproduce: error: ") and err.count("\n") == 1


# -------------------------------------------------------------------------------------------- compare
def _ard(values: dict[str, float], chapter: str = "results") -> pd.DataFrame:
    rows = [ard.row(k, "n", v) for k, v in values.items()]
    out = ard.frame(rows)
    out["cutoff"], out["data_version"], out["chapter"] = CUTOFF, "v", chapter
    return out


def test_compare_tolerance_nan_inf_added_dropped():
    eps = 1e-7
    published = _ard({"a": 1.0, "b": math.nan, "c": math.inf, "d": 100.0, "e": 5.0, "f": 0.0})
    reproduced = _ard({"a": 1.0 + eps * 1e-1, "b": math.nan, "c": math.inf, "d": 100.01, "f": 1e-10, "g": 2.0})
    same, diffs = reproduce.compare(published, reproduced)
    assert same == 4  # a (within 1e-9 + 1e-6 x 1), b (both NaN), c (both inf), f (within the absolute floor)
    assert [(d.key.split("|")[0].split("#")[1], d.kind) for d in diffs] == [("d", "changed"), ("e", "dropped"),
                                                                            ("g", "added")]
    assert not reproduce.same_value(math.inf, 1e300) and not reproduce.same_value(math.nan, 0.0)


def test_compare_a_subset_ignores_rows_another_chapter_published():
    published = pd.concat([_ard({"head": 1.0}, "index"), _ard({"own": 2.0}, "discussion")], ignore_index=True)
    reproduced = _ard({"head": 1.0, "own": 2.0}, "discussion")  # discussion records the headline too
    assert reproduce.compare(published, reproduced, ["discussion"]) == (1, [])


def test_the_cli_passes_bundle_jobs_and_chapters(monkeypatch, capsys):
    seen = {}

    def fake(bundle, *, jobs, chapters, data):
        seen.update(bundle=bundle, jobs=jobs, chapters=chapters, data=data)
        return reproduce.Reproduction(bundle=str(bundle), cutoff=CUTOFF, chapters=("results",), reproduced=3,
                                      differences=(reproduce.Difference(f"{CUTOFF}#x|=|n", 1.0, 2.0),),
                                      published_version="a", reproduced_version="a", seconds=1.0)

    monkeypatch.setattr(reproduce, "reproduce", fake)
    assert cli.main(["reproduce", "b.zip", "--jobs", "2", "--chapters", "results, safety", "--data", "d"]) == 1
    assert seen == {"bundle": Path("b.zip"), "jobs": 2, "chapters": ["results", "safety"], "data": Path("d")}
    out = capsys.readouterr().out
    assert "3 statistics reproduced, 1 difference" in out and "x|=|n" in out


# ------------------------------------------------------------------------- the session build's bundles
@pytest.mark.slow
def test_the_pipelines_bundles_of_the_shipped_cutoffs_verify_and_reproduce(tmp_path):
    """The bundles the real build writes (the session's ``repo_build``, shared with the site tests):
    each shipped cutoff's full bundle (``_build/bundles/``, outside the site) holds its own data and
    passes its checks; the site's public bundle holds no data file; the older one reproduces from the
    site's bundle with the project's data."""
    import sitecheck

    project, report = sitecheck.repo_build()
    assert {EARLIER, CUTOFF} <= set(report.bundles)
    for cutoff in (EARLIER, CUTOFF):
        path = site.full_bundle(project, cutoff)
        assert project.html_dir not in path.parents
        root = tmp_path / cutoff
        manifest = reproduce.open_bundle(path, root)
        reproduce.verify(root, manifest, str(path))
        assert manifest["cutoff"] == cutoff and (root / "data" / "cutoffs" / cutoff / "adsl.csv").is_file()
        later = [c for c in (EARLIER, CUTOFF) if c > cutoff]
        assert not any((root / "data" / "cutoffs" / c).exists() for c in later)  # nothing after its cutoff
        published = json.loads(zipfile.ZipFile(project.bundle(cutoff)).read(reproduce.MANIFEST))
        assert set(published["omitted"]) == {n for n in manifest["files"] if reproduce.patient_data(n)}
        assert not set(published["files"]) & set(published["omitted"])
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _run([str(project.bundle(EARLIER)), "--chapters", TAMPER_CHAPTER, "--data", str(project.data_path)], empty)
    assert done.returncode == 0 and "statistics reproduced, 0 differences" in done.stdout, done.stdout + done.stderr
