"""The package's layers (README, "Layout") are a contract checked by import-linter, not a convention.

``pyproject.toml`` lists the layers from the CLI down to the error module; an import that points
upward (an analysis importing a table formatter, a statistic importing a study module) fails here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    assert LINT.is_file(), f"import-linter is not installed beside {sys.executable} (requirements.txt)"
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PATH": str(LINT.parent), "PYTHONPATH": str(cwd)})


def test_the_package_keeps_its_layers():
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "1 kept, 0 broken" in proc.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The same contract on a copy of the package with one upward import added must fail, naming it."""
    shutil.copytree(ROOT / "nscore", tmp_path / "nscore", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    survival = tmp_path / "nscore" / "statistics" / "survival.py"
    survival.write_text(survival.read_text() + textwrap.dedent("""
        from nscore.report import tables as _upward  # noqa: E402  (the violation under test)
    """))
    proc = _lint(tmp_path)
    assert proc.returncode != 0
    assert "nscore.statistics.survival -> nscore.report.tables" in proc.stdout


def test_every_module_belongs_to_a_layer():
    """A module dropped at the top of the package would sit outside every layer and escape the check."""
    top = sorted(p.stem for p in (ROOT / "nscore").glob("*.py"))
    assert top == ["__init__", "__main__", "cli", "errors", "files"], top
    packages = sorted(p.name for p in (ROOT / "nscore").iterdir() if (p / "__init__.py").is_file())
    assert packages == ["analyses", "build", "data", "report", "statistics"], packages


def _cycles(package: str) -> list[list[str]]:
    """Groups of modules that import each other, directly or not (imports inside functions count)."""
    import grimp

    graph = grimp.build_graph(package, cache_dir=None)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in edges:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle():
    assert _cycles("nscore") == []


def test_a_cycle_is_found(tmp_path, monkeypatch):
    pkg = tmp_path / "cyclic"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclic import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclic import a  # a lazy import still closes the cycle\n")
    (pkg / "c.py").write_text("from cyclic import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles("cyclic") == [["cyclic.a", "cyclic.b"]]
