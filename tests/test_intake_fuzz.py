"""Property-based intake test (issue 14): random bytes, random mutations of valid files and random
archives fed to ``nscore validate`` and to ``versions.store``. Whatever arrives, the answer is exit 0
on valid data or exit 1 with a rule table, never an uncaught exception, and a refused delivery
leaves the store byte-identical.

Examples per test: ``NSCORE_FUZZ_EXAMPLES`` (default 15, so ``make test`` stays quick);
``make fuzz`` runs thousands.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
import zipfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nscore import cli

from nscore.data import versions
from nscore.errors import DataValidationError, NscoreError

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("NSCORE_FUZZ_EXAMPLES", "15"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 50,
                    suppress_health_check=list(HealthCheck))
FILES = ["adsl.csv", "adrs.csv", "adtte.csv", "adae.csv", "source.json", "study.yml"]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """(a project holding only its study definition, a valid delivery of 20 patients)."""
    from nscore.data.simulate import simulate_cohort, write_cohort

    root = tmp_path_factory.mktemp("fuzz")
    project = root / "project"
    (project / "data").mkdir(parents=True)
    shutil.copy(PROJECT / "_toc.yml", project / "_toc.yml")
    shutil.copy(PROJECT / "data" / "study.yml", project / "data" / "study.yml")
    delivery = root / "delivery"
    write_cohort(simulate_cohort(n=20, cutoff=date(2025, 8, 1)), delivery)
    return project, delivery


def _validate(project: Path, path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(["-C", str(project), "validate", str(path)])
    return rc, err.getvalue()


def _assert_answer(rc: int, err: str) -> None:
    assert rc in (0, 1), err
    if rc == 1:
        assert "by rule:" in err and "failures:" in err, err


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, where, chunk in edits:
        at = where % (len(out) + 1)
        if kind == 0:
            out[at:at] = chunk  # insert
        elif kind == 1:
            del out[at:at + max(1, len(chunk))]  # delete
        else:
            out[at:at + len(chunk)] = chunk  # overwrite
    return bytes(out)


EDITS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6),
                           st.one_of(st.binary(min_size=1, max_size=8),
                                     st.sampled_from([b",", b"\n", b'"', b"\r", b"\x00", b"\xff", b"-",
                                                      b"9999-12-31", b"\xef\xbc\x92", b"NaN", b"1e309"]))),
                 min_size=1, max_size=6)


@SETTINGS
@given(name=st.sampled_from(FILES), data=st.binary(max_size=2000))
def test_random_bytes_in_a_delivery(base, name, data):
    project, delivery = base
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "d"
        shutil.copytree(delivery, d)
        (d / name).write_bytes(data)
        _assert_answer(*_validate(project, d))


@SETTINGS
@given(name=st.sampled_from(FILES), edits=EDITS)
def test_mutated_valid_files(base, name, edits):
    project, delivery = base
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "d"
        shutil.copytree(delivery, d)
        (d / name).write_bytes(_mutate((d / name).read_bytes(), edits))
        _assert_answer(*_validate(project, d))


def _archive(delivery: Path, out: Path, kind: str, names: list[str], extra: list[tuple[str, bytes]]) -> Path:
    if kind == "zip":
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for n in names:
                zf.write(delivery / n, n)
            for n, b in extra:
                zf.writestr(n, b)
    else:
        with tarfile.open(out, "w:gz" if kind == "tar.gz" else "w") as tf:
            for n in names:
                tf.add(delivery / n, n)
            for n, b in extra:
                info = tarfile.TarInfo(n)
                info.size = len(b)
                tf.addfile(info, io.BytesIO(b))
    return out


MEMBER = st.sampled_from(FILES + ["../x.csv", "/abs.csv", "a/adsl.csv", "adsl.csv/", "x" * 300])


@SETTINGS
@given(kind=st.sampled_from(["zip", "tar.gz", "tar"]), keep=st.lists(st.sampled_from(FILES), unique=True),
       extra=st.lists(st.tuples(MEMBER, st.binary(max_size=200)), max_size=3),
       edits=st.one_of(st.just([]), EDITS))
def test_random_archives_to_validate_and_store(base, kind, keep, extra, edits):
    project, delivery = base
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = _archive(delivery, tmp / f"d.{kind}", kind, sorted(keep), extra)
        src.write_bytes(_mutate(src.read_bytes(), edits))
        rc, err = _validate(project, src)
        _assert_answer(rc, err)
        store = tmp / "store"
        (store / "cutoffs").mkdir(parents=True)
        shutil.copy(project / "data" / "study.yml", store / "study.yml")
        before = _tree(store)
        try:
            versions.store(src, store)
        except DataValidationError:
            assert _tree(store) == before
            assert rc == 1
        except NscoreError:
            assert _tree(store) == before
        else:
            assert rc == 0, err
