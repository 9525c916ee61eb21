"""tests/conftest.py's rule: under ``CI=true`` a skip is a failure, whether a test skips or a whole
module does (``pytest.importorskip`` at import); outside CI a skip stays a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

SKIPPING = {
    "test_module_skip.py": 'import pytest\n\npytest.importorskip("no_such_module_nscore")\n\n\n'
                           "def test_never():\n    pass\n",
    "test_test_skip.py": "import pytest\n\n\ndef test_skips():\n    pytest.skip('no tool')\n\n\n"
                         "@pytest.mark.skipif(True, reason='marked')\ndef test_marked():\n    pass\n\n\n"
                         "def test_passes():\n    pass\n",
}


def _run(tmp_path: Path, ci: str | None, *names: str) -> subprocess.CompletedProcess:
    shutil.copyfile(TESTS / "conftest.py", tmp_path / "conftest.py")
    for name, text in SKIPPING.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
                           *(names or SKIPPING)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_outside_ci_a_skip_is_a_skip(tmp_path):
    proc = _run(tmp_path, None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 3 skipped" in proc.stdout


@pytest.mark.parametrize("value", ["true", "1"])
def test_under_ci_a_skipped_test_fails(tmp_path, value):
    proc = _run(tmp_path, value, "test_test_skip.py")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    # a skip in the test body fails it; a skipif mark (a skip at setup) makes it an error
    assert "FAILED test_test_skip.py::test_skips" in out and "ERROR test_test_skip.py::test_marked" in out
    assert out.count("skipped under CI, where every tool is installed") >= 2
    assert "1 failed, 1 passed, 1 error" in out


def test_under_ci_a_skipped_module_is_a_collection_error(tmp_path):
    proc = _run(tmp_path, "true")
    assert proc.returncode == 2, proc.stdout + proc.stderr  # pytest: interrupted by a collection error
    out = proc.stdout
    assert ("ERROR test_module_skip.py - test_module_skip.py: skipped under CI, where every tool is installed: "
            "Skipped: could not import 'no_such_module_nscore'") in out
