"""What a chapter's kernel reads is logged for its rebuild key: ``versions.load`` records the cutoff and
version it returned, a cutoff looked for but not stored is recorded as absent, and outside a build
(no ``NSCORE_READS``) nothing is written."""

from __future__ import annotations

import pytest

from nscore import reads, versions
from nscore.errors import NscoreError


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "reads.jsonl"
    monkeypatch.setenv(reads.ENV_VAR, str(path))
    return path


def test_load_records_cutoff_and_version_also_from_the_cache(valid_dir, tmp_path, log):
    store = tmp_path / "data"
    versions.store(valid_dir, store)
    cohort = versions.load(store, "2025-08-01")
    assert reads.read_log(log) == {"2025-08-01": cohort.version}
    log.unlink()
    versions.load(store, "latest")  # served from the validated-cohort cache: still recorded
    assert reads.read_log(log) == {"2025-08-01": cohort.version}


def test_missing_cutoff_is_recorded_absent(valid_dir, tmp_path, log):
    store = tmp_path / "data"
    versions.store(valid_dir, store)
    with pytest.raises(NscoreError, match="not stored"):
        versions.load(store, "2024-01-01")
    assert versions.is_stored(store, "2023-01-01") is False
    assert versions.is_stored(store, "2025-08-01") is True
    assert reads.read_log(log) == {"2024-01-01": reads.ABSENT, "2023-01-01": reads.ABSENT}


def test_a_real_version_wins_over_an_earlier_absence(log):
    reads.record("2025-08-01", reads.ABSENT)
    reads.record("2025-08-01", "abc")
    reads.record("2025-08-01", reads.ABSENT)
    assert reads.read_log(log) == {"2025-08-01": "abc"}
    assert reads.read_log(log.with_name("none.jsonl")) == {}


def test_nothing_is_written_outside_a_build(valid_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(reads.ENV_VAR, raising=False)
    store = tmp_path / "data"
    versions.store(valid_dir, store)
    versions.load(store)
    assert not list(tmp_path.rglob("*.jsonl"))
