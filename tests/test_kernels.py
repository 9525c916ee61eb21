"""Chapter kernels forked from a pre-imported zygote (nscore.build.kernels), driven as the pipeline drives them.

Each test runs real notebooks through papermill with the pipeline's kernel manager, on a zygote
whose preload is a marker module written into the test's own project root.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from papermill.exceptions import PapermillExecutionError

from nscore.build import execute, kernels

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forked kernels need POSIX fork")

MARKER = '''
import os
IMPORTED_IN = os.getpid()
'''


def notebook(tmp: Path, name: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def run(server, root: Path, nb: Path, env: dict | None = None, **kw) -> str:
    """Execute ``nb`` in a kernel forked by ``server``; return its stdout."""
    out = nb.with_suffix(".out.ipynb")
    km = execute.kernel_manager_class(root, env or {}, forkserver=server)
    pm.execute_notebook(str(nb), str(out), kernel_name="python3", kernel_manager_class=km,
                        progress_bar=False, **kw)
    done = nbformat.read(out, as_version=4)
    return "".join(o.get("text", "") for c in done.cells for o in c.get("outputs", []))


@pytest.fixture
def root(tmp_path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "zygote_marker.py").write_text(MARKER)
    return project


@pytest.fixture
def server(root, tmp_path):
    with kernels.ForkServer(root, tmp_path / "zygote.log", preload=("pandas", "zygote_marker"), late_preload=("json",)) as fs:
        yield fs


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); /proc tells it apart
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split(") ")[-1].startswith("Z"))


def test_kernel_runs_on_modules_the_zygote_imported(server, root, tmp_path):
    nb = notebook(tmp_path, "a", "import os, sys, zygote_marker",
                  "print('pandas preloaded:', 'pandas' in sys.modules)",
                  "print('marker imported by an ancestor:', zygote_marker.IMPORTED_IN != os.getpid())")
    text = run(server, root, nb)
    assert "marker imported by an ancestor: True" in text
    # a module that the zygote imported is already loaded before the chapter imports it
    text = run(server, root, notebook(tmp_path, "b", "import sys", "print('pandas preloaded:', 'pandas' in sys.modules)"))
    assert "pandas preloaded: True" in text


def test_each_kernel_starts_with_an_empty_namespace_its_env_and_cwd(server, root, tmp_path):
    first = notebook(tmp_path, "first", "leftover = 42", "import os; print('cwd', os.getcwd())",
                     "print('env', os.environ.get('NSCORE_TEST_VALUE'))")
    text = run(server, root, first, env={"NSCORE_TEST_VALUE": "first"})
    assert f"cwd {root}" in text and "env first" in text
    second = notebook(tmp_path, "second", "print('leftover' in globals())", "import os",
                      "print('env', os.environ.get('NSCORE_TEST_VALUE'))")
    text = run(server, root, second, env={"NSCORE_TEST_VALUE": "second"})
    assert text.splitlines()[0] == "False"
    assert "env second" in text


def test_cell_error_is_reported_as_papermill_reports_it(server, root, tmp_path):
    nb = notebook(tmp_path, "fails", "x = 1", "raise ValueError('chapter broke')")
    with pytest.raises(PapermillExecutionError) as err:
        run(server, root, nb)
    assert err.value.ename == "ValueError" and "chapter broke" in err.value.evalue


def test_a_kernel_that_dies_fails_the_run_instead_of_hanging(server, root, tmp_path):
    nb = notebook(tmp_path, "dies", "import os", "os._exit(3)")
    t0 = time.monotonic()
    with pytest.raises(Exception) as err:
        run(server, root, nb)
    assert time.monotonic() - t0 < 60
    assert "dead" in str(err.value).lower() or "died" in str(err.value).lower()


def test_a_cell_over_the_timeout_is_interrupted_and_its_kernel_ended(server, root, tmp_path):
    nb = notebook(tmp_path, "slow", "import os; print('pid', os.getpid(), flush=True)", "import time; time.sleep(120)")
    t0 = time.monotonic()
    with pytest.raises(Exception):
        run(server, root, nb, execution_timeout=2)
    assert time.monotonic() - t0 < 60
    out = nbformat.read(nb.with_suffix(".out.ipynb"), as_version=4)
    pid = int(out.cells[0].outputs[0]["text"].split()[1])
    deadline = time.monotonic() + 30
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the timed-out kernel was left running"


def test_forked_kernel_reports_exit_status_and_signals(server, root):
    child = server.spawn(kernels.KERNEL_ENTRY, ["-f", str(root / "nonexistent.json")], dict(os.environ), str(root))
    # ipykernel given a connection file it cannot read still starts (it writes a new one) and waits:
    # running, so no exit status yet; end it with a signal, whose number is then the status
    time.sleep(0.5)
    assert child.poll() is None and alive(child.pid)
    child.kill()
    assert child.wait(timeout=30) == -9
    assert not alive(child.pid)


def test_close_ends_the_zygote_and_its_kernels(root, tmp_path):
    server = kernels.ForkServer(root, tmp_path / "z.log", preload=("zygote_marker",), late_preload=()).start()
    child = server.spawn(kernels.KERNEL_ENTRY, ["-f", str(tmp_path / "k.json")], dict(os.environ), str(root))
    zygote = server.process.pid
    assert alive(child.pid)
    server.close()
    deadline = time.monotonic() + 30
    while (alive(child.pid) or alive(zygote)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child.pid) and not alive(zygote)
    assert not Path(server.address).exists()


def test_a_zygote_that_cannot_start_says_why(root, tmp_path):
    (root / "broken_preload.py").write_text("import os\nprint('cannot preload', flush=True)\nos._exit(4)\n")
    server = kernels.ForkServer(root, tmp_path / "broken.log", preload=("broken_preload",), late_preload=()).start()
    try:
        with pytest.raises(kernels.ForkServerError, match="did not start"):
            server.wait_ready()
    finally:
        server.close()


def test_switch_turns_forking_off(monkeypatch):
    monkeypatch.setenv(kernels.ENV_SWITCH, "0")
    assert not kernels.enabled()
    monkeypatch.setenv(kernels.ENV_SWITCH, "1")
    assert kernels.enabled()


def test_run_gives_a_program_its_argv_output_files_and_exit_status(server, root, tmp_path):
    (root / "prog.py").write_text(
        "import os, sys\n"
        "def main():\n"
        "    print('argv', sys.argv[1:], 'cwd', os.getcwd())\n"
        "    print('to stderr', file=sys.stderr)\n"
        "    sys.exit(int(os.environ['EXIT_WITH']))\n"
    )
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    code = server.run("prog:main", ["a", "b"], dict(os.environ, EXIT_WITH="5"), str(tmp_path), str(out), str(err))
    assert code == 5
    assert out.read_text().strip() == f"argv ['a', 'b'] cwd {tmp_path}"
    assert err.read_text().strip() == "to stderr"


def test_late_preload_is_imported_while_idle(root, tmp_path):
    (root / "late_marker.py").write_text(MARKER)
    with kernels.ForkServer(root, tmp_path / "z.log", preload=(), late_preload=("late_marker",)) as server:
        probe = tmp_path / "probe.txt"
        (root / "probe.py").write_text(
            "import os, sys\n"
            "def main():\n"
            "    print('late_marker' in sys.modules)\n"
        )
        deadline = time.monotonic() + 30
        seen = "False"
        while seen != "True" and time.monotonic() < deadline:
            server.run("probe:main", [], dict(os.environ), str(root), str(probe))
            seen = probe.read_text().strip().splitlines()[-1]
        assert seen == "True"
