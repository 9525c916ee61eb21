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

On the site (the Sphinx extension :mod:`nscore.report.pages`), every page's chart
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
from typing import Any

import altair as alt
import vl_convert as vlc
from PIL import Image

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
