"""Shared helpers for the site tests (test_site, test_privacy, test_pdf): which site to test,
a tiny stand-in book, and a browser walk over every page.

Which site (``site_dir``), in this order:

1. ``NSCORE_SITE``: a built site directory given by the caller (e.g. CI after ``nscore build``).
2. The repository's own book, when every page of ``_toc.yml`` has its executed notebook
   (``chapters/<name>.ipynb``): built once per session by ``repo_build`` (the pipeline, forced, in
   a temporary copy of the repository; jupyter-book with ``-W``, so an unresolved glue key fails).
3. Otherwise a tiny book built in a temporary directory from hand-made executed notebooks whose
   charts went through ``nscore.report.render`` (so the renderer is tested in a browser before the
   chapters exist).

The build is done once per test session and shared by the test modules (module-level cache).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import nbformat
import yaml

from nscore.build import browser, pipeline

from nscore.report import render

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "_build" / "screenshots"

_CACHE: dict[str, tuple[Path, str]] = {}


def _workdir(prefix: str) -> Path:
    """A temporary directory removed when the test session's process exits (builds are big)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


# --------------------------------------------------------------------------- which site


def toc_files(root: Path) -> list[str]:
    """Every page of a jb-book ``_toc.yml`` (root first), as paths without suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return found


def repo_book_ready(root: Path = REPO) -> bool:
    """True when every page in ``_toc.yml`` exists as an executed notebook or Markdown file."""
    if not (root / "_toc.yml").is_file():
        return False
    return all(
        any((root / f"{name}{suffix}").is_file() for suffix in (".ipynb", ".md"))
        for name in toc_files(root)
    )


def build_book(book: Path, work: Path, builder: str = "html", strict: bool = True) -> Path:
    """Run jupyter-book on ``book`` with output under ``work``; returns the built directory."""
    cmd = pipeline.jupyter_book_command() + ["build", str(book), "--builder", builder, "--path-output", str(work)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out = work / "_build" / builder
    if proc.returncode != 0 or not (out / "index.html").is_file():
        raise AssertionError(
            f"jupyter-book build failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            + "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
        )
    return out


def site_dir() -> tuple[Path, str]:
    """(built site directory, description of where it came from); built once per session."""
    if "site" in _CACHE:
        return _CACHE["site"]
    if os.environ.get("NSCORE_SITE"):
        site = Path(os.environ["NSCORE_SITE"]).resolve()
        assert (site / "index.html").is_file(), f"NSCORE_SITE={site} holds no index.html"
        result = (site, f"NSCORE_SITE={site}")
    elif repo_book_ready() and (REPO / "nscore" / "build" / "pipeline.py").is_file():
        result = (pipeline_site(REPO), "the repository's book, built by the pipeline in a temporary copy")
    else:
        work = _workdir("nscore-tinybook-")
        book = make_tiny_book(work / "book")
        result = (build_book(book, work), "a tiny stand-in book (chapters not executed yet)")
    _CACHE["site"] = result
    return result


BOOK_ITEMS = (
    "_config.yml", "_toc.yml", "references.bib", "_static", "chapters", "data", "nscore",
    "requirements.txt", "requirements.lock", "pyproject.toml",
)


def copy_book(root: Path) -> Path:
    """Copy the book's sources (``BOOK_ITEMS``: config, chapters, data, nscore, ...) into a new ``root``."""
    root.mkdir(parents=True)
    for item in BOOK_ITEMS:
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, root / item, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        elif src.exists():
            shutil.copy2(src, root / item)
    return root


def repo_build():
    """The real publication built once per test session: every chapter re-executed with papermill
    for every stored cutoff (``force``) and every version's site built with ``-W -n``, in a copy of
    the repository (a test must not rewrite the committed notebooks or the published site).

    Returns ``(project, report)``; shared by test_book and the site, privacy and PDF tests.
    """
    if "build" not in _CACHE:
        root = copy_book(_workdir("nscore-book-") / "repo")
        project = pipeline.Project(root)
        _CACHE["build"] = (project, pipeline.build(project, force=True))
    return _CACHE["build"]


def pipeline_site(work: Path) -> Path:
    """The published ``_build/html`` of the session's real build (``repo_build``)."""
    project, _ = repo_build()
    site = project.html_dir
    assert (site / "index.html").is_file(), f"the pipeline published no site at {site}"
    return site


# --------------------------------------------------------------------------- tiny book


def demo_chart(title: str, n_points: int = 6):
    """An aggregated step curve (no patient rows) shown through the nscore renderer."""
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame(
        {"day": [0, 90, 180, 365, 540, 730][:n_points], "survival": [1.0, 0.93, 0.85, 0.74, 0.69, 0.64][:n_points]}
    )
    return (
        alt.Chart(frame)
        .mark_line(interpolate="step-after", color="#0072B2")  # Okabe-Ito blue, as the book's palette
        .encode(x=alt.X("day:Q", title="Days after infusion"), y=alt.Y("survival:Q", title="Survival"))
        .properties(title=title, width=360, height=220, description=f"{title}: step curve falling from 1.0 to 0.64 by day 730.")
    )


def _chart_output(chart) -> nbformat.NotebookNode:
    bundle = render.mimebundle(chart.to_dict())
    return nbformat.v4.new_output("display_data", data=bundle)


def _glue_output(name: str, value) -> nbformat.NotebookNode:
    """What ``myst_nb.glue(name, value, display=False)`` leaves in a notebook (a text or a chart)."""
    prefix = "application/papermill.record/"
    bundle = {"text/plain": value} if isinstance(value, str) else render.mimebundle(value.to_dict())
    return nbformat.v4.new_output(
        "display_data",
        data={prefix + mime: data for mime, data in bundle.items()},
        metadata={"scrapbook": {"name": name, "mime_prefix": prefix}},
    )


def _notebook(cells: list) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def make_tiny_book(book: Path) -> Path:
    """A two-level book like the real one: same ``_config.yml`` and ``_static``, hand-made
    executed notebooks with a glued number, a captioned chart through the renderer, a
    captioned table and cross-page links."""
    book.mkdir(parents=True)
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config["title"] = "Tiny test book"
    config.pop("bibtex_bibfiles", None)  # no references.bib here: drop the extension's settings
    for key in [k for k in config.get("sphinx", {}).get("config", {}) if k.startswith("bibtex_")]:
        del config["sphinx"]["config"][key]
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    shutil.copytree(REPO / "_static", book / "_static")
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: index\nparts:\n  - caption: Part\n    numbered: true\n"
        "    chapters:\n      - file: chapters/one\n      - file: chapters/deeper/two\n"
    )
    code = nbformat.v4.new_code_cell

    index = _notebook([
        nbformat.v4.new_markdown_cell("# Tiny book\n\nPatients: {glue:text}`n_patients`. See [chapter one](chapters/one.ipynb)."),
        code("glue('n_patients', 334, display=False)", outputs=[_glue_output("n_patients", "334")]),
    ])
    one = _notebook([
        nbformat.v4.new_markdown_cell(
            "# Chapter one\n\n## Survival\n\nThe curve is in {numref}`fig-one`; counts in {numref}`tab-one`.\n\n"
            "The estimate is $\\hat S(t) = \\prod_{t_i \\le t} (1 - d_i / n_i)$.\n\n"
            ":::{table} Counts by group\n:name: tab-one\n\n| group | n |\n|---|---|\n| A | 10 |\n| B | 12 |\n:::\n\n"
            '<p><a href="data:text/csv;base64,Z3JvdXAsbgpBLDEwCkIsMTIK" download="tab-one.csv">Download this table as CSV</a></p>\n'
        ),
        code("chart", outputs=[_chart_output(demo_chart("Overall survival"))],
             metadata={"mystnb": {"figure": {"caption": "Overall survival (tiny book).", "name": "fig-one"}}}),
        nbformat.v4.new_markdown_cell("Next: [chapter two](deeper/two.ipynb)."),
    ])
    two = _notebook([  # a glued chart placed with {glue:figure}, as the chapters do
        nbformat.v4.new_markdown_cell("# Chapter two\n\nBack to [the start](../../index.ipynb).\n"),
        code("glue('fig_pfs', chart, display=False)", outputs=[_glue_output("fig_pfs", demo_chart("Progression-free survival", 5))]),
        nbformat.v4.new_markdown_cell("```{glue:figure} fig_pfs\n:name: fig-two\n\nProgression-free survival (tiny book).\n```\n"),
    ])
    for name, nb in {"index": index, "chapters/one": one, "chapters/deeper/two": two}.items():
        path = book / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
    return book


# --------------------------------------------------------------------------- pages


def site_pages(site: Path) -> list[Path]:
    """Every HTML page of a built site (not the theme's own files under _static)."""
    return sorted(
        p for p in site.rglob("*.html")
        if "_static" not in p.relative_to(site).parts and "_sources" not in p.relative_to(site).parts
    )


def is_chapter(rel: str) -> bool:
    """Pages with publication content (not Sphinx's genindex/search/bibliography helpers)."""
    return rel not in {"genindex.html", "search.html", "py-modindex.html"}


@dataclass
class PageReport:
    """What the browser saw on one page."""

    page: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    charts: int = 0
    charts_rendered: int = 0
    glue_problems: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    a11y: list[str] = field(default_factory=list)
    screenshot: Path | None = None


_GLUE_MARKERS = [
    re.compile(r"\{glue(:\w+)?\}"),               # a role/directive left unparsed
    re.compile(r"papermill\.record"),             # a raw glue payload
    re.compile(r"Glue reference .* not found"),   # myst-nb's message when kept in the page
    re.compile(r"scrapbook"),
]


_GLUE_TEXT_ROLE = re.compile(r"\{glue:text\}`[^`]+`")


def glue_text_roles(site: Path, rel: str) -> int | None:
    """How many ``{glue:text}`` roles the page's notebook source holds (None: no source copy).

    Each becomes a ``<span class="pasted-text">`` when its key resolves; one that does not
    resolve leaves only a build warning and a gap in the sentence.
    """
    source = site / "_sources" / (rel.removesuffix(".html") + ".ipynb")
    if not source.is_file():
        return None
    nb = nbformat.read(source, as_version=4)
    return sum(len(_GLUE_TEXT_ROLE.findall(c.source)) for c in nb.cells if c.cell_type == "markdown")


def _id_exists(target: Path, fragment: str, cache: dict) -> bool:
    if target not in cache:
        text = target.read_text(errors="replace")
        cache[target] = set(re.findall(r'\sid="([^"]+)"', text)) | set(re.findall(r'\sname="([^"]+)"', text))
    return fragment in cache[target]


def check_links(site: Path, page: Path, hrefs: list[str], cache: dict) -> list[str]:
    """Internal hrefs of ``page`` whose file (or #anchor) does not exist in ``site``."""
    broken = []
    base = "file://" + str(page)
    for href in hrefs:
        scheme = urlsplit(href).scheme
        if scheme in ("http", "https", "mailto", "data", "javascript", "tel"):
            continue
        parts = urlsplit(urljoin(base, href))
        target = Path(unquote(parts.path))
        if target.is_dir():
            target = target / "index.html"
        try:
            target.relative_to(site)
        except ValueError:
            broken.append(f"{href} (outside the site)")
            continue
        if not target.is_file():
            broken.append(f"{href} (no file {target.relative_to(site)})")
        elif parts.fragment and target.suffix == ".html" and not _id_exists(target, unquote(parts.fragment), cache):
            broken.append(f"{href} (no anchor #{parts.fragment})")
    return broken


_A11Y_JS = """() => {
  const problems = [];
  const lang = document.documentElement.getAttribute("lang");
  if (!lang) problems.push("<html> has no lang attribute");
  const main = document.querySelector("main article, article.bd-article, main") || document.body;
  // headings in order: start at h1, never skip a level going down
  let prev = 0;
  for (const h of main.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const level = Number(h.tagName[1]);
    if (prev === 0 && level !== 1) problems.push(`first heading is ${h.tagName}: ${h.textContent.trim()}`);
    if (prev !== 0 && level > prev + 1) problems.push(`heading level skipped h${prev} -> ${h.tagName}: ${h.textContent.trim()}`);
    prev = level;
  }
  // every chart sits in a figure with a numbered caption and has alt text
  const boxes = new Set(Array.from(main.querySelectorAll(".nscore-chart, .vega-embed")).map(c => c.closest(".nscore-chart") || c));
  for (const box of boxes) {
    const fig = box.closest("figure");
    const cap = fig && fig.querySelector("figcaption");
    const text = cap ? cap.textContent.replace(/\\s+/g, " ").trim() : "";
    if (!/^(Fig\\.|Figure)\\s*\\d+(\\.\\d+)*/.test(text)) problems.push(`chart without numbered caption (caption: "${text}")`);
    // vega replaces role="img" by role="graphics-document" and keeps the aria-label
    const view = box.classList.contains("nscore-chart") ? box.querySelector(".nscore-chart-view") : box;
    if (!view || !(view.getAttribute("aria-label") || "").trim()) problems.push(`chart ${text || "?"} has no aria-label`);
    const img = box.querySelector("img");
    if (box.classList.contains("nscore-chart") && !(img && img.alt.trim())) problems.push(`chart ${text || "?"} fallback image has no alt`);
  }
  // every figure numbered, every image described
  for (const fig of main.querySelectorAll("figure")) {
    const cap = fig.querySelector("figcaption");
    if (!cap || !fig.querySelector(".caption-number")) problems.push(`figure without numbered caption: ${(cap ? cap.textContent : fig.textContent).trim().slice(0, 60)}`);
  }
  for (const img of main.querySelectorAll("img")) {
    if (!(img.getAttribute("alt") || "").trim()) problems.push(`image without alt: ${img.src.slice(0, 60)}`);
  }
  // every table has a caption with a number
  for (const t of main.querySelectorAll("table")) {
    const cap = t.querySelector("caption");
    const text = cap ? cap.textContent.replace(/\\s+/g, " ").trim() : "";
    if (!/^Table\\s*\\d+(\\.\\d+)*/.test(text)) problems.push(`table without numbered <caption> (caption: "${text}"; first cell: "${(t.querySelector("th, td") || {textContent: ""}).textContent.trim().slice(0, 40)}")`);
    // a CSV download within the next few blocks (after notes)
    let block = t.closest(".pst-scrollable-table-container, .table-wrapper") || t, csv = false;
    for (let i = 0; i < 12 && block && !csv; i++) {
      block = block.nextElementSibling;
      csv = !!(block && block.querySelector && block.querySelector('a[href^="data:text/csv"], a[href$=".csv"]'));
    }
    if (!csv) problems.push(`table without CSV download: "${text.slice(0, 60)}"`);
  }
  return problems;
}"""


_REFRESH = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.I)


def is_redirect_stub(page: Path) -> bool:
    """A page that only redirects (``<meta http-equiv="Refresh">``, no book content of its own)."""
    text = page.read_text(errors="replace")
    return bool(_REFRESH.search(text)) and "<main" not in text.lower()


def _url_file(site: Path, base: str, url: str) -> Path | None:
    """The file of the site a localhost URL serves (None if outside the site or missing)."""
    url = url.split("#")[0].split("?")[0]
    if not url.startswith(base):
        return None
    path = site / unquote(url[len(base):])
    if path.is_dir():
        path = path / "index.html"
    return path if path.is_file() else None


def _follow_redirects(tab, base: str, site: Path, hops: int = 5) -> str:
    """Wait while the tab sits on redirect stubs (stub -> stub -> page); returns the final URL."""
    for _ in range(hops):
        url = tab.url.split("#")[0]
        path = _url_file(site, base, url)
        if path is None or not is_redirect_stub(path):
            break
        try:
            tab.wait_for_url(lambda u, here=url: u.split("#")[0] != here, timeout=10_000)
        except Exception:  # playwright TimeoutError: the caller sees it still sits on a stub
            break
    tab.wait_for_load_state("load")
    return tab.url.split("#")[0]


def screenshot_name(rel: str) -> str:
    return rel.removesuffix(".html").replace("/", "__") + ".png"


def walk_site(site: Path, screenshots: Path = SCREENSHOTS, chart_timeout_ms: int = 30_000) -> list[PageReport]:
    """Open every page of ``site`` in headless Chromium (served on localhost) and report."""
    from playwright.sync_api import sync_playwright

    screenshots.mkdir(parents=True, exist_ok=True)
    for old in screenshots.glob("*.png"):  # a stale picture of a page that is gone misleads
        old.unlink()
    reports = []
    anchor_cache: dict = {}
    with browser.serve_directory(site) as base, sync_playwright() as pw, browser.launch_chromium(
        pw, viewport={"width": 1280, "height": 900}
    ) as context:
        foreign: list[str] = []
        browser.block_foreign_requests(context, base, foreign)
        for page_path in site_pages(site):
            rel = page_path.relative_to(site).as_posix()
            report = PageReport(rel)
            foreign.clear()
            tab = context.new_page()
            tab.on("console", lambda m, r=report: m.type == "error" and r.console_errors.append(m.text))
            tab.on("pageerror", lambda e, r=report: r.console_errors.append(f"uncaught: {e}"))
            tab.on("response", lambda resp, r=report: resp.status >= 400 and r.failed_requests.append(f"{resp.status} {resp.url}"))
            tab.on("requestfailed", lambda req, r=report: not req.url.startswith(base) or r.failed_requests.append(f"failed {req.url}"))
            tab.goto(base + rel, wait_until="load")
            if is_redirect_stub(page_path):
                # jupyter-book's root index.html (and the pipeline's version stubs) only redirect:
                # check that the target loaded; the target page is walked on its own.
                target = _follow_redirects(tab, base, site)
                if is_redirect_stub(_url_file(site, base, target) or page_path) or not target.startswith(base):
                    report.broken_links.append(f"redirect from {rel} did not land in the site ({tab.url})")
                report.foreign_requests = list(foreign)
                tab.close()
                reports.append(report)
                continue
            report.charts, report.charts_rendered = browser.wait_for_charts(tab, chart_timeout_ms)
            tab.wait_for_timeout(200)  # late console messages
            text = tab.inner_text("body")
            html_text = page_path.read_text(errors="replace")
            for marker in _GLUE_MARKERS:
                for m in marker.finditer(text):
                    report.glue_problems.append(f"text: {m.group(0)!r}")
                if marker.pattern != "scrapbook":
                    for m in marker.finditer(html_text):
                        report.glue_problems.append(f"html: {m.group(0)!r}")
            expected = glue_text_roles(site, rel)
            if expected is not None:
                shown = tab.locator("span.pasted-text").count()
                if shown != expected:
                    report.glue_problems.append(f"{expected} {{glue:text}} roles in the source, {shown} values shown")
            if tab.locator(".system-message, div.error").count():
                report.glue_problems.append("docutils system message / error box in page")
            hrefs = tab.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            report.broken_links = check_links(site, page_path, hrefs, anchor_cache)
            if is_chapter(rel):
                report.a11y = tab.evaluate(_A11Y_JS)
            report.screenshot = screenshots / screenshot_name(rel)
            tab.screenshot(path=str(report.screenshot), full_page=True)
            report.foreign_requests = list(foreign)
            tab.close()
            reports.append(report)
    return reports


# --------------------------------------------------------------------------- embedded chart data


_CHART_SPEC = re.compile(r'<script type="application/json" class="nscore-chart-spec">(.*?)</script>', re.S)


def embedded_datasets(html_text: str) -> list[list[dict]]:
    """Every dataset embedded in vega(-lite) specs in a page or notebook output text."""
    found = []
    for m in _CHART_SPEC.finditer(html_text):
        spec = json.loads(m.group(1))
        found.extend(_datasets_of(spec))
    return found


def _datasets_of(spec) -> list[list[dict]]:
    out = []
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "datasets" and isinstance(value, dict):
                for v in value.values():
                    if isinstance(v, dict) and set(v) == {"columns", "rows"}:
                        # a page's compacted dataset (nscore.report.pages.compact_datasets): as records
                        out.append([dict(zip(v["columns"], row)) for row in v["rows"]])
                    elif isinstance(v, list):
                        out.append(v)
            elif key == "values" and isinstance(value, list):
                out.append(value)
            elif key == "values" and isinstance(value, dict) and value.get("encoding") == render.COLUMNS_ENCODING:
                # a vega dataset column-encoded by nscore.report.render.encode_values: as records
                out.append(render.decode_values(value))
            else:
                out.extend(_datasets_of(value))
    elif isinstance(spec, list):
        for v in spec:
            out.extend(_datasets_of(v))
    return out


def notebook_texts(nb_path: Path) -> list[tuple[str, str]]:
    """(where, text) of every output of an executed notebook, decoded where base64 text."""
    nb = nbformat.read(nb_path, as_version=4)
    texts = []
    for i, cell in enumerate(nb.cells):
        texts.append((f"{nb_path.name} cell {i} source", cell.source))
        for j, output in enumerate(cell.get("outputs", [])):
            where = f"{nb_path.name} cell {i} output {j}"
            if "text" in output:
                texts.append((where, output["text"]))
            for mime, data in output.get("data", {}).items():
                if isinstance(data, (dict, list)):
                    if "vega" in mime:
                        for ds in _datasets_of(data):
                            texts.append((f"{where} {mime} dataset", json.dumps(ds)))
                    data = json.dumps(data)
                if mime.endswith(("image/png", "image/jpeg")):
                    continue
                texts.append((f"{where} {mime}", data if isinstance(data, str) else str(data)))
    return texts


@dataclass
class ChartImages:
    """One chart of a built page: its markup and the site files its static images are."""

    html: str
    spec: str
    fallback: Path | None
    svg: Path | None
    png: Path | None


def _linked_file(page: Path, url: str | None) -> Path | None:
    """The file a relative ``src``/``href`` of ``page`` names (None for a data: URI or nothing)."""
    if not url or urlsplit(url).scheme:
        return None
    return Path(unquote(urlsplit(urljoin("file://" + str(page), url)).path))


def chart_images(page: Path) -> list[ChartImages]:
    """Every chart of a built page (``nscore.report.render`` markup), in page order, with the files its
    fallback ``<img>`` and its SVG and PNG download links point at."""
    text = page.read_text(errors="replace")
    charts = []
    for block in text.split('<div class="nscore-chart" ')[1:]:
        block = block[: block.find("</script>\n</div>") + len("</script>\n</div>")]
        fallback = re.search(r'<img class="nscore-chart-fallback" src="([^"]*)"', block)
        svg = re.search(r'<a download="figure-[0-9a-f]{12}\.svg" href="([^"]*)"', block)
        png = re.search(r'<a download="figure-[0-9a-f]{12}\.png" href="([^"]*)"', block)
        spec = _CHART_SPEC.search(block)
        charts.append(ChartImages(
            html=block, spec=spec.group(1) if spec else "",
            fallback=_linked_file(page, fallback and fallback.group(1)),
            svg=_linked_file(page, svg and svg.group(1)), png=_linked_file(page, png and png.group(1)),
        ))
    return charts


def book_source() -> tuple[Path, str]:
    """(book source directory, where it came from) for builds other than the site (PDF):
    the repository when its executed notebooks exist, else the tiny book (built once)."""
    if "book" in _CACHE:
        return _CACHE["book"]
    if repo_book_ready():
        # a copy: building the repository's book runs nscore.build.refresh's stale check, which
        # re-executes stale chapters into chapters/ (never into the working tree from a test)
        result = (copy_book(_workdir("nscore-booksrc-") / "repo"), "a copy of the repository's book")
    else:
        book = make_tiny_book(_workdir("nscore-tinysrc-") / "book")
        result = (book, "a tiny stand-in book (chapters not executed yet)")
    _CACHE["book"] = result
    return result


def chart_specs(html_text: str) -> list[dict]:
    """The vega-lite specs of the charts in a page (as embedded by nscore.report.render)."""
    return [
        json.loads(m.group(1))
        for m in _CHART_SPEC.finditer(html_text)
    ]


def spec_titles(spec) -> list[str]:
    """Every title string of a spec (chart and axis/legend titles): text vega prints."""
    out = []
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in ("datasets", "data"):
                continue
            if key == "title":
                if isinstance(value, str):
                    out.append(value)
                elif isinstance(value, list):
                    out.extend(v for v in value if isinstance(v, str))
                elif isinstance(value, dict):
                    text = value.get("text")
                    out.extend([text] if isinstance(text, str) else [t for t in text or [] if isinstance(t, str)])
            else:
                out.extend(spec_titles(value))
    elif isinstance(spec, list):
        for v in spec:
            out.extend(spec_titles(v))
    return [t for t in out if t.strip()]
