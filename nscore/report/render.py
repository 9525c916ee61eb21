"""The book's one altair renderer: interactive offline HTML plus static PNG and SVG.

Why a renderer of our own: altair's default HTML loads vega, vega-lite and vega-embed from a
CDN, so a reader without network sees nothing, and the LaTeX/PDF builders drop outputs that
have no image. Every chart a chapter shows (a :class:`nscore.report.figures.Figure`) gets a mimebundle with

``text/html``
    a ``<div class="nscore-chart">`` holding (1) a static fallback image (the SVG below, with the
    chart's ``description`` as ``alt``), (2) an empty ``role="img"`` container that the pinned,
    vendored vega (``_static/vendor``, loaded only on pages that hold a chart) turns into
    the live chart, fitted to its box, hiding the fallback once it has rendered, and
    (3) download links for SVG and PNG. The chart's vega-lite spec is compiled to a vega spec
    here, by vl-convert (:func:`vega_spec`), so a page loads neither vega-lite (0.25 MiB) nor
    vega-embed: vega itself, vega-tooltip (5 KB) and the book's chart script
    (``static/nscore-chart.js``, :data:`CHART_JS`) draw it. The spec's datasets are
    column-encoded without loss (:func:`encode_values`: runs and steps of a Kaplan-Meier grid take
    a few numbers instead of a row each; the Results page's chart data shrink from about 200 to
    35 KB). Text a reader sees is typeset like the tables ("\u226520%", "1\u20132"). In the
    notebook the fallback image and the downloads are ``data:`` URIs, so the executed notebook
    stays self-contained (notebook viewers, reviewer bundles); nothing in it points outside it.
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
import math
import re
from typing import Any

import altair as alt
import vl_convert as vlc
from PIL import Image

from nscore.errors import RenderError


#: Pinned copies served from ``_static`` (see _static/vendor/README.md for origin and licences).
#: vega-tooltip 0.35.2 is the version vega-embed 6.29 bundled (the tooltips look as before).
VENDORED = {
    "vega": "5.33.1",
    "vega-tooltip": "0.35.2",
}
#: The book's chart script (package data, ``nscore/report/static``; copied into the site's
#: ``_static`` with the other static files of the package).
CHART_JS = "nscore-chart.js"
#: Paths relative to ``_static``, in load order. Added by ``nscore.report.pages._page_assets`` to the
#: pages that hold a chart only (a page without a chart loads none of them).
JS_FILES = ["vendor/vega.min.js", "vendor/vega-tooltip.min.js", CHART_JS]
#: Marker of a column-encoded dataset (:func:`encode_values`).
COLUMNS_ENCODING = "nscore-columns/1"
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

#: How the page draws a chart (``data-embed-options``, for readers of the markup): a vega spec,
#: SVG renderer (crisp in print, testable), no actions menu (downloads are static links).
EMBED_OPTIONS = {"mode": "vega", "renderer": "svg", "actions": False}


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


#: Keys whose strings are expressions, field names or formats, never text a reader sees.
_NOT_TEXT = frozenset({"filter", "calculate", "expr", "test", "signal", "field", "format", "timeUnit", "as",
                       "name", "type", "mark", "aggregate", "op", "bin", "interpolate", "orient", "shape"})


def _typeset_spec(node: Any, key: str = "") -> Any:
    """Every string a reader sees (titles, labels, data values, their sort and domain lists,
    tooltips, the description) typeset like the book's tables (:func:`nscore.report.tables.typeset`:
    "≥20%", "1–2"); expressions, field names and formats are left alone."""
    from nscore.report.tables import typeset

    if isinstance(node, dict):
        return {k: (v if k in _NOT_TEXT and isinstance(v, str) else _typeset_spec(v, k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_typeset_spec(v, key) for v in node]
    return typeset(node) if isinstance(node, str) and key not in _NOT_TEXT else node


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
    # The "$schema" is a vega.github.io URL: the spec is compiled to vega here (vega_spec).
    spec.pop("$schema", None)
    spec = _typeset_spec(spec)
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


def vega_spec(spec: dict) -> dict:
    """The vega spec of a prepared vega-lite spec, as the page ships it.

    Compiled by vl-convert with the vega-lite version altair targets (the same compiler the static
    images come from), so the browser needs vega only. The ``$schema`` URL is dropped, the
    description (alt text, also vega's ``aria-label``) kept, and each inline dataset column-encoded
    (:func:`encode_values`).
    """
    compiled = vlc.vegalite_to_vega(spec, vl_version=vl_version())
    compiled.pop("$schema", None)
    compiled["description"] = spec["description"]
    for data in compiled.get("data", []):
        if isinstance(data.get("values"), list):
            data["values"] = encode_values(data["values"])
    return compiled


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _runs(values: list) -> list[list]:
    """``[[value, count], ...]`` of consecutive equal values (equal in value and type)."""
    runs: list[list] = []
    for v in values:
        if runs and type(runs[-1][0]) is type(v) and runs[-1][0] == v:
            runs[-1][1] += 1
        else:
            runs.append([v, 1])
    return runs


def _encode_column(values: list) -> Any:
    """The shortest of: the values; ``{"r": runs}``; ``{"d": decimals, "s": steps}``.

    ``steps`` are the differences of the values times ``10**decimals`` (integers), each run of
    equal steps written ``[step, count]`` (a single step as the bare integer): a grid of months or a
    flat stretch of a survival curve is a few numbers. Used only when every value is exactly
    ``integer / 10**decimals`` (checked here; JavaScript divides the same integers, so it reads the
    same doubles back).
    """
    candidates: list[Any] = [values, {"r": _runs(values)}]
    if values and all(_is_number(v) for v in values):
        for decimals in range(7):
            scale = 10 ** decimals
            ints = [round(v * scale) for v in values]
            if all(abs(i) < 2 ** 52 and (i / scale if decimals else i) == v for i, v in zip(ints, values)):
                steps = [ints[0]] + [b - a for a, b in zip(ints, ints[1:])]
                candidates.append({"d": decimals, "s": [s if n == 1 else [s, n] for s, n in _runs(steps)]})
                break
    return min(candidates, key=lambda c: len(_script_json(c)))


def _decode_column(encoded: Any, n: int) -> list:
    if isinstance(encoded, list):
        return encoded
    out: list = []
    if "r" in encoded:
        for value, count in encoded["r"]:
            out.extend([value] * count)
        return out
    scale, acc = 10 ** encoded["d"], 0
    for step in encoded["s"]:
        step, count = step if isinstance(step, list) else (step, 1)
        for _ in range(count):
            acc += step
            out.append(acc / scale if encoded["d"] else acc)
    return out


def decode_values(values: Any) -> Any:
    """The records of a column-encoded dataset (:func:`encode_values`); anything else unchanged."""
    if not (isinstance(values, dict) and values.get("encoding") == COLUMNS_ENCODING):
        return values
    columns = [_decode_column(c, values["n"]) for c in values["data"]]
    return [dict(zip(values["columns"], row)) for row in zip(*columns)] if columns else [{}] * values["n"]


def encode_values(rows: list) -> Any:
    """A dataset's records as columns (``{"encoding": COLUMNS_ENCODING, "n", "columns", "data"}``),
    each column encoded by :func:`_encode_column`, when that is shorter; else the records.

    Lossless: the encoding is used only if :func:`decode_values` gives the records back exactly
    (values and types; the page's script decodes the same way). Records with different keys are
    kept as they are.
    """
    if not rows or not all(isinstance(r, dict) for r in rows):
        return rows
    columns = list(rows[0])
    if not columns or any(list(r) != columns for r in rows):
        return rows
    encoded = {"encoding": COLUMNS_ENCODING, "n": len(rows), "columns": columns,
               "data": [_encode_column([r[c] for r in rows]) for c in columns]}
    back = decode_values(encoded)
    same = len(back) == len(rows) and all(
        a == b and all(_same_kind(a[c], b[c]) for c in columns) for a, b in zip(back, rows))
    if not same or len(_script_json(encoded)) >= len(_script_json(rows)):
        return rows
    return encoded


def _same_kind(a: Any, b: Any) -> bool:
    """Equal as JSON values (1 and 1.0 are one number in JavaScript; True is not 1)."""
    if _is_number(a) and _is_number(b):
        return True
    return type(a) is type(b)


#: The chart's own inline script: hands its box to ``nscoreChart`` (:data:`CHART_JS`, loaded in the
#: page head with vega). In a notebook without the script nothing runs and the static image stays.
_EMBED_JS = """(function () {
  var box = document.currentScript.parentNode;
  if (window.nscoreChart) { window.nscoreChart(box); }
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
        f'<script type="application/json" class="nscore-chart-spec">{_script_json(vega_spec(spec))}</script>\n'
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
