"""Versions of the publication on every page (issue 16 item 7): a version switcher, a banner on every
version that is not the latest, and hover previews of cross-references. Sphinx extension
``nscore.report.versions`` (``extra_extensions`` in ``_config.yml``).

Why the list of versions is a file read at view time: a version's site is built once and reused
unchanged when a newer cutoff is published (its site key does not change), so what a page of
``v/2025-08-01/`` must say ("a newer version exists") is only known when the whole tree is
assembled. Each version's site therefore loads ``nscore-versions.js`` from its own root (a
``<script src>``, so it works from ``file://`` too): the build writes one listing only its own
cutoff (a plain ``jupyter-book build .``: no other version is published beside it), and
:func:`write_version_lists` (called by ``nscore.build.site.assemble``) rewrites it in the root and in
every ``v/<cutoff>/`` of the published tree with every published version and the newest.
``_static/nscore-versions-ui.js`` then fills the switcher (links to ``v/<cutoff>/index.html``, which
exist in every copy) and shows the banner.

Hover previews: the same script shows, on hover or keyboard focus of a cross-reference (a link to
a figure, table, section or bibliography entry), that target's caption or first paragraph in a
tooltip (``role="tooltip"``, ``aria-describedby``; Escape closes it), read from the page itself or,
for another page of the site, fetched from the site (served over http; from ``file://`` no preview).
Nothing is loaded from another host.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from nscore.files import write_atomic

STATIC = Path(__file__).resolve().parent / "static"
#: At the root of each version's site: the published versions, as a script.
VERSIONS_FILE = "nscore-versions.js"
JS_FILE = "nscore-versions-ui.js"
CSS_FILE = "nscore-versions.css"
NAV_CLASS = "nscore-versions"
BANNER_CLASS = "nscore-version-banner"


def versions_script(cutoff_list: list[str], newest: str, prefix: str) -> str:
    """The content of ``nscore-versions.js``: ``window.nscoreVersions = {...}``.

    ``prefix`` is the path from the version's root to the root of the whole tree (``""`` at the root,
    ``"../../"`` inside ``v/<cutoff>/``).
    """
    data = {"versions": sorted(cutoff_list, reverse=True), "newest": newest, "prefix": prefix}
    return f"window.nscoreVersions = {json.dumps(data, sort_keys=True)};\n"


def write_version_lists(tree: Path, available: list[str], newest: str) -> None:
    """In an assembled tree: ``nscore-versions.js`` at the root and in every ``v/<cutoff>/``, listing
    the versions that have a site in ``tree`` (deterministic: same tree, same bytes)."""
    published = [c for c in available if (tree / "v" / c / "index.html").is_file()]
    if (tree / "index.html").is_file():
        write_atomic(tree / VERSIONS_FILE, versions_script(published, newest, ""))
    for c in published:
        write_atomic(tree / "v" / c / VERSIONS_FILE, versions_script(published, newest, "../../"))


def nav_html(cutoff: str, versions_src: str, page: str = "index.html") -> str:
    """The switcher's place on a page (filled by the script) and the banner's (hidden until needed)."""
    this = f"data cutoff {html.escape(cutoff)}" if cutoff else "this version"
    return (
        f'<div class="{BANNER_CLASS}" role="note" aria-label="Newer version" hidden></div>'
        f'<nav class="{NAV_CLASS}" aria-label="Versions of the publication" data-cutoff="{html.escape(cutoff, quote=True)}" '
        f'data-page="{html.escape(page, quote=True)}">'
        f'<span class="nscore-versions-this">You are reading the version of {this}.</span> '
        '<span class="nscore-versions-list"></span></nav>'
        f'<script src="{html.escape(versions_src, quote=True)}"></script>'
    )


# --------------------------------------------------------------------------- Sphinx side


def _static(app, config) -> None:
    if str(STATIC) not in map(str, config.html_static_path):
        config.html_static_path.append(str(STATIC))


def _assets(app) -> None:
    app.add_css_file(CSS_FILE)
    app.add_js_file(JS_FILE, loading_method="defer")


def _is_html(app) -> bool:
    return getattr(app.builder, "name", "") in ("html", "dirhtml")


def _page(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: the switcher and banner at the top of every page's body."""
    body = context.get("body")
    if not body or not _is_html(app):
        return
    from nscore.report.citation import _cutoff

    context["body"] = nav_html(_cutoff(app), context["pathto"](VERSIONS_FILE, 1), f"{pagename}.html") + body


def _write_default_list(app, exception) -> None:
    """``build-finished``: ``nscore-versions.js`` of a site published alone (this version only)."""
    if exception is not None or not _is_html(app):
        return
    from nscore.report.citation import _cutoff

    cutoff = _cutoff(app)
    target = Path(app.builder.outdir) / VERSIONS_FILE
    try:  # a plain build into a published tree keeps the published list (it names this cutoff newest)
        if f'"newest": {json.dumps(cutoff)}' in target.read_text(encoding="utf-8"):
            return
    except OSError:
        pass
    write_atomic(Path(app.builder.outdir) / VERSIONS_FILE, versions_script([cutoff] if cutoff else [], cutoff, ""))


def setup(app):
    app.connect("config-inited", _static)
    app.connect("builder-inited", _assets)
    app.connect("html-page-context", _page, priority=640)
    app.connect("build-finished", _write_default_list)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
