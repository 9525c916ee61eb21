"""Data + chapter sources -> executed notebooks -> versioned site, rebuilt only where something changed.

The commands of the build layer (what ``nscore`` calls): :func:`build`, :func:`update`,
:func:`refresh` (the plain ``jupyter-book build .``), :func:`check`, :func:`withdraw`,
:func:`validate`, :func:`simulate` and :func:`pdf`. Each is a short sequence of steps over the
modules that hold the parts:

========================  ========================================================================
``build.store``           the data-store adapter (stored cutoffs, validation on load, manifests)
``build.project``         the project's paths and its chapters (``_toc.yml``)
``build.keys``            rebuild keys: what a chapter's notebook and a version's site depend on
``build.plan``            which chapters to execute, and the build's report
``build.execute``         one chapter's execution with papermill, and the parallel queue
``build.site``            one version's site (jupyter-book, bundle, version links) and the whole tree
``build.publish``         the one-step swap of the published site, crash leftovers
``build.staged``          the staged copy of the project ``nscore update`` builds in first
``build.commands``        ``validate``, ``simulate`` and ``pdf`` (calls into the data and PDF code)
========================  ========================================================================

Everything a build touches (the data it validates, the chapter kernels, the staging directory,
``chapters/``, the cache and the site) is touched under the project's build lock. Nothing is
half-written: notebooks are executed into a staging directory, the sites are built and the whole
tree assembled there, and only then are notebooks copied into place and the site published in one
step (:mod:`nscore.build.publish`).

The public names callers use are re-exported here (``__all__``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from nscore.build import publish
from nscore.build.commands import pdf, simulate, validate
from nscore.build.execute import KERNEL_NAME, Executed, Job, RunContext, run_jobs, workers
from nscore.build.keys import CodeHashes, chapter_key, current_key, recorded, why_changed, with_reads
from nscore.build.plan import BuildReport, ChapterRun, Plan, executed_runs, plan_build, plan_refresh
from nscore.build.project import Chapter, Project
from nscore.build.site import STAGED_ENV, assemble, build_version_sites, jupyter_book_command
from nscore.build.staged import staged_copy
from nscore.build.store import DataStore, DataVersion, VersionsStore, verify_manifests
from nscore.errors import BuildError, ChapterExecutionError, NscoreError, StaleOutputError

__all__ = [
    # commands
    "build", "update", "refresh", "check", "check_or_raise", "withdraw", "validate", "simulate", "pdf",
    "build_lock",
    # what they take and return
    "Project", "Chapter", "BuildReport", "ChapterRun", "DataStore", "DataVersion", "VersionsStore",
    "verify_manifests", "chapter_key", "with_reads", "STAGED_ENV", "KERNEL_NAME", "jupyter_book_command",
]

Progress = Callable[[str], None]


# --------------------------------------------------------------------------------------------------
# the lock and the resources of one build
# --------------------------------------------------------------------------------------------------
_HELD: dict[tuple[Path, int], int] = {}  # (lock file, thread) -> depth: the lock is re-entrant per thread


@contextlib.contextmanager
def build_lock(project: Project):
    """One build at a time per project (two would race on the data, chapters/ and the site).

    Re-entrant within a thread: ``nscore update`` holds it for its whole run, and the build it ends
    with takes it again. Another process (or thread) is refused at once with NscoreError.
    """
    import fcntl

    key = (project.build_dir / ".lock", threading.get_ident())
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    project.build_dir.mkdir(parents=True, exist_ok=True)
    with open(key[0], "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise NscoreError(f"another nscore build is running in {project.root}") from exc
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _staging(stage: Path):
    """The build's staging directory ``_build/.stage-*``: created, and removed however the build ends."""
    stage.mkdir(parents=True)
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _new_stage(project: Project) -> Path:
    return project.build_dir / f".stage-{uuid.uuid4().hex[:12]}"


def _load_data(project: Project, store: DataStore, available: list[str], progress: Progress) -> RunContext:
    """Validate every stored cutoff (by loading it); the chapters' shared run context."""
    progress(f"validating data: {', '.join(available)}")
    return RunContext.create(project, {c: store.load(c) for c in available})


def _stored_cutoffs(project: Project, store: DataStore) -> list[str]:
    available = store.cutoffs()
    if not available:
        raise NscoreError(f"no data cutoffs stored under {project.data_path / 'cutoffs'}")
    return available


def _resolve_cutoff(cutoff: str | None, available: list[str]) -> str | None:
    if cutoff in (None, "latest", "all"):
        return None
    c = str(cutoff)
    try:
        _dt.date.fromisoformat(c)
    except ValueError as exc:
        raise NscoreError(f"cutoff must be 'latest' or YYYY-MM-DD, not {cutoff!r}") from exc
    if c not in available:
        raise NscoreError(f"no stored cutoff {c}; stored: {', '.join(available) or 'none'}")
    return c


def _execute(project: Project, jobs: tuple[Job, ...], context: RunContext, stage: Path, n_jobs: int | None,
             progress: Progress, what: str) -> tuple[Executed, ...]:
    """Run ``jobs`` in parallel kernels; cache every notebook that executed, then raise the first failure.

    What did execute is cached (``_build/executed/``, never ``chapters/`` or the site) even when
    another chapter failed: a rerun after the fix executes only what failed or was not reached.
    """
    n = workers(n_jobs, len(jobs))
    progress(f"executing {len(jobs)} {what} with {n} kernel(s)" + (" in parallel" if n > 1 else ""))
    results = run_jobs(project, list(jobs), n, context, progress, stage)
    for e in results.executed:
        publish.copy_atomic(e.job.out, project.executed(e.job.cutoff, e.job.chapter))
    results.raise_error()
    return results.executed


# --------------------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------------------
def build(
    project: Project,
    cutoff: str = "latest",
    force: bool = False,
    jobs: int | None = None,
    progress: Progress = print,
) -> BuildReport:
    """Validate the data, (re-)execute changed chapters for each cutoff, build and publish the site.

    Parameters
    ----------
    cutoff : "latest" rebuilds every stored cutoff (unchanged ones come from the cache), newest at
        the site root; a date rebuilds that version only and carries the others over as published.
    force : re-execute every chapter and rebuild every site even when keys are unchanged.
    jobs : parallel kernels (default ``os.cpu_count()``), bounded by the number of chapters to run.

    Raises
    ------
    DataValidationError : a stored cutoff breaks the data rules (nothing is changed).
    ChapterExecutionError : a chapter raised (previous notebooks and site are left untouched).
    BuildError : jupyter-book failed or warned (``-W``); previous site left untouched.
    """
    t_start = time.monotonic()
    with build_lock(project):
        publish.clean_leftovers(project)  # what a killed build left behind
        store = project.data_store()
        available = _stored_cutoffs(project, store)
        only = _resolve_cutoff(cutoff, available)
        targets = [only] if only else list(available)
        chapters = project.checked_chapters()
        with _staging(_new_stage(project)) as stage:
            context = _load_data(project, store, available, progress)
            return _build_steps(project, context, available=available, targets=targets, chapters=chapters,
                                stage=stage, force=force, jobs=jobs, progress=progress, t_start=t_start)


def _build_steps(project: Project, context: RunContext, *, available: list[str], targets: list[str],
                 chapters: list[Chapter], stage: Path, force: bool, jobs: int | None, progress: Progress,
                 t_start: float) -> BuildReport:
    """:func:`build` under the lock, with the data loaded: plan, execute, build sites, assemble, publish."""
    newest = available[-1]
    hashes = CodeHashes.of(project)
    data_versions = context.data_versions

    # 1. plan: key per (cutoff, chapter); skip what an executed notebook already has
    plan = plan_build(project, targets=targets, chapters=chapters, data_versions=data_versions,
                      hashes=hashes, stage=stage, force=force)
    for r in plan.skipped:
        progress(f"  skipped  {r.chapter} [{r.cutoff}]: {r.reason}")

    # 2. execute in parallel, one kernel per chapter
    executed: tuple[Executed, ...] = ()
    if plan.jobs:
        executed = _execute(project, plan.jobs, context, stage, jobs, progress, "chapter run(s)")
    else:
        progress("executing nothing: every chapter is unchanged")
    publish.crash_point("executed")
    keys = plan.keys_after(executed)

    # 3. a site per target cutoff (reused when its site key is unchanged)
    sites = build_version_sites(
        project, targets=targets, available=available, chapter_keys=keys, notebooks=plan.notebooks,
        chapters=chapters, stage=stage, hashes=hashes, force=force, jobs=jobs,
        progress=progress)
    publish.crash_point("sites-built")

    # 4. assemble the whole published tree in staging: v/<c>/ for every cutoff, newest at the root
    tree = stage / "html"
    bundles = assemble(project, tree, available=available, newest=newest, version_html=sites.html,
                       progress=progress)
    publish.crash_point("assembled")

    # 5. publish: notebooks first (chapters/ for the newest), then the site in one step
    _publish_notebooks(project, plan, executed, keys, newest=newest, chapters=chapters)
    publish.crash_point("notebooks-published")
    publish.publish_site(project, tree, publish.new_build_id())
    progress(f"site published: {project.html_dir / 'index.html'}")
    report = BuildReport(
        cutoffs=targets, newest=newest, runs=[*plan.skipped, *executed_runs(executed)], sites_built=sites.built,
        sites_reused=sites.reused, site=project.html_dir, bundles=bundles, seconds=time.monotonic() - t_start,
    )
    progress(report.summary())
    return report


def _publish_notebooks(project: Project, plan: Plan, executed: tuple[Executed, ...], keys: dict[str, dict[str, str]],
                       *, newest: str, chapters: list[Chapter]) -> None:
    """``chapters/<name>.ipynb``: the newest cutoff's executed notebooks, each replaced atomically."""
    for e in executed:
        if e.job.cutoff == newest:
            publish.copy_atomic(e.job.out, project.notebook(e.job.chapter))
    if newest in plan.notebooks:
        # a committed notebook may be found in _build/executed only (fresh checkout of a new cutoff)
        for ch in chapters:
            if (recorded(project.notebook(ch)) or {}).get("key") != keys[newest][ch.name]:
                publish.copy_atomic(plan.notebooks[newest][ch.name], project.notebook(ch))


# --------------------------------------------------------------------------------------------------
# check, and refresh (a plain `jupyter-book build .`: nscore.build.refresh calls it before Sphinx reads)
# --------------------------------------------------------------------------------------------------
def check(project: Project) -> list[str]:
    """Problems that would let stale outputs be published silently (empty list: all current).

    Each committed ``chapters/<name>.ipynb`` must exist and carry the key computed now for the newest
    cutoff; each ``data/cutoffs/*/manifest.json`` must match its files.
    """
    store = project.data_store()
    problems = list(store.verify())
    available = store.cutoffs()
    if not available:
        return problems + [f"no data cutoffs stored under {project.data_path / 'cutoffs'}"]
    newest = available[-1]
    data_versions: dict[str, str] = {}
    for c in available:
        try:
            data_versions[c] = store.load(c).version
        except NscoreError as exc:
            first = str(exc).splitlines()[0]
            if not any(c in p for p in problems):
                problems.append(f"cutoff {c}: {first}")
    if newest not in data_versions or len(data_versions) < len(available):
        return problems + ["executed notebooks not checked: the data do not load (fix the data first)"]
    hashes = CodeHashes.of(project)
    for ch in project.chapters():
        nb = project.notebook(ch)
        rel = nb.relative_to(project.root)
        if not project.source(ch).exists():
            problems.append(f"{project.source(ch).relative_to(project.root)}: chapter source missing")
            continue
        if not nb.exists():
            problems.append(f"{rel}: missing (run `nscore build`)")
            continue
        _, comps = chapter_key(project, ch, newest, data_versions, hashes=hashes)
        old = recorded(nb)
        key, comps = current_key(comps, old, data_versions)
        if (old or {}).get("key") != key:
            problems.append(f"{rel}: stale for cutoff {newest} ({why_changed(old, comps)}); run `nscore build`")
    return problems


def check_or_raise(project: Project) -> None:
    """:func:`check`, raising StaleOutputError when there is any problem (the CLI's ``check``)."""
    problems = check(project)
    if problems:
        raise StaleOutputError(problems)


def refresh(project: Project, *, execute: bool = True, jobs: int | None = None,
            progress: Progress = print) -> list[ChapterRun]:
    """Make ``chapters/<name>.ipynb`` current for the newest cutoff, as :func:`build` would, without a site.

    Every chapter is keyed for the newest cutoff (:func:`plan_refresh`). A chapter whose committed
    notebook carries its key is left alone; one whose current notebook is in the cache
    (``_build/executed/<cutoff>/``) is copied from there; the others are executed with papermill by
    the build's own machinery (same kernels, parameters, metadata, staging): each one that ran is
    cached (``_build/executed/``), and they are copied into ``chapters/`` only when every one
    succeeded. All of it under the build lock. With ``execute=False`` nothing is written (and no
    lock taken): any stale chapter (or data manifest problem) raises :class:`StaleOutputError`
    naming it.

    Returns one :class:`ChapterRun` per chapter ("skipped", "copied" or "executed").
    """
    with build_lock(project) if execute else contextlib.nullcontext():
        store = project.data_store()
        manifest_problems = list(store.verify())
        if manifest_problems:
            raise StaleOutputError(manifest_problems)
        newest = _stored_cutoffs(project, store)[-1]
        chapters = project.checked_chapters()
        versions = {c: store.load(c) for c in store.cutoffs()}
        data_versions = {c: v.version for c, v in versions.items()}
        stage = _new_stage(project)
        plan = plan_refresh(project, newest=newest, chapters=chapters, data_versions=data_versions,
                            hashes=CodeHashes.of(project), stage=stage)
        runs = plan.runs(newest)
        if not execute:
            stale = [r for r in runs if r.action != "skipped"] + [
                ChapterRun(newest, j.chapter.name, "stale", j.reason) for j in plan.jobs]
            if stale:
                by_name = {c.name: c for c in chapters}
                raise StaleOutputError([
                    f"{project.notebook(by_name[r.chapter]).relative_to(project.root)}: "
                    f"stale for cutoff {newest} ({r.reason})" for r in stale])
            return runs
        for ch, src in plan.copies:
            publish.copy_atomic(src, project.notebook(ch))
            progress(f"  copied   {ch.name} [{newest}]: current notebook from {src.parent}")
        if not plan.jobs:
            return runs
        with _staging(stage):
            for j in plan.jobs:
                j.out.parent.mkdir(parents=True, exist_ok=True)
            context = RunContext.create(project, versions)
            executed = _execute(project, plan.jobs, context, stage, jobs, progress,
                                f"stale chapter(s) for cutoff {newest}")
            for e in executed:
                publish.copy_atomic(e.job.out, project.notebook(e.job.chapter))
        return runs + executed_runs(executed)


# --------------------------------------------------------------------------------------------------
# update and withdraw: the data store changes
# --------------------------------------------------------------------------------------------------
def update(project: Project, src: str | os.PathLike, *, jobs: int | None = None, progress: Progress = print,
           accept_warnings: bool = False, no_build: bool = False) -> BuildReport | None:
    """Validate a new cutoff from ``src``, execute the book on it in staging, then store it and republish.

    ``no_build``: store only (returns None); chapters and site stay as they were, now stale.

    A validation failure raises DataValidationError, and intake warnings (``nscore.data.intake``: no
    shared patient, patients missing, cohort size, deaths gone) raise IntakeWarningError unless
    ``accept_warnings``, before anything is written: data, notebooks and site stay byte-identical.

    A valid delivery is stored only once the book builds on it (issue 14): the delivery is first
    stored in a staged copy of the project (:func:`nscore.build.staged.staged_copy`: ``_build/.update-*/``) and the
    whole book is built there, every chapter of every cutoff and every version's site
    (``jupyter-book -W``). If a chapter raises or the site build fails, the error is raised
    (ChapterExecutionError or BuildError, the failing chapter's notebook kept in
    ``_build/failed/<cutoff>/``) and nothing else changes: data, notebooks and site stay
    byte-identical. Only then is the delivery stored for real (the same validation and intake checks
    again) and the project built; the chapters executed in staging carry the same keys (same
    sources, code, data and parameters), so that build takes them from the cache instead of
    executing them twice. The report's chapter runs are the staged build's (what was executed and
    why), its sites the final build's. The whole update holds the project's build lock.
    """
    store = project.data_store()

    def put(target_store) -> str:
        # a store without intake checks (the tests' toy) is called as before unless warnings are accepted
        return target_store.store(Path(src), accept_warnings=True) if accept_warnings else target_store.store(Path(src))

    with build_lock(project):
        staged = None if no_build else _build_staged_update(project, put, jobs=jobs, progress=progress)
        stored = put(store)
        progress(f"stored data cutoff {stored}")
        for w in (store.intake(stored) if hasattr(store, "intake") else []):
            progress(f"  accepted intake warning: {w.get('message', w.get('code'))}")
        if no_build:
            progress("not built (--no-build): run `nscore build`, or a plain `jupyter-book build .`")
            return None
        report = build(project, cutoff="latest", jobs=jobs, progress=progress)
    # the chapter runs are the staged build's (what executed and why); the sites are this build's
    return dataclasses.replace(report, runs=staged.runs, seconds=staged.seconds + report.seconds)


def _build_staged_update(project: Project, put: Callable[[Any], str], *, jobs: int | None,
                         progress: Progress) -> BuildReport:
    """Store the delivery (``put``) in a staged copy of the project and build the whole book there.

    Raises what storing or building raises; the project itself is not written, except the failed
    chapter's notebook (``_build/failed/``, for inspection) and, on success, the executed notebooks
    added to the cache ``_build/executed/`` (so the real build that follows reuses them).
    """
    staging = project.build_dir / f".update-{uuid.uuid4().hex[:12]}"
    try:
        staged = staged_copy(project, staging)
        cutoff = put(staged.data_store())
        progress(f"building the book on data cutoff {cutoff} in staging (stored only if it builds)")
        try:
            report = build(staged, cutoff="latest", jobs=jobs, progress=progress)
        except (ChapterExecutionError, BuildError):
            if staged.failed_dir.is_dir():
                for nb in staged.failed_dir.rglob("*.ipynb"):
                    dest = project.failed_dir / nb.relative_to(staged.failed_dir)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(nb, dest)
            progress(f"data cutoff {cutoff} NOT stored: the book does not build on it; data, notebooks "
                     "and site are unchanged")
            raise
        for nb in sorted(staged.executed_dir.rglob("*.ipynb")):
            dest = project.executed_dir / nb.relative_to(staged.executed_dir)
            if not dest.exists() or not dest.samefile(nb):
                publish.copy_atomic(nb, dest)
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def withdraw(project: Project, cutoff: str, reason: str, *, progress: Progress = print) -> Path:
    """Withdraw a stored cutoff (:func:`nscore.data.history.withdraw`) under the build lock; return where it went.

    The files move to ``data/withdrawn/<cutoff>/`` with a ``withdrawal.json``, and the event is
    appended to ``data/history.json``. Nothing is rebuilt here: the next ``nscore build`` publishes
    the site without that version and re-executes every chapter that read it.
    """
    from nscore.data import history

    with build_lock(project):
        moved = history.withdraw(project.data_path, cutoff, reason)
    progress(f"withdrew data cutoff {cutoff}: its files are in {moved}; recorded in "
             f"{project.data_path / history.HISTORY_FILE}")
    progress("run `nscore build` to publish the site without it")
    return moved
