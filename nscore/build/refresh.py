"""Sphinx extension that keeps a plain ``jupyter-book build .`` true to the data and code.

Registered in ``_config.yml`` (``sphinx: extra_extensions``). Before Sphinx reads a page it keys
every chapter and re-executes the stale ones exactly as ``nscore build`` does, or (mode ``fail``)
stops the build naming them, so a maintainer never gets stale pages without being told.
"""

from __future__ import annotations

import os
from pathlib import Path


#: Sphinx config value (``sphinx: config:`` in ``_config.yml``) saying what a plain
#: ``jupyter-book build .`` does when a chapter's executed notebook is stale for the newest cutoff:
#: ``"execute"`` re-executes the stale chapters as ``nscore build`` does (default), ``"fail"`` stops
#: with the list of stale chapters. The environment variable :data:`STALE_ENV` overrides it.
STALE_CONFIG = "nscore_stale"
#: Environment variable overriding :data:`STALE_CONFIG` (``NSCORE_STALE=fail jupyter-book build .``).
STALE_ENV = "NSCORE_STALE"
STALE_MODES = ("execute", "fail")


def _sphinx_logger():
    from sphinx.util import logging as sphinx_logging

    return sphinx_logging.getLogger("nscore.build.refresh")


def _stale_error(message: str):
    """A Sphinx error whose category names the problem (jupyter-book prints it and exits 1)."""
    from sphinx.errors import SphinxError

    class StaleChaptersError(SphinxError):
        category = "nscore: stale chapters"

    return StaleChaptersError(message)


def stale_mode(config) -> str:
    """``execute`` or ``fail``: :data:`STALE_ENV` if set, else the config value :data:`STALE_CONFIG`."""
    mode = (os.environ.get(STALE_ENV) or getattr(config, STALE_CONFIG, None) or "execute").strip().lower()
    if mode not in STALE_MODES:
        raise _stale_error(f"{STALE_ENV} / {STALE_CONFIG} must be one of {', '.join(STALE_MODES)}, not {mode!r}")
    return mode


def is_project(root: Path) -> bool:
    """Whether ``root`` is a living-publication project (chapter sources and a data store), not a
    book of executed notebooks only (the pipeline's staged books, the tests' stand-in books)."""
    return (root / "chapters" / "src").is_dir() and (root / "data" / "cutoffs").is_dir() and (root / "_toc.yml").is_file()


def _refresh_chapters(app, config) -> None:
    """``config-inited``: before Sphinx reads a page, the chapters are current for the newest cutoff.

    A plain ``jupyter-book build .`` renders ``chapters/<name>.ipynb`` as they are (execution is
    off in ``_config.yml``). After a new cutoff was stored, a chapter source edited or the code
    changed, those notebooks are stale; this hook keys every chapter (:func:`nscore.build.pipeline.refresh`)
    and either re-executes the stale ones with papermill exactly as ``nscore build`` does, writing
    them to ``chapters/`` before they are read, or (mode ``fail``) stops the build naming them.

    Not done for the books ``nscore build`` stages from notebooks it has just executed
    (``NSCORE_STAGED_BOOK``, set by the pipeline) nor for a book that is not a project (no
    ``chapters/src`` or ``data/cutoffs``).
    """
    from nscore.build import pipeline
    from nscore.errors import NscoreError, StaleOutputError

    log = _sphinx_logger()
    if os.environ.get(pipeline.STAGED_ENV):
        return
    root = Path(app.srcdir)
    if not is_project(root):
        return
    mode = stale_mode(config)
    project = pipeline.Project(root)
    try:
        runs = pipeline.refresh(project, execute=(mode == "execute"), progress=lambda m: log.info(f"[nscore] {m}"))
    except StaleOutputError as exc:
        hint = ("re-execute them with `nscore build`, or run `jupyter-book build .` without "
                f"{STALE_ENV}=fail / {STALE_CONFIG}: fail")
        raise _stale_error(f"the executed notebooks are stale; {mode} mode renders nothing:\n"
                           + "\n".join(f"  - {p}" for p in exc.problems) + f"\n{hint}") from None
    except NscoreError as exc:
        raise _stale_error(f"cannot bring the chapters up to date: {exc}") from exc
    done = [r for r in runs if r.action != "skipped"]
    if done:
        log.info("[nscore] chapters brought up to date: "
                 + ", ".join(f"{r.chapter} ({r.action}: {r.reason})" for r in done))
    else:
        log.info(f"[nscore] every chapter's executed notebook is current for cutoff {runs[0].cutoff if runs else '?'}")


def setup(app):
    """Sphinx extension hook (``sphinx: extra_extensions: [nscore.build.refresh]``)."""
    app.add_config_value(STALE_CONFIG, "execute", "", [str])
    app.connect("config-inited", _refresh_chapters, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
