"""The {ard} notes in headless Chromium: shown on hover and on keyboard focus, dismissed with
Escape, absent in print; and the share of traced numbers on every page of the built book.

The first tests use the toy book of ``tests/test_trace.py`` (built here with jupyter-book, fast);
the coverage test reads the session's built site (``sitecheck.site_dir``: ``NSCORE_SITE`` or the
repository's book built once per session) and counts numbers as ``tests/ardcoverage.py`` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import ardcoverage  # noqa: E402
import sitecheck  # noqa: E402

from nscore.build import browser  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not browser.chromium_available(),
                       reason=f"Chromium not installed at {browser.CHROMIUM} or playwright missing"),
]

#: Share of the numbers of a page that must carry their ARD key (issue 13).
MIN_SHARE = 0.95
#: Pages allowed below the share, and why: none since round 6 (the Discussion's quoted figures are
#: ARD rows of data/literature.yml). An entry would turn its page's failure into an expected one.
NOT_YET: dict[str, str] = {}

_VISIBLE_JS = """(el) => { const n = el.querySelector('.nscore-ard-note');
  const s = getComputedStyle(n); const r = n.getBoundingClientRect();
  return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0; }"""


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory):
    import test_trace

    book = test_trace._toy_book(tmp_path_factory.mktemp("trace-browser"))
    proc = test_trace._build(book)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return book / "_build" / "html"


def test_note_on_hover_focus_escape_and_not_in_print(toy_site):
    from playwright.sync_api import sync_playwright

    with browser.serve_directory(toy_site) as base, sync_playwright() as pw:
        with browser.launch_chromium(pw, viewport={"width": 1280, "height": 900}) as context:
            foreign: list[str] = []
            browser.block_foreign_requests(context, base, foreign)
            tab = context.new_page()
            tab.goto(base + "index.html", wait_until="load")
            spans = tab.locator("span.nscore-ard")
            assert spans.count() >= 6
            first = spans.first
            assert not first.evaluate(_VISIBLE_JS), "the note shows before hover or focus"
            first.hover()
            assert first.evaluate(_VISIBLE_JS), "the note does not show on hover"
            tab.mouse.move(0, 0)
            tab.wait_for_timeout(50)
            assert not first.evaluate(_VISIBLE_JS)
            # keyboard: Tab until a traced number has focus
            for _ in range(60):
                tab.keyboard.press("Tab")
                if tab.evaluate("document.activeElement.classList.contains('nscore-ard')"):
                    break
            else:
                pytest.fail("no traced number is reachable with the keyboard")
            focused = tab.locator(":focus")
            assert focused.evaluate(_VISIBLE_JS), "the note does not show on keyboard focus"
            described = focused.get_attribute("aria-describedby")
            assert tab.locator(f"#{described}").get_attribute("role") == "tooltip"
            tab.keyboard.press("Escape")
            assert not focused.evaluate(_VISIBLE_JS), "Escape does not dismiss the note"
            tab.emulate_media(media="print")
            first.hover()
            assert not first.evaluate(_VISIBLE_JS), "the note shows in print"
            assert "82.1" in tab.inner_text("article")
            assert foreign == []


@pytest.fixture(scope="module")
def book_counts():
    site, _ = sitecheck.site_dir()
    from playwright.sync_api import sync_playwright

    counts = {}
    pages = ardcoverage.chapter_pages(site)
    with browser.serve_directory(site) as base, sync_playwright() as pw:
        with browser.launch_chromium(pw, viewport={"width": 1280, "height": 900}) as context:
            for page in pages:
                tab = context.new_page()
                tab.goto(base + page.relative_to(site).as_posix(), wait_until="load")
                counts[page.stem] = ardcoverage.page_counts(tab.content())
                tab.close()
    return counts


@pytest.mark.parametrize("name", ["index", "results", "safety", "discussion", "methods", "background",
                                  "appendix", "changes", "experts"])
def test_share_of_traced_numbers_per_page(book_counts, name, request):
    if name not in book_counts:
        pytest.skip(f"no page {name}")
    total, traced, untraced = book_counts[name]
    share = traced / total if total else 1.0
    if name in NOT_YET and share < MIN_SHARE:
        request.applymarker(pytest.mark.xfail(reason=NOT_YET[name], strict=False))
    assert share >= MIN_SHARE, f"{name}: {traced}/{total} numbers traced; untraced: {untraced[:8]}"
