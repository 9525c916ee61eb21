"""Sphinx extension ``nscore.report.pages``: the site's pages as the renderer's charts need them.

Registered in ``_config.yml``. The charts of :mod:`nscore.report.render` carry their images as
``data:`` URIs in the notebook; on the site each distinct image becomes one content-hashed file
(:func:`images_to_files`), the vendored vega scripts are added to the pages holding a chart only,
each script tag is unique, charts and tables fit their column (:func:`fit_page_body`), the theme's
controls are named as they read (:func:`fix_theme_markup`), and nothing is loaded from another host
(sphinx-thebe switched off, any external script or stylesheet a warning).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Callable
from pathlib import Path

from nscore.files import write_atomic
from nscore.report import pageweight
from nscore.report.render import ICON_SCRIPT, IMAGE_DIR, JS_FILES, PAGE_CSS, _CHART_DATA_URI, _EMBED_JS, _SUFFIX, _script_json

# --------------------------------------------------------------------------- Sphinx side


def _write_once(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` unless it is already there (the name is the content's hash).

    Written through a temporary file and renamed, so a page written in parallel never sees half a
    file.
    """
    if path.is_file() and path.stat().st_size == len(data):
        return
    write_atomic(path, data)


def images_to_files(page_html: str, outdir: Path, url_for: Callable[[str], str]) -> str:
    """``page_html`` with every chart's ``data:`` image replaced by a file in ``outdir``.

    Parameters
    ----------
    page_html : str
        HTML holding chart fragments as :func:`chart_html` writes them.
    outdir : Path
        Root of the built site; images go to ``outdir / IMAGE_DIR``, named
        ``chart-<first 20 hex digits of the SHA-256 of the bytes>.svg`` or ``.png``, so the same
        image (the fallback and the SVG download, a chart shown twice or on several pages) is
        stored once, and a changed image gets a new name (no stale browser cache).
    url_for : callable
        Maps a path relative to the site root to the URL the page uses (Sphinx's ``pathto(path,
        1)``: relative to the page, so the site works from any directory and offline).

    Returns
    -------
    str
        The page with ``src``/``href`` pointing at the files; everything else unchanged.
    """
    def move(m: re.Match) -> str:
        data = base64.b64decode(m.group("payload"), validate=True)
        name = f"chart-{hashlib.sha256(data).hexdigest()[:20]}{_SUFFIX[m.group('kind')]}"
        _write_once(outdir / IMAGE_DIR / name, data)
        return f'{m.group("lead")}"{html.escape(url_for(f"{IMAGE_DIR}/{name}"), quote=True)}"'

    return _CHART_DATA_URI.sub(move, page_html)


def _chart_images_to_files(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: move the chart images of the page body into files (see module notes)."""
    body = context.get("body")
    if not body or "nscore-chart" not in body:
        return
    context["body"] = images_to_files(body, Path(app.builder.outdir),
                                      lambda path: context["pathto"](path, 1))


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated ``<script>`` entries from a page.

    sphinx-thebe and sphinx-togglebutton add their inline configuration once per
    ``env-before-read-docs`` event (through the app, filename ``None``) and Sphinx adds the same
    registered scripts again with filename ``""``, so every page declared
    ``const THEBE_JS_URL`` twice: a JavaScript error ("already been declared") on every page.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        # the same inline script arrives once with filename None and once with "" (Sphinx
        # compares them as different), so compare on filename-or-empty plus attributes
        key = (getattr(script, "filename", str(script)) or "", tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def _drop_auto_vendor_scripts(app, config) -> None:
    """No vendored script in ``html_js_files``: none is loaded on every page.

    jupyter-book adds every ``*.js`` found under ``_static`` (recursively) to every page, which
    would load each of MathJax's lazily loaded components (``vendor/mathjax/**``) as a script
    tag of its own and break MathJax (MathJax itself is loaded by ``mathjax_path``), and the vega
    libraries on pages without a chart; :func:`_page_assets` adds the vega scripts to the pages
    with a chart.
    """
    def name(entry):
        return entry[0] if isinstance(entry, (tuple, list)) else entry

    config.html_js_files = [
        entry for entry in config.html_js_files
        if not str(name(entry)).startswith("vendor/")
    ]


# --------------------------------------------------------------------------- light pages that fit


def compact_datasets(spec: dict) -> dict:
    """A copy of ``spec`` whose record datasets are stored as columns and rows.

    ``[{"month": 0.0, "estimate": 1.0}, ...]`` becomes ``{"columns": ["month", "estimate"],
    "rows": [[0.0, 1.0], ...]}`` when every record has the same keys in the same order: the same
    values without repeating each key in every row (the Results page's specs shrink by about half).
    The page's embed script (``_EMBED_JS``) expands them before vega-lite sees the spec. Other
    datasets are kept as they are.
    """
    spec = dict(spec)
    sets = spec.get("datasets")
    if not isinstance(sets, dict):
        return spec
    out = {}
    for name, rows in sets.items():
        if (isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows)
                and all(list(r) == list(rows[0]) for r in rows)):
            columns = list(rows[0])
            out[name] = {"columns": columns, "rows": [[r[c] for c in columns] for r in rows]}
        else:
            out[name] = rows
    spec["datasets"] = out
    return spec


_SPEC_SCRIPT = re.compile(r'(<script type="application/json" class="nscore-chart-spec">)(.*?)(</script>)', re.S)
#: The embed script of any nscore version (the notebook's output may predate the current one).
_ANY_EMBED_JS = re.compile(r"<script>\(function \(\) \{\n  var box = document\.currentScript\.parentNode;.*?\n\}\)\(\);</script>", re.S)
_FALLBACK_IMG = re.compile(r'(<img class="nscore-chart-fallback" src="[^"]*" alt="[^"]*")>')
_TABLE_BOX = re.compile(
    r'<div class="pst-scrollable-table-container">(?P<table>\s*<table\b[^>]*>\s*(?:<caption>(?P<caption>.*?)</caption>)?)',
    re.S)
_TAG = re.compile(r"<[^>]+>")


def _caption_label(caption_html: str | None) -> str:
    """The caption's text (number and words, without the permalink mark) for ``aria-label``."""
    if not caption_html:
        return "Table"
    caption_html = re.sub(r'<a class="headerlink".*?</a>', "", caption_html, flags=re.S)
    text = " ".join(html.unescape(_TAG.sub("", caption_html)).split())
    return text or "Table"


def fit_page_body(body: str) -> str:
    """The page body with its charts and tables made to fit and stay light (issue 16 item 1).

    * every table's scroll box (pydata-sphinx-theme's ``pst-scrollable-table-container``) is a
      keyboard-focusable (``tabindex="0"``), labelled (``aria-label`` = the caption) region, so a
      table wider than the column scrolls inside it and can be scrolled from the keyboard;
    * each chart's spec has its datasets in columns (:func:`compact_datasets`), its embed script is
      the current one (fits the chart to its box), and the static fallback image loads lazily
      (hidden while JavaScript draws the chart, it is then never fetched);
    * the bibliography's entries have the ``listitem`` role their ``role="list"`` parent requires
      (sphinxcontrib-bibtex writes the deprecated ``doc-biblioentry``).
    """
    def table_box(m: re.Match) -> str:
        label = html.escape(_caption_label(m.group("caption")), quote=True)
        return (f'<div class="pst-scrollable-table-container nscore-table-scroll" tabindex="0" '
                f'role="region" aria-label="{label}">{m.group("table")}')

    body = _TABLE_BOX.sub(table_box, body)
    if "nscore-chart" in body:
        def spec(m: re.Match) -> str:
            try:
                parsed = json.loads(m.group(2))
            except ValueError:
                return m.group(0)
            return m.group(1) + _script_json(compact_datasets(parsed)) + m.group(3)

        body = _SPEC_SCRIPT.sub(spec, body)
        body = _ANY_EMBED_JS.sub(lambda m: f"<script>{_EMBED_JS}</script>", body)
        body = _FALLBACK_IMG.sub(r'\1 loading="lazy">', body)
    return body.replace('role="doc-biblioentry"', 'role="listitem"')


def _fit_page(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: :func:`fit_page_body` on the page body."""
    body = context.get("body")
    if body:
        context["body"] = fit_page_body(body)


#: Marks <html> as scripted before the body is parsed: the stylesheet then hides the fallback
#: images (a lazily loaded hidden image is not fetched) until a chart fails to draw.
_SCRIPTED_JS = 'document.documentElement.classList.add("nscore-js");'


def _add_page_css(app) -> None:
    """``builder-inited``: the stylesheet that fits charts and tables (:data:`PAGE_CSS`) on every page."""
    app.add_css_file(PAGE_CSS)


def _page_assets(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: the vega scripts on pages with a chart only; no icon script anywhere."""
    scripts = context.get("script_files")
    if scripts is None:
        return
    kept = [s for s in scripts if ICON_SCRIPT not in str(getattr(s, "filename", s) or "")]
    scripts[:] = kept  # the builder's own list: app.add_js_file below appends to it
    body = context.get("body") or ""
    if 'class="nscore-chart"' in body:
        app.add_js_file(None, body=_SCRIPTED_JS, priority=200)
        for js in JS_FILES:
            app.add_js_file(js, priority=500)
    names = [str(getattr(s, "filename", s) or "") for s in context["script_files"]]
    if 'class="nscore-chart"' in body and not any(n.endswith(JS_FILES[-1]) for n in names):
        raise RuntimeError(f"{pagename}: the vega scripts were not added to the page")


#: Theme markup fixed in every written page: names that disagree with the visible text (axe-core
#: ``label-content-name-mismatch``: the search field button shows "Search Ctrl+K" but was named
#: "Search"; the colour-mode button's hidden icons carry titles "Light", "Dark", ... that are not
#: its name "Color mode"), and the icon script tag (:data:`ICON_SCRIPT`).
_THEME_FIXES = (
    (re.compile(r'(<button class="btn search-button-field search-button__button[^"]*" title="Search") aria-label="Search"'), r"\1"),
    (re.compile(r'(<i class="theme-switch [^"]*" data-mode="[a-z]+")\s+title="[^"]*"></i>'), r'\1 aria-hidden="true"></i>'),
    # the theme's template writes its icon script itself (not through script_files): see ICON_SCRIPT
    (re.compile(r'[ \t]*<script defer src="[^"]*_static/scripts/fontawesome\.js(?:\?[^"]*)?"></script>\n?'), ""),
)


def fix_theme_markup(page_html: str) -> str:
    """``page_html`` with :data:`_THEME_FIXES` applied (nothing else changed)."""
    for pattern, replacement in _THEME_FIXES:
        page_html = pattern.sub(replacement, page_html)
    return page_html


def _fix_written_pages(app, exception) -> None:
    """``build-finished``: :func:`fix_theme_markup` on every written HTML page (theme templates are
    outside the page body)."""
    if exception is not None or getattr(app.builder, "format", "") != "html":
        return
    out = Path(app.builder.outdir)
    for page in out.rglob("*.html"):
        if "_static" in page.relative_to(out).parts:
            continue
        text = page.read_text(encoding="utf-8")
        fixed = fix_theme_markup(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


# --------------------------------------------------------------------------- no CDN

#: sphinx-thebe (always loaded by jupyter-book) writes a script with its unpkg URL and a Binder
#: configuration into every page; this book has no "live code" button, so it is switched off.
_THEBE_MODULE = "sphinx_thebe"


def _switch_off_thebe(app, config) -> None:
    """``config-inited``: disconnect sphinx-thebe's handlers and drop its stylesheet.

    jupyter-book adds ``sphinx_thebe`` to every book's extensions whatever ``launch_buttons``
    says; its handlers then write ``const THEBE_JS_URL = "https://unpkg.com/thebe@..."`` and a
    ``text/x-thebe-config`` block naming a Binder repository into every page. With the handlers
    gone nothing of thebe reaches the site (no script, no stylesheet, no static files).
    """
    for event, listeners in list(app.events.listeners.items()):
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "").split(".")[0] == _THEBE_MODULE:
                app.disconnect(listener.id)
    app.registry.css_files = [entry for entry in app.registry.css_files if "thebe" not in str(entry[0])]
    app.registry.js_files = [entry for entry in app.registry.js_files if "thebe" not in str(entry[0] or "")]


_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)


def _sphinx_logger():
    from sphinx.util import logging as sphinx_logging

    return sphinx_logging.getLogger("nscore.report.pages")


def _external_assets(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: warn (an error under ``-W``) for a script or stylesheet from another host."""
    found = []
    for key in ("script_files", "css_files"):
        for asset in context.get(key) or []:
            name = str(getattr(asset, "filename", asset) or "")
            body = str((getattr(asset, "attributes", {}) or {}).get("body", ""))
            if _EXTERNAL.match(name) or re.search(r"https?://", body):
                found.append(name or body[:80])
    if found:
        _sphinx_logger().warning(f"{pagename}: external script/stylesheet (the site must work offline): {found}")


def setup(app):
    """Sphinx extension hook (``sphinx: extra_extensions: [nscore.report.pages]`` in ``_config.yml``).

    The vendored vega scripts are added to the pages that hold a chart only and the theme's
    1.4 MiB icon script to none (:func:`_page_assets`); jupyter-book is kept from adding
    ``_static/vendor`` as scripts and each script tag is unique; the chart images of every page are
    files of the site (:func:`images_to_files`); charts and tables fit their column and the theme's
    controls are named as they read (:func:`fit_page_body`, :func:`fix_theme_markup`,
    ``_static/nscore-page.css``).

    It also keeps the site free of CDN addresses (:func:`_switch_off_thebe`, :func:`_external_assets`).
    """
    app.connect("config-inited", _switch_off_thebe, priority=50)
    app.connect("config-inited", _drop_auto_vendor_scripts, priority=100)
    app.connect("builder-inited", _add_page_css)
    app.connect("html-page-context", _page_assets, priority=400)
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("html-page-context", _chart_images_to_files)
    app.connect("html-page-context", _fit_page, priority=600)
    app.connect("build-finished", _fix_written_pages)
    app.connect("html-page-context", _external_assets, priority=900)
    # page weight (H5, issue 16 item 1): theme assets trimmed to what the pages use
    app.connect("html-page-context", pageweight.drop_unused_design_assets, priority=550)  # after sphinx.ext.mathjax (500)
    app.connect("build-finished", pageweight.trim_icon_assets_hook)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
