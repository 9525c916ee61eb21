"""Chapters that crash, hang or run out of memory: each ends the build with a ChapterExecutionError
that names the chapter, the cell and the cause, and leaves the last good site and executed notebooks.

Every test starts from one cold build of the toy book (tests/toy, two chapters, real kernels and
jupyter-book; see tests/test_pipeline.py), appends one faulty cell to the ``second`` chapter and
builds again, so only that chapter runs. Faults are provoked inside the chapter's own kernel and
bounded so that they are safe on a shared machine: the segfault is a real one (``ctypes`` reads
address 0), the hang is cut by the build's per-cell timeout set to a few seconds, and the memory
exhaustion happens under an address-space limit the kernel sets on itself (a few hundred MiB above
what it already maps), so nothing else on the machine is short of memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from nscore.build import execute, pipeline
from nscore.errors import ChapterExecutionError, NscoreError

TOY = Path(__file__).parent / "toy"
sys.path.insert(0, str(TOY))
import toystore  # noqa: E402

CUTOFF = "2025-01-01"


def make_project(root: Path) -> pipeline.Project:
    return pipeline.Project(root, store=toystore.ToyStore(root / "data"))


def digest(*dirs: Path) -> dict[str, str]:
    out = {}
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.is_file():
                out[str(p.relative_to(d.parent))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults") / "toy"
    shutil.copytree(TOY, root, ignore=shutil.ignore_patterns("__pycache__", "_build"))
    pipeline.build(make_project(root), jobs=2, progress=lambda m: None)
    return root


@pytest.fixture
def toy(built, tmp_path) -> Path:
    root = tmp_path / "toy"
    shutil.copytree(built, root, symlinks=True)
    return root


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")  # a zombie still answers kill(0)
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def fail_with(toy: Path, cell: str, *, seconds: float = 90) -> tuple[ChapterExecutionError, list[str]]:
    """Append ``cell`` to chapter 'second', build, and return the error and the progress messages,
    checking that the published notebooks, the cache of executed notebooks and the site are untouched."""
    import jupytext

    src = toy / "chapters" / "src" / "second.md"
    fault_cell = len(jupytext.read(src, fmt="md:myst").cells)  # the appended cell's index
    src.write_text(src.read_text() + f"\n```{{code-cell}} ipython3\n{cell}\n```\n")
    dirs = (toy / "chapters", toy / "_build" / "html", toy / "_build" / "executed")
    before = digest(*dirs)
    messages: list[str] = []
    t0 = time.monotonic()
    with pytest.raises(ChapterExecutionError) as info:
        pipeline.build(make_project(toy), jobs=2, progress=messages.append)
    assert time.monotonic() - t0 < seconds
    assert digest(*dirs) == before, "the last good notebooks or site changed"
    assert (toy / "_build" / "html" / "index.html").is_file()
    assert not list((toy / "_build").glob(".stage-*")), "staging directory left behind"
    assert (toy / "_build" / "failed" / CUTOFF / "second.ipynb").is_file()  # kept for inspection
    assert not any("retry" in m for m in messages), "a chapter that ran and failed was run again"
    err = info.value
    assert err.chapter == "second" and err.cell_index == fault_cell
    assert f"chapter 'second' failed in cell {fault_cell}" in str(err)
    return err, messages


def test_segfaulting_chapter_names_the_signal(toy):
    err, _ = fail_with(toy, "import ctypes\nctypes.string_at(0)  # reads address 0: SIGSEGV")
    assert err.ename == "DeadKernelError"
    assert "the kernel died while running this cell: killed by SIGSEGV" in err.evalue
    assert "segmentation fault" in err.evalue
    assert "ctypes.string_at(0)" in err.source


def test_hanging_chapter_is_stopped_by_the_cell_timeout_and_its_kernel_ended(toy, monkeypatch, tmp_path):
    pidfile = tmp_path / "kernel.pid"
    monkeypatch.setenv(execute.CELL_TIMEOUT_ENV, "3")
    # the hang ignores SIGINT and SIGTERM, so only a kill ends it
    err, _ = fail_with(toy, "import os, signal, time\n"
                            f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
                            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                            "while True:\n"
                            "    time.sleep(0.1)")
    assert err.ename == "CellTimeoutError"
    assert "did not finish within the build's per-cell timeout of 3 s (NSCORE_CELL_TIMEOUT)" in err.evalue
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 30
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "the hung kernel was left running"


def test_chapter_exhausting_memory_fails_with_memory_error(toy):
    err, _ = fail_with(toy, "import resource\n"
                            "mapped = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
                            "_, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
                            "resource.setrlimit(resource.RLIMIT_AS, (mapped + 512 * 2**20, hard))\n"
                            "hog = [bytearray(64 * 2**20) for _ in range(64)]  # 4 GiB, in 64 MiB blocks")
    assert err.ename == "MemoryError"
    assert "bytearray(64 * 2**20)" in err.source


def test_chapter_killed_as_the_out_of_memory_killer_does_says_so(toy):
    err, _ = fail_with(toy, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert err.ename == "DeadKernelError"
    assert "killed by SIGKILL" in err.evalue and "out-of-memory killer" in err.evalue


def test_chapter_whose_kernel_exits_gives_the_status(toy):
    err, _ = fail_with(toy, "import os\nos._exit(3)")
    assert err.ename == "DeadKernelError" and "it exited with status 3" in err.evalue


def test_a_crash_beside_a_chapter_running_in_parallel_fails_cleanly(toy):
    """Both chapters run at once (force, 2 kernels); 'second' segfaults: the build names it, and the
    published notebooks and site stay as they were (the good run is only cached)."""
    src = toy / "chapters" / "src" / "second.md"
    src.write_text(src.read_text() + "\n```{code-cell} ipython3\nimport ctypes\nctypes.string_at(0)\n```\n")
    published = (toy / "chapters", toy / "_build" / "html")
    before = digest(*published)
    messages: list[str] = []
    with pytest.raises(ChapterExecutionError) as info:
        pipeline.build(make_project(toy), force=True, jobs=2, progress=messages.append)
    assert info.value.chapter == "second" and "SIGSEGV" in info.value.evalue
    assert any(m.startswith("  started  index") for m in messages)
    assert digest(*published) == before
    assert not list((toy / "_build").glob(".stage-*"))


def test_the_build_succeeds_again_once_the_fault_is_gone_in_an_ordinary_kernel(toy):
    src = toy / "chapters" / "src" / "second.md"
    good = src.read_text()
    fail_with(toy, "import ctypes\nctypes.string_at(0)")
    # the kernel is an ordinary new interpreter: a child of the build process, not a fork of a server
    src.write_text(good + "\n```{code-cell} ipython3\nimport os\nprint('kernel parent', os.getppid())\n```\n")
    report = pipeline.build(make_project(toy), progress=lambda m: None)
    assert report.executed == [(CUTOFF, "second")]
    nb = json.loads((toy / "chapters" / "second.ipynb").read_text())
    assert nb["metadata"]["nscore"]["kernel"] == "new interpreter"
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])
    assert f"kernel parent {os.getpid()}" in text


def test_cell_timeout_setting(monkeypatch):
    monkeypatch.delenv(execute.CELL_TIMEOUT_ENV, raising=False)
    assert execute.cell_timeout() == execute.CELL_TIMEOUT == 600
    monkeypatch.setenv(execute.CELL_TIMEOUT_ENV, "45")
    assert execute.cell_timeout() == 45
    monkeypatch.setenv(execute.CELL_TIMEOUT_ENV, "0")
    assert execute.cell_timeout() is None
    monkeypatch.setenv(execute.CELL_TIMEOUT_ENV, "ten")
    with pytest.raises(NscoreError, match="NSCORE_CELL_TIMEOUT must be a whole number of seconds"):
        execute.cell_timeout()
