"""The project model: every path of one living-publication project, and its chapters from ``_toc.yml``.

A :class:`Project` is a root directory; the build never uses another path, so it runs as well on a
copy (the tests' toy in ``tmp_path``, the staged copy ``nscore update`` builds in).

Layout (see README): chapter sources ``chapters/src/<name>.md``; executed notebooks of the newest
cutoff ``chapters/<name>.ipynb``, of every cutoff ``_build/executed/<cutoff>/``; the published site
``_build/html`` (a symbolic link to the tree ``_build/sites/<build-id>/``, see
:mod:`nscore.build.publish`) with each cutoff's version under ``v/<cutoff>/`` and its reviewer bundle
under ``v/<cutoff>/_downloads/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
from typing import Any, Iterable

import yaml

from nscore.data import cache
from nscore.build.store import DataStore, VersionsStore
from nscore.errors import NscoreError

#: The book's own files and directories (copied into every staged book, hashed into every site key).
BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib")
BOOK_DIRS = ("_static",)
BUNDLE_NAME = "reviewer-bundle-{cutoff}.zip"


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
        """The published site: a symbolic link to the current tree under :attr:`sites_dir`."""
        return self.build_dir / "html"

    @property
    def sites_dir(self) -> Path:
        """Published site trees, one per build (``_build/sites/<build-id>/``); ``html`` points at one."""
        return self.build_dir / "sites"

    @property
    def executed_dir(self) -> Path:
        return self.build_dir / "executed"

    @property
    def cache_dir(self) -> Path:
        """The build's caches (validated cohorts: :mod:`nscore.data.cache`); only the build writes here.

        ``_build/cache``, unless ``NSCORE_CACHE_DIR`` names another place (the test suite points it
        at a temporary directory, so a test build never writes a cache into the checkout).
        """
        override = os.environ.get(cache.ENV_VAR)
        return Path(override) if override else self.build_dir / "cache"

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

    def book_files(self) -> list[Path]:
        """The book's configuration, bibliography and static files that exist (sorted within a directory)."""
        files = [self.root / f for f in BOOK_FILES if (self.root / f).exists()]
        for d in BOOK_DIRS:
            if (self.root / d).is_dir():
                files += sorted(p for p in (self.root / d).rglob("*") if p.is_file())
        return files

    def data_store(self) -> DataStore:
        return self.store if self.store is not None else VersionsStore(self.data_path, self.cache_dir)

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

    def checked_chapters(self) -> list[Chapter]:
        """:meth:`chapters`, raising NscoreError when a listed chapter has no source."""
        chapters = self.chapters()
        for ch in chapters:
            if not self.source(ch).exists():
                raise NscoreError(f"chapter source missing: {self.source(ch)} (listed in _toc.yml as {ch.file})")
        return chapters


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
