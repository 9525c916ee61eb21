"""Data + chapter sources -> executed notebooks -> versioned site, rebuilt only where something changed.

The pipeline is what makes the publication *living*: jupyter-book's own cache (and Quarto's freeze,
MyST's cache) key a page on its source only, so a new data cutoff goes unnoticed. Here each chapter's
key is a SHA-256 over everything that can change its output:

* the chapter source bytes (``chapters/src/<name>.md``),
* the data version hash of the cutoff it is executed for (or of every cutoff up to it, when the
  chapter declares ``nscore: {data: all}`` in its jupytext metadata) and of any extra files it
  declares (``nscore: {depends: [data/experts.yml]}``),
* the ``nscore/*.py`` sources, ``requirements.txt`` and ``requirements.lock``,
* the papermill parameters,
* every cutoff the chapter's kernel actually read, and every list of cutoffs it took
  (``nscore.data.reads``: recorded at execution, keyed at its current value, ``"absent"`` once deleted),
  so a chapter that reads a cutoff other than its own (results reads the published one) is
  re-executed when that cutoff changes, disappears or arrives.

Build time and commit are recorded but kept out of the key (they change on every build).

Layout produced (see README): executed notebooks of the newest cutoff in ``chapters/<name>.ipynb``,
of every cutoff in ``_build/executed/<cutoff>/``; the site of each cutoff in
``_build/html/v/<cutoff>/`` with the newest also at ``_build/html/``; a reviewer bundle per cutoff
at ``_build/html/v/<cutoff>/_downloads/reviewer-bundle-<cutoff>.zip``.

Nothing is half-written: notebooks are executed into a staging directory, the site is built there,
and only when every chapter and the site build succeeded are notebooks moved into place and the new
site swapped in for the old one.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

import yaml

from nscore.build import kernels

from nscore.report import provenance

from nscore.data import reads
from nscore.data.load import sha256_file
from nscore.files import write_atomic_with
from nscore.errors import BuildError, ChapterExecutionError, NscoreError, StaleOutputError

KEY_SCHEME = 2
"""Bumped when the meaning of the key changes, so that every chapter re-executes once."""

BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib")
BOOK_DIRS = ("_static",)
KERNEL_NAME = "python3"
KERNEL_START_ATTEMPTS = 3
BUNDLE_NAME = "reviewer-bundle-{cutoff}.zip"
SITE_MARKER = ".nscore-site.json"

Progress = Callable[[str], None]


# --------------------------------------------------------------------------------------------------
# data store: the versions of the data the chapters are executed for
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataVersion:
    """One stored cutoff as the pipeline sees it (validated on load)."""

    cutoff: str
    version: str
    simulated: bool
    files: dict[str, str] = field(default_factory=dict)


class DataStore(Protocol):
    """What the pipeline needs from a data store (``nscore.data.versions`` in the real project)."""

    def cutoffs(self) -> list[str]: ...

    def load(self, cutoff: str) -> DataVersion: ...

    def store(self, src: Path) -> str: ...

    def verify(self) -> list[str]: ...


class VersionsStore:
    """The project's data store, through :mod:`nscore.data.versions` (validates on load)."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)

    def cutoffs(self) -> list[str]:
        from nscore.data import versions

        return sorted(str(c) for c in versions.list_cutoffs(self.data_dir))

    def load(self, cutoff: str) -> DataVersion:
        from nscore.data import versions

        cohort = versions.load(self.data_dir, cutoff)
        return DataVersion(
            cutoff=str(cohort.cutoff),
            version=str(cohort.version),
            simulated=bool(cohort.simulated),
            files=dict(getattr(cohort, "files", {}) or {}),
        )

    def store(self, src: Path, accept_warnings: bool = False) -> str:
        """Store a delivery after the intake checks (``nscore update``): warnings refuse it unless accepted."""
        from nscore.data import versions

        return Path(versions.store(src, self.data_dir, check_intake=True, accept_warnings=accept_warnings)).name

    def intake(self, cutoff: str) -> list[dict]:
        """The intake warnings accepted when ``cutoff`` was stored ([] if none)."""
        from nscore.data import intake, versions

        return (intake.read(versions.cutoff_dir(self.data_dir, cutoff)) or {}).get("warnings") or []

    def verify(self) -> list[str]:
        """Each stored cutoff's ``manifest.json`` against its files (``versions.check_manifest``)."""
        from nscore.data import versions
        from nscore.errors import DataValidationError

        problems: list[str] = []
        for c in versions.list_cutoffs(self.data_dir):
            d = versions.cutoff_dir(self.data_dir, c)
            try:
                versions.check_manifest(d)
            except StaleOutputError as exc:
                problems += exc.problems
            except DataValidationError as exc:
                problems.append(f"{d}: the data break {len(exc.failures)} rule(s); see `nscore validate`")
        return problems


def verify_manifests(cutoffs_dir: Path) -> list[str]:
    """Problems where a cutoff's ``manifest.json`` does not match its files.

    Reads the manifest tolerantly: any mapping ``file name -> {"sha256": ...}`` found at its top
    level or under ``"files"``. Files present but not listed (other than ``manifest.json``) and
    listed files that are missing are both problems.
    """
    problems: list[str] = []
    if not cutoffs_dir.is_dir():
        return problems
    for d in sorted(p for p in cutoffs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        mpath = d / "manifest.json"
        if not mpath.exists():
            problems.append(f"{_rel(mpath)}: missing")
            continue
        try:
            m = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{_rel(mpath)}: unreadable ({exc})")
            continue
        files = m.get("files", m) if isinstance(m, dict) else {}
        listed = {k: v for k, v in files.items() if isinstance(v, dict) and "sha256" in v}
        for name, entry in sorted(listed.items()):
            f = d / name
            if not f.exists():
                problems.append(f"{_rel(f)}: listed in manifest.json but missing")
            elif sha256_file(f) != entry["sha256"]:
                problems.append(f"{_rel(f)}: sha256 differs from manifest.json")
        extra = sorted(
            p.name for p in d.iterdir() if p.is_file() and p.name != "manifest.json" and p.name not in listed
            and not p.name.startswith(".")
        )
        for name in extra:
            problems.append(f"{_rel(d / name)}: not listed in manifest.json")
    return problems


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


# --------------------------------------------------------------------------------------------------
# project
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chapter:
    """A page of the book: ``file`` as in _toc.yml (``chapters/results``), ``name`` its stem."""

    file: str
    name: str


@dataclass(frozen=True)
class Project:
    """Every path of one project, so the pipeline can run on a copy (tests use a toy in tmp_path).

    ``store`` overrides the data store (default: :class:`VersionsStore` on ``root/data_dir``).
    """

    root: Path
    data_dir: str = "data"
    store: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).resolve())

    # paths -------------------------------------------------------------------------------------
    @property
    def toc(self) -> Path:
        return self.root / "_toc.yml"

    @property
    def chapters_dir(self) -> Path:
        return self.root / "chapters"

    @property
    def src_dir(self) -> Path:
        return self.chapters_dir / "src"

    @property
    def data_path(self) -> Path:
        return self.root / self.data_dir

    @property
    def build_dir(self) -> Path:
        return self.root / "_build"

    @property
    def html_dir(self) -> Path:
        return self.build_dir / "html"

    @property
    def executed_dir(self) -> Path:
        return self.build_dir / "executed"

    @property
    def failed_dir(self) -> Path:
        return self.build_dir / "failed"

    @property
    def requirements(self) -> list[Path]:
        return [self.root / "requirements.txt", self.root / "requirements.lock"]

    @property
    def code_files(self) -> list[Path]:
        """Every module of the package, subpackages included (all of it can change a page)."""
        return sorted((self.root / "nscore").rglob("*.py"))

    def data_store(self) -> DataStore:
        return self.store if self.store is not None else VersionsStore(self.data_path)

    def source(self, chapter: Chapter) -> Path:
        return self.src_dir / f"{chapter.name}.md"

    def notebook(self, chapter: Chapter) -> Path:
        return self.root / f"{chapter.file}.ipynb"

    def executed(self, cutoff: str, chapter: Chapter) -> Path:
        return self.executed_dir / cutoff / f"{chapter.name}.ipynb"

    def version_html(self, cutoff: str) -> Path:
        return self.html_dir / "v" / cutoff

    def bundle(self, cutoff: str) -> Path:
        """Stable path of a cutoff's reviewer bundle in the published site."""
        return self.version_html(cutoff) / "_downloads" / BUNDLE_NAME.format(cutoff=cutoff)

    # chapters ----------------------------------------------------------------------------------
    def chapters(self) -> list[Chapter]:
        """Chapters in _toc.yml order (root first); each must live in ``chapters/``."""
        try:
            toc = yaml.safe_load(self.toc.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise NscoreError(f"cannot read {self.toc}: {exc}") from exc
        files = [toc["root"]] + list(_toc_files(toc))
        out = []
        for f in files:
            f = str(f).removesuffix(".ipynb").removesuffix(".md")
            out.append(Chapter(file=f, name=Path(f).name))
        return out


def _toc_files(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        if "file" in node:
            yield node["file"]
        for k in ("parts", "chapters", "sections"):
            for child in node.get(k, []) or []:
                yield from _toc_files(child)
    elif isinstance(node, list):
        for child in node:
            yield from _toc_files(child)


# --------------------------------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------------------------------
def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _hash_files(root: Path, files: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root)).encode() + b"\0")
        h.update((sha256_file(f) if f.exists() else "missing").encode() + b"\n")
    return h.hexdigest()


def code_hash(project: Project) -> str:
    """SHA-256 over the ``nscore/*.py`` sources (names and bytes)."""
    return _hash_files(project.root, project.code_files)


def environment_hash(project: Project) -> str:
    """SHA-256 over requirements.txt and requirements.lock (the declared + locked environment)."""
    return _hash_files(project.root, project.requirements)


def _front_matter(source: Path) -> dict:
    """The YAML block between the first two ``---`` lines of a MyST Markdown file ({} if none)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    end = next((i for i, ln in enumerate(lines[1:], start=1) if ln.strip() == "---"), None)
    if end is None:
        raise NscoreError(f"{source}: the front matter opened on line 1 is never closed with '---'")
    meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    if not isinstance(meta, dict):
        raise NscoreError(f"{source}: the front matter is not a mapping")
    return meta


def chapter_meta(project: Project, chapter: Chapter) -> dict:
    """The chapter's ``nscore`` jupytext metadata: ``data`` ("cutoff" or "all"), ``depends`` (paths).

    Read from the MyST source's YAML front matter directly (what jupytext reads as the notebook's
    metadata): every build keys every chapter, and importing jupytext alone would take longer than
    a build with nothing to do.
    """
    meta = dict(_front_matter(project.source(chapter)).get("nscore", {}) or {})
    data = meta.get("data", "cutoff")
    if data not in ("cutoff", "all"):
        raise NscoreError(f"{chapter.name}: nscore.data must be 'cutoff' or 'all', not {data!r}")
    depends = meta.get("depends", []) or []
    if isinstance(depends, str):
        depends = [depends]
    return {"data": data, "depends": [str(d) for d in depends]}


def chapter_key(
    project: Project, chapter: Chapter, cutoff: str, data_versions: dict[str, str], *, _shared: dict | None = None
) -> tuple[str, dict]:
    """The chapter's data-aware key for ``cutoff`` and the components it was made from.

    ``data_versions`` maps every stored cutoff to its data version hash.
    """
    shared = _shared or {"code": code_hash(project), "environment": environment_hash(project)}
    src = project.source(chapter)
    if not src.exists():
        raise NscoreError(f"chapter source missing: {src} (listed in _toc.yml as {chapter.file})")
    meta = chapter_meta(project, chapter)
    if meta["data"] == "all":
        data = {c: v for c, v in data_versions.items() if c <= cutoff}
    else:
        data = {cutoff: data_versions[cutoff]}
    depends = {}
    for d in meta["depends"]:
        p = project.root / d
        depends[d] = sha256_file(p) if p.is_file() else "missing"
    components = {
        "scheme": KEY_SCHEME,
        "source": sha256_file(src),
        "data": data,
        "depends": depends,
        "code": shared["code"],
        "environment": shared["environment"],
        "parameters": parameters(project, cutoff),
    }
    key = sha256_bytes(json.dumps(components, sort_keys=True, separators=(",", ":")).encode())
    return key, components


def with_reads(components: dict, read_cutoffs: Iterable[str], data_versions: dict[str, str]) -> tuple[str, dict]:
    """The full key: ``components`` plus the current version of every cutoff the chapter read.

    Why: only execution knows what a chapter reads, so the key a notebook carries is its planned
    components plus its recorded reads, re-priced at today's versions (``"absent"`` when deleted).
    """
    comps = dict(components)
    comps["reads"] = {c: reads.current(c, data_versions) for c in sorted(read_cutoffs)}
    return sha256_bytes(json.dumps(comps, sort_keys=True, separators=(",", ":")).encode()), comps


def current_key(components: dict, meta: dict | None, data_versions: dict[str, str]) -> tuple[str, dict]:
    """The key an executed notebook with metadata ``meta`` must carry to be current now."""
    recorded_reads = ((meta or {}).get("key_components") or {}).get("reads") or {}
    return with_reads(components, recorded_reads, data_versions)


def parameters(project: Project, cutoff: str) -> dict:
    """Papermill parameters of a chapter (SPEC: ``data_dir`` and a resolved ``cutoff``)."""
    return {"data_dir": project.data_dir, "cutoff": cutoff}


def recorded(nb_path: Path) -> dict | None:
    """``metadata.nscore`` of an executed notebook, or None when absent or unreadable."""
    try:
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta = nb.get("metadata", {}).get("nscore")
    return meta if isinstance(meta, dict) else None


def _why_changed(old: dict | None, new_components: dict) -> str:
    if old is None:
        return "no executed notebook with a key"
    prev = old.get("key_components") or {}
    changed = [k for k in ("source", "data", "reads", "depends", "code", "environment", "parameters", "scheme")
               if prev.get(k) != new_components.get(k)]
    return ("changed: " + ", ".join(changed)) if changed else "key differs"


# --------------------------------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChapterRun:
    cutoff: str
    chapter: str
    action: str  # "executed" or "skipped"
    reason: str
    seconds: float = 0.0


@dataclass(frozen=True)
class BuildReport:
    """What one build did: per chapter and cutoff, executed or skipped and why; where the site is."""

    cutoffs: list[str]
    newest: str
    runs: list[ChapterRun]
    sites_built: list[str]
    sites_reused: list[str]
    site: Path
    bundles: dict[str, Path]
    seconds: float

    @property
    def executed(self) -> list[tuple[str, str]]:
        return [(r.cutoff, r.chapter) for r in self.runs if r.action == "executed"]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [(r.cutoff, r.chapter) for r in self.runs if r.action == "skipped"]

    def summary(self) -> str:
        lines = [
            f"executed {len(self.executed)} chapter run(s), skipped {len(self.skipped)} unchanged; "
            f"sites built: {', '.join(self.sites_built) or 'none'}; reused: {', '.join(self.sites_reused) or 'none'}",
            f"site: {self.site / 'index.html'}  (versions under {self.site / 'v'})",
            f"total {self.seconds:.1f} s",
        ]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# execution
# --------------------------------------------------------------------------------------------------
def _kernel_manager_class(root: Path, env_extra: dict[str, str], stderr=None, forkserver=None):
    """A kernel manager that starts this environment's python3 kernel in ``root`` with ``env_extra``.

    Only the venv's own kernelspec directory is searched (a user-level ``python3`` spec could point
    at another interpreter); jupyter_client replaces a bare ``python`` argv with ``sys.executable``.
    The working directory and environment are given to the kernel process itself, because
    papermill's ``cwd`` is a process-wide ``chdir`` and chapters run in parallel threads.
    The kernel process's own stderr (kernel logs, not cell output) goes to ``stderr`` when given.
    With a ``forkserver`` (:class:`nscore.build.kernels.ForkServer`) the kernel is forked from it instead
    of started as a new interpreter.
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

        async def _async_pre_start_kernel(self, **kw):
            if forkserver is not None and self.provisioner is None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                self.provisioner = kernels.provisioner_class(forkserver)(
                    kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
            env = dict(kw.pop("env", None) or os.environ)
            env.update(env_extra)
            env["PYTHONPATH"] = pythonpath
            kw["env"] = env
            kw["cwd"] = str(root)
            if stderr is not None:
                kw["stderr"] = stderr
            return await super()._async_pre_start_kernel(**kw)

    return ProjectKernelManager


@dataclass
class _Job:
    cutoff: str
    chapter: Chapter
    key: str
    components: dict
    reason: str
    out: Path  # staged executed notebook
    seconds: float | None = None  # set once executed successfully


def _execute(project: Project, job: _Job, context: dict, progress: Progress, stage: Path) -> float:
    """Execute one chapter with papermill into ``job.out``; return seconds taken."""
    import jupytext
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    src = project.source(job.chapter)
    nb = jupytext.read(src, fmt="md:myst")
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}
    work = stage / "work" / job.cutoff
    work.mkdir(parents=True, exist_ok=True)
    tmp_in = work / f"{job.chapter.name}.in.ipynb"
    nbformat.write(nb, tmp_in)
    params = job.components["parameters"]
    prov = provenance.Provenance(
        cutoff=job.cutoff,
        data_version=context["versions"][job.cutoff].version,
        simulated=context["versions"][job.cutoff].simulated,
        parameters=params,
        build_time=context["build_time"],
        commit=context["commit"],
        packages=context["packages"],
        key=job.key,
        chapter=job.chapter.name,
    )
    label = f"{job.chapter.name} [{job.cutoff}]"
    progress(f"  started  {label} ({job.reason})")
    t0 = time.monotonic()
    kernel_log = work / f"{job.chapter.name}.kernel.log"
    reads_log = work / f"{job.chapter.name}.reads.jsonl"
    env_extra = {provenance.ENV_VAR: prov.to_json(), reads.ENV_VAR: str(reads_log)}
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        reads_log.unlink(missing_ok=True)
        try:
            with open(kernel_log, "a", encoding="utf-8") as klog:
                km_class = _kernel_manager_class(project.root, env_extra, stderr=klog,
                                                 forkserver=context.get("forkserver"))
                pm.execute_notebook(
                    str(tmp_in), str(job.out), parameters=params, kernel_name=KERNEL_NAME,
                    progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                    start_timeout=120, kernel_manager_class=km_class,
                )
            break
        except PapermillExecutionError as exc:
            failed = project.failed_dir / job.cutoff / f"{job.chapter.name}.ipynb"
            if job.out.exists():
                failed.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(job.out, failed)
            raise ChapterExecutionError(
                job.chapter.name, _source_cell_index(job.out, exc.cell_index), exc.source, exc.ename, exc.evalue
            ) from exc
        except Exception as exc:  # kernel start failure (e.g. a port collision): retry a few times
            if attempt == KERNEL_START_ATTEMPTS:
                tail = kernel_log.read_text(encoding="utf-8", errors="replace")[-2000:] if kernel_log.exists() else ""
                raise ChapterExecutionError(
                    job.chapter.name, None, f"(kernel did not start or died; kernel log tail:)\n{tail}",
                    type(exc).__name__, str(exc),
                ) from exc
            progress(f"  retry    {label}: kernel start failed ({type(exc).__name__}: {exc}); attempt {attempt + 1}")
            time.sleep(0.5 * attempt)
    seconds = time.monotonic() - t0
    read = reads.read_log(reads_log)
    data_versions = {c: v.version for c, v in context["versions"].items()}
    job.key, job.components = with_reads(job.components, read, data_versions)
    out = nbformat.read(job.out, as_version=4)
    pmeta = out.metadata.get("papermill", {})
    pmeta["input_path"] = str(src.relative_to(project.root))
    pmeta["output_path"] = f"{job.chapter.file}.ipynb"
    out.metadata["nscore"] = {
        "key": job.key,
        "key_components": job.components,
        "chapter": job.chapter.name,
        "cutoff": job.cutoff,
        "data_version": prov.data_version,
        "data_versions": job.components["data"],
        "reads": read,
        "simulated": prov.simulated,
        "parameters": params,
        "build_time": context["build_time"],
        "commit": context["commit"],
        "packages": context["packages"],
        "kernel": "forked from the build's pre-imported zygote (nscore.build.kernels)"
        if context.get("forkserver") is not None else "new interpreter",
    }
    out.metadata.pop("jupytext", None)
    nbformat.write(out, job.out)
    progress(f"  finished {label} in {seconds:.1f} s")
    return seconds


def _source_cell_index(executed: Path, cell_index: int) -> int:
    """Map papermill's cell index (executed notebook, with the injected cell) to the source's."""
    try:
        nb = json.loads(executed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return cell_index
    injected = [i for i, c in enumerate(nb.get("cells", []))
                if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    return cell_index - 1 if injected and injected[0] < cell_index else cell_index


def _code_cells(source: Path) -> int:
    """Code cells in a chapter source: the cost estimate that orders the queue."""
    return source.read_text(encoding="utf-8").count("```{code-cell}")


def _run_jobs(project: Project, jobs: list[_Job], n_workers: int, context: dict, progress: Progress, stage: Path) -> dict:
    """Execute ``jobs`` in a thread pool (one kernel each); raise the first failure in toc order."""
    seconds: dict[tuple[str, str], float] = {}
    errors: list[tuple[int, BaseException]] = []
    lock = threading.Lock()

    def say(msg: str) -> None:
        with lock:
            progress(msg)

    if context.get("forkserver") is not None:
        try:
            context["forkserver"].wait_ready()
        except kernels.ForkServerError as exc:
            progress(f"  note     kernels start as new interpreters: {exc}")
            context["forkserver"] = None

    with cf.ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="nscore-chapter") as pool:
        # longest first, so the longest chapter never starts last and leaves one core idle at the end
        order = sorted(range(len(jobs)), key=lambda i: -_code_cells(project.source(jobs[i].chapter)))
        futs = {pool.submit(_execute, project, jobs[i], context, say, stage): (i, jobs[i]) for i in order}
        for fut in cf.as_completed(futs):
            i, j = futs[fut]
            try:
                j.seconds = seconds[(j.cutoff, j.chapter.name)] = fut.result()
            except cf.CancelledError:
                continue
            except Exception as exc:
                errors.append((i, exc))
                say(f"  FAILED   {j.chapter.name} [{j.cutoff}]: {type(exc).__name__}; cancelling queued chapters")
                for other in futs:
                    other.cancel()
    if errors:
        errors.sort(key=lambda e: e[0])
        raise errors[0][1]
    return seconds


# --------------------------------------------------------------------------------------------------
# site
# --------------------------------------------------------------------------------------------------
def jupyter_book_command() -> list[str]:
    """The jupyter-book CLI of this environment (next to the running Python), as an argv prefix."""
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if not found:
        raise BuildError("jupyter-book is not installed in this environment (pip install -r requirements.txt)")
    return [found]


def _book_files(project: Project) -> list[Path]:
    files = [project.root / f for f in BOOK_FILES if (project.root / f).exists()]
    for d in BOOK_DIRS:
        if (project.root / d).is_dir():
            files += sorted(p for p in (project.root / d).rglob("*") if p.is_file())
    return files


def _site_key(project: Project, cutoff: str, chapter_keys: dict[str, str], cutoffs_upto: list[str]) -> str:
    payload = {
        "scheme": KEY_SCHEME,
        "cutoff": cutoff,
        "chapters": chapter_keys,
        "book": _hash_files(project.root, _book_files(project)),
        "environment": environment_hash(project),
        "code": code_hash(project),
        "links": cutoffs_upto,
    }
    return sha256_bytes(json.dumps(payload, sort_keys=True).encode())


def _stage_book(project: Project, dest: Path, notebooks: dict[str, Path], chapters: list[Chapter]) -> None:
    dest.mkdir(parents=True)
    for f in BOOK_FILES:
        if (project.root / f).exists():
            shutil.copy2(project.root / f, dest / f)
    for d in BOOK_DIRS:
        if (project.root / d).is_dir():
            shutil.copytree(project.root / d, dest / d)
    for ch in chapters:
        target = dest / f"{ch.file}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebooks[ch.name], target)


def _jupyter_book_build(project: Project, book: Path, progress: Progress, label: str,
                        forkserver: "kernels.ForkServer | None" = None) -> Path:
    """``jupyter-book build <book> -W -n --keep-going``; Sphinx extensions import this project's nscore.

    With a ``forkserver`` the command is forked from the build's zygote, which has imported Sphinx
    and jupyter-book while the chapters ran; otherwise it is the ``jupyter-book`` executable.
    """
    t0 = time.monotonic()
    progress(f"  site     {label}: jupyter-book build -W -n --keep-going")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(project.root), env.get("PYTHONPATH", "")) if x)
    env[STAGED_ENV] = "1"  # notebooks just executed: nscore.report.render must not check or re-execute them
    args = ["build", str(book), "-W", "-n", "--keep-going"]
    log = book / "jupyter-book.log"  # stdout and stderr together, as a terminal shows them
    returncode = None
    if forkserver is not None:
        try:
            returncode = forkserver.run(kernels.JUPYTER_BOOK_ENTRY, args, env, str(book), stdout=str(log), stderr=str(log))
        except kernels.ForkServerError as exc:
            progress(f"  note     {label}: jupyter-book starts as a new interpreter: {exc}")
    if returncode is None:
        with open(log, "w") as out:
            returncode = subprocess.run([*jupyter_book_command(), *args], stdout=out, stderr=subprocess.STDOUT,
                                        cwd=book, env=env).returncode
    output = log.read_text(encoding="utf-8", errors="replace")
    html = book / "_build" / "html"
    if returncode != 0 or not (html / "index.html").exists():
        text = re.sub(r"\x1b\[[0-9;]*m", "", output).replace(f"{book}/", "")
        warnings = [ln for ln in text.splitlines() if "WARNING" in ln or "ERROR" in ln or "Error" in ln]
        detail = "\n".join(warnings[-60:]) or text[-4000:]
        raise BuildError(f"jupyter-book build failed for {label} (exit {returncode}):\n{detail}")
    progress(f"  site     {label}: built in {time.monotonic() - t0:.1f} s")
    return html


def _write_bundle(project: Project, zpath: Path, cutoff: str, notebooks: dict[str, Path], chapters: list[Chapter]) -> None:
    """Deterministic zip: executed notebooks, the cutoff's manifest.json, requirements.lock."""
    zpath.parent.mkdir(parents=True, exist_ok=True)
    members: list[tuple[str, Path]] = [(f"notebooks/{ch.name}.ipynb", notebooks[ch.name]) for ch in chapters]
    manifest = project.data_path / "cutoffs" / cutoff / "manifest.json"
    if manifest.exists():
        members.append((f"data/cutoffs/{cutoff}/manifest.json", manifest))
    for req in project.requirements:
        if req.exists():
            members.append((req.name, req))
    readme = (
        f"Reviewer bundle of the NS7CAR living publication, data cutoff {cutoff}.\n"
        "notebooks/: the executed chapter notebooks (metadata.nscore holds each one's provenance and key);\n"
        "data/cutoffs/<cutoff>/manifest.json: SHA-256 and row counts of the data files;\n"
        "requirements.lock: the exact package versions of the environment.\n"
    )
    def write(handle) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as z:
            info = zipfile.ZipInfo("README.txt", date_time=(2020, 1, 1, 0, 0, 0))
            z.writestr(info, readme)
            for arc, path in members:
                info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, path.read_bytes())

    write_atomic_with(zpath, write)


def _link_stubs(version_dir: Path, cutoffs: list[str]) -> None:
    """In a version's site, ``v/<c>/index.html`` redirects to the sibling version ``../../../<c>/``.

    So a chapter can link ``../v/<c>/index.html`` (and its own bundle ``../_downloads/...``) and the
    link works both at the site root (newest) and inside every ``v/<cutoff>/`` copy.
    """
    for c in cutoffs:
        stub = version_dir / "v" / c / "index.html"
        if stub.exists():  # never write in place: published files may be hard links
            continue
        stub.parent.mkdir(parents=True, exist_ok=True)
        target = f"../../../{c}/index.html"
        stub.write_text(
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Version {c}</title>'
            f'<meta http-equiv="refresh" content="0; url={target}"></head>'
            f'<body><p><a href="{target}">Version {c}</a></p></body></html>\n',
            encoding="utf-8",
        )


def _copytree(src: Path, dst: Path) -> None:
    def link_or_copy(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
        return d

    shutil.copytree(src, dst, copy_function=link_or_copy)


# --------------------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------------------
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
    store = project.data_store()
    available = store.cutoffs()
    if not available:
        raise NscoreError(f"no data cutoffs stored under {project.data_path / 'cutoffs'}")
    only = _resolve_cutoff(cutoff, available)
    targets = [only] if only else list(available)
    chapters = project.chapters()
    for ch in chapters:
        if not project.source(ch).exists():
            raise NscoreError(f"chapter source missing: {project.source(ch)} (listed in _toc.yml as {ch.file})")

    project.build_dir.mkdir(parents=True, exist_ok=True)
    forkserver = _start_forkserver(project)
    try:
        return _build_with(project, store, available, targets, chapters, forkserver, force, jobs, progress, t_start)
    finally:
        if forkserver is not None:
            forkserver.close()


def _start_forkserver(project: Project) -> "kernels.ForkServer | None":
    """The build's kernel zygote, importing while the data are validated (None when switched off)."""
    if not kernels.enabled():
        return None
    log = project.build_dir / "forkserver.log"
    log.unlink(missing_ok=True)
    return kernels.ForkServer(project.root, log).start()


def _build_with(
    project: Project, store: DataStore, available: list[str], targets: list[str], chapters: list[Chapter],
    forkserver: "kernels.ForkServer | None", force: bool, jobs: int | None, progress: Progress, t_start: float,
) -> BuildReport:
    """:func:`build` once its arguments are checked: validate, key, then build under the lock."""
    progress(f"validating data: {', '.join(available)}")
    versions = {c: store.load(c) for c in available}
    data_versions = {c: v.version for c, v in versions.items()}
    context = _run_context(project, versions, forkserver)
    shared = {"code": code_hash(project), "environment": environment_hash(project)}

    with _build_lock(project):
        return _build_locked(
            project, available=available, targets=targets, chapters=chapters, data_versions=data_versions,
            context=context, shared=shared, force=force, jobs=jobs, progress=progress, t_start=t_start,
        )


@contextlib.contextmanager
def _build_lock(project: Project):
    """One build at a time per project (two would race on chapters/ and _build/html)."""
    import fcntl

    with open(project.build_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise NscoreError(f"another nscore build is running in {project.root}") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_context(project: Project, versions: dict, forkserver) -> dict:
    """What every chapter run of one build shares: the loaded data, build time, commit, packages."""
    return {
        "versions": versions,
        "build_time": provenance.utc_now(),
        "commit": provenance.code_commit(project.root),
        "packages": provenance.package_versions(),
        "forkserver": forkserver,
    }


def _build_locked(
    project: Project, *, available: list[str], targets: list[str], chapters: list[Chapter],
    data_versions: dict[str, str], context: dict, shared: dict, force: bool, jobs: int | None,
    progress: Progress, t_start: float,
) -> BuildReport:
    """Steps 1-5 of :func:`build` (plan, execute, build sites, assemble, publish) under the lock."""
    newest = available[-1]
    stage = project.build_dir / f".stage-{uuid.uuid4().hex[:12]}"
    stage.mkdir()
    try:
        # 1. plan: key per (cutoff, chapter); skip what an executed notebook already has
        runs: list[ChapterRun] = []
        todo: list[_Job] = []
        notebooks: dict[str, dict[str, Path]] = {c: {} for c in targets}
        keys: dict[str, dict[str, str]] = {c: {} for c in targets}
        for c in targets:
            for ch in chapters:
                base, comps = chapter_key(project, ch, c, data_versions, _shared=shared)
                candidates = [project.executed(c, ch)] + ([project.notebook(ch)])
                metas = [recorded(p) for p in candidates]
                found = None
                for p, m in zip(candidates, metas):
                    key = current_key(comps, m, data_versions)[0]
                    if m is not None and m.get("key") == key:
                        found = p
                        break
                if found is not None and not force:
                    keys[c][ch.name] = key
                    notebooks[c][ch.name] = found
                    runs.append(ChapterRun(c, ch.name, "skipped", f"unchanged (key {key[:12]})"))
                    continue
                prev = next((m for m in metas if m and m.get("cutoff") == c), None)
                reason = "forced" if force else _why_changed(prev, current_key(comps, prev, data_versions)[1])
                key = base  # the full key is known once the chapter has run (its reads)
                out = stage / "executed" / c / f"{ch.name}.ipynb"
                out.parent.mkdir(parents=True, exist_ok=True)
                todo.append(_Job(c, ch, key, comps, reason, out))
                notebooks[c][ch.name] = out
        skipped = [r for r in runs if r.action == "skipped"]
        for r in skipped:
            progress(f"  skipped  {r.chapter} [{r.cutoff}]: {r.reason}")

        try:
            # 2. execute in parallel, one kernel per chapter
            seconds: dict = {}
            if todo:
                n_workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
                progress(f"executing {len(todo)} chapter run(s) with {n_workers} kernel(s) in parallel")
                seconds = _run_jobs(project, todo, n_workers, context, progress, stage)
            else:
                progress("executing nothing: every chapter is unchanged")
            runs += [ChapterRun(j.cutoff, j.chapter.name, "executed", j.reason, seconds.get((j.cutoff, j.chapter.name), 0.0))
                     for j in todo]
            for j in todo:  # executed: now with their reads
                keys[j.cutoff][j.chapter.name] = j.key

            # 3. a site per target cutoff (reused when its site key is unchanged)
            new_html = stage / "html"
            built, reused = [], []
            version_html: dict[str, Path] = {}
            bundles: dict[str, Path] = {}

            def site_for(c: str) -> tuple[str, Path, bool]:
                upto = [x for x in available if x <= c]
                skey = _site_key(project, c, keys[c], upto)
                published = project.version_html(c)
                marker = published / SITE_MARKER
                if not force and marker.exists():
                    try:
                        if json.loads(marker.read_text(encoding="utf-8")).get("site_key") == skey:
                            return c, published, False
                    except ValueError:
                        pass
                book = stage / f"book-{c}"
                _stage_book(project, book, notebooks[c], chapters)
                html = _jupyter_book_build(project, book, progress, f"cutoff {c}", context.get("forkserver"))
                _write_bundle(project, html / "_downloads" / BUNDLE_NAME.format(cutoff=c), c, notebooks[c], chapters)
                _link_stubs(html, upto)
                (html / SITE_MARKER).write_text(json.dumps({"site_key": skey, "cutoff": c}), encoding="utf-8")
                return c, html, True

            n_site = max(1, min(jobs or os.cpu_count() or 1, len(targets)))
            with cf.ThreadPoolExecutor(max_workers=n_site) as pool:
                for c, html, fresh in pool.map(site_for, targets):
                    version_html[c] = html
                    (built if fresh else reused).append(c)
                    if not fresh:
                        progress(f"  site     cutoff {c}: unchanged, reusing the published version")

        except (ChapterExecutionError, BuildError):
            # keep what did execute in the cache (never in chapters/ or the site): a rerun after
            # the fix executes only what failed or was not reached
            _cache_executed([j for j in todo if j.seconds is not None], project)
            raise

        # 4. assemble the whole published tree: v/<c>/ for every cutoff, newest at the root
        (new_html / "v").mkdir(parents=True)
        for c in available:
            src = version_html.get(c) or (project.version_html(c) if project.version_html(c).exists() else None)
            if src is None:
                progress(f"  note     cutoff {c} has no published site yet (build with --cutoff latest)")
                continue
            _copytree(src, new_html / "v" / c)
            # stubs for every stored version, so a version link never breaks, even from older copies
            _link_stubs(new_html / "v" / c, available)
        # every version's site holds the bundles of the versions up to it (links stay relative)
        for c in available:
            vdir = new_html / "v" / c
            if not vdir.exists():
                continue
            for x in available:
                if x >= c:
                    continue
                b = new_html / "v" / x / "_downloads" / BUNDLE_NAME.format(cutoff=x)
                dest = vdir / "_downloads" / b.name
                if b.exists() and not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(b, dest)
            b = vdir / "_downloads" / BUNDLE_NAME.format(cutoff=c)
            if b.exists():
                bundles[c] = project.bundle(c)
        root_src = new_html / "v" / newest
        if root_src.exists():
            for item in root_src.iterdir():
                if item.name == "v":  # at the root, v/<c>/ are the real version directories
                    continue
                dest = new_html / item.name
                if item.is_dir():
                    _copytree(item, dest)
                else:
                    try:
                        os.link(item, dest)
                    except OSError:
                        shutil.copy2(item, dest)
            for x in available:
                b = new_html / "v" / x / "_downloads" / BUNDLE_NAME.format(cutoff=x)
                if b.exists() and not (new_html / "_downloads" / b.name).exists():
                    (new_html / "_downloads").mkdir(exist_ok=True)
                    shutil.copy2(b, new_html / "_downloads" / b.name)

        # 5. publish: notebooks first (chapters/ for the newest), then swap the site
        _cache_executed(todo, project)
        for j in todo:
            if j.cutoff == newest:
                _atomic_copy(j.out, project.notebook(j.chapter))
        if newest in targets:
            # a committed notebook may be found in _build/executed only (fresh checkout of a new cutoff)
            for ch in chapters:
                src = notebooks[newest][ch.name]
                if (recorded(project.notebook(ch)) or {}).get("key") != keys[newest][ch.name]:
                    _atomic_copy(src, project.notebook(ch))
        _swap_site(project, new_html)
        progress(f"site published: {project.html_dir / 'index.html'}")
        report = BuildReport(
            cutoffs=targets, newest=newest, runs=runs, sites_built=built, sites_reused=reused,
            site=project.html_dir, bundles=bundles, seconds=time.monotonic() - t_start,
        )
        progress(report.summary())
        return report
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _cache_executed(jobs: list[_Job], project: Project) -> None:
    """Copy executed notebooks into the cache ``_build/executed/<cutoff>/``."""
    for j in jobs:
        dest = project.executed(j.cutoff, j.chapter)
        dest.parent.mkdir(parents=True, exist_ok=True)
        _atomic_copy(j.out, dest)


def _atomic_copy(src: Path, dest: Path) -> None:
    with open(src, "rb") as source:
        write_atomic_with(dest, lambda handle: shutil.copyfileobj(source, handle))


def _swap_site(project: Project, new_html: Path) -> None:
    """Move the old site aside, move the new one in, then delete the old one."""
    html = project.html_dir
    old = project.build_dir / f".old-html-{uuid.uuid4().hex[:12]}"
    if html.exists():
        os.replace(html, old)
    try:
        os.replace(new_html, html)
    except OSError:
        if old.exists():
            os.replace(old, html)
        raise
    shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# check and update
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
    shared = {"code": code_hash(project), "environment": environment_hash(project)}
    for ch in project.chapters():
        nb = project.notebook(ch)
        rel = nb.relative_to(project.root)
        if not project.source(ch).exists():
            problems.append(f"{project.source(ch).relative_to(project.root)}: chapter source missing")
            continue
        if not nb.exists():
            problems.append(f"{rel}: missing (run `nscore build`)")
            continue
        _, comps = chapter_key(project, ch, newest, data_versions, _shared=shared)
        old = recorded(nb)
        key, comps = current_key(comps, old, data_versions)
        if (old or {}).get("key") != key:
            problems.append(f"{rel}: stale for cutoff {newest} ({_why_changed(old, comps)}); run `nscore build`")
    return problems


def check_or_raise(project: Project) -> None:
    """:func:`check`, raising StaleOutputError when there is any problem (the CLI's ``check``)."""
    problems = check(project)
    if problems:
        raise StaleOutputError(problems)


# --------------------------------------------------------------------------------------------------
# plain `jupyter-book build .` (issue 16, item 8): nscore.report.render calls refresh() before Sphinx reads
# --------------------------------------------------------------------------------------------------
#: Set by :func:`_jupyter_book_build` for the books it stages from notebooks it has just executed:
#: the Sphinx extension ``nscore.report.render`` then neither checks nor re-executes anything.
STAGED_ENV = "NSCORE_STAGED_BOOK"


def refresh(project: Project, *, execute: bool = True, jobs: int | None = None,
            progress: Progress = print) -> list[ChapterRun]:
    """Make ``chapters/<name>.ipynb`` current for the newest cutoff, as :func:`build` would, without a site.

    Every chapter is keyed for the newest cutoff (:func:`chapter_key`, :func:`current_key`). A
    chapter whose committed notebook carries its key is left alone; one whose current notebook is
    in the cache (``_build/executed/<cutoff>/``) is copied from there; the others are executed with
    papermill by the build's own machinery (:func:`_run_jobs`: same kernels, parameters, metadata,
    zygote, staging, lock) and their notebooks moved into ``chapters/`` and the cache only when
    every one succeeded. With ``execute=False`` nothing is written: any stale chapter (or data
    manifest problem) raises :class:`StaleOutputError` naming it.

    Returns one :class:`ChapterRun` per chapter ("skipped", "copied" or "executed").
    """
    store = project.data_store()
    manifest_problems = list(store.verify())
    if manifest_problems:
        raise StaleOutputError(manifest_problems)
    available = store.cutoffs()
    if not available:
        raise NscoreError(f"no data cutoffs stored under {project.data_path / 'cutoffs'}")
    newest = available[-1]
    chapters = project.chapters()
    for ch in chapters:
        if not project.source(ch).exists():
            raise NscoreError(f"chapter source missing: {project.source(ch)} (listed in _toc.yml as {ch.file})")
    versions = {c: store.load(c) for c in available}
    data_versions = {c: v.version for c, v in versions.items()}
    shared = {"code": code_hash(project), "environment": environment_hash(project)}

    runs: list[ChapterRun] = []
    copies: list[tuple[Chapter, Path]] = []
    todo: list[_Job] = []
    stage = project.build_dir / f".stage-{uuid.uuid4().hex[:12]}"
    for ch in chapters:
        base, comps = chapter_key(project, ch, newest, data_versions, _shared=shared)
        candidates = [project.notebook(ch), project.executed(newest, ch)]
        metas = [recorded(p) for p in candidates]
        found = next((p for p, m in zip(candidates, metas)
                      if m is not None and m.get("key") == current_key(comps, m, data_versions)[0]), None)
        if found == project.notebook(ch):
            runs.append(ChapterRun(newest, ch.name, "skipped", "unchanged"))
            continue
        if found is not None:
            copies.append((ch, found))
            runs.append(ChapterRun(newest, ch.name, "copied", f"current notebook in {found.parent}"))
            continue
        prev = next((m for m in metas if m and m.get("cutoff") == newest), metas[0])
        reason = _why_changed(prev, current_key(comps, prev, data_versions)[1])
        out = stage / "executed" / newest / f"{ch.name}.ipynb"
        todo.append(_Job(newest, ch, base, comps, reason, out))
    stale = [r for r in runs if r.action != "skipped"] + [ChapterRun(newest, j.chapter.name, "stale", j.reason) for j in todo]
    if not execute:
        if stale:
            raise StaleOutputError([
                f"{project.notebook(next(c for c in chapters if c.name == r.chapter)).relative_to(project.root)}: "
                f"stale for cutoff {newest} ({r.reason})" for r in stale])
        return runs
    for ch, src in copies:
        _atomic_copy(src, project.notebook(ch))
        progress(f"  copied   {ch.name} [{newest}]: current notebook from {src.parent}")
    if not todo:
        return runs

    project.build_dir.mkdir(parents=True, exist_ok=True)
    forkserver = _start_forkserver(project)
    context = _run_context(project, versions, forkserver)
    try:
        with _build_lock(project):
            stage.mkdir()
            for j in todo:
                j.out.parent.mkdir(parents=True, exist_ok=True)
            n_workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
            progress(f"executing {len(todo)} stale chapter(s) for cutoff {newest} with {n_workers} kernel(s)")
            try:
                seconds = _run_jobs(project, todo, n_workers, context, progress, stage)
            except (ChapterExecutionError, BuildError):
                _cache_executed([j for j in todo if j.seconds is not None], project)
                raise
            _cache_executed(todo, project)
            for j in todo:
                _atomic_copy(j.out, project.notebook(j.chapter))
    finally:
        if forkserver is not None:
            forkserver.close()
        shutil.rmtree(stage, ignore_errors=True)
    return runs + [ChapterRun(newest, j.chapter.name, "executed", j.reason, seconds.get((newest, j.chapter.name), 0.0))
                   for j in todo]


def update(project: Project, src: str | os.PathLike, *, jobs: int | None = None, progress: Progress = print,
           accept_warnings: bool = False, no_build: bool = False) -> BuildReport | None:
    """Validate a new cutoff from ``src``, execute the book on it in staging, then store it and republish.

    ``no_build``: store only (returns None); chapters and site stay as they were, now stale.

    A validation failure raises DataValidationError, and intake warnings (``nscore.data.intake``: no
    shared patient, patients missing, cohort size, deaths gone) raise IntakeWarningError unless
    ``accept_warnings``, before anything is written: data, notebooks and site stay byte-identical.

    A valid delivery is stored only once the book builds on it (issue 14): the delivery is first
    stored in a staged copy of the project (:func:`_staged_copy`: ``_build/.update-*/``, holding
    the book, the code and the stored cutoffs as hard links) and the whole book is built there,
    every chapter of every cutoff and every version's site (``jupyter-book -W``). If a chapter
    raises or the site build fails, the error is raised (ChapterExecutionError or BuildError,
    the failing chapter's notebook kept in ``_build/failed/<cutoff>/``) and nothing else changes:
    data, notebooks and site stay byte-identical. Only then is the delivery stored for real (the
    same validation and intake checks again) and the project built; the chapters executed in
    staging carry the same keys (same sources, code, data and parameters), so that build takes
    them from the cache instead of executing them twice. The report's chapter runs are the
    staged build's (what was executed and why), its sites the final build's.
    """
    store = project.data_store()

    def put(target_store) -> str:
        # a store without intake checks (the tests' toy) is called as before unless warnings are accepted
        return target_store.store(Path(src), accept_warnings=True) if accept_warnings else target_store.store(Path(src))

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


#: What a staged copy of the project holds besides ``data/`` (copied; the data's cutoffs are linked).
_STAGED_ITEMS = ("nscore", "pyproject.toml")


def _staged_copy(project: Project, into: Path) -> Project:
    """A copy of ``project`` in ``into`` that builds exactly as the project would (same chapter keys).

    Copied: the book files, ``chapters/`` (sources and committed notebooks), ``nscore/``, the
    requirements and ``data/`` (its stored cutoffs and withdrawn ones as hard links, else copies);
    the caches ``_build/executed``, ``_build/cache`` and the published ``_build/html`` as hard links,
    so unchanged chapters and sites are reused and nothing published is written (the pipeline
    replaces files, never writes into them). Keys use paths relative to the root, so they match.
    """
    into.mkdir(parents=True)
    for name in (*BOOK_FILES, *BOOK_DIRS, "chapters", *_STAGED_ITEMS,
                 *(p.name for p in project.requirements), project.data_dir):
        src = project.root / name
        if src.is_dir():
            _copytree(src, into / name) if name == project.data_dir else shutil.copytree(
                src, into / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        elif src.is_file():
            shutil.copy2(src, into / name)
    for cache in ("executed", "cache", "html"):
        if (project.build_dir / cache).is_dir():
            _copytree(project.build_dir / cache, into / "_build" / cache)
    store = project.store
    if store is not None:  # a custom store (the tests' toy): the same kind, on the staged data
        store = type(store)(into / project.data_dir)
    return Project(into, data_dir=project.data_dir, store=store)


def _build_staged_update(project: Project, put: Callable[[Any], str], *, jobs: int | None,
                         progress: Progress) -> BuildReport:
    """Store the delivery (``put``) in a staged copy of the project and build the whole book there.

    Raises what storing or building raises; the project itself is not written, except the failed
    chapter's notebook (``_build/failed/``, for inspection) and, on success, the executed notebooks
    added to the cache ``_build/executed/`` (so the real build that follows reuses them).
    """
    project.build_dir.mkdir(parents=True, exist_ok=True)
    staging = project.build_dir / f".update-{uuid.uuid4().hex[:12]}"
    try:
        staged = _staged_copy(project, staging)
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
                dest.parent.mkdir(parents=True, exist_ok=True)
                _atomic_copy(nb, dest)
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

    project.build_dir.mkdir(parents=True, exist_ok=True)
    with _build_lock(project):
        moved = history.withdraw(project.data_path, cutoff, reason)
    progress(f"withdrew data cutoff {cutoff}: its files are in {moved}; recorded in "
             f"{project.data_path / history.HISTORY_FILE}")
    progress("run `nscore build` to publish the site without it")
    return moved


def validate(project: Project, path: str | os.PathLike | None = None) -> list[DataVersion] | Any:
    """Validate one directory of data files (``path``) or every stored cutoff; raise on failure."""
    if path is not None:
        from nscore.data import load, study, versions

        # as `nscore update` reads it: an archive unpacked strictly (issue 14), the delivery's own
        # study.yml, else the project's default
        with contextlib.ExitStack() as stack:
            directory = Path(path)
            if directory.is_file():
                import tempfile

                scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="nscore-validate-"))
                directory = versions._extract(directory, Path(scratch))
            cohort = load.load_cohort(directory, default_study=study.default_study_path(project.data_path))
            versions.refuse_future_cutoff(cohort)  # as `nscore update` would: validate says what update says
        return cohort
    store = project.data_store()
    return [store.load(c) for c in store.cutoffs()]


def pdf(project: Project):
    """Build the PDF of the publication with :mod:`nscore.build.pdf` (the site helper's module)."""
    from nscore.build import pdf as _pdf

    return _pdf.build_pdf(project.root)


def simulate(
    project: Project,
    n: int | None = None,
    cutoff: str | None = None,
    seed: int | None = None,
    out: str | os.PathLike | None = None,
):
    """Regenerate the shipped simulated cutoffs (no options), or write one simulated cohort to ``out``."""
    from nscore.data import simulate as _sim

    if out is None:
        return _sim.write_shipped(project.data_path)
    kwargs: dict[str, Any] = {}
    if n is not None:
        kwargs["n"] = n
    if cutoff is not None:
        kwargs["cutoff"] = _dt.date.fromisoformat(str(cutoff))
    if seed is not None:
        kwargs["seed"] = seed
    frames = _sim.simulate_cohort(**kwargs)
    _sim.write_cohort(frames, Path(out), seed=kwargs.get("seed", getattr(_sim, "SEED", None)))
    return Path(out)
