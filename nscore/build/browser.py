"""Headless Chromium for the book: serve a built directory on localhost, open it in a fresh
profile with every foreign request blocked, and wait for the charts to render.

Used by the PDF (``nscore.build.pdf`` prints the single-page book with it) and by the browser
tests, which check the site the way a reader's browser sees it.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "CHART_SELECTOR", "RENDERED_SELECTOR", "chromium_available",
           "serve_directory", "launch_chromium", "block_foreign_requests", "wait_for_charts"]

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
