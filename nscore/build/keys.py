"""Rebuild keys: what a chapter's executed notebook and a version's site are a function of.

jupyter-book's own cache (and Quarto's freeze, MyST's cache) key a page on its source only, so a new
data cutoff goes unnoticed. Here each chapter's key is a SHA-256 over everything that can change its
output:

* the chapter source bytes (``chapters/src/<name>.md``),
* the data version hash of the cutoff it is executed for (or of every cutoff up to it, when the
  chapter declares ``nscore: {data: all}`` in its jupytext metadata) and of any extra files it
  declares (``nscore: {depends: [data/experts.yml]}``),
* every module of the package (``nscore/**/*.py``), ``requirements.txt`` and ``requirements.lock``,
* the papermill parameters,
* every cutoff the chapter's kernel actually read, and every list of cutoffs it took
  (``nscore.data.reads``: recorded at execution, keyed at its current value, ``"absent"`` once deleted),
  so a chapter that reads a cutoff other than its own (results reads the published one) is
  re-executed when that cutoff changes, disappears or arrives.

Build time and commit are recorded but kept out of the key (they change on every build). A version's
site key (:func:`site_key`) adds the book's files and the versions it links to.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

from nscore.build.project import Chapter, Project
from nscore.data import reads
from nscore.data.load import sha256_file
from nscore.errors import NscoreError

KEY_SCHEME = 2
"""Bumped when the meaning of the key changes, so that every chapter re-executes once."""


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _digest(payload: dict) -> str:
    return sha256_bytes(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())


def hash_files(root: Path, files: Iterable[Path]) -> str:
    """SHA-256 over the files' paths (relative to ``root``) and contents; a missing file counts as such."""
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root)).encode() + b"\0")
        h.update((sha256_file(f) if f.exists() else "missing").encode() + b"\n")
    return h.hexdigest()


def code_hash(project: Project) -> str:
    """SHA-256 over every module of the package (``nscore/**/*.py``: names and bytes)."""
    return hash_files(project.root, project.code_files)


def environment_hash(project: Project) -> str:
    """SHA-256 over requirements.txt and requirements.lock (the declared + locked environment)."""
    return hash_files(project.root, project.requirements)


@dataclass(frozen=True)
class CodeHashes:
    """The key components every chapter of one build shares (hashed once per build)."""

    code: str
    environment: str

    @classmethod
    def of(cls, project: Project) -> "CodeHashes":
        return cls(code=code_hash(project), environment=environment_hash(project))


def front_matter(source: Path) -> dict:
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
    meta = dict(front_matter(project.source(chapter)).get("nscore", {}) or {})
    data = meta.get("data", "cutoff")
    if data not in ("cutoff", "all"):
        raise NscoreError(f"{chapter.name}: nscore.data must be 'cutoff' or 'all', not {data!r}")
    depends = meta.get("depends", []) or []
    if isinstance(depends, str):
        depends = [depends]
    return {"data": data, "depends": [str(d) for d in depends]}


def parameters(project: Project, cutoff: str) -> dict:
    """Papermill parameters of a chapter (SPEC: ``data_dir`` and a resolved ``cutoff``)."""
    return {"data_dir": project.data_dir, "cutoff": cutoff}


def chapter_key(
    project: Project, chapter: Chapter, cutoff: str, data_versions: dict[str, str], *,
    hashes: CodeHashes | None = None,
) -> tuple[str, dict]:
    """The chapter's data-aware key for ``cutoff`` (before execution: no reads) and its components.

    ``data_versions`` maps every stored cutoff to its data version hash; ``hashes`` are the build's
    :class:`CodeHashes` (computed here when not given).
    """
    hashes = hashes or CodeHashes.of(project)
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
        "code": hashes.code,
        "environment": hashes.environment,
        "parameters": parameters(project, cutoff),
    }
    return _digest(components), components


def with_reads(components: dict, read_cutoffs: Iterable[str], data_versions: dict[str, str]) -> tuple[str, dict]:
    """The full key: ``components`` plus the current version of every cutoff the chapter read.

    Why: only execution knows what a chapter reads, so the key a notebook carries is its planned
    components plus its recorded reads, re-priced at today's versions (``"absent"`` when deleted).
    """
    comps = dict(components)
    comps["reads"] = {c: reads.current(c, data_versions) for c in sorted(read_cutoffs)}
    return _digest(comps), comps


def current_key(components: dict, meta: dict | None, data_versions: dict[str, str]) -> tuple[str, dict]:
    """The key an executed notebook with metadata ``meta`` must carry to be current now."""
    recorded_reads = ((meta or {}).get("key_components") or {}).get("reads") or {}
    return with_reads(components, recorded_reads, data_versions)


def recorded(nb_path: Path) -> dict | None:
    """``metadata.nscore`` of an executed notebook, or None when absent or unreadable."""
    try:
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta = nb.get("metadata", {}).get("nscore")
    return meta if isinstance(meta, dict) else None


def is_current(nb_path: Path, components: dict, data_versions: dict[str, str]) -> bool:
    """Whether the executed notebook at ``nb_path`` carries the key it must carry now."""
    meta = recorded(nb_path)
    return meta is not None and meta.get("key") == current_key(components, meta, data_versions)[0]


def why_changed(old: dict | None, new_components: dict) -> str:
    """Which key components differ between a notebook's recorded metadata ``old`` and now."""
    if old is None:
        return "no executed notebook with a key"
    prev = old.get("key_components") or {}
    changed = [k for k in ("source", "data", "reads", "depends", "code", "environment", "parameters", "scheme")
               if prev.get(k) != new_components.get(k)]
    return ("changed: " + ", ".join(changed)) if changed else "key differs"


def site_key(project: Project, cutoff: str, chapter_keys: dict[str, str], cutoffs_upto: list[str],
             hashes: CodeHashes | None = None) -> str:
    """A version's site key: its chapters' keys, the book's files, code, environment and the versions
    it links to (``cutoffs_upto``: every stored cutoff up to it)."""
    hashes = hashes or CodeHashes.of(project)
    payload = {
        "scheme": KEY_SCHEME,
        "cutoff": cutoff,
        "chapters": chapter_keys,
        "book": hash_files(project.root, project.book_files()),
        "environment": hashes.environment,
        "code": hashes.code,
        "links": cutoffs_upto,
    }
    return sha256_bytes(json.dumps(payload, sort_keys=True).encode())
