"""Chapter execution: one chapter's notebook for one cutoff, run with papermill in its own kernel,
and a queue of them run in parallel.

What a chapter run gets (:class:`RunContext`, the same for every chapter of one build): the loaded
data versions, the build time, the code commit and the package versions. What it produces: the
executed notebook at ``job.out`` with ``metadata.nscore`` (key, key components with the cutoffs the
kernel read, provenance), returned as an :class:`Executed`.

Each chapter runs in an ordinary kernel (a new interpreter started by jupyter_client, public API
only; issue 12 removed the fork-server, see benchmarks/README.md). A chapter whose cell raises, whose
kernel dies (a segfault, the out-of-memory killer) or whose cell runs past :data:`CELL_TIMEOUT`
fails with :class:`ChapterExecutionError` naming the chapter, the cell and the cause; only a kernel
that never started is retried.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

from nscore.build.keys import with_reads
from nscore.build.project import Chapter, Project
from nscore.build.store import DataVersion
from nscore.data import cache, reads
from nscore.errors import ChapterExecutionError, NscoreError
from nscore.report import provenance

KERNEL_NAME = "python3"
KERNEL_START_ATTEMPTS = 3
CELL_TIMEOUT = 600
"""Seconds one chapter cell may run. A cell still running then is stopped, its kernel shut down (killed
if it does not stop), and the build fails with :class:`ChapterExecutionError`: a hung chapter never
holds the build. The slowest cell of the book, the results chapter's analyses at 1,000,000
patients, takes well under a minute. ``NSCORE_CELL_TIMEOUT`` overrides it (seconds; ``0``: no limit)."""
CELL_TIMEOUT_ENV = "NSCORE_CELL_TIMEOUT"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunContext:
    """What every chapter run of one build shares: the loaded data, build time, commit, packages."""

    versions: Mapping[str, DataVersion]
    build_time: str
    commit: str
    packages: Mapping[str, str]

    @classmethod
    def create(cls, project: Project, versions: Mapping[str, DataVersion]) -> "RunContext":
        return cls(
            versions=MappingProxyType(dict(versions)),
            build_time=provenance.utc_now(),
            commit=provenance.code_commit(project.root),
            packages=MappingProxyType(dict(provenance.package_versions())),
        )

    @property
    def data_versions(self) -> dict[str, str]:
        return {c: v.version for c, v in self.versions.items()}


@dataclass(frozen=True)
class Job:
    """One chapter to execute for one cutoff, into ``out`` (a staged path)."""

    cutoff: str
    chapter: Chapter
    key: str  # the planned key: the full key is known once the chapter has run (its reads)
    components: dict
    reason: str
    out: Path


@dataclass(frozen=True)
class Executed:
    """A job that ran: its full key and components (with its reads) and the seconds it took."""

    job: Job
    key: str
    components: dict
    seconds: float


@dataclass(frozen=True)
class JobResults:
    """What :func:`run_jobs` did: the jobs that ran, and the first failure in toc order (if any)."""

    executed: tuple[Executed, ...]
    error: BaseException | None = None

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def workers(jobs: int | None, n_tasks: int) -> int:
    """Parallel workers: ``jobs`` (default ``os.cpu_count()``), bounded by the tasks to run."""
    return max(1, min(jobs or os.cpu_count() or 1, n_tasks))


def cell_timeout() -> int | None:
    """The per-cell timeout in seconds: :data:`CELL_TIMEOUT`, or ``NSCORE_CELL_TIMEOUT`` (``0``: none)."""
    raw = os.environ.get(CELL_TIMEOUT_ENV, "").strip()
    if not raw:
        return CELL_TIMEOUT
    if not re.fullmatch(r"[0-9]+", raw):
        raise NscoreError(f"{CELL_TIMEOUT_ENV} must be a whole number of seconds (0: no limit), not {raw!r}")
    return int(raw) or None


def kernel_manager_class(root: Path, env_extra: dict[str, str], stderr=None, exit_status: dict | None = None):
    """A kernel manager that starts this environment's python3 kernel in ``root`` with ``env_extra``.

    Only the venv's own kernelspec directory is searched (a user-level ``python3`` spec could point
    at another interpreter); jupyter_client replaces a bare ``python`` argv with ``sys.executable``.
    The working directory and environment are given to the kernel process itself, because
    papermill's ``cwd`` is a process-wide ``chdir`` and chapters run in parallel threads.
    The kernel process's own stderr (kernel logs, not cell output) goes to ``stderr`` when given.
    A kernel found dead leaves its exit status in ``exit_status["code"]`` (negative: the signal).
    Public jupyter_client API only: ``start_kernel(**kw)`` (``env``, ``cwd`` and Popen keywords),
    ``is_alive`` and the provisioner's ``poll``.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    kernel_dirs = [str(Path(sys.prefix) / "share" / "jupyter" / "kernels")]
    pythonpath = os.pathsep.join(x for x in (str(root), os.environ.get("PYTHONPATH", "")) if x)

    class ProjectKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _default_ksm(self):
            return KernelSpecManager(kernel_dirs=kernel_dirs, ensure_native_kernel=True)

        async def start_kernel(self, **kw):
            env = dict(kw.pop("env", None) or os.environ)
            env.update(env_extra)
            env["PYTHONPATH"] = pythonpath
            kw["env"] = env
            kw["cwd"] = str(root)
            if stderr is not None:
                kw["stderr"] = stderr
            return await super().start_kernel(**kw)

        async def is_alive(self) -> bool:
            alive = await super().is_alive()
            if not alive and exit_status is not None and self.provisioner is not None:
                code = await self.provisioner.poll()
                if code is not None:
                    exit_status.setdefault("code", code)
            return alive

    return ProjectKernelManager


class _Watch:
    """nbclient's public hooks: whether the kernel started, and which cell was running."""

    def __init__(self):
        self.notebook = None  # set once the kernel has started and answered
        self.cell_index: int | None = None  # index in the executed notebook (with papermill's parameters cell)

    def notebook_start(self, notebook, **_) -> None:
        self.notebook = notebook

    def cell_start(self, cell, cell_index, **_) -> None:
        if cell.cell_type == "code":
            self.cell_index = cell_index

    def source_index(self) -> int | None:
        return None if self.cell_index is None else _unshift(self.notebook.cells, self.cell_index)

    def source(self) -> str:
        return "(no cell had started)" if self.cell_index is None else self.notebook.cells[self.cell_index].source


def death_cause(code: int | None) -> str:
    """Words for a dead kernel's exit status (negative: the signal that ended it)."""
    if code is None:
        return "exit status unknown"
    if code >= 0:
        return f"it exited with status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"killed by signal {-code}"
    why = {"SIGSEGV": "a segmentation fault (native code crashed)",
           "SIGBUS": "a bus error (native code crashed)",
           "SIGABRT": "aborted (native code gave up)",
           "SIGKILL": "killed outright; the kernel's out-of-memory killer does this when memory runs out"}
    return f"killed by {name}" + (f": {why[name]}" if name in why else "")


def _keep_failed(project: Project, job: Job, notebook=None) -> None:
    """Keep a failed chapter's notebook (``notebook``, else ``job.out``) in ``_build/failed/<cutoff>/``."""
    import nbformat

    failed = project.failed_dir / job.cutoff / f"{job.chapter.name}.ipynb"
    if notebook is not None:
        failed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, failed)
    elif job.out.exists():
        failed.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(job.out, failed)


def execute_chapter(project: Project, job: Job, context: RunContext, progress: Progress, stage: Path) -> Executed:
    """Execute one chapter with papermill into ``job.out``.

    A cell that raises, a kernel that dies and a cell past the timeout raise ChapterExecutionError
    (the notebook, outputs up to then, kept in ``_build/failed/<cutoff>/``); only a kernel that does
    not start is retried."""
    import jupytext
    import nbformat
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    src = project.source(job.chapter)
    nb = jupytext.read(src, fmt="md:myst")
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}
    work = stage / "work" / job.cutoff
    work.mkdir(parents=True, exist_ok=True)
    tmp_in = work / f"{job.chapter.name}.in.ipynb"
    nbformat.write(nb, tmp_in)
    params = job.components["parameters"]
    version = context.versions[job.cutoff]
    prov = provenance.Provenance(
        cutoff=job.cutoff, data_version=version.version, simulated=version.simulated, parameters=params,
        build_time=context.build_time, commit=context.commit, packages=dict(context.packages),
        key=job.key, chapter=job.chapter.name,
    )
    label = f"{job.chapter.name} [{job.cutoff}]"
    progress(f"  started  {label} ({job.reason})")
    t0 = time.monotonic()
    kernel_log = work / f"{job.chapter.name}.kernel.log"
    reads_log = work / f"{job.chapter.name}.reads.jsonl"
    env_extra = {provenance.ENV_VAR: prov.to_json(), reads.ENV_VAR: str(reads_log), cache.ENV_VAR: str(project.cache_dir)}
    timeout = cell_timeout()
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        reads_log.unlink(missing_ok=True)
        exit_status: dict = {}
        watch = _Watch()
        try:
            with open(kernel_log, "a", encoding="utf-8") as klog:
                km_class = kernel_manager_class(project.root, env_extra, stderr=klog, exit_status=exit_status)
                pm.execute_notebook(
                    str(tmp_in), str(job.out), parameters=params, kernel_name=KERNEL_NAME,
                    progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                    start_timeout=120, execution_timeout=timeout, kernel_manager_class=km_class,
                    on_notebook_start=watch.notebook_start, on_cell_start=watch.cell_start,
                )
            break
        except PapermillExecutionError as exc:  # a cell raised (a MemoryError too)
            _keep_failed(project, job)
            raise ChapterExecutionError(
                job.chapter.name, source_cell_index(job.out, exc.cell_index), exc.source, exc.ename, exc.evalue
            ) from exc
        except Exception as exc:
            if watch.notebook is not None:  # the kernel had started: it hung, died or broke; no retry
                _keep_failed(project, job, watch.notebook)
                if isinstance(exc, CellTimeoutError):
                    cause = (f"the cell did not finish within the build's per-cell timeout of {timeout} s "
                             f"({CELL_TIMEOUT_ENV}); its kernel was stopped")
                elif isinstance(exc, DeadKernelError):
                    cause = f"the kernel died while running this cell: {death_cause(exit_status.get('code'))}"
                else:
                    cause = str(exc)
                raise ChapterExecutionError(job.chapter.name, watch.source_index(), watch.source(),
                                            type(exc).__name__, cause) from exc
            # the kernel did not start (e.g. a port collision): retry a few times
            if attempt == KERNEL_START_ATTEMPTS:
                tail = kernel_log.read_text(encoding="utf-8", errors="replace")[-2000:] if kernel_log.exists() else ""
                raise ChapterExecutionError(
                    job.chapter.name, None, f"(kernel did not start; kernel log tail:)\n{tail}",
                    type(exc).__name__, str(exc),
                ) from exc
            progress(f"  retry    {label}: kernel start failed ({type(exc).__name__}: {exc}); attempt {attempt + 1}")
            time.sleep(0.5 * attempt)
    seconds = time.monotonic() - t0
    read = reads.read_log(reads_log)
    key, components = with_reads(job.components, read, context.data_versions)
    out = nbformat.read(job.out, as_version=4)
    pmeta = out.metadata.get("papermill", {})
    pmeta["input_path"] = str(src.relative_to(project.root))
    pmeta["output_path"] = f"{job.chapter.file}.ipynb"
    out.metadata["nscore"] = {
        "key": key,
        "key_components": components,
        "chapter": job.chapter.name,
        "cutoff": job.cutoff,
        "data_version": prov.data_version,
        "data_versions": components["data"],
        "reads": read,
        "simulated": prov.simulated,
        "parameters": params,
        "build_time": context.build_time,
        "commit": context.commit,
        "packages": dict(context.packages),
        "kernel": "new interpreter",
    }
    out.metadata.pop("jupytext", None)
    nbformat.write(out, job.out)
    progress(f"  finished {label} in {seconds:.1f} s")
    return Executed(job=job, key=key, components=components, seconds=seconds)


def source_cell_index(executed: Path, cell_index: int) -> int:
    """Map papermill's cell index (executed notebook, with the injected cell) to the source's."""
    try:
        nb = json.loads(executed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return cell_index
    return _unshift(nb.get("cells", []), cell_index)


def _unshift(cells: list, cell_index: int) -> int:
    injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    return cell_index - 1 if injected and injected[0] < cell_index else cell_index


def _code_cells(source: Path) -> int:
    """Code cells in a chapter source: the cost estimate that orders the queue."""
    return source.read_text(encoding="utf-8").count("```{code-cell}")


def run_jobs(project: Project, jobs: list[Job], n_workers: int, context: RunContext, progress: Progress,
             stage: Path) -> JobResults:
    """Execute ``jobs`` in a thread pool (one kernel each), longest first.

    The first failure cancels the queued jobs; the results hold every job that did run and the
    first failure in toc order (``raise_error`` raises it), so the caller can keep what ran.
    """
    done: list[Executed] = []
    errors: list[tuple[int, BaseException]] = []
    lock = threading.Lock()

    def say(msg: str) -> None:
        with lock:
            progress(msg)

    with cf.ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="nscore-chapter") as pool:
        # longest first, so the longest chapter never starts last and leaves one core idle at the end
        order = sorted(range(len(jobs)), key=lambda i: -_code_cells(project.source(jobs[i].chapter)))
        futs = {pool.submit(execute_chapter, project, jobs[i], context, say, stage): (i, jobs[i]) for i in order}
        for fut in cf.as_completed(futs):
            i, j = futs[fut]
            try:
                done.append(fut.result())
            except cf.CancelledError:
                continue
            except Exception as exc:
                errors.append((i, exc))
                say(f"  FAILED   {j.chapter.name} [{j.cutoff}]: {type(exc).__name__}; cancelling queued chapters")
                for other in futs:
                    other.cancel()
    errors.sort(key=lambda e: e[0])
    index = {id(j): i for i, j in enumerate(jobs)}
    done.sort(key=lambda e: index[id(e.job)])
    return JobResults(executed=tuple(done), error=errors[0][1] if errors else None)
