"""The built site as a reader gets it, opened page by page in headless Chromium (Debian's
``chromium`` driven by playwright): offline, every chart rendered, every glued value resolved,
every internal link alive, accessible structure. Screenshots land in ``_build/screenshots/``.

Which site is tested: see tests/sitecheck.py (``NSCORE_SITE``, else the repository's book built
from the committed notebooks, else a tiny stand-in book).
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import sitecheck  # noqa: E402

from nscore.build import browser

from nscore.report import render  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not browser.chromium_available(),
        reason=f"Chromium not installed at {browser.CHROMIUM} (apt-get install chromium) or playwright missing",
    ),
]


@pytest.fixture(scope="module")
def site():
    return sitecheck.site_dir()


@pytest.fixture(scope="module")
def reports(site):
    directory, _ = site
    return sitecheck.walk_site(directory)


def _fail_if(problems: dict, what: str, origin: str):
    problems = {page: p for page, p in problems.items() if p}
    if problems:
        lines = [f"{page}: {p}" for page, p in problems.items()]
        pytest.fail(f"{what} ({origin}):\n" + "\n".join(lines))


def test_every_page_opened_and_screenshotted(site, reports):
    directory, origin = site
    pages = {p.relative_to(directory).as_posix() for p in sitecheck.site_pages(directory)}
    assert "index.html" in pages
    assert {r.page for r in reports} == pages
    for r in reports:
        if not sitecheck.is_redirect_stub(directory / r.page):
            assert r.screenshot.is_file() and r.screenshot.stat().st_size > 1000, r.page


def test_no_request_leaves_localhost(site, reports):
    _fail_if({r.page: r.foreign_requests for r in reports}, "requests to other hosts (blocked)", site[1])


def test_no_console_errors_or_failed_resources(site, reports):
    _fail_if({r.page: r.console_errors + r.failed_requests for r in reports}, "console errors / failed requests", site[1])


def test_every_chart_renders(site, reports):
    assert sum(r.charts for r in reports) > 0, f"no chart anywhere in the site ({site[1]})"
    _fail_if(
        {r.page: f"{r.charts_rendered} of {r.charts} charts rendered" for r in reports if r.charts_rendered < r.charts},
        "charts without SVG/canvas",
        site[1],
    )


def test_no_unresolved_glue(site, reports):
    _fail_if({r.page: r.glue_problems for r in reports}, "unresolved glue / system messages", site[1])


def test_internal_links_resolve(site, reports):
    _fail_if({r.page: r.broken_links for r in reports}, "broken internal links", site[1])


def test_accessible_structure(site, reports):
    """lang attribute, headings in order, numbered captions on figures and tables, alt text."""
    _fail_if({r.page: r.a11y for r in reports}, "accessibility problems", site[1])


def test_vendored_scripts_are_served_on_every_page(site):
    """Every page with a chart loads the pinned vega scripts from its own _static, by a relative
    path; a page without a chart loads none of them (issue 16: pages stay light)."""
    directory, origin = site
    for page in sitecheck.site_pages(directory):
        if sitecheck.is_redirect_stub(page):
            continue
        text = page.read_text(errors="replace")
        if 'class="nscore-chart"' not in text:
            assert "vendor/vega" not in text, f"{page.relative_to(directory)} loads vega without a chart ({origin})"
            continue
        for js in render.JS_FILES:
            assert f'_static/{js}' in text, f"{page.relative_to(directory)} does not load {js} ({origin})"
            assert f'src="http' not in text.split(js)[0].rsplit("<script", 1)[-1]
        assert "cdn.jsdelivr" not in text and "vega@" not in text
    for js in render.JS_FILES:
        assert (directory / "_static" / js).is_file()


def test_chart_images_are_files_of_the_site(site):
    """Pages stay light: a chart in a page is its spec, alt text and a few links, while its static
    images (the no-JavaScript fallback and the SVG/PNG downloads) are files of the site, each
    stored once under a content-hashed name and linked by a relative path (offline, no data: URI).
    Before: the SVG twice and the PNG as base64 in the page (results.html 2.9 MB, now ~0.5 MB)."""
    from PIL import Image

    directory, origin = site
    charts = 0
    for page in sitecheck.site_pages(directory):
        rel = page.relative_to(directory)
        text = page.read_text(errors="replace")
        assert "data:image/" not in text, f"{rel}: an image inlined as a data: URI ({origin})"
        for chart in sitecheck.chart_images(page):
            charts += 1
            assert chart.fallback and chart.svg and chart.png, f"{rel}: chart without its three links"
            assert chart.fallback == chart.svg, f"{rel}: the fallback and the SVG download differ"
            for path, suffix in ((chart.svg, ".svg"), (chart.png, ".png")):
                # the version's own image directory (the root and every v/<cutoff>/ copy)
                assert path.parent.name == render.IMAGE_DIR and path.suffix == suffix, f"{rel}: {path}"
                assert path.is_relative_to(directory), f"{rel}: {path} is outside the site"
                assert path.is_file(), f"{rel}: {path.name} is not in the site"
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                assert path.stem == f"chart-{digest[:20]}", f"{rel}: {path.name} is not named by its content"
            assert chart.svg.read_text().lstrip().startswith("<svg")
            assert Image.open(chart.png).format == "PNG"
            # what the page carries per chart beyond its spec: markup and the embed script only
            assert len(chart.html) - len(chart.spec) < 4096, f"{rel}: {len(chart.html) - len(chart.spec)} bytes"
    assert charts, f"no chart anywhere in the site ({origin})"


def test_walk_reports_what_it_should(tmp_path):
    """The checker itself: a hand-written bad page trips every check."""
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "index.html").write_text(
        "<!DOCTYPE html><html><head><title>bad</title>"
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script></head><body><main>'
        "<h1>Bad</h1><h3>Skipped a level</h3>"
        '<p>N = {glue:text}`n_patients`</p>'
        '<a href="sub/missing.html">gone</a> <a href="sub/page.html#nowhere">no anchor</a>'
        '<div class="nscore-chart"><div class="nscore-chart-view" role="img" aria-label="x"></div>'
        '<img class="nscore-chart-fallback" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt=""></div>'
        "<table><tr><td>1</td></tr></table>"
        "<script>console.error('boom')</script>"
        "</main></body></html>"
    )
    (site / "sub" / "page.html").write_text('<!DOCTYPE html><html lang="en"><body><main><h1 id="top">Fine</h1></main></body></html>')
    reports = {r.page: r for r in sitecheck.walk_site(site, screenshots=tmp_path / "shots", chart_timeout_ms=1500)}
    bad, good = reports["index.html"], reports["sub/page.html"]
    assert bad.foreign_requests == ["https://cdn.jsdelivr.net/npm/vega@5"]
    assert any("boom" in e for e in bad.console_errors)
    assert (bad.charts, bad.charts_rendered) == (1, 0)
    assert bad.glue_problems
    assert sorted(bad.broken_links) == ["sub/missing.html (no file sub/missing.html)", "sub/page.html#nowhere (no anchor #nowhere)"]
    a11y = "\n".join(bad.a11y)
    for expected in ("no lang", "heading level skipped", "numbered caption", "fallback image has no alt", "table without numbered <caption>"):
        assert expected in a11y, (expected, a11y)
    assert (good.a11y, good.broken_links, good.console_errors, good.foreign_requests) == ([], [], [], [])
    assert (tmp_path / "shots" / "index.png").is_file() and (tmp_path / "shots" / "sub__page.png").is_file()


def _chromatic(hex_colour: str) -> bool:
    import colorsys

    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    r, g, b = (int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))
    _, s, v = colorsys.rgb_to_hsv(r, g, b)
    return s > 0.2 and v > 0.1


def test_charts_use_the_documented_palette(site):
    """Colour-blind-safe colours only: every chromatic fill/stroke drawn in a chart (read from
    the static SVG of each figure) is one of the palette documented in nscore.report.figures; greys,
    black and white (axes, grid, text) are free."""
    figures = pytest.importorskip("nscore.report.figures", reason="nscore.report.figures (the palette) not written yet")
    palette = {c.lower() for c in figures.OKABE_ITO.values()}
    palette |= {c.lower() for c in getattr(figures, "GRADE_COLOURS", {}).values()}
    directory, origin = site
    problems, seen = [], 0
    for page in sitecheck.site_pages(directory):
        for path in {c.fallback for c in sitecheck.chart_images(page) if c.fallback}:
            seen += 1
            svg = path.read_text(errors="replace")
            colours = {c.lower() for c in re.findall(r'(?:fill|stroke)="(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3})"', svg)}
            off = sorted(c for c in colours if _chromatic(c) and c not in palette)
            if off:
                problems.append(f"{page.relative_to(directory)}: colours outside the palette {off}")
    assert seen, f"no chart image found ({origin})"
    assert not problems, f"({origin})\n" + "\n".join(problems)


# --------------------------------------------------------------------------- no CDN (issue 16, item 9)

#: A URL that leaves the site: ``http(s)://host`` or protocol-relative ``//host``.
_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)
#: ``<link rel=...>`` values that make the browser fetch (or connect to) the address.
_RESOURCE_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "preconnect", "dns-prefetch",
                  "icon", "shortcut", "apple-touch-icon", "mask-icon", "manifest"}
#: An address inside CSS (``@import "..."``, ``url(...)``) that leaves the site.
_CSS_EXTERNAL = re.compile(r"""(?:@import\s+(?:url\(\s*)?|url\(\s*)["']?\s*((?:[a-z][a-z0-9+.-]*:)?//[^"')\s]+)""", re.I)
#: A URL inside inline JavaScript (configuration such as sphinx-thebe's ``THEBE_JS_URL``).
_JS_URL = re.compile(r"""https?://[^\s"'`<>]+|["'`]//[a-z0-9-]+(?:\.[a-z0-9-]+)+[/"'`]""", re.I)
#: Host names of public CDNs and hosted services a page must never name.
_CDN = re.compile(r"unpkg\.com|jsdelivr\.(?:net|com)|cdnjs|googleapis\.com|gstatic\.com|"
                  r"mybinder\.org|binder-examples|code\.jquery\.com|(?:use|kit|ka-f)\.fontawesome\.com|bootstrapcdn", re.I)
#: The one exception in the whole site: MathJax's vendored speech engine names its mathmaps CDN as
#: a built-in fallback (MathJax points it at its own directory; es5/sre/ is not shipped, so
#: turning speech on fails locally; see _static/vendor/README.md). Only in these files.
_MATHJAX_SRE = re.compile(r"https://cdn\.jsdelivr\.net/npm/(?:speech-rule-engine|sre-mathmaps-ie|wicked-good-xpath)@")


def _strip_css_comments(css: str) -> str:
    return re.sub(r"/\*.*?\*/", "", css, flags=re.S)


def external_references(page: Path, site: Path) -> list[str]:
    """Every address in ``page`` (and in the local stylesheets it links) that the browser would
    fetch from outside the site: scripts, stylesheets, fonts, images, frames, inline JS config."""
    from bs4 import BeautifulSoup

    text = page.read_text(encoding="utf-8", errors="replace")
    soup = BeautifulSoup(text, "html.parser")
    found: list[str] = []
    for tag in soup.find_all("script"):
        if tag.get("src"):
            if _EXTERNAL.match(tag["src"]):
                found.append(f"<script src={tag['src']}>")
        elif (tag.get("type") or "").lower() != "application/ld+json":
            found += [f"inline script names {m.group(0)[:80]}" for m in _JS_URL.finditer(tag.string or "")]
    for tag in soup.find_all("link"):
        rels = {r.lower() for r in (tag.get("rel") or [])}
        if rels & _RESOURCE_RELS and _EXTERNAL.match(tag.get("href") or ""):
            found.append(f"<link rel={' '.join(sorted(rels))} href={tag['href']}>")
    for tag in soup.find_all(["img", "iframe", "source", "audio", "video", "embed", "track", "object", "input"]):
        for attr in ("src", "data", "poster"):
            if _EXTERNAL.match(tag.get(attr) or ""):
                found.append(f"<{tag.name} {attr}={tag[attr]}>")
        for candidate in (tag.get("srcset") or "").split(","):
            if _EXTERNAL.match(candidate):
                found.append(f"<{tag.name} srcset={candidate.strip()}>")
    styles = [t.string or "" for t in soup.find_all("style")] + [t["style"] for t in soup.find_all(style=True)]
    for css in styles:
        found += [f"style loads {m.group(1)}" for m in _CSS_EXTERNAL.finditer(_strip_css_comments(css))]
    for tag in soup.find_all("link", href=True):
        if "stylesheet" not in (tag.get("rel") or []) or _EXTERNAL.match(tag["href"]):
            continue
        css_file = (page.parent / tag["href"].split("?")[0].split("#")[0]).resolve()
        if css_file.is_file() and css_file.is_relative_to(site.resolve()):
            css = _strip_css_comments(css_file.read_text(encoding="utf-8", errors="replace"))
            found += [f"{css_file.name} loads {m.group(1)}" for m in _CSS_EXTERNAL.finditer(css)]
    without_data = re.sub(r"data:[a-z0-9.+/-]+(?:;[a-z0-9=.-]+)*;base64,[A-Za-z0-9+/=]+", "data:...", text, flags=re.I)
    for marker in ("THEBE_JS_URL", "x-thebe-config"):
        if marker in without_data:
            found.append(f"sphinx-thebe configuration ({marker})")
    # hrefs of ordinary links (a DOI, a registry) are text a reader may follow, not a load
    for tag in soup.find_all("a", href=True):
        without_data = without_data.replace(tag["href"], "")
    found += [f"CDN address {m.group(0)}" for m in _CDN.finditer(without_data)]
    return sorted(set(found))


def test_no_page_references_an_external_script_stylesheet_font_or_config(site):
    """No CDN address anywhere: no page loads a script, stylesheet, font, image or frame from
    another host or names one in its JavaScript configuration (sphinx-thebe wrote
    ``const THEBE_JS_URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"`` into every page), and
    no file of the site (scripts, styles, pages) names a CDN, except MathJax's built-in speech
    engine fallback (``_MATHJAX_SRE``), never requested."""
    directory, origin = site
    pages = [p for p in sitecheck.site_pages(directory) if not sitecheck.is_redirect_stub(p)]
    assert pages, origin
    _fail_if({p.relative_to(directory).as_posix(): external_references(p, directory) for p in pages},
             "external addresses in pages", origin)
    problems = {}
    for path in sorted(directory.rglob("*")):
        if path.suffix not in (".js", ".css", ".html", ".json", ".txt") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".html":
            text = re.sub(r'href="[^"]*"', "", text)  # ordinary links are not loads
        text = _MATHJAX_SRE.sub("", text)
        hits = sorted({m.group(0) for m in _CDN.finditer(text)})
        if hits:
            problems[path.relative_to(directory).as_posix()] = hits
    _fail_if(problems, "CDN addresses in files of the site", origin)
    assert not list(directory.rglob("sphinx-thebe*")), "sphinx-thebe's files are still copied into the site"


def test_external_reference_check_catches_each_kind(tmp_path):
    """The checker itself, on a page with one of each kind of external reference."""
    site = tmp_path / "site"
    (site / "_static").mkdir(parents=True)
    (site / "_static" / "local.css").write_text(
        "/* https://example.org in a comment is fine */ @font-face { src: url(https://fonts.gstatic.com/x.woff2); }")
    page = site / "index.html"
    page.write_text(
        '<html><head><script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
        '<script src="_static/ok.js"></script>'
        '<script>const THEBE_JS_URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"</script>'
        '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Lato">'
        '<link rel="stylesheet" href="_static/local.css">'
        '<style>@import url("https://example.org/a.css");</style></head>'
        '<body><img src="https://example.org/a.png" alt="a"><a href="https://doi.org/10.1/x">doi</a>'
        '<img src="data:image/png;base64,aHR0cHM6Ly91bnBrZy5jb20=" alt="b"></body></html>'
    )
    found = "\n".join(external_references(page, site))
    for expected in ("<script src=https://cdn.jsdelivr.net", "inline script names https://unpkg.com/thebe",
                     "<link rel=stylesheet href=//fonts.googleapis.com", "local.css loads https://fonts.gstatic.com",
                     "style loads https://example.org/a.css", "<img src=https://example.org/a.png>",
                     "sphinx-thebe configuration (THEBE_JS_URL)", "CDN address unpkg.com"):
        assert expected in found, (expected, found)
    assert "doi.org" not in found and "_static/ok.js" not in found and "in a comment" not in found
    (site / "clean.html").write_text('<html><head><script src="_static/ok.js"></script></head>'
                                     '<body><a href="https://doi.org/10.1/x">doi</a></body></html>')
    assert external_references(site / "clean.html", site) == []


# --------------------------------------------------------------------------- issue 16 items 6, 7, 9:
# notebook view, versions, citation, licence, no address outside the allowed ones

_NUMBER = re.compile(r'<span class="caption-number">([^<]*)</span>')
_CELL_LINK = re.compile(r'<p class="nscore-cell-link"><a href="([^"#]+)#(cell-[0-9]+)">Code and output that made ([^<]*?) '
                        r'\(executed notebook\)</a></p>')


def _chapter_pages(directory: Path) -> list[Path]:
    return [p for p in sitecheck.site_pages(directory)
            if p.parent.name == "chapters" and not p.name.endswith(".notebook.html")
            and not sitecheck.is_redirect_stub(p)]


def test_every_chapter_links_its_notebook_view_and_every_figure_and_table_its_cell(site):
    """Issue 16 item 6: each chapter page links "View the executed notebook"; every numbered figure
    and table is followed by a link to the cell that made it, and that cell (its anchor) is in the
    view and names the figure's/table's label; the view holds one anchored block per notebook cell."""
    import nbformat

    directory, origin = site
    pages = _chapter_pages(directory)
    assert pages, origin
    linked = 0
    for page in pages:
        rel = page.relative_to(directory).as_posix()
        text = page.read_text(encoding="utf-8")
        view = page.with_name(page.stem + ".notebook.html")
        assert view.is_file(), f"{rel}: no notebook view ({origin})"
        assert f'<a href="{view.name}">View the executed notebook</a>' in text, rel
        view_text = view.read_text(encoding="utf-8")
        numbered = []
        for m in re.finditer(r'<(figure|table)\b[^>]*\bid="([^"]+)"', text):
            end = text.find(f"</{m.group(1)}>", m.end())
            number = _NUMBER.search(text, m.end(), end)
            if number:
                numbered.append((" ".join(number.group(1).split()).replace("Fig.", "Figure"), m.group(2)))
        links = {name: (href, anchor) for href, anchor, name in _CELL_LINK.findall(text)}
        assert sorted(links) == sorted(n for n, _ in numbered), f"{rel}: figures/tables without a cell link ({origin})"
        for name, label in numbered:
            href, anchor = links[name]
            assert href == view.name, rel
            cell = re.search(rf'<div class="nscore-nb-cell nscore-nb-code" id="{anchor}">(.*?)</div>', view_text, re.S)
            assert cell, f"{rel}: {name} -> #{anchor} is not a code cell of {view.name}"
            assert f'#{label}">{name}</a>' in cell.group(1), f"{rel}: cell {anchor} does not name {label}"
            linked += 1
        source = directory / "_sources" / page.relative_to(directory).with_suffix(".ipynb")
        if source.is_file():
            n = len(nbformat.read(source, as_version=4).cells)
            assert all(f'id="cell-{i}"' in view_text for i in range(n)), f"{view.name}: a cell without its anchor"
    assert linked, f"no figure or table linked to its cell ({origin})"


def test_notebook_views_add_no_data(site):
    """The views show code, text and aggregate outputs only: no chart spec or embedded dataset, no
    script, no analysis-results rows (counted, not dumped), no glue role left visible."""
    directory, origin = site
    views = sorted(directory.rglob("*.notebook.html"))
    assert views, origin
    for view in views:
        rel = view.relative_to(directory).as_posix()
        text = view.read_text(encoding="utf-8")
        assert "<script" not in text and "nscore-chart-spec" not in text, rel
        assert sitecheck.embedded_datasets(text) == [], rel
        assert '"rows":' not in text and "data:image/" not in text, rel
        assert not re.search(r"\{glue(:\w+)?\}", text), rel


def _meta(text: str) -> dict[str, list[str]]:
    import html as _html

    found: dict[str, list[str]] = {}
    for name, content in re.findall(r'<meta name="([^"]+)" content="([^"]*)"\s*/?>', text):
        found.setdefault(name, []).append(_html.unescape(content))
    return found


def test_citation_metadata_licence_and_how_to_cite(site):
    """Issue 16 item 7: every page's head carries Highwire (citation_*) and Dublin Core (DC.*) tags
    from _config.yml; every page ends with the licence line (CC BY 4.0 text, MIT code) linking
    "How to cite", which the landing page holds with the same fields."""
    import yaml

    directory, origin = site
    config = yaml.safe_load((sitecheck.REPO / "_config.yml").read_text(encoding="utf-8"))
    pages = [p for p in sitecheck.site_pages(directory) if not sitecheck.is_redirect_stub(p)]  # notebook views too
    assert pages, origin
    for page in pages:
        rel = page.relative_to(directory).as_posix()
        text = page.read_text(encoding="utf-8")
        meta = _meta(text)
        assert meta.get("citation_title") == [config["title"]] == meta.get("DC.title"), rel
        assert meta.get("citation_author") == [config["author"]] == meta.get("DC.creator"), rel
        assert re.fullmatch(r"20[0-9]{2}/[0-9]{2}/[0-9]{2}", meta["citation_publication_date"][0]), rel
        assert meta["DC.date"][0] == meta["citation_publication_date"][0].replace("/", "-"), rel
        assert "CC BY 4.0" in meta["DC.rights"][0] and "MIT" in meta["DC.rights"][0], rel
        if sitecheck.is_chapter(page.name):  # not genindex/search (no body of ours)
            assert 'class="nscore-licence"' in text and "#how-to-cite" in text, rel
    index = (directory / "chapters" / "index.html").read_text(encoding="utf-8")
    assert '<section id="how-to-cite"><h2>How to cite</h2>' in index
    assert config["title"] in index and "@misc{" in index


#: Addresses a page may name: DOIs of references, trial registries, the licences' texts and the
#: configured public address (html.baseurl, none yet).
_ALLOWED_ADDRESSES = re.compile(
    r"https?://(?:dx\.)?doi\.org/|https?://(?:www\.)?clinicaltrials\.gov/|https?://(?:www\.)?chictr\.org\.cn/|"
    r"https://creativecommons\.org/licenses/by/4\.0/|https://opensource\.org/license/mit$")


def test_no_address_other_than_references_licences_and_the_public_address(site):
    """Issue 16 item 9: no page (nor the site's own root scripts/data) names an http(s) address
    other than a reference's DOI, a trial registry, the licence texts or the configured public
    address (the vendored libraries under _static are checked for CDNs above)."""
    import yaml

    directory, origin = site
    config = yaml.safe_load((sitecheck.REPO / "_config.yml").read_text(encoding="utf-8"))
    public = str((config.get("html") or {}).get("baseurl") or "").strip()
    files = [p for p in sitecheck.site_pages(directory) if not sitecheck.is_redirect_stub(p)]
    files += [p for p in directory.rglob("*") if p.suffix in (".js", ".json") and p.is_file()
              and "_static" not in p.relative_to(directory).parts]
    problems = {}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        bad = sorted({u for u in re.findall(r"https?://[^\s\"'<>)\\]+", text)
                      if not _ALLOWED_ADDRESSES.match(u) and not (public and u.startswith(public))})
        if bad:
            problems[path.relative_to(directory).as_posix()] = bad[:5]
    _fail_if(problems, "http(s) addresses outside the allowed ones", origin)


def _open(context, url):
    tab = context.new_page()
    tab.goto(url, wait_until="load")
    tab.wait_for_timeout(150)
    return tab


def test_version_switcher_banner_and_previews_in_the_browser(site):
    """Issue 16 item 7, as a reader uses it: the newest version (root) has no banner and a switcher
    (a disclosure reached by keyboard) listing every published version; an older version's page
    shows a banner linking the same page of the latest version; focusing a cross-reference shows a
    preview (role tooltip, aria-describedby) with the target's caption, closed by Escape."""
    directory, origin = site
    root_list = (directory / "nscore-versions.js").read_text()
    cutoffs = sorted(p.name for p in (directory / "v").iterdir() if (p / "index.html").is_file()) if (directory / "v").is_dir() else []
    if len(cutoffs) < 2:
        pytest.skip(f"fewer than two published versions ({origin})")
    newest = cutoffs[-1]
    assert f'"newest": "{newest}"' in root_list
    for c in cutoffs:
        listed = (directory / "v" / c / "nscore-versions.js").read_text()
        assert all(f'"{x}"' in listed for x in cutoffs) and f'"newest": "{newest}"' in listed, c
    from playwright.sync_api import sync_playwright

    with browser.serve_directory(directory) as base, sync_playwright() as pw, browser.launch_chromium(
            pw, viewport={"width": 1280, "height": 900}) as context:
        foreign: list[str] = []
        browser.block_foreign_requests(context, base, foreign)
        tab = _open(context, base + "chapters/results.html")
        assert tab.locator(".nscore-version-banner").is_hidden()
        summary = tab.locator("nav.nscore-versions summary")
        assert summary.count() == 1
        for _ in range(30):  # keyboard: Tab reaches the switcher
            tab.keyboard.press("Tab")
            if tab.evaluate("document.activeElement && document.activeElement.tagName") == "SUMMARY":
                break
        assert tab.evaluate("document.activeElement.closest('nav.nscore-versions') !== null"), "switcher not reached by Tab"
        tab.keyboard.press("Enter")
        hrefs = tab.eval_on_selector_all("nav.nscore-versions a", "els => els.map(e => e.href)")
        assert len(hrefs) == len(cutoffs) - 1 and all(tab.locator(f'nav.nscore-versions a[href$="v/{c}/chapters/results.html"]').is_visible() for c in cutoffs[:-1])
        for url in hrefs:
            assert (directory / url.removeprefix(base)).is_file(), url
        # preview of a cross-reference to a table or figure, by keyboard focus
        ref = tab.locator('article a.reference.internal[href^="#tbl-"], article a.reference.internal[href^="#fig-"]').first
        ref.focus()
        tab.wait_for_timeout(100)
        tip = tab.locator("#nscore-preview")
        assert tip.is_visible() and tip.get_attribute("role") == "tooltip"
        assert ref.get_attribute("aria-describedby") == "nscore-preview"
        assert re.match(r"(Table|Fig\.) [0-9]", tip.inner_text()), tip.inner_text()
        tab.keyboard.press("Escape")
        assert tip.is_hidden()
        tab.close()
        older = _open(context, base + f"v/{cutoffs[0]}/chapters/results.html")
        banner = older.locator(".nscore-version-banner")
        assert banner.is_visible() and newest in banner.inner_text()
        latest = banner.locator("a").get_attribute("href")
        target = (directory / "v" / cutoffs[0] / "chapters" / latest).resolve()
        assert target == (directory / "chapters" / "results.html").resolve(), latest
        older.close()
        assert not foreign, foreign
