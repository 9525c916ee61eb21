"""Intake warnings of ``nscore update``: a delivery that passes every rule but looks like a mistake or
another study (no patient shared with the previous cutoff, patients missing, the cohort size changing
by more than ``intake.COHORT_CHANGE``, a death gone) is refused with exit 1 and the data directory left
byte-identical, unless ``--accept-warnings``; then it is stored with its warnings in ``intake.json``
(listed in the manifest) and shown by ``cutoffs.warnings_table``. Messages carry counts, never ids."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from conftest import SMALL_N, read_cells, write_cells
from nscore import cli
from nscore.data import intake, versions
from nscore.report import cutoffs
from nscore.build import pipeline
from nscore.errors import IntakeWarningError, StaleOutputError
from nscore.data.load import DATASETS

LATER = "2026-02-01"


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def write(frames: dict, directory: Path) -> Path:
    from nscore.data.simulate import write_cohort

    write_cohort(frames, directory)
    return directory


@pytest.fixture(scope="module")
def frames_at():
    from nscore.data.simulate import simulate_cohort

    cache = {}

    def get(cutoff):
        if cutoff not in cache:
            cache[cutoff] = simulate_cohort(n=SMALL_N, cutoff=date.fromisoformat(cutoff))
        return cache[cutoff]
    return get


@pytest.fixture
def project(tmp_path, valid_dir, monkeypatch):
    """A project whose store holds the small cohort at 2025-08-01; builds are not run."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapters/index\n")
    versions.store(valid_dir, root / "data")
    monkeypatch.setattr(pipeline, "build", _no_build)
    return root


def _no_build(project, **kwargs):
    """Stands in for pipeline.build: these tests are about storing, not building."""
    return pipeline.BuildReport(cutoffs=[], newest="", runs=[], sites_built=[], sites_reused=[],
                                site=Path(project.root) / "_build" / "html", bundles={}, seconds=0.0)


def each_dataset(directory: Path, func) -> None:
    for d in DATASETS:
        if (directory / f"{d}.csv").is_file():
            frame = read_cells(directory, d)
            write_cells(directory, d, func(d, frame))


def renumber(uid: str, by: int) -> str:
    trial, number = uid.rsplit("-", 1)
    return f"{trial}-{int(number) + by:04d}"


def no_shared_subjects(directory: Path, frames) -> None:
    def f(d, frame):
        frame["USUBJID"] = frame["USUBJID"].map(lambda u: renumber(u, 5000))
        if "SUBJID" in frame:
            frame["SUBJID"] = frame["SUBJID"].map(lambda s: f"{int(s) + 5000:04d}")
        return frame
    each_dataset(directory, f)


def alive(frames) -> list[str]:
    adsl = frames["adsl"]
    return list(adsl.loc[adsl["DTHFL"] == "N", "USUBJID"])


def subjects_missing(directory: Path, frames) -> None:
    drop = set(alive(frames)[:2])
    each_dataset(directory, lambda d, frame: frame[~frame["USUBJID"].isin(drop)])


def cohort_size_change(directory: Path, frames) -> None:
    copies = set(read_cells(directory, "adsl")["USUBJID"][:12])  # 40 -> 52 patients: +30%

    def f(d, frame):
        extra = frame[frame["USUBJID"].isin(copies)].copy()
        extra["USUBJID"] = extra["USUBJID"].map(lambda u: renumber(u, 7000))
        if "SUBJID" in extra:
            extra["SUBJID"] = extra["SUBJID"].map(lambda s: f"{int(s) + 7000:04d}")
        return pd.concat([frame, extra], ignore_index=True)
    each_dataset(directory, f)


CASES = {
    "no_shared_subjects": no_shared_subjects,
    "subjects_missing": subjects_missing,
    "cohort_size_change": cohort_size_change,
}


def delivery(tmp_path, frames_at, case) -> Path:
    directory = write(frames_at(LATER), tmp_path / f"new-{case}")
    CASES[case](directory, frames_at(LATER))
    return directory


def run_update(root: Path, path: Path, *flags: str) -> int:
    return cli.main(["-C", str(root), "update", str(path), *flags])


@pytest.mark.parametrize("case", sorted(CASES))
def test_warning_refuses_without_the_flag_and_changes_nothing(case, project, tmp_path, frames_at, capsys):
    new = delivery(tmp_path, frames_at, case)
    before = tree(project / "data")
    assert run_update(project, new) == 1
    err = capsys.readouterr().err
    assert "looks like a mistake or another study (compared with the stored cutoff 2025-08-01)" in err
    assert "Nothing was stored" in err and "--accept-warnings" in err
    assert tree(project / "data") == before
    uids = set(read_cells(new, "adsl")["USUBJID"]) | set(frames_at(LATER)["adsl"]["USUBJID"])
    assert not any(u in err for u in uids), "a patient id reached the terminal"
    with pytest.raises(IntakeWarningError) as info:
        versions.store(new, project / "data", check_intake=True)
    assert case in [w["code"] for w in info.value.warnings]
    assert tree(project / "data") == before


@pytest.mark.parametrize("case", sorted(CASES))
def test_warning_accepted_with_the_flag_is_recorded(case, project, tmp_path, frames_at, capsys):
    new = delivery(tmp_path, frames_at, case)
    assert run_update(project, new, "--accept-warnings") == 0
    target = project / "data" / "cutoffs" / LATER
    record = intake.read(target)
    assert record["accepted"] is True and record["compared_with"] == "2025-08-01" and record["cutoff"] == LATER
    assert case in [w["code"] for w in record["warnings"]]
    manifest = versions.read_manifest(target)
    assert manifest["intake"] == hashlib.sha256((target / "intake.json").read_bytes()).hexdigest()
    versions.check_manifest(target)  # the record is part of the stored cutoff
    table = cutoffs.warnings_table(project / "data", versions.list_cutoffs(project / "data"))
    assert set(table["Data cutoff"]) == {LATER}
    assert any(CODES_WORDS[case][1:] in m for m in table["Warning accepted at intake"])  # sentence case
    uids = set(read_cells(new, "adsl")["USUBJID"])
    assert not any(u in json.dumps(record) for u in uids)
    # tampering with the record is caught like tampering with the data
    (target / "intake.json").write_text((target / "intake.json").read_text().replace('"accepted": true', '"accepted": false'))
    with pytest.raises(StaleOutputError, match="intake"):
        versions.check_manifest(target)


CODES_WORDS = {
    "no_shared_subjects": "no patient (USUBJID) of cutoff 2026-02-01 (40 patients) is in the previous cutoff 2025-08-01",
    "subjects_missing": "2 patients of the previous cutoff 2025-08-01 are missing from cutoff 2026-02-01",
    "cohort_size_change": "the cohort changed from 40 to 52 patients (+30%)",
    "death_gone": "recorded as dead at the previous cutoff 2026-02-01 are not dead at cutoff 2026-03-01",
}


def test_death_gone(tmp_path, frames_at, monkeypatch, capsys):
    """The same patients, but the new delivery is the earlier state relabelled as a later cutoff:
    the patients who died in between are alive again."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapters/index\n")
    monkeypatch.setattr(pipeline, "build", _no_build)
    versions.store(write(frames_at(LATER), tmp_path / "base"), root / "data")
    new = write(frames_at("2025-08-01"), tmp_path / "new")
    adsl = read_cells(new, "adsl")
    adsl["DCUTDT"] = "2026-03-01"
    write_cells(new, "adsl", adsl)
    revived = (frames_at(LATER)["adsl"]["DTHFL"] == "Y").sum() - (frames_at("2025-08-01")["adsl"]["DTHFL"] == "Y").sum()
    assert revived > 0
    before = tree(root / "data")
    assert run_update(root, new) == 1
    err = capsys.readouterr().err
    assert f"{revived} patients {CODES_WORDS['death_gone']} ({revived} with DTHFL = N, 0 no longer in the data)" in err
    assert tree(root / "data") == before
    assert run_update(root, new, "--accept-warnings") == 0
    record = intake.read(root / "data" / "cutoffs" / "2026-03-01")
    assert [w["code"] for w in record["warnings"]] == ["death_gone"]
    assert record["warnings"][0]["count"] == revived


def test_a_plausible_delivery_stores_without_warnings_and_restoring_is_a_no_op(project, tmp_path, frames_at, capsys):
    new = write(frames_at(LATER), tmp_path / "later")
    assert run_update(project, new) == 0
    target = project / "data" / "cutoffs" / LATER
    assert not (target / "intake.json").exists() and "intake" not in versions.read_manifest(target)
    assert cutoffs.warnings_table(project / "data", versions.list_cutoffs(project / "data")).empty
    before = tree(project / "data")
    assert run_update(project, new) == 0
    assert tree(project / "data") == before


def test_restoring_an_accepted_delivery_keeps_its_record(project, tmp_path, frames_at):
    new = delivery(tmp_path, frames_at, "subjects_missing")
    assert run_update(project, new, "--accept-warnings") == 0
    before = tree(project / "data")
    assert run_update(project, new) == 0  # the same bytes again: nothing to decide, nothing changes
    assert tree(project / "data") == before
    versions.check_manifest(project / "data" / "cutoffs" / LATER)


def test_warnings_function_edge_cases(frames_at):
    class C:
        def __init__(self, ids, dead=(), cutoff="2026-01-01"):
            self.adsl = pd.DataFrame({"USUBJID": list(ids), "DTHFL": ["Y" if i in dead else "N" for i in ids]})
            self.cutoff = date.fromisoformat(cutoff)

    old = C(["a", "b", "c", "d"], dead={"a"}, cutoff="2025-01-01")
    assert intake.warnings(C(["a", "b", "c", "d"], dead={"a"}), old) == []
    assert intake.warnings(C(["a"]), None) == []
    codes = lambda new, **k: [w["code"] for w in intake.warnings(new, old, **k)]
    assert codes(C(["a", "b", "c", "d", "e"], dead={"a"})) == []  # +25% is not more than 25%
    assert codes(C(["a", "b", "c", "d", "e", "f"], dead={"a"})) == ["cohort_size_change"]
    assert codes(C(["a", "b", "c", "d", "e", "f"], dead={"a"}), max_change=0.5) == []
    assert codes(C(["a", "b", "c", "d"])) == ["death_gone"]
    assert codes(C(["b", "c", "d"])) == ["subjects_missing", "death_gone"]
    assert codes(C(["x", "y", "z", "w"])) == ["no_shared_subjects"]
