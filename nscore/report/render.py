"""The book's one altair renderer: interactive offline HTML plus static PNG and SVG.

Why a renderer of our own: altair's default HTML loads vega, vega-lite and vega-embed from a
CDN, so a reader without network sees nothing, and the LaTeX/PDF builders drop outputs that
have no image. Every chart a chapter shows (a :class:`nscore.report.figures.Figure`) gets a mimebundle with

``text/html``
    a ``<div class="nscore-chart">`` holding (1) a static fallback image (the SVG below, with the
    chart's ``description`` as ``alt``), (2) an empty ``role="img"`` container that the pinned,
    vendored vega-embed (``_static/vendor``, loaded only on pages that hold a chart) turns into
    the live chart, fitted to its box, hiding the fallback once it has rendered, and
    (3) download links for SVG and PNG. In the notebook the fallback image and the downloads are
    ``data:`` URIs, so the executed notebook stays self-contained (notebook viewers, reviewer
    bundles); nothing in it points outside the notebook.
``image/svg+xml``, ``image/png``
    made by ``vl-convert`` with the vega-lite version altair's schema names, for the PDF/LaTeX
    builders and for notebook viewers that do not run scripts.

On the site (this module is also the Sphinx extension ``nscore.report.render``), every page's chart
images are moved out of the page: each distinct image is written once into the built site as
``_images/chart-<sha256 prefix>.svg|.png`` (content-hashed name) and the fallback ``<img>`` and the
download links point at that file by a relative path (:func:`images_to_files`). A page then
carries each chart's spec and alt text, not three base64 copies of its images (a third larger
than the bytes they encode), and the site still works offline and without JavaScript.

Usage: a chart builder of :mod:`nscore.report.figures` returns a ``Figure``, whose
``_repr_mimebundle_`` is ``render.mimebundle(chart.to_dict())``; nothing switches altair's global
renderer.

A chart without a non-empty top-level ``description`` or one that loads data from a URL is
refused with :class:`RenderError`: the description is the figure's alt text, and a URL would be
a request leaving the site.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert as vlc
from PIL import Image

from nscore.files import write_atomic
from nscore.errors import RenderError


#: Pinned copies served from ``_static`` (see _static/vendor/README.md for origin and licences).
VENDORED = {
    "vega": "5.33.1",
    "vega-lite": "5.20.1",
    "vega-embed": "6.29.0",
}
#: Paths relative to ``_static``, in load order. Added by :func:`_page_assets` to the pages that
#: hold a chart only (about 0.8 MiB a page without a chart does not load).
JS_FILES = ["vendor/vega.min.js", "vendor/vega-lite.min.js", "vendor/vega-embed.min.js"]
#: Stylesheet of every page added by :func:`setup`: charts and tables fit their column.
PAGE_CSS = "nscore-page.css"
#: The theme's icon script (pydata-sphinx-theme): 1.4 MiB of JavaScript that swaps each
#: ``<i class="fa-...">`` for an SVG; the theme's stylesheet already draws the same icons with
#: Font Awesome's web font, so the script is dropped from every page (:func:`_page_assets`).
ICON_SCRIPT = "scripts/fontawesome.js"
#: Stylesheet relative to ``_static`` for ``html_css_files``.
CSS_FILES = ["nscore.css"]

#: System fonts only (Debian ships DejaVu and Liberation): vega never asks the web for a font.
FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"

#: Pixel density of the downloadable PNG (2 = sharp on print and high-DPI screens).
PNG_SCALE = 2

#: Directory of the built site (relative to its root) that holds the chart images of every page.
IMAGE_DIR = "_images"

#: The fallback image and the two download links exactly as :func:`chart_html` writes them, with
#: their ``data:`` URI; nothing else in a page is touched by :func:`images_to_files`.
_CHART_DATA_URI = re.compile(
    r'(?P<lead><img class="nscore-chart-fallback" src=|<a download="figure-[0-9a-f]{12}\.(?:svg|png)" href=)'
    r'"data:image/(?P<kind>svg\+xml|png);base64,(?P<payload>[A-Za-z0-9+/=]+)"'
)
_SUFFIX = {"svg+xml": ".svg", "png": ".png"}

#: Options handed to vegaEmbed in the page: SVG renderer (crisp in print, testable), no actions
#: menu (its "Open in Vega Editor" posts to the web; downloads are offered as static links).
EMBED_OPTIONS = {"mode": "vega-lite", "renderer": "svg", "actions": False}


def vl_version() -> str:
    """The vega-lite ``major.minor`` that altair's schema targets, as vl-convert names it."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", alt.SCHEMA_VERSION)
    if m is None:  # pragma: no cover - altair always sets it
        raise RenderError(f"cannot parse altair schema version {alt.SCHEMA_VERSION!r}")
    version = f"{m.group(1)}.{m.group(2)}"
    if version not in vlc.get_vegalite_versions():
        raise RenderError(
            f"vl-convert {vlc.__version__} cannot render vega-lite {version} "
            f"(altair schema {alt.SCHEMA_VERSION}); it knows {vlc.get_vegalite_versions()}"
        )
    return version


def _find_urls(node: Any, path: str = "") -> list[str]:
    """Every ``url`` key in the spec: data or images the browser would have to fetch."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}/{key}"
            if key == "url" and isinstance(value, str):
                found.append(f"{where} = {value[:80]!r}")
            else:
                found.extend(_find_urls(value, where))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_find_urls(value, f"{path}/{i}"))
    return found


def prepare_spec(spec: dict) -> dict:
    """A copy of a vega-lite spec that is safe to ship: checked, schema URL dropped, local font.

    Raises
    ------
    RenderError
        The spec has no top-level ``description`` (the figure's alt text) or refers to a URL.
    """
    spec = copy.deepcopy(spec)
    description = spec.get("description")
    if not isinstance(description, str) or not description.strip():
        raise RenderError(
            "chart has no description: set chart.properties(description='...'); "
            "it becomes the figure's alt text"
        )
    urls = _find_urls(spec)
    if urls:
        raise RenderError(
            "chart refers to URLs, which the offline site cannot fetch "
            "(use inline, aggregated data): " + "; ".join(urls)
        )
    # The "$schema" is a vega.github.io URL: the mode is given to vegaEmbed instead.
    spec.pop("$schema", None)
    config = spec.setdefault("config", {})
    config.setdefault("font", FONT)
    return spec


def _compact_png(png: bytes) -> bytes:
    """The same pixels in about a quarter of the bytes (lossless).

    vl-convert writes fast, lightly compressed RGBA; every chart's PNG is stored in the executed
    notebook (committed) and in the page, so it is recompressed, as RGB when fully opaque.
    """
    image = Image.open(io.BytesIO(png))
    image.load()
    if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)  # zlib's default: within 5% of level 9, 3x faster
    return out.getvalue()


def static_images(spec: dict) -> tuple[str, bytes]:
    """SVG text and PNG bytes of a prepared spec, rendered by vl-convert (no browser, no network).

    The PNG is rasterised from the SVG (the same pixels as ``vegalite_to_png``, without laying the
    chart out a second time).
    """
    svg = vlc.vegalite_to_svg(spec, vl_version=vl_version())
    png = _compact_png(vlc.svg_to_png(svg, scale=PNG_SCALE))
    return svg, png


def _script_json(obj: Any) -> str:
    """JSON that can sit inside a ``<script>`` element without closing it early."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# Runs where it stands (document.currentScript), so several charts per page, the same chart
# twice, and glued charts all work; waits for the vendored scripts if they load later.
# Fits the chart to its box: drawn once at its own size; when wider than the box (the text column,
# 390 px on a phone) every view width of the spec is scaled down and the chart drawn again (up to
# five times, and again when the window is resized), so the chart keeps its font sizes and
# nothing is clipped. A view keeps half its width, at most 300 px (eleven numbers at risk must not run
# into each other): a chart that still does not fit is scaled down by the stylesheet.
# A dataset may come as {"columns": [...], "rows": [[...], ...]} (pages compact them, see
# :func:`compact_datasets`); it is expanded to records before vega-lite sees it.
_EMBED_JS = """(function () {
  var box = document.currentScript.parentNode;
  var base = null, shownFor = -1, factor = 1, view = null;
  function expand(spec) {
    var sets = spec.datasets || {};
    Object.keys(sets).forEach(function (k) {
      var d = sets[k];
      if (d && !Array.isArray(d) && Array.isArray(d.columns) && Array.isArray(d.rows)) {
        sets[k] = d.rows.map(function (r) {
          var o = {}; d.columns.forEach(function (c, i) { o[c] = r[i]; }); return o;
        });
      }
    });
    return spec;
  }
  function scaled(node, f, key) {
    if (Array.isArray(node)) { return node.map(function (v) { return scaled(v, f, ""); }); }
    if (node === null || typeof node !== "object") { return node; }
    if (key === "datasets" || key === "data" || key === "config" || key === "encoding" || key === "mark") { return node; }
    var out = {};
    Object.keys(node).forEach(function (k) {
      var v = node[k];
      out[k] = (k === "width" && typeof v === "number") ? Math.max(Math.min(v * 0.5, 300), Math.floor(v * f))
             : scaled(v, f, k);
    });
    return out;
  }
  function draw(tries) {
    if (typeof vegaEmbed !== "function") { return; }
    if (base === null) {
      base = expand(JSON.parse(box.querySelector("script.nscore-chart-spec").textContent));
    }
    var opts = JSON.parse(box.getAttribute("data-embed-options"));
    var target = box.querySelector(".nscore-chart-view");
    vegaEmbed(target, factor < 1 ? scaled(base, factor, "") : base, opts).then(function (result) {
      if (view) { view.finalize(); }
      view = result.view;
      box.classList.add("nscore-chart-live");
      box.querySelector(".nscore-chart-fallback").style.display = "none";
      var svg = target.querySelector("svg"), room = box.clientWidth;
      shownFor = room;
      if (svg && room > 0 && tries < 5) {
        var wide = parseFloat(svg.getAttribute("width")) || svg.getBoundingClientRect().width;
        if (wide > room + 0.5) { factor = factor * Math.pow((room - 2) / wide, 1.5); draw(tries + 1); }
      }
    }).catch(function (err) {
      box.classList.add("nscore-chart-failed");
      console.error("nscore chart " + box.getAttribute("data-chart") + ": " + err);
    });
  }
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      if (box.clientWidth > 0 && Math.abs(box.clientWidth - shownFor) > 8) { factor = 1; draw(0); }
    }, 200);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { draw(0); });
  } else {
    draw(0);
  }
})();"""


def chart_html(spec: dict, svg: str, png: bytes) -> str:
    """The ``text/html`` fragment for a prepared spec and its static images."""
    description = spec["description"].strip()
    alt_text = html.escape(description, quote=True)
    digest = hashlib.sha256(_script_json(spec).encode()).hexdigest()[:12]
    svg_uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    png_uri = "data:image/png;base64," + base64.b64encode(png).decode()
    name = f"figure-{digest}"
    options = html.escape(json.dumps(EMBED_OPTIONS, sort_keys=True), quote=True)
    return (
        f'<div class="nscore-chart" data-chart="{digest}" data-embed-options="{options}">\n'
        f'<div class="nscore-chart-view" role="img" aria-label="{alt_text}"></div>\n'
        f'<img class="nscore-chart-fallback" src="{svg_uri}" alt="{alt_text}">\n'
        f'<p class="nscore-chart-downloads">Download this figure: '
        f'<a download="{name}.svg" href="{svg_uri}">SVG</a> | '
        f'<a download="{name}.png" href="{png_uri}">PNG</a></p>\n'
        f'<script type="application/json" class="nscore-chart-spec">{_script_json(spec)}</script>\n'
        f"<script>{_EMBED_JS}</script>\n"
        f"</div>"
    )


def mimebundle(spec: dict, **metadata: Any) -> dict[str, Any]:
    """The renderer altair calls: ``text/html`` + ``image/svg+xml`` + ``image/png`` + text.

    ``text/plain`` carries the description, so plain-text readers get the alt text too.
    """
    prepared = prepare_spec(spec)
    svg, png = static_images(prepared)
    return {
        "text/html": chart_html(prepared, svg, png),
        "image/svg+xml": svg,
        "image/png": base64.b64encode(png).decode(),
        "text/plain": f"<Figure: {prepared['description'].strip()}>",
    }


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

    return sphinx_logging.getLogger("nscore.report.render")


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
    """Sphinx extension hook (``sphinx: extra_extensions: [nscore.report.render]`` in ``_config.yml``).

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
    return {"parallel_read_safe": True, "parallel_write_safe": True}
