"""The CLI only parses and calls the library: check the arguments that reach each call, and exit codes.

As papermill's CLI tests do, the library functions are replaced by recorders; the library itself is
tested in test_pipeline.py. One test runs a real (toy) failing build through the CLI for the exit code.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from nscore import cli

from nscore.build import pipeline
from nscore.errors import DataValidationError, StaleOutputError

TOY = Path(__file__).parent / "toy"
sys.path.insert(0, str(TOY))
import toystore  # noqa: E402


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """Replace the pipeline's public functions with recorders; return the list of calls."""
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: chapters/index\n")
    monkeypatch.chdir(tmp_path)
    seen: list[tuple[str, tuple, dict]] = []

    def recorder(name):
        def f(*args, **kwargs):
            seen.append((name, args, kwargs))
            return tmp_path / "out"
        return f

    for name in ("build", "update", "withdraw", "check_or_raise", "validate", "simulate", "pdf"):
        monkeypatch.setattr(pipeline, name, recorder(name))
    return seen


def test_build_defaults(calls, tmp_path):
    assert cli.main(["build"]) == 0
    (name, (project,), kwargs), = calls
    assert name == "build" and project.root == tmp_path.resolve()
    assert kwargs == {"cutoff": "latest", "force": False, "jobs": None}


def test_build_options(calls, tmp_path):
    assert cli.main(["-C", str(tmp_path), "build", "--cutoff", "2025-08-01", "--force", "--jobs", "3"]) == 0
    assert calls[0][2] == {"cutoff": "2025-08-01", "force": True, "jobs": 3}


def test_withdraw_passes_the_cutoff_and_reason(calls, tmp_path):
    assert cli.main(["withdraw", "2026-02-01", "--reason", "wrong study"]) == 0
    assert [(n, a[1:], k) for n, a, k in calls] == [("withdraw", ("2026-02-01", "wrong study"), {})]


def test_update_check_validate_pdf(calls, tmp_path):
    assert cli.main(["update", "new-data", "--jobs", "2"]) == 0
    assert cli.main(["update", "other", "--accept-warnings"]) == 0
    assert cli.main(["check"]) == 0
    assert cli.main(["validate"]) == 0
    assert cli.main(["validate", "somewhere"]) == 0
    assert cli.main(["pdf"]) == 0
    assert [(n, a[1:], k) for n, a, k in calls] == [
        ("update", (Path("new-data"),), {"jobs": 2, "accept_warnings": False, "no_build": False}),
        ("update", (Path("other"),), {"jobs": None, "accept_warnings": True, "no_build": False}),
        ("check_or_raise", (), {}),
        ("validate", (None,), {}),
        ("validate", (Path("somewhere"),), {}),
        ("pdf", (), {}),
    ]


def test_simulate_default_and_custom(calls):
    assert cli.main(["simulate"]) == 0
    assert cli.main(["simulate", "--n", "1000", "--cutoff", "2026-02-01", "--seed", "7", "--out", "big"]) == 0
    assert [k for _, _, k in calls] == [
        {"n": None, "cutoff": None, "seed": None, "out": None},
        {"n": 1000, "cutoff": "2026-02-01", "seed": 7, "out": Path("big")},
    ]


@pytest.mark.parametrize("argv", [
    [], ["build", "--jobs", "0"], ["build", "--cutoff", "yesterday"], ["simulate", "--n", "10"], ["frobnicate"],
])
def test_usage_errors_exit_2(calls, argv):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert calls == []


def test_validation_error_prints_summary_writes_full_table_and_exits_1(monkeypatch, tmp_path, capsys):
    (tmp_path / "_toc.yml").write_text("root: chapters/index\n")
    rows = [("adsl.csv", 3, "AGE", "AGE in 0..100", "140"), ("adae.csv", 9, "AETOXGR", "grade 1..5", "7")]
    rows += [("adsl.csv", 10 + i, "SEX", "isin", "\x1b[2J" if i % 2 else "X") for i in range(70)]
    failures = pd.DataFrame(rows, columns=DataValidationError.COLUMNS)

    def fail(*a, **k):
        raise DataValidationError(failures)

    monkeypatch.setattr(pipeline, "update", fail)
    assert cli.main(["-C", str(tmp_path), "update", "x"]) == 1
    err = capsys.readouterr().err
    assert "data validation failed: 72 problems" in err
    assert "AGE in 0..100" in err and "grade 1..5" in err and "adae.csv" in err
    assert "\x1b" not in err and "\\x1b[2J" in err  # escaped, never raw on the terminal
    assert "... 22 more (the full table has 72 rows)" in err
    written = list((tmp_path / "_build" / "validation").glob("*-update.csv"))
    assert len(written) == 1
    assert f"the full table of 72 failure(s) is in {written[0]}" in err
    table = pd.read_csv(written[0], dtype=str, keep_default_na=False)
    assert list(table.columns) == DataValidationError.COLUMNS and len(table) == 72
    assert table.loc[3, "value"] == "\x1b[2J"  # the file keeps the value as delivered


def test_stale_check_exits_1(monkeypatch, tmp_path, capsys):
    (tmp_path / "_toc.yml").write_text("root: chapters/index\n")

    def stale(project):
        raise StaleOutputError(["chapters/results.ipynb: stale"])

    monkeypatch.setattr(pipeline, "check_or_raise", stale)
    assert cli.main(["-C", str(tmp_path), "check"]) == 1
    assert "chapters/results.ipynb: stale" in capsys.readouterr().err


def test_outside_a_project_exits_1(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check"]) == 1
    assert "no _toc.yml" in capsys.readouterr().err


def test_failing_chapter_through_cli_exits_1_naming_chapter_and_cell(monkeypatch, tmp_path, capsys):
    root = tmp_path / "toy"
    shutil.copytree(TOY, root, ignore=shutil.ignore_patterns("__pycache__", "_build"))
    src = root / "chapters" / "src" / "index.md"
    src.write_text(src.read_text() + '\n```{code-cell} ipython3\n1 / 0\n```\n')
    monkeypatch.setattr(pipeline, "Project", functools.partial(pipeline.Project, store=toystore.ToyStore(root / "data")))
    assert cli.main(["-C", str(root), "build", "--jobs", "1"]) == 1
    err = capsys.readouterr().err
    assert "chapter 'index' failed in cell 5: ZeroDivisionError" in err
    assert "1 / 0" in err
    assert not (root / "_build" / "html").exists() and not (root / "chapters" / "index.ipynb").exists()


def test_python_dash_m_help():
    done = subprocess.run([sys.executable, "-m", "nscore", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for command in ("build", "update", "withdraw", "check", "validate", "simulate", "pdf"):
        assert command in done.stdout


def test_validate_lists_unused_columns_and_uses_the_default_study(tmp_path, capsys, small_frames):
    """A delivery without study.yml is read as the project's default study, as update reads it."""
    import pandas as pd

    from nscore import cli
    from nscore.data.simulate import write_cohort

    delivery = tmp_path / "delivery"
    write_cohort(small_frames, delivery)
    (delivery / "study.yml").unlink()
    adsl = pd.read_csv(delivery / "adsl.csv", dtype=str, keep_default_na=False)
    adsl.insert(3, "RACE", "X")
    adsl.to_csv(delivery / "adsl.csv", index=False)
    assert cli.main(["validate", str(delivery)]) == 0
    out = capsys.readouterr().out
    assert "note: adsl.csv: not used: RACE" in out


def test_an_unexpected_error_is_one_line_and_a_log_file(monkeypatch, capsys):
    """A bug must not print a traceback at the user: one line, exit 1, the traceback in a file."""
    from pathlib import Path

    from nscore import cli

    from nscore.build import pipeline

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(pipeline, "check_or_raise", broken)
    assert cli.main(["check"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error (ZeroDivisionError: division by zero)" in err
    log = Path(err.rsplit("the traceback is in ", 1)[1].strip())
    assert "ZeroDivisionError" in log.read_text(encoding="utf-8")
    log.unlink()
