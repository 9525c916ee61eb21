"""The built site as a reader gets it, opened page by page in headless Chromium (Debian's
``chromium`` driven by playwright): offline, every chart rendered, every glued value resolved,
every internal link alive, accessible structure. Screenshots land in ``_build/screenshots/``.

Which site is tested: see tests/sitecheck.py (``NSCORE_SITE``, else the repository's book built
from the committed notebooks, else a tiny stand-in book).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import sitecheck  # noqa: E402

from nscore import pdf, render  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not pdf.chromium_available(),
        reason=f"Chromium not installed at {pdf.CHROMIUM} (apt-get install chromium) or playwright missing",
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
    """Every page loads the pinned vega scripts from its own _static, by a relative path."""
    directory, origin = site
    for page in sitecheck.site_pages(directory):
        text = page.read_text(errors="replace")
        for js in render.JS_FILES:
            assert f'_static/{js}' in text, f"{page.relative_to(directory)} does not load {js} ({origin})"
            assert f'src="http' not in text.split(js)[0].rsplit("<script", 1)[-1]
        assert "cdn.jsdelivr" not in text and "vega@" not in text
    for js in render.JS_FILES:
        assert (directory / "_static" / js).is_file()
