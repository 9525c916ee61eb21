"""A staged copy of the project: where ``nscore update`` builds the book on a new delivery before
storing it for real (:func:`nscore.build.pipeline.update`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from nscore.build import publish
from nscore.build.project import BOOK_DIRS, BOOK_FILES, Project

#: What a staged copy of the project holds besides the book, chapters, requirements and data.
_STAGED_ITEMS = ("nscore", "pyproject.toml")


def _link_or_copy_tree(src: Path, dst: Path) -> None:
    """Copy a tree as hard links (else copies): only for trees the copy reads or replaces, never writes into."""
    def link_or_copy(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
        return d

    shutil.copytree(src, dst, copy_function=link_or_copy)


def staged_copy(project: Project, into: Path) -> Project:
    """A copy of ``project`` in ``into`` that builds exactly as the project would (same chapter keys).

    Copied: the book files, ``chapters/`` (sources and committed notebooks), ``nscore/``, the
    requirements and ``data/`` (its stored cutoffs and withdrawn ones as hard links, else copies);
    the caches ``_build/executed``, ``_build/cache`` and the published site (as hard links: the
    staged build only reads them, replaces cache files whole, and publishes a new tree of its own
    copies). Keys use paths relative to the root, so they match.
    """
    into.mkdir(parents=True)
    for name in (*BOOK_FILES, *BOOK_DIRS, "chapters", *_STAGED_ITEMS,
                 *(p.name for p in project.requirements), project.data_dir):
        src = project.root / name
        if src.is_dir():
            _link_or_copy_tree(src, into / name) if name == project.data_dir else shutil.copytree(
                src, into / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        elif src.is_file():
            shutil.copy2(src, into / name)
    for cache in ("executed", "cache"):
        if (project.build_dir / cache).is_dir():
            _link_or_copy_tree(project.build_dir / cache, into / "_build" / cache)
    store = project.store
    if store is not None:  # a custom store (the tests' toy): the same kind, on the staged data
        store = type(store)(into / project.data_dir)
    staged = Project(into, data_dir=project.data_dir, store=store)
    published = publish.current_site(project)
    if published is not None:
        tree = staged.sites_dir / (published.name if published != project.html_dir else publish.new_build_id())
        _link_or_copy_tree(published, tree)
        publish.link_site(staged, tree)
    return staged
