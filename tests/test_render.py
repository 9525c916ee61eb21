"""nscore.report.render: the offline altair renderer (HTML with local vega, PNG, SVG, alt text) and its
Sphinx side, which moves chart images out of the pages into files of the site."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from pathlib import Path

import altair as alt
import pandas as pd
import pytest
import vl_convert as vlc
from PIL import Image

from nscore.build import refresh
from nscore.report import pages, render
from nscore.errors import NscoreError

REPO = Path(__file__).resolve().parents[1]
DESCRIPTION = 'Kaplan-Meier <overall> survival & "quotes": falls to 0.64 at two years.'


def _chart(**props):
    frame = pd.DataFrame({"day": [0, 180, 365, 730], "survival": [1.0, 0.85, 0.74, 0.64]})
    props.setdefault("description", DESCRIPTION)
    return alt.Chart(frame).mark_line(interpolate="step-after").encode(x="day:Q", y="survival:Q").properties(
        width=300, height=200, **props
    )


@pytest.fixture(scope="module")
def bundle():
    return render.mimebundle(_chart().to_dict())


def _without_data_uris(html_text: str) -> str:
    # base64 payloads can spell anything ("cdn", "http"); the URLs that matter are outside them
    return re.sub(r"data:[a-z+/]+;base64,[A-Za-z0-9+/=]+", "data:...", html_text)


def test_bundle_has_html_png_svg(bundle):
    assert {"text/html", "image/png", "image/svg+xml"} <= set(bundle)


def test_html_refers_to_nothing_outside_the_page(bundle):
    html_text = _without_data_uris(bundle["text/html"])
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/", html_text, re.I), html_text[:500]
    assert "cdn" not in html_text.lower()
    assert "<script src" not in html_text  # the vendored scripts come from the page head (html_js_files)
    assert "$schema" not in html_text


def test_html_embeds_the_compiled_vega_spec(bundle):
    """The page ships a vega spec (compiled by vl-convert): no vega-lite or vega-embed in the browser."""
    html_text = bundle["text/html"]
    assert "nscoreChart(" in html_text and "vegaEmbed(" not in html_text
    spec_json = re.search(r'<script type="application/json" class="nscore-chart-spec">(.*?)</script>', html_text, re.S)
    spec = json.loads(spec_json.group(1))
    assert spec["description"] == DESCRIPTION
    assert spec["marks"] and "layer" not in spec and "mark" not in spec  # vega, not vega-lite
    assert render.FONT in json.dumps(spec)
    values = [render.decode_values(d["values"]) for d in spec["data"] if "values" in d]
    assert values and values[0][-1] == {"day": 730, "survival": 0.64}


def test_column_encoding_is_lossless_and_shorter():
    grid = [{"group": "All" if i < 200 else "T-ALL", "month": round(i * 0.23, 4),
             "estimate": round(1 - (i // 17) * 0.0301, 4), "censored": 1 if i % 29 == 0 else 0,
             "at_risk": 334 - i, "flag": i % 2 == 0, "note": None}
            for i in range(300)]
    encoded = render.encode_values(grid)
    assert encoded["encoding"] == render.COLUMNS_ENCODING and encoded["n"] == 300
    back = render.decode_values(encoded)
    assert back == grid
    assert [type(r["flag"]) for r in back] == [bool] * 300 and all(r["note"] is None for r in back)
    assert len(render._script_json(encoded)) < len(render._script_json(grid)) / 3
    # kept as records when encoding does not pay or the records differ in their keys
    assert render.encode_values([{"a": 1}]) == [{"a": 1}]
    ragged = [{"a": 1}, {"b": 2}]
    assert render.encode_values(ragged) == ragged
    # a value that is no decimal fraction of at most 6 places is never put through a step
    odd = [{"x": 1 / 3 * i} for i in range(50)]
    assert render.decode_values(render.encode_values(odd)) == odd


def test_chart_script_decodes_as_the_renderer_encodes(tmp_path):
    """The page's script (nscore-chart.js, run by node) reads the records back exactly."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed")
    rows = [{"month": round(i * 0.2299, 4), "estimate": round(0.5 + (i // 9) * 0.0173, 4), "group": "AML"}
            for i in range(120)]
    encoded = render.encode_values(rows)
    assert isinstance(encoded, dict)
    script = (Path(render.__file__).parent / "static" / render.CHART_JS).read_text()
    program = ("global.window = {}; global.document = {addEventListener() {}, readyState: 'complete'};\n"
               + script.replace("window.nscoreChart = function", "window.decodeValues = decodeValues;\n  window.nscoreChart = function")
               + f"\nprocess.stdout.write(JSON.stringify(window.decodeValues({json.dumps(encoded)})));\n")
    (tmp_path / "run.js").write_text(program)
    out = subprocess.run([node, str(tmp_path / "run.js")], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == rows


def test_png_decodes_to_the_chart_size(bundle):
    image = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    image.load()
    assert image.format == "PNG"
    # 300x200 plot area plus axes, at PNG_SCALE
    assert image.width > 300 * render.PNG_SCALE and image.height > 200 * render.PNG_SCALE


def test_png_has_the_pixels_vl_convert_renders_from_the_spec(bundle):
    """The PNG is rasterised from the SVG; it must be the chart vl-convert would draw directly."""
    spec = render.prepare_spec(_chart().to_dict())
    direct = Image.open(io.BytesIO(vlc.vegalite_to_png(spec, vl_version=render.vl_version(), scale=render.PNG_SCALE)))
    ours = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert ours.size == direct.size
    assert ours.convert("RGBA").tobytes() == direct.convert("RGBA").tobytes()


def test_svg_is_a_rendered_chart(bundle):
    svg = bundle["image/svg+xml"]
    assert svg.lstrip().startswith("<svg") and "</svg>" in svg
    assert "mark-line" in svg


def test_alt_text_from_description(bundle):
    html_text = bundle["text/html"]
    escaped = 'Kaplan-Meier &lt;overall&gt; survival &amp; &quot;quotes&quot;: falls to 0.64 at two years.'
    assert f'role="img" aria-label="{escaped}"' in html_text
    assert re.search(r'<img class="nscore-chart-fallback" src="data:image/svg\+xml;base64,[^"]+" alt="' + re.escape(escaped) + '"', html_text)
    assert DESCRIPTION in bundle["text/plain"]


def test_downloads_are_the_static_images(bundle):
    html_text = bundle["text/html"]
    svg_link = re.search(r'<a download="figure-[0-9a-f]{12}\.svg" href="data:image/svg\+xml;base64,([^"]+)"', html_text)
    png_link = re.search(r'<a download="figure-[0-9a-f]{12}\.png" href="data:image/png;base64,([^"]+)"', html_text)
    assert base64.b64decode(svg_link.group(1)).decode() == bundle["image/svg+xml"]
    assert png_link.group(1) == bundle["image/png"]


def test_output_is_deterministic(bundle):
    """Executed notebooks are committed: the same chart must give the same bytes."""
    again = render.mimebundle(_chart().to_dict())
    assert again == bundle


def test_script_cannot_be_closed_by_data():
    chart = _chart(description="ends </script><script>alert(1)</script>")
    html_text = render.mimebundle(chart.to_dict())["text/html"]
    assert html_text.count("</script>") == 2  # the spec block and the embed block, nothing else


def test_chart_without_description_is_refused():
    frame = pd.DataFrame({"x": [1, 2]})
    with pytest.raises(render.RenderError, match="description"):
        render.mimebundle(alt.Chart(frame).mark_point().encode(x="x:Q").to_dict())
    assert issubclass(render.RenderError, NscoreError)


def test_chart_with_url_data_is_refused():
    chart = alt.Chart("https://example.org/data.csv").mark_point().encode(x="x:Q").properties(description="d")
    with pytest.raises(render.RenderError, match="URL"):
        render.mimebundle(chart.to_dict())



def test_vega_lite_version_matches_altair_and_vega_is_5():
    """vl-convert compiles with the vega-lite line altair's schema names; the page's vega is 5.x."""
    assert render.vl_version() == ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    assert render.VENDORED["vega"].split(".")[0] == "5"
    assert set(render.VENDORED) == {"vega", "vega-tooltip"}  # no vega-lite, no vega-embed in the page


def test_vendored_files_match_the_recorded_hashes():
    readme = (REPO / "_static" / "vendor" / "README.md").read_text()
    for js in render.JS_FILES:
        if js == render.CHART_JS:  # the book's own script, package data
            assert (Path(render.__file__).parent / "static" / js).is_file()
            continue
        path = REPO / "_static" / js
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in readme, f"{js} differs from the copy recorded in _static/vendor/README.md"
    head = (REPO / "_static" / "vendor" / "vega-tooltip.min.js").read_bytes()[:400].decode()
    assert f'"{render.VENDORED["vega-tooltip"]}"' in head
    assert not list((REPO / "_static" / "vendor").glob("vega-lite*")) and not list((REPO / "_static" / "vendor").glob("vega-embed*"))


def test_config_loads_the_vendored_scripts_and_extension():
    import yaml

    config = yaml.safe_load((REPO / "_config.yml").read_text())
    sphinx_config = config["sphinx"]["config"]
    # no vendored script on every page: nscore.report.pages adds vega to the pages with a chart only
    assert not [js for js in sphinx_config.get("html_js_files") or [] if "vega" in str(js)]
    assert set(render.CSS_FILES) <= set(sphinx_config.get("html_css_files", []))
    assert {"nscore.report.pages", "nscore.build.refresh"} <= set(config["sphinx"].get("extra_extensions", []))


# --------------------------------------------------------------------------- site images


def test_site_pages_link_each_chart_image_as_one_file(bundle, tmp_path):
    """On the site the fallback and the downloads become files named by their content, linked
    by the URL Sphinx gives (relative to the page); the notebook fragment itself keeps data: URIs."""
    page = f"<p>before</p>{bundle['text/html']}<p>between</p>{bundle['text/html']}"
    out = pages.images_to_files(page, tmp_path, lambda path: f"../{path}")
    assert "data:image/" not in out and "data:image/" in bundle["text/html"]
    svg_bytes, png_bytes = bundle["image/svg+xml"].encode(), base64.b64decode(bundle["image/png"])
    svg_name = f"chart-{hashlib.sha256(svg_bytes).hexdigest()[:20]}.svg"
    png_name = f"chart-{hashlib.sha256(png_bytes).hexdigest()[:20]}.png"
    images = tmp_path / render.IMAGE_DIR
    assert sorted(p.name for p in images.iterdir()) == sorted([svg_name, png_name])  # stored once
    assert (images / svg_name).read_bytes() == svg_bytes and (images / png_name).read_bytes() == png_bytes
    escaped = 'Kaplan-Meier &lt;overall&gt; survival &amp; &quot;quotes&quot;: falls to 0.64 at two years.'
    assert out.count(f'<img class="nscore-chart-fallback" src="../_images/{svg_name}" alt="{escaped}">') == 2
    assert out.count(f'href="../_images/{svg_name}">SVG</a>') == 2
    assert out.count(f'href="../_images/{png_name}">PNG</a>') == 2
    # the rest of the page (spec, embed script, surrounding HTML) is untouched
    assert _without_data_uris(out.replace(f"../_images/{svg_name}", "data:...").replace(
        f"../_images/{png_name}", "data:...")) == _without_data_uris(page)


def test_site_images_leave_other_data_uris_alone(tmp_path):
    """Only chart images move: a table's CSV download stays a data: URI (tables.py)."""
    page = '<a href="data:text/csv;charset=utf-8;base64,YSxiCjEsMgo=" download="t.csv">CSV</a>'
    assert pages.images_to_files(page, tmp_path, lambda path: path) == page
    assert not (tmp_path / render.IMAGE_DIR).exists()


def test_extension_moves_images_out_of_every_page():
    """``setup`` connects the image hook to every HTML page (and keeps the script dedupe)."""
    connected, config_values = [], []
    app = type("App", (), {
        "connect": lambda self, event, fn, priority=500: connected.append((event, fn)),
        "add_config_value": lambda self, name, default, rebuild, types=(): config_values.append((name, default)),
    })()
    meta = pages.setup(app)
    assert ("html-page-context", pages._chart_images_to_files) in connected
    assert ("html-page-context", pages._dedupe_scripts) in connected
    assert ("config-inited", pages._switch_off_thebe) in connected
    assert meta["parallel_write_safe"] is True
    # the plain-build refresh is its own extension (build layer), registered beside it
    connected.clear()
    assert refresh.setup(app)["parallel_read_safe"] is True
    assert ("config-inited", refresh._refresh_chapters) in connected
    assert (refresh.STALE_CONFIG, "execute") in config_values


# --------------------------------------------------------------------------- no CDN, plain builds


def _sphinx_build(src: Path, out: Path, extensions: list[str], **overrides):
    """An in-process Sphinx HTML build of ``src`` (a few seconds); returns the app."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    with docutils_namespace():
        app = Sphinx(str(src), str(src), str(out), str(out / ".doctrees"), "html", status=None, warning=None,
                     freshenv=True, confoverrides={"extensions": extensions, **overrides})
        app.build()
    return app


def test_sphinx_thebe_writes_nothing_into_the_site(tmp_path):
    """jupyter-book always loads sphinx-thebe, which wrote its unpkg URL
    (``const THEBE_JS_URL = "https://unpkg.com/thebe@..."``), its loader script, its stylesheet and
    a Binder configuration into every page; with nscore.report.pages none of it reaches the site."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text("project = 'x'\n")
    (src / "index.rst").write_text("Title\n=====\n\nSome text.\n\n.. code-block:: python\n\n   print(1)\n")
    # without nscore.report.pages: what every page carried
    _sphinx_build(src, tmp_path / "before", ["sphinx_thebe"])
    before = (tmp_path / "before" / "index.html").read_text()
    assert "unpkg.com" in before and "x-thebe-config" in before  # the check below can see it
    _sphinx_build(src, tmp_path / "after", ["sphinx_thebe", "nscore.report.pages"])
    after = (tmp_path / "after" / "index.html").read_text()
    for marker in ("unpkg", "THEBE_JS_URL", "thebe", "binder"):
        assert marker not in after, marker
    assert "Some text." in after
    assert not list((tmp_path / "after").rglob("*thebe*"))


def test_external_script_or_stylesheet_is_a_build_warning(tmp_path):
    """A script or stylesheet from another host (configuration, an extension) warns, so the
    pipeline's ``jupyter-book build -W`` fails instead of publishing it."""
    import io

    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text("project = 'x'\nhtml_js_files = ['https://cdn.example.org/x.js']\n")
    (src / "index.rst").write_text("Title\n=====\n\nText.\n")
    warnings = io.StringIO()
    with docutils_namespace():
        app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "out" / ".doctrees"), "html",
                     status=None, warning=warnings, freshenv=True, confoverrides={"extensions": ["nscore.report.pages"]})
        app.build()
    assert "external script/stylesheet" in warnings.getvalue() and "cdn.example.org" in warnings.getvalue()


def _project_dir(root: Path) -> Path:
    for d in ("chapters/src", "data/cutoffs"):
        (root / d).mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: chapters/index\n")
    return root


def _hook_app(root: Path, mode: str | None = None):
    config = type("Config", (), {refresh.STALE_CONFIG: mode})()
    return type("App", (), {"srcdir": str(root)})(), config


def test_stale_mode_from_config_or_environment(monkeypatch):
    monkeypatch.delenv(refresh.STALE_ENV, raising=False)
    config = type("Config", (), {refresh.STALE_CONFIG: "execute"})()
    assert refresh.stale_mode(config) == "execute"
    config = type("Config", (), {refresh.STALE_CONFIG: "fail"})()
    assert refresh.stale_mode(config) == "fail"
    monkeypatch.setenv(refresh.STALE_ENV, "execute")  # the environment wins over _config.yml
    assert refresh.stale_mode(config) == "execute"
    monkeypatch.setenv(refresh.STALE_ENV, "FAIL")
    assert refresh.stale_mode(type("Config", (), {})()) == "fail"
    monkeypatch.setenv(refresh.STALE_ENV, "skip")  # never a silent way out
    from sphinx.errors import SphinxError

    with pytest.raises(SphinxError, match="execute, fail"):
        refresh.stale_mode(config)


def test_plain_build_hook_executes_or_fails_naming_the_stale_chapters(tmp_path, monkeypatch):
    """The hook hands the project to ``pipeline.refresh`` (execute, or check only) and turns its
    list of stale chapters into a build error; the real behaviour is tests/test_plain_build.py."""
    from sphinx.errors import SphinxError

    from nscore.build import pipeline
    from nscore.errors import StaleOutputError

    root = _project_dir(tmp_path / "book")
    calls = []

    def fake_refresh(project, *, execute=True, jobs=None, progress=print):
        calls.append((project.root, execute))
        if not execute:
            raise StaleOutputError(["chapters/results.ipynb: stale for cutoff 2026-06-01 (changed: data)"])
        return [pipeline.ChapterRun("2026-06-01", "results", "executed", "changed: data", 1.0)]

    monkeypatch.setattr(pipeline, "refresh", fake_refresh)
    monkeypatch.delenv(pipeline.STAGED_ENV, raising=False)
    monkeypatch.delenv(refresh.STALE_ENV, raising=False)
    refresh._refresh_chapters(*_hook_app(root, "execute"))
    assert calls == [(root.resolve(), True)]
    with pytest.raises(SphinxError) as err:
        refresh._refresh_chapters(*_hook_app(root, "fail"))
    assert "chapters/results.ipynb" in str(err.value) and "stale" in str(err.value)
    assert calls[-1] == (root.resolve(), False)

    # the pipeline's own site builds (staged notebooks it has just executed) are left alone
    calls.clear()
    monkeypatch.setenv(pipeline.STAGED_ENV, "1")
    refresh._refresh_chapters(*_hook_app(root, "fail"))
    monkeypatch.delenv(pipeline.STAGED_ENV)
    # and so is a book that is not a project (no chapter sources or data store)
    refresh._refresh_chapters(*_hook_app(_project_dir(tmp_path / "x") / "chapters", "fail"))
    assert calls == []


def test_pipeline_site_builds_are_marked_staged(tmp_path, monkeypatch):
    """``nscore build`` runs jupyter-book on notebooks it has just executed: it marks those builds
    (``NSCORE_STAGED_BOOK``) so that nscore.build.refresh does not check or re-execute them again."""
    import subprocess

    from nscore.build import pipeline, site

    seen = {}

    def run(cmd, stdout=None, stderr=None, cwd=None, env=None):
        seen.update(env)
        (Path(cwd) / "_build" / "html").mkdir(parents=True)
        (Path(cwd) / "_build" / "html" / "index.html").write_text("<html></html>")
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(site.subprocess, "run", run)
    book = tmp_path / "book"
    book.mkdir()
    site.jupyter_book_build(pipeline.Project(tmp_path), book, lambda m: None, "test")
    assert seen.get(pipeline.STAGED_ENV) == "1"


# --------------------------------------------------------------------------- page weight (theme assets)


def test_icon_rules_pruned_to_the_icons_used():
    from nscore.report import pageweight

    css = ('.fa-solid{font-weight:900}\n.fa-bars:before,.fa-navicon:before{content:"\\f0c9"}'
           '.fa-anchor:before{content:"\\f13d"}.fa-xmark:before{content:"\\f00d"}.bd-x .fa-bars{color:red}')
    pruned, codepoints = pageweight.prune_icon_rules(css, {"fa-bars", "fa-solid", "fa-xmark"})
    assert ".fa-anchor" not in pruned and '.fa-bars:before,.fa-navicon:before{content:"\\f0c9"}' in pruned
    assert ".fa-solid{font-weight:900}" in pruned and ".bd-x .fa-bars{color:red}" in pruned
    assert codepoints == {0xF0C9, 0xF00D}


def test_icon_font_subset_has_the_glyphs_used():
    import fontTools.ttLib
    from nscore.report import pageweight

    ttf = next(Path(pageweight.__file__).resolve().parents[2].glob(".venv/lib/python*/site-packages/"
                                                                    "pydata_sphinx_theme/theme/pydata_sphinx_theme/static/vendor/"
                                                                    "fontawesome/webfonts/fa-solid-900.ttf"), None)
    if ttf is None:
        pytest.skip("pydata-sphinx-theme's font not found")
    woff = pageweight.subset_font(ttf.read_bytes(), {0xF0C9, 0xF00D})
    font = fontTools.ttLib.TTFont(io.BytesIO(woff))
    assert {0xF0C9, 0xF00D} <= set(font.getBestCmap()) and len(woff) < 10_000


def test_sphinx_design_assets_only_on_pages_that_use_it():
    from nscore.report import pageweight

    css = ["styles/theme.css", "sphinx-design.min.css", "nscore.css", "pygments.css?v=1", "togglebutton.css"]
    js = ["doctools.js", "design-tabs.js", "vendor/vega.min.js", "copybutton.js", "clipboard.min.js", "togglebutton.js"]
    context = {"body": "<p>text</p>", "css_files": list(css), "script_files": list(js)}
    pageweight.drop_unused_design_assets(None, "p", "page.html", context, None)
    assert context["css_files"] == ["styles/theme.css", "nscore.css"]
    assert context["script_files"] == ["doctools.js", "vendor/vega.min.js"]
    context = {"body": '<div class="sd-card">x</div><div class="highlight"><pre>x</pre></div><div class="toggle">',
               "css_files": list(css), "script_files": list(js)}
    pageweight.drop_unused_design_assets(None, "p", "page.html", context, None)
    assert context["css_files"] == css and context["script_files"] == js


def test_unused_theme_rules_are_purged_and_the_rest_copied_unchanged():
    from nscore.report import pageweight

    css = ('@charset "UTF-8";/*! keep */:root{--x:1}.used{a:b}.unused{c:d}.used .unused2,.used>p{e:f}'
           '.unused3:not(.used){g:h}.used:not(.gone){i:j}[data-theme=dark] .used{k:l}a[href^="http"]{m:n}'
           '@media (min-width:960px){.unused{o:p}.used:hover{q:r}}@media print{.unused4{s:t}}'
           '@font-face{font-family:X;src:url(a.woff)}@keyframes spin{0%{u:v}to{w:x}}.x\\:y{z:z}'
           '.a{content:"}{"}.used::before{content:"{"}')
    out = pageweight.purge_unused_rules(css, {"used", "p"})
    for kept in ('@charset "UTF-8";', "/*! keep */", ":root{--x:1}", ".used{a:b}", ".used .unused2,.used>p{e:f}",
                 ".used:not(.gone){i:j}", "[data-theme=dark] .used{k:l}", 'a[href^="http"]{m:n}',
                 "@media (min-width:960px){.used:hover{q:r}}", "@font-face{font-family:X;src:url(a.woff)}",
                 "@keyframes spin{0%{u:v}to{w:x}}", ".x\\:y{z:z}", '.used::before{content:"{"}'):
        assert kept in out, kept
    for dropped in (".unused{c:d}", ".unused3", ".unused{o:p}", "@media print", '.a{content:"}{"}'):
        assert dropped not in out, dropped
    assert pageweight.purge_unused_rules(out, {"used", "p"}) == out


def test_chart_text_is_typeset_but_expressions_and_fields_are_not():
    frame = pd.DataFrame({"label": ["Blasts: >=20% (n=7)", "Blasts: <20% (n=9)"], "x": [1, 2], "k": [0, 3]})
    chart = alt.Chart(frame).mark_point().encode(
        x="x:Q", y=alt.Y("label:N", sort=["Blasts: >=20% (n=7)", "Blasts: <20% (n=9)"], title="Grade 1-2"),
    ).transform_filter("datum.k >= 1").properties(description="Rates for blasts >=20%", title="Grade >=3")
    spec = render.prepare_spec(chart.to_dict())
    text = json.dumps(spec, ensure_ascii=False)
    assert "Blasts: \u226520% (n=7)" in text and ">=20%" not in text.replace("datum.k >= 1", "")
    assert spec["description"] == "Rates for blasts \u226520%" and spec["title"] == "Grade \u22653"
    assert spec["encoding"]["y"]["sort"][0] == "Blasts: \u226520% (n=7)" and spec["encoding"]["y"]["title"] == "Grade 1\u20132"
    assert "datum.k >= 1" in text  # the filter expression still runs
    rows = list(spec["datasets"].values())[0]
    assert rows[0]["label"] == "Blasts: \u226520% (n=7)"


def test_mathjax_only_on_pages_with_math():
    from types import SimpleNamespace

    from nscore.report import pageweight

    def scripts():
        return ["doctools.js", SimpleNamespace(filename="", attributes={"body": "window.MathJax = {}"}),
                SimpleNamespace(filename="vendor/mathjax/tex-mml-chtml.js?v=1", attributes={"defer": "defer"})]

    plain = {"body": "<p>No formula, $5 only</p>", "script_files": scripts(), "css_files": []}
    pageweight.drop_unused_design_assets(None, "p", "page.html", plain, None)
    assert plain["script_files"] == ["doctools.js"]
    for body in ('<span class="math notranslate nohighlight">\\(0\\)</span>', "<p>$$x$$</p>"):
        page = {"body": body, "script_files": scripts(), "css_files": []}
        pageweight.drop_unused_design_assets(None, "p", "page.html", page, None)
        assert len(page["script_files"]) == 3
