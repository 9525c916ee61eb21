"""Publishing: the new site replaces the old one in one step, and a crashed build leaves no debris.

``_build/html`` is a symbolic link to one complete tree, ``_build/sites/<build-id>/``. A build
assembles its tree in its staging directory (:func:`nscore.build.site.assemble`), then
:func:`publish_site`:

1. renames the tree to ``_build/sites/<build-id>/`` (crash point ``site-moved``);
2. makes a new link ``_build/.html-<build-id>.link`` -> ``sites/<build-id>`` (``link-made``);
3. renames that link over ``_build/html`` (``os.replace``: one ``rename(2)``, atomic) (``flipped``);
4. removes every other tree under ``_build/sites/`` (``old-removed``).

A reader, or a build killed at any point, finds ``_build/html`` pointing at either the old complete
tree or the new complete one, never at none or at half of one. What a killed build leaves (its
staging directory, the link of step 2, a tree not linked) is removed by the next build, under the
build lock, by :func:`clean_leftovers`.

Before this layout, ``_build/html`` was a plain directory; the first publish exchanges it with the
new link in one step too (Linux ``renameat2(RENAME_EXCHANGE)``), then removes it. Where that call is
missing the directory is renamed away first: the one moment without a site, once.

Trees never share files by hard link (see :mod:`nscore.build.site`): a published tree can still be
written in place by a plain ``jupyter-book build .``.

Crash points (for the tests): ``NSCORE_CRASH_AT=<point>`` ends the process with ``os._exit`` at that
point (:data:`CRASH_POINTS`, in the order a build reaches them).
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import os
import shutil
import uuid
from pathlib import Path

from nscore.build.project import Project
from nscore.files import write_atomic_with

CRASH_ENV = "NSCORE_CRASH_AT"
CRASH_EXIT = 86
#: Where a build can be killed for the crash tests, in order: after the chapters ran (executed
#: notebooks cached), after the version sites were built, after the new tree was assembled in
#: staging, after the notebooks were published to chapters/, then the four steps of publish_site.
CRASH_POINTS = ("executed", "sites-built", "assembled", "notebooks-published",
                "site-moved", "link-made", "flipped", "old-removed")

#: Leftovers of a killed build in ``_build/`` (the ``.old-html-*`` of the earlier rename-twice swap).
_LEFTOVER_GLOBS = (".stage-*", ".update-*", ".html-*.link", ".old-html-*")


def crash_point(name: str) -> None:
    """End the process here when ``NSCORE_CRASH_AT`` names this point (crash tests only)."""
    assert name in CRASH_POINTS, name
    if os.environ.get(CRASH_ENV) == name:
        os._exit(CRASH_EXIT)


def new_build_id() -> str:
    """A sortable, unique name for one build's tree: UTC time and a random suffix."""
    return f"{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def current_site(project: Project) -> Path | None:
    """The tree ``_build/html`` shows now (the link's target, or a plain directory), or None."""
    html = project.html_dir
    if html.is_symlink():
        target = html.resolve()
        return target if target.is_dir() else None
    return html if html.is_dir() else None


def link_site(project: Project, tree: Path) -> None:
    """Point ``_build/html`` at ``tree`` (a directory under ``_build/sites/``) in one rename."""
    _flip(project, _new_link(project, tree))


def _new_link(project: Project, tree: Path) -> Path:
    link = project.build_dir / f".html-{tree.name}.link"
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(tree, project.build_dir), link)
    return link


def _flip(project: Project, link: Path) -> None:
    html = project.html_dir
    if html.is_dir() and not html.is_symlink():
        _exchange_legacy(link, html)
    else:
        os.replace(link, html)
    _fsync_dir(project.build_dir)


def publish_site(project: Project, tree: Path, build_id: str) -> Path:
    """Publish the complete site ``tree`` as ``_build/html``; remove the trees it replaces.

    ``tree`` is a directory on the same file system (the build's staging), moved, not copied.
    Returns the published tree (``_build/sites/<build_id>``).
    """
    project.sites_dir.mkdir(parents=True, exist_ok=True)
    final = project.sites_dir / build_id
    os.replace(tree, final)
    crash_point("site-moved")
    link = _new_link(project, final)
    crash_point("link-made")
    _flip(project, link)
    crash_point("flipped")
    _remove_other_sites(project, keep=final)
    crash_point("old-removed")
    return final


def clean_leftovers(project: Project) -> list[Path]:
    """Remove what a killed build left in ``_build/`` (call under the build lock); return what went.

    Staging directories, unplaced links, the pre-symlink swap's old directories, and every tree under
    ``_build/sites/`` that ``_build/html`` does not point at.
    """
    removed: list[Path] = []
    if not project.build_dir.is_dir():
        return removed
    for pattern in _LEFTOVER_GLOBS:
        for p in sorted(project.build_dir.glob(pattern)):
            _remove(p)
            removed.append(p)
    return removed + _remove_other_sites(project, keep=current_site(project))


def _remove_other_sites(project: Project, keep: Path | None) -> list[Path]:
    removed: list[Path] = []
    if not project.sites_dir.is_dir():
        return removed
    keep = keep.resolve() if keep is not None else None
    for p in sorted(project.sites_dir.iterdir()):
        if keep is not None and p.resolve() == keep:
            continue
        _remove(p)
        removed.append(p)
    return removed


def _remove(p: Path) -> None:
    if p.is_symlink() or p.is_file():
        p.unlink(missing_ok=True)
    else:
        shutil.rmtree(p, ignore_errors=True)


def _exchange_legacy(link: Path, html: Path) -> None:
    """Swap the new ``link`` with a plain ``html`` directory in one step, then remove that directory."""
    if _renameat2_exchange(link, html):
        _remove(link)  # now the old directory
        return
    aside = html.with_name(f".old-html-{uuid.uuid4().hex[:12]}")
    os.replace(html, aside)
    os.replace(link, html)
    _remove(aside)


def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system or kernel cannot
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def copy_atomic(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` so a reader sees the old ``dest`` or the new one (executed notebooks)."""
    with open(src, "rb") as source:
        write_atomic_with(dest, lambda handle: shutil.copyfileobj(source, handle))
