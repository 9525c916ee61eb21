"""``nscore withdraw`` (issue 14): a stored cutoff leaves the published versions, its files are kept.

Unit tests on a store of real stored cutoffs (``nscore.data.versions.store``) in tmp_path; the toy
pipeline (tests/toy) for "the next build publishes without it and re-executes what read it"; and
the whole book on two tiny cohorts (slow) for the What changed page listing the withdrawal.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from datetime import date
from pathlib import Path

import pytest

from nscore import cli

from nscore.data import history, versions

from nscore.build import pipeline
from nscore.errors import NscoreError
from nscore.data.simulate import simulate_cohort, write_cohort

TESTS = Path(__file__).parent
TOY = TESTS / "toy"
sys.path.insert(0, str(TOY))
import toystore  # noqa: E402


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by path relative to it."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory) -> dict[str, Path]:
    """Two valid three-patient deliveries: 2025-08-01 and 2025-11-01."""
    root = tmp_path_factory.mktemp("deliveries")
    out = {}
    for c, seed in (("2025-08-01", 20251206), ("2025-11-01", 20251216)):
        write_cohort(simulate_cohort(3, date.fromisoformat(c), seed), root / c, seed=seed)
        out[c] = root / c
    return out


@pytest.fixture
def project(tmp_path, deliveries) -> Path:
    """A project directory (``_toc.yml``, ``data/study.yml``) with both deliveries stored."""
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapters/index\n")
    shutil.copyfile(TESTS.parent / "data" / "study.yml", root / "data" / "study.yml")
    for d in deliveries.values():
        versions.store(d, root / "data")
    return root


def test_withdraw_moves_the_cutoff_records_it_and_deletes_nothing(project, capsys):
    data = project / "data"
    stored = data / "cutoffs" / "2025-11-01"
    files = digest(stored)
    version = versions.read_manifest(stored)["version"]
    assert cli.main(["-C", str(project), "withdraw", "2025-11-01", "--reason", "cutoff date typed wrong"]) == 0
    out = capsys.readouterr().out
    assert "withdrew data cutoff 2025-11-01" in out and "nscore build" in out
    # gone from the store's list, every file kept byte for byte under data/withdrawn/
    assert versions.list_cutoffs(data) == [date(2025, 8, 1)]
    assert not stored.exists()
    moved = data / "withdrawn" / "2025-11-01"
    assert {k: v for k, v in digest(moved).items() if k != "withdrawal.json"} == files
    record = json.loads((moved / "withdrawal.json").read_text())
    assert record == {"event": "withdrawn", "cutoff": "2025-11-01", "version": version,
                      "date": date.today().isoformat(), "reason": "cutoff date typed wrong",
                      "moved_to": "withdrawn/2025-11-01"}
    assert history.read(data) == {"events": [record]}
    # deterministic bytes: sorted keys, two-space indent, final newline
    text = (data / "history.json").read_text(encoding="utf-8")
    assert text == json.dumps({"events": [record]}, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    # the other cutoff still loads
    assert str(versions.load(data, "2025-08-01").cutoff) == "2025-08-01"


def test_history_is_append_only_and_a_cutoff_withdrawn_twice_keeps_both(project, deliveries):
    data = project / "data"
    history.withdraw(data, "2025-11-01", "first", today=date(2026, 1, 2))
    first = (data / "history.json").read_text()
    versions.store(deliveries["2025-11-01"], data)  # delivered again, then withdrawn again
    history.withdraw(data, date(2025, 11, 1), "  second\n time ", today=date(2026, 1, 3))
    events = history.read(data)["events"]
    assert [e["reason"] for e in events] == ["first", "second time"]  # whitespace normalised
    assert [e["moved_to"] for e in events] == ["withdrawn/2025-11-01", "withdrawn/2025-11-01-2"]
    assert json.loads(first)["events"][0] == events[0]
    assert (data / "withdrawn" / "2025-11-01" / "adsl.csv").is_file()
    assert (data / "withdrawn" / "2025-11-01-2" / "adsl.csv").is_file()
    table = history.withdrawals_table(data)
    assert list(table["Withdrawn on"]) == ["2026-01-02", "2026-01-03"]
    assert history.withdrawals_sentence(table).startswith("The data cutoff 2025-11-01 was withdrawn")


def test_withdrawing_an_unknown_cutoff_exits_1_and_changes_nothing(project, capsys):
    before = digest(project / "data")
    assert cli.main(["-C", str(project), "withdraw", "2024-01-01", "--reason", "x"]) == 1
    err = capsys.readouterr().err
    assert "nscore withdraw: error: cutoff 2024-01-01 is not stored" in err
    assert "(stored: 2025-08-01, 2025-11-01); nothing withdrawn" in err
    assert digest(project / "data") == before


@pytest.mark.parametrize("argv", [
    ["withdraw", "2025-11-01"],                        # no reason
    ["withdraw", "2025-11-01", "--reason", "   "],     # empty reason
    ["withdraw", "latest", "--reason", "x"],           # must be named
    ["withdraw", "2025-13-01", "--reason", "x"],
])
def test_withdraw_usage_errors_exit_2(project, argv, capsys):
    before = digest(project / "data")
    with pytest.raises(SystemExit) as info:
        cli.main(["-C", str(project), *argv])
    assert info.value.code == 2
    assert digest(project / "data") == before


def test_no_history_means_no_withdrawal(tmp_path):
    (tmp_path / "data").mkdir()
    assert history.read(tmp_path / "data") == {"events": []}
    table = history.withdrawals_table(tmp_path / "data")
    assert table.empty and history.withdrawals_sentence(table) == "No stored data cutoff has been withdrawn."
    (tmp_path / "data" / "history.json").write_text("[1, 2]")
    with pytest.raises(NscoreError, match="not a history"):
        history.read(tmp_path / "data")


# --------------------------------------------------------------------------------------------------
# the toy pipeline: the next build publishes without the withdrawn version
# --------------------------------------------------------------------------------------------------
def test_withdraw_then_build_drops_the_version_and_reexecutes_what_read_it(tmp_path):
    root = tmp_path / "toy"
    shutil.copytree(TOY, root, ignore=shutil.ignore_patterns("__pycache__", "_build"))
    project = pipeline.Project(root, store=toystore.ToyStore(root / "data"))
    new = tmp_path / "incoming"
    new.mkdir()
    (new / "counts.csv").write_text("group,n\nA,5\n")
    (new / "cutoff.txt").write_text("2099-01-01\n")
    toystore.ToyStore(root / "data").store(new)
    pipeline.build(project, progress=lambda m: None)
    html = root / "_build" / "html"
    assert (html / "v" / "2099-01-01" / "index.html").is_file()
    kept = digest(root / "data" / "cutoffs" / "2099-01-01")

    pipeline.withdraw(project, "2099-01-01", "a cutoff in the future", progress=lambda m: None)
    assert any("stale" in p for p in pipeline.check(project))  # chapters/ held the withdrawn cutoff
    report = pipeline.build(project, progress=lambda m: None)
    assert report.newest == "2025-01-01" and report.cutoffs == ["2025-01-01"]
    assert not (html / "v" / "2099-01-01").exists()
    assert "2099-01-01" not in (html / "chapters" / "index.html").read_text()
    assert json.loads((root / "chapters" / "index.ipynb").read_text())["metadata"]["nscore"]["cutoff"] == "2025-01-01"
    assert digest(root / "data" / "withdrawn" / "2099-01-01").keys() - {"withdrawal.json"} == kept.keys()
    assert pipeline.check(project) == []


# --------------------------------------------------------------------------------------------------
# the whole book: What changed lists the withdrawal
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_book_after_withdrawal_lists_it_on_what_changed(tmp_path, deliveries):
    sys.path.insert(0, str(TESTS))
    import sitecheck
    from matrix.book import page_texts

    root = sitecheck.copy_book(tmp_path / "repo")
    shutil.rmtree(root / "data" / "cutoffs")
    (root / "data" / "cutoffs").mkdir()
    (root / "data" / "history.json").unlink(missing_ok=True)
    for d in deliveries.values():
        versions.store(d, root / "data")
    project = pipeline.Project(root)
    pipeline.build(project, progress=lambda m: None)
    assert (project.html_dir / "v" / "2025-11-01").is_dir()
    assert "No stored data cutoff has been withdrawn." in page_texts(project.html_dir)["chapters/changes.html"]

    assert cli.main(["-C", str(root), "withdraw", "2025-11-01", "--reason", "delivered for the wrong study"]) == 0
    report = pipeline.build(project, progress=lambda m: None)
    assert report.newest == "2025-08-01"
    assert ("2025-08-01", "changes") in report.executed  # history.json is one of its dependencies
    assert not (project.html_dir / "v" / "2025-11-01").exists()
    changes = page_texts(project.html_dir)["chapters/changes.html"]
    assert "The data cutoff 2025-11-01 was withdrawn from the published versions" in changes
    assert "delivered for the wrong study" in changes
    assert "Data cutoff 2025-11-01" not in changes  # not in the list of versions any more
    assert (root / "data" / "withdrawn" / "2025-11-01" / "adsl.csv").is_file()
    assert pipeline.check(project) == []
