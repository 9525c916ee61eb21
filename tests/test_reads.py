"""What a chapter's kernel reads is logged for its rebuild key: ``versions.load`` records the cutoff and
version it returned, a cutoff looked for but not stored is recorded as absent, and outside a build
(no ``NSCORE_READS``) nothing is written."""

from __future__ import annotations

import pytest

from nscore.data import reads, versions
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
    log.unlink(missing_ok=True)  # storing reads the manifest it wrote
    with pytest.raises(NscoreError, match="not stored"):
        versions.load(store, "2024-01-01")
    assert versions.is_stored(store, "2023-01-01") is False
    assert versions.is_stored(store, "2025-08-01") is True  # present: recorded at its version
    version = versions.read_manifest(store / "cutoffs" / "2025-08-01")["version"]
    assert reads.read_log(log) == {"2024-01-01": reads.ABSENT, "2023-01-01": reads.ABSENT, "2025-08-01": version}


def test_reading_a_manifest_records_its_cutoff(valid_dir, tmp_path, monkeypatch):
    store = tmp_path / "data"
    target = versions.store(valid_dir, store)
    log = tmp_path / "manifest-reads.jsonl"
    monkeypatch.setenv(reads.ENV_VAR, str(log))
    manifest = versions.read_manifest(target)
    assert reads.read_log(log) == {"2025-08-01": manifest["version"]}


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


def test_a_list_of_cutoffs_is_recorded_and_priced_at_todays_list(valid_dir, tmp_path, log):
    from nscore.build import pipeline

    store = tmp_path / "data"
    versions.store(valid_dir, store)
    versions.list_cutoffs(store)
    versions.list_cutoffs(store, until="2025-12-31")
    versions.load(store)  # the store's own lookups record no list
    got = reads.read_log(log)
    assert got == {"list:all": "2025-08-01", "list:2025-12-31": "2025-08-01", "2025-08-01": got["2025-08-01"]}
    now = {"2025-08-01": "v1"}
    key, comps = pipeline.with_reads({"source": "s"}, got, now)
    assert comps["reads"] == {"2025-08-01": "v1", "list:2025-12-31": "2025-08-01", "list:all": "2025-08-01"}
    later = pipeline.with_reads({"source": "s"}, got, {**now, "2026-02-01": "v2"})
    assert later[1]["reads"]["list:all"] == "2025-08-01,2026-02-01" and later[0] != key  # a new cutoff: re-run
    assert later[1]["reads"]["list:2025-12-31"] == "2025-08-01"  # not for a list up to an earlier date
    assert pipeline.with_reads({"source": "s"}, {"list:2025-12-31": "2025-08-01"}, {**now, "2026-02-01": "v2"})[0] == \
        pipeline.with_reads({"source": "s"}, {"list:2025-12-31": "2025-08-01"}, now)[0]
