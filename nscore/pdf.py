"""PDF of the whole publication: jupyter-book's singlehtml page printed by headless Chromium.

Why this route: the LaTeX route needs TeX Live (gigabytes, not installed); Debian's ``chromium``
is needed anyway by the browser tests. The single page is served on localhost, every chart is
left to render with the vendored vega (the renderer's static images stay as fallback), and then
Chromium prints it. Figure and table numbers come from Sphinx's ``numfig``, as on the site.

``serve_directory`` and ``launch_chromium`` are shared with the browser tests (tests/sitecheck.py).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from nscore.errors import BuildError

#: Debian's chromium; override with NSCORE_CHROMIUM.
CHROMIUM = os.environ.get("NSCORE_CHROMIUM", "/usr/bin/chromium")

#: Flags for a headless, quiet, offline-minded Chromium (running as root needs --no-sandbox).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Selector of chart containers the page must have rendered: ours and altair's default.
CHART_SELECTOR = ".nscore-chart-view, .vega-embed"
#: A container is rendered when it holds one of these.
RENDERED_SELECTOR = "svg, canvas"


def chromium_available() -> bool:
    """True if the Chromium binary exists and playwright can be imported."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by http.server
        """Keep test and build output readable (requests are checked in the browser instead)."""


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def launch_chromium(playwright, user_data_dir: Path | None = None, **context_options):
    """A fresh persistent Chromium context (new profile directory), closed on exit.

    A fresh profile per run: no cache or service worker from an earlier run can hide a request.
    """
    own_dir = user_data_dir is None
    profile = Path(tempfile.mkdtemp(prefix="nscore-chromium-")) if own_dir else Path(user_data_dir)
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        **context_options,
    )
    try:
        yield context
    finally:
        context.close()
        if own_dir:
            shutil.rmtree(profile, ignore_errors=True)


def block_foreign_requests(context, base_url: str, record: list[str]) -> None:
    """Abort every request whose origin is not ``base_url``'s, recording its URL in ``record``."""
    origin = urlsplit(base_url).netloc

    def handle(route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or parts.netloc == origin:
            route.continue_()
        else:
            record.append(url)
            route.abort()

    context.route("**/*", handle)


def wait_for_charts(page, timeout_ms: int = 30_000) -> tuple[int, int]:
    """Wait until every chart container holds an SVG or canvas; returns (containers, rendered)."""
    script = """([sel, done]) => {
        const boxes = Array.from(document.querySelectorAll(sel));
        const ok = boxes.filter(b => b.querySelector(done) !== null).length;
        return ok === boxes.length;
    }"""
    with contextlib.suppress(Exception):  # timeout: the counts below tell what is missing
        page.wait_for_function(script, arg=[CHART_SELECTOR, RENDERED_SELECTOR], timeout=timeout_ms)
    return page.evaluate(
        """([sel, done]) => {
            const boxes = Array.from(document.querySelectorAll(sel));
            return [boxes.length, boxes.filter(b => b.querySelector(done) !== null).length];
        }""",
        [CHART_SELECTOR, RENDERED_SELECTOR],
    )


#: A4 (210 mm) minus the 15 mm side margins of ``print_to_pdf``, in CSS pixels (96 per inch):
#: the page is laid out at this width, so what fits here fits on paper.
PRINT_WIDTH_PX = round((210 - 2 * 15) / 25.4 * 96)


def overflowing(page) -> list[str]:
    """Tables and charts wider than the text column (in the current media), which print clips."""
    return page.evaluate(
        """() => {
            const out = [];
            for (const el of document.querySelectorAll('table, .nscore-chart-view svg, .vega-embed svg, img')) {
                const column = el.closest('.bd-article') || document.body;
                const w = el.getBoundingClientRect().width;
                if (w > column.clientWidth + 1) {
                    const cap = el.closest('figure, table');
                    const label = (cap && (cap.querySelector('caption, figcaption') || {}).textContent || el.tagName).trim();
                    out.push(`${label.slice(0, 70)} (${Math.round(w)} px > ${column.clientWidth} px)`);
                }
            }
            return out;
        }"""
    )


def build_singlehtml(project_root: Path, work_dir: Path) -> Path:
    """Build the book as one HTML page under ``work_dir``; returns the page's directory.

    Uses the executed notebooks as they are (``execute_notebooks: off`` in ``_config.yml``) and
    a build directory of its own, so a concurrent site build in ``_build/`` is not disturbed.
    """
    from nscore.pipeline import jupyter_book_command  # pipeline calls pdf lazily: no cycle

    cmd = jupyter_book_command() + [
        "build", str(project_root), "--builder", "singlehtml", "--path-output", str(work_dir),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out_dir = work_dir / "_build" / "singlehtml"
    if proc.returncode != 0 or not (out_dir / "index.html").is_file():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise BuildError(f"singlehtml build failed (exit {proc.returncode}):\n{tail}")
    return out_dir


_REFRESH = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.I)


def singlehtml_page(html_dir: Path) -> str:
    """The name of the single page to print, placed so that its relative links resolve.

    When the book's root document sits in a folder (``root: chapters/index``), jupyter-book
    writes the page to ``chapters/index.html`` with links relative to the output root and
    a redirect at ``index.html``; the page is then copied to ``book.html`` at the root.
    """
    index = html_dir / "index.html"
    match = _REFRESH.search(index.read_text(errors="replace"))
    if match is None:
        return "index.html"
    target = html_dir / match.group(1).split("#")[0]
    if not target.is_file():
        raise BuildError(f"singlehtml index.html redirects to a missing page: {match.group(1)}")
    shutil.copyfile(target, html_dir / "book.html")
    return "book.html"


def print_to_pdf(html_dir: Path, out: Path, page: str = "index.html", timeout_ms: int = 60_000) -> Path:
    """Print ``html_dir/page`` (served on localhost) to ``out`` once every chart has rendered.

    Raises
    ------
    BuildError
        Chromium is missing, a chart did not render, the page requested a foreign host, or the
        page raised a JavaScript error.
    """
    if not chromium_available():
        raise BuildError(f"PDF needs Chromium at {CHROMIUM} and the playwright package")
    from playwright.sync_api import sync_playwright

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    foreign: list[str] = []
    js_errors: list[str] = []
    with serve_directory(html_dir) as base, sync_playwright() as pw, launch_chromium(
        pw, viewport={"width": PRINT_WIDTH_PX, "height": 1000}
    ) as context:
        block_foreign_requests(context, base, foreign)
        tab = context.new_page()
        tab.on("pageerror", lambda exc: js_errors.append(str(exc)))
        tab.goto(base + page, wait_until="load", timeout=timeout_ms)
        boxes, rendered = wait_for_charts(tab, timeout_ms)
        if rendered < boxes:
            raise BuildError(f"only {rendered} of {boxes} charts rendered in {page}; PDF not written")
        if foreign or js_errors:
            raise BuildError(f"page not self-contained: foreign requests {foreign}, JS errors {js_errors}")
        tab.emulate_media(media="print")
        cut = overflowing(tab)
        if cut:
            raise BuildError("wider than the printed page, so cut off in the PDF: " + "; ".join(cut))
        tmp = out.with_name(out.name + ".part")
        tab.pdf(
            path=str(tmp),
            format="A4",
            print_background=True,
            margin={"top": "18mm", "bottom": "18mm", "left": "15mm", "right": "15mm"},
            display_header_footer=True,
            header_template="<span></span>",
            footer_template=(
                '<div style="font-size:8px;width:100%;text-align:center;">'
                '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
            ),
        )
        tab.close()
    tmp.replace(out)  # never leave a half-written PDF under the final name
    return out


def build_pdf(project_root: Path | str, out: Path | str | None = None, *, work_dir: Path | str | None = None) -> Path:
    """Build the PDF of the whole publication; returns its path.

    Parameters
    ----------
    project_root
        Directory holding ``_config.yml`` and ``_toc.yml`` with the executed chapters.
    out
        Where to write the PDF; default ``<project_root>/_build/pdf/book.pdf``.
    work_dir
        Where to build the single HTML page (kept, under ``_build/singlehtml``); default a
        temporary directory removed afterwards.

    Raises
    ------
    BuildError
        The book does not build, Chromium is missing, or a chart did not render.

    Notes
    -----
    Renders what the executed notebooks hold; it does not re-execute chapters (``nscore build``
    does). Charts print as the live vega SVG, which matches the static vl-convert image.
    """
    root = Path(project_root).resolve()
    if not (root / "_toc.yml").is_file():
        raise BuildError(f"{root} is not a book: no _toc.yml")
    out = Path(out) if out is not None else root / "_build" / "pdf" / "book.pdf"
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="nscore-pdf-"))
        html_dir = build_singlehtml(root, Path(work_dir))
        print_to_pdf(html_dir, out, page=singlehtml_page(html_dir))
    print(f"PDF written: {out} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return out
