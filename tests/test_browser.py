"""Pages that fit, stay light and pass axe-core (issue 16 items 1 and 2), in headless Chromium.

Every page of the session's built site (tests/sitecheck.py ``site_dir``: ``NSCORE_SITE``, else the
repository's book built by the pipeline in a temporary copy) is opened at 1280 and at 390 px wide
and checked for:

* **nothing clipped**: every live chart's SVG fits inside its chart box and the text column, and
  every table either fits its container or sits in a scroll region that is focusable
  (``tabindex=0``), has ``role=region`` and is labelled (``aria-label``);
* **chart text contrast**: every ``<text>`` of a live chart has at least 4.5:1 contrast against
  the page background (its fill colour composited with its opacity);
* **axe-core**: zero violations of impact ``serious`` or ``critical``. axe-core comes from the npm
  registry (``npm pack axe-core@AXE_VERSION`` into a cache directory on first use; never a CDN)
  and is injected into the page by playwright;
* **page weight**: the total bytes the page loads (the document and every resource,
  uncompressed, served locally) is at most 1 MiB on a page without charts and 1.5 MiB on a page
  with charts (the Results page).

Run alone: ``python -m pytest tests/test_browser.py -q`` (slow: builds the book once per session),
or ``NSCORE_SITE=_build/html python -m pytest tests/test_browser.py`` for a site built already.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import sitecheck  # noqa: E402

from nscore.build import browser  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not browser.chromium_available(),
        reason=f"Chromium not installed at {browser.CHROMIUM} (apt-get install chromium) or playwright missing",
    ),
]

#: axe-core release used (from the npm registry; the issue's audit used 4.14).
AXE_VERSION = "4.14.1"
#: Viewport widths (CSS px): a laptop and a phone.
WIDTHS = (1280, 390)
#: Total transfer budgets (bytes, uncompressed, served locally).
BUDGET_PLAIN = 1024 * 1024
BUDGET_CHARTS = int(1.5 * 1024 * 1024)
#: WCAG 2 AA for normal text.
MIN_CONTRAST = 4.5
#: Sub-pixel slack when comparing boxes.
SLACK_PX = 1.0


# --------------------------------------------------------------------------- axe-core from npm


def axe_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nscore-tests" / f"axe-core-{AXE_VERSION}"


def axe_script() -> str:
    """The text of ``axe.min.js`` of :data:`AXE_VERSION`, fetched once with ``npm pack``."""
    target = axe_cache_dir() / "axe.min.js"
    if not target.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to fetch axe-core from the npm registry (apt-get install npm)")
        with tempfile.TemporaryDirectory(prefix="nscore-axe-") as tmp:
            proc = subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--silent"], cwd=tmp,
                                  capture_output=True, text=True, timeout=300)
            tarballs = list(Path(tmp).glob("axe-core-*.tgz"))
            if proc.returncode != 0 or not tarballs:
                pytest.fail(f"npm pack axe-core@{AXE_VERSION} failed: {proc.stderr[-2000:]}")
            with tarfile.open(tarballs[0]) as tar:
                member = tar.getmember("package/axe.min.js")
                data = tar.extractfile(member).read()
                licence = tar.extractfile(tar.getmember("package/LICENSE")).read()
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.parent / "LICENSE").write_bytes(licence)
            tmp_target = target.with_suffix(".tmp")
            tmp_target.write_bytes(data)
            os.replace(tmp_target, target)
    return target.read_text()


# --------------------------------------------------------------------------- in-page checks

#: Returns {charts, clipped: [...], tables: [...], contrast: [...], bytes, resources}.
_PAGE_JS = r"""() => {
  const slack = %(slack)s, minContrast = %(contrast)s;
  const out = {charts: 0, clipped: [], tables: [], contrast: [], bytes: 0, largest: []};
  const vw = document.documentElement.clientWidth;
  const describe = (el) => {
    const fig = el.closest("figure, .cell, section");
    const cap = el.querySelector && el.querySelector("caption");
    let name = cap ? cap.textContent : (el.getAttribute && el.getAttribute("aria-label")) || "";
    if (!name && fig) { const h = fig.querySelector("figcaption, h1, h2, h3"); name = h ? h.textContent : ""; }
    return name.replace(/\s+/g, " ").trim().slice(0, 60);
  };
  // the text column: the article's box (or the body)
  const article = document.querySelector("article.bd-article, main, body");
  const col = article.getBoundingClientRect();
  const right = Math.min(col.right, vw);
  // ---- charts
  for (const box of document.querySelectorAll(".nscore-chart")) {
    out.charts += 1;
    const view = box.querySelector(".nscore-chart-view");
    const svg = view && view.querySelector("svg");
    const shown = svg || box.querySelector(".nscore-chart-fallback");
    if (!shown) { out.clipped.push("chart without SVG or image: " + describe(box)); continue; }
    const r = shown.getBoundingClientRect();
    if (r.right > right + slack || r.left < col.left - slack)
      out.clipped.push(`chart ${describe(box)}: ${Math.round(r.left)}..${Math.round(r.right)} px outside the column ${Math.round(col.left)}..${Math.round(right)}`);
    if (view && svg && view.scrollWidth > view.clientWidth + slack)
      out.clipped.push(`chart ${describe(box)}: ${view.scrollWidth} px wide in a ${view.clientWidth} px box`);
    // ---- chart text contrast against the page background (white in light mode)
    if (svg) {
      let bg = [255, 255, 255, 1];  // the first opaque background up from the chart
      for (let p = box; p; p = p.parentElement) {
        const c = parseColour(getComputedStyle(p).backgroundColor);
        if (c && c[3] > 0.99) { bg = c; break; }
      }
      for (const t of svg.querySelectorAll("text")) {
        if (!t.textContent.trim()) continue;
        const cs = getComputedStyle(t);
        if (cs.display === "none" || cs.visibility === "hidden") continue;
        const c = parseColour(cs.fill);
        if (!c) continue;
        let alpha = c[3] * parseFloat(cs.fillOpacity || "1") * parseFloat(cs.opacity || "1");
        for (let p = t.parentElement; p && p !== svg; p = p.parentElement) alpha *= parseFloat(getComputedStyle(p).opacity || "1");
        if (alpha < 0.05) continue;  // not drawn (vega hides overlapping labels with opacity 0)
        const mixed = [0, 1, 2].map(i => c[i] * alpha + bg[i] * (1 - alpha));
        const ratio = contrast(mixed, bg);
        if (ratio < minContrast)
          out.contrast.push(`chart ${describe(box)}: "${t.textContent.trim().slice(0, 30)}" ${cs.fill} at ${cs.fontSize}: ${ratio.toFixed(2)}:1`);
      }
    }
  }
  // ---- tables
  for (const table of document.querySelectorAll("article table, main table")) {
    const name = describe(table);
    const region = table.closest('[role="region"]');
    const parent = table.parentElement;
    const tr = table.getBoundingClientRect();
    const fits = table.scrollWidth <= parent.clientWidth + slack && tr.right <= right + slack;
    if (fits) continue;
    if (!region) { out.tables.push(`table ${name}: ${Math.round(tr.width)} px wide, container ${parent.clientWidth} px, not in a scroll region`); continue; }
    const ov = getComputedStyle(region).overflowX;
    const rr = region.getBoundingClientRect();
    const problems = [];
    if (!(ov === "auto" || ov === "scroll")) problems.push(`overflow-x ${ov}`);
    if (region.getAttribute("tabindex") !== "0") problems.push("not focusable");
    if (!(region.getAttribute("aria-label") || "").trim() && !region.getAttribute("aria-labelledby")) problems.push("no label");
    if (rr.right > right + slack) problems.push(`region ${Math.round(rr.right)} px past the column ${Math.round(right)}`);
    if (problems.length) out.tables.push(`table ${name}: ${problems.join(", ")}`);
  }
  // ---- page weight: the document and every resource, decoded (uncompressed) sizes
  const entries = performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"));
  for (const e of entries) out.bytes += e.decodedBodySize || e.transferSize || 0;
  out.largest = entries.map(e => [e.name.split("/").slice(-1)[0], e.decodedBodySize || 0])
                       .sort((a, b) => b[1] - a[1]).slice(0, 5);
  return out;

  function parseColour(text) {
    if (!text || text === "none") return null;
    let m = text.match(/rgba?\(([^)]+)\)/);
    if (m) { const v = m[1].split(/[ ,\/]+/).filter(Boolean).map(parseFloat); return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; }
    m = text.match(/^#([0-9a-f]{6})$/i);
    if (m) { const n = parseInt(m[1], 16); return [n >> 16, (n >> 8) & 255, n & 255, 1]; }
    return null;
  }
  function lum(rgb) {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]);
  }
  function contrast(a, b) {
    const la = lum(a), lb = lum(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
}""" % {"slack": SLACK_PX, "contrast": MIN_CONTRAST}

_AXE_RUN_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")), count: v.nodes.length}));
}"""


@dataclass
class PageCheck:
    """What one page showed at one width."""

    page: str
    width: int
    charts: int = 0
    clipped: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    contrast: list[str] = field(default_factory=list)
    axe: list[dict] = field(default_factory=list)
    bytes: int = 0
    largest: list = field(default_factory=list)

    @property
    def budget(self) -> int:
        return BUDGET_CHARTS if self.charts else BUDGET_PLAIN

    @property
    def serious(self) -> list[dict]:
        return [v for v in self.axe if v["impact"] in ("serious", "critical")]


def check_site(site: Path, widths=WIDTHS, chart_timeout_ms: int = 30_000) -> list[PageCheck]:
    """Open every page (not redirect stubs) of ``site`` at each width and run the checks."""
    from playwright.sync_api import sync_playwright

    axe = axe_script()
    pages = [p for p in sitecheck.site_pages(site) if not sitecheck.is_redirect_stub(p)]
    results = []
    with browser.serve_directory(site) as base, sync_playwright() as pw:
        for width in widths:
            # a fresh profile per width: nothing cached, so every page's weight is all it loads
            with browser.launch_chromium(pw, viewport={"width": width, "height": 900}) as context:
                foreign: list[str] = []
                browser.block_foreign_requests(context, base, foreign)
                for page_path in pages:
                    rel = page_path.relative_to(site).as_posix()
                    tab = context.new_page()
                    # the cache is per profile: a page's weight counts what it loads itself
                    tab.route("**/*", lambda route: route.continue_())
                    tab.goto(base + rel, wait_until="load")
                    browser.wait_for_charts(tab, chart_timeout_ms)
                    tab.wait_for_timeout(150)  # charts re-laid out to their box
                    found = tab.evaluate(_PAGE_JS)
                    tab.add_script_tag(content=axe)
                    check = PageCheck(rel, width, charts=found["charts"], clipped=found["clipped"],
                                      tables=found["tables"], contrast=found["contrast"],
                                      axe=tab.evaluate(_AXE_RUN_JS), bytes=found["bytes"],
                                      largest=found["largest"])
                    results.append(check)
                    tab.close()
    return results


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def site():
    return sitecheck.site_dir()


@pytest.fixture(scope="module")
def checks(site):
    directory, _ = site
    return check_site(directory)


def _fail_if(problems: dict, what: str, origin: str):
    problems = {key: p for key, p in problems.items() if p}
    if problems:
        pytest.fail(f"{what} ({origin}):\n" + "\n".join(f"{k}: {v}" for k, v in problems.items()))


def test_every_page_checked_at_both_widths(site, checks):
    directory, origin = site
    pages = {p.relative_to(directory).as_posix() for p in sitecheck.site_pages(directory)
             if not sitecheck.is_redirect_stub(p)}
    assert pages, f"no page in {directory}"
    for width in WIDTHS:
        assert {c.page for c in checks if c.width == width} == pages, f"pages missed at {width} px ({origin})"
    assert any(c.charts for c in checks), f"no page with a chart was seen ({origin})"


def test_no_chart_or_table_clipped(site, checks):
    _fail_if({f"{c.page} @{c.width}px": c.clipped + c.tables for c in checks},
             "clipped charts or tables", site[1])


def test_chart_text_contrast(site, checks):
    _fail_if({f"{c.page} @{c.width}px": c.contrast for c in checks},
             f"chart text below {MIN_CONTRAST}:1", site[1])


def test_no_serious_or_critical_axe_violations(site, checks):
    _fail_if({f"{c.page} @{c.width}px": [f"{v['impact']} {v['id']} ({v['help']}): {v['count']} x {v['nodes']}"
                                         for v in c.serious] for c in checks},
             f"axe-core {AXE_VERSION} serious/critical violations", site[1])


def _over_budget(checks, with_charts: bool) -> dict:
    return {f"{c.page} @{c.width}px": f"{c.bytes / 2**20:.2f} MiB > {c.budget / 2**20:.2f} MiB "
                                        f"(largest: {c.largest})"
            for c in checks if bool(c.charts) == with_charts and c.bytes > c.budget}


def test_page_without_charts_within_budget(site, checks):
    """A page without a chart loads at most 1 MiB (was 3.1 MiB: the theme's 1.4 MiB icon script
    and the vega libraries on every page)."""
    _fail_if(_over_budget(checks, False), "pages without a chart over 1 MiB", site[1])


def test_page_with_charts_within_budget(site, checks):
    """A page with charts (Results) loads at most 1.5 MiB (was 2.1 MiB: vega-lite and vega-embed beside
    vega, the specs' datasets as records, the theme's whole icon font and stylesheet; now the specs are
    compiled to vega with column-encoded data and the theme's icon assets trimmed to the icons used)."""
    _fail_if(_over_budget(checks, True), "pages with charts over 1.5 MiB", site[1])


def test_chart_pages_exist_and_plain_pages_load_no_vega(site, checks):
    """The vega libraries load only where a chart is (a plain page stays light)."""
    plain_with_vega = {f"{c.page} @{c.width}px": [n for n, _ in c.largest if n.startswith("vega")]
                       for c in checks if not c.charts}
    _fail_if(plain_with_vega, "pages without a chart that load vega", site[1])



# --------------------------------------------------------------------------- the page rewrites


def test_fit_page_body_makes_tables_labelled_focusable_regions():
    from nscore.report import pages

    body = ('<div class="pst-scrollable-table-container"><table class="table" id="t1">\n'
            '<caption><span class="caption-number">Table 3.1 </span><span class="caption-text">Baseline &amp; '
            '<em>more</em>.</span><a class="headerlink" href="#t1" title="Link to this table">#</a></caption>\n'
            '<tr><td>1</td></tr></table></div>'
            '<div class="pst-scrollable-table-container"><table class="table"><tr><td>2</td></tr></table></div>')
    out = pages.fit_page_body(body)
    assert out.count('tabindex="0" role="region"') == 2
    assert 'aria-label="Table 3.1 Baseline &amp; more."' in out
    assert 'aria-label="Table"' in out  # a table without caption still gets a name
    assert out.count("<table") == 2 and "<tr><td>1</td></tr>" in out


def test_fit_page_body_rewrites_charts_and_bibliography():
    from nscore.report import pages, render

    rows = [{"month": 0.0, "estimate": 1.0}, {"month": 1.0, "estimate": 0.9}]
    spec = {"description": "d", "datasets": {"a": rows, "b": [{"x": 1}, {"y": 2}]}, "mark": "line"}
    old_js = "<script>(function () {\n  var box = document.currentScript.parentNode;\n  old();\n})();</script>"
    body = ('<div class="nscore-chart" data-chart="x"><img class="nscore-chart-fallback" src="../_images/c.svg" alt="d">'
            f'<script type="application/json" class="nscore-chart-spec">{render._script_json(spec)}</script>\n'
            f'{old_js}\n</div><div role="list"><div class="citation" role="doc-biblioentry">x</div></div>')
    out = pages.fit_page_body(body)
    shipped = sitecheck.chart_specs(out)[0]
    compact = shipped["datasets"]["a"]
    assert set(compact) == {"columns", "rows"} and len(compact["rows"]) == 2
    assert [dict(zip(compact["columns"], r)) for r in compact["rows"]] == rows
    assert sitecheck.embedded_datasets(out)[0] == rows  # the privacy test reads the records back
    assert shipped["datasets"]["b"] == [{"x": 1}, {"y": 2}]  # ragged records are kept as they are
    assert "old();" not in out and render._EMBED_JS in out
    assert '<img class="nscore-chart-fallback" src="../_images/c.svg" alt="d" loading="lazy">' in out
    assert 'role="listitem"' in out and "doc-biblioentry" not in out


def test_fix_theme_markup_names_and_icon_script():
    from nscore.report import pages

    page = ('<script defer src="../_static/scripts/fontawesome.js?digest=1"></script>\n'
            '<button class="btn search-button-field search-button__button pst-js-only" title="Search" aria-label="Search" x>'
            '<i class="theme-switch fa-solid fa-sun fa-lg" data-mode="light" title="Light"></i>')
    out = pages.fix_theme_markup(page)
    assert "fontawesome.js" not in out
    assert 'title="Search" x>' in out and 'aria-label="Search"' not in out
    assert 'data-mode="light" aria-hidden="true"></i>' in out and 'title="Light"' not in out

if __name__ == "__main__":  # python tests/test_browser.py SITE: a table of what each page showed
    for c in check_site(Path(sys.argv[1])):
        print(f"{c.page:45s} {c.width:5d} charts={c.charts} {c.bytes / 2**20:5.2f} MiB "
              f"clipped={len(c.clipped) + len(c.tables)} contrast={len(c.contrast)} "
              f"axe={[(v['id'], v['impact']) for v in c.axe]}")
        for line in c.clipped + c.tables + c.contrast[:3]:
            print("    ", line)
        if c.bytes > c.budget:
            print("     largest:", c.largest)
