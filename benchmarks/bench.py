#!/usr/bin/env python
"""Benchmarks of the living publication: rebuild speed and scale (issue 7).

Sections (``--only`` takes a comma list; default all):

``cold``
    Cold build of the newest cutoff on a temp copy of the repo (nothing cached, ``force``) with the
    nscore pipeline, against jupyter-book executing the same chapters itself
    (``execute_notebooks: force``, serial) on a second temp copy whose ``_toc.yml`` points at the
    jupytext sources converted to ``.ipynb`` without outputs. Both are timed as the wall clock of a
    fresh process, so both pay interpreter start-up and imports. Target: pipeline <= 0.5x.
``rebuild``
    On a temp copy built cold for every stored cutoff: a rebuild with nothing changed (target: no
    chapter executed, <= 10% of that cold build), a data update (a later cutoff of the same
    simulated patients stored with ``versions.store``, then the build: what ``nscore update`` does)
    and an edit of one chapter source (only that chapter may re-execute, once per cutoff). Each
    update/edit repetition starts from a fresh copy of the built project.
``scale``
    Simulated cohorts (default 334, 10,000, 100,000 and 1,000,000 patients) through every analysis
    and chart function the chapters call, each size in its own subprocess so that peak RSS
    (``getrusage``) of one size cannot leak into another; loading + validating the CSV files with
    ``load.load_cohort`` is measured in a separate subprocess (up to ``--load-max-n`` patients).
``site``
    Full builds of a temp copy whose data store holds one simulated cutoff of 334 and of 100,000
    patients: build-time ratio, largest HTML page and size of the version's site.

Nothing in the working tree is modified: everything that builds runs on copies in a temp
directory, with ``PYTHONPATH`` pointing at the copy so the copy's own ``nscore`` is used.

Usage::

    .venv/bin/python benchmarks/bench.py                  # everything (about 15 min on 2 cores)
    .venv/bin/python benchmarks/bench.py --quick          # tiny settings, a smoke run
    .venv/bin/python benchmarks/bench.py --only scale --sizes 334,10000

Prints the table and writes every raw figure to ``_build/bench.json`` (``--json`` to change).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SECTIONS = ("cold", "rebuild", "scale", "site")
GiB = 1024 ** 3
MiB = 1024 ** 2

# What a temp copy of the project leaves out: environments, caches, VCS, build outputs.
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "_build", ".pytest_cache", ".hypothesis", "__pycache__", "*.egg-info",
    ".ipynb_checkpoints", ".stage-*",
)

TARGETS = {
    "cold_ratio": 0.5,          # pipeline cold / jupyter-book serial execution
    "nochange_ratio": 0.10,     # rebuild with nothing changed / cold build
    "site_build_ratio": 2.0,    # 100k-patient build / 334-patient build
    "site_size_ratio": 1.10,    # largest page and site size, 100k / 334 ("independent of n")
    "analysis_1m_seconds": 60.0,
    "analysis_1m_bytes": 8 * GiB,
}


# ==================================================================================================
# small helpers
# ==================================================================================================
def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def fmt_s(x) -> str:
    return "n/a" if x is None else (f"{x:.2f} s" if x < 10 else f"{x:.1f} s")


def fmt_bytes(x) -> str:
    if x is None:
        return "n/a"
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if x >= size:
            return f"{x / size:.1f} {unit}"
    return f"{x} B"


def fmt_n(n: int) -> str:
    return f"{n:,}"


def machine() -> dict:
    info = {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_start": loadavg(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
    }
    try:
        import psutil

        info["memory_bytes"] = psutil.virtual_memory().total
    except ImportError:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10)
        info["commit"] = done.stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True, timeout=10)
        info["tree_dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        info["commit"] = "unknown"
    return info


def copy_project(dest: Path, *, drop_notebooks: bool = True) -> Path:
    """A copy of the working tree without caches and build outputs (``chapters/*.ipynb`` dropped)."""
    shutil.copytree(ROOT, dest, ignore=COPY_IGNORE, symlinks=True)
    if drop_notebooks:
        for nb in (dest / "chapters").glob("*.ipynb"):
            nb.unlink()
    return dest


def project_env(root: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(root), env.get("PYTHONPATH", "")) if x)
    env.pop("NSCORE_BUILD", None)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def run_timed(cmd: list[str], *, cwd: Path, env: dict, timeout: float | None = None,
              watch_rss: bool = False) -> dict:
    """Run ``cmd``; wall seconds, exit code, output tails and (optionally) peak RSS of the tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peak = 0
    if watch_rss:
        import threading

        import psutil

        stop = threading.Event()

        def poll():
            nonlocal peak
            try:
                p = psutil.Process(proc.pid)
                while not stop.is_set():
                    try:
                        rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                        peak = max(peak, rss)
                    except psutil.Error:
                        pass
                    stop.wait(0.2)
            except psutil.Error:
                return

        th = threading.Thread(target=poll, daemon=True)
        th.start()
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        out, err = proc.communicate()
    if watch_rss:
        stop.set()
    return {"seconds": time.perf_counter() - t0, "returncode": proc.returncode, "timed_out": timed_out,
            "stdout": out, "stderr": err, "peak_rss_polled": peak or None}


def last_json(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def tail(text: str, n: int = 12) -> str:
    return "\n".join((text or "").strip().splitlines()[-n:])


# ==================================================================================================
# builds (each in a fresh process on a copy, with the copy's own nscore)
# ==================================================================================================
_BUILD_SNIPPET = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    args = json.loads(sys.argv[1])
    from nscore.build import pipeline
    project = pipeline.Project(Path(args["root"]))
    say = lambda m: print(m, file=sys.stderr, flush=True)
    out = {}
    t0 = time.perf_counter()
    for d in args.get("store", []):
        from nscore.data import versions
        versions.store(Path(d), project.data_path)
    out["store_seconds"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    r = pipeline.build(project, cutoff=args.get("cutoff", "latest"), force=args.get("force", False),
                       jobs=args.get("jobs"), progress=say)
    out.update(build_seconds=time.perf_counter() - t1, executed=[list(x) for x in r.executed],
               skipped=[list(x) for x in r.skipped], sites_built=r.sites_built,
               sites_reused=r.sites_reused, cutoffs=r.cutoffs)
    print(json.dumps(out))
    """
)


def pipeline_build(root: Path, *, cutoff="latest", force=False, store=(), jobs=None,
                   timeout: float | None = None) -> dict:
    """Wall time of ``pipeline.build`` (after ``versions.store`` of ``store`` dirs) in a fresh process."""
    args = {"root": str(root), "cutoff": cutoff, "force": force, "store": [str(s) for s in store],
            "jobs": jobs}
    r = run_timed([PY, "-c", _BUILD_SNIPPET, json.dumps(args)], cwd=root, env=project_env(root),
                  timeout=timeout)
    res = last_json(r["stdout"]) if r["returncode"] == 0 else None
    out = {"seconds": r["seconds"], "ok": res is not None, "timed_out": r["timed_out"],
           **_pipeline_breakdown(r["stderr"])}
    if res is None:
        out["error"] = "timed out" if r["timed_out"] else _error_line(r["stderr"])
        out["log_tail"] = tail(r["stderr"], 25)
    else:
        out.update(res)
    return out


def _pipeline_breakdown(stderr: str) -> dict:
    """Seconds per executed chapter and per site build, from the pipeline's progress lines."""
    chapters = [float(x) for x in re.findall(r"finished .+? in ([\d.]+) s", stderr or "")]
    sites = [float(x) for x in re.findall(r"site .+?: built in ([\d.]+) s", stderr or "")]
    return {"chapter_seconds": chapters, "site_build_seconds": sites}


def _error_line(stderr: str) -> str:
    lines = [ln for ln in (stderr or "").strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", ln.strip()):
            return ln.strip()[:300]
    return (lines[-1] if lines else "failed")[:300]


def jb_baseline_copy(dest: Path) -> Path:
    """A copy in which jupyter-book executes the chapters itself (force, serial, no outputs in)."""
    import jupytext
    import nbformat
    import yaml

    copy_project(dest)
    from nscore.build import pipeline

    project = pipeline.Project(dest)
    for ch in project.chapters():
        nb = jupytext.read(project.source(ch), fmt="md:myst")
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                     "language": "python"}
        nb.metadata.pop("jupytext", None)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        target = project.notebook(ch)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    cfg_path = dest / "_config.yml"
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    cfg["execute"] = {"execute_notebooks": "force", "timeout": 1800, "allow_errors": False}
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return dest


def jb_build(root: Path, timeout: float | None = None) -> dict:
    """``jupyter-book build`` with the pipeline's flags; wall time of the whole process."""
    shutil.rmtree(root / "_build", ignore_errors=True)
    jb = Path(PY).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root), "-W", "-n", "--keep-going"]
    r = run_timed(cmd, cwd=root, env=project_env(root), timeout=timeout)
    html = root / "_build" / "html"
    pages = sorted(p.name for p in (html / "chapters").glob("*.html")) if html.exists() else []
    text = r["stdout"] + "\n" + r["stderr"]
    warnings = [ln for ln in text.splitlines() if "WARNING" in ln or "ERROR" in ln]
    errors_in_cells = [ln for ln in text.splitlines() if "Executing notebook failed" in ln
                       or "CellExecutionError" in ln]
    ok = (html / "index.html").exists() and not errors_in_cells and not r["timed_out"]
    executed = [float(x) for x in re.findall(r"[Ee]xecuted notebook in ([\d.]+) s", text)]
    out = {"seconds": r["seconds"], "ok": ok, "returncode": r["returncode"], "pages": pages,
           "chapter_seconds": executed,
           "warnings": len(warnings), "warning_lines": warnings[:10]}
    if not ok:
        out["error"] = "timed out" if r["timed_out"] else (errors_in_cells[:1] or warnings[:1] or [tail(text, 3)])[0][:300]
    return out


def site_sizes(html: Path) -> dict:
    """Largest HTML page and total bytes of one version's site (files, as a deploy uploads them)."""
    if not html.exists():
        return {}
    files = [p for p in html.rglob("*") if p.is_file() and p.name != ".nscore-site.json"]
    pages = [p for p in files if p.suffix == ".html"]
    biggest = max(pages, key=lambda p: p.stat().st_size) if pages else None
    return {
        "site_bytes": sum(p.stat().st_size for p in files),
        "html_bytes": sum(p.stat().st_size for p in pages),
        "largest_page": str(biggest.relative_to(html)) if biggest else None,
        "largest_page_bytes": biggest.stat().st_size if biggest else None,
        "files": len(files),
    }


# ==================================================================================================
# section: cold build, pipeline vs jupyter-book
# ==================================================================================================
def section_cold(tmp: Path, reps: int, timeout: float) -> dict:
    from nscore.data import versions

    newest = str(versions.list_cutoffs(ROOT / "data")[-1])
    pipe_root = copy_project(tmp / "cold-pipeline")
    jb_root = jb_baseline_copy(tmp / "cold-jupyter-book")
    pipe, jb = [], []
    for i in range(reps):  # interleaved, so slow drift in machine load hits both alike
        shutil.rmtree(pipe_root / "_build", ignore_errors=True)
        for nb in (pipe_root / "chapters").glob("*.ipynb"):
            nb.unlink()
        log(f"cold {i + 1}/{reps}: nscore pipeline, cutoff {newest}, force")
        pipe.append(pipeline_build(pipe_root, cutoff=newest, force=True, timeout=timeout))
        log(f"  {fmt_s(pipe[-1]['seconds'])} {'ok' if pipe[-1]['ok'] else pipe[-1].get('error')}")
        log(f"cold {i + 1}/{reps}: jupyter-book execute_notebooks=force")
        jb.append(jb_build(jb_root, timeout=timeout))
        log(f"  {fmt_s(jb[-1]['seconds'])} {'ok' if jb[-1]['ok'] else jb[-1].get('error')}")
    p = median([r["seconds"] for r in pipe if r["ok"]])
    j = median([r["seconds"] for r in jb if r["ok"]])
    executed = [len(r.get("executed", [])) for r in pipe if r["ok"]]
    return {"cutoff": newest, "pipeline": pipe, "jupyter_book": jb, "pipeline_median": p,
            "jupyter_book_median": j, "ratio": (p / j) if p and j else None,
            "chapters_executed": executed, "jobs": os.cpu_count()}


# ==================================================================================================
# section: rebuilds (nothing changed, data update, one chapter edited)
# ==================================================================================================
def later_cutoff_delivery(dest: Path, after: _dt.date) -> tuple[Path, str]:
    """The shipped simulated patients observed six months after the newest stored cutoff."""
    from nscore.data import simulate

    y, m = after.year + (after.month + 5) // 12, (after.month + 5) % 12 + 1
    cutoff = _dt.date(y, m, 1)
    frames = simulate.simulate_cohort(n=simulate.PUBLISHED_N, cutoff=cutoff, seed=simulate.SEED)
    simulate.write_cohort(frames, dest)
    return dest, cutoff.isoformat()


def section_rebuild(tmp: Path, reps: int, edit_reps: int, edit_chapter: str, timeout: float) -> dict:
    from nscore.build import pipeline
    from nscore.data import versions

    base = copy_project(tmp / "rebuild-base")
    cutoffs = [str(c) for c in versions.list_cutoffs(ROOT / "data")]
    n_chapters = len(pipeline.Project(base).chapters())
    log(f"rebuild: cold build of every cutoff ({', '.join(cutoffs)}) to start from")
    cold = pipeline_build(base, cutoff="latest", force=True, timeout=timeout)
    log(f"  {fmt_s(cold['seconds'])} {'ok' if cold['ok'] else cold.get('error')}")
    out = {"cutoffs": cutoffs, "chapters": n_chapters, "cold_all": cold}
    if not cold["ok"]:
        out["error"] = f"cold build failed: {cold.get('error')}"
        return out

    nochange = []
    for i in range(reps):
        log(f"rebuild {i + 1}/{reps}: nothing changed")
        nochange.append(pipeline_build(base, timeout=timeout))
        log(f"  {fmt_s(nochange[-1]['seconds'])}, executed {len(nochange[-1].get('executed', []))}")
    out["nochange"] = nochange
    nc = median([r["seconds"] for r in nochange if r["ok"]])
    out["nochange_median"] = nc
    out["nochange_ratio"] = nc / cold["seconds"] if nc else None
    out["nochange_executed"] = max((len(r.get("executed", [])) for r in nochange), default=None)

    delivery, new_cutoff = later_cutoff_delivery(tmp / "delivery", _dt.date.fromisoformat(cutoffs[-1]))
    updates = []
    for i in range(edit_reps):
        work = tmp / f"rebuild-update-{i}"
        shutil.copytree(base, work, symlinks=True)
        log(f"rebuild {i + 1}/{edit_reps}: data update (store cutoff {new_cutoff}, then build)")
        r = pipeline_build(work, store=[delivery], timeout=timeout)
        log(f"  {fmt_s(r['seconds'])}, executed {len(r.get('executed', []))}")
        updates.append(r)
        shutil.rmtree(work, ignore_errors=True)
    out["update"] = updates
    out["update_cutoff"] = new_cutoff
    out["update_median"] = median([r["seconds"] for r in updates if r["ok"]])
    out["update_expected"] = sorted([new_cutoff, ch] for ch in _chapter_names(base))

    edits = []
    for i in range(edit_reps):
        work = tmp / f"rebuild-edit-{i}"
        shutil.copytree(base, work, symlinks=True)
        src = work / "chapters" / "src" / f"{edit_chapter}.md"
        with open(src, "a", encoding="utf-8") as f:
            f.write(f"\n\nA sentence added by the benchmark (edit {i + 1}).\n")
        log(f"rebuild {i + 1}/{edit_reps}: chapter source {edit_chapter}.md edited")
        r = pipeline_build(work, timeout=timeout)
        log(f"  {fmt_s(r['seconds'])}, executed {r.get('executed')}")
        edits.append(r)
        shutil.rmtree(work, ignore_errors=True)
    out["edit"] = edits
    out["edit_chapter"] = edit_chapter
    out["edit_median"] = median([r["seconds"] for r in edits if r["ok"]])
    out["edit_expected"] = sorted([c, edit_chapter] for c in cutoffs)
    return out


def _chapter_names(root: Path) -> list[str]:
    from nscore.build import pipeline

    return [c.name for c in pipeline.Project(root).chapters()]


# ==================================================================================================
# section: scale (workers run in their own processes)
# ==================================================================================================
def analysis_steps(c) -> list[tuple[str, object]]:
    """Every patient-level analysis and chart call of the chapters, as (name, thunk) in chapter order.

    Thunks that build a chart return it; the worker serialises it (``to_json``, as glue does) and
    records its size, which must not grow with the cohort (aggregated charts).
    """
    from nscore.analyses import baseline as bl
    from nscore.analyses import cohort as co
    from nscore.analyses import efficacy as ef
    from nscore.report import figures as fg
    from nscore.analyses import headline as hl
    from nscore.analyses import published as pu
    from nscore.analyses import safety as sa
    from nscore.statistics import survival as sv
    from nscore.report import tables as tb

    adsl, adtte = c.adsl, c.adtte
    r: dict = {}

    def keep(name, fn):
        def run():
            r[name] = fn()
            return r[name]
        return run

    chart = dict(title="bench", alt_text="bench")
    return [
        # background, methods, index, changes
        ("tables.counts_by", lambda: tb.counts_by(adsl, "STUDYID", "DIAG", row_label="Trial")),
        ("tables.dataset_summary", lambda: tb.dataset_summary(c)),
        ("headline.headline_figures", lambda: hl.headline_figures(c)),
        ("headline.compare_cutoffs", lambda: hl.compare_cutoffs([c])),
        # results
        ("cohort.patient_flow", keep("flow", lambda: co.patient_flow(c))),
        ("figures.flow_diagram", lambda: fg.flow_diagram(r["flow"].table, **chart)),
        ("baseline.baseline_table", lambda: bl.baseline_table(c)),
        ("efficacy.response_rates", lambda: ef.response_rates(c)),
        ("efficacy.response_by_subgroup", keep("sub", lambda: ef.response_by_subgroup(c))),
        ("figures.forest_plot", lambda: fg.forest_plot(r["sub"].table, **chart)),
        ("efficacy.mrd_negativity", lambda: ef.mrd_negativity(c)),
        ("survival.kaplan_meier OS", keep("km_os", lambda: sv.kaplan_meier(adtte, "OS"))),
        ("survival.kaplan_meier PFS", lambda: sv.kaplan_meier(adtte, "PFS")),
        ("figures.km_plot OS", lambda: fg.km_plot(r["km_os"], **chart)),
        ("survival.median_follow_up", lambda: sv.median_follow_up(adtte, "OS")),
        ("published.abstract_rows", lambda: pu.abstract_rows(c)),
        ("survival.kaplan_meier_by DIAG", keep("by_diag", lambda: sv.kaplan_meier_by(adtte, adsl, "OS", "DIAG"))),
        ("survival.kaplan_meier_by PRIORHCT", lambda: sv.kaplan_meier_by(adtte, adsl, "OS", "PRIORHCT")),
        ("figures.km_plot by DIAG", lambda: fg.km_plot(r["by_diag"], **chart)),
        ("survival.landmark", keep("landmark", lambda: sv.landmark(adtte, adsl, "OS", day=100))),
        ("figures.km_plot landmark", lambda: fg.km_plot(r["landmark"], **chart)),
        ("survival.transplant_time_dependent_cox", lambda: sv.transplant_time_dependent_cox(adtte, adsl, "OS")),
        ("survival.simon_makuch", keep("sm", lambda: sv.simon_makuch(adtte, adsl, "OS"))),
        ("figures.simon_makuch_plot", lambda: fg.simon_makuch_plot(r["sm"], **chart)),
        ("survival.cumulative_incidence", keep("cif", lambda: sv.cumulative_incidence(adtte, "PFS"))),
        ("figures.cif_plot", lambda: fg.cif_plot(r["cif"], **chart)),
        # safety
        ("safety.incidence CRS", lambda: sa.incidence(c, "CRS")),
        ("safety.incidence ICANS", lambda: sa.incidence(c, "ICANS")),
        ("safety.grade_distribution", keep("grades", lambda: sa.grade_distribution(c))),
        ("figures.grade_stacked_bar", lambda: fg.grade_stacked_bar(r["grades"].table, **chart)),
        ("safety.onset_duration", lambda: sa.onset_duration(c)),
        ("safety.grade3_by DOSELVL", lambda: sa.grade3_by(c, "DOSELVL")),
        ("safety.grade3_by blasts", lambda: sa.grade3_by(c, "blasts")),
    ]


ANALYSIS_MODULES = {"cohort", "efficacy", "safety", "survival", "headline", "published", "figures"}


def chapter_calls(root: Path = ROOT) -> set[str]:
    """``module.function`` of every analysis/figure call in the chapter sources."""
    calls = set()
    for src in sorted((root / "chapters" / "src").glob("*.md")):
        text = src.read_text(encoding="utf-8")
        alias = {}
        for m in re.finditer(r"^from nscore import (.+)$", text, flags=re.M):
            for part in m.group(1).split(","):
                bits = part.split(" as ")
                name = bits[0].strip()
                alias[(bits[1] if len(bits) > 1 else bits[0]).strip()] = name
        for a, mod in alias.items():
            if mod not in ANALYSIS_MODULES:
                continue
            for m in re.finditer(rf"\b{re.escape(a)}\.([a-z_][a-z0-9_]*)\(", text):
                calls.add(f"{mod}.{m.group(1)}")
    return calls


def uncovered_calls() -> list[str]:
    covered = {name.split()[0] for name, _ in analysis_steps(_Dummy())}
    return sorted(chapter_calls() - covered)


class _Dummy:
    adsl = adtte = None


def worker_prep(n: int, directory: Path, cutoff: str, seed: int | None, write_csv: bool) -> None:
    """Simulate ``n`` patients; pickle the frames (for the analysis worker) and write the CSVs."""
    import pickle

    from nscore.data import simulate

    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    frames = simulate.simulate_cohort(n=n, cutoff=_dt.date.fromisoformat(cutoff),
                                      seed=simulate.SEED if seed is None else seed)
    out = {"simulate_seconds": time.perf_counter() - t0, "rows": {k: len(v) for k, v in frames.items()}}
    with open(directory / "frames.pkl", "wb") as f:
        pickle.dump(frames, f, protocol=pickle.HIGHEST_PROTOCOL)
    if write_csv:
        t0 = time.perf_counter()
        simulate.write_cohort(frames, directory / "csv")
        out["write_csv_seconds"] = time.perf_counter() - t0
        out["csv_bytes"] = sum(p.stat().st_size for p in (directory / "csv").glob("*.csv"))
    out["peak_rss_bytes"] = _maxrss()
    print(json.dumps(out), flush=True)


def _maxrss() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def worker_load(directory: Path) -> None:
    """``load.load_cohort`` of the CSVs: time, outcome and peak RSS of this process alone."""
    from nscore.data import load
    from nscore.errors import DataValidationError

    base = _maxrss()
    t0 = time.perf_counter()
    out: dict = {}
    try:
        c = load.load_cohort(directory)
        out["ok"] = True
        out["rows"] = len(c.adsl)
    except DataValidationError as exc:
        f = exc.failures
        out["ok"] = False
        out["failures"] = int(len(f))
        out["failed_rules"] = {f"{k[0]}:{k[1]}": int(v) for k, v in
                               f.groupby(["column", "rule"], dropna=False).size().head(8).items()}
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_bytes"] = _maxrss()
    out["rss_before_bytes"] = base
    print(json.dumps(out), flush=True)


class StepTimeout(BaseException):
    """Raised by SIGALRM inside a step (a BaseException, so no ``except Exception`` swallows it)."""


def _alarm(signum, frame):
    raise StepTimeout()


def worker_analyse(directory: Path, reps: int, step_timeout: float, budget: float) -> None:
    """Run :func:`analysis_steps` ``reps`` times on the pickled frames; one JSON line per step.

    A step running longer than ``step_timeout`` seconds is interrupted (SIGALRM) and reported as
    timed out; once ``budget`` seconds have gone by, the remaining steps are reported as not run.
    Either way the size's total is then a lower bound.
    """
    import pickle
    import signal

    from nscore.data import load

    with open(directory / "frames.pkl", "rb") as f:
        frames = pickle.load(f)
    adsl = frames["adsl"]
    cutoff = adsl["DCUTDT"].iloc[0].date()
    c = load.Cohort(adsl=adsl, adrs=frames["adrs"], adtte=frames["adtte"], adae=frames["adae"],
                    cutoff=cutoff, source=directory, version="benchmark000", simulated=True, files={})
    print(json.dumps({"data_rss_bytes": _rss(), "peak_before_bytes": _maxrss()}), flush=True)
    signal.signal(signal.SIGALRM, _alarm)
    t_all = time.perf_counter()
    for rep in range(reps):
        t_rep = time.perf_counter()
        incomplete = False
        for name, fn in analysis_steps(c):
            rec = {"rep": rep, "step": name}
            left = budget - (time.perf_counter() - t_all)
            if left <= 0:
                rec.update(seconds=None, error=f"not run: the {budget:g} s budget of this size was used up",
                           not_run=True, peak_rss_bytes=_maxrss(), peak_raised_bytes=0)
                print(json.dumps(rec), flush=True)
                incomplete = True
                continue
            limit = min(step_timeout, left)
            before = _maxrss()
            t0 = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                value = fn()
                signal.setitimer(signal.ITIMER_REAL, 0)
                rec["seconds"] = time.perf_counter() - t0
                if name.startswith("figures."):
                    chart = getattr(value, "chart", value)  # figures return a Figure wrapping the altair chart
                    rec["chart_json_bytes"] = len(chart.to_json())
                    rec["seconds_with_json"] = time.perf_counter() - t0
            except StepTimeout:
                rec["seconds"] = time.perf_counter() - t0
                rec["error"] = f"timed out after {limit:.0f} s"
                rec["timed_out"] = True
                incomplete = True
            except Exception as exc:  # noqa: BLE001 - a failing step is reported, the others still run
                signal.setitimer(signal.ITIMER_REAL, 0)
                rec["seconds"] = time.perf_counter() - t0
                rec["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
            rec["peak_rss_bytes"] = _maxrss()
            rec["peak_raised_bytes"] = rec["peak_rss_bytes"] - before
            print(json.dumps(rec), flush=True)
        print(json.dumps({"rep": rep, "total_seconds": time.perf_counter() - t_rep, "incomplete": incomplete}),
              flush=True)
        if incomplete:
            break  # the total is a lower bound already; more repetitions would only cost time
    print(json.dumps({"done": True, "peak_rss_bytes": _maxrss()}), flush=True)


def _worker_cmd(*args: str) -> list[str]:
    return [PY, str(Path(__file__).resolve()), "--worker", *args]


def section_scale(tmp: Path, sizes: list[int], reps_for, load_max_n: int, timeout: float,
                  step_timeout: float, budget: float) -> dict:
    from nscore.data import simulate

    cutoff = simulate.PUBLISHED_CUTOFF.isoformat()
    env = project_env(ROOT)
    results = {}
    for n in sizes:
        d = tmp / f"scale-{n}"
        res: dict = {"n": n}
        results[str(n)] = res
        log(f"scale n={fmt_n(n)}: simulate" + (" + write CSV" if n <= load_max_n else ""))
        prep = ["prep", "--n", str(n), "--dir", str(d), "--cutoff", cutoff]
        if n <= load_max_n:
            prep.append("--write-csv")
        r = run_timed(_worker_cmd(*prep), cwd=ROOT, env=env, timeout=timeout)
        res["prep"] = last_json(r["stdout"]) or {"error": _error_line(r["stderr"]), "timed_out": r["timed_out"]}
        if "error" in res["prep"]:
            log(f"  prep failed: {res['prep']['error']}")
            continue
        reps = reps_for(n)
        log(f"scale n={fmt_n(n)}: {len(analysis_steps(_Dummy()))} analysis steps x {reps}")
        cmd = _worker_cmd("analyse", "--dir", str(d), "--reps", str(reps), "--step-timeout", str(step_timeout),
                          "--budget", str(budget))
        r = run_timed(cmd, cwd=ROOT, env=env,
                      timeout=timeout, watch_rss=True)
        lines = json_lines(r["stdout"])
        res["analysis"] = _summarise_analysis(lines, reps)
        res["analysis"]["timed_out"] = r["timed_out"]
        res["analysis"]["peak_rss_polled_bytes"] = r["peak_rss_polled"]
        if r["returncode"] != 0 and not lines:
            res["analysis"]["error"] = _error_line(r["stderr"])
        log(f"  analysis {fmt_s(res['analysis'].get('total_seconds'))}, "
            f"peak {fmt_bytes(res['analysis'].get('peak_rss_bytes'))}"
            + (" (TIMED OUT)" if r["timed_out"] else ""))
        if n <= load_max_n:
            log(f"scale n={fmt_n(n)}: load_cohort from CSV")
            r = run_timed(_worker_cmd("load", "--dir", str(d / "csv")), cwd=ROOT, env=env, timeout=timeout)
            res["load"] = last_json(r["stdout"]) or {
                "error": "timed out" if r["timed_out"] else _error_line(r["stderr"]), "seconds": r["seconds"]}
            log(f"  load {fmt_s(res['load'].get('seconds'))} "
                f"{'valid' if res['load'].get('ok') else res['load'].get('error') or 'INVALID: ' + str(res['load'].get('failed_rules'))}")
        shutil.rmtree(d, ignore_errors=True)
    return {"sizes": sizes, "results": results, "uncovered_chapter_calls": uncovered_calls()}


def _summarise_analysis(lines: list[dict], reps: int) -> dict:
    steps: dict[str, dict] = {}
    totals = []
    out: dict = {}
    for rec in lines:
        if "data_rss_bytes" in rec:
            out["data_rss_bytes"] = rec["data_rss_bytes"]
        elif "step" in rec:
            s = steps.setdefault(rec["step"], {"seconds": [], "errors": []})
            if rec.get("not_run"):
                s["not_run"] = True
            elif rec.get("timed_out"):
                s["timed_out"] = True
                s["lower_bound_seconds"] = rec["seconds"]
            else:
                s["seconds"].append(rec["seconds"])
            if "error" in rec and not rec.get("not_run") and not rec.get("timed_out"):
                s["errors"].append(rec["error"])
            if "chart_json_bytes" in rec:
                s["chart_json_bytes"] = rec["chart_json_bytes"]
            s["peak_raised_bytes"] = max(s.get("peak_raised_bytes", 0), rec["peak_raised_bytes"])
            out["peak_rss_bytes"] = max(out.get("peak_rss_bytes", 0), rec["peak_rss_bytes"])
        elif "total_seconds" in rec:
            if rec.get("incomplete"):
                out["incomplete_total_seconds"] = rec["total_seconds"]
            else:
                totals.append(rec["total_seconds"])
        elif rec.get("done"):
            out["peak_rss_bytes"] = rec["peak_rss_bytes"]
            out["complete"] = True
    for s in steps.values():
        s["median_seconds"] = median(s["seconds"])
        s["errors"] = sorted(set(s["errors"]))
    out["steps"] = steps
    out["totals"] = totals
    out["incomplete"] = not totals
    out["total_seconds"] = median(totals) if totals else out.get("incomplete_total_seconds")
    out["complete"] = out.get("complete", False)
    out["failed_steps"] = sorted(k for k, s in steps.items() if s["errors"])
    out["timed_out_steps"] = sorted(k for k, s in steps.items() if s.get("timed_out"))
    out["not_run_steps"] = sorted(k for k, s in steps.items() if s.get("not_run"))
    return out


# ==================================================================================================
# section: site at two cohort sizes
# ==================================================================================================
def section_site(tmp: Path, sizes: list[int], timeout: float, keep: bool = False) -> dict:
    from nscore.data import simulate

    cutoff = simulate.PUBLISHED_CUTOFF
    results = {}
    for n in sizes:
        root = copy_project(tmp / f"site-{n}")
        shutil.rmtree(root / "data" / "cutoffs")
        (root / "data" / "cutoffs").mkdir()
        delivery = tmp / f"site-delivery-{n}"
        frames = simulate.simulate_cohort(n=n, cutoff=cutoff, seed=simulate.SEED)
        simulate.write_cohort(frames, delivery)
        del frames
        log(f"site n={fmt_n(n)}: store one cutoff ({cutoff}), then a full build")
        r = pipeline_build(root, store=[delivery], force=True, timeout=timeout)
        r.update(site_sizes(root / "_build" / "html" / "v" / cutoff.isoformat()))
        log(f"  {fmt_s(r['seconds'])} {'ok' if r['ok'] else r.get('error')}; "
            f"largest page {fmt_bytes(r.get('largest_page_bytes'))}, site {fmt_bytes(r.get('site_bytes'))}")
        r["build_only_seconds"] = r.get("build_seconds")
        results[str(n)] = r
        shutil.rmtree(delivery, ignore_errors=True)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return {"sizes": sizes, "results": results}


# ==================================================================================================
# the table
# ==================================================================================================
def verdict(value, target, *, le=True) -> str:
    if value is None:
        return "NOT MEASURED"
    return "met" if (value <= target if le else value >= target) else "NOT MET"


def summary_rows(res: dict) -> list[tuple[str, str, str, str]]:
    """(measure, value, target, status) rows of the main table."""
    rows = []
    cold = res.get("cold")
    if cold:
        nrep = len(cold["pipeline"])
        rows.append((f"cold build, nscore pipeline ({cold['cutoff']}, {cold['jobs']} kernels), median of {nrep}",
                     fmt_s(cold["pipeline_median"]), "", _fails(cold["pipeline"])))
        rows.append((f"cold build, jupyter-book execute force (serial), median of {len(cold['jupyter_book'])}",
                     fmt_s(cold["jupyter_book_median"]), "", _fails(cold["jupyter_book"])))
        rows.append(("  ratio pipeline / jupyter-book", _ratio(cold["ratio"]), f"<= {TARGETS['cold_ratio']}x",
                     verdict(cold["ratio"], TARGETS["cold_ratio"])))
        pc = median([sum(r.get("chapter_seconds", [])) for r in cold["pipeline"] if r["ok"]])
        ps = median([sum(r.get("site_build_seconds", [])) for r in cold["pipeline"] if r["ok"]])
        jc = median([sum(r.get("chapter_seconds", [])) for r in cold["jupyter_book"] if r["ok"]])
        rows.append(("  pipeline: chapter runs (sum over kernels) / jupyter-book site build",
                     f"{fmt_s(pc)} / {fmt_s(ps)}", "", ""))
        rows.append(("  jupyter-book: chapter execution (sum, serial) / rest", f"{fmt_s(jc)} / "
                     f"{fmt_s(cold['jupyter_book_median'] - jc if jc and cold['jupyter_book_median'] else None)}",
                     "", ""))
    rb = res.get("rebuild")
    if rb:
        ca = rb["cold_all"]
        rows.append((f"cold build, every cutoff ({len(rb['cutoffs'])} x {rb['chapters']} chapters), 1 run",
                     fmt_s(ca["seconds"]) if ca["ok"] else "FAILED", "", "" if ca["ok"] else ca.get("error", "")))
        if "nochange" in rb:
            ex = rb["nochange_executed"]
            rows.append((f"rebuild, nothing changed, median of {len(rb['nochange'])}", fmt_s(rb["nochange_median"]),
                         "", _fails(rb["nochange"])))
            rows.append(("  chapters re-executed", str(ex), "0", verdict(ex, 0)))
            rows.append(("  ratio to the cold build", _ratio(rb["nochange_ratio"]),
                         f"<= {TARGETS['nochange_ratio']:.0%}", verdict(rb["nochange_ratio"], TARGETS["nochange_ratio"])))
        if "update" in rb:
            got = _runs(rb["update"])
            rows.append((f"rebuild after data update (store {rb['update_cutoff']} + build), median of {len(rb['update'])}",
                         fmt_s(rb["update_median"]), "", _fails(rb["update"])))
            rows.append(("  chapter runs executed", _runs_text(got),
                         f"only the {len(rb['update_expected'])} of the new cutoff",
                         "met" if got == rb["update_expected"] else ("NOT MEASURED" if got is None else "NOT MET")))
        if "edit" in rb:
            got = _runs(rb["edit"])
            rows.append((f"rebuild after editing {rb['edit_chapter']}.md, median of {len(rb['edit'])}",
                         fmt_s(rb["edit_median"]), "", _fails(rb["edit"])))
            rows.append(("  chapter runs executed", _runs_text(got), f"only {rb['edit_chapter']} (per cutoff)",
                         "met" if got == rb["edit_expected"] else ("NOT MEASURED" if got is None else "NOT MET")))
    sc = res.get("scale")
    if sc:
        for n in sc["sizes"]:
            r = sc["results"].get(str(n), {})
            a = r.get("analysis", {})
            reps = len(a.get("totals", []))
            label = f"analyses, {fmt_n(n)} patients ({len(a.get('steps', {}))} steps, " + (
                f"median of {reps})" if reps else "1 incomplete run)")
            notes = []
            if a.get("failed_steps"):
                notes.append(f"{len(a['failed_steps'])} step(s) raised")
            if a.get("timed_out_steps"):
                notes.append(f"{len(a['timed_out_steps'])} step(s) cut at the step timeout")
            if a.get("not_run_steps"):
                notes.append(f"{len(a['not_run_steps'])} step(s) not run (budget)")
            if a.get("timed_out"):
                notes.append("worker killed at --timeout")
            lower = a.get("incomplete") or a.get("timed_out")
            t_text = ("> " if lower else "") + fmt_s(a.get("total_seconds"))
            value = f"{t_text}, peak RSS {fmt_bytes(a.get('peak_rss_bytes'))}"
            if n == 1_000_000:
                t = a.get("total_seconds")
                t_ok = "NOT MET" if (lower and t is not None and t >= TARGETS["analysis_1m_seconds"]) else (
                    "NOT MEASURED" if lower or a.get("failed_steps") else verdict(t, TARGETS["analysis_1m_seconds"]))
                m = a.get("peak_rss_bytes")
                m_ok = "NOT MET" if (m and m >= TARGETS["analysis_1m_bytes"]) else (
                    f"met so far" if lower else verdict(m, TARGETS["analysis_1m_bytes"]))
                rows.append((label, value, "< 60 s, < 8 GiB", "; ".join([f"time {t_ok}", f"memory {m_ok}", *notes])))
            else:
                rows.append((label, value, "", "; ".join(notes)))
            ld = r.get("load")
            if ld:
                val = f"{fmt_s(ld.get('seconds'))}, peak RSS {fmt_bytes(ld.get('peak_rss_bytes'))}"
                st = "valid" if ld.get("ok") else (ld.get("error") or
                                                   f"REJECTED: {ld.get('failures')} failures {_rules(ld)}")
                rows.append((f"  load_cohort from CSV ({fmt_bytes(r.get('prep', {}).get('csv_bytes'))})", val, "", st))
            elif r.get("prep") and "error" not in r["prep"]:
                rows.append(("  load_cohort from CSV", "not run", "", f"n > --load-max-n"))
    st = res.get("site")
    if st:
        rs = [st["results"].get(str(n), {}) for n in st["sizes"]]
        for n, r in zip(st["sizes"], rs):
            rows.append((f"full build, one cutoff of {fmt_n(n)} patients", fmt_s(r.get("seconds")) if r.get("ok") else "FAILED",
                         "", "" if r.get("ok") else (r.get("error") or "")[:120]))
            if r.get("ok"):
                rows.append((f"  largest page ({r.get('largest_page')}) / version site",
                             f"{fmt_bytes(r.get('largest_page_bytes'))} / {fmt_bytes(r.get('site_bytes'))}", "", ""))
        if len(rs) >= 2:
            a, b = rs[0], rs[-1]
            ratio = (b["seconds"] / a["seconds"]) if a.get("ok") and b.get("ok") else None
            label = f"  build ratio {fmt_n(st['sizes'][-1])} / {fmt_n(st['sizes'][0])}"
            if a.get("ok") and b.get("timed_out"):  # killed at --site-timeout: a lower bound
                lb = b["seconds"] / a["seconds"]
                rows.append((label, f"> {_ratio(lb)}", f"<= {TARGETS['site_build_ratio']}x",
                             "NOT MET (killed at --site-timeout)" if lb > TARGETS["site_build_ratio"] else "NOT MEASURED"))
            else:
                rows.append((label, _ratio(ratio), f"<= {TARGETS['site_build_ratio']}x",
                             verdict(ratio, TARGETS["site_build_ratio"])))
            for key, label in (("largest_page_bytes", "largest page"), ("site_bytes", "site size")):
                q = (b[key] / a[key]) if a.get(key) and b.get(key) else None
                rows.append((f"  {label} ratio", _ratio(q), f"<= {TARGETS['site_size_ratio']}x (independent of n)",
                             verdict(q, TARGETS["site_size_ratio"])))
    return rows


def _rules(ld: dict) -> str:
    rules = ld.get("failed_rules") or {}
    return "(" + ", ".join(f"{k} x{v}" for k, v in list(rules.items())[:3]) + ")"


def _ratio(x) -> str:
    return "n/a" if x is None else f"{x:.2f}x" if x >= 0.1 else f"{x:.1%}"


def _fails(runs: list[dict]) -> str:
    bad = [r for r in runs if not r.get("ok")]
    return f"{len(bad)} run(s) FAILED: {bad[0].get('error', '')[:100]}" if bad else ""


def _runs(runs: list[dict]):
    ok = [r for r in runs if r.get("ok")]
    if not ok:
        return None
    sets = [sorted(r.get("executed", [])) for r in ok]
    return sets[0] if all(s == sets[0] for s in sets) else sets


def _runs_text(got) -> str:
    if got is None:
        return "n/a"
    if got and isinstance(got[0], list) and got[0] and isinstance(got[0][0], list):
        return "differs between repetitions"
    if not got:
        return "0"
    chapters = sorted({ch for _, ch in got})
    cutoffs = sorted({c for c, _ in got})
    which = ", ".join(chapters) if len(chapters) <= 3 else f"{len(chapters)} chapters"
    return f"{len(got)} run(s): {which} x {len(cutoffs)} cutoff(s) ({', '.join(cutoffs)})"


def step_table(sc: dict) -> list[str]:
    """Per-function median seconds by cohort size (and chart JSON bytes for the charts)."""
    sizes = [n for n in sc["sizes"] if sc["results"].get(str(n), {}).get("analysis")]
    if not sizes:
        return []
    names = []
    for n in sizes:
        for k in sc["results"][str(n)]["analysis"]["steps"]:
            if k not in names:
                names.append(k)
    head = f"{'function':<42}" + "".join(f"{fmt_n(n) + ' pts':>14}" for n in sizes) + "   chart JSON bytes"
    lines = [head, "-" * len(head)]
    for k in names:
        cells, chart = [], []
        for n in sizes:
            s = sc["results"][str(n)]["analysis"]["steps"].get(k)
            if s is None:
                cells.append(f"{'-':>14}")
            elif s["errors"]:
                cells.append(f"{'ERROR':>14}")
            elif s.get("timed_out"):
                cells.append(f"{'> ' + fmt_s(s.get('lower_bound_seconds')):>14}")
            elif s.get("not_run"):
                cells.append(f"{'not run':>14}")
            else:
                cells.append(f"{fmt_s(s['median_seconds']):>14}")
            if s and "chart_json_bytes" in s:
                chart.append(fmt_n(s["chart_json_bytes"]))
        lines.append(f"{k:<42}" + "".join(cells) + ("   " + " / ".join(chart) if chart else ""))
    peak = "".join(f"{fmt_bytes(sc['results'][str(n)]['analysis'].get('peak_rss_bytes')):>14}" for n in sizes)
    lines.append(f"{'peak RSS of the analysis process':<42}" + peak)
    errs = {k: s["errors"] for n in sizes for k, s in sc["results"][str(n)]["analysis"]["steps"].items() if s["errors"]}
    for k, e in errs.items():
        lines.append(f"  ERROR in {k}: {e[0]}")
    return lines


def render(res: dict) -> str:
    rows = summary_rows(res)
    m = res["machine"]
    out = [f"nscore benchmarks  {m['date_utc']}  {'QUICK (reduced settings)' if res['quick'] else 'full'}",
           f"machine: {m.get('cpu_model', '?')}, {m['cpus']} cpus, {fmt_bytes(m.get('memory_bytes'))}; "
           f"load average at start {m.get('loadavg_start')}, at end {res.get('loadavg_end')}",
           f"tree: {m.get('commit')}{' (uncommitted changes)' if m.get('tree_dirty') else ''}; "
           f"total bench time {fmt_s(res.get('seconds'))}", ""]
    if rows:
        w = [max(len(r[i]) for r in rows + [("measure", "value", "target", "status")]) for i in range(4)]
        w[0] = min(w[0], 86)
        fmt = f"{{:<{w[0]}}}  {{:<{w[1]}}}  {{:<{w[2]}}}  {{}}"
        out.append(fmt.format("measure", "value", "target", "status"))
        out.append("-" * (sum(w[:3]) + 16))
        for r in rows:
            out.append(fmt.format(*r).rstrip())
    sc = res.get("scale")
    if sc:
        out += ["", "Scale: median seconds per analysis function (charts include to_json, as glue does)"]
        out += step_table(sc)
        if sc.get("uncovered_chapter_calls"):
            out.append("chapter calls NOT in the scale workload: " + ", ".join(sc["uncovered_chapter_calls"]))
    for name, err in res.get("errors", {}).items():
        out.append(f"section {name} FAILED: {err}")
    return "\n".join(out)


# ==================================================================================================
# main
# ==================================================================================================
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny settings for a smoke run (1 rep, small cohorts)")
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma list of sections: {', '.join(SECTIONS)}")
    p.add_argument("--reps", type=int, help="repetitions of quick steps (rebuilds, analyses <= 10k); default 3")
    p.add_argument("--cold-reps", type=int, help="repetitions of each cold build; default 2")
    p.add_argument("--edit-reps", type=int, help="repetitions of the data-update and edit rebuilds; default 2")
    p.add_argument("--sizes", help="scale cohort sizes, comma list; default 334,10000,100000,1000000")
    p.add_argument("--site-sizes", help="cohort sizes of the full site builds; default 334,100000")
    p.add_argument("--load-max-n", type=int, help="largest cohort whose CSV load is measured; default 100000")
    p.add_argument("--step-timeout", type=float, default=30,
                   help="seconds after which one analysis step is cut (reported as '> N s'); default 30")
    p.add_argument("--analysis-budget", type=float, default=180,
                   help="seconds per cohort size after which remaining analysis steps are skipped; default 180")
    p.add_argument("--edit-chapter", default="methods", help="chapter whose source the edit rebuild touches")
    p.add_argument("--timeout", type=float, default=900, help="seconds before one build/worker is killed")
    p.add_argument("--site-timeout", type=float, default=360,
                   help="seconds before one full build of the site section is killed; default 360")
    p.add_argument("--json", default=str(ROOT / "_build" / "bench.json"), help="where to write the figures")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (for debugging)")
    # internal: worker processes of the scale section
    p.add_argument("--worker", choices=["prep", "load", "analyse"], help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--dir", help=argparse.SUPPRESS)
    p.add_argument("--cutoff", default="2025-08-01", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--write-csv", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--budget", type=float, default=180, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _write_json(path: Path, res: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(res, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.worker == "prep":
        worker_prep(a.n, Path(a.dir), a.cutoff, a.seed, a.write_csv)
        return 0
    if a.worker == "load":
        worker_load(Path(a.dir))
        return 0
    if a.worker == "analyse":
        worker_analyse(Path(a.dir), a.reps or 1, a.step_timeout, a.budget)
        return 0

    only = [s.strip() for s in a.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        print(f"unknown section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    ints = lambda s: [int(x.replace("_", "")) for x in s.split(",") if x.strip()]  # noqa: E731
    if a.quick:
        reps, cold_reps, edit_reps = a.reps or 1, a.cold_reps or 1, a.edit_reps or 1
        sizes = ints(a.sizes) if a.sizes else [334, 2000]
        site_sizes_ = ints(a.site_sizes) if a.site_sizes else [334, 1000]
        load_max_n = a.load_max_n or 2000
    else:
        reps, cold_reps, edit_reps = a.reps or 3, a.cold_reps or 2, a.edit_reps or 2
        sizes = ints(a.sizes) if a.sizes else [334, 10_000, 100_000, 1_000_000]
        site_sizes_ = ints(a.site_sizes) if a.site_sizes else [334, 100_000]
        load_max_n = a.load_max_n if a.load_max_n is not None else 100_000
    # big cohorts: fewer repetitions (the 1M run alone is most of the scale budget)
    reps_for = lambda n: reps if n <= 10_000 else 1  # noqa: E731

    res: dict = {"quick": a.quick, "machine": machine(), "sections": only, "targets": TARGETS,
                 "settings": {"reps": reps, "cold_reps": cold_reps, "edit_reps": edit_reps, "sizes": sizes,
                              "site_sizes": site_sizes_, "load_max_n": load_max_n,
                              "edit_chapter": a.edit_chapter, "timeout": a.timeout,
                              "step_timeout": a.step_timeout, "site_timeout": a.site_timeout, "analysis_budget": a.analysis_budget},
                 "errors": {}, "loadavg": {}}
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="nscore-bench-"))
    log(f"temp dir {tmp}")
    try:
        for section in SECTIONS:
            if section not in only:
                continue
            t_s = time.perf_counter()
            sub = tmp / section
            sub.mkdir()
            try:
                if section == "cold":
                    res["cold"] = section_cold(sub, cold_reps, a.timeout)
                elif section == "rebuild":
                    res["rebuild"] = section_rebuild(sub, reps, edit_reps, a.edit_chapter, a.timeout)
                elif section == "scale":
                    res["scale"] = section_scale(sub, sizes, reps_for, load_max_n, a.timeout, a.step_timeout,
                                                 a.analysis_budget)
                elif section == "site":
                    res["site"] = section_site(sub, site_sizes_, a.site_timeout, a.keep)
            except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others
                import traceback

                res["errors"][section] = f"{type(exc).__name__}: {exc}"
                log(traceback.format_exc())
            finally:
                res["loadavg"][section] = loadavg()
                res.setdefault("section_seconds", {})[section] = time.perf_counter() - t_s
                if not a.keep:
                    shutil.rmtree(sub, ignore_errors=True)
                _write_json(Path(a.json), {**res, "partial": True})  # a killed run keeps what it has
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    res["seconds"] = time.perf_counter() - t0
    res["loadavg_end"] = loadavg()
    table = render(res)
    res["table"] = table
    out = Path(a.json)
    _write_json(out, res)
    print(table)
    print(f"\nfigures written to {out}")
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
