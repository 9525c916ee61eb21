"""Shared fixtures: a small valid simulated cohort on disk, and the shipped cutoffs.

Nothing a test run writes lands in the checkout: the build's cache (``NSCORE_CACHE_DIR``) and
hypothesis's example database and storage point into one temporary directory per session, removed at
the end (``make test`` also runs pytest without its own cache and without bytecode files).

Malformed-input tests start from ``valid_dir`` (a fresh copy per test) and change one thing; the
helpers below edit a CSV as text cells, so every untouched byte stays as the simulator wrote it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[1]
SHIPPED = PROJECT / "data" / "cutoffs"
PUBLISHED_CUTOFF = "2025-08-01"
LATER_CUTOFF = "2026-02-01"
#: Small enough to validate in a fraction of a second, large enough to hold deaths, transplants,
#: relapses, a non-evaluable patient and both syndromes (checked in ``small_frames``).
SMALL_N = 40

# --------------------------------------------------------------------------------------------
# caches go to a temporary directory, never into the checkout
# --------------------------------------------------------------------------------------------
SESSION_TMP = Path(tempfile.mkdtemp(prefix="nscore-tests-"))
#: The data layer's cache (:mod:`nscore.data.cache`) for every load in this session, as a build's
#: chapter kernels have it; a test of plain reads unsets it (``monkeypatch.delenv``).
os.environ["NSCORE_CACHE_DIR"] = str(SESSION_TMP / "cache")
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(SESSION_TMP / "hypothesis")


def _hypothesis_outside_the_checkout() -> None:
    """Hypothesis keeps its example database and caches in ``./.hypothesis``: point it at SESSION_TMP.

    The environment variable above covers a hypothesis not imported yet; set_hypothesis_home_dir one
    already imported by its pytest plugin.
    """
    try:
        from hypothesis import configuration
    except ImportError:
        return
    configuration.set_hypothesis_home_dir(SESSION_TMP / "hypothesis")


_hypothesis_outside_the_checkout()


def pytest_unconfigure(config):
    shutil.rmtree(SESSION_TMP, ignore_errors=True)



@pytest.fixture(scope="session")
def small_frames() -> dict[str, pd.DataFrame]:
    """A simulated cohort of ``SMALL_N`` patients at the published cutoff (frames, not files)."""
    from nscore.data.simulate import simulate_cohort

    frames = simulate_cohort(n=SMALL_N, cutoff=date(2025, 8, 1))
    adsl, adae = frames["adsl"], frames["adae"]
    assert (adsl["EFFFL"] == "N").any() and (adsl["DTHFL"] == "Y").any() and (adsl["HCTFL"] == "Y").any()
    assert {"CRS", "ICANS"} <= set(adae["AECAT"])
    return frames


@pytest.fixture
def valid_dir(tmp_path, small_frames) -> Path:
    """A fresh directory holding a valid simulated delivery (four CSVs + source.json)."""
    from nscore.data.simulate import write_cohort

    directory = tmp_path / "delivery"
    write_cohort(small_frames, directory)
    return directory


@pytest.fixture
def shipped_dir() -> Path:
    """The shipped published cutoff, data/cutoffs/2025-08-01/ (read only: never edit it in a test).

    The shipped data are part of the repository: a missing file fails the test (no skip).
    """
    path = SHIPPED / PUBLISHED_CUTOFF
    assert (path / "adsl.csv").is_file(), f"{path}: the shipped data are missing (`nscore simulate` regenerates them)"
    return path


# --------------------------------------------------------------------------------------------
# editing a delivery as text
# --------------------------------------------------------------------------------------------
def read_cells(directory: Path, dataset: str) -> pd.DataFrame:
    """A CSV as text cells ("" = missing), exactly as written."""
    return pd.read_csv(directory / f"{dataset}.csv", dtype=str, keep_default_na=False)


def write_cells(directory: Path, dataset: str, frame: pd.DataFrame) -> None:
    (directory / f"{dataset}.csv").write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")


def edit(directory: Path, dataset: str, func) -> object:
    """Apply ``func`` to the text cells of ``dataset``; return what ``func`` returns."""
    frame = read_cells(directory, dataset)
    result = func(frame)
    write_cells(directory, dataset, frame)
    return result


def shift(iso: str, days: int) -> str:
    """An ISO date ``days`` later (negative: earlier)."""
    return (date.fromisoformat(iso) + timedelta(days=days)).isoformat()


def failures_of(directory: Path) -> pd.DataFrame:
    """The failures table load_cohort raises for ``directory`` (fails the test if it loads)."""
    from nscore.errors import DataValidationError
    from nscore.data.load import load_cohort

    with pytest.raises(DataValidationError) as info:
        load_cohort(directory)
    return info.value.failures


def keys(failures: pd.DataFrame) -> set[tuple]:
    """(file, row, column, rule) of each failure, with None for an empty row or column."""
    out = set()
    for rec in failures.itertuples(index=False):
        row = None if pd.isna(rec.row) else int(rec.row)
        column = None if rec.column is None or pd.isna(rec.column) else rec.column
        out.add((rec.file, row, column, rec.rule))
    return out


# --------------------------------------------------------------------------------------------
# in CI a skip is a failure
# --------------------------------------------------------------------------------------------
def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """Under ``CI=true`` a module skipped as a whole (``pytest.importorskip`` or
    ``pytest.skip(allow_module_level=True)`` at import) is a collection error, not a silent skip."""
    outcome = yield
    report = outcome.get_result()
    if _under_ci() and report.skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid}: skipped under CI, where every tool is installed: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``CI=true`` (what .ci/run runs with) a skipped test fails.

    Why: CI installs R, Chromium and every Python dependency, so a test that skips there for a
    missing tool, module or file hides a broken install step instead of testing anything.
    """
    outcome = yield
    report = outcome.get_result()
    if _under_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where every tool is installed: {reason}"
